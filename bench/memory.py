"""Memory over many exchanges with a HAR, and the time to finalize it: proxylens vs mitmdump's hardump.

Each proxy records a HAR while curl sends --exchanges requests through it
(10 parallel keep-alive transfers, each to a distinct URL of a loopback
origin, 204 answers), after 200 warm-up requests. Measured from /proc, for
the proxy and all its child processes (proxylens's analysis worker):

- RSS after the warm-up (the baseline), its peak while the traffic runs,
  and at the end of it: growth = end - baseline;
- finalizing: the time from SIGINT to exit, during which mitmdump's hardump
  builds and writes the whole HAR, and the peak RSS meanwhile;
- the HAR's size.

Both proxies run at --exchanges and at a tenth of it, so that what grows with
the number of exchanges shows. Run with the project's virtualenv:

    .venv/bin/python bench/memory.py [--exchanges 100000]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from console import BIN, Hello  # the loopback origin handler (TCP_NODELAY) of bench/console.py

from tests.support.proctree import rss as tree_rss

MB = 1024 * 1024


class NoContent(Hello):
    def do_GET(self) -> None:
        self.send_response(204)
        self.send_header("Cache-Control", "no-store")
        self.end_headers()


class Sampler:
    """Peak RSS of a process tree, sampled every 0.2 s."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, tree_rss(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, tree_rss(self.pid))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def curl(proxy_port: int, url: str) -> None:
    out = subprocess.run(["curl", "-s", "-Z", "--parallel-max", "10", "-x", f"http://127.0.0.1:{proxy_port}",
                          "-w", "%{http_code}\\n", url], capture_output=True, text=True, check=True).stdout.split()
    bad = [s for s in out if s != "204"]
    if bad:
        raise RuntimeError(f"{len(bad)} request(s) failed: {bad[:5]}")


@dataclass
class Run:
    baseline: int
    peak: int
    end: int
    finalize_seconds: float
    finalize_peak: int
    har_bytes: int


def run(name: str, argv: list[str], port_pattern: str, origin_port: int, exchanges: int, tmp: Path) -> Run:
    env = {**os.environ, "PROXYLENS_HOME": str(tmp / "home"), "NO_COLOR": "1"}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    port = 0
    for line in proc.stdout:
        m = re.search(port_pattern, line)
        if m:
            port = int(m.group(1))
            break
    if not port:
        raise RuntimeError(f"{name} did not start")
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep its output pipe drained
    url = f"http://127.0.0.1:{origin_port}/"
    curl(port, url + "warmup?n=[1-200]")
    time.sleep(1)
    baseline = tree_rss(proc.pid)
    sampler = Sampler(proc.pid)
    curl(port, url + f"n?n=[1-{exchanges}]")
    time.sleep(2)  # the worker writes the last entries
    end = tree_rss(proc.pid)
    peak = sampler.stop()
    sampler = Sampler(proc.pid)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(600)
    finalize = time.monotonic() - t0
    finalize_peak = sampler.stop()
    har = next(tmp.glob("*.har"))
    size = har.stat().st_size
    har.unlink()
    return Run(baseline, peak, end, finalize, finalize_peak, size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exchanges", type=int, default=100_000)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), NoContent)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin_port = server.server_address[1]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        proxies = {
            "proxylens (HAR streaming)": ([str(BIN / "proxylens"), "proxy", "--listen-port", "0", "--quiet",
                                           "--no-check-packs", "--har", str(tmp / "proxylens.har")],
                                          r"listening on 127\.0\.0\.1:(\d+)"),
            "mitmdump --set hardump": ([str(BIN / "mitmdump"), "--listen-host", "127.0.0.1", "-p", "0",
                                        "--set", f"confdir={tmp / 'mitm'}", "--set", f"hardump={tmp / 'mitm.har'}",
                                        "--set", "flow_detail=0"],
                                       r"listening at .*:(\d+)"),
        }
        print(f"{'proxy':28} {'exchanges':>9} {'baseline':>9} {'peak':>7} {'growth':>7} {'per exch.':>9} "
              f"{'finalize':>9} {'fin. peak':>9} {'HAR':>7}")
        for exchanges in (args.exchanges // 10, args.exchanges):
            for name, (argv, pattern) in proxies.items():
                r = run(name, argv, pattern, origin_port, exchanges, tmp)
                growth = r.end - r.baseline
                print(f"{name:28} {exchanges:9} {r.baseline / MB:7.0f}MB {r.peak / MB:5.0f}MB {growth / MB:5.0f}MB "
                      f"{growth / exchanges / 1024:7.2f}KB {r.finalize_seconds:8.1f}s {r.finalize_peak / MB:7.0f}MB "
                      f"{r.har_bytes / MB:5.0f}MB", flush=True)
    server.shutdown()


if __name__ == "__main__":
    main()
