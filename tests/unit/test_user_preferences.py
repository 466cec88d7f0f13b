"""Preferences without a broker: what a PUT may say, how a change merges, where it is kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kafkalab.services.user.preferences import Preferences, parse_change
from kafkalab.services.user.requests import InvalidRequest
from kafkalab.services.user.store import UserRecord, UserStore


def test_a_user_who_never_chose_has_every_channel_on() -> None:
    assert Preferences.from_value(None).as_value() == {
        "channels": {"email": True, "sms": True, "push": True},
        "language": "en",
        "marketing_consent": False,
    }
    assert Preferences().opted_out == ()


def test_a_change_touches_only_what_it_names() -> None:
    before = Preferences(push=False, language="fr")
    after = before.changed(parse_change({"channels": {"sms": False}}))
    assert after == Preferences(sms=False, push=False, language="fr")
    assert after.opted_out == ("sms", "push")
    again = after.changed(parse_change({"language": "pt-BR", "marketing_consent": True}))
    assert again == Preferences(sms=False, push=False, language="pt-BR", marketing_consent=True)
    assert Preferences.from_value(again.as_value()) == again


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "the body must be a JSON object with channels, language or marketing_consent"),
        ({}, "the body must be a JSON object with channels, language or marketing_consent"),
        ({"sms": False}, "unknown field: sms (known: channels, language, marketing_consent)"),
        ({"channels": ["sms"]}, 'channels must be an object such as {"sms": false}'),
        ({"channels": {"fax": False}}, "unknown channel 'fax' (channels are email, sms, push)"),
        ({"channels": {"sms": "no"}}, "channels.sms must be true or false"),
        ({"language": "English"}, "language 'English' is not a language tag such as en or pt-BR"),
        ({"marketing_consent": 1}, "marketing_consent must be true or false"),
    ],
)
def test_bad_changes_are_refused_in_one_sentence(body: Any, message: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_change(body)
    assert str(refused.value) == message


def test_preferences_are_kept_beside_the_accounts_and_seen_by_another_replica(
    tmp_path: Path,
) -> None:
    path = tmp_path / "accounts.jsonl"
    first, second = UserStore(path), UserStore(path)
    first.add(UserRecord("u1", "ada@example.com", "Ada", None, 100, 0, "scrypt$hash"))
    published: list[dict[str, Any]] = []
    new = Preferences(sms=False).as_value()
    assert first.update_preferences("u1", lambda current: new, published.append) == new
    assert published == [new]  # published before it was stored
    assert second.preferences("u1") == new and second.by_id("u1") is not None
    assert UserStore(path).preferences("u1") == new  # survives a restart
    assert second.preferences("u2") is None


def test_a_change_kafka_did_not_take_is_not_stored(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "accounts.jsonl")

    def refuse(value: dict[str, Any]) -> None:
        raise RuntimeError("no acknowledgement")

    with pytest.raises(RuntimeError):
        store.update_preferences("u1", lambda current: Preferences(sms=False).as_value(), refuse)
    assert store.preferences("u1") is None
    assert UserStore(tmp_path / "accounts.jsonl").preferences("u1") is None
