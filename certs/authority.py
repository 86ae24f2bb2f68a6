"""Create, load, check and rotate the interception CA with ``cryptography``.

The files keep mitmproxy's layout, so mitmproxy (``confdir``) signs its leaf
certificates with this CA and reads nothing else, and ``mitmdump --set
confdir=...`` can share it:

- ``mitmproxy-ca.pem``: private key + certificate, 0600 (mitmproxy reads it);
- ``mitmproxy-ca-cert.pem``: the certificate alone, 0644: what clients trust;
- ``mitmproxy-dhparam.pem``: mitmproxy's fixed DH parameters (public);
- ``backups/<UTC time>/``: CAs replaced by ``proxylens certs rotate``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .constraints import NameRules
from .files import (
    PRIVATE_DIR,
    PRIVATE_FILE,
    PUBLIC_FILE,
    CAError,
    check_private_file,
    locked,
    private_dir,
    write_atomic,
)

KEY_FILE = "mitmproxy-ca.pem"  # key + certificate: mitmproxy's CertStore reads exactly this name
CERT_FILE = "mitmproxy-ca-cert.pem"
DHPARAM_FILE = "mitmproxy-dhparam.pem"
BACKUPS = "backups"
# Files of a CA that rotation moves aside: ours, and the PKCS#12 copies mitmproxy
# itself wrote when it generated the CA (before proxylens 0.2), one holding the key.
LEGACY_KEY_COPY = "mitmproxy-ca.p12"
CA_FILES = (KEY_FILE, CERT_FILE, LEGACY_KEY_COPY, "mitmproxy-ca-cert.p12", "mitmproxy-ca-cert.cer")

KEY_TYPES = ("ec", "rsa")
DEFAULT_DAYS = 365  # short: a CA that is forgotten in trust stores stops working within a year
MAX_DAYS = 3650
EXPIRY_WARNING_DAYS = 30
# Back-dated like mitmproxy's leaf certificates, so a client whose clock runs a
# little behind still accepts the CA right after it was created.
BACKDATE = dt.timedelta(days=2)


@dataclass(frozen=True)
class Authority:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    directory: Path

    @property
    def cert_path(self) -> Path:
        return self.directory / CERT_FILE

    @property
    def key_path(self) -> Path:
        return self.directory / KEY_FILE

    @property
    def subject(self) -> str:
        cn = self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(cn[0].value) if cn else self.cert.subject.rfc4514_string()

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the certificate, as browsers' certificate viewers show it."""
        return ":".join(f"{b:02X}" for b in hashlib.sha256(self.cert.public_bytes(serialization.Encoding.DER)).digest())

    @property
    def name_rules(self) -> NameRules | None:
        return NameRules.of(self.cert)

    def days_left(self, now: dt.datetime | None = None) -> float:
        now = now or dt.datetime.now(dt.UTC)
        return (self.cert.not_valid_after_utc - now).total_seconds() / 86400

    def validity_warnings(self, now: dt.datetime | None = None) -> list[str]:
        """An expired CA is an error (CAError); one close to expiry or not yet valid, a warning."""
        now = now or dt.datetime.now(dt.UTC)
        until = self.cert.not_valid_after_utc
        if until <= now:
            raise CAError(f"the proxylens CA in {self.directory} expired on {until:%Y-%m-%d}: clients refuse every "
                          "certificate it signs. Run `proxylens certs rotate` and trust the new CA "
                          "(`proxylens certs trust-help`).")
        if self.cert.not_valid_before_utc > now:
            return [(f"the proxylens CA is valid only from {self.cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC: "
                 "this machine's clock may be wrong; clients will refuse it until then")]
        days = self.days_left(now)
        if days <= EXPIRY_WARNING_DAYS:
            return [(f"the proxylens CA expires in {days:.0f} day(s), on {until:%Y-%m-%d}. Run `proxylens certs "
                     "rotate` and trust the new CA before then (`proxylens certs trust-help`).")]
        return []


def new_ca(days: int = DEFAULT_DAYS, permit: NameRules | None = None, key_type: str = "ec",
           now: dt.datetime | None = None) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey]:
    """A fresh, unique CA certificate and key (nothing is written)."""
    if key_type not in KEY_TYPES:
        raise ValueError(f"unknown key type {key_type!r}: use one of {', '.join(KEY_TYPES)}")
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"the CA's validity must be between 1 and {MAX_DAYS} days, not {days}")
    # mitmproxy signs every leaf certificate with the CA's key *and* gives the leaf
    # that same key, so the key type is what clients see in every handshake. P-256
    # is Mozilla's "modern" certificate type, every current client supports it, and
    # it gives 6-10% more new HTTPS connections/s than RSA-2048 (bench/handshakes.py).
    key = ec.generate_private_key(ec.SECP256R1()) if key_type == "ec" else rsa.generate_private_key(65537, 2048)
    now = now or dt.datetime.now(dt.UTC)
    host = socket.gethostname().split(".")[0][:24] or "localhost"
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, f"proxylens CA ({host}, {now:%Y-%m-%d})"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "proxylens"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "local interception CA, do not share the key"),
        # Makes the subject unique per CA: stores that index CAs by subject never confuse an old
        # CA with its same-day replacement.
        x509.NameAttribute(NameOID.SERIAL_NUMBER, x509.SubjectKeyIdentifier.from_public_key(key.public_key())
                           .digest.hex()[:16]),
    ])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        # pathLen 0: it signs leaf certificates only, never another CA.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        # EKU on a CA limits what it can vouch for (Chromium, Windows, macOS chain it):
        # TLS server certificates only, never code signing or e-mail.
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if permit is not None:
        # RFC 5280 §4.2.1.10: "Conforming CAs MUST mark this extension as critical".
        builder = builder.add_extension(permit.extension(), critical=True)
    return builder.sign(key, hashes.SHA256()), key


def _key_file_bytes(cert: x509.Certificate, key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM)


def _write(directory: Path, cert: x509.Certificate, key) -> Authority:
    from mitmproxy.certs import DEFAULT_DHPARAM

    write_atomic(directory / KEY_FILE, _key_file_bytes(cert, key), PRIVATE_FILE)
    write_atomic(directory / CERT_FILE, cert.public_bytes(serialization.Encoding.PEM), PUBLIC_FILE)
    # Written here so that mitmproxy finds it and writes nothing itself.
    write_atomic(directory / DHPARAM_FILE, DEFAULT_DHPARAM, PUBLIC_FILE)
    return Authority(cert, key, directory)


def exists(directory: Path) -> bool:
    return (directory / KEY_FILE).exists() or (directory / KEY_FILE).is_symlink()


def load(directory: Path) -> tuple[Authority, list[str]]:
    """Read and check the CA in *directory*: (authority, warnings); CAError when unusable."""
    warnings = private_dir(directory)
    path = directory / KEY_FILE
    warnings += check_private_file(path)
    hint = "Run `proxylens certs rotate` to move it aside and create a new CA (then trust the new one)."
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CAError(f"cannot read {path}: {exc.strerror or exc}. {hint}") from None
    try:
        key = serialization.load_pem_private_key(raw, password=None)
    except TypeError:
        raise CAError(f"the CA key in {path} is encrypted with a passphrase; proxylens needs it unencrypted "
                      f"(the file is private to you). {hint}") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CAError(f"{path} does not hold a readable private key ({_reason(exc)}). {hint}") from None
    try:
        cert = x509.load_pem_x509_certificates(raw)[0]
    except ValueError as exc:
        raise CAError(f"{path} does not hold a readable CA certificate ({_reason(exc)}). {hint}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CAError(f"{path} holds a {type(key).__name__}; proxylens CAs use EC or RSA keys. {hint}")
    if cert.public_key() != key.public_key():
        raise CAError(f"the certificate in {path} does not belong to its private key. {hint}")
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise CAError(f"the certificate in {path} is not a CA certificate (basicConstraints CA:TRUE). {hint}")
    authority = Authority(cert, key, directory)
    public = directory / CERT_FILE
    try:
        current = public.read_bytes() if not public.is_symlink() else b""
    except OSError:
        current = b""
    if current != authority.pem:  # missing, edited or stale: it is derived from the key file
        write_atomic(public, authority.pem, PUBLIC_FILE)
        warnings.append(f"rewrote {public} from {path}")
    legacy = directory / LEGACY_KEY_COPY
    if legacy.exists():
        warnings.append(f"{legacy} is a second copy of the CA private key, written when mitmproxy generated this "
                        "CA for an older proxylens (a 10-year CA). Run `proxylens certs rotate` to replace it with "
                        "a proxylens CA and move both aside, then trust the new CA.")
    if not (directory / DHPARAM_FILE).is_file():
        from mitmproxy.certs import DEFAULT_DHPARAM

        write_atomic(directory / DHPARAM_FILE, DEFAULT_DHPARAM, PUBLIC_FILE)
    return authority, warnings


def _reason(exc: Exception) -> str:
    text = str(exc).split("\n")[0].strip()
    return text[:160] or type(exc).__name__


def create(directory: Path, days: int = DEFAULT_DAYS, permit: NameRules | None = None,
           key_type: str = "ec") -> Authority:
    """Create the CA in *directory*; CAError if there already is one."""
    private_dir(directory)
    with locked(directory):
        if exists(directory):
            raise CAError(f"there already is a CA in {directory}. `proxylens certs rotate` replaces it "
                          "(and keeps a backup); `proxylens certs show` describes it.")
        return _write(directory, *new_ca(days, permit, key_type))


def ensure(directory: Path) -> tuple[Authority, list[str], bool]:
    """The CA ready for use, created on first use: (authority, warnings, created).

    CAError when it cannot be used, expired included; a CA close to expiry is a warning."""
    warnings = private_dir(directory)
    with locked(directory):
        created = not exists(directory)
        if created:
            _write(directory, *new_ca())
    authority, more = load(directory)
    return authority, warnings + more + authority.validity_warnings(), created


@dataclass(frozen=True)
class Rotation:
    authority: Authority
    backup: Path | None  # where the old files went, if there were any
    old: Authority | None  # the old CA, if it could still be read


def rotate(directory: Path, days: int | None = None, permit: NameRules | None = None, key_type: str | None = None,
           unconstrained: bool = False) -> Rotation:
    """Replace the CA, keeping the old files in backups/<UTC time>/.

    Settings not given are taken from the old CA (validity length, key type,
    name constraints), so a rotation changes nothing but the key.
    """
    private_dir(directory)
    with locked(directory):
        old = None
        try:
            old = load(directory)[0]
        except CAError:
            pass  # a broken or foreign CA is exactly what rotation is for: move it aside unread
        if old is not None:
            if days is None:
                lifetime = old.cert.not_valid_after_utc - old.cert.not_valid_before_utc - BACKDATE
                days = max(1, min(MAX_DAYS, round(lifetime.total_seconds() / 86400)))
            if key_type is None:
                key_type = "rsa" if isinstance(old.key, rsa.RSAPrivateKey) else "ec"
            if permit is None and not unconstrained:
                permit = old.name_rules
        cert, key = new_ca(days or DEFAULT_DAYS, None if unconstrained else permit, key_type or "ec")
        backup = _move_aside(directory)
        return Rotation(_write(directory, cert, key), backup, old)


def _move_aside(directory: Path) -> Path | None:
    present = [name for name in CA_FILES if (directory / name).exists() or (directory / name).is_symlink()]
    if not present:
        return None
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    backup = directory / BACKUPS / stamp
    backup.mkdir(parents=True, mode=PRIVATE_DIR)
    (directory / BACKUPS).chmod(PRIVATE_DIR)
    for name in present:
        shutil.move(directory / name, backup / name)
        moved = backup / name
        if not moved.is_symlink() and moved.lstat().st_uid == os.getuid():
            # The backup of a key stays as private as the key. Another user's file cannot be
            # chmod-ed, but nobody else can open it inside the 0700 backup directory anyway.
            moved.chmod(PRIVATE_FILE)
    return backup

