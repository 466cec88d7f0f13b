from pathlib import Path

import pytest

from kafkalab import scenarios
from kafkalab.events.serde import Event
from kafkalab.observe.trace import causal_order, order_events, trace_lines
from kafkalab.scenarios.engine import evaluate
from kafkalab.settings import load_settings


def ev(
    type_: str, ts: int, event_id: str, cause: str = "", topic: str = "order-events", **value
) -> Event:
    scope = str(value.get("order_id") or value.get("user_id") or "")
    if scope not in ("", "o1", "u1"):  # a second order gets ids of its own
        event_id, cause = f"{scope}-{event_id}", f"{scope}-{cause}" if cause else ""
    headers = {"trace_id": f"t-{scope}", "service": "svc", "event_type": type_}
    if cause:
        headers["causation_id"] = cause
    return Event(
        topic, 0, ts, value.get("order_id"), type_, {"event_id": event_id, **value}, headers, ts
    )


def happy_events(order: str = "o1", user: str = "u1") -> list[Event]:
    return [
        ev("UserRegistered", 1, "e0", topic="user-events", user_id=user),
        ev("OrderCreated", 10, "e1", order_id=order, user_id=user, total_cents=100),
        ev("InventoryReserved", 20, "e2", "e1", "inventory-events", order_id=order, user_id=user),
        ev(
            "OrderStatusChanged",
            25,
            "e3",
            "e2",
            order_id=order,
            from_status="CREATED",
            to_status="RESERVED",
        ),
        ev("PaymentCompleted", 30, "e4", "e2", "payments", order_id=order, amount_cents=100),
        ev(
            "OrderStatusChanged",
            35,
            "e5",
            "e4",
            order_id=order,
            from_status="RESERVED",
            to_status="PAID",
        ),
        ev("StockCommitted", 36, "e6", "e4", "inventory-events", order_id=order),
        ev(
            "OrderStatusChanged",
            40,
            "e7",
            "e6",
            order_id=order,
            from_status="PAID",
            to_status="CONFIRMED",
        ),
        *[
            ev(
                "NotificationRequested",
                45,
                f"n{c}",
                "e7",
                "notifications",
                order_id=order,
                channel=c,
                template="order-confirmed",
            )
            for c in ("email", "sms", "push")
        ],
        *[
            ev("NotificationSent", 50, f"s{c}", f"n{c}", "notifications", order_id=order, channel=c)
            for c in ("email", "sms", "push")
        ],
        ev("AnalyticsWindow", 60, "a1", topic="analytics", metric="orders", window_end=100),
    ]


def test_built_in_scenarios_load() -> None:
    found = scenarios.load_all(load_settings())
    assert {"happy-path", "payment-failure"} <= set(found)
    assert found["happy-path"].expect["order_status"] == "CONFIRMED"


def test_a_user_scenario_without_code(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(
        'name = "mine"\n[[steps]]\naction = "register"\n[expect]\norder_http_status = 401\n'
    )
    assert scenarios.get(load_settings(scenarios_dir=tmp_path), "mine").expect == {
        "order_http_status": 401
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\nsteps = []\n', "has no 'expect'"),
        ('name = "x"\n[[steps]]\naction = "dance"\n[expect]\n', "unknown action 'dance'"),
        ('name = "x"\nsteps = []\n[expect]\nvibes = 1\n', "unknown expectation(s) vibes"),
        ("name = ", "is not valid TOML"),
    ],
)
def test_bad_scenario_files_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(
        scenarios.ScenarioFileError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        scenarios.parse(text, "f.toml")


def test_evaluate_happy_path_expectations_hold() -> None:
    expect = scenarios.get(load_settings(), "happy-path").expect
    checks = evaluate(expect, happy_events(), "o1", 201, started_ms=0)
    assert {c.name for c in checks} == set(expect)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]


def test_evaluate_reports_what_is_missing() -> None:
    events = [e for e in happy_events() if e.type not in ("StockCommitted", "NotificationSent")]
    events = [e for e in events if e.value.get("to_status") != "CONFIRMED"]
    checks = {
        c.name: c
        for c in evaluate(scenarios.get(load_settings(), "happy-path").expect, events, "o1", 201, 0)
    }
    assert not checks["order_status"].ok and "order is PAID" in checks["order_status"].detail
    assert not checks["stock_committed"].ok
    assert not checks["notifications_sent"].ok and checks["notifications_sent"].detail.startswith(
        "0 sent"
    )
    assert checks["payments_completed"].ok


def test_other_orders_do_not_count() -> None:
    events = happy_events() + happy_events(order="o2")
    checks = {c.name: c for c in evaluate({"payments_completed": 1}, events, "o1", 201, 0)}
    assert checks["payments_completed"].ok


def test_causal_order_puts_every_cause_first_even_with_skewed_clocks() -> None:
    events = happy_events()
    events[5].timestamp_ms = 5  # RESERVED→PAID stamped "before" its cause by a skewed clock
    ordered = [e.event_id for e in causal_order(list(reversed(events)))]
    assert ordered.index("e4") < ordered.index("e5")
    assert ordered.index("e1") < ordered.index("e2") < ordered.index("e3")
    assert ordered.index("e7") < ordered.index("nemail") < ordered.index("semail")


def test_order_trace_keeps_the_order_and_its_user_only() -> None:
    events = happy_events() + happy_events(order="o2", user="u2")
    lines = trace_lines(order_events(events, "o1"))
    assert lines[0].event_type == "UserRegistered"
    assert {line.event_id for line in lines} >= {"e1", "e7"}
    assert len(lines) == len([e for e in happy_events() if e.type != "AnalyticsWindow"])
    assert any("RESERVED → PAID" in line.summary for line in lines)


def test_high_load_is_listed_as_a_load_driven_scenario() -> None:
    found = scenarios.load_all(load_settings())
    assert found["high-load"].runner == "load"
    assert found["happy-path"].runner == "steps"


def test_preferences_scenario_judges_the_channels_the_user_kept() -> None:
    scenario = scenarios.get(load_settings(), "preferences")
    assert [s["action"] for s in scenario.steps] == ["register", "login", "preferences", "order"]
    choice = ev(
        "UserPreferencesUpdated",
        5,
        "p1",
        topic="user-events",
        user_id="u1",
        preferences={"channels": {"email": True, "sms": False, "push": True}},
    )
    kept = [
        e for e in happy_events() if e.value.get("channel") != "sms" and e.type != "AnalyticsWindow"
    ]
    checks = {c.name: c for c in evaluate(scenario.expect, [choice, *kept], "o1", 201, 0, "u1")}
    assert all(c.ok for c in checks.values()), [c for c in checks.values() if not c.ok]
    assert checks["notification_channels"].detail == (
        "requested on email, push, sent on email, push"
    )
    # sms fanned out anyway, or the choice never reached the topic: both are named
    wrong = {c.name: c for c in evaluate(scenario.expect, happy_events(), "o1", 201, 0, "u1")}
    assert not wrong["notification_channels"].ok and not wrong["notifications_sent"].ok
    assert not wrong["channels_opted_out"].ok
    assert "no UserPreferencesUpdated" in wrong["channels_opted_out"].detail


def test_a_preferences_update_shows_in_the_trace_of_the_user_s_order() -> None:
    choice = ev(
        "UserPreferencesUpdated",
        5,
        "p1",
        topic="user-events",
        user_id="u1",
        preferences={"channels": {"email": True, "sms": False, "push": True}},
    )
    lines = trace_lines(order_events([*happy_events(), choice], "o1"))
    [line] = [line for line in lines if line.event_type == "UserPreferencesUpdated"]
    assert line.summary == "user=u1 opted out: sms"
