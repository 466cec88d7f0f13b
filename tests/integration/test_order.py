"""The order service on the real broker.

Inventory and payment are not running here: the test plays them. The replicas check stock by
request-reply (KAFKALAB_STOCK_CHECK=request-reply; one test covers the default, the stock
table): a tiny responder answers the stock checks and `publish` feeds InventoryReserved, PaymentCompleted, … into
the topics the order service consumes; the assertions read OrderStatusChanged back from
`order-events` and the order from GET /orders/{id}. Every wait is for an event or a state,
with a generous deadline; nothing asserts on timing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from confluent_kafka import TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from kafkalab import clients, localhttp
from kafkalab.connection import Connection
from kafkalab.events.serde import Event, EventSerde
from kafkalab.events.topics import (
    INVENTORY_EVENTS,
    INVENTORY_REPLIES,
    INVENTORY_REQUESTS,
    ORDER_EVENTS,
    PAYMENTS,
    STOCK,
)
from kafkalab.services.auth import TokenSigner, token_key
from kafkalab.services.order.service import OrderService
from kafkalab.services.products import PRODUCTS
from kafkalab.services.user.service import UserService
from kafkalab.settings import Settings
from tests.integration.services import (
    assert_documented,
    ensure_topics,
    publish,
    read_events,
    read_raw,
    running,
)

pytestmark = pytest.mark.integration

CARD = "4242 4242 4242 4242"
WAIT = 30.0


@contextmanager
def order_service(
    settings: Settings, conn: Connection, stock_check: str = "request-reply"
) -> Iterator[OrderService]:
    """An order replica that owns its partitions before the test goes on; it asks the test's
    stock responder unless `stock_check` says "table".

    Waiting for the assignment is not cosmetic: a member that leaves its group in the middle
    of a cooperative rebalance stays registered until its session times out (45 s), and the
    next replica of the test would wait that long for its partitions.
    """
    admin = clients.admin(conn)
    topics = admin.list_topics(timeout=10).topics
    expected = sum(len(topics[t].partitions) for t in OrderService.subscriptions)
    settings = settings.model_copy(update={"stock_check": stock_check})
    with running(OrderService, settings, conn) as order:
        wait_for(lambda: len(order.assigned) == expected, "the order replica's partitions")
        yield order


@pytest.fixture(scope="module")
def user_service(conn: Connection, cluster: Settings) -> Iterator[UserService]:
    ensure_topics(conn)
    with running(UserService, cluster, conn) as user:
        yield user


@pytest.fixture
def services(
    conn: Connection, cluster: Settings, user_service: UserService
) -> Iterator[tuple[UserService, OrderService]]:
    """The user service and one order replica, the only member of the order group."""
    with order_service(cluster, conn) as order:
        yield user_service, order


@pytest.fixture
def customer(user_service: UserService, unique: Callable[[str], str]) -> tuple[str, str]:
    """(user_id, token) of a freshly registered and logged-in user."""
    user = user_service
    email = f"{unique('buyer')}@example.com"
    base = f"http://127.0.0.1:{user.port}"
    body = {"email": email, "name": "Ada", "password": "correct-horse"}
    created = localhttp.post(f"{base}/users", json=body, timeout=30)
    assert created.status_code == 201, created.text
    login = localhttp.post(
        f"{base}/login", json={"email": email, "password": "correct-horse"}, timeout=30
    )
    assert login.status_code == 200, login.text
    return login.json()["user_id"], login.json()["token"]


# -- helpers ---------------------------------------------------------------------------------


@contextmanager
def stock_responder(conn: Connection, available: bool = True) -> Iterator[list[Event]]:
    """Plays inventory's side of the request-reply: answers every StockCheckRequested sent
    while the block runs; yields the requests it saw."""
    serde = EventSerde(conn)
    consumer = clients.consumer(conn, f"test-responder-{time.time_ns()}")
    metadata = consumer.list_topics(INVENTORY_REQUESTS, timeout=10).topics[INVENTORY_REQUESTS]
    # Start at the current end, fixed now: no request sent after this point can be missed.
    consumer.assign(
        [
            TopicPartition(
                INVENTORY_REQUESTS,
                p,
                consumer.get_watermark_offsets(TopicPartition(INVENTORY_REQUESTS, p), timeout=10)[
                    1
                ],
            )
            for p in metadata.partitions
        ]
    )
    seen: list[Event] = []
    stop = threading.Event()

    def answer() -> None:
        while not stop.is_set():
            for msg in consumer.consume(50, timeout=0.2):
                if msg.error():
                    continue
                request = serde.decode(msg)
                seen.append(request)
                skus = [item["sku"] for item in request.value["items"]]
                publish(
                    conn,
                    request.value["reply_to"],
                    request.value["correlation_id"],
                    "StockCheckReplied",
                    {
                        "correlation_id": request.value["correlation_id"],
                        "available": available,
                        "missing_skus": [] if available else skus,
                    },
                    service="inventory",
                )

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(10)
        consumer.close()


def post_order(
    service: OrderService,
    token: str | None,
    items: list[dict[str, Any]] | None = None,
    card: str = CARD,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"items": items or [{"sku": "SKU-STICKER", "quantity": 2}], "card_number": card}
    return localhttp.post(
        f"http://127.0.0.1:{service.port}/orders", json=body, headers=headers, timeout=60
    )


def get_order(service: OrderService, order_id: str) -> httpx.Response:
    return localhttp.get(f"http://127.0.0.1:{service.port}/orders/{order_id}", timeout=30)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def wait_status(service: OrderService, order_id: str, status: str) -> dict[str, Any]:
    wait_for(
        lambda: get_order(service, order_id).json().get("status") == status,
        f"order {order_id} to become {status}",
    )
    return get_order(service, order_id).json()


def metric(service: OrderService, name: str, **labels: str) -> float:
    text = localhttp.get(f"http://127.0.0.1:{service.port}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def status_changes(conn: Connection, order_id: str, count: int) -> list[Event]:
    return read_events(
        conn,
        ORDER_EVENTS,
        count,
        where=lambda e: e.key == order_id and e.type == "OrderStatusChanged",
    )


def place_order(
    conn: Connection, order: OrderService, token: str, **kwargs: Any
) -> tuple[str, Event]:
    """A CREATED order (stock check answered yes) and its OrderCreated event."""
    with stock_responder(conn):
        response = post_order(order, token, **kwargs)
    assert response.status_code == 201, response.text
    order_id = response.json()["order_id"]
    [created] = read_events(
        conn, ORDER_EVENTS, 1, where=lambda e: e.key == order_id and e.type == "OrderCreated"
    )
    return order_id, created


def feed(conn: Connection, topic: str, record_type: str, created: Event, **extra: Any) -> dict:
    """Publish an inventory/payment event for the order of `created`, as that service would."""
    value = {"order_id": created.value["order_id"], "user_id": created.value["user_id"], **extra}
    service = "payment" if topic == PAYMENTS else "inventory"
    return publish(conn, topic, created.value["order_id"], record_type, value, service=service)


def reserved(conn: Connection, created: Event) -> dict:
    return feed(
        conn,
        INVENTORY_EVENTS,
        "InventoryReserved",
        created,
        total_cents=created.value["total_cents"],
        card_masked=created.value["card_masked"],
        items=created.value["items"],
        expires_at=int(time.time() * 1000) + 30_000,
    )


# -- tests -----------------------------------------------------------------------------------


def test_happy_path_created_reserved_paid_confirmed(
    conn: Connection,
    cluster: Settings,
    services: tuple[UserService, OrderService],
    customer: tuple[str, str],
) -> None:
    _, order = services
    user_id, token = customer
    created_before = metric(order, "kafkalab_orders_created_total")
    with stock_responder(conn) as requests:
        response = post_order(
            order,
            token,
            items=[{"sku": "SKU-STICKER", "quantity": 2}, {"sku": "SKU-MUG", "quantity": 1}],
        )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "CREATED"
    order_id = response.json()["order_id"]

    # The stock check went out as a request keyed by its correlation id, with catalogue prices.
    [request] = requests
    assert request.key == request.value["correlation_id"]
    assert request.value["reply_to"] == INVENTORY_REPLIES
    assert {i["sku"]: (i["quantity"], i["unit_price_cents"]) for i in request.value["items"]} == {
        "SKU-STICKER": (2, PRODUCTS["SKU-STICKER"].unit_price_cents),
        "SKU-MUG": (1, PRODUCTS["SKU-MUG"].unit_price_cents),
    }

    [created] = read_events(
        conn, ORDER_EVENTS, 1, where=lambda e: e.key == order_id and e.type == "OrderCreated"
    )
    expected_total = (
        2 * PRODUCTS["SKU-STICKER"].unit_price_cents + PRODUCTS["SKU-MUG"].unit_price_cents
    )
    assert created.value["user_id"] == user_id
    assert created.value["total_cents"] == expected_total
    assert created.value["card_masked"] == "****4242"
    assert created.trace_id == request.trace_id  # stock check and order: one trace
    assert metric(order, "kafkalab_orders_created_total") == created_before + 1

    triggers = [reserved(conn, created)]
    wait_status(order, order_id, "RESERVED")
    triggers.append(
        feed(
            conn,
            PAYMENTS,
            "PaymentCompleted",
            created,
            payment_id="pay-1",
            amount_cents=expected_total,
            card_masked="****4242",
            attempts=1,
        )
    )
    wait_status(order, order_id, "PAID")
    triggers.append(
        feed(conn, INVENTORY_EVENTS, "StockCommitted", created, items=created.value["items"])
    )
    body = wait_status(order, order_id, "CONFIRMED")

    changes = status_changes(conn, order_id, 3)
    assert [(e.value["from_status"], e.value["to_status"]) for e in changes] == [
        ("CREATED", "RESERVED"),
        ("RESERVED", "PAID"),
        ("PAID", "CONFIRMED"),
    ]
    assert [e.causation_id for e in changes] == [t["event_id"] for t in triggers]
    assert all(e.service == "order" and e.value["user_id"] == user_id for e in changes)

    assert body["user_id"] == user_id and body["total_cents"] == expected_total
    assert [(h["from_status"], h["to_status"]) for h in body["history"]] == [
        (None, "CREATED"),
        ("CREATED", "RESERVED"),
        ("RESERVED", "PAID"),
        ("PAID", "CONFIRMED"),
    ]
    assert [h["event_id"] for h in body["history"][1:]] == [e.event_id for e in changes]

    # The card number never travels in clear: not in any record of this order.
    raw = read_raw(conn, ORDER_EVENTS, 4, where=lambda m: m.key() == order_id.encode())
    assert len(raw) == 4
    for msg in raw:
        assert b"4242424242424242" not in msg.value()
        assert CARD.encode() not in msg.value()
    [raw_request] = read_raw(
        conn, INVENTORY_REQUESTS, 1, where=lambda m: m.key() == request.key.encode()
    )
    assert b"4242424242424242" not in raw_request.value()


def cancel(service: OrderService, order_id: str, token: str) -> httpx.Response:
    return localhttp.post(
        f"http://127.0.0.1:{service.port}/orders/{order_id}/cancel",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def test_its_customer_cancels_a_confirmed_order_once_and_nobody_else_can(
    conn: Connection, services: tuple[UserService, OrderService], customer: tuple[str, str]
) -> None:
    _, order = services
    _, token = customer
    order_id, created = place_order(conn, order, token)
    refused = cancel(order, order_id, token)  # CREATED: nothing paid yet
    assert refused.status_code == 409, refused.text
    assert refused.json() == {
        "error": "the order is CREATED, not paid yet: only a paid order can be cancelled"
    }
    stranger, _ = order.signer.issue("someone-else")
    assert cancel(order, order_id, stranger).status_code == 403
    assert cancel(order, "no-such-order", token).status_code == 404

    reserved(conn, created)
    wait_status(order, order_id, "RESERVED")
    amount = created.value["total_cents"]
    feed(
        conn,
        PAYMENTS,
        "PaymentCompleted",
        created,
        payment_id="p",
        amount_cents=amount,
        card_masked="****4242",
        attempts=1,
    )
    wait_status(order, order_id, "PAID")
    feed(conn, INVENTORY_EVENTS, "StockCommitted", created, items=created.value["items"])
    wait_status(order, order_id, "CONFIRMED")

    done = cancel(order, order_id, token)
    assert done.status_code == 200, done.text
    assert done.json() == {"order_id": order_id, "status": "CANCELLED"}
    last = status_changes(conn, order_id, 4)[-1]
    assert (last.value["from_status"], last.value["to_status"]) == ("CONFIRMED", "CANCELLED")
    assert last.value["reason"] == "customer_cancelled"
    again = cancel(order, order_id, token)
    assert again.status_code == 409 and "already cancelled" in again.json()["error"]


def test_payment_failure_waits_for_payment_then_is_cancelled_on_expiry(
    conn: Connection,
    cluster: Settings,
    services: tuple[UserService, OrderService],
    customer: tuple[str, str],
) -> None:
    _, order = services
    _, token = customer
    order_id, created = place_order(conn, order, token)
    reserved(conn, created)
    wait_status(order, order_id, "RESERVED")
    failed = feed(
        conn,
        PAYMENTS,
        "PaymentFailed",
        created,
        amount_cents=created.value["total_cents"],
        reason="insufficient_funds",
        attempts=1,
    )
    wait_status(order, order_id, "PENDING_PAYMENT")
    expired = feed(conn, INVENTORY_EVENTS, "ReservationExpired", created)
    body = wait_status(order, order_id, "CANCELLED")

    changes = status_changes(conn, order_id, 4)
    assert [(e.value["from_status"], e.value["to_status"], e.value["reason"]) for e in changes] == [
        ("CREATED", "RESERVED", "InventoryReserved"),
        ("RESERVED", "PAYMENT_FAILED", "insufficient_funds"),
        ("PAYMENT_FAILED", "PENDING_PAYMENT", "awaiting payment retry"),
        ("PENDING_PAYMENT", "CANCELLED", "ReservationExpired"),
    ]
    assert changes[1].causation_id == changes[2].causation_id == failed["event_id"]
    assert changes[3].causation_id == expired["event_id"]
    assert [h["to_status"] for h in body["history"]] == [
        "CREATED",
        "RESERVED",
        "PAYMENT_FAILED",
        "PENDING_PAYMENT",
        "CANCELLED",
    ]


def test_out_of_stock_after_the_check_rejects_the_order(
    conn: Connection,
    cluster: Settings,
    services: tuple[UserService, OrderService],
    customer: tuple[str, str],
) -> None:
    _, order = services
    _, token = customer
    order_id, created = place_order(conn, order, token)
    feed(conn, INVENTORY_EVENTS, "OutOfStock", created, missing_skus=["SKU-STICKER"])
    wait_status(order, order_id, "REJECTED")

    # REJECTED is final: a payment for it now is illegal at once (nothing to wait for).
    before = metric(
        order,
        "kafkalab_order_illegal_transitions_total",
        status="REJECTED",
        trigger="PaymentCompleted",
    )
    feed(
        conn,
        PAYMENTS,
        "PaymentCompleted",
        created,
        payment_id="pay-x",
        amount_cents=1,
        card_masked="****4242",
        attempts=1,
    )
    wait_for(
        lambda: (
            metric(
                order,
                "kafkalab_order_illegal_transitions_total",
                status="REJECTED",
                trigger="PaymentCompleted",
            )
            == before + 1
        ),
        "the refusal to be counted",
    )
    assert get_order(order, order_id).json()["status"] == "REJECTED"
    [change] = status_changes(conn, order_id, 1)
    assert (change.value["from_status"], change.value["to_status"]) == ("CREATED", "REJECTED")


def test_illegal_transition_is_refused_and_counted_not_applied(
    conn: Connection,
    cluster: Settings,
    services: tuple[UserService, OrderService],
    customer: tuple[str, str],
) -> None:
    """StockCommitted for a CREATED order: it could only be early (the order might still get
    RESERVED and PAID), so it is parked — and refused when nothing comes in time."""
    _, order = services
    _, token = customer
    order_id, created = place_order(conn, order, token)
    labels = {"status": "CREATED", "trigger": "StockCommitted"}
    before = metric(order, "kafkalab_order_illegal_transitions_total", **labels)
    dead_before = metric(order, "kafkalab_dead_letters_total")

    order.park_seconds = 1.0  # instead of 30 s: only the deadline, not the behaviour, changes
    try:
        feed(conn, INVENTORY_EVENTS, "StockCommitted", created, items=created.value["items"])
        wait_for(
            lambda: (
                metric(order, "kafkalab_order_illegal_transitions_total", **labels) == before + 1
            ),
            "the illegal StockCommitted to be refused",
        )
    finally:
        order.park_seconds = OrderService.park_seconds
    assert get_order(order, order_id).json()["status"] == "CREATED"
    assert metric(order, "kafkalab_dead_letters_total") == dead_before  # refused, not an error

    # The order still works, and the first change in its log is the legal one.
    reserved(conn, created)
    body = wait_status(order, order_id, "RESERVED")
    [first] = status_changes(conn, order_id, 1)
    assert (first.value["from_status"], first.value["to_status"]) == ("CREATED", "RESERVED")
    assert [h["to_status"] for h in body["history"]] == ["CREATED", "RESERVED"]


def test_an_event_for_an_order_that_never_existed_is_dead_lettered(
    conn: Connection,
    cluster: Settings,
    services: tuple[UserService, OrderService],
    unique: Callable[[str], str],
) -> None:
    ghost = unique("ghost-order")
    publish(
        conn,
        INVENTORY_EVENTS,
        ghost,
        "OutOfStock",
        {"order_id": ghost, "user_id": "nobody", "missing_skus": []},
        service="inventory",
    )
    [dead] = read_raw(conn, "order.DLT", 1, where=lambda m: m.key() == ghost.encode())
    headers = dict(dead.headers())
    # Looked for once more after the view read order-events to its end, then parked at once:
    # whatever caused the event would have read its OrderCreated first, so none exists.
    assert headers["error.type"] == b"UnknownOrder"
    assert headers["attempts"] == b"1"
    assert b"up to its end" in headers["error.message"]
    assert headers["original.topic"] == INVENTORY_EVENTS.encode()


def test_no_or_bad_token_gets_401(
    cluster: Settings, services: tuple[UserService, OrderService], customer: tuple[str, str]
) -> None:
    _, order = services
    user_id, token = customer
    expired, _ = TokenSigner(token_key(cluster), ttl_seconds=1).issue(user_id, now_ms=1_000)
    forged, _ = TokenSigner(b"not the platform key at all!!").issue(user_id)
    for bad in (None, "garbage", token[:-2] + "xx", expired, forged):
        response = post_order(order, bad)
        assert response.status_code == 401, bad
        assert "error" in response.json()
    assert "expired" in post_order(order, expired).json()["error"]


def test_bad_body_gets_422(
    services: tuple[UserService, OrderService], customer: tuple[str, str]
) -> None:
    _, order = services
    _, token = customer
    unknown = post_order(order, token, items=[{"sku": "SKU-UNICORN", "quantity": 1}])
    assert unknown.status_code == 422 and "unknown SKU 'SKU-UNICORN'" in unknown.json()["error"]
    card = post_order(order, token, card="12")
    assert card.status_code == 422
    assert card.json()["error"] == "card_number must be a string of 12 to 19 digits"


def test_docs_list_the_order_routes_offline(services: tuple[UserService, OrderService]) -> None:
    _, order = services
    assert_documented(order.port, [("POST", "/orders"), ("GET", "/orders/{order_id}")])
    spec = localhttp.get(f"http://127.0.0.1:{order.port}/openapi.json", timeout=10).json()
    assert spec["paths"]["/orders"]["post"]["security"] == [{"bearerToken": []}]


def test_unavailable_stock_gets_409_and_no_order(
    conn: Connection,
    cluster: Settings,
    services: tuple[UserService, OrderService],
    customer: tuple[str, str],
) -> None:
    _, order = services
    _, token = customer
    created_before = metric(order, "kafkalab_orders_created_total")
    with stock_responder(conn, available=False) as requests:
        response = post_order(order, token, items=[{"sku": "SKU-LAPTOP", "quantity": 1}])
    assert response.status_code == 409, response.text
    assert response.json() == {"error": "out of stock: SKU-LAPTOP", "missing_skus": ["SKU-LAPTOP"]}
    assert len(requests) == 1
    assert metric(order, "kafkalab_order_stock_checks_total", outcome="unavailable") >= 1
    assert metric(order, "kafkalab_orders_created_total") == created_before


def test_no_answer_gets_504(
    conn: Connection, cluster: Settings, user_service: UserService, customer: tuple[str, str]
) -> None:
    _, token = customer
    impatient = cluster.model_copy(update={"request_timeout": 1.0})
    with order_service(impatient, conn) as order:
        response = post_order(order, token)
        assert response.status_code == 504, response.text
        assert response.json() == {"error": "inventory did not answer the stock check within 1 s"}
        assert metric(order, "kafkalab_order_stock_checks_total", outcome="timeout") == 1
        assert metric(order, "kafkalab_orders_created_total") == 0


def stock_level(conn: Connection, sku: str, available: int) -> None:
    """A StockLevel on the compacted `stock` topic, as inventory writes one."""
    value = {
        "sku": sku,
        "available": available,
        "reserved": 0,
        "updated_at": int(time.time() * 1000),
    }
    publish(conn, STOCK, sku, "StockLevel", value, service="inventory")


def test_a_stock_table_answers_from_the_stock_topic_without_asking_inventory(
    conn: Connection, cluster: Settings, user_service: UserService, customer: tuple[str, str]
) -> None:
    """The default, KAFKALAB_STOCK_CHECK=table: no StockCheckRequested at all; the answer follows the
    levels on `stock`, read before the replica serves and followed after."""
    _, token = customer
    stock_level(conn, "SKU-STICKER", 5)
    stock_level(conn, "SKU-LAPTOP", 0)
    with order_service(cluster, conn, "table") as order, stock_responder(conn) as requests:
        health = localhttp.get(f"http://127.0.0.1:{order.port}/health", timeout=10).json()
        assert health["stock_check"] == "table"
        sticker = [{"sku": "SKU-STICKER", "quantity": 2}]
        accepted = post_order(order, token, items=sticker)
        assert accepted.status_code == 201, accepted.text
        laptop = [{"sku": "SKU-LAPTOP", "quantity": 1}]
        refused = post_order(order, token, items=laptop)
        assert refused.status_code == 409, refused.text
        assert refused.json()["missing_skus"] == ["SKU-LAPTOP"]
        too_many = post_order(order, token, items=[{"sku": "SKU-STICKER", "quantity": 6}])
        assert too_many.json()["missing_skus"] == ["SKU-STICKER"]

        # Restocked, and ordered at once: a refusal is judged on `stock` as it is now, so the
        # level just written is read first (read-your-writes), no waiting needed here.
        stock_level(conn, "SKU-LAPTOP", 3)
        restocked = post_order(order, token, items=laptop)
        assert restocked.status_code == 201, restocked.text
        assert requests == []  # inventory was never asked
        [created] = read_events(
            conn,
            ORDER_EVENTS,
            1,
            where=lambda e: e.value["order_id"] == accepted.json()["order_id"],
        )
        assert created.type == "OrderCreated" and not created.causation_id
        assert metric(order, "kafkalab_order_stock_checks_total", outcome="unavailable") >= 2


def test_a_restarted_replica_rebuilds_its_view_from_order_events(
    conn: Connection, cluster: Settings, user_service: UserService, customer: tuple[str, str]
) -> None:
    _, token = customer
    with order_service(cluster, conn) as order:
        order_id, created = place_order(conn, order, token)
        reserved(conn, created)
        before = wait_status(order, order_id, "RESERVED")
    with order_service(cluster, conn) as restarted:
        assert get_order(restarted, order_id).json() == before
        assert get_order(restarted, "no-such-order").status_code == 404
        health = localhttp.get(f"http://127.0.0.1:{restarted.port}/health", timeout=10).json()
        assert health["view_caught_up"] and health["orders"] >= 1
        # And it goes on from there: the next trigger moves the rebuilt order.
        feed(conn, INVENTORY_EVENTS, "ReservationExpired", created)
        assert wait_status(restarted, order_id, "CANCELLED")["history"][:-1] == before["history"]


def committed_offset(conn: Connection, topic: str, partition: int) -> int:
    """What the order service's consumer group has committed for one partition."""
    consumer = clients.consumer(conn, "kafkalab-order")  # reads offsets; never subscribes
    try:
        [tp] = consumer.committed([TopicPartition(topic, partition)], timeout=10)
        return int(tp.offset)
    finally:
        consumer.close()


def test_an_early_payment_is_parked_uncommitted_until_the_reservation_arrives(
    conn: Connection,
    cluster: Settings,
    services: tuple[UserService, OrderService],
    customer: tuple[str, str],
) -> None:
    """Inventory and payment write to different topics, so the order service may read
    PaymentCompleted before InventoryReserved: the early event waits (parked, and its offset
    not committed, so a crash would replay it) and is applied once the order is RESERVED."""
    _, order = services
    _, token = customer
    order_id, created = place_order(conn, order, token)
    parked_before = metric(order, "kafkalab_order_parked_events_total", trigger="PaymentCompleted")
    payment = feed(
        conn,
        PAYMENTS,
        "PaymentCompleted",
        created,
        payment_id="pay-2",
        amount_cents=created.value["total_cents"],
        card_masked="****4242",
        attempts=1,
    )
    wait_for(
        lambda: (
            metric(order, "kafkalab_order_parked_events_total", trigger="PaymentCompleted")
            == parked_before + 1
        ),
        "the early payment to be parked",
    )
    [raw] = read_raw(conn, PAYMENTS, 1, where=lambda m: m.key() == order_id.encode())
    assert committed_offset(conn, PAYMENTS, raw.partition()) <= raw.offset()
    assert get_order(order, order_id).json()["status"] == "CREATED"

    reserved(conn, created)
    wait_status(order, order_id, "PAID")
    feed(conn, INVENTORY_EVENTS, "StockCommitted", created, items=created.value["items"])
    body = wait_status(order, order_id, "CONFIRMED")
    assert [h["to_status"] for h in body["history"]] == ["CREATED", "RESERVED", "PAID", "CONFIRMED"]
    [paid] = [e for e in status_changes(conn, order_id, 3) if e.value["to_status"] == "PAID"]
    assert paid.causation_id == payment["event_id"]
    # Nothing parked any more: the next commit of that partition moves past the payment.
    feed(
        conn,
        PAYMENTS,
        "PaymentCompleted",
        created,
        payment_id="pay-3",
        amount_cents=1,
        card_masked="****4242",
        attempts=1,
    )  # illegal for CONFIRMED: handled, then committed
    wait_for(
        lambda: committed_offset(conn, PAYMENTS, raw.partition()) > raw.offset(),
        "the commit to move past the applied payment",
    )


def test_a_payment_that_beat_the_expiry_by_a_moment_ends_cancelled_not_stuck_in_paid(
    conn: Connection,
    cluster: Settings,
    services: tuple[UserService, OrderService],
    customer: tuple[str, str],
) -> None:
    """Payment completes as the TTL runs out; inventory, still behind on `payments`, expires
    the reservation anyway (and will not commit the stock). The order must still end."""
    _, order = services
    _, token = customer
    order_id, created = place_order(conn, order, token)
    reserved(conn, created)
    wait_status(order, order_id, "RESERVED")
    feed(
        conn,
        PAYMENTS,
        "PaymentCompleted",
        created,
        payment_id="pay-late",
        amount_cents=created.value["total_cents"],
        card_masked="****4242",
        attempts=5,
    )
    wait_status(order, order_id, "PAID")
    feed(conn, INVENTORY_EVENTS, "ReservationExpired", created)
    body = wait_status(order, order_id, "CANCELLED")
    assert [h["to_status"] for h in body["history"]] == ["CREATED", "RESERVED", "PAID", "CANCELLED"]
