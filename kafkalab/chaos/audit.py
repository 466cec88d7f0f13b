"""`kafkalab chaos audit`: were the acknowledged writes kept? Jepsen's question, asked of Kafka.

For each fault kind, a topic of its own per acks mode (3 partitions, replication factor 3,
min.insync.replicas 2, unclean leader election off) is written by an independent producer
that numbers its writes per key, while the fault runs (`broker_ops`). Then everything is read
back under read_committed and judged (`ledger`): acknowledged, lost, duplicated, reordered.

Every partition of a kill, pause or bounce audit is led by the victim, and its first follower
falls behind just before the fault (`broker_ops.LAG_SECONDS`): the election that follows is
clean (the follower is in the ISR), yet the leader had acknowledged acks=1 writes that no
follower had. acks=all waits for the whole ISR before it acknowledges, so it loses nothing.
A rolling restart bounces all three brokers while a static group member reads: it must see no
rebalance at all.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka.admin import NewTopic

from kafkalab import clients, verdict
from kafkalab.chaos import audit_io, broker_ops, collect, ledger
from kafkalab.connection import Connection
from kafkalab.errors import InvalidChoice
from kafkalab.settings import Settings

FAULTS = ("kill", "pause", "bounce", "rolling")
ACKS = ("all", "1")
KEYS = 8
RATE = 200.0
"""Records per second per writer: enough that a one-second lag holds hundreds of writes."""
WARMUP = 2.0
"""Seconds of writing before the fault, so it lands in a steady stream."""
DEFAULT_SECONDS = 20.0
ROLES = {"kill": (1, 2, 3), "pause": (2, 3, 1), "bounce": (3, 1, 2)}
"""Fault → (leader and victim, lagging follower, other follower): each kind hits another broker."""

Notify = Callable[[str], None]


@dataclass
class AuditRow:
    acks: str
    topic: str
    tally: ledger.Tally


@dataclass
class FaultAudit:
    """One fault kind: what was done, and each writer's tally."""

    fault: str
    faults: list[broker_ops.FaultRecord] = field(default_factory=list)
    rows: list[AuditRow] = field(default_factory=list)
    rebalances: int | None = None
    """Rebalances the static member saw after its first assignment (None: it never joined)."""
    consumed: int = 0
    member_fatal: str | None = None
    """The static member's fatal error, if it got one (fenced, say): it stopped reading there."""


@dataclass
class AuditReport:
    audits: list[FaultAudit] = field(default_factory=list)
    checks: list[verdict.Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return verdict.passed(self.checks)


def choose(fault: str, acks: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The fault kinds and acks modes asked for (`all`, `both`), or a one-line refusal."""
    if fault not in (*FAULTS, "all"):
        raise InvalidChoice(
            f"unknown fault '{fault}'", hint=f"--fault one of: {', '.join(FAULTS)}, all"
        )
    if acks not in (*ACKS, "both"):
        raise InvalidChoice(f"unknown acks mode '{acks}'", hint="--acks all, 1 or both")
    return (FAULTS if fault == "all" else (fault,)), (ACKS if acks == "both" else (acks,))


def run_audit(
    settings: Settings,
    conn: Connection,
    fault: str = "all",
    acks: str = "both",
    seconds: float = DEFAULT_SECONDS,
    notify: Notify | None = None,
) -> AuditReport:
    """Audit each fault kind in turn (module docstring); the cluster is whole after each."""
    kinds, modes = choose(fault, acks)
    say = notify or (lambda _m: None)
    broker_ops.require_three(settings)
    report = AuditReport()
    try:
        with collect.in_main_thread():
            for kind in kinds:
                say(f"— {kind} —")
                audit = _audit_one(settings, conn, kind, modes, seconds, say)
                report.audits.append(audit)
                report.checks += judge(audit)
    finally:
        broker_ops.restore(settings)
    report.notes = explain(report)
    return report


def _audit_one(
    settings: Settings,
    conn: Connection,
    kind: str,
    modes: tuple[str, ...],
    seconds: float,
    say: Notify,
) -> FaultAudit:
    if broker_ops.wait_for(lambda: broker_ops.in_sync(conn), broker_ops.SYNC_TIMEOUT) is None:
        say("! some ISR is not full before the fault: the figures may show it")
    stamp = time.strftime("%H%M%S")
    topics = {mode: f"chaos-audit.{kind}.acks-{mode}.{stamp}" for mode in modes}
    _create(conn, kind, tuple(topics.values()))
    audit = FaultAudit(kind)
    writers = [audit_io.SequenceWriter(conn, t, mode, KEYS, RATE) for mode, t in topics.items()]
    group = f"chaos-audit-{kind}-{stamp}"
    member = audit_io.StaticMember(conn, topics[modes[0]], group)
    started = time.monotonic()
    joined = False
    try:
        for writer in writers:
            writer.start()
        joined = member.wait_assigned(30.0)
        time.sleep(max(WARMUP - (time.monotonic() - started), 0))
        leader, lagging, _ = ROLES.get(kind, (1, 2, 3))
        audit.faults = broker_ops.inject(
            settings,
            conn,
            kind,
            leader,
            tuple(topics.values()),
            lagging=None if kind == "rolling" else lagging,
            notify=say,
        )
        while time.monotonic() - started < seconds:
            collect.now()
            time.sleep(0.5)
        time.sleep(1.0)  # writes go on a moment after the recovery, whatever --seconds
    finally:
        say("stopping the writers; waiting for every delivery report")
        for writer in writers:
            writer.stop()
        member.stop()
    audit.rebalances = member.rebalances if joined else None
    audit.consumed = member.consumed
    audit.member_fatal = member.fatal
    try:
        for writer in writers:
            say(f"reading {writer.topic} back (read_committed)")
            back = audit_io.read_back(conn, writer.topic)
            tally = ledger.account(writer.sent, writer.acked, writer.failed, back)
            audit.rows.append(AuditRow(writer.acks, writer.topic, tally))
    finally:
        _delete(conn, tuple(topics.values()), group)
    return audit


def _create(conn: Connection, kind: str, topics: tuple[str, ...]) -> None:
    """3 partitions on all three brokers. For a single-broker fault the victim leads them all
    and the lagging follower comes second, so the controller elects it; for a rolling
    restart each broker leads one."""
    first, second, third = ROLES.get(kind, (1, 2, 3))
    assignment = (
        [[1, 2, 3], [2, 3, 1], [3, 1, 2]] if kind == "rolling" else [[first, second, third]] * 3
    )
    config = {"min.insync.replicas": "2", "unclean.leader.election.enable": "false"}
    admin = clients.admin(conn)
    futures = admin.create_topics(
        [
            NewTopic(t, num_partitions=3, replica_assignment=assignment, config=config)
            for t in topics
        ]
    )
    for future in futures.values():
        future.result(30)
    broker_ops.wait_for(lambda: all(_ready(conn, t) for t in topics), 30.0)


def _ready(conn: Connection, topic: str) -> bool:
    metadata = clients.admin(conn, **{"log_level": 0}).list_topics(topic, timeout=5)
    partitions = metadata.topics[topic].partitions
    return len(partitions) == 3 and all(len(p.isrs) == 3 for p in partitions.values())


def _delete(conn: Connection, topics: tuple[str, ...], group: str) -> None:
    """The audit leaves nothing behind: its topics and its group go once they are judged."""
    admin = clients.admin(conn, **{"log_level": 0})
    # A leftover topic or group is harmless (and named after the audit): never an error here.
    for future in admin.delete_topics(list(topics)).values():
        with contextlib.suppress(Exception):
            future.result(30)
    with contextlib.suppress(Exception):
        admin.delete_consumer_groups([group])[group].result(30)


def judge(audit: FaultAudit) -> list[verdict.Check]:
    """acks=all: nothing lost, doubled or reordered; every fault recovered; a rolling restart
    rebalances no static member. acks=1 losses are what the audit shows, not a failure."""
    checks = [
        verdict.expect(
            f"{record.kind} broker-{record.broker}: recovered",
            record.recovered,
            f"new leaders after {_s(record.leaders_moved_s)}, every ISR full after "
            f"{_s(record.in_sync_s)}",
        )
        for record in audit.faults
    ]
    for row in audit.rows:
        if row.acks != "all":
            continue
        t = row.tally
        checks.append(
            verdict.expect(
                f"{audit.fault}, acks=all: every acknowledged write kept once, in order",
                t.clean and t.acknowledged > 0,
                f"{t.acknowledged} acknowledged, {t.lost} lost, {t.duplicates} duplicates, "
                f"{t.reordered} reordered"
                + (f" (e.g. {', '.join(t.lost_examples)})" if t.lost_examples else ""),
            )
        )
    if audit.fault == "rolling":
        checks.append(
            verdict.Check(
                "rolling restart: no rebalance of the static member",
                None
                if audit.rebalances is None
                else audit.rebalances == 0 and not audit.member_fatal,
                member_story(audit),
            )
        )
    return checks


def member_story(audit: FaultAudit) -> str:
    """What the static group member went through, in a few words."""
    if audit.rebalances is None:
        return "the member never joined its group"
    story = f"{audit.rebalances} rebalance(s) after the first assignment"
    if audit.member_fatal:
        story += f"; then a fatal error: {audit.member_fatal}"
    return story


def explain(report: AuditReport) -> list[str]:
    """One sentence per acks=1 row: what it lost and why, or that it happened to lose nothing."""
    notes = []
    for audit in report.audits:
        if audit.fault != "rolling" and (audit.rebalances or audit.member_fatal):
            notes.append(f"{audit.fault}, static group member: {member_story(audit)}")
        for row in audit.rows:
            if row.acks != "1":
                continue
            t = row.tally
            if t.lost:
                notes.append(
                    f"{audit.fault}, acks=1: {t.lost} of {t.acknowledged} acknowledged writes "
                    "lost — the leader acknowledged them alone and the follower elected in its "
                    "place never had them (a clean election: it was in the ISR)"
                )
            else:
                notes.append(
                    f"{audit.fault}, acks=1: nothing lost this time — every follower had caught "
                    "up when leadership moved; acks=1 promises no such luck"
                )
            if t.reordered or t.duplicates:
                notes.append(
                    f"{audit.fault}, acks=1: {t.reordered} reordered, {t.duplicates} doubled — "
                    "without idempotence a batch retried after a timeout lands behind later "
                    "ones, or twice when the first attempt had been written after all"
                )
    return notes


def _s(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:.1f} s"
