"""Lesson 22's grader: run the learner's refund service the way the shop's services are hurt
— SIGKILLed every 3 s and restarted — then judge what the broker and the registry hold with the
invariant checker's refund rule (kafkalab/observe/verify.py: "every refund once, none for an
unpaid order"), read back under read_committed.

It runs on a secure side cluster (`needs = ["secure"]`): the service logs in as its own SCRAM
user, `refund-<run>`, made here with the least ACLs a refund service needs; the grader reads
back as admin. The broker's authorizer log (turned to DEBUG for the run) says who wrote the
refunds.

The feed is the shop's own events (its Avro schemas, its `event_type` headers) on this run's
copies of `order-events` and `payments`: orders paid and then cancelled (each owed one refund),
orders cancelled before any payment went through (a PaymentFailed on `payments`: owed nothing),
confirmed orders (owed nothing) and one poison record that is not Avro at all. A first wave is
refunded under the kills; the last start runs undisturbed: once it is quiet the learner's alert
rule must be inactive, then a second, smaller wave with a second poison record arrives, after
which the rule must fire and the /metrics refund counter must equal the refunds that start
added to the topic.

`kafkalab chaos kill SERVICE --every 3` hurts the supervisor's services; the learner's service
is not one of them, so the grader injects the same fault (SIGKILL, restart at once) itself.
"""

from __future__ import annotations

import re
import secrets
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)
from confluent_kafka.schema_registry.error import SchemaRegistryError
from prometheus_client.parser import text_string_to_metric_families

from kafkalab import clients
from kafkalab.cluster import ports
from kafkalab.connection import Connection
from kafkalab.curriculum.exercises import Graded, Program, Task
from kafkalab.curriculum.lab import Lab, LessonSetupFailed
from kafkalab.curriculum.readback import (
    active_producers,
    committed,
    read_all,
    set_broker_logger,
    transactional_ids,
)
from kafkalab.events.serde import Event, EventSerde
from kafkalab.monitoring.rules import AlertEngine
from kafkalab.monitoring.scrape import Target
from kafkalab.observe.trace import read_events
from kafkalab.observe.verify import RefundCase, refund_cases, refunds_invariant
from kafkalab.security import provision
from kafkalab.security.provision import SecurityProvisioningFailed, upsert_users
from kafkalab.verdict import Check

from . import alerting

FIRST = {"refund": 10, "unpaid": 4, "confirmed": 4}  # the wave refunded under the kills
SECOND = {"refund": 3, "unpaid": 1}  # the wave the last, undisturbed start refunds
KILLS = 2
EVERY = 3.0  # seconds a start lives before its SIGKILL (`chaos kill … --every 3`)
BANK_SECONDS = 0.2  # per refund: the kills land in the middle of a batch
OFFSETS_TOPIC = "__consumer_offsets"
PATHS = {
    "refund": ["RESERVED", "PAID", "CANCELLED"],
    "unpaid": ["RESERVED", "PAYMENT_FAILED", "PENDING_PAYMENT", "CANCELLED"],
    "confirmed": ["RESERVED", "PAID", "CONFIRMED"],
}


def _wave(
    lab: Lab, task_topics: dict[str, str], kinds: dict[str, int], poison: bytes | None
) -> dict[str, str]:
    """Seed one wave: each order's payment first, then its status changes (interleaved across
    orders, in order within one), the poison record a third of the way in. Returns
    {order_id: kind}."""
    serde = EventSerde(lab.conn)
    orders = {f"o-{secrets.token_hex(4)}": kind for kind, n in kinds.items() for _ in range(n)}
    users = {oid: f"u-{secrets.token_hex(2)}" for oid in orders}
    producer = lab.producer()
    for oid, kind in orders.items():
        user = users[oid]
        amount = 500 + secrets.randbelow(19_500)
        if kind == "unpaid":
            record = "PaymentFailed"
            value: dict[str, Any] = {"reason": "insufficient_funds", "attempts": 1}
        else:
            record = "PaymentCompleted"
            value = {"payment_id": f"p-{secrets.token_hex(4)}", "card_masked": "**** 4242"}
            value["attempts"] = 1
        value.update(order_id=oid, user_id=user, amount_cents=amount)
        _produce(producer, serde, task_topics["payments"], record, value)
    producer.flush(30)
    steps = {oid: ["CREATED", *PATHS[kind]] for oid, kind in orders.items()}
    changes = []
    while any(len(s) > 1 for s in steps.values()):
        for oid, path in steps.items():
            if len(path) > 1:
                changes.append((oid, path[0], path[1]))
                path.pop(0)
    for i, (oid, src, dst) in enumerate(changes):
        if poison is not None and i == len(changes) // 3:
            producer.produce(task_topics["order-events"], key=b"poison", value=poison)
        value = {"order_id": oid, "user_id": users[oid], "from_status": src}
        value.update(to_status=dst, reason="ReservationExpired" if dst == "CANCELLED" else None)
        _produce(producer, serde, task_topics["order-events"], "OrderStatusChanged", value)
    producer.flush(30)
    return orders


def _produce(
    producer: Producer, serde: EventSerde, topic: str, record: str, value: dict[str, Any]
) -> None:
    full, headers = serde.envelope(record, value, service="lesson22")
    data = serde.serialize(topic, record, full)
    producer.produce(topic, key=str(value["order_id"]).encode(), value=data, headers=headers)


def prepare(lab: Lab) -> Task:
    topics = {
        "order-events": lab.topic("order-events", partitions=2),
        "payments": lab.topic("payments"),
        "refunds": lab.topic("refunds"),
        "refunds.DLT": lab.topic("refunds.DLT"),
    }
    groups = {"refund": lab.group("refund"), "payments-table": lab.group("payments-table")}
    poisons = [b"refund me! " + secrets.token_hex(4).encode() for _ in range(2)]  # not Avro
    first = _wave(lab, topics, FIRST, poisons[0])
    port = ports.free_block(lab.settings.host, 1, start=lab.settings.broker_port + 60)
    user, service, txn_id = _service_user(lab, topics, groups)
    # From here on, the brokers' logs name who made each allowed request (see log_writers).
    audit = _audit(lab, "DEBUG")
    return Task(
        topics=topics,
        groups=groups,
        params={
            "metrics_port": port,
            "bank_seconds": BANK_SECONDS,
            "service": service,
            "transactional_id": txn_id,
        },
        private={"first": first, "poisons": poisons, "user": user, "audit": audit},
    )


def _service_user(
    lab: Lab, topics: dict[str, str], groups: dict[str, str]
) -> tuple[str, dict[str, str], str]:
    """A SCRAM user for this run's refund service with the least ACLs it needs; returns its
    name, its librdkafka login and the transactional.id it may use."""
    user, password = f"refund-{lab.run_id}", secrets.token_urlsafe(18)
    txn_id = user  # one literal id: the only one its ACL allows
    admin = lab.admin()
    upsert_users(admin, {user: password})
    bindings = service_bindings(user, topics, groups, txn_id)
    for binding, future in admin.create_acls(bindings, request_timeout=30).items():
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            raise LessonSetupFailed(f"could not create the ACL {binding}: {exc}") from exc
    _wait_until_enforced(lab, user, len(bindings))
    return user, lab.conn.as_user(user, password).librdkafka(), txn_id


def service_bindings(
    user: str, topics: dict[str, str], groups: dict[str, str], txn_id: str
) -> list[AclBinding]:
    """What a refund service does, and nothing else: READ its two input topics (READ implies
    DESCRIBE) and the groups it names (the refund group commits through the transaction, and
    librdkafka looks up the table reader's group coordinator too), WRITE refunds and the DLT,
    WRITE its one transactional id (InitProducerId, AddPartitionsToTxn, EndTxn)."""

    def allow(kind: ResourceType, name: str, operation: AclOperation) -> AclBinding:
        return AclBinding(
            kind,
            name,
            ResourcePatternType.LITERAL,
            f"User:{user}",
            "*",
            operation,
            AclPermissionType.ALLOW,
        )

    read, write = AclOperation.READ, AclOperation.WRITE
    return [
        allow(ResourceType.TOPIC, topics["order-events"], read),
        allow(ResourceType.TOPIC, topics["payments"], read),
        allow(ResourceType.TOPIC, topics["refunds"], write),
        allow(ResourceType.TOPIC, topics["refunds.DLT"], write),
        allow(ResourceType.GROUP, groups["refund"], read),
        allow(ResourceType.GROUP, groups["payments-table"], read),
        allow(ResourceType.TRANSACTIONAL_ID, txn_id, write),
    ]


def _wait_until_enforced(lab: Lab, user: str, count: int, timeout: float = 20.0) -> None:
    """The SCRAM login and the ACLs reach the broker through the metadata log, a moment after
    the admin calls return: wait until the broker lists them (then it enforces them)."""
    try:
        provision.wait_listed(lab.admin(), user, count, timeout)
    except SecurityProvisioningFailed as exc:
        raise LessonSetupFailed(str(exc)) from exc


AUDIT_LOGGER = "kafka.authorizer.logger"
_ALLOWED_WRITE = re.compile(
    r"Principal = (\S+) is Allowed operation = WRITE from host = \S+ on resource = "
    r"Topic:LITERAL:(\S+) for request"
)


def _audit(lab: Lab, level: str | None) -> str:
    """Turn the brokers' authorizer audit log to `level` (None: back to the broker's own);
    returns why it could not ("" when it could)."""
    try:
        set_broker_logger(lab.conn, AUDIT_LOGGER, level)
    except Exception as exc:  # kafka-python's errors, or a broker that refused the change
        return f"{type(exc).__name__}: {exc}"
    return ""


def log_writers(data_dir: Path, topics: set[str]) -> Counter[str]:
    """Per principal, the writes to `topics` the brokers of the cluster in `data_dir` allowed,
    from their logs' authorizer lines (each topic name holds this run's id, so only this run's
    writes match)."""
    found: Counter[str] = Counter()
    for log in sorted(data_dir.glob("broker-*/logs/server.log*")):
        try:
            text = log.read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            if "is Allowed operation = WRITE" not in line:
                continue
            match = _ALLOWED_WRITE.search(line)
            if match and match.group(2) in topics:
                found[match.group(1)] += 1
    return found


# -- driving the service --------------------------------------------------------------------------


_READERS: dict[tuple[Connection, str], Consumer] = {}
"""One reader per cluster and isolation level for the whole grading (a new one per question
would log in again each time: a TLS handshake and a SCRAM exchange)."""


def _end(lab: Lab, topic: str, partition: int = 0, isolation: str = "read_uncommitted") -> int:
    """The end of the log as a reader with `isolation` is told it: read_uncommitted, the high
    watermark (open transactions included); read_committed, the last stable offset."""
    reader = _READERS.get((lab.conn, isolation))
    if reader is None:
        reader = lab.consumer(
            lab.group("grader"), **{"enable.auto.commit": False, "isolation.level": isolation}
        )
        _READERS[(lab.conn, isolation)] = reader
    return int(reader.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1])


def _close_readers() -> None:
    while _READERS:
        _READERS.popitem()[1].close()


def _alive(program: Program) -> bool:
    """Running; a program that ended by itself is waited for, so its crash is reported."""
    if program.running():
        return True
    program.wait(5)
    return False


def _due(lab: Lab, refunds: str, high: int, lived: float) -> bool:
    """Time for the SIGKILL: EVERY seconds into a start, at a moment a transaction of it holds
    refunds still open (the log's end is past the last stable offset), so the kill lands mid-
    batch; a service that writes no transactions is killed 1 s later, once it has refunded
    something, and any start at 10 s."""
    if lived < EVERY:
        return False
    end = _end(lab, refunds)
    stable = _end(lab, refunds, isolation="read_committed")
    return end > stable or (end > high and lived >= EVERY + 1) or lived >= 10


def _chaos(lab: Lab, task: Task, program: Program) -> tuple[int, int, int]:
    """Start, SIGKILL when due (see _due), restart at once; KILLS times. Returns the kills done,
    the refunds read_committed saw before the last start, which goes on running, and the DLT's
    end (read_uncommitted) then: what the DLT gains beyond it, that start wrote."""
    refunds, dlt = task.topics["refunds"], task.topics["refunds.DLT"]
    kills, before, mark = 0, 0, 0
    program.start()
    while kills < KILLS:
        started, high = time.monotonic(), _end(lab, refunds)
        while _alive(program):
            if _due(lab, refunds, high, time.monotonic() - started):
                break
            time.sleep(0.1)
        else:  # it ended on its own, cleanly
            return kills, sum(_refunded(lab, refunds).values()), _end(lab, dlt)
        program.kill()
        kills += 1
        # The killed start's open transaction is invisible to read_committed, and nothing else
        # writes refunds until the next start commits: what it adds is counted from here.
        before, mark = sum(_refunded(lab, refunds).values()), _end(lab, dlt)
        program.start()
    return kills, before, mark


def _refunded(lab: Lab, topic: str) -> Counter[str]:
    return Counter(r.text_key for r in read_all(lab.conn, topic, "read_committed"))


def _settle(lab: Lab, task: Task, program: Program, owed: set[str], timeout: float) -> None:
    """Until every owed order has a committed refund (or `timeout`), then until the group's
    offsets reach the feed's end too: for 3 s at most, 1 s if the group has committed nothing
    at all (a service that never commits them is not waited for longer)."""
    deadline = time.monotonic() + timeout
    while _alive(program) and time.monotonic() < deadline:
        if owed <= set(_refunded(lab, task.topics["refunds"])):
            break
        time.sleep(0.2)
    feed = task.topics["order-events"]
    ends = {p: _end(lab, feed, p) for p in (0, 1)}
    started = time.monotonic()
    while _alive(program) and time.monotonic() < min(started + 3, deadline):
        offsets = committed(lab.conn, task.groups["refund"], feed)
        if offsets == {p: e for p, e in ends.items() if e}:
            return
        if not offsets and time.monotonic() > started + 1:
            return
        time.sleep(0.3)


def _scrape(port: int, timeout: float = 10.0) -> dict[str, float] | str:
    """Every counter sample on the service's /metrics, or why there are none."""
    deadline, error = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        try:
            url = f"http://127.0.0.1:{port}/metrics"
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                text = response.read().decode()
            return {
                sample.name: sample.value
                for family in text_string_to_metric_families(text)
                if family.type == "counter"
                for sample in family.samples
                if sample.name.endswith("_total")
            }
        except Exception as exc:  # not up yet, or refused: try again until the deadline
            error = f"{type(exc).__name__}: {exc}"
            time.sleep(0.3)
    return f"nothing answered on 127.0.0.1:{port}/metrics ({error})"


# -- what the broker holds --------------------------------------------------------------------------


@dataclass
class Seen:
    cases: dict[str, RefundCase]
    first: dict[str, str]
    events: list[Event]
    uncommitted: Counter[str]  # order id → refunds read_uncommitted sees
    dead: list[list[dict[str, bytes]]]  # per poison record sent: its dead letters' headers
    stray: int  # other records on the DLT
    offsets: dict[int, int]
    ends: dict[int, int]
    txn_ids: dict[int, str] | None  # None: the broker could not be asked
    offsets_in_txn: bool
    compatibility: str | None
    schema: str
    counter: dict[str, float] | str
    added: int  # refunds the undisturbed start added to the topic
    kills: int
    unknown: str = ""
    user: str = ""  # the service's SCRAM user
    who: Counter[str] = field(default_factory=Counter)  # principal → writes the broker allowed
    audit_error: str = ""  # why the authorizer log could not be turned up
    rules: list[alerting.Rule] | str = ""
    alarm: Alarm | None = None
    notes: list[str] = field(default_factory=list)


def _writers(lab: Lab, refunds: str) -> tuple[dict[int, str], bool]:
    """The transactional ids that wrote refunds, and whether the last of them also wrote the
    group's offsets (send_offsets_to_transaction makes the coordinator write them as that
    producer; each start bumps its epoch, so only an entry at its latest epoch counts)."""
    producers = active_producers(lab.conn, refunds).get(0, [])
    ids = transactional_ids(lab.conn, {p.producer_id for p in producers})
    epochs = {p.producer_id: p.epoch for p in producers if p.producer_id in ids}
    in_txn = any(
        p.producer_id in epochs and p.epoch >= epochs[p.producer_id]
        for per in active_producers(lab.conn, OFFSETS_TOPIC).values()
        for p in per
    )
    return ids, in_txn


def _registry(lab: Lab, subject: str) -> tuple[str | None, str]:
    registry = clients.schema_registry(lab.conn)
    try:
        level: str | None = registry.get_compatibility(subject)
    except SchemaRegistryError:  # 40408: the subject has no level of its own
        level = None
    try:
        schema = registry.get_latest_version(subject).schema.schema_str or ""
    except SchemaRegistryError:
        schema = ""
    return level, schema


def _watch(
    lab: Lab, task: Task, program: Program, rules: list[alerting.Rule] | str, at: tuple[int, int]
) -> Alarm:
    """The alert phase, on the last start (undisturbed) once the first wave is done: scraped
    while idle, again after the second wave's refunds (the rule must stay inactive: no poison
    yet), then after a poison record the broker holds on the DLT (the rule must fire).

    `at`: the refunds read_committed saw and the DLT's end when the last start began. If that
    start dead-lettered the first poison again (its first dead letter was in a killed batch),
    its counter already moved: it is stopped with Ctrl-C and started afresh, once."""
    refunds, dlt = task.topics["refunds"], task.topics["refunds.DLT"]
    target = Target("refund", lab.settings.host, task.params["metrics_port"])
    alarm = Alarm(rules if isinstance(rules, list) else [], target, *at)
    alarm.sent.append(task.private["poisons"][0])  # in the first wave
    first: dict[str, str] = task.private["first"]
    _settle(lab, task, program, {o for o, kind in first.items() if kind == "refund"}, 20)
    if _alive(program) and _dead_since(lab, dlt, alarm.mark):
        program.stop()
        program.wait(5)
        alarm.before, alarm.mark = sum(_refunded(lab, refunds).values()), _end(lab, dlt)
        alarm.restarted = True
        program.start()
    alarm.quiet(program)
    second = _wave(lab, task.topics, SECOND, None)
    owed = {o for o, kind in {**first, **second}.items() if kind == "refund"}
    _settle(lab, task, program, owed, 30)
    alarm.quiet(program)
    alarm.counter = _scrape(task.params["metrics_port"])
    alarm.quiet_valid = not _dead_since(lab, dlt, alarm.mark)
    quiet_end = _end(lab, dlt)
    # The second poison, alone: nothing but it can move the rule now.
    poison: bytes = task.private["poisons"][1]
    producer = lab.producer()
    producer.produce(task.topics["order-events"], key=b"poison", value=poison)
    producer.flush(30)
    alarm.sent.append(poison)
    if quiet_end == 0:  # not one dead letter so far: the poison will not reach the DLT either
        return alarm
    waited, since = time.monotonic(), None
    while _alive(program):
        now = time.monotonic()
        if since is None and _end(lab, dlt, isolation="read_committed") > quiet_end:
            since = now  # the broker holds the poison on the DLT (committed)
        if alarm.watch is not None:
            alarm.watch.scrape()
        if since is not None:
            alarm.poisoned = True
            if alarm.watch is None or alarm.watch.poisoned():
                break
            if now - since > alerting.waits(alarm.rules) + 3:
                break
        elif now - waited > 15:
            break
        time.sleep(0.25)
    return alarm


def _dead_since(lab: Lab, dlt: str, mark: int) -> bool:
    """A record at `mark` or later on the DLT (aborted ones too; markers are not records)."""
    return any(r.offset >= mark for r in read_all(lab.conn, dlt, "read_uncommitted"))


@dataclass
class Alarm:
    rules: list[alerting.Rule]
    target: Target
    before: int  # the refunds read_committed saw when the watched start began
    mark: int  # the DLT's end then
    restarted: bool = False
    watch: alerting.Watch | None = None
    sent: list[bytes] = field(default_factory=list)  # poison records sent so far
    counter: dict[str, float] | str = ""
    quiet_valid: bool = False
    poisoned: bool = False

    def __post_init__(self) -> None:
        if self.rules:
            self.watch = alerting.Watch(self.target, AlertEngine(self.rules))

    def quiet(self, program: Program, timeout: float = 15.0) -> None:
        """One scrape and evaluation, once /metrics answers (a fresh start takes a moment to
        serve it)."""
        if self.watch is None:
            return
        deadline = time.monotonic() + timeout
        while not self.watch.scrape() and _alive(program) and time.monotonic() < deadline:
            time.sleep(0.3)
        self.watch.quiet()


def grade(lab: Lab, task: Task, program: Program) -> Graded:
    try:
        return _graded(lab, task, program)
    finally:
        _close_readers()


def _graded(lab: Lab, task: Task, program: Program) -> Graded:
    refunds, dlt = task.topics["refunds"], task.topics["refunds.DLT"]
    first: dict[str, str] = task.private["first"]
    rules = alerting.load(program.file)
    try:
        kills, before, mark = _chaos(lab, task, program)
        # The last start runs undisturbed: what it adds to the topic, its counter counts.
        alarm = _watch(lab, task, program, rules, (before, mark))
        program.stop()
        program.wait(5)  # Ctrl-C ends the service cleanly: anything else is reported here
    finally:
        _audit(lab, None)
    who = log_writers(lab.settings.data_dir, {refunds, dlt})

    topics = (task.topics["order-events"], task.topics["payments"], refunds)
    events = read_events(lab.conn, topics, strict=True)
    letters = read_all(lab.conn, dlt, "read_committed")
    txn_ids, in_txn, unknown = None, False, ""
    try:
        txn_ids, in_txn = _writers(lab, refunds)
    except Exception as exc:  # kafka-python's errors: a cluster that refuses KIP-664 requests
        unknown = f"{type(exc).__name__}: {exc}"
    level, schema = _registry(lab, f"{refunds}-value")
    feed = task.topics["order-events"]
    seen = Seen(
        cases=refund_cases(events, *topics),
        first=first,
        events=events,
        uncommitted=Counter(r.text_key for r in read_all(lab.conn, refunds, "read_uncommitted")),
        dead=[[r.headers for r in letters if r.value == p] for p in alarm.sent],
        stray=sum(1 for r in letters if r.value not in alarm.sent),
        offsets=committed(lab.conn, task.groups["refund"], feed),
        ends={p: _end(lab, feed, p) for p in (0, 1)},
        txn_ids=txn_ids,
        offsets_in_txn=in_txn,
        compatibility=level,
        schema=schema,
        counter=alarm.counter,
        added=sum(_refunded(lab, refunds).values()) - alarm.before,
        kills=kills,
        unknown=unknown,
        user=task.private["user"],
        who=who,
        audit_error=task.private["audit"],
        rules=rules,
        alarm=alarm,
    )
    checks = [
        _reached(seen),
        _once(seen),
        _dead_lettered(seen),
        _offsets(seen),
        _through_transaction(seen),
        _as_the_service(seen),
        _compatibility(seen),
        _metrics(seen),
        _alert(seen),
    ]
    first_refunds = [
        e for e in events if e.type == "RefundIssued" and e.value.get("order_id") in first
    ]
    truths = {
        "committed": len(first_refunds),
        "uncommitted": (
            "more: the killed transactions' refunds stay in the log"
            if sum(seen.uncommitted[o] for o in first) > len(first_refunds)
            else "the same number"
        ),
    }
    return Graded([c for c in checks if c is not None], truths)


# -- the checks ------------------------------------------------------------------------------------


def _refund_events(seen: Seen) -> list[Event]:
    return [e for e in seen.events if e.type == "RefundIssued"]


def _reached(seen: Seen) -> Check:
    name = "refunds reach a read_committed reader"
    count = len(_refund_events(seen))
    if count:
        return Check(name, True, f"read_committed sees {count} RefundIssued records")
    if sum(seen.uncommitted.values()):
        return Check(
            name,
            False,
            f"read_uncommitted sees {sum(seen.uncommitted.values())} refunds, read_committed "
            "none: no transaction of yours committed",
            fix="end each batch's transaction with producer.commit_transaction()",
        )
    return Check(
        name,
        False,
        "no RefundIssued reached the refunds topic (Avro, under the refunds' subject)",
        fix="does refundable() say yes to an order paid and then cancelled, and does refund() "
        "produce to REFUNDS?",
    )


def _once(seen: Seen) -> Check:
    invariant = refunds_invariant(seen.cases.values())
    owed = sum(1 for c in seen.cases.values() if c.owed)
    if invariant.ok:
        return Check(
            invariant.name,
            True,
            f"{owed} orders paid and then cancelled, one refund each, through {seen.kills} "
            "SIGKILLs; no refund for an order never paid or not cancelled",
        )
    examples = "; ".join(invariant.examples[:3])
    detail = f"{invariant.violations} of {invariant.checked} orders wrong: {examples}"
    return Check(invariant.name, False, detail, fix=_diagnose(seen))


def _diagnose(seen: Seen) -> str:
    cases = seen.cases.values()
    twice = any(len(c.refunds) > 1 for c in cases if c.owed)
    missing = any(not c.refunds for c in cases if c.owed)
    unpaid = any(c.refunds and not c.paid for c in cases)
    transactional = seen.txn_ids is None or bool(seen.txn_ids)
    if twice and not transactional:
        return (
            "the refunds are not written in transactions: what a killed start refunded stayed "
            "visible, and the restart refunded it again. Give the producer a fixed "
            "transactional.id, call init_transactions() once, and make each batch "
            "begin_transaction(), produce, send_offsets_to_transaction(...), commit_transaction()"
        )
    if twice:
        return (
            "a restart refunded a batch whose refunds were already committed: its input offsets "
            "must commit in the same transaction, send_offsets_to_transaction(consumer.position("
            "consumer.assignment()), consumer.consumer_group_metadata()) before "
            "commit_transaction(), never consumer.commit() on its own"
        )
    if missing:
        return (
            "an order paid and then cancelled got no refund: were its offsets committed before "
            "its refund (a consumer.commit(), or auto commit)? Only the transaction may commit them"
        )
    if unpaid:
        return (
            "an order that was never paid was refunded: in refundable(), refund a CANCELLED order "
            "only if `paid` (the PaymentCompleted records of payments) holds it"
        )
    return "each refund's amount_cents must be what the order's PaymentCompleted charged"


def _dead_lettered(seen: Seen) -> Check:
    name = "each poison record was dead-lettered once, with its reason"
    count = len(seen.dead)
    for i, dead in enumerate(seen.dead):
        which = "the first poison record" if i == 0 else "the poison record sent to the last start"
        if not dead:
            return Check(
                name,
                False,
                f"{which} (on order-events, not Avro) is not on the DLT"
                + (f" ({seen.stray} other records are)" if seen.stray else ""),
                fix="in dead_letter(), produce msg's key and value unchanged to DLT, with "
                "error.type / error.message headers",
            )
        if len(dead) > 1:
            return Check(
                name,
                False,
                f"{which} is on the DLT {len(dead)} times",
                fix="produce the dead letter inside the batch's transaction, so a killed "
                "batch's dead letter is aborted with it",
            )
        reason = {k: v for k, v in dead[0].items() if ("error" in k or "reason" in k) and v.strip()}
        if not reason:
            names = ", ".join(sorted(dead[0])) or "none"
            return Check(
                name,
                False,
                f"the dead letter carries no header saying why (its headers: {names})",
                fix='add headers such as ("error.type", ...) and '
                '("error.message", str(error).encode())',
            )
    if not count:
        return Check(name, False, "no poison record was sent: the service stopped too early")
    headers = seen.dead[0][0]
    said = ", ".join(
        f"{k}={v.decode(errors='replace')[:40]}"
        for k, v in sorted(headers.items())
        if ("error" in k or "reason" in k) and v.strip()
    )
    return Check(name, True, f"{count} poison record(s), each once, with {said}")


def _offsets(seen: Seen) -> Check:
    name = "the group's committed offsets are the feed's end"
    ends = {p: e for p, e in seen.ends.items() if e}
    if seen.offsets == ends:
        return Check(name, True, f"committed {seen.offsets} = the end offsets")
    said = "no committed offset" if not seen.offsets else f"committed {seen.offsets}"
    return Check(
        name,
        False,
        f"{said}, the feed ends at {ends}",
        fix="send the consumer's positions with send_offsets_to_transaction(...) in every "
        "transaction, before commit_transaction()",
    )


def _through_transaction(seen: Seen) -> Check | None:
    name = "the offsets were committed by the transaction"
    if not seen.offsets:
        return None
    if seen.txn_ids is None:
        return Check(name, None, f"could not ask the broker who wrote them: {seen.unknown}")
    if seen.offsets_in_txn:
        return Check(name, True, "your transactional producer wrote the group's offsets")
    return Check(
        name,
        False,
        "your group's offsets were committed, but not by your transactional producer: a kill "
        "between commit_transaction() and consumer.commit() refunds a batch twice",
        fix="replace consumer.commit() with producer.send_offsets_to_transaction("
        "consumer.position(consumer.assignment()), consumer.consumer_group_metadata()) "
        "before commit_transaction()",
    )


def _compatibility(seen: Seen) -> Check:
    name = "the refunds' subject is pinned to BACKWARD"
    if seen.compatibility in ("BACKWARD", "BACKWARD_TRANSITIVE"):
        fields = "amount_cents" in seen.schema and "RefundIssued" in seen.schema
        if fields:
            return Check(name, True, f"{seen.compatibility}, RefundIssued registered")
        return Check(
            name,
            False,
            f"{seen.compatibility}, but no RefundIssued schema is registered under the subject",
            fix="serialize each refund with the AvroSerializer (it registers the schema)",
        )
    said = seen.compatibility or "no level of its own (the registry's default applies)"
    return Check(
        name,
        False,
        f"the subject has {said}",
        fix='registry.set_compatibility(subject_name=f"{REFUNDS}-value", level="BACKWARD") '
        "before the first refund",
    )


def _metrics(seen: Seen) -> Check:
    name = "/metrics counts the refunds the broker holds"
    if isinstance(seen.counter, str):
        return Check(name, False, seen.counter, fix="keep start_http_server(...) in the service")
    counters = {k: v for k, v in seen.counter.items() if "refund" in k and "dead" not in k}
    if not counters:
        return Check(
            name,
            False,
            "no counter with `refund` in its name on /metrics",
            fix="count refunds with the refunds_issued Counter",
        )
    metric, value = max(counters.items(), key=lambda kv: kv[1])
    if round(value) == seen.added:
        return Check(name, True, f"{metric} = {value:g} = refunds this start committed")
    return Check(
        name,
        False,
        f"{metric} = {value:g}, but this start added {seen.added} refunds to the topic",
        fix="refunds_issued.inc(n) with the batch's refunds, right after commit_transaction()",
    )


def _as_the_service(seen: Seen) -> Check | None:
    """Who wrote the refunds and dead letters, as the broker's authorizer logged each allowed
    write: the service's own SCRAM user, and nobody else (admin, a super user, passes every
    ACL: a service logged in as admin would work, with nothing to stop its mistakes)."""
    name = "the service wrote as its own SCRAM user, not admin"
    principal = f"User:{seen.user}"
    if seen.audit_error:
        return Check(name, None, f"could not turn the authorizer log up: {seen.audit_error}")
    others = sorted(p for p in seen.who if p != principal)
    if others:
        return Check(
            name,
            False,
            f"the broker's authorizer log shows {', '.join(others)} writing refunds or dead "
            f"letters ({sum(seen.who[p] for p in others)} writes), not only {principal}",
            fix="build every client from SERVICE, the refund user's login ({**SERVICE, ...}), "
            "never from lab.config (admin)",
        )
    if not seen.who:
        if not _refund_events(seen) and not any(seen.dead):
            return None  # nothing was written: the checks above say why
        return Check(name, None, "the authorizer log holds no write to refunds or the DLT")
    return Check(
        name,
        True,
        f"the authorizer log: {principal} wrote refunds and dead letters "
        f"({seen.who[principal]} writes allowed by its ACLs), nobody else",
    )


def _alert(seen: Seen) -> Check:
    alarm = seen.alarm
    if alarm is None:
        return alerting.judge(seen.rules, None, False, False)
    check = alerting.judge(seen.rules, alarm.watch, alarm.poisoned, alarm.quiet_valid)
    if alarm.restarted and check.ok:
        fresh = " (on a fresh start: the last one had dead-lettered the first poison again)"
        return replace(check, detail=check.detail + fresh)
    return check
