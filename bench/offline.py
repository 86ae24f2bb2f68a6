"""`proxylens analyze` on a large HAR: entries/s and peak memory, next to mitmdump reading the same file.

A HAR of --entries entries is written by proxylens's own HAR writer from a
realistic mix (tests/support/traffic.py's mixed traffic, analyzed, bodies
included). Then, each twice in ABBA order:
`proxylens analyze --quiet FILE` (streaming read, every analyzer, summary
only) and `mitmdump -n -r FILE` (mitmproxy's HAR import, no analysis: what
merely loading the file costs there). Printed: seconds, entries/s and peak
RSS (from the kernel's rusage of the child). Run with the project's
virtualenv:

    .venv/bin/python bench/offline.py [--entries 100000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent


def write_har(path: Path, entries: int) -> None:
    from dataclasses import replace

    from proxy.har_writer import HarWriter
    from tests.support.traffic import mixed_traffic

    results = mixed_traffic(200)
    writer = HarWriter(path)
    for i in range(entries):
        result = results[i % len(results)]
        # distinct URLs and times, as a long session has
        exchange = replace(result.exchange, id=f"x{i}", request=replace(
            result.exchange.request, url=f"{result.exchange.request.url.rstrip('/')}/{i}"),
            timings=replace(result.exchange.timings, started=result.exchange.timings.started + i * 0.01))
        writer.add(replace(result, exchange=exchange))
    writer.close()


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process run to completion."""
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):  # analyze exits 1 only with a failing policy; none is given
        raise RuntimeError(f"{argv[0]} exited {code}: {proc.stderr.read()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        har = Path(tmp) / "big.har"
        t0 = time.monotonic()
        write_har(har, args.entries)
        size = har.stat().st_size / 1024 / 1024
        print(f"{args.entries} entries, {size:.0f} MB, written in {time.monotonic() - t0:.0f} s", flush=True)
        env = {**os.environ, "PROXYLENS_HOME": str(Path(tmp) / "home"), "NO_COLOR": "1"}
        runs = {
            "proxylens analyze": [str(BIN / "proxylens"), "analyze", "--quiet", "--no-check-packs", str(har)],
            "mitmdump -n -r (load only)": [str(BIN / "mitmdump"), "-n", "-r", str(har), "--set", "flow_detail=0",
                                           "--set", f"confdir={Path(tmp) / 'mitm'}"],
        }
        measured: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
        for name in [*runs, *reversed(runs)]:
            measured[name].append(measure(runs[name], env))
            seconds, rss = measured[name][-1]
            print(f"{name:28} {seconds:7.1f} s {args.entries / seconds:9.0f} entries/s  peak RSS {rss:7.0f} MB",
                  flush=True)
        for name, values in measured.items():
            seconds = sum(v[0] for v in values) / len(values)
            print(f"{name:28} average {args.entries / seconds:9.0f} entries/s, peak RSS {max(v[1] for v in values):.0f} MB")


if __name__ == "__main__":
    main()
