"""What the notification service says, to whom, and how it hides the address: pure functions.

Nothing here touches Kafka, so the rules (which status changes notify, which channels a user is
sent on, how a notification id is derived, how an address is masked) are unit-tested on their
own.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from kafkalab.catalogue.services import CHANNELS, TEMPLATES

# Fixed namespace: the same (event, channel) gives the same id in every process, forever.
_ID_NAMESPACE = uuid.UUID("6f1c2a8e-4b1d-5e7a-9c3f-0d2b8e6a4f10")


@dataclass(frozen=True)
class Profile:
    """The part of a UserProfile (from the compacted `users` topic) a notification needs."""

    user_id: str
    email: str
    name: str
    phone: str | None = None
    opted_out: frozenset[str] = frozenset()
    """Channels the user turned off (their preferences, PUT /users/{id}/preferences)."""

    @classmethod
    def from_value(cls, value: dict[str, Any]) -> Profile:
        """A UserProfile's fields; a profile without preferences (null, or one written before
        they existed) has every channel on."""
        channels = (value.get("preferences") or {}).get("channels") or {}
        return cls(
            user_id=str(value["user_id"]),
            email=str(value["email"]),
            name=str(value["name"]),
            phone=value.get("phone"),
            opted_out=frozenset(c for c in CHANNELS if channels.get(c) is False),
        )


@dataclass(frozen=True)
class NotificationRequest:
    """One message for one channel: the value of a NotificationRequested event (without the
    envelope fields event_id/occurred_at, which the runtime adds)."""

    notification_id: str
    order_id: str
    user_id: str
    channel: str
    template: str
    recipient_masked: str
    user_name: str

    def as_value(self) -> dict[str, Any]:
        return {
            "notification_id": self.notification_id,
            "order_id": self.order_id,
            "user_id": self.user_id,
            "channel": self.channel,
            "template": self.template,
            "recipient_masked": self.recipient_masked,
            "user_name": self.user_name,
        }


def template_for(to_status: str) -> str | None:
    """The template a transition to `to_status` sends, or None when it sends nothing."""
    return TEMPLATES.get(to_status)


def notification_id(event_id: str, channel: str) -> str:
    """A stable id for "this event, on this channel" (UUIDv5).

    A redelivered OrderStatusChanged carries the same event_id, so it yields the same ids:
    that is what lets a channel worker recognise a notification it already delivered.
    """
    return str(uuid.uuid5(_ID_NAMESPACE, f"{event_id}/{channel}"))


def mask_email(email: str) -> str:
    """First character of the local part, then `***`: "alice@example.com" → "a***@example.com".

    The domain stays readable (it says which provider bounced); anything without an "@" is
    masked entirely rather than guessed at.
    """
    local, at, domain = email.strip().partition("@")
    if not at or not local or not domain:
        return "***"
    return f"{local[0]}***@{domain}"


def mask_phone(phone: str) -> str:
    """Country code and last four digits only: "+44 7700 901234" → "+44 ******1234".

    The country code is kept when the number starts with "+" and the code is written as its
    own group (1-3 digits); every other digit but the last four becomes "*". Numbers with
    four digits or fewer are masked entirely.
    """
    text = phone.strip()
    groups = re.findall(r"\d+", text)
    digits = "".join(groups)
    if len(digits) <= 4:
        return "*" * len(digits) if digits else "***"
    prefix = ""
    if text.startswith("+") and len(groups) > 1 and len(groups[0]) <= 3:
        prefix = f"+{groups[0]} "
        digits = digits[len(groups[0]) :]
        if len(digits) <= 4:
            return prefix + "*" * len(digits)
    return prefix + "*" * (len(digits) - 4) + digits[-4:]


def recipient_for(channel: str, profile: Profile) -> str | None:
    """The masked address of `profile` on `channel`, or None when the user cannot be reached
    there (no phone number for sms). Push goes to the user's devices, addressed by user id."""
    if channel == "email":
        return mask_email(profile.email)
    if channel == "sms":
        return mask_phone(profile.phone) if profile.phone else None
    if channel == "push":
        return f"user:{profile.user_id}"
    raise ValueError(f"unknown channel {channel!r}")


OPTED_OUT = "opted_out"
UNREACHABLE = "unreachable"


def skipped_channels(profile: Profile) -> dict[str, str]:
    """The channels `build_requests` leaves out for `profile`, each with why: OPTED_OUT (the
    user's choice wins, even with an address) or UNREACHABLE (no address, e.g. no phone)."""
    skipped = {}
    for channel in CHANNELS:
        if channel in profile.opted_out:
            skipped[channel] = OPTED_OUT
        elif recipient_for(channel, profile) is None:
            skipped[channel] = UNREACHABLE
    return skipped


def build_requests(
    event_id: str, order_id: str, template: str, profile: Profile
) -> list[NotificationRequest]:
    """One request per channel the user wants and can be reached on (in CHANNELS order)."""
    requests = []
    for channel in CHANNELS:
        recipient = None if channel in profile.opted_out else recipient_for(channel, profile)
        if recipient is None:
            continue
        requests.append(
            NotificationRequest(
                notification_id=notification_id(event_id, channel),
                order_id=order_id,
                user_id=profile.user_id,
                channel=channel,
                template=template,
                recipient_masked=recipient,
                user_name=profile.name,
            )
        )
    return requests
