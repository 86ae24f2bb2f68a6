from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support.origin import Origin
from tests.support.proxyproc import ProxyProcess
from tests.support.tlscerts import OriginCerts, make_origin_certs


@pytest.fixture(scope="session")
def origin_certs(tmp_path_factory: pytest.TempPathFactory) -> OriginCerts:
    return make_origin_certs(tmp_path_factory.mktemp("origin-certs"))


@pytest.fixture(scope="session")
def http_origin():
    server = Origin()
    yield server
    server.close()


@pytest.fixture(scope="session")
def https_origin(origin_certs: OriginCerts):
    server = Origin(str(origin_certs.cert_pem), str(origin_certs.key_pem))
    yield server
    server.close()


@pytest.fixture
def start_proxy(tmp_path: Path, origin_certs: OriginCerts):
    """Start a real proxylens process: ``start_proxy(*args, har=True)``.

    It trusts the test origin's CA upstream (``--upstream-ca``) unless told
    otherwise, and is stopped with SIGINT at the end of the test.
    """
    started: list[ProxyProcess] = []
    home = tmp_path / "home"

    def start(*args: str, har: bool | Path = True, trust_origin: bool = True) -> ProxyProcess:
        extra = ["--upstream-ca", str(origin_certs.ca_pem)] if trust_origin else []
        har_path = (tmp_path / f"run{len(started)}.har") if har is True else (har or None)
        proxy = ProxyProcess(home, *extra, *args, har=har_path)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


def chromium_path() -> str:
    """Debian's chromium. Missing: a failure under CI=true, a skip elsewhere."""
    path = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if path is None:
        message = "chromium is not installed (./dev test installs it with apt-get)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return path


CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
