"""Proxy throughput with the live console on vs --quiet, and bare mitmdump, same run.

Each proxy runs in a real pseudo-terminal (the live view only draws on a
terminal), 120x40. Client threads send keep-alive GETs through it to a
loopback HTTP origin for a fixed time, each proxy twice in ABBA order.
Printed per run: requests/s, the CPU seconds its processes used per 1,000
exchanges (the proxy process and the analysis worker, where the live view
draws), and the seconds from Ctrl-C to exit (how far analysis was behind);
then the averages, and the live view's own cost per exchange and per frame.
Run with the project's virtualenv:

    .venv/bin/python bench/console.py [--seconds 10] [--clients 8]
"""

from __future__ import annotations

import argparse
import fcntl
import http.client
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BIN = Path(sys.executable).parent
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
TICKS = os.sysconf("SC_CLK_TCK")


class Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm on, each keep-alive response
    # waits ~40 ms for the client's delayed ACK, and the origin, not the proxy, sets the pace.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Cache-Control", "max-age=60")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


class InTerminal:
    """A process whose stdin/stdout/stderr are a pseudo-terminal we keep drained."""

    def __init__(self, argv: list[str], env: dict[str, str], rows: int = 40, cols: int = 120) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self.master = master
        self.output = bytearray()
        self.port = 0
        self.listening = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()
        if not self.listening.wait(60):
            self.stop()
            raise RuntimeError(f"{argv[0]} did not start:\n{self.output.decode(errors='replace')}")

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the terminal closed
                return
            if not chunk:
                return
            self.output += chunk
            if not self.listening.is_set():
                m = re.search(rb"listening (?:at|on) [\d.]+:(\d+)", ANSI.sub(b"", bytes(self.output)))
                if m:
                    self.port = int(m.group(1))
                    self.listening.set()

    def cpu_seconds(self) -> float:
        """User+system CPU of the process and all its descendants, from /proc."""
        total, todo = 0, [self.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo += [int(c) for c in (task / "children").read_text().split()]
            except (FileNotFoundError, ProcessLookupError):
                continue
        return total / TICKS

    def stop(self) -> float:
        """Ctrl-C; returns the seconds until the process exited."""
        t0 = time.monotonic()
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        elapsed = time.monotonic() - t0
        time.sleep(0.2)
        os.close(self.master)
        return elapsed


def load(proxy_port: int, origin_port: int, seconds: float, clients: int) -> int:
    done = [0] * clients
    stop = time.monotonic() + seconds
    url = f"http://127.0.0.1:{origin_port}/item"

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=30)
        while time.monotonic() < stop:
            conn.request("GET", f"{url}?n={done[i]}")
            conn.getresponse().read()
            done[i] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done)


def live_view_cost(n: int = 20_000) -> tuple[float, float]:
    """Microseconds LiveView.add takes per exchange, and milliseconds to draw one 120x40 frame."""
    import io

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from proxy.live import LiveView
    from proxy.theme import make_console
    from tests.support.traffic import mixed_traffic

    results = mixed_traffic(200)
    view = LiveView()
    t0 = time.perf_counter()
    for i in range(n):
        view.add(results[i % len(results)])
    add_us = (time.perf_counter() - t0) / n * 1e6
    console = make_console(io.StringIO(), color=True, width=120)
    console.height = 40
    t0 = time.perf_counter()
    for _ in range(20):
        console.print(view)
    frame_ms = (time.perf_counter() - t0) / 20 * 1e3
    return add_us, frame_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin_port = server.server_address[1]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "NO_PROXY": "", "no_proxy": "", "TERM": "xterm-256color", "PROXYLENS_HOME": tmp}
        env.pop("NO_COLOR", None)
        subprocess.run([str(BIN / "proxylens"), "certs", "init"], env=env, check=True, capture_output=True)
        proxylens = [str(BIN / "proxylens"), "proxy", "--listen-port", "0"]
        runs = {
            "mitmdump": [str(BIN / "mitmdump"), "--listen-host", "127.0.0.1", "-p", "0", "--set", f"confdir={tmp}",
                         "--set", "flow_detail=0"],
            "proxylens --quiet": [*proxylens, "--quiet"],
            "proxylens live view": proxylens,
        }
        # ABBA order: whatever drifts during the run (caches, CPU clock) weighs on every proxy alike.
        order = [*runs, *reversed(runs)]
        measured: dict[str, list[float]] = {name: [] for name in runs}
        print(f"{'proxy':22} {'req/s':>8} {'CPU s/1k':>9} {'Ctrl-C to exit':>15} {'screen output':>14}")
        for name in order:
            proc = InTerminal(runs[name], env)
            load(proc.port, origin_port, 1.0, args.clients)  # warm-up
            t0 = time.monotonic()
            cpu0 = proc.cpu_seconds()
            requests = load(proc.port, origin_port, args.seconds, args.clients)
            measured[name].append(requests / (time.monotonic() - t0))
            cpu = proc.cpu_seconds() - cpu0
            stopping = proc.stop()
            print(f"{name:22} {measured[name][-1]:8.1f} {cpu / requests * 1000:9.2f} {stopping:14.1f}s "
                  f"{len(proc.output) / 1024:11.0f} kB", flush=True)
        rates = {name: sum(values) / len(values) for name, values in measured.items()}
        for name in runs:
            print(f"{name:22} {rates[name]:8.1f} req/s on average, {rates[name] / rates['mitmdump']:5.2f} x mitmdump")
        print(f"live view vs --quiet:  {rates['proxylens live view'] / rates['proxylens --quiet']:5.2f}")
    add_us, frame_ms = live_view_cost()
    print(f"live view cost: {add_us:.1f} us per exchange, {frame_ms:.1f} ms per 120x40 frame; at 1,000 exchanges/s "
          f"and 4 frames/s that is {(add_us * 1000 / 1e6 + frame_ms * 4 / 1e3) * 100:.1f} % of one core")
    server.shutdown()


if __name__ == "__main__":
    main()
