"""The secure mode's generated material: a CA that really signed the broker certificate, SANs
the clients check, 0600 files, and no key replaced on a second run."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from kafkalab.catalogue.services import LEARNER_SERVICES, SERVICES
from kafkalab.security import material
from kafkalab.settings import load_settings


def test_broker_certificate_is_signed_by_the_ca_for_loopback(tmp_path: Path) -> None:
    files = material.ensure_material(load_settings(data_dir=tmp_path))
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    pem = files.broker_keystore.read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8, as Kafka wants
    broker = x509.load_pem_x509_certificates(pem)[0]
    broker.verify_directly_issued_by(ca)  # raises if the CA did not sign it
    sans = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_a_foreign_ca_does_not_verify_the_broker(tmp_path: Path) -> None:
    files = material.ensure_material(load_settings(data_dir=tmp_path))
    broker = x509.load_pem_x509_certificates(files.broker_keystore.read_bytes())[0]
    _, other_ca = material.make_ca()
    try:
        broker.verify_directly_issued_by(other_ca)
    except (ValueError, Exception) as exc:  # InvalidSignature
        assert exc is not None
    else:
        raise AssertionError("a CA that never signed the certificate verified it")


def test_every_secret_is_0600_in_a_0700_folder(tmp_path: Path) -> None:
    files = material.ensure_material(load_settings(data_dir=tmp_path))
    assert stat.S_IMODE(files.folder.stat().st_mode) == 0o700
    secrets = list(files.folder.iterdir())
    assert len(secrets) >= 7
    for path in secrets:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_one_password_per_service_and_admin_kept_across_runs(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    files = material.ensure_material(settings)
    first = material.read_passwords(files)
    ca_before = files.ca_cert.read_bytes()
    assert set(first) == {"admin", *SERVICES, *LEARNER_SERVICES}  # refund: `up --with refund`
    assert len(set(first.values())) == len(first)  # no shared passwords
    material.ensure_material(settings, extra_principals=("rogue",))
    second = material.read_passwords(files)
    assert {k: second[k] for k in first} == first
    assert "rogue" in second
    assert files.ca_cert.read_bytes() == ca_before


def test_make_ca_key_is_ec(tmp_path: Path) -> None:
    key, cert = material.make_ca()
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert cert.subject == cert.issuer


def test_client_certificate_is_for_client_auth_from_the_ca(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    cert_file, key_file = material.client_certificate(settings, "dashboard")
    files = material.SecurityFiles.of(settings)
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    cert.verify_directly_issued_by(ca)
    # The RFC 2253/4514 form Kafka's ssl.principal.mapping.rules match against.
    assert cert.subject.rfc4514_string() == "CN=dashboard,OU=kafkalab"
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert key_file.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    for path in (cert_file, key_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = material.client_certificate(settings, "dashboard")
    assert again == (cert_file, key_file)
    assert x509.load_pem_x509_certificate(cert_file.read_bytes()) == cert  # issued once
