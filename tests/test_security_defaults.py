"""Security defaults of a real ``proxylens proxy`` process: where it listens, who may use it, which files it
writes with which modes, what the HAR hides, and that it offers no other network surface.

Already covered elsewhere and not repeated here: the printed listening address and the 0700/0600 modes under
PROXYLENS_HOME (tests/test_proxy_e2e.py, tests/test_certs_e2e.py, umask 000 and 077), the HAR writer's modes
in-process (tests/test_har_writer.py), basic redaction (tests/test_proxy_e2e.py). These tests extend them: the
kernel's view of the socket, other local addresses, the config directory found through XDG_CONFIG_HOME and
HOME, the HAR modes of a real process under permissive umasks, and more secret shapes over HTTPS too.
"""

from __future__ import annotations

import base64
import fcntl
import ipaddress
import json
import os
import socket
import ssl
import stat
import struct
import time
from pathlib import Path

import httpx
import pytest

from tests.harschema import assert_valid_har
from tests.support import proxyproc
from tests.support.proctree import descendants
from tests.support.proxyproc import ProxyProcess
from tests.test_robustness import one_shot_origin

REPO = Path(__file__).resolve().parents[1]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def wait_for(proxy: ProxyProcess, text: str, timeout: float = 30) -> str:
    """The proxy's stderr once *text* is in it (messages after "listening on" arrive a little later)."""
    deadline = time.monotonic() + timeout
    while text not in proxy.stderr:
        assert time.monotonic() < deadline, f"{text!r} never appeared:\n{proxy.stderr}"
        time.sleep(0.05)
    return proxy.stderr


def client(proxy_url: str, ca: Path | None = None) -> httpx.Client:
    verify = ssl.create_default_context(cafile=str(ca)) if ca else True
    return httpx.Client(proxy=proxy_url, verify=verify, trust_env=False, timeout=30)


# -- the process tree's sockets, from /proc -----------------------------------------------------------------------------

def _socket_inodes(pids: list[int]) -> dict[int, int]:
    inodes = {}
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes[int(target[8:-1])] = pid
    return inodes


def _address(hex_address: str) -> tuple[str, int]:
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1]), int(port, 16)
    # /proc/net/tcp6: four 32-bit words, each in host (little-endian) order
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words), int(port, 16)


def sockets_of(pid: int) -> dict[str, list]:
    """Sockets held by *pid* and its descendants: TCP listeners, UDP sockets, listening unix sockets."""
    inodes = _socket_inodes(descendants(pid))
    found: dict[str, list] = {"tcp_listen": [], "udp": [], "unix_listen": []}
    for table in ("tcp", "tcp6", "udp", "udp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[9]) not in inodes:
                continue
            where = (table, *_address(fields[1]), inodes[int(fields[9])])
            if table.startswith("tcp") and fields[3] == "0A":  # TCP_LISTEN
                found["tcp_listen"].append(where)
            elif table.startswith("udp"):
                found["udp"].append(where)
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[6]) in inodes and int(fields[3], 16) & 0x10000:  # __SO_ACCEPTCON: listening
            found["unix_listen"].append((fields[7] if len(fields) > 7 else "(unnamed)", inodes[int(fields[6])]))
    return found


def non_loopback_addresses() -> list[str]:
    """This machine's own IPv4 and global IPv6 addresses other than loopback (no other host is contacted)."""
    found = []
    for _, name in socket.if_nameindex():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:  # SIOCGIFADDR
                packed = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue
        found.append(socket.inet_ntoa(packed[20:24]))
    try:
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            hex_address, _, _, scope, *_ = line.split()
            if scope == "00":  # global scope: usable without an interface index
                found.append(str(ipaddress.IPv6Address(bytes.fromhex(hex_address))))
    except OSError:
        pass
    return [a for a in found if not ipaddress.ip_address(a).is_loopback]


# -- 1. loopback by default ---------------------------------------------------------------------------------------------

def test_the_default_listener_is_bound_to_127_0_0_1_in_the_kernel_and_nothing_is_said_about_exposure(start_proxy):
    proxy = start_proxy(har=False)
    stderr = wait_for(proxy, "CA certificate:")
    assert f"listening on 127.0.0.1:{proxy.port} (regular mode)" in stderr
    assert "WARNING" not in stderr
    (listener,) = sockets_of(proxy.proc.pid)["tcp_listen"]
    assert listener[:3] == ("tcp", "127.0.0.1", proxy.port), listener


def test_the_default_listener_is_unreachable_on_this_machines_other_addresses(start_proxy, http_origin):
    addresses = non_loopback_addresses()
    if not addresses:
        pytest.skip("this machine has no non-loopback address to try the proxy's port on")
    proxy = start_proxy(har=False)
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family) as s, pytest.raises(ConnectionRefusedError):
            s.settimeout(10)
            s.connect((address, proxy.port))
    with client(proxy.url) as c:  # while loopback clients are served
        assert c.get(http_origin.url("/echo")).status_code == 200


# -- 2. exposed: a loud warning, and --proxyauth --------------------------------------------------------------------------

def test_listening_on_all_interfaces_without_proxyauth_prints_a_loud_warning(start_proxy):
    proxy = start_proxy("--listen-host", "0.0.0.0", har=False)
    stderr = wait_for(proxy, "CA certificate:")
    assert proxy.host == "0.0.0.0"
    (warning,) = [line for line in stderr.splitlines() if "WARNING" in line]
    assert f"WARNING: 0.0.0.0:{proxy.port} is reachable from other machines" in warning
    assert "ANYONE who can reach it" in warning and "Add --proxyauth USER:PASS" in warning
    assert "SSH tunnel" in warning and "may be decrypted" in warning
    assert stderr.index("WARNING") < stderr.index("CA certificate:"), "said right after the address, not buried"
    proxy.stop()


USER, PASSWORD = "alice", "s3cretProxyPW"


@pytest.fixture(scope="module")
def proxyauth(tmp_path_factory, origin_certs, http_origin, https_origin):
    """A proxy on 0.0.0.0 with --proxyauth, used from loopback and from this machine's other IPv4 addresses
    without credentials, with wrong ones and with the right ones: (proxy, hosts, HAR text)."""
    tmp = tmp_path_factory.mktemp("proxyauth")
    proxy = ProxyProcess(tmp / "home", "--upstream-ca", str(origin_certs.ca_pem), "--listen-host", "0.0.0.0",
                         "--proxyauth", f"{USER}:{PASSWORD}", har=tmp / "auth.har")
    hosts = ["127.0.0.1", *(a for a in non_loopback_addresses() if ":" not in a)]  # 0.0.0.0 is IPv4 only
    try:
        wait_for(proxy, "CA certificate:")
        for host in hosts:
            bare, wrong, right = (f"http://{host}:{proxy.port}", f"http://{USER}:wrong@{host}:{proxy.port}",
                                  f"http://{USER}:{PASSWORD}@{host}:{proxy.port}")
            for url in (bare, wrong):
                with client(url, proxy.ca) as c:
                    r = c.get(http_origin.url(f"/echo?who={host}"))
                    assert r.status_code == 407, (host, url)
                    assert r.headers["proxy-authenticate"].startswith("Basic ")
                    with pytest.raises(httpx.ProxyError, match="407"):
                        c.get(https_origin.url("/echo?tls=refused"))
            with client(right, proxy.ca) as c:
                plain = c.get(http_origin.url(f"/echo?who={host}&auth=1"))
                tls = c.get(https_origin.url(f"/echo?who={host}&auth=1"))
            assert plain.status_code == tls.status_code == 200, host
            for r in (plain, tls):
                assert "Proxy-Authorization" not in r.json()["headers"], "the credentials stay with the proxy"
    finally:
        assert proxy.stop() == 0
    return proxy, hosts, proxy.har_path.read_text()


def test_proxyauth_on_all_interfaces_refuses_clients_without_the_credentials(proxyauth):
    proxy, hosts, text = proxyauth
    (warning,) = [line for line in proxy.stderr.splitlines() if "WARNING" in line]
    assert "clients must send the --proxyauth credentials" in warning and "ANYONE" not in warning
    har = json.loads(text)
    assert_valid_har(har)
    entries = har["log"]["entries"]
    plain = [e for e in entries if e["request"]["method"] == "GET"]
    assert [e["response"]["status"] for e in plain] == [407, 407, 200, 200] * len(hosts)
    refused = [e for e in entries if e["request"]["method"] == "CONNECT"]
    assert len(refused) == 2 * len(hosts), "each refused tunnel is recorded"
    assert all(e["response"]["_proxyStatus"] == 407 for e in refused)
    for secret in (PASSWORD, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
                   base64.b64encode(f"{USER}:wrong".encode()).decode()):
        assert secret not in text and secret not in proxy.stdout and secret not in proxy.stderr


def test_a_tunnel_refused_by_proxyauth_is_recorded_with_a_plain_reason(proxyauth):
    proxy, _, text = proxyauth
    for entry in json.loads(text)["log"]["entries"]:
        if entry["request"]["method"] == "CONNECT":
            assert "<html" not in entry["_error"], entry["_error"]
            assert "proxy authentication required" in entry["_error"].lower()
    assert "<html" not in proxy.stdout


def test_a_connect_entry_claims_no_request_body(proxyauth):
    _, _, text = proxyauth
    for entry in json.loads(text)["log"]["entries"]:
        if entry["request"]["method"] == "CONNECT":
            assert "postData" not in entry["request"] and entry["request"]["bodySize"] == 0, entry["request"]


# -- 3. the CA's directory: private, and never inside the repository --------------------------------------------------------

@pytest.mark.parametrize("where,umask", [("XDG_CONFIG_HOME", 0o000), ("HOME", 0o022)],
                         ids=["xdg-config-home-umask-000", "home-umask-022"])
def test_a_fresh_config_directory_found_through_the_environment_is_private_and_outside_the_repo(
        tmp_path, monkeypatch, http_origin, where, umask):
    home = tmp_path / "home"
    home.mkdir()
    env = proxyproc.proxylens_env(tmp_path)
    del env["PROXYLENS_HOME"]
    env["HOME"] = str(home)
    env.pop("XDG_CONFIG_HOME", None)
    if where == "XDG_CONFIG_HOME":
        env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
        expected = tmp_path / "xdg" / "proxylens"
    else:
        expected = home / ".config" / "proxylens"
    monkeypatch.setattr(proxyproc, "proxylens_env", lambda _home: env)
    monkeypatch.chdir(REPO)  # started from a checkout: nothing may land in it
    started = time.time() - 1
    proxy = ProxyProcess(expected, preexec_fn=lambda: os.umask(umask))
    try:
        stderr = wait_for(proxy, "CA certificate:")
        with client(proxy.url) as c:
            assert c.get(http_origin.url("/echo")).status_code == 200
    finally:
        assert proxy.stop() == 0
    assert f"CA certificate: {expected / 'mitmproxy-ca-cert.pem'} (" in stderr
    assert mode(expected) == 0o700
    assert {p.name: mode(p) for p in expected.iterdir()} == {
        "mitmproxy-ca.pem": 0o600, "mitmproxy-ca-cert.pem": 0o644, "mitmproxy-dhparam.pem": 0o644, ".lock": 0o600}
    assert not (home / ".mitmproxy").exists(), "mitmproxy's own default directory is never created"
    new_in_repo = [p for p in REPO.rglob("*") if ".git" not in p.parts and "__pycache__" not in p.parts
                   and p.lstat().st_mtime >= started
                   and (p.suffix in (".pem", ".p12", ".cer", ".lock") or "mitmproxy" in p.name or p.name == "proxylens")]
    assert not new_in_repo, new_in_repo


# -- 4. the HAR file: 0600 whatever the umask ------------------------------------------------------------------------------

@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask-022", "umask-000"])
@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing-0644"])
def test_the_har_and_its_scratch_file_are_0600_from_the_start(tmp_path, http_origin, umask, existing):
    har = tmp_path / "out.har"
    if existing:
        har.write_text("an older capture\n")
        har.chmod(0o644)
    proxy = ProxyProcess(tmp_path / "home", har=har, preexec_fn=lambda: os.umask(umask))
    try:
        with client(proxy.url) as c:
            assert c.get(http_origin.url("/echo?har-mode")).status_code == 200
        scratch = har.with_name(har.name + ".pages.tmp")
        deadline = time.monotonic() + 30
        while "/echo?har-mode" not in har.read_text():  # the worker has written the entry
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert mode(har) == 0o600, "while the proxy runs"
        assert mode(scratch) == 0o600
    finally:
        assert proxy.stop() == 0
    assert mode(har) == 0o600
    assert not scratch.exists()
    data = json.loads(har.read_text())
    assert_valid_har(data)
    assert "an older capture" not in har.read_text()


# -- 5. redaction: on by default, everywhere, off with --keep-secrets --------------------------------------------------------

SECRETS = {
    "access_token": "AccessTok3nSECRET1", "id_token": "IdTok3nSECRET2", "refresh_token": "RefreshTok3nSECRET3",
    "token": "PlainTok3nSECRET4",
}
BEARER, COOKIE, SET_COOKIE_A, SET_COOKIE_B, LOCATION_TOKEN = (
    "BearerOpaqueSECRET5", "CookieValueSECRET6", "SetCookieSECRET7", "SetCookieSECRET8", "LocationTok3nSECRET9")


def redirect_response(location: bytes) -> bytes:
    """A 302 to *location* carrying a token, with two session cookies."""
    return (b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n"
            b"Location: " + location + b"?access_token=" + LOCATION_TOKEN.encode() + b"&state=ok\r\n"
            b"Set-Cookie: a=" + SET_COOKIE_A.encode() + b"; Path=/; Secure\r\n"
            b"Set-Cookie: b=" + SET_COOKIE_B.encode() + b"; HttpOnly\r\n\r\n")


@pytest.mark.parametrize("keep", [False, True], ids=["default", "keep-secrets"])
def test_secrets_are_redacted_in_every_part_of_the_har_and_the_console_by_default(
        start_proxy, http_origin, https_origin, keep):
    port = one_shot_origin(redirect_response(b"http://127.0.0.1/callback"))
    proxy = start_proxy(*(["--keep-secrets"] if keep else []))
    query = "&".join(f"{k}={v}" for k, v in SECRETS.items()) + "&page=2"
    headers = {"Authorization": f"Bearer {BEARER}", "Cookie": f"sid={COOKIE}; theme=dark"}
    with client(proxy.url, proxy.ca) as c:
        for origin in (http_origin, https_origin):  # intercepted HTTPS is redacted the same way
            assert c.get(origin.url(f"/echo?{query}"), headers=headers).status_code == 200
        assert c.get(f"http://127.0.0.1:{port}/login", follow_redirects=False).status_code == 302
    assert proxy.stop() == 0
    text = proxy.har_path.read_text()
    har = json.loads(text)
    assert_valid_har(har)
    everything = [*SECRETS.values(), BEARER, COOKIE, SET_COOKIE_A, SET_COOKIE_B, LOCATION_TOKEN]
    for secret in everything:
        assert (secret in text) == keep, (secret, keep)
        if not keep:
            assert secret not in proxy.stdout and secret not in proxy.stderr, secret
    if keep:
        return
    tls = next(e for e in har["log"]["entries"] if e["request"]["url"].startswith("https://"))
    req = {h["name"]: h["value"] for h in tls["request"]["headers"]}
    assert req["Authorization"] == "Bearer [redacted]"
    assert req["Cookie"] == "sid=[redacted]; theme=[redacted]"
    assert {q["name"]: q["value"] for q in tls["request"]["queryString"]} == {
        **{k: "[redacted]" for k in SECRETS}, "page": "2"}
    redirect = next(e for e in har["log"]["entries"] if e["request"]["url"].endswith("/login"))
    resp = redirect["response"]
    assert [h["value"] for h in resp["headers"] if h["name"] == "Set-Cookie"] == [
        "a=[redacted]; Path=/; Secure", "b=[redacted]; HttpOnly"]
    assert [(c["name"], c["value"]) for c in resp["cookies"]] == [("a", "[redacted]"), ("b", "[redacted]")]
    assert resp["redirectURL"] == "http://127.0.0.1/callback?access_token=[redacted]&state=ok"


def test_a_token_in_a_relative_location_is_redacted_everywhere(start_proxy):
    port = one_shot_origin(redirect_response(b"/callback"))
    proxy = start_proxy()
    with client(proxy.url) as c:
        assert c.get(f"http://127.0.0.1:{port}/login").status_code == 302
    assert proxy.stop() == 0
    text = proxy.har_path.read_text()
    assert_valid_har(json.loads(text))
    assert "access_token=[redacted]" in text
    assert LOCATION_TOKEN not in text
    assert LOCATION_TOKEN not in proxy.stdout


# -- 6. no other network surface ---------------------------------------------------------------------------------------------

def test_the_proxy_and_its_children_listen_on_exactly_one_tcp_port_and_nothing_else(start_proxy, http_origin,
                                                                                       https_origin):
    """proxylens has no local web UI or API. If one is ever added it must require a token; this test fails on
    any new listener (TCP, UDP or unix socket) so that the change is deliberate and reviewed."""
    proxy = start_proxy()
    wait_for(proxy, "recording HAR to")
    with client(proxy.url, proxy.ca) as c:  # the worker, the TLS machinery and the HAR are all up
        assert c.get(http_origin.url("/echo")).status_code == 200
        assert c.get(https_origin.url("/echo")).status_code == 200
    pids = descendants(proxy.proc.pid)
    assert len(pids) >= 2, "the proxy process and its analysis worker"
    found = sockets_of(proxy.proc.pid)
    assert [where[:3] for where in found["tcp_listen"]] == [("tcp", "127.0.0.1", proxy.port)], found
    assert found["tcp_listen"][0][3] == proxy.proc.pid, "the listener belongs to the proxy process itself"
    assert found["udp"] == [], found
    assert found["unix_listen"] == [], found
    assert proxy.stop() == 0
