"""A real ``proxylens proxy`` process for tests."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

PROXYLENS = str(Path(sys.executable).with_name("proxylens"))
LISTENING = re.compile(r"listening on (\S+):(\d+)")


def proxylens_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PROXYLENS_HOME"] = str(home)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env.pop(var, None)
    env["NO_PROXY"] = env["no_proxy"] = ""
    return env


class ProxyEndpoint:
    """What a test needs of a running proxylens: where it listens and the CA its clients must trust."""

    home: Path
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ca(self) -> Path:
        return self.home / "mitmproxy-ca-cert.pem"


class ProxyProcess(ProxyEndpoint):
    def __init__(self, home: Path, *args: str, har: Path | None = None, startup_timeout: float = 60,
                 preexec_fn=None) -> None:
        self.home = home
        self.har_path = har
        argv = [PROXYLENS, "proxy", "--listen-port", "0", *args]
        if har is not None:
            argv += ["--har", str(har)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=proxylens_env(home), preexec_fn=preexec_fn)
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self._listening = threading.Event()
        self.host = ""
        self.port = 0
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout_lines), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr_lines), daemon=True),
        ]
        for t in self._threads:
            t.start()
        deadline = time.monotonic() + startup_timeout
        while not self._listening.wait(0.1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"proxylens did not start:\n{self.stderr}\n{self.stdout}")

    def _pump(self, stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)
            m = LISTENING.search(line)
            if m and not self._listening.is_set():
                self.host, self.port = m.group(1), int(m.group(2))
                self._listening.set()

    @property
    def stdout(self) -> str:
        return "".join(self.stdout_lines)

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        for t in self._threads:
            t.join(5)
        return code

    def har(self) -> dict:
        assert self.har_path is not None
        return json.loads(self.har_path.read_text())


class Mitmdump:
    """A bare ``mitmdump`` on an ephemeral loopback port (context manager): ``with Mitmdump(home, "-s", x) as m``."""

    def __init__(self, home: Path, *args: str) -> None:
        mitmdump = str(Path(sys.executable).with_name("mitmdump"))
        self.ca = home / "mitmproxy-ca-cert.pem"
        self.proc = subprocess.Popen([mitmdump, "--listen-host", "127.0.0.1", "-p", "0", "--set", f"confdir={home}",
                                      "--set", "flow_detail=0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=proxylens_env(home))
        self.port = 0
        for line in self.proc.stdout:
            if m := re.search(r"listening at \S+:(\d+)", line):
                self.port = int(m.group(1))
                break
        if not self.port:
            self.close()
            raise RuntimeError("mitmdump did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        self.proc.wait(30)

    def __enter__(self) -> Mitmdump:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
