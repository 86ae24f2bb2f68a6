"""Real origin servers on loopback (HTTP and HTTPS, ephemeral ports).

Routes:
  /                  an HTML page with an image and a script (for browsers)
  /status/N          answers status N (``?location=`` adds a Location header)
  /echo              JSON of the request: method, path, headers, body
  /bytes?n=N         N deterministic binary bytes
  /gzip              gzip-coded text with Content-Encoding: gzip
  /slow?ms=N         answers after N milliseconds
  /set-cookie        sets a session cookie
  /token             a JSON OAuth-style token response
"""

from __future__ import annotations

import gzip
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PAGE = b"""<!doctype html><html><head><title>proxylens test page</title>
<script src="/app.js"></script></head>
<body><h1>hello</h1><img src="/status/200"></body></html>"""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # _send writes headers and body separately: with Nagle's algorithm on, every keep-alive response
    # would wait ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    server_version = "proxylens-test-origin/1"

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        if status not in (204, 304) and not 100 <= status < 200:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if status not in (204, 304) and self.command != "HEAD":
            self.wfile.write(body)

    def _route(self) -> None:
        url = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = url.path
        if path == "/":
            self._send(200, PAGE, content_type="text/html; charset=utf-8")
        elif path == "/app.js":
            self._send(200, b"document.title += ' (js ran)';", content_type="text/javascript")
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            headers = {"Location": q["location"]} if "location" in q else {}
            self._send(code, f"status {code}\n".encode(), headers)
        elif path == "/echo":
            data = {"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
                    "body": body.decode("utf-8", "replace")}
            self._send(200, json.dumps(data).encode(), content_type="application/json")
        elif path == "/bytes":
            n = int(q.get("n", "1024"))
            self._send(200, bytes(i % 251 for i in range(n)), content_type="application/octet-stream")
        elif path == "/gzip":
            text = ("compressible text " * 200).encode()
            self._send(200, gzip.compress(text), {"Content-Encoding": "gzip"})
        elif path == "/slow":
            time.sleep(int(q.get("ms", "100")) / 1000)
            self._send(200, b"slow\n")
        elif path == "/set-cookie":
            self._send(200, b"ok\n", {"Set-Cookie": "session=s3cr3tCookieValue; Path=/; HttpOnly; Secure"})
        elif path == "/token":
            token = json.dumps({"access_token": "tok_SECRET_abc123", "token_type": "Bearer", "expires_in": 3600})
            self._send(200, token.encode(), content_type="application/json")
        else:
            self._send(404, b"not found\n")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = _route


class Running:
    """A loopback server serving on a daemon thread until ``close()``."""

    scheme = "http"

    def __init__(self, server: ThreadingHTTPServer, certfile: str | None = None, keyfile: str | None = None) -> None:
        if certfile:  # HTTPS
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(certfile, keyfile)
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
            self.scheme = "https"
        self.server = server
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.origin = f"{self.scheme}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/") -> str:
        return self.origin + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Origin(Running):
    """A threaded origin server; ``https`` when given a cert chain and key."""

    def __init__(self, certfile: str | None = None, keyfile: str | None = None) -> None:
        super().__init__(ThreadingHTTPServer(("127.0.0.1", 0), Handler), certfile, keyfile)

    def url(self, path: str = "/", host: str | None = None) -> str:
        host = host or ("localhost" if self.scheme == "https" else "127.0.0.1")
        return f"{self.scheme}://{host}:{self.port}{path}"
