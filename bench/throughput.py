"""Keep-alive throughput and added latency: proxylens vs bare mitmdump vs direct, HTTP and HTTPS, same run.

`hey` (10 concurrent keep-alive clients, for --seconds each) requests a small
response from a loopback origin: directly, through bare mitmdump, and through
`proxylens proxy --quiet --har FILE` (every built-in analyzer, HAR streaming,
no per-exchange output). Each target runs twice in ABBA order. Printed:
requests/s, latency p50/p99, and the ratios to mitmdump. Needs `hey`
(Debian: `apt-get install hey`). Run with the project's virtualenv:

    .venv/bin/python bench/throughput.py [--seconds 10] [--clients 10]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from console import BIN, Hello, InTerminal  # the same origin handler and pty runner as bench/console.py

from tests.support.proctree import descendants
from tests.support.tlscerts import make_origin_certs


def origin(certs=None) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    server.daemon_threads = True
    if certs is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certs.cert_pem, certs.key_pem)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def hey(url: str, proxy_port: int | None, ca: Path, seconds: float, clients: int) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms). Go's TLS reads SSL_CERT_FILE: the one CA this client trusts."""
    argv = ["hey", "-z", f"{seconds}s", "-c", str(clients), "-disable-compression"]
    if proxy_port is not None:
        argv += ["-x", f"http://127.0.0.1:{proxy_port}"]
    env = {**os.environ, "SSL_CERT_FILE": str(ca), "NO_PROXY": "", "no_proxy": ""}
    out = subprocess.run([*argv, url], capture_output=True, text=True, env=env, check=True,
                         timeout=seconds + 60).stdout
    if re.search(r"^\s*\[[2-9]\d\d\]", out, re.MULTILINE) is None or "Error distribution" in out:
        raise RuntimeError(f"hey saw errors or no 2xx responses:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = float(re.search(r"50%+ in ([\d.]+) secs", out).group(1)) * 1000
    p99 = float(re.search(r"99%+ in ([\d.]+) secs", out).group(1)) * 1000
    return rps, p50, p99


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU time (user + system) of *pid* itself and of its descendants (the analysis worker), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")

    def own(p: int) -> float:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    return own(pid), sum(own(p) for p in descendants(pid)[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("hey") is None:
        sys.exit("bench/throughput.py needs hey: apt-get install hey")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        certs = make_origin_certs(tmp / "origin")
        servers = {"http": origin(), "https": origin(certs)}
        env = {**os.environ, "NO_PROXY": "", "no_proxy": "", "PROXYLENS_HOME": str(tmp / "proxylens")}
        subprocess.run([str(BIN / "proxylens"), "certs", "init"], env=env, check=True, capture_output=True)
        proxies = {
            "mitmdump": ([str(BIN / "mitmdump"), "--listen-host", "127.0.0.1", "-p", "0", "--set",
                          f"confdir={tmp / 'mitm'}", "--set", f"ssl_verify_upstream_trusted_ca={certs.ca_pem}",
                          "--set", "flow_detail=0"], tmp / "mitm" / "mitmproxy-ca-cert.pem"),
            "proxylens": ([str(BIN / "proxylens"), "proxy", "--quiet", "--listen-port", "0", "--upstream-ca",
                           str(certs.ca_pem), "--har", str(tmp / "bench.har")],
                          tmp / "proxylens" / "mitmproxy-ca-cert.pem"),
        }
        order = ["direct", "mitmdump", "proxylens", "proxylens", "mitmdump", "direct"]
        results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        cpu: dict[tuple[str, str], list[tuple[float, float]]] = {}  # CPU ms per request: proxy process, workers
        print(f"{'scheme':6} {'target':10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req: proxy':>18} "
              f"{'worker':>7}", flush=True)
        for scheme, server in servers.items():
            host = "localhost" if scheme == "https" else "127.0.0.1"
            url = f"{scheme}://{host}:{server.server_address[1]}/item"
            for target in order:
                used = ""
                if target == "direct":
                    measured = hey(url, None, certs.ca_pem, args.seconds, args.clients)
                else:
                    argv, ca = proxies[target]
                    proc = InTerminal(argv, env)
                    try:
                        hey(url, proc.port, ca, 1, args.clients)  # warm-up: connections, leaf certificate
                        before = cpu_seconds(proc.proc.pid)
                        measured = hey(url, proc.port, ca, args.seconds, args.clients)
                        after = cpu_seconds(proc.proc.pid)
                        requests = measured[0] * args.seconds
                        per = tuple((a - b) * 1000 / requests for a, b in zip(after, before))
                        cpu.setdefault((scheme, target), []).append(per)
                        used = f"{per[0]:18.3f} {per[1]:7.3f}"
                    finally:
                        proc.stop()
                results.setdefault((scheme, target), []).append(measured)
                print(f"{scheme:6} {target:10} {measured[0]:9.1f} {measured[1]:8.2f} {measured[2]:8.2f} {used}",
                      flush=True)
        print("\naverages (two runs each):")
        for scheme in servers:
            avg = {t: [sum(v[i] for v in results[(scheme, t)]) / 2 for i in range(3)] for t in ("direct", "mitmdump",
                                                                                                 "proxylens")}
            mitm, lens, direct = avg["mitmdump"], avg["proxylens"], avg["direct"]
            print(f"{scheme}: proxylens {lens[0]:.0f} req/s = {lens[0] / mitm[0]:.2f} x mitmdump ({mitm[0]:.0f}); "
                  f"direct {direct[0]:.0f}. Added latency p50/p99: vs mitmdump {lens[1] - mitm[1]:+.2f}/"
                  f"{lens[2] - mitm[2]:+.2f} ms, vs direct {lens[1] - direct[1]:+.2f}/{lens[2] - direct[2]:+.2f} ms")
            mitm_cpu, lens_cpu = ([sum(v[i] for v in cpu[(scheme, t)]) / 2 for i in range(2)]
                                  for t in ("mitmdump", "proxylens"))
            print(f"{scheme}: CPU per request: mitmdump {mitm_cpu[0]:.3f} ms; proxylens {lens_cpu[0]:.3f} ms in the "
                  f"proxy process ({mitm_cpu[0] / lens_cpu[0]:.2f} x mitmdump's rate on one core) + {lens_cpu[1]:.3f} "
                  f"ms in the analysis worker")
        for server in servers.values():
            server.shutdown()


if __name__ == "__main__":
    main()
