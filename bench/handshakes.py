"""New HTTPS connections per second through bare mitmdump and through proxylens, same run.

Every request is a new connection: CONNECT, a TLS handshake with the proxy
(whose certificate carries the CA's key: mitmproxy gives each leaf the CA's
own key), a GET to a loopback HTTPS origin, close. This is the cost a
browser pays on every new host and a test suite on every new connection, and
the one the CA's key type decides. Run with the project's virtualenv:

    .venv/bin/python bench/handshakes.py [--seconds 10]

Prints connections/s for mitmdump (its own RSA-2048 CA), proxylens with an
EC P-256 CA (the default) and proxylens with an RSA-2048 CA, and the ratios.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.tlscerts import make_origin_certs

BIN = Path(sys.executable).parent
CLIENTS = 4


class Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


def origin(certs) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs.cert_pem, certs.key_pem)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        m = re.search(r"listening (?:at|on) [\d.]+:(\d+)", line)
        if m:
            threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep the pipe drained
            return proc, int(m.group(1))
    raise RuntimeError(f"{argv[0]} did not start")


def one(proxy_port: int, origin_port: int, ca: str) -> None:
    with socket.create_connection(("127.0.0.1", proxy_port)) as raw:
        raw.sendall(f"CONNECT localhost:{origin_port} HTTP/1.1\r\nHost: localhost:{origin_port}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += raw.recv(4096)
        ctx = ssl.create_default_context(cafile=ca)
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            while tls.recv(4096):
                pass


def rate(proxy_port: int, origin_port: int, ca: str, seconds: float) -> float:
    one(proxy_port, origin_port, ca)  # warm-up: the leaf certificate is generated once per host
    done = [0] * CLIENTS
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        while time.monotonic() < stop:
            one(proxy_port, origin_port, ca)
            done[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        certs = make_origin_certs(tmp / "origin")
        server = origin(certs)
        port = server.server_address[1]
        env = {**os.environ, "NO_PROXY": "", "no_proxy": ""}
        runs = {
            "mitmdump (RSA-2048 CA)": ([str(BIN / "mitmdump"), "--listen-host", "127.0.0.1", "-p", "0",
                                       "--set", f"confdir={tmp / 'mitm'}", "--set",
                                       f"ssl_verify_upstream_trusted_ca={certs.ca_pem}", "--set", "flow_detail=0"],
                                      tmp / "mitm" / "mitmproxy-ca-cert.pem", None),
            "proxylens (EC P-256 CA)": (None, tmp / "ec" / "mitmproxy-ca-cert.pem", "ec"),
            "proxylens (RSA-2048 CA)": (None, tmp / "rsa" / "mitmproxy-ca-cert.pem", "rsa"),
        }
        results = {}
        for name, (argv, ca, key_type) in runs.items():
            run_env = dict(env)
            if key_type:
                run_env["PROXYLENS_HOME"] = str(ca.parent)
                subprocess.run([str(BIN / "proxylens"), "certs", "init", "--key-type", key_type], env=run_env,
                               check=True, capture_output=True)
                argv = [str(BIN / "proxylens"), "proxy", "--quiet", "--listen-port", "0",
                        "--upstream-ca", str(certs.ca_pem)]
            proc, proxy_port = start(argv, run_env)
            try:
                results[name] = rate(proxy_port, port, str(ca), args.seconds)
            finally:
                proc.terminate()
                proc.wait(30)
            print(f"{name:26} {results[name]:7.1f} new HTTPS connections/s", flush=True)
        base = results["mitmdump (RSA-2048 CA)"]
        for name, value in results.items():
            print(f"{name:26} {value / base:5.2f} x mitmdump")
        server.shutdown()


if __name__ == "__main__":
    main()
