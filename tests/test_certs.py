"""The interception CA (certs/, proxy/certs_cli.py, proxy/ca_scope.py) with real files, real keys and OpenSSL.

Every certificate here is made by the code under test; OpenSSL (the ``openssl`` command line and
Python's ``ssl``) is the judge of what clients accept.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import ipaddress
import json
import multiprocessing
import os
import re
import shlex
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mitmproxy.addons.tlsconfig import _ip_or_dns_name
from mitmproxy.certs import DEFAULT_DHPARAM, CertStore

import certs
from certs import MAX_DAYS, CAError, NameRules, export, trust
from certs.authority import CA_FILES, CERT_FILE, DHPARAM_FILE, KEY_FILE, new_ca
from certs.files import write_atomic
from proxy.ca_scope import ConstrainedCertStore
from tests.support.certs_race import ensure_together
from tests.support.proxyproc import PROXYLENS, proxylens_env

ROTATE = "proxylens certs rotate"
ENV_VARS = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO")
IS_ROOT = os.geteuid() == 0
NOBODY = 65534


# --------------------------------------------------------------------------- helpers

def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@contextlib.contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def cli(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([PROXYLENS, *args], capture_output=True, text=True, timeout=60, check=False,
                          env={**proxylens_env(home), **(env or {})})


def cli_bytes(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PROXYLENS, *args], capture_output=True, timeout=60, check=False,
                          env=proxylens_env(home))


def openssl(*args: str, data: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], capture_output=True, input=data, timeout=60, check=False)


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key, encryption=None, fmt=serialization.PrivateFormat.PKCS8) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption or serialization.NoEncryption())


def plant(home: Path, data: bytes) -> Path:
    """Put *data* where the CA key file goes, the way proxylens would (directory 0700, file 0600)."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    home.chmod(0o700)
    path = home / KEY_FILE
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def lifetime_days(cert: x509.Certificate) -> float:
    return (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds() / 86400


def self_signed(key, *, ca: bool | None = True, name: str = "not a proxylens CA") -> x509.Certificate:
    """A certificate for *key* that proxylens did not make: CA or not (None: no basicConstraints at all)."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30)))
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm)


def verify_with_openssl(ca_file: Path, leaf_file: Path, host: str) -> subprocess.CompletedProcess:
    """`openssl verify` as a TLS client would: chain to the CA, purpose sslserver, and the host name or IP."""
    bare = host.strip("[]")
    try:
        ipaddress.ip_address(bare)
        check = ["-verify_ip", bare]
    except ValueError:
        check = ["-verify_hostname", host]
    return openssl("verify", "-CAfile", str(ca_file), "-purpose", "sslserver", *check, str(leaf_file))


def python_handshake(ca_file: Path, leaf_file: Path, key_file: Path, host: str) -> str:
    """A TLS handshake in memory between Python's ssl client (trusting *ca_file*, expecting *host*) and a
    server presenting *leaf_file*: "OK", or the client's verification error."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(leaf_file, key_file)
    client_ctx = ssl.create_default_context(cafile=str(ca_file))
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=host)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    client_done = server_done = False
    for _ in range(50):
        if not client_done:
            try:
                client.do_handshake()
                client_done = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLCertVerificationError as exc:
                return exc.verify_message
        s_in.write(c_out.read())
        if not server_done:
            try:
                server.do_handshake()
                server_done = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError:
                pass  # the client's alert; the client's side says why
        c_in.write(s_out.read())
        if client_done and server_done:
            return "OK"
    return "handshake did not finish"


def mitm_names(host: str, server_ip: str) -> tuple[str, list[x509.GeneralName]]:
    """(CN, SANs) as mitmproxy 11's TlsConfig.get_cert builds them: the upstream certificate's names first
    (here an extra SAN, other.test), then the SNI (or, without SNI, the proxy's own address), then the
    server's IP address; duplicates dropped; the CN is the first of them."""
    try:
        ipaddress.ip_address(host)
        sni = None  # clients send no SNI for an IP address
    except ValueError:
        sni = host
    names = [x509.DNSName("other.test"), _ip_or_dns_name(sni or "127.0.0.1"), _ip_or_dns_name(server_ip)]
    names = list(dict.fromkeys(names))
    return str(names[0].value), names


def certificates_in(data: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(data)


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> certs.Authority:
    """One default CA for the tests that only read it (CLI tests may add ca-bundle.pem)."""
    return certs.create(tmp_path_factory.mktemp("ca") / "home")


@pytest.fixture(scope="module")
def constrained(tmp_path_factory) -> certs.Authority:
    return certs.create(tmp_path_factory.mktemp("constrained") / "home", permit=NameRules.permit(["example.com"]))


@pytest.fixture(scope="module")
def spaced(tmp_path_factory) -> SimpleNamespace:
    """A CA in a directory whose name needs shell quoting, and its bundle."""
    home = tmp_path_factory.mktemp("trust") / "my proxylens's $HOME (test)"
    authority = certs.create(home)
    return SimpleNamespace(home=home, authority=authority, bundle=export.write_bundle(authority))


@pytest.fixture(scope="module")
def material() -> SimpleNamespace:
    cert, key = new_ca()
    other_cert, _ = new_ca()
    ed_key = ed25519.Ed25519PrivateKey.generate()
    return SimpleNamespace(cert=cert, key=key, other_cert=other_cert, ed_key=ed_key, ed_cert=self_signed(ed_key))


# --------------------------------------------------------------------------- 1. CA creation

def test_subject_names_host_and_date():
    before = dt.datetime.now(dt.UTC)
    cert, _ = new_ca()
    after = dt.datetime.now(dt.UTC)
    host = socket.gethostname().split(".")[0][:24] or "localhost"
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn in {f"proxylens CA ({host}, {when:%Y-%m-%d})" for when in (before, after)}
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "proxylens"
    assert cert.issuer == cert.subject
    # two CAs made the same day still differ in subject (trust stores index CAs by subject)
    assert new_ca()[0].subject != cert.subject


def test_self_signed_and_verifiable(tmp_path):
    cert, key = new_ca()
    cert.verify_directly_issued_by(cert)
    assert cert.public_key() == key.public_key()
    path = tmp_path / "ca.pem"
    path.write_bytes(pem(cert))
    result = openssl("verify", "-CAfile", str(path), str(path))
    assert result.returncode == 0, result.stderr
    assert b": OK" in result.stdout


def test_extensions():
    cert, _ = new_ca()
    ext = cert.extensions
    bc = ext.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = ext.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert not (ku.value.digital_signature or ku.value.key_encipherment or ku.value.content_commitment
                or ku.value.data_encipherment or ku.value.key_agreement)
    eku = ext.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    ski = ext.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert ski.value == x509.SubjectKeyIdentifier.from_public_key(cert.public_key())
    with pytest.raises(x509.ExtensionNotFound):
        ext.get_extension_for_class(x509.NameConstraints)


@pytest.mark.parametrize("days", [None, 1, 30, MAX_DAYS])
def test_validity_is_days_plus_two_days_back(days):
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    cert, _ = new_ca() if days is None else new_ca(days=days)
    after = dt.datetime.now(dt.UTC)
    want = certs.DEFAULT_DAYS if days is None else days
    assert certs.DEFAULT_DAYS == 365
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(days=want + 2)
    assert before - dt.timedelta(days=2) <= cert.not_valid_before_utc <= after - dt.timedelta(days=2)


def test_key_types():
    cert, key = new_ca()
    assert isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    cert, key = new_ca(key_type="rsa")
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert key.public_key().public_numbers().e == 65537
    cert.verify_directly_issued_by(cert)
    with pytest.raises(ValueError, match="dsa"):
        new_ca(key_type="dsa")


def test_every_ca_is_unique():
    made = [new_ca() for _ in range(5)]
    assert len({c.serial_number for c, _ in made}) == 5
    assert len({k.private_numbers().private_value for _, k in made}) == 5
    assert all(c.serial_number > 0 for c, _ in made)


@pytest.mark.parametrize("days", [0, -1, MAX_DAYS + 1])
def test_days_out_of_bounds(tmp_path, days):
    with pytest.raises(ValueError, match=str(MAX_DAYS)):
        new_ca(days=days)
    with pytest.raises(ValueError):
        certs.create(tmp_path / "home", days=days)
    assert not (tmp_path / "home" / KEY_FILE).exists()


def test_name_constraints_are_critical_and_only_with_permit():
    rules = NameRules.permit(["example.com"])
    cert, _ = new_ca(permit=rules)
    nc = cert.extensions.get_extension_for_class(x509.NameConstraints)
    assert nc.critical
    assert nc.value.permitted_subtrees == [x509.DNSName("example.com")]
    plain, _ = new_ca()
    assert NameRules.of(plain) is None


def test_openssl_reads_the_extensions(tmp_path):
    path = tmp_path / "ca.pem"
    path.write_bytes(pem(new_ca(permit=NameRules.permit(["example.com"]))[0]))
    text = openssl("x509", "-in", str(path), "-noout", "-text").stdout.decode()
    assert re.search(r"X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0", text)
    assert re.search(r"X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign", text)
    assert re.search(r"X509v3 Extended Key Usage:\s*\n\s+TLS Web Server Authentication\n", text)
    assert "X509v3 Subject Key Identifier" in text
    assert re.search(r"X509v3 Name Constraints: critical\s+Permitted:\s+DNS:example.com\s+Excluded:\s+"
                     r"IP:0.0.0.0/0.0.0.0\s+IP:0:0:0:0:0:0:0:0/0:0:0:0:0:0:0:0\s", text), text
    path.write_bytes(pem(new_ca(permit=NameRules.permit(["10.0.0.0/8"]))[0]))
    text = openssl("x509", "-in", str(path), "-noout", "-text").stdout.decode()
    assert re.search(r"Permitted:\s+IP:10.0.0.0/255.0.0.0\s+Excluded:\s+DNS:\s", text), text
    path.write_bytes(pem(new_ca()[0]))
    assert "Name Constraints" not in openssl("x509", "-in", str(path), "-noout", "-text").stdout.decode()


def test_files_use_mitmproxys_layout(ca):
    raw = ca.key_path.read_bytes()
    assert raw.startswith(b"-----BEGIN PRIVATE KEY-----\n")  # PKCS#8
    assert raw.count(b"-----BEGIN CERTIFICATE-----") == 1 and raw.endswith(ca.pem)
    assert ca.cert_path.read_bytes() == ca.pem
    assert (ca.directory / DHPARAM_FILE).read_bytes() == DEFAULT_DHPARAM
    store = CertStore.from_files(ca.key_path, ca.directory / DHPARAM_FILE)
    assert store.default_ca._cert == ca.cert
    assert store.default_privatekey.public_key() == ca.key.public_key()
    assert certs.load(ca.directory)[0].fingerprint == ca.fingerprint
    digest = hashlib.sha256(ca.cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    assert ca.fingerprint == ":".join(re.findall("..", digest))


# --------------------------------------------------------------------------- 2. file modes

def expected_mode(root: Path, path: Path) -> int:
    rel = path.relative_to(root)
    if path.is_dir() and not path.is_symlink():
        return 0o700  # the directory, backups/ and backups/<stamp>/
    if rel.parts[0] == "backups":
        return 0o600
    return {KEY_FILE: 0o600, ".lock": 0o600, CERT_FILE: 0o644, DHPARAM_FILE: 0o644,
            export.BUNDLE_FILE: 0o644}[rel.name]  # KeyError: a file nobody expected (a temporary one?)


def assert_modes(root: Path) -> set[str]:
    seen = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [".", *dirnames, *filenames]:
            path = Path(dirpath) / name if name != "." else Path(dirpath)
            seen[str(path.relative_to(root))] = (oct(mode(path)), oct(expected_mode(root, path)))
    wrong = {p: m for p, m in seen.items() if m[0] != m[1]}
    assert not wrong, f"(mode, expected) of files with the wrong mode: {wrong}"
    return set(seen)


@pytest.mark.parametrize("mask", [0o000, 0o077], ids=["umask000", "umask077"])
def test_every_file_gets_its_exact_mode(tmp_path, mask):
    home, other, out = tmp_path / "home", tmp_path / "other", tmp_path / "out"
    with umask(mask):
        certs.create(home)
        certs.ensure(other)
        certs.rotate(home)
        rotated = certs.rotate(home)
        export.write_bundle(rotated.authority)
        out.mkdir(mode=0o700)
        result = cli(home, "certs", "export", "--format", "der", "-o", str(out / "ca.cer"))
        pem_out = cli(home, "certs", "export", "-o", str(out / "ca.pem"))
    assert result.returncode == 0 and pem_out.returncode == 0, result.stderr + pem_out.stderr
    seen = assert_modes(home)
    assert {".", ".lock", KEY_FILE, CERT_FILE, DHPARAM_FILE, export.BUNDLE_FILE, "backups"} <= seen
    stamps = sorted((home / "backups").iterdir())
    assert len(stamps) == 2 and all(sorted(os.listdir(s)) == sorted([CERT_FILE, KEY_FILE]) for s in stamps)
    assert assert_modes(other) == {".", ".lock", KEY_FILE, CERT_FILE, DHPARAM_FILE}
    assert mode(out / "ca.cer") == 0o644 and mode(out / "ca.pem") == 0o644
    assert x509.load_der_x509_certificate((out / "ca.cer").read_bytes()) == rotated.authority.cert


@pytest.mark.parametrize("mask", [0o000, 0o077], ids=["umask000", "umask077"])
@pytest.mark.parametrize("want", [0o600, 0o644])
def test_write_atomic_exact_mode_and_no_temp_file(tmp_path, mask, want):
    target = tmp_path / "file.pem"
    with umask(mask):
        write_atomic(target, b"one", want)
        assert mode(target) == want
        target.chmod(0o666)
        write_atomic(target, b"two", want)  # replaces an existing file: the new one has the mode asked for
    assert target.read_bytes() == b"two" and mode(target) == want
    assert os.listdir(tmp_path) == ["file.pem"]


def test_write_atomic_cleans_up_after_a_failure(tmp_path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "inside").write_text("x")
    with pytest.raises(OSError):
        write_atomic(target, b"data", 0o600)  # os.replace cannot put a file over a non-empty directory
    assert sorted(os.listdir(tmp_path)) == ["busy"]


def test_write_atomic_never_follows_a_symlink_at_the_temp_name(tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    victim.chmod(0o644)
    target = tmp_path / "out.pem"
    trap = tmp_path / f".{target.name}.{os.getpid()}.tmp"
    trap.symlink_to(victim)
    try:
        write_atomic(target, b"secret key", 0o600)
    except OSError:
        assert not target.exists()
    else:
        assert target.read_bytes() == b"secret key" and not target.is_symlink()
    assert victim.read_bytes() == b"precious" and mode(victim) == 0o644


def test_write_atomic_replaces_a_symlink_at_the_final_name(tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    target = tmp_path / "out.pem"
    target.symlink_to(victim)
    write_atomic(target, b"new", 0o644)
    assert not target.is_symlink() and target.read_bytes() == b"new"
    assert victim.read_bytes() == b"precious"


def test_write_atomic_survives_a_stale_temp_file(tmp_path):
    target = tmp_path / "mitmproxy-ca.pem"
    stale = tmp_path / f".{target.name}.{os.getpid()}.tmp"
    stale.write_bytes(b"half a key, left by a process killed mid-write (containers reuse pids: pid 1)")
    write_atomic(target, b"data", 0o600)
    assert target.read_bytes() == b"data"


# --------------------------------------------------------------------------- 3. bad input

BAD_KEY_FILES = {
    # name: (bytes of the key file, what the message says)
    "garbage": (lambda m: b"this is not a key\x00\xff\n", "does not hold a readable private key"),
    "empty": (lambda m: b"", "does not hold a readable private key"),
    "truncated key": (lambda m: key_pem(m.key)[:120], "does not hold a readable private key"),
    "truncated certificate": (lambda m: key_pem(m.key) + pem(m.cert)[:300], "does not hold a readable CA cert"),
    "key without certificate": (lambda m: key_pem(m.key), "does not hold a readable CA certificate"),
    "certificate without key": (lambda m: pem(m.cert), "does not hold a readable private key"),
    "certificate of another key": (lambda m: key_pem(m.key) + pem(m.other_cert), "does not belong to its private key"),
    "not a CA": (lambda m: key_pem(m.key) + pem(self_signed(m.key, ca=False)), "is not a CA certificate"),
    "no basicConstraints": (lambda m: key_pem(m.key) + pem(self_signed(m.key, ca=None)), "is not a CA certificate"),
    "encrypted PKCS8": (lambda m: key_pem(m.key, serialization.BestAvailableEncryption(b"pw")) + pem(m.cert),
                        "encrypted with a passphrase"),
    "encrypted traditional": (lambda m: key_pem(m.key, serialization.BestAvailableEncryption(b"pw"),
                                                serialization.PrivateFormat.TraditionalOpenSSL) + pem(m.cert),
                              "encrypted with a passphrase"),
    "Ed25519": (lambda m: key_pem(m.ed_key) + pem(m.ed_cert), "EC or RSA"),
}


@pytest.mark.parametrize("case", list(BAD_KEY_FILES))
def test_unusable_key_file_is_an_error_and_rotate_sets_it_aside(tmp_path, material, case):
    make, says = BAD_KEY_FILES[case]
    home = tmp_path / "home"
    data = make(material)
    path = plant(home, data)
    for attempt in (certs.load, certs.ensure):
        with pytest.raises(CAError) as caught:
            attempt(home)
        message = str(caught.value)
        assert str(path) in message and says in message and ROTATE in message, message
    assert path.read_bytes() == data  # ensure() never replaces a CA it cannot read
    with pytest.raises(CAError, match="already"):
        certs.create(home)
    done = certs.rotate(home)
    assert done.old is None and (done.backup / KEY_FILE).read_bytes() == data
    assert mode(done.backup / KEY_FILE) == 0o600
    assert certs.load(home)[0].fingerprint == done.authority.fingerprint


@pytest.mark.parametrize("case", ["garbage", "encrypted PKCS8", "certificate of another key"])
def test_cli_reports_an_unusable_key_file(tmp_path, material, case):
    make, says = BAD_KEY_FILES[case]
    home = tmp_path / "home"
    path = plant(home, make(material))
    for command in (["certs", "show"], ["certs", "path"]):
        result = cli(home, *command)
        assert result.returncode == 2, result
        assert str(path) in result.stderr and says in result.stderr and ROTATE in result.stderr
        assert result.stdout == ""


def test_symlinked_key_file_is_refused(tmp_path):
    real = certs.create(tmp_path / "real")
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / KEY_FILE).symlink_to(real.key_path)
    for attempt in (certs.load, certs.ensure):
        with pytest.raises(CAError, match="not a regular file") as caught:
            attempt(home)
        assert str(home / KEY_FILE) in str(caught.value) and ROTATE in str(caught.value)
    before = real.key_path.read_bytes()
    done = certs.rotate(home)
    assert (done.backup / KEY_FILE).is_symlink() and not (home / KEY_FILE).is_symlink()
    assert real.key_path.read_bytes() == before and mode(real.key_path) == 0o600


@pytest.mark.skipif(not IS_ROOT, reason="giving a file to another user (os.chown to 65534) needs root")
def test_key_owned_by_another_user_is_refused(tmp_path):
    authority = certs.create(tmp_path / "home")
    os.chown(authority.key_path, NOBODY, NOBODY)
    with pytest.raises(CAError) as caught:
        certs.load(authority.directory)
    message = str(caught.value)
    assert str(authority.key_path) in message and f"user id {NOBODY}" in message and ROTATE in message
    result = cli(authority.directory, "certs", "path")
    assert result.returncode == 2 and f"user id {NOBODY}" in result.stderr and ROTATE in result.stderr


@pytest.mark.skipif(not IS_ROOT, reason="giving a directory to another user (os.chown to 65534) needs root")
def test_directory_owned_by_another_user_is_refused(tmp_path):
    authority = certs.create(tmp_path / "home")
    os.chown(authority.directory, NOBODY, NOBODY)
    for attempt in (certs.load, certs.ensure, certs.rotate):
        with pytest.raises(CAError, match=f"user id {NOBODY}") as caught:
            attempt(authority.directory)
        assert str(authority.directory) in str(caught.value) and "PROXYLENS_HOME" in str(caught.value)


@pytest.fixture
def foreign_home():
    """A directory outside pytest's private tmp tree, so that user 65534 can reach it."""
    if not IS_ROOT:
        pytest.skip("needs root: the test hands files to user 65534 and runs a process as that user")
    base = Path(tempfile.mkdtemp(prefix="proxylens-certs-test-"))
    try:
        os.chown(base, NOBODY, NOBODY)
        yield base / "home"
    finally:
        subprocess.run(["rm", "-rf", "--", str(base)], check=True)


def test_rotate_sets_aside_a_key_owned_by_another_user(foreign_home):
    # The CA was made by user 65534; then the key file became root's (another user, from 65534's point of view).
    old = certs.create(foreign_home)
    for path in [foreign_home, *foreign_home.iterdir()]:
        os.chown(path, NOBODY, NOBODY)
    os.chown(old.key_path, 0, 0)
    code = ("import os, sys; from pathlib import Path; import certs, mitmproxy.certs; "
            "os.setgroups([]); os.setgid(65534); os.setuid(65534); "
            "home = Path(sys.argv[1])\n"
            "try:\n    certs.load(home)\nexcept certs.CAError as exc:\n    print('refused:', exc)\n"
            "done = certs.rotate(home); print('rotated', done.backup)")
    result = subprocess.run([sys.executable, "-c", code, str(foreign_home)], capture_output=True, text=True,
                            timeout=60, cwd="/", check=False)
    assert "refused:" in result.stdout and ROTATE in result.stdout, result.stderr
    assert result.returncode == 0, result.stderr
    assert os.stat(foreign_home / KEY_FILE).st_uid == NOBODY


def test_config_dir_that_is_a_file(tmp_path):
    home = tmp_path / "home"
    home.write_text("not a directory")
    below = home / "sub"
    for target in (home, below):
        for attempt in (certs.load, certs.ensure, certs.create, certs.rotate):
            with pytest.raises(CAError) as caught:
                attempt(target)
            assert str(target) in str(caught.value) and "PROXYLENS_HOME" in str(caught.value)
    result = cli(home, "certs", "path")
    assert result.returncode == 2 and str(home) in result.stderr and "PROXYLENS_HOME" in result.stderr
    assert home.read_text() == "not a directory"


@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604, 0o660])
def test_readable_key_is_tightened_with_a_warning(tmp_path, loose):
    authority = certs.create(tmp_path / "home")
    authority.key_path.chmod(loose)
    again, warnings = certs.load(authority.directory)
    assert again.fingerprint == authority.fingerprint
    assert len(warnings) == 1
    assert f"{loose:04o}" in warnings[0] and "rotate" in warnings[0] and str(authority.key_path) in warnings[0]
    assert mode(authority.key_path) == 0o600
    assert certs.load(authority.directory)[1] == []


def test_readable_key_warning_on_the_cli(tmp_path):
    authority = certs.create(tmp_path / "home")
    authority.key_path.chmod(0o644)
    result = cli(authority.directory, "certs", "path")
    assert result.returncode == 0 and result.stdout.strip() == str(authority.cert_path)
    assert "warning:" in result.stderr and "0644" in result.stderr and ROTATE in result.stderr
    assert mode(authority.key_path) == 0o600


@pytest.mark.parametrize("loose", [0o755, 0o750, 0o701])
def test_open_directory_is_tightened_with_a_warning(tmp_path, loose):
    authority = certs.create(tmp_path / "home")
    authority.directory.chmod(loose)
    _, warnings = certs.load(authority.directory)
    assert len(warnings) == 1 and f"{loose:04o}" in warnings[0] and "0700" in warnings[0]
    assert mode(authority.directory) == 0o700
    authority.directory.chmod(loose)
    _, warnings, created = certs.ensure(authority.directory)
    assert not created and len(warnings) == 1 and f"{loose:04o}" in warnings[0]
    assert mode(authority.directory) == 0o700


def test_expired_ca_is_an_error(tmp_path):
    now = dt.datetime.now(dt.UTC)
    cert, key = new_ca(days=60, now=now - dt.timedelta(days=90))
    home = tmp_path / "home"
    plant(home, key_pem(key) + pem(cert))
    authority, _ = certs.load(home)  # readable: rotation needs the old settings
    assert authority.days_left() < -29
    with pytest.raises(CAError) as caught:
        authority.validity_warnings()
    assert "expired" in str(caught.value) and ROTATE in str(caught.value)
    assert f"{cert.not_valid_after_utc:%Y-%m-%d}" in str(caught.value)
    result = cli(home, "certs", "path")
    assert result.returncode == 2 and "expired" in result.stderr and ROTATE in result.stderr
    show = cli(home, "certs", "show")
    assert show.returncode == 0 and "expired" in show.stdout
    done = certs.rotate(home)
    assert done.authority.validity_warnings() == [] and lifetime_days(done.authority.cert) == 62


def test_ca_expiring_soon_warns(tmp_path):
    cert, key = new_ca(days=10)
    authority = certs.Authority(cert, key, tmp_path)
    warnings = authority.validity_warnings()
    assert len(warnings) == 1
    assert "expires in 10 day" in warnings[0] and ROTATE in warnings[0]
    year = certs.Authority(*new_ca(), tmp_path)
    assert year.validity_warnings() == []
    assert len(year.validity_warnings(now=year.cert.not_valid_after_utc - dt.timedelta(days=29))) == 1
    assert year.validity_warnings(now=year.cert.not_valid_after_utc - dt.timedelta(days=31)) == []


def test_ca_not_yet_valid_warns_about_the_clock(tmp_path):
    cert, key = new_ca(now=dt.datetime.now(dt.UTC) + dt.timedelta(days=3))
    warnings = certs.Authority(cert, key, tmp_path).validity_warnings()
    assert len(warnings) == 1 and "clock" in warnings[0]


@pytest.mark.parametrize("damage", ["missing", "edited", "another CA", "symlink", "empty"])
def test_public_certificate_is_rewritten_from_the_key_file(tmp_path, damage):
    authority = certs.create(tmp_path / "home")
    public = authority.cert_path
    elsewhere = tmp_path / "elsewhere.pem"
    elsewhere.write_bytes(b"someone else's file")
    if damage == "missing":
        public.unlink()
    elif damage == "edited":
        public.write_bytes(authority.pem.replace(b"A", b"B", 1))
    elif damage == "another CA":
        public.write_bytes(pem(new_ca()[0]))
    elif damage == "symlink":
        public.unlink()
        public.symlink_to(elsewhere)
    else:
        public.write_bytes(b"")
    _, warnings = certs.load(authority.directory)
    assert any(str(public) in w and "rewrote" in w for w in warnings), warnings
    assert public.read_bytes() == authority.pem and not public.is_symlink() and mode(public) == 0o644
    assert elsewhere.read_bytes() == b"someone else's file"
    assert certs.load(authority.directory)[1] == []


def test_missing_dhparam_is_rewritten(tmp_path):
    authority = certs.create(tmp_path / "home")
    (authority.directory / DHPARAM_FILE).unlink()
    certs.load(authority.directory)
    assert (authority.directory / DHPARAM_FILE).read_bytes() == DEFAULT_DHPARAM
    assert mode(authority.directory / DHPARAM_FILE) == 0o644


# --------------------------------------------------------------------------- 4. ensure

def test_ensure_creates_once(tmp_path):
    home = tmp_path / "a" / "b" / "home"
    first, warnings, created = certs.ensure(home)
    assert created and warnings == []
    assert mode(home) == 0o700
    second, warnings, created = certs.ensure(home)
    assert not created and warnings == [] and second.fingerprint == first.fingerprint
    assert second.key.private_numbers() == first.key.private_numbers()
    assert lifetime_days(first.cert) == certs.DEFAULT_DAYS + 2 and first.name_rules is None


def test_concurrent_ensure_makes_one_ca(tmp_path):
    home = tmp_path / "home"
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(4), context.Queue()
    workers = [context.Process(target=ensure_together, args=(str(home), barrier, results)) for _ in range(4)]
    for w in workers:
        w.start()
    try:
        outcomes = [results.get(timeout=120) for _ in workers]
    finally:
        for w in workers:
            w.join(timeout=60)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    fingerprints = {fp for fp, _, _ in outcomes}
    assert fingerprints == {certs.load(home)[0].fingerprint}
    assert sum(created for _, created, _ in outcomes) == 1
    assert all(warnings == [] for _, _, warnings in outcomes)
    assert sorted(os.listdir(home)) == sorted([".lock", KEY_FILE, CERT_FILE, DHPARAM_FILE])


# --------------------------------------------------------------------------- 5. rotate

def test_rotate_replaces_the_key_and_keeps_a_backup(tmp_path):
    home = tmp_path / "home"
    rules = NameRules.permit(["example.com", "10.0.0.0/8"])
    old = certs.create(home, days=30, permit=rules, key_type="rsa")
    before = {name: (home / name).read_bytes() for name in (KEY_FILE, CERT_FILE)}
    done = certs.rotate(home)
    new = done.authority
    assert done.old is not None and done.old.fingerprint == old.fingerprint
    assert new.fingerprint != old.fingerprint and new.key.public_key() != old.key.public_key()
    assert done.backup.parent == home / "backups" and re.fullmatch(r"\d{8}T\d{6}\.\d{6}Z", done.backup.name)
    assert sorted(os.listdir(done.backup)) == sorted(before)
    for name, data in before.items():
        assert (done.backup / name).read_bytes() == data
        assert (home / name).read_bytes() != data
    # the old CA's settings: key type, validity length, name constraints
    assert isinstance(new.key, rsa.RSAPrivateKey) and new.key.key_size == 2048
    assert lifetime_days(new.cert) == 32
    assert new.name_rules == rules
    assert certs.load(home)[0].fingerprint == new.fingerprint
    assert new.cert_path.read_bytes() == new.pem


def test_rotate_overrides_and_unconstrained(tmp_path):
    home = tmp_path / "home"
    certs.create(home, days=30, permit=NameRules.permit(["example.com"]), key_type="rsa")
    new = certs.rotate(home, days=90, key_type="ec", permit=NameRules.permit(["10.0.0.0/8"])).authority
    assert isinstance(new.key, ec.EllipticCurvePrivateKey) and lifetime_days(new.cert) == 92
    assert new.name_rules == NameRules.permit(["10.0.0.0/8"])
    free = certs.rotate(home, unconstrained=True).authority
    assert free.name_rules is None and lifetime_days(free.cert) == 92
    assert certs.rotate(home).authority.name_rules is None  # and it stays so
    assert len(os.listdir(home / "backups")) == 3


def test_rotate_with_no_ca_creates_one(tmp_path):
    home = tmp_path / "home"
    done = certs.rotate(home)
    assert done.backup is None and done.old is None
    assert not (home / "backups").exists()
    assert certs.load(home)[0].fingerprint == done.authority.fingerprint
    assert lifetime_days(done.authority.cert) == certs.DEFAULT_DAYS + 2
    assert isinstance(done.authority.key, ec.EllipticCurvePrivateKey)


def test_rotate_a_ca_made_by_mitmproxy(tmp_path):
    home = tmp_path / "home"
    CertStore.create_store(home, "mitmproxy", 2048)
    made = {name: (home / name).read_bytes() for name in CA_FILES}
    # it loads, with a warning about the second copy of the key mitmproxy wrote beside it
    _, warnings = certs.load(home)
    assert any("mitmproxy-ca.p12" in w and "second copy of the CA private key" in w and "rotate" in w
               for w in warnings), warnings
    done = certs.rotate(home)
    assert certs.load(home)[1] == []
    assert done.old is not None and isinstance(done.authority.key, rsa.RSAPrivateKey)
    assert lifetime_days(done.authority.cert) == MAX_DAYS + 2  # mitmproxy's CAs last ten years
    assert sorted(os.listdir(done.backup)) == sorted(CA_FILES)  # the .p12 holding the key too
    assert all((done.backup / name).read_bytes() == data for name, data in made.items())
    assert not any((home / name).exists() for name in CA_FILES[2:])
    assert mode(home) == 0o700 and mode(home / "backups") == 0o700 and mode(done.backup) == 0o700
    assert all(mode(done.backup / name) == 0o600 for name in CA_FILES)
    assert mode(home / KEY_FILE) == 0o600 and mode(home / CERT_FILE) == 0o644


def test_cli_rotate_says_what_to_retrust(tmp_path):
    home = tmp_path / "home"
    old = certs.create(home, permit=NameRules.permit(["example.com"]))
    result = cli(home, "certs", "rotate")
    assert result.returncode == 0, result.stderr
    new = certs.load(home)[0]
    (backup,) = (home / "backups").iterdir()
    out = result.stdout
    assert new.fingerprint in out and old.fingerprint in out and str(backup) in out
    assert "Re-trust" in out and "proxylens certs trust-help" in out and "remove the old one" in out
    assert "may only sign for: example.com" in out
    assert certificates_in((home / export.BUNDLE_FILE).read_bytes())[-1] == new.cert
    again = cli(home, "certs", "rotate", "--permit", "exa mple.com")
    assert again.returncode == 2 and "exa mple.com" in again.stderr
    assert certs.load(home)[0].fingerprint == new.fingerprint
    fresh = cli(tmp_path / "fresh", "certs", "rotate")
    assert fresh.returncode == 0 and "There was no CA to replace." in fresh.stdout


# --------------------------------------------------------------------------- 6. NameRules

ALL_IPS = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))


@pytest.mark.parametrize("values, dns, ips", [
    (["example.com"], ("example.com",), ()),
    (["EXAMPLE.com."], ("example.com",), ()),
    ([" example.com "], ("example.com",), ()),
    (["bücher.example"], ("xn--bcher-kva.example",), ()),
    (["example.com", "EXAMPLE.COM", "example.com."], ("example.com",), ()),
    (["10.0.0.0/8"], (), ("10.0.0.0/8",)),
    (["10.1.2.3/8"], (), ("10.0.0.0/8",)),
    (["127.0.0.1"], (), ("127.0.0.1/32",)),
    (["::1"], (), ("::1/128",)),
    (["2001:db8::/32", "example.com"], ("example.com",), ("2001:db8::/32",)),
])
def test_permit_parses(values, dns, ips):
    rules = NameRules.permit(values)
    assert rules.permitted_dns == dns
    assert rules.permitted_ips == tuple(ipaddress.ip_network(n) for n in ips)


@pytest.mark.parametrize("value, says", [
    ("*.x.com", "write 'x.com'"),
    (".x.com", "write 'x.com'"),
    ("", "''"),
    ("a..b", "'a..b'"),
    ("exa mple.com", "'exa mple.com'"),
    ("exa_mple.com", "'exa_mple.com'"),
    ("a" * 64 + ".com", "a" * 64),
    ("10.0.0.0/33", "'10.0.0.0/33'"),
])
def test_permit_rejects(value, says):
    with pytest.raises(ValueError) as caught:
        NameRules.permit([value])
    assert says in str(caught.value)


def test_permit_needs_a_value():
    with pytest.raises(ValueError, match="at least one"):
        NameRules.permit([])


DNS_ONLY = NameRules.permit(["example.com"])
MIXED = NameRules.permit(["example.com", "10.0.0.0/8", "2001:db8::/32"])
IP_ONLY = NameRules.permit(["10.0.0.0/8"])
IDN = NameRules.permit(["bücher.example"])


@pytest.mark.parametrize("rules, host, permitted", [
    (DNS_ONLY, "example.com", True),
    (DNS_ONLY, "api.example.com", True),
    (DNS_ONLY, "a.b.c.example.com", True),
    (DNS_ONLY, "badexample.com", False),
    (DNS_ONLY, "example.com.evil.test", False),
    (DNS_ONLY, "com", False),
    (DNS_ONLY, "EXAMPLE.COM", True),
    (DNS_ONLY, "Api.Example.Com", True),
    (DNS_ONLY, "api.example.com.", True),
    (DNS_ONLY, "10.0.0.1", False),
    (DNS_ONLY, "::1", False),
    (DNS_ONLY, "[::1]", False),
    (DNS_ONLY, "", False),
    (MIXED, "10.0.0.1", True),
    (MIXED, "10.255.255.255", True),
    (MIXED, "11.0.0.1", False),
    (MIXED, "9.255.255.255", False),
    (MIXED, "2001:db8::1", True),
    (MIXED, "[2001:db8::1]", True),
    (MIXED, "2001:DB8::1", True),
    (MIXED, "2001:db9::1", False),
    (MIXED, "::ffff:10.0.0.1", False),
    (MIXED, "example.com", True),
    (MIXED, "other.test", False),
    (IP_ONLY, "10.1.2.3", True),
    (IP_ONLY, "example.com", False),
    (IP_ONLY, "localhost", False),
    (IP_ONLY, "::1", False),
    (IDN, "bücher.example", True),
    (IDN, "shop.xn--bcher-kva.example", True),
    (IDN, "bucher.example", False),
])
def test_permits(rules, host, permitted):
    assert rules.permits(host) is permitted


def test_the_type_not_permitted_is_excluded_entirely():
    assert DNS_ONLY.excluded_ips == ALL_IPS and DNS_ONLY.excluded_dns == ()
    assert IP_ONLY.excluded_dns == ("",) and IP_ONLY.excluded_ips == ()
    assert MIXED.excluded_dns == () and MIXED.excluded_ips == ()
    assert not NameRules().excluded_dns and NameRules().permits("anything.test")  # no rules: anything


@pytest.mark.parametrize("rules", [DNS_ONLY, MIXED, IP_ONLY, IDN, NameRules.permit(["::1", "localhost"])])
def test_of_round_trips_the_extension(rules):
    cert, key = new_ca(permit=rules)
    assert NameRules.of(cert) == rules
    assert cert.extensions.get_extension_for_class(x509.NameConstraints).value == rules.extension()
    assert certs.Authority(cert, key, Path("/nonexistent")).name_rules == rules


@pytest.mark.parametrize("rules, text", [
    (DNS_ONLY, "example.com (not any IP address)"),
    (IP_ONLY, "10.0.0.0/8 (not every DNS name)"),
    (NameRules.permit(["example.com", "10.0.0.0/8"]), "example.com, 10.0.0.0/8"),
    (NameRules.permit(["a.test", "b.test"]), "a.test, b.test (not any IP address)"),
    (NameRules(), "any name"),
])
def test_describe(rules, text):
    assert rules.describe() == text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(), max_size=4))
def test_permit_returns_or_raises_value_error(values):
    try:
        rules = NameRules.permit(values)
    except ValueError:
        return
    rules.extension()
    assert rules.permitted_dns or rules.permitted_ips


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.ip_addresses().map(str), st.from_regex(r"\[?[0-9a-fA-F:.]{0,40}\]?\.?")))
def test_permits_never_raises(host):
    for rules in (DNS_ONLY, MIXED, IP_ONLY, IDN, NameRules()):
        assert rules.permits(host) in (True, False)


# --------------------------------------------------------------------------- 7. leaves as the proxy makes them

PERMIT_SETS = {
    "dns": ["example.com"],
    "dns+ip": ["example.com", "10.0.0.0/8"],
    "ip": ["10.0.0.0/8"],
    "localhost": ["localhost"],
}
HOSTS = [  # (host the client asks for, the server's IP address)
    ("example.com", "93.184.216.34"),
    ("api.example.com", "10.1.2.3"),
    ("a.b.example.com", "10.1.2.3"),
    ("API.Example.COM", "10.1.2.3"),
    ("badexample.com", "10.1.2.3"),
    ("10.1.2.3", "10.1.2.3"),
    ("11.0.0.1", "11.0.0.1"),
    ("localhost", "127.0.0.1"),
    ("::1", "::1"),
    ("api.example.com.", "10.1.2.3"),
]


def truth_cases():
    for key in PERMIT_SETS:
        for host, ip in HOSTS:
            yield pytest.param(key, host, ip, id=f"{key}-{host}")


@pytest.fixture(scope="module")
def constrained_cas(tmp_path_factory):
    made = {}

    def get(key: str):
        if key not in made:
            home = tmp_path_factory.mktemp(f"truth-{key}") / "home"
            rules = NameRules.permit(PERMIT_SETS[key])
            authority = certs.create(home, permit=rules)
            plain = CertStore.from_files(home / KEY_FILE, home / DHPARAM_FILE)
            made[key] = SimpleNamespace(authority=authority, rules=rules, plain=plain,
                                        store=ConstrainedCertStore.around(plain, rules))
        return made[key]

    return get


@pytest.mark.parametrize("key, host, server_ip", list(truth_cases()))
def test_clients_accept_a_leaf_exactly_when_the_rules_permit_the_host(constrained_cas, tmp_path, key, host,
                                                                         server_ip):
    ca = constrained_cas(key)
    cn, sans = mitm_names(host, server_ip)
    entry = ca.store.get_cert(cn, sans)
    leaf = entry.cert._cert
    leaf_file = tmp_path / "leaf.pem"
    leaf_file.write_bytes(entry.cert.to_pem())
    # the leaf carries only permitted names, and never an IP address in the CN
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        names = []
    assert all(ca.rules.permits(str(n.value)) for n in names), list(names)
    cns = [a.value for a in leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    for value in cns:
        assert ca.rules.permits(value)
        with pytest.raises(ValueError):
            ipaddress.ip_address(value)
    leaf.verify_directly_issued_by(ca.authority.cert)
    # the judges. A trailing-dot name ("api.example.com.") is written into the leaf without
    # its dot (a dNSName with one is outside every constraint); browsers and curl drop the dot
    # before matching, OpenSSL compares reference names literally, so it is asked for the dotless name.
    permitted = ca.rules.permits(host)
    host = host.rstrip(".")
    result = verify_with_openssl(ca.authority.cert_path, leaf_file, host)
    assert (result.returncode == 0) is permitted, (result.stdout + result.stderr).decode()
    handshake = python_handshake(ca.authority.cert_path, leaf_file, ca.authority.key_path, host)
    assert (handshake == "OK") is permitted, handshake


@pytest.mark.parametrize("key, host, violation", [
    ("dns", "badexample.com", "permitted subtree violation"),
    ("dns", "10.1.2.3", "excluded subtree violation"),
    ("dns+ip", "11.0.0.1", "permitted subtree violation"),
    ("ip", "example.com", "excluded subtree violation"),
    ("localhost", "example.com", "permitted subtree violation"),
])
def test_an_unfiltered_leaf_breaks_the_constraints(constrained_cas, tmp_path, key, host, violation):
    """Why the constrained store exists: mitmproxy's own store signs any name, and clients refuse it."""
    ca = constrained_cas(key)
    entry = ca.plain.get_cert(host, [_ip_or_dns_name(host)])
    leaf_file = tmp_path / "leaf.pem"
    leaf_file.write_bytes(entry.cert.to_pem())
    result = verify_with_openssl(ca.authority.cert_path, leaf_file, host)
    assert result.returncode != 0 and violation in (result.stdout + result.stderr).decode()
    assert python_handshake(ca.authority.cert_path, leaf_file, ca.authority.key_path, host) == violation


# --------------------------------------------------------------------------- 8. export

def test_export_pem(ca):
    data = export.encode(ca, "pem")
    assert data == ca.cert_path.read_bytes() and certificates_in(data) == [ca.cert]


def test_export_der(ca, tmp_path):
    data = export.encode(ca, "der")
    assert x509.load_der_x509_certificate(data) == ca.cert
    path = tmp_path / "ca.cer"
    path.write_bytes(data)
    result = openssl("x509", "-inform", "DER", "-in", str(path), "-noout", "-fingerprint", "-sha256")
    assert result.returncode == 0 and result.stdout.decode().strip().split("=", 1)[1] == ca.fingerprint


def test_export_p12_holds_one_certificate_and_no_key(ca, tmp_path):
    data = export.encode(ca, "p12")
    bundle = pkcs12.load_pkcs12(data, None)
    assert bundle.key is None and bundle.cert is None
    assert [c.certificate for c in bundle.additional_certs] == [ca.cert]
    path = tmp_path / "ca.p12"
    path.write_bytes(data)
    result = openssl("pkcs12", "-in", str(path), "-nokeys", "-passin", "pass:")
    assert result.returncode == 0, result.stderr.decode()
    assert certificates_in(result.stdout) == [ca.cert]
    info = openssl("pkcs12", "-in", str(path), "-info", "-noout", "-passin", "pass:")
    assert info.returncode == 0, info.stderr.decode()
    assert b"Certificate bag" in info.stderr and b"Keybag" not in info.stderr


def test_export_p12_names_the_certificate(ca):
    (entry,) = pkcs12.load_pkcs12(export.encode(ca, "p12"), None).additional_certs
    assert entry.friendly_name == ca.subject.encode()


def test_export_bundle_is_the_system_store_plus_the_ca(ca):
    source, _ = export.system_bundle()
    assert source.is_file()
    system = certificates_in(source.read_bytes())
    data = export.encode(ca, "bundle")
    assert data.startswith(source.read_bytes().rstrip(b"\n")) and data.endswith(ca.pem)
    parsed = certificates_in(data)
    assert len(parsed) == len(system) + 1 and parsed[-1] == ca.cert and parsed[:-1] == system


def test_write_bundle_rewrites_only_a_changed_bundle(tmp_path):
    authority = certs.create(tmp_path / "home")
    path = export.write_bundle(authority)
    assert path == authority.directory / export.BUNDLE_FILE and mode(path) == 0o644
    first = os.stat(path)
    os.utime(path, ns=(first.st_atime_ns, first.st_mtime_ns - 10_000_000_000))  # a write would show
    first = os.stat(path)
    assert export.write_bundle(authority) == path
    again = os.stat(path)
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    new = certs.rotate(authority.directory).authority
    export.write_bundle(new)
    after = os.stat(path)
    assert after.st_ino != first.st_ino and mode(path) == 0o644
    data = path.read_bytes()
    assert data.endswith(new.pem) and authority.pem not in data


def test_bundle_ignores_itself_when_ssl_cert_file_points_at_it(tmp_path, monkeypatch):
    authority = certs.create(tmp_path / "home")
    path = export.write_bundle(authority)
    first = path.read_bytes()
    monkeypatch.setenv("SSL_CERT_FILE", str(path))  # what eval "$(proxylens certs env)" does
    export.write_bundle(authority)
    assert path.read_bytes().count(authority.pem) == 1, "the CA was appended to the bundle again"
    assert path.read_bytes() == first
    new = certs.rotate(authority.directory).authority
    data = export.write_bundle(new).read_bytes()
    assert data.count(new.pem) == 1 and authority.pem not in data


def test_no_export_contains_the_private_key(ca, tmp_path):
    key = ca.key
    secrets = [key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()),
               key.private_numbers().private_value.to_bytes(32, "big")]
    for fmt in export.FORMATS:
        data = export.encode(ca, fmt)
        assert b"PRIVATE KEY" not in data, fmt
        assert not any(secret in data for secret in secrets), fmt
    with pytest.raises(ValueError, match="pem, der, p12, bundle"):
        export.encode(ca, "jks")
    for fmt in export.FORMATS:
        result = cli_bytes(ca.directory, "certs", "export", "--format", fmt)
        assert result.returncode == 0 and b"PRIVATE KEY" not in result.stdout
        assert not any(secret in result.stdout for secret in secrets)
    assert b"PRIVATE KEY" not in export.write_bundle(ca).read_bytes()


# --------------------------------------------------------------------------- 9. trust

def section(text: str, key: str) -> str:
    match = re.search(rf"^== {key}: .*?(?=^== |\Z)", text, re.DOTALL | re.MULTILINE)
    assert match, f"no section for {key}"
    return match.group(0)


def test_help_text_covers_every_target(spaced):
    authority, bundle = spaced.authority, spaced.bundle
    text = trust.help_text(authority, bundle)
    assert f"certificate: {authority.cert_path}\n" in text
    assert f"{bundle}\n" in text and authority.fingerprint in text
    for name in ENV_VARS:
        assert name in text
    q_ca, q_bundle = shlex.quote(str(authority.cert_path)), shlex.quote(str(bundle))
    assert q_ca != str(authority.cert_path)  # the path needs quoting
    uses_ca = {"debian", "fedora", "macos", "firefox", "chromium", "node", "curl", "java", "env"}
    uses_bundle = {"python", "curl", "git", "env"}
    for key in trust.TARGET_KEYS:
        body = section(text, key)
        if key in uses_ca:
            assert q_ca in body, key
        if key in uses_bundle:
            assert q_bundle in body, key
        assert "{" not in body and "}" not in body, key  # every field was filled in
    assert "proxylens certs export --format der -o proxylens-ca.cer" in section(text, "windows")
    assert f"certutil -delstore Root {authority.cert.serial_number:x}" in section(text, "windows")
    assert f"verify={str(bundle)!r}" in section(text, "python")
    assert set(trust.TARGET_KEYS) == {"debian", "fedora", "macos", "windows", "firefox", "chromium", "python",
                                      "node", "curl", "java", "git", "env"}


def test_help_text_commands_survive_the_shell(spaced):
    authority = spaced.authority
    text = trust.help_text(authority, spaced.bundle)
    certutil = [line for line in text.splitlines() if "certutil -d" in line and " -A " in line]
    assert len(certutil) == 2  # firefox and chromium
    for line in certutil:
        argv = shlex.split(line)
        assert argv[argv.index("-i") + 1] == str(authority.cert_path)
        assert argv[argv.index("-n") + 1] == trust.nickname(authority)
        assert trust.nickname(authority).startswith(authority.subject)
    for key, tool in (("debian", "cp"), ("fedora", "cp"), ("macos", "add-trusted-cert"), ("java", "-file")):
        line = next(li for li in section(text, key).splitlines() if tool in li and str(authority.cert_path)[:5] in li)
        assert str(authority.cert_path) in shlex.split(line, comments=True), line
    git = next(li for li in section(text, "git").splitlines() if "http.sslCAInfo" in li and "config" in li)
    assert shlex.split(git, comments=True)[-1] == str(spaced.bundle)


def test_macos_sha1_is_the_certificates(ca):
    text = trust.help_text(ca, ca.directory / export.BUNDLE_FILE, ["macos"])
    sha1 = ca.cert.fingerprint(hashes.SHA1()).hex().upper()
    assert f"delete-certificate -Z {sha1} " in text
    assert "== debian" not in text and "== macos" in text


def test_env_output_can_be_evaluated(spaced):
    wanted = trust.trust_env(spaced.authority.cert_path, spaced.bundle)
    assert set(ENV_VARS) <= set(wanted)
    show = "; ".join(f'printf "%s\\n" "${name}"' for name in wanted)
    script = f'eval "$("$0" certs env)" || exit 9; {show}'
    result = subprocess.run(["bash", "-c", script, PROXYLENS], capture_output=True, text=True, timeout=60,
                            check=False, env=proxylens_env(spaced.home))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == list(wanted.values())
    assert wanted["NODE_EXTRA_CA_CERTS"] == str(spaced.authority.cert_path)
    assert wanted["SSL_CERT_FILE"] == wanted["REQUESTS_CA_BUNDLE"] == str(spaced.home / export.BUNDLE_FILE)


def test_cli_trust_help(spaced, tmp_path):
    result = cli(spaced.home, "certs", "trust-help", "chromium", "git")
    assert result.returncode == 0, result.stderr
    assert "== chromium:" in result.stdout and "== git:" in result.stdout and "== macos:" not in result.stdout
    assert shlex.quote(str(spaced.authority.cert_path)) in result.stdout
    bad = cli(tmp_path / "nothing", "certs", "trust-help", "windoze", "git")
    assert bad.returncode == 2 and "windoze" in bad.stderr
    assert all(key in bad.stderr for key in trust.TARGET_KEYS)
    assert not (tmp_path / "nothing").exists()  # refused before creating anything


# --------------------------------------------------------------------------- 10. CLI

def test_cli_init(tmp_path):
    home = tmp_path / "home"
    result = cli(home, "certs", "init")
    assert result.returncode == 0, result.stderr
    authority = certs.load(home)[0]
    assert authority.fingerprint in result.stdout and str(authority.cert_path) in result.stdout
    assert "trust-help" in result.stdout and "may only sign" not in result.stdout
    again = cli(home, "certs", "init")
    assert again.returncode == 2 and "already" in again.stderr and ROTATE in again.stderr
    assert certs.load(home)[0].fingerprint == authority.fingerprint


def test_cli_init_with_options(tmp_path):
    home = tmp_path / "home"
    result = cli(home, "certs", "init", "--permit", "Example.COM", "--permit", "10.0.0.0/8", "--days", "30",
                 "--key-type", "rsa")
    assert result.returncode == 0, result.stderr
    authority = certs.load(home)[0]
    assert authority.name_rules == NameRules.permit(["example.com", "10.0.0.0/8"])
    assert isinstance(authority.key, rsa.RSAPrivateKey) and lifetime_days(authority.cert) == 32
    assert "may only sign for: example.com, 10.0.0.0/8" in result.stdout


@pytest.mark.parametrize("args, says", [
    (["--permit", "*.x.com"], "'x.com'"),
    (["--permit", "exa mple.com"], "exa mple.com"),
    (["--permit", ""], "''"),
    (["--days", "0"], "'0'"),
    (["--days", str(MAX_DAYS + 1)], str(MAX_DAYS + 1)),
    (["--days", "soon"], "soon"),
    (["--key-type", "dsa"], "dsa"),
])
def test_cli_init_refuses_bad_options(tmp_path, args, says):
    home = tmp_path / "home"
    result = cli(home, "certs", "init", *args)
    assert result.returncode == 2 and says in result.stderr, result.stderr
    assert not (home / KEY_FILE).exists()


def test_cli_show(constrained, tmp_path):
    empty = cli(tmp_path / "none", "certs", "show")
    assert empty.returncode == 2 and "proxylens certs init" in empty.stderr
    result = cli(constrained.directory, "certs", "show", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    facts = report["certificate"]
    assert facts["name_constraints"] == "example.com (not any IP address)"
    assert facts["is_ca"] and facts["self_signed"] and facts["key_type"] == "EC" and facts["key_bits"] == 256
    assert facts["sha256"] == constrained.fingerprint.replace(":", "").lower()
    assert report["fingerprint_sha256"] == constrained.fingerprint
    assert 364 <= report["days_left"] <= 365
    assert report["directory"] == str(constrained.directory) and report["warnings"] == []
    files = report["files"]
    assert files[str(constrained.key_path)] == "0600" and files[str(constrained.cert_path)] == "0644"
    assert files[str(constrained.directory / DHPARAM_FILE)] == "0644"
    text = cli(constrained.directory, "certs", "show")
    assert text.returncode == 0 and constrained.fingerprint in text.stdout
    assert "may sign for: example.com (not any IP address)" in text.stdout and "0600" in text.stdout


def test_cli_path_creates_the_ca_on_first_use(tmp_path):
    home = tmp_path / "home"
    first = cli(home, "certs", "path")
    assert first.returncode == 0 and first.stdout == f"{home / CERT_FILE}\n"
    assert "created a new CA" in first.stderr
    second = cli(home, "certs", "path")
    assert second.stdout == first.stdout and second.stderr == ""
    bundle = cli(home, "certs", "path", "--bundle")
    assert bundle.returncode == 0 and bundle.stdout == f"{home / export.BUNDLE_FILE}\n"
    authority = certs.load(home)[0]
    assert (home / export.BUNDLE_FILE).read_bytes().endswith(authority.pem)
    assert mode(home / export.BUNDLE_FILE) == 0o644


def test_cli_export(ca, tmp_path):
    pem_out = cli_bytes(ca.directory, "certs", "export")
    assert pem_out.returncode == 0 and pem_out.stdout == ca.pem
    der_out = cli_bytes(ca.directory, "certs", "export", "--format", "der")
    assert der_out.returncode == 0 and x509.load_der_x509_certificate(der_out.stdout) == ca.cert
    dash = cli_bytes(ca.directory, "certs", "export", "--format", "pem", "-o", "-")
    assert dash.stdout == ca.pem
    target = tmp_path / "out.p12"
    to_file = cli(ca.directory, "certs", "export", "--format", "p12", "-o", str(target))
    assert to_file.returncode == 0 and to_file.stdout == "" and str(target) in to_file.stderr
    assert [c.certificate for c in pkcs12.load_pkcs12(target.read_bytes(), None).additional_certs] == [ca.cert]
    assert mode(target) == 0o644
    nowhere = cli(ca.directory, "certs", "export", "-o", str(tmp_path / "missing" / "ca.pem"))
    assert nowhere.returncode == 2 and "missing" in nowhere.stderr


def test_cli_inspect(constrained, tmp_path):
    store = ConstrainedCertStore.around(
        CertStore.from_files(constrained.key_path, constrained.directory / DHPARAM_FILE), constrained.name_rules)
    leaf = store.get_cert("api.example.com", [x509.DNSName("api.example.com"), x509.DNSName("other.test")])
    chain = tmp_path / "chain.pem"
    chain.write_bytes(leaf.cert.to_pem() + constrained.pem)
    result = cli(constrained.directory, "certs", "inspect", str(chain), "--host", "api.example.com")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["file"] == str(chain) and report["in_order"] is True
    leaf_facts, ca_facts = report["certificates"]
    assert leaf_facts["dns_names"] == ["api.example.com"] and not leaf_facts["is_ca"]
    assert ca_facts["is_ca"] and ca_facts["name_constraints"] == "example.com (not any IP address)"
    assert report["covers_host"] == {"api.example.com": True}
    other = json.loads(cli(constrained.directory, "certs", "inspect", str(chain), "--host", "other.test").stdout)
    assert other["covers_host"] == {"other.test": False}
    der = tmp_path / "ca.cer"
    der.write_bytes(export.encode(constrained, "der"))
    report = json.loads(cli(constrained.directory, "certs", "inspect", str(der)).stdout)
    assert [c["sha256"] for c in report["certificates"]] == [constrained.fingerprint.replace(":", "").lower()]
    key_file = cli(constrained.directory, "certs", "inspect", str(constrained.key_path))
    assert key_file.returncode == 0 and "PRIVATE" not in key_file.stdout
    for name, data in (("garbage.bin", b"\x00\x01 not a certificate"),
                       ("garbage.pem", b"-----BEGIN CERTIFICATE-----\nbm90\n-----END CERTIFICATE-----\n"),
                       ("key.pem", key_pem(constrained.key))):
        bad = tmp_path / name
        bad.write_bytes(data)
        result = cli(constrained.directory, "certs", "inspect", str(bad))
        assert result.returncode == 2 and name in result.stderr and result.stdout == "", name
    missing = cli(constrained.directory, "certs", "inspect", str(tmp_path / "absent.pem"))
    assert missing.returncode == 2 and "absent.pem" in missing.stderr
