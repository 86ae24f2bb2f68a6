"""proxylens's named rich theme, and the one place that decides whether output is coloured.

Every style the console uses has a name here (``severity.warning``,
``status.4xx``, ...), so colours are changed in one place and a renderable
never hard-codes one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import IO

from rich.console import Console
from rich.text import Text
from rich.theme import Theme

from .findings import Severity

THEME = Theme({
    "severity.good": "green",
    "severity.info": "cyan",
    "severity.warning": "yellow",
    "severity.error": "bold red",
    "severity.none": "dim",
    "status.1xx": "dim",
    "status.2xx": "green",
    "status.3xx": "cyan",
    "status.4xx": "yellow",
    "status.5xx": "bold red",
    "status.error": "reverse red",
    "method": "bold",
    "host": "blue",
    "path": "default",
    "muted": "dim",
    "rule": "magenta",
    "label": "bold",
    "verdict.ok": "green",
    "verdict.bad": "bold red",
    "verdict.other": "dim",
    "header": "bold",
    "reference": "dim underline",
    "code": "bold cyan",
}, inherit=True)


def severity_style(severity: Severity | str | None) -> str:
    return f"severity.{Severity(severity).value}" if severity else "severity.none"


def status_style(status: int | None) -> str:
    if not status:
        return "status.error"
    return f"status.{status // 100}xx" if 1 <= status // 100 <= 5 else "status.error"


def color_wanted(stream: IO[str], no_color: bool = False) -> bool:
    """Colour and cursor movement only on a real terminal, never with --no-color or NO_COLOR
    (https://no-color.org: any non-empty value) or TERM=dumb."""
    if no_color or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or file-like stream
        return False


def wrapped(text: Text, console: Console, width: int, indent: int = 0) -> Iterator[Text]:
    """*text* wrapped to *width* with every line indented and no trailing spaces: rich's Padding
    would pad each line to the longest, which plain output must not carry."""
    for line in text.wrap(console, max(8, width - indent)):
        line.rstrip()
        if line:  # a paragraph break would leave a line of only tree guides and spaces
            yield Text(" " * indent) + line


def make_console(file: IO[str], *, color: bool, width: int | None = None) -> Console:
    """A Console with the theme. Without colour it writes no control codes at all, so CI logs
    and pipes get plain, stable text."""
    if color:
        return Console(file=file, theme=THEME, width=width, force_terminal=True, highlight=False, emoji=False)
    columns = os.environ.get("COLUMNS", "")
    width = width or (int(columns) if columns.isdigit() and int(columns) > 0 else 100)
    return Console(file=file, theme=THEME, width=width, force_terminal=False, no_color=True,
                   color_system=None, highlight=False, emoji=False, soft_wrap=False)
