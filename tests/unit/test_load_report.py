"""The load report's shape and the bookkeeping around it: who writes which topic, CPU shares."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from kafkalab.catalogue.services import LEARNER_SERVICES, SERVICES
from kafkalab.events.topics import CATALOGUE
from kafkalab.load.plan import LoadPlan
from kafkalab.load.report import WARM_AFTER_S, LoadReport, Outcomes, Volume, cold_broker
from kafkalab.load.sample import CpuMeter, Process, cpu_percent, process_age
from kafkalab.load.volume import writer


def test_every_platform_topic_has_exactly_one_known_writer() -> None:
    for spec in CATALOGUE:
        assert writer(spec.name) in (*SERVICES, *LEARNER_SERVICES), spec.name
    assert writer("changelog__kafkalab-analytics--repartition.payments.all--x") == "analytics"
    assert writer("payments.DLT") == "payment"
    assert writer("order.DLT") == "order"
    assert writer("somebody-elses-topic") == "other"


def test_cpu_percent_adds_replicas_and_leaves_out_restarted_processes() -> None:
    before = {Process("payment", 1): 10.0, Process("payment", 2): 5.0, Process("order", 3): 1.0}
    after = {Process("payment", 1): 12.0, Process("payment", 2): 6.0}  # order 3 restarted
    assert cpu_percent(before, after, 2.0) == {"payment": 150.0}


def test_a_young_broker_is_named_as_cold_and_an_old_one_is_not() -> None:
    report = LoadReport(plan=LoadPlan(10))
    assert cold_broker(report) is None  # not measured (an external cluster): nothing said
    report.broker_age_s = 40.0
    said = cold_broker(report)
    assert said is not None and "40 s" in said and "again" in said
    report.broker_age_s = WARM_AFTER_S
    assert cold_broker(report) is None


def test_the_meter_reads_the_brokers_age_from_proc() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        age = process_age(child.pid)
        assert age is not None and 0 <= age < 30
        assert process_age(os.getpid()) >= age  # this test process started before its child
        meter = CpuMeter([Process("broker", child.pid), Process("driver", os.getpid())])
        assert meter.broker_age_s is not None and meter.broker_age_s < 30
        assert meter.stop().broker_age_s == meter.broker_age_s
    finally:
        child.kill()
        child.wait()


def test_the_json_report_says_lost_and_all_terminal_and_leaves_the_id_list_out() -> None:
    report = LoadReport(plan=LoadPlan(orders=3))
    report.orders = Outcomes(accepted=3, confirmed=2, lost=1)
    report.order_ids = ["a", "b", "c"]
    report.volume = Volume(records=10, bytes=2150)
    data = json.loads(json.dumps(report.to_jsonable()))
    assert data["lost"] == 1 and data["all_terminal"] is False
    assert "order_ids" not in data
    assert data["plan"]["orders"] == 3
    assert data["latency"].keys() >= {"count", "p50", "p95", "p99", "max"}
    assert report.volume.mean_size == 215


def test_a_run_with_no_accepted_order_is_not_all_terminal() -> None:
    assert LoadReport(plan=LoadPlan()).all_terminal is False


def test_a_report_inside_another_result_keeps_lost_in_its_json() -> None:
    """chaos --json nests the load report: the generic serializer must ask it for its JSON."""
    from dataclasses import dataclass

    from kafkalab import ui

    @dataclass
    class Outer:
        load: LoadReport

    report = LoadReport(plan=LoadPlan(orders=2))
    report.orders = Outcomes(accepted=2, confirmed=1, lost=1)
    report.order_ids = ["a", "b"]
    data = json.loads(json.dumps(ui.to_jsonable(Outer(report))))
    assert data["load"]["lost"] == 1 and "order_ids" not in data["load"]


def test_cpu_per_thousand_orders_and_records_per_order_by_topic() -> None:
    from kafkalab.load.report import INTERNAL, TOTAL, per_thousand_orders, records_per_order

    assert per_thousand_orders({"order": 3.0, "broker": 5.0}, 2000) == {
        "order": 1.5,
        "broker": 2.5,
        TOTAL: 4.0,
    }
    assert per_thousand_orders({"order": 3.0}, 0) == {}
    by_topic = {
        "order-events": 4000,
        "analytics": 200,
        "repartition__kafkalab-analytics--order-events--all": 2000,
        "changelog__kafkalab-analytics--x": 100,
    }
    per_order = records_per_order(by_topic, 1000)
    assert per_order == {"order-events": 4.0, INTERNAL: 2.1, "analytics": 0.2, TOTAL: 6.3}
    assert list(per_order)[:2] == ["order-events", INTERNAL]  # largest first


def test_broker_requests_between_two_readings() -> None:
    from kafkalab.load.broker import requests_between

    before = {"Produce": 100, "FetchConsumer": 50}
    after = {"Produce": 160, "FetchConsumer": 40, "Fetch": 7}
    # FetchConsumer went back (a restarted broker): left out, not a negative count.
    assert requests_between(before, after) == {"Fetch": 7, "Produce": 60}
    assert requests_between({}, after) == {}  # no first reading: nothing to subtract from
