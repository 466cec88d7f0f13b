"""Channel workers: one consumer loop per channel (email, sms, push), each in its own group.

Why a loop of our own rather than the runtime's `Service`: a Service owns exactly one consumer,
one HTTP port and the process's signals, while fan-out needs three more consumers inside the
notification process, each in its own consumer group so each channel has its own offsets and
its own lag (a slow sms gateway must not hold back email). The loop below is only the
consume → deliver → produce → flush → commit cycle; decoding, envelopes, dead letters and the
producer are the service's own (EventSerde, `Service.dead_letter`, `clients`).

Delivery is idempotent by notification_id: a worker remembers every id it (or any replica)
delivered, rebuilt at start from the NotificationSent events on `notifications`, so a
redelivered NotificationRequested never produces a second NotificationSent.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from kafkalab import clients
from kafkalab.connection import Connection
from kafkalab.events.serde import HEADER_TYPE, Event, EventSerde, UndecodableEvent
from kafkalab.events.topics import CHANNEL_TOPICS, NOTIFICATIONS
from kafkalab.services.runtime import Metrics, consumer_lag
from kafkalab.services.tables import TopicTable

log = logging.getLogger("kafkalab.service.notification")

SENT = "NotificationSent"


class DeliveredIds:
    """The set of delivered notification ids, shared by the three workers of one process.

    Filled from `notifications` (a TopicTable over NotificationSent, so deliveries by other
    replicas count too) and by `claim`, which our own workers call before delivering.
    """

    def __init__(self, conn: Connection) -> None:
        self._ids: set[str] = set()
        self._lock = threading.Lock()
        self.table = TopicTable(
            conn,
            NOTIFICATIONS,
            self._on_event,
            wanted=_is_sent,
            name="notification-delivered",
        )

    def _on_event(self, event: Event) -> None:
        if event.type == SENT:
            with self._lock:
                self._ids.add(str(event.value["notification_id"]))

    def claim(self, notification_id: str) -> bool:
        """True (and remembered) if `notification_id` was not delivered yet; False otherwise."""
        with self._lock:
            if notification_id in self._ids:
                return False
            self._ids.add(notification_id)
            return True

    def __contains__(self, notification_id: object) -> bool:
        with self._lock:
            return notification_id in self._ids

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)


def _is_sent(msg: Message) -> bool:
    """Decode only NotificationSent records (the header says so without touching Avro)."""
    return any(k == HEADER_TYPE and v == SENT.encode() for k, v in (msg.headers() or []))


class ChannelHost(Protocol):
    """What a channel worker uses of the notification service that runs it (named here, not
    imported, so the service can import its workers without a cycle)."""

    @property
    def name(self) -> str: ...
    @property
    def replica(self) -> int: ...
    @property
    def group_id(self) -> str: ...
    @property
    def conn(self) -> Connection: ...
    @property
    def metrics(self) -> Metrics: ...
    @property
    def stopping(self) -> threading.Event: ...
    @property
    def producer(self) -> Any: ...
    @property
    def delivered(self) -> DeliveredIds: ...
    @property
    def sent(self) -> Any: ...
    @property
    def duplicates(self) -> Any: ...

    def dead_letter(self, msg: Message, exc: BaseException, attempts: int) -> None: ...

    def fail(self, why: str) -> None: ...


class ChannelWorker:
    """Delivers the NotificationRequested events of one channel topic (simulated: a log line)."""

    def __init__(self, service: ChannelHost, channel: str) -> None:
        self.service = service
        self.channel = channel
        self.topic = CHANNEL_TOPICS[channel]
        self.group_id = f"{service.group_id}-{channel}"
        self.delivered = 0
        self.duplicates = 0
        self.assigned: list[str] = []
        self._thread = threading.Thread(
            target=self._run, name=f"notification-{channel}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def status(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "group": self.group_id,
            "alive": self.alive,
            "assigned": self.assigned,
            "delivered": self.delivered,
            "duplicates_skipped": self.duplicates,
        }

    def _run(self) -> None:
        service = self.service
        serde = EventSerde(service.conn)
        consumer = clients.consumer(
            service.conn,
            self.group_id,
            **{
                "enable.auto.commit": False,
                "client.id": f"notification-{self.channel}-{service.replica}",
                **clients.service_membership(f"{self.group_id}-{service.replica}"),
                # A delivery is no step of the order's state machine, so no one waits on it:
                # a fetch may wait for 16 KB or 200 ms (fetch.min.bytes 1 and 500 ms by
                # default). Under load each worker then fetches ≤ 5 times a second instead of
                # once per order — one broker request per order saved per channel.
                "fetch.min.bytes": 16_384,
                "fetch.wait.max.ms": 200,
            },
        )
        service.metrics.watch_lag(lambda: consumer_lag(consumer))
        try:
            # Deliveries made before this start must be known before the first request is
            # judged, or a request redelivered after a restart would be delivered twice.
            while not service.stopping.is_set():
                if service.delivered.table.wait_loaded(0.2):
                    break
            consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
            while not service.stopping.is_set():
                messages = clients.consume_ready(consumer, 100, 0.2)
                batch = [m for m in messages if not self._noise(m)]
                if not batch:
                    continue
                for msg in batch:
                    try:
                        self._handle(serde, msg)
                    except Exception as exc:  # noqa: BLE001 - one bad request must not stop a channel
                        log.warning("request dead-lettered", exc_info=exc)
                        service.dead_letter(msg, exc, attempts=1)
                # At-least-once: NotificationSent acknowledged before the request's offset.
                service.producer.flush(30)
                try:
                    consumer.commit(asynchronous=False)
                except KafkaException as exc:
                    # E.g. a rebalance took the partitions: the next owner re-reads the batch
                    # and recognises what was delivered, so this is not worth dying for.
                    log.warning("channel %s: commit failed: %s", self.channel, exc)
        except Exception:
            log.exception("channel worker %s stopped on an error", self.channel)
            raise
        finally:
            clients.leave_group(consumer)  # a static member must leave explicitly

    def _noise(self, msg: Message) -> bool:
        error = msg.error()
        if error is None:
            return False
        if error.code() != KafkaError._PARTITION_EOF:
            log.warning("channel consumer error: %s", error)
        if clients.is_fatal(error):
            # E.g. this static member fenced under a broker fault: the channel would never be
            # assigned anything again while /health stays 200. A fresh replica rejoins.
            self.service.fail(f"channel {self.channel}: fatal consumer error")
        return True

    def _handle(self, serde: EventSerde, msg: Message) -> None:
        service = self.service
        try:
            event = serde.decode(msg)
        except UndecodableEvent as exc:
            service.dead_letter(msg, exc, attempts=1)
            return
        if event.type != "NotificationRequested":
            return
        service.metrics.consumed.labels(service.name, event.topic, event.type).inc()
        request = event.value
        if not service.delivered.claim(str(request["notification_id"])):
            self.duplicates += 1
            service.duplicates.labels(self.channel).inc()
            log.info(
                "duplicate notification skipped",
                extra={"fields": {"channel": self.channel, "id": request["notification_id"]}},
            )
            return
        self._deliver(request)
        self._emit_sent(serde, event)
        self.delivered += 1
        service.sent.labels(self.channel, str(request["template"])).inc()

    def _emit_sent(self, serde: EventSerde, cause: Event) -> None:
        """NotificationSent on `notifications`, with the causal headers `Service.emit` would add.

        Serialised with this worker's own EventSerde (serializers keep per-instance caches, so
        each thread has its own); the producer is the service's, which is thread-safe.
        """
        service, request = self.service, cause.value
        value = {
            "notification_id": request["notification_id"],
            "order_id": request["order_id"],
            "user_id": request["user_id"],
            "channel": self.channel,
        }
        full, headers = serde.envelope(SENT, value, service.name, cause)
        data = serde.serialize(NOTIFICATIONS, SENT, full)
        key = str(request["user_id"]).encode()
        while True:
            try:
                service.producer.produce(NOTIFICATIONS, key=key, value=data, headers=headers)
                break
            except BufferError:  # local queue full: serve delivery reports, then try again
                service.producer.poll(0.05)
        service.metrics.produced.labels(service.name, NOTIFICATIONS, SENT).inc()

    def _deliver(self, request: dict[str, Any]) -> None:
        """The simulated gateway call: a log line with the masked recipient, nothing more."""
        log.info(
            "notification delivered",
            extra={
                "fields": {
                    "channel": self.channel,
                    "template": request["template"],
                    "to": request["recipient_masked"],
                    "order_id": request["order_id"],
                    "id": request["notification_id"],
                }
            },
        )

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self.assigned = sorted({*self.assigned, *(_name(p) for p in partitions)})

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        gone = {_name(p) for p in partitions}
        self.assigned = [p for p in self.assigned if p not in gone]


def _name(partition: TopicPartition) -> str:
    return f"{partition.topic}[{partition.partition}]"
