"""ACL derivation: each service gets exactly its own topics and groups, nothing else."""

from __future__ import annotations

from confluent_kafka.admin import AclOperation, ResourcePatternType, ResourceType

from kafkalab.catalogue.services import SERVICES, group_id
from kafkalab.events import topics as t
from kafkalab.security import acls
from kafkalab.services.inventory.service import InventoryService
from kafkalab.services.notification.service import NotificationService
from kafkalab.services.order.service import OrderService
from kafkalab.services.payment.service import PaymentService


def test_every_subscription_is_granted() -> None:
    for cls in (OrderService, InventoryService, PaymentService, NotificationService):
        for topic in cls.subscriptions:
            assert acls.may_read(cls.name, topic), (cls.name, topic)


def test_analytics_may_read_every_topic_its_pipeline_reads() -> None:
    from kafkalab.services.analytics.app import AnalyticsTopics

    topics = AnalyticsTopics()
    reads = (topics.orders, topics.payments, topics.stock, topics.notifications, *topics.requests)
    for topic in reads:
        assert acls.may_read("analytics", topic), topic
    assert acls.may_write("analytics", topics.output)


def test_only_payment_reads_nothing_it_should_not() -> None:
    readers_of_payments = {s for s in SERVICES if acls.may_read(s, t.PAYMENTS)}
    assert readers_of_payments == {"order", "inventory", "payment", "analytics"}
    writers_of_payments = {s for s in SERVICES if acls.may_write(s, t.PAYMENTS)}
    assert writers_of_payments == {"payment"}
    assert not any(acls.may_read(s, t.AUDIT) for s in SERVICES)  # audit is write-only
    assert all(acls.may_write(s, t.AUDIT) for s in SERVICES)


def test_every_granted_topic_is_in_the_catalogue() -> None:
    known = {spec.name for spec in t.CATALOGUE}
    for service, access in acls.SERVICE_ACCESS.items():
        assert access.reads | access.writes <= known, service


def test_bindings_name_the_service_principal_and_its_groups() -> None:
    bindings = acls.service_bindings("payment")
    assert {b.principal for b in bindings} == {"User:payment"}
    groups = {b.name for b in bindings if b.restype == ResourceType.GROUP}
    assert group_id("payment") in groups
    txn = [b for b in bindings if b.restype == ResourceType.TRANSACTIONAL_ID]
    assert txn and all(b.resource_pattern_type == ResourcePatternType.PREFIXED for b in txn)
    reads = {
        b.name
        for b in bindings
        if b.operation == AclOperation.READ and b.restype == ResourceType.TOPIC
    }
    assert reads == set(acls.SERVICE_ACCESS["payment"].reads)
    assert not [
        b for b in acls.service_bindings("order") if b.restype == ResourceType.TRANSACTIONAL_ID
    ]


def test_no_duplicate_bindings() -> None:
    bindings = acls.all_bindings()
    assert len(bindings) == len(set(bindings))


def test_transactional_services_get_their_transactional_ids() -> None:
    for cls in (OrderService, InventoryService, PaymentService, NotificationService):
        granted = acls.SERVICE_ACCESS[cls.name].transactional_prefix
        assert (granted is not None) == cls.transactional, cls.name
        if granted:
            assert f"{group_id(cls.name)}-0".startswith(granted)


def test_the_refund_service_may_do_exactly_what_lesson_22_s_skeleton_does() -> None:
    """Read the orders and payments, in its own two groups; write refunds and the DLT, with its
    one transactional id (literal names: nothing it did not name, no audit)."""

    got = {
        (b.restype, b.name, b.operation, b.resource_pattern_type)
        for b in acls.service_bindings("refund")
    }
    topic, group = ResourceType.TOPIC, ResourceType.GROUP
    literal = ResourcePatternType.LITERAL
    read, write, describe = AclOperation.READ, AclOperation.WRITE, AclOperation.DESCRIBE
    assert got == {
        (topic, t.ORDER_EVENTS, read, literal),
        (topic, t.PAYMENTS, read, literal),
        (topic, t.REFUNDS, write, literal),
        (topic, t.REFUNDS_DLT, write, literal),
        *(
            (topic, name, describe, literal)
            for name in (t.ORDER_EVENTS, t.PAYMENTS, t.REFUNDS, t.REFUNDS_DLT)
        ),
        (group, "kafkalab-refund", read, literal),
        (group, "refund-payments-table", read, literal),
        (ResourceType.TRANSACTIONAL_ID, "kafkalab-refund-0", write, literal),
    }
    assert all(b.principal == "User:refund" for b in acls.service_bindings("refund"))
    assert set(acls.service_bindings("refund")) <= set(acls.all_bindings())
    assert not acls.may_write("refund", t.AUDIT) and not acls.may_read("refund", t.REFUNDS)
