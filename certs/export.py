"""The CA certificate in the formats trust stores import, and a combined bundle.

Only the certificate ever leaves the config directory; the private key is
never exported.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from .authority import Authority
from .files import PUBLIC_FILE, write_atomic

FORMATS = ("pem", "der", "p12", "bundle")
BUNDLE_FILE = "ca-bundle.pem"

# Where systems keep their CA bundle, most common first (the paths Go's crypto/x509 also probes).
SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL, CentOS
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # Fedora, RHEL (the file the one above links to)
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/ssl/cert.pem",  # macOS, Alpine, OpenBSD
)


def encode(authority: Authority, fmt: str) -> bytes:
    if fmt == "pem":
        return authority.pem
    if fmt == "der":
        return authority.cert.public_bytes(serialization.Encoding.DER)
    if fmt == "p12":
        # A certificate bag only, no key: what Windows' and macOS' importers and Android expect.
        named = pkcs12.PKCS12Certificate(authority.cert, authority.subject.encode())
        return pkcs12.serialize_key_and_certificates(None, None, None, [named], serialization.NoEncryption())
    if fmt == "bundle":
        return bundle_bytes(authority)
    raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")


def system_bundle(exclude: Path | None = None) -> tuple[Path, str]:
    """The system's CA bundle file and where it came from; certifi's Mozilla bundle if there is none.

    *exclude* is the proxylens bundle itself: after ``eval "$(proxylens certs
    env)"``, SSL_CERT_FILE (Python's default cafile) names it, and building
    the bundle from itself would keep every old CA in it, rotation or not.
    """
    paths = ssl.get_default_verify_paths()
    skip = exclude.resolve() if exclude is not None else None
    for candidate in (paths.cafile, paths.openssl_cafile, *SYSTEM_BUNDLES):
        if candidate and Path(candidate).is_file() and Path(candidate).resolve() != skip:
            return Path(candidate).resolve(), "the system store"  # one name for one file, however reached
    import certifi  # mitmproxy depends on it

    return Path(certifi.where()), "certifi's copy of Mozilla's store (no system bundle was found)"


def bundle_bytes(authority: Authority) -> bytes:
    source, label = system_bundle(exclude=authority.directory / BUNDLE_FILE)
    system = source.read_bytes().rstrip(b"\n")
    header = (f"\n\n# {authority.subject} (SHA-256 {authority.fingerprint}), added by proxylens\n"
              f"# to the CAs of {label}, {source}\n").encode()
    return system + header + authority.pem


def write_bundle(authority: Authority) -> Path:
    """The system's CAs plus the proxylens CA, for tools that replace their trust store instead of
    extending it (curl's CURL_CA_BUNDLE, requests' REQUESTS_CA_BUNDLE, SSL_CERT_FILE, git's GIT_SSL_CAINFO).
    Rewritten whenever the CA or the system bundle changed."""
    path = authority.directory / BUNDLE_FILE
    data = bundle_bytes(authority)
    try:
        current = path.read_bytes() if not path.is_symlink() else None
    except OSError:
        current = None
    if current != data:
        write_atomic(path, data, PUBLIC_FILE)
    return path
