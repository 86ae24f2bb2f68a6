"""Loopback servers for the status and HSTS end-to-end tests.

``StatusOrigin`` (HTTP, or HTTPS when given a cert chain and key): every answer
is chosen by the request itself, so checks are independent:

  /page                   a 200 HTML page with no special headers
  /hsts?value=V           a 200 HTML page with ``Strict-Transport-Security: V``
  /redirect?to=URL        a redirect to URL (``&status=`` picks the code, 302 by
                          default; ``&hsts=V`` adds Strict-Transport-Security)
  /cycle/<i>?n=N          302 to ``/cycle/<(i+1) mod N>?n=N``: a redirect loop of N URLs
  /status/<N>?h=Name:V    status N, each ``h`` adding a header (repeatable)
  /slow?ms=N              a 200 after N milliseconds; the body names the request path

``HangingServer`` accepts connections (completing a TLS handshake that offers
ALPN h2 and http/1.1 when given a cert chain and key), reads whatever the
client sends and never answers, until ``close()``. ``received`` holds the
bytes each connection sent, so a test can tell that the request did arrive.

``StalledListener`` is a port whose TCP handshake never completes: it listens
with a full accept queue and never accepts, so Linux drops new SYNs and a
connect() waits (like a firewall that drops packets). ``stalls()`` checks
that this really happens on this machine.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import BaseRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.support.origin import Running

PAGE = b"<!doctype html><html><head><title>status origin</title></head><body>ok</body></html>"


def _tls_server_context(certfile: str, keyfile: str, alpn: list[str] | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile, keyfile)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A client (the proxy) that gave up on a slow answer: expected here, not worth a traceback.
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "proxylens-status-origin/1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, headers: list[tuple[str, str]] = (), body: bytes = PAGE,
              content_type: str = "text/html; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _route(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        q = {k: v[-1] for k, v in query.items()}
        path = url.path
        if path == "/page":
            self._send(200)
        elif path == "/hsts":
            self._send(200, [("Strict-Transport-Security", q["value"])] if "value" in q else [])
        elif path == "/redirect":
            headers = [("Location", q["to"])]
            if "hsts" in q:
                headers.append(("Strict-Transport-Security", q["hsts"]))
            self._send(int(q.get("status", "302")), headers, b"redirect\n", "text/plain; charset=utf-8")
        elif path.startswith("/cycle/"):
            n = int(q.get("n", "3"))
            nxt = (int(path.rsplit("/", 1)[1]) + 1) % n
            self._send(302, [("Location", f"/cycle/{nxt}?n={n}")], b"redirect\n", "text/plain; charset=utf-8")
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            headers = [tuple(h.split(":", 1)) for h in query.get("h", [])]
            self._send(code, [(k.strip(), v.strip()) for k, v in headers], f"status {code}\n".encode(),
                       "text/plain; charset=utf-8")
        elif path == "/slow":
            time.sleep(int(q.get("ms", "100")) / 1000)
            self._send(200, [], f"slow {self.path}\n".encode(), "text/plain; charset=utf-8")
        else:
            self._send(404, [], b"not found\n", "text/plain; charset=utf-8")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = _route


class StatusOrigin(Running):
    """The route-driven origin above; ``https`` when given a cert chain and key."""

    def __init__(self, certfile: str | None = None, keyfile: str | None = None) -> None:
        server = _Server(("127.0.0.1", 0), _Handler)
        if certfile:
            server.socket = _tls_server_context(certfile, keyfile).wrap_socket(server.socket, server_side=True)
            self.scheme = "https"
        super().__init__(server)

    def url(self, path: str = "/", host: str = "localhost") -> str:
        """HSTS ignores IP-address hosts, so URLs name ``localhost`` unless told otherwise."""
        return f"{self.scheme}://{host}:{self.port}{path}"


class _Hang(BaseRequestHandler):
    server: _HangingTCPServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(0.1)
        chunks: list[bytes] = []
        index = self.server.opened()
        while not self.server.released.is_set():
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
            self.server.record(index, b"".join(chunks))


class _HangingTCPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Hang)
        self.released = threading.Event()
        self.received: list[bytes] = []
        self._lock = threading.Lock()

    def opened(self) -> int:
        with self._lock:
            self.received.append(b"")
            return len(self.received) - 1

    def record(self, index: int, data: bytes) -> None:
        with self._lock:
            self.received[index] = data


class HangingServer(Running):
    """Accepts, reads, never answers. TLS (ALPN h2, http/1.1) when given a cert chain and key."""

    def __init__(self, certfile: str | None = None, keyfile: str | None = None) -> None:
        server = _HangingTCPServer()
        if certfile:
            ctx = _tls_server_context(certfile, keyfile, ["h2", "http/1.1"])
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
            self.scheme = "https"
        super().__init__(server)

    def url(self, path: str = "/", host: str = "localhost") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    @property
    def received(self) -> list[bytes]:
        with self.server._lock:
            return list(self.server.received)

    def close(self) -> None:
        self.server.released.set()
        super().close()


class StalledListener:
    """A loopback port where connect() neither succeeds nor fails."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        self.port = self._listener.getsockname()[1]
        self._fill: list[socket.socket] = []
        for _ in range(3):  # fill the accept queue (and then some): later SYNs are dropped
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self._fill.append(s)

    def stalls(self, probe_seconds: float = 0.3) -> bool:
        with socket.socket() as probe:
            probe.settimeout(probe_seconds)
            try:
                probe.connect(("127.0.0.1", self.port))
            except TimeoutError:
                return True
            except OSError:
                return False
            return False

    def close(self) -> None:
        for s in self._fill:
            s.close()
        self._listener.close()
