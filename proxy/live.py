"""The live view: a scrolling table of recent exchanges with badges, counters and top findings.

It runs in the analysis worker. ``add`` is called once per exchange and only
builds a small Row; rich's Live redraws from its own thread, at most
REFRESH_PER_SECOND times a second, whatever the traffic. Memory is bounded:
MAX_ROWS rows, per-second buckets for the rate, one counter per rule.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table
from rich.text import Text

from .findings import Severity
from .pipeline import Result
from .plainlog import human_size
from .redact import redact_url
from .theme import severity_style, status_style

MAX_ROWS = 500
REFRESH_PER_SECOND = 4
RATE_WINDOW = 5  # seconds the requests/s figure is averaged over
# Badge order and labels: the analyzers' categories first, then any other (custom) ones.
BADGES = {"caching": "cache", "cors": "cors", "status": "stat", "hsts": "hsts", "tls": "tls", "security": "sec"}
HOST_WIDTH = 28
PATH_WIDTH = 48
CHROME_LINES = 6  # header (2), table heading (1), footer (2), a spare line


def shorten_host(host: str, width: int = HOST_WIDTH) -> str:
    """Keep the end of a long host name: the registrable domain says more than the first label."""
    return host if len(host) <= width else "…" + host[-(width - 1):]


def shorten_path(path: str, width: int = PATH_WIDTH) -> str:
    """/api/v1/users/17/avatar.png -> /api/…/avatar.png: keep the first segment and as many of the
    last ones as fit; a query is shown as ?… once it no longer fits."""
    path, _, query = path.partition("?")
    if query and len(path) + 1 + len(query) <= width:
        return f"{path}?{query}"
    suffix = "?…" if query else ""
    room = width - len(suffix)
    if len(path) <= room:
        return path + suffix
    segments = path.split("/")
    head = "/".join(segments[:2])
    tail: list[str] = []
    for segment in reversed(segments[2:]):
        candidate = "/".join([segment, *tail])
        if len(head) + 2 + len(candidate) > room:
            break
        tail = [segment, *tail]
    if tail:
        return f"{head}/…/{'/'.join(tail)}{suffix}"
    return "…" + path[-(room - 1):] + suffix


def duration_text(ms: float) -> str:
    return f"{ms:.0f}ms" if ms < 1000 else f"{ms / 1000:.1f}s"


def protocol(http_version: str) -> str:
    version = http_version.upper()
    return {"HTTP/2.0": "h2", "HTTP/2": "h2", "HTTP/3": "h3", "HTTP/3.0": "h3"}.get(version, version.removeprefix("HTTP/"))


def _tls_version(result: Result) -> str:
    ex = result.exchange
    version = (ex.server_tls and ex.server_tls.version) or (ex.client_tls and ex.client_tls.version)
    return version.removeprefix("TLSv") if version else "-"


def badges(result: Result) -> Text:
    """One label per category with findings, in the colour of its worst finding."""
    worst: dict[str, Severity] = {}
    for f in result.findings:
        if f.category not in worst or f.severity > worst[f.category]:
            worst[f.category] = f.severity
    order = [c for c in BADGES if c in worst] + sorted(c for c in worst if c not in BADGES)
    text = Text()
    for category in order:
        if text:
            text.append(" ")
        text.append(BADGES.get(category, category[:4]), severity_style(worst[category]))
    return text


@dataclass(frozen=True, slots=True)
class Row:
    when: str
    method: str
    status: Text
    host: str
    path: str
    duration: str
    size: str
    protocol: str
    tls: str
    badges: Text

    @classmethod
    def of(cls, result: Result, redact: bool = True) -> Row:
        ex = result.exchange
        url = redact_url(ex.request.url) if redact else ex.request.url
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            when = datetime.fromtimestamp(ex.timings.started).strftime("%H:%M:%S") if ex.timings.started else ""
        except (ValueError, OverflowError, OSError):
            when = ""
        if ex.response is not None:
            status = Text(str(ex.response.status), status_style(ex.response.status))
            size = human_size(ex.response.body.size)
            proto = protocol(ex.response.http_version)
        else:
            status = Text("ERR", "status.error")
            size, proto = "-", protocol(ex.request.http_version)
        return cls(when, ex.request.method, status, shorten_host(parts.netloc), shorten_path(path),
                   duration_text(ex.timings.total), size, proto, _tls_version(result), badges(result))


class Rate:
    """Requests per second over the last RATE_WINDOW whole seconds, in O(1) memory."""

    def __init__(self) -> None:
        self.buckets: deque[list[int]] = deque(maxlen=RATE_WINDOW + 1)

    def tick(self, now: float) -> None:
        second = int(now)
        if self.buckets and self.buckets[-1][0] == second:
            self.buckets[-1][1] += 1
        else:
            self.buckets.append([second, 1])

    def per_second(self, now: float) -> float:
        second = int(now)
        # Whole seconds only: the current one is still filling up.
        counted = sum(n for s, n in self.buckets if second - RATE_WINDOW <= s < second)
        return counted / RATE_WINDOW


class LiveView:
    """The state behind the live table. Thread-safe: the worker adds, rich's refresh thread draws."""

    def __init__(self, *, redact: bool = True, max_rows: int = MAX_ROWS, filtered: bool = False) -> None:
        self.redact = redact
        self.rows: deque[Row] = deque(maxlen=max_rows)
        self.filtered = filtered
        self.address = ""
        self.ca_hint = ""
        self.exchanges = 0
        self.shown = 0
        self.errors = 0
        self.by_severity: Counter = Counter()
        self.by_rule: Counter = Counter()
        self.rule_severity: dict[str, Severity] = {}
        self.rate = Rate()
        self.lock = threading.Lock()

    def started(self, address: str, ca_hint: str) -> None:
        self.address, self.ca_hint = address, ca_hint

    def add(self, result: Result, shown: bool = True, now: float | None = None) -> None:
        row = Row.of(result, self.redact) if shown else None
        with self.lock:
            self.exchanges += 1
            self.rate.tick(time.monotonic() if now is None else now)
            if result.exchange.response is None:
                self.errors += 1
            for f in result.findings:
                self.by_severity[f.severity] += 1
                self.by_rule[f.rule] += 1
                self.rule_severity[f.rule] = max(f.severity, self.rule_severity.get(f.rule, f.severity))
            if row is not None:
                self.shown += 1
                self.rows.append(row)

    # -- drawing --------------------------------------------------------------------------------

    def header(self, now: float) -> Group:
        title = Text.assemble(("proxylens", "header"), "  ")
        if self.address:
            title.append(f"listening on {self.address}")
        if self.ca_hint:
            title.append(f"  ·  {self.ca_hint}", "muted")
        counts = Text.assemble(("exchanges ", "label"), str(self.exchanges), "   ", ("errors ", "label"),
                               (str(self.errors), "status.error" if self.errors else ""), "   ", ("findings ", "label"))
        for severity in reversed(Severity):
            counts.append(f"{self.by_severity[severity]} {severity.value}", severity_style(severity))
            counts.append("  ")
        counts.append(f" {self.rate.per_second(now):.1f} req/s", "label")
        if self.filtered:
            counts.append(f"   showing {self.shown} (filtered)", "muted")
        return Group(title, counts)

    def table(self, rows: int) -> Table:
        table = Table(box=None, expand=True, pad_edge=False, show_edge=False, header_style="label", padding=(0, 1))
        table.add_column("time", no_wrap=True, style="muted")
        table.add_column("method", no_wrap=True, style="method")
        table.add_column("st", no_wrap=True, justify="right")
        table.add_column("host", no_wrap=True, style="host", max_width=HOST_WIDTH, overflow="ellipsis")
        table.add_column("path", no_wrap=True, ratio=1, min_width=12, overflow="ellipsis")
        table.add_column("dur", no_wrap=True, justify="right")
        table.add_column("size", no_wrap=True, justify="right")
        table.add_column("http", no_wrap=True)
        table.add_column("tls", no_wrap=True)
        table.add_column("findings", no_wrap=True, max_width=24, overflow="ellipsis")
        for row in list(self.rows)[-rows:] if rows > 0 else []:
            # Text, not str: rich would read "[redacted]" or "[::1]" in a URL as markup.
            table.add_row(row.when, Text(row.method), row.status, Text(row.host), Text(row.path), row.duration,
                          row.size, Text(row.protocol), row.tls, row.badges)
        return table

    def footer(self) -> Text:
        top = [(rule, n) for rule, n in self.by_rule.most_common() if self.rule_severity[rule] > Severity.GOOD][:3]
        text = Text("most frequent: ", style="label")
        if not top:
            text.append("no warnings or errors yet", "muted")
        for i, (rule, n) in enumerate(top):
            text.append(("  ·  " if i else "") + f"{n}× ")
            text.append(rule, severity_style(self.rule_severity[rule]))
        return text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        height = options.height or console.size.height
        with self.lock:
            now = time.monotonic()
            yield self.header(now)
            yield self.table(max(1, height - CHROME_LINES))
            yield self.footer()
        yield Text("Ctrl-C stops the proxy and prints the summary", style="muted")
