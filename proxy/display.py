"""What the console shows, decided once: the mode, colour, and which exchanges and findings.

The filters select what is *displayed*; the HAR, the counters, the summary
and the policy always see every exchange.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
from dataclasses import dataclass
from typing import IO

from .explain import Selection
from .findings import Severity
from .models import Body, Exchange
from .pipeline import Result
from .theme import color_wanted


@dataclass(frozen=True)
class DisplayConfig:
    mode: str = "lines"  # live table | one line per exchange | explain trees | summary only
    color: bool = False
    hosts: tuple[str, ...] = ()  # host globs; empty: every host
    categories: tuple[str, ...] = ()  # finding categories / analyzer names; empty: all
    min_severity: Severity = Severity.GOOD
    flow_filter: str | None = None  # a mitmproxy filter expression, e.g. "~d api.example.com & ~c 500"

    @property
    def selection(self) -> Selection:
        return Selection(frozenset(self.categories) if self.categories else None, self.min_severity)


def choose_mode(stream: IO[str], *, quiet: bool, explain: bool, no_color: bool, live: bool = True) -> DisplayConfig:
    """--quiet wins; --explain prints trees; a colour terminal gets the live table (with *live*);
    anything else (a pipe, a CI log, NO_COLOR, TERM=dumb) gets plain lines without control codes."""
    color = color_wanted(stream, no_color)
    if quiet:
        return DisplayConfig("quiet", color)
    if explain:
        return DisplayConfig("explain", color)
    return DisplayConfig("live" if color and live else "lines", color)


class DisplayError(ValueError):
    """A display option that cannot work, e.g. a category no analyzer or rule has."""


def check_categories(categories: tuple[str, ...], analyzer_names: list[str]) -> None:
    """Called once every analyzer (custom ones too) is loaded, so a typo is an error, not an empty screen."""
    import difflib

    from .findings import catalog

    known = {rule.category for rule in catalog} | set(analyzer_names)
    for category in categories:
        if category not in known:
            close = difflib.get_close_matches(category, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(known))}"
            raise DisplayError(f"--category {category!r} matches no analyzer and no rule's category{hint}")


def parse_flow_filter(expression: str):
    """mitmproxy's own filter language; ValueError names the bad expression."""
    from mitmproxy import flowfilter

    return flowfilter.parse(expression)


class Filter:
    """Does an analyzed exchange pass the display filters?"""

    def __init__(self, config: DisplayConfig) -> None:
        self.hosts = tuple(h.lower() for h in config.hosts)
        self.selection = config.selection
        self.flow_filter = parse_flow_filter(config.flow_filter) if config.flow_filter else None

    @property
    def active(self) -> bool:
        return bool(self.hosts or self.flow_filter or self.selection.categories
                    or self.selection.min_severity > Severity.GOOD)

    def __call__(self, result: Result) -> bool:
        ex = result.exchange
        if self.hosts and not any(fnmatch.fnmatchcase((ex.request.host or "").lower(), h) for h in self.hosts):
            return False
        selection = self.selection
        if selection.categories is not None and not (selection.categories & result.facts.keys()) and \
                not selection.findings(result.findings):
            return False  # nothing of these analyzers on this exchange
        if selection.min_severity > Severity.GOOD and not selection.findings(result.findings):
            return False
        if self.flow_filter is not None:
            try:
                return bool(self.flow_filter(flow_of(ex)))
            except Exception:  # noqa: BLE001 -- an undecodable body must not break the console
                return False
        return True


def _bytes(body: Body) -> bytes:
    if body.raw is not None:
        return body.raw
    if body.text is None:
        return b""
    if body.text_encoding == "base64":
        try:
            return base64.b64decode(body.text)
        except (binascii.Error, ValueError):
            return b""
    return body.text.encode("utf-8", "surrogateescape")


def flow_of(ex: Exchange):
    """A mitmproxy HTTPFlow with what a filter expression can test: method, URL, headers,
    bodies, status, error. Built from the Exchange, so the filter works the same live and on a HAR."""
    from mitmproxy import connection, flow, http

    client = connection.Client(peername=ex.client_address or ("127.0.0.1", 0), sockname=("127.0.0.1", 0),
                               timestamp_start=ex.timings.started)
    server = connection.Server(address=ex.server_address)
    f = http.HTTPFlow(client, server)
    # make() writes its own Content-Length for the empty content: put the recorded headers back after it.
    request = http.Request.make(ex.request.method, ex.request.url)
    request.raw_content = _bytes(ex.request.body)
    request.headers = http.Headers(list(_header_pairs(ex.request.headers)))
    f.request = request
    if ex.response is not None:
        response = http.Response.make(ex.response.status)
        response.reason = ex.response.reason
        response.raw_content = _bytes(ex.response.body)
        response.headers = http.Headers(list(_header_pairs(ex.response.headers)))
        f.response = response
    if ex.error is not None:
        f.error = flow.Error(ex.error.message)
    return f


def _header_pairs(headers):
    for name, value in headers:
        yield name.encode("utf-8", "surrogateescape"), value.encode("utf-8", "surrogateescape")
