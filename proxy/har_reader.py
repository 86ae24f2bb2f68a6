"""HAR file -> Exchanges, leniently, streaming.

Reads HAR from Chrome, Firefox, Safari, Charles, Playwright, mitmproxy and
proxylens itself. Producers disagree on details (HTTP/2 pseudo-headers in
Chrome, -1 for unknown sizes and timings, numbers as strings, missing
optional objects), so every field has a fallback; only an entry without a
request URL is unusable. The file is parsed incrementally with ijson, so
memory does not grow with the file, and a truncated file (a proxylens run
that was killed) still yields every complete entry before the cut.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator

import ijson

from .models import Body, Exchange, ExchangeError, Headers, Request, Response, ServerTLS, Timings
from .snapshot import classify_error


class HarError(Exception):
    """The file cannot be read as HAR. The message says what is wrong."""


class HarTruncated(HarError):
    def __init__(self, path: str, entries: int, detail: str) -> None:
        super().__init__(
            f"{path}: the HAR file is truncated after {entries} complete entries ({detail}); "
            "it was probably written by a proxy that was killed before finalizing it"
        )
        self.entries = entries


@dataclass
class HarEntry:
    index: int
    data: dict[str, Any]


def iter_entries(path: str) -> Iterator[HarEntry]:
    """Yield each ``log.entries`` item as a dict, streaming."""
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise HarError(f"cannot read {path}: {exc.strerror or exc}") from exc
    count = 0
    seen_log = seen_entries = False
    with f:
        builder: ijson.ObjectBuilder | None = None
        depth = 0
        try:
            for prefix, event, value in ijson.parse(f, use_float=True):
                if builder is not None:
                    builder.event(event, value)
                    if event in ("start_map", "start_array"):
                        depth += 1
                    elif event in ("end_map", "end_array"):
                        depth -= 1
                        if depth == 0:
                            if isinstance(builder.value, dict):
                                yield HarEntry(count, builder.value)
                            count += 1
                            builder = None
                    continue
                if prefix == "log" and event == "start_map":
                    seen_log = True
                elif prefix == "log.entries" and event == "start_array":
                    seen_entries = True
                elif prefix == "log.entries.item" and event == "start_map":
                    builder = ijson.ObjectBuilder()
                    builder.event(event, value)
                    depth = 1
        except ijson.IncompleteJSONError as exc:
            if count or seen_entries:
                raise HarTruncated(path, count, str(exc).strip() or "unexpected end of file") from exc
            raise HarError(f"{path}: not valid JSON ({str(exc).strip() or 'unexpected end of file'})") from exc
        except ijson.JSONError as exc:
            where = f"after {count} entries" if count else "at the start"
            raise HarError(f"{path}: not valid JSON {where} ({str(exc).strip()})") from exc
    if not seen_log:
        raise HarError(f'{path}: not a HAR file: there is no top-level "log" object')
    if not seen_entries:
        raise HarError(f'{path}: not a HAR file: "log" has no "entries" array')


def _num(value: Any, default: float = -1) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _int(value: Any, default: int = -1) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def parse_time(value: Any) -> float:
    if not isinstance(value, str) or not value:
        return 0.0
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return 0.0


def _headers(items: Any) -> Headers:
    pairs: list[tuple[str, str]] = []
    if isinstance(items, dict):
        items = [{"name": k, "value": v} for k, v in items.items()]
    for item in items or ():
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

        text = urlencode([(p.get("name", ""), p.get("value", "")) for p in post["params"] if isinstance(p, dict)])
    if text is None:
        return Body(size=size)
    text = str(text)
    encoding = post.get("_encoding") or post.get("encoding")
    return Body(size=size if size >= 0 else len(text.encode()), text=text, text_encoding=encoding,
                truncated=bool(post.get("_truncated")))


def _response_body(resp: dict) -> Body:
    content = resp.get("content") if isinstance(resp.get("content"), dict) else {}
    size = _int(resp.get("bodySize"), -1)
    if size < 0:
        size = _int(resp.get("_transferSize"), -1)
    decoded = _int(content.get("size"), -1)
    text = content.get("text")
    encoding = content.get("encoding")
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


def _error(entry: dict, resp: dict, status: int) -> ExchangeError | None:
    message = entry.get("_error") or resp.get("_error") or (resp.get("_failureText"))
    if message:
        return ExchangeError(str(message), str(resp.get("_errorKind") or classify_error(str(message))))
    if status == 0:
        return ExchangeError("no response (status 0 in the HAR file)", "other")
    return None


def _timings(entry: dict) -> Timings:
    t = entry.get("timings") if isinstance(entry.get("timings"), dict) else {}

    def phase(name: str, default: float) -> float:
        v = _num(t.get(name), default)
        return v if v >= 0 else -1

    return Timings(
        started=parse_time(entry.get("startedDateTime")),
        blocked=phase("blocked", -1),
        dns=phase("dns", -1),
        connect=phase("connect", -1),
        ssl=phase("ssl", -1),
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
    security = data.get("_securityDetails")
    server_tls = None
    if isinstance(security, dict) and security:
        server_tls = ServerTLS(version=security.get("protocol"), security_details=security)
    ip = data.get("serverIPAddress")
    ip = ip.strip("[]") if isinstance(ip, str) and ip else None
    port = _int(data.get("_serverPort"), -1)
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
        timings=_timings(data),
        server_tls=server_tls,
        server_address=(ip, port) if ip and port > 0 else None,
        server_ip=ip,
        connection_id=str(data["connection"]) if data.get("connection") is not None else None,
        source="har",
        resource_type=data.get("_resourceType"),
        from_cache=data.get("_fromCache"),
        comment=data.get("comment") if isinstance(data.get("comment"), str) else None,
    )
