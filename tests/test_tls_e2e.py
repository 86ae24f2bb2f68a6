"""End to end: the TLS analyzer with a real proxylens process, real origins whose TLS is
configured on purpose (tests/support/tls_origin.py, chains from tests/support/tls_chains.py)
and real clients (httpx, curl, raw Python ssl sockets, Chromium, mitmdump).

The reference is ``openssl s_client``, run straight at each origin (not through the proxy):
what proxylens records for the upstream side (``facts.tls.server``) must agree with it on the
protocol version, the cipher (OpenSSL names: ``cipher_openssl``), ALPN, the verification
errors, the server's key size and the chain's subjects and issuers.

How the verification results compare. OpenSSL calls the verify callback once per error it
finds. proxylens's callback (proxy/tls_capture.py) returns 0 on the first error in strict mode,
which ends verification there, so ``verify_errors`` holds exactly the first ``verify error:num=``
line s_client prints; under ``--ssl-insecure`` it returns 1 and keeps going, as s_client's own
callback does, so ``verify_errors`` holds all of s_client's lines, in order, and the last one is
s_client's final ``Verify return code: N (message)`` (s_client prints the last error there, not
the first: an incomplete chain gives 20 then 21, "Verify return code: 21"). s_client does not
check the host name unless told (``-verify_hostname``), so it is told.

Security levels. Strict proxylens uses mitmproxy's cipher list without ``@SECLEVEL``, i.e.
OpenSSL's default level (2 on Debian), as plain s_client does: both report error 66 (EE key too
weak) for a 1024-bit RSA leaf and 68 (CA signature digest too weak) for a SHA-1 signed one, and
both refuse a TLS 1.0-only server (proxylens by its TLS 1.2 floor, s_client by the level:
"legacy sigalg disallowed"). Under ``--ssl-insecure`` mitmproxy lowers the level to 0 so TLS 1.0
works; OpenSSL then checks neither key sizes nor digests, and s_client with
``-cipher DEFAULT:@SECLEVEL=0`` agrees: "Verify return code: 0 (ok)". proxylens's own chain
checks still flag both (tls.weak-key, tls.weak-signature), marked as let through; OpenSSL's
own verdict (facts verified / verify_errors) does differ between the modes, as documented in
docs/tls.md.

s_client quirk: for a TLS 1.2 connection on a TLS 1.0-era suite, "New, TLSv1.0, Cipher is
ECDHE-RSA-AES128-SHA" names the suite's minimum version; the protocol is the SSL-Session
block's "Protocol  : TLSv1.2" (tls_origin.parse_s_client reads that).
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import CHROMIUM_ARGS, chromium_path
from tests.harschema import assert_valid_har
from tests.support.proxyproc import Mitmdump, ProxyProcess, proxylens_env
from tests.support.results import by_case, rules_of
from tests.support.tls_chains import INTERMEDIATE_CN, OTHER_HOST, Pki, make_pki
from tests.support.tls_origin import SClient, TlsOrigin, TlsSetup, s_client

V = ssl.TLSVersion
LEGACY = "DEFAULT:@SECLEVEL=0"  # lets the origin use TLS 1.0, a 1024-bit key or a SHA-1 certificate
LET_THROUGH = "(let through by --ssl-insecure; a browser would refuse it)"
ROOT = Path(__file__).parents[1]


# -- the server configurations -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    cert: str  # a tls_chains case
    rules: frozenset[str]  # the tls.* rules expected (both modes, unless strict_rules says otherwise)
    version: str  # the protocol the server negotiates when the handshake goes through
    strict_ok: bool = True  # strict proxylens lets the exchange through
    strict_rules: frozenset[str] | None = None
    cipher: str | None = None  # OpenSSL's name, when the case pins it
    min_version: V | None = None
    max_version: V | None = None
    ciphers: str | None = None
    tls13_suites: str | None = None
    alpn: tuple[str, ...] = ("http/1.1",)

    def setup(self, pki: Pki) -> TlsSetup:
        return TlsSetup(pki[self.cert], min_version=self.min_version, max_version=self.max_version,
                        ciphers=self.ciphers, tls13_suites=self.tls13_suites, alpn=self.alpn)

    def expected_rules(self, strict: bool) -> set[str]:
        return set(self.strict_rules if strict and self.strict_rules is not None else self.rules)


def rules(*names: str) -> frozenset[str]:
    return frozenset(f"tls.{n}" for n in names)


OK = rules("verified")
CASES: dict[str, Case] = {
    "good": Case("good", OK, "TLSv1.3", cipher="TLS_AES_256_GCM_SHA384"),
    "tls12-only": Case("good", OK, "TLSv1.2", cipher="ECDHE-RSA-AES256-GCM-SHA384", max_version=V.TLSv1_2),
    "tls13-only": Case("good", OK, "TLSv1.3", cipher="TLS_AES_256_GCM_SHA384", min_version=V.TLSv1_3),
    "tls13-chacha20": Case("good", OK, "TLSv1.3", cipher="TLS_CHACHA20_POLY1305_SHA256", min_version=V.TLSv1_3,
                           tls13_suites="TLS_CHACHA20_POLY1305_SHA256"),
    "cbc-suite": Case("good", rules("cbc-cipher", "profile-cipher"), "TLSv1.2", cipher="ECDHE-RSA-AES128-SHA",
                      max_version=V.TLSv1_2, ciphers="ECDHE-RSA-AES128-SHA"),
    "rsa-key-exchange": Case("good", rules("no-forward-secrecy", "profile-cipher"), "TLSv1.2",
                             cipher="AES128-GCM-SHA256", max_version=V.TLSv1_2, ciphers="AES128-GCM-SHA256"),
    "alpn-h2": Case("good", OK, "TLSv1.3", alpn=("h2", "http/1.1")),  # the matrix's client offers http/1.1 only
    "no-alpn": Case("good", OK, "TLSv1.3", alpn=()),
    "expiring": Case("expiring", rules("certificate-expiring"), "TLSv1.3"),
    "expired": Case("expired", rules("certificate-expired"), "TLSv1.3", strict_ok=False),
    "not-yet-valid": Case("not-yet-valid", rules("certificate-not-yet-valid"), "TLSv1.3", strict_ok=False),
    "wrong-host": Case("wrong-host", rules("hostname-mismatch"), "TLSv1.3", strict_ok=False),
    "self-signed": Case("self-signed", rules("self-signed"), "TLSv1.3", strict_ok=False),
    "unknown-ca": Case("unknown-ca", rules("unknown-issuer"), "TLSv1.3", strict_ok=False),
    "rsa1024": Case("rsa1024", rules("weak-key", "profile-key-size"), "TLSv1.3", strict_ok=False, ciphers=LEGACY),
    "incomplete-chain": Case("incomplete", rules("chain-incomplete"), "TLSv1.3", strict_ok=False),
    "out-of-order-chain": Case("out-of-order", rules("chain-order"), "TLSv1.3"),
    "sha1-leaf": Case("sha1", rules("weak-signature", "profile-signature"), "TLSv1.3", strict_ok=False,
                      ciphers=LEGACY),
    "tls10-only": Case("good", rules("obsolete-version", "cbc-cipher", "profile-version", "profile-cipher"), "TLSv1",
                       strict_ok=False, strict_rules=rules("no-common-version"), cipher="ECDHE-RSA-AES256-SHA",
                       min_version=V.TLSv1, max_version=V.TLSv1, ciphers=LEGACY),
}
FAILING = [name for name, case in CASES.items() if not case.strict_ok]


# -- helpers ---------------------------------------------------------------------------------------------------------

def client(proxy: ProxyProcess, *, http2: bool = False) -> httpx.Client:
    # one SSL context per client: httpx sets the ALPN offers (h2 or not) on the context it is given
    return httpx.Client(proxy=proxy.url, verify=ssl.create_default_context(cafile=str(proxy.ca)), http2=http2,
                        trust_env=False, timeout=30)


def start(tmp: Path, name: str, pki: Pki, *args: str) -> ProxyProcess:
    """A proxylens that trusts the test PKI's root upstream; each with its own home (and CA)."""
    return ProxyProcess(tmp / f"home-{name}", "--upstream-ca", str(pki.root_pem), *args, har=tmp / f"{name}.har")


def start_together(tmp: Path, pki: Pki, proxies: dict[str, tuple[str, ...]]) -> list[ProxyProcess]:
    """Start several proxies in parallel (each takes a second or so); none is left running if one fails."""
    with ThreadPoolExecutor(len(proxies)) as pool:
        futures = [pool.submit(start, tmp, name, pki, *args) for name, args in proxies.items()]
    if any(f.exception() for f in futures):
        for f in futures:
            if not f.exception():
                f.result().stop()
    return [f.result() for f in futures]


def tls_rules(entry: dict) -> set[str]:
    return set(rules_of(entry, "tls."))


def finding(entry: dict, rule: str) -> dict:
    matching = [f for f in entry["_proxylens"]["findings"] if f["rule"] == rule]
    assert len(matching) == 1, (rule, rules_of(entry))
    return matching[0]


def server_facts(entry: dict) -> dict:
    return entry["_proxylens"]["facts"]["tls"]["server"]


def client_facts(entry: dict) -> dict:
    return entry["_proxylens"]["facts"]["tls"]["client"]


def cn(dn: str | None) -> str | None:
    m = re.search(r"CN=([^,]+)", dn or "")
    return m.group(1) if m else None


def as_errors(errors: list[tuple[int, int, str]]) -> list[dict]:
    return [{"depth": d, "code": c, "message": m} for d, c, m in errors]


def connection_facts(entry: dict) -> dict:
    """The TLS facts that belong to the connection (expires_in_days moves with the request's time)."""
    server = {k: v for k, v in server_facts(entry).items() if k != "expires_in_days"}
    return {"client": client_facts(entry), "server": server}


def raw_request(proxy: ProxyProcess, connect: str, sni: str | None, host: str, path: str) -> bytes:
    """CONNECT through the proxy, TLS with the SNI given (None: no server_name at all), one HTTP/1.1 request.

    Keep-alive, read by Content-Length: a ``Connection: close`` would make the origin close first
    (see test_an_origin_closing_after_its_response_keeps_the_verification)."""
    with socket.create_connection((proxy.host, proxy.port), timeout=30) as sock:
        sock.sendall(f"CONNECT {connect} HTTP/1.1\r\nHost: {connect}\r\n\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 200"), "the tunnel was not opened"
        ctx = ssl.create_default_context(cafile=str(proxy.ca))
        ctx.check_hostname = False  # the proxy's certificate is checked against its CA, not a name
        with ctx.wrap_socket(sock, server_hostname=sni) as tls:
            tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            data = b""
            while b"\r\n\r\n" not in data and (chunk := tls.recv(65536)):
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length: *(\d+)", head)
            while (length is None or len(body) < int(length.group(1))) and (chunk := tls.recv(65536)):
                body += chunk
    return head + b"\r\n\r\n" + body


# -- the matrix: every server configuration through a strict and an --ssl-insecure proxylens -----------------------

@dataclass
class Leg:
    proxy: ProxyProcess
    got: dict[str, httpx.Response] = field(default_factory=dict)
    har: dict = field(default_factory=dict)
    entries: dict[str, dict] = field(default_factory=dict)


@dataclass
class Matrix:
    pki: Pki
    origins: dict[str, TlsOrigin]
    strict: Leg
    insecure: Leg
    openssl: dict[str, SClient]  # s_client at OpenSSL's default security level: strict proxylens's peer
    openssl_legacy: dict[str, SClient]  # s_client at @SECLEVEL=0: --ssl-insecure's peer


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("tls-pki"))


@pytest.fixture(scope="module")
def origins(pki: Pki):
    running = {name: TlsOrigin(case.setup(pki)) for name, case in CASES.items()}
    yield running
    for origin in running.values():
        origin.close()


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory, pki: Pki, origins: dict[str, TlsOrigin]) -> Matrix:
    tmp = tmp_path_factory.mktemp("tls-matrix")
    strict, insecure = (Leg(p) for p in start_together(tmp, pki, {"strict": (), "insecure": ("--ssl-insecure",)}))
    try:
        with ThreadPoolExecutor(8) as pool:
            # s_client offers what the matrix's client (httpx, HTTP/1.1) makes proxylens offer upstream
            openssl = pool.map(lambda n: s_client(origins[n].port, pki.root_pem, alpn="http/1.1"), CASES)
            legacy = pool.map(lambda n: s_client(origins[n].port, pki.root_pem, alpn="http/1.1", seclevel=0), CASES)
            run = Matrix(pki, origins, strict, insecure, dict(zip(CASES, openssl)), dict(zip(CASES, legacy)))
        for leg in (strict, insecure):
            with client(leg.proxy) as c:
                for name, origin in origins.items():
                    leg.got[name] = c.get(origin.url(f"/echo?case={name}"))
    finally:
        for leg in (strict, insecure):
            leg.proxy.stop()
    for leg in (strict, insecure):
        leg.har = leg.proxy.har()
        leg.entries = by_case(leg.har)
    return run


def test_hars_are_valid_and_hold_one_entry_per_case(matrix: Matrix):
    for leg in (matrix.strict, matrix.insecure):
        assert_valid_har(leg.har)
        assert set(leg.entries) == set(CASES)
        assert len(leg.har["log"]["entries"]) == len(CASES), "no CONNECT entries beside the requests"


@pytest.mark.parametrize("name", CASES)
def test_each_origin_is_configured_as_the_case_says(matrix: Matrix, name: str):
    """s_client at security level 0 reaches every origin. A failure here is a wrong setup, not a proxylens bug."""
    case, sc = CASES[name], matrix.openssl_legacy[name]
    assert sc.established, sc.output
    assert sc.protocol == case.version
    if case.cipher:
        assert sc.cipher == case.cipher
    assert sc.alpn == ("http/1.1" if case.alpn else None)
    sent = matrix.pki[case.cert].certs
    assert [c.subject_cn for c in sc.chain] == [c.subject.rfc4514_string().removeprefix("CN=") for c in sent]
    assert sc.key_bits == sent[0].public_key().key_size


@pytest.mark.parametrize("name", CASES)
def test_strict_proxylens_agrees_with_s_client(matrix: Matrix, name: str):
    """Strict mode: same handshake and, error for error, OpenSSL's first verification error."""
    case, sc, entry = CASES[name], matrix.openssl[name], matrix.strict.entries[name]
    facts = server_facts(entry)
    assert facts["verify_enforced"] is True
    assert facts["sni"] == "localhost" and facts["alpn_offered"] == ["http/1.1"]
    if case.strict_ok:
        assert sc.established, sc.output
        assert (facts["version"], facts["cipher_openssl"], facts["alpn"]) == (sc.protocol, sc.cipher, sc.alpn)
        assert facts["handshake_error"] is None
    else:
        assert facts["version"] is None and facts["cipher_openssl"] is None, "the handshake failed"
        assert facts["handshake_error"]
    # OpenSSL stops strict proxylens at the first error; s_client goes on and prints them all
    assert facts["verify_errors"] == as_errors(sc.errors[:1])
    assert facts["verify_error"] == (sc.errors[0][2] if sc.errors else None)
    if name == "tls10-only":
        # neither gets to a session: proxylens refuses TLS 1.0 outright; s_client (security level 2) fails
        # on the server's SHA-1/MD5 key exchange signature after verifying the chain
        assert not sc.established and "legacy sigalg disallowed" in sc.output
        assert facts["verified"] is None and facts["certificate"] is None, "no certificate was received"
        assert "cannot agree on a TLS version" in facts["handshake_error"]
        return
    assert facts["verified"] is (not sc.errors)
    assert_same_certificates(facts, sc)


@pytest.mark.parametrize("name", CASES)
def test_insecure_proxylens_agrees_with_s_client(matrix: Matrix, name: str):
    """--ssl-insecure: every handshake completes; every error OpenSSL reported is kept, as s_client lists them."""
    sc, entry = matrix.openssl_legacy[name], matrix.insecure.entries[name]
    facts = server_facts(entry)
    assert facts["verify_enforced"] is False
    assert sc.established, sc.output
    assert (facts["version"], facts["cipher_openssl"], facts["alpn"]) == (sc.protocol, sc.cipher, sc.alpn)
    assert facts["handshake_error"] is None
    assert facts["verify_errors"] == as_errors(sc.errors)
    assert facts["verify_error"] == (sc.errors[0][2] if sc.errors else None)
    last = facts["verify_errors"][-1] if facts["verify_errors"] else {"code": 0, "message": "ok"}
    assert (last["code"], last["message"]) == (sc.verify_code, sc.verify_message), "s_client's Verify return code"
    assert facts["verified"] is (sc.verify_code == 0)
    assert_same_certificates(facts, sc)


def assert_same_certificates(facts: dict, sc: SClient) -> None:
    assert facts["certificate"]["key_bits"] == sc.key_bits, "Server public key is N bit"
    assert [(cn(c["subject"]), cn(c["issuer"])) for c in facts["chain"]] == \
        [(c.subject_cn, c.issuer_cn) for c in sc.chain]
    assert [(c["key_type"], c["key_bits"], c["signature_algorithm"]) for c in facts["chain"]] == \
        [(c.key_type, c.key_bits, c.signature_algorithm) for c in sc.chain]


@pytest.mark.parametrize("name", CASES)
def test_strict_mode_findings_and_har_entry(matrix: Matrix, name: str):
    case, got, entry = CASES[name], matrix.strict.got[name], matrix.strict.entries[name]
    assert tls_rules(entry) == case.expected_rules(strict=True)
    if case.strict_ok:
        assert got.status_code == 200 and got.json()["path"] == f"/echo?case={name}"
        assert entry["response"]["status"] == 200 and "_error" not in entry
        return
    assert got.status_code == 502, "proxylens refuses what a browser refuses"
    assert entry["response"]["status"] == 0, "no origin response"
    assert entry["response"]["_proxyStatus"] == 502
    assert entry["_error"]
    if name == "tls10-only":
        return  # its error kind and status rule: test_tls10_strict_failure_is_a_tls_failure
    message = server_facts(entry)["verify_error"]
    assert entry["_error"] == f"Certificate verify failed: {message}"
    assert entry["response"]["_errorKind"] == "tls"
    status = finding(entry, "status.upstream-tls-failed")
    assert status["severity"] == "error" and message in status["summary"], "names OpenSSL's error"
    for rule in case.rules:
        assert LET_THROUGH not in finding(entry, rule)["summary"]


@pytest.mark.parametrize("name", CASES)
def test_insecure_mode_lets_the_exchange_through_and_flags_it(matrix: Matrix, name: str):
    case, got, entry = CASES[name], matrix.insecure.got[name], matrix.insecure.entries[name]
    assert got.status_code == 200 and got.json()["path"] == f"/echo?case={name}", "the origin's own answer"
    assert entry["response"]["status"] == 200 and "_error" not in entry
    assert tls_rules(entry) == case.expected_rules(strict=False)
    assert not rules_of(entry, "status.upstream"), "nothing failed upstream"
    if server_facts(entry)["verify_errors"]:  # the findings say a browser would have refused it
        assert [r for r in case.rules if LET_THROUGH in finding(entry, r)["summary"]], rules_of(entry, "tls.")


def test_severities_and_evidence_of_the_chain_findings(matrix: Matrix):
    strict, insecure = matrix.strict.entries, matrix.insecure.entries
    assert finding(strict["good"], "tls.verified")["severity"] == "good"
    assert finding(strict["good"], "tls.verified")["evidence"] == {"version": "TLSv1.3",
                                                                 "cipher": "TLS_AES_256_GCM_SHA384"}
    incomplete = finding(insecure["incomplete-chain"], "tls.chain-incomplete")
    assert incomplete["severity"] == "error"
    assert incomplete["evidence"]["openssl_errors"] == (
        "depth 0: unable to get local issuer certificate (20); depth 0: unable to verify the first certificate (21)")
    assert INTERMEDIATE_CN in incomplete["summary"], "names the missing issuer"
    order = finding(strict["out-of-order-chain"], "tls.chain-order")
    assert order["severity"] == "warning" and server_facts(strict["out-of-order-chain"])["chain_in_order"] is False
    mismatch = finding(strict["wrong-host"], "tls.hostname-mismatch")
    assert mismatch["evidence"]["host"] == "localhost" and mismatch["evidence"]["sans"] == OTHER_HOST
    assert server_facts(strict["wrong-host"])["hostname_covered"] is False
    expiring = finding(strict["expiring"], "tls.certificate-expiring")
    assert expiring["severity"] == "warning" and expiring["evidence"]["threshold_days"] == 30
    assert 9 <= expiring["evidence"]["days_left"] <= 10
    assert finding(strict["rsa-key-exchange"], "tls.no-forward-secrecy")["evidence"]["cipher"] == \
        "TLS_RSA_WITH_AES_128_GCM_SHA256"
    assert server_facts(strict["rsa-key-exchange"])["forward_secrecy"] is False
    assert server_facts(strict["cbc-suite"])["cipher"] == "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
    profile = server_facts(strict["cbc-suite"])["profile"]
    assert profile["name"] == "intermediate" and profile["meets"] is False
    assert [b["rule"] for b in profile["breaches"]] == ["cipher"]
    assert finding(insecure["tls10-only"], "tls.obsolete-version")["evidence"] == {"version": "TLSv1"}
    no_version = finding(strict["tls10-only"], "tls.no-common-version")
    assert no_version["severity"] == "error" and "cannot agree on a TLS version" in no_version["evidence"]["error"]


def test_tls10_strict_failure_is_a_tls_failure(matrix: Matrix):
    entry = matrix.strict.entries["tls10-only"]
    assert entry["response"]["_errorKind"] == "tls"
    assert "status.upstream-tls-failed" in rules_of(entry)
    assert "status.no-response" not in rules_of(entry)


@pytest.mark.parametrize("name, rule", [("rsa1024", "tls.weak-key"), ("sha1-leaf", "tls.weak-signature")])
def test_insecure_mode_still_flags_weak_keys_and_digests(matrix: Matrix, name: str, rule: str):
    # --ssl-insecure connects at OpenSSL security level 0 (so TLS 1.0 servers can be inspected), where
    # OpenSSL no longer reports errors 66-68; proxylens's own chain checks still do, marked as let through.
    strict, insecure = server_facts(matrix.strict.entries[name]), server_facts(matrix.insecure.entries[name])
    assert strict["verified"] is False and strict["verify_errors"][0]["code"] in (66, 68)
    assert insecure["verify_enforced"] is False
    assert LET_THROUGH in finding(matrix.insecure.entries[name], rule)["summary"]
    assert rule in rules_of(matrix.strict.entries[name])


# -- every exchange of a connection carries the connection's facts ---------------------------------------------------

@dataclass
class ConnectionRun:
    h1: list[httpx.Response]
    h2: list[httpx.Response]
    closing: dict[str, httpx.Response]
    entries: dict[str, dict]
    origins: dict[str, TlsOrigin]
    h2_s_client: SClient


@pytest.fixture(scope="module")
def connection_run(tmp_path_factory: pytest.TempPathFactory, pki: Pki, origins: dict[str, TlsOrigin]):
    """Through an --ssl-insecure proxylens: three requests on one HTTP/1.1 keep-alive connection to the
    expired-certificate origin, three HTTP/2 streams on one connection to the h2 origin, and one request each
    that the origin answers with Connection: close."""
    tmp = tmp_path_factory.mktemp("tls-connections")
    proxy = start(tmp, "connections", pki, "--ssl-insecure")
    expired, h2 = origins["expired"], origins["alpn-h2"]
    try:
        with client(proxy) as c:
            h1 = [c.get(expired.url(f"/echo?case=h1-{i}")) for i in range(3)]
        with client(proxy, http2=True) as c:
            streams = [c.get(h2.url(f"/echo?case=h2-{i}")) for i in range(3)]
        closing = {}
        for name in ("good", "expired"):
            with client(proxy) as c:
                closing[name] = c.get(origins[name].url(f"/echo?case=close-{name}"), headers={"Connection": "close"})
    finally:
        proxy.stop()
    har = proxy.har()
    assert_valid_har(har)
    offered = server_facts(by_case(har)["h2-0"])["alpn_offered"]
    sc = s_client(h2.port, pki.root_pem, alpn=",".join(offered), seclevel=0)
    return ConnectionRun(h1, streams, closing, by_case(har), origins, sc)


def test_keep_alive_requests_all_carry_the_connections_facts(connection_run: ConnectionRun):
    run = connection_run
    assert [r.status_code for r in run.h1] == [200] * 3
    served_on = {r.headers["x-origin-connection"] for r in run.h1}
    assert len(served_on) == 1, "one upstream connection served all three"
    (conn,) = [h for h in run.origins["expired"].handshakes if str(h.connection) in served_on]
    assert conn.requests == [f"/echo?case=h1-{i}" for i in range(3)]
    entries = [run.entries[f"h1-{i}"] for i in range(3)]
    first = connection_facts(entries[0])
    assert first["server"]["verify_errors"] == [{"depth": 0, "code": 10, "message": "certificate has expired"}]
    assert first["server"]["verify_enforced"] is False and first["client"]["alpn"] == "http/1.1"
    for entry in entries[1:]:
        assert connection_facts(entry) == first
        assert [(f["rule"], f["summary"]) for f in entry["_proxylens"]["findings"] if f["rule"].startswith("tls.")] \
            == [(f["rule"], f["summary"]) for f in entries[0]["_proxylens"]["findings"] if f["rule"].startswith("tls.")]
        assert LET_THROUGH in finding(entry, "tls.certificate-expired")["summary"]


def test_http2_streams_all_carry_the_connections_facts(connection_run: ConnectionRun):
    run = connection_run
    assert [(r.status_code, r.http_version) for r in run.h2] == [(200, "HTTP/2")] * 3
    assert [r.json()["stream"] for r in run.h2] == [1, 3, 5], "three streams of one HTTP/2 connection upstream"
    assert len({r.headers["x-origin-connection"] for r in run.h2}) == 1
    entries = [run.entries[f"h2-{i}"] for i in range(3)]
    assert {e["request"]["httpVersion"] for e in entries} == {"HTTP/2.0"}
    first = connection_facts(entries[0])
    assert first["client"]["alpn"] == "h2" and first["server"]["alpn"] == "h2"
    assert first["client"]["alpn_offers"] == ["http/1.1", "h2"], "httpx's order"
    assert first["server"]["alpn_offered"] == first["client"]["alpn_offers"], "proxylens mirrors the client's offers"
    assert first["server"]["verified"] is True
    for entry in entries[1:]:
        assert connection_facts(entry) == first
    assert tls_rules(entries[0]) == {"tls.verified"}, "same protocol on both sides: no tls.alpn-differs"
    sc = run.h2_s_client  # offering what proxylens offered, s_client gets the same answer
    assert (sc.protocol, sc.cipher, sc.alpn) == (first["server"]["version"], first["server"]["cipher_openssl"], "h2")


def test_an_origin_closing_after_its_response_keeps_the_verification(connection_run: ConnectionRun):
    good, expired = connection_run.entries["close-good"], connection_run.entries["close-expired"]
    assert connection_run.closing["good"].status_code == connection_run.closing["expired"].status_code == 200
    assert server_facts(good)["verified"] is True and server_facts(good)["verify_enforced"] is False
    assert "tls.verified" in rules_of(good)
    assert server_facts(expired)["verify_errors"] == [{"depth": 0, "code": 10, "message": "certificate has expired"}]
    assert LET_THROUGH in finding(expired, "tls.certificate-expired")["summary"]


# -- the client side: real clients, told apart by their ClientHello -------------------------------------------------

@dataclass
class ClientsRun:
    entries: dict[str, dict]
    proxy_port: int


CURL_HAS_HTTP2 = "HTTP2" in subprocess.run(["curl", "-V"], capture_output=True, text=True, check=False).stdout


@pytest.fixture(scope="module")
def clients_run(tmp_path_factory: pytest.TempPathFactory, pki: Pki, origins: dict[str, TlsOrigin]) -> ClientsRun:
    """One strict proxylens; the h2-capable origin; curl, httpx (HTTP/1.1 and HTTP/2) and raw Python sockets."""
    tmp = tmp_path_factory.mktemp("tls-clients")
    proxy = start(tmp, "clients", pki)
    h2, good = origins["alpn-h2"], origins["good"]
    try:
        out = subprocess.run(["curl", "-sS", "--fail", "-x", proxy.url, "--cacert", str(proxy.ca),
                              h2.url("/echo?case=curl")], capture_output=True, text=True, env=proxylens_env(tmp),
                             timeout=60, check=False)
        assert out.returncode == 0, out.stderr
        with client(proxy) as c:
            assert c.get(h2.url("/echo?case=httpx-h1")).status_code == 200
        with client(proxy, http2=True) as c:
            assert c.get(h2.url("/echo?case=httpx-h2")).http_version == "HTTP/2"
        authority = f"localhost:{good.port}"
        # no SNI at all
        assert raw_request(proxy, authority, None, authority, "/echo?case=no-sni").startswith(b"HTTP/1.1 200")
        # SNI localhost on a tunnel to 127.0.0.1, a name the certificate also covers
        assert raw_request(proxy, f"127.0.0.1:{good.port}", "localhost", f"127.0.0.1:{good.port}",
                           "/echo?case=sni-ip").startswith(b"HTTP/1.1 200")
        # domain fronting: SNI and tunnel say localhost, the Host header another name
        assert raw_request(proxy, authority, "localhost", f"{OTHER_HOST}:{good.port}",
                           "/echo?case=fronting").startswith(b"HTTP/1.1 200")
        # SNI for a name the certificate does not cover, on a tunnel to localhost (upstream refuses it: 502)
        assert raw_request(proxy, authority, OTHER_HOST, authority, "/echo?case=sni-other").startswith(b"HTTP/1.1 502")
    finally:
        proxy.stop()
    har = proxy.har()
    assert_valid_har(har)
    return ClientsRun(by_case(har), proxy.port)


def ja4_counts(ja4: str) -> tuple[int, int]:
    """JA4 section a: protocol, version, SNI, two digits of cipher count, two of extension count, ALPN."""
    return int(ja4[4:6]), int(ja4[6:8])


def test_curl_and_python_clients_are_told_apart(clients_run: ClientsRun):
    curl, h1, h2 = (client_facts(clients_run.entries[k]) for k in ("curl", "httpx-h1", "httpx-h2"))
    for facts in (curl, h1, h2):
        assert facts["sni"] == "localhost" and facts["version"] == "TLSv1.3"
        assert facts["ja4"].startswith("t13d"), "TCP, TLS 1.3, SNI is a domain"
        assert ja4_counts(facts["ja4"]) == (len(facts["ciphers_offered"]), len(facts["extensions"]))
        assert facts["versions_offered"][0] == "TLSv1.3"
    if CURL_HAS_HTTP2:
        assert curl["alpn_offers"] == ["h2", "http/1.1"] and curl["alpn"] == "h2"
        assert curl["ja4"][8:10] == "h2"
        assert clients_run.entries["curl"]["request"]["httpVersion"] == "HTTP/2.0"
    else:
        assert curl["alpn_offers"] == ["http/1.1"]
    assert h1["alpn_offers"] == ["http/1.1"] and h1["alpn"] == "http/1.1" and h1["ja4"][8:10] == "h1"
    assert h2["alpn_offers"] == ["http/1.1", "h2"] and h2["alpn"] == "h2"
    # JA4 takes the first ALPN value only and JA3 none: to both, httpx with and without HTTP/2 look the same
    assert (h2["ja3"], h2["ja4"]) == (h1["ja3"], h1["ja4"])
    assert curl["ja3"] != h1["ja3"] and curl["ja4"] != h1["ja4"]
    assert curl["ja4"].split("_")[1] != h1["ja4"].split("_")[1], "different cipher suites offered"
    for entry in (clients_run.entries[k] for k in ("curl", "httpx-h1", "httpx-h2")):
        assert not rules_of(entry, "tls.client") and not rules_of(entry, "tls.sni")


def test_a_client_without_sni_is_flagged(clients_run: ClientsRun):
    entry = clients_run.entries["no-sni"]
    facts = client_facts(entry)
    assert facts["sni"] is None and facts["alpn_offers"] == []
    assert facts["ja4"].startswith("t13i") and facts["ja4"][8:10] == "00", "no SNI: 'i'; no ALPN: '00'"
    no_sni = finding(entry, "tls.client-no-sni")
    assert no_sni["severity"] == "warning" and no_sni["evidence"] == {"host": "localhost"}
    assert server_facts(entry)["sni"] == "localhost", "proxylens sent the tunnel's host name upstream"
    assert entry["response"]["status"] == 200


def test_sni_differing_from_the_tunnel_host_on_a_certificate_covering_both(clients_run: ClientsRun):
    entry = clients_run.entries["sni-ip"]
    mismatch = finding(entry, "tls.sni-host-mismatch")
    assert mismatch["severity"] == "info", "the certificate covers both names: legitimate reuse"
    assert mismatch["evidence"] == {"sni": "localhost", "host": "127.0.0.1", "certificate_covers_host": True}
    assert tls_rules(entry) == {"tls.sni-host-mismatch", "tls.verified"}, "info does not spoil the verdict"
    assert entry["response"]["status"] == 200


def test_host_header_differing_from_the_sni_is_flagged(clients_run: ClientsRun):
    entry = clients_run.entries["fronting"]
    assert {"name": "Host", "value": f"{OTHER_HOST}:{entry['_serverPort']}"} in entry["request"]["headers"]
    mismatch = finding(entry, "tls.sni-host-mismatch")
    assert mismatch["severity"] == "warning" and mismatch["evidence"]["host"] == OTHER_HOST


def test_sni_the_certificate_does_not_cover_is_not_called_connection_reuse(clients_run: ClientsRun):
    entry = clients_run.entries["sni-other"]
    assert entry["request"]["httpVersion"] == "HTTP/1.1"
    assert finding(entry, "tls.hostname-mismatch")["evidence"]["host"] == OTHER_HOST
    mismatch = finding(entry, "tls.sni-host-mismatch")
    assert "covers both" not in mismatch["summary"]
    assert mismatch["severity"] == "warning"


def test_chromium_client_hello(tmp_path: Path, pki: Pki, origins: dict[str, TlsOrigin], clients_run: ClientsRun):
    """Chromium: TLS 1.3 with GREASE (left out of the facts and of JA4's counts), h2 and http/1.1 offered,
    and since version 110 its extension order permuted per connection: one JA4, several JA3s."""
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    h2 = origins["alpn-h2"]
    proxy = start(tmp_path, "chromium", pki)
    connections = 4
    try:
        with sync_playwright() as p:
            # --ignore-certificate-errors: accept proxylens's certificates without a failed first handshake
            browser = p.chromium.launch(executable_path=executable, args=[
                *CHROMIUM_ARGS, "--ignore-certificate-errors", f"--proxy-server={proxy.url}",
                "--proxy-bypass-list=<-loopback>"])
            try:
                for i in range(connections):
                    context = browser.new_context()  # a fresh network context: a new connection, no resumption
                    page = context.new_page()
                    assert page.goto(h2.url(f"/echo?case=chromium-{i}")).status == 200
                    assert json.loads(page.inner_text("pre"))["protocol"] == "h2"
                    context.close()
            finally:
                browser.close()
    finally:
        proxy.stop()
    har = proxy.har()
    assert_valid_har(har)
    entries = by_case(har)
    facts = [client_facts(entries[f"chromium-{i}"]) for i in range(connections)]
    for f, entry in zip(facts, (entries[f"chromium-{i}"] for i in range(connections))):
        assert entry["request"]["httpVersion"] == "HTTP/2.0"
        assert f["sni"] == "localhost" and f["alpn_offers"] == ["h2", "http/1.1"] and f["alpn"] == "h2"
        assert f["ja4"].startswith("t13d") and f["ja4"][8:10] == "h2"
        assert ja4_counts(f["ja4"]) == (len(f["ciphers_offered"]), len(f["extensions"])), "GREASE-free counts"
        grease = {0x0A0A + 0x1010 * i for i in range(16)}
        assert not grease & set(f["extensions"]), "GREASE values are not in the facts"
        assert not [c for c in f["ciphers_offered"] if c.startswith("0x") and int(c, 16) in grease]
        assert "TLS_AES_128_GCM_SHA256" in f["ciphers_offered"] and "TLSv1.3" in f["versions_offered"]
        assert "tls.verified" in rules_of(entry) and not rules_of(entry, "tls.client")
    assert len({f["ja4"] for f in facts}) == 1, "one JA4 for every Chromium connection"
    assert len({f["ja3"] for f in facts}) > 1, "extension order permuted per connection: JA3 changes"
    python, curl = (client_facts(clients_run.entries[k]) for k in ("httpx-h1", "curl"))
    assert facts[0]["ja4"] not in (python["ja4"], curl["ja4"])


# -- mitmdump -s addons/tls.py: the analyzer in-process ----------------------------------------------------------------

@pytest.fixture(scope="module")
def mitmdump_flows(tmp_path_factory: pytest.TempPathFactory, pki: Pki, origins: dict[str, TlsOrigin]) -> dict:
    """mitmdump (default, strict verification) with only addons/tls.py; a good and an expired origin."""
    tmp = tmp_path_factory.mktemp("tls-mitmdump")
    flows = tmp / "flows.mitm"
    with Mitmdump(tmp, "-s", str(ROOT / "addons" / "tls.py"), "-w", str(flows),
                  "--set", f"ssl_verify_upstream_trusted_ca={pki.root_pem}") as mitmdump, \
            httpx.Client(proxy=mitmdump.url, trust_env=False, timeout=30,
                         verify=ssl.create_default_context(cafile=str(mitmdump.ca))) as c:
        assert c.get(origins["good"].url("/echo?case=good")).status_code == 200
        assert c.get(origins["expired"].url("/echo?case=expired")).status_code == 502
    from mitmproxy import io as mio

    with open(flows, "rb") as f:
        return {parse_qs(urlsplit(flow.request.url).query)["case"][0]: flow for flow in mio.FlowReader(f).stream()}


def test_mitmdump_runs_the_tls_addon_in_process(mitmdump_flows: dict):
    good, expired = mitmdump_flows["good"], mitmdump_flows["expired"]
    facts = good.metadata["proxylens"]["facts"]
    assert sorted(facts) == ["tls"]
    assert facts["tls"]["server"]["version"] == "TLSv1.3"
    assert facts["tls"]["server"]["cipher"] == "TLS_AES_256_GCM_SHA384"
    assert [cn(c["subject"]) for c in facts["tls"]["server"]["chain"]] == ["localhost", INTERMEDIATE_CN]
    assert facts["tls"]["client"]["sni"] == "localhost" and facts["tls"]["client"]["ja4"].startswith("t13d")
    assert expired.error is not None and expired.response is None
    assert expired.metadata["proxylens"]["facts"]["tls"]["server"]["verified"] is False


def test_mitmdump_tls_addon_reports_the_verification(mitmdump_flows: dict):
    good, expired = mitmdump_flows["good"], mitmdump_flows["expired"]
    assert good.metadata["proxylens"]["facts"]["tls"]["server"]["verified"] is True
    assert "tls.verified" in good.comment
    server = expired.metadata["proxylens"]["facts"]["tls"]["server"]
    assert server["verify_errors"] == [{"depth": 0, "code": 10, "message": "certificate has expired"}]
    assert "tls.certificate-expired" in expired.comment and expired.marked


# -- --tls-profile and --cert-expiry-days ------------------------------------------------------------------------------

def test_tls_profile_and_expiry_threshold_change_the_verdicts(tmp_path: Path, pki: Pki, origins: dict[str, TlsOrigin]):
    modern, old = start_together(tmp_path, pki, {"modern": ("--tls-profile", "modern", "--cert-expiry-days", "5"),
                                                 "old": ("--tls-profile", "old", "--ssl-insecure")})
    try:
        with client(modern) as c:
            for name in ("good", "tls12-only", "expiring"):
                assert c.get(origins[name].url(f"/echo?case={name}")).status_code == 200
        with client(old) as c:
            for name in ("cbc-suite", "tls10-only"):
                assert c.get(origins[name].url(f"/echo?case={name}")).status_code == 200
    finally:
        modern.stop()
        old.stop()
    strict, legacy = by_case(modern.har()), by_case(old.har())
    # modern: TLS 1.3 only, ECDSA certificates with ECDSA signatures; the RSA leaf breaks both
    assert tls_rules(strict["good"]) == rules("profile-certificate-type", "profile-signature")
    assert tls_rules(strict["tls12-only"]) == rules("profile-version", "profile-cipher", "profile-certificate-type",
                                                    "profile-signature")
    assert server_facts(strict["good"])["profile"]["name"] == "modern"
    assert finding(strict["tls12-only"], "tls.profile-cipher")["evidence"]["expected"] == "none below TLS 1.3"
    # 10 days left is not "soon" with --cert-expiry-days 5
    assert "tls.certificate-expiring" not in tls_rules(strict["expiring"])
    # old: TLS 1.0 and CBC suites are in the profile; CBC and TLS 1.0 are still flagged as such
    assert tls_rules(legacy["cbc-suite"]) == rules("cbc-cipher")
    assert server_facts(legacy["cbc-suite"])["profile"] == {"name": "old", "meets": True, "breaches": []}
    assert tls_rules(legacy["tls10-only"]) == rules("obsolete-version", "cbc-cipher")
