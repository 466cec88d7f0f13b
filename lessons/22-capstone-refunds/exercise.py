"""Lesson 22 exercise — the capstone: the shop's seventh service, refunds.

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
# TODO: pin the compatibility level of the refunds' subject, f"{REFUNDS}-value", to BACKWARD,
#       so the registry refuses a later RefundIssued that could not read the refunds before it.
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
# TODO: make it fire once a poison record reaches the DLT, and not before: which counter above
#       rises then, and what expression is true once it rose?
ALERT_RULE = """
groups:
  - name: refunds
    rules:
      - alert: RefundPoisonRecord
        expr: refunds_issued_total < 0
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
        # TODO: make this producer transactional, with TRANSACTIONAL_ID: the same on every start.
        "transaction.timeout.ms": 10000,
    }
)
# TODO: register the transactional.id with its coordinator, once: this also fences a killed
#       instance and aborts the transaction it left open.


def refundable(change: dict) -> bool:
    """Cancelled after payment: a CANCELLED order that payments shows as paid."""
    # TODO: a cancellation alone is not enough: was this order ever paid (see `paid`)?
    return change.get("to_status") == "CANCELLED"


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
    # TODO: produce msg's key and value, unchanged, to DLT, with headers that say why
    #       ("error.type", "error.message") and where it came from ("original.topic",
    #       "original.partition", "original.offset"); header values are bytes.


consumer.subscribe([ORDER_EVENTS])
try:
    while True:
        messages = [m for m in consumer.consume(BATCH, timeout=0.5) if not m.error()]
        if not messages:
            continue
        catch_up(0)
        # TODO: begin this batch's transaction.
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
        # TODO: add the consumer's positions and group metadata to the transaction, then
        #       commit it: the refunds, the dead letters and the offsets become visible together.
        # TODO: count the batch's refunds on refunds_issued, once the broker holds them.
        dead_letters.inc(parked)  # its dead letters, like the refunds: once the broker holds them
except KeyboardInterrupt:
    pass  # Ctrl-C (or the grader) stops the service
except KafkaException as exc:
    if exc.args[0].txn_requires_abort():
        producer.abort_transaction()
    raise
finally:
    consumer.close()
    table.close()
