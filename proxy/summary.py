"""The end-of-run summary: findings grouped by rule, with counts, the worst
examples and the hosts affected.

Memory is bounded whatever the traffic: per rule, a few examples and at most
MAX_HOSTS host names (the rest only counted). The catalog bounds the rules.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from rich.text import Text

from .findings import Finding, Severity
from .pipeline import Result
from .plainlog import printable
from .redact import redact_text
from .theme import make_console, severity_style

EXAMPLES = 2  # the worst examples kept and shown per rule
MAX_HOSTS = 1000
LISTED_RULES = 15  # in the summary; good findings are listed apart, on one line


@dataclass
class RuleStats:
    rule: str
    severity: Severity
    count: int = 0
    hosts: Counter = field(default_factory=Counter)
    more_hosts: int = 0  # exchanges on hosts beyond MAX_HOSTS
    examples: list[tuple[int, str, str]] = field(default_factory=list)  # (-severity rank, "METHOD url", summary)

    def add(self, finding: Finding, request: str, host: str) -> None:
        self.count += 1
        self.severity = max(self.severity, finding.severity)
        if host in self.hosts or len(self.hosts) < MAX_HOSTS:
            self.hosts[host] += 1
        else:
            self.more_hosts += 1
        example = (-finding.severity.rank, request, finding.summary)
        # Keep the worst examples, the earliest among equals.
        if len(self.examples) < EXAMPLES or example[0] < self.examples[-1][0]:
            self.examples.append(example)
            self.examples.sort(key=lambda e: e[0])
            del self.examples[EXAMPLES:]

    def host_text(self, most: int = 3) -> str:
        shown = [f"{host} ({n})" if n > 1 else host for host, n in self.hosts.most_common(most)]
        rest = len(self.hosts) - len(shown) + (1 if self.more_hosts else 0)
        return ", ".join(shown) + (f" and {rest}{'+' if self.more_hosts else ''} more" if rest > 0 else "")


@dataclass
class Tally:
    exchanges: int = 0
    failed: int = 0
    by_severity: Counter = field(default_factory=Counter)
    rules: dict[str, RuleStats] = field(default_factory=dict)
    redact: bool = True  # examples are shown in CI logs: as safe as the HAR

    def add(self, result: Result) -> None:
        self.exchanges += 1
        ex = result.exchange
        if ex.response is None:
            self.failed += 1
        if not result.findings:
            return
        request = f"{ex.request.method} {ex.request.url}"  # redacted when shown: only examples kept are
        host = ex.request.host or "?"
        for f in result.findings:
            self.by_severity[f.severity.value] += 1
            stats = self.rules.get(f.rule)
            if stats is None:
                stats = self.rules[f.rule] = RuleStats(f.rule, f.severity)
            stats.add(f, request, host)

    @property
    def by_rule(self) -> Counter:
        return Counter({rule: stats.count for rule, stats in self.rules.items()})

    def ranked(self) -> list[RuleStats]:
        """Worst severity first, then the most frequent, then by id (stable output)."""
        return sorted(self.rules.values(), key=lambda s: (-s.severity.rank, -s.count, s.rule))

    def as_dict(self) -> dict:
        return {
            "exchanges": self.exchanges,
            "failed": self.failed,
            "findings": dict(self.by_severity),
            "rules": dict(self.by_rule),
        }

    def headline(self) -> str:
        sev = ", ".join(f"{self.by_severity[s.value]} {s.value}" for s in reversed(Severity)
                        if self.by_severity[s.value])
        return (f"proxylens: {self.exchanges} exchanges ({self.failed} without response); "
                f"findings: {sev or 'none'}")


def summary_lines(tally: Tally) -> Iterator[Text]:
    """The summary, line by line, styled; ``.plain`` is the stable text CI logs and pipes get."""
    yield Text(tally.headline(), style="header")
    ranked = tally.ranked()
    listed = [s for s in ranked if s.severity > Severity.GOOD]
    for stats in listed[:LISTED_RULES]:
        yield Text.assemble(f"  {stats.count:6d}  ", (f"{stats.severity.value:<7}", severity_style(stats.severity)),
                            "  ", (stats.rule, "rule"), f"  on {printable(stats.host_text())}")
        for _, request, summary in stats.examples:
            example = f"{request} — {summary}"
            yield Text(f"          e.g. {printable(redact_text(example) if tally.redact else example)}", style="muted")
    if len(listed) > LISTED_RULES:
        yield Text(f"  ... and {len(listed) - LISTED_RULES} more rules (the HAR and `proxylens analyze` have them all)",
                   style="muted")
    good = [s for s in ranked if s.severity == Severity.GOOD]
    if good:
        yield Text.assemble("  ", ("good", "severity.good"), ": ", ", ".join(f"{s.rule} ({s.count})" for s in good))


def summary_text(tally: Tally, har_path: str | None = None, har_entries: int | None = None, *,
                 color: bool = False, width: int | None = None) -> str:
    """The summary as one string: styled lines with colour codes for a terminal, plain lines otherwise."""
    buffer = io.StringIO()
    if color:  # a terminal: one line per line, long examples cut rather than wrapped
        console = make_console(buffer, color=True, width=width)
        for line in summary_lines(tally):
            console.print(line, no_wrap=True, overflow="ellipsis")
    else:
        buffer.write("".join(line.plain + "\n" for line in summary_lines(tally)))
    if har_path is not None:
        buffer.write(f"HAR written to {har_path} ({har_entries} entries)\n")
    return buffer.getvalue().rstrip("\n")
