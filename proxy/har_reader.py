"""HAR file -> Exchanges, leniently, streaming.

Reads HAR from Chrome, Firefox, Safari, Charles, Playwright, mitmproxy and
proxylens itself. Producers disagree on details (HTTP/2 pseudo-headers in
Chrome, -1 for unknown sizes and timings, numbers as strings, missing
optional objects), so every field has a fallback; only an entry without a
request URL is unusable. Where producers give a field different meanings,
``log.creator.name`` decides: Chrome ("WebInspector") and Firefox write the
server port in ``connection``, and mitmproxy leaves ``ssl`` out of
``connect``. The file is parsed incrementally with ijson, so memory does not
grow with the file, and a truncated file (a proxylens run that was killed)
still yields every complete entry before the cut.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, Iterator

import ijson

from .models import Body, Exchange, ExchangeError, Headers, Request, Response, ServerTLS, Timings
from .snapshot import classify_error


class HarError(Exception):
    """The file cannot be read as HAR. The message says what is wrong."""


def _n_entries(n: int) -> str:
    return f"{n} complete {'entry' if n == 1 else 'entries'}"


class HarTruncated(HarError):
    def __init__(self, path: str, entries: int, detail: str) -> None:
        super().__init__(
            f"{path}: the HAR file is truncated after {_n_entries(entries)} ({detail}); "
            "it was probably written by a proxy that was killed before finalizing it"
        )
        self.entries = entries


@dataclass
class HarEntry:
    index: int
    data: dict[str, Any]
    creator: str | None = None  # log.creator.name, when it comes before the entries


def _detail(exc: Exception) -> str:
    """The parser's message, one line (yajl adds a multi-line excerpt; some arrive as bytes)."""
    text = exc.args[0] if exc.args else ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = str(text).strip().splitlines()
    return lines[0].strip() if lines else "unexpected end of file"


class _Source:
    """The file as ijson reads it, remembering whether the parser reached its end.

    A syntax error is found as soon as the parser sees it, with data still
    unread; a truncated file only fails once the parser has read everything
    and finds the text incomplete (an open string or array, "12." or "tru", a
    cut UTF-8 sequence). The parser's message does not tell the two apart:
    yajl says "premature EOF" for some cuts and lexical errors for others, and
    ijson's C backend raises IncompleteJSONError for every error.
    """

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self.at_end = False

    def read(self, size: int = -1) -> bytes:
        data = self._f.read(size)
        if not data and size != 0:
            self.at_end = True
        return data


def iter_entries(path: str) -> Iterator[HarEntry]:
    """Yield each ``log.entries`` item as a dict, streaming."""
    yielded = 0
    try:
        for entry in _entries(path, ijson.parse):
            yield entry
            yielded += 1
    except UnicodeDecodeError:
        # ijson's C backend (yajl) cannot turn a lone low-surrogate escape such
        # as "\udc00" into a str, though JSON allows it (JavaScript writes them
        # for unpaired UTF-16 code units). The pure-Python backend can: read the
        # file again with it, past the entries already given.
        for entry in _entries(path, ijson.get_backend("python").parse):
            if yielded:
                yielded -= 1
                continue
            yield entry


def _entries(path: str, parse: Any) -> Iterator[HarEntry]:
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise HarError(f"cannot read {path}: {exc.strerror or exc}") from exc
    count = 0
    seen_log = seen_entries = finished = False
    creator: str | None = None
    with f:
        if f.read(3) != b"\xef\xbb\xbf":  # a UTF-8 BOM (Windows tools); RFC 8259 lets parsers ignore it
            f.seek(0)
        source = _Source(f)
        builder: ijson.ObjectBuilder | None = None
        depth = 0
        try:
            for prefix, event, value in parse(source, use_float=True):
                if builder is not None:
                    builder.event(event, value)
                    if event in ("start_map", "start_array"):
                        depth += 1
                    elif event in ("end_map", "end_array"):
                        depth -= 1
                        if depth == 0:
                            if isinstance(builder.value, dict):
                                yield HarEntry(count, builder.value, creator)
                            count += 1
                            builder = None
                    continue
                if prefix == "" and event in ("end_map", "end_array"):
                    finished = True  # the top-level value is complete: any later error is trailing junk
                elif prefix == "log" and event == "start_map":
                    seen_log = True
                elif prefix == "log.creator.name" and event == "string":
                    creator = value
                elif prefix == "log.entries" and event == "start_array":
                    seen_entries = True
                elif prefix == "log.entries.item":
                    if event == "start_map":
                        builder = ijson.ObjectBuilder()
                        builder.event(event, value)
                        depth = 1
                    elif event != "end_array":
                        count += 1  # not an object: skipped, but it keeps its place in the numbering
        except (ijson.JSONError, json.JSONDecodeError) as exc:  # the pure-Python backend raises the latter too
            if source.at_end and seen_entries and not finished:
                raise HarTruncated(path, count, _detail(exc)) from exc
            where = f" after {_n_entries(count)}" if seen_entries else ""
            raise HarError(f"{path}: not valid JSON{where} ({_detail(exc)})") from exc
    if not seen_log:
        raise HarError(f'{path}: not a HAR file: there is no top-level "log" object')
    if not seen_entries:
        raise HarError(f'{path}: not a HAR file: "log" has no "entries" array')


def _num(value: Any, default: float = -1) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return number if math.isfinite(number) else default


def _int(value: Any, default: int = -1) -> int:
    number = _num(value, math.nan)
    return default if math.isnan(number) else int(number)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _id(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def parse_time(value: Any) -> float:
    if not isinstance(value, str) or not value:
        return 0.0
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        return datetime.fromisoformat(text).timestamp()
    except (ValueError, OverflowError, OSError):
        return 0.0


def _headers(items: Any) -> Headers:
    pairs: list[tuple[str, str]] = []
    if isinstance(items, dict):
        items = [{"name": k, "value": v} for k, v in items.items()]
    if not isinstance(items, list):
        items = ()
    for item in items:
        if not isinstance(item, dict) or "name" not in item:
            continue
        name = str(item["name"])
        if name.startswith(":"):  # HTTP/2 pseudo-header (Chrome); Host is derived from the URL
            continue
        pairs.append((name, "" if item.get("value") is None else str(item.get("value"))))
    return Headers(tuple(pairs))


def _request_body(req: dict) -> Body:
    post = req.get("postData")
    size = _int(req.get("bodySize"), -1)
    if not isinstance(post, dict):
        return Body(size=max(size, 0) if size != -1 else 0)
    text = post.get("text")
    if text is None and isinstance(post.get("params"), list):
        from urllib.parse import urlencode

        text = urlencode([(p.get("name", ""), p.get("value", "")) for p in post["params"] if isinstance(p, dict)],
                         errors="surrogatepass")  # lone surrogates, as JavaScript writes them, must not crash
    if text is None:
        return Body(size=size)
    text = str(text)
    encoding = _str(post.get("_encoding")) or _str(post.get("encoding"))
    if size < 0:  # surrogatepass: JSON can carry lone surrogates ("\ud800"), e.g. binary posted as text
        size = len(text.encode("utf-8", "surrogatepass"))
    return Body(size=size, text=text, text_encoding=encoding, truncated=bool(post.get("_truncated")))


def _response_body(resp: dict) -> Body:
    content = resp.get("content") if isinstance(resp.get("content"), dict) else {}
    size = _int(resp.get("bodySize"), -1)
    if size < 0:
        size = _int(resp.get("_transferSize"), -1)
    decoded = _int(content.get("size"), -1)
    text = content.get("text")
    encoding = _str(content.get("encoding"))
    if text is not None and encoding == "base64":
        try:
            base64.b64decode(str(text), validate=True)
        except (binascii.Error, ValueError):
            encoding = None  # mislabelled: keep it as plain text rather than lose it
    return Body(
        size=size,
        text=None if text is None else str(text),
        text_encoding=encoding,
        decoded_size=decoded if decoded >= 0 else None,
        truncated=bool(content.get("_truncated")),
    )


ERROR_KINDS = ("connect", "timeout", "tls", "client-tls", "protocol", "client", "shutdown", "other")


def _error_kind(message: str) -> str:
    """The kind of a browser's error text, which the generic classifier (made
    for mitmproxy's messages) mostly does not know. Chrome and Playwright on
    Chromium report net error names such as "net::ERR_CERT_AUTHORITY_INVALID"
    (Chromium net/base/net_error_list.h)."""
    match = re.match(r"net::ERR_([A-Z0-9_]+)", message.strip())
    if not match:
        lowered = message.lower()
        # WebKit (Safari, Playwright) gives NSURLError descriptions, Gecko NS_ERROR_* names
        if "hostname could not be found" in lowered or "could not connect to the server" in lowered \
                or "ns_error_unknown_host" in lowered:
            return "connect"
        return classify_error(message)
    code = match.group(1)
    if code.startswith(("CERT_", "SSL_", "BAD_SSL_")) or "_SSL_" in code:
        return "tls"
    if "TIMED_OUT" in code:
        return "timeout"
    if code.startswith(("NAME_NOT_RESOLVED", "NAME_RESOLUTION_FAILED", "CONNECTION_REFUSED", "CONNECTION_FAILED",
                        "ADDRESS_UNREACHABLE", "INTERNET_DISCONNECTED", "PROXY_CONNECTION_FAILED",
                        "TUNNEL_CONNECTION_FAILED")):
        return "connect"
    if code == "ABORTED":
        return "client"
    if "PROTOCOL_ERROR" in code or code in ("INVALID_HTTP_RESPONSE", "EMPTY_RESPONSE", "CONTENT_LENGTH_MISMATCH",
                                            "INCOMPLETE_CHUNKED_ENCODING", "RESPONSE_HEADERS_TOO_BIG"):
        return "protocol"
    return "other"


def _error(entry: dict, resp: dict, status: int) -> ExchangeError | None:
    message = entry.get("_error") or resp.get("_error") or (resp.get("_failureText"))
    if message:
        kind = resp.get("_errorKind")
        proxy_status = resp.get("_proxyStatus")
        return ExchangeError(str(message), kind if kind in ERROR_KINDS else _error_kind(str(message)),
                             proxy_status if isinstance(proxy_status, int) and 100 <= proxy_status <= 599 else None)
    if status <= 0:  # 0 (browsers, mitmproxy) or -1 (Playwright: never finished)
        return ExchangeError(f"no response (status {status} in the HAR file)", "other")
    return None


def _timings(entry: dict, creator: str) -> Timings:
    t = entry.get("timings") if isinstance(entry.get("timings"), dict) else {}

    def phase(name: str, default: float) -> float:
        v = _num(t.get(name), default)
        return v if v >= 0 else -1

    connect, ssl = phase("connect", -1), phase("ssl", -1)
    if creator == "mitmproxy" and connect >= 0 and ssl >= 0:
        connect += ssl  # mitmproxy's savehar leaves the TLS handshake out of connect; HAR 1.2 puts it in
    return Timings(
        started=parse_time(entry.get("startedDateTime")),
        blocked=phase("blocked", -1),
        dns=phase("dns", -1),
        connect=connect,
        ssl=ssl,
        send=max(phase("send", 0), 0),
        wait=max(phase("wait", 0), 0),
        receive=max(phase("receive", 0), 0),
    )


def exchange_from_har(entry: HarEntry) -> Exchange:
    """Build an Exchange from one HAR entry; raises HarError if it has no request URL."""
    data = entry.data
    req = data.get("request") if isinstance(data.get("request"), dict) else {}
    url = req.get("url")
    if not isinstance(url, str) or not url:
        raise HarError(f"entry {entry.index}: no request.url")
    resp = data.get("response") if isinstance(data.get("response"), dict) else {}
    status = _int(resp.get("status"), 0)
    started = parse_time(data.get("startedDateTime"))
    response = None
    if status > 0:
        response = Response(
            status=status,
            reason=str(resp.get("statusText") or ""),
            http_version=str(resp.get("httpVersion") or ""),
            headers=_headers(resp.get("headers")),
            body=_response_body(resp),
        )
    creator = (entry.creator or "").strip().lower()
    security = data.get("_securityDetails")
    server_tls = None
    if isinstance(security, dict) and security:
        # Chrome/Playwright say "TLS 1.3"; live exchanges (mitmproxy) say "TLSv1.3"
        version = _str(security.get("protocol"))
        if version:
            version = re.sub(r"^TLS (\d\.\d)$", r"TLSv\1", version)
        server_tls = ServerTLS(version=version, security_details=security)
    ip = data.get("serverIPAddress")
    ip = (ip.strip().strip("[]") or None) if isinstance(ip, str) else None
    # Chrome and Firefox write the server's *port* in "connection" (Chrome's
    # connection id is "_connectionId"); Safari and proxylens write an id there.
    connection, connection_port = _id(data.get("connection")), -1
    if creator in ("webinspector", "firefox") or "_connectionId" in data:
        connection, connection_port = _id(data.get("_connectionId")), _int(connection, -1)
    port = _int(data.get("_serverPort"), -1)
    if not 0 < port < 65536:
        port = connection_port
    from_cache = _str(data.get("_fromCache"))
    if from_cache is None:  # Safari: "_fetchType": "Memory Cache" | "Disk Cache" | "Network Load" | ...
        from_cache = {"Memory Cache": "memory", "Disk Cache": "disk"}.get(_str(data.get("_fetchType")) or "")
    return Exchange(
        id=f"har-{entry.index}",
        request=Request(
            method=str(req.get("method") or "GET"),
            url=url,
            http_version=str(req.get("httpVersion") or ""),
            headers=_headers(req.get("headers")),
            body=_request_body(req),
            timestamp_start=started,
        ),
        response=response,
        error=_error(data, resp, status),
        timings=_timings(data, creator),
        server_tls=server_tls,
        server_address=(ip, port) if ip and 0 < port < 65536 else None,
        server_ip=ip,
        connection_id=connection,
        source="har",
        resource_type=_str(data.get("_resourceType")),
        from_cache=from_cache,
        comment=_str(data.get("comment")),
    )
