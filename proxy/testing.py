"""The testing kit for check writers: build Exchanges, run checks on them, no proxy needed.

    from proxy.testing import ExchangeFactory, run_checks
    from my_checks import api_cache_control

    def test_api_without_cache_control_is_flagged():
        make = ExchangeFactory()
        ex = make("https://api.test/v1/users", response_headers={"Content-Type": "application/json"})
        [result] = run_checks(api_cache_control, ex)
        assert [f.rule for f in result.findings] == ["api.cache-control-missing"]

With pytest, the ``proxylens`` plugin (installed with proxylens) gives the
same as fixtures: ``exchange_factory`` and ``run_checks``.

Exchanges are built the way the proxy and ``proxylens analyze`` build them:
from keywords or a dict, from raw HTTP/1.1 messages (parsed by mitmproxy's
own HTTP/1 reader), or from a HAR entry (read by proxylens's HAR reader).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any

from .analyzer import Analyzer
from .models import Body, ClientTLS, Exchange, ExchangeError, Headers, Request, Response, ServerTLS, Timings
from .pipeline import Pipeline, Result

T0 = 1_780_000_000.0  # 2026-05-28: a fixed traffic time, so tests do not depend on the clock

HeaderItems = Mapping[str, str] | Iterable[tuple[str, str]]


def _bytes(body: bytes | str | None) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else (body or b"")


def _body(data: bytes) -> Body:
    return Body(raw=data, size=len(data))


class ExchangeFactory:
    """Builds Exchanges for tests. Successive exchanges start *step* seconds apart in traffic time
    (from *start*), so checks that keep session state (caches, redirect chains) see them in order."""

    FIELDS = ("url", "method", "status", "reason", "request_headers", "response_headers", "request_body",
              "response_body", "http_version", "error", "error_kind", "started", "client_tls", "server_tls",
              "wait_ms")

    def __init__(self, start: float = T0, step: float = 1.0) -> None:
        self._times = (start + i * step for i in itertools.count())
        self._ids = itertools.count(1)

    def __call__(self, url: str = "https://example.test/", method: str = "GET", *, status: int | None = 200,
                 reason: str | None = None, request_headers: HeaderItems = (), response_headers: HeaderItems = (),
                 request_body: bytes | str | None = None, response_body: bytes | str | None = None,
                 http_version: str = "HTTP/1.1", error: str | None = None, error_kind: str = "other",
                 started: float | None = None, client_tls: ClientTLS | None = None,
                 server_tls: ServerTLS | None = None, wait_ms: float = 10.0) -> Exchange:
        """One exchange. ``status=None`` (or an ``error``) makes one without a response, as when the
        upstream refused or the client went away; ``error`` is the message, ``error_kind`` its class
        (``connect``, ``timeout``, ``tls``, ``protocol``, ``client``, ...)."""
        when = next(self._times) if started is None else started
        request = Request(method, url, http_version, Headers.of(request_headers), _body(_bytes(request_body)),
                          timestamp_start=when)
        response = None
        if status is not None and error is None:
            if reason is None:
                try:
                    reason = HTTPStatus(status).phrase
                except ValueError:
                    reason = ""
            response = Response(status, reason, http_version, Headers.of(response_headers),
                                _body(_bytes(response_body)), timestamp_start=when + wait_ms / 1000)
        return Exchange(
            id=f"test-{next(self._ids)}", request=request, response=response,
            error=ExchangeError(error or "no response", error_kind) if response is None else None,
            timings=Timings(started=when, send=0, wait=wait_ms, receive=0),
            client_tls=client_tls, server_tls=server_tls,
        )

    def from_dict(self, data: Mapping[str, Any]) -> Exchange:
        """``{"url": ..., "status": 404, "response_headers": {...}}``: the keywords of a call, as a dict
        (from JSON or YAML test tables). Unknown keys are an error, not silently ignored."""
        unknown = sorted(set(data) - set(self.FIELDS))
        if unknown:
            raise TypeError(f"unknown exchange field(s) {', '.join(unknown)}; known: {', '.join(self.FIELDS)}")
        return self(**data)

    def from_raw(self, request: bytes | str, response: bytes | str | None = None, *, scheme: str = "https",
                 error: str | None = None) -> Exchange:
        """From raw HTTP/1.1 messages as on the wire (``\\r\\n`` or ``\\n`` line ends). The URL is the
        request target when absolute, else *scheme*://Host + target. No response (None) makes an
        exchange without one (*error* says why)."""
        from mitmproxy.net.http.http1 import read_request_head, read_response_head

        head, body = _split(_bytes(request))
        req = read_request_head(head)
        target = req.data.path.decode("ascii", "replace")
        if req.data.authority or target.startswith(("http://", "https://")):
            url = req.url
        else:
            url = f"{scheme}://{req.headers.get('host', 'example.test')}{target}"
        exchange = self(url, req.data.method.decode("ascii", "replace"), status=None,
                        request_headers=_pairs(req.headers), request_body=_message_body(body, req.headers, request=True),
                        http_version=req.http_version, error=error or "no response")
        if response is None:
            return exchange
        head, body = _split(_bytes(response))
        resp = read_response_head(head)
        return replace(exchange, error=None, response=Response(
            resp.status_code, resp.reason, resp.http_version, Headers(tuple(_pairs(resp.headers))),
            _body(_message_body(body, resp.headers, request=False)), timestamp_start=exchange.timings.started))

    def from_har(self, entry: Mapping[str, Any], index: int = 0, creator: str | None = None) -> Exchange:
        """From one HAR entry (a dict from ``log.entries``), exactly as ``proxylens analyze`` reads it.
        *creator* is the file's ``log.creator.name`` ("WebInspector", "Firefox", "mitmproxy", ...):
        some producers' fields mean different things, and the reader adjusts for them."""
        from .har_reader import HarEntry, exchange_from_har

        return exchange_from_har(HarEntry(index, dict(entry), creator))

    def from_har_file(self, path: str | Path) -> list[Exchange]:
        """Every readable entry of a HAR file, in order, as ``proxylens analyze`` reads them."""
        from .har_reader import exchange_from_har, iter_entries

        return [exchange_from_har(entry) for entry in iter_entries(str(path))]


def _split(message: bytes) -> tuple[list[bytes], bytes]:
    """Head lines (without line ends, as mitmproxy's reader wants them) and the rest."""
    match = re.search(rb"\r?\n\r?\n", message)
    head, body = (message[:match.start()], message[match.end():]) if match else (message, b"")
    return re.split(rb"\r?\n", head), body


def _pairs(headers) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers.items(multi=True)]


def _message_body(data: bytes, headers, request: bool) -> bytes:
    """The body as framed by the headers (RFC 9112 section 6.3): chunked, Content-Length, else none
    for a request and the rest (read until the connection closes) for a response."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        out, rest = bytearray(), data
        while rest:
            size_line, _, rest = rest.partition(b"\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            out += rest[:size]
            rest = rest[size:].lstrip(b"\r\n")
        return bytes(out)
    length = headers.get("content-length")
    if length and length.strip().isdigit():
        return data[:int(length)]
    return b"" if request else data


Checks = Analyzer | ModuleType | str | Path | Iterable[Analyzer | ModuleType | str | Path]


def load_checks(checks: Checks) -> list[Analyzer]:
    """Analyzers from an analyzer, a module, a path to a check file, or a list of those."""
    from .loader import analyzers_in, load_script

    if isinstance(checks, (Analyzer, ModuleType, str, Path)):
        checks = [checks]
    analyzers: list[Analyzer] = []
    for item in checks:
        if isinstance(item, Analyzer):
            analyzers.append(item)
        elif isinstance(item, ModuleType):
            analyzers.extend(analyzers_in(item))
        elif isinstance(item, (str, Path)):
            analyzers.extend(analyzers_in(load_script(str(item))))
        else:
            raise TypeError(f"{item!r} is not an analyzer, a module or a check file")
    return analyzers


def run_checks(checks: Checks, *exchanges: Exchange | Iterable[Exchange], builtins: bool = False) -> list[Result]:
    """Run *checks* over *exchanges*, in order, in one session, isolated as in the proxy: an exception
    becomes a ``proxylens.analyzer-error`` finding. With *builtins*, the built-in analyzers run first
    (their facts and findings are in the results too)."""
    analyzers = load_checks(checks)
    if builtins:
        from addons import builtin_analyzers

        analyzers = builtin_analyzers() + analyzers
    pipeline = Pipeline(analyzers)
    flat = [e for item in exchanges for e in ([item] if isinstance(item, Exchange) else item)]
    return [pipeline.run(exchange) for exchange in flat]
