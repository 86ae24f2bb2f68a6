"""Certificate chains made on purpose, for origins whose TLS is broken on purpose.

One throw-away PKI: a root CA (the trust anchor, given to proxylens with
``--upstream-ca`` and to ``openssl s_client`` with ``-CAfile``), an
intermediate CA it signed, and leaves the intermediate signed. Every case is
a :class:`ServerCert`: the certificates the server sends, in the order it
sends them, and the leaf's private key.

=================  ==========================================================================
case               what the server sends
=================  ==========================================================================
good               leaf (RSA 2048, SHA-256, localhost + 127.0.0.1, 60 days) + intermediate
expiring           like good, but the leaf expires in 10 days
expired            a leaf that expired 10 days ago + intermediate
not-yet-valid      a leaf valid from 10 days from now + intermediate
wrong-host         a leaf for other.example (SAN and CN) + intermediate
self-signed        a self-signed leaf for localhost, nothing else
unknown-ca         leaf + intermediate + root of a second PKI that nobody trusts
rsa1024            a leaf with a 1024-bit RSA key + intermediate
incomplete         the good leaf alone: the intermediate is missing (the root is trusted)
out-of-order       the good leaf, then the root, then the intermediate
sha1               a leaf signed with sha1WithRSAEncryption (by the ``openssl`` CLI) + intermediate
=================  ==========================================================================

cryptography refuses to sign with SHA-1, so that leaf comes from
``openssl x509 -req -sha1``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT_CN = "proxylens e2e root CA"
INTERMEDIATE_CN = "proxylens e2e intermediate CA"
OTHER_ROOT_CN = "untrusted e2e root CA"
OTHER_INTERMEDIATE_CN = "untrusted e2e intermediate CA"
HOST = "localhost"
OTHER_HOST = "other.example"
LEAF_DAYS = 60  # within every Mozilla profile's maximum lifespan (modern: 90 days)

CASES = ("good", "expiring", "expired", "not-yet-valid", "wrong-host", "self-signed", "unknown-ca", "rsa1024",
         "incomplete", "out-of-order", "sha1")


@dataclass(frozen=True)
class ServerCert:
    name: str
    chain: Path  # PEM: the certificates the server sends, in the order it sends them
    key: Path  # PEM: the leaf's private key
    certs: tuple[x509.Certificate, ...]  # the same certificates, parsed

    @property
    def leaf(self) -> x509.Certificate:
        return self.certs[0]


@dataclass(frozen=True)
class Pki:
    directory: Path
    root_pem: Path  # the trust anchor: --upstream-ca, s_client -CAfile
    root: x509.Certificate
    intermediate: x509.Certificate
    certs: dict[str, ServerCert]

    def __getitem__(self, name: str) -> ServerCert:
        return self.certs[name]


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _ca(cn: str, key, issuer: x509.Certificate | None, issuer_key, now: dt.datetime) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.subject if issuer else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None if issuer is None else 0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _leaf(key, issuer: x509.Certificate | None, issuer_key, *, host: str = HOST, not_before: dt.datetime,
          not_after: dt.datetime) -> x509.Certificate:
    sans: list[x509.GeneralName] = [x509.DNSName(host)]
    if host == HOST:
        sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(host))
        .issuer_name(issuer.subject if issuer else _name(host))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    return builder.sign(issuer_key if issuer is not None else key, hashes.SHA256())


def _sha1_leaf(directory: Path, key, intermediate: x509.Certificate, intermediate_key) -> x509.Certificate:
    """A leaf signed with SHA-1: cryptography will not do it, the openssl CLI will."""
    work = directory / "sha1-work"
    work.mkdir(exist_ok=True)
    csr = (x509.CertificateSigningRequestBuilder().subject_name(_name(HOST)).sign(key, hashes.SHA256()))
    (work / "leaf.csr").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    (work / "ca.pem").write_bytes(_pem(intermediate))
    (work / "ca.key").write_bytes(_key_pem(intermediate_key))
    (work / "ext.cnf").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "basicConstraints=critical,CA:FALSE\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n")
    subprocess.run(["openssl", "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                    "-set_serial", "4242", "-days", str(LEAF_DAYS), "-sha1", "-extfile", "ext.cnf",
                    "-out", "leaf.pem"], cwd=work, check=True, capture_output=True, timeout=60)
    cert = x509.load_pem_x509_certificate((work / "leaf.pem").read_bytes())
    assert cert.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.RSA_WITH_SHA1, cert.signature_algorithm_oid
    (work / "ca.key").unlink()
    return cert


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    root_key = rsa.generate_private_key(65537, 2048)
    inter_key = rsa.generate_private_key(65537, 2048)
    leaf_key = rsa.generate_private_key(65537, 2048)
    weak_key = rsa.generate_private_key(65537, 1024)
    root = _ca(ROOT_CN, root_key, None, root_key, now)
    inter = _ca(INTERMEDIATE_CN, inter_key, root, root_key, now)
    # a second PKI nobody trusts (EC keys: quick to make)
    other_root_key, other_inter_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    other_root = _ca(OTHER_ROOT_CN, other_root_key, None, other_root_key, now)
    other_inter = _ca(OTHER_INTERMEDIATE_CN, other_inter_key, other_root, other_root_key, now)

    def signed(key=leaf_key, *, host=HOST, start=-1, days=LEAF_DAYS, by=(inter, inter_key)):
        not_before = now + dt.timedelta(days=start)
        return _leaf(key, by[0], by[1], host=host, not_before=not_before, not_after=not_before + dt.timedelta(days))

    good = signed()
    chains: dict[str, tuple[list[x509.Certificate], object]] = {
        "good": ([good, inter], leaf_key),
        "expiring": ([signed(start=-50), inter], leaf_key),
        "expired": ([signed(start=-70), inter], leaf_key),
        "not-yet-valid": ([signed(start=10), inter], leaf_key),
        "wrong-host": ([signed(host=OTHER_HOST), inter], leaf_key),
        "self-signed": ([_leaf(leaf_key, None, None, not_before=now - dt.timedelta(days=1),
                               not_after=now + dt.timedelta(days=LEAF_DAYS - 1))], leaf_key),
        "unknown-ca": ([signed(by=(other_inter, other_inter_key)), other_inter, other_root], leaf_key),
        "rsa1024": ([signed(weak_key), inter], weak_key),
        "incomplete": ([good], leaf_key),
        "out-of-order": ([good, root, inter], leaf_key),
        "sha1": ([_sha1_leaf(directory, leaf_key, inter, inter_key), inter], leaf_key),
    }
    assert tuple(chains) == CASES
    root_pem = directory / "root.pem"
    root_pem.write_bytes(_pem(root))
    certs = {}
    for name, (sent, key) in chains.items():
        chain_path, key_path = directory / f"{name}.chain.pem", directory / f"{name}.key.pem"
        chain_path.write_bytes(b"".join(_pem(c) for c in sent))
        key_path.write_bytes(_key_pem(key))
        certs[name] = ServerCert(name, chain_path, key_path, tuple(sent))
    return Pki(directory, root_pem, root, inter, certs)
