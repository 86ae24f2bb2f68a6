"""The console sink: what the terminal (or the CI log) shows of each exchange.

One object for the four modes of DisplayConfig: the live table, one plain line
per exchange, an explain tree per exchange, or nothing until the summary.
Used by the analysis worker and by ``proxylens analyze``.
"""

from __future__ import annotations

import sys
from typing import IO

from rich.live import Live
from rich.text import Text

from .display import DisplayConfig, Filter
from .explain import Explanation
from .findings import Finding, Severity
from .live import REFRESH_PER_SECOND, LiveView
from .pipeline import Result
from .plainlog import exchange_line, printable
from .theme import make_console


class ConsoleOutput:
    def __init__(self, config: DisplayConfig, *, redact: bool = True, out: IO[str] | None = None,
                 width: int | None = None, findings_under_lines: bool = False) -> None:
        self.config = config
        self.findings_under_lines = findings_under_lines  # `analyze` lists each finding below its line
        self.redact = redact
        self.out = out or sys.stdout
        self.filter = Filter(config)
        self.console = make_console(self.out, color=config.color, width=width)
        self.view = LiveView(redact=redact, filtered=self.filter.active) if config.mode == "live" else None
        self.live: Live | None = None
        self.broken = False  # stdout went away (`| head`): keep recording, stop printing

    def started(self, address: str, ca_hint: str) -> None:
        """The proxy listens: the live view starts drawing (earlier, there is nothing to show)."""
        if self.view is None or self.live is not None:
            return
        self.view.started(address, ca_hint)
        self.live = Live(self.view, console=self.console, refresh_per_second=REFRESH_PER_SECOND,
                         vertical_overflow="crop", redirect_stdout=True, redirect_stderr=True)
        self.live.start()

    def notice(self, text: str) -> None:
        """A message of the proxy process: above the live table, or on stderr."""
        if self.live is not None:
            self.live.console.print(Text(printable(text), style="muted"))
        else:
            print(printable(text), file=sys.stderr, flush=True)

    def add(self, result: Result) -> None:
        if self.broken or self.config.mode == "quiet":
            return
        shown = self.filter(result)
        if self.view is not None:
            self.view.add(result, shown)
            return
        if not shown:
            return
        try:
            if self.config.mode == "explain":
                self.console.print(Explanation(result, self.config.selection, self.redact))
            else:
                self.out.write(exchange_line(result, redact=self.redact, notable=self._notable(result)) + "\n")
                if self.findings_under_lines:
                    for f in sorted(self.config.selection.findings(result.findings), key=lambda f: -f.severity.rank):
                        self.out.write(f"    {f.severity.value:7} {f.rule}: {printable(f.summary)}\n")
            self.out.flush()
        except (BrokenPipeError, OSError):
            self.broken = True

    def _notable(self, result: Result) -> list[Finding]:
        """What a line names: findings of the selected categories at or above --min-severity when it
        was given, else at warning or above."""
        selection = self.config.selection
        floor = selection.min_severity if selection.min_severity > Severity.GOOD else Severity.WARNING
        return [f for f in selection.findings(result.findings) if f.severity >= floor]

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()  # the last frame stays on screen, above the summary
            self.live = None
