"""The proxy-process side: snapshot each finished flow and hand it to the worker.

This mitmproxy addon does as little as possible on the event loop: copy the
flow into an Exchange (see snapshot.py) and put it on a queue. It also keeps
track of in-flight flows so a shutdown records them as errors instead of
losing them. TLS details come from its child addon, TlsCapture.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from mitmproxy import http, tls
from mitmproxy.addonmanager import Loader
from mitmproxy.proxy import server_hooks

from .models import Exchange, ExchangeError
from .snapshot import BodyCapture, classify_error, client_tls_failure, exchange_from_flow, without_mitmproxy_advice
from .tls_capture import TlsCapture, remember

logger = logging.getLogger(__name__)

# When the worker is this many exchanges behind, new exchanges are sent
# without bodies: memory in the proxy process stays bounded by metadata, and
# no exchange is ever dropped. Nothing in a hook ever waits for the worker.
BACKLOG_BODIES_LIMIT = 2_000
NO_BODIES = BodyCapture("none")


class Bridge:
    def __init__(self, outbox: Any, capture: BodyCapture, processed: Any = None) -> None:
        self.outbox = outbox  # a multiprocessing.Queue (unbounded: put never blocks)
        self.capture = capture
        self.processed = processed  # shared counter the worker increments
        self.tls = TlsCapture()
        self.addons = [self.tls]  # a child addon: mitmproxy calls its hooks too
        self.inflight: dict[str, http.HTTPFlow] = {}
        self._server_used: dict[str, bool] = {}
        self.sent = 0
        self.bodies_dropped = 0
        self.running_event = asyncio.Event()
        self.stopping = False

    def load(self, loader: Loader) -> None:
        pass

    def running(self) -> None:
        self.running_event.set()  # servers are set up (or failed to): the runner checks which

    def server_disconnected(self, data: server_hooks.ServerConnectionHookData) -> None:
        self._server_used.pop(data.server.id, None)

    # Flow hooks: plain methods, nothing awaits.
    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self.inflight[flow.id] = flow
        if self.stopping:
            # A new request on a kept-alive connection after Ctrl-C: refuse it
            # (the client sees the connection close) instead of waiting for it.
            flow.kill()

    def response(self, flow: http.HTTPFlow) -> None:
        self._send(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._send(flow)

    def tls_failed_client(self, data: tls.TlsData) -> None:
        # No request will follow; without this the HAR would not show the attempt at all.
        conn = data.conn
        if conn.error == "connection closed early":  # closed before any ClientHello: nothing to explain
            return
        host = conn.sni or (data.context.server.address[0] if data.context.server.address else "")
        port = data.context.server.address[1] if data.context.server.address else 443
        try:
            exchange = client_tls_failure(conn, host, port, self.tls.client(conn))
        except Exception:  # recording must never break the proxy
            logger.exception("proxylens could not record a failed client handshake")
            return
        self._put(exchange)

    def http_connect_error(self, flow: http.HTTPFlow) -> None:
        # The CONNECT tunnel could not be set up (upstream unreachable). The
        # 502 in flow.response was made by mitmproxy, not by an origin: record
        # the exchange as an error carrying mitmproxy's message.
        if flow.error is not None:
            message = flow.error.msg
        elif flow.response is not None and flow.response.status_code == 407:  # refused by --proxyauth
            message = ("407 Proxy Authentication Required: the client sent no --proxyauth credentials, or wrong "
                       "ones (RFC 9110 section 11.7.1)")
        elif flow.response is not None:
            # mitmproxy's error page is HTML: keep its words, not its markup
            text = re.sub(r"<[^>]*>", " ", flow.response.get_text(strict=False) or "")
            message = " ".join(text.split()) or f"CONNECT failed with {flow.response.status_code}"
        else:
            message = "CONNECT failed"
        message = without_mitmproxy_advice(message)
        kind = classify_error(message)
        # mitmproxy makes its 502 even when the client has already left; then nobody received it
        status = flow.response.status_code if flow.response is not None and kind != "client" else None
        self._send(flow, ExchangeError(message, kind, status))

    def _send(self, flow: http.HTTPFlow, error: ExchangeError | None = None) -> None:
        if self.inflight.pop(flow.id, None) is None and flow.metadata.get("proxylens.sent"):
            return
        flow.metadata["proxylens.sent"] = True
        try:
            exchange = self._snapshot(flow, error)
        except Exception:  # a bug here must not break the proxy; say so and keep serving
            logger.exception("proxylens could not record %s %s", flow.request.method, flow.request.pretty_url)
            return
        self._put(exchange)

    def _put(self, exchange: Exchange) -> None:
        self.outbox.put_nowait(exchange)
        self.sent += 1

    def _snapshot(self, flow: http.HTTPFlow, error: ExchangeError | None) -> Exchange:
        if error is None and self.stopping and flow.error is not None:
            message = flow.error.msg
            if message == flow.error.KILLED_MESSAGE:
                message = "proxylens was stopping and refused this new request"
            else:
                message += " (while proxylens was stopping)"
            error = ExchangeError(message, "shutdown")
        sc = flow.server_conn
        new_connection = sc.id not in self._server_used
        if sc.timestamp_tcp_setup and sc.timestamp_end is None:
            remember(self._server_used, sc.id, True)
        capture = self.capture
        if self.processed is not None and self.sent - self.processed.value > BACKLOG_BODIES_LIMIT:
            capture = NO_BODIES
            self.bodies_dropped += 1
            if self.bodies_dropped == 1:
                logger.warning("proxylens: analysis is %d exchanges behind; recording new exchanges without "
                               "bodies until it catches up", self.sent - self.processed.value)
        return exchange_from_flow(
            flow,
            capture,
            client=self.tls.client(flow.client_conn),
            server=self.tls.server(sc),
            new_connection=new_connection,
            error=error,
        )

    def record_inflight(self, reason: str) -> int:
        """Record every flow still in flight as an error (used at shutdown)."""
        flows = list(self.inflight.values())
        for flow in flows:
            self._send(flow, ExchangeError(reason, "shutdown"))
        return len(flows)
