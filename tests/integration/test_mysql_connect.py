"""``otter_mysql.mysql_connect``: one TLS context for PyMySQL's preferred mode, and TLS still used when offered."""

import ssl
import subprocess

import pytest

from otter_core.testing.mariadb import OTTER_PASSWORD, OTTER_USER, MariaDBServer
from otter_mysql import mysql_connect


def _cipher(conn) -> str:
    with conn.cursor() as cur:
        cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        return cur.fetchone()[1]


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """A MariaDB that offers TLS with a self-signed certificate."""
    base = tmp_path_factory.mktemp("tls")
    cert, key = base / "server.crt", base / "server.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    server = MariaDBServer(base / "db", log_bin=False, ssl_cert=cert, ssl_key=key).start()
    server.cert = str(cert)
    yield server
    server.destroy()


def _plain(server):
    return mysql_connect.connect(host="127.0.0.1", port=server.port, user=OTTER_USER, password=OTTER_PASSWORD)


def test_connections_without_tls_options_share_one_context(mariadb_source):
    first, second = _plain(mariadb_source), _plain(mariadb_source)
    try:
        assert first.ctx is second.ctx
        assert first.ctx.verify_mode is ssl.CERT_NONE and not first.ctx.check_hostname  # PyMySQL's own
    finally:
        first.close()
        second.close()


def test_tls_options_get_a_context_of_their_own(tls_server):
    shared = mysql_connect.connect(
        host="127.0.0.1", port=tls_server.port, user=OTTER_USER, password=OTTER_PASSWORD
    )
    own = mysql_connect.connect(
        host="127.0.0.1",
        port=tls_server.port,
        user=OTTER_USER,
        password=OTTER_PASSWORD,
        ssl_ca=tls_server.cert,
        ssl_verify_cert=True,
    )  # verified against the cert
    try:
        assert own.ctx is not shared.ctx
        assert _cipher(own)
    finally:
        shared.close()
        own.close()


def test_the_shared_context_still_encrypts_when_the_server_offers_tls(tls_server, mariadb_source):
    encrypted = mysql_connect.connect(
        host="127.0.0.1", port=tls_server.port, user=OTTER_USER, password=OTTER_PASSWORD
    )
    plain = _plain(mariadb_source)  # no TLS on this server: the preferred mode falls back
    try:
        assert encrypted.ctx is plain.ctx
        assert _cipher(encrypted).startswith(("TLS", "ECDHE", "AES"))
        assert _cipher(plain) == ""
    finally:
        encrypted.close()
        plain.close()
