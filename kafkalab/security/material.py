"""Generate and find the secure mode's material: a local CA, the broker certificate, the SCRAM
passwords and the field-encryption key pairs, all under `<data dir>/security/`.

Why generated here and not shipped: a key in the repo is a key everybody has. Each data dir gets
its own CA on the first secure start; `cluster reset` deletes it with the data.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kafkalab.catalogue.services import LEARNER_SERVICES, SERVICES
from kafkalab.errors import KafkalabError
from kafkalab.settings import Settings

ADMIN = "admin"
"""The super user: the brokers talk to each other as admin, and kafkalab's own tools use it."""

PRINCIPALS: tuple[str, ...] = (ADMIN, *SERVICES, *LEARNER_SERVICES)
FIELD_KEYS = ("card", "contact")
"""card: sealed by order, opened only by payment. contact: sealed by user, opened by notification."""

CERT_DAYS = 825
CLIENT_OU = "kafkalab"
"""The OU of the client certificates kafkalab issues (the mTLS listener's mapping rule wants it)."""


class SecurityMaterialMissing(KafkalabError):
    hint = "start the cluster with `kafkalab cluster up --secure` to generate it"


@dataclass(frozen=True)
class SecurityFiles:
    """Where one data dir keeps its secure-mode material."""

    folder: Path

    @classmethod
    def of(cls, settings: Settings) -> SecurityFiles:
        return cls(settings.data_dir / "security")

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca-key.pem"

    @property
    def broker_keystore(self) -> Path:
        """PKCS#8 key + certificate chain in one PEM file: what Kafka's PEM keystore reads."""
        return self.folder / "broker.pem"

    @property
    def passwords(self) -> Path:
        return self.folder / "passwords.json"

    def client_cert(self, name: str) -> Path:
        """The certificate (and CA chain) a client presents on the mTLS listener as `name`."""
        return self.folder / f"client-{name}.pem"

    def client_key(self, name: str) -> Path:
        return self.folder / f"client-{name}-key.pem"

    def private_key(self, purpose: str) -> Path:
        return self.folder / f"{purpose}-field.key"

    def public_key(self, purpose: str) -> Path:
        return self.folder / f"{purpose}-field.pub"


def write_secret(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600 from the start (no window where it is world-readable)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def ensure_material(settings: Settings, extra_principals: tuple[str, ...] = ()) -> SecurityFiles:
    """Create whatever material is missing (idempotent: existing keys are never replaced)."""
    files = SecurityFiles.of(settings)
    files.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(files.folder, 0o700)
    if not files.ca_cert.exists() or not files.ca_key.exists():
        ca_key, ca_cert = make_ca()
        write_secret(files.ca_key, _pkcs8(ca_key))
        write_secret(files.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM))
    if not files.broker_keystore.exists():
        loaded = serialization.load_pem_private_key(files.ca_key.read_bytes(), None)
        ca_cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise SecurityMaterialMissing(f"{files.ca_key} is not kafkalab's EC CA key")
        key, cert = make_server_cert(loaded, ca_cert, settings.host)
        chain = cert.public_bytes(serialization.Encoding.PEM) + files.ca_cert.read_bytes()
        write_secret(files.broker_keystore, _pkcs8(key) + chain)
    passwords = read_passwords(files) if files.passwords.exists() else {}
    wanted = (*PRINCIPALS, *extra_principals)
    if any(name not in passwords for name in wanted):
        for name in wanted:
            passwords.setdefault(name, secrets.token_urlsafe(24))
        write_secret(files.passwords, (json.dumps(passwords, indent=2) + "\n").encode())
    for purpose in FIELD_KEYS:
        if not files.private_key(purpose).exists():
            private = x25519.X25519PrivateKey.generate()
            write_secret(files.private_key(purpose), _pkcs8(private))
            write_secret(
                files.public_key(purpose),
                private.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                ),
            )
    return files


def client_certificate(settings: Settings, name: str) -> tuple[Path, Path]:
    """A client certificate from the data dir's CA for `name` (subject `CN=name,OU=kafkalab`,
    which the mTLS listener's mapping rule turns into User:name), issued once and kept:
    (certificate file, key file), both 0600."""
    files = ensure_material(settings)
    cert_file, key_file = files.client_cert(name), files.client_key(name)
    if not cert_file.exists() or not key_file.exists():
        ca_key = serialization.load_pem_private_key(files.ca_key.read_bytes(), None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise SecurityMaterialMissing(f"{files.ca_key} is not kafkalab's EC CA key")
        ca_cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
        key, cert = make_client_cert(ca_key, ca_cert, name)
        write_secret(key_file, _pkcs8(key))
        write_secret(cert_file, cert.public_bytes(serialization.Encoding.PEM))
    return cert_file, key_file


def read_passwords(files: SecurityFiles) -> dict[str, str]:
    try:
        raw = json.loads(files.passwords.read_text())
    except FileNotFoundError as exc:
        raise SecurityMaterialMissing(f"no SCRAM passwords in {files.folder}") from exc
    return {str(k): str(v) for k, v in raw.items()}


def password(settings: Settings, principal: str) -> str:
    """The SCRAM password of `principal`, read from the data dir (never from env or flags)."""
    files = SecurityFiles.of(settings)
    found = read_passwords(files).get(principal)
    if found is None:
        raise SecurityMaterialMissing(f"no SCRAM password for {principal!r} in {files.passwords}")
    return found


def make_ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA certificate (P-256) that signs only end-entity certificates (the
    broker's, and clients' for mutual TLS): path length 0."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kafkalab local CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_server_cert(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, host: str
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The brokers' certificate, valid for `host`, localhost and 127.0.0.1 (clients verify SANs)."""
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    addresses = {"127.0.0.1", host} if _is_ip(host) else {"127.0.0.1"}
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in sorted(addresses)]
    if not _is_ip(host) and host != "localhost":
        names.append(x509.DNSName(host))
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kafkalab broker")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def make_client_cert(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, name: str
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A certificate for TLS client authentication only, subject `CN=name,OU=kafkalab`."""
    key = ec.generate_private_key(ec.SECP256R1())
    # x509.Name lists the attributes in ASN.1 order; Kafka reads the subject in RFC 2253 form,
    # which reverses it: CN=name,OU=kafkalab.
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, CLIENT_OU),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _pkcs8(key: ec.EllipticCurvePrivateKey | x25519.X25519PrivateKey) -> bytes:
    """PKCS#8 (`BEGIN PRIVATE KEY`), the only private-key form Kafka's PEM keystore accepts."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
