"""Answer 504 Gateway Timeout when the upstream server does not respond in time.

mitmproxy waits for an upstream response until its 10-minute idle timeout,
and offers no option to give up sooner. A debugging proxy should behave like
a gateway (nginx's proxy_read_timeout, RFC 9110 section 15.6.5: 504 means
"the server, while acting as a gateway or proxy, did not receive a timely
response from an upstream server"), and say that the 504 is its own.

mitmproxy has no public API to fail a request that is in flight (its
``flow.kill()`` cannot kill flows in transit, mitmproxy issue 4711). So the
timer injects the same event mitmproxy's HTTP layer raises itself when an
upstream fails, a ``ResponseProtocolError`` carrying 504, into the client
connection. It rides on ``MessageInjected`` (the event mitmproxy routes to one
flow's stream for WebSocket injection) and is addressed to the flow's own
stream, so it works for HTTP/1 and HTTP/2, inside CONNECT tunnels and out.
The stream then does what it does for any upstream error: the ``error`` hook
runs, the client gets the 504 page with our message, and the stream is
dropped. This touches mitmproxy internals (``HttpLayer.streams`` and
``.connections``); tests/test_status_e2e.py exercises every path, and if
those internals move, the timer logs a warning and leaves the flow alone.
"""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

from mitmproxy import ctx, http
from mitmproxy.proxy import events
from mitmproxy.proxy.layers.http import HttpLayer, ResponseProtocolError

logger = logging.getLogger(__name__)

TIMED_OUT = "proxylens.upstream_timeout"  # flow.metadata key: the timeout in seconds that fired
GATEWAY_TIMEOUT = 504


def timeout_message(seconds: float) -> str:
    return f"proxylens: no response from the upstream server within {seconds:g} s (--upstream-timeout)"


def timed_out(flow: http.HTTPFlow) -> bool:
    """Whether the 504 reached the flow: the timer fired and the flow failed with its message (not, say,
    with "client disconnected" because the stream was still waiting for a connection)."""
    seconds = flow.metadata.get(TIMED_OUT)
    return bool(seconds) and flow.error is not None and flow.error.msg == timeout_message(seconds)


class _InjectedUpstreamError(events.MessageInjected, ResponseProtocolError):
    """A ResponseProtocolError that mitmproxy's HttpLayer routes to one flow's stream."""

    def __init__(self, route: object, stream_id: int, message: str, code: int) -> None:
        # Deliberately not calling the dataclass __init__s: the two bases both define `message`.
        self.flow = route  # type: ignore[assignment]
        self.stream_id = stream_id
        self.message = message  # type: ignore[assignment]
        self.code = code


def _find_stream(layers: list, flow: http.HTTPFlow, depth: int = 0) -> tuple[HttpLayer, object] | None:
    """The HttpLayer and HttpStream that carry *flow*, looking inside CONNECT tunnels."""
    for layer in list(layers):
        if not isinstance(layer, HttpLayer):
            continue
        for stream in list(layer.streams.values()):
            if stream.flow is flow:
                return layer, stream
            child = getattr(stream, "child_layer", None)
            if child is not None and depth < 4:
                found = _find_stream(child.context.layers, flow, depth + 1)
                if found:
                    return found
    return None


class UpstreamTimeout:
    """Starts a timer when a request is complete; a response's headers or an error stop it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def request(self, flow: http.HTTPFlow) -> None:
        if self.seconds <= 0 or flow.response is not None:  # disabled, or answered locally by a script
            return
        loop = asyncio.get_running_loop()
        self._timers[flow.id] = loop.call_later(self.seconds, lambda: loop.create_task(self._expire(flow)))

    def _stop(self, flow: http.HTTPFlow) -> None:
        timer = self._timers.pop(flow.id, None)
        if timer is not None:
            timer.cancel()

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        self._stop(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._stop(flow)

    def done(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    async def _expire(self, flow: http.HTTPFlow) -> None:
        self._timers.pop(flow.id, None)
        if flow.response is not None or flow.error is not None or not flow.live:
            return
        try:
            handler = ctx.master.addons.get("proxyserver").connections[flow.client_conn.id]
            found = _find_stream(handler.layer.context.layers, flow)
        except (AttributeError, KeyError):
            found = None
        if found is None:
            logger.warning("proxylens: %s %s got no response within %g s, but could not be failed with a 504 "
                           "(mitmproxy internals changed?); it keeps waiting", flow.request.method,
                           flow.request.pretty_url, self.seconds)
            return
        layer, stream = found
        flow.metadata[TIMED_OUT] = self.seconds
        # HttpLayer routes a MessageInjected through `connections[event.flow.server_conn]` to an HttpStream;
        # a private key makes that route lead to this flow's stream, in whichever layer holds it.
        route = SimpleNamespace(server_conn=object(), client_conn=flow.client_conn)
        layer.connections[route.server_conn] = stream
        try:
            await handler.server_event(_InjectedUpstreamError(route, stream.stream_id,
                                                              timeout_message(self.seconds), GATEWAY_TIMEOUT))
        finally:
            layer.connections.pop(route.server_conn, None)
