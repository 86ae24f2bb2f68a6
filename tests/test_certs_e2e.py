"""End to end: the proxylens CA with real processes and real clients.

Every client here trusts what ``proxylens certs`` hands out and nothing more: the exported certificate
(PEM, DER converted by ``openssl``, PKCS#12 unpacked by ``openssl``), an NSS database made with exactly
the commands ``proxylens certs trust-help chromium`` prints, or the variables of
``eval "$(proxylens certs env)"``. Each success is paired with the same client failing without that trust,
so a success cannot come from some other store. The origin's certificate is signed by the test origin CA,
which none of those stores hold: a client that gets through with them was shown a proxylens leaf.

Name constraints are checked where they matter, in the verifiers: OpenSSL and Chromium against leaves made
by mitmproxy's CertStore (through proxylens's ConstrainedCertStore, and bare for names the CA may not
sign), and a name-constrained proxy that intercepts permitted hosts and tunnels the others untouched.
Then the CA's files and modes after a real start, bad CA states at start-up, and rotation.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import re
import shutil
import ssl
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import certs
from tests.harschema import assert_valid_har
from tests.support.certs_tls import Leaf, SniOrigin, mitmproxy_leaf
from tests.support.nssdb import (
    PACKAGE_INSTALL,
    chromium_visits,
    empty_nssdb,
    nss_all_fingerprints,
    run_shell,
    trust_help_steps,
)
from tests.support.proxyproc import PROXYLENS, ProxyProcess, proxylens_env
from tests.support.tlscerts import OriginCerts, make_origin_certs

KEY_FILE, CERT_FILE, DHPARAM_FILE = "mitmproxy-ca.pem", "mitmproxy-ca-cert.pem", "mitmproxy-dhparam.pem"
TRUST_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT",
                   "GIT_SSL_CAINFO", "AWS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "DENO_CERT", "JAVA_TOOL_OPTIONS")
CERT_FAILURE = 60  # curl: "SSL certificate problem" (CURLE_PEER_FAILED_VERIFICATION)
# git on Debian is built with GnuTLS ("server certificate verification failed"), elsewhere with OpenSSL
GIT_CERT_PROBLEM = re.compile(r"SSL certificate problem|server certificate verification failed")


# -- helpers ---------------------------------------------------------------------------------------------------------

def client_env(tmp: Path, home: Path | None = None) -> dict[str, str]:
    """No proxy variables and no CA variables; HOME is a fresh directory (no ~/.curlrc, ~/.gitconfig, NSS db)."""
    env = proxylens_env(home or tmp / "home")
    for var in TRUST_VARIABLES:
        env.pop(var, None)
    client_home = tmp / "client-home"
    client_home.mkdir(exist_ok=True)
    env.update(HOME=str(client_home), GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
    return env


def proxylens(home: Path, *args: str) -> subprocess.CompletedProcess:
    """``proxylens ARGS`` with PROXYLENS_HOME=*home*; it must succeed."""
    env = proxylens_env(home)
    for var in TRUST_VARIABLES:
        env.pop(var, None)
    out = subprocess.run([PROXYLENS, *args], capture_output=True, text=True, env=env, check=False, timeout=60)
    assert out.returncode == 0, f"proxylens {' '.join(args)}: {out.returncode}\n{out.stdout}\n{out.stderr}"
    return out


def export(home: Path, fmt: str, out: Path) -> Path:
    proxylens(home, "certs", "export", "--format", fmt, "-o", str(out))
    return out


@dataclass(frozen=True)
class Curl:
    returncode: int
    body: str
    verbose: str

    @property
    def issuer(self) -> str | None:
        """The CN of the issuer of the certificate curl verified (``-v``'s "issuer:" line)."""
        m = re.search(r"^\*\s+issuer: (.*)$", self.verbose, re.MULTILINE)
        if m is None:
            return None
        cn = re.search(r"CN ?= ?(.+?)(?:; \w+ ?=|$)", m.group(1))  # "CN=proxylens CA (vm, 2026-11-24); O=..."
        return cn.group(1).strip() if cn else m.group(1)


def curl(env: dict[str, str], *args: str) -> Curl:
    out = subprocess.run(["curl", "-q", "-sS", "-v", "--max-time", "30", *args], capture_output=True, text=True,
                         env=env, check=False, timeout=60)
    return Curl(out.returncode, out.stdout, out.stderr)


def common_name(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def read_cert(path: Path) -> x509.Certificate:
    raw = path.read_bytes()
    return x509.load_pem_x509_certificate(raw) if raw.startswith(b"-----") else x509.load_der_x509_certificate(raw)


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex().upper()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def har_urls(proxy: ProxyProcess) -> list[str]:
    """The URLs of the exchanges recorded (not the failed client handshakes: see refused_handshakes)."""
    return [e["request"]["url"] for e in har_entries(proxy) if e["request"]["method"] != "CONNECT"]


def refused_handshakes(proxy: ProxyProcess, origin) -> list[str]:
    """The tunnels to *origin* whose client refused proxylens's certificate, as recorded: CONNECT entries of
    kind client-tls. (Chromium also tries to reach Google's update servers through the proxy: not counted.)"""
    refused = []
    for e in har_entries(proxy):
        if e["request"]["method"] == "CONNECT" and e["request"]["url"].endswith(f":{origin.port}/"):
            assert e["response"]["_errorKind"] == "client-tls", e
            assert "does not trust the proxy's certificate" in e["_error"], e
            assert [f["rule"] for f in e["_proxylens"]["findings"]] == ["tls.client-handshake-failed"], e
            refused.append(e["request"]["url"])
    return refused


def har_entries(proxy: ProxyProcess) -> list[dict]:
    har = proxy.har()
    assert_valid_har(har)
    return har["log"]["entries"]


def wait_for_stderr(proxy: ProxyProcess, text: str, timeout: float = 15) -> str:
    """The proxy's stderr once it holds *text* (lines after "listening on" arrive a moment later)."""
    deadline = time.monotonic() + timeout
    while text not in proxy.stderr and time.monotonic() < deadline:
        time.sleep(0.05)
    assert text in proxy.stderr, proxy.stderr
    return proxy.stderr


def write_ca(home: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    """A CA in proxylens's layout, written by the test (for states proxylens would never create)."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (home / KEY_FILE).write_bytes(key_pem + cert_pem)
    (home / KEY_FILE).chmod(0o600)
    (home / CERT_FILE).write_bytes(cert_pem)


def start_proxy_directly(home: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """``proxylens proxy`` run to completion (for start-ups that must fail): killed if it ever listens."""
    env = proxylens_env(home)
    try:
        return subprocess.run([PROXYLENS, "proxy", "--listen-port", "0"], capture_output=True, text=True, env=env,
                              check=False, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"proxylens kept running with a CA it should refuse:\n{exc.stderr}") from None


# -- 1. a client trusting only the exported CA ----------------------------------------------------------------------

def test_curl_trusting_only_the_exported_ca_goes_through_and_fails_without_it(start_proxy, https_origin, tmp_path):
    proxy = start_proxy()
    home = proxy.home
    env = client_env(tmp_path)
    ca = read_cert(proxy.ca)
    pem = export(home, "pem", tmp_path / "ca.pem")
    der = export(home, "der", tmp_path / "ca.der")
    p12 = export(home, "p12", tmp_path / "ca.p12")
    assert read_cert(pem) == ca and read_cert(der) == ca
    assert b"PRIVATE KEY" not in pem.read_bytes() and der.read_bytes() == ca.public_bytes(serialization.Encoding.DER)
    der_pem, p12_pem = tmp_path / "from-der.pem", tmp_path / "from-p12.pem"
    subprocess.run(["openssl", "x509", "-inform", "DER", "-in", str(der), "-out", str(der_pem)], check=True,
                   timeout=30)
    p12_out = subprocess.run(["openssl", "pkcs12", "-in", str(p12), "-nokeys", "-passin", "pass:", "-out",
                              str(p12_pem)], capture_output=True, text=True, check=False, timeout=30)
    assert p12_out.returncode == 0, p12_out.stderr
    assert "PRIVATE KEY" not in p12_pem.read_text(), "the PKCS#12 export holds the certificate only"

    urls = []
    for name, cafile in (("pem", pem), ("der", der_pem), ("p12", p12_pem)):
        url = https_origin.url(f"/echo?ca={name}")
        got = curl(env, "--proxy", proxy.url, "--cacert", str(cafile), url)
        assert got.returncode == 0, got.verbose
        assert json.loads(got.body)["path"] == f"/echo?ca={name}"
        assert got.issuer == common_name(ca), "the leaf curl verified was made by the proxylens CA"
        urls.append(url)

    unrelated = make_origin_certs(tmp_path / "unrelated").ca_pem
    refused = {
        "the system store (no --cacert, no CURL_CA_BUNDLE)": curl(env, "--proxy", proxy.url,
                                                                  https_origin.url("/echo?ca=none")),
        "an unrelated CA": curl(env, "--proxy", proxy.url, "--cacert", str(unrelated),
                                https_origin.url("/echo?ca=unrelated")),
    }
    for what, got in refused.items():
        assert got.returncode == CERT_FAILURE, (what, got.verbose)
        assert "SSL certificate problem" in got.verbose, what
        assert got.body == "", what
    assert proxy.stop() == 0
    assert har_urls(proxy) == urls
    assert refused_handshakes(proxy, https_origin) == [https_origin.url("/")] * 2, \
        "each refusal is recorded, as the client's"


def test_httpx_with_the_exported_ca_and_without(start_proxy, https_origin, tmp_path):
    proxy = start_proxy()
    pem = export(proxy.home, "pem", tmp_path / "ca.pem")
    url = https_origin.url("/echo?client=httpx")
    with httpx.Client(proxy=proxy.url, verify=ssl.create_default_context(cafile=str(pem)), trust_env=False,
                      timeout=30) as client:
        response = client.get(url)
        assert response.status_code == 200 and response.json()["path"] == "/echo?client=httpx"
        peer = response.extensions["network_stream"].get_extra_info("ssl_object").getpeercert()
    issuer = dict(rdn[0] for rdn in peer["issuer"])
    assert issuer["commonName"] == common_name(read_cert(pem))
    assert dict(rdn[0] for rdn in peer["subject"])["commonName"] == "localhost"

    with httpx.Client(proxy=proxy.url, trust_env=False, timeout=30) as default, \
            pytest.raises(httpx.ConnectError) as refused:
        default.get(https_origin.url("/echo?client=httpx-default"))
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value) or "certificate verify failed" in str(refused.value)
    assert proxy.stop() == 0
    assert har_urls(proxy) == [url]
    assert refused_handshakes(proxy, https_origin) == [https_origin.url("/")]


def test_chromium_with_the_nss_db_trust_help_sets_up(start_proxy, https_origin, tmp_path):
    proxy = start_proxy()
    ca = read_cert(proxy.ca)
    steps = trust_help_steps(proxylens(proxy.home, "certs", "trust-help", "chromium").stdout, "chromium")
    install = [c for c in steps.commands if c.startswith("sudo ")]
    assert install and all(c.startswith(PACKAGE_INSTALL) for c in install), install
    commands = [c for c in steps.commands if c not in install]  # certutil is installed; everything else runs
    trusted, untrusted = tmp_path / "trusted-home", tmp_path / "untrusted-home"
    trusted.mkdir()
    done = run_shell(commands, trusted)
    assert done.returncode == 0, f"{commands}\n{done.stderr}"
    assert steps.check is not None
    listed = run_shell([steps.check], trusted)
    assert listed.returncode == 0 and re.search(rf"^{re.escape(common_name(ca))}.*\s+C,,", listed.stdout,
                                                re.MULTILINE), listed.stdout
    assert nss_all_fingerprints(trusted) == [fingerprint(ca)], "the CA alone, trusted to identify sites"
    empty_nssdb(untrusted)

    via_proxy = (f"--proxy-server={proxy.url}", "--proxy-bypass-list=<-loopback>")
    page = https_origin.url("/")
    ok = chromium_visits(trusted, [page], *via_proxy)[page]
    assert ok.error is None, ok
    assert ok.status == 200 and ok.title == "proxylens test page (js ran)", "the page and its script loaded"
    assert ok.issuer == common_name(ca) and ok.subject == "localhost"
    refused = chromium_visits(untrusted, [https_origin.url("/?nss=empty")], *via_proxy)
    assert refused[https_origin.url("/?nss=empty")].error == "net::ERR_CERT_AUTHORITY_INVALID"
    assert proxy.stop() == 0
    urls = har_urls(proxy)
    assert page in urls and https_origin.url("/app.js") in urls
    assert https_origin.url("/?nss=empty") not in urls
    assert https_origin.url("/") in refused_handshakes(proxy, https_origin), "the refusal is recorded as the client's"


def test_trust_help_chromium_commands_work_with_a_space_in_home(start_proxy, https_origin, tmp_path):
    home = tmp_path / "home"
    proxylens(home, "certs", "init")
    ca = read_cert(home / CERT_FILE)
    steps = trust_help_steps(proxylens(home, "certs", "trust-help", "chromium").stdout, "chromium")
    browser_home = tmp_path / "browser home"
    browser_home.mkdir()
    done = run_shell([c for c in steps.commands if not c.startswith(PACKAGE_INSTALL)], browser_home, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["browser home", "home"], "nothing created outside HOME"
    assert sorted(p.name for p in home.iterdir()) == [".lock", "ca-bundle.pem", CERT_FILE, KEY_FILE, DHPARAM_FILE]
    assert (browser_home / ".pki" / "nssdb" / "cert9.db").is_file(), "the database Chromium reads"
    assert nss_all_fingerprints(browser_home) == [fingerprint(ca)]
    proxy = start_proxy()
    page = https_origin.url("/")
    visit = chromium_visits(browser_home, [page], f"--proxy-server={proxy.url}", "--proxy-bypass-list=<-loopback>")
    assert visit[page].error is None and visit[page].issuer == common_name(ca), visit


# -- 2. name constraints ----------------------------------------------------------------------------------------------

PERMITTED = ("example.com", "api.example.com", "filtered.example.com")
REFUSED = ("other.test", "badexample.com", "mixed.example.com", "127.0.0.1")


@dataclass(frozen=True)
class Constrained:
    home: Path
    ca: Path
    leaves: dict[str, Leaf]
    origin: SniOrigin


@pytest.fixture(scope="module")
def constrained(tmp_path_factory: pytest.TempPathFactory):
    """A CA made by ``proxylens certs init --permit example.com``, and leaves made by mitmproxy with it:

    - example.com, api.example.com: as the proxy makes them (ConstrainedCertStore);
    - filtered.example.com: as the proxy makes them from an upstream certificate that also names other.test
      and 127.0.0.1 (both filtered out);
    - other.test, badexample.com, 127.0.0.1: by mitmproxy's bare CertStore, which signs for any name;
    - mixed.example.com: bare, naming mixed.example.com and other.test.
    """
    tmp = tmp_path_factory.mktemp("constrained")
    home = tmp / "home"
    created = proxylens(home, "certs", "init", "--permit", "example.com").stdout
    assert "may only sign for: example.com (not any IP address)" in created
    rules = certs.NameRules.permit(["example.com"])
    dns, ip = x509.DNSName, x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    out = tmp / "leaves"
    leaves = {
        "127.0.0.1": mitmproxy_leaf(home, out, "127.0.0.1", [ip]),  # first: served when there is no SNI
        "example.com": mitmproxy_leaf(home, out, "example.com", [dns("example.com")], rules),
        "api.example.com": mitmproxy_leaf(home, out, "api.example.com", [dns("api.example.com")], rules),
        "filtered.example.com": mitmproxy_leaf(home, out, "filtered.example.com",
                                               [dns("filtered.example.com"), dns("other.test"), ip], rules),
        "other.test": mitmproxy_leaf(home, out, "other.test", [dns("other.test")]),
        "badexample.com": mitmproxy_leaf(home, out, "badexample.com", [dns("badexample.com")]),
        "mixed.example.com": mitmproxy_leaf(home, out, "mixed.example.com",
                                            [dns("mixed.example.com"), dns("other.test")]),
    }
    san = leaves["filtered.example.com"].cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert list(san) == [dns("filtered.example.com")], "ConstrainedCertStore kept only the permitted name"
    origin = SniOrigin(leaves)
    yield Constrained(home, home / CERT_FILE, leaves, origin)
    origin.close()


def s_client_verify(port: int, cafile: Path, name: str) -> tuple[int, str]:
    argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-verify_return_error", "-CAfile", str(cafile)]
    if name[0].isdigit():
        argv += ["-verify_ip", name]  # no SNI for an address: the origin serves its first leaf
    else:
        argv += ["-servername", name, "-verify_hostname", name]
    out = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False, timeout=30)
    return out.returncode, out.stdout + out.stderr


@pytest.mark.parametrize("name", PERMITTED + REFUSED)
def test_openssl_enforces_the_name_constraints(constrained: Constrained, name: str):
    code, output = s_client_verify(constrained.origin.port, constrained.ca, name)
    if name in PERMITTED:
        assert code == 0 and "Verify return code: 0 (ok)" in output, output
    elif name == "127.0.0.1":  # a CA permitting DNS names only excludes every IP address
        assert code != 0 and "excluded subtree violation" in output, output
    else:
        assert code != 0 and "permitted subtree violation" in output, output


def test_chromium_enforces_the_name_constraints(constrained: Constrained, tmp_path):
    browser_home = tmp_path / "browser-home"
    browser_home.mkdir()
    steps = trust_help_steps(proxylens(constrained.home, "certs", "trust-help", "chromium").stdout, "chromium")
    done = run_shell([c for c in steps.commands if not c.startswith(PACKAGE_INSTALL)], browser_home)
    assert done.returncode == 0, done.stderr
    port = constrained.origin.port
    urls = {name: f"https://{name}:{port}/" for name in PERMITTED + REFUSED}
    visits = chromium_visits(browser_home, list(urls.values()), "--host-resolver-rules=MAP * 127.0.0.1")
    ca_name = common_name(read_cert(constrained.ca))
    for name in PERMITTED:
        visit = visits[urls[name]]
        assert visit.error is None and visit.status == 200, (name, visit)
        assert visit.title == "proxylens test page (js ran)" and visit.issuer == ca_name, (name, visit)
    for name in REFUSED:
        assert (visits[urls[name]].error or "").startswith("net::ERR_CERT_"), (name, visits[urls[name]])


def test_a_constrained_proxy_intercepts_permitted_hosts_and_tunnels_the_others(
        start_proxy, https_origin, origin_certs: OriginCerts, tmp_path):
    home = tmp_path / "home"
    proxylens(home, "certs", "init", "--permit", "localhost")
    proxy = start_proxy()
    wait_for_stderr(proxy, "intercepting HTTPS only for the names the CA may sign for: localhost (not any IP "
                           "address); other hosts pass through untouched")
    ca = read_cert(proxy.ca)
    env = client_env(tmp_path)
    # permitted: intercepted, although the origin's certificate also names 127.0.0.1 (filtered from the leaf)
    permitted = https_origin.url("/echo?scope=permitted")
    got = curl(env, "--proxy", proxy.url, "--cacert", str(proxy.ca), permitted)
    assert got.returncode == 0, got.verbose
    assert got.issuer == common_name(ca) and json.loads(got.body)["path"] == "/echo?scope=permitted"
    with httpx.Client(proxy=proxy.url, verify=ssl.create_default_context(cafile=str(proxy.ca)), trust_env=False,
                      timeout=30) as client:
        response = client.get(https_origin.url("/echo?scope=permitted-httpx"))
        peer = response.extensions["network_stream"].get_extra_info("ssl_object").getpeercert()
    assert response.status_code == 200
    assert peer["subjectAltName"] == (("DNS", "localhost"),), "the leaf names only what the CA may sign for"

    # not permitted: tunnelled; the client sees the origin's own certificate
    bundle = tmp_path / "origin-and-proxylens.pem"
    bundle.write_bytes(origin_certs.ca_pem.read_bytes() + proxy.ca.read_bytes())
    passed = https_origin.url("/echo?scope=passed", host="127.0.0.1")
    for _ in range(2):  # two connections, one line on stderr
        got = curl(env, "--proxy", proxy.url, "--cacert", str(bundle), passed)
        assert got.returncode == 0, got.verbose
        assert got.issuer == "proxylens test origin CA", "the origin's own certificate, not a proxylens leaf"
        assert json.loads(got.body)["path"] == "/echo?scope=passed"
    only_proxylens = curl(env, "--proxy", proxy.url, "--cacert", str(proxy.ca), passed)
    assert only_proxylens.returncode == CERT_FAILURE, only_proxylens.verbose
    assert proxy.stop() == 0
    assert proxy.stderr.count("passing 127.0.0.1 through without interception") == 1, proxy.stderr
    assert "passing localhost" not in proxy.stderr
    assert har_urls(proxy) == [permitted, https_origin.url("/echo?scope=permitted-httpx")]
    assert refused_handshakes(proxy, https_origin) == [], \
        "a tunnelled connection is not recorded, even when its client fails"


# -- 3. files and modes after a real start ---------------------------------------------------------------------------

@pytest.mark.parametrize("umask", [0o000, 0o077], ids=["umask-000", "umask-077"])
def test_the_first_start_writes_exactly_the_ca_files_with_exact_modes(https_origin, origin_certs, tmp_path,
                                                                       umask: int):
    """Every mode is set by proxylens itself: neither an open umask nor a closed one changes them."""
    home = tmp_path / "home"
    env = client_env(tmp_path)
    first = ProxyProcess(home, "--upstream-ca", str(origin_certs.ca_pem), har=tmp_path / "first.har",
                         preexec_fn=lambda: os.umask(umask))
    try:
        got = curl(env, "--proxy", first.url, "--cacert", str(first.ca), https_origin.url("/echo?start=1"))
        assert got.returncode == 0, got.verbose
    finally:
        assert first.stop() == 0
    files = {p.name: mode(p) for p in home.iterdir()}
    assert files == {KEY_FILE: 0o600, CERT_FILE: 0o644, DHPARAM_FILE: 0o644, ".lock": 0o600}, \
        {k: oct(v) for k, v in files.items()}
    assert mode(home) == 0o700
    ca = read_cert(home / CERT_FILE)
    assert f"CA certificate: {home / CERT_FILE} ({common_name(ca)}, valid until" in first.stderr, first.stderr
    assert "proxylens certs trust-help" in first.stderr
    assert "created a new CA for this installation" in first.stderr
    assert har_urls(first) == [https_origin.url("/echo?start=1")]
    key_bytes = (home / KEY_FILE).read_bytes()

    second = ProxyProcess(home, "--upstream-ca", str(origin_certs.ca_pem), har=tmp_path / "second.har",
                          preexec_fn=lambda: os.umask(umask))
    try:
        got = curl(env, "--proxy", second.url, "--cacert", str(tmp_path / "home" / CERT_FILE),
                   https_origin.url("/echo?start=2"))
        assert got.returncode == 0 and got.issuer == common_name(ca), got.verbose
    finally:
        assert second.stop() == 0
    assert fingerprint(read_cert(home / CERT_FILE)) == fingerprint(ca), "the second start reused the CA"
    assert (home / KEY_FILE).read_bytes() == key_bytes
    assert "created a new CA" not in second.stderr and "warning" not in second.stderr, second.stderr
    assert {p.name: mode(p) for p in home.iterdir()} == files, "the second start wrote or changed nothing"


# -- 4. bad CA states at start-up ------------------------------------------------------------------------------------

def test_an_expired_ca_stops_the_proxy_with_exit_2_until_rotated(start_proxy, https_origin, tmp_path):
    home = tmp_path / "home"
    cert, key = certs.authority.new_ca(days=10, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=20))
    write_ca(home, cert, key)
    before = (home / KEY_FILE).read_bytes()
    out = start_proxy_directly(home)
    assert out.returncode == 2, out.stderr
    assert "expired" in out.stderr and "proxylens certs rotate" in out.stderr, out.stderr
    assert "listening on" not in out.stderr
    assert (home / KEY_FILE).read_bytes() == before, "the expired CA is left for `certs rotate`, not replaced"

    proxylens(home, "certs", "rotate")  # what the message says to do
    proxy = start_proxy()
    # the new CA keeps the old one's validity length (10 days): close enough to expiry for a warning
    assert "warning: the proxylens CA expires in 10 day(s)" in proxy.stderr, proxy.stderr
    got = curl(client_env(tmp_path), "--proxy", proxy.url, "--cacert", str(proxy.ca), https_origin.url("/echo"))
    assert got.returncode == 0 and got.issuer != common_name(cert), got.verbose
    assert proxy.stop() == 0


def test_a_corrupt_key_file_stops_the_proxy_with_exit_2_naming_the_file(start_proxy, https_origin, tmp_path):
    home = tmp_path / "home"
    proxylens(home, "certs", "init")
    key_file = home / KEY_FILE
    broken = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"
    key_file.write_text(broken)
    out = start_proxy_directly(home)
    assert out.returncode == 2, out.stderr
    assert str(key_file) in out.stderr and "listening on" not in out.stderr, out.stderr
    assert "proxylens certs rotate" in out.stderr, out.stderr
    assert key_file.read_text() == broken, "the broken file is not replaced behind the user's back"

    rotated = proxylens(home, "certs", "rotate").stdout
    assert "the old CA (unreadable)" in rotated, rotated
    [backup] = (home / "backups").iterdir()
    assert (backup / KEY_FILE).read_text() == broken and mode(backup / KEY_FILE) == 0o600
    proxy = start_proxy()
    got = curl(client_env(tmp_path), "--proxy", proxy.url, "--cacert", str(proxy.ca), https_origin.url("/echo"))
    assert got.returncode == 0, got.verbose
    assert proxy.stop() == 0


def test_a_key_file_open_to_others_is_tightened_and_the_proxy_starts(start_proxy, https_origin, tmp_path):
    home = tmp_path / "home"
    proxylens(home, "certs", "init")
    (home / KEY_FILE).chmod(0o644)
    proxy = start_proxy()
    assert mode(home / KEY_FILE) == 0o600
    assert re.search(rf"warning: {re.escape(str(home / KEY_FILE))} holds the CA private key and was mode 0644",
                     proxy.stderr), proxy.stderr
    got = curl(client_env(tmp_path), "--proxy", proxy.url, "--cacert", str(proxy.ca), https_origin.url("/echo"))
    assert got.returncode == 0, got.verbose
    assert proxy.stop() == 0


def test_a_ca_expiring_in_5_days_starts_with_a_warning(start_proxy, https_origin, tmp_path):
    home = tmp_path / "home"
    proxylens(home, "certs", "init", "--days", "5")
    proxy = start_proxy()
    assert re.search(r"warning: the proxylens CA expires in 5 day\(s\), on \d{4}-\d\d-\d\d\. Run `proxylens certs "
                     r"rotate`", proxy.stderr), proxy.stderr
    got = curl(client_env(tmp_path), "--proxy", proxy.url, "--cacert", str(proxy.ca), https_origin.url("/echo"))
    assert got.returncode == 0, got.verbose
    assert proxy.stop() == 0


# -- 5. rotation ------------------------------------------------------------------------------------------------------

def test_rotation_end_to_end(start_proxy, https_origin, tmp_path):
    env = client_env(tmp_path)
    first = start_proxy()
    home = first.home
    ca1 = export(home, "pem", tmp_path / "ca1.pem")
    assert curl(env, "--proxy", first.url, "--cacert", str(ca1), https_origin.url("/echo?ca=1")).returncode == 0

    rotated = proxylens(home, "certs", "rotate").stdout
    # documented: a running proxy keeps signing with the old CA until it is restarted
    still = curl(env, "--proxy", first.url, "--cacert", str(ca1), https_origin.url("/echo?ca=1-after-rotate"))
    assert still.returncode == 0, still.verbose
    assert first.stop() == 0

    second = start_proxy()
    old = curl(env, "--proxy", second.url, "--cacert", str(ca1), https_origin.url("/echo?ca=1-refused"))
    assert old.returncode == CERT_FAILURE, old.verbose
    ca2 = export(home, "pem", tmp_path / "ca2.pem")
    new = curl(env, "--proxy", second.url, "--cacert", str(ca2), https_origin.url("/echo?ca=2"))
    assert new.returncode == 0, new.verbose
    assert new.issuer == common_name(read_cert(ca2))
    assert fingerprint(read_cert(ca2)) != fingerprint(read_cert(ca1))
    assert second.stop() == 0
    assert har_urls(second) == [https_origin.url("/echo?ca=2")]
    assert refused_handshakes(second, https_origin) == [https_origin.url("/")], "CA#1's refusal of the new leaf"

    backups = list((home / "backups").iterdir())
    assert len(backups) == 1 and f"is now in {backups[0]}" in rotated, rotated
    backup = backups[0]
    assert mode(home / "backups") == 0o700 and mode(backup) == 0o700
    assert {p.name: mode(p) for p in backup.iterdir()} == {KEY_FILE: 0o600, CERT_FILE: 0o600}
    assert read_cert(backup / CERT_FILE) == read_cert(ca1)
    old_key = serialization.load_pem_private_key((backup / KEY_FILE).read_bytes(), None)
    assert old_key.public_key() == read_cert(ca1).public_key(), "the backup holds CA#1's own key"
    assert x509.load_pem_x509_certificates((backup / KEY_FILE).read_bytes())[0] == read_cert(ca1)


def test_removing_the_old_ca_from_nss_after_a_rotation_keeps_the_new_one(start_proxy, https_origin, tmp_path):
    """CA#1 trusted in NSS with trust-help's steps; after a rotation, the new CA added with the new steps, then
    CA#1 removed with the Undo line trust-help printed for CA#1. Chromium must now trust CA#2 (only)."""
    home, browser_home = tmp_path / "home", tmp_path / "browser-home"
    browser_home.mkdir()

    def trust_help() -> tuple[x509.Certificate, list[str], str]:
        steps = trust_help_steps(proxylens(home, "certs", "trust-help", "chromium").stdout, "chromium")
        assert steps.undo is not None
        return read_cert(home / CERT_FILE), [c for c in steps.commands if not c.startswith(PACKAGE_INSTALL)], \
            steps.undo

    def run(commands: list[str]) -> None:
        done = run_shell(commands, browser_home)
        assert done.returncode == 0, (commands, done.stderr)

    proxylens(home, "certs", "init")
    ca1, add1, undo1 = trust_help()
    run(add1)
    assert nss_all_fingerprints(browser_home) == [fingerprint(ca1)]
    proxylens(home, "certs", "rotate")
    ca2, add2, _ = trust_help()
    run(add2)
    assert sorted(nss_all_fingerprints(browser_home)) == sorted([fingerprint(ca1), fingerprint(ca2)])
    run([undo1])
    remaining = nss_all_fingerprints(browser_home)
    assert remaining == [fingerprint(ca2)], \
        f"CA#1's Undo line ({undo1}) left {remaining}; CA#1 is {fingerprint(ca1)}, CA#2 {fingerprint(ca2)}"
    proxy = start_proxy()
    page = https_origin.url("/")
    visit = chromium_visits(browser_home, [page], f"--proxy-server={proxy.url}", "--proxy-bypass-list=<-loopback>")
    assert visit[page].error is None and visit[page].issuer == common_name(ca2), visit


# -- 6. eval "$(proxylens certs env)": no per-tool CA flag ------------------------------------------------------------

NODE_CONNECT = r"""
const http = require('http'), https = require('https');
const [proxy, target] = process.argv.slice(1);
const p = new URL(proxy), t = new URL(target), authority = `${t.hostname}:${t.port}`;
http.request({host: p.hostname, port: p.port, method: 'CONNECT', path: authority, headers: {Host: authority}})
  .on('connect', (res, socket) => {
    if (res.statusCode !== 200) { console.error(`CONNECT answered ${res.statusCode}`); process.exit(3); }
    https.get({host: t.hostname, port: t.port, path: t.pathname + t.search, socket, agent: false,
               servername: t.hostname}, (r) => {
      const issuer = r.socket.getPeerCertificate().issuer.CN;
      let body = '';
      r.setEncoding('utf8').on('data', (c) => body += c).on('end', () => {
        console.log(JSON.stringify({status: r.statusCode, issuer, body}));
        socket.destroy();
      });
    }).on('error', (e) => { console.error(`${e.code}: ${e.message}`); process.exit(60); });
  })
  .on('error', (e) => { console.error(`proxy: ${e.message}`); process.exit(4); })
  .end();
"""

PYTHON_CLIENTS = r"""
import json, ssl, sys
client, proxy, url = sys.argv[1:]
try:
    if client == "requests":
        import requests
        r = requests.get(url, proxies={"https": proxy}, timeout=30)
        status, body = r.status_code, r.text
    elif client == "httpx":
        import httpx
        r = httpx.get(url, proxy=proxy, timeout=30)
        status, body = r.status_code, r.text
    else:
        import urllib.request
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({"https": proxy}))
        with opener.open(url, timeout=30) as r:
            status, body = r.status, r.read().decode()
except Exception as exc:
    text = f"{type(exc).__name__}: {exc}"
    print(text, file=sys.stderr)
    sys.exit(60 if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text else 1)
print(json.dumps({"status": status, "body": body}))
"""

EVAL_ENV = 'eval "$("$PROXYLENS" certs env)" && exec "$@"'


@pytest.fixture(scope="module")
def env_proxy(tmp_path_factory: pytest.TempPathFactory, origin_certs: OriginCerts):
    tmp = tmp_path_factory.mktemp("certs-env")
    # a space in the path: `certs env` must quote what it prints for eval
    proxy = ProxyProcess(tmp / "proxylens home", "--upstream-ca", str(origin_certs.ca_pem), har=tmp / "env.har")
    yield proxy
    proxy.stop()


def run_client(env: dict[str, str], argv: list[str], *, with_env: bool) -> subprocess.CompletedProcess:
    """*argv* in bash, after ``eval "$(proxylens certs env)"`` or without it."""
    script = EVAL_ENV if with_env else 'exec "$@"'
    return subprocess.run(["bash", "-c", script, "bash", *argv], capture_output=True, text=True,
                          env={**env, "PROXYLENS": PROXYLENS}, check=False, timeout=90)


def client_argv(name: str, proxy: ProxyProcess, url: str) -> list[str]:
    if name == "curl":
        return ["curl", "-q", "-sS", "-v", "--max-time", "30", "--proxy", proxy.url, url]
    if name in ("requests", "httpx", "urllib"):
        return [sys.executable, "-c", PYTHON_CLIENTS, name, proxy.url, url]
    if name == "node":
        if shutil.which("node") is None:
            pytest.skip("node is not installed")
        return ["node", "-e", NODE_CONNECT, proxy.url, url]
    raise ValueError(name)


@pytest.mark.parametrize("name", ["curl", "requests", "urllib", "httpx", "node"])
def test_certs_env_makes_the_client_trust_the_proxy(env_proxy: ProxyProcess, https_origin, tmp_path, name: str):
    env = client_env(tmp_path, env_proxy.home)
    url = https_origin.url(f"/echo?env={name}")
    without = run_client(env, client_argv(name, env_proxy, url), with_env=False)
    assert without.returncode == CERT_FAILURE, (without.stdout, without.stderr)
    got = run_client(env, client_argv(name, env_proxy, url), with_env=True)
    assert got.returncode == 0, got.stderr
    ca_name = common_name(read_cert(env_proxy.ca))
    if name == "curl":
        assert json.loads(got.stdout)["path"] == f"/echo?env={name}"
        assert Curl(0, got.stdout, got.stderr).issuer == ca_name
        return
    result = json.loads(got.stdout)
    assert result["status"] == 200 and json.loads(result["body"])["path"] == f"/echo?env={name}"
    if name == "node":
        assert result["issuer"] == ca_name


def test_certs_env_makes_git_trust_the_proxy(env_proxy: ProxyProcess, https_origin, tmp_path):
    env = client_env(tmp_path, env_proxy.home)
    argv = ["git", "-c", f"http.proxy={env_proxy.url}", "ls-remote", https_origin.url("/repo.git")]
    without = run_client(env, argv, with_env=False)
    assert without.returncode != 0 and GIT_CERT_PROBLEM.search(without.stderr), without.stderr
    got = run_client(env, argv, with_env=True)
    # the origin is no git server: git reaches it, gets 404 and says so; no certificate problem on the way
    assert got.returncode != 0 and "not found" in got.stderr, got.stderr
    assert not GIT_CERT_PROBLEM.search(got.stderr) and "certificate" not in got.stderr.lower(), got.stderr


JAVA_FETCH = """\
import java.net.*;
import javax.net.ssl.*;
import java.security.cert.X509Certificate;

public class Fetch {
    public static void main(String[] a) throws Exception {
        Proxy proxy = new Proxy(Proxy.Type.HTTP, new InetSocketAddress(a[0], Integer.parseInt(a[1])));
        HttpsURLConnection c = (HttpsURLConnection) new URL(a[2]).openConnection(proxy);
        try {
            int status = c.getResponseCode();
            X509Certificate leaf = (X509Certificate) c.getServerCertificates()[0];
            System.out.println(status + " " + leaf.getIssuerX500Principal().getName());
        } catch (SSLHandshakeException e) {
            System.out.println("SSLHandshakeException: " + e.getMessage());
            System.exit(60);
        }
    }
}
"""


def test_java_with_the_keystore_trust_help_sets_up(env_proxy: ProxyProcess, https_origin, tmp_path):
    if shutil.which("keytool") is None or shutil.which("java") is None:
        pytest.skip("no JDK (keytool, java)")
    java_home = Path(os.path.realpath(shutil.which("java"))).parents[1]
    steps = trust_help_steps(proxylens(env_proxy.home, "certs", "trust-help", "java").stdout, "java")
    copy = steps.commands[1:]  # the first line imports into the JDK's own store; the rest make a copy
    assert [c.split()[0] for c in copy] == ["cp", "keytool", "export"], steps.commands
    (tmp_path / "Fetch.java").write_text(JAVA_FETCH)
    fetch = f"java Fetch.java {env_proxy.host} {env_proxy.port} {https_origin.url('/echo?client=java')}"
    env = {"JAVA_HOME": str(java_home), "PROXYLENS_HOME": str(env_proxy.home)}
    without = run_shell([fetch], tmp_path, cwd=tmp_path, extra_env=env)
    assert without.returncode == CERT_FAILURE and "PKIX path building failed" in without.stdout, without.stdout
    got = run_shell([*copy, fetch], tmp_path, cwd=tmp_path, extra_env=env)
    assert got.returncode == 0, got.stdout + got.stderr
    status, issuer = got.stdout.strip().splitlines()[-1].split(" ", 1)
    assert status == "200" and f"CN={common_name(read_cert(env_proxy.ca))}" in issuer.replace("\\,", ","), got.stdout
