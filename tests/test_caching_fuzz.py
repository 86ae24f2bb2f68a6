"""Hypothesis over the caching parsers (cache_headers, cache_status) and
CachingAnalyzer.analyze: total (nothing raises), well-typed results, JSON
facts, catalogued findings, and the parsers' answers checked against small
references written from RFC 9110/9111/9211.

The analyzer is called directly, not through the Pipeline, so that a crash
fails the test instead of becoming a ``proxylens.analyzer-error`` finding.
Every header the analyzer reads is fuzzed, with realistic values, malformed
ones, any Unicode, the wire's non-UTF-8 bytes as mitmproxy decodes them
(surrogateescape), and very long values; so are status codes 100-599, the
method, the query string, the clocks, and sequences of two or three
exchanges on the same URL.

Two crashes found this way (thousands of digits in a delta-seconds, Unicode
digits in a query value) are kept as plain examples at the end.
"""

from __future__ import annotations

import json
import math
import re
import time
from email.utils import formatdate

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from addons.cache_headers import (
    DELTA_MAX,
    Directives,
    delta_seconds,
    etag_list,
    parse_directives,
    parse_etag,
    parse_http_date,
    parse_vary,
    split_commas,
    weak_match,
)
from addons.cache_status import CdnStatus, cdn_status, parse_cache_status, targeted
from addons.caching import CachingAnalyzer
from proxy.findings import Finding, catalog
from proxy.models import Body, Exchange, Headers, Request, Response, Timings
from proxy.session import Session

FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.data_too_large,
                                                                        HealthCheck.filter_too_much])

T = 1_700_000_000
URL = "https://cdn.example/app.js"

# -- strategies -----------------------------------------------------------------------------------------

unicode_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)
wire_bytes = st.binary(max_size=40).map(lambda b: b.decode("utf-8", "surrogateescape"))
tricky = st.text(st.sampled_from(list(',;="\'\t \x00\r\n\x7f()<>@:[]{}*/\\-.é0123456789aZW\udc80?%')), max_size=30)
huge = st.tuples(st.one_of(tricky, st.sampled_from(["max-age=1, ", "9", "a", '"', ", "])).filter(bool),
                 st.integers(100, 2000)).map(lambda t: (t[0] * t[1])[:10_000])
any_text = st.one_of(unicode_text, wire_bytes, tricky, huge)


def dates() -> st.SearchStrategy[str]:
    """HTTP-dates around T (IMF-fixdate, RFC 850, asctime), and what servers get wrong."""
    t = st.integers(-400 * 86400, 400 * 86400).map(lambda d: T + d)
    return st.one_of(
        t.map(lambda x: formatdate(x, usegmt=True)),
        t.map(lambda x: time.strftime("%A, %d-%b-%y %H:%M:%S GMT", time.gmtime(x))),
        t.map(lambda x: time.asctime(time.gmtime(x))),
        t.map(lambda x: formatdate(x)),                                     # "-0000" instead of GMT
        st.sampled_from(["0", "-1", "", "now", "Thu, 01 Jan 1970 00:00:00 GMT", "Sun, 06 Nov 99999 08:49:37 GMT",
                         "Sun, 31 Feb 2023 08:49:37 GMT", "Sun, 06 Nov 1994 25:61:61 GMT", "Mon, 00 Jan 0000 00:00:00 GMT",
                         "Sun, 06 Nov 1994 08:49:37 +9999", "Tue, 14 Nov 2023 22:13:20 GMT, Tue, 14 Nov 2023"]),
        any_text)


DIRECTIVES = ["max-age=600", "max-age=0", "max-age=abc", "max-age=-1", 'max-age="60"', "max-age=", "max-age",
              "max-age=99999999999", "MAX-AGE=5", "s-maxage=3600", "s-maxage=x", "no-cache", 'no-cache="Set-Cookie"',
              "no-store", "no-store=1", "private", 'private="Set-Cookie"', "private=", "public", "must-revalidate",
              "proxy-revalidate", "immutable", "stale-while-revalidate=60", "stale-if-error=x", "only-if-cached",
              "pre-check=0", "post-check=0", "no-transform", "must-understand", "x-ext=\"a, b\"", "=", ",", '"',
              "max-stale", "min-fresh=1"]
cache_control = st.one_of(st.lists(st.sampled_from(DIRECTIVES), max_size=5).map(", ".join), any_text)
ages = st.one_of(st.integers(-5, 10**12).map(str), st.sampled_from(["abc", "1.5", "+5", '"5"', "", "10, 20", " 7 "]),
                 st.text("0123456789", min_size=1, max_size=40), any_text)
etags = st.one_of(st.sampled_from(['"v1"', 'W/"v1"', '"v2"', '""', "v1", 'W/v1', '"a"b"', '"v1", "v2"', "*", 'w/"v1"']),
                  st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters='"'), max_size=10).map(
                      lambda s: f'"{s}"'),
                  any_text)
vary = st.one_of(st.lists(st.sampled_from(["Accept-Encoding", "accept-encoding", "Origin", "User-Agent", "Host", "*",
                                           "Cookie", "Accept", ""]), max_size=7).map(", ".join), any_text)
pragma = st.one_of(st.sampled_from(["no-cache", "No-Cache", "x-foo", "no-cache, x-foo", ""]), any_text)
cache_status = st.one_of(
    st.sampled_from(["ExampleCDN; hit", "ExampleCDN; fwd=uri-miss", "ExampleCDN; fwd=stale; fwd-status=304",
                     "ExampleCDN; hit; ttl=-10", "ExampleCDN; hit; ttl=abc", "ExampleCDN; fwd=bogus", "%%%", "",
                     "Origin; fwd=uri-miss, ExampleCDN; hit", '"CDN Co"; hit; ttl=30', "(a b); hit", "?1", "a; hit=?0",
                     "a; fwd=bypass; key=\"x\"; detail=y", "a;", "1; ttl=99999999999999999"]),
    any_text)
vendor = st.one_of(st.sampled_from(["HIT", "MISS", "MISS, HIT", "HIT, MISS", "TCP_REFRESH_HIT", "DYNAMIC", "EXPIRED",
                                    "STALE", "BYPASS", "", ","]), any_text)
FIELDS = {
    "Cache-Control": cache_control, "CDN-Cache-Control": cache_control, "Surrogate-Control": cache_control,
    "Cache-Status": cache_status, "X-Cache": vendor, "CF-Cache-Status": vendor, "X-Served-By": any_text,
    "Age": ages, "Date": dates(), "Expires": dates(), "Last-Modified": dates(), "ETag": etags, "Vary": vary,
    "Pragma": pragma, "Set-Cookie": st.sampled_from(["sid=1", ""]), "Content-Type": st.just("text/plain"),
    "Location": st.just("https://cdn.example/new"),
}
REQUEST_FIELDS = {
    "If-None-Match": etags, "If-Modified-Since": dates(), "Cache-Control": cache_control, "Pragma": pragma,
    "Authorization": st.just("Bearer x"), "Cookie": st.just("sid=1"), "Range": st.just("bytes=0-9"),
    "Accept-Encoding": st.sampled_from(["gzip", "br", ""]), "Origin": st.just("https://app.example"),
}


def header_name(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from([name, name.lower(), name.upper()])


def fields(table: dict) -> st.SearchStrategy[list[tuple[str, str]]]:
    """A few of the table's fields (each maybe repeated, in any order), plus now and then an odd one."""
    one = st.sampled_from(sorted(table)).flatmap(lambda n: st.tuples(header_name(n), table[n]))
    odd = st.tuples(st.one_of(unicode_text, wire_bytes), any_text)
    return st.lists(st.one_of(one, one, one, odd), max_size=8)


queries = st.one_of(
    st.just(""),
    st.integers(0, 10**13).map(lambda n: f"?_={n}"),
    st.sampled_from([f"?_={T * 1000}", f"?ts={T}", "?v=abc123", "?cb=a1b2", "?cb=c3d4", "?_=", "?&&=", "?%zz=1",
                     "?_=%C2%B9", "?a=1&a=2"]),
    st.tuples(st.sampled_from(["_", "cb", "t", "x", ""]), any_text).map(lambda kv: f"?{kv[0]}={kv[1]}"),
)
methods = st.one_of(st.sampled_from(["GET", "GET", "GET", "HEAD", "POST", "PUT", "get", "head"]), unicode_text)
# Request URLs from HAR files need not parse.
ODD_URLS = ["http://[::1/", "https://cdn.example:99999/app.js", "", "not a url", "https://CDN.Example/app.js#frag",
            "https://cdn.example/app.js?_=1700000000000&_=1700000000001"]
statuses = st.one_of(st.integers(100, 599), st.sampled_from([200, 200, 204, 206, 301, 302, 304, 304, 404, 410]))


@st.composite
def exchange(draw, at: float | None = None, url: str | None = None) -> Exchange:
    at = draw(st.floats(T - 10**6, T + 10**6, allow_nan=False)) if at is None else at
    took = draw(st.floats(0, 30, allow_nan=False))
    timed = draw(st.sampled_from([True, True, True, False]))
    if url is None:
        url = draw(st.one_of(queries.map(lambda q: URL + q), queries.map(lambda q: URL + q),
                             st.sampled_from(ODD_URLS)))
    body = draw(st.sampled_from([b"", b"same body", b"other body"]))
    request = Request(draw(methods), url, headers=Headers(tuple(draw(fields(REQUEST_FIELDS)))),
                      timestamp_start=at if timed else None)
    response = Response(draw(statuses), draw(st.sampled_from(["", "OK", "Not Modified", "é"])),
                        headers=Headers(tuple(draw(fields(FIELDS)))),
                        body=Body(raw=body, size=len(body), truncated=draw(st.booleans())),
                        timestamp_start=at + took if timed else None)
    return Exchange(str(at), request, response, timings=Timings(started=at if timed else 0.0),
                    from_cache=draw(st.sampled_from([None, None, None, "disk"])))


@st.composite
def sequences(draw) -> list[Exchange]:
    """Two or three exchanges on one URL; time usually moves forward (HAR files can go back)."""
    url = URL + draw(st.sampled_from(["", "?v=abc123", f"?_={T * 1000}"]))
    at = float(T)
    out = []
    for _ in range(draw(st.integers(2, 3))):
        out.append(draw(exchange(at=at, url=url)))
        at += draw(st.one_of(st.floats(0, 3600, allow_nan=False), st.floats(-600, 0, allow_nan=False)))
    return out


# -- checks -----------------------------------------------------------------------------------------

SOURCES = {"max-age", "s-maxage", "expires", "heuristic", "implicit", None}


def check(analysis) -> dict:
    assert analysis is not None
    facts = analysis.facts
    json.dumps(facts, allow_nan=False)
    assert isinstance(facts["storable_private"], bool) and isinstance(facts["storable_shared"], bool)
    for key in ("freshness_lifetime_private", "freshness_lifetime_shared"):
        assert facts[key] is None or (isinstance(facts[key], int) and facts[key] >= 0)
    assert facts["freshness_lifetime_private"] is None or facts["storable_private"]
    assert facts["freshness_source"] in SOURCES
    assert isinstance(facts["age"], int) and 0 <= facts["age"] <= DELTA_MAX
    assert set(facts["validators"]) <= {"etag", "last-modified"}
    assert all(isinstance(v, str) and v for v in facts["vary"])
    browser = facts["browser"]
    assert isinstance(browser["stores"], bool)
    assert browser["then"] in {"revalidate", "refetch"}
    if browser["stores"]:
        assert isinstance(browser["fresh_for"], int) and browser["fresh_for"] >= 0
    else:
        assert browser["fresh_for"] is None
    assert facts["revalidation"] is None or facts["revalidation"]["outcome"] in {"not-modified", "modified", "other"}
    assert isinstance(facts["summary"], str) and facts["summary"]
    for finding in analysis.findings:
        assert isinstance(finding, Finding)
        assert finding.rule in catalog and finding.rule.startswith("caching.") and finding.category == "caching"
        json.dumps(finding.to_json(), allow_nan=False)
    return facts


def analyze(exchanges: list[Exchange], engine: str = "chromium") -> list:
    analyzer, session = CachingAnalyzer(engine), Session()
    out = []
    for ex in exchanges:
        session.now = ex.timings.started
        out.append(analyzer.analyze(ex, session))
    return out


# -- the analyzer -------------------------------------------------------------------------------------------


@SLOW
@given(exchange(), st.sampled_from(["chromium", "firefox"]))
def test_analyze_one_exchange(ex: Exchange, engine: str):
    check(analyze([ex], engine)[0])


@SLOW
@given(sequences(), st.sampled_from(["chromium", "firefox"]))
def test_analyze_a_sequence_on_one_url(sequence: list[Exchange], engine: str):
    for analysis in analyze(sequence, engine):
        check(analysis)


@settings(SLOW, max_examples=100)
@given(st.lists(st.tuples(statuses, st.sampled_from(["GET", "HEAD"]), fields(FIELDS), fields(REQUEST_FIELDS)),
                min_size=2, max_size=3))
def test_analyze_conditional_sequences(parts):
    """Realistic-looking chains: the same URL, forward in time, GET/HEAD only, validators everywhere."""
    sequence = [Exchange(str(i), Request(method, URL, headers=Headers(tuple(req)), timestamp_start=T + 100 * i),
                         Response(status, headers=Headers(tuple(resp)), body=Body(raw=b"x", size=1),
                                  timestamp_start=T + 100 * i + 1), timings=Timings(started=T + 100 * i))
                for i, (status, method, resp, req) in enumerate(parts)]
    for analysis in analyze(sequence):
        check(analysis)


MALFORMED = [
    ("Cache-Control", "max-age=abc", "caching.cache-control-invalid-value"),
    ("Cache-Control", "max-age=1, max-age=2", "caching.duplicate-directive"),
    ("Cache-Control", "no-store=yes", "caching.cache-control-invalid-value"),
    ("CDN-Cache-Control", "max-age=abc", "caching.cdn-cache-control-invalid"),
    ("Age", "-1", None),            # httplint crashes here (caching.lint-failed); see test_caching_rules
    ("Age", "abc", None),
    ("Expires", "0", "caching.invalid-date"),
    ("Last-Modified", "yesterday", "caching.invalid-date"),
    ("Cache-Status", "%%%", "caching.header-syntax"),
    ("Cache-Status", "ExampleCDN; fwd=bogus", "caching.cache-status-invalid"),
    ("ETag", "v1", "caching.header-syntax"),
    ("Vary", "*", "caching.vary-star"),
]


@pytest.mark.parametrize("name,value,rule", MALFORMED, ids=[f"{n}: {v}" for n, v, _ in MALFORMED])
def test_malformed_values_become_findings(name: str, value: str, rule: str | None):
    headers = [("Date", formatdate(T, usegmt=True)), ("Cache-Control", "max-age=600")]
    headers = [h for h in headers if h[0] != name] + [(name, value)]
    ex = Exchange("m", Request("GET", URL, timestamp_start=T),
                  Response(200, headers=Headers(tuple(headers)), body=Body(raw=b"x", size=1), timestamp_start=T),
                  timings=Timings(started=T))
    analysis = analyze([ex])[0]
    check(analysis)
    found = [f.rule for f in analysis.findings]
    assert found, "a malformed caching header is worth a finding"
    if rule is not None:
        assert rule in found


# -- cache_headers ------------------------------------------------------------------------------------------

TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
tokens = st.text(st.sampled_from(TOKEN), min_size=1, max_size=12)


@FAST
@given(st.one_of(st.none(), any_text, cache_control))
def test_parse_directives_is_total(value):
    parsed = parse_directives(value)
    assert isinstance(parsed, Directives)
    for name, argument in parsed.values.items():
        assert name == name.lower() and re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9a-z]+", name)
        assert argument is None or isinstance(argument, str)
        assert name in parsed
        seconds = parsed.seconds(name)
        assert seconds is None or 0 <= seconds <= DELTA_MAX
        assert parsed.has_invalid_seconds(name) is (seconds is None)
    assert set(parsed.duplicates) <= set(parsed.values)
    assert all(isinstance(item, str) for item in parsed.invalid)
    assert parsed.as_dict() == parsed.values


@FAST
@given(st.lists(st.tuples(tokens, st.one_of(st.none(), st.integers(0, 10**12), tokens)), max_size=6),
       st.sampled_from([",", ", ", " ,\t"]))
def test_parse_directives_against_a_reference(items, separator: str):
    """RFC 9111 5.2: names case-insensitive, "first occurrence" kept, `token [ "=" ( token / quoted-string ) ]`."""
    parts = []
    for i, (name, arg) in enumerate(items):
        shown = name.upper() if i % 2 else name
        parts.append(shown if arg is None else f"{shown}={arg}")
    text = separator.join(parts)
    expected: dict[str, str | None] = {}
    for name, arg in items:
        if name not in expected:
            expected[name] = None if arg is None else str(arg)
    parsed = parse_directives(text)
    assert parsed.values == expected
    assert len(parsed.duplicates) == len(items) - len(expected)


@FAST
@given(st.integers(0, 10**40))
def test_delta_seconds_caps_at_2_31(n: int):
    """RFC 9111 1.2.2: delta-seconds = 1*DIGIT; too large means 2147483648."""
    assert delta_seconds(str(n)) == min(n, 2147483648)
    assert delta_seconds("0" * 5 + str(n)) == min(n, 2147483648)


@FAST
@given(any_text)
def test_delta_seconds_rejects_anything_but_ascii_digits(value: str):
    result = delta_seconds(value)
    if value and all(c in "0123456789" for c in value):
        digits = value.lstrip("0")  # int() refuses more than 4300 digits; anything past 10 is above the cap
        assert result == (DELTA_MAX if len(digits) > 10 else min(int(value), DELTA_MAX))
    else:
        assert result is None


@FAST
@given(st.one_of(st.none(), any_text, dates()))
def test_parse_http_date_is_total(value):
    result = parse_http_date(value)
    assert result is None or (isinstance(result, float) and math.isfinite(result))


# 0001-01-01 .. 9999-12-31 for the IMF-fixdate and asctime forms; RFC 850's two-digit year only
# round-trips within Python's window (69-99 -> 19xx, 00-68 -> 20xx).
FIRST, LAST = -62135596800, 253402300799


@FAST
@given(st.integers(0, LAST))
def test_parse_http_date_round_trips_imf_fixdate_and_asctime(t: int):
    assert parse_http_date(formatdate(t, usegmt=True)) == t
    assert parse_http_date(time.asctime(time.gmtime(t))) == t
    assert parse_http_date(formatdate(t, localtime=False)) == t        # "-0000" zone


@FAST
@given(st.integers(-31536000, 3124223999))   # 1969-01-01 .. 2068-12-31
def test_parse_http_date_round_trips_rfc_850(t: int):
    assert parse_http_date(time.strftime("%A, %d-%b-%y %H:%M:%S GMT", time.gmtime(t))) == t


@FAST
@given(st.one_of(st.none(), any_text, vary))
def test_parse_vary_is_total(value):
    names = parse_vary(value)
    assert len(set(names)) == len(names)
    assert all(name and name == name.lower() and name == name.strip() for name in names)


@FAST
@given(st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters='"'), max_size=40))
def test_parse_vary_against_a_reference(value: str):
    """RFC 9110 12.5.5: `Vary = #( "*" / field-name )`, names case-insensitive; empty members ignored."""
    expected: list[str] = []
    for member in value.split(","):
        member = member.strip().lower()
        if member and member not in expected:
            expected.append(member)
    assert parse_vary(value) == expected


etagc = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters='"'), max_size=12)


@FAST
@given(st.one_of(st.none(), any_text, etags))
def test_etag_functions_are_total(value):
    parsed = parse_etag(value)
    assert parsed is None or (isinstance(parsed[0], bool) and isinstance(parsed[1], str))
    tags = etag_list(value)
    assert (tags is None) is (value is None)
    assert tags is None or all(isinstance(t, str) and t and t == t.strip() for t in tags)
    assert weak_match(value, value) is (value is not None and (parsed is not None or bool(value.strip())))


@FAST
@given(etagc, st.booleans())
def test_parse_etag_round_trips(opaque: str, weak: bool):
    """RFC 9110 8.8.3: `entity-tag = [ weak ] opaque-tag`, `weak = %s"W/"`, `opaque-tag = DQUOTE *etagc DQUOTE`."""
    assert parse_etag(('W/' if weak else '') + f'"{opaque}"') == (weak, opaque)


@FAST
@given(st.lists(st.tuples(st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters='",\\'),
                                  max_size=8), st.booleans()), min_size=1, max_size=5))
def test_etag_list_round_trips(tags):
    raw = [("W/" if weak else "") + f'"{opaque}"' for opaque, weak in tags]
    assert etag_list(", ".join(raw)) == raw


@FAST
@given(st.one_of(st.none(), any_text, etags), st.one_of(st.none(), any_text, etags))
def test_weak_match_is_symmetric(a, b):
    assert weak_match(a, b) == weak_match(b, a)


@FAST
@given(etagc, etagc, st.booleans(), st.booleans())
def test_weak_match_against_a_reference(x: str, y: str, weak_x: bool, weak_y: bool):
    """RFC 9110 8.8.3.2: "Two entity-tags are equivalent [by weak comparison] if their opaque-tags match
    character-by-character, regardless of either or both being tagged as "weak"."""
    a, b = ("W/" if weak_x else "") + f'"{x}"', ("W/" if weak_y else "") + f'"{y}"'
    assert weak_match(a, b) is (x == y)
    assert weak_match(a, None) is False and weak_match(None, a) is False


@FAST
@given(any_text)
def test_split_commas_keeps_quoted_commas(value: str):
    items = split_commas(value)
    assert all(item and item == item.strip() for item in items)
    if '"' not in value:
        assert items == [i.strip() for i in value.split(",") if i.strip()]


# -- cache_status -------------------------------------------------------------------------------------------

CDN_STATUSES = {"hit", "miss", "stale", "revalidated", "expired", "bypass", "error", "unknown"}


def check_cdn(status: CdnStatus | None) -> None:
    if status is None:
        return
    assert status.status in CDN_STATUSES
    assert status.cache is None or (isinstance(status.cache, str) and len(status.cache) <= 100)
    assert status.ttl is None or (isinstance(status.ttl, int) and not isinstance(status.ttl, bool))
    json.dumps(status.as_dict(), allow_nan=False)


@FAST
@given(st.one_of(any_text, cache_status))
def test_parse_cache_status_is_total(value: str):
    status = parse_cache_status(value)
    check_cdn(status)
    assert status.source == "Cache-Status"


sf_key = st.from_regex(r"[a-z*][a-z0-9_.*-]{0,8}", fullmatch=True)
FWD = ["bypass", "method", "uri-miss", "vary-miss", "miss", "request", "stale", "partial"]


@st.composite
def cache_status_member(draw) -> tuple[str, str]:
    """One RFC 9211 list member and the status it means for the cache that wrote it."""
    name = draw(st.one_of(sf_key, st.sampled_from(['"CDN Company"', '"a, b"'])))
    hit = draw(st.booleans())
    params = []
    ttl = draw(st.one_of(st.none(), st.integers(-10**6, 10**6)))
    fwd = None if hit else draw(st.one_of(st.none(), st.sampled_from(FWD)))
    fwd_status = draw(st.one_of(st.none(), st.sampled_from([200, 304, 404])))
    if hit:
        params.append("hit")
    if fwd:
        params.append(f"fwd={fwd}")
    if fwd_status is not None:
        params.append(f"fwd-status={fwd_status}")
    if ttl is not None:
        params.append(f"ttl={ttl}")
    if draw(st.booleans()):
        params.append('key="x"')
    # RFC 9211 section 2: hit, "the request was satisfied by the cache"; ttl, "the response's remaining
    # freshness lifetime [...] negative if the response is stale"; fwd, why it was forwarded; fwd=stale
    # with fwd-status=304 is a successful revalidation.
    if hit:
        meaning = "stale" if ttl is not None and ttl < 0 else "hit"
    elif fwd == "stale":
        meaning = "revalidated" if fwd_status == 304 else "stale"
    elif fwd in ("bypass", "method", "request"):
        meaning = "bypass"
    elif fwd in ("uri-miss", "vary-miss", "miss", "partial"):
        meaning = "miss"
    else:
        meaning = "unknown"
    return "; ".join([name, *params]), meaning


@FAST
@given(st.lists(cache_status_member(), min_size=1, max_size=4))
def test_parse_cache_status_reads_the_member_nearest_the_client(members):
    """RFC 9211 section 2: members are "in the order they handled it", so the last one is nearest."""
    status = parse_cache_status(", ".join(text for text, _ in members))
    assert status.status == members[-1][1]
    check_cdn(status)


@FAST
@given(fields(FIELDS))
def test_cdn_status_and_targeted_are_total(headers):
    headers = Headers(tuple(headers))
    check_cdn(cdn_status(headers))
    target = targeted(headers)
    if target is not None:
        assert target.field in ("CDN-Cache-Control", "Surrogate-Control")
        assert target.lifetime is None or 0 <= target.lifetime <= DELTA_MAX
        assert isinstance(target.stores, bool)


# -- crashes fuzzing once found, as plain examples -----------------------------------------------------------------------


def _one(url: str = URL, **headers: str) -> Exchange:
    resp = [("Date", formatdate(T, usegmt=True)), *((k.replace("_", "-"), v) for k, v in headers.items())]
    return Exchange("k", Request("GET", url, timestamp_start=T),
                    Response(200, headers=Headers(tuple(resp)), body=Body(raw=b"x", size=1), timestamp_start=T),
                    timings=Timings(started=T))


@pytest.mark.parametrize("headers", [{"Cache_Control": "max-age=" + "9" * 5000},
                                     {"Cache_Control": "max-age=60", "Age": "9" * 5000},
                                     {"Cache_Control": "max-age=60, stale-while-revalidate=" + "9" * 5000}],
                         ids=["max-age", "age", "stale-while-revalidate"])
def test_a_5000_digit_delta_seconds_does_not_crash(headers: dict[str, str]):
    check(analyze([_one(**headers)])[0])


def test_a_superscript_digit_query_does_not_crash():
    check(analyze([_one(URL + "?_=" + "%C2%B9" * 10, Cache_Control="max-age=600")])[0])
