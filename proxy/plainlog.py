"""Plain, stable one-line-per-exchange output and the end-of-run summary.

No control codes: this is also what CI logs show. (The rich console comes
in its own module.)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from .findings import Severity
from .pipeline import Result
from .redact import redact_text


def human_size(n: int) -> str:
    if n < 0:
        return "?"
    if n < 1024:
        return f"{n}B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f}kB"
    return f"{n / 1024 / 1024:.1f}MB"


def _clock(ts: float) -> str:
    try:
        return datetime.fromtimestamp(ts).strftime("%H:%M:%S") if ts else "--:--:--"
    except (ValueError, OverflowError, OSError):  # a HAR with a date out of range
        return "--:--:--"


def exchange_line(result: Result, *, redact: bool = False) -> str:
    """One line per exchange. With *redact*, as safe as the HAR (CI logs are often public)."""
    ex = result.exchange
    when = _clock(ex.timings.started)
    clean = redact_text if redact else (lambda text: text)
    if ex.response is not None:
        outcome = f"{ex.response.status} {ex.response.reason}".rstrip()
        size = human_size(ex.response.body.size)
    else:
        outcome = f"ERROR {ex.error.kind if ex.error else ''}".rstrip()
        size = "-"
    line = f"{when} {ex.request.method} {clean(ex.request.url)} -> {outcome} {ex.timings.total:.0f}ms {size}"
    if ex.error is not None and ex.response is None:
        line += f" ({clean(ex.error.message)})"
    notable = [f for f in result.findings if f.severity >= Severity.WARNING]
    if notable:
        worst = max(notable, key=lambda f: f.severity.rank)
        more = f" (+{len(notable) - 1})" if len(notable) > 1 else ""
        line += f" | {worst.severity.value}: {worst.rule}: {clean(worst.summary)}{more}"
    return line


@dataclass
class Tally:
    exchanges: int = 0
    failed: int = 0
    by_severity: Counter = field(default_factory=Counter)
    by_rule: Counter = field(default_factory=Counter)

    def add(self, result: Result) -> None:
        self.exchanges += 1
        if result.exchange.response is None:
            self.failed += 1
        for f in result.findings:
            self.by_severity[f.severity.value] += 1
            self.by_rule[f.rule] += 1

    def as_dict(self) -> dict:
        return {
            "exchanges": self.exchanges,
            "failed": self.failed,
            "findings": dict(self.by_severity),
            "rules": dict(self.by_rule),
        }


def summary_text(tally: Tally, har_path: str | None, har_entries: int | None) -> str:
    sev = ", ".join(f"{tally.by_severity[s.value]} {s.value}" for s in reversed(Severity) if tally.by_severity[s.value])
    lines = [f"proxylens: {tally.exchanges} exchanges ({tally.failed} without response); findings: {sev or 'none'}"]
    for rule, count in tally.by_rule.most_common(5):
        lines.append(f"  {count:6d}  {rule}")
    if har_path is not None:
        lines.append(f"HAR written to {har_path} ({har_entries} entries)")
    return "\n".join(lines)


def write_line(out: IO[str], text: str) -> None:
    out.write(text + "\n")
    out.flush()
