from kafkalab.observe.dashboard import DashboardSnapshot, ServiceRate, alerts


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


def test_a_quiet_healthy_platform_raises_no_alert() -> None:
    snap = snapshot(
        services=[ServiceRate("order", True, 5.0, 5.0, 0)],
        lag={"kafkalab-order": 3},
        dlt_records={"payments.DLT": 0},
    )
    assert alerts(snap) == []


def test_each_alert_names_what_is_wrong() -> None:
    snap = snapshot(
        services=[ServiceRate("payment", False, 0, 0, 0)],
        lag={"kafkalab-payment": 5000},
        dlt_records={"payments.DLT": 2},
        low_stock={"SKU-LIMITED": 1},
        payment_success_rate=0.2,
    )
    found = alerts(snap)
    assert "kafkalab-payment: lag 5000 over 1000" in found
    assert "payment is not answering /metrics" in found
    assert "payments.DLT: 2 dead-lettered record(s)" in found
    assert "low stock: SKU-LIMITED has 1 left" in found
    assert "payment success rate 20% this minute" in found
