"""A real pseudo-terminal for end-to-end tests of what a user sees.

``Terminal`` spawns a command (usually ``proxylens proxy``) in a pty of a given
size with pexpect, and a background thread pumps everything it writes into a
pyte screen (a VT100 emulator) and into ``raw``: the bytes as they came. Tests
read ``text()``/``lines()`` (the screen as a user sees it), ``raw`` (to check
for control codes), ``cell(row, col)`` (colours), and wait for text to appear.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from pathlib import Path
from typing import Self

import pexpect
import pyte

from tests.support.proxyproc import PROXYLENS, ProxyEndpoint, proxylens_env


def tty_env(home: Path, **extra: str) -> dict[str, str]:
    """proxylens's environment for a colour terminal: no NO_COLOR, TERM=xterm-256color, and no
    COLUMNS/LINES, so the program asks the pty for its size. ``extra`` wins (e.g. NO_COLOR="1")."""
    env = proxylens_env(home)
    for name in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(name, None)
    env["TERM"] = "xterm-256color"
    env.update(extra)
    return env


class Terminal:
    """A command running in a ``cols`` x ``rows`` pseudo-terminal, read through a pyte screen."""

    def __init__(self, argv: list[str], env: dict[str, str], *, cols: int = 120, rows: int = 40,
                 cwd: str | Path | None = None, history: int = 0) -> None:
        self.cols, self.rows = cols, rows
        # A HistoryScreen keeps the lines scrolled off the top (``history_lines``); a plain one does not.
        self.screen = pyte.HistoryScreen(cols, rows, history=history) if history else pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        self.lock = threading.Lock()
        self.eof = threading.Event()
        self.child = pexpect.spawn(argv[0], argv[1:], env=env, dimensions=(rows, cols),
                                   cwd=str(cwd) if cwd else None, echo=False)
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()
        self._status: int | None = None

    # -- output ---------------------------------------------------------------------------------

    def _pump(self) -> None:
        while True:
            try:
                data = self.child.read_nonblocking(65536, timeout=0.2)
            except pexpect.TIMEOUT:
                continue
            except (pexpect.EOF, OSError, ValueError):
                break
            with self.lock:
                self.raw.extend(data)
                self.stream.feed(data)
        self.eof.set()

    def text(self) -> str:
        return "\n".join(self.lines())

    def lines(self) -> list[str]:
        """The screen, one string per row, trailing blanks stripped."""
        with self.lock:
            return [line.rstrip() for line in self.screen.display]

    def history_lines(self) -> list[str]:
        """The rows scrolled off the top (kept with ``history=N``), oldest first, then the screen."""
        with self.lock:
            history = getattr(self.screen, "history", None)
            above = [] if history is None else [
                "".join(line[x].data for x in range(self.cols)).rstrip() for line in history.top]
            return above + [line.rstrip() for line in self.screen.display]

    def raw_text(self) -> str:
        with self.lock:
            return self.raw.decode("utf-8", "replace")

    def cell(self, row: int, col: int):
        """pyte's Char at (row, col): .data, .fg, .bg, .bold, .reverse ..."""
        with self.lock:
            return self.screen.buffer[row][col]

    def find(self, text: str) -> tuple[int, int] | None:
        """(row, col) of the first occurrence of ``text`` on the screen."""
        for row, line in enumerate(self.lines()):
            col = line.find(text)
            if col >= 0:
                return row, col
        return None

    def wait_for(self, pattern: str | re.Pattern, timeout: float = 30, *, raw: bool = False,
                 count: int = 1) -> re.Match:
        """Wait until the screen (or, with ``raw``, everything received) matches ``pattern`` (a plain
        string is matched literally) ``count`` times; AssertionError with the screen when it does not."""
        regex = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern))
        deadline = time.monotonic() + timeout
        while True:
            done = not self._reader.is_alive()  # read before looking: after EOF nothing more can arrive
            matches = list(regex.finditer(self.raw_text() if raw else self.text()))
            if len(matches) >= count:
                return matches[count - 1]
            if done or time.monotonic() > deadline:
                raise AssertionError(f"{regex.pattern!r} x{count} did not appear within {timeout}s "
                                     f"({len(matches)} found, eof={done}); screen:\n{self.text()}\n--- raw tail:\n"
                                     f"{self.raw_text()[-3000:]!r}")
            time.sleep(0.05)

    def settled(self, timeout: float = 15, interval: float = 0.3, ignore: str = "req/s") -> list[str]:
        """The screen once a whole frame has arrived: two looks ``interval`` apart agree (lines containing
        ``ignore``, e.g. a rate that keeps changing, are left out of the comparison)."""
        def look() -> list[str]:
            return [line for line in self.lines() if ignore not in line]

        deadline = time.monotonic() + timeout
        before = look()
        while True:
            time.sleep(interval)
            now = look()
            if now == before:
                return self.lines()
            if time.monotonic() > deadline:
                raise AssertionError(f"the screen kept changing for {timeout}s:\n{self.text()}")
            before = now

    def wait_until(self, predicate, timeout: float = 30, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not met within {timeout}s; screen:\n{self.text()}")
            time.sleep(0.05)

    # -- input and exit -------------------------------------------------------------------------

    def ctrl_c(self) -> None:
        """What pressing Ctrl-C does: the pty's line discipline sends SIGINT to the foreground group."""
        self.child.sendintr()

    def wait_exit(self, timeout: float = 60) -> int:
        """Wait for the output to end and the process to exit; its exit status (128+N if killed by N)."""
        if not self.eof.wait(timeout):
            raise AssertionError(f"no EOF within {timeout}s; screen:\n{self.text()}")
        self._reader.join(5)
        if self._status is None:
            self.child.wait()
            self._status = (self.child.exitstatus if self.child.exitstatus is not None
                            else 128 + (self.child.signalstatus or 0))
        return self._status

    def close(self) -> None:
        """Make sure nothing is left running: SIGINT, then SIGKILL (only this child)."""
        if self.child.isalive():
            self.child.kill(2)
            deadline = time.monotonic() + 20
            while self.child.isalive() and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.child.isalive():
                self.child.kill(9)
        self.eof.wait(10)
        with contextlib.suppress(Exception):  # already reaped
            self.child.close(force=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


LIVE_ADDRESS = re.compile(r"listening on (127\.0\.0\.1):(\d+) \(regular\)")
STDERR_ADDRESS = re.compile(r"listening on (127\.0\.0\.1):(\d+) \(regular mode\)")


class ProxyTerminal(Terminal, ProxyEndpoint):
    """``proxylens proxy --listen-port 0 ARGS`` in a pseudo-terminal, with its own PROXYLENS_HOME."""

    def __init__(self, home: Path, *args: str, cols: int = 120, rows: int = 40, env: dict[str, str] | None = None,
                 history: int = 0, startup_timeout: float = 60) -> None:
        self.home = home
        super().__init__([PROXYLENS, "proxy", "--listen-port", "0", *args], env or tty_env(home),
                         cols=cols, rows=rows, history=history)
        try:  # the stderr announcement comes in every mode (before the live view starts, if any)
            m = self.wait_for(STDERR_ADDRESS, startup_timeout, raw=True)
        except AssertionError:
            self.close()
            raise
        self.host, self.port = m.group(1), int(m.group(2))

