"""A loopback origin for the examples/ checks' end-to-end tests: an offending and a clean route per check.

Every route answers 200 and is otherwise clean for the built-in analyzers and for the other example checks
(``Cache-Control: no-store``, a ``Server`` without a version), so each offending route triggers exactly one
example rule:

  /api/no-cache      JSON without Cache-Control             api.cache-control-missing
  /api/cached        the same with Cache-Control: no-store  clean
  /json/as-html      a JSON object served as text/html      api.json-content-type
  /json/latin1       application/json; charset=iso-8859-1   api.json-charset
  /json/ok           application/json; charset=utf-8        clean
  /server/leaky      Server: Apache/2.4.57 (Debian), X-Powered-By: PHP/8.2.1
                                                            security.server-version-leak (twice)
  /server/ok         Server without a version               clean
  /cookies/insecure  sid (no attributes) and prefs (Secure; SameSite=None, no HttpOnly)
                                                            cookies.staging-insecure (twice), on staging hosts
  /cookies/ok        sid with Secure; HttpOnly; SameSite=Lax
                                                            clean
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.origin import Running

COOKIE_SECRET = "s3cr3t-cookie-VALUE"  # must never appear in a finding
JSON_BODY = json.dumps({"id": 17, "name": "Zo\u00eb"}).encode()
NO_STORE = ("Cache-Control", "no-store")

ROUTES: dict[str, tuple[str, bytes, list[tuple[str, str]]]] = {
    "/api/no-cache": ("application/json", JSON_BODY, []),
    "/api/cached": ("application/json", JSON_BODY, [NO_STORE]),
    "/json/as-html": ("text/html; charset=utf-8", JSON_BODY, [NO_STORE]),
    "/json/latin1": ("application/json; charset=iso-8859-1", json.dumps({"name": "Zo\u00eb"},
                                                                          ensure_ascii=False).encode("latin-1"),
                     [NO_STORE]),
    "/json/ok": ("application/json; charset=utf-8", JSON_BODY, [NO_STORE]),
    "/server/leaky": ("text/plain; charset=utf-8", b"ok\n",
                      [NO_STORE, ("Server", "Apache/2.4.57 (Debian)"), ("X-Powered-By", "PHP/8.2.1")]),
    "/server/ok": ("text/plain; charset=utf-8", b"ok\n", [NO_STORE]),
    "/cookies/insecure": ("text/plain; charset=utf-8", b"ok\n",
                          [NO_STORE, ("Set-Cookie", f"sid={COOKIE_SECRET}; Path=/"),
                           ("Set-Cookie", f"prefs={COOKIE_SECRET}; Path=/; Secure; SameSite=None")]),
    "/cookies/ok": ("text/plain; charset=utf-8", b"ok\n",
                    [NO_STORE, ("Set-Cookie", f"sid={COOKIE_SECRET}; Path=/; Secure; HttpOnly; SameSite=Lax")]),
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are written separately: no delayed-ACK stall

    def log_message(self, format: str, *args: object) -> None:
        pass

    def version_string(self) -> str:  # http.server's default, "BaseHTTP/0.6 Python/3.11.x", leaks versions
        return getattr(self, "_server_header", "examples-origin")

    def do_GET(self) -> None:
        route = ROUTES.get(self.path.split("?", 1)[0])
        if route is None:
            self.send_error(404)
            return
        content_type, body, headers = route
        self._server_header = next((v for k, v in headers if k == "Server"), "examples-origin")
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            if name != "Server":
                self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class ExamplesOrigin(Running):
    """HTTP, or HTTPS when given a certificate chain and key (the test CA's, for ``localhost``)."""

    def __init__(self, certfile: str | None = None, keyfile: str | None = None) -> None:
        super().__init__(ThreadingHTTPServer(("127.0.0.1", 0), _Handler), certfile, keyfile)

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"
