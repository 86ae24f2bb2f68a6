"""A TLS ClientHello, parsed, and its JA3 and JA4 fingerprints (pure, no I/O).

Input is the ClientHello handshake message body as mitmproxy keeps it
(``ClientHello.raw_bytes(wrap_in_record=False)``): it starts at
``legacy_version`` (RFC 8446 section 4.1.2)::

    uint16 legacy_version; opaque random[32]; opaque legacy_session_id<0..32>;
    CipherSuite cipher_suites<2..2^16-2>; opaque legacy_compression_methods<1..2^8-1>;
    Extension extensions<8..2^16-1>;

The parser never raises on malformed input: it returns ``None`` for a message
it cannot read at all and keeps what it could read of the extensions.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

# Extension types (IANA "TLS ExtensionType Values").
EXT_SERVER_NAME = 0
EXT_SUPPORTED_GROUPS = 10
EXT_EC_POINT_FORMATS = 11
EXT_SIGNATURE_ALGORITHMS = 13
EXT_ALPN = 16
EXT_SUPPORTED_VERSIONS = 43


def is_grease(value: int) -> bool:
    """RFC 8701 GREASE values: 0x0A0A, 0x1A1A, ... 0xFAFA (both bytes equal, low nibble A)."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


@dataclass(frozen=True, slots=True)
class ClientHello:
    legacy_version: int
    cipher_suites: tuple[int, ...]  # as sent, GREASE included
    extensions: tuple[int, ...]  # extension types in the order sent, GREASE included
    sni: str | None = None
    alpn: tuple[str, ...] = ()
    supported_groups: tuple[int, ...] = ()
    ec_point_formats: tuple[int, ...] = ()
    signature_algorithms: tuple[int, ...] = ()
    supported_versions: tuple[int, ...] = ()
    truncated: bool = False  # the extensions block ended early or was malformed

    @property
    def versions(self) -> tuple[int, ...]:
        """Versions offered, GREASE removed: supported_versions (TLS 1.3 style) or the legacy version."""
        offered = tuple(v for v in self.supported_versions if not is_grease(v))
        return offered or (self.legacy_version,)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def vector(self, length_bytes: int) -> bytes:
        return self.take(int.from_bytes(self.take(length_bytes), "big"))


def _u16_list(data: bytes) -> tuple[int, ...]:
    return tuple(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data) - 1, 2))


@functools.lru_cache(maxsize=1024)
def parse_client_hello(body: bytes) -> ClientHello | None:
    """Parse a ClientHello body (cached: one parse per distinct hello, not per request)."""
    r = _Reader(body)
    try:
        legacy_version = r.u16()
        r.take(32)  # random
        r.vector(1)  # legacy_session_id
        ciphers = _u16_list(r.vector(2))
        r.vector(1)  # legacy_compression_methods
    except ValueError:
        return None
    fields: dict = {}
    types: list[int] = []
    truncated = False
    if r.pos < len(body):  # extensions are optional before TLS 1.3 (RFC 5246 section 7.4.1.2)
        try:
            ext = _Reader(r.vector(2))
            while ext.pos < len(ext.data):
                ext_type = ext.u16()
                data = ext.vector(2)
                types.append(ext_type)
                _read_extension(ext_type, data, fields)
        except ValueError:
            truncated = True
    return ClientHello(legacy_version, ciphers, tuple(types), truncated=truncated, **fields)


def _read_extension(ext_type: int, data: bytes, fields: dict) -> None:
    try:
        r = _Reader(data)
        if ext_type == EXT_SERVER_NAME:  # RFC 6066 section 3
            names = _Reader(r.vector(2))
            while names.pos < len(names.data):
                name_type, name = names.u8(), names.vector(2)
                if name_type == 0:
                    fields["sni"] = name.decode("ascii", "replace")
                    break
        elif ext_type == EXT_SUPPORTED_GROUPS:  # RFC 8446 section 4.2.7
            fields["supported_groups"] = _u16_list(r.vector(2))
        elif ext_type == EXT_EC_POINT_FORMATS:  # RFC 8422 section 5.1.2
            fields["ec_point_formats"] = tuple(r.vector(1))
        elif ext_type == EXT_SIGNATURE_ALGORITHMS:  # RFC 8446 section 4.2.3
            fields["signature_algorithms"] = _u16_list(r.vector(2))
        elif ext_type == EXT_ALPN:  # RFC 7301 section 3.1
            protocols = _Reader(r.vector(2))
            names = []
            while protocols.pos < len(protocols.data):
                names.append(protocols.vector(1).decode("latin-1"))  # byte for byte: JA4 reads the bytes
            fields["alpn"] = tuple(names)
        elif ext_type == EXT_SUPPORTED_VERSIONS:  # RFC 8446 section 4.2.1
            fields["supported_versions"] = _u16_list(r.vector(1))
    except ValueError:
        pass  # one malformed extension does not hide the others


# --- JA3 (Salesforce, 2017): https://github.com/salesforce/ja3 ---------------

def ja3_string(hello: ClientHello) -> str:
    """SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats:
    decimal values joined by '-', in the order sent, GREASE values removed."""

    def join(values: tuple[int, ...]) -> str:
        return "-".join(str(v) for v in values if not is_grease(v))

    return ",".join((str(hello.legacy_version), join(hello.cipher_suites), join(hello.extensions),
                     join(hello.supported_groups), "-".join(str(v) for v in hello.ec_point_formats)))


def ja3(hello: ClientHello) -> str:
    return hashlib.md5(ja3_string(hello).encode(), usedforsecurity=False).hexdigest()


# --- JA4 (FoxIO, 2023): https://github.com/FoxIO-LLC/ja4/blob/main/technical_details/JA4.md

JA4_VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2",
                0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3"}
EMPTY_HASH = "000000000000"


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12] if text else EMPTY_HASH


def _alpn_chars(alpn: tuple[str, ...]) -> str:
    """First and last character of the first ALPN value; "00" without ALPN.
    JA4: "If the first or last byte of the first ALPN is non-alphanumeric
    (...), then we print the first and last characters of the hex
    representation of the first byte and last byte of the ALPN instead."
    """
    if not alpn or not alpn[0]:
        return "00"
    value = alpn[0].encode("latin-1")
    first, last = value[:1], value[-1:]
    if first.isalnum() and last.isalnum():  # bytes.isalnum() is ASCII-only: 0-9, A-Z, a-z
        return (first + last).decode()
    # The spec's rule; FoxIO's own code prints "99" for non-ASCII first bytes instead.
    return value.hex()[0] + value.hex()[-1]


def ja4_parts(hello: ClientHello, protocol: str = "t") -> tuple[str, str, str, str, str]:
    """(ja4_a, sorted ciphers, sorted extensions, signature algorithms, raw ja4_c input)."""
    ciphers = [c for c in hello.cipher_suites if not is_grease(c)]
    extensions = [e for e in hello.extensions if not is_grease(e)]
    version = max((v for v in hello.versions if not is_grease(v)), default=hello.legacy_version)
    # JA4: "If the SNI extension (0x0000) exists, then the destination of the connection is a domain"
    sni = "d" if EXT_SERVER_NAME in hello.extensions else "i"
    ja4_a = (f"{protocol}{JA4_VERSIONS.get(version, '00')}{sni}"
             f"{min(len(ciphers), 99):02d}{min(len(extensions), 99):02d}{_alpn_chars(hello.alpn)}")
    cipher_list = ",".join(f"{c:04x}" for c in sorted(ciphers))
    ext_list = ",".join(f"{e:04x}" for e in sorted(extensions) if e not in (EXT_SERVER_NAME, EXT_ALPN))
    sigalgs = ",".join(f"{s:04x}" for s in hello.signature_algorithms if not is_grease(s))
    ja4_c_input = f"{ext_list}_{sigalgs}" if sigalgs else ext_list
    return ja4_a, cipher_list, ext_list, sigalgs, ja4_c_input


def ja4(hello: ClientHello, protocol: str = "t") -> str:
    ja4_a, cipher_list, _, _, ja4_c_input = ja4_parts(hello, protocol)
    return f"{ja4_a}_{_sha12(cipher_list)}_{_sha12(ja4_c_input)}"


def ja4_r(hello: ClientHello, protocol: str = "t") -> str:
    """JA4_r, the unhashed form: what the fingerprint is made of."""
    ja4_a, cipher_list, ext_list, sigalgs, _ = ja4_parts(hello, protocol)
    return f"{ja4_a}_{cipher_list}_{ext_list}_{sigalgs}" if sigalgs else f"{ja4_a}_{cipher_list}_{ext_list}"
