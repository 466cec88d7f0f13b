"""Field encryption for sensitive values inside events: `enc:v1:<base64>` strings.

Sealed for one reader: the writer holds only the reader's X25519 *public* key, derives a fresh
AES-256-GCM key per value (ephemeral X25519 + HKDF-SHA256) and encrypts with it. So order can
seal a card number for payment but cannot open what is on the topic; only the holder of the
private key (payment for `card`, notification for `contact`) can. GCM authenticates the
ciphertext and the associated data (purpose + the record it belongs to, e.g. the order id), so
a flipped bit or a ciphertext moved to another order fails to open instead of decrypting to
garbage.

Layout after the prefix: ephemeral public key (32) ‖ nonce (12) ‖ ciphertext+tag.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kafkalab.errors import KafkalabError
from kafkalab.security.material import SecurityFiles, SecurityMaterialMissing
from kafkalab.settings import Settings

PREFIX = "enc:v1:"
_RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw


class FieldUnreadable(KafkalabError):
    """A sealed field that does not open: tampered, moved, truncated or sealed for another key."""

    hint = "the value was altered on the way, or sealed with another data dir's key"


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


def _key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"kafkalab-field" + ephemeral + recipient,
    ).derive(shared)


def _aad(purpose: str, binding: str) -> bytes:
    return f"{purpose}:{binding}".encode()


def seal(recipient: X25519PublicKey, plaintext: str, purpose: str, binding: str) -> str:
    """`plaintext` encrypted for `recipient`, bound to `purpose` and `binding` (a record id)."""
    ephemeral = X25519PrivateKey.generate()
    eph_pub = ephemeral.public_key().public_bytes(*_RAW)
    key = _key(ephemeral.exchange(recipient), eph_pub, recipient.public_bytes(*_RAW))
    nonce = os.urandom(12)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext.encode(), _aad(purpose, binding))
    return PREFIX + base64.b64encode(eph_pub + nonce + ciphertext).decode()


def open_sealed(private: X25519PrivateKey, sealed: str, purpose: str, binding: str) -> str:
    """The plaintext of `sealed`, or FieldUnreadable (never a partial or wrong value)."""
    if not is_sealed(sealed):
        raise FieldUnreadable(f"the {purpose} field is not sealed ({PREFIX}… expected)")
    try:
        raw = base64.b64decode(sealed[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise FieldUnreadable(f"the sealed {purpose} field is not valid base64") from exc
    if len(raw) < 32 + 12 + 16:
        raise FieldUnreadable(f"the sealed {purpose} field is truncated")
    eph_pub, nonce, ciphertext = raw[:32], raw[32:44], raw[44:]
    own = private.public_key().public_bytes(*_RAW)
    key = _key(private.exchange(X25519PublicKey.from_public_bytes(eph_pub)), eph_pub, own)
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, _aad(purpose, binding)).decode()
    except InvalidTag as exc:
        raise FieldUnreadable(
            f"the sealed {purpose} field failed authentication (tampered or not for this record)"
        ) from exc


def sealer(settings: Settings, purpose: str) -> X25519PublicKey | None:
    """The public key to seal `purpose` fields with, or None outside secure mode (no material)."""
    path = SecurityFiles.of(settings).public_key(purpose)
    if not path.exists():
        return None
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, X25519PublicKey):
        raise SecurityMaterialMissing(f"{path} is not an X25519 public key")
    return key


def opener(settings: Settings, purpose: str) -> X25519PrivateKey | None:
    """The private key that opens `purpose` fields (only its one reader loads it)."""
    path = SecurityFiles.of(settings).private_key(purpose)
    if not path.exists():
        return None
    key = serialization.load_pem_private_key(path.read_bytes(), None)
    if not isinstance(key, X25519PrivateKey):
        raise SecurityMaterialMissing(f"{path} is not an X25519 private key")
    return key
