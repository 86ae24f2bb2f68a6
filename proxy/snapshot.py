"""mitmproxy flow -> Exchange, in the proxy process.

This runs on the proxy's event loop for every flow, so it only copies what is
already there: no decoding, no certificate parsing, no JSON. Connection-level
data (TLS on both sides) is built once per connection and reused.
"""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass
from typing import Any, Literal

from mitmproxy import connection, http
from mitmproxy.connection import ConnectionState
from mitmproxy.net.http import http1

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
# An invalid or cut-short message from the peer. Besides the generic words, mitmproxy's own phrases:
# "Cannot parse HTTP response: Bad HTTP response line: b'garbage'" (RFC 9112 section 4: "status-line =
# HTTP-version SP status-code SP [ reason-phrase ]", "status-code = 3DIGIT"), "unexpected server response: b'...'",
# and "server closed connection" for an upstream that closed before any response byte: RFC 9110 section 15.6.3,
# a gateway answers 502 when it "received an invalid response from an inbound server", and docs/status.md files an
# upstream that "closed the connection" under status.upstream-protocol-error.
_PROTOCOL_ERRORS = ("protocol error", "malformed", "invalid", "refusing", "cannot parse http", "bad http",
                    "unexpected server response", "server closed connection", "peer closed connection")
# Advice mitmproxy appends about its own options, which proxylens does not expose (its findings say what to do).
_MITMPROXY_ADVICE = (" If you plan to redirect requests", " You may need to adjust mitmproxy's")
# The same, generically: a sentence that opens as advice and names mitmproxy, one of its options (backquoted or
# not) or its documentation. mitmproxy 11 appends "Disable the validate_inbound_headers option to skip this
# security check." (proxy/layers/http), "You may need to adjust mitmproxy's tls_version_server_min option."
# (proxy/layers/tls.py), "If you plan to redirect requests away from this server, consider setting
# `connection_strategy` to `lazy` ..." and "This usually indicates a misconfiguration, please see the mitmproxy
# mode documentation for details."
_ADVICE_SENTENCE = re.compile(
    r"""(?<=[.!?)\]'"])\s+(?=(?:If you|You may|You might|You can|You should|Consider|Try|Disable|Enable|Please|"""
    r"""This usually indicates)\b[^.]*?(?:\boptions?\b|\bmitmproxy\b|`|\bdocumentation\b))""")


def without_mitmproxy_advice(message: str) -> str:
    """*message* cut before mitmproxy's advice about its own options (always a prefix of *message*)."""
    for advice in _MITMPROXY_ADVICE:
        message = message.split(advice, 1)[0]
    if (advice_at := _ADVICE_SENTENCE.search(message)) is not None:
        message = message[:advice_at.start()]
    return message.strip()


def classify_error(message: str) -> str:
    """A coarse kind for an error message from mitmproxy (or a HAR producer).

    Connection failures are recognized first: "Cannot connect to tls.example.com"
    is a connect error even though the host name contains "tls". The message
    alone cannot say which side of the proxy failed ("peer closed connection"
    is h11's words for either peer): for a live flow, error_kind() decides that
    from the flow's state first.
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
    if any(p in m for p in _PROTOCOL_ERRORS):
        return "protocol"
    return "other"


# The peer went away: h11's "peer closed connection without sending complete message body (received N bytes,
# expected M)" or "(incomplete chunked read)", mitmproxy's "Client disconnected.", an HTTP/2 stream reset or
# connection close, a reset socket.
_PEER_LEFT = ("peer closed connection", "connection closed", "disconnected", "stream reset", "connection reset",
              "broken pipe")


def request_incomplete(flow: http.HTTPFlow) -> bool:
    """The client's request had not been received completely when the flow failed.

    mitmproxy sets ``request.timestamp_end`` on the request's end of message. It buffers
    request bodies (proxylens never streams them), so until then nothing was sent
    upstream: whatever failed, failed on the client's side of the proxy.
    """
    return flow.request.timestamp_end is None and not flow.request.stream


def _server_handshake_error(flow: http.HTTPFlow) -> str | None:
    """Why the upstream TLS handshake failed, when the flow failed because of it (as proxy/tls_capture.py
    records it in ServerTLS.handshake_error): TCP came up, TLS did not, and the flow's error is the connection's."""
    sc = flow.server_conn
    if sc.tls and sc.error and not sc.tls_established and sc.timestamp_tcp_setup and flow.error \
            and flow.error.msg == sc.error:
        return sc.error
    return None


def error_kind(flow: http.HTTPFlow, message: str) -> str:
    """The kind of *flow*'s error, from where the flow was when it failed, then from *message*."""
    if timed_out(flow):
        return "timeout"
    if request_incomplete(flow) and any(p in message.lower() for p in _PEER_LEFT):
        # RFC 9112 section 8: "A server that receives an incomplete request message, usually due to a canceled
        # request or a triggered timeout exception, MAY send an error response prior to closing the connection."
        # The request was still coming in, so the peer that closed ("peer closed connection ... (received 500
        # bytes, expected 100000)") is the client, not the upstream.
        return "client"
    if _server_handshake_error(flow) is not None:
        return "tls"  # "connection closed" during the upstream TLS handshake (mitmproxy/proxy/tunnel.py)
    return classify_error(message)


def _reader_refused(request: http.Request) -> bool:
    """Whether mitmproxy's HTTP/1 reader refused this request head itself: Http1Server.read_headers
    (mitmproxy/proxy/layers/http/_http1.py) answers 400 and closes the connection when
    expected_http_body_size() raises (an invalid Content-Length or Transfer-Encoding), before any hook runs."""
    if not request.http_version.upper().startswith("HTTP/1"):
        return False
    try:
        http1.expected_http_body_size(request)
    except ValueError:
        return True
    return False


def proxy_status(flow: http.HTTPFlow, kind: str) -> int | None:
    """The status mitmproxy answered the client with when the exchange failed.

    mitmproxy's HTTP layer answers 502 for any upstream failure and 400 for a
    malformed request (which never reaches a server); a client that left or
    a killed flow gets nothing. The upstream timeout answers 504. Except for
    the HTTP/1 reader's own 400 (written before any hook), mitmproxy writes
    its error page after the ``error`` hook, on the client connection: when
    that connection can no longer be written to (mitmproxy closed it on a
    malformed request body, or the client is gone), or the origin's response
    head was already streamed to the client, the client got no answer from
    proxylens at all.
    """
    if timed_out(flow):
        return 504
    if kind in ("client", "shutdown") or (flow.error and flow.error.msg == flow.error.KILLED_MESSAGE):
        return None
    if request_incomplete(flow) and _reader_refused(flow.request):
        return 400  # already written, whatever state the connection is in now
    if not flow.client_conn.state & ConnectionState.CAN_WRITE:
        return None
    if flow.response is not None and flow.response.stream:
        return None
    if kind == "protocol" and (request_incomplete(flow) or not flow.server_conn.timestamp_start):
        return 400
    return 502


def _head_line(response: http.Response) -> str:
    reason = "".join(c for c in response.reason[:60] if c.isprintable() and c not in "()")
    return f"{response.http_version} {response.status_code} {reason}".rstrip()


# Appended to the error of an exchange that failed after the origin's response head arrived: the HAR entry then
# has no response (status 0: the client never got that head), so the message keeps what the origin had sent.
# addons/status.py (PARTIAL_HEAD_RE) reads it back into facts.status.error.partial_response.
PARTIAL_HEAD = " (the origin had sent its response head: {})"


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
        # a body cut short (the exchange failed after the head) was being received until the failure
        cut = ended or (flow.error.timestamp if flow.error else None)
        receive = max(0.0, ((resp.timestamp_end or cut or resp.timestamp_start) - resp.timestamp_start) * 1000)
    else:
        end = ended or (flow.error.timestamp if flow.error else ready)
        wait = max(0.0, (end - ready) * 1000)
        receive = 0.0
    return Timings(started=started, blocked=blocked, connect=connect, ssl=ssl, send=send, wait=wait,
                   receive=receive)


STREAMED_KEY = "proxylens.streamed"  # flow.metadata: {"request"|"response": body_stream.StreamedBody}


def _body(capture: BodyCapture, raw: bytes | None, content_type: str | None, streamed: Any) -> Body:
    """The body as kept for the HAR; one streamed through (proxy/body_stream.py) was counted on the way."""
    if raw is None and streamed is not None:
        head = bytes(streamed.head)
        return Body(raw=head or None, size=streamed.size, truncated=streamed.size > len(head) and bool(head))
    return capture.take(raw, content_type)


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
    streamed = flow.metadata.get(STREAMED_KEY) or {}
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
        # A CONNECT has no body (RFC 9110 section 9.3.6); mitmproxy leaves its content None, as if streamed.
        body=Body(raw=b"", size=0) if req.method == "CONNECT" else
        _body(capture, req.raw_content, req.headers.get("content-type"), streamed.get("request")),
        timestamp_start=req.timestamp_start,
        timestamp_end=req.timestamp_end,
    )
    if error is None and flow.error is not None:
        message = without_mitmproxy_advice(flow.error.msg)
        kind = error_kind(flow, message)
        if kind == "tls" and classify_error(message) != "tls":  # the bare "connection closed" names no TLS
            message = f"the TLS handshake with the upstream server failed: {message}"
        error = ExchangeError(message, kind, proxy_status(flow, kind))
    response = None
    r = flow.response
    if r is not None and error is not None and not r.stream and req.method != "CONNECT":
        # The exchange failed after the origin's response head arrived (mid-body reset or close, a header
        # mitmproxy refuses, the client leaving while the body came in). mitmproxy buffers the body, so the
        # client never got that head: it got proxylens's error page or nothing. RFC 9112 section 8: "A client
        # that receives an incomplete response message, which can occur when a connection is closed prematurely
        # or when decoding a supposedly chunked transfer coding fails, MUST record the message as incomplete."
        # HAR records a failed request as status 0 with the error beside it (Chrome's and Firefox's exports):
        # the entry has no response, and the head the origin had sent stays in the message.
        error = dataclasses.replace(error, message=error.message + PARTIAL_HEAD.format(_head_line(r)))
        r = None
    if r is not None and (error is None or r.stream):
        # A streamed response (an addon set flow.response.stream) reached the client head first: kept, cut short.
        response = Response(
            status=r.status_code,
            reason=r.reason,
            http_version=r.http_version,
            headers=_headers(r.headers),
            body=_body(capture, r.raw_content, r.headers.get("content-type"), streamed.get("response")),
            timestamp_start=r.timestamp_start,
            timestamp_end=r.timestamp_end,
        )
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
