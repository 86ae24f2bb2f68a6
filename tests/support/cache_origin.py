"""A loopback origin for browser-truth HTTP caching tests.

Plain HTTP on 127.0.0.1 (Chromium does not cache responses whose certificate
had errors, so HTTPS through the proxy's CA would prove nothing). Every
answer is chosen by the request path alone, so scenarios are independent and
can run concurrently:

  /cache/<id>          the scenario ``SCENARIOS[id]``
  /cache/<id>/target   where a redirect scenario points: 200, ``no-store``
  /                    a blank HTML page (what the fetching page is)

Header values are templates: ``{now}`` is the HTTP-date of the moment the
request is answered, ``{now+3600}`` / ``{now-864000}`` that moment plus or
minus so many seconds. A ``Date: {now}`` header is added unless the scenario
sends its own ``Date``. ``{etag}`` is the scenario's entity tag.

The body is ``<id> #<n>`` where n counts the requests for that path, so a
page can tell a cached copy (same body) from a fresh one. A conditional
request that matches (If-None-Match equal to the ETag, or If-Modified-Since
when the scenario sends Last-Modified) gets a 304 with the scenario's headers,
unless the scenario says ``never_304`` (then the full, renumbered 200).

Every request is logged (method, path, headers as received after the proxy,
arrival time), so a test can see what Chromium put on the wire without
trusting the proxy under test.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tests.support.origin import Running

Headers = tuple[tuple[str, str], ...]

CC = "Cache-Control"
ETAG = ("ETag", "{etag}")
LM_10_DAYS_AGO = ("Last-Modified", "{now-864000}")


@dataclass(frozen=True)
class Scenario:
    headers: Headers = ()
    status: int = 200
    redirect: bool = False       # Location: /cache/<id>/target
    never_304: bool = False      # answer conditional requests with a full 200 anyway

    @property
    def validators(self) -> tuple[str, ...]:
        names = {n.lower() for n, _ in self.headers}
        return tuple(v for v in ("etag", "last-modified") if v in names)


def s(*headers: tuple[str, str], status: int = 200, **kw: bool) -> Scenario:
    return Scenario(tuple(headers), status, **kw)


def cc(value: str, *headers: tuple[str, str], status: int = 200, **kw: bool) -> Scenario:
    return s((CC, value), *headers, status=status, **kw)


SCENARIOS: dict[str, Scenario] = {
    "max-age": cc("max-age=600"),
    "no-store": cc("no-store"),
    "no-cache-etag": cc("no-cache", ETAG),
    "no-cache-bare": cc("no-cache"),
    "max-age-0-must-revalidate-etag": cc("max-age=0, must-revalidate", ETAG),
    "expires-future": s(("Expires", "{now+3600}")),
    "expires-past": s(("Expires", "{now-3600}")),
    "expires-past-lm": s(("Expires", "{now-3600}"), LM_10_DAYS_AGO),
    "heuristic-lm": s(LM_10_DAYS_AGO),
    "heuristic-lm-404": s(LM_10_DAYS_AGO, status=404),
    "vary-star": cc("max-age=600", ("Vary", "*"), ETAG),
    "private": cc("private, max-age=600"),
    "s-maxage-etag": cc("s-maxage=600", ETAG),
    "age-over-max-age-etag": cc("max-age=60", ("Age", "120"), ETAG),
    "max-age-404": cc("max-age=600", status=404),
    "post-max-age": cc("max-age=600"),
    "301-plain": s(status=301, redirect=True),
    "302-plain": s(status=302, redirect=True),
    "302-max-age": cc("max-age=600", status=302, redirect=True),
    "pragma-no-cache-lm": s(("Pragma", "no-cache"), LM_10_DAYS_AGO),
    "max-age-pragma-no-cache": cc("max-age=600", ("Pragma", "no-cache")),
    "max-age-invalid-etag": cc("max-age=abc", ETAG),
    "immutable": cc("immutable, max-age=600"),
    "date-skew-etag": cc("max-age=600", ("Date", "{now-3600}"), ETAG),
    "etag-only": s(ETAG),
    "lm-future": s(("Last-Modified", "{now+86400}")),
    "no-cache-etag-404": cc("no-cache", ETAG, status=404),
    "410-plain": s(status=410),
    "swr-etag": cc("max-age=0, stale-while-revalidate=600", ETAG, never_304=True),
    "max-age-duplicate": cc("max-age=600, max-age=0"),
    "max-age-quoted": cc('max-age="600"'),
    # --- beyond the list in the brief --------------------------------------
    "max-age-1-etag": cc("max-age=1", ETAG),
    "308-plain": s(status=308, redirect=True),
    "307-max-age": cc("max-age=600", status=307, redirect=True),
    "no-cache-etag-lm": cc("no-cache", ETAG, LM_10_DAYS_AGO),
    "no-cache-field-name": cc('max-age=600, no-cache="Set-Cookie"'),
    "expires-invalid": s(("Expires", "0")),
    "max-age-over-expires": cc("max-age=600", ("Expires", "{now-3600}")),
    "max-age-upper-case": cc("MAX-AGE=600"),
    "max-age-negative-etag": cc("max-age=-1", ETAG),
    "must-revalidate-lm": cc("must-revalidate", LM_10_DAYS_AGO),
    "vary-accept-encoding": cc("max-age=600", ("Vary", "Accept-Encoding")),
    "no-cache-etag-410": cc("no-cache", ETAG, status=410),
}

PAGE = b"<!doctype html><html><head><title>cache page</title></head><body></body></html>"
NOW = re.compile(r"\{now(?:([+-]\d+))?\}")


def render(value: str, now: float, etag: str) -> str:
    value = NOW.sub(lambda m: formatdate(now + int(m.group(1) or 0), usegmt=True), value)
    return value.replace("{etag}", etag)


def etag_of(scenario_id: str) -> str:
    return f'"{scenario_id}-v1"'


@dataclass
class Seen:
    method: str
    path: str
    at: float                                    # time.time() when the request arrived
    headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    @property
    def conditional(self) -> tuple[str, ...]:
        """The conditional headers it carried, e.g. ``("If-None-Match",)``."""
        return tuple(h for h in ("If-None-Match", "If-Modified-Since") if self.header(h) is not None)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, headers: Headers, body: bytes, now: float, etag: str = "") -> None:
        self.send_response_only(status)
        self.send_header("Server", "proxylens-cache-origin/1")
        headers = tuple((n, render(v, now, etag)) for n, v in headers)
        if not any(n.lower() == "date" for n, _ in headers):
            self.send_header("Date", formatdate(now, usegmt=True))
        for name, value in headers:
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Type", "text/html; charset=utf-8" if body.startswith(b"<!doctype")
                             else "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304 and self.command != "HEAD":
            self.wfile.write(body)

    def _route(self) -> None:
        now = time.time()
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path = urlsplit(self.path).path
        seen = Seen(self.command, path, now, list(self.headers.items()))
        n = self.server.log(seen)
        parts = path.split("/")                  # "", "cache", id[, "target"]
        if path == "/":
            self._send(200, ((CC, "no-store"),), PAGE, now)
        elif len(parts) == 4 and parts[:2] == ["", "cache"] and parts[3] == "target" and parts[2] in SCENARIOS:
            self._send(200, ((CC, "no-store"),), f"{parts[2]} target #{n}\n".encode(), now)
        elif len(parts) == 3 and parts[:2] == ["", "cache"] and parts[2] in SCENARIOS:
            sid = parts[2]
            scenario = SCENARIOS[sid]
            etag = etag_of(sid)
            headers = scenario.headers
            if scenario.redirect:
                headers = (("Location", f"/cache/{sid}/target"), *headers)
            if scenario.status == 200 and not scenario.never_304 and self._matches(seen, scenario, etag):
                self._send(304, headers, b"", now, etag)
            else:
                self._send(scenario.status, headers, f"{sid} #{n}\n".encode(), now, etag)
        else:
            self._send(404, ((CC, "no-store"),), b"not found\n", now)

    @staticmethod
    def _matches(seen: Seen, scenario: Scenario, etag: str) -> bool:
        inm = seen.header("If-None-Match")
        if inm is not None:
            return etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*"
        return seen.header("If-Modified-Since") is not None and "last-modified" in scenario.validators

    do_GET = do_POST = do_HEAD = _route


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[Seen] = []
        self.lock = threading.Lock()

    def log(self, seen: Seen) -> int:
        """Record a request; return how many requests its path has had, this one included."""
        with self.lock:
            self.seen.append(seen)
            return sum(1 for s in self.seen if s.path == seen.path)


class CacheOrigin(Running):
    def __init__(self) -> None:
        super().__init__(_Server())

    def seen(self, path: str | None = None) -> list[Seen]:
        """Requests received so far, optionally only those for one exact path."""
        with self.server.lock:
            return [s for s in self.server.seen if path is None or s.path == path]

    def wait_quiet(self, quiet: float = 0.7, limit: float = 5.0) -> None:
        """Return once no request has arrived for ``quiet`` seconds (background revalidations)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            last = max((s.at for s in self.seen()), default=0.0)
            if time.time() - last >= quiet:
                return
            time.sleep(0.1)


def scenario_path(scenario_id: str) -> str:
    return f"/cache/{scenario_id}"
