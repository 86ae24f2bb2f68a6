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
from rich.text import Text

from .findings import Severity
from .pipeline import Result
from .plainlog import human_size, printable
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
        if len(head) + len("/…/") + len(candidate) > room:
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


def worst_by_category(result: Result) -> tuple[tuple[str, Severity], ...]:
    """Each category with findings and its worst severity, in badge order."""
    worst: dict[str, Severity] = {}
    for f in result.findings:
        if f.category not in worst or f.severity > worst[f.category]:
            worst[f.category] = f.severity
    order = [c for c in BADGES if c in worst] + sorted(c for c in worst if c not in BADGES)
    return tuple((c, worst[c]) for c in order)


def badge_text(worst: tuple[tuple[str, Severity], ...]) -> Text:
    text = Text()
    for category, severity in worst:
        if text:
            text.append(" ")
        text.append(BADGES.get(category, category[:4]), severity_style(severity))
    return text


def badges(result: Result) -> Text:
    """One label per category with findings, in the colour of its worst finding."""
    return badge_text(worst_by_category(result))


@dataclass(frozen=True, slots=True)
class Row:
    """What the table needs of one exchange. Only primitives are kept when it arrives; the
    formatting (redaction, shortening, styles) is done when the row is drawn, which at most
    the ~40 visible rows are, 4 times a second, however many exchanges arrive."""

    started: float
    method: str
    url: str
    status_code: int | None
    response_size: int
    total_ms: float
    http_version: str
    tls: str
    worst: tuple[tuple[str, Severity], ...]
    redact: bool = True

    @classmethod
    def of(cls, result: Result, redact: bool = True) -> Row:
        ex = result.exchange
        response = ex.response
        return cls(ex.timings.started, ex.request.method, ex.request.url,
                   response.status if response is not None else None,
                   response.body.size if response is not None else -1, ex.timings.total,
                   (response or ex.request).http_version, _tls_version(result), worst_by_category(result), redact)

    @property
    def when(self) -> str:
        try:
            return datetime.fromtimestamp(self.started).strftime("%H:%M:%S") if self.started else ""
        except (ValueError, OverflowError, OSError):
            return ""

    @property
    def status(self) -> Text:
        if self.status_code is None:
            return Text("ERR", "status.error")
        return Text(str(self.status_code), status_style(self.status_code))

    def _parts(self):
        return urlsplit(printable(redact_url(self.url) if self.redact else self.url))

    @property
    def host(self) -> str:
        return shorten_host(self._parts().netloc)

    def path(self, width: int = PATH_WIDTH) -> str:
        parts = self._parts()
        return shorten_path((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), width)

    @property
    def duration(self) -> str:
        return duration_text(self.total_ms)

    @property
    def size(self) -> str:
        return "-" if self.status_code is None else human_size(self.response_size)

    @property
    def protocol(self) -> str:
        return protocol(self.http_version)

    @property
    def badges(self) -> Text:
        return badge_text(self.worst)


# (heading, justify); the path takes the width the others leave.
COLUMNS = [("time", "left"), ("method", "left"), ("st", "right"), ("host", "left"), ("path", "left"),
           ("dur", "right"), ("size", "right"), ("http", "left"), ("tls", "left"), ("findings", "left")]
PATH = 4
MIN_PATH = 12
DROPPED_WHEN_NARROW = (8, 7, 0, 6)  # tls, http, time, size


def _plain(cell: str | Text) -> str:
    return cell.plain if isinstance(cell, Text) else cell


def _line(cells: list[Text], widths: list[int], shown: list[int], style: str = "") -> Text:
    """Text, never str: rich would read "[redacted]" or "[::1]" in a URL as markup."""
    line = Text(style=style, no_wrap=True, overflow="crop")
    for n, i in enumerate(shown):
        cell = cells[i].copy()
        cell.truncate(widths[i], overflow="ellipsis", pad=False)
        pad = " " * (widths[i] - cell.cell_len)
        if n:
            line.append(" ")
        if COLUMNS[i][1] == "right":
            line.append(pad)
        line.append_text(cell)
        if COLUMNS[i][1] == "left" and n < len(shown) - 1:
            line.append(pad)
    return line


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
        for line in (title, counts):
            line.no_wrap, line.overflow = True, "ellipsis"
        return Group(title, counts)

    def table(self, rows: int, width: int) -> Group:
        """The visible rows as one line each, columns laid out here: a rich Table measures every
        cell of every frame, ten times the cost of these lines."""
        visible = list(self.rows)[-rows:] if rows > 0 else []
        cells = [(row.when, printable(row.method), row.status, row.host, "", row.duration, row.size, row.protocol,
                  row.tls, row.badges) for row in visible]
        widths = [max([len(heading), *(len(_plain(c[i])) for c in cells)]) for i, (heading, _) in enumerate(COLUMNS)]
        shown = list(range(len(COLUMNS)))
        for drop in DROPPED_WHEN_NARROW:  # a narrow terminal: fewer columns rather than a squeezed path
            if sum(widths[i] + 1 for i in shown if i != PATH) + MIN_PATH <= width:
                break
            shown.remove(drop)
        widths[PATH] = max(MIN_PATH, width - sum(widths[i] + 1 for i in shown if i != PATH))
        lines = [_line([Text(h) for h, _ in COLUMNS], widths, shown, "label")]
        for row, c in zip(visible, cells):
            lines.append(_line([Text(c[0], "muted"), Text(c[1], "method"), c[2], Text(c[3], "host"),
                                Text(row.path(widths[PATH])),
                                Text(c[5]), Text(c[6]), Text(c[7]), Text(c[8]), c[9]], widths, shown))
        return Group(*lines)

    def footer(self) -> Text:
        # The most frequent; among equals the worst, then by id (not by arrival).
        ranked = sorted(self.by_rule.items(), key=lambda item: (-item[1], -self.rule_severity[item[0]].rank, item[0]))
        top = [(rule, n) for rule, n in ranked if self.rule_severity[rule] > Severity.GOOD][:3]
        text = Text("most frequent: ", style="label", no_wrap=True, overflow="ellipsis")
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
            yield self.table(max(1, height - CHROME_LINES), options.max_width)
            yield self.footer()
        yield Text("Ctrl-C stops the proxy and prints the summary", style="muted", no_wrap=True, overflow="ellipsis")
