"""Microseconds per exchange for each built-in analyzer, next to bare mitmdump's CPU per flow, same run.

The corpus is every entry of the HAR files in tests/data (Chrome, Firefox,
Safari, Charles, Playwright, mitmproxy, proxylens: real-world shapes, TLS
details included) plus tests/support/traffic.py's mixed traffic (refused
connections, 4xx/5xx, HSTS, missing Date), cycled to --exchanges in arrival
order, each analyzer with its own session as in the worker. The reference is
what bare mitmdump spends per proxied request (its CPU time over keep-alive
requests to a loopback origin, from /proc), so the analyzers' cost reads as
a share of what proxying costs anyway. Run with the project's virtualenv:

    .venv/bin/python bench/analyzers.py [--exchanges 20000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from console import BIN, Hello, InTerminal, load  # the same pty runner and load generator as bench/console.py


def corpus(n: int) -> list:
    from proxy.har_reader import HarError, exchange_from_har, iter_entries
    from tests.support.traffic import ex, mixed_traffic

    exchanges = []
    for har in sorted((ROOT / "tests" / "data").glob("*.har")):
        try:
            for entry in iter_entries(str(har)):
                try:
                    exchanges.append(exchange_from_har(entry))
                except HarError:
                    pass
        except HarError:  # the deliberately truncated one: its readable entries are in
            pass
    exchanges += [r.exchange for r in mixed_traffic(200)]
    exchanges.append(ex(0, "https://cdn.test/app.js", resp_headers=[("Cache-Control", "max-age=600")], date=True))
    return [exchanges[i % len(exchanges)] for i in range(n)]


def analyzer_costs(exchanges: list) -> dict[str, tuple[float, float]]:
    """Per analyzer: (mean, p99) microseconds per exchange."""
    from addons import builtin_analyzers
    from proxy.session import Session

    costs = {}
    for analyzer in builtin_analyzers():
        session = Session()
        times = []
        for exchange in exchanges:
            session.now = exchange.timings.started
            t0 = time.perf_counter()
            try:
                analyzer.analyze(exchange, session)
            except Exception:  # noqa: BLE001, S110 -- measured as the pipeline runs it: a crash is a finding there
                pass
            times.append(time.perf_counter() - t0)
        times.sort()
        costs[analyzer.name] = (statistics.fmean(times) * 1e6, times[int(len(times) * 0.99)] * 1e6)
    return costs


def pipeline_cost(exchanges: list) -> float:
    """Mean microseconds of the whole pipeline (isolation, JSON check of the facts included)."""
    from proxy.worker import build_pipeline

    pipeline = build_pipeline(packs=False)
    t0 = time.perf_counter()
    for exchange in exchanges:
        pipeline.run(exchange)
    return (time.perf_counter() - t0) / len(exchanges) * 1e6


def mitmdump_cpu_per_flow(requests: int = 3000) -> float:
    """Microseconds of CPU bare mitmdump spends per keep-alive request through it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "NO_PROXY": "", "no_proxy": ""}
            proc = InTerminal([str(BIN / "mitmdump"), "--listen-host", "127.0.0.1", "-p", "0", "--set",
                               f"confdir={tmp}", "--set", "flow_detail=0"], env)
            load(proc.port, server.server_address[1], 1.0, 4)  # warm-up
            cpu0, sent = proc.cpu_seconds(), 0
            while sent < requests:
                sent += load(proc.port, server.server_address[1], 1.0, 4)
            cpu = proc.cpu_seconds() - cpu0
            proc.stop()
            return cpu / sent * 1e6
    finally:
        server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exchanges", type=int, default=20_000)
    args = parser.parse_args()
    exchanges = corpus(args.exchanges)
    costs = analyzer_costs(exchanges)
    total = pipeline_cost(exchanges)
    reference = mitmdump_cpu_per_flow()
    print(f"{len(exchanges)} exchanges ({len({id(e) for e in exchanges})} distinct), "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} cores")
    print(f"{'analyzer':10} {'mean us':>9} {'p99 us':>9} {'vs mitmdump CPU/flow':>22}")
    for name, (mean, p99) in sorted(costs.items(), key=lambda item: -item[1][0]):
        print(f"{name:10} {mean:9.1f} {p99:9.1f} {mean / reference:21.1%}")
    print(f"{'pipeline':10} {total:9.1f} {'':9} {total / reference:21.1%}")
    print(f"bare mitmdump: {reference:.0f} us of CPU per proxied request (keep-alive, loopback, same run)")


if __name__ == "__main__":
    main()
