"""The small runtime every service shares: consume loop, emit with causal headers, retries,
dead letters, optional transactions, /health and /metrics, structured logs, clean SIGTERM.

A service subclasses `Service`, names its subscriptions, implements `handle(event)` (and
optionally `routes()` and `tick()`), and ends its module with `main(MyService)`.

Delivery: offsets are committed only after an event was handled and everything it emitted was
acknowledged (at-least-once). A `transactional` service instead commits its outputs and its
input offsets in one Kafka transaction (exactly-once for consume-process-produce).
"""

from __future__ import annotations

import faulthandler
import functools
import inspect
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

from confluent_kafka import KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from kafkalab import clients
from kafkalab.catalogue import metrics as specs
from kafkalab.catalogue.services import group_id, service_port
from kafkalab.cluster import connect
from kafkalab.connection import Connection
from kafkalab.events.serde import Event, EventSerde, UndecodableEvent
from kafkalab.events.topics import dlt_topic
from kafkalab.explained import explain
from kafkalab.security.audit import AuditEntry, AuditLog, login_principal
from kafkalab.services.http import (
    HttpError,
    Request,
    Response,
    Route,
    ServiceHttpServer,
    platform_routes,
)
from kafkalab.services.watchdog import Watchdog
from kafkalab.settings import Settings, load_settings

log = logging.getLogger("kafkalab.service")


# Commit errors that mean "the group reassigned your partitions", not "Kafka is broken".
LOST_TO_REBALANCE = frozenset(
    {
        KafkaError._ASSIGNMENT_LOST,
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.UNKNOWN_MEMBER_ID,
    }
)


class Retryable(Exception):
    """A transient failure: the runtime retries the event with backoff before dead-lettering it."""


class Acknowledgement:
    """Waits for the broker to acknowledge one produced record (pass it as `on_delivery`).

    Why not `producer.flush()`: flush waits until *nothing* is in flight, so HTTP threads that
    publish concurrently wait for each other's records — a convoy that grows with the load.
    """

    def __init__(self) -> None:
        self._done = threading.Event()
        self.error: KafkaError | None = None

    def __call__(self, error: KafkaError | None, msg: Message) -> None:
        self.error = error
        self._done.set()

    def wait(self, producer: Any, timeout: float) -> bool:
        """True once acknowledged; False on a delivery error or after `timeout` seconds.
        Where a `DeliveryPoller` serves `producer`, only waits; else polls it meanwhile
        (whichever thread polls runs the delivery callbacks)."""
        if DeliveryPoller.serves(producer):
            return self._done.wait(timeout) and self.error is None
        deadline = time.monotonic() + timeout
        while not self._done.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            producer.poll(min(left, 0.005))
        return self.error is None


class DeliveryPoller:
    """A thread that serves one producer's delivery callbacks, so that the HTTP threads
    waiting for their record's acknowledgement (`Acknowledgement.wait`) only wait.

    Why: each waiting thread used to poll the producer itself, 5 ms at a time. With ~100
    orders in flight that was ~20,000 polls a second, and py-spy found the order service's
    threads in `Acknowledgement.wait` for 71 % of its samples under a flat-out load. One
    poller wakes as soon as a delivery report arrives, so nothing waits longer.
    """

    _serving: ClassVar[set[int]] = set()

    def __init__(self, producer: Any, name: str) -> None:
        self.producer = producer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @classmethod
    def serves(cls, producer: Any) -> bool:
        return id(producer) in cls._serving

    def start(self) -> None:
        DeliveryPoller._serving.add(id(self.producer))
        self._thread.start()

    def stop(self) -> None:
        DeliveryPoller._serving.discard(id(self.producer))
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.producer.poll(0.1)


class Metrics:
    """The metrics every service exports (kafkalab/catalogue/metrics.py names them);
    a service adds its own to `registry`."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.consumed = specs.counter(specs.EVENTS_CONSUMED, self.registry)
        self.produced = specs.counter(specs.EVENTS_PRODUCED, self.registry)
        self.latency = specs.histogram(specs.PROCESSING_SECONDS, self.registry)
        self.retries = specs.counter(specs.RETRIES, self.registry)
        self.dead_letters = specs.counter(specs.DEAD_LETTERS, self.registry)
        self.transactions = specs.counter(specs.TRANSACTIONS, self.registry)
        self.service = service
        self._lag: _ConsumerLag | None = None

    def watch_lag(self, lag: LagSource) -> None:
        """Export `kafkalab_consumer_lag` from `lag()` — (topic, partition, records behind) of
        each assigned partition — computed at scrape time, so it is never stale. A service with
        several consumers (notification's channel workers) calls this once per consumer."""
        if self._lag is None:
            self._lag = _ConsumerLag(self.service)
            self.registry.register(self._lag)
        self._lag.sources.append(lag)


LagSource = Callable[[], list[tuple[str, int, int]]]


class _ConsumerLag(Collector):
    def __init__(self, service: str) -> None:
        self.service = service
        self.sources: list[LagSource] = []

    def collect(self) -> Iterator[Metric]:
        spec = specs.CONSUMER_LAG
        family = GaugeMetricFamily(spec.name, spec.help, labels=list(spec.labels))
        for source in list(self.sources):
            try:
                rows = source()
            except Exception as exc:  # noqa: BLE001 - a scrape must answer while stopping too
                log.debug("consumer lag unavailable: %s", exc)
                continue
            for topic, partition, behind in rows:
                family.add_metric([self.service, topic, str(partition)], behind)
        yield family

    def describe(self) -> Iterator[Metric]:
        return iter(())


def consumer_lag(consumer: Any) -> list[tuple[str, int, int]]:
    """(topic, partition, lag) per partition assigned to `consumer`: the high watermark it last
    fetched minus its position. Cached watermarks cost no request; a partition it has not
    fetched yet (or has no position on) is left out rather than guessed."""
    rows: list[tuple[str, int, int]] = []
    assigned = consumer.assignment()
    if not assigned:
        return rows
    for tp in consumer.position(assigned):
        if tp.offset < 0:
            continue
        low, high = consumer.get_watermark_offsets(tp, cached=True)
        if high < 0:
            continue
        rows.append((tp.topic, tp.partition, max(high - tp.offset, 0)))
    return rows


class JsonFormatter(logging.Formatter):
    """One JSON object per line: easy to grep, easy for `kafkalab logs` to colour."""

    def __init__(self, service: str, replica: int) -> None:
        super().__init__()
        self.service, self.replica = service, replica

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "service": self.service,
            "replica": self.replica,
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(entry)


class Service:
    """Base class of the six services. See the module docstring for the contract."""

    name: ClassVar[str] = ""
    subscriptions: ClassVar[tuple[str, ...]] = ()
    transactional: ClassVar[bool] = False
    max_attempts: ClassVar[int] = 3
    backoff_seconds: ClassVar[float] = 0.1
    batch_size: ClassVar[int] = 100

    def __init__(
        self, settings: Settings, conn: Connection, replica: int = 0, port: int | None = None
    ) -> None:
        self.settings = settings
        self.conn = conn
        self.replica = replica
        self.port = port if port is not None else service_port(settings, self.name, replica)
        self.group_id = group_id(self.name)
        self.metrics = Metrics(self.name)
        self.serde = EventSerde(conn)
        self.stopping = threading.Event()
        self.processed = 0
        self.assigned: list[TopicPartition] = []
        self.ready = False
        self.fatal = False
        """Set on a fatal consumer error: `run()` then stops and returns 1."""
        self.audit = AuditLog(conn, self.name, self.serde)
        # Authentication and authorization failures the client library reports outside any
        # one record (metadata, SASL) go to the audit trail too.
        producer_conf: dict[str, Any] = {"linger.ms": 5, "error_cb": self._client_error}
        if self.transactional:
            # One transactional.id per replica: a restarted replica fences its zombie self.
            producer_conf["transactional.id"] = f"{self.group_id}-{replica}"
            # The broker answers CONCURRENT_TRANSACTIONS while it still writes the previous
            # transaction's markers; librdkafka retries after retry.backoff.ms, 100 ms by
            # default, which made every send_offsets_to_transaction ~100 ms. 10 ms (doubling
            # up to retry.backoff.max.ms on repeated failures) takes it to ~13 ms.
            producer_conf["retry.backoff.ms"] = 10
        self.producer = clients.producer(conn, **producer_conf)
        self.consumer = (
            clients.consumer(
                conn,
                self.group_id,
                **{
                    "enable.auto.commit": False,
                    "client.id": f"{self.name}-{replica}",
                    **clients.service_membership(f"{self.group_id}-{replica}"),
                    "error_cb": self._client_error,
                },
            )
            if self.subscriptions
            else None
        )
        # Every service exports the family (empty without a consumer): one common set.
        consumer = self.consumer
        self.metrics.watch_lag(lambda: consumer_lag(consumer) if consumer is not None else [])
        self.http = ServiceHttpServer(
            settings.host,
            self.port,
            self._all_routes(),
            on_refusal=self._audit_refusal,
            title=f"kafkalab {self.name} service",
            description=inspect.getdoc(sys.modules[type(self).__module__]) or "",
        )

    @functools.cached_property
    def admin(self) -> AdminClient:
        """For lookups that must not queue behind the group consumer's long-poll fetch on its
        connection (`clients.high_watermarks`); made on first use."""
        return clients.admin(self.conn, **{"client.id": f"{self.name}-{self.replica}-admin"})

    # -- for subclasses -------------------------------------------------------------------

    def routes(self) -> list[Route]:
        """This service's endpoints, in one list (see `kafkalab.services.http.Route`)."""
        return []

    def handle(self, event: Event) -> None:
        raise NotImplementedError

    def tick(self) -> None:
        """Called about every 0.2 s on the loop thread (timeouts, expiries)."""

    def health(self) -> dict[str, Any]:
        """Extra fields for /health."""
        return {}

    def commit_offsets(self) -> list[TopicPartition] | None:
        """Offsets to commit after a batch (non-transactional services); None, the default,
        commits everything consumed. A service that holds handled events back in memory
        (order parks early events) returns lower offsets, so a crash replays what it held."""
        return None

    def emit(
        self,
        topic: str,
        key: str,
        record_type: str,
        value: dict[str, Any],
        cause: Event | None = None,
        trace_id: str | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
        on_delivery: Acknowledgement | None = None,
        via: Producer | None = None,
    ) -> dict[str, Any]:
        """Produce one event with causal headers; returns the full value (event_id included).
        `via`: another producer than the service's own (outside its transaction)."""
        full, envelope = self.serde.envelope(record_type, value, self.name, cause, trace_id)
        data = self.serde.serialize(topic, record_type, full)
        self._produce(topic, key.encode(), data, [*envelope, *headers], on_delivery, via)
        self.metrics.produced.labels(self.name, topic, record_type).inc()
        return full

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> int:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
            signal.signal(signal.SIGINT, lambda *_: self.stopping.set())
        self.http.start()
        if self.consumer is not None:
            if self.transactional:
                self.producer.init_transactions(30)
            self.consumer.subscribe(
                list(self.subscriptions),
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_revoke,
            )
        self.ready = True
        log.info("started", extra={"fields": {"port": self.port, "group": self.group_id}})
        try:
            while not self.stopping.is_set():
                self.tick()
                if self.consumer is None:
                    time.sleep(0.2)
                    continue
                messages = clients.consume_ready(self.consumer, self.batch_size, timeout=0.2)
                batch = [m for m in messages if not self._is_noise(m)]
                if batch:
                    self._process_batch(batch)
                self.producer.poll(0)
        finally:
            self._shutdown()
        return 1 if self.fatal else 0

    def _process_batch(self, batch: list[Message]) -> None:
        if self.transactional:
            self.producer.begin_transaction()
            try:
                for msg in batch:
                    self._process(msg)
                assert self.consumer is not None
                with Watchdog("send_offsets_to_transaction / commit_transaction"):
                    self.producer.send_offsets_to_transaction(
                        self.consumer.position(self.consumer.assignment()),
                        self.consumer.consumer_group_metadata(),
                    )
                    self.producer.commit_transaction()
                self.metrics.transactions.labels(self.name, "committed").inc()
            except KafkaException as exc:
                log.warning("transaction aborted: %s", explain(exc))
                self.metrics.transactions.labels(self.name, "aborted").inc()
                with Watchdog("abort_transaction"):
                    self.producer.abort_transaction()
                self._rewind(batch)
            return
        for msg in batch:
            self._process(msg)
        self.producer.flush(30)
        assert self.consumer is not None
        offsets = self.commit_offsets()
        try:
            if offsets is None:
                self.consumer.commit(asynchronous=False)
            elif offsets:
                self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            if clients.is_fatal(exc.args[0]):
                # A static member fenced while it was paused (FENCED_INSTANCE_ID): the commit
                # is refused for good, as the next poll would be. Its batch was handled, as
                # under a rebalance below; a fresh replica takes over from the last commit.
                self.fail("fatal consumer error on commit")
                return
            if exc.args[0].code() not in LOST_TO_REBALANCE:
                log.error("commit failed: %s", explain(exc))  # said before the traceback
                raise
            # E.g. the group evicted this replica while it was paused: its partitions belong
            # to the next assignment now, which reads from the last committed offset. The
            # batch was handled and its outputs acknowledged, so at worst it is handled twice
            # (what at-least-once allows, and what a crash here would do too).
            log.warning("offsets not committed, the group moved on: %s", explain(exc))

    def _process(self, msg: Message) -> None:
        started = time.perf_counter()
        try:
            event = self.serde.decode(msg)
        except UndecodableEvent as exc:
            self.dead_letter(msg, exc, attempts=1)
            return
        for attempt in range(1, self.max_attempts + 1):
            try:
                self.handle(event)
                self.metrics.consumed.labels(self.name, event.topic, event.type).inc()
                break
            except Retryable as exc:
                if attempt == self.max_attempts:
                    self.dead_letter(msg, exc, attempts=attempt)
                    break
                self.metrics.retries.labels(self.name, event.topic).inc()
                time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
            except Exception as exc:  # noqa: BLE001 - a poison event must not stop the service
                log.warning(
                    "event dead-lettered",
                    exc_info=exc,
                    extra={"fields": {"topic": event.topic, "offset": event.offset}},
                )
                self.dead_letter(msg, exc, attempts=attempt)
                break
        self.processed += 1
        self.metrics.latency.labels(self.name, msg.topic()).observe(time.perf_counter() - started)

    def dead_letter(self, msg: Message, exc: BaseException, attempts: int) -> None:
        """Park `msg` unchanged in this service's DLT with the reason in its headers."""
        headers = list(msg.headers() or []) + [
            ("error.type", type(exc).__name__.encode()),
            ("error.message", str(exc)[:1000].encode()),
            ("original.topic", msg.topic().encode()),
            ("original.partition", str(msg.partition()).encode()),
            ("original.offset", str(msg.offset()).encode()),
            ("attempts", str(attempts).encode()),
            ("service", self.name.encode()),
        ]
        topic = dlt_topic(self.name)
        self._produce(topic, msg.key(), msg.value(), headers)
        self.metrics.dead_letters.labels(self.name, topic).inc()

    def _produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
        on_delivery: Acknowledgement | None = None,
        via: Producer | None = None,
    ) -> None:
        producer = via or self.producer
        extra = {"on_delivery": on_delivery} if on_delivery is not None else {}
        while True:
            try:
                producer.produce(topic, key=key, value=value, headers=headers, **extra)
                return
            except BufferError:
                producer.poll(0.05)

    def _rewind(self, batch: list[Message]) -> None:
        assert self.consumer is not None
        first: dict[tuple[str, int], int] = {}
        for msg in batch:
            first.setdefault((msg.topic(), msg.partition()), msg.offset())
        for (topic, partition), offset in first.items():
            try:
                self.consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as exc:
                # The partition left this replica (a rebalance during the transaction): its
                # next owner starts from the last committed offset, before this batch.
                log.warning("not rewound, %s[%s] is no longer ours: %s", topic, partition, exc)

    def _is_noise(self, msg: Message) -> bool:
        error = msg.error()
        if error is None:
            return False
        if error.code() != KafkaError._PARTITION_EOF:
            log.warning("consumer error: %s", explain(error))
            self.audit.kafka_error(error, "kafka read", f"topic:{msg.topic()}")
        if clients.is_fatal(error):
            # E.g. a static member fenced after its group coordinator's broker died, or after a
            # network partition outlasted the session: this consumer will never be assigned
            # anything again, yet /health would stay 200. Exit, so that the supervisor starts a
            # fresh replica (with a new consumer).
            self.fail("fatal consumer error")
        return True

    def fail(self, why: str) -> None:
        """A client of this replica can never work again (`clients.is_fatal`): stop, and exit
        1 so that the supervisor starts a fresh replica, with new clients."""
        log.error("%s, stopping so the supervisor restarts this replica", why)
        self.fatal = True
        self.stopping.set()

    def _client_error(self, error: KafkaError) -> None:
        log.warning("kafka client error: %s", explain(error))
        self.audit.kafka_error(error, "kafka client", "cluster")

    def _audit_refusal(self, request: Request, error: HttpError) -> None:
        """Every 401/403 this service answers goes to the audit trail (who is unknown: the
        caller was not authenticated, so it is 'anonymous' or the login it claimed)."""
        claimed = request.body.get("email") if isinstance(request.body, dict) else None
        who = login_principal(str(claimed)) if claimed else "anonymous"
        self.audit.record(
            AuditEntry(who, f"http {request.method}", request.path, False, f"{error.status}")
        )

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self.assigned = sorted(
            set(self.assigned) | set(partitions), key=lambda p: (p.topic, p.partition)
        )
        log.info("partitions assigned", extra={"fields": {"partitions": _names(partitions)}})

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        gone = {(p.topic, p.partition) for p in partitions}
        self.assigned = [p for p in self.assigned if (p.topic, p.partition) not in gone]
        log.info("partitions revoked", extra={"fields": {"partitions": _names(partitions)}})

    def _shutdown(self) -> None:
        log.info("stopping")
        self.ready = False
        if self.consumer is not None:
            clients.leave_group(self.consumer)  # a static member must leave explicitly
        self.producer.flush(10)
        self.audit.flush(5)
        self.http.shutdown()

    # -- HTTP ---------------------------------------------------------------------------------

    def _all_routes(self) -> list[Route]:
        return [*self.routes(), *platform_routes(self._health, self._metrics)]

    def _health(self, request: Request) -> Response:
        body = {
            "status": "ok" if self.ready else "starting",
            "service": self.name,
            "replica": self.replica,
            "pid": os.getpid(),
            "group": self.group_id if self.consumer else None,
            "assigned": _names(self.assigned),
            "processed": self.processed,
            **self.health(),
        }
        return Response(200 if self.ready else 503, body)

    def _metrics(self, request: Request) -> Response:
        return Response(200, generate_latest(self.metrics.registry), CONTENT_TYPE_LATEST)


def _names(partitions: list[TopicPartition]) -> list[str]:
    return [f"{p.topic}[{p.partition}]" for p in partitions]


def main(service_class: type[Service]) -> None:
    """Entry point of `python -m kafkalab.services.<name>`: the edge where a service process
    reads its settings (replica, port and principal come from the supervisor) and resolves its
    connection, once."""
    settings = load_settings()
    log_json(service_class.name, settings.replica)
    conn = connect.resolve(settings)
    service = service_class(settings, conn, settings.replica, settings.listen_port)
    sys.exit(service.run())


def log_json(service: str, replica: int) -> None:
    """Send this process's logs to stderr as JSON lines (what `kafkalab logs` reads).

    faulthandler too: a replica that dies in native code (librdkafka, RocksDB) would otherwise
    leave no line at all in its log, only an exit status in the supervisor's."""
    faulthandler.enable(sys.stderr)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service, replica))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
