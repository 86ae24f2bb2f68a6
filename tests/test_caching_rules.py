"""CachingAnalyzer end to end on hand-built exchanges: facts, the summary, and
every ``caching.*`` rule, single-exchange and across exchanges.

Each test runs its exchanges in order through one analyzer and one Session,
setting ``session.now`` to the request time as ``proxy.pipeline.Pipeline``
does, and calls ``CachingAnalyzer.analyze`` directly so that a crash is a
test error rather than a swallowed ``proxylens.analyzer-error``. Clocks are
fixed (``T``); Date headers are built with ``email.utils.formatdate``.

Expectations come from RFC 9111/9110, quoted where they decide a case.
"""

from __future__ import annotations

import itertools
import json
from email.utils import formatdate

import pytest

from addons import cache_lint, httplint_notes
from addons.caching import CachingAnalyzer, duration
from proxy.findings import Finding, Severity, catalog
from proxy.models import Body, Exchange, Headers, Request, Response, Timings
from proxy.pipeline import Result
from proxy.session import Session
from tests.support.results import only, rules

T = 1_700_000_000
DAY = 86400
URL = "https://cdn.example/app.js"
BODY = b"console.log('hello');\n"
_ids = itertools.count(1)
NO_DATE = object()


def http_date(t: float) -> str:
    return formatdate(t, usegmt=True)


def ex(resp=(), status: int = 200, *, req=(), url: str = URL, method: str = "GET", at: float = T,
       took: float = 0, date=None, body: bytes | None = None, reason: str = "", from_cache: str | None = None,
       timed: bool = True) -> Exchange:
    """One exchange: the request leaves at ``at``, the response arrives ``took`` seconds later with
    ``Date`` = its arrival (``date``: another time, a verbatim string, or NO_DATE)."""
    headers = list(resp)
    if date is None:
        date = at + took
    if date is not NO_DATE:
        headers.insert(0, ("Date", date if isinstance(date, str) else http_date(date)))
    if body is None:
        body = b"" if status == 304 else BODY
    request = Request(method, url, headers=Headers(tuple(req)), timestamp_start=at if timed else None)
    response = Response(status, reason, headers=Headers(tuple(headers)), body=Body(raw=body, size=len(body)),
                        timestamp_start=at + took if timed else None)
    return Exchange(str(next(_ids)), request, response, timings=Timings(started=at if timed else 0.0),
                    from_cache=from_cache)


class Run:
    """One analyzer, one session: exchanges analyzed in order, like a recorded browser session."""

    def __init__(self, engine: str = "chromium") -> None:
        self.analyzer = CachingAnalyzer(engine)
        self.session = Session()

    def __call__(self, exchange: Exchange) -> Result:
        self.session.now = exchange.timings.started  # what Pipeline.run does
        analysis = self.analyzer.analyze(exchange, self.session)
        assert analysis is not None
        json.dumps(analysis.facts, allow_nan=False)
        for finding in analysis.findings:
            assert isinstance(finding, Finding) and finding.rule in catalog
        return Result(exchange, {"caching": analysis.facts}, list(analysis.findings))


def run(*exchanges: Exchange, engine: str = "chromium") -> list[Result]:
    runner = Run(engine)
    return [runner(x) for x in exchanges]


def last(*exchanges: Exchange) -> Result:
    return run(*exchanges)[-1]


def facts(result: Result) -> dict:
    return result.facts["caching"]


def cc(value: str, *more) -> list[tuple[str, str]]:
    return [("Cache-Control", value), *more]


ETAG = ("ETag", '"v1"')
CLEAN = cc("max-age=600", ETAG)  # with the Date ex() adds: nothing to say


# =====================================================================================================
# Facts
# =====================================================================================================

FACT_KEYS = {"storable_private", "storable_shared", "freshness_lifetime_private", "freshness_lifetime_shared",
             "freshness_source", "age", "validators", "vary", "revalidation", "browser"}
BROWSER_KEYS = {"stores", "fresh_for", "then"}


def test_facts_contract():
    f = facts(last(ex(cc("max-age=600, s-maxage=3600", ETAG, ("Vary", "Accept-Encoding")))))
    assert FACT_KEYS <= set(f)
    assert BROWSER_KEYS <= set(f["browser"])
    assert f["storable_private"] is True and f["storable_shared"] is True
    assert f["freshness_lifetime_private"] == 600
    assert f["freshness_lifetime_shared"] == 3600
    assert f["freshness_source"] == "max-age"
    assert f["age"] == 0
    assert f["validators"] == ["etag"]
    assert f["vary"] == ["accept-encoding"]
    assert f["revalidation"] is None
    assert f["browser"]["stores"] is True
    assert f["browser"]["fresh_for"] == 600
    assert f["browser"]["then"] == "revalidate"
    assert f["browser"]["validator"] == "If-None-Match"
    assert isinstance(f["summary"], str) and f["summary"]


@pytest.mark.parametrize("resp,status,req,method,expected", [
    # no-store: nobody stores, lifetimes null, browser.fresh_for null.
    (cc("no-store"), 200, (), "GET", (False, False, None, None, None, False, None)),
    # private: the shared lifetime is null because a shared cache does not store it.
    (cc("private, max-age=60"), 200, (), "GET", (True, False, 60, None, "max-age", True, 60)),
    (cc("s-maxage=300"), 200, (), "GET", (True, True, None, 300, None, True, 0)),
    ([("Expires", http_date(T + 120))], 200, (), "GET", (True, True, 120, 120, "expires", True, 120)),
    ([("Last-Modified", http_date(T - 10 * DAY))], 200, (), "GET", (True, True, DAY, DAY, "heuristic", True, DAY)),
    (cc("max-age=60"), 200, (), "POST", (False, False, None, None, None, False, None)),
    (cc("max-age=60"), 302, (), "GET", (True, True, 60, 60, "max-age", True, 60)),
    ([], 302, (), "GET", (False, False, None, None, None, True, 0)),
])
def test_facts_table(resp, status, req, method, expected):
    f = facts(last(ex(resp, status, req=req, method=method)))
    got = (f["storable_private"], f["storable_shared"], f["freshness_lifetime_private"],
           f["freshness_lifetime_shared"], f["freshness_source"], f["browser"]["stores"], f["browser"]["fresh_for"])
    assert got == expected


def test_facts_age_counts_delay_and_age_header():
    """RFC 9111 4.2.3: Age 100 + response_delay 2 beats apparent age 2 (Date = request time)."""
    f = facts(last(ex(cc("max-age=600", ("Age", "100")), took=2, date=T)))
    assert f["age"] == 102
    assert f["browser"]["fresh_for"] == 498


def test_facts_of_a_response_served_from_the_browser_cache():
    f = facts(last(ex(CLEAN, from_cache="disk")))
    assert f["served_from"] == "disk cache"


def test_no_response_no_analysis():
    exchange = Exchange("x", Request("GET", URL, timestamp_start=T), None, timings=Timings(started=T))
    session = Session()
    session.now = T
    assert CachingAnalyzer().analyze(exchange, session) is None


# =====================================================================================================
# The summary sentence
# =====================================================================================================


@pytest.mark.parametrize("seconds,text", [
    (None, "not at all"), (0, "0 s"), (45, "45 s"), (90, "1 min 30 s"), (600, "10 min"), (3600, "1 h"),
    (5400, "1 h 30 min"), (DAY, "1 day"), (2 * DAY, "2 days"), (2147483648, "indefinitely"),
])
def test_duration(seconds, text: str):
    assert duration(seconds) == text


def test_summary_max_age_s_maxage_etag():
    summary = facts(last(ex(cc("max-age=600, s-maxage=3600", ETAG))))["summary"]
    assert "10 min" in summary
    assert "1 h" in summary
    assert "If-None-Match" in summary


@pytest.mark.parametrize("resp,status,words", [
    (cc("no-store"), 200, ["does not store", "no-store"]),
    ([], 301, ["indefinitely"]),
    (cc("no-cache", ETAG), 200, ["revalidates it with If-None-Match before every reuse"]),
    (cc("no-cache"), 200, ["downloads it again every time"]),
    (cc("max-age=60, stale-while-revalidate=600"), 200, ["1 min", "stale for up to 10 min"]),
    (cc("private, max-age=60"), 200, ["shared caches (CDN, proxy) do not store it"]),
    (cc("max-age=60", ("CDN-Cache-Control", "no-store")), 200, ["a CDN does not store it (CDN-Cache-Control)"]),
    (cc("private", ("CDN-Cache-Control", "max-age=7200")), 200, ["a CDN for 2 h"]),
    (cc("max-age=60", ("Last-Modified", http_date(T - DAY))), 200, ["If-Modified-Since"]),
])
def test_summary_words(resp, status: int, words: list[str]):
    summary = facts(last(ex(resp, status)))["summary"]
    for word in words:
        assert word in summary, summary


# =====================================================================================================
# A clean response says nothing
# =====================================================================================================


def test_clean_response_has_no_findings():
    assert rules(last(ex(CLEAN))) == []


def test_clean_sequence_has_only_the_good_revalidation():
    """Fresh for 10 min, asked again after 15 min with If-None-Match, answered by a complete 304."""
    results = run(ex(CLEAN),
                  ex(CLEAN, 304, req=[("If-None-Match", '"v1"')], at=T + 900),
                  ex(CLEAN, 304, req=[("If-None-Match", '"v1"')], at=T + 1800))
    assert [rules(r) for r in results] == [[], ["caching.revalidated"], ["caching.revalidated"]]


def test_clean_responses_on_different_urls_do_not_interact():
    results = run(ex(CLEAN, url=URL), ex(CLEAN, url=URL + "?v=2", at=T + 10), ex(CLEAN, url=URL + "x", at=T + 20))
    assert [rules(r) for r in results] == [[], [], []]


# =====================================================================================================
# Every caching rule: a case that produces it
# =====================================================================================================
#
# Rows: id, exchanges (analyzed in order in one session), the rule the last one must produce. The
# rules that come from httplint are triggered through the headers that make httplint emit the note.

LM_PAST = ("Last-Modified", http_date(T - 10 * DAY))
INM_V1 = [("If-None-Match", '"v1"')]
AUTH = [("Authorization", "Bearer secret")]


def cached(value: str, *more) -> list[Exchange]:
    """A single response with this Cache-Control."""
    return [ex(cc(value, *more))]


CASES: list[tuple[str, list[Exchange], str]] = [
    # -- from httplint's notes (addons/cache_lint.py) --
    ("cache-control-invalid-value", cached("max-age=abc"), "caching.cache-control-invalid-value"),
    ("cache-control-flag-with-value", cached("no-store=1"), "caching.cache-control-invalid-value"),
    ("max-age-too-large", cached("max-age=99999999999"), "caching.max-age-too-large"),
    ("cache-control-case", cached("Max-Age=60"), "caching.cache-control-case"),
    ("duplicate-directive", cached("max-age=60, max-age=120"), "caching.duplicate-directive"),
    ("conflicting-directives", cached("no-store, max-age=60"), "caching.conflicting-directives"),
    ("request-directive-in-response", cached("max-age=60, only-if-cached"), "caching.request-directive-in-response"),
    ("ie-pre-post-check", cached("pre-check=0, post-check=0"), "caching.ie-pre-post-check"),
    ("age-invalid", [ex(cc("max-age=60", ("Age", "abc")), timed=False, date=NO_DATE)], "caching.age-invalid"),
    ("age-large", cached("max-age=60", ("Age", "2147483649")), "caching.age-large"),
    ("date-missing", [ex(CLEAN, date=NO_DATE)], "caching.date-missing"),
    ("date-missing-with-dates", [ex([("Expires", http_date(T + 60))], date=NO_DATE)],
     "caching.date-missing-with-dates"),
    ("clock-skew-behind", [ex(CLEAN, date=T - 700)], "caching.clock-skew"),
    ("clock-skew-ahead", [ex(CLEAN, date=T + 700)], "caching.clock-skew"),
    # Date is now but Age says an hour: the Date was rewritten on the way. (httplint reads Age while it
    # evaluates Date, so Age has to come first.)
    ("date-changed-by-intermediary", [ex(cc("max-age=7200", ("Age", "3600"), ("Date", http_date(T))), date=NO_DATE)],
     "caching.date-changed-by-intermediary"),
    ("last-modified-in-future", cached("max-age=60", ("Last-Modified", http_date(T + 100))),
     "caching.last-modified-in-future"),
    ("invalid-date", cached("max-age=60", ("Expires", "0")), "caching.invalid-date"),
    ("obsolete-date-format", cached("max-age=60", ("Expires", "Tuesday, 14-Nov-23 22:13:20 GMT")),
     "caching.obsolete-date-format"),
    ("private-and-public", cached("public, private, max-age=60"), "caching.private-and-public"),
    ("authorized-response-shared", [ex(cc("public, max-age=60"), req=AUTH)], "caching.authorized-response-shared"),
    ("public-unnecessary", cached("public, max-age=60"), "caching.public-unnecessary"),
    ("no-cache-without-validator", cached("no-cache"), "caching.no-cache-without-validator"),
    ("cache-status-unknown-param", cached("max-age=60", ("Cache-Status", "ExampleCDN; hit; foo=1")),
     "caching.cache-status-invalid"),
    ("cache-status-bad-fwd", cached("max-age=60", ("Cache-Status", "ExampleCDN; fwd=bogus")),
     "caching.cache-status-invalid"),
    ("cdn-cache-control-invalid", cached("max-age=60", ("CDN-Cache-Control", "max-age=abc")),
     "caching.cdn-cache-control-invalid"),
    ("vary-star", cached("max-age=60", ("Vary", "*")), "caching.vary-star"),
    ("vary-user-agent", cached("max-age=60", ("Vary", "User-Agent")), "caching.vary-user-agent"),
    ("vary-host", cached("max-age=60", ("Vary", "Host")), "caching.vary-host"),
    ("vary-duplicate", cached("max-age=60", ("Vary", "Accept, accept")), "caching.vary-duplicate"),
    ("vary-complex", cached("max-age=60", ("Vary", "Accept, Accept-Language, Accept-Encoding, Cookie, Origin, X-A")),
     "caching.vary-complex"),
    ("not-modified-without-date", [ex(CLEAN, 304, req=INM_V1, date=NO_DATE)], "caching.not-modified-without-date"),
    ("not-modified-extra-headers", [ex(CLEAN + [("Content-Type", "text/javascript")], 304, req=INM_V1)],
     "caching.not-modified-extra-headers"),
    ("header-syntax-etag", cached("max-age=60", ("ETag", "v1")), "caching.header-syntax"),
    ("header-syntax-repeated-date", cached("max-age=60", ("Date", http_date(T))), "caching.header-syntax"),
    ("header-syntax-cache-status", cached("max-age=60", ("Cache-Status", "%%%")), "caching.header-syntax"),
    # -- proxylens's own single-exchange checks --
    ("browser-differs-301", [ex([], 301)], "caching.browser-differs-from-rfc"),
    ("browser-differs-pragma", cached("max-age=600", ("Pragma", "no-cache")), "caching.browser-differs-from-rfc"),
    ("browser-differs-404-heuristic", [ex([LM_PAST], 404)], "caching.browser-differs-from-rfc"),
    ("heuristic-freshness", [ex([LM_PAST])], "caching.heuristic-freshness"),
    ("stale-on-arrival", [ex(CLEAN, date=T - 700)], "caching.stale-on-arrival"),
    ("stale-on-arrival-age", cached("max-age=60", ("Age", "61")), "caching.stale-on-arrival"),
    ("pragma-only", [ex([("Pragma", "no-cache")])], "caching.pragma-only"),
    ("immutable-short", cached("max-age=60, immutable"), "caching.immutable-short-lifetime"),
    ("immutable-without-max-age", cached("immutable"), "caching.immutable-short-lifetime"),
    ("set-cookie-shared", cached("max-age=600", ("Set-Cookie", "sid=1")), "caching.set-cookie-shared-cacheable"),
    ("no-cache-with-set-cookie", cached("no-cache", ETAG, ("Set-Cookie", "sid=1")), "caching.no-cache-is-not-no-store"),
    ("no-cache-with-cookie", [ex(cc("no-cache", ETAG), req=[("Cookie", "sid=1")])], "caching.no-cache-is-not-no-store"),
    ("cdn-hit-on-private", cached("private, max-age=60", ("Cache-Status", "ExampleCDN; hit")),
     "caching.shared-cache-hit-uncacheable"),
    ("cdn-served-stale", [ex(cc("max-age=60, s-maxage=300", ("Age", "400"), ("Cache-Status", "ExampleCDN; hit")),
                             date=T - 400)], "caching.shared-cache-served-stale"),
    ("cache-busting-query", [ex(CLEAN, url=f"{URL}?_={T * 1000}")], "caching.cache-busting-query"),
    # -- across exchanges --
    ("revalidated", [ex(CLEAN), ex(CLEAN, 304, req=INM_V1, at=T + 900)], "caching.revalidated"),
    ("not-modified-missing-headers", [ex(CLEAN), ex([], 304, req=INM_V1, at=T + 900)],
     "caching.not-modified-missing-headers"),
    ("not-modified-validator-mismatch", [ex(CLEAN), ex(cc("max-age=600", ("ETag", '"v2"')), 304, req=INM_V1,
                                                       at=T + 900)], "caching.not-modified-validator-mismatch"),
    ("full-response-to-matching-condition", [ex(CLEAN), ex(CLEAN, req=INM_V1, at=T + 900)],
     "caching.full-response-to-matching-condition"),
    ("validator-not-used", [ex(CLEAN), ex(CLEAN, at=T + 900)], "caching.validator-not-used"),
    ("fresh-response-refetched", [ex(CLEAN), ex(CLEAN, at=T + 60)], "caching.fresh-response-refetched"),
    ("unstable-validator", [ex(CLEAN), ex(cc("max-age=600", ("ETag", '"v2"')), at=T + 900)],
     "caching.unstable-validator"),
    ("inconsistent-vary", [ex(cc("max-age=60", ("Vary", "Accept-Encoding"))),
                           ex(cc("max-age=60", ("Vary", "Accept-Encoding, Origin")), at=T + 900)],
     "caching.inconsistent-vary"),
]

CASE_IDS = [c[0] for c in CASES]
assert len(set(CASE_IDS)) == len(CASE_IDS), "duplicate case ids"


@pytest.mark.parametrize("exchanges,rule", [c[1:] for c in CASES], ids=CASE_IDS)
def test_rule_is_produced(exchanges: list[Exchange], rule: str):
    result = run(*exchanges)[-1]
    finding = next((f for f in result.findings if f.rule == rule), None)
    assert finding is not None, rules(result)
    registered = catalog.get(rule)
    assert finding.category == "caching"
    assert finding.reference == registered.reference and finding.reference.startswith("https://")
    assert finding.summary and finding.subject
    assert all(v is None or isinstance(v, (str, int, float, bool)) for v in finding.evidence.values())


def test_lint_failed(monkeypatch: pytest.MonkeyPatch):
    """An httplint crash costs only its notes: the facts are complete and the failure is reported."""
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(httplint_notes, "lint", broken)
    result = last(ex(CLEAN))
    finding = only(result, "caching.lint-failed")
    assert finding.evidence["exception"] == "RuntimeError"
    assert facts(result)["browser"]["fresh_for"] == 600


def _triggered(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    produced: set[str] = set()
    for _, exchanges, _ in CASES:
        for result in run(*exchanges):
            produced.update(rules(result))
    with monkeypatch.context() as patch:
        patch.setattr(httplint_notes, "lint", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
        produced.update(rules(last(ex(CLEAN))))
    return produced


def caching_rules() -> set[str]:
    return {rule.id for rule in catalog if rule.id.startswith("caching.")}


def test_the_cases_cover_every_caching_rule(monkeypatch: pytest.MonkeyPatch):
    assert caching_rules() - _triggered(monkeypatch) == set()


@pytest.mark.parametrize("age", ["abc", "-1"])
def test_invalid_age_is_reported_as_age_invalid(age: str):
    found = rules(last(ex(cc("max-age=60", ("Age", age)))))
    assert "caching.age-invalid" in found
    assert "caching.lint-failed" not in found


# =====================================================================================================
# Negative cases: each rule stays quiet on a clean response, and on its near misses
# =====================================================================================================


@pytest.mark.parametrize("rule", sorted(caching_rules()))
def test_rule_is_quiet_on_a_clean_response(rule: str):
    assert rule not in rules(last(ex(CLEAN)))


NEAR_MISSES = [
    ("immutable-with-a-year", cached("max-age=31536000, immutable"), "caching.immutable-short-lifetime"),
    ("set-cookie-private", cached("private, max-age=600", ("Set-Cookie", "sid=1")),
     "caching.set-cookie-shared-cacheable"),
    ("set-cookie-no-store", cached("no-store", ("Set-Cookie", "sid=1")), "caching.set-cookie-shared-cacheable"),
    ("set-cookie-no-cache-qualified", cached('max-age=600, no-cache="Set-Cookie"', ("Set-Cookie", "sid=1")),
     "caching.set-cookie-shared-cacheable"),
    ("no-cache-no-store-with-cookie", [ex(cc("no-cache, no-store"), req=[("Cookie", "sid=1")])],
     "caching.no-cache-is-not-no-store"),
    ("no-cache-anonymous", cached("no-cache", ETAG), "caching.no-cache-is-not-no-store"),
    ("pragma-with-cache-control", cached("no-cache", ETAG, ("Pragma", "no-cache")), "caching.pragma-only"),
    ("max-age-is-not-heuristic", [ex(cc("max-age=60", LM_PAST))], "caching.heuristic-freshness"),
    ("404-heuristic-not-in-chromium", [ex([LM_PAST], 404)], "caching.heuristic-freshness"),
    ("age-below-lifetime", cached("max-age=60", ("Age", "59")), "caching.stale-on-arrival"),
    ("date-skew-small", [ex(CLEAN, date=T - 3)], "caching.clock-skew"),
    ("cdn-hit-allowed", cached("max-age=60", ("Cache-Status", "ExampleCDN; hit")),
     "caching.shared-cache-hit-uncacheable"),
    ("cdn-miss-on-private", cached("private", ("Cache-Status", "ExampleCDN; fwd=uri-miss")),
     "caching.shared-cache-hit-uncacheable"),
    ("cdn-hit-on-private-allowed-by-cdn-cache-control",
     cached("private", ("CDN-Cache-Control", "max-age=600"), ("Cache-Status", "ExampleCDN; hit")),
     "caching.shared-cache-hit-uncacheable"),
    ("cdn-hit-within-s-maxage", [ex(cc("max-age=60, s-maxage=300", ("Age", "200"), ("Cache-Status", "ExampleCDN; hit")),
                                    date=T - 200)], "caching.shared-cache-served-stale"),
    ("cdn-hit-within-stale-while-revalidate",
     [ex(cc("max-age=300, stale-while-revalidate=200", ("Age", "400"), ("Cache-Status", "ExampleCDN; hit")),
         date=T - 400)], "caching.shared-cache-served-stale"),
    ("browser-agrees-on-clean", [ex(CLEAN)], "caching.browser-differs-from-rfc"),
    ("vary-accept-encoding", cached("max-age=60", ("Vary", "Accept-Encoding")), "caching.vary-complex"),
]


@pytest.mark.parametrize("exchanges,rule", [c[1:] for c in NEAR_MISSES], ids=[c[0] for c in NEAR_MISSES])
def test_rule_is_quiet_on_a_near_miss(exchanges: list[Exchange], rule: str):
    assert rule not in rules(run(*exchanges)[-1])


# =====================================================================================================
# Single-exchange rules in detail
# =====================================================================================================


def test_stale_on_arrival_from_a_slow_server_clock():
    result = last(ex(CLEAN, date=T - 700))
    finding = only(result, "caching.stale-on-arrival")
    assert finding.evidence["age"] == 700 and finding.evidence["lifetime"] == 600
    assert finding.severity is Severity.WARNING
    assert "caching.clock-skew" in rules(result)
    assert facts(result)["browser"]["fresh_for"] == 0


def test_heuristic_freshness_says_how_long():
    finding = only(last(ex([LM_PAST])), "caching.heuristic-freshness")
    assert finding.evidence == {"heuristic_lifetime": DAY, "since_last_modified": 10 * DAY}
    assert "1 day" in finding.summary and "10 days" in finding.summary


def test_browser_differs_says_how():
    finding = only(last(ex([], 301)), "caching.browser-differs-from-rfc")
    assert finding.evidence["browser_fresh_for"] == 2147483648
    assert finding.evidence["rfc_fresh_for"] == 0
    assert "indefinitely" in finding.summary


def test_pragma_only_is_a_browser_only_no_cache():
    result = last(ex([("Pragma", "no-cache"), LM_PAST]))
    assert "caching.pragma-only" in rules(result)
    f = facts(result)
    assert f["browser"]["fresh_for"] == 0 and f["browser"]["then"] == "revalidate"
    assert f["freshness_lifetime_shared"] == DAY  # a CDN uses the heuristic


def test_qualified_private_set_cookie_keeps_the_cookie_out_of_shared_caches():
    assert "caching.set-cookie-shared-cacheable" not in rules(
        last(ex(cc('private="Set-Cookie", max-age=600', ("Set-Cookie", "sid=1")))))


# =====================================================================================================
# CDN and proxy caches
# =====================================================================================================


@pytest.mark.parametrize("header,value,status,source", [
    ("Cache-Status", "ExampleCDN; hit", "hit", "Cache-Status"),
    ("Cache-Status", "ExampleCDN; fwd=uri-miss", "miss", "Cache-Status"),
    ("Cache-Status", "ExampleCDN; fwd=stale; fwd-status=304", "revalidated", "Cache-Status"),
    ("Cache-Status", "ExampleCDN; fwd=bypass", "bypass", "Cache-Status"),
    ("Cache-Status", "ExampleCDN; hit; ttl=-10", "stale", "Cache-Status"),
    # RFC 9211: members are "in the order they handled it": the last is nearest the client.
    ("Cache-Status", "Origin; fwd=uri-miss, ExampleCDN; hit", "hit", "Cache-Status"),
    ("Cache-Status", "ExampleCDN; hit, Edge; fwd=uri-miss", "miss", "Cache-Status"),
    ("X-Cache", "MISS, HIT", "hit", "X-Cache"),
    ("X-Cache", "HIT, MISS", "miss", "X-Cache"),
    ("X-Cache", "TCP_REFRESH_HIT from proxy", "revalidated", "X-Cache"),
    ("CF-Cache-Status", "HIT", "hit", "CF-Cache-Status"),
    ("CF-Cache-Status", "DYNAMIC", "bypass", "CF-Cache-Status"),
    ("CF-Cache-Status", "EXPIRED", "expired", "CF-Cache-Status"),
])
def test_cdn_status(header: str, value: str, status: str, source: str):
    cdn = facts(last(ex(cc("max-age=600", (header, value)))))["cdn"]
    assert (cdn["status"], cdn["source"], cdn["value"]) == (status, source, value)


def test_cache_status_names_the_cache():
    cdn = facts(last(ex(cc("max-age=600", ("Cache-Status", "ExampleCDN; hit; ttl=30")))))["cdn"]
    assert cdn["cache"] == "ExampleCDN" and cdn["ttl"] == 30


def test_age_alone_means_a_cache_answered():
    """RFC 9111 5.1: an Age "implies that the response was not generated or validated by the origin
    server for this request"."""
    cdn = facts(last(ex(cc("max-age=600", ("Age", "30")), date=T - 30)))["cdn"]
    assert cdn["status"] == "hit" and cdn["source"] == "Age"
    assert facts(last(ex(CLEAN)))["cdn"] is None


@pytest.mark.parametrize("header,value", [("Cache-Status", "ExampleCDN; hit"), ("X-Cache", "MISS, HIT"),
                                          ("CF-Cache-Status", "HIT")])
def test_shared_cache_hit_on_a_private_response(header: str, value: str):
    finding = only(last(ex(cc("private, max-age=60", (header, value)))), "caching.shared-cache-hit-uncacheable")
    assert finding.severity is Severity.ERROR
    assert finding.evidence["header"] == header


@pytest.mark.parametrize("value", ["no-store", "no-cache"])
def test_shared_cache_hit_on_no_store_or_no_cache(value: str):
    assert "caching.shared-cache-hit-uncacheable" in rules(last(ex(cc(value, ETAG, ("X-Cache", "HIT")))))


def test_cdn_cache_control_allows_the_hit():
    result = last(ex(cc("private", ("CDN-Cache-Control", "max-age=600"), ("Cache-Status", "ExampleCDN; hit"))))
    assert "caching.shared-cache-hit-uncacheable" not in rules(result)
    assert facts(result)["targeted"] == {"field": "CDN-Cache-Control", "directives": {"max-age": "600"},
                                         "lifetime": 600}


def test_cdn_cache_control_forbids_the_hit():
    result = last(ex(cc("max-age=600", ("CDN-Cache-Control", "no-store"), ("X-Cache", "HIT"))))
    assert "caching.shared-cache-hit-uncacheable" in rules(result)


def test_served_stale_beyond_s_maxage():
    """s-maxage=300 for shared caches; the hit's Age (and Date) say 400 s: 100 s past it."""
    result = last(ex(cc("max-age=60, s-maxage=300", ("Age", "400"), ("Cache-Status", "ExampleCDN; hit")),
                     date=T - 400))
    finding = only(result, "caching.shared-cache-served-stale")
    assert finding.evidence == {"age": 400, "lifetime": 300}


def test_served_stale_beyond_cdn_cache_control():
    result = last(ex(cc("max-age=3600", ("CDN-Cache-Control", "max-age=60"), ("Age", "120"),
                        ("X-Cache", "HIT")), date=T - 120))
    assert only(result, "caching.shared-cache-served-stale").evidence == {"age": 120, "lifetime": 60}


@pytest.mark.parametrize("order", [
    ["Age", "Date"],
    ["Date", "Age"]])
def test_an_aged_cdn_hit_is_not_clock_skew(order: list[str]):
    values = {"Date": ("Date", http_date(T - 300)), "Age": ("Age", "300")}
    result = last(ex(cc("max-age=600", ETAG, ("X-Cache", "HIT"), *(values[n] for n in order)), date=NO_DATE))
    assert "caching.clock-skew" not in rules(result)
    assert facts(result)["age"] == 300


@pytest.mark.parametrize("header,value", [("X-Cache", "HIT"), ("Cache-Status", "ExampleCDN; hit")])
def test_a_cdn_304_hit_without_the_earlier_200_is_fine(header: str, value: str):
    result = last(ex(cc("max-age=600", ETAG, (header, value)), 304, req=INM_V1))
    assert "caching.shared-cache-hit-uncacheable" not in rules(result)


# =====================================================================================================
# Across exchanges
# =====================================================================================================


def test_revalidated_with_if_none_match():
    second = run(ex(CLEAN), ex(CLEAN, 304, req=INM_V1, at=T + 900))[1]
    finding = only(second, "caching.revalidated")
    assert finding.severity is Severity.GOOD
    assert finding.evidence["saved_bytes"] == len(BODY)
    assert facts(second)["revalidation"] == {"if_none_match": '"v1"', "if_modified_since": None, "status": 304,
                                            "outcome": "not-modified", "validator_matched": True}
    # The 304 freshened the stored 200: judged as what is now stored.
    f = facts(second)
    assert f["storable_private"] is True and f["browser"]["fresh_for"] == 600 and f["validators"] == ["etag"]


def test_revalidated_with_if_modified_since():
    lm = http_date(T - DAY)
    first = ex(cc("max-age=60", ("Last-Modified", lm)))
    second = ex(cc("max-age=60", ("Last-Modified", lm)), 304, req=[("If-Modified-Since", lm)], at=T + 120)
    result = run(first, second)[1]
    assert rules(result) == ["caching.revalidated"]
    assert facts(result)["revalidation"]["if_modified_since"] == lm
    assert facts(result)["revalidation"]["validator_matched"] is None


def test_weak_comparison_for_if_none_match():
    """RFC 9110 13.1.2: If-None-Match uses the weak comparison: W/"v1" matches "v1"."""
    result = run(ex(cc("max-age=60", ("ETag", 'W/"v1"'))),
                 ex(cc("max-age=60", ("ETag", '"v1"')), 304, req=[("If-None-Match", 'W/"v1"')], at=T + 120))[1]
    assert "caching.revalidated" in rules(result)
    assert "caching.not-modified-validator-mismatch" not in rules(result)


def test_304_missing_what_the_200_had():
    first = ex(cc("max-age=600", ETAG, ("Vary", "Accept-Encoding")))
    second = ex([], 304, req=INM_V1, at=T + 900)
    result = run(first, second)[1]
    finding = only(result, "caching.not-modified-missing-headers")
    assert finding.evidence == {"missing": "cache-control, etag, vary"}
    assert finding.subject == "response.header.cache-control"
    # Still a revalidation: the stored ETag matched.
    assert "caching.revalidated" in rules(result)


def test_304_with_a_different_etag():
    result = run(ex(CLEAN), ex(cc("max-age=600", ("ETag", '"v2"')), 304, req=INM_V1, at=T + 900))[1]
    finding = only(result, "caching.not-modified-validator-mismatch")
    assert finding.evidence == {"etag": '"v2"', "if_none_match": '"v1"'}
    assert "caching.revalidated" not in rules(result)
    assert facts(result)["revalidation"]["validator_matched"] is False


def test_full_response_when_a_304_would_do():
    result = run(ex(CLEAN), ex(CLEAN, req=INM_V1, at=T + 900))[1]
    finding = only(result, "caching.full-response-to-matching-condition")
    assert str(len(BODY)) in finding.summary
    revalidation = facts(result)["revalidation"]
    assert (revalidation["outcome"], revalidation["validator_matched"]) == ("modified", True)


def test_full_response_to_a_matching_if_modified_since():
    lm = http_date(T - DAY)
    result = run(ex(cc("max-age=60", ("Last-Modified", lm))),
                 ex(cc("max-age=60", ("Last-Modified", lm)), req=[("If-Modified-Since", lm)], at=T + 120))[1]
    assert "caching.full-response-to-matching-condition" in rules(result)


def test_full_response_to_an_if_modified_since_later_than_last_modified():
    lm = http_date(T - DAY)
    result = run(ex(cc("max-age=60", ("Last-Modified", lm))),
                 ex(cc("max-age=60", ("Last-Modified", lm)), req=[("If-Modified-Since", http_date(T))],
                    at=T + 120))[1]
    assert "caching.full-response-to-matching-condition" in rules(result)


def test_full_response_to_if_none_match_star():
    result = run(ex(CLEAN), ex(CLEAN, req=[("If-None-Match", "*")], at=T + 900))[1]
    assert "caching.full-response-to-matching-condition" in rules(result)


def test_no_full_response_finding_when_the_etag_changed():
    result = run(ex(CLEAN), ex(cc("max-age=600", ("ETag", '"v2"')), body=b"new", req=INM_V1, at=T + 900))[1]
    assert rules(result) == []
    assert facts(result)["revalidation"]["validator_matched"] is False


def test_validator_not_used_after_the_response_went_stale():
    result = run(ex(CLEAN), ex(CLEAN, at=T + 900))[1]
    finding = only(result, "caching.validator-not-used")
    assert finding.evidence == {"validator": '"v1"', "size": len(BODY)}
    assert finding.subject == "request.header.if-none-match"
    assert "caching.fresh-response-refetched" not in rules(result)


def test_validator_not_used_names_last_modified_when_there_is_no_etag():
    lm = http_date(T - DAY)
    result = run(ex(cc("max-age=60", ("Last-Modified", lm))), ex(cc("max-age=60", ("Last-Modified", lm)),
                                                                   at=T + 120))[1]
    assert only(result, "caching.validator-not-used").subject == "request.header.if-modified-since"


@pytest.mark.parametrize("first,second_req,at", [
    (CLEAN, [("Cache-Control", "no-cache")], T + 900),       # the client chose to bypass
    (CLEAN, [("Range", "bytes=0-9")], T + 900),                # a range request
    (cc("max-age=600"), (), T + 900),                           # nothing to validate with
    (CLEAN, (), T + 599),                                       # still fresh: another rule
    (cc("max-age=600", ETAG, ("Vary", "Accept-Language")), [("Accept-Language", "de")], T + 900),  # other variant
])
def test_validator_not_used_stays_quiet(first, second_req, at):
    assert "caching.validator-not-used" not in rules(run(ex(first), ex(CLEAN, req=second_req, at=at))[1])


def test_validator_not_used_agrees_with_the_browser_model():
    first = ex(cc("max-age=600", ("Vary", "*"), ("Last-Modified", http_date(T - DAY))))
    results = run(first, ex(CLEAN, at=T + 900))
    assert facts(results[0])["browser"]["then"] == "refetch"
    assert "caching.validator-not-used" not in rules(results[1])


def test_fresh_response_refetched():
    result = run(ex(CLEAN), ex(CLEAN, at=T + 60))[1]
    finding = only(result, "caching.fresh-response-refetched")
    assert finding.evidence == {"fresh_for_left": 540, "bypass": None}
    assert "9 min" in finding.summary


@pytest.mark.parametrize("req,bypass", [
    ([("Cache-Control", "no-cache")], "Cache-Control: no-cache"),
    ([("Cache-Control", "no-store")], "Cache-Control: no-store"),
    ([("Cache-Control", "max-age=0")], "Cache-Control: max-age=0"),
    ([("Pragma", "no-cache")], "Pragma: no-cache"),
])
def test_fresh_response_refetched_names_the_bypass(req, bypass: str):
    finding = only(run(ex(CLEAN), ex(CLEAN, req=req, at=T + 60))[1], "caching.fresh-response-refetched")
    assert finding.evidence["bypass"] == bypass
    assert bypass in finding.summary and "bypassed" in finding.summary


def test_fresh_response_refetched_stays_quiet_for_another_variant():
    vary = cc("max-age=600", ETAG, ("Vary", "Accept-Language"))
    results = run(ex(vary, req=[("Accept-Language", "en")]), ex(vary, req=[("Accept-Language", "de")], at=T + 60))
    assert "caching.fresh-response-refetched" not in rules(results[1])


def test_fresh_response_refetched_stays_quiet_after_no_store():
    results = run(ex(cc("no-store")), ex(cc("no-store"), at=T + 1))
    assert rules(results[1]) == []


def test_fresh_response_refetched_after_a_permanent_redirect_says_indefinitely():
    redirect = [("Location", "https://cdn.example/new.js")]
    finding = only(run(ex(redirect, 301), ex(redirect, 301, at=T + 60))[1], "caching.fresh-response-refetched")
    assert "indefinitely" in finding.summary


def test_unstable_validator():
    result = run(ex(CLEAN), ex(cc("max-age=600", ("ETag", '"v2"')), req=INM_V1, at=T + 900))[1]
    finding = only(result, "caching.unstable-validator")
    assert finding.evidence == {"previous": '"v1"', "current": '"v2"'}
    assert facts(result)["revalidation"]["outcome"] == "modified"


def test_unstable_last_modified():
    result = run(ex(cc("max-age=60", ("Last-Modified", http_date(T - DAY)))),
                 ex(cc("max-age=60", ("Last-Modified", http_date(T + 120))), at=T + 120, date=T + 120))[1]
    assert only(result, "caching.unstable-validator").subject == "response.header.last-modified"


def test_a_new_etag_for_new_content_is_fine():
    result = run(ex(CLEAN), ex(cc("max-age=600", ("ETag", '"v2"')), body=b"changed", at=T + 900))[1]
    assert "caching.unstable-validator" not in rules(result)


def test_inconsistent_vary():
    result = run(ex(cc("max-age=60", ("Vary", "Accept-Encoding"))),
                 ex(cc("max-age=60", ("Vary", "Accept-Encoding, Origin")), at=T + 900))[1]
    finding = only(result, "caching.inconsistent-vary")
    assert finding.evidence == {"previous": "accept-encoding", "current": "accept-encoding, origin"}


def test_vary_in_another_order_or_case_is_consistent():
    result = run(ex(cc("max-age=60", ("Vary", "Origin, Accept-Encoding"))),
                 ex(cc("max-age=60", ("Vary", "accept-encoding, origin")), at=T + 900))[1]
    assert "caching.inconsistent-vary" not in rules(result)


def test_post_does_not_compare_with_the_previous_get():
    results = run(ex(CLEAN), ex(cc("no-store"), method="POST", at=T + 10))
    assert rules(results[1]) == []


def test_exchanges_from_the_browser_cache_are_not_compared():
    results = run(ex(CLEAN), ex(CLEAN, at=T + 60, from_cache="memory"), ex(CLEAN, 304, req=INM_V1, at=T + 900))
    assert rules(results[1]) == []
    assert rules(results[2]) == ["caching.revalidated"]


# =====================================================================================================
# Cache-busting query strings
# =====================================================================================================


def test_cache_busting_timestamp_in_milliseconds():
    finding = only(last(ex(CLEAN, url=f"{URL}?_={T * 1000 + 123}")), "caching.cache-busting-query")
    assert finding.evidence == {"parameter": "_", "value": str(T * 1000 + 123)}


def test_cache_busting_timestamp_in_seconds():
    assert "caching.cache-busting-query" in rules(last(ex(CLEAN, url=f"{URL}?lang=en&ts={T}")))


def test_cache_busting_changing_buster_parameter():
    results = run(ex(CLEAN, url=f"{URL}?cb=a1b2c3"), ex(CLEAN, url=f"{URL}?cb=d4e5f6", at=T + 5))
    assert "caching.cache-busting-query" not in rules(results[0])
    assert "caching.cache-busting-query" in rules(results[1])


@pytest.mark.parametrize("resp,urls", [
    (cc("no-store"), [f"{URL}?_={T * 1000}"]),                          # nothing to reuse anyway
    (cc("no-cache"), [f"{URL}?_={T * 1000}"]),                          # stored, but no validator: refetched anyway
    (CLEAN, [f"{URL}?v=abc123", f"{URL}?v=abc123"]),                    # a constant version parameter
    (CLEAN, [f"{URL}?id=42", f"{URL}?id=43"]),                          # a real parameter
    (CLEAN, [f"{URL}?_={(T - 30 * DAY) * 1000}"]),                      # a timestamp, but not "now"
])
def test_no_cache_busting(resp, urls: list[str]):
    results = run(*(ex(resp, url=u, at=T + i) for i, u in enumerate(urls)))
    assert all("caching.cache-busting-query" not in rules(r) for r in results)
