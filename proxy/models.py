"""The Exchange: the one input every analyzer sees.

Plain, picklable data with no mitmproxy objects inside, so the same analyzer
runs live (built from a mitmproxy flow in the proxy process and shipped to the
analysis worker), offline (built from a HAR entry) and in unit tests (built by
hand). Everything here is frozen: analyzers must not change what they judge.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field
from typing import Iterator
from urllib.parse import parse_qsl, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# Connect errors where the host could not be found or reached at all (DNS, routing; Chrome's net error names
# included, for HAR input), as opposed to a refused connection.
UNREACHABLE_ERRORS = ("unreachable", "no route to host", "name or service not known", "nodename nor servname",
                      "getaddrinfo", "name resolution", "no address associated", "temporary failure in name",
                      "name_not_resolved", "internet_disconnected")



def _pickled_by_position(cls: type) -> type:
    """Pickle a frozen, slotted dataclass as a tuple of its field values, by precomputed names.

    Every exchange is pickled to the analysis worker. The dataclass default
    calls ``dataclasses.fields()`` on each object it restores: a fifth of
    the worker's unpickling time went there.
    """
    names = tuple(f.name for f in dataclasses.fields(cls))
    set_field = object.__setattr__

    def __getstate__(self) -> tuple:
        return tuple([getattr(self, name) for name in names])

    def __setstate__(self, state: tuple) -> None:
        for name, value in zip(names, state):
            set_field(self, name, value)

    cls.__getstate__, cls.__setstate__ = __getstate__, __setstate__  # type: ignore[attr-defined]
    return cls

def serialize_origin(scheme: str, host: str, port: int | None) -> str:
    """HTML's "serialization of an origin": scheme://host[:port], the default port omitted, IPv6 in brackets."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{scheme}://{host}" if port in (None, DEFAULT_PORTS.get(scheme)) else f"{scheme}://{host}:{port}"


@dataclass(frozen=True, slots=True)
class Headers:
    """An ordered multi-map of header fields, as they were on the wire.

    Names keep their original case; look-ups are case-insensitive (RFC 9110
    section 5.1: "Field names are case-insensitive").
    """

    fields: tuple[tuple[str, str], ...] = ()
    # Values by lower-cased name, built on the first look-up: analyzers look up dozens of fields per
    # exchange, and a scan lower-casing every name each time was a tenth of the analysis time.
    _index: dict[str, list[str]] | None = field(default=None, init=False, repr=False, compare=False, hash=False)

    def __getstate__(self) -> tuple:
        return (self.fields,)  # the index is rebuilt on demand, not pickled to the worker

    def __setstate__(self, state: tuple) -> None:
        object.__setattr__(self, "fields", state[0])
        object.__setattr__(self, "_index", None)

    def _by_name(self) -> dict[str, list[str]]:
        index = self._index
        if index is None:
            index = {}
            for k, v in self.fields:
                index.setdefault(k.lower(), []).append(v)
            object.__setattr__(self, "_index", index)
        return index

    def get(self, name: str, default: str | None = None) -> str | None:
        """The field's combined value, or *default* when absent.

        RFC 9110 section 5.3: a recipient MAY combine multiple field lines
        with the same name into one "field-name: field-value" pair by
        appending each subsequent value separated by a comma. (Set-Cookie is
        the known exception; use get_all for it.)
        """
        values = self._by_name().get(name.lower())
        return ", ".join(values) if values else default

    def get_all(self, name: str) -> list[str]:
        """Every value of the field, in order (one per field line; use this for Set-Cookie)."""
        return list(self._by_name().get(name.lower(), ()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_name()

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    @classmethod
    def of(cls, items: object = ()) -> Headers:
        """Build from a dict or an iterable of (name, value) pairs."""
        if isinstance(items, Headers):
            return items
        pairs = items.items() if isinstance(items, dict) else items
        return cls(tuple((str(k), str(v)) for k, v in pairs))  # type: ignore[union-attr]


@_pickled_by_position
@dataclass(frozen=True, slots=True)
class Body:
    """A message body as captured.

    ``raw`` holds the bytes as transferred (still content-coded), possibly
    cut at the capture limit; ``None`` when the body was not captured.
    ``size`` is the full transferred size in bytes (-1 when unknown), so
    analyzers know the size even when the bytes were not kept.
    ``text`` is set instead of ``raw`` when the source only had decoded text
    (HAR files).
    """

    raw: bytes | None = None
    size: int = 0
    truncated: bool = False
    text: str | None = None
    text_encoding: str | None = None  # "base64" when ``text`` is base64 (HAR)
    decoded_size: int | None = None  # size after content decoding, when known


def _text(body: Body, headers: Headers, limit: int) -> str | None:
    import base64
    import binascii

    from .bodies import body_text, charset_of  # the decoders import mitmproxy: only when a check asks

    decoded = body_text(body, headers, limit)
    text = decoded.text
    if text is not None and decoded.encoding == "base64":
        # Binary live, or a HAR producer that stored text as base64 (Chrome does for some types):
        # text whenever the bytes decode in the charset, as live bytes are judged.
        try:
            text = base64.b64decode(text, validate=True).decode(charset_of(headers.get("content-type")) or "utf-8")
        except (binascii.Error, ValueError, LookupError):
            return None
    return text[:limit] if text is not None else None


def is_ip(host: str) -> bool:
    """An IP literal (brackets allowed), as opposed to a host name."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@_pickled_by_position
@dataclass(frozen=True, slots=True)
class Request:
    """The request as the client sent it: method (case kept), absolute URL, headers in wire order,
    body as captured. The URL accessors below answer empty rather than raise on a URL that does not
    parse (HAR input)."""

    method: str
    url: str
    http_version: str = "HTTP/1.1"
    headers: Headers = field(default_factory=Headers)
    body: Body = field(default_factory=Body)
    timestamp_start: float | None = None
    timestamp_end: float | None = None
    # The Host header (HTTP/1) or :authority (HTTP/2) as the client sent it. Inside a CONNECT
    # tunnel the URL's host is the tunnel's target, which this need not match.
    authority: str | None = None

    def text(self, limit: int = 1024 * 1024) -> str | None:
        """The body as text: content coding removed, decoded with its charset (UTF-8 by default), cut at
        *limit* characters. None when the body was not captured or does not decode as text; the same
        live and from a HAR (where it may be stored as base64)."""
        return _text(self.body, self.headers, limit)

    @property
    def requested_host(self) -> str:
        """The host the client asked for: authority, else the Host header, else the URL's host."""
        value = self.authority or self.headers.get("host") or ""
        try:
            return (urlsplit(f"//{value}").hostname or "").lower() if value else self.host
        except ValueError:
            return self.host

    # URLs from HAR files may not parse ("http://[::1/"): the accessors then
    # answer empty rather than raise into an analyzer.
    @property
    def scheme(self) -> str:
        """``http``, ``https``, ... in lower case."""
        try:
            return urlsplit(self.url).scheme.lower()
        except ValueError:
            return ""

    @property
    def host(self) -> str:
        """The URL's host in lower case, without brackets or port."""
        try:
            return (urlsplit(self.url).hostname or "").lower()
        except ValueError:
            return ""

    @property
    def port(self) -> int | None:
        """The URL's port, or the scheme's default."""
        try:
            parts = urlsplit(self.url)
            return parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
        except ValueError:
            return None

    @property
    def path(self) -> str:
        """Path and query, as in a request line (``/a/b?c=d``)."""
        try:
            parts = urlsplit(self.url)
        except ValueError:
            return self.url
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    @property
    def pathname(self) -> str:
        """The path alone, without the query (which may carry tokens: prefer this in summaries)."""
        try:
            return urlsplit(self.url).path or "/"
        except ValueError:
            return self.url

    @property
    def origin(self) -> str:
        """The URL's origin serialized as in the Fetch standard (scheme://host[:port])."""
        try:
            parts = urlsplit(self.url)
            host = parts.hostname
        except ValueError:
            return "null"
        return serialize_origin(parts.scheme.lower(), (host or "").lower(), self.port)

    @property
    def query(self) -> list[tuple[str, str]]:
        """The query's (name, value) pairs, decoded, blanks kept."""
        try:
            return parse_qsl(urlsplit(self.url).query, keep_blank_values=True)
        except ValueError:
            return []


@_pickled_by_position
@dataclass(frozen=True, slots=True)
class Response:
    """The response as the origin (or an intermediary) sent it."""

    status: int
    reason: str = ""
    http_version: str = "HTTP/1.1"
    headers: Headers = field(default_factory=Headers)
    body: Body = field(default_factory=Body)
    timestamp_start: float | None = None
    timestamp_end: float | None = None

    def text(self, limit: int = 1024 * 1024) -> str | None:
        """The body as text: content coding removed, decoded with its charset (UTF-8 by default), cut at
        *limit* characters. None when the body was not captured or does not decode as text; the same
        live and from a HAR (where it may be stored as base64)."""
        return _text(self.body, self.headers, limit)


@_pickled_by_position
@dataclass(frozen=True, slots=True)
class ExchangeError:
    """Why an exchange has no (complete) response.

    ``kind`` is a coarse class: ``connect`` (upstream unreachable or refused),
    ``timeout``, ``tls`` (handshake or certificate verification failed),
    ``client-tls`` (the client's TLS handshake with proxylens failed: it
    does not trust proxylens's CA, or no TLS version is shared),
    ``protocol`` (malformed message), ``client`` (the client went away),
    ``shutdown`` (the proxy stopped while the exchange was in flight) or
    ``other``. ``message`` is the underlying error, verbatim.
    ``proxy_status`` is the status proxylens itself answered the client with
    (502 or 504, say), or None when it sent no response or it is not known
    (HAR input): what the client saw came from the proxy, not the origin.
    """

    message: str
    kind: str = "other"
    proxy_status: int | None = None

    @property
    def unreachable(self) -> bool:
        """A connect error meaning the host could not be resolved or reached (not that it refused)."""
        m = self.message.lower()
        return self.kind == "connect" and any(p in m for p in UNREACHABLE_ERRORS)


@_pickled_by_position
@dataclass(frozen=True, slots=True)
class Timings:
    """HAR-style phase durations in milliseconds; -1 when not applicable.

    ``connect`` includes ``ssl``, as the HAR 1.2 spec says. ``started`` is the
    request start as a Unix timestamp (seconds).
    """

    started: float = 0.0
    blocked: float = -1
    dns: float = -1
    connect: float = -1
    ssl: float = -1
    send: float = 0
    wait: float = 0
    receive: float = 0

    @property
    def total(self) -> float:
        """The whole exchange in milliseconds (``ssl`` is inside ``connect``)."""
        return sum(max(v, 0) for v in (self.blocked, self.dns, self.connect, self.send, self.wait, self.receive))


@_pickled_by_position
@dataclass(frozen=True, slots=True)
class ClientTLS:
    """The client's side of the proxy (client to proxylens), from its ClientHello."""

    sni: str | None = None
    alpn_offers: tuple[str, ...] = ()
    version: str | None = None  # negotiated with the client
    cipher: str | None = None
    alpn: str | None = None
    client_hello: bytes | None = None  # the raw ClientHello body: every offer, JA3/JA4 (addons/tls_hello.py)


@_pickled_by_position
@dataclass(frozen=True, slots=True)
class ServerTLS:
    """The upstream side of the proxy (proxylens to origin)."""

    sni: str | None = None  # the name proxylens sent and verified the certificate against
    version: str | None = None
    cipher: str | None = None  # OpenSSL's name
    alpn: str | None = None
    alpn_offers: tuple[str, ...] = ()  # what proxylens offered (mirrors the client's offers)
    verified: bool | None = None  # None: not checked (HAR input, handshake failed before the certificate)
    verify_error: str | None = None  # the first error, OpenSSL's words
    verify_errors: tuple[tuple[int, int, str], ...] = ()  # every (depth, X509_V_ERR code, message)
    verify_enforced: bool | None = None  # False under --ssl-insecure: errors were let through
    handshake_error: str | None = None  # why the handshake failed, when it did
    certificate_chain: tuple[bytes, ...] = ()  # DER, leaf first, as sent by the server
    security_details: dict | None = None  # pre-parsed (HAR input), when no DER is available


@_pickled_by_position
@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and its response or error, with the connections it used."""

    id: str
    request: Request
    response: Response | None = None
    error: ExchangeError | None = None
    timings: Timings = field(default_factory=Timings)
    client_tls: ClientTLS | None = None
    server_tls: ServerTLS | None = None
    client_address: tuple[str, int] | None = None
    server_address: tuple[str, int] | None = None  # the peer actually connected to
    server_ip: str | None = None
    connection_id: str | None = None  # upstream connection, to see reuse
    proxy_mode: str | None = None
    source: str = "live"  # "live", or "har" for exchanges read from a file
    resource_type: str | None = None  # Chrome's _resourceType (HAR input)
    from_cache: str | None = None  # Chrome's _fromCache: "memory" | "disk"
    comment: str | None = None
