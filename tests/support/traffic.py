"""Analyzed traffic for the policy, judge and report tests: the real pipeline on crafted exchanges."""

from __future__ import annotations

from email.utils import formatdate
from http import HTTPStatus

from addons import builtin_analyzers
from proxy.findings import Finding, catalog
from proxy.models import Body, Exchange, ExchangeError, Headers, Request, Response, Timings
from proxy.pipeline import Pipeline, Result

T0 = 1_780_000_000.0
REFUSED = "[Errno 111] Connection refused"

builtin_analyzers()  # importing the analyzers registers their rules in the catalog


def ex(i: int, url: str, *, status: int | None = 200, headers=(), resp_headers=(), body: bytes = b"ok",
       method: str = "GET", error: str | None = None, date: bool = False) -> Exchange:
    """An exchange like tests/test_har_writer.py's ``ex()``; ``date=True`` adds a Date matching its start."""
    extra = [("Date", formatdate(T0 + i, usegmt=True))] if date else []
    return Exchange(
        id=f"x{i}",
        request=Request(method, url, headers=Headers.of(headers)),
        response=None if status is None else Response(
            status, HTTPStatus(status).phrase, headers=Headers.of([("Content-Type", "text/plain"), *extra,
                                                                   *resp_headers]),
            body=Body(raw=body, size=len(body))),
        error=ExchangeError(error, "connect") if error else None,
        timings=Timings(started=T0 + i, connect=5, ssl=3, send=1, wait=10, receive=2),
    )


def refused(i: int, url: str, method: str = "GET") -> Exchange:
    """No response: the upstream refused the connection (status.upstream-refused, an error)."""
    return ex(i, url, status=None, error=REFUSED, method=method)


def analyze(exchanges) -> list[Result]:
    """Run the built-in analyzers in arrival order (they keep per-session state, e.g. HSTS)."""
    pipeline = Pipeline(builtin_analyzers())
    return [pipeline.run(e) for e in exchanges]


def finding(rule: str, summary: str | None = None) -> Finding:
    return catalog.get(rule).finding(summary)


def result(url: str, *rules: str, method: str = "GET", status: int | None = 200, i: int = 0) -> Result:
    """A result with exactly these catalog findings (for judge tests that need exact control)."""
    return Result(ex(i, url, status=status, method=method), findings=[finding(r) for r in rules])


HOSTS = ("api.test", "app.test", "cdn.test", "legacy.test")


def mixed_traffic(n: int = 200) -> list[Result]:
    """n exchanges over four hosts: refused connections (error), 500s (warnings and notes), 404s (notes),
    HSTS-setting 200s (a good finding) and 200s without Date (a warning)."""
    exchanges = []
    for i in range(n):
        host = HOSTS[i % len(HOSTS)]
        kind = i % 5
        if kind == 0:
            exchanges.append(refused(i, f"https://{host}/v1/users/{i}"))
        elif kind == 1:
            exchanges.append(ex(i, f"https://{host}/orders/{i}?page={i % 7}", status=500))
        elif kind == 2:
            exchanges.append(ex(i, f"https://{host}/missing/{i:04x}", status=404, date=True))
        elif kind == 3:
            exchanges.append(ex(i, f"https://{host}/", date=True,
                                resp_headers=[("Strict-Transport-Security", "max-age=31536000")]))
        else:
            exchanges.append(ex(i, f"https://{host}/static/app-{i}.js"))
    return analyze(exchanges)
