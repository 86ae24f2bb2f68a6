"""Certificates described as facts: upstream chains for the TLS analyzer, the CA for ``proxylens certs``.

Parsing uses ``cryptography``. A chain is parsed once and cached by its bytes,
so the requests of one connection (HTTP/1 keep-alive, HTTP/2 streams) and
later connections to the same server share the work.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

from .constraints import NameRules


@dataclass(frozen=True, slots=True)
class CertInfo:
    subject: str  # RFC 4514
    issuer: str
    subject_cn: str | None
    issuer_cn: str | None
    dns_names: tuple[str, ...]  # subjectAltName dNSName entries, as written
    ip_addresses: tuple[str, ...]  # subjectAltName iPAddress entries
    not_before: dt.datetime
    not_after: dt.datetime
    key_type: str  # RSA, EC, Ed25519, Ed448, DSA
    key_bits: int | None
    curve: str | None
    signature_algorithm: str  # OpenSSL's name, e.g. sha256WithRSAEncryption
    signature_hash: str | None  # sha256, sha1, md5, or None (Ed25519 hashes internally)
    self_signed: bool
    is_ca: bool
    sha256: str
    name_constraints: str | None = None  # what a constrained CA may sign for (RFC 5280 section 4.2.1.10)

    @property
    def sans(self) -> tuple[str, ...]:
        return self.dns_names + self.ip_addresses

    @property
    def lifespan_days(self) -> float:
        return (self.not_after - self.not_before).total_seconds() / 86400

    def facts(self) -> dict:
        return {
            "subject": self.subject, "issuer": self.issuer, "sans": list(self.sans),
            "dns_names": list(self.dns_names), "ip_addresses": list(self.ip_addresses),
            "not_before": _iso(self.not_before), "not_after": _iso(self.not_after),
            "key_type": self.key_type, "key_bits": self.key_bits,
            "signature_algorithm": self.signature_algorithm, "self_signed": self.self_signed,
            "is_ca": self.is_ca, "sha256": self.sha256,
        } | ({"name_constraints": self.name_constraints} if self.name_constraints else {})


@dataclass(frozen=True, slots=True)
class ChainInfo:
    certs: tuple[CertInfo, ...]  # as sent, leaf first
    in_order: bool  # each certificate is issued by the next one (RFC 8446 section 4.4.2)
    error: str | None = None  # a certificate that could not be parsed

    def covers(self, host: str) -> bool:
        return bool(self.leaf) and hostname_covered(host, self.leaf.dns_names, self.leaf.ip_addresses)

    @property
    def leaf(self) -> CertInfo | None:
        return self.certs[0] if self.certs else None


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cn(name: x509.Name) -> str | None:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


def _key(cert: x509.Certificate) -> tuple[str, int | None, str | None]:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size, key.curve.name
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456, None
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, None
    return type(key).__name__, None, None


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:  # noqa: BLE001 - bad signature, unsupported algorithm: not provably self-signed
        return False
    return True


def describe(cert: x509.Certificate) -> CertInfo:
    try:
        san_ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = tuple(san_ext.get_values_for_type(x509.DNSName))
        ip_addresses = tuple(str(ip) for ip in san_ext.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        dns_names = ip_addresses = ()
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    try:
        sig_hash = cert.signature_hash_algorithm.name if cert.signature_hash_algorithm else None
    except Exception:  # noqa: BLE001 - an algorithm cryptography does not know
        sig_hash = None
    key_type, key_bits, curve = _key(cert)
    try:
        rules = NameRules.of(cert)
    except ValueError:  # a malformed extension: cryptography parses extensions lazily
        rules = None
    oid = cert.signature_algorithm_oid
    return CertInfo(
        subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
        subject_cn=_cn(cert.subject), issuer_cn=_cn(cert.issuer), dns_names=dns_names, ip_addresses=ip_addresses,
        not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
        key_type=key_type, key_bits=key_bits, curve=curve,
        signature_algorithm=getattr(oid, "_name", None) or oid.dotted_string, signature_hash=sig_hash,
        self_signed=_self_signed(cert), is_ca=is_ca,
        sha256=hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest(),
        name_constraints=rules.describe() if rules else None,
    )


@functools.lru_cache(maxsize=512)
def describe_chain(chain: tuple[bytes, ...]) -> ChainInfo:
    certs: list[x509.Certificate] = []
    for i, der in enumerate(chain):
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except ValueError as e:
            return ChainInfo(tuple(describe(c) for c in certs), True, f"certificate {i} could not be parsed: {e}")
    in_order = all(certs[i].issuer == certs[i + 1].subject for i in range(len(certs) - 1))
    return ChainInfo(tuple(describe(c) for c in certs), in_order)


def hostname_covered(host: str, dns_names: tuple[str, ...], ip_addresses: tuple[str, ...] = ()) -> bool:
    """Does a subjectAltName cover *host*? RFC 6125 section 6.4 as browsers apply
    it: only subjectAltName counts (not the CN); a wildcard is the whole
    left-most label and matches exactly one label ("*.example.com" matches
    "a.example.com", not "example.com" nor "a.b.example.com"); an IP address
    matches only an iPAddress entry (RFC 5280 section 4.2.1.6), never a
    dNSName that happens to spell one."""
    host = host.rstrip(".").lower()
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None:
        return any(_same_ip(ip, san) for san in ip_addresses)
    for san in dns_names:
        san = san.rstrip(".").lower()
        if san == host:
            return True
        if san.startswith("*.") and "." in host:
            label, _, rest = host.partition(".")
            if label and rest == san[2:] and "." in rest:
                return True
    return False


def _same_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, san: str) -> bool:
    try:
        return ipaddress.ip_address(san) == ip
    except ValueError:
        return False
