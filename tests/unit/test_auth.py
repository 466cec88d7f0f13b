"""Password hashing and signed tokens (kafkalab.services.auth)."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from kafkalab.services.auth import (
    InvalidToken,
    TokenClaims,
    TokenSigner,
    bearer_token,
    hash_password,
    token_key,
    verify_password,
)
from kafkalab.settings import load_settings

KEY = b"k" * 32
NOW = 1_700_000_000_000


def test_hash_verifies_the_right_password_only() -> None:
    stored = hash_password("correct horse battery")
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)
    assert not verify_password("", stored)


def test_hash_is_salted_and_hides_the_password() -> None:
    first, second = hash_password("same password"), hash_password("same password")
    assert first != second  # a fresh salt each time
    assert "same password" not in first
    assert first.startswith("scrypt$16384$8$1$")


def test_malformed_hash_is_refused_not_raised() -> None:
    for stored in ("", "plain", "md5$1$2$3$aa$bb", "scrypt$x$8$1$aa$bb", "scrypt$16384$8$1$!!$bb"):
        assert not verify_password("anything", stored)


def test_token_round_trip() -> None:
    signer = TokenSigner(KEY, ttl_seconds=60)
    token, expires_at = signer.issue("user-1", now_ms=NOW)
    assert expires_at == NOW + 60_000
    assert signer.verify(token, now_ms=NOW + 59_999) == TokenClaims("user-1", expires_at)


def test_expired_token_is_refused() -> None:
    signer = TokenSigner(KEY, ttl_seconds=60)
    token, expires_at = signer.issue("user-1", now_ms=NOW)
    with pytest.raises(InvalidToken, match="expired"):
        signer.verify(token, now_ms=expires_at)


def test_tampered_payload_is_refused() -> None:
    signer = TokenSigner(KEY)
    token, _ = signer.issue("user-1", now_ms=NOW)
    body, signature = token.split(".")
    forged = json.dumps({"exp": NOW + 10**9, "user_id": "admin"}, separators=(",", ":"))
    forged_body = base64.urlsafe_b64encode(forged.encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken, match="signature"):
        signer.verify(f"{forged_body}.{signature}", now_ms=NOW)


def test_tampered_signature_and_other_keys_are_refused() -> None:
    token, _ = TokenSigner(KEY).issue("user-1", now_ms=NOW)
    body, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    with pytest.raises(InvalidToken):
        TokenSigner(KEY).verify(f"{body}.{flipped}", now_ms=NOW)
    with pytest.raises(InvalidToken, match="signature"):
        TokenSigner(b"x" * 32).verify(token, now_ms=NOW)


@pytest.mark.parametrize("token", ["", "no-dot", ".", "abc.", ".abc", "a.b.c", "é.é"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidToken):
        TokenSigner(KEY).verify(token, now_ms=NOW)


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError):
        TokenSigner(b"short")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"authorization": "Bearer abc.def"}, "abc.def"),
        ({"authorization": "bearer   abc.def  "}, "abc.def"),
        ({"authorization": "Basic abc"}, None),
        ({"authorization": "Bearer"}, None),
        ({"authorization": "Bearer "}, None),
        ({}, None),
    ],
)
def test_bearer_token(headers: dict[str, str], expected: str | None) -> None:
    assert bearer_token(headers) == expected


def test_key_file_is_created_once_private_and_reused(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    key = token_key(settings)
    path = tmp_path / "secrets" / "token-key"
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert token_key(settings) == key  # a second service reads the same key
    assert [p.name for p in path.parent.iterdir()] == ["token-key"]  # no temp file left


def test_configured_secret_wins_and_no_file_is_written(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, token_secret="a configured secret of 32 bytes!")
    assert token_key(settings) == b"a configured secret of 32 bytes!"
    assert not (tmp_path / "secrets").exists()


def test_tokens_from_one_service_verify_in_another(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    token, _ = TokenSigner(token_key(settings)).issue("user-7")
    assert TokenSigner(token_key(settings)).verify(token).user_id == "user-7"
