"""Hand-built TLS ClientHello bodies (tests only).

The bytes are what addons/tls_hello.py parses: the ClientHello handshake body
starting at ``legacy_version`` (RFC 8446 section 4.1.2), without the record
header or the 4-byte handshake header::

    uint16 legacy_version; opaque random[32]; opaque legacy_session_id<0..32>;
    CipherSuite cipher_suites<2..2^16-2>; opaque legacy_compression_methods<1..2^8-1>;
    Extension extensions<8..2^16-1>;
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

EXT_SERVER_NAME, EXT_SUPPORTED_GROUPS, EXT_EC_POINT_FORMATS = 0, 10, 11
EXT_SIGNATURE_ALGORITHMS, EXT_ALPN, EXT_SUPPORTED_VERSIONS = 13, 16, 43

GREASE = tuple(0x0A0A + 0x1010 * i for i in range(16))  # RFC 8701: 0x0A0A, 0x1A1A, ... 0xFAFA

# A modern browser-like offer, without GREASE.
CHROME_CIPHERS = (0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014,
                  0x009C, 0x009D, 0x002F, 0x0035)
CHROME_SIGALGS = (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)
CHROME_GROUPS = (0x001D, 0x0017, 0x0018)


def u8(n: int) -> bytes:
    return n.to_bytes(1, "big")


def u16(n: int) -> bytes:
    return n.to_bytes(2, "big")


def vec8(data: bytes) -> bytes:
    return u8(len(data)) + data


def vec16(data: bytes) -> bytes:
    return u16(len(data)) + data


def u16s(values: Iterable[int]) -> bytes:
    return b"".join(u16(v) for v in values)


def ext(ext_type: int, data: bytes = b"") -> bytes:
    """One extension: type, length, data (the data as given, well-formed or not)."""
    return u16(ext_type) + vec16(data)


def sni_ext(name: str | bytes) -> bytes:
    raw = name.encode("ascii") if isinstance(name, str) else name
    return ext(EXT_SERVER_NAME, vec16(u8(0) + vec16(raw)))  # server_name_list: host_name(0)


def alpn_ext(*protocols: str | bytes) -> bytes:
    raw = [p.encode("latin-1") if isinstance(p, str) else p for p in protocols]
    return ext(EXT_ALPN, vec16(b"".join(vec8(p) for p in raw)))


def groups_ext(*groups: int) -> bytes:
    return ext(EXT_SUPPORTED_GROUPS, vec16(u16s(groups)))


def point_formats_ext(*formats: int) -> bytes:
    return ext(EXT_EC_POINT_FORMATS, vec8(bytes(formats)))


def sigalgs_ext(*schemes: int) -> bytes:
    return ext(EXT_SIGNATURE_ALGORITHMS, vec16(u16s(schemes)))


def versions_ext(*versions: int) -> bytes:
    return ext(EXT_SUPPORTED_VERSIONS, vec8(u16s(versions)))


def client_hello(*, legacy_version: int = 0x0303, ciphers: Sequence[int] = CHROME_CIPHERS,
                 extensions: Sequence[bytes] | None = (), session_id: bytes = b"",
                 compression: bytes = b"\x00", random: bytes = bytes(range(32))) -> bytes:
    """Assemble a ClientHello body. ``extensions=None`` leaves the extensions block out
    entirely (allowed before TLS 1.3, RFC 5246 section 7.4.1.2); ``()`` writes an empty one."""
    body = u16(legacy_version) + random + vec8(session_id) + vec16(u16s(ciphers)) + vec8(compression)
    if extensions is not None:
        body += vec16(b"".join(extensions))
    return body


def modern_hello(*, sni: str | None = "a.test", alpn: Sequence[str] | None = ("h2", "http/1.1"),
                 versions: Sequence[int] | None = (0x0304, 0x0303), ciphers: Sequence[int] = CHROME_CIPHERS,
                 groups: Sequence[int] = CHROME_GROUPS, sigalgs: Sequence[int] = CHROME_SIGALGS,
                 legacy_version: int = 0x0303, extra: Sequence[bytes] = ()) -> bytes:
    """A browser-like TLS 1.3 ClientHello; ``None`` leaves that extension out."""
    exts = []
    if sni is not None:
        exts.append(sni_ext(sni))
    exts += [groups_ext(*groups), point_formats_ext(0), sigalgs_ext(*sigalgs)]
    if alpn is not None:
        exts.append(alpn_ext(*alpn))
    if versions is not None:
        exts.append(versions_ext(*versions))
    exts += list(extra)
    return client_hello(legacy_version=legacy_version, ciphers=ciphers, extensions=exts)
