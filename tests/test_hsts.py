"""The HSTS analyzer: Strict-Transport-Security as a browser reads it (RFC 6797), judged against the rfc,
observatory and preload profiles, and the Known HSTS Hosts a session builds up."""

from __future__ import annotations

import itertools

import pytest

from addons.hsts import ONE_YEAR, SIX_MONTHS, HstsAnalyzer
from proxy.findings import Severity, catalog
from proxy.models import Exchange, Headers, Request, Response, Timings
from proxy.pipeline import Pipeline, Result

T0 = 1_700_000_000.0
GOOD, INFO, WARNING, ERROR = Severity.GOOD, Severity.INFO, Severity.WARNING, Severity.ERROR
FULL = "max-age=31536000; includeSubDomains; preload"
_ids = itertools.count(1)


def exchange(url: str, status: int = 200, *sts: str, content_type: str = "text/html; charset=utf-8",
             location: str | None = None, started: float = T0, resource_type: str | None = None) -> Exchange:
    fields = [("Content-Type", content_type)] + [("Strict-Transport-Security", v) for v in sts]
    if location is not None:
        fields.append(("Location", location))
    return Exchange(id=str(next(_ids)), request=Request("GET", url),
                    response=Response(status, headers=Headers(tuple(fields))),
                    timings=Timings(started=started), resource_type=resource_type)


def run(*exchanges: Exchange, profile: str = "rfc") -> list[Result]:
    pipeline = Pipeline([HstsAnalyzer(profile)])
    return [pipeline.run(x) for x in exchanges]


def found(result: Result) -> list[tuple[str, Severity]]:
    return sorted((f.rule, f.severity) for f in result.findings)


def facts(result: Result) -> dict:
    return result.facts["hsts"]


def test_unknown_profile_is_refused():
    with pytest.raises(ValueError, match="unknown HSTS profile"):
        HstsAnalyzer("strict")


# -- the verdict table: every hsts.* rule, under each profile where it applies ------------------------------------

def _x(*exchanges: Exchange) -> tuple[Exchange, ...]:
    return exchanges


PAGE = "https://a.test/"
# id, profile, exchanges (one session, the last is judged), every finding expected on the last (rule, severity)
CASES = [
    # rfc: any header a browser accepts is fine; a missing one is only noted
    ("rfc-set", "rfc", _x(exchange(PAGE, 200, "max-age=31536000")), [("hsts.set", GOOD)]),
    ("rfc-short-is-fine", "rfc", _x(exchange(PAGE, 200, "max-age=60")), [("hsts.set", GOOD)]),
    ("rfc-over-http", "rfc", _x(exchange("http://a.test/", 200, "max-age=31536000")), [("hsts.over-http", WARNING)]),
    ("rfc-ipv4", "rfc", _x(exchange("https://192.0.2.7/", 200, "max-age=31536000")), [("hsts.ip-address", INFO)]),
    ("rfc-ipv6", "rfc", _x(exchange("https://[2001:db8::1]/", 200, "max-age=31536000")), [("hsts.ip-address", INFO)]),
    ("rfc-two-headers", "rfc", _x(exchange(PAGE, 200, "max-age=31536000", "max-age=0")),
     [("hsts.multiple-headers", WARNING), ("hsts.set", GOOD)]),
    ("rfc-two-headers-first-invalid", "rfc", _x(exchange(PAGE, 200, "max-age=1, max-age=2", "max-age=31536000")),
     [("hsts.invalid", ERROR), ("hsts.multiple-headers", WARNING)]),
    ("rfc-invalid", "rfc", _x(exchange(PAGE, 200, "max-age=31536000, includeSubDomains")), [("hsts.invalid", ERROR)]),
    ("rfc-unknown-directive", "rfc", _x(exchange(PAGE, 200, 'max-age=31536000; report-uri="https://a.test/r"')),
     [("hsts.set", GOOD), ("hsts.unknown-directive", INFO)]),
    ("rfc-quoted-max-age", "rfc", _x(exchange(PAGE, 200, 'max-age="31536000"')),
     [("hsts.set", GOOD), ("hsts.unusual-syntax", INFO)]),
    ("rfc-odd-case", "rfc", _x(exchange(PAGE, 200, "Max-Age=31536000; includesubdomains")),
     [("hsts.set", GOOD), ("hsts.unusual-syntax", INFO), ("hsts.unusual-syntax", INFO)]),
    ("rfc-max-age-zero", "rfc", _x(exchange(PAGE, 200, "max-age=0")), [("hsts.max-age-zero", WARNING)]),
    ("rfc-preload-directive-held-to-preload", "rfc", _x(exchange(PAGE, 200, "max-age=86400; preload")),
     [("hsts.max-age-too-short", WARNING), ("hsts.preload-missing-include-subdomains", WARNING)]),
    ("rfc-preload-directive-long-enough", "rfc", _x(exchange(PAGE, 200, "max-age=31536000; preload")),
     [("hsts.preload-missing-include-subdomains", WARNING)]),
    ("rfc-preload-not-asked", "rfc", _x(exchange(PAGE, 200, "max-age=31536000; includeSubDomains")),
     [("hsts.set", GOOD)]),
    ("rfc-missing-page", "rfc", _x(exchange(PAGE, 200)), [("hsts.missing", INFO)]),
    ("rfc-missing-image", "rfc", _x(exchange(PAGE, 200, content_type="image/png")), []),
    ("rfc-missing-https-redirect", "rfc", _x(exchange(PAGE, 301, location="/home")), [("hsts.missing", INFO)]),
    ("rfc-http-page", "rfc", _x(exchange("http://a.test/", 200)), []),
    ("rfc-http-to-other-host", "rfc", _x(exchange("http://a.test/", 301, location="https://www.a.test/")),
     [("hsts.redirect-other-host", INFO)]),
    ("rfc-http-to-same-host", "rfc", _x(exchange("http://a.test/", 301, location="https://a.test/")), []),
    ("rfc-http-after-hsts", "rfc", _x(exchange(PAGE, 200, "max-age=31536000"),
                                      exchange("http://a.test/", 301, location="https://a.test/", started=T0 + 60)),
     [("hsts.http-after-hsts", WARNING)]),
    # observatory: six months; plain HTTP must redirect to HTTPS on the same host
    ("obs-set", "observatory", _x(exchange(PAGE, 200, f"max-age={SIX_MONTHS}")), [("hsts.set", GOOD)]),
    ("obs-too-short", "observatory", _x(exchange(PAGE, 200, f"max-age={SIX_MONTHS - 1}")),
     [("hsts.max-age-too-short", WARNING)]),
    ("obs-preload-directive", "observatory", _x(exchange(PAGE, 200, "max-age=20000000; includeSubDomains; preload")),
     [("hsts.max-age-too-short", WARNING)]),  # asked to be preloaded: a year, as a warning
    ("obs-missing-page", "observatory", _x(exchange(PAGE, 200)), [("hsts.missing", WARNING)]),
    ("obs-missing-image", "observatory", _x(exchange(PAGE, 200, content_type="image/png")), []),
    ("obs-missing-https-redirect", "observatory", _x(exchange(PAGE, 302, location="/login")),
     [("hsts.missing", WARNING)]),
    ("obs-http-page", "observatory", _x(exchange("http://a.test/", 200)), [("hsts.http-not-redirected", WARNING)]),
    ("obs-http-redirect-to-http", "observatory", _x(exchange("http://a.test/", 301, location="/elsewhere")),
     [("hsts.http-not-redirected", WARNING)]),
    ("obs-http-image", "observatory", _x(exchange("http://a.test/logo.png", 200, content_type="image/png")), []),
    ("obs-http-to-same-host", "observatory", _x(exchange("http://a.test/", 301, location="https://a.test/")), []),
    ("obs-http-to-other-host", "observatory", _x(exchange("http://a.test/", 301, location="https://www.a.test/")),
     [("hsts.redirect-other-host", WARNING)]),
    ("obs-over-http", "observatory", _x(exchange("http://a.test/", 200, f"max-age={ONE_YEAR}")),
     [("hsts.http-not-redirected", WARNING), ("hsts.over-http", WARNING)]),
    # preload: hstspreload.org's submission requirements
    ("preload-set", "preload", _x(exchange(PAGE, 200, FULL)), [("hsts.set", GOOD)]),
    ("preload-too-short", "preload", _x(exchange(PAGE, 200, f"max-age={ONE_YEAR - 1}; includeSubDomains; preload")),
     [("hsts.max-age-too-short", ERROR)]),
    ("preload-six-months", "preload", _x(exchange(PAGE, 200, f"max-age={SIX_MONTHS}; includeSubDomains; preload")),
     [("hsts.max-age-too-short", ERROR)]),
    ("preload-no-subdomains", "preload", _x(exchange(PAGE, 200, "max-age=31536000; preload")),
     [("hsts.preload-missing-include-subdomains", ERROR)]),
    ("preload-no-preload", "preload", _x(exchange(PAGE, 200, "max-age=31536000; includeSubDomains")),
     [("hsts.preload-missing-preload", ERROR)]),
    ("preload-bare", "preload", _x(exchange(PAGE, 200, "max-age=300")),
     [("hsts.max-age-too-short", ERROR), ("hsts.preload-missing-include-subdomains", ERROR),
      ("hsts.preload-missing-preload", ERROR)]),
    ("preload-max-age-zero", "preload", _x(exchange(PAGE, 200, "max-age=0")), [("hsts.max-age-zero", WARNING)]),
    ("preload-invalid", "preload", _x(exchange(PAGE, 200, "includeSubDomains; preload")), [("hsts.invalid", ERROR)]),
    ("preload-ip", "preload", _x(exchange("https://192.0.2.7/", 200, "max-age=300")), [("hsts.ip-address", INFO)]),
    ("preload-missing-page", "preload", _x(exchange(PAGE, 200)), [("hsts.missing", ERROR)]),
    ("preload-missing-image", "preload", _x(exchange(PAGE, 200, content_type="image/png")), []),
    ("preload-https-redirect-without", "preload", _x(exchange(PAGE, 301, location="https://www.a.test/")),
     [("hsts.redirect-without-hsts", ERROR)]),
    ("preload-https-redirect-with", "preload", _x(exchange(PAGE, 301, FULL, location="https://www.a.test/")),
     [("hsts.set", GOOD)]),
    ("preload-http-page", "preload", _x(exchange("http://a.test/", 200)), [("hsts.http-not-redirected", ERROR)]),
    ("preload-http-to-other-host", "preload", _x(exchange("http://a.test/", 301, location="https://www.a.test/")),
     [("hsts.redirect-other-host", ERROR)]),
    ("preload-http-to-same-host", "preload", _x(exchange("http://a.test/", 308, location="https://a.test/")), []),
    ("preload-http-to-same-host-port", "preload",
     _x(exchange("http://a.test/", 301, location="https://A.test:8443/")), []),
]


@pytest.mark.parametrize("profile, scenario, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_verdicts(profile, scenario, expected):
    result = run(*scenario, profile=profile)[-1]
    assert found(result) == sorted(expected)
    assert facts(result)["profile"] == profile
    assert facts(result)["meets_profile"] is (("hsts.set", GOOD) in expected)


def test_the_verdict_table_covers_every_hsts_rule():
    catalog_rules = {r.id for r in catalog if r.id.startswith("hsts.")}
    expected = {rule for case in CASES for rule, _ in case[3]}
    assert expected == catalog_rules, f"no row expects {sorted(catalog_rules - expected)}"
    produced = {f.rule for case in CASES for f in run(*case[2], profile=case[1])[-1].findings}
    assert produced == catalog_rules


def test_findings_carry_the_catalog_reference():
    for case in CASES:
        for f in run(*case[2], profile=case[1])[-1].findings:
            rule = catalog.get(f.rule)
            assert f.reference == rule.reference and f.category == "hsts", f.rule


# -- facts ---------------------------------------------------------------------------

@pytest.mark.parametrize("url, value, expected", [
    (PAGE, FULL, {"present": True, "valid": True, "max_age": 31536000, "include_subdomains": True,
                  "preload": True, "applies": True, "errors": []}),
    (PAGE, "max-age=60", {"present": True, "valid": True, "max_age": 60, "include_subdomains": False,
                          "preload": False, "applies": True, "errors": []}),
    ("http://a.test/", FULL, {"present": True, "valid": True, "max_age": 31536000, "applies": False}),
    ("https://192.0.2.7/", FULL, {"present": True, "valid": True, "applies": False}),
    (PAGE, "max-age=0", {"present": True, "valid": True, "max_age": 0, "applies": True, "meets_profile": False}),
    (PAGE, None, {"present": False, "valid": False, "max_age": None, "include_subdomains": False, "preload": False,
                  "applies": False, "errors": [], "meets_profile": False, "preload_ready": False}),
])
def test_facts(url, value, expected):
    [result] = run(exchange(url, 200, *([value] if value else [])))
    f = facts(result)
    assert {k: f[k] for k in expected} == expected


@pytest.mark.parametrize("value, ready", [
    (FULL, True),
    ("max-age=63072000; includeSubDomains; preload", True),
    ("preload; includeSubDomains; max-age=31536000", True),
    ("max-age=31535999; includeSubDomains; preload", False),
    ("max-age=31536000; preload", False),
    ("max-age=31536000; includeSubDomains", False),
    ("max-age=31536000; includeSubDomains; preload=yes", False),  # a preload with a value does not count
    ("max-age=31536000; max-age=31536000; includeSubDomains; preload", False),  # invalid
])
@pytest.mark.parametrize("profile", ["rfc", "observatory", "preload"])
def test_preload_ready(value, ready, profile):
    [result] = run(exchange(PAGE, 200, value), profile=profile)
    assert facts(result)["preload_ready"] is ready


# -- syntax ------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    "max-age=31536000, includeSubDomains",  # comma instead of semicolon
    "includeSubDomains",  # max-age missing
    "",
    "max-age=31536000; max-age=31536000",  # each directive once
    "max-age=1; MAX-AGE=2",
    "max-age=31536000; includeSubDomains; includeSubDomains",
    "max-age=-1",
    "max-age=1.5",
    "max-age=31536000; includeSubDomains=1",
    "max-age",  # no value
    "max-age=",
    'max-age="31536000',  # unterminated quote
    "max-age=31536000 includeSubDomains",
    "max-age=31536000; report-uri=/hsts",  # "/" is not a token character: the value must be quoted
])
@pytest.mark.parametrize("profile", ["rfc", "observatory", "preload"])
def test_invalid_headers(value, profile):
    [result] = run(exchange(PAGE, 200, value), profile=profile)
    assert found(result) == [("hsts.invalid", ERROR)]
    f = facts(result)
    assert f["present"] is True and f["valid"] is False and f["max_age"] is None and f["applies"] is False
    assert f["errors"]
    assert f["errors"][0] in result.findings[0].summary


@pytest.mark.parametrize("value, note", [
    ('max-age="31536000"', "quoted"),
    ("MAX-AGE=31536000", "case"),
    ("max-age=31536000; INCLUDESUBDOMAINS", "case"),
    ("max-age=31536000; Preload", "case"),
    ("max-age=31536000; preload; preload", "more than once"),
    ("max-age=31536000; preload=1", "takes no value"),
])
def test_unusual_syntax(value, note):
    [result] = run(exchange(PAGE, 200, value))
    unusual = [f for f in result.findings if f.rule == "hsts.unusual-syntax"]
    assert len(unusual) == 1 and note in unusual[0].summary
    assert facts(result)["valid"] is True and facts(result)["max_age"] == 31536000


@pytest.mark.parametrize("value, directives", [
    ('max-age=31536000; report-uri="https://a.test/r"', ["report-uri"]),
    ("max-age=31536000; x-token=abc", ["x-token"]),
    ('max-age=31536000; ext="quoted value"; other', ["ext", "other"]),
    ("max-age=31536000; foo; foo", ["foo"]),  # ignored, repeated or not (noted as unusual)
])
def test_unknown_directives(value, directives):
    [result] = run(exchange(PAGE, 200, value))
    assert [f.evidence["directive"] for f in result.findings if f.rule == "hsts.unknown-directive"] == directives
    assert "hsts.set" in {f.rule for f in result.findings}


@pytest.mark.parametrize("value", [
    'max-age=31536000; report-uri="https://a.test/r;v=1"',
    'max-age=31536000; note="a;b"; includeSubDomains',
])
def test_semicolon_inside_a_quoted_value(value):
    [result] = run(exchange(PAGE, 200, value))
    assert facts(result)["valid"] is True
    assert {f.rule for f in result.findings} == {"hsts.set", "hsts.unknown-directive"}


@pytest.mark.parametrize("digits", [400, 5000])
def test_a_huge_max_age_is_judged_not_crashed(digits):
    [result] = run(exchange(PAGE, 200, "max-age=" + "9" * digits))
    assert [f.rule for f in result.findings] == ["hsts.unusual-syntax", "hsts.set"]  # "taken as 10^15 - 1"
    assert facts(result)["valid"] is True and facts(result)["max_age"] == 10**15 - 1


def test_only_the_first_header_counts():
    [result] = run(exchange(PAGE, 200, "max-age=0", "max-age=31536000"))
    f = next(x for x in result.findings if x.rule == "hsts.multiple-headers")
    assert f.evidence == {"count": 2, "first": "max-age=0", "second": "max-age=31536000"}
    assert facts(result)["max_age"] == 0
    assert "hsts.max-age-zero" in {x.rule for x in result.findings}


# -- profile thresholds ------------------------------------------------------------------

@pytest.mark.parametrize("profile, max_age, short, severity", [
    ("rfc", 1, False, None),
    ("observatory", SIX_MONTHS - 1, True, WARNING),
    ("observatory", SIX_MONTHS, False, None),
    ("preload", ONE_YEAR - 1, True, ERROR),
    ("preload", ONE_YEAR, False, None),
    ("preload", 10 * ONE_YEAR, False, None),
])
def test_max_age_threshold(profile, max_age, short, severity):
    [result] = run(exchange(PAGE, 200, f"max-age={max_age}; includeSubDomains; preload" if profile == "preload"
                            else f"max-age={max_age}; includeSubDomains"), profile=profile)
    too_short = [f for f in result.findings if f.rule == "hsts.max-age-too-short"]
    assert bool(too_short) is short
    if short:
        [f] = too_short
        assert f.severity is severity
        assert f.evidence["max_age"] == max_age
        assert f.evidence["required"] == {"observatory": SIX_MONTHS, "preload": ONE_YEAR}[profile]
    else:
        assert "hsts.set" in {f.rule for f in result.findings}


# -- missing header ---------------------------------------------------------------------

@pytest.mark.parametrize("content_type, status, resource_type, reported", [
    ("text/html; charset=utf-8", 200, None, True),
    ("TEXT/HTML", 200, None, True),
    ("application/xhtml+xml", 200, None, True),
    ("text/plain", 404, None, False),
    ("image/png", 200, None, False),
    ("application/javascript", 200, None, False),
    ("application/json", 200, "document", True),  # the HAR says it was the page
    ("image/png", 200, "image", False),
])
@pytest.mark.parametrize("profile, severity", [("rfc", INFO), ("observatory", WARNING), ("preload", ERROR)])
def test_missing_header(content_type, status, resource_type, reported, profile, severity):
    [result] = run(exchange(PAGE, status, content_type=content_type, resource_type=resource_type), profile=profile)
    assert found(result) == ([("hsts.missing", severity)] if reported else [])


@pytest.mark.parametrize("profile, expected", [
    ("rfc", [("hsts.missing", INFO)]),
    ("observatory", [("hsts.missing", WARNING)]),
    ("preload", [("hsts.redirect-without-hsts", ERROR)]),
])
@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_https_redirect_without_hsts(profile, expected, status):
    [result] = run(exchange(PAGE, status, content_type="text/plain", location="https://www.a.test/"), profile=profile)
    assert found(result) == expected


def test_missing_is_not_reported_for_ip_hosts():
    for profile in ("rfc", "observatory", "preload"):
        [result] = run(exchange("https://192.0.2.7/", 200), profile=profile)
        assert found(result) == []


# -- plain HTTP --------------------------------------------------------------------------

@pytest.mark.parametrize("status, location, content_type, rule", [
    (200, None, "text/html", "hsts.http-not-redirected"),
    (301, "http://a.test/home", "text/html", "hsts.http-not-redirected"),
    (302, "/home", "text/plain", "hsts.http-not-redirected"),  # a redirect, but not to HTTPS
    (301, "https://www.a.test/", "text/html", "hsts.redirect-other-host"),
    (302, "https://cdn.example/", "text/plain", "hsts.redirect-other-host"),
    (301, "https://a.test/", "text/html", None),
    (307, "https://a.test/deep/path?q=1", "text/plain", None),
    (200, None, "image/png", None),  # a subresource: the page's own response is where it matters
])
@pytest.mark.parametrize("profile", ["rfc", "observatory", "preload"])
def test_plain_http(status, location, content_type, rule, profile):
    [result] = run(exchange("http://a.test/", status, content_type=content_type, location=location), profile=profile)
    rules = [f.rule for f in result.findings]
    if rule == "hsts.http-not-redirected" and profile == "rfc":
        assert rules == []  # rfc does not require the redirect
    elif rule is None:
        assert rules == []
    else:
        assert rules == [rule]
        assert result.findings[0].severity is {"rfc": INFO, "observatory": WARNING, "preload": ERROR}[profile]


def test_redirect_other_host_names_the_target():
    [result] = run(exchange("http://a.test/", 301, location="https://www.a.test/"), profile="preload")
    [f] = result.findings
    assert f.evidence == {"location": "https://www.a.test/", "host": "a.test"}
    assert "www.a.test" in f.summary


# -- session: Known HSTS Hosts -----------------------------------------------------------

@pytest.mark.parametrize("header, later_url, delay, flagged", [
    ("max-age=31536000", "http://a.test/", 60, True),
    ("max-age=31536000", "http://a.test:8080/other", 60, True),  # the port does not matter (RFC 6797 8.3)
    ("max-age=31536000", "ws://a.test/socket", 60, True),
    ("max-age=31536000", "http://sub.a.test/", 60, False),  # no includeSubDomains
    ("max-age=31536000; includeSubDomains", "http://sub.a.test/", 60, True),
    ("max-age=31536000; includeSubDomains", "http://deep.sub.a.test/", 60, True),
    ("max-age=31536000; includeSubDomains", "http://b.test/", 60, False),
    ("max-age=31536000; includeSubDomains", "http://xa.test/", 60, False),  # not a subdomain, only a suffix
    ("max-age=31536000", "https://a.test/", 60, False),  # already https
    ("max-age=100", "http://a.test/", 99, True),
    ("max-age=100", "http://a.test/", 101, False),  # expired
    ("max-age=100; includeSubDomains", "http://sub.a.test/", 101, False),
    ("max-age=0", "http://a.test/", 60, False),
    ("max-age=31536000, includeSubDomains", "http://a.test/", 60, False),  # invalid: never recorded
])
def test_http_after_hsts(header, later_url, delay, flagged):
    _, later = run(exchange(PAGE, 200, header), exchange(later_url, 200, content_type="image/png",
                                                         started=T0 + delay))
    after = [f for f in later.findings if f.rule == "hsts.http-after-hsts"]
    assert bool(after) is flagged
    if flagged:
        assert after[0].severity is WARNING and after[0].subject == "request.url"
        assert after[0].evidence["hsts_host"] == "a.test"


@pytest.mark.parametrize("url, header", [
    ("http://a.test/", "max-age=31536000"),  # over HTTP: ignored
    ("https://192.0.2.7/", "max-age=31536000"),  # an IP address: ignored
])
def test_ignored_headers_do_not_make_known_hosts(url, header):
    host_url = url.replace("https://", "http://")
    _, later = run(exchange(url, 200, header), exchange(host_url, 200, content_type="image/png", started=T0 + 1))
    assert "hsts.http-after-hsts" not in {f.rule for f in later.findings}


def test_max_age_zero_removes_the_host():
    _, zero, later = run(exchange(PAGE, 200, "max-age=31536000", started=T0),
                         exchange(PAGE, 200, "max-age=0", started=T0 + 10),
                         exchange("http://a.test/", 200, content_type="image/png", started=T0 + 20))
    assert "hsts.max-age-zero" in {f.rule for f in zero.findings}
    assert [f.rule for f in later.findings] == []


def test_a_later_header_without_include_subdomains_replaces_the_policy():
    results = run(exchange(PAGE, 200, "max-age=31536000; includeSubDomains", started=T0),
                  exchange("http://sub.a.test/", 200, content_type="image/png", started=T0 + 1),
                  exchange(PAGE, 200, "max-age=31536000", started=T0 + 2),
                  exchange("http://sub.a.test/", 200, content_type="image/png", started=T0 + 3))
    assert ["hsts.http-after-hsts" in {f.rule for f in r.findings} for r in results] == [False, True, False, False]


def test_http_after_hsts_for_a_failed_exchange():
    failed = Exchange(id="failed", request=Request("GET", "http://a.test/"), timings=Timings(started=T0 + 5))
    _, later = run(exchange(PAGE, 200, "max-age=31536000"), failed)
    assert [f.rule for f in later.findings] == ["hsts.http-after-hsts"]
    assert later.facts.get("hsts") is None


def test_sessions_are_separate():
    run(exchange(PAGE, 200, "max-age=31536000"))
    [later] = run(exchange("http://a.test/", 200, content_type="image/png", started=T0 + 1))
    assert later.findings == []
