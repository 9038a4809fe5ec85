"""Fixtures of the otter-grpc tests: a sending node on a free loopback port, and a throwaway CA."""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from pathlib import Path

import pytest

from otter_core.spi import NodeContext


@pytest.fixture
def node(tmp_path) -> NodeContext:
    """A sending node on a free loopback port with its own token."""
    return NodeContext(
        node_id="sender", auth_token=secrets.token_hex(16), spool_dir=str(tmp_path / "spool-sender")
    )


def _write_cert(
    folder: Path, name: str, subject: str, issuer_key, issuer_name, key, *, ca: bool, sans=()
) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)
    subject_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name)
        .issuer_name(issuer_name or subject_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="session")
def certs(tmp_path_factory) -> dict[str, Path]:
    """A CA, a node certificate it signs (valid for 127.0.0.1 and localhost), and a certificate from
    another CA (a stranger)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("certs")
    sans = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert, _ = _write_cert(folder, "ca", "otter test CA", None, None, ca_key, ca=True)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "otter test CA")])
    node_cert, node_key = _write_cert(
        folder, "node", "node", ca_key, ca_name, ec.generate_private_key(ec.SECP256R1()), ca=False, sans=sans
    )
    other_ca_key = ec.generate_private_key(ec.SECP256R1())
    other_ca, _ = _write_cert(folder, "other-ca", "stranger CA", None, None, other_ca_key, ca=True)
    other_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stranger CA")])
    stranger_cert, stranger_key = _write_cert(
        folder,
        "stranger",
        "stranger",
        other_ca_key,
        other_name,
        ec.generate_private_key(ec.SECP256R1()),
        ca=False,
        sans=sans,
    )
    return {
        "ca": ca_cert,
        "cert": node_cert,
        "key": node_key,
        "other_ca": other_ca,
        "stranger_cert": stranger_cert,
        "stranger_key": stranger_key,
    }
