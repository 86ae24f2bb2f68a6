"""mitmproxy flow -> Exchange, in the proxy process.

This runs on the proxy's event loop for every flow, so it only copies what is
already there: no decoding, no certificate parsing, no JSON. Connection-level
data (TLS on both sides) is built once per connection and reused.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Literal

from mitmproxy import connection, http

from .models import (
    UNREACHABLE_ERRORS,
    Body,
    ClientTLS,
    Exchange,
    ExchangeError,
    Headers,
    Request,
    Response,
    ServerTLS,
    Timings,
)
from .upstream_timeout import timed_out

CaptureMode = Literal["none", "text", "all"]

_TEXTUAL = re.compile(
    r"^(text/|application/([\w.+-]*\+)?(json|xml|javascript|ecmascript|x-www-form-urlencoded|graphql)"
    r"|image/svg\+xml|application/x-ndjson|application/manifest\+json)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class BodyCapture:
    """Which bodies to keep: none; textual ones up to ``max_bytes``; or all, whole."""

    mode: CaptureMode = "text"
    max_bytes: int = 1024 * 1024

    def take(self, raw: bytes | None, content_type: str | None) -> Body:
        if raw is None:  # streamed bodies are not buffered by mitmproxy
            return Body(raw=None, size=-1)
        size = len(raw)
        if self.mode == "none" or not raw:
            return Body(raw=b"" if not raw else None, size=size)
        if self.mode == "all":
            return Body(raw=raw, size=size)
        if content_type is None or not _TEXTUAL.match(content_type.strip()):
            return Body(raw=None, size=size)
        if size > self.max_bytes:
            return Body(raw=raw[: self.max_bytes], size=size, truncated=True)
        return Body(raw=raw, size=size)


def _headers(h: http.Headers) -> Headers:
    return Headers(tuple((k, v) for k, v in h.items(multi=True)))


_CONNECT_ERRORS = ("connect call failed", "connection refused", "refused", "cannot connect to", *UNREACHABLE_ERRORS)
_TLS_ERRORS = ("certificate", "tls handshake", "ssl handshake", "handshake failed", "tlsv1 alert", "ssl:",
               "wrong version number", "sslv3 alert", "tls alert", "cannot agree on a tls version",
               "does not speak tls")
# Advice mitmproxy appends about its own options, which proxylens does not expose (its findings say what to do).
_MITMPROXY_ADVICE = (" If you plan to redirect requests", " You may need to adjust mitmproxy's")


def without_mitmproxy_advice(message: str) -> str:
    for advice in _MITMPROXY_ADVICE:
        message = message.split(advice, 1)[0]
    return message.strip()


def classify_error(message: str) -> str:
    """A coarse kind for an error message from mitmproxy (or a HAR producer).

    Connection failures are recognized first: "Cannot connect to tls.example.com"
    is a connect error even though the host name contains "tls".
    """
    m = message.lower()
    # "Cannot connect to host: client disconnected": the client gave up first, whatever the upstream did.
    if "client disconnected" in m or "client closed" in m or m == "connection killed.":
        return "client"
    if "timed out" in m or "timeout" in m:
        return "timeout"
    if any(p in m for p in _TLS_ERRORS):
        return "tls"
    if any(p in m for p in _CONNECT_ERRORS):
        return "connect"
    if "protocol error" in m or "malformed" in m or "invalid" in m or "refusing" in m:
        return "protocol"
    return "other"


def proxy_status(flow: http.HTTPFlow, kind: str) -> int | None:
    """The status mitmproxy answered the client with when the exchange failed.

    mitmproxy's HTTP layer answers 502 for any upstream failure and 400 for a
    malformed request (which never reaches a server); a client that left or
    a killed flow gets nothing. The upstream timeout answers 504.
    """
    if timed_out(flow):
        return 504
    if kind in ("client", "shutdown") or (flow.error and flow.error.msg == flow.error.KILLED_MESSAGE):
        return None
    if kind == "protocol" and not flow.server_conn.timestamp_start:
        return 400
    return 502


def client_tls_failure(conn: connection.Client, host: str, port: int, client: ClientTLS | None) -> Exchange:
    """A client whose TLS handshake with proxylens failed sent no request: record the
    attempt as a CONNECT to where it was going, so the HAR says why nothing else appears."""
    started = conn.timestamp_start or time.time()
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return Exchange(
        id=conn.id,
        request=Request(method="CONNECT", authority=authority, url=f"https://{authority}/", headers=Headers([("host", authority)]),
                        timestamp_start=started, timestamp_end=started),
        error=ExchangeError(conn.error or "the client's TLS handshake failed", "client-tls"),
        timings=Timings(started=started, wait=max(0.0, ((conn.timestamp_end or time.time()) - started) * 1000)),
        client_tls=client,
        client_address=tuple(conn.peername[:2]) if conn.peername else None,
        proxy_mode=conn.proxy_mode.full_spec if conn.proxy_mode else None,
    )


def timings(flow: http.HTTPFlow, new_connection: bool, ended: float | None = None) -> Timings:
    """HAR timings from mitmproxy's timestamps.

    HAR 1.2: ``connect`` is "Time required to create TCP connection" and
    includes ``ssl``; ``time`` is the sum of the phases. An upstream connection
    opened before the request (mitmproxy connects eagerly on CONNECT) counts
    for the first request on it, which then starts when the connection did,
    with ``blocked`` covering the wait for the client's request, as browsers
    report it.
    """
    req = flow.request
    start = req.timestamp_start
    req_end = req.timestamp_end or start
    sc = flow.server_conn
    started = start
    blocked = connect = ssl = -1.0
    ready = req_end
    if new_connection and sc.timestamp_start:
        done = sc.timestamp_tls_setup or sc.timestamp_tcp_setup
        if done is None and flow.response is None:  # the connection never came up: the time went there
            done = ended or (flow.error.timestamp if flow.error else sc.timestamp_start)
        if done is not None:
            connect = max(0.0, (done - sc.timestamp_start) * 1000)
            if sc.timestamp_tls_setup and sc.timestamp_tcp_setup:
                ssl = min(connect, max(0.0, (sc.timestamp_tls_setup - sc.timestamp_tcp_setup) * 1000))
            if sc.timestamp_start < start:
                started = sc.timestamp_start
                blocked = max(0.0, (start - done) * 1000)
            ready = max(req_end, done)
    send = max(0.0, (req_end - start) * 1000)
    resp = flow.response
    if resp is not None:
        wait = max(0.0, (resp.timestamp_start - ready) * 1000)
        receive = max(0.0, ((resp.timestamp_end or resp.timestamp_start) - resp.timestamp_start) * 1000)
    else:
        end = ended or (flow.error.timestamp if flow.error else ready)
        wait = max(0.0, (end - ready) * 1000)
        receive = 0.0
    return Timings(started=started, blocked=blocked, connect=connect, ssl=ssl, send=send, wait=wait,
                   receive=receive)


def exchange_from_flow(
    flow: http.HTTPFlow,
    capture: BodyCapture,
    *,
    client: ClientTLS | None = None,
    server: ServerTLS | None = None,
    new_connection: bool = False,
    error: ExchangeError | None = None,
) -> Exchange:
    """Snapshot *flow*. TLS details are passed in (built once per connection)."""
    req = flow.request
    url = req.url
    if req.method == "CONNECT":
        # Authority form ("host:port"): the tunnel's target, shown as the URL
        # the client was after (the path is inside the tunnel, unknown here).
        url = f"https://{req.host}:{req.port}/" if ":" not in req.host else f"https://[{req.host}]:{req.port}/"
    request = Request(
        # as sent: mitmproxy's Request.method upper-cases, but fetch() keeps "patch" lowercase and
        # CORS compares methods case-sensitively
        method=req.data.method.decode("ascii", "replace"),
        url=url,
        http_version=req.http_version,
        authority=req.host_header,
        headers=_headers(req.headers),
        body=capture.take(req.raw_content, req.headers.get("content-type")),
        timestamp_start=req.timestamp_start,
        timestamp_end=req.timestamp_end,
    )
    response = None
    if flow.response is not None and error is None:
        r = flow.response
        response = Response(
            status=r.status_code,
            reason=r.reason,
            http_version=r.http_version,
            headers=_headers(r.headers),
            body=capture.take(r.raw_content, r.headers.get("content-type")),
            timestamp_start=r.timestamp_start,
            timestamp_end=r.timestamp_end,
        )
    if error is None and flow.error is not None:
        message = without_mitmproxy_advice(flow.error.msg)
        kind = "timeout" if timed_out(flow) else classify_error(message)
        error = ExchangeError(message, kind, proxy_status(flow, kind))
    sc = flow.server_conn
    peer = sc.peername
    return Exchange(
        id=flow.id,
        request=request,
        response=response,
        error=error,
        timings=timings(flow, new_connection, ended=time.time() if error is not None else None),
        client_tls=client,
        server_tls=server,
        client_address=tuple(flow.client_conn.peername[:2]) if flow.client_conn.peername else None,
        server_address=(peer[0], peer[1]) if peer else None,
        server_ip=peer[0] if peer else None,
        connection_id=sc.id,
        proxy_mode=flow.client_conn.proxy_mode.full_spec if flow.client_conn.proxy_mode else None,
        source="live",
    )
