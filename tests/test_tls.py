"""The TLS analyzer (addons/tls.py): both sides of the proxy, the upstream chain, Mozilla's profiles.

Chains are real certificates (tests/support/certfactory.py) dated from T0; every exchange starts at T0
unless a case says otherwise, so "now" is fixed. OpenSSL's verification result is given as proxylens
records it live (proxy/tls_capture.py): (depth, X509_V_ERR code, message) in openssl-verify(1)'s words.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes

from addons.status import StatusAnalyzer
from addons.tls import DEFAULT_EXPIRY_DAYS, OWN_CHECKS, TlsAnalyzer
from certs.chain import hostname_covered
from addons.tls_names import IANA_BY_OPENSSL, cipher_traits, iana_cipher
from addons.tls_profiles import GUIDELINES, PROFILES, TLS13_SUITES, Breach, judge
from proxy.findings import Severity, catalog
from proxy.har import har_entry
from proxy.har_reader import HarEntry, exchange_from_har, iter_entries
from proxy.models import ClientTLS, Exchange, ExchangeError, Request, ServerTLS, Timings
from proxy.pipeline import Pipeline, Result
from proxy.session import Session
from tests.support.certfactory import (
    DAY,
    NOW,
    T0,
    OpensslUnavailable,
    ders,
    intermediate,
    issue,
    openssl_sha1_leaf,
    root,
)
from tests.support.clienthello import client_hello, modern_hello

DATA = Path(__file__).parent / "data"
GOOD, INFO, WARNING, ERROR = Severity.GOOD, Severity.INFO, Severity.WARNING, Severity.ERROR
LET_THROUGH = "(let through by --ssl-insecure; a browser would refuse it)"
NO_COMMON_VERSION = ("The remote server and mitmproxy cannot agree on a TLS version to use. You may need to adjust "
                     "mitmproxy's tls_version_server_min option.")
CLIENT_TLS_ERROR = ("Client TLS handshake failed. The client does not trust the proxy's certificate for a.test "
                    "(tlsv1 alert unknown ca)")
_ids = itertools.count(1)
PRODUCED: set[str] = set()  # every rule id a table case produced


# -- building blocks ------------------------------------------------------------------------------------------------

def ec_inter():
    return intermediate("p256")


def rsa_inter():
    return intermediate("rsa2048")


def leaf(host: str = "a.test", *, issuer=None, key: str = "p256", sans=None, days_left: float = 60,
         days_old: float = 30, not_before=None, not_after=None):
    """A leaf for *host* (SANs: the host and www.host unless given), by default from the EC intermediate."""
    return issue(host, key=key, issuer=issuer or ec_inter(),
                 sans=sans if sans is not None else (host, f"www.{host}"),
                 not_before=not_before or NOW - dt.timedelta(days=days_old),
                 not_after=not_after or NOW + dt.timedelta(days=days_left))


def server(*certs, sni: str | None = "a.test", version: str | None = "TLSv1.3",
           cipher: str | None = "TLS_AES_128_GCM_SHA256", alpn: str | None = "h2",
           alpn_offers: tuple[str, ...] = ("h2", "http/1.1"), errors: tuple = (), verified: bool | None = None,
           enforced: bool | None = True, handshake_error: str | None = None) -> ServerTLS:
    """What proxylens records for an upstream connection; *certs* default to a good EC chain for a.test."""
    certs = certs or (leaf(), ec_inter())
    if verified is None:
        verified = not errors
    return ServerTLS(sni=sni, version=version, cipher=cipher, alpn=alpn, alpn_offers=alpn_offers,
                     verified=verified, verify_error=errors[0][2] if errors else None, verify_errors=errors,
                     verify_enforced=enforced, handshake_error=handshake_error,
                     certificate_chain=ders(*certs))


def client(sni: str | None = "a.test", *, hello: bytes | None = None, version: str | None = "TLSv1.3",
           alpn: str | None = "h2") -> ClientTLS:
    if hello is None:
        hello = modern_hello(sni=sni)
    return ClientTLS(sni=sni, alpn_offers=("h2", "http/1.1"), version=version, cipher="TLS_AES_128_GCM_SHA256",
                     alpn=alpn, client_hello=hello)


def exchange(url: str = "https://a.test/", *, srv: ServerTLS | None = None, cli: ClientTLS | None = None,
             at: float = T0, method: str = "GET", error: ExchangeError | None = None,
             proxy_mode: str | None = None) -> Exchange:
    return Exchange(id=str(next(_ids)), request=Request(method, url, timestamp_start=at), error=error,
                    timings=Timings(started=at), client_tls=cli, server_tls=srv, proxy_mode=proxy_mode)


def failed_client_handshake(hello: bytes | None = None, message: str = CLIENT_TLS_ERROR) -> Exchange:
    """What proxylens records when a client rejects its certificate (proxy/snapshot.py client_tls_failure)."""
    return exchange("https://a.test:443/", method="CONNECT", error=ExchangeError(message, "client-tls"),
                    cli=ClientTLS(sni="a.test", alpn_offers=("h2", "http/1.1"),
                                  client_hello=hello if hello is not None else modern_hello()))


def run(x: Exchange, profile: str = "intermediate", expiry_days: int = DEFAULT_EXPIRY_DAYS) -> Result:
    result = Pipeline([TlsAnalyzer(profile, expiry_days)]).run(x)
    assert not [f for f in result.findings if f.rule == "proxylens.analyzer-error"], result.findings
    json.dumps(result.facts, allow_nan=False)  # facts go into HAR files
    PRODUCED.update(f.rule for f in result.findings)
    return result


def found(result: Result) -> list[tuple[str, Severity]]:
    return sorted((f.rule, f.severity) for f in result.findings)


def one(result: Result, rule: str):
    matches = [f for f in result.findings if f.rule == rule]
    assert len(matches) == 1, found(result)
    return matches[0]


def sha1_leaf():
    try:
        return openssl_sha1_leaf("a.test", "rsa2048")
    except OpensslUnavailable as e:
        pytest.skip(f"no SHA-1 certificate: {e}")


def sha1_exchange(**kw) -> Exchange:
    cert = sha1_leaf()
    return exchange(srv=server(cert, rsa_inter(), **kw), at=(cert.not_valid_before_utc + DAY).timestamp())


# -- the verdict table ------------------------------------------------------------------------------------------------

def _ok(*extra):
    return [*extra, ("tls.verified", GOOD)]


EXPIRED = (0, 10, "certificate has expired")
# id, exchange builder, profile, expiry_days, every finding expected (rule, severity)
CASES = [
    # the good case, and what does not spoil it
    ("verified", lambda: exchange(srv=server(), cli=client()), "intermediate", 30, _ok()),
    ("verified-tls12-ecdhe-gcm", lambda: exchange(srv=server(version="TLSv1.2",
                                                             cipher="ECDHE-ECDSA-AES128-GCM-SHA256")),
     "intermediate", 30, _ok()),
    ("verified-rsa-chain-old", lambda: exchange(srv=server(leaf(key="rsa2048", issuer=rsa_inter()), rsa_inter(),
                                                           version="TLSv1.2", cipher="ECDHE-RSA-AES128-GCM-SHA256")),
     "old", 30, _ok()),
    ("verified-p384-modern", lambda: exchange(srv=server(leaf(key="p384"), ec_inter())), "modern", 30, _ok()),
    ("verified-wildcard", lambda: exchange("https://www.a.test/", srv=server(
        leaf("a.test", sans=("*.a.test",)), ec_inter(), sni="www.a.test"), cli=client("www.a.test")),
     "intermediate", 30, _ok()),
    ("verified-ip-host", lambda: exchange("https://192.0.2.10/", srv=server(
        leaf("192.0.2.10", sans=("IP:192.0.2.10",)), ec_inter(), sni=None),
        cli=client(None, hello=modern_hello(sni=None))), "intermediate", 30, _ok()),  # no SNI for an IP: fine
    ("verified-ipv6-host", lambda: exchange("https://[2001:db8::10]/", srv=server(
        leaf("2001:db8::10", sans=("IP:2001:db8::10",)), ec_inter(), sni=None),
        cli=client(None, hello=modern_hello(sni=None))), "intermediate", 30, _ok()),
    ("sni-case-and-trailing-dot", lambda: exchange(srv=server(), cli=client("A.Test.")), "intermediate", 30, _ok()),
    ("alpn-same", lambda: exchange(srv=server(alpn="http/1.1"), cli=client(alpn="http/1.1")), "intermediate", 30,
     _ok()),
    ("expiring-below-threshold", lambda: exchange(srv=server(leaf(days_left=10), ec_inter())), "intermediate", 5,
     _ok()),
    # the client's side
    ("client-no-sni", lambda: exchange(srv=server(), cli=client(None)), "intermediate", 30,
     _ok(("tls.client-no-sni", WARNING))),
    ("client-no-sni-hello-only", lambda: exchange(srv=server(), cli=ClientTLS(
        client_hello=modern_hello(sni=None))), "intermediate", 30, _ok(("tls.client-no-sni", WARNING))),
    ("sni-host-mismatch", lambda: exchange(srv=server(leaf("b.test", sans=("b.test",)), ec_inter(), sni="b.test"),
                                           cli=client("b.test")), "intermediate", 30,
     _ok(("tls.sni-host-mismatch", WARNING))),
    ("sni-host-mismatch-coalesced", lambda: exchange(srv=server(
        leaf("b.test", sans=("b.test", "a.test")), ec_inter(), sni="b.test"), cli=client("b.test")),
     "intermediate", 30, _ok(("tls.sni-host-mismatch", INFO))),
    ("client-obsolete-only-tls10", lambda: exchange(srv=server(), cli=client(
        hello=client_hello(legacy_version=0x0301, ciphers=(0x002F, 0x0035), extensions=None), version=None)),
     "intermediate", 30, _ok(("tls.client-obsolete-only", WARNING))),
    ("client-obsolete-only-tls11", lambda: exchange(srv=server(), cli=client(
        hello=modern_hello(versions=(0x0302, 0x0301)), version=None)), "intermediate", 30,
     _ok(("tls.client-obsolete-only", WARNING))),
    ("client-handshake-failed", lambda: failed_client_handshake(), "intermediate", 30,
     [("tls.client-handshake-failed", ERROR)]),
    ("client-handshake-failed-old-client", lambda: failed_client_handshake(
        client_hello(legacy_version=0x0301, ciphers=(0x002F,), extensions=None)), "intermediate", 30,
     [("tls.client-handshake-failed", ERROR), ("tls.client-obsolete-only", WARNING)]),
    ("upstream-tls-error-is-not-the-client's", lambda: exchange(
        error=ExchangeError("certificate verify failed", "tls"), cli=client(version=None),
        srv=server(leaf(), errors=((0, 20, "unable to get local issuer certificate"),))), "intermediate", 30,
     [("tls.chain-incomplete", ERROR)]),
    ("reverse-mode-no-sni", lambda: exchange("https://origin.test/", cli=client(None),
                                             proxy_mode="reverse:https://origin.test/",
                                             srv=server(leaf("origin.test"), ec_inter(), sni="origin.test")),
     "intermediate", 30, _ok()),  # the client addressed proxylens, not origin.test
    ("reverse-mode-other-sni", lambda: exchange("https://origin.test/", cli=client("proxy.example"),
                                                proxy_mode="reverse:https://origin.test/",
                                                srv=server(leaf("origin.test"), ec_inter(), sni="origin.test")),
     "intermediate", 30, _ok()),
    ("regular-mode-still-compares", lambda: exchange(srv=server(leaf("b.test", sans=("b.test",)), ec_inter(),
                                                                sni="b.test"), cli=client("b.test"),
                                                     proxy_mode="regular"), "intermediate", 30,
     _ok(("tls.sni-host-mismatch", WARNING))),
    ("client-tls12-is-fine", lambda: exchange(srv=server(), cli=client(
        hello=modern_hello(versions=None, legacy_version=0x0303), version=None)), "intermediate", 30, _ok()),
    # the handshake
    ("no-common-version", lambda: exchange(srv=ServerTLS(sni="a.test", handshake_error=NO_COMMON_VERSION)),
     "intermediate", 30, [("tls.no-common-version", ERROR)]),
    ("other-handshake-error", lambda: exchange(srv=ServerTLS(sni="a.test", handshake_error="connection reset")),
     "intermediate", 30, []),  # status.upstream-tls-failed's, verbatim
    ("obsolete-version", lambda: exchange(srv=server(leaf(key="rsa2048", issuer=rsa_inter()), rsa_inter(),
                                                     version="TLSv1", cipher="ECDHE-RSA-AES128-SHA")),
     "intermediate", 30, [("tls.obsolete-version", ERROR), ("tls.cbc-cipher", WARNING),
                          ("tls.profile-version", WARNING), ("tls.profile-cipher", WARNING)]),
    ("obsolete-version-old-profile", lambda: exchange(srv=server(
        leaf(key="rsa2048", issuer=rsa_inter()), rsa_inter(), version="TLSv1.1", cipher="ECDHE-RSA-AES128-SHA")),
     "old", 30, [("tls.obsolete-version", ERROR), ("tls.cbc-cipher", WARNING)]),
    ("no-forward-secrecy", lambda: exchange(srv=server(leaf(key="rsa2048", issuer=rsa_inter()), rsa_inter(),
                                                       version="TLSv1.2", cipher="AES128-GCM-SHA256")),
     "old", 30, [("tls.no-forward-secrecy", WARNING)]),
    ("no-forward-secrecy-intermediate", lambda: exchange(srv=server(version="TLSv1.2", cipher="AES256-GCM-SHA384")),
     "intermediate", 30, [("tls.no-forward-secrecy", WARNING), ("tls.profile-cipher", WARNING)]),
    ("broken-cipher-3des-allowed-by-old", lambda: exchange(srv=server(
        leaf(key="rsa2048", issuer=rsa_inter()), rsa_inter(), version="TLSv1.2", cipher="DES-CBC3-SHA")),
     "old", 30, [("tls.broken-cipher", ERROR), ("tls.no-forward-secrecy", WARNING)]),
    ("broken-cipher-rc4", lambda: exchange(srv=server(version="TLSv1.2", cipher="ECDHE-RSA-RC4-SHA")),
     "intermediate", 30, [("tls.broken-cipher", ERROR), ("tls.profile-cipher", WARNING)]),
    ("broken-cipher-null", lambda: exchange(srv=server(version="TLSv1.2", cipher="NULL-SHA256")),
     "intermediate", 30, [("tls.broken-cipher", ERROR), ("tls.no-forward-secrecy", WARNING),
                          ("tls.profile-cipher", WARNING)]),
    ("cbc-cipher", lambda: exchange(srv=server(version="TLSv1.2", cipher="ECDHE-ECDSA-AES128-SHA256")),
     "intermediate", 30, [("tls.cbc-cipher", WARNING), ("tls.profile-cipher", WARNING)]),
    ("cbc-cipher-old", lambda: exchange(srv=server(leaf(key="rsa2048", issuer=rsa_inter()), rsa_inter(),
                                                   version="TLSv1.2", cipher="ECDHE-RSA-AES256-SHA")),
     "old", 30, [("tls.cbc-cipher", WARNING)]),
    ("alpn-not-offered", lambda: exchange(srv=server(alpn="h2", alpn_offers=("http/1.1",))), "intermediate", 30,
     [("tls.alpn-not-offered", ERROR)]),
    ("alpn-differs", lambda: exchange(srv=server(alpn="http/1.1"), cli=client(alpn="h2")), "intermediate", 30,
     _ok(("tls.alpn-differs", INFO))),
    ("alpn-differs-none-upstream", lambda: exchange(srv=server(alpn=None), cli=client(alpn="h2")), "intermediate",
     30, _ok(("tls.alpn-differs", INFO))),
    # dates
    ("certificate-expired", lambda: exchange(srv=server(leaf(days_left=-1, days_old=60), ec_inter(),
                                                        errors=(EXPIRED,))), "intermediate", 30,
     [("tls.certificate-expired", ERROR)]),
    ("certificate-expired-insecure", lambda: exchange(srv=server(leaf(days_left=-1, days_old=60), ec_inter(),
                                                                 errors=(EXPIRED,), enforced=False)),
     "intermediate", 30, [("tls.certificate-expired", ERROR)]),
    ("intermediate-expired", lambda: exchange(srv=server(
        leaf(issuer=expired_inter()), expired_inter(), errors=((1, 10, "certificate has expired"),))),
     "intermediate", 30, [("tls.certificate-expired", ERROR)]),
    ("certificate-not-yet-valid", lambda: exchange(srv=server(leaf(days_left=61, days_old=-1), ec_inter(),
                                                              errors=((0, 9, "certificate is not yet valid"),))),
     "intermediate", 30, [("tls.certificate-not-yet-valid", ERROR)]),
    ("certificate-expiring", lambda: exchange(srv=server(leaf(days_left=10), ec_inter())), "intermediate", 30,
     [("tls.certificate-expiring", WARNING)]),
    # names (RFC 6125: SANs only, a wildcard is one label)
    ("hostname-mismatch", lambda: exchange(srv=server(leaf("other.test", sans=("other.test",)), ec_inter(),
                                                      errors=((0, 62, "hostname mismatch"),))),
     "intermediate", 30, [("tls.hostname-mismatch", ERROR)]),
    ("hostname-mismatch-cn-only", lambda: exchange(srv=server(leaf("a.test", sans=()), ec_inter(),
                                                              errors=((0, 62, "hostname mismatch"),))),
     "intermediate", 30, [("tls.hostname-mismatch", ERROR)]),
    ("hostname-mismatch-no-san-extension", lambda: exchange(srv=server(
        issue("a.test", issuer=ec_inter(), sans=None), ec_inter(), errors=((0, 62, "hostname mismatch"),))),
     "intermediate", 30, [("tls.hostname-mismatch", ERROR)]),
    ("hostname-mismatch-wildcard-two-labels", lambda: exchange("https://x.www.a.test/", srv=server(
        leaf("a.test", sans=("*.a.test",)), ec_inter(), sni="x.www.a.test", errors=((0, 62, "hostname mismatch"),)),
        cli=client("x.www.a.test")), "intermediate", 30, [("tls.hostname-mismatch", ERROR)]),
    ("hostname-mismatch-wildcard-apex", lambda: exchange(srv=server(
        leaf("a.test", sans=("*.a.test",)), ec_inter(), errors=((0, 62, "hostname mismatch"),))),
     "intermediate", 30, [("tls.hostname-mismatch", ERROR)]),
    ("ip-mismatch", lambda: exchange("https://192.0.2.10/", srv=server(
        leaf("192.0.2.11", sans=("IP:192.0.2.11",)), ec_inter(), sni=None,
        errors=((0, 64, "IP address mismatch"),))), "intermediate", 30, [("tls.hostname-mismatch", ERROR)]),
    ("ip-host-dns-san-only", lambda: exchange("https://192.0.2.10/", srv=server(
        leaf("a.test"), ec_inter(), sni=None, errors=((0, 64, "IP address mismatch"),))), "intermediate", 30,
     [("tls.hostname-mismatch", ERROR)]),
    # trust: OpenSSL's verdict
    ("self-signed", lambda: exchange(srv=server(self_signed(), errors=((0, 18, "self-signed certificate"),))),
     "intermediate", 30, [("tls.self-signed", ERROR)]),
    ("self-signed-insecure", lambda: exchange(srv=server(self_signed(), errors=((0, 18, "self-signed certificate"),),
                                                         enforced=False)), "intermediate", 30,
     [("tls.self-signed", ERROR)]),
    ("unknown-issuer", lambda: exchange(srv=server(leaf(), ec_inter(), root(), errors=(
        (2, 19, "self-signed certificate in certificate chain"),))), "intermediate", 30,
     [("tls.unknown-issuer", ERROR)]),
    ("unknown-issuer-top-self-signed", lambda: exchange(srv=server(leaf(), ec_inter(), root(), errors=(
        (2, 20, "unable to get local issuer certificate"),))), "intermediate", 30, [("tls.unknown-issuer", ERROR)]),
    ("chain-incomplete", lambda: exchange(srv=server(leaf(), errors=(
        (0, 20, "unable to get local issuer certificate"), (0, 21, "unable to verify the first certificate")))),
     "intermediate", 30, [("tls.chain-incomplete", ERROR)]),
    ("issuer-of-intermediate-unknown", lambda: exchange(srv=server(leaf(), ec_inter(), errors=(
        (1, 2, "unable to get issuer certificate"),))), "intermediate", 30, [("tls.unknown-issuer", ERROR)]),
    ("chain-incomplete-insecure", lambda: exchange(srv=server(leaf(), errors=(
        (0, 21, "unable to verify the first certificate"),), enforced=False)), "intermediate", 30,
     [("tls.chain-incomplete", ERROR)]),
    ("chain-order", lambda: exchange(srv=server(leaf(), root(), ec_inter())), "intermediate", 30,
     [("tls.chain-order", WARNING)]),
    ("verify-failed", lambda: exchange(srv=server(errors=((0, 26, "unsupported certificate purpose"),))),
     "intermediate", 30, [("tls.verify-failed", ERROR)]),
    ("verify-failed-insecure", lambda: exchange(srv=server(errors=((0, 23, "certificate revoked"),),
                                                           enforced=False)), "intermediate", 30,
     [("tls.verify-failed", ERROR)]),
    ("verify-failed-no-chain", lambda: exchange(srv=ServerTLS(sni="a.test", version="TLSv1.3", verified=False,
                                                              verify_errors=(EXPIRED,), verify_enforced=True)),
     "intermediate", 30, [("tls.verify-failed", ERROR)]),  # no chain to check: OpenSSL's word is all there is
    ("unparseable-certificate", lambda: exchange(srv=server(leaf(), b"\x30\x03\x02\x01\x00")), "intermediate", 30,
     [("tls.verify-failed", ERROR)]),
    # keys and signatures
    ("weak-signature", lambda: sha1_exchange(errors=((0, 68, "CA signature digest algorithm too weak"),)),
     "intermediate", 30, [("tls.weak-signature", ERROR), ("tls.profile-signature", WARNING)]),
    ("weak-key-rsa1024", lambda: exchange(srv=server(leaf(key="rsa1024"), ec_inter(),
                                                     errors=((0, 66, "EE certificate key too weak"),))),
     "intermediate", 30, [("tls.weak-key", ERROR), ("tls.profile-key-size", WARNING)]),
    ("weak-key-p192", lambda: exchange(srv=server(leaf(key="p192"), ec_inter(),
                                                  errors=((0, 66, "EE certificate key too weak"),))),
     "intermediate", 30, [("tls.weak-key", ERROR), ("tls.profile-curve", WARNING)]),
    ("weak-key-intermediate", lambda: exchange(srv=server(
        leaf(issuer=weak_inter()), weak_inter(), errors=((1, 67, "CA certificate key too weak"),))),
     "intermediate", 30, [("tls.weak-key", ERROR)]),
    # Mozilla's profiles
    ("profile-version-modern", lambda: exchange(srv=server(version="TLSv1.2", cipher="ECDHE-ECDSA-AES128-GCM-SHA256")),
     "modern", 30, [("tls.profile-version", WARNING), ("tls.profile-cipher", WARNING)]),
    ("profile-cipher-dhe-dropped-in-5.8", lambda: exchange(srv=server(
        leaf(key="rsa2048", issuer=rsa_inter()), rsa_inter(), version="TLSv1.2", cipher="DHE-RSA-AES128-GCM-SHA256")),
     "intermediate", 30, [("tls.profile-cipher", WARNING)]),
    ("profile-certificate-type-modern-rsa", lambda: exchange(srv=server(leaf(key="rsa2048"), ec_inter())), "modern",
     30, [("tls.profile-certificate-type", WARNING)]),
    ("profile-certificate-type-ed25519", lambda: exchange(srv=server(leaf(key="ed25519"), ec_inter())),
     "intermediate", 30, [("tls.profile-certificate-type", WARNING)]),
    ("profile-certificate-type-old-ecdsa", lambda: exchange(srv=server(leaf(issuer=rsa_inter()), rsa_inter())),
     "old", 30, [("tls.profile-certificate-type", WARNING)]),
    ("profile-curve", lambda: exchange(srv=server(leaf(key="p521"), ec_inter())), "intermediate", 30,
     [("tls.profile-curve", WARNING)]),
    ("profile-signature-modern", lambda: exchange(srv=server(leaf(issuer=rsa_inter()), rsa_inter())), "modern", 30,
     [("tls.profile-signature", WARNING)]),
    ("profile-lifespan", lambda: exchange(srv=server(leaf(days_old=200, days_left=200), ec_inter())),
     "intermediate", 30, [("tls.profile-lifespan", WARNING)]),
    ("profile-lifespan-modern", lambda: exchange(srv=server(leaf(days_old=31, days_left=60), ec_inter())),
     "modern", 30, [("tls.profile-lifespan", WARNING)]),
]


def self_signed():
    return issue("a.test", key="p256", slot=3, issuer=None, sans=("a.test",))


def expired_inter():
    return issue("Expired Intermediate CA", key="p384", slot=1, issuer=root("p256"), sans=None, ca=True,
                 not_before=NOW - 800 * DAY, not_after=NOW - 2 * DAY)


def weak_inter():
    return intermediate("rsa1024", root_key="rsa2048")


@pytest.mark.parametrize("make, profile, expiry_days, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_verdicts(make, profile, expiry_days, expected):
    result = run(make(), profile, expiry_days)
    assert found(result) == sorted(expected)


def test_the_verdict_table_covers_every_tls_rule():
    catalog_rules = {r.id for r in catalog if r.id.startswith("tls.")}
    expected = {rule for case in CASES for rule, _ in case[4]}
    assert expected == catalog_rules, f"no row expects {sorted(catalog_rules - expected)}"
    produced = set()
    for _, make, profile, days, _ in CASES:
        try:
            produced |= {f.rule for f in run(make(), profile, days).findings}
        except pytest.skip.Exception:
            produced.add("tls.weak-signature")  # the SHA-1 case needs the openssl CLI; the table reports the skip
    assert produced == catalog_rules, f"never produced: {sorted(catalog_rules - produced)}"
    assert PRODUCED >= catalog_rules - {"tls.weak-signature"}


def test_findings_carry_the_catalog_entry():
    for _, make, profile, days, _ in CASES:
        try:
            result = run(make(), profile, days)
        except pytest.skip.Exception:
            continue
        for f in result.findings:
            rule = catalog.get(f.rule)
            assert f.reference == rule.reference and f.category == "tls" and f.detail == rule.detail, f.rule
            assert f.subject.startswith("tls."), f.rule


def test_good_only_when_nothing_upstream_is_wrong():
    client_rules = {"tls.client-no-sni", "tls.sni-host-mismatch", "tls.client-obsolete-only"}
    for case_id, make, profile, days, _ in CASES:
        try:
            result = run(make(), profile, days)
        except pytest.skip.Exception:
            continue
        upstream_bad = [f for f in result.findings if f.severity >= WARNING and f.rule not in client_rules]
        good = [f for f in result.findings if f.rule == "tls.verified"]
        server_tls = result.exchange.server_tls
        if upstream_bad or not server_tls.verified:
            assert not good, case_id
        else:
            assert len(good) == 1, case_id


# -- wording and evidence ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case_id, rule", [
    ("certificate-expired-insecure", "tls.certificate-expired"), ("self-signed-insecure", "tls.self-signed"),
    ("chain-incomplete-insecure", "tls.chain-incomplete"), ("verify-failed-insecure", "tls.verify-failed"),
])
def test_ssl_insecure_says_the_error_was_let_through(case_id, rule):
    make, profile, days = next(c[1:4] for c in CASES if c[0] == case_id)
    insecure = one(run(make(), profile, days), rule)
    assert insecure.summary.endswith(LET_THROUGH)
    enforced_case = case_id.removesuffix("-insecure")
    enforced = next((c for c in CASES if c[0] == enforced_case), None)
    if enforced is not None:
        assert LET_THROUGH not in one(run(enforced[1](), enforced[2], enforced[3]), rule).summary


def test_ssl_insecure_without_errors_adds_nothing():
    result = run(exchange(srv=server(leaf(days_left=10), ec_inter(), enforced=False)))
    assert LET_THROUGH not in one(result, "tls.certificate-expiring").summary


@pytest.mark.parametrize("code, message", [(26, "unsupported certificate purpose"), (23, "certificate revoked"),
                                           (7, "certificate signature failure"), (24, "invalid CA certificate"),
                                           (65, "Certificate Transparency required, but no valid SCTs found")])
def test_other_openssl_errors_are_reported_verbatim(code, message):
    result = run(exchange(srv=server(errors=((1, code, message),))))
    finding = one(result, "tls.verify-failed")
    assert finding.summary == f"Certificate verification failed at depth 1: {message}"
    assert finding.evidence == {"depth": 1, "code": code, "message": message}
    assert found(result) == [("tls.verify-failed", ERROR)]


@pytest.mark.parametrize("errors, chain, rule", [
    (((0, 18, "self-signed certificate"),), "self", "tls.self-signed"),
    (((2, 19, "self-signed certificate in certificate chain"),), "full", "tls.unknown-issuer"),
    (((0, 20, "unable to get local issuer certificate"),), "leaf", "tls.chain-incomplete"),
    (((0, 21, "unable to verify the first certificate"),), "leaf", "tls.chain-incomplete"),
    # leaf and intermediate sent, the intermediate's issuer unknown: a second intermediate the server must
    # send, or a private root to trust; proxylens cannot tell, so it names the issuer under unknown-issuer
    (((1, 2, "unable to get issuer certificate"),), "leaf+inter", "tls.unknown-issuer"),
    (((1, 20, "unable to get local issuer certificate"),), "leaf+inter", "tls.unknown-issuer"),
    (((2, 20, "unable to get local issuer certificate"),), "full", "tls.unknown-issuer"),
], ids=["18", "19", "20-leaf", "21", "2", "20-intermediate", "20-root-sent"])
def test_openssl_trust_errors_map_to_one_finding(errors, chain, rule):
    certs = {"self": (self_signed(),), "full": (leaf(), ec_inter(), root()), "leaf": (leaf(),),
             "leaf+inter": (leaf(), ec_inter())}[chain]
    result = run(exchange(srv=server(*certs, errors=errors)))
    assert found(result) == [(rule, ERROR)]
    finding = result.findings[0]
    depth, code, message = errors[0]
    assert finding.evidence["openssl_errors"] == f"depth {depth}: {message} ({code})"
    assert finding.subject == "tls.server.certificate"


def test_chain_incomplete_names_the_missing_issuer():
    finding = one(run(exchange(srv=server(leaf(), errors=((0, 20, "unable to get local issuer certificate"),)))),
                  "tls.chain-incomplete")
    assert "Test Intermediate CA p256" in finding.summary and "a.test" in finding.summary


@pytest.mark.parametrize("code", sorted(OWN_CHECKS))
def test_own_check_codes_never_become_verify_failed_when_the_chain_is_known(code):
    assert OWN_CHECKS == {9, 10, 62, 64, 66, 67, 68}
    certs = {9: (leaf(days_left=61, days_old=-1), ec_inter()), 10: (leaf(days_left=-1, days_old=60), ec_inter()),
             62: (leaf("b.test", sans=("b.test",)), ec_inter()), 64: (leaf(), ec_inter()),
             66: (leaf(key="rsa1024"), ec_inter()), 67: (leaf(issuer=weak_inter()), weak_inter()),
             68: None}[code]
    errors = ((0, code, "whatever OpenSSL said"),)
    if code == 68:
        x = sha1_exchange(errors=errors)
    elif code == 64:
        x = exchange("https://192.0.2.10/", srv=server(*certs, sni=None, errors=errors))
    else:
        x = exchange(srv=server(*certs, errors=errors))
    result = run(x)
    rules = {f.rule for f in result.findings}
    assert "tls.verify-failed" not in rules
    assert rules & {"tls.certificate-not-yet-valid", "tls.certificate-expired", "tls.hostname-mismatch",
                    "tls.weak-key", "tls.weak-signature"}


def test_profile_findings_name_the_profile_and_the_rule():
    seen = set()
    for case_id, make, profile, days, _ in CASES:
        try:
            result = run(make(), profile, days)
        except pytest.skip.Exception:
            continue
        server_facts = result.facts["tls"]["server"] or {}
        breaches = {b["rule"]: b for b in server_facts.get("profile", {}).get("breaches", [])}
        for f in result.findings:
            if not f.rule.startswith("tls.profile-"):
                continue
            rule = f.rule.removeprefix("tls.profile-")
            assert f.evidence["profile"] == profile and f.evidence["rule"] == rule, case_id
            assert f.summary.startswith(f"Mozilla {profile} profile, rule {rule}: "), f.summary
            assert f.subject == f"tls.server.{rule}"
            assert f.evidence["actual"] == breaches[rule]["actual"]
            assert f.evidence["expected"] == breaches[rule]["expected"]
            seen.add(rule)
    assert seen == {"version", "cipher", "certificate-type", "key-size", "curve", "signature", "lifespan"}


def test_sni_mismatch_evidence():
    warning = one(run(next(c[1] for c in CASES if c[0] == "sni-host-mismatch")()), "tls.sni-host-mismatch")
    assert warning.evidence == {"sni": "b.test", "host": "a.test", "certificate_covers_host": False}
    assert "domain fronting" in warning.summary
    info = one(run(next(c[1] for c in CASES if c[0] == "sni-host-mismatch-coalesced")()), "tls.sni-host-mismatch")
    assert info.severity == INFO and info.evidence["certificate_covers_host"] is True
    assert "HTTP/2 connection reuse" in info.summary


def test_hostname_mismatch_evidence_names_the_sans_and_ignores_the_cn():
    x = next(c[1] for c in CASES if c[0] == "hostname-mismatch-cn-only")()
    finding = one(run(x), "tls.hostname-mismatch")
    assert finding.evidence == {"host": "a.test", "sans": "", "cn": "a.test"}
    assert "no names (no subjectAltName)" in finding.summary


def test_expired_intermediate_names_its_depth():
    x = next(c[1] for c in CASES if c[0] == "intermediate-expired")()
    finding = one(run(x), "tls.certificate-expired")
    assert "(depth 1)" in finding.summary and finding.evidence["depth"] == 1
    assert finding.evidence["not_after"] == (NOW - 2 * DAY).isoformat()


# -- dates: boundaries --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("offset, expected", [
    (-1, [("tls.certificate-not-yet-valid", ERROR)]),
    (0, [("tls.verified", GOOD)]),  # RFC 5280 4.1.2.5: valid "from notBefore through notAfter, inclusive"
])
def test_not_before_boundary(offset, expected):
    cert = leaf(not_before=NOW, not_after=NOW + 60 * DAY)
    assert found(run(exchange(srv=server(cert, ec_inter()), at=T0 + offset))) == expected


@pytest.mark.parametrize("offset, expected", [
    (0, [("tls.certificate-expiring", WARNING)]),  # the last valid second
    (1, [("tls.certificate-expired", ERROR)]),
])
def test_not_after_boundary(offset, expected):
    cert = leaf(not_before=NOW - 60 * DAY, not_after=NOW)
    assert found(run(exchange(srv=server(cert, ec_inter()), at=T0 + offset))) == expected


@pytest.mark.parametrize("days, seconds_left, expiring", [
    (30, 30 * 86400, True),  # "expires within N days": exactly N days left warns
    (30, 30 * 86400 + 1, False),
    (10, 10 * 86400 - 1, True),
    (10, 10 * 86400 + 1, False),
    (0, 1, False),  # 0 turns the warning off
])
def test_expiring_threshold(days, seconds_left, expiring):
    cert = leaf(not_before=NOW - 30 * DAY, not_after=NOW + dt.timedelta(seconds=30 * 86400))
    at = T0 + 30 * 86400 - seconds_left
    result = run(exchange(srv=server(cert, ec_inter()), at=at), expiry_days=days)
    assert any(f.rule == "tls.certificate-expiring" for f in result.findings) is expiring
    if expiring:
        finding = one(result, "tls.certificate-expiring")
        assert finding.evidence["threshold_days"] == days
        assert finding.evidence["days_left"] == round(seconds_left / 86400, 1)


def test_only_the_leaf_is_expiring():
    inter = issue("Short Intermediate CA", key="p256", slot=1, issuer=root("p256"), sans=None, ca=True,
                  not_before=NOW - 300 * DAY, not_after=NOW + 5 * DAY)
    assert found(run(exchange(srv=server(leaf(issuer=inter), inter)))) == [("tls.verified", GOOD)]


def test_analyzer_arguments_are_checked():
    with pytest.raises(ValueError, match="unknown TLS profile"):
        TlsAnalyzer("paranoid")
    with pytest.raises(ValueError, match="must not be negative"):
        TlsAnalyzer(expiry_days=-1)
    assert TlsAnalyzer().profile is PROFILES["intermediate"] and TlsAnalyzer().expiry_days == 30


# -- facts ------------------------------------------------------------------------------------------------------------

def test_server_facts():
    cert = leaf()
    result = run(exchange(srv=server(cert, ec_inter()), cli=client()))
    facts = result.facts["tls"]["server"]
    assert {k: facts[k] for k in ("sni", "version", "cipher", "cipher_openssl", "alpn", "alpn_offered",
                                  "forward_secrecy", "verified", "verify_error", "verify_errors", "verify_enforced",
                                  "handshake_error", "chain_in_order", "hostname_covered", "expires_in_days")} == {
        "sni": "a.test", "version": "TLSv1.3", "cipher": "TLS_AES_128_GCM_SHA256",
        "cipher_openssl": "TLS_AES_128_GCM_SHA256", "alpn": "h2", "alpn_offered": ["h2", "http/1.1"],
        "forward_secrecy": True, "verified": True, "verify_error": None, "verify_errors": [], "verify_enforced": True,
        "handshake_error": None, "chain_in_order": True, "hostname_covered": True, "expires_in_days": 60.0}
    certificate = facts["certificate"]
    assert certificate == {
        "subject": "CN=a.test,O=proxylens tests", "issuer": "CN=Test Intermediate CA p256,O=proxylens tests",
        "sans": ["a.test", "www.a.test"], "dns_names": ["a.test", "www.a.test"], "ip_addresses": [],
        "not_before": "2023-10-15T22:13:20Z", "not_after": "2024-01-13T22:13:20Z",
        "key_type": "EC", "key_bits": 256, "signature_algorithm": "ecdsa-with-SHA256", "self_signed": False,
        "is_ca": False, "sha256": cert.cert.fingerprint(hashes.SHA256()).hex()}
    assert [c["subject"] for c in facts["chain"]] == ["CN=a.test,O=proxylens tests",
                                                      "CN=Test Intermediate CA p256,O=proxylens tests"]
    assert facts["chain"][1]["is_ca"] is True
    assert facts["profile"] == {"name": "intermediate", "meets": True, "breaches": []}
    good = one(result, "tls.verified")
    assert good.summary == ("TLSv1.3 TLS_AES_128_GCM_SHA256; certificate for a.test from Test Intermediate CA p256, "
                            "valid 60 more days")
    assert good.evidence == {"version": "TLSv1.3", "cipher": "TLS_AES_128_GCM_SHA256"}


def test_server_facts_of_a_failed_verification():
    errors = ((0, 20, "unable to get local issuer certificate"), (0, 21, "unable to verify the first certificate"))
    facts = run(exchange(srv=server(leaf(), errors=errors, enforced=False))).facts["tls"]["server"]
    assert facts["verified"] is False and facts["verify_enforced"] is False
    assert facts["verify_error"] == "unable to get local issuer certificate"
    assert facts["verify_errors"] == [{"depth": 0, "code": 20, "message": "unable to get local issuer certificate"},
                                      {"depth": 0, "code": 21, "message": "unable to verify the first certificate"}]


def test_server_facts_name_profile_breaches():
    facts = run(exchange(srv=server(leaf(key="rsa1024"), ec_inter(), version="TLSv1.2",
                                    cipher="ECDHE-RSA-AES128-SHA")), "intermediate").facts["tls"]["server"]
    assert facts["cipher"] == "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA" and facts["forward_secrecy"] is True
    assert facts["certificate"]["key_type"] == "RSA" and facts["certificate"]["key_bits"] == 1024
    assert facts["profile"]["name"] == "intermediate" and facts["profile"]["meets"] is False
    assert [(b["rule"], b["actual"]) for b in facts["profile"]["breaches"]] == [
        ("cipher", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"), ("key-size", "RSA 1024 bits")]


def test_handshake_failure_facts_have_no_profile():
    facts = run(exchange(srv=ServerTLS(sni="a.test", handshake_error=NO_COMMON_VERSION))).facts["tls"]["server"]
    assert facts["handshake_error"] == NO_COMMON_VERSION
    assert facts["certificate"] is None and facts["chain"] == [] and "profile" not in facts


def test_client_facts_from_a_real_hello():
    vectors = {v["id"]: v for v in json.loads((DATA / "tls_fingerprints.json").read_text())["vectors"]}
    vector = vectors["chrome-foxio-tls-sni-accounts.google.com"]
    hello = bytes.fromhex(vector["client_hello_hex"])
    result = run(exchange("https://accounts.google.com/", cli=ClientTLS(
        sni="accounts.google.com", alpn_offers=("h2", "http/1.1"), version="TLSv1.3",
        cipher="TLS_AES_128_GCM_SHA256", alpn="h2", client_hello=hello)))
    facts = result.facts["tls"]["client"]
    assert result.facts["tls"]["server"] is None and result.findings == []
    assert facts["ja4"] == vector["ja4"] and facts["ja4_r"] == vector["ja4_r"]
    assert len(facts["ja3"]) == 32 and facts["ja3_string"].startswith("771,4865-4866-4867-")
    assert facts["sni"] == "accounts.google.com" and facts["alpn_offers"] == ["h2", "http/1.1"]
    assert facts["versions_offered"] == ["TLSv1.3", "TLSv1.2"]
    assert facts["ciphers_offered"][:3] == ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                            "TLS_CHACHA20_POLY1305_SHA256"]
    assert len(facts["ciphers_offered"]) == 15  # GREASE left out
    assert facts["groups_offered"] == ["x25519", "secp256r1", "secp384r1"]
    assert facts["signature_algorithms"][0] == "ecdsa_secp256r1_sha256"
    assert 0 in facts["extensions"] and not any(e & 0x0F0F == 0x0A0A and e >> 8 == e & 0xFF
                                                for e in facts["extensions"])
    assert facts["cipher"] == "TLS_AES_128_GCM_SHA256" and facts["version"] == "TLSv1.3"


def test_client_facts_of_an_unreadable_hello():
    result = run(exchange(cli=ClientTLS(sni="a.test", version="TLSv1.3", client_hello=b"\x03\x03\x00")))
    facts = result.facts["tls"]["client"]
    assert facts["client_hello_error"] == "the ClientHello could not be parsed"
    assert facts["versions_offered"] == [] and facts["ciphers_offered"] == []
    assert result.findings == []


def test_client_facts_without_a_hello():
    result = run(exchange(cli=ClientTLS(sni="a.test", version="TLSv1.3", alpn="h2")))
    assert result.facts["tls"]["client"] == {"sni": "a.test", "alpn_offers": [], "version": "TLSv1.3",
                                             "cipher": None, "alpn": "h2", "versions_offered": [],
                                             "ciphers_offered": []}


def test_client_handshake_failure_says_what_happened():
    result = run(failed_client_handshake())
    finding = one(result, "tls.client-handshake-failed")
    assert finding.summary == f"The client's TLS handshake failed: {CLIENT_TLS_ERROR}"
    assert finding.evidence == {"error": CLIENT_TLS_ERROR} and finding.subject == "tls.client"
    assert "proxylens certs trust-help" in finding.detail and "NODE_EXTRA_CA_CERTS" in finding.detail
    assert result.facts["tls"]["server"] is None
    assert result.facts["tls"]["client"]["ja4"].startswith("t13d")


def test_client_handshake_failure_survives_a_har_round_trip():
    live = Pipeline([StatusAnalyzer(), TlsAnalyzer()]).run(failed_client_handshake())
    assert [f.rule for f in live.findings] == ["tls.client-handshake-failed"]
    entry = har_entry(live)
    assert entry["response"]["_errorKind"] == "client-tls"
    offline = exchange_from_har(HarEntry(0, entry, "proxylens"))
    assert offline.error is not None and offline.error.kind == "client-tls"
    again = Pipeline([StatusAnalyzer(), TlsAnalyzer()]).run(offline)
    assert [f.rule for f in again.findings] == ["tls.client-handshake-failed"]


def test_no_sni_finding_needs_evidence_of_tls():
    # No hello and no negotiated version: nothing says the client spoke TLS at all.
    assert run(exchange(cli=ClientTLS())).findings == []


def test_plain_http_is_not_analyzed():
    x = exchange("http://a.test/")
    assert TlsAnalyzer().analyze(x, Session()) is None
    assert "tls" not in run(x).facts


# -- HAR input: no DER, only Playwright's _securityDetails -------------------------------------------------------------

def har_exchange(details: dict, *, version: str | None = "TLSv1.3", at: float = T0) -> Exchange:
    x = exchange(srv=ServerTLS(version=version, security_details=details), at=at)
    return Exchange(id=x.id, request=x.request, timings=x.timings, server_tls=x.server_tls, source="har")


VALID_DETAILS = {"protocol": "TLS 1.3", "subjectName": "a.test", "issuer": "Test CA",
                 "validFrom": int(T0 - 30 * 86400), "validTo": int(T0 + 60 * 86400)}


def test_har_security_details_give_certificate_facts():
    result = run(har_exchange(VALID_DETAILS))
    facts = result.facts["tls"]["server"]
    assert facts["certificate"] == {"subject": "a.test", "issuer": "Test CA", "sans": [],
                                    "not_before": "2023-10-15T22:13:20Z", "not_after": "2024-01-13T22:13:20Z"}
    assert facts["expires_in_days"] == 60.0
    assert facts["verified"] is None and facts["chain"] == [] and facts["hostname_covered"] is None
    assert facts["profile"] == {"name": "intermediate", "meets": True, "breaches": []}
    assert result.findings == []  # nothing verified, nothing wrong: no GOOD either


def test_har_security_details_judge_the_version():
    result = run(har_exchange(VALID_DETAILS, version="TLSv1.2"), "modern")
    assert found(result) == [("tls.profile-version", WARNING)]


@pytest.mark.parametrize("details", [
    {}, {"protocol": "TLS 1.3"}, {"validTo": "2024-01-13"}, {"validFrom": None, "validTo": None},
    {"subjectName": 7, "issuer": ["x"], "validTo": 1.5e9},
])
def test_odd_har_security_details_do_not_crash(details):
    result = run(har_exchange(details))
    assert "tls" in result.facts


@pytest.mark.parametrize("days_left, rule", [(-1, "tls.certificate-expired"), (10, "tls.certificate-expiring")])
def test_har_security_details_give_expiry_findings(days_left, rule):
    details = {**VALID_DETAILS, "validTo": int(T0 + days_left * 86400)}
    result = run(har_exchange(details))
    assert result.facts["tls"]["server"]["expires_in_days"] == days_left
    assert rule in {f.rule for f in result.findings}


@pytest.mark.parametrize("details", [
    {**VALID_DETAILS, "validTo": int(T0 + 86400) * 1000},  # milliseconds, not seconds
    {**VALID_DETAILS, "sanList": 5},
], ids=["validTo-in-milliseconds", "sanList-not-a-list"])
def test_malformed_har_security_details_do_not_crash_the_analyzer(details):
    result = Pipeline([TlsAnalyzer()]).run(har_exchange(details))
    assert not [f for f in result.findings if f.rule == "proxylens.analyzer-error"], result.findings
    assert "tls" in result.facts


def test_a_real_playwright_har():
    entries = [exchange_from_har(e) for e in iter_entries(str(DATA / "playwright.har"))]
    with_tls = [x for x in entries if x.server_tls is not None]
    assert with_tls
    for x in with_tls:
        result = run(x)
        facts = result.facts["tls"]["server"]
        assert facts["version"] == "TLSv1.3"
        assert facts["certificate"]["subject"] == "www.example.org"
        assert facts["certificate"]["not_after"] == "2025-01-17T00:00:00Z"
        started = x.request.timestamp_start
        assert facts["expires_in_days"] == round((1737072000 - started) / 86400, 1)
        assert result.findings == []


# -- hostname_covered: RFC 6125 as browsers apply it ------------------------------------------------------------------

@pytest.mark.parametrize("host, sans, covered", [
    ("a.test", ("a.test",), True),
    ("A.TEST", ("a.test",), True),
    ("a.test", ("A.Test",), True),
    ("a.test.", ("a.test",), True),  # a trailing dot is the same name
    ("a.test", ("a.test.",), True),
    ("b.test", ("a.test", "b.test"), True),
    ("ab.test", ("a.test",), False),
    ("a.test", (), False),
    ("www.a.test", ("*.a.test",), True),
    ("WWW.A.TEST", ("*.a.test",), True),
    ("a.test", ("*.a.test",), False),  # the wildcard needs a label
    ("x.www.a.test", ("*.a.test",), False),  # ... exactly one
    ("a.test", ("*.test",), False),  # not a whole top-level domain
    ("foo.a.test", ("f*.a.test",), False),  # no partial-label wildcards (browsers; CA/B Forum BR 7.1.4.2)
    ("www.a.test", ("www.*.test",), False),  # only the left-most label
    ("xn--bcher-kva.test", ("xn--bcher-kva.test",), True),
    ("192.0.2.1", ("192.0.2.1",), True),
    ("192.0.2.1", ("192.0.2.2",), False),
    ("192.0.2.1", ("*.0.2.1",), False),  # no wildcards for IP addresses
    ("192.0.2.1", ("a.test",), False),
    ("a.test", ("192.0.2.1",), False),
    ("2001:db8::1", ("2001:db8:0:0:0:0:0:1",), True),  # IPv6 compared as addresses
    ("[2001:db8::1]", ("2001:db8::1",), True),
    ("2001:db8::1", ("2001:db8::2",), False),
])
def test_hostname_covered(host, sans, covered):
    ips = tuple(s for s in sans if _is_ip_literal(s))
    dns = tuple(s for s in sans if s not in ips)
    assert hostname_covered(host, dns, ips) is covered


def _is_ip_literal(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def test_an_ip_in_a_dns_san_does_not_cover_the_ip():
    cert = leaf("192.0.2.10", sans=("DNS:192.0.2.10",))
    x = exchange("https://192.0.2.10/", srv=server(cert, ec_inter(), sni=None, errors=((0, 64, "IP address mismatch"),)))
    assert ("tls.hostname-mismatch", ERROR) in found(run(x))


@pytest.mark.parametrize("error", [EXPIRED, (0, 62, "hostname mismatch")], ids=["expired", "hostname"])
def test_a_trusted_self_signed_certificate_is_not_called_untrusted(error):
    cert = issue("a.test", key="p256", slot=3, issuer=None, sans=("a.test",) if error[1] != 62 else ("b.test",),
                 not_before=NOW - 60 * DAY, not_after=NOW - DAY if error[1] == 10 else NOW + 60 * DAY)
    result = run(exchange(srv=server(cert, errors=(error,))))
    assert "tls.self-signed" not in {f.rule for f in result.findings}, found(result)


@pytest.mark.parametrize("enforced", [True, False], ids=["enforced", "ssl-insecure"])
def test_an_expired_trust_anchor_is_reported(enforced):
    x = exchange(srv=server(leaf(), ec_inter(), errors=((2, 10, "certificate has expired"),), enforced=enforced))
    result = run(x)
    assert {f.rule for f in result.findings} & {"tls.certificate-expired", "tls.verify-failed"}, found(result)


# -- cipher suites ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("iana, forward_secret, weaknesses", [
    ("TLS_AES_128_GCM_SHA256", True, set()),
    ("TLS_AES_256_GCM_SHA384", True, set()),
    ("TLS_CHACHA20_POLY1305_SHA256", True, set()),
    ("TLS_AES_128_CCM_8_SHA256", True, set()),
    ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", True, set()),
    ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", True, set()),
    ("TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", True, set()),
    ("TLS_RSA_WITH_AES_128_GCM_SHA256", False, set()),
    ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", True, {"CBC"}),
    ("TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", True, {"CBC"}),
    ("TLS_RSA_WITH_AES_256_CBC_SHA256", False, {"CBC"}),
    ("TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", False, {"CBC"}),
    ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", False, {"3DES", "CBC"}),
    ("TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", True, {"3DES", "CBC"}),
    ("TLS_RSA_WITH_RC4_128_MD5", False, {"RC4"}),  # HMAC-MD5 is not the weakness; RC4 is
    ("TLS_RSA_WITH_RC4_128_SHA", False, {"RC4"}),
    ("TLS_ECDHE_RSA_WITH_RC4_128_SHA", True, {"RC4"}),
    ("TLS_RSA_WITH_NULL_SHA256", False, {"NULL"}),
    ("TLS_RSA_WITH_NULL_MD5", False, {"NULL"}),
    ("TLS_ECDHE_ECDSA_WITH_NULL_SHA", True, {"NULL"}),
    ("TLS_NULL_WITH_NULL_NULL", False, {"NULL"}),
    ("TLS_RSA_EXPORT_WITH_RC4_40_MD5", False, {"EXPORT", "RC4"}),
    ("TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", False, {"EXPORT", "DES", "CBC"}),
    ("TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256", False, set()),  # static ECDH: no forward secrecy
    ("TLS_DH_RSA_WITH_AES_128_CBC_SHA", False, {"CBC"}),  # static DH
    ("TLS_PSK_WITH_AES_128_GCM_SHA256", False, set()),
    ("TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256", True, {"CBC"}),
])
def test_cipher_traits(iana, forward_secret, weaknesses):
    traits = cipher_traits(iana)
    assert traits.forward_secret is forward_secret
    assert set(traits.weaknesses) == weaknesses


@pytest.mark.parametrize("iana", ["TLS_RSA_WITH_DES_CBC_SHA", "TLS_RSA_WITH_IDEA_CBC_SHA"])
def test_single_des_and_idea_are_broken(iana):
    assert set(cipher_traits(iana).weaknesses) - {"CBC", "MD5"}


@pytest.mark.parametrize("name, iana", [
    ("ECDHE-RSA-AES128-GCM-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    ("ECDHE-ECDSA-CHACHA20-POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
    ("DES-CBC3-SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
    ("AES128-SHA", "TLS_RSA_WITH_AES_128_CBC_SHA"),
    ("TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384"),  # TLS 1.3 names are the same
    ("SOMETHING-NEW", "SOMETHING-NEW"),
    (None, None),
])
def test_iana_cipher(name, iana):
    assert iana_cipher(name) == iana


def test_every_cipher_mitmproxy_offers_upstream_has_an_iana_name():
    """An OpenSSL name missing from the table would be judged by its OpenSSL spelling (no "_WITH_"): no forward
    secrecy, no weaknesses. These are the suites proxylens can negotiate with an origin."""
    from mitmproxy.addons.tlsconfig import _DEFAULT_CIPHERS

    assert [c for c in _DEFAULT_CIPHERS if c not in IANA_BY_OPENSSL] == []


# -- Mozilla's profiles -------------------------------------------------------------------------------------------------

# mozilla/ssl-config-generator src/static/guidelines/5.8.json, verbatim (https://ssl-config.mozilla.org/guidelines/5.8.json)
MOZILLA = json.loads((DATA / "mozilla-guidelines-5.8.json").read_text())
CURVE_NAMES = {"prime256v1": "secp256r1"}  # OpenSSL's name for P-256 and the SEC one cryptography reports


def test_the_guidelines_file_is_the_one_the_profiles_cite():
    assert MOZILLA["version"] == 5.8 and MOZILLA["href"] == GUIDELINES
    assert set(PROFILES) == set(MOZILLA["configurations"])


@pytest.mark.parametrize("name", ["modern", "intermediate", "old"])
def test_profiles_match_mozilla_guidelines(name):
    conf, profile = MOZILLA["configurations"][name], PROFILES[name]
    assert profile.name == name
    assert list(profile.versions) == conf["tls_versions"]
    assert set(profile.ciphers) == set(conf["ciphers"]["iana"]) and len(profile.ciphers) == len(conf["ciphers"]["iana"])
    assert list(TLS13_SUITES) == conf["ciphersuites"]
    assert set(profile.certificate_types) == set(conf["certificate_types"])
    assert set(profile.certificate_signatures) == set(conf["certificate_signatures"])
    assert set(profile.certificate_curves) == {CURVE_NAMES.get(c, c) for c in conf["certificate_curves"]}
    assert profile.rsa_key_size == conf["rsa_key_size"]
    assert profile.maximum_certificate_lifespan == conf["maximum_certificate_lifespan"]
    # the OpenSSL names Mozilla gives beside the IANA ones are the ones the analyzer translates
    for openssl_name, iana in zip(conf["ciphers"]["openssl"], conf["ciphers"]["iana"], strict=True):
        assert IANA_BY_OPENSSL[openssl_name] == iana


GOOD_CERT = {"key_type": "EC", "key_bits": 256, "curve": "secp256r1", "signature": "ecdsa-with-SHA256",
             "lifespan_days": 90.0}
RSA_CERT = {"key_type": "RSA", "key_bits": 2048, "curve": None, "signature": "sha256WithRSAEncryption",
            "lifespan_days": 90.0}
TLS13 = {"version": "TLSv1.3", "cipher": "TLS_AES_128_GCM_SHA256"}


def _j(**kw):
    return kw


JUDGE = [
    # modern: TLS 1.3 only, ECDSA P-256/P-384 certificates signed with ECDSA, 90 days at most
    ("modern", _j(**TLS13, **GOOD_CERT), []),
    ("modern", _j(**TLS13, **{**GOOD_CERT, "curve": "secp384r1", "key_bits": 384,
                              "signature": "ecdsa-with-SHA384"}), []),
    ("modern", _j(version="TLSv1.3", cipher="TLS_CHACHA20_POLY1305_SHA256", **GOOD_CERT), []),
    ("modern", _j(version="TLSv1.3", cipher="TLS_AES_128_CCM_SHA256", **GOOD_CERT), ["cipher"]),
    ("modern", _j(version="TLSv1.2", cipher="TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", **GOOD_CERT),
     ["version", "cipher"]),
    ("modern", _j(**TLS13, **RSA_CERT), ["certificate-type", "signature"]),
    ("modern", _j(**TLS13, **{**GOOD_CERT, "signature": "sha256WithRSAEncryption"}), ["signature"]),
    ("modern", _j(**TLS13, **{**GOOD_CERT, "curve": "secp521r1", "key_bits": 521}), ["curve"]),
    ("modern", _j(**TLS13, **{**GOOD_CERT, "key_type": "Ed25519", "curve": None, "signature": "ed25519"}),
     ["certificate-type", "signature"]),
    ("modern", _j(**TLS13, **{**GOOD_CERT, "lifespan_days": 91.0}), ["lifespan"]),
    # intermediate: TLS 1.2 (six ECDHE AEAD suites) and 1.3; ECDSA or RSA >= 2048
    ("intermediate", _j(**TLS13, **GOOD_CERT), []),
    ("intermediate", _j(**TLS13, **RSA_CERT), []),
    *[("intermediate", _j(version="TLSv1.2", cipher=c, **RSA_CERT), []) for c in PROFILES["intermediate"].ciphers],
    ("intermediate", _j(version="TLSv1.2", cipher="TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", **RSA_CERT), ["cipher"]),
    ("intermediate", _j(version="TLSv1.2", cipher="TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", **RSA_CERT), ["cipher"]),
    ("intermediate", _j(version="TLSv1.1", cipher="TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", **RSA_CERT),
     ["version", "cipher"]),
    ("intermediate", _j(**TLS13, **{**RSA_CERT, "key_bits": 1024}), ["key-size"]),
    ("intermediate", _j(**TLS13, **{**RSA_CERT, "key_bits": 4096}), []),
    ("intermediate", _j(**TLS13, **{**RSA_CERT, "signature": "sha384WithRSAEncryption"}), ["signature"]),
    ("intermediate", _j(**TLS13, **{**RSA_CERT, "signature": "RSASSA-PSS"}), ["signature"]),
    ("intermediate", _j(**TLS13, **{**GOOD_CERT, "lifespan_days": 366.0}), []),
    ("intermediate", _j(**TLS13, **{**GOOD_CERT, "lifespan_days": 367.0}), ["lifespan"]),
    ("intermediate", _j(**TLS13, **{**GOOD_CERT, "lifespan_days": 398.0}), ["lifespan"]),
    # old: TLS 1.0 to 1.3, 21 suites down to 3DES, RSA certificates
    ("old", _j(version="TLSv1", cipher="TLS_RSA_WITH_3DES_EDE_CBC_SHA", **RSA_CERT), []),
    ("old", _j(version="TLSv1.1", cipher="TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", **RSA_CERT), []),
    ("old", _j(**TLS13, **RSA_CERT), []),
    ("old", _j(version="SSLv3", cipher="TLS_RSA_WITH_RC4_128_SHA", **RSA_CERT), ["version", "cipher"]),
    ("old", _j(version="TLSv1.2", cipher="TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", **RSA_CERT), ["cipher"]),
    ("old", _j(**TLS13, **GOOD_CERT), ["certificate-type", "signature"]),
    ("old", _j(**TLS13, **{**RSA_CERT, "key_bits": 1024}), ["key-size"]),
    ("old", _j(**TLS13, **{**RSA_CERT, "lifespan_days": 400.0}), ["lifespan"]),
]


@pytest.mark.parametrize("profile, kwargs, rules", JUDGE)
def test_judge(profile, kwargs, rules):
    assert [b.rule for b in judge(PROFILES[profile], **kwargs)] == rules


@pytest.mark.parametrize("profile", ["modern", "intermediate", "old"])
def test_judge_leaves_unknowns_alone(profile):
    nothing = {"version": None, "cipher": None, "key_type": None, "key_bits": None, "curve": None,
               "signature": None, "lifespan_days": None}
    assert judge(PROFILES[profile], **nothing) == []
    # a cipher without a version is not judged either (which list would apply?)
    assert judge(PROFILES[profile], **{**nothing, "cipher": "TLS_RSA_WITH_RC4_128_MD5"}) == []


def test_judge_says_what_was_expected():
    assert judge(PROFILES["modern"], version="TLSv1.2", cipher="TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                 key_type="RSA", key_bits=1024, curve=None, signature="sha256WithRSAEncryption",
                 lifespan_days=100.0) == [
        Breach("version", "TLSv1.2", "TLSv1.3"),
        Breach("cipher", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "none below TLS 1.3"),
        Breach("certificate-type", "rsa", "ecdsa"),
        Breach("signature", "sha256WithRSAEncryption", "ecdsa-with-SHA256, ecdsa-with-SHA384, ecdsa-with-SHA512"),
        Breach("lifespan", "100 days", "at most 90 days"),
    ]
    assert judge(PROFILES["intermediate"], version="TLSv1.3", cipher="TLS_AES_128_GCM_SHA256", key_type="RSA",
                 key_bits=1024, curve=None, signature="sha256WithRSAEncryption", lifespan_days=90.0) == [
        Breach("key-size", "RSA 1024 bits", "RSA 2048 bits")]
    assert judge(PROFILES["intermediate"], version="TLSv1.3", cipher="TLS_AES_128_GCM_SHA256", key_type="EC",
                 key_bits=521, curve="secp521r1", signature="ecdsa-with-SHA512", lifespan_days=90.0) == [
        Breach("curve", "secp521r1", "secp256r1, secp384r1")]
