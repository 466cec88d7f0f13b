"""Field encryption: round trip, and every kind of tampering is detected, never mis-decrypted."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from kafkalab.security import fields, material
from kafkalab.settings import load_settings

CARD = "4242424242424242"


@pytest.fixture
def key() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def test_round_trip_and_the_plaintext_is_not_in_the_ciphertext(key: X25519PrivateKey) -> None:
    sealed = fields.seal(key.public_key(), CARD, "card", "order-1")
    assert sealed.startswith("enc:v1:")
    assert CARD not in sealed and CARD not in base64.b64decode(sealed[7:]).decode("latin-1")
    assert fields.open_sealed(key, sealed, "card", "order-1") == CARD


def test_same_value_seals_differently_each_time(key: X25519PrivateKey) -> None:
    assert fields.seal(key.public_key(), CARD, "card", "o") != fields.seal(
        key.public_key(), CARD, "card", "o"
    )


@pytest.mark.parametrize("position", [0, 31, 40, 50, -1])
def test_a_flipped_bit_anywhere_fails_to_open(key: X25519PrivateKey, position: int) -> None:
    raw = bytearray(base64.b64decode(fields.seal(key.public_key(), CARD, "card", "o")[7:]))
    raw[position] ^= 0x01
    with pytest.raises(fields.FieldUnreadable):
        fields.open_sealed(key, "enc:v1:" + base64.b64encode(bytes(raw)).decode(), "card", "o")


def test_moved_to_another_order_or_purpose_fails(key: X25519PrivateKey) -> None:
    sealed = fields.seal(key.public_key(), CARD, "card", "order-1")
    with pytest.raises(fields.FieldUnreadable):
        fields.open_sealed(key, sealed, "card", "order-2")
    with pytest.raises(fields.FieldUnreadable):
        fields.open_sealed(key, sealed, "contact", "order-1")


def test_another_key_cannot_open_it(key: X25519PrivateKey) -> None:
    sealed = fields.seal(key.public_key(), CARD, "card", "o")
    with pytest.raises(fields.FieldUnreadable):
        fields.open_sealed(X25519PrivateKey.generate(), sealed, "card", "o")


@pytest.mark.parametrize(
    "bad", ["4242", "enc:v1:!!!", "enc:v1:" + base64.b64encode(b"x" * 20).decode()]
)
def test_garbage_is_refused(key: X25519PrivateKey, bad: str) -> None:
    with pytest.raises(fields.FieldUnreadable):
        fields.open_sealed(key, bad, "card", "o")


def test_keys_from_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert fields.sealer(settings, "card") is None  # plain mode: nothing to seal with
    material.ensure_material(settings)
    public, private = fields.sealer(settings, "card"), fields.opener(settings, "card")
    assert public is not None and private is not None
    assert fields.open_sealed(private, fields.seal(public, CARD, "card", "o"), "card", "o") == CARD
    other = fields.opener(settings, "contact")
    assert other is not None
    with pytest.raises(fields.FieldUnreadable):
        fields.open_sealed(other, fields.seal(public, CARD, "card", "o"), "card", "o")
