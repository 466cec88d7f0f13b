"""The analytics service: a quixstreams Application computing the shop's figures as windows.

Pipeline (consumer group `kafkalab-analytics`, reading from the earliest offset):

    order-events ────────── fact ─┐
    payments ────────────── fact ─┤ FactBatcher: each checkpoint's facts, one record keyed
    stock ──────────────── level ─┤ "all" → repartition__kafkalab-analytics--facts (1 partition)
    notifications ─── sent fact ──┤
    notifications.<ch> ─ request ─┘
    facts ─ expand, event time ─┬─ orders ─┬─ tumbling 60 s: orders_count, revenue_cents,
                                │          │                  conversion_rate
                                │          ├─ hopping 60 s / 10 s: orders_count
                                │          └─ state store: orders_total, revenue_total_cents,
                                │                           conversion_rate (running)
                                ├─ payments ── tumbling 60 s: payment_success_rate
                                ├─ stock ─ state store (on hand per SKU) ─┬─ tumbling 60 s:
                                │          inventory_turnover             └─ running: the same
                                └─ delivery ─ group_by(channel) ─┬─ tumbling 60 s:
                                                                 │  notification_delivery_rate.<ch>
                                                                 └─ state store: the same, running
                                            ⇒ AnalyticsWindow on `analytics`, keyed by metric

Choices, and why:
- Windows are per message key in quixstreams, and orders are keyed by order_id, so the facts
  are re-keyed to one constant key ("all"): the windows are then shop-wide. The cost is a
  single hot partition downstream — fine at a shop's order rate. `group_by("all")` would
  re-key through a repartition topic, one record per fact (~11 per order); `facts.FactBatcher`
  writes a checkpoint's facts as one record instead, and each fact keeps its own event time
  (facts.py says how, and why the windows see the same thing). The facts topic has one
  partition, so the per-channel `group_by` after it re-keys in place, with no topic.
- Avro in: `decode.FastAvroDeserializer`, kafkalab's fast decoder as a quixstreams
  Deserializer (each record's writer schema by id, fetched once, so OrderCreated and
  OrderStatusChanged on one topic both decode); the record type comes from kafkalab's
  `event_type` header. EventSerde itself is not used for input because it decodes confluent
  `Message`s and quixstreams owns the consumer.
  Avro out: quixstreams' AvroSerializer through the registry with the topic-record subject
  strategy (`analytics-dev.kafkalab.events.AnalyticsWindow`), like every other kafkalab topic.
- `.current()`, not `.final()`, but not every update written: `.current()` yields each update
  of a window at once, so a dashboard (or a test) sees the numbers move without waiting for the
  window to close, i.e. up to a minute plus the grace. `.final()` would emit each window once,
  only after later events pushed event time past its end + grace (6 minutes here). Writing
  every update cost ~35 records per order (one order updates six hopping windows), so the
  results go to `emit.LatestSink`: at each checkpoint (every `emit.EMIT_EVERY_S`) it writes only
  the newest result per (metric, window, window_start) — an update rate bounded per window, a
  freshness of one second. The topic is still an upsert stream: the latest record per (metric,
  window, window_start) is the answer.
- Inventory turnover is units committed ÷ average on-hand stock, both read from the `stock`
  table (aggregate.StockBook says why that is enough); the delivery rate is NotificationSent ÷
  NotificationRequested per channel on `notifications` (a channel a user opted out of is never
  requested, so it is not a failed delivery). Both are also exported as their own gauges.
- Event time is the record timestamp Kafka stores (set by the producer when the event is
  emitted). A 5 min grace lets records that arrive out of order still count: re-keying merges
  6 partitions into one stream, and on a backlog they are not read in step (a record later
  than that is logged by quixstreams and left out).
- Poison input (not decodable Avro) is parked on `analytics.DLT` with the same error headers
  the runtime uses, and skipped.

quixstreams installs its SIGTERM/SIGINT handlers when `Application.run()` starts, which Python
allows only on the main thread: `AnalyticsService.run()` must be called there (as
`python -m kafkalab.services.analytics` does); any other thread stops it with `stop()`.

HTTP: GET /health and GET /metrics (:8106), served by the shared ServiceHttpServer.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.schema_registry import topic_record_subject_name_strategy
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pydantic import SecretStr
from quixstreams import Application, State
from quixstreams.dataframe import StreamingDataFrame
from quixstreams.dataframe.windows import Sum
from quixstreams.models import Row, Topic, TopicConfig
from quixstreams.models.serializers import (
    SchemaRegistryClientConfig,
    SchemaRegistrySerializationConfig,
    SerializationError,
)
from quixstreams.models.serializers.avro import AvroSerializer
from quixstreams.models.topics import TopicManager

from kafkalab import clients
from kafkalab.catalogue import metrics as specs
from kafkalab.catalogue.services import group_id, service_port
from kafkalab.cluster import connect
from kafkalab.connection import Connection
from kafkalab.events.schema_client import SchemaClient
from kafkalab.events.schemas import schema_text
from kafkalab.events.topics import (
    ANALYTICS,
    CHANNEL_TOPICS,
    NOTIFICATIONS,
    ORDER_EVENTS,
    PAYMENTS,
    STOCK,
    apply_catalogue,
    dlt_topic,
)
from kafkalab.services.analytics import aggregate, emit, facts
from kafkalab.services.analytics.admin import PromptTopicAdmin
from kafkalab.services.analytics.aggregate import WindowResult
from kafkalab.services.analytics.decode import FastAvroDeserializer
from kafkalab.services.http import Request, Response, ServiceHttpServer, platform_routes
from kafkalab.services.runtime import Metrics, consumer_lag, log_json
from kafkalab.settings import Settings, load_settings

log = logging.getLogger("kafkalab.service.analytics")

NAME = "analytics"
RUNNING_KEY = "orders"  # the state-store entry holding RunningTotals
STOCK_KEY = "stock"  # the state-store entry holding the StockBook
DELIVERY_KEY = "delivery"  # per channel (the key), the state-store entry of DeliveryTotals
Fact = Callable[[str, dict[str, Any] | None], dict[str, Any] | None]
"""(record type, decoded value) → the fact analytics counts, or None for an ignored event."""
OUTPUT_HEADERS = [("event_type", b"AnalyticsWindow"), ("service", NAME.encode())]


@dataclass(frozen=True)
class AnalyticsTopics:
    """Where the app reads and writes: the platform topics, or a test's own."""

    orders: str = ORDER_EVENTS
    payments: str = PAYMENTS
    output: str = ANALYTICS
    stock: str = STOCK
    notifications: str = NOTIFICATIONS
    requests: tuple[str, ...] = tuple(CHANNEL_TOPICS.values())
    """Where the NotificationRequested events are: one topic per channel."""


class AnalyticsService:
    """The quixstreams app plus the HTTP side every kafkalab service has."""

    name = NAME

    def __init__(
        self,
        settings: Settings,
        conn: Connection,
        replica: int = 0,
        port: int | None = None,
        topics: AnalyticsTopics | None = None,
        consumer_group: str | None = None,
    ) -> None:
        self.settings = settings
        self.conn = conn
        self.replica = replica
        self.port = port if port is not None else service_port(settings, NAME, replica)
        self.topics = topics or AnalyticsTopics()
        self.group_id = consumer_group or group_id(NAME)
        # One directory per replica: RocksDB stores are locked by the process that opens them.
        self.state_dir = settings.data_dir / "analytics-state" / f"replica-{replica}"
        self.metrics = Metrics(NAME)
        self.latest = specs.gauge(specs.ANALYTICS_VALUE, self.metrics.registry)
        self.skipped = specs.counter(specs.ANALYTICS_SKIPPED, self.metrics.registry)
        self.turnover = specs.gauge(specs.INVENTORY_TURNOVER, self.metrics.registry)
        self.delivery = specs.gauge(specs.NOTIFICATION_DELIVERY_RATE, self.metrics.registry)
        self.metrics.watch_lag(self._lag)
        self.stopping = threading.Event()
        self._finished = threading.Event()
        self.ready = False
        self.processed = 0
        self.app: Application | None = None
        self._dlt_producer: Producer | None = None
        self.sink: emit.LatestSink | None = None
        self.batcher: facts.FactBatcher | None = None
        self.http = ServiceHttpServer(
            settings.host,
            self.port,
            platform_routes(self._health, self._metrics),
            title="kafkalab analytics service",
            description=__doc__ or "",
        )

    # -- lifecycle ------------------------------------------------------------------------

    def run(self) -> int:
        """Serve HTTP, build the pipeline, process until SIGTERM/SIGINT or `stop()`."""
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError(
                "run the analytics service on the main thread: quixstreams installs signal "
                "handlers when it starts"
            )
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
        # Until quixstreams installs its own handlers (in app.run()), a signal means "do not
        # start": building the pipeline can take seconds the first time (it creates topics).
        for sig in previous:
            signal.signal(sig, lambda *_: self.stopping.set())
        self.http.start()
        try:
            self.app = self.build()
            if self.stopping.is_set():
                return 0
            threading.Thread(
                target=self._watch_stop, args=(self.app,), name="analytics-stop", daemon=True
            ).start()
            self.ready = True
            log.info(
                "started",
                extra={
                    "fields": {
                        "port": self.port,
                        "group": self.group_id,
                        "state_dir": str(self.state_dir),
                    }
                },
            )
            self.app.run()
        finally:
            self.ready = False
            self._finished.set()
            self.stopping.set()  # releases the watcher
            log.info("stopping")
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if self._dlt_producer is not None:
                self._dlt_producer.flush(10)
            self.http.shutdown()
        return 0

    def stop(self) -> None:
        """Ask a running app to finish its current message, commit, and return from run()."""
        self.stopping.set()

    def _watch_stop(self, app: Application) -> None:
        """Turn `stop()` into `app.stop()`. A stop that lands before app.run() got going would
        be reset by run(), so keep asking until run() has returned."""
        self.stopping.wait()
        while not self._finished.is_set():
            app.stop()
            self._finished.wait(0.2)

    # -- the pipeline ---------------------------------------------------------------------

    def build(self) -> Application:
        """The Application with its dataframes wired (needs the broker: topics are looked up)."""
        # The platform's topics, shaped by the catalogue, before quixstreams looks them up:
        # it would otherwise create a missing input topic with its own defaults.
        # In secure mode the service may not create topics (its ACLs): `kafkalab up` applied
        # the catalogue as admin before starting it.
        if not self.conn.secure_mode:
            apply_catalogue(clients.admin(self.conn))
        inputs = (
            self.topics.orders,
            self.topics.payments,
            self.topics.stock,
            self.topics.notifications,
            *self.topics.requests,
        )
        if rewound := facts.rewind_for_new_pipeline(self.conn, self.group_id, inputs):
            log.warning(
                "first run of the batched-facts pipeline on this group: its inputs rewound to "
                "their first offsets, so the running totals are counted again from the start",
                extra={"fields": {"partitions": rewound}},
            )
        broker = clients.quix_connection(self.conn)
        app = Application(
            broker_address=broker,
            consumer_group=self.group_id,
            topic_manager=TopicManager(PromptTopicAdmin(broker), self.group_id),
            auto_offset_reset="earliest",
            state_dir=str(self.state_dir),
            # The checkpoint is when LatestSink writes: how fresh the `analytics` topic is.
            commit_interval=emit.EMIT_EVERY_S,
            loglevel=None,  # quixstreams logs through our handlers (JSON lines) instead of its own
            on_consumer_error=self._on_consumer_error,
            on_processing_error=self._on_processing_error,
            on_message_processed=self._on_processed,
            consumer_extra_config={
                "client.id": f"{NAME}-{self.replica}",
                # On assignment quixstreams asks the broker for watermarks partition by
                # partition, and each request queues behind the consumer's long-poll fetch:
                # 500 ms (the default wait) × ~40 partitions made every start ~10 s slower.
                "fetch.wait.max.ms": 100,
                # Analytics writes once a second (emit.EMIT_EVERY_S), so it need not fetch the
                # moment one record lands: a fetch waits for 64 KB or those 100 ms. Fewer,
                # fuller fetches of its ~10 topics cost the broker and this process less.
                "fetch.min.bytes": 65_536,
            },
            # The same for its repartition writes: 50 ms of batching, not librdkafka's 5 ms.
            producer_extra_config={"linger.ms": 50},
        )
        registry = SchemaRegistryClientConfig(
            url=self.conn.registry_url,
            basic_auth_user_info=SecretStr(auth)
            if (auth := self.conn.registry_user_info)
            else None,
            ssl_ca_location=self.conn.registry_ca_location,
        )
        avro_in = FastAvroDeserializer(SchemaClient(self.conn))
        orders = app.topic(self.topics.orders, key_deserializer="str", value_deserializer=avro_in)
        payments = app.topic(
            self.topics.payments, key_deserializer="str", value_deserializer=avro_in
        )
        output = app.topic(
            self.topics.output,
            key_serializer="str",
            value_serializer=AvroSerializer(
                json.loads(schema_text("AnalyticsWindow")),
                schema_registry_client_config=registry,
                schema_registry_serialization_config=SchemaRegistrySerializationConfig(
                    subject_name_strategy=topic_record_subject_name_strategy
                ),
            ),
        )

        self.sink = emit.LatestSink(
            clients.producer(self.conn, **{"client.id": f"{NAME}-{self.replica}-results"}),
            output.name,
            lambda value: _serialized(output, value),
            OUTPUT_HEADERS,
            on_written=self.metrics.produced.labels(NAME, output.name, "AnalyticsWindow").inc,
        )
        # Stage 1: every input's facts → the batcher → one record per checkpoint, keyed "all".
        fact_topic = app.topic(
            facts.topic_name(self.group_id),
            key_deserializer="str",
            value_deserializer="json",
            config=TopicConfig(
                num_partitions=1,  # one key: one partition, and re-keying it needs no topic
                replication_factor=orders.broker_config.replication_factor,
            ),
        )
        self.batcher = facts.FactBatcher(
            clients.producer(
                self.conn, **{"client.id": f"{NAME}-{self.replica}-facts", "linger.ms": 20}
            ),
            fact_topic.name,
        )
        stock = app.topic(self.topics.stock, key_deserializer="str", value_deserializer=avro_in)
        notifications = app.topic(
            self.topics.notifications, key_deserializer="str", value_deserializer=avro_in
        )
        sources: list[tuple[str, Topic, Fact]] = [
            (facts.ORDERS, orders, aggregate.order_fact),
            (facts.PAYMENTS, payments, aggregate.payment_fact),
            (facts.STOCK, stock, aggregate.stock_level),
            (facts.DELIVERY, notifications, aggregate.sent_fact),
            *(
                (
                    facts.DELIVERY,
                    app.topic(name, key_deserializer="str", value_deserializer=avro_in),
                    aggregate.request_fact,
                )
                for name in self.topics.requests
            ),
        ]
        for stream, topic, to_fact in sources:
            self._facts(app, topic, to_fact).apply(facts.tag(stream), metadata=True).sink(
                self.batcher
            )

        # Stage 2: the facts back, each with its own event time, one branch per stream.
        every = (
            app.dataframe(fact_topic)
            .apply(lambda batch: batch, expand=True)
            .set_timestamp(facts.event_time)
        )

        def branch(stream: str) -> StreamingDataFrame:
            return every.filter(lambda item: item["stream"] == stream).apply(
                lambda item: item["fact"]
            )

        order_facts = branch(facts.ORDERS)
        tumbling = (
            order_facts.tumbling_window(
                aggregate.WINDOW_MS, grace_ms=aggregate.GRACE_MS, name="orders-tumbling"
            )
            .agg(
                created=Sum("created"),
                confirmed=Sum("confirmed"),
                revenue_cents=Sum("revenue_cents"),
            )
            .current()
        )
        self._publish(tumbling.apply(aggregate.order_window_results, expand=True), output)

        hopping = (
            order_facts.filter(lambda fact: fact["created"] > 0)
            .hopping_window(
                aggregate.WINDOW_MS,
                aggregate.HOP_MS,
                grace_ms=aggregate.GRACE_MS,
                name="orders-hopping",
            )
            .count()
            .current()
        )
        self._publish(hopping.apply(aggregate.hopping_results, expand=True), output)

        running = order_facts.apply(_running_totals, stateful=True, metadata=True, expand=True)
        self._publish(running, output)

        payment_windows = (
            branch(facts.PAYMENTS)
            .tumbling_window(
                aggregate.WINDOW_MS, grace_ms=aggregate.GRACE_MS, name="payments-tumbling"
            )
            .agg(completed=Sum("completed"), failed=Sum("failed"))
            .current()
        )
        self._publish(payment_windows.apply(aggregate.payment_window_results, expand=True), output)

        stock_facts = branch(facts.STOCK).apply(_stock_book, stateful=True, metadata=True)
        turnover = (
            stock_facts.tumbling_window(
                aggregate.WINDOW_MS, grace_ms=aggregate.GRACE_MS, name="stock-tumbling"
            )
            .agg(
                committed=Sum("committed"),
                stock_units=Sum("stock_units"),
                samples=Sum("samples"),
            )
            .current()
        )
        self._publish(turnover.apply(aggregate.turnover_window_results, expand=True), output)
        self._publish(stock_facts.apply(_running_turnover, expand=True), output)

        # One partition: quixstreams re-keys it by channel in place (no repartition topic).
        deliveries = branch(facts.DELIVERY).group_by(lambda fact: fact["channel"], name="channel")
        delivery_windows = (
            deliveries.tumbling_window(
                aggregate.WINDOW_MS, grace_ms=aggregate.GRACE_MS, name="delivery-tumbling"
            )
            .agg(requested=Sum("requested"), sent=Sum("sent"))
            .current()
        )
        self._publish(delivery_windows.apply(_delivery_window, metadata=True, expand=True), output)
        self._publish(
            deliveries.apply(_running_delivery, stateful=True, metadata=True, expand=True), output
        )
        return app

    def _facts(self, app: Application, topic: Topic, to_fact: Fact) -> StreamingDataFrame:
        """Decoded events of `topic` → facts (the events analytics ignores dropped)."""

        def fact(value: Any, key: Any, timestamp: int, headers: Any) -> dict[str, Any] | None:
            record_type = aggregate.event_type(headers, value)
            self.metrics.consumed.labels(NAME, topic.name, record_type).inc()
            return to_fact(record_type, value)

        return app.dataframe(topic).apply(fact, metadata=True).filter(lambda v: v is not None)

    def _lag(self) -> list[tuple[str, int, int]]:
        """The consumer lag of the running app (its input, repartition and changelog topics);
        quixstreams keeps its consumer private, hence the getattr."""
        consumer = getattr(self.app, "_consumer", None) if self.ready else None
        return consumer_lag(consumer) if consumer is not None else []

    def _publish(self, results: StreamingDataFrame, output: Topic) -> None:
        """WindowResults → the gauges at once, and AnalyticsWindow records on `output` (keyed
        by metric) through the sink: the latest per window at each checkpoint."""

        def record(result: WindowResult) -> dict[str, Any]:
            self.latest.labels(result.metric, result.window).set(result.value)
            channel = aggregate.channel_of(result.metric)
            if result.metric == aggregate.INVENTORY_TURNOVER:
                self.turnover.labels(result.window).set(result.value)
            elif channel is not None:
                self.delivery.labels(channel, result.window).set(result.value)
            return result.as_value()

        assert self.sink is not None, "build() makes the sink before the branches"
        results.apply(record).sink(self.sink)

    # -- error handling -------------------------------------------------------------------

    def _on_consumer_error(self, exc: Exception, message: Any, logger: logging.Logger) -> bool:
        """Undecodable records go to analytics.DLT and are skipped; other consumer errors are
        logged and the app keeps polling (librdkafka retries connections itself)."""
        if message is not None and isinstance(exc, SerializationError):
            self._dead_letter(message, exc)
            return True
        log.warning("consumer error: %s", exc)
        return True

    def _on_processing_error(self, exc: Exception, row: Row | None, logger: logging.Logger) -> bool:
        """A bug in a step must not stop the shop's analytics: log it, count it, skip the row."""
        where = {"topic": row.topic, "offset": row.offset} if row is not None else {}
        log.warning("row skipped", exc_info=exc, extra={"fields": where})
        self.skipped.inc()
        return True

    def _dead_letter(self, message: Any, exc: Exception) -> None:
        if self._dlt_producer is None:
            self._dlt_producer = clients.producer(self.conn)
        topic = dlt_topic(NAME)
        headers = list(message.headers() or []) + [
            ("error.type", type(exc).__name__.encode()),
            ("error.message", str(exc)[:1000].encode()),
            ("original.topic", message.topic().encode()),
            ("original.partition", str(message.partition()).encode()),
            ("original.offset", str(message.offset()).encode()),
            ("attempts", b"1"),
            ("service", NAME.encode()),
        ]
        self._dlt_producer.produce(topic, key=message.key(), value=message.value(), headers=headers)
        self._dlt_producer.flush(10)
        self.metrics.dead_letters.labels(NAME, topic).inc()
        log.warning(
            "record dead-lettered",
            extra={"fields": {"topic": message.topic(), "offset": message.offset()}},
        )

    def _on_processed(self, topic: str, partition: int, offset: int) -> None:
        self.processed += 1

    # -- HTTP -----------------------------------------------------------------------------

    def _health(self, request: Request) -> Response:
        body = {
            "status": "ok" if self.ready else "starting",
            "service": NAME,
            "replica": self.replica,
            "pid": os.getpid(),
            "group": self.group_id,
            "processed": self.processed,
            # results `.current()` yielded vs records written (the latest per window per
            # checkpoint): what the emission policy saves
            "results": {
                "offered": self.sink.latest.offered if self.sink else 0,
                "written": self.sink.written if self.sink else 0,
            },
            "state_dir": str(self.state_dir),
            "topics": {
                "orders": self.topics.orders,
                "payments": self.topics.payments,
                "stock": self.topics.stock,
                "notifications": self.topics.notifications,
                "output": self.topics.output,
            },
        }
        return Response(200 if self.ready else 503, body)

    def _metrics(self, request: Request) -> Response:
        return Response(200, generate_latest(self.metrics.registry), CONTENT_TYPE_LATEST)


def _serialized(output: Topic, value: dict[str, Any]) -> tuple[bytes, bytes]:
    """An AnalyticsWindow as `output`'s serializers write it: key = metric, Avro value."""
    message = output.serialize(key=value["metric"], value=value)
    key, data = message.key, message.value
    assert isinstance(key, bytes) and isinstance(data, bytes), "str and Avro serializers"
    return key, data


def _running_totals(
    fact: dict[str, int], key: Any, timestamp: int, headers: Any, state: State
) -> list[WindowResult]:
    """Add `fact` to the totals in the state store (one entry: the stream has one key)."""
    totals = aggregate.RunningTotals.from_state(state.get(RUNNING_KEY)).add(fact, timestamp)
    state.set(RUNNING_KEY, totals.to_state())
    return totals.results()


def _stock_book(
    level: dict[str, Any], key: Any, timestamp: int, headers: Any, state: State
) -> dict[str, Any]:
    """Apply one StockLevel to the book in the state store: the window fact, and the running
    turnover after it."""
    book, fact = aggregate.StockBook.from_state(state.get(STOCK_KEY)).add(level, timestamp)
    state.set(STOCK_KEY, book.to_state())
    return {**fact, "running": [r.as_value() for r in book.results()]}


def _running_turnover(fact: dict[str, Any]) -> list[WindowResult]:
    return [WindowResult(**result) for result in fact["running"]]


def _delivery_window(
    window: dict[str, Any], key: Any, timestamp: int, headers: Any
) -> list[WindowResult]:
    """The key of a per-channel window is its channel."""
    return aggregate.delivery_window_results(window, str(key))


def _running_delivery(
    fact: dict[str, Any], key: Any, timestamp: int, headers: Any, state: State
) -> list[WindowResult]:
    """Add `fact` to its channel's totals (the state is per key, and the key is the channel)."""
    totals = aggregate.DeliveryTotals.from_state(state.get(DELIVERY_KEY)).add(fact, timestamp)
    state.set(DELIVERY_KEY, totals.to_state())
    return totals.results(str(key))


def main() -> None:
    """`python -m kafkalab.services.analytics`: the same edge as every service's `main` (see
    `runtime.main`): settings read, connection resolved, once."""
    settings = load_settings()
    log_json(NAME, settings.replica)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per registry lookup
    conn = connect.resolve(settings)
    service = AnalyticsService(settings, conn, settings.replica, settings.listen_port)
    sys.exit(service.run())
