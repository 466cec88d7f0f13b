"""A user's preferences: which notification channels they want, their language, marketing consent.

Pure values and validation, no Kafka: the user service stores them (store.py), publishes them
(UserPreferencesUpdated on `user-events`, and inside the UserProfile on the compacted `users`
table) and notification reads them from that table to skip the channels a user turned off.

A change is partial: `PUT /users/{id}/preferences {"channels": {"sms": false}}` turns sms off
and leaves everything else as it was, so a client never has to read before it writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kafkalab.catalogue.services import CHANNELS
from kafkalab.services.user.requests import InvalidRequest

_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_FIELDS = ("channels", "language", "marketing_consent")


@dataclass(frozen=True)
class Preferences:
    """The whole set; the defaults are what a user who never chose has: every channel on."""

    email: bool = True
    sms: bool = True
    push: bool = True
    language: str = "en"
    marketing_consent: bool = False

    @property
    def opted_out(self) -> tuple[str, ...]:
        """The channels the user turned off, in CHANNELS order."""
        return tuple(c for c in CHANNELS if not getattr(self, c))

    def as_value(self) -> dict[str, Any]:
        """The Avro `Preferences` record (UserPreferencesUpdated, UserProfile) and the HTTP body."""
        return {
            "channels": {c: bool(getattr(self, c)) for c in CHANNELS},
            "language": self.language,
            "marketing_consent": self.marketing_consent,
        }

    @classmethod
    def from_value(cls, value: dict[str, Any] | None) -> Preferences:
        """The inverse of `as_value`; None (a profile from before preferences) is the defaults."""
        if not value:
            return cls()
        channels = value.get("channels") or {}
        return cls(
            **{c: bool(channels.get(c, True)) for c in CHANNELS},
            language=str(value.get("language") or "en"),
            marketing_consent=bool(value.get("marketing_consent", False)),
        )

    def changed(self, change: PreferencesChange) -> Preferences:
        """These preferences with `change` applied (fields it leaves out keep their value)."""
        return Preferences(
            email=change.channels.get("email", self.email),
            sms=change.channels.get("sms", self.sms),
            push=change.channels.get("push", self.push),
            language=self.language if change.language is None else change.language,
            marketing_consent=(
                self.marketing_consent
                if change.marketing_consent is None
                else change.marketing_consent
            ),
        )


@dataclass(frozen=True)
class PreferencesChange:
    """What a PUT asks to change; None (or a channel left out) means "leave it as it is"."""

    channels: dict[str, bool]
    language: str | None = None
    marketing_consent: bool | None = None


def parse_change(body: Any) -> PreferencesChange:
    """The change in `body` (`{channels?: {email?, sms?, push?}, language?, marketing_consent?}`),
    or InvalidRequest with one sentence naming what is wrong."""
    if not isinstance(body, dict) or not body:
        raise InvalidRequest(
            "the body must be a JSON object with channels, language or marketing_consent"
        )
    unknown = sorted(set(body) - set(_FIELDS))
    if unknown:
        raise InvalidRequest(
            f"unknown field{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)} "
            f"(known: {', '.join(_FIELDS)})"
        )
    channels = body.get("channels", {})
    if not isinstance(channels, dict):
        raise InvalidRequest('channels must be an object such as {"sms": false}')
    strange = sorted(set(channels) - set(CHANNELS))
    if strange:
        raise InvalidRequest(f"unknown channel {strange[0]!r} (channels are {', '.join(CHANNELS)})")
    for name, wanted in channels.items():
        if not isinstance(wanted, bool):
            raise InvalidRequest(f"channels.{name} must be true or false")
    language = body.get("language")
    if language is not None and (not isinstance(language, str) or not _LANGUAGE.match(language)):
        raise InvalidRequest(f"language {language!r} is not a language tag such as en or pt-BR")
    consent = body.get("marketing_consent")
    if consent is not None and not isinstance(consent, bool):
        raise InvalidRequest("marketing_consent must be true or false")
    return PreferencesChange(dict(channels), language, consent)
