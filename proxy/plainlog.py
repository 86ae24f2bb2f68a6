"""Plain, stable one-line-per-exchange output.

No control codes: this is what CI logs and pipes show, and what the
terminal shows with --no-color or NO_COLOR.
"""

from __future__ import annotations

import re
from datetime import datetime

from .findings import Finding, Severity
from .pipeline import Result
from .redact import redact_text

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_NEWLINES = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def printable(text: str, newlines: bool = False) -> str:
    """Control characters escaped as \\xNN. URLs, reason phrases, error messages and header values
    come from the network: an ESC in them must not clear the user's screen or retitle the terminal,
    and a newline must not forge a line in a CI log. rich strips only a few (BEL, BS, CR, ...)."""
    pattern = _CONTROL_BUT_NEWLINES if newlines else _CONTROL
    return pattern.sub(lambda m: f"\\x{ord(m.group()):02x}", text) if pattern.search(text) else text


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


def exchange_line(result: Result, *, redact: bool = False, notable: list[Finding] | None = None) -> str:
    """One line per exchange, naming the worst of the *notable* findings (by default those at
    warning or above). With *redact*, as safe as the HAR (CI logs are often public)."""
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
    if notable is None:
        notable = [f for f in result.findings if f.severity >= Severity.WARNING]
    if notable:
        worst = max(notable, key=lambda f: f.severity.rank)
        more = f" (+{len(notable) - 1})" if len(notable) > 1 else ""
        line += f" | {worst.severity.value}: {worst.rule}: {clean(worst.summary)}{more}"
    return printable(line)
