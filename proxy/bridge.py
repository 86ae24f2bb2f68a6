"""The proxy-process side: snapshot each finished flow and hand it to the worker.

This mitmproxy addon does as little as possible on the event loop: copy the
flow into an Exchange (see snapshot.py) and put it on a queue. It also keeps
track of in-flight flows so a shutdown records them as errors instead of
losing them, and of the ClientHello offers of each TLS client connection.
"""

from __future__ import annotations

import asyncio
import queue
from typing import Any

from mitmproxy import connection, http, tls
from mitmproxy.addonmanager import Loader
from mitmproxy.proxy import server_hooks

from .models import ClientTLS, ExchangeError, ServerTLS
from .snapshot import BodyCapture, classify_error, client_tls, exchange_from_flow, server_tls

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


class Bridge:
    def __init__(self, outbox: Any, capture: BodyCapture) -> None:
        self.outbox = outbox  # a multiprocessing.Queue (or anything with put/put_nowait)
        self.capture = capture
        self.verify_upstream = True
        self.inflight: dict[str, http.HTTPFlow] = {}
        self._offers: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._client_tls: dict[str, ClientTLS | None] = {}
        self._server_tls: dict[str, ServerTLS | None] = {}
        self._server_used: set[str] = set()
        self.sent = 0
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
        self._offers[data.context.client.id] = (offered_versions(hello), ciphers)

    def client_disconnected(self, client: connection.Client) -> None:
        self._offers.pop(client.id, None)
        self._client_tls.pop(client.id, None)

    def server_disconnected(self, data: server_hooks.ServerConnectionHookData) -> None:
        self._server_tls.pop(data.server.id, None)
        self._server_used.discard(data.server.id)

    def _client(self, conn: connection.Client) -> ClientTLS | None:
        if conn.id not in self._client_tls:
            if not conn.tls_established:
                return client_tls(conn, *self._offers.get(conn.id, ((), ())))
            self._client_tls[conn.id] = client_tls(conn, *self._offers.get(conn.id, ((), ())))
        return self._client_tls[conn.id]

    def _server(self, conn: connection.Server) -> ServerTLS | None:
        if conn.id not in self._server_tls:
            if not conn.tls_established:
                return server_tls(conn, self.verify_upstream)
            self._server_tls[conn.id] = server_tls(conn, self.verify_upstream)
        return self._server_tls[conn.id]

    # Flow hooks.
    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self.inflight[flow.id] = flow
        if self.stopping:
            # A new request on a kept-alive connection after Ctrl-C: refuse it
            # (the client sees the connection close) instead of waiting for it.
            flow.kill()

    async def response(self, flow: http.HTTPFlow) -> None:
        await self._send(flow)

    async def error(self, flow: http.HTTPFlow) -> None:
        await self._send(flow)

    async def http_connect_error(self, flow: http.HTTPFlow) -> None:
        # The CONNECT tunnel could not be set up (upstream unreachable). The
        # 502 in flow.response was made by mitmproxy, not by an origin: record
        # the exchange as an error carrying mitmproxy's message.
        if flow.error is not None:
            message = flow.error.msg
        elif flow.response is not None:
            message = flow.response.get_text(strict=False) or f"CONNECT failed with {flow.response.status_code}"
        else:
            message = "CONNECT failed"
        await self._send(flow, ExchangeError(message, classify_error(message)))

    async def _send(self, flow: http.HTTPFlow, error: ExchangeError | None = None) -> None:
        if self.inflight.pop(flow.id, None) is None and flow.metadata.get("proxylens.sent"):
            return
        flow.metadata["proxylens.sent"] = True
        if error is None and self.stopping and flow.error is not None:
            message = flow.error.msg
            if message == flow.error.KILLED_MESSAGE:
                message = "proxylens was stopping and refused this new request"
            else:
                message += " (while proxylens was stopping)"
            error = ExchangeError(message, "shutdown")
        sc = flow.server_conn
        new_connection = sc.id not in self._server_used
        if sc.timestamp_tcp_setup:
            self._server_used.add(sc.id)
        exchange = exchange_from_flow(
            flow,
            self.capture,
            client=self._client(flow.client_conn),
            server=self._server(sc),
            new_connection=new_connection,
            error=error,
        )
        try:
            self.outbox.put_nowait(exchange)
        except queue.Full:
            # The worker is behind. Never drop an exchange: wait for room off the
            # event loop (this flow waits; the proxy keeps serving the others).
            await asyncio.to_thread(self.outbox.put, exchange)
        self.sent += 1

    async def record_inflight(self, reason: str) -> int:
        """Record every flow still in flight as an error (used at shutdown)."""
        flows = list(self.inflight.values())
        for flow in flows:
            await self._send(flow, ExchangeError(reason, "shutdown"))
        return len(flows)
