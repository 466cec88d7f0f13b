"""`kafkalab verify | trace | tail | lag`: look at what the platform wrote, from Kafka alone.

Each command parses, calls one function in kafkalab.observe and renders its result (the same
object feeds --json). Kafka and Avro clients are imported inside the commands so `--help`
stays fast.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kafkalab import ui
from kafkalab.cluster import connect
from kafkalab.settings import load_settings

if TYPE_CHECKING:
    from kafkalab.observe.lag import GroupLag
    from kafkalab.observe.tail import TailRecord
    from kafkalab.observe.verify import Invariant, VerifyReport

JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON for scripts.")]


def verify(
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only orders created since then: a duration (10m, 90s, 2h, 1d) or an ISO time. "
            "The topics are then read from that moment (offsets_for_times), not from their "
            "start, so the check costs what the window holds. Default: every order, every "
            "topic read whole.",
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Check the platform's invariants by reading the topics back (read_committed).

    Per order: it reached a terminal state; at most one payment; stock reserved = committed +
    released; one notification per channel per notifiable transition; no event with an
    unknown cause; and analytics totals equal the orders counted. With a refund service
    (`kafkalab up --with refund`, or refunds on the topic): every refund once, none for an
    unpaid order. Exit 1 on any ✘.

    With --since, each partition is read from its first record stamped at or after the
    window's start. An order created before the window is not judged, even if it ends inside
    it (its first events were not read). The look-back for causes is 30 s, read only when an
    event early in the window names a cause that was not read (with
    KAFKALAB_STOCK_CHECK=request-reply, an OrderCreated names the stock-check reply that came at
    most 5 s before it). Analytics is judged by how much its
    running totals grew over the window; user-events is read whole (a channel choice holds
    however old it is). The report says how many records were read and how long it took.
    """
    from kafkalab.observe import verify as checker
    from kafkalab.platform import learner

    settings = load_settings()
    since_ms = checker.parse_since(since, int(time.time() * 1000)) if since else None
    refunds = True if learner.REFUND in learner.read(settings) else None
    report = checker.verify(connect.resolve(settings), since_ms, refunds=refunds)
    if json:
        ui.print_json(report)
    else:
        render_report(report)
    if not report.passed:
        raise typer.Exit(1)


def render_report(report: VerifyReport) -> None:
    """The verifier's table and its one-line verdict (scenarios, load and chaos print it too)."""
    window = "every order on the topics"
    if report.since_ms is not None:
        window = f"orders created since {_clock(report.since_ms, date=True)}"
    outcomes = " · ".join(f"{status} {n}" for status, n in sorted(report.outcomes.items()))
    ui.kv(
        "invariant check",
        [
            ("window", window),
            ("orders checked", report.orders),
            ("outcomes", outcomes),
            ("revenue (confirmed)", f"{report.revenue_cents / 100:,.2f}"),
            ("events read", _read(report)),
        ],
    )
    ui.verdict(
        report.invariants, "invariants", headings=("invariant", "what the topics say"), detail=_said
    )
    failed = [i.name for i in report.invariants if i.ok is False]
    unjudged = [i.name for i in report.invariants if i.ok is None]
    orders = f"{report.orders} order{'' if report.orders == 1 else 's'}"
    if failed:
        ui.failure(f"{', '.join(failed)}: violated — the examples above say where")
        _note_paused()
    elif report.orders == 0:
        ui.success("no orders in the window: nothing was lost because nothing was sent")
    elif unjudged:
        ui.success(
            f"every invariant that could be judged holds for {orders} "
            f"(not judged: {', '.join(unjudged)})"
        )
    else:
        ui.success(f"every invariant holds for {orders}")


def _read(report: VerifyReport) -> str:
    """How many records the check read, in how long, and from where."""
    done = f"{report.events:,} in {report.read_seconds:.1f} s"
    if report.read_from_ms is None:
        return f"{done} (every topic, whole)"
    lookback = f", and {report.lookback_ms / 1000:g} s before it" if report.lookback_ms else ""
    return f"{done} (from the window's start{lookback})"


def _said(inv: Invariant) -> str:
    """The counts, then where the rule broke (one example a line) or, if nowhere, the rule."""
    if not inv.checked and not inv.violations:
        return inv.detail  # nothing to judge yet, or nothing could be
    counts = f"{inv.checked:,} checked, {inv.violations:,} violated"
    if not inv.examples:
        return f"{counts}: {inv.detail}"
    more = inv.violations - len(inv.examples)
    return "\n".join([f"{counts}:", *inv.examples, *([f"… and {more:,} more"] if more > 0 else [])])


def _note_paused() -> None:
    """A violation while a consumer is paused is mostly its pending work: say so."""
    from kafkalab.platform.control import paused_replicas

    paused = paused_replicas(load_settings())
    if paused:
        ui.out.print(
            f"[yellow]![/] {', '.join(paused)} paused (`kafkalab chaos pause`): what it has not "
            "handled yet counts as missing here; `kafkalab chaos resume SERVICE` judges it again"
        )


def trace(
    order_id: Annotated[
        str, typer.Argument(help="The order's id, or a unique prefix of it (traces print 8).")
    ],
    json: JsonOption = False,
) -> None:
    """The causal trace of one order, rebuilt from the topics alone.

    Every event the order caused, each after its cause, with service, topic, partition and
    offset — the same view a scenario ends with.
    """
    from kafkalab.observe import reach
    from kafkalab.observe.trace import trace_order

    conn = connect.resolve(load_settings())
    reach.topic_names(conn)
    reach.require_registry(conn)
    result = trace_order(conn, order_id)
    if json:
        ui.print_json(result)
        return
    ui.trace(result.lines, title=f"order {result.order_id} — {result.status} (causal order)")


def tail(
    topic: Annotated[str, typer.Argument(help="A topic, e.g. order-events or payments.")],
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="Start at the first offset.")
    ] = False,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new records (Ctrl-C stops).")
    ] = False,
    headers: Annotated[
        bool, typer.Option("--headers", help="Also show the trace/causation/service headers.")
    ] = False,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            "-n",
            min=1,
            help="How many records: the last N (default 20), or the first N with --from-beginning.",
        ),
    ] = None,
) -> None:
    """Decoded Avro records of a topic, one line each: partition@offset, type, key fields.

    Reads without joining a consumer group, so no service's position moves.
    """
    from kafkalab.observe.tail import tail as read_tail

    shown = 0
    conn = connect.resolve(load_settings())
    with ui.stopped_by_ctrl_c():
        for record in read_tail(conn, topic, from_beginning, limit, follow):
            ui.out.print(tail_line(record, headers), markup=False, highlight=False, soft_wrap=True)
            shown += 1
    if shown == 0 and not follow:
        ui.out.print(f"no records on {topic}")


def tail_line(record: TailRecord, headers: bool = False) -> str:
    line = (
        f"{_clock(record.timestamp_ms)} {record.partition}@{record.offset:<6} "
        f"{record.type:<22} key={record.key} {record.summary}"
    )
    if headers:
        first = ("service", "trace_id", "causation_id")
        shown = [f"{k}={record.headers[k]}" for k in first if k in record.headers]
        shown += [
            f"{k}={_cut(v)}"
            for k, v in record.headers.items()
            if k not in first and k != "event_type"
        ]
        line += "  | " + (" ".join(shown) or "no headers")
    return line


def lag(
    group: Annotated[
        str | None,
        typer.Argument(help="One consumer group; default: every kafkalab service's groups."),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Per consumer group and partition: committed offset, end offset (read_committed) and lag."""
    from kafkalab.observe import groups, reach
    from kafkalab.observe.lag import group_lag

    conn = connect.resolve(load_settings())
    reach.topic_names(conn)
    if group is not None:
        groups.check_group(conn, group)
    lags = group_lag(conn, [group] if group else groups.platform_groups())
    if json:
        ui.print_json(lag_json(lags))
        return
    for g in lags:
        if not g.partitions:
            ui.out.print(f"{g.group}: no offsets committed yet")
            continue
        ui.table(
            f"{g.group} — lag {g.total}",
            ["partition", "committed", "end", "lag"],
            [
                [
                    f"{p.topic}[{p.partition}]",
                    p.committed if p.committed >= 0 else "—",
                    p.end,
                    p.lag,
                ]
                for p in g.partitions
            ],
        )
    ui.out.print(f"total lag: {sum(g.total for g in lags)} across {len(lags)} group(s)")


def lag_json(lags: list[GroupLag]) -> dict[str, Any]:
    """Lag with the derived figures (lag per partition, totals) that dataclasses.asdict drops."""
    return {
        "groups": [
            {
                "group": g.group,
                "total": g.total,
                "partitions": [
                    {
                        "topic": p.topic,
                        "partition": p.partition,
                        "committed": p.committed,
                        "end": p.end,
                        "lag": p.lag,
                    }
                    for p in g.partitions
                ],
            }
            for g in lags
        ],
        "total": sum(g.total for g in lags),
    }


def _clock(ms: int, date: bool = False) -> str:
    moment = datetime.fromtimestamp(ms / 1000)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if date else moment.strftime("%H:%M:%S.%f")[:-3]


def _cut(text: str, size: int = 80) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"
