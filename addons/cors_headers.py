"""The Fetch standard's CORS header rules, as pure functions (no I/O).

Quotes are from https://fetch.spec.whatwg.org/ ; each function names the
section it implements. These are the parsers the CORS analyzer trusts, and
the ones the fuzz tests hammer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from proxy import serialize_origin  # noqa: F401 - part of this module's rule set

SPEC = "https://fetch.spec.whatwg.org/"

# "A CORS-safelisted method is a method that is `GET`, `HEAD`, or `POST`."
SAFELISTED_METHODS = frozenset({"GET", "HEAD", "POST"})

# "A CORS non-wildcard request-header name is a header name that is a
# byte-case-insensitive match for `Authorization`."
NON_WILDCARD_REQUEST_HEADERS = frozenset({"authorization"})

# "A CORS-safelisted response-header name, given a list of header names
# list, is a header name that is a byte-case-insensitive match for one of
# `Cache-Control`, `Content-Language`, `Content-Length`, `Content-Type`,
# `Expires`, `Last-Modified`, `Pragma`"
SAFELISTED_RESPONSE_HEADERS = frozenset(
    {"cache-control", "content-language", "content-length", "content-type", "expires", "last-modified", "pragma"}
)

# Headers a browser adds itself after deciding whether a preflight is needed
# (forbidden request-headers, Fetch metadata, and what the cache mode adds):
# they never make a request "preflighted".
BROWSER_ADDED_HEADERS = frozenset({
    "accept-charset", "accept-encoding", "access-control-request-headers", "access-control-request-method",
    "access-control-request-private-network", "connection", "content-length", "cookie", "cookie2", "date", "dnt",
    "expect", "host", "keep-alive", "origin", "referer", "set-cookie", "te", "trailer", "transfer-encoding",
    "upgrade", "via", "user-agent", "priority", "cache-control", "pragma", "proxy-connection",
})

# "A CORS-unsafe request-header byte is a byte byte for which one of the
# following is true: byte is less than 0x20 and is not 0x09 HT; byte is 0x22
# ("), 0x28 (left parenthesis), 0x29 (right parenthesis), 0x3A (:), 0x3C (<),
# 0x3E (>), 0x3F (?), 0x40 (@), 0x5B ([), 0x5C (\), 0x5D (]), 0x7B ({), 0x7D
# (}), or 0x7F DEL."
_UNSAFE_BYTES = frozenset([b for b in range(0x20) if b != 0x09] + [0x22, 0x28, 0x29, 0x3A, 0x3C, 0x3E, 0x3F,
                                                                     0x40, 0x5B, 0x5C, 0x5D, 0x7B, 0x7D, 0x7F])
# Accept-Language / Content-Language: only 0-9 A-Z a-z space * , - . ; =
_LANGUAGE_BYTES = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz *,-.;=")
_SAFELISTED_CONTENT_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})
_SIMPLE_RANGE = re.compile(r"bytes=([0-9]+)-([0-9]*)")  # ASCII digits only, as the standard says
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _bytes(value: str) -> bytes:
    # Header values are byte sequences; mitmproxy decodes them as UTF-8 with
    # surrogateescape, so this gets the wire bytes back. Other lone surrogates
    # (possible in HAR files) are kept as their 3-byte forms: never a crash.
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")


def has_unsafe_byte(value: str) -> bool:
    return any(b in _UNSAFE_BYTES for b in _bytes(value))


def mime_essence(value: str) -> str | None:
    """The MIME type's essence ("type/subtype", lowercased), or None if it does not parse."""
    essence = value.split(";", 1)[0].strip(" \t")
    kind, slash, sub = essence.partition("/")
    # tokens are ASCII: check before lowercasing (str.lower maps U+212A KELVIN SIGN to "k")
    if not slash or not _TOKEN.fullmatch(kind) or not _TOKEN.fullmatch(sub):
        return None
    return essence.lower()


def is_safelisted_request_header(name: str, value: str) -> bool:
    """Fetch, "CORS-safelisted request-header"."""
    raw = _bytes(value)
    if len(raw) > 128:  # "If value's length is greater than 128, then return false."
        return False
    lname = name.lower()
    if lname == "accept":
        return not has_unsafe_byte(value)
    if lname in ("accept-language", "content-language"):
        return all(b in _LANGUAGE_BYTES for b in raw)
    if lname == "content-type":
        if has_unsafe_byte(value):
            return False
        return mime_essence(value) in _SAFELISTED_CONTENT_TYPES
    if lname == "range":
        # "If rangeValue[0] is null, then return false" (suffix ranges need a preflight)
        m = _SIMPLE_RANGE.fullmatch(value)
        return bool(m) and (not m.group(2) or int(m.group(1)) <= int(m.group(2)))
    return False


def unsafe_request_header_names(headers: Iterable[tuple[str, str]]) -> list[str]:
    """Fetch, "CORS-unsafe request-header names": sorted, lowercased, unique."""
    unsafe: set[str] = set()
    potentially_unsafe: set[str] = set()
    safelist_size = 0
    for name, value in headers:
        if is_safelisted_request_header(name, value):
            potentially_unsafe.add(name.lower())
            safelist_size += len(_bytes(value))
        else:
            unsafe.add(name.lower())
    # "If safelistValueSize is greater than 1024, then for each name of
    # potentillyUnsafeNames, append name to unsafeNames."
    if safelist_size > 1024:
        unsafe |= potentially_unsafe
    return sorted(unsafe)


def author_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers a page could have set itself (what the preflight decision sees)."""
    return [(n, v) for n, v in headers if n.lower() not in BROWSER_ADDED_HEADERS and not n.lower().startswith(
        ("sec-", "proxy-")) and not n.startswith(":")]


def split_list(value: str | None) -> list[str] | None:
    """Split a comma-separated header value, trimming whitespace and empty items."""
    if value is None:
        return None
    return [item.strip(" \t") for item in value.split(",") if item.strip(" \t")]


def parse_token_list(value: str | None) -> list[str] | None:
    """Access-Control-Allow-Methods / -Allow-Headers / -Expose-Headers.

    Fetch, "extracting header list values": null when the header is absent;
    failure (ValueError) when an item is not a token (#method, #field-name)."""
    items = split_list(value)
    if items is None:
        return None
    for item in items:
        if not _TOKEN.fullmatch(item):
            raise ValueError(f"{item!r} is not a valid token")
    return items


def parse_max_age(value: str | None) -> int | None:
    """Access-Control-Max-Age as delta-seconds; None when absent or invalid."""
    if value is None:
        return None
    value = value.strip(" \t")
    if not (value.isdigit() and value.isascii()):
        return None
    digits = value.lstrip("0") or "0"
    # RFC 9111 1.2.2: a delta-seconds too large to represent counts as 2^31 (browsers then cap it);
    # Python represents any value, except past its 4300-digit int() conversion limit.
    return 2**31 if len(digits) > 4300 else int(digits)
