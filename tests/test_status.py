"""The status analyzer: codes, classes, meanings, redirects and their chains."""

from __future__ import annotations

import itertools

import pytest

from addons.status import StatusAnalyzer
from proxy.findings import Severity, catalog
from proxy.models import Exchange, ExchangeError, Headers, Request, Response, Timings
from proxy.pipeline import Pipeline, Result
from tests.support.results import only, rules

T0 = 1_700_000_000.0
_ids = itertools.count(1)


def request(url: str, method: str = "GET") -> Request:
    return Request(method, url, headers=Headers.of({"Host": url.split("/")[2]}))


def response(status: int, reason: str = "", **headers: str) -> Response:
    return Response(status, reason, headers=Headers.of({k.replace("_", "-"): v for k, v in headers.items()}))


def exchange(url: str, status: int | None = 200, *, reason: str = "", location: str | None = None,
             method: str = "GET", error: ExchangeError | None = None, started: float = T0) -> Exchange:
    resp = None
    if status is not None:
        resp = response(status, reason, **({"Location": location} if location is not None else {}))
    return Exchange(id=str(next(_ids)), request=request(url, method), response=resp, error=error,
                    timings=Timings(started=started))


def redirect(url: str, to: str, status: int = 302, **kw) -> Exchange:
    return exchange(url, status, location=to, **kw)


def run(*exchanges: Exchange, pipeline: Pipeline | None = None) -> list[Result]:
    pipeline = pipeline or Pipeline([StatusAnalyzer()])
    return [pipeline.run(x) for x in exchanges]


def facts(result: Result) -> dict:
    return result.facts["status"]


# -- code, class, meaning ------------------------------------------------------

STATUS_TABLE = [
    # code, class, words the meaning must contain, findings
    (200, "successful", "succeeded", []),
    (204, "successful", "no content", []),
    (299, "successful", "unregistered", []),
    (301, "redirection", "permanently", []),
    (302, "redirection", "found", []),
    (303, "redirection", "GET", []),
    (307, "redirection", "same method", []),
    (308, "redirection", "permanent", []),
    (404, "client-error", "no current representation", ["status.client-error"]),
    (418, "client-error", "unused", ["status.client-error"]),
    (500, "server-error", "unexpected", ["status.server-error"]),
    (503, "server-error", "temporarily", ["status.server-error"]),
    (599, "server-error", "unregistered", ["status.server-error"]),
]


@pytest.mark.parametrize("code, klass, meaning, expected_rules", STATUS_TABLE, ids=[str(r[0]) for r in STATUS_TABLE])
def test_status_facts(code, klass, meaning, expected_rules):
    location = "/next" if 300 <= code < 400 else None
    [result] = run(exchange("https://example.com/page", code, location=location))
    f = facts(result)
    assert f["code"] == code
    assert f["class"] == klass
    assert meaning in f["meaning"]
    assert rules(result) == expected_rules
    assert set(f) >= {"code", "class", "meaning", "redirect_to", "chain"}
    if location:
        assert f["redirect_to"] == "https://example.com/next"
    else:
        assert f["redirect_to"] is None and f["chain"] is None


def test_308_and_307_keep_method_but_301_302_may_not():
    m = {code: facts(run(exchange("https://e.com/", code, location="/x"))[0])["meaning"]
         for code in (301, 302, 307, 308)}
    assert "same method" in m[307] and "same method" in m[308]
    assert "POST into GET" in m[301] and "POST into GET" in m[302]


def test_304_is_not_a_redirect_to_follow():
    [result] = run(exchange("https://e.com/", 304))
    assert facts(result)["redirect_to"] is None
    assert rules(result) == []


# -- findings for 4xx/5xx ----------------------------------------------------------

@pytest.mark.parametrize("code", [500, 502, 503, 504, 599])
def test_5xx_is_server_error(code):
    [result] = run(exchange("https://e.com/api", code, reason="Bad Things"))
    f = only(result, "status.server-error")
    assert f.severity is Severity.WARNING
    assert f.evidence == {"status": code}
    assert str(code) in f.summary and "Bad Things" in f.summary
    assert f.subject == "response.status"
    assert "status.client-error" not in rules(result)


@pytest.mark.parametrize("code", [400, 401, 403, 404, 418, 429, 499])
def test_4xx_is_client_error(code):
    [result] = run(exchange("https://e.com/api", code))
    f = only(result, "status.client-error")
    assert f.severity is Severity.INFO
    assert f.evidence == {"status": code}
    assert f.summary == f"The origin answered {code}"  # no trailing space without a reason phrase
    assert "status.server-error" not in rules(result)


@pytest.mark.parametrize("code", [100, 200, 201, 204, 206, 304, 399])
def test_other_codes_have_no_error_findings(code):
    location = "/x" if code in (301, 302, 303, 307, 308) else None
    [result] = run(exchange("https://e.com/", code, location=location))
    assert not {"status.server-error", "status.client-error"} & set(rules(result))


# -- redirects ---------------------------------------------------------------------

@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirect_without_location_warns(code):
    [result] = run(exchange("https://e.com/old", code))
    f = only(result, "status.redirect-without-location")
    assert f.severity is Severity.WARNING
    assert f.evidence == {"status": code}
    assert f.subject == "response.header.location"
    assert f.reference == catalog.get("status.redirect-without-location").reference
    assert facts(result)["redirect_to"] is None


@pytest.mark.parametrize("location, expected", [
    ("/b", "https://e.com/b"),
    ("b", "https://e.com/dir/b"),
    ("../up", "https://e.com/up"),
    ("?q=1", "https://e.com/dir/page?q=1"),
    ("//cdn.example.net/x", "https://cdn.example.net/x"),
    ("http://other.example/abs", "http://other.example/abs"),
    ("  /padded  ", "https://e.com/padded"),
])
def test_relative_location_resolves_against_request_url(location, expected):
    [result] = run(redirect("https://e.com/dir/page", location))
    f = facts(result)
    assert f["redirect_to"] == expected
    assert f["chain"] == ["https://e.com/dir/page", expected]
    assert "status.redirect-without-location" not in rules(result)


def test_redirect_chain_across_three_exchanges():
    a, b, c = "https://a.example/start", "https://b.example/middle", "https://c.example/end"
    first, second, final = run(
        redirect(a, b, 301, started=T0),
        redirect(b, c, 302, started=T0 + 0.1),
        exchange(c, 200, started=T0 + 0.2),
    )
    assert facts(first)["chain"] == [a, b]
    assert facts(second)["redirect_to"] == c
    assert facts(second)["chain"] == [a, b, c]
    assert facts(final)["chain"] == [a, b, c]
    assert facts(final)["redirect_to"] is None
    assert all(rules(r) == [] for r in (first, second, final))


def test_redirect_chain_with_relative_hops():
    first, second, final = run(
        redirect("https://e.com/a", "/b"),
        redirect("https://e.com/b", "c"),
        exchange("https://e.com/c"),
    )
    assert facts(final)["chain"] == ["https://e.com/a", "https://e.com/b", "https://e.com/c"]


def test_unrelated_exchange_has_no_chain():
    first, other = run(redirect("https://e.com/a", "/b"), exchange("https://e.com/unrelated"))
    assert facts(other)["chain"] is None


def test_redirect_loop():
    a, b = "https://e.com/a", "https://e.com/b"
    first, second = run(redirect(a, b), redirect(b, a))
    assert "status.redirect-loop" not in rules(first)
    f = only(second, "status.redirect-loop")
    assert f.severity is Severity.ERROR
    assert f.evidence == {"location": a, "hops": 2}
    assert a in f.summary
    assert facts(second)["chain"] == [a, b, a]


def test_self_redirect_is_a_loop():
    [result] = run(redirect("https://e.com/a", "/a"))
    assert only(result, "status.redirect-loop").evidence["hops"] == 1


def test_redirect_back_to_an_earlier_page_of_a_finished_chain_is_not_a_loop():
    # The usual login flow: a protected page redirects to the login form, the form is shown (the
    # chain ends there), the user posts it and is sent back to the page. That is no loop.
    page, login = "https://e.com/account", "https://e.com/login"
    results = run(
        redirect(page, "/login", 302, started=T0),
        exchange(login, 200, started=T0 + 1),
        redirect(login, "/account", 303, method="POST", started=T0 + 20),
        exchange(page, 200, started=T0 + 21),
    )
    assert all("status.redirect-loop" not in rules(r) for r in results), [rules(r) for r in results]
    assert facts(results[1])["chain"] == [page, login]
    assert facts(results[2])["chain"] == [login, page]
    assert facts(results[3])["chain"] == [login, page]


def test_chain_expires_in_traffic_time():
    # Redirect chains are remembered for 10 minutes of traffic time.
    a, b = "https://e.com/a", "https://e.com/b"
    _, late = run(redirect(a, b, started=T0), exchange(b, started=T0 + 3600))
    assert facts(late)["chain"] is None
    _, soon = run(redirect(a, b, started=T0), exchange(b, started=T0 + 5))
    assert facts(soon)["chain"] == [a, b]


def test_separate_pipelines_do_not_share_chains():
    a, b = "https://e.com/a", "https://e.com/b"
    run(redirect(a, b))
    [result] = run(exchange(b))  # a new Pipeline: a new session
    assert facts(result)["chain"] is None


def test_very_long_chain_stops_being_tracked():
    urls = [f"https://e.com/{i}" for i in range(30)]
    results = run(*(redirect(u, v) for u, v in zip(urls, urls[1:])))
    lengths = [len(facts(r)["chain"]) for r in results]
    assert lengths[:20] == list(range(2, 22))  # 20 redirects are followed by browsers
    assert max(lengths) <= 22
    assert not any("status.redirect-loop" in rules(r) for r in results)


# -- no response ----------------------------------------------------------------------

def test_errored_exchange_is_no_response():
    err = ExchangeError("[Errno 111] Connection refused", "connect")
    [result] = run(exchange("http://127.0.0.1:9/", None, error=err))
    f = facts(result)
    assert f["code"] is None
    assert f["class"] is None
    assert f["redirect_to"] is None
    finding = only(result, "status.no-response")
    assert finding.severity is Severity.ERROR
    assert finding.evidence["error"] == "[Errno 111] Connection refused"
    assert finding.evidence["error_kind"] == "connect"
    assert "Connection refused" in finding.summary
    assert rules(result) == ["status.no-response"]


def test_no_response_without_error_object():
    [result] = run(exchange("https://e.com/", None))
    finding = only(result, "status.no-response")
    assert finding.evidence["error_kind"] is None
    assert facts(result)["code"] is None


def test_errored_redirect_target_keeps_the_chain():
    a, b = "https://e.com/a", "https://down.example/"
    _, failed = run(redirect(a, b), exchange(b, None, error=ExchangeError("timed out", "timeout")))
    assert facts(failed)["chain"] == [a, b]
    assert only(failed, "status.no-response").evidence["error_kind"] == "timeout"
