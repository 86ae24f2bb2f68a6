"""The rich console: explain trees, findings, the live table, the summary, display filters, colour and
mode choice, and ``proxylens analyze`` with the console options.

Facts always come from the real analyzers (``proxy.worker.build_pipeline``) run over crafted exchanges
(``tests/support/traffic.py``), in session order, so a test fails when an analyzer's facts and the
sentences drawn from them drift apart. Only a custom analyzer's facts are written by hand. Output is
rendered into a ``StringIO`` console, 100 columns wide; assertions read the words a user reads, on
the text with tree guides removed and whitespace collapsed (``flat``), so that wrapping does not matter.

Behaviour that is wrong (a sentence a browser or the RFC disagrees with, a width not kept, a hidden
exchange the user asked for) is written with the correct expectation and marked
``xfail(strict=True)`` with the evidence in its reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import os
import random
import re
import string
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from addons import AnalysisOptions, builtin_analyzers
from proxy.analyzer import Analysis, FunctionAnalyzer
from proxy.console import ConsoleOutput
from proxy.display import DisplayConfig, DisplayError, Filter, check_categories, choose_mode, flow_of, parse_flow_filter
from proxy.explain import Explanation, FactsView, Selection, fact_lines, request_line
from proxy.findings import Finding, Severity, catalog
from proxy.live import CHROME_LINES, MAX_ROWS, LiveView, Rate, badges, shorten_host, shorten_path
from proxy.models import Body, ClientTLS, Exchange, ExchangeError, ServerTLS, Timings
from proxy.pipeline import Pipeline, Result
from proxy.plainlog import exchange_line, printable
from proxy.summary import EXAMPLES, LISTED_RULES, MAX_HOSTS, RuleStats, Tally, summary_lines, summary_text
from proxy.theme import THEME, color_wanted, make_console, severity_style, status_style
from proxy.worker import build_pipeline
from tests.support.certfactory import ders, intermediate, issue
from tests.support.clienthello import modern_hello
from tests.support.traffic import REFUSED, T0, ex, mixed_traffic, refused

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
PROXYLENS = Path(sys.executable).with_name("proxylens")
GOOD, INFO, WARNING, ERROR = Severity.GOOD, Severity.INFO, Severity.WARNING, Severity.ERROR
GUIDES = str.maketrans("", "", "│├└─")
SEVERITY_WORD = r"(good|info|warning|error)"


# -- rendering ------------------------------------------------------------------------------------------------------

def render(renderable, *, color: bool = False, width: int = 100, height: int | None = None) -> str:
    buffer = io.StringIO()
    console = make_console(buffer, color=color, width=width)
    if height is not None:
        console.height = height
    console.print(renderable)
    return buffer.getvalue()


def flat(text: str) -> str:
    """The words of a rendering: tree guides removed, every run of whitespace one space."""
    return " ".join(text.translate(GUIDES).split())


def words(text: str) -> str:
    return " ".join(text.split())


EVERYTHING = Selection()


def explain(result: Result, selection: Selection = EVERYTHING, *, redact: bool = False, color: bool = False,
            width: int = 100) -> str:
    return render(Explanation(result, selection, redact), color=color, width=width)


def session(*exchanges, options: AnalysisOptions | None = None) -> list[Result]:
    """The real pipeline (built-in analyzers, one session) over *exchanges*, in order."""
    pipeline = build_pipeline((), options)
    results = [pipeline.run(x) for x in exchanges]
    for r in results:
        assert not [f for f in r.findings if f.rule == "proxylens.analyzer-error"], r.findings
    return results


def finding_lines(text: str) -> list[tuple[str, str]]:
    """(severity, rule) of each finding drawn in an explain tree, top to bottom."""
    return re.findall(rf"[├└]── {SEVERITY_WORD}\s+([a-z0-9-]+\.[a-z0-9-]+) ", text)


@pytest.fixture
def colour_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A colour terminal's environment (rich honours NO_COLOR and TERM=dumb on its own, too)."""
    for name in ("NO_COLOR", "COLORTERM", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")


def sgr(style_name: str, text: str) -> str:
    """*text* as the theme's *style_name* draws it on a terminal (standard colours: same codes in every
    colour system)."""
    return THEME.styles[style_name].render(text)


# -- traffic ----------------------------------------------------------------------------------------------------------

APP = "https://app.test"
CORS_MODE = [("Origin", APP), ("Sec-Fetch-Mode", "cors"), ("Sec-Fetch-Site", "cross-site")]
ACAO, ACAC = "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials"
ACAM, ACAH = "Access-Control-Allow-Methods", "Access-Control-Allow-Headers"
GOOD_PREFLIGHT = [(ACAO, APP), (ACAC, "true"), (ACAM, "PUT"), (ACAH, "x-trace"), ("Access-Control-Max-Age", "600")]
STS = "Strict-Transport-Security"
AT = dt.datetime.fromtimestamp(T0, dt.UTC)  # traffic.ex(i) starts at T0 + i


def preflight(i: int, url: str, resp_headers) -> Exchange:
    return ex(i, url, method="OPTIONS", status=204, body=b"", date=True,
              headers=CORS_MODE + [("Access-Control-Request-Method", "PUT"), ("Access-Control-Request-Headers", "x-trace")],
              resp_headers=resp_headers)


def put_with_trace(i: int, url: str, resp_headers=((ACAO, APP), (ACAC, "true"))) -> Exchange:
    return ex(i, url, method="PUT", date=True, headers=CORS_MODE + [("X-Trace", "1"), ("Cookie", "sid=1")],
              resp_headers=list(resp_headers))


def leaf(days_left: float, days_old: float = 30):
    return issue("a.test", issuer=intermediate("p256"), sans=("a.test",), not_before=AT - dt.timedelta(days=days_old),
                 not_after=AT + dt.timedelta(days=days_left))


def server_tls(cert=None, *, errors: tuple = (), enforced: bool = True, handshake_error: str | None = None) -> ServerTLS:
    chain = () if handshake_error else ders(cert or leaf(90), intermediate("p256"))
    return ServerTLS(sni="a.test", version=None if handshake_error else "TLSv1.3",
                     cipher=None if handshake_error else "TLS_AES_128_GCM_SHA256",
                     alpn=None if handshake_error else "h2", alpn_offers=("h2", "http/1.1"),
                     verified=None if handshake_error else not errors, verify_error=errors[0][2] if errors else None,
                     verify_errors=errors, verify_enforced=enforced, handshake_error=handshake_error,
                     certificate_chain=chain)


def client_tls() -> ClientTLS:
    return ClientTLS(sni="a.test", alpn_offers=("h2", "http/1.1"), version="TLSv1.3", cipher="TLS_AES_128_GCM_SHA256",
                     alpn="h2", client_hello=modern_hello(sni="a.test"))


def with_tls(x, srv: ServerTLS | None = None, cli: ClientTLS | None = None, error: ExchangeError | None = None):
    return dataclasses.replace(x, server_tls=srv, client_tls=cli, **({"error": error} if error else {}))


EXPIRED = ((0, 10, "certificate has expired"),)


def _tls_ok():
    return [with_tls(ex(0, "https://a.test/", date=True), server_tls(), client_tls())]


def _tls_expired(enforced: bool = True):
    x = ex(0, "https://a.test/", status=None if enforced else 200, date=True)
    return [with_tls(x, server_tls(leaf(-2, 100), errors=EXPIRED, enforced=enforced), client_tls(),
                     ExchangeError("certificate verify failed", "tls") if enforced else None)]


def _everything() -> Result:
    """One exchange with findings of every severity from all five analyzers: a 500 without Date to a CORS request
    the server does not allow, with HSTS, over verified TLS."""
    x = with_tls(ex(0, "https://a.test/p?case=1", status=500, headers=CORS_MODE,
                    resp_headers=[(ACAO, "https://other.test"), (STS, "max-age=31536000")]), server_tls(), client_tls())
    result = session(x)[0]
    assert {f.severity for f in result.findings} == set(Severity)
    assert {f.category for f in result.findings} == {"caching", "cors", "status", "hsts", "tls"}
    return result


def _redirects(final: bool = False):
    chain = [ex(0, "http://a.test/old", status=301, body=b"", date=True, resp_headers=[("Location", "https://a.test/old")]),
             ex(1, "https://a.test/old", status=302, body=b"", date=True, resp_headers=[("Location", "https://a.test/new")])]
    return chain + ([ex(2, "https://a.test/new", date=True)] if final else [])


# id, exchanges of one session (the last one is explained), the analyzer shown, sentences the tree must say,
# words it must not say, findings it must list (severity, rule)
EXPLAIN_CASES = [
    # caching (RFC 9111; Chromium as the default engine)
    ("caching-fresh-browser-and-cdn",
     lambda: [ex(0, "https://cdn.test/app.js", date=True, resp_headers=[("Cache-Control", "max-age=600, s-maxage=3600")])],
     "caching", ["caching: fresh for 10 min in the browser (Chromium), 1 h on a CDN or shared proxy",
                 "freshness from max-age", "once stale: downloaded again in full (no validator)"], ["not stored"], []),
    ("caching-fresh-then-revalidated-with-etag",
     lambda: [ex(0, "https://cdn.test/app.js", date=True, resp_headers=[("Cache-Control", "max-age=600"), ("ETag", '"v1"')])],
     "caching", ["fresh for 10 min in the browser (Chromium), 10 min on a CDN",
                 "once stale: revalidated with If-None-Match", "validators: etag"], ["downloaded again"], []),
    ("caching-no-store",
     lambda: [ex(0, "https://cdn.test/me", date=True, resp_headers=[("Cache-Control", "no-store")])],
     "caching", ["caching: not stored by the browser (Chromium): Cache-Control: no-store",
                 "not stored by CDNs or shared proxies"], ["fresh for", "once stale"], []),
    ("caching-no-cache-with-etag",
     lambda: [ex(0, "https://cdn.test/feed", date=True, resp_headers=[("Cache-Control", "no-cache"), ("ETag", '"v1"')])],
     "caching", ["caching: stored by the browser (Chromium) but checked with the server before every reuse",
                 "a CDN stores it but revalidates before every reuse", "validators: etag"], ["fresh for"], []),
    ("caching-private",
     lambda: [ex(0, "https://cdn.test/me.json", date=True, resp_headers=[("Cache-Control", "private, max-age=60")])],
     "caching", ["caching: fresh for 1 min in the browser (Chromium); not stored by CDNs or shared proxies",
                 "private"], ["on a CDN or shared proxy"], []),
    ("caching-post",
     lambda: [ex(0, "https://api.test/orders", method="POST", status=201, date=True,
                 resp_headers=[("Cache-Control", "max-age=600"), ("Location", "https://api.test/orders/1")])],
     "caching", ["caching: not stored by the browser (Chromium)", "only for GET",
                 "not stored by CDNs or shared proxies"], ["fresh for"], []),
    ("caching-304-revalidation",
     lambda: [ex(0, "https://cdn.test/feed", date=True, resp_headers=[("Cache-Control", "no-cache"), ("ETag", '"v1"')]),
              ex(1, "https://cdn.test/feed", status=304, body=b"", date=True, headers=[("If-None-Match", '"v1"')],
                 resp_headers=[("Cache-Control", "no-cache"), ("ETag", '"v1"')])],
     "caching", ["status: 304 Not Modified", "conditional request (If-None-Match) answered 304"], [],
     [("good", "caching.revalidated")]),
    # cors (the Fetch standard; credentials from the wire)
    ("cors-simple-allowed",
     lambda: [ex(0, "https://api.test/data", date=True, headers=CORS_MODE + [("Cookie", "sid=1")],
                 resp_headers=[(ACAO, APP), (ACAC, "true"), ("Vary", "Origin")])],
     "cors", [("cors: allowed — Access-Control-Allow-Origin 'https://app.test' matches origin 'https://app.test' "
               "and credentials are allowed"), "simple request from https://app.test, credentials include"],
     ["blocked"], [("good", "cors.allowed")]),
    ("cors-simple-blocked",
     lambda: [ex(0, "https://api.test/data", date=True, headers=CORS_MODE, resp_headers=[(ACAO, "https://other.test")])],
     "cors", [("cors: blocked — Access-Control-Allow-Origin is 'https://other.test' but the request's Origin is "
               "'https://app.test'"), "simple request from https://app.test"], ["allowed —"],
     [("error", "cors.allow-origin-mismatch")]),
    ("cors-preflight-lacks-allow-headers",
     lambda: [preflight(0, "https://api.test/x", [(ACAO, APP), (ACAM, "PUT")])],
     "cors", ["cors: blocked", "Access-Control-Allow-Headers", "lacks 'x-trace'",
              "the browser does not send the actual request", "preflight asked for PUT with x-trace, answered 204"],
     # Fetch, CORS-preflight fetch: a cache entry is only created when the preflight succeeds
     ["reuses this answer", "cached"], [("error", "cors.header-not-allowed")]),
    ("cors-preflight-allowed",
     lambda: [preflight(0, "https://api.test/x", GOOD_PREFLIGHT)],
     "cors", ["cors: allowed", ("preflight asked for PUT with x-trace, answered 204; the browser reuses this answer "
                               "for 10 min")], ["blocked"], []),
    ("cors-actual-after-preflight",
     lambda: [preflight(0, "https://api.test/x", GOOD_PREFLIGHT), put_with_trace(1, "https://api.test/x")],
     "cors", ["cors: allowed", "preflighted request from https://app.test, credentials include",
              "preflight seen, answered 204"], ["did not see"], [("good", "cors.allowed")]),
    ("cors-actual-with-cached-preflight",
     lambda: [preflight(0, "https://api.test/x", GOOD_PREFLIGHT), put_with_trace(1, "https://api.test/x"),
              put_with_trace(300, "https://api.test/x")],
     "cors", ["cors: allowed", "preflight reused from the browser's cache"], ["did not see"],
     [("info", "cors.preflight-from-cache")]),
    ("cors-navigation",
     lambda: [ex(0, "https://api.test/page", date=True, headers=[("Sec-Fetch-Mode", "navigate"), ("Sec-Fetch-Dest", "document")])],
     "cors", ["cors: does not apply (a navigation: CORS does not apply)"], ["blocked", "allowed"], []),
    # status (RFC 9110)
    ("status-200", lambda: [ex(0, "https://a.test/", date=True)],
     "status", ["status: 200 OK: the request succeeded"], ["redirect", "no response"], []),
    ("status-404", lambda: [ex(0, "https://a.test/nope", status=404, date=True)],
     "status", ["status: 404 Not Found: the server has no current representation for the target resource"], [],
     [("info", "status.client-error")]),
    ("status-redirect-in-a-chain", lambda: _redirects(),
     "status", ["status: 302 Found", "redirects to https://a.test/new",
                "redirect chain (2 hops): http://a.test/old → https://a.test/old → https://a.test/new"], [], []),
    ("status-end-of-a-redirect-chain", lambda: _redirects(final=True),
     "status", ["status: 200 OK: the request succeeded",
                "redirect chain (2 hops): http://a.test/old → https://a.test/old → https://a.test/new"],
     ["redirects to"], []),
    ("status-upstream-refused", lambda: [refused(0, "https://down.test/x")],
     "status", ["status: no response (connect): [Errno 111] Connection refused"], ["proxylens answered"],
     [("error", "status.upstream-refused")]),
    ("status-refused-answered-by-proxylens",
     lambda: [dataclasses.replace(refused(0, "https://down.test/x"), error=ExchangeError(REFUSED, "connect", 502))],
     "status", ["no response (connect): [Errno 111] Connection refused; proxylens answered 502, not the origin"], [],
     [("error", "status.upstream-refused")]),
    ("status-intermediary-error",
     lambda: [ex(0, "https://a.test/gw", status=502, date=True,
                 resp_headers=[("Proxy-Status", "cdn.test; error=connection_refused")])],
     "status", ["status: 502 Bad Gateway", "answered by intermediary, not the origin"], [],
     [("warning", "status.intermediary-error")]),
    # hsts (RFC 6797; hstspreload.org)
    ("hsts-valid", lambda: [ex(0, "https://a.test/", date=True, resp_headers=[(STS, "max-age=31536000; includeSubDomains")])],
     "hsts", ["hsts: max-age 365 days, includeSubDomains; not ready for the preload list"], ["invalid", "ignored"],
     [("good", "hsts.set")]),
    ("hsts-preload-ready",
     lambda: [ex(0, "https://a.test/", date=True, resp_headers=[(STS, "max-age=63072000; includeSubDomains; preload")])],
     "hsts", ["hsts: max-age 730 days, includeSubDomains, preload; ready for the preload list"], ["not ready"],
     [("good", "hsts.set")]),
    ("hsts-invalid",
     lambda: [ex(0, "https://a.test/", date=True, resp_headers=[(STS, "max-age=31536000, includeSubDomains")])],
     "hsts", ["hsts: header present but invalid, so browsers ignore it",
              "'max-age=31536000, includeSubDomains' is not a directive"], ["365 days"], [("error", "hsts.invalid")]),
    ("hsts-over-plain-http",
     lambda: [ex(0, "http://b.test/", date=True, resp_headers=[(STS, "max-age=31536000")])],
     "hsts", ["hsts: max-age 365 days; ignored: browsers honour HSTS only over HTTPS on a host name"], ["ready for"],
     [("warning", "hsts.over-http")]),
    ("hsts-missing-on-a-page",
     lambda: [dataclasses.replace(ex(0, "https://a.test/", date=True), resource_type="document")],
     "hsts", ["hsts: no Strict-Transport-Security header"], [], [("info", "hsts.missing")]),
    # tls (both sides of the proxy)
    ("tls-verified", _tls_ok,
     "tls", ["tls: upstream: TLSv1.3 TLS_AES_128_GCM_SHA256 h2", "certificate verified",
             ("certificate for CN=a.test,O=proxylens tests issued by CN=Test Intermediate CA p256,O=proxylens tests, "
              "expires in 90 days"), "Mozilla intermediate profile: met",
             "client: SNI a.test, offered TLSv1.3, TLSv1.2, ALPN h2, http/1.1; negotiated TLSv1.3"],
     ["NOT verified"], [("good", "tls.verified")]),
    ("tls-verify-error", _tls_expired,
     "tls", ["certificate NOT verified: certificate has expired", "certificate for CN=a.test"],
     ["certificate verified", "--ssl-insecure"], [("error", "tls.certificate-expired")]),
    ("tls-verify-error-let-through", lambda: _tls_expired(enforced=False),
     "tls", ["certificate NOT verified: certificate has expired (let through by --ssl-insecure)"],
     ["certificate verified"], [("error", "tls.certificate-expired")]),
    ("tls-handshake-failed",
     lambda: [with_tls(ex(0, "https://a.test/", status=None), server_tls(handshake_error="sslv3 alert handshake failure"),
                       error=ExchangeError("handshake failed", "tls"))],
     "tls", ["tls: upstream handshake failed: sslv3 alert handshake failure"], ["certificate verified"], []),
]


@pytest.fixture(scope="module")
def explained() -> dict[str, Result]:
    """The judged (last) result of each EXPLAIN_CASES session."""
    return {case[0]: session(*case[1]())[-1] for case in EXPLAIN_CASES}


@pytest.mark.parametrize("case_id,analyzer,says,never,findings", [(c[0], *c[2:]) for c in EXPLAIN_CASES],
                         ids=[c[0] for c in EXPLAIN_CASES])
def test_explain_tree_says_what_each_analyzer_found(explained, case_id, analyzer, says, never, findings):
    result = explained[case_id]
    full = explain(result)
    text = flat(full)
    # the tree's root is the request line
    first = full.splitlines()[0]
    assert first.startswith(f"{result.exchange.request.method} {result.exchange.request.url} ")
    for sentence in says:
        assert sentence in text, f"{sentence!r} missing from:\n{full}"
    own = flat(explain(result, Selection(frozenset([analyzer]))))
    for word in never:
        assert word not in own, f"{word!r} should not be said by {analyzer}:\n{full}"
    drawn = finding_lines(full)
    for expected in findings:
        assert expected in drawn, f"{expected} not among {drawn}"


@pytest.mark.parametrize("case_id", [c[0] for c in EXPLAIN_CASES])
def test_every_finding_is_drawn_with_severity_rule_summary_detail_and_reference(explained, case_id):
    result = explained[case_id]
    full = explain(result)
    text = flat(full)
    assert ("└── findings" in full) is bool(result.findings)
    assert len(finding_lines(full)) == len(result.findings)
    for f in result.findings:
        assert f"{f.severity.value} {f.rule} {words(f.summary)}" in text
        if f.detail:
            assert words(f.detail.replace("`", "")) in text, f.rule
        if f.reference:
            assert f"see {f.reference}" in text


def test_findings_are_listed_worst_first(explained):
    result = explained["cors-actual-with-cached-preflight"]
    ranks = [Severity(sev).rank for sev, _ in finding_lines(explain(result))]
    assert len(ranks) >= 2 and ranks == sorted(ranks, reverse=True)
    redirect = session(ex(0, "https://a.test/login", status=302, body=b"", resp_headers=[("Location", "http://a.test/next")]))[0]
    ranks = [Severity(sev).rank for sev, _ in finding_lines(explain(redirect))]
    assert {Severity.WARNING.rank, Severity.INFO.rank} <= set(ranks) and ranks == sorted(ranks, reverse=True)


def test_facts_are_drawn_in_analyzer_order_under_the_request_line(explained):
    full = explain(explained["tls-verified"])
    order = [line.split(":")[0].strip("├└─ ") for line in full.splitlines() if re.match(r"^[├└]── [a-z]+: ", line)]
    assert order == [a.name for a in builtin_analyzers()]
    assert full.splitlines()[0].startswith("GET https://a.test/ 200 OK  18 ms, 2B")


def test_firefox_engine_is_named_in_the_caching_sentence():
    result = session(ex(0, "https://cdn.test/me.json", date=True, resp_headers=[("Cache-Control", "private, max-age=60")]),
                     options=AnalysisOptions(engine="firefox"))[0]
    text = flat(explain(result, Selection(frozenset(["caching"]))))
    assert "fresh for 1 min in the browser (Firefox)" in text and "Chromium" not in text


# -- explain: what the analyzers' facts say wrongly ----------------------------------------------------------------------

def test_no_validator_no_freshness_is_said_to_be_downloaded_again():
    result = session(ex(0, "https://a.test/page", date=True))[0]
    assert result.facts["caching"]["browser"]["then"] == "refetch"  # the analyzer knows
    text = flat(explain(result, Selection(frozenset(["caching"]))))
    assert "checked with the server before every reuse" not in text
    assert "downloaded again" in text or "downloads it again" in text


def test_one_hop_redirect_chain_is_singular():
    result = session(*_redirects()[:1])[0]
    text = flat(explain(result, Selection(frozenset(["status"]))))
    assert "redirect chain (1 hop): http://a.test/old → https://a.test/old" in text


def test_expired_certificate_is_not_said_to_expire_in_negative_days(explained):
    text = flat(explain(explained["tls-verify-error"], Selection(frozenset(["tls"]))))
    assert "expires in -" not in text
    assert "expired 2 days ago" in text


FAILED_PREFLIGHT_SESSION = [
    preflight(0, "https://api.test/y", [(ACAO, APP), (ACAM, "PUT")]),
    # what Chromium's HAR holds for the actual request after that preflight failed
    dataclasses.replace(ex(1, "https://api.test/y", method="PUT", status=None, headers=CORS_MODE + [("X-Trace", "1")]),
                        error=ExchangeError("net::ERR_FAILED", "other")),
]


def test_actual_request_after_a_failed_preflight_is_blocked():
    result = session(*FAILED_PREFLIGHT_SESSION)[-1]
    text = flat(explain(result, Selection(frozenset(["cors"]))))
    assert "cors: blocked — its preflight failed" in text
    assert "the browser never sent this request" in text


def test_actual_request_after_a_failed_preflight_does_not_claim_the_preflight_passed():
    result = session(*FAILED_PREFLIGHT_SESSION)[-1]
    text = flat(explain(result, Selection(frozenset(["cors"]))))
    assert "did not see" not in text
    assert "the preflight passed" not in text


def test_actual_request_after_a_failed_preflight_names_the_missing_header():
    result = session(*FAILED_PREFLIGHT_SESSION)[-1]
    assert "x-trace" in flat(explain(result, Selection(frozenset(["cors"]))))


def test_plain_explain_lines_carry_no_trailing_padding(explained):
    for case_id in ("caching-304-revalidation", "status-upstream-refused", "tls-verified"):
        for line in explain(explained[case_id]).splitlines():
            assert not line.endswith("  "), repr(line)


# -- explain: selection, custom analyzers, redaction, markup ------------------------------------------------------------

def test_category_selection_shows_only_that_analyzer():
    result = _everything()
    text = explain(result, Selection(frozenset(["cors"])))
    assert re.findall(r"^[├└]── ([a-z]+): ", text, re.MULTILINE) == ["cors"]
    assert [rule for _, rule in finding_lines(text)] == [f.rule for f in result.findings if f.category == "cors"]


def test_two_categories():
    result = _everything()
    text = explain(result, Selection(frozenset(["cors", "caching"])))
    assert re.findall(r"^[├└]── ([a-z]+): ", text, re.MULTILINE) == ["caching", "cors"]
    assert {rule.split(".")[0] for _, rule in finding_lines(text)} == {"cors", "caching"}


@pytest.mark.parametrize("floor", list(Severity), ids=[s.value for s in Severity])
def test_min_severity_hides_lower_findings(floor: Severity):
    # one session with good, info, warning and error findings on one exchange
    result = _everything()
    text = explain(result, Selection(None, floor))
    drawn = finding_lines(text)
    expected = sorted(((f.severity.value, f.rule) for f in result.findings if f.severity >= floor),
                      key=lambda sr: -Severity(sr[0]).rank)
    assert sorted(drawn) == sorted(expected)
    assert [Severity(s).rank for s, _ in drawn] == sorted((Severity(s).rank for s, _ in drawn), reverse=True)
    # facts are not findings: every analyzer still explains itself
    assert len(re.findall(r"^[├└]── [a-z]+: ", text, re.MULTILINE)) == len(result.facts)


def test_no_findings_branch_when_none_qualify(explained):
    text = explain(explained["status-200"], Selection(None, Severity.ERROR))
    assert "findings" not in text and "status: 200 OK" in text


PERF_SLOW = Finding(rule="perf.slow-ttfb", severity=Severity.WARNING, category="perf",
                    summary="time to first byte 1200 ms", detail="Profile the `handler` before caching it.",
                    reference="https://web.dev/articles/ttfb")


def perf_analyzer() -> FunctionAnalyzer:
    def analyze(exchange, session):
        return Analysis({"ttfb_ms": 1200, "slow": True, "server": "nginx", "cold": False, "region": None,
                         "tags": [], "extra": {}, "note": ""}, [PERF_SLOW])
    return FunctionAnalyzer("perf", analyze)


def test_custom_analyzer_facts_render_as_key_value():
    result = Pipeline([*builtin_analyzers(), perf_analyzer()]).run(ex(0, "https://a.test/", date=True))
    full = explain(result)
    assert "perf: ttfb_ms: 1200" in full
    for line in ("slow: True", "server: nginx", "cold: False"):
        assert re.search(rf"^\s*│?\s+{re.escape(line)}$", full, re.MULTILINE), line
    for empty in ("region:", "tags:", "extra:", "note:"):
        assert empty not in full
    only = explain(result, Selection(frozenset(["perf"])))
    assert re.findall(r"^[├└]── ([a-z]+): ", only, re.MULTILINE) == ["perf"]
    assert finding_lines(only) == [("warning", "perf.slow-ttfb")]
    assert "Profile the handler before caching it." in flat(only)


@pytest.mark.parametrize("facts,lines", [
    ({"a": 1, "b": "x"}, ["a: 1", "b: x"]),
    ({"zero": 0, "none": None, "empty": ""}, ["zero: 0"]),
    ([1, 2], ["[1, 2]"]),
    ("just text", ["just text"]),
])
def test_fact_lines_of_a_custom_analyzer(facts, lines):
    assert fact_lines("mycheck", facts) == lines


def test_facts_view_redacts_its_lines():
    view = FactsView("mycheck", {"url": "https://a.test/cb?access_token=abc123"})
    assert "abc123" not in render(view) and "[redacted]" in render(view)
    assert "abc123" in render(FactsView("mycheck", {"url": "https://a.test/cb?access_token=abc123"}, redact=False))


def _secret_session() -> list[Result]:
    return session(
        ex(0, "https://a.test/login?token=secret1", status=302, body=b"", date=True,
           resp_headers=[("Location", "http://a.test/next?access_token=secret2")]),
        ex(1, "http://a.test/next?access_token=secret2", status=404, date=True),
        refused(2, "https://down.test/x?api_key=secret3"),
    )


def test_redaction_hides_secrets_in_request_line_facts_and_findings():
    for result in _secret_session():
        text = explain(result, redact=True)
        assert "secret" not in text, text
        assert "[redacted]" in text.splitlines()[0]
    login = _secret_session()[0]
    text = flat(explain(login, redact=True))
    assert "redirects to http://a.test/next?access_token=[redacted]" in text  # a fact
    assert "https://a.test/login?token=[redacted] redirects to plain HTTP" in text  # a finding's summary


def test_without_redaction_the_url_is_shown_as_recorded():
    login = _secret_session()[0]
    text = flat(explain(login, redact=False))
    assert "GET https://a.test/login?token=secret1 302 Found" in text
    assert "redirects to http://a.test/next?access_token=secret2" in text


MARKUP_URL = "http://[::1]:8080/[b]bold[/b]/[/x]?q=[red]x[/red]"


@pytest.mark.parametrize("color", [False, True], ids=["plain", "colour"])
def test_markup_like_text_in_urls_is_shown_literally(color, colour_env):
    results = session(ex(0, MARKUP_URL, date=True, status=302, body=b"",
                         resp_headers=[("Location", "http://[::1]:8080/[i]next[/i]")]))
    text = explain(results[0], color=color)
    assert MARKUP_URL in text  # neither interpreted nor a MarkupError on "[/x]"
    assert "http://[::1]:8080/[i]next[/i]" in text
    if color:
        assert "\x1b[1mbold" not in text and "\x1b[3mnext" not in text


def test_request_line_of_an_error_names_kind_and_message():
    line = request_line(session(refused(0, "https://down.test/x?api_key=k"))[0], redact=True).plain
    assert line == "GET https://down.test/x?api_key=[redacted] ERROR (connect) [Errno 111] Connection refused"


def test_request_line_of_a_response_has_status_duration_and_size():
    x = dataclasses.replace(ex(0, "https://a.test/big", body=b"x" * 2048), timings=Timings(started=T0, wait=1234))
    assert request_line(session(x)[0]).plain == "GET https://a.test/big 200 OK  1234 ms, 2.0kB"


# -- Finding on its own ---------------------------------------------------------------------------------------------------

def test_finding_draws_severity_rule_summary_detail_without_backticks_and_reference():
    finding = catalog.get("caching.cache-busting-query").finding()
    assert "`" in finding.detail
    lines = render(finding, width=300).splitlines()
    assert lines[0] == f"warning caching.cache-busting-query {finding.summary}"
    assert len(lines) == 3
    text = flat(render(finding))
    assert "`" not in text
    assert "A parameter such as _=1732450000000 makes each URL unique" in text
    assert lines[-1] == "        see https://www.rfc-editor.org/rfc/rfc9111#section-4"
    # the detail is indented under the summary
    assert all(line.startswith("        ") for line in lines[1:])


def test_finding_code_spans_are_drawn_as_code(colour_env):
    text = render(catalog.get("caching.cache-busting-query").finding(), color=True)
    assert sgr("code", "_=1732450000000") in text
    assert sgr("severity.warning", "warning") in text and sgr("rule", "caching.cache-busting-query") in text
    assert "`" not in text


@pytest.mark.parametrize("severity", list(Severity), ids=[s.value for s in Severity])
def test_finding_severity_is_padded_to_one_column(severity: Severity):
    finding = Finding(rule="perf.x", severity=severity, category="perf", summary="s")
    assert render(finding) == f"{severity.value:<7} perf.x s\n"


def test_finding_without_detail_or_reference_is_one_line():
    assert render(PERF_SLOW.model_copy(update={"detail": "", "reference": ""})).count("\n") == 1
    assert render(PERF_SLOW).count("\n") == 3


def test_finding_markup_in_summary_is_literal():
    finding = PERF_SLOW.model_copy(update={"summary": "[bold]not bold[/bold] [/x]", "detail": "[red]`[i]`"})
    text = render(finding)
    assert "[bold]not bold[/bold] [/x]" in text and "[red][i]" in text


# -- the live table -----------------------------------------------------------------------------------------------------

LONG_PATH = "/v1/organisations/acme-corporation/projects/website-redesign/assets/images/avatar.png?size=large"


def _live_results() -> list[Result]:
    """One of each kind of row: h2 over TLS 1.3 with a long path, a 500, a refused connection, an HSTS 200."""
    big = dataclasses.replace(ex(0, "https://api.test" + LONG_PATH, body=b"x" * 2048, date=True),
                              timings=Timings(started=T0, wait=1234))
    big = dataclasses.replace(big, response=dataclasses.replace(big.response, http_version="HTTP/2.0"))
    return session(with_tls(big, server_tls(), client_tls()),
                   ex(1, "https://app.test/orders/1", status=500, date=True),
                   refused(2, "https://legacy.test/v1/users/2", method="DELETE"),
                   ex(3, "https://cdn.test/", date=True, resp_headers=[(STS, "max-age=31536000")]))


def live_view(results, **kw) -> LiveView:
    view = LiveView(**kw)
    view.started("127.0.0.1:8080", "trust ~/.proxylens/ca.pem")
    for i, r in enumerate(results):
        view.add(r, now=1000 + i)
    return view


def table_rows(text: str) -> list[str]:
    """The table's lines: those below the heading and above the footer."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"^time\s+method\s+st\s+host", line))
    end = next(i for i, line in enumerate(lines) if line.startswith("most frequent:"))
    return lines[start + 1:end]


def test_live_rows_show_each_column():
    text = render(live_view(_live_results()), width=120, height=30)
    rows = table_rows(text)
    assert len(rows) == 4
    big, err500, refused_row, hsts = rows
    assert re.search(r"\bGET\s+200 api\.test\b", big)
    path = re.search(r"(/v1/\S+)", big).group(1)
    assert path.startswith("/v1/…/") and "avatar.png" in path and len(path) < len(LONG_PATH)  # first and last kept
    assert re.search(r"\b1\.2s\s+2\.0kB\s+h2\s+1\.3\s", big)
    assert re.search(r"\bGET\s+500 app\.test\s+/orders/1\s+18ms\s+2B\s+1\.1\s+-\s", err500)
    assert re.search(r"\bDELETE\s+ERR legacy\.test\s+/v1/users/2\s+18ms\s+-\s+1\.1\s", refused_row)
    assert re.search(r"\bGET\s+200 cdn\.test\s+/\s", hsts)
    assert re.search(r"^\d\d:\d\d:\d\d ", big)  # the time the exchange started


def test_live_badges_are_labelled_per_category_in_a_fixed_order():
    result = _everything()
    assert badges(result).plain == "cache cors stat hsts tls"
    custom = Result(result.exchange, findings=[PERF_SLOW, *result.findings])
    assert badges(custom).plain == "cache cors stat hsts tls perf"  # custom categories last, four letters


def test_live_badges_are_not_cut():
    results = session(ex(0, "https://app.test/orders/1", status=500))  # cache (date missing) and stat
    assert badges(results[0]).plain == "cache stat"
    for width in (80, 120):
        rows = table_rows(render(live_view(results), width=width, height=20))
        assert rows[0].rstrip().endswith("cache stat"), rows[0]
        view = live_view(results)
        assert all(len(t.plain) <= width for t in view.table(5, width).renderables)


def test_live_header_counts_exchanges_errors_and_findings_by_severity():
    results = _live_results()
    view = live_view(results)
    header = flat(render(view.header(now=1004.5), width=200))
    sev = Counter(f.severity.value for r in results for f in r.findings)
    assert "listening on 127.0.0.1:8080 · trust ~/.proxylens/ca.pem" in header
    assert "exchanges 4 errors 1 findings" in header
    assert (f"findings {sev['error']} error {sev['warning']} warning {sev['info']} info {sev['good']} good"
            in header)
    assert sev["error"] >= 1 and sev["good"] >= 1
    # four exchanges in the whole seconds 1000..1003 of the 5-second window before 1004.5
    assert "0.8 req/s" in header
    assert "(filtered)" not in header


@pytest.mark.parametrize("ticks,now,rate", [
    ([100.0, 100.5, 101.2, 103.9, 104.0], 105.0, 1.0),  # five in 100..104
    ([100.0, 100.5, 101.2, 103.9, 104.0], 104.5, 0.8),  # the current second (104) still fills up
    ([100.0, 100.5, 101.2, 103.9, 104.0], 106.0, 0.6),  # 100 has left the window
    ([100.0] * 10, 101.0, 2.0),
    ([100.0], 300.0, 0.0),  # long ago
    ([], 100.0, 0.0),
])
def test_rate_over_whole_seconds(ticks, now, rate):
    r = Rate()
    for t in ticks:
        r.tick(t)
    assert r.per_second(now) == pytest.approx(rate)


def test_rate_memory_is_bounded():
    r = Rate()
    for t in range(10_000):
        r.tick(float(t))
    assert len(r.buckets) <= 6
    assert r.per_second(10_000.0) == pytest.approx(1.0)


def test_live_footer_lists_the_most_frequent_non_good_rules():
    hsts_ok = [ex(i, f"https://cdn.test/{i}", date=True, resp_headers=[(STS, "max-age=31536000")]) for i in range(6)]
    errors = [ex(10 + i, f"https://app.test/o/{i}", status=500, date=True) for i in range(3)]
    down = [refused(20 + i, f"https://down.test/{i}") for i in range(2)]
    results = session(*hsts_ok, *errors, *down)
    by_rule = Counter(f.rule for r in results for f in r.findings)
    assert by_rule["hsts.set"] == 6 and by_rule.most_common(1)[0][0] == "hsts.set"  # the most frequent is good
    footer = flat(render(live_view(results).footer(), width=200))
    assert footer.startswith("most frequent: ")
    assert "hsts.set" not in footer
    assert f"{by_rule['status.server-error']}× status.server-error" in footer
    assert f"{by_rule['status.upstream-refused']}× status.upstream-refused" in footer
    assert footer.count("×") <= 3
    assert render(live_view(session(*hsts_ok)).footer()).strip() == "most frequent: no warnings or errors yet"


def test_live_draws_only_the_last_rows_that_fit_the_height():
    results = session(*[ex(i, f"https://a.test/item/{i}", date=True) for i in range(30)])
    for height in (12, 20, 40):
        text = render(live_view(results), width=120, height=height)
        assert len(text.splitlines()) <= height
        drawn = [int(m) for m in re.findall(r"/item/(\d+)\s", text)]
        assert drawn == list(range(30 - len(drawn), 30)), drawn  # the newest, in order, none skipped
        assert len(drawn) == min(30, height - CHROME_LINES)


def test_live_memory_is_bounded_and_counters_stay_exact():
    results = _live_results()
    view = LiveView()
    started = time.perf_counter()
    for i in range(10_000):
        view.add(results[i % len(results)], now=float(i // 100))
    assert time.perf_counter() - started < 10
    assert len(view.rows) == MAX_ROWS
    assert view.exchanges == view.shown == 10_000
    assert view.errors == 2_500  # one in four is the refused connection
    per_cycle = Counter(f.severity for r in results for f in r.findings)
    assert dict(view.by_severity) == {sev: n * 2_500 for sev, n in per_cycle.items()}
    rules = Counter(f.rule for r in results for f in r.findings)
    assert dict(view.by_rule) == {rule: n * 2_500 for rule, n in rules.items()}
    header = flat(render(view.header(now=100.0), width=200))
    assert "exchanges 10000 errors 2500" in header
    assert "100.0 req/s" in header  # 100 exchanges in each of the seconds 95..99


def test_live_filtered_view_says_how_many_are_shown():
    results = _live_results()
    view = LiveView(filtered=True)
    for i, r in enumerate(results):
        view.add(r, shown=r.exchange.response is None, now=float(i))
    header = flat(render(view.header(now=10.0), width=200))
    assert "exchanges 4 errors 1" in header and "showing 1 (filtered)" in header
    rows = table_rows(render(view, width=120, height=20))
    assert len(rows) == 1 and "ERR" in rows[0]


def test_console_output_live_mode_filters_rows_but_counts_everything():
    out = ConsoleOutput(DisplayConfig(mode="live", color=False, hosts=("legacy.*",)), out=io.StringIO(), width=120)
    for r in _live_results():
        out.add(r)
    assert out.view is not None and out.view.filtered
    assert out.view.exchanges == 4 and out.view.shown == 1 and len(out.view.rows) == 1
    assert out.out.getvalue() == ""  # the live view draws only once started


def test_live_redacts_and_shows_markup_literally():
    results = session(ex(0, "https://a.test/cb?token=secret", date=True), ex(1, MARKUP_URL, date=True))
    text = render(live_view(results), width=140, height=20)
    assert "secret" not in text and "/cb?token=[redacted]" in text
    assert "[::1]:8080" in text and "/[b]bold[/b]/[/x]" in text
    plain = render(live_view(results, redact=False), width=140, height=20)
    assert "/cb?token=secret" in plain


def test_live_colours_status_and_badges(colour_env):
    text = render(live_view(_live_results()), color=True, width=120, height=30)
    assert "\x1b[" in text
    assert sgr("status.5xx", "500") in text
    assert sgr("status.5xx", "500") != sgr("status.2xx", "500") != sgr("status.4xx", "500")  # told apart
    assert sgr("status.2xx", "200") in text
    assert sgr("status.error", "ERR") in text
    # the refused row's status badge is an error: red
    assert sgr("severity.error", "stat") in text
    assert re.search(r"\x1b\[(?:\d+;)*31mstat\x1b\[0m", text)
    # a good-only badge is green
    assert sgr("severity.good", "hsts") in text


# -- no control codes without colour ------------------------------------------------------------------------------------

def test_no_escape_codes_anywhere_without_colour(explained, monkeypatch):
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    results = list(explained.values())
    for result in results:
        assert "\x1b" not in explain(result, color=False)
    assert "\x1b" not in render(live_view(results), color=False, width=120, height=40)
    tally = Tally()
    for result in results:
        tally.add(result)
    assert "\x1b" not in summary_text(tally, "x.har", len(results), color=False)
    for finding in (f for r in results for f in r.findings):
        assert "\x1b" not in render(finding, color=False)


def test_colour_output_does_have_escape_codes(explained, colour_env):
    result = explained["status-upstream-refused"]
    assert "\x1b[" in explain(result, color=True)
    tally = Tally()
    tally.add(result)
    assert "\x1b[" in summary_text(tally, color=True, width=100)


# -- shorten_path / shorten_host ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path,width,expected", [
    ("/api/v1/users/17/avatar.png", 48, "/api/v1/users/17/avatar.png"),  # fits
    ("/api/v1/users/17/avatar.png", 27, "/api/v1/users/17/avatar.png"),  # exactly
    ("/api/v1/users/17/avatar.png", 26, "/api/…/users/17/avatar.png"),
    ("/api/v1/users/17/avatar.png", 20, "/api/…/17/avatar.png"),
    ("/api/v1/users/17/avatar.png", 17, "/api/…/avatar.png"),
    ("/search?q=proxylens", 48, "/search?q=proxylens"),  # a query that fits is kept
    ("/api/v1/users/17/avatar.png?size=large&fmt=webp", 30, "/api/v1/users/17/avatar.png?…"),
    ("/api/v1/users/17/avatar.png?size=large", 22, "/api/…/17/avatar.png?…"),
    ("/" + "x" * 60, 20, "…" + "x" * 19),  # one long segment: its end
    ("/", 10, "/"),
    ("/a/b", 10, "/a/b"),
])
def test_shorten_path(path, width, expected):
    shortened = shorten_path(path, width)
    assert shortened == expected
    assert len(shortened) <= width


@pytest.mark.parametrize("path,width,expected", [
    ("/api/v1/users/17/avatar.png", 19, "/api/…/avatar.png"),
    ("/api/v1/users/17/avatar.png", 25, "/api/…/17/avatar.png"),
    ("/api/v1/users/17/avatar.png", 16, None),  # nothing after "/api/…/" fits: only the end
])
def test_shorten_path_keeps_the_width_when_the_tail_fills_it(path, width, expected):
    shortened = shorten_path(path, width)
    assert len(shortened) <= width, shortened
    assert shortened.endswith("avatar.png") and "…" in shortened
    if expected is not None:
        assert shortened == expected


def test_shorten_path_never_exceeds_the_width():
    rng = random.Random(9)
    for _ in range(3000):
        segments = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(0, 12))) for _ in range(rng.randint(1, 8))]
        path = "/" + "/".join(segments) + (f"?q={'x' * rng.randint(0, 30)}" if rng.random() < 0.5 else "")
        width = rng.randint(6, 60)
        assert len(shorten_path(path, width)) <= width, (path, width, shorten_path(path, width))


@pytest.mark.parametrize("host,width,expected", [
    ("api.example.com", 28, "api.example.com"),
    ("a" * 28, 28, "a" * 28),
    ("very.long.subdomain.of.example.com", 20, "…main.of.example.com"),
    ("[::1]:8080", 28, "[::1]:8080"),
])
def test_shorten_host_keeps_the_end(host, width, expected):
    assert shorten_host(host, width) == expected
    assert len(shorten_host(host, width)) <= width


# -- the summary ----------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mixed() -> list[Result]:
    return mixed_traffic(200)


def tally_of(results, redact: bool = True) -> Tally:
    tally = Tally(redact=redact)
    for r in results:
        tally.add(r)
    return tally


def test_summary_groups_by_rule_worst_first_with_hosts_and_an_example(mixed):
    text = summary_text(tally_of(mixed), "run.har", 200)
    lines = text.splitlines()
    sev = Counter(f.severity.value for r in mixed for f in r.findings)
    assert lines[0] == (f"proxylens: 200 exchanges (40 without response); findings: {sev['error']} error, "
                        f"{sev['warning']} warning, {sev['info']} info, {sev['good']} good")
    listed = [re.match(rf"^\s+(\d+)\s+{SEVERITY_WORD}\s+(\S+)\s+on (.*)$", line) for line in lines]
    listed = [m.groups() for m in listed if m]
    by_rule = Counter(f.rule for r in mixed for f in r.findings)
    for count, severity, rule, _ in listed:
        assert int(count) == by_rule[rule]
    ranks = [(-Severity(s).rank, -int(c)) for c, s, _, _ in listed]
    assert ranks == sorted(ranks)  # worst severity first, then the most frequent
    assert listed[0][1:3] == ("error", "status.upstream-refused")
    # 40 refused connections, 10 on each of the four hosts: three named, the fourth counted
    assert re.match(r"^api\.test \(10\), \w+\.test \(10\), \w+\.test \(10\) and 1 more$", listed[0][3])
    # under each rule, its worst (then earliest) example
    example = lines[lines.index(next(line for line in lines if "status.upstream-refused" in line)) + 1]
    assert example.strip() == ("e.g. GET https://api.test/v1/users/0 — The upstream server refused the connection: "
                               f"{REFUSED}")
    assert lines[-2] == f"  good: hsts.set ({by_rule['hsts.set']})"
    assert lines[-1] == "HAR written to run.har (200 entries)"
    assert "good  " not in "\n".join(lines[1:-2])  # good rules are not listed as rules


def test_summary_is_byte_identical_for_the_same_traffic():
    first = summary_text(tally_of(mixed_traffic(60)), "a.har", 60)
    again = summary_text(tally_of(mixed_traffic(60)), "a.har", 60)
    assert first == again
    tally = tally_of(mixed_traffic(60))
    assert summary_text(tally) == summary_text(tally)
    assert "\x1b" not in first


def test_summary_of_nothing():
    assert summary_text(Tally()) == "proxylens: 0 exchanges (0 without response); findings: none"


def _finding(rule: str, severity: Severity | None = None) -> Finding:
    return catalog.get(rule).finding(severity=severity)


def test_summary_examples_are_the_worst_earliest_among_equals():
    rule = "tls.sni-host-mismatch"
    host = dict(zip(range(1, 10), "zyxwvutsr"))  # arrival order is not alphabetical order

    def stats_of(order) -> RuleStats:
        stats = RuleStats(rule, WARNING)
        for severity, n in order:
            stats.add(_finding(rule, severity), f"GET https://{host[n]}.test/", f"{host[n]}.test")
        return stats

    order = [(WARNING, 1), (INFO, 2), (WARNING, 3), (WARNING, 4), (ERROR, 5), (WARNING, 6), (ERROR, 7), (ERROR, 8),
             (ERROR, 9)]
    assert EXAMPLES == 2
    stats = stats_of(order)
    # the errors beat the earlier warnings; of the four errors, the first two
    assert [request for _, request, _ in stats.examples] == [f"GET https://{host[n]}.test/" for n in (5, 7)]
    assert stats.severity == ERROR and stats.count == 9
    # warnings beat the info; among the warnings, the earliest
    assert [request for _, request, _ in stats_of(order[:4]).examples] == [
        f"GET https://{host[n]}.test/" for n in (1, 3)]


def test_summary_shows_the_worst_example_of_a_rule_and_its_worst_severity():
    rule = "tls.sni-host-mismatch"
    tally = Tally()
    for i, severity in enumerate([INFO, WARNING, ERROR, WARNING]):
        tally.add(Result(ex(i, f"https://h{i}.test/"), findings=[_finding(rule, severity)]))
    lines = summary_text(tally).splitlines()
    row = next(i for i, line in enumerate(lines) if rule in line)
    assert re.match(rf"^\s+4\s+error\s+{re.escape(rule)}\s+on ", lines[row])
    assert lines[row + 1].strip().startswith("e.g. GET https://h2.test/ — ")  # the error first
    assert lines[row + 2].strip().startswith("e.g. GET https://h1.test/ — ")  # then the earlier warning


def test_summary_lists_at_most_listed_rules_then_counts_the_rest():
    rules = [r for r in catalog if r.severity > GOOD][:LISTED_RULES + 3]
    tally = Tally()
    for i, rule in enumerate(rules):
        tally.add(Result(ex(i, f"https://a.test/{i}"), findings=[rule.finding()]))
    tally.add(Result(ex(99, "https://a.test/ok"), findings=[_finding("hsts.set"), _finding("cors.allowed")]))
    lines = summary_text(tally).splitlines()
    assert sum(1 for line in lines if re.match(rf"^\s+\d+\s+{SEVERITY_WORD}\s", line)) == LISTED_RULES
    assert any(line.strip().startswith("... and 3 more rules") for line in lines)
    assert lines[-1] == "  good: cors.allowed (1), hsts.set (1)"


def test_summary_hosts_are_capped():
    rule = "status.server-error"
    tally = Tally()
    for i in range(MAX_HOSTS + 3):
        tally.add(Result(ex(i, f"https://h{i}.test/"), findings=[_finding(rule)]))
    tally.add(Result(ex(0, "https://h0.test/again"), findings=[_finding(rule)]))  # a known host is still counted
    stats = tally.rules[rule]
    assert len(stats.hosts) == MAX_HOSTS and stats.more_hosts == 3
    assert stats.hosts["h0.test"] == 2 and stats.count == MAX_HOSTS + 4
    line = next(line for line in summary_text(tally).splitlines() if rule in line)
    # three named, at least MAX_HOSTS - 3 + 1 others: a lower bound, marked as such
    assert line.rstrip().endswith(f"and {MAX_HOSTS - 3 + 1}+ more"), line
    assert line.split(" on ")[1].startswith("h0.test (2), ")


def test_summary_redacts_example_requests_unless_told_not_to():
    results = _secret_session()
    redacted = summary_text(tally_of(results, redact=True))
    assert "e.g. GET https://a.test/login?token=[redacted] — " in redacted
    assert "e.g. GET https://down.test/x?api_key=[redacted] — " in redacted
    assert "e.g. GET https://a.test/login?token=secret1 — " in summary_text(tally_of(results, redact=False))


def test_summary_redacts_secrets_in_example_summaries():
    assert "secret" not in summary_text(tally_of(_secret_session(), redact=True))


def test_summary_in_colour_keeps_markup_literal_and_styles_severity(colour_env):
    results = session(ex(0, "https://[::1]:8443/[b]x[/b]", status=500, date=True))
    text = summary_text(tally_of(results), color=True, width=200)
    assert "https://[::1]:8443/[b]x[/b]" in text
    assert sgr("severity.warning", "warning") in text
    assert next(summary_lines(tally_of(results))).plain.startswith("proxylens: 1 exchanges")


# -- the display filter ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def filterable() -> dict[str, Result]:
    post = ex(0, "https://api.test/orders", method="POST", status=201, date=True,
              headers=[("Content-Type", "application/json")], resp_headers=[("Location", "https://api.test/orders/1")])
    post = dataclasses.replace(post, request=dataclasses.replace(post.request, body=Body(raw=b'{"needle": 1}', size=13)))
    results = session(
        post,
        ex(1, "https://api.test/missing", status=404, date=True, body=b"haystack with a needle"),
        ex(2, "https://www.App.test/x", date=True, headers=[("X-Trace", "abc")]),
        refused(3, "https://down.test/"),
        ex(4, "https://cdn.test/app.js", status=304, body=b"", date=True, headers=[("If-None-Match", '"v1"')],
           resp_headers=[("ETag", '"v1"')]),
    )
    return dict(zip(["post", "404", "trace", "refused", "304"], results))


def passing(config: DisplayConfig, results: dict[str, Result]) -> set[str]:
    keep = Filter(config)
    return {name for name, r in results.items() if keep(r)}


@pytest.mark.parametrize("expression,expected", [
    ("~m POST", {"post"}),
    ("~c 404", {"404"}),
    ("~c 304", {"304"}),
    ("~d api.test", {"post", "404"}),
    ("~h X-Trace", {"trace"}),
    ("~hq If-None-Match", {"304"}),
    ("~b needle", {"post", "404"}),  # request or response body
    ("~bq needle", {"post"}),
    ("~bs needle", {"404"}),
    ("~e", {"refused"}),
    ("!~s", {"refused"}),
    ("~s", {"post", "404", "trace", "304"}),
    ("~u /orders", {"post"}),
    ("~m POST | ~c 404", {"post", "404"}),
    ("~d api.test & !~m POST", {"404"}),
])
def test_flow_filter_expressions(filterable, expression, expected):
    assert passing(DisplayConfig(flow_filter=expression), filterable) == expected


def test_flow_of_keeps_the_recorded_headers():
    x = ex(0, "https://api.test/o", method="POST", headers=[("Content-Length", "13")], resp_headers=[("Content-Length", "2")])
    x = dataclasses.replace(x, request=dataclasses.replace(x.request, body=Body(raw=b'{"needle": 1}', size=13)))
    flow = flow_of(x)
    assert flow.request.headers.get("content-length") == "13"
    assert flow.response.headers.get("content-length") == "2"
    assert "content-length" not in flow_of(ex(1, "https://api.test/g")).request.headers


def test_flow_of_carries_what_filters_test(filterable):
    flow = flow_of(filterable["post"].exchange)
    assert flow.request.method == "POST" and flow.request.pretty_host == "api.test"
    assert flow.request.raw_content == b'{"needle": 1}' and flow.response.status_code == 201
    failed = flow_of(filterable["refused"].exchange)
    assert failed.response is None and failed.error is not None and REFUSED in failed.error.msg


@pytest.mark.parametrize("expression", ["~c", "~x foo", "(~m GET", "~c notanumber"])
def test_bad_flow_filter_raises_value_error(expression):
    with pytest.raises(ValueError):
        parse_flow_filter(expression)
    with pytest.raises(ValueError):
        Filter(DisplayConfig(flow_filter=expression))


@pytest.mark.parametrize("globs,expected", [
    (("*.app.test",), {"trace"}),  # www.App.test: host names are case-insensitive
    (("API.TEST",), {"post", "404"}),
    (("*.test",), {"post", "404", "trace", "refused", "304"}),
    (("down*", "cdn.*"), {"refused", "304"}),
    (("nothing.example",), set()),
])
def test_host_globs(filterable, globs, expected):
    assert passing(DisplayConfig(hosts=globs), filterable) == expected


def test_min_severity_hides_exchanges_without_such_a_finding(filterable):
    assert passing(DisplayConfig(min_severity=ERROR), filterable) == {"refused"}
    at_least_warning = {name for name, r in filterable.items() if any(f.severity >= WARNING for f in r.findings)}
    assert passing(DisplayConfig(min_severity=WARNING), filterable) == at_least_warning
    assert "refused" in at_least_warning and len(at_least_warning) < len(filterable)
    assert passing(DisplayConfig(), filterable) == set(filterable)


def test_categories_keep_exchanges_with_facts_or_findings_of_them(filterable):
    def has(result, category):
        return category in result.facts or any(f.category == category for f in result.findings)

    subsets = {}
    for category in ("status", "caching", "cors", "hsts", "tls"):
        subsets[category] = passing(DisplayConfig(categories=(category,)), filterable)
        assert subsets[category] == {name for name, r in filterable.items() if has(r, category)}
    assert "refused" not in subsets["caching"]  # no response: nothing to cache, nothing to show
    assert subsets["status"] == set(filterable)
    assert passing(DisplayConfig(categories=("status",), min_severity=ERROR), filterable) == {"refused"}


def test_filters_combine(filterable):
    config = DisplayConfig(hosts=("*.test",), flow_filter="~s", min_severity=INFO)
    assert passing(config, filterable) == {n for n, r in filterable.items()
                                           if r.exchange.response is not None and any(f.severity >= INFO
                                                                                      for f in r.findings)}


def test_filter_active():
    assert not Filter(DisplayConfig()).active
    assert Filter(DisplayConfig(hosts=("a",))).active
    assert Filter(DisplayConfig(categories=("cors",))).active
    assert Filter(DisplayConfig(min_severity=INFO)).active
    assert Filter(DisplayConfig(flow_filter="~s")).active


def test_check_categories_accepts_categories_and_analyzer_names():
    names = [a.name for a in builtin_analyzers()] + ["perf"]
    check_categories(("caching", "cors", "status", "hsts", "tls", "proxylens", "perf"), names)
    check_categories((), names)


@pytest.mark.parametrize("typo,hint", [("cros", "did you mean 'cors'?"), ("cachng", "did you mean 'caching'?"),
                                       ("prf", "did you mean 'perf'?")])
def test_check_categories_suggests_the_nearest(typo, hint):
    with pytest.raises(DisplayError, match=re.escape(hint)) as info:
        check_categories((typo,), [a.name for a in builtin_analyzers()] + ["perf"])
    assert repr(typo) in str(info.value)


def test_check_categories_lists_the_known_ones_when_nothing_is_close():
    with pytest.raises(DisplayError) as info:
        check_categories(("zzzzqqq",), ["status"])
    # every category in the (process-wide) catalog, custom ones other tests registered included
    known = ", ".join(sorted({r.category for r in catalog} | {"status"}))
    assert "'zzzzqqq'" in str(info.value) and f"known: {known}" in str(info.value)
    assert {"caching", "cors", "hsts"} <= set(known.split(", "))


def test_selection_of_a_display_config():
    assert DisplayConfig().selection == Selection(None, GOOD)
    assert DisplayConfig(categories=("cors", "tls"), min_severity=WARNING).selection == \
        Selection(frozenset({"cors", "tls"}), WARNING)


# -- console output modes ----------------------------------------------------------------------------------------------

def test_console_output_modes(filterable):
    results = list(filterable.values())
    outputs = {}
    for mode in ("lines", "explain", "quiet"):
        out = ConsoleOutput(DisplayConfig(mode=mode), out=io.StringIO(), width=100, redact=False)
        for r in results:
            out.add(r)
        outputs[mode] = out.out.getvalue()
    assert outputs["quiet"] == ""
    lines = outputs["lines"].splitlines()
    assert len(lines) == len(results) and " GET https://down.test/ -> ERROR connect " in lines[3]
    assert sum(1 for line in outputs["explain"].splitlines() if re.match(r"^(GET|POST) https://", line)) == len(results)
    assert "└── findings" in outputs["explain"]
    for text in outputs.values():
        assert "\x1b" not in text


def test_console_output_explain_applies_filter_and_selection(filterable):
    out = ConsoleOutput(DisplayConfig(mode="explain", categories=("status",), min_severity=ERROR), out=io.StringIO(),
                        width=100)
    for r in filterable.values():
        out.add(r)
    text = out.out.getvalue()
    assert text.splitlines()[0].startswith("GET https://down.test/ ERROR (connect)")
    assert re.findall(r"^[├└]── ([a-z]+): ", text, re.MULTILINE) == ["status"]
    assert finding_lines(text) == [("error", "status.upstream-refused")]


# -- colour and mode ------------------------------------------------------------------------------------------------------

class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class Closed(io.StringIO):
    def isatty(self) -> bool:
        raise ValueError("I/O operation on closed file")


@pytest.mark.parametrize("env,stream,no_color,wanted", [
    ({}, Tty, False, True),
    ({}, io.StringIO, False, False),  # a pipe or a file
    ({}, Closed, False, False),
    ({}, Tty, True, False),  # --no-color
    ({"NO_COLOR": "1"}, Tty, False, False),
    ({"NO_COLOR": "0"}, Tty, False, False),  # any non-empty value (no-color.org)
    ({"NO_COLOR": ""}, Tty, False, True),  # empty: as if unset
    ({"TERM": "dumb"}, Tty, False, False),
])
def test_color_wanted(monkeypatch, env, stream, no_color, wanted):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert color_wanted(stream(), no_color) is wanted


@pytest.mark.parametrize("env,stream,flags,mode,color", [
    ({}, Tty, {}, "live", True),
    ({}, io.StringIO, {}, "lines", False),
    ({"NO_COLOR": "1"}, Tty, {}, "lines", False),
    ({"TERM": "dumb"}, Tty, {}, "lines", False),
    ({}, Tty, {"no_color": True}, "lines", False),
    ({}, Tty, {"live": False}, "lines", True),  # analyze: no live table, colour lines
    ({}, Tty, {"explain": True}, "explain", True),
    ({}, io.StringIO, {"explain": True}, "explain", False),
    ({}, Tty, {"quiet": True, "explain": True}, "quiet", True),  # quiet wins
    ({}, io.StringIO, {"quiet": True}, "quiet", False),
])
def test_choose_mode(monkeypatch, env, stream, flags, mode, color):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    options = {"quiet": False, "explain": False, "no_color": False, **flags}
    config = choose_mode(stream(), **options)
    assert (config.mode, config.color) == (mode, color)


def test_make_console_without_colour_writes_no_codes_even_when_forced(monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    text = render(Finding(rule="perf.x", severity=ERROR, category="perf", summary="boom", reference="https://x.test"))
    assert "\x1b" not in text and text.startswith("error   perf.x boom")


@pytest.mark.parametrize("value,style", [
    (None, "severity.none"), ("warning", "severity.warning"), (Severity.ERROR, "severity.error"),
])
def test_severity_style(value, style):
    assert severity_style(value) == style and style in THEME.styles


@pytest.mark.parametrize("status,style", [
    (101, "status.1xx"), (200, "status.2xx"), (304, "status.3xx"), (404, "status.4xx"), (503, "status.5xx"),
    (None, "status.error"), (0, "status.error"), (600, "status.error"), (99, "status.error"),
])
def test_status_style(status, style):
    assert status_style(status) == style and style in THEME.styles


# -- proxylens analyze -------------------------------------------------------------------------------------------------

CLI_RUNS = {
    "explain": ["proxylens.har", "--explain"],
    "lines": ["proxylens.har"],
    "filter-304": ["proxylens.har", "--filter", "~c 304"],
    "category-cors": ["chrome.har", "--explain", "--category", "cors"],
    "min-error": ["proxylens.har", "--explain", "--min-severity", "error"],
    "host": ["proxylens.har", "--host", "expired.*"],
    "bad-filter": ["proxylens.har", "--filter", "~c"],
    "bad-category": ["proxylens.har", "--category", "crs"],
    "quiet": ["proxylens.har", "--quiet"],
    "chrome": ["chrome.har", "--explain"],
    "firefox": ["firefox.har", "--explain"],
}


@pytest.fixture(scope="module")
def cli(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """Every CLI_RUNS command at once, stdout and stderr piped, in a colour-loving environment: output to a pipe
    must still be plain."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "LINES")}
    env.update(TERM="xterm-256color", FORCE_COLOR="1", COLORTERM="truecolor", COLUMNS="100",
               HOME=str(tmp_path_factory.mktemp("home")))
    procs = {name: subprocess.Popen([str(PROXYLENS), "analyze", str(DATA / args[0]), *args[1:]], cwd=ROOT, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, args in CLI_RUNS.items()}
    done = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        done[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return done


def request_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"^(GET|POST|PUT|DELETE|OPTIONS|HEAD) \S+ ", line)]


def test_cli_explain_prints_a_tree_per_entry(cli):
    run = cli["explain"]
    assert run.returncode == 0, run.stderr
    heads = request_lines(run.stdout)
    assert [h.split()[1] for h in heads] == ["https://www.example.org/", "https://www.example.org/api/upload?token=[redacted]",
                                             "https://expired.example.com/", "https://www.example.org/app.js"]
    assert "ERROR (tls) Certificate verify failed: certificate has expired" in heads[2]
    assert run.stdout.count("└── findings") == 4
    assert "see https://" in run.stdout
    text = flat(run.stdout)
    assert "caching: fresh for 10 min in the browser (Chromium)" in text
    assert "hsts: max-age 365 days, includeSubDomains" in text
    assert "status: no response (tls): Certificate verify failed: certificate has expired" in text
    assert "proxylens: 4 exchanges (1 without response)" in run.stdout  # then the summary


def test_cli_filter_keeps_only_the_304(cli):
    run = cli["filter-304"]
    assert run.returncode == 0, run.stderr
    entries = [line for line in run.stdout.splitlines() if " -> " in line]
    assert len(entries) == 1 and "GET https://www.example.org/app.js -> 304 Not Modified" in entries[0]
    # the summary still counts every exchange
    assert "proxylens: 4 exchanges (1 without response)" in run.stdout
    assert len([line for line in cli["lines"].stdout.splitlines() if " -> " in line]) == 4


def test_cli_category_shows_only_its_facts_and_findings(cli):
    run = cli["category-cors"]
    assert run.returncode == 0, run.stderr
    trees = run.stdout.split("\nproxylens: ")[0]
    assert request_lines(trees)
    assert set(re.findall(r"^[├└]── ([a-z]+): ", trees, re.MULTILINE)) == {"cors"}
    assert {rule.split(".")[0] for _, rule in finding_lines(trees)} == {"cors"}


def test_cli_category_cors_shows_the_blocked_request(cli):
    trees = cli["category-cors"].stdout.split("\nproxylens: ")[0]  # not the summary's examples
    assert "GET https://api.example.net/v1/profile" in trees


def test_cli_min_severity_error_keeps_the_errored_entry(cli):
    run = cli["min-error"]
    assert run.returncode == 0, run.stderr
    heads = request_lines(run.stdout.split("\nproxylens: ")[0])
    assert len(heads) == 1 and heads[0].startswith("GET https://expired.example.com/ ERROR (tls)")
    assert {sev for sev, _ in finding_lines(run.stdout)} == {"error"}


def test_cli_host_glob(cli):
    run = cli["host"]
    assert run.returncode == 0, run.stderr
    entries = [line for line in run.stdout.splitlines() if " -> " in line]
    assert len(entries) == 1 and "GET https://expired.example.com/ -> ERROR tls" in entries[0]


def test_cli_bad_filter_is_a_usage_error(cli):
    run = cli["bad-filter"]
    assert run.returncode == 2
    assert run.stdout == ""
    assert "--filter" in run.stderr and "'~c'" in run.stderr and "mitmproxy's filter language" in run.stderr


def test_cli_unknown_category_is_a_usage_error(cli):
    run = cli["bad-category"]
    assert run.returncode == 2
    assert "--category 'crs'" in run.stderr and "did you mean 'cors'" in run.stderr
    assert run.stdout == ""


def test_cli_quiet_prints_only_the_summary(cli):
    run = cli["quiet"]
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("proxylens: 4 exchanges (1 without response); findings: ")
    assert " -> " not in run.stdout and "└──" not in run.stdout
    assert cli["lines"].stdout.endswith(run.stdout)  # the same summary the default output ends with


@pytest.mark.parametrize("har", ["chrome", "firefox"])
def test_cli_explain_reads_browser_hars(cli, har):
    run = cli[har]
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    entries = json.loads((DATA / f"{har}.har").read_text())["log"]["entries"]
    assert len(request_lines(run.stdout)) == len(entries)
    assert "status: " in run.stdout and "caching: " in run.stdout


def test_cli_output_to_a_pipe_has_no_control_codes(cli):
    for name, run in cli.items():
        assert "\x1b" not in run.stdout, name
        assert "\x1b" not in run.stderr, name


@pytest.mark.parametrize("text,newlines,expected", [
    ("/p\x1b]0;pwned\x07q", False, "/p\\x1b]0;pwned\\x07q"),  # OSC: retitles the terminal
    ("Oops\x1b[2J\x1b[H", False, "Oops\\x1b[2J\\x1b[H"),  # clears the screen
    ("a\nb\tc\rd", False, "a\\x0ab\\x09c\\x0dd"),  # one exchange, one line: no forged log lines
    ("para one\n\npara two\x9b", True, "para one\n\npara two\\x9b"),  # details keep paragraphs; C1 CSI escaped
    ("café ✓ /ü", False, "café ✓ /ü"),  # printable Unicode is left alone
])
def test_printable_escapes_control_characters(text, newlines, expected):
    assert printable(text, newlines=newlines) == expected


def test_findings_and_lines_from_the_network_carry_no_escape_character():
    hostile = ex(0, "http://a.test/x\x1b[2Jy", resp_headers=[("Location", "/next")], status=302)
    result = session(hostile)[0]
    plain = exchange_line(result)
    tree = explain(result)
    coloured = render(Explanation(result), color=True)
    assert "\x1b" not in plain and "\x1b" not in tree and "\x1b[2J" not in coloured
    assert "\\x1b[2J" in plain and "\\x1b[2J" in tree
