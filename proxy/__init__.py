"""proxylens: a programmable HTTP(S) debugging proxy built on mitmproxy.

The public API for checks (custom analyzers) and tests. Everything a check
needs is importable from here; the built-in analyzers in ``addons/`` use
exactly these names and nothing else of ``proxy``::

    from proxy import Severity, analyzer, rule

    MISSING = rule("api.cache-control-missing", Severity.WARNING,
                   "API responses must say how they may be cached.",
                   reference="https://www.rfc-editor.org/rfc/rfc9111#section-5.2")

    @analyzer("api")
    def api_cache_control(exchange):
        if exchange.response and "cache-control" not in exchange.response.headers:
            yield MISSING.finding(subject="response.header.cache-control")

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
