"""The proxy-process side: snapshot each finished flow and hand it to the worker.

This mitmproxy addon does as little as possible on the event loop: copy the
flow into an Exchange (see snapshot.py) and put it on a queue. It also keeps
track of in-flight flows so a shutdown records them as errors instead of
losing them, and of the ClientHello offers of each TLS client connection.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from mitmproxy import connection, http, tls
from mitmproxy.addonmanager import Loader
from mitmproxy.proxy import server_hooks

from .models import ClientTLS, Exchange, ExchangeError, ServerTLS
from .snapshot import BodyCapture, classify_error, client_tls, exchange_from_flow, server_tls

logger = logging.getLogger(__name__)

# TLS versions as they appear in the supported_versions extension (RFC 8446 4.2.1).
TLS_VERSIONS = {0x0304: "TLSv1.3", 0x0303: "TLSv1.2", 0x0302: "TLSv1.1", 0x0301: "TLSv1", 0x0300: "SSLv3"}
SUPPORTED_VERSIONS = 43


def offered_versions(hello: tls.ClientHello) -> tuple[str, ...]:
    for ext_type, data in hello.extensions:
        if ext_type == SUPPORTED_VERSIONS and data:
            body = data[1 : 1 + data[0]]
            codes = [int.from_bytes(body[i : i + 2], "big") for i in range(0, len(body) - 1, 2)]
            return tuple(TLS_VERSIONS[c] for c in codes if c in TLS_VERSIONS)  # GREASE values drop out
    return ()


# When the worker is this many exchanges behind, new exchanges are sent
# without bodies: memory in the proxy process stays bounded by metadata, and
# no exchange is ever dropped. Nothing in a hook ever waits for the worker.
BACKLOG_BODIES_LIMIT = 2_000
# Per-connection caches are dropped on disconnect; this bounds them anyway.
MAX_CONNECTIONS_TRACKED = 10_000
NO_BODIES = BodyCapture("none")


def _remember(cache: dict, key: str, value: object) -> None:
    cache[key] = value
    if len(cache) > MAX_CONNECTIONS_TRACKED:
        del cache[next(iter(cache))]


class Bridge:
    def __init__(self, outbox: Any, capture: BodyCapture, processed: Any = None) -> None:
        self.outbox = outbox  # a multiprocessing.Queue (unbounded: put never blocks)
        self.capture = capture
        self.processed = processed  # shared counter the worker increments
        self.verify_upstream = True
        self.inflight: dict[str, http.HTTPFlow] = {}
        self._offers: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._client_tls: dict[str, ClientTLS | None] = {}
        self._server_tls: dict[str, ServerTLS | None] = {}
        self._server_used: dict[str, bool] = {}
        self.sent = 0
        self.bodies_dropped = 0
        self.running_event = asyncio.Event()
        self.stopping = False

    def load(self, loader: Loader) -> None:
        pass

    def configure(self, updated: set[str]) -> None:
        from mitmproxy import ctx

        if "ssl_insecure" in updated:
            self.verify_upstream = not ctx.options.ssl_insecure

    def running(self) -> None:
        self.running_event.set()  # servers are set up (or failed to): the runner checks which

    # Connection bookkeeping: built once per connection, dropped when it closes.
    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        hello = data.client_hello
        ciphers = tuple(f"0x{c:04x}" for c in hello.cipher_suites)
        _remember(self._offers, data.context.client.id, (offered_versions(hello), ciphers))

    def client_disconnected(self, client: connection.Client) -> None:
        self._offers.pop(client.id, None)
        self._client_tls.pop(client.id, None)

    def server_disconnected(self, data: server_hooks.ServerConnectionHookData) -> None:
        self._server_tls.pop(data.server.id, None)
        self._server_used.pop(data.server.id, None)

    def _client(self, conn: connection.Client) -> ClientTLS | None:
        cached = self._client_tls.get(conn.id)
        if cached is None:
            cached = client_tls(conn, *self._offers.get(conn.id, ((), ())))
            if conn.tls_established and conn.timestamp_end is None:  # never cache a closed connection
                _remember(self._client_tls, conn.id, cached)
        return cached

    def _server(self, conn: connection.Server) -> ServerTLS | None:
        cached = self._server_tls.get(conn.id)
        if cached is None:
            cached = server_tls(conn, self.verify_upstream)
            if conn.tls_established and conn.timestamp_end is None:
                _remember(self._server_tls, conn.id, cached)
        return cached

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

    def http_connect_error(self, flow: http.HTTPFlow) -> None:
        # The CONNECT tunnel could not be set up (upstream unreachable). The
        # 502 in flow.response was made by mitmproxy, not by an origin: record
        # the exchange as an error carrying mitmproxy's message.
        if flow.error is not None:
            message = flow.error.msg
        elif flow.response is not None:
            message = flow.response.get_text(strict=False) or f"CONNECT failed with {flow.response.status_code}"
        else:
            message = "CONNECT failed"
        # mitmproxy appends advice about its connection_strategy option, which proxylens does not expose
        message = message.split(" If you plan to redirect requests", 1)[0].strip()
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
            _remember(self._server_used, sc.id, True)
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
            client=self._client(flow.client_conn),
            server=self._server(sc),
            new_connection=new_connection,
            error=error,
        )

    def record_inflight(self, reason: str) -> int:
        """Record every flow still in flight as an error (used at shutdown)."""
        flows = list(self.inflight.values())
        for flow in flows:
            self._send(flow, ExchangeError(reason, "shutdown"))
        return len(flows)
