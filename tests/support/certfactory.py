"""Certificates for analyzer tests: a root CA, intermediates and leaves with knobs (tests only).

Everything is dated from a fixed instant (``NOW``), so a test that analyzes an exchange started at ``T0``
judges validity deterministically. Keys are generated once per process and kind (RSA key generation is
slow); certificates are cached by their parameters.

``issue`` builds with ``cryptography``, which refuses SHA-1 and MD5 signatures; ``openssl_sha1_leaf``
has the ``openssl`` command line sign one instead.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z
NOW = dt.datetime.fromtimestamp(T0, dt.UTC)
DAY = dt.timedelta(days=1)
CA_FROM, CA_TO = dt.datetime(2020, 1, 1, tzinfo=dt.UTC), dt.datetime(2045, 1, 1, tzinfo=dt.UTC)

KEY_KINDS = ("rsa1024", "rsa2048", "p192", "p256", "p384", "p521", "ed25519")
_CURVES = {"p192": ec.SECP192R1, "p256": ec.SECP256R1, "p384": ec.SECP384R1, "p521": ec.SECP521R1}


@functools.cache
def private_key(kind: str, slot: int = 0):
    """One key per (kind, slot): root, intermediate and leaf use different slots."""
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    if kind in _CURVES:
        return ec.generate_private_key(_CURVES[kind]())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unknown key kind {kind!r}: one of {', '.join(KEY_KINDS)}")


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: object  # the private key, to issue further certificates

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,  # type: ignore[attr-defined]
                                      serialization.NoEncryption())


def _name(cn: str | None) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "proxylens tests")]
                     + ([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else []))


def _general_name(san: str) -> x509.GeneralName:
    """"IP:192.0.2.1" is an iPAddress entry, anything else (optionally "DNS:...") a dNSName."""
    if san.startswith("IP:"):
        return x509.IPAddress(ipaddress.ip_address(san[3:]))
    return x509.DNSName(san.removeprefix("DNS:"))


@functools.cache
def issue(cn: str | None, *, key: str = "p256", slot: int = 2, issuer: Issued | None = None,
          sans: tuple[str, ...] | None = ("a.test",), not_before: dt.datetime = NOW - 30 * DAY,
          not_after: dt.datetime = NOW + 60 * DAY, ca: bool = False, digest: str = "sha256") -> Issued:
    """A certificate for *cn*, signed by *issuer* (None: self-signed). ``sans=None``: no subjectAltName."""
    subject_key = private_key(key, slot)
    signer = issuer.key if issuer is not None else subject_key
    algorithm = None if isinstance(signer, ed25519.Ed25519PrivateKey) else getattr(hashes, digest.upper())()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.cert.subject if issuer is not None else _name(cn))
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                                        critical=True)
    else:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    if sans is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(s) for s in sans]),
                                        critical=False)
    return Issued(builder.sign(signer, algorithm), subject_key)  # type: ignore[arg-type]


@functools.cache
def root(key: str = "p256") -> Issued:
    return issue(f"Test Root CA {key}", key=key, slot=0, sans=None, not_before=CA_FROM, not_after=CA_TO, ca=True)


@functools.cache
def intermediate(key: str = "p256", root_key: str | None = None) -> Issued:
    """An intermediate CA signed by the root of *root_key* (default: the same kind as *key*)."""
    parent = root(root_key or ("rsa2048" if key.startswith("rsa") else "p256"))
    return issue(f"Test Intermediate CA {key}", key=key, slot=1, issuer=parent, sans=None, not_before=CA_FROM,
                 not_after=CA_TO, ca=True)


def ders(*certs: Issued | x509.Certificate | bytes) -> tuple[bytes, ...]:
    out = []
    for c in certs:
        if isinstance(c, Issued):
            out.append(c.der)
        elif isinstance(c, x509.Certificate):
            out.append(c.public_bytes(serialization.Encoding.DER))
        else:
            out.append(c)
    return tuple(out)


class OpensslUnavailable(Exception):
    pass


@functools.cache
def openssl_sha1_leaf(host: str = "a.test", issuer_key: str = "rsa2048", days: int = 90) -> x509.Certificate:
    """A leaf for *host* signed with SHA-1 by ``intermediate(issuer_key)``, made by the openssl CLI.

    Its validity starts when it is made (``openssl x509 -req`` has no start date option before 3.4):
    judge it at ``not_valid_before_utc`` plus a day.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise OpensslUnavailable("the openssl command is not installed")
    ca = intermediate(issuer_key)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "ca.pem").write_bytes(ca.pem)
        (d / "ca.key").write_bytes(ca.key_pem())
        (d / "ext.cnf").write_text(f"subjectAltName=DNS:{host}\nbasicConstraints=critical,CA:FALSE\n"
                                   "extendedKeyUsage=serverAuth\n")
        steps = [
            [openssl, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "leaf.key"),
             "-subj", f"/O=proxylens tests/CN={host}", "-out", str(d / "leaf.csr")],
            [openssl, "x509", "-req", "-sha1", "-in", str(d / "leaf.csr"), "-CA", str(d / "ca.pem"), "-CAkey",
             str(d / "ca.key"), "-set_serial", "4097", "-days", str(days), "-extfile", str(d / "ext.cnf"),
             "-out", str(d / "leaf.pem")],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=60, check=False)
            if done.returncode != 0:
                raise OpensslUnavailable(f"{' '.join(step[:3])} failed: {done.stderr.strip()[:300]}")
        cert = x509.load_pem_x509_certificate((d / "leaf.pem").read_bytes())
    if cert.signature_hash_algorithm is None or cert.signature_hash_algorithm.name != "sha1":
        raise OpensslUnavailable(f"openssl signed with {cert.signature_algorithm_oid._name}, not SHA-1")
    return cert
