"""proxylens: a programmable HTTP(S) debugging proxy built on mitmproxy.

The public API for checks (custom analyzers) and tests. Everything a check
needs is importable from here; the built-in analyzers in ``addons/`` use
exactly these names and nothing else of ``proxy``::

    from proxy import Severity, analyzer, rule

    REQUEST_ID_MISSING = rule("team.request-id-missing", Severity.WARNING,
                              "API responses must carry X-Request-Id.")

    @analyzer("request_id")
    def request_id(exchange):
        response = exchange.response
        if response and "x-request-id" not in response.headers:
            yield REQUEST_ID_MISSING.finding(f"{response.status} without X-Request-Id")

Names here are stable: they are renamed only with a deprecation period and a
changelog entry. See docs/custom-checks.md and docs/api.md.
"""

from .analyzer import Analysis, Analyzer, analyzer
from .findings import Finding, Rule, Severity, catalog
from .models import (
    Body,
    ClientTLS,
    Exchange,
    ExchangeError,
    Headers,
    Request,
    Response,
    ServerTLS,
    Timings,
    is_ip,
    serialize_origin,
)
from .pipeline import Result
from .session import BoundedStore, Session

__version__ = "0.1.0"

rule = catalog.rule
family = catalog.family


def __getattr__(name: str):
    if name == "InProcess":  # imports mitmproxy: only for those who run checks inside mitmdump
        from .inprocess import InProcess

        return InProcess
    raise AttributeError(f"module 'proxy' has no attribute {name!r}")


__all__ = [
    "Analysis",
    "Analyzer",
    "Body",
    "BoundedStore",
    "ClientTLS",
    "Exchange",
    "ExchangeError",
    "Finding",
    "Headers",
    "InProcess",
    "Request",
    "Response",
    "Result",
    "Rule",
    "ServerTLS",
    "Session",
    "Severity",
    "Timings",
    "analyzer",
    "catalog",
    "family",
    "is_ip",
    "rule",
    "serialize_origin",
]
