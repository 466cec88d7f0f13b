"""`kafkalab verify | trace | tail | lag` as a user runs them, against the real platform.

One cluster and the six services for the module (like test_platform: the shared session
cluster holds other modules' made-up orders, which would make "every order" meaningless). A
real order goes through the happy path first; the commands then read it back. The last test
plants a second payment for that order, so it runs last.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from queue import Empty, Queue

import pytest

from kafkalab import clients
from kafkalab.events import topics as t
from kafkalab.observe.groups import platform_groups
from kafkalab.observe.verify import ONE_PAYMENT, verify_orders
from kafkalab.settings import settings_env
from tests.helpers import CliRun, run_cli
from tests.integration.pool import Running
from tests.integration.services import publish

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env(platform: Running) -> dict[str, str]:
    settings = platform.settings
    return settings_env(settings)


@pytest.fixture(scope="module")
def order_id(platform: Running, env: dict[str, str]) -> str:
    """One real order, CONFIRMED through the six services, settled (analytics included)."""
    conn = platform.conn
    run = run_cli("scenario", "happy-path", "--json", env=env)
    assert run.code == 0, run.stdout[-2000:] + run.stderr[-2000:]
    placed = json.loads(run.stdout)["order_id"]
    report = verify_orders(conn, [placed], settle_seconds=60)
    assert report.passed, report
    return str(placed)


def assert_one_line_error(run: CliRun, text: str, hint: str) -> None:
    assert run.code == 1, run
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("✘ ") and text in lines[0], lines[0]
    assert f" — {hint}" in lines[0] or hint in lines[0].split(" — ", 1)[1], lines[0]
    assert "Traceback" not in run.stdout + run.stderr


# -- verify -------------------------------------------------------------------------------------


def test_verify_json_is_all_green_after_a_real_order(order_id: str, env: dict[str, str]) -> None:
    run = run_cli("verify", "--json", env=env)
    assert run.code == 0, run.stdout[-3000:] + run.stderr
    report = json.loads(run.stdout)
    assert report["passed"] is True
    assert report["orders"] >= 1 and report["outcomes"].get("CONFIRMED", 0) >= 1
    assert len(report["invariants"]) == 6
    assert [i["name"] for i in report["invariants"] if i["ok"] is not True] == []


def test_verify_table_and_since(order_id: str, env: dict[str, str]) -> None:
    run = run_cli("verify", "--since", "1h", env=env)
    assert run.code == 0, run.stdout + run.stderr
    assert "✔ every invariant holds for" in run.stdout
    assert "analytics totals" in run.stdout and "✘" not in run.stdout


def test_verify_bad_since_is_one_sentence(env: dict[str, str]) -> None:
    assert_one_line_error(
        run_cli("verify", "--since", "tuesday", env=env),
        "--since 'tuesday' is neither a duration nor an ISO time",
        "10m",
    )


# -- trace --------------------------------------------------------------------------------------


def test_trace_of_a_known_order_by_its_short_id(order_id: str, env: dict[str, str]) -> None:
    run = run_cli("trace", order_id[:8], env=env)
    assert run.code == 0, run.stderr
    assert f"order {order_id} — CONFIRMED" in run.stdout
    for kind in ("OrderCreated", "InventoryReserved", "PaymentCompleted", "NotificationSent"):
        assert kind in run.stdout, kind

    lines = json.loads(run_cli("trace", order_id, "--json", env=env).stdout)["lines"]
    position = {line["event_id"]: i for i, line in enumerate(lines)}
    for i, line in enumerate(lines):
        if line["causation_id"] in position:
            assert position[line["causation_id"]] < i, line


def test_trace_of_an_unknown_order(order_id: str, env: dict[str, str]) -> None:
    assert_one_line_error(
        run_cli("trace", "no-such-order", env=env),
        "no events for order no-such-order on the topics",
        "`kafkalab tail order-events` lists recent orders",
    )


# -- tail ---------------------------------------------------------------------------------------


def test_tail_prints_decoded_events_with_headers(order_id: str, env: dict[str, str]) -> None:
    run = run_cli("tail", "order-events", "--headers", env=env)
    assert run.code == 0, run.stderr
    ours = [line for line in run.stdout.splitlines() if f"key={order_id}" in line]
    [created] = [line for line in ours if "OrderCreated" in line]
    assert "total=" in created and "service=order" in created and "trace_id=" in created
    changes = [line for line in ours if "OrderStatusChanged" in line]
    assert any("PAID → CONFIRMED" in line and "causation_id=" in line for line in changes)


def test_tail_limit_and_from_beginning(order_id: str, env: dict[str, str]) -> None:
    last = run_cli("tail", "order-events", "-n", "1", env=env).stdout.splitlines()
    first = run_cli("tail", "order-events", "--from-beginning", "-n", "1", env=env)
    assert len(last) == 1 and "CONFIRMED" in last[0]
    assert first.stdout.splitlines()[0].split()[2] == "OrderCreated"


def test_tail_of_an_unknown_topic_lists_the_catalogue(env: dict[str, str]) -> None:
    assert_one_line_error(
        run_cli("tail", "orders", env=env), "unknown topic 'orders'", "the catalogue: user-events"
    )


def test_tail_follow_shows_new_records_until_ctrl_c(platform: Running, env: dict[str, str]) -> None:
    """A record that is not Avro (on `audit`, which no service reads) shows up as such.

    A process of its own (not `run_cli`): it follows until the test sends it SIGINT."""
    conn = platform.conn
    proc = subprocess.Popen(
        [sys.executable, "-m", "kafkalab", "tail", "audit", "--follow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("KAFKALAB_")}, **env},
        # a shell without job control starts background jobs with SIGINT ignored; undo that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines: Queue[str] = Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    try:
        marker = f"raw-{time.time_ns() % 10**9}"  # shorter than the preview
        seen = ""
        deadline = time.monotonic() + 60
        while marker not in seen and time.monotonic() < deadline:
            producer = clients.producer(conn)
            producer.produce(t.AUDIT, key=b"tester", value=marker.encode())
            producer.flush(10)
            try:
                seen += lines.get(timeout=2)
            except Empty:
                continue  # tail may still be starting: write another one
        assert marker in seen and "(not Avro)" in seen, seen
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


# -- lag ----------------------------------------------------------------------------------------


def test_lag_json_has_every_platform_group_with_totals(order_id: str, env: dict[str, str]) -> None:
    run = run_cli("lag", "--json", env=env)
    assert run.code == 0, run.stderr
    data = json.loads(run.stdout)
    assert [g["group"] for g in data["groups"]] == platform_groups()
    for group in data["groups"]:
        assert group["total"] == sum(p["lag"] for p in group["partitions"])
        for p in group["partitions"]:
            assert set(p) == {"topic", "partition", "committed", "end", "lag"}
            assert p["lag"] == max(p["end"] - max(p["committed"], 0), 0)
    assert data["total"] == sum(g["total"] for g in data["groups"])
    payment = next(g for g in data["groups"] if g["group"] == "kafkalab-payment")
    assert {p["topic"] for p in payment["partitions"]} >= {"inventory-events"}


def test_lag_of_one_group_and_of_an_unknown_one(order_id: str, env: dict[str, str]) -> None:
    run = run_cli("lag", "kafkalab-order", "--json", env=env)
    assert run.code == 0, run.stderr
    assert [g["group"] for g in json.loads(run.stdout)["groups"]] == ["kafkalab-order"]
    assert_one_line_error(
        run_cli("lag", "kafkalab-nobody", env=env),
        "no consumer group 'kafkalab-nobody' on the cluster",
        "known groups: ",
    )


# -- last: a planted violation ------------------------------------------------------------------


def test_zz_a_planted_duplicate_payment_fails_verify_and_names_the_order(
    platform: Running, order_id: str, env: dict[str, str]
) -> None:
    conn = platform.conn
    publish(
        conn,
        t.PAYMENTS,
        order_id,
        "PaymentCompleted",
        {
            "order_id": order_id,
            "user_id": "planted",
            "payment_id": "planted-second-charge",
            "amount_cents": 100,
            "card_masked": "****4242",
            "attempts": 1,
        },
        service="payment",
    )
    run = run_cli("verify", "--json", env=env)
    assert run.code == 1, run.stdout[-2000:] + run.stderr
    report = json.loads(run.stdout)
    assert report["passed"] is False
    [payment] = [i for i in report["invariants"] if i["name"] == ONE_PAYMENT]
    assert payment["ok"] is False and payment["violations"] == 1
    assert payment["examples"][0].startswith(f"{order_id}: 2 PaymentCompleted")

    table = run_cli("verify", env=env)
    assert table.code == 1
    assert "✘ at most one payment: violated" in table.stdout
