"""Benchmark (not a test): the whole pipeline under load, beside the broker's raw speed.

One run of `kafkalab load` with its raw-Kafka baseline, printed as the figures issue 14 asks
for: orders/s, end-to-end p50/p95/p99, POST /orders p50/p99, records per order by topic, CPU
seconds per 1,000 orders by process, broker requests per order, and pipeline events/s ÷ raw
confluent-kafka produce→consume measured on the same broker in the same run.

It uses the platform of the current settings (KAFKALAB_* variables), starting it if needed,
like `kafkalab load`. Wall-clock figures depend on what else the machine runs; CPU seconds per
1,000 orders and records per order do much less, so compare those across machines.

    .venv/bin/python scripts/bench_pipeline.py [--orders 5000] [--rate 250] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys

from kafkalab.load import plan as p
from kafkalab.load import run as load_run
from kafkalab.load.report import cold_broker
from kafkalab.platform import control
from kafkalab.settings import load_settings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=None, help="orders/s (default: flat out)")
    parser.add_argument("--users", type=int, default=p.DEFAULT_USERS)
    parser.add_argument("--json", help="also write every figure as JSON to this file")
    args = parser.parse_args()

    settings = load_settings()
    started = control.up(settings, notify=lambda line: print(f"… {line}", file=sys.stderr))
    plan = p.LoadPlan(args.orders, args.rate, args.users).validate()
    result = load_run.run(
        settings,
        started.conn,
        plan,
        with_baseline=True,
        notify=lambda line: print(f"… {line}", file=sys.stderr),
    )
    r, b = result.report, result.baseline
    rows: list[tuple[str, str]] = [
        ("orders", f"{r.accepted:,} accepted of {plan.orders:,}, {r.lost} lost"),
        (
            "orders/s",
            f"{r.orders_per_s:,.1f}" + (f" (aimed at {plan.rate:g})" if plan.rate else ""),
        ),
        ("e2e ms p50/p95/p99", f"{r.latency.p50} / {r.latency.p95} / {r.latency.p99}"),
        ("POST /orders ms p50/p99", f"{r.http_latency.p50} / {r.http_latency.p99}"),
        ("pipeline events/s", f"{r.pipeline_events_per_s:,.0f}"),
    ]
    if b is not None:
        rows += [
            (
                "raw produce→consume",
                f"{b.msgs_per_s:,.0f} msgs/s ({b.messages:,} × {b.message_bytes} B)",
            ),
            ("pipeline ÷ raw", f"{b.ratio:.1%}"),
        ]
    if r.machine_busy_percent is not None:
        rows.append(("machine busy", f"{r.machine_busy_percent:.0f}% of {r.cpu_cores} cores"))
    if (cold := cold_broker(r)) is not None:
        rows.append(("! cold broker", cold))
    section("pipeline", rows)
    section(
        "records per order, by topic", [(t, f"{n:.2f}") for t, n in r.records_per_order.items()]
    )
    section(
        "CPU seconds per 1,000 orders, by process",
        [(label, f"{s:.2f}") for label, s in r.cpu_s_per_1k_orders.items()],
    )
    orders = max(r.accepted, 1)
    section(
        "broker requests",
        [
            (kind, f"{n / orders:.2f} per order, {r.broker_requests_per_s.get(kind, 0):,.0f}/s")
            for kind, n in r.broker_requests.items()
        ],
    )
    verdict = result.verify
    print(f"invariants: {'all hold' if verdict is None or verdict.passed else 'VIOLATED'}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result.to_jsonable(), out, indent=2, default=str)
    return 0 if result.passed else 1


def section(title: str, rows: list[tuple[str, str]]) -> None:
    print(title)
    width = max((len(name) for name, _ in rows), default=0)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


if __name__ == "__main__":
    sys.exit(main())
