"""Loopback origins for ``proxylens run`` tests: a clean API and a misconfigured one.

Every path answers the same small JSON document, so a suite can request
``/users/17``, ``/orders/5`` or anything else. What the headers say depends
on the origin's ``bad`` setting and on the request:

- clean: ``Cache-Control: no-store``, ``Access-Control-Allow-Origin: *``,
  and over HTTPS a valid ``Strict-Transport-Security``; nothing the
  analyzers rate as an error;
- misconfigured: ``Cache-Control: private`` together with a shared cache's
  ``Cache-Status: ...; hit`` and ``Age``: a CDN served a stored copy of a
  response it must not reuse (``caching.shared-cache-hit-uncacheable``, an
  error-level rule that needs nothing from the request).

``bad`` is ``"none"``, ``"all"``, or a host name (the ``Host`` header's name
without the port): only requests addressed to that name get the
misconfigured answer, so one server is a clean host as ``127.0.0.1`` and a
misconfigured one as ``localhost``. Each request is logged (method, path,
host) for tests that check what reached the origin.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.origin import Running

FAILING_RULE = "caching.shared-cache-hit-uncacheable"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "proxylens-run-origin/1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _route(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
        origin: RunOrigin = self.server.run_origin  # type: ignore[attr-defined]
        with origin.lock:
            origin.requests.append((self.command, self.path, host))
        bad = origin.bad == "all" or origin.bad == host
        body = json.dumps({"path": self.path.split("?", 1)[0], "ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Access-Control-Allow-Origin", "*")
        if bad:
            self.send_header("Cache-Control", "private, max-age=600")
            self.send_header("Cache-Status", "ExampleCDN; hit")
            self.send_header("Age", "30")
        else:
            self.send_header("Cache-Control", "no-store")
        if origin.scheme == "https":
            self.send_header("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _route


class RunOrigin(Running):
    """``RunOrigin(bad="none"|"all"|HOST, certfile=None, keyfile=None)``: HTTPS when given a cert and key."""

    def __init__(self, bad: str = "none", certfile: str | None = None, keyfile: str | None = None) -> None:
        self.bad = bad
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, str]] = []
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.run_origin = self  # type: ignore[attr-defined]
        super().__init__(server, certfile, keyfile)

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"
