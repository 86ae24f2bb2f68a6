"""Loopback origins for browser-truth CORS tests: a page origin and an API.

Both are plain HTTP on 127.0.0.1 with different ports: different origins,
same site. Every answer of the API is chosen by the request itself, so each
scenario is self-contained and can run in any order:

  /api/<id>[?...]   the scenario ``SCENARIOS[id]``: OPTIONS requests get its
                    ``preflight`` reply, every other method its ``actual``
  /set-cookie       ``Set-Cookie: sid=abc; Path=/; SameSite=Lax`` (so that
                    credentialed fetches carry ``Cookie`` on the wire)
  /                 a blank HTML page (what the page origin is used for)

Header values in a scenario are ``str.format`` templates with these fields:

  {origin}     the request's ``Origin`` header, reflected ("" when absent)
  {page}       the page origin, e.g. ``http://127.0.0.1:41234``
  {page_port}  the page origin's port
  {api}        the API origin
  {api_port}   the API origin's port

Every request either server receives is logged (method, path, headers as
received, after the proxy), so a test can check what Chromium really put on
the wire without trusting the proxy under test.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tests.support.origin import Running

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: Headers = ()
    body: bytes = b"ok\n"


@dataclass(frozen=True)
class Scenario:
    actual: Reply = Reply()
    # None: OPTIONS gets a bare 405 (no CORS headers), i.e. any preflight fails.
    preflight: Reply | None = None


def ACAO(value: str = "{origin}") -> tuple[str, str]:
    return ("Access-Control-Allow-Origin", value)


CRED = ("Access-Control-Allow-Credentials", "true")
XTRACE = ("X-Trace-Id", "t-1")


def ok(*headers: tuple[str, str], status: int = 200, body: bytes = b"ok\n") -> Reply:
    return Reply(status, tuple(headers), body)


def preflight(*headers: tuple[str, str], status: int = 204) -> Reply:
    return Reply(status, tuple(headers), b"")


def redirect(to: str, *headers: tuple[str, str], status: int = 302) -> Reply:
    return Reply(status, (("Location", to), *headers), b"redirect\n")


# A preflight answer that passes in either credentials mode, so that its
# outcome does not depend on something an OPTIONS request cannot show.
def pf_ok(*headers: tuple[str, str], status: int = 204) -> Reply:
    return preflight(ACAO(), CRED, *headers, status=status)


SCENARIOS: dict[str, Scenario] = {
    # --- simple requests: the Access-Control-Allow-Origin match ---------
    "simple-acao-origin": Scenario(ok(ACAO())),
    "simple-acao-star": Scenario(ok(ACAO("*"))),
    "simple-no-acao": Scenario(ok()),
    "simple-acao-wrong-host": Scenario(ok(ACAO("http://example.com"))),
    "simple-acao-other-port": Scenario(ok(ACAO("http://127.0.0.1:{api_port}"))),
    "simple-acao-localhost": Scenario(ok(ACAO("http://localhost:{page_port}"))),
    "simple-acao-trailing-slash": Scenario(ok(ACAO("{origin}/"))),
    "simple-acao-list-one-line": Scenario(ok(ACAO("{origin}, http://example.com"))),
    "simple-acao-two-lines": Scenario(ok(ACAO(), ACAO("http://example.com"))),
    "simple-acao-two-lines-same": Scenario(ok(ACAO(), ACAO())),
    "simple-acao-null": Scenario(ok(ACAO("null"))),
    "simple-acao-upper-case": Scenario(ok(ACAO("HTTP://127.0.0.1:{page_port}"))),
    "simple-acao-https-scheme": Scenario(ok(ACAO("https://127.0.0.1:{page_port}"))),
    "simple-post-text-plain": Scenario(ok(ACAO())),
    "simple-post-form-no-acao": Scenario(ok()),
    "simple-omit-star-with-acac": Scenario(ok(ACAO("*"), CRED)),
    "simple-accept-language-128": Scenario(ok(ACAO())),
    "simple-head-acao-star": Scenario(ok(ACAO("*"))),
    # --- credentialed simple requests (cookie set first) -----------------
    "cred-acao-star": Scenario(ok(ACAO("*"), CRED)),
    "cred-no-acac": Scenario(ok(ACAO())),
    "cred-acac-upper-true": Scenario(ok(ACAO(), ("Access-Control-Allow-Credentials", "TRUE"))),
    "cred-acac-yes": Scenario(ok(ACAO(), ("Access-Control-Allow-Credentials", "yes"))),
    "cred-ok": Scenario(ok(ACAO(), CRED, ("Vary", "Origin"))),
    "cred-acao-star-no-acac": Scenario(ok(ACAO("*"))),
    # --- preflighted: methods -------------------------------------------
    "pf-put-allowed": Scenario(ok(ACAO()), pf_ok(("Access-Control-Allow-Methods", "PUT"))),
    "pf-put-not-in-acam": Scenario(ok(ACAO()), pf_ok(("Access-Control-Allow-Methods", "GET, POST"))),
    "pf-put-no-acam": Scenario(ok(ACAO()), pf_ok()),
    "pf-delete-allowed": Scenario(ok(ACAO()), pf_ok(("Access-Control-Allow-Methods", "GET, DELETE"))),
    "pf-patch-lower-vs-upper": Scenario(ok(ACAO()), pf_ok(("Access-Control-Allow-Methods", "PATCH"))),
    "pf-patch-upper": Scenario(ok(ACAO()), pf_ok(("Access-Control-Allow-Methods", "PATCH"))),
    "pf-patch-lower-vs-lower": Scenario(ok(ACAO()), pf_ok(("Access-Control-Allow-Methods", "patch"))),
    "pf-put-acam-lower": Scenario(ok(ACAO()), pf_ok(("Access-Control-Allow-Methods", "put"))),
    "pf-acam-star-omit": Scenario(ok(ACAO("*")), preflight(ACAO("*"), ("Access-Control-Allow-Methods", "*"))),
    "pf-acam-star-cred": Scenario(ok(ACAO(), CRED), pf_ok(("Access-Control-Allow-Methods", "*"))),
    "pf-cred-ok": Scenario(ok(ACAO(), CRED), pf_ok(("Access-Control-Allow-Methods", "PUT"))),
    "pf-cred-preflight-no-acac": Scenario(ok(ACAO(), CRED),
                                          preflight(ACAO(), ("Access-Control-Allow-Methods", "PUT"))),
    # --- preflighted: request headers -------------------------------------
    "pf-xtrace-allowed": Scenario(ok(ACAO()), pf_ok(("Access-Control-Allow-Headers", "x-trace"))),
    "pf-xtrace-not-listed": Scenario(ok(ACAO()), pf_ok(("Access-Control-Allow-Headers", "x-other"))),
    "pf-xtrace-no-acah": Scenario(ok(ACAO()), pf_ok()),
    "pf-acah-upper-case": Scenario(ok(ACAO()), pf_ok(("Access-Control-Allow-Headers", "X-TRACE"))),
    "pf-acah-list-spaces": Scenario(ok(ACAO()), pf_ok(("Access-Control-Allow-Headers", " x-a ,  x-trace ,x-b"))),
    "pf-acah-star-omit": Scenario(ok(ACAO("*")), preflight(ACAO("*"), ("Access-Control-Allow-Headers", "*"))),
    "pf-acah-star-cred": Scenario(ok(ACAO(), CRED), pf_ok(("Access-Control-Allow-Headers", "*"))),
    "pf-authorization-acah-star": Scenario(ok(ACAO("*")),
                                           preflight(ACAO("*"), ("Access-Control-Allow-Headers", "*"))),
    "pf-authorization-acah-listed": Scenario(ok(ACAO()), pf_ok(("Access-Control-Allow-Headers", "authorization"))),
    "pf-json-allowed": Scenario(ok(ACAO()), pf_ok(("Access-Control-Allow-Headers", "Content-Type"))),
    "pf-json-no-acah": Scenario(ok(ACAO()), pf_ok()),
    "pf-accept-unsafe-byte-allowed": Scenario(ok(ACAO()), pf_ok(("Access-Control-Allow-Headers", "accept"))),
    "pf-accept-unsafe-byte-no-acah": Scenario(ok(ACAO()), pf_ok()),
    "pf-accept-language-129": Scenario(ok(ACAO()), pf_ok()),
    "pf-content-language-at": Scenario(ok(ACAO()), pf_ok(("Access-Control-Allow-Headers", "content-language"))),
    "pf-content-language-at-no-acah": Scenario(ok(ACAO()), pf_ok()),
    # --- preflighted: the preflight's status, ACAO, redirects -------------
    "pf-status-204": Scenario(ok(ACAO()), pf_ok(("Access-Control-Allow-Methods", "PUT"), status=204)),
    "pf-status-200": Scenario(ok(ACAO()), pf_ok(("Access-Control-Allow-Methods", "PUT"), status=200)),
    "pf-status-404": Scenario(ok(ACAO()), pf_ok(("Access-Control-Allow-Methods", "PUT"), status=404)),
    "pf-status-500": Scenario(ok(ACAO()), pf_ok(("Access-Control-Allow-Methods", "PUT"), status=500)),
    "pf-redirect-302": Scenario(ok(ACAO()), Reply(302, (("Location", "/api/pf-redirect-302.target"), ACAO(), CRED,
                                                        ("Access-Control-Allow-Methods", "PUT")), b"")),
    "pf-redirect-302.target": Scenario(ok(ACAO()), pf_ok(("Access-Control-Allow-Methods", "PUT"))),
    "pf-no-acao": Scenario(ok(ACAO()), preflight(("Access-Control-Allow-Methods", "PUT"))),
    "pf-ok-actual-no-acao": Scenario(ok(), pf_ok(("Access-Control-Allow-Methods", "PUT"))),
    "pf-cache-max-age": Scenario(ok(ACAO()), pf_ok(("Access-Control-Allow-Methods", "PUT"),
                                                 ("Access-Control-Allow-Headers", "x-trace"),
                                                 ("Access-Control-Max-Age", "600"))),
    # --- exposing response headers ---------------------------------------
    "expose-listed": Scenario(ok(ACAO(), ("X-Custom", "42"), ("Access-Control-Expose-Headers", "X-Custom"))),
    "expose-missing": Scenario(ok(ACAO(), ("X-Custom", "42"))),
    "expose-star-omit": Scenario(ok(ACAO("*"), ("X-Custom", "42"), ("Access-Control-Expose-Headers", "*"))),
    "expose-star-cred": Scenario(ok(ACAO(), CRED, ("X-Custom", "42"), ("Access-Control-Expose-Headers", "*"))),
    # --- redirects of the actual request ----------------------------------
    "redirect-both-acao": Scenario(redirect("/api/redirect-both-acao.target", ACAO())),
    "redirect-both-acao.target": Scenario(ok(ACAO())),
    "redirect-no-acao-on-302": Scenario(redirect("/api/redirect-no-acao-on-302.target")),
    "redirect-no-acao-on-302.target": Scenario(ok(ACAO())),
    # --- not CORS at all -------------------------------------------------
    "no-cors-mode": Scenario(ok()),
    "same-origin": Scenario(ok()),
    "navigation": Scenario(ok(body=b"<!doctype html><title>navigated</title>")),
}

PAGE = b"<!doctype html><html><head><title>cors page</title></head><body></body></html>"


@dataclass
class Seen:
    method: str
    path: str
    headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "proxylens-cors-origin/1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def __getattr__(self, name: str):
        # Any method token, including lowercase ones such as "patch".
        if name.startswith("do_"):
            return self._route
        raise AttributeError(name)

    def _reply(self, reply: Reply, fields: dict[str, str]) -> None:
        self.send_response(reply.status)
        body = reply.body if reply.status not in (204, 304) else b""
        if reply.status not in (204, 304):
            self.send_header("Content-Type", "text/html; charset=utf-8" if body.startswith(b"<!doctype")
                             else "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in reply.headers:
            self.send_header(name, value.format(**fields))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _websocket(self) -> None:
        """Accept any WebSocket handshake (RFC 6455 4.2.2), whatever its Origin: the
        server-side check that CORS does not do for WebSockets is missing here on purpose."""
        import base64
        import hashlib
        import time

        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept.decode())
        self.end_headers()
        self.wfile.flush()
        time.sleep(0.5)
        self.close_connection = True

    def _route(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.log(Seen(self.command, self.path, list(self.headers.items())))
        path = urlsplit(self.path).path
        fields = dict(self.server.fields, origin=self.headers.get("Origin", ""))
        if path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            self._websocket()
        elif path == "/":
            self._reply(Reply(200, (), PAGE), fields)
        elif path == "/set-cookie":
            self._reply(ok(("Set-Cookie", "sid=abc; Path=/; SameSite=Lax")), fields)
        elif path.startswith("/api/") and path[5:] in SCENARIOS:
            scenario = SCENARIOS[path[5:]]
            if self.command == "OPTIONS":
                self._reply(scenario.preflight or Reply(405, (), b"no preflight configured\n"), fields)
            else:
                self._reply(scenario.actual, fields)
        else:
            self._reply(Reply(404, (), b"not found\n"), fields)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fields: dict[str, str] = {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()

    def log(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)


class LoopbackServer(Running):
    def __init__(self) -> None:
        super().__init__(_Server())

    def seen(self, scenario_id: str | None = None) -> list[Seen]:
        """Requests received, optionally only those of one scenario (and its ``.sub`` steps)."""
        with self.server._lock:
            seen = list(self.server.seen)
        if scenario_id is None:
            return seen
        return [s for s in seen if scenario_of(s.path) == scenario_id]


def scenario_of(path_or_url: str) -> str | None:
    """``/api/pf-x.target?n=1`` and ``http://h:1/api/pf-x`` -> ``pf-x``."""
    path = urlsplit(path_or_url).path
    if not path.startswith("/api/"):
        return None
    return path[5:].split(".", 1)[0]


class CorsOrigins:
    """The page origin and the API origin, sharing one set of template fields."""

    def __init__(self) -> None:
        self.page = LoopbackServer()
        self.api = LoopbackServer()
        fields = {"page": self.page.origin, "page_port": str(self.page.port),
                  "api": self.api.origin, "api_port": str(self.api.port)}
        self.page.server.fields = self.api.server.fields = fields

    def close(self) -> None:
        self.page.close()
        self.api.close()
