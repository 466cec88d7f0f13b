"""The notification rules without a broker: templates, stable ids, masking, fan-out."""

from __future__ import annotations

import pytest

from kafkalab.services.notification.messages import (
    CHANNELS,
    OPTED_OUT,
    UNREACHABLE,
    Profile,
    build_requests,
    mask_email,
    mask_phone,
    notification_id,
    recipient_for,
    skipped_channels,
    template_for,
)

ALICE = Profile(user_id="u-1", email="alice@example.com", name="Alice", phone="+44 7700 901234")


@pytest.mark.parametrize(
    ("to_status", "template"),
    [
        ("CONFIRMED", "order-confirmed"),
        ("PENDING_PAYMENT", "payment-retry"),
        ("CANCELLED", "order-cancelled"),
    ],
)
def test_statuses_that_notify_choose_their_template(to_status: str, template: str) -> None:
    assert template_for(to_status) == template


@pytest.mark.parametrize(
    "to_status", ["CREATED", "RESERVED", "PAID", "PAYMENT_FAILED", "REJECTED", "confirmed", ""]
)
def test_other_statuses_are_silent(to_status: str) -> None:
    assert template_for(to_status) is None


def test_notification_id_is_stable_per_event_and_channel() -> None:
    first = notification_id("event-1", "email")
    assert first == notification_id("event-1", "email")  # a redelivery gets the same id
    assert first != notification_id("event-1", "sms")
    assert first != notification_id("event-2", "email")
    assert len({notification_id("event-1", c) for c in CHANNELS}) == 3


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("alice@example.com", "a***@example.com"),
        ("b@x.org", "b***@x.org"),
        ("  carol.smith+shop@mail.example.co.uk ", "c***@mail.example.co.uk"),
        ("not-an-email", "***"),
        ("@example.com", "***"),
        ("alice@", "***"),
    ],
)
def test_email_keeps_first_letter_and_domain_only(email: str, masked: str) -> None:
    assert mask_email(email) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+44 7700 901234", "+44 ******1234"),
        ("+1 415-555-0100", "+1 ******0100"),
        ("07700 901234", "*******1234"),
        ("+447700901234", "********1234"),  # no separate country group: nothing kept but the tail
        ("1234", "****"),
        ("", "***"),
    ],
)
def test_phone_keeps_country_code_and_last_four(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


def test_no_full_address_survives_masking() -> None:
    email = recipient_for("email", ALICE)
    sms = recipient_for("sms", ALICE)
    assert email is not None and "alice" not in email
    assert sms is not None and "7700" not in sms and "901234" not in sms


def test_push_is_addressed_by_user_id_and_sms_needs_a_phone() -> None:
    assert recipient_for("push", ALICE) == "user:u-1"
    assert recipient_for("sms", Profile("u-2", "bob@example.com", "Bob")) is None
    with pytest.raises(ValueError):
        recipient_for("pigeon", ALICE)


def test_build_requests_fans_out_one_per_channel() -> None:
    requests = build_requests("event-1", "order-1", "order-confirmed", ALICE)
    assert [r.channel for r in requests] == ["email", "sms", "push"]
    assert [r.recipient_masked for r in requests] == [
        "a***@example.com",
        "+44 ******1234",
        "user:u-1",
    ]
    for request in requests:
        assert request.notification_id == notification_id("event-1", request.channel)
        assert request.order_id == "order-1" and request.user_id == "u-1"
        assert request.template == "order-confirmed" and request.user_name == "Alice"
    assert set(requests[0].as_value()) == {
        "notification_id",
        "order_id",
        "user_id",
        "channel",
        "template",
        "recipient_masked",
        "user_name",
    }


def test_a_user_without_phone_gets_no_sms() -> None:
    bob = Profile("u-2", "bob@example.com", "Bob", phone=None)
    assert [r.channel for r in build_requests("e", "o", "payment-retry", bob)] == ["email", "push"]


def test_profile_from_a_user_profile_value() -> None:
    value = {
        "user_id": "u-3",
        "email": "c@example.com",
        "name": "Carol",
        "phone": None,
        "balance_cents": 100,
        "registered_at": 0,
    }
    assert Profile.from_value(value) == Profile("u-3", "c@example.com", "Carol", None)


def test_an_opted_out_channel_is_not_requested_even_with_an_address() -> None:
    no_sms = Profile("u-1", "alice@example.com", "Alice", "+44 7700 901234", frozenset({"sms"}))
    requests = build_requests("e", "o", "order-confirmed", no_sms)
    assert [r.channel for r in requests] == ["email", "push"]
    assert skipped_channels(no_sms) == {"sms": OPTED_OUT}
    assert skipped_channels(Profile("u-2", "b@example.com", "Bob")) == {"sms": UNREACHABLE}
    assert skipped_channels(ALICE) == {}


def test_profile_reads_the_channels_turned_off_from_the_preferences() -> None:
    value = {
        "user_id": "u-3",
        "email": "c@example.com",
        "name": "Carol",
        "phone": "+44 7700 900000",
        "preferences": {
            "channels": {"email": True, "sms": False, "push": False},
            "language": "fr",
            "marketing_consent": False,
        },
    }
    assert Profile.from_value(value).opted_out == {"sms", "push"}
    assert Profile.from_value({**value, "preferences": None}).opted_out == frozenset()
