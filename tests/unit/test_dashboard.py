"""The dashboard shows the alerts of the shipped rule file (no alert logic of its own)."""

from kafkalab import ui
from kafkalab.monitoring.dashboard import DashboardSnapshot, ServiceRate, keep_latest
from kafkalab.monitoring.rules import Alert


def snapshot(**overrides: object) -> DashboardSnapshot:
    base = DashboardSnapshot(
        at=0.0,
        orders_per_min=10,
        revenue_per_min_cents=1000,
        payment_success_rate=0.9,
        orders_total=10,
    )
    for key, value in overrides.items():
        setattr(base, key, value)
    return base


def rendered(snap: DashboardSnapshot) -> str:
    return ui.to_text(ui.dashboard_view(snap))


def test_a_quiet_platform_shows_no_alert() -> None:
    text = rendered(
        snapshot(services=[ServiceRate("order", True, 5.0, 5.0, 0)], lag={"kafkalab-order": 3})
    )
    assert "alerts" in text and "none" in text


def test_the_rule_engine_s_alerts_are_shown_with_state_and_summary() -> None:
    lag = Alert(
        "KafkalabConsumerLag",
        "firing",
        {"group": "kafkalab-payment"},
        5000.0,
        "consumer group kafkalab-payment is 5000 records behind",
        "warning",
        20.0,
        15.0,
    )
    down = Alert(
        "KafkalabServiceDown",
        "pending",
        {"endpoint": "payment"},
        0.0,
        "payment does not answer /metrics",
        "critical",
        3.0,
        15.0,
    )
    text = rendered(snapshot(alerts=[lag, down]))
    assert (
        "firing KafkalabConsumerLag: consumer group kafkalab-payment is 5000 records behind" in text
    )
    assert "pending KafkalabServiceDown: payment does not answer /metrics" in text
    assert "none" not in text.split("alerts")[-1]


def test_turnover_and_each_channel_s_delivery_rate_are_shown() -> None:
    text = rendered(snapshot(inventory_turnover=0.125, delivery_rate={"email": 1.0, "push": 0.5}))
    assert "inventory turnover this minute" in text and "0.125" in text
    assert "email 100 %" in text and "push 50 %" in text
    assert "delivered / requested" in rendered(snapshot())  # "—" until analytics has one


def test_a_running_total_follows_its_latest_record_even_when_a_late_event_moves_its_start() -> None:
    windows: dict[tuple[str, str], dict[str, float]] = {}
    for start, total in ((1_000, 5), (900, 6), (900, 7)):  # a late event: first_ms went back
        keep_latest(
            windows,
            {"metric": "orders_total", "window": "running", "window_start": start, "value": total},
        )
    assert windows[("orders_total", "running")]["value"] == 7
    for start, count in ((60_000, 3), (0, 9)):  # a late update of an older window: ignored
        keep_latest(
            windows,
            {
                "metric": "orders_count",
                "window": "tumbling-60s",
                "window_start": start,
                "value": count,
            },
        )
    assert windows[("orders_count", "tumbling-60s")]["value"] == 3
