"""Stream large bodies through instead of buffering them, still counting them and keeping what the HAR keeps.

mitmproxy buffers a whole body before forwarding it, and a 200 MB download
then peaks near 600 MB in the proxy: a client or origin could exhaust its
memory with one response. Unless ``--body-capture all`` asks for whole
bodies, proxylens sets mitmproxy's ``stream_large_bodies`` to ``--max-body``:
larger bodies are passed on chunk by chunk. The HAR would keep no more of
them than ``--max-body`` anyway.

When mitmproxy decides to stream before the headers hooks run (a
Content-Length above the limit), this addon swaps its plain ``stream = True``
for a StreamedBody, which passes every chunk on unchanged, counts the bytes
and keeps the first ``--max-body`` of a textual body, so the HAR still has
the body's size and its beginning. A chunked body that crosses the limit on
the way is streamed by mitmproxy without a hook: its size is then unknown
(-1), as HAR allows.
"""

from __future__ import annotations

import asyncio
import gc

from mitmproxy import http

from .snapshot import STREAMED_KEY, BodyCapture

# mitmproxy's HTTP stream objects hold themselves in reference cycles (a state is a bound method), so a
# finished flow, bodies and all, is freed only by a full garbage collection. Big byte strings do not count
# towards the collector's thresholds: after buffered bodies of this many bytes, collect within a second.
COLLECT_AFTER_BYTES = 8 * 1024 * 1024


class StreamedBody:
    """A mitmproxy stream callable: each chunk goes on as it came; its bytes are counted, the first *keep* kept."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.size = 0
        self.head = bytearray()

    def __call__(self, data: bytes) -> bytes:
        self.size += len(data)
        room = self.keep - len(self.head)
        if room > 0:
            self.head += data[:room]
        return data


def stream_limit(capture: BodyCapture) -> str | None:
    """The value of mitmproxy's stream_large_bodies for this capture, or None to buffer everything."""
    return None if capture.mode == "all" else str(max(capture.max_bytes, 1))


class LargeBodies:
    def __init__(self, capture: BodyCapture) -> None:
        self.capture = capture
        self._buffered = 0  # body bytes of finished flows since the last collection
        self._collecting = False

    def response(self, flow: http.HTTPFlow) -> None:
        self._finished(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._finished(flow)

    def _finished(self, flow: http.HTTPFlow) -> None:
        for message in (flow.request, flow.response):
            if message is not None and message.raw_content:
                self._buffered += len(message.raw_content)
        if self._buffered >= COLLECT_AFTER_BYTES and not self._collecting:
            self._collecting = True
            asyncio.get_running_loop().call_later(1.0, self._collect)  # once mitmproxy has let go of the flow

    def _collect(self) -> None:
        gc.collect()
        self._buffered, self._collecting = 0, False

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.request.stream is True:
            flow.request.stream = self._counter(flow, "request", flow.request.headers.get("content-type"))

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None and flow.response.stream is True:
            flow.response.stream = self._counter(flow, "response", flow.response.headers.get("content-type"))

    def _counter(self, flow: http.HTTPFlow, side: str, content_type: str | None) -> StreamedBody:
        # Keep what BodyCapture.take would keep of a buffered body of this type: a probe of one byte says whether.
        keep = self.capture.max_bytes if self.capture.take(b"x", content_type).raw else 0
        counter = StreamedBody(keep)
        flow.metadata.setdefault(STREAMED_KEY, {})[side] = counter
        return counter
