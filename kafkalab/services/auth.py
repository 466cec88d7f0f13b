"""Passwords and login tokens, shared by the user service (issues) and the order service (checks).

Passwords are stored as salted scrypt hashes (a memory-hard KDF: a stolen table is expensive to
brute-force) and compared in constant time. A token is a small signed JSON payload
`{"user_id", "exp"}` — base64url(payload) + "." + base64url(HMAC-SHA256(payload)) — so the order
service can authenticate a request with the shared key alone, without calling the user service.

Neither passwords nor tokens are ever logged by this module; callers must not log them either.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from kafkalab.settings import Settings

log = logging.getLogger(__name__)

TOKEN_TTL_SECONDS = 3600
"""How long a login token is valid."""

KEY_BYTES = 32

# scrypt cost: 2^14 × 8 × 128 B = 16 MiB and ~50 ms per hash — OWASP's minimum, kept there so
# that load tests which register many users still fit a 2-core laptop.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_SALT_BYTES = 16
_HASH_BYTES = 32


# -- passwords ------------------------------------------------------------------------------------


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A self-describing hash string `scrypt$n$r$p$salt$hash` with a fresh random salt.

    The parameters travel with the hash, so the cost can be raised later without breaking
    existing accounts.
    """
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return "$".join(
        ["scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), _b64(salt), _b64(digest)]
    )


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches `stored` (constant-time compare); False for a malformed hash."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
        return hmac.compare_digest(digest, _unb64(expected))
    except (ValueError, binascii.Error):
        return False


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not a real password", salt=b"\x00" * _SALT_BYTES)


def burn_verify(password: str) -> None:
    """Spend the time a real verification costs: used for unknown emails, so response time
    does not tell an attacker which emails have an account."""
    verify_password(password, _dummy_hash())


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=_HASH_BYTES
    )


# -- tokens ---------------------------------------------------------------------------------------


class InvalidToken(Exception):
    """The token is malformed, was not signed with our key, or has expired."""


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says: who, and until when (epoch milliseconds)."""

    user_id: str
    expires_at: int


class TokenSigner:
    """Issues and verifies HMAC-SHA256 signed tokens with one key."""

    def __init__(self, key: bytes, ttl_seconds: float = TOKEN_TTL_SECONDS) -> None:
        if len(key) < 16:
            raise ValueError("the token key must be at least 16 bytes")
        self._key = key
        self.ttl_ms = int(ttl_seconds * 1000)

    def issue(self, user_id: str, now_ms: int | None = None) -> tuple[str, int]:
        """A token for `user_id` and its expiry (epoch ms)."""
        now = now_ms if now_ms is not None else _now_ms()
        expires_at = now + self.ttl_ms
        payload = json.dumps(
            {"exp": expires_at, "user_id": user_id}, separators=(",", ":"), sort_keys=True
        ).encode()
        body = _b64(payload)
        return f"{body}.{self._sign(body)}", expires_at

    def verify(self, token: str, now_ms: int | None = None) -> TokenClaims:
        """The claims of `token`; raises InvalidToken when forged, tampered with or expired.

        The signature is checked (in constant time) before the payload is even parsed, so a
        forged payload never reaches the JSON decoder.
        """
        body, dot, signature = token.partition(".")
        if not dot or not body or not signature:
            raise InvalidToken("malformed token")
        if not token.isascii() or not hmac.compare_digest(self._sign(body), signature):
            raise InvalidToken("bad signature")
        try:
            payload = json.loads(_unb64(body))
            user_id, expires_at = payload["user_id"], payload["exp"]
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise InvalidToken("malformed payload") from exc
        if not isinstance(user_id, str) or not isinstance(expires_at, int):
            raise InvalidToken("malformed payload")
        now = now_ms if now_ms is not None else _now_ms()
        if now >= expires_at:
            raise InvalidToken("token expired")
        return TokenClaims(user_id, expires_at)

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())


class NotLoggedIn(InvalidToken):
    """The request carries no `Authorization: Bearer <token>` header at all."""


def authenticated_user(signer: TokenSigner, headers: dict[str, str]) -> str:
    """The user id the request's bearer token was issued to (headers keyed in lower case).

    Raises NotLoggedIn without a token, InvalidToken for a forged, tampered or expired one.
    """
    token = bearer_token(headers)
    if token is None:
        raise NotLoggedIn("no bearer token")
    return signer.verify(token).user_id


def bearer_token(headers: dict[str, str]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (headers keyed in lower case)."""
    scheme, _, token = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


# -- the key --------------------------------------------------------------------------------------


def token_key(settings: Settings) -> bytes:
    """The signing key: `settings.token_secret` when set, else a random key kept in
    `<data_dir>/secrets/token-key` (0600, folder 0700), created once and shared by every
    service on this machine — user signs with it, order verifies with it.

    Creation is race-free across processes: the key is written to a private temporary file
    and hard-linked into place, so two services starting together agree on one key.
    """
    if settings.token_secret:
        return settings.token_secret.encode()
    folder = settings.data_dir / "secrets"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    path = folder / "token-key"
    if not path.exists():
        _create_key_file(path)
    text = path.read_text().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError as exc:
        raise ValueError(f"{path} is not a hex key; delete it to have a new one made") from exc
    if len(key) < 16:
        raise ValueError(f"{path} holds a key shorter than 16 bytes; delete it")
    return key


def _create_key_file(path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(KEY_BYTES) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
            log.info("created a new token signing key", extra={"fields": {"path": str(path)}})
        except FileExistsError:
            pass  # another service made it first: use theirs
    finally:
        tmp.unlink(missing_ok=True)


# -- helpers --------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _now_ms() -> int:
    return int(time.time() * 1000)
