"""Lesson 22 exercise — the capstone: the shop's seventh service, refunds (reference solution).

Goal: finish this refund service. It reads the shop's order status changes and refunds every
order that was paid and then cancelled, exactly once, although it is SIGKILLed every 3 s: make
each batch one Kafka transaction that holds its refunds, its dead letters and the input offsets
it consumed. Refund only an order that `payments` shows as paid, dead-letter a record that does
not decode (its reason in the headers), pin the refund schema's subject to BACKWARD, count the
refunds you commit on /metrics, and write ALERT_RULE: an alert that fires once a poison record
reaches the DLT, and not before.

`kafkalab lesson 22` runs this on a secure cluster of its own, where the service logs in as its
own SCRAM user (SERVICE below) with the least ACLs a refund service needs. It seeds cancelled
orders (some never paid, some confirmed, and one poison record), starts this file, SIGKILLs it
3 s into a start and restarts it, twice (the fault `kafkalab chaos kill SERVICE --every 3`
injects into the shop), then sends a last wave of cancellations and a second poison record,
scraping your /metrics and evaluating ALERT_RULE with `kafkalab alerts`' own evaluator, and
stops the service with Ctrl-C (SIGINT). It grades what the broker and the registry hold: the
refunds under read_committed, the dead letters, who committed your group's offsets, who wrote
(the broker's authorizer log), the subject's compatibility level.
"""

import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, SerializationError
from prometheus_client import Counter, start_http_server

from kafkalab.exercise import setup

lab = setup()
# The service's own login on the secure cluster: SASL_SSL with SCRAM-SHA-512 as refund-<run>,
# whose ACLs allow READ on the two input topics and the two groups, WRITE on refunds, the DLT
# and one transactional id. lab.config is admin's: a super user, for tools, not for services.
SERVICE: dict = lab.params["service"]
TRANSACTIONAL_ID: str = lab.params["transactional_id"]  # the one id its ACLs let it use
ORDER_EVENTS = lab.topic("order-events")  # OrderStatusChanged, keyed by order id (Avro)
PAYMENTS = lab.topic("payments")  # PaymentCompleted / PaymentFailed (Avro)
REFUNDS = lab.topic("refunds")
DLT = lab.topic("refunds.DLT")
BANK_SECONDS: float = lab.params["bank_seconds"]  # what the bank takes to pay one refund back
BATCH = 5  # records per transaction

REFUND_SCHEMA = """
{"type": "record", "name": "RefundIssued", "namespace": "dev.kafkalab.events",
 "fields": [
   {"name": "refund_id", "type": "string"},
   {"name": "order_id", "type": "string"},
   {"name": "user_id", "type": "string"},
   {"name": "amount_cents", "type": "long"},
   {"name": "reason", "type": ["null", "string"], "default": null}]}
"""

registry = SchemaRegistryClient(lab.registry)
# The subject's own compatibility level: the registry refuses a later version of RefundIssued
# that a consumer using it could not read old refunds with (a field added without a default).
registry.set_compatibility(subject_name=f"{REFUNDS}-value", level="BACKWARD")
read_event = AvroDeserializer(registry)  # the writer's schema, by the id in each record
# Registers REFUND_SCHEMA under "<topic>-value" at the first refund (auto.register.schemas).
write_refund = AvroSerializer(registry, REFUND_SCHEMA)

# A counter only goes up; Prometheus sees a restart as a reset to 0 and rate() allows for it.
# /metrics shows each with a _total suffix: refunds_issued_total, refunds_dead_letters_total.
refunds_issued = Counter("refunds_issued", "Refunds committed to the refunds topic")
dead_letters = Counter("refunds_dead_letters", "Poison records committed to the refunds DLT")
start_http_server(lab.params["metrics_port"], addr="127.0.0.1")

# The alert a person is paged by, in Prometheus' rule format (kafkalab/monitoring/alerts.yml).
# The grader evaluates it over this service's /metrics with the evaluator behind `kafkalab
# alerts`, as a Prometheus server would.
ALERT_RULE = """
groups:
  - name: refunds
    rules:
      - alert: RefundPoisonRecord
        # The counter rose: a record reached the DLT in the last 5 minutes.
        expr: increase(refunds_dead_letters_total[5m]) > 0
        labels:
          severity: warning
        annotations:
          summary: "{{ $value }} poison record(s) parked on the refunds DLT"
          description: "The dead letter's error.type and error.message headers say why."
"""

# What payments says was paid: a table read with assign(), no group, from the first offset
# of every partition (one here; six in the shop, `kafkalab up --with refund`).
table = Consumer({**SERVICE, "group.id": lab.group("payments-table"), "enable.auto.commit": False})
partitions = table.list_topics(PAYMENTS, timeout=10).topics[PAYMENTS].partitions
table.assign([TopicPartition(PAYMENTS, p, OFFSET_BEGINNING) for p in partitions])
paid: dict[str, int] = {}  # order id → amount charged


def catch_up(wait: float) -> None:
    """Add what payments gained since the last call. PaymentFailed is on the same topic."""
    for msg in table.consume(500, timeout=wait):
        if msg.error() or dict(msg.headers() or []).get("event_type") != b"PaymentCompleted":
            continue
        payment = read_event(msg.value(), SerializationContext(PAYMENTS, MessageField.VALUE))
        paid[payment["order_id"]] = payment["amount_cents"]


ends = {p: table.get_watermark_offsets(TopicPartition(PAYMENTS, p), timeout=10) for p in partitions}
behind = [TopicPartition(PAYMENTS, p) for p, (low, high) in ends.items() if high > low]
while any(tp.offset < ends[tp.partition][1] for tp in table.position(behind)):
    catch_up(0.5)  # the whole table before the first refund decision

consumer = Consumer(
    {
        **SERVICE,
        "group.id": lab.group("refund"),
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,  # the transaction commits the offsets
        "isolation.level": "read_committed",  # skip aborted upstream writes
        # Static membership: a restart takes its partitions back at once (lesson 7).
        "group.instance.id": "refund-1",
        "session.timeout.ms": 10000,
    }
)
producer = Producer(
    {
        **SERVICE,
        # The same id on every start: init_transactions() fences the killed instance and
        # aborts the transaction it left open.
        "transactional.id": TRANSACTIONAL_ID,
        "transaction.timeout.ms": 10000,
    }
)
producer.init_transactions()


def refundable(change: dict) -> bool:
    """Cancelled after payment: a CANCELLED order that payments shows as paid."""
    return change.get("to_status") == "CANCELLED" and change["order_id"] in paid


def refund(change: dict) -> None:
    time.sleep(BANK_SECONDS)  # the bank's refund call
    record = {
        "refund_id": str(uuid.uuid4()),
        "order_id": change["order_id"],
        "user_id": change["user_id"],
        "amount_cents": paid.get(change["order_id"], 0),
        "reason": change.get("reason"),
    }
    value = write_refund(record, SerializationContext(REFUNDS, MessageField.VALUE))
    producer.produce(REFUNDS, key=change["order_id"].encode(), value=value)


def dead_letter(msg, error: Exception) -> None:
    """Park a record that can never be handled, unchanged, with why and where it came from."""
    headers = list(msg.headers() or [])
    headers += [
        ("error.type", type(error).__name__.encode()),
        ("error.message", str(error).encode()),
        ("original.topic", msg.topic().encode()),
        ("original.partition", str(msg.partition()).encode()),
        ("original.offset", str(msg.offset()).encode()),
    ]
    producer.produce(DLT, key=msg.key(), value=msg.value(), headers=headers)


consumer.subscribe([ORDER_EVENTS])
try:
    while True:
        messages = [m for m in consumer.consume(BATCH, timeout=0.5) if not m.error()]
        if not messages:
            continue
        catch_up(0)
        producer.begin_transaction()
        issued = parked = 0
        for msg in messages:
            try:
                change = read_event(
                    msg.value(), SerializationContext(ORDER_EVENTS, MessageField.VALUE)
                )
            except SerializationError as exc:  # poison: no retry will ever decode it
                dead_letter(msg, exc)
                parked += 1
                continue
            if refundable(change):
                refund(change)
                issued += 1
        # The input offsets join the transaction: refunds and offsets commit together, or neither.
        producer.send_offsets_to_transaction(
            consumer.position(consumer.assignment()), consumer.consumer_group_metadata()
        )
        producer.commit_transaction()
        refunds_issued.inc(issued)  # counted once the broker holds them
        dead_letters.inc(parked)
except KeyboardInterrupt:
    pass  # Ctrl-C (or the grader) stops the service
except KafkaException as exc:
    if exc.args[0].txn_requires_abort():
        producer.abort_transaction()
    raise
finally:
    consumer.close()
    table.close()
