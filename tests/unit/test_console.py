"""The web console's page models and fragments, without a browser or a broker: what each page
shows for given data (the browser tests in tests/integration/test_console.py do the rest)."""

from __future__ import annotations

import json
import socket

import pytest
from fastapi.testclient import TestClient

from kafkalab.console import feed, groups, jobs, orders, platform, schemas, shop, svg, topics
from kafkalab.console.app import create_app
from kafkalab.console.latency import Flow
from kafkalab.errors import InvalidChoice, KafkalabError
from kafkalab.load.report import Latency
from kafkalab.monitoring.dashboard import ChannelDelivery, DashboardSnapshot, ServiceRate
from kafkalab.monitoring.rules import Alert
from kafkalab.observe.groups import GroupDescription, Member
from kafkalab.observe.lag import GroupLag, PartitionLag
from kafkalab.observe.tail import TailRecord
from kafkalab.observe.trace import OrderTrace, TraceLine
from kafkalab.platform.control import ServiceRow
from kafkalab.settings import load_settings
from tests.helpers import NOWHERE, free_port, run_cli


def snapshot(at: float, total: float | None = 42) -> DashboardSnapshot:
    return DashboardSnapshot(
        at=at,
        orders_per_min=12,
        revenue_per_min_cents=123_456,
        payment_success_rate=0.75,
        orders_total=total,
        conversion_rate=0.5,
        services=[ServiceRate("order", True, 3.0, 4.0, 1)],
        lag={"kafkalab-order": 7},
        low_stock={"SKU-LAPTOP": 2},
        alerts=[Alert("ConsumerLagHigh", "firing", {}, 900.0, "lag <b>high</b>", "warning")],
        delivery={"email": ChannelDelivery(4, 4), "sms": ChannelDelivery(4, 2)},
        delivery_rate={"email": 1.0, "sms": 0.5},  # analytics' figure, beside the counters
        inventory_turnover=0.125,
    )


def test_the_shop_fragment_shows_every_figure_of_the_latest_sample() -> None:
    history = shop.ShopHistory()
    history.add(snapshot(0.0, total=30), None)
    history.add(snapshot(2.0), Flow(60.0, 30, Latency(30, 120, 300, 450, 500, 150.0)))
    html = shop.render(history)
    assert "<b id=orders-total>42</b>" in html
    assert "1,234.56" in html  # revenue per minute, in currency units
    assert "75.0 %" in html and "50.0 %" in html  # payment success, conversion
    assert "0.50 orders/s" in html and "120 / 450 ms" in html  # throughput, p50 / p99
    assert "SKU-LAPTOP" in html and "ConsumerLagHigh" in html
    assert "lag &lt;b&gt;high&lt;/b&gt;" in html  # an alert's text is escaped
    assert "<td>sms</td><td>4</td><td>2</td><td>50.0 %</td>" in html
    assert "0.125" in html  # inventory turnover
    assert history.series("lag") == [(0.0, 7.0), (2.0, 7.0)]
    assert history.series("p99") == [(0.0, None), (2.0, 450.0)]


def test_the_shop_says_it_is_collecting_before_the_first_sample() -> None:
    assert "collecting" in shop.render(shop.ShopHistory())


def test_a_chart_breaks_its_line_where_nobody_was_sampling() -> None:
    points = [(0.0, 1.0), (2.0, 2.0), (100.0, 3.0), (102.0, 1.0)]
    assert [len(run) for run in svg.segments(points)] == [2, 2]
    chart = svg.line_chart("orders", points)
    assert chart.count("<polyline") == 2 and "<b>1</b>" in chart
    assert "collecting" in svg.line_chart("orders", [(0.0, 1.0), (1.0, None)])


def partition(p: int, isr: list[int]) -> topics.PartitionRow:
    return topics.PartitionRow(p, 1, [1, 2, 3], isr, 10, 25)


def test_a_topic_row_sums_its_partitions_and_flags_lost_replicas() -> None:
    row = topics.TopicRow(
        "order-events",
        [partition(0, [1, 2, 3]), partition(1, [1])],
        {"cleanup.policy": "delete", "retention.ms": "604800000"},
        3 * 1024 * 1024,
    )
    assert (row.messages, row.replication) == (30, 3)
    html = topics.render_list([row])
    assert "under-replicated" in html and "7 d" in html and "3.0 MiB" in html
    assert topics.retention_text({"retention.ms": "-1"}) == "forever"
    assert topics.size_text(None) == "—"


def test_the_message_browser_escapes_what_producers_wrote() -> None:
    record = TailRecord(
        "order-events", 2, 41, 1_700_000_000_000, "<script>x</script>", "OrderCreated", "",
        {"trace_id": "t-1", "service": "<i>order</i>"}, {"order_id": "o-1", "total_cents": 4999},
    )  # fmt: skip
    html = topics.render_topic(
        topics.TopicRow("order-events", [partition(2, [1, 2, 3])]), topics.BrowseQuery(), [record]
    )
    assert "<script>x" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "&lt;i&gt;order&lt;/i&gt;" in html and "order-events[2]@41" in html
    assert "&quot;total_cents&quot;: 4999" in html and 'data-type="OrderCreated"' in html


def test_a_browse_query_reads_a_time_or_says_why_not() -> None:
    assert topics.BrowseQuery(since="1970-01-02T00:00:00").since_ms() is not None
    with pytest.raises(InvalidChoice, match="cannot read 'yesterday' as a time"):
        topics.BrowseQuery(since="yesterday").since_ms()
    assert topics.BrowseQuery(partition=1, key="k").query_string() == "partition=1&key=k&limit=20"


def test_the_group_page_shows_static_members_and_who_owns_each_lagging_partition() -> None:
    static = Member("m-1", "kafkalab-payment-0", "payment-0", "/127.0.0.1", ["payments[0]"])
    dynamic = Member("m-2", None, "rdkafka", "/127.0.0.1", ["payments[1]"])
    view = groups.GroupView(
        GroupDescription("kafkalab-payment", "Stable", "Classic", "cooperative-sticky", 1, [static, dynamic]),
        GroupLag("kafkalab-payment", [PartitionLag("payments", 0, 5, 9), PartitionLag("payments", 1, -1, 3)]),
    )  # fmt: skip
    html = groups.render_group(view)
    assert "<b id=group-lag>7</b>" in html
    assert "kafkalab-payment-0" in html and "— dynamic" in html
    assert "<td>payments[1]</td><td>—</td><td>3</td><td>3</td><td>rdkafka</td>" in html
    listing = groups.render_list([view])
    assert "<td>2</td><td>1</td><td>2</td><td><b class=bad>7</b></td>" in listing


def test_the_orders_page_draws_the_trace_in_causal_order() -> None:
    lines = [
        TraceLine(0, "order", "order-events", 0, 1, "OrderCreated", "order=o-1", "e1", ""),
        TraceLine(400, "payment", "payments", 0, 3, "PaymentCompleted", "charged", "e2", "e1"),
    ]
    html = orders.render_trace(OrderTrace("o-1", "CONFIRMED", lines))
    assert "<b>CONFIRMED</b>" in html and "2 events in causal order" in html
    assert html.index("OrderCreated") < html.index("PaymentCompleted")
    assert "left:96.0%" in html and "+400 ms" in html


def test_a_schema_diff_marks_added_and_removed_lines() -> None:
    old = schemas.pretty('{"type": "record", "name": "A", "fields": []}')
    new = schemas.pretty('{"type": "record", "name": "A", "fields": [], "doc": "x"}')
    changes = schemas.diff(old, new)
    assert ("+", '  "doc": "x"') in changes and any(kind == "-" for kind, _ in changes)
    detail = schemas.SubjectDetail(
        schemas.Subject("s", [1, 2], "BACKWARD (global)"), {1: old, 2: new}, {1: 10, 2: 11}
    )
    html = schemas.render_subject(detail, None, None)
    assert "diff v1 → v2" in html and 'class="d add"' in html and "BACKWARD (global)" in html
    with pytest.raises(InvalidChoice, match="has no version 7"):
        schemas.render_subject(detail, 7, None)


def test_the_platform_page_asks_before_each_button_and_runs_only_what_it_lists() -> None:
    settings = load_settings()
    labels = list(jobs.commands(settings))
    assert "scenario happy-path" in labels and "chaos pause notification" in labels
    assert jobs.commands(settings)["chaos kill payment"] == ["chaos", "kill", "payment"]
    html = platform.render_actions(labels)
    assert html.count("data-confirm=") == len(labels)
    with pytest.raises(InvalidChoice, match="cannot run 'rm -rf'"):
        jobs.Jobs(settings).start("rm -rf")
    row = ServiceRow("payment", 0, 11, 8104, "running", "ok", 2, 12, 0, "closed")
    assert "<td>closed</td>" in platform.render_services([row], None)


def test_a_live_fragment_is_one_json_message_and_a_failure_shows_as_its_sentence() -> None:
    frame = feed.message("shop-live", "<b>1</b>")
    assert frame.startswith("data: ") and frame.endswith("\n\n")
    assert json.loads(frame[6:]) == {"target": "shop-live", "html": "<b>1</b>", "mode": "replace"}

    def broken() -> str:
        raise KafkalabError("the cluster does not answer", "start it with `kafkalab up`")

    live = feed.Feed("shop-live", broken)
    live._once()
    assert live.latest is not None and "the cluster does not answer" in live.latest
    assert live.version == 1


def test_the_app_serves_its_own_assets_and_health_without_touching_kafka() -> None:
    client = TestClient(create_app(load_settings(), NOWHERE))
    assert client.get("/health").json() == {"status": "ok", "service": "console"}
    script = client.get("/static/console.js")
    assert script.status_code == 200 and "EventSource" in script.text
    assert "http" not in client.get("/static/console.css").text  # nothing fetched from elsewhere
    refused = client.post("/platform/run", content=b"label=rm+-rf")
    assert "cannot run" in refused.text
    docs = client.get("/api/docs").text  # its own API page, on its own Swagger files
    assert "cdn" not in docs.lower() and "/docs/assets/swagger-ui-bundle.js" in docs
    assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200


def test_a_page_whose_cluster_is_down_is_one_sentence_not_a_traceback() -> None:
    client = TestClient(create_app(load_settings(), NOWHERE))
    for path in ("/topics", "/topics/order-events", "/groups", "/orders?id=ab12"):
        answer = client.get(path)
        assert answer.status_code == 400
        assert "no Kafka broker answers at 127.0.0.1:9" in answer.text, path
    assert "schema registry" in client.get("/schemas").text


def test_kafkalab_console_on_a_taken_port_says_so_in_one_line() -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = run_cli("console", "--port", str(port))
    assert result.code == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_navigation_links_prometheus_only_while_it_runs() -> None:
    from kafkalab.console.html import page

    on = page("Shop", "", "/", prometheus="http://127.0.0.1:9090")
    assert 'href="http://127.0.0.1:9090"' in on
    off = page("Shop", "", "/")
    assert "Prometheus: off" in off and "9090" not in off
