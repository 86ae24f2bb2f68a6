"""A process and its descendants, read from /proc (Linux): the proxy, its analysis worker, their memory."""

from __future__ import annotations

import time
from pathlib import Path


def descendants(pid: int) -> list[int]:
    """*pid* and every process below it, parents first."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:  # it exited meanwhile
            continue
    return out


def rss(pid: int) -> int:
    """Resident memory of *pid* and its descendants, in bytes."""
    total = 0
    for p in descendants(pid):
        try:
            total += sum(int(line.split()[1]) * 1024 for line in Path(f"/proc/{p}/status").read_text().splitlines()
                         if line.startswith("VmRSS:"))
        except OSError:
            continue
    return total


def analysis_worker(pid: int, timeout: float = 30) -> int:
    """The pid of a proxylens process's analysis worker: its child that is not multiprocessing's resource tracker."""
    deadline = time.monotonic() + timeout
    while True:
        for child in descendants(pid)[1:]:
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            if b"multiprocessing" in cmdline and b"resource_tracker" not in cmdline:
                return child
        if time.monotonic() > deadline:
            raise AssertionError(f"proxy {pid} has no analysis worker")
        time.sleep(0.05)
