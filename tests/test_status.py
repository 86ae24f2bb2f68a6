"""The status analyzer: codes, classes, meanings, where an error came from, redirects and their chains,
and what each code promises about the headers that come with it."""

from __future__ import annotations

import itertools

import pytest

from addons.status import MEANINGS, PARTIAL_HEAD_RE, StatusAnalyzer
from proxy.findings import Severity, catalog
from proxy.models import (
    Body,
    Exchange,
    ExchangeError,
    Headers,
    Request,
    Response,
    Timings,
)
from proxy.pipeline import Pipeline, Result
from tests.support.results import only, rules

T0 = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT
_ids = itertools.count(1)


def exchange(url: str, status: int | None = 200, *, reason: str = "", location: str | None = None,
             method: str = "GET", request_headers: dict | None = None, headers: dict | list | None = None,
             body: bytes | None = None, error: ExchangeError | None = None, started: float = T0) -> Exchange:
    resp = None
    if status is not None:
        fields = list(Headers.of(headers or {}))
        if location is not None:
            fields.append(("Location", location))
        resp = Response(status, reason, headers=Headers.of(fields),
                        body=Body() if body is None else Body(raw=body, size=len(body)))
    req = Request(method, url, headers=Headers.of({"Host": url.split("/")[2], **(request_headers or {})}))
    return Exchange(id=str(next(_ids)), request=req, response=resp, error=error, timings=Timings(started=started))


def redirect(url: str, to: str, status: int = 302, **kw) -> Exchange:
    return exchange(url, status, location=to, **kw)


def failed(kind: str, message: str, proxy_status: int | None = None, url: str = "https://down.example/") -> Exchange:
    return exchange(url, None, error=ExchangeError(message, kind, proxy_status))


def run(*exchanges: Exchange, pipeline: Pipeline | None = None) -> list[Result]:
    pipeline = pipeline or Pipeline([StatusAnalyzer()])
    return [pipeline.run(x) for x in exchanges]


def facts(result: Result) -> dict:
    return result.facts["status"]


def chain_of(n: int, host: str = "https://e.com") -> list[Exchange]:
    """n redirects in a row: /0 -> /1 -> ... -> /n (absolute Locations, so no other finding)."""
    return [redirect(f"{host}/{i}", f"{host}/{i + 1}", 302, started=T0 + i) for i in range(n)]


# -- code, class, meaning ------------------------------------------------------

STATUS_TABLE = [
    # code, class, words the meaning must contain, every finding expected
    (200, "successful", "succeeded", []),
    (204, "successful", "no content", []),
    (299, "successful", "unregistered", ["status.nonstandard-code"]),
    (301, "redirection", "permanently", []),
    (302, "redirection", "found", []),
    (303, "redirection", "GET", []),
    (307, "redirection", "same method", []),
    (308, "redirection", "permanent", []),
    (404, "client-error", "no current representation", ["status.client-error"]),
    (418, "client-error", "unused", ["status.client-error", "status.nonstandard-code"]),
    (500, "server-error", "unexpected", ["status.server-error"]),
    (503, "server-error", "temporarily", ["status.retry-after-missing", "status.server-error"]),
    (599, "server-error", "unregistered", ["status.nonstandard-code", "status.server-error"]),
]


@pytest.mark.parametrize("code, klass, meaning, expected_rules", STATUS_TABLE, ids=[str(r[0]) for r in STATUS_TABLE])
def test_status_facts(code, klass, meaning, expected_rules):
    location = "https://example.com/next" if 300 <= code < 400 else None
    [result] = run(exchange("https://example.com/page", code, location=location))
    f = facts(result)
    assert f["code"] == code
    assert f["class"] == klass
    assert meaning in f["meaning"]
    assert sorted(rules(result)) == expected_rules
    assert set(f) >= {"code", "class", "meaning", "reason", "redirect_to", "chain", "hops", "source", "error",
                    "intermediaries"}
    assert f["source"] == "origin" and f["error"] is None
    if location:
        assert f["redirect_to"] == location
        assert f["chain"] == ["https://example.com/page", location] and f["hops"] == 1
    else:
        assert f["redirect_to"] is None and f["chain"] is None and f["hops"] == 0


def test_308_and_307_keep_method_but_301_302_may_not():
    m = {code: facts(run(exchange("https://e.com/", code, location="/x"))[0])["meaning"]
         for code in (301, 302, 307, 308)}
    assert "same method" in m[307] and "same method" in m[308]
    assert "POST into GET" in m[301] and "POST into GET" in m[302]


def test_304_is_not_a_redirect_to_follow():
    [result] = run(exchange("https://e.com/", 304, request_headers={"If-None-Match": '"v1"'}))
    assert facts(result)["redirect_to"] is None and facts(result)["chain"] is None
    assert rules(result) == []


# -- every status.* rule, from the smallest exchange that shows it -----------------------------------------------

def _tuple(*exchanges: Exchange) -> tuple[Exchange, ...]:
    return exchanges


# id, exchanges (run in order in one session; the last result is judged), rules it must have, rules it must not have
FINDINGS = [
    # where an error came from
    ("refused", _tuple(failed("connect", "[Errno 111] Connection refused", 502)),
     {"status.upstream-refused"}, {"status.no-response", "status.upstream-unreachable"}),
    ("dns", _tuple(failed("connect", "[Errno -2] Name or service not known", 502)),
     {"status.upstream-unreachable"}, {"status.upstream-refused"}),
    ("no-route", _tuple(failed("connect", "[Errno 113] No route to host", 502)),
     {"status.upstream-unreachable"}, {"status.upstream-refused"}),
    ("timeout", _tuple(failed("timeout", "proxylens: no response within 60 s", 504)),
     {"status.upstream-timeout"}, {"status.no-response"}),
    ("tls", _tuple(failed("tls", "certificate verify failed: self-signed certificate", 502)),
     {"status.upstream-tls-failed"}, {"status.no-response"}),
    ("protocol", _tuple(failed("protocol", "Server disconnected without sending a response", 502)),
     {"status.upstream-protocol-error"}, {"status.no-response"}),
    ("client-gone", _tuple(failed("client", "Client disconnected")), {"status.client-aborted"}, {"status.no-response"}),
    ("shutdown", _tuple(failed("shutdown", "proxy shut down")), {"status.no-response"}, set()),
    ("other", _tuple(failed("other", "something odd")), {"status.no-response"}, set()),
    ("no-error-object", _tuple(exchange("https://e.com/", None)), {"status.no-response"}, set()),
    ("502-proxy-status", _tuple(exchange("https://e.com/", 502, headers={
        "Proxy-Status": "ExampleCDN; error=connection_timeout"})),
     {"status.intermediary-error"}, {"status.server-error"}),
    ("502-mitmproxy-page", _tuple(exchange("https://e.com/", 502, headers={"Server": "mitmproxy 11.0.2"})),
     {"status.intermediary-error"}, {"status.server-error"}),
    ("504-mitmproxy-page", _tuple(exchange("https://e.com/", 504, headers={"Server": "mitmproxy"})),
     {"status.intermediary-error"}, {"status.server-error"}),
    ("502-proxy-status-no-error", _tuple(exchange("https://e.com/", 502, headers={"Proxy-Status": "ExampleCDN"})),
     {"status.server-error"}, {"status.intermediary-error"}),
    ("500-server-mitmproxy", _tuple(exchange("https://e.com/", 500, headers={"Server": "mitmproxy"})),
     {"status.server-error"}, {"status.intermediary-error"}),
    ("500", _tuple(exchange("https://e.com/", 500)), {"status.server-error"}, {"status.intermediary-error"}),
    ("404", _tuple(exchange("https://e.com/", 404)), {"status.client-error"}, {"status.server-error"}),
    # redirects
    ("301-no-location", _tuple(exchange("https://e.com/old", 301)), {"status.redirect-without-location"}, set()),
    ("302-relative", _tuple(redirect("https://e.com/a", "/b")), {"status.location-relative"},
     {"status.location-invalid"}),
    ("302-absolute", _tuple(redirect("https://e.com/a", "https://e.com/b")), set(),
     {"status.location-relative", "status.location-invalid"}),
    ("302-space", _tuple(redirect("https://e.com/a", "/a b")), {"status.location-invalid"}, set()),
    ("302-non-ascii", _tuple(redirect("https://e.com/a", "https://e.com/café")), {"status.location-invalid"}, set()),
    ("302-unparsable", _tuple(redirect("https://e.com/a", "http://[::1")), {"status.location-invalid"}, set()),
    ("301-after-post", _tuple(redirect("https://e.com/form", "https://e.com/done", 301, method="POST")),
     {"status.redirect-changes-method"}, set()),
    ("https-to-http", _tuple(redirect("https://e.com/a", "http://e.com/a")), {"status.redirect-to-http"}, set()),
    ("http-to-https", _tuple(redirect("http://e.com/a", "https://e.com/a")), set(), {"status.redirect-to-http"}),
    ("loop", _tuple(redirect("https://e.com/a", "https://e.com/b"), redirect("https://e.com/b", "https://e.com/a")),
     {"status.redirect-loop"}, set()),
    ("self-loop", _tuple(redirect("https://e.com/a", "https://e.com/a")), {"status.redirect-loop"}, set()),
    ("3-hops", tuple(chain_of(3)), {"status.redirect-chain-long"}, {"status.too-many-redirects"}),
    ("21-hops", tuple(chain_of(21)), {"status.too-many-redirects"}, {"status.redirect-chain-long"}),
    # semantics
    ("304-unconditional", _tuple(exchange("https://e.com/", 304)), {"status.not-modified-unconditional"}, set()),
    ("304-if-none-match", _tuple(exchange("https://e.com/", 304, request_headers={"If-None-Match": '"v1"'})),
     set(), {"status.not-modified-unconditional"}),
    ("304-if-modified-since", _tuple(exchange("https://e.com/", 304, request_headers={
        "If-Modified-Since": "Tue, 14 Nov 2023 00:00:00 GMT"})), set(), {"status.not-modified-unconditional"}),
    ("204-content", _tuple(exchange("https://e.com/", 204, body=b"hello")), {"status.content-not-allowed"}, set()),
    ("304-content", _tuple(exchange("https://e.com/", 304, body=b"x", request_headers={"If-None-Match": '"v1"'})),
     {"status.content-not-allowed"}, set()),
    ("204-head-content", _tuple(exchange("https://e.com/", 204, method="HEAD", body=b"hello")), set(),
     {"status.content-not-allowed"}),
    ("204-empty", _tuple(exchange("https://e.com/", 204, body=b"")), set(), {"status.content-not-allowed"}),
    ("204-content-length-5", _tuple(exchange("https://e.com/", 204, headers={"Content-Length": "5"})),
     {"status.content-length-on-204"}, set()),
    # RFC 9110 8.6: no Content-Length on a 204 at all; a harmless 0 is reported at info level
    ("204-content-length-0", _tuple(exchange("https://e.com/", 204, headers={"Content-Length": "0"})),
     {"status.content-length-on-204"}, set()),
    ("200-non-ascii-phrase", _tuple(exchange("https://e.com/", 200, reason="Café")),
     {"status.status-line-invalid"}, set()),
    ("401-bare", _tuple(exchange("https://e.com/", 401)), {"status.unauthorized-without-challenge"}, set()),
    ("401-challenge", _tuple(exchange("https://e.com/", 401, headers={"WWW-Authenticate": 'Basic realm="x"'})),
     set(), {"status.unauthorized-without-challenge"}),
    ("405-bare", _tuple(exchange("https://e.com/", 405, method="DELETE")),
     {"status.method-not-allowed-without-allow"}, set()),
    ("405-allow", _tuple(exchange("https://e.com/", 405, method="DELETE", headers={"Allow": "GET, HEAD"})),
     set(), {"status.method-not-allowed-without-allow", "status.semantics"}),
    ("416-bare", _tuple(exchange("https://e.com/", 416, request_headers={"Range": "bytes=500-"})),
     {"status.range-not-satisfiable-without-content-range"}, {"status.semantics"}),
    ("416-content-range", _tuple(exchange("https://e.com/", 416, request_headers={"Range": "bytes=500-"},
                                          headers={"Content-Range": "bytes */100"})),
     set(), {"status.range-not-satisfiable-without-content-range"}),
    ("429-seconds", _tuple(exchange("https://e.com/", 429, headers={"Retry-After": "120"})),
     {"status.retry-after"}, {"status.retry-after-missing", "status.retry-after-invalid"}),
    ("503-garbage", _tuple(exchange("https://e.com/", 503, headers={"Retry-After": "soon"})),
     {"status.retry-after-invalid"}, {"status.retry-after"}),
    ("429-missing", _tuple(exchange("https://e.com/", 429)), {"status.retry-after-missing"}, set()),
    ("100-final", _tuple(exchange("https://e.com/", 100)), {"status.informational-as-final"}, set()),
    ("101-final", _tuple(exchange("https://e.com/", 101)), set(), {"status.informational-as-final"}),
    ("200-not-found", _tuple(exchange("https://e.com/", 200, reason="Not Found")),
     {"status.reason-phrase-mismatch"}, set()),
    # httplint's status notes
    ("201-no-location", _tuple(exchange("https://e.com/items", 201, method="POST")), {"status.semantics"}, set()),
    ("206-no-content-range", _tuple(exchange("https://e.com/big", 206, request_headers={"Range": "bytes=0-9"})),
     {"status.semantics"}, set()),
    ("306", _tuple(exchange("https://e.com/", 306)), {"status.nonstandard-code"}, set()),
    ("305", _tuple(exchange("https://e.com/", 305)), {"status.nonstandard-code"}, set()),
]


@pytest.mark.parametrize("scenario, must, must_not", [r[1:] for r in FINDINGS], ids=[r[0] for r in FINDINGS])
def test_findings(scenario, must, must_not):
    result = run(*scenario)[-1]
    got = set(rules(result))
    assert must <= got, rules(result)
    assert not must_not & got, rules(result)
    for finding in result.findings:
        rule = catalog.get(finding.rule)
        assert rule is not None and finding.reference == rule.reference and finding.category == "status"


def _catalog_status_rules() -> set[str]:
    return {r.id for r in catalog if r.id.startswith("status.")}


def test_the_findings_table_covers_every_status_rule():
    expected = set().union(*(r[2] for r in FINDINGS))
    produced = set().union(*(rules(run(*r[1])[-1]) for r in FINDINGS))
    catalog_rules = _catalog_status_rules()
    assert expected == catalog_rules, f"no row expects {sorted(catalog_rules - expected)}"
    assert produced == catalog_rules, f"never produced: {sorted(catalog_rules - produced)}"


def test_default_severities():
    severity = {r.id: r.severity for r in catalog if r.id.startswith("status.")}
    assert severity["status.no-response"] is Severity.ERROR
    assert severity["status.client-aborted"] is Severity.INFO  # the client left; nothing is broken
    assert severity["status.content-not-allowed"] is Severity.ERROR  # corrupts an HTTP/1.1 connection
    assert severity["status.location-relative"] is Severity.INFO  # allowed since RFC 7231
    assert {severity[f"status.retry-after{s}"] for s in ("", "-missing")} == {Severity.INFO}


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
    [result] = run(exchange("https://e.com/", code))
    assert not {"status.server-error", "status.client-error"} & set(rules(result))


# -- who answered: facts.source ---------------------------------------------------------

SOURCES = [
    # exchange, source, the intermediaries parsed from Proxy-Status
    pytest.param(failed("connect", "Connection refused", 502), "proxylens", None, id="error-proxylens-502"),
    pytest.param(failed("timeout", "timed out", 504), "proxylens", None, id="error-proxylens-504"),
    pytest.param(failed("client", "Client disconnected", None), None, None, id="error-no-answer"),
    pytest.param(failed("other", "HAR entry without a response", None), None, None, id="error-har"),
    pytest.param(exchange("https://e.com/", 502, headers={"Proxy-Status": "ExampleCDN; error=connection_timeout"}),
                 "intermediary", [{"proxy": "ExampleCDN", "error": "connection_timeout"}], id="proxy-status-error"),
    pytest.param(exchange("https://e.com/", 502, headers={"Server": "mitmproxy 11.0.2"}), "intermediary", None,
                 id="mitmproxy-error-page"),
    pytest.param(exchange("https://e.com/", 503, headers={
        "Proxy-Status": 'origin-lb, ExampleCDN; error=dns_error; details="no such host"'}), "intermediary",
        [{"proxy": "origin-lb"}, {"proxy": "ExampleCDN", "error": "dns_error", "details": "no such host"}],
        id="proxy-status-two-hops"),
    pytest.param(exchange("https://e.com/", 502, headers={"Proxy-Status": "ExampleCDN"}), "origin",
                 [{"proxy": "ExampleCDN"}], id="proxy-status-without-error"),
    pytest.param(exchange("https://e.com/", 502, headers={"Proxy-Status": "(not a proxy name"}), "origin", None,
                 id="proxy-status-malformed"),
    pytest.param(exchange("https://e.com/", 500), "origin", None, id="plain-500"),
    pytest.param(exchange("https://e.com/", 200, headers={"Server": "mitmproxy"}), "origin", None, id="200-via-mitm"),
]


@pytest.mark.parametrize("x, source, intermediaries", SOURCES)
def test_source(x, source, intermediaries):
    [result] = run(x)
    f = facts(result)
    assert f["source"] == source
    assert f["intermediaries"] == intermediaries


def test_intermediary_error_names_the_intermediary():
    [result] = run(exchange("https://e.com/", 502, headers={
        "Proxy-Status": 'ExampleCDN; error=connection_timeout; details="after 30 s"'}))
    f = only(result, "status.intermediary-error")
    assert f.evidence == {"status": 502, "intermediary": "ExampleCDN", "error": "connection_timeout",
                          "details": "after 30 s"}
    assert "ExampleCDN" in f.summary and "connection_timeout" in f.summary


def test_mitmproxy_error_page_names_the_server():
    [result] = run(exchange("https://e.com/", 504, headers={"Server": "mitmproxy 11.0.2"}))
    f = only(result, "status.intermediary-error")
    assert f.evidence["intermediary"] == "mitmproxy 11.0.2"
    assert f.evidence["error"] == "(mitmproxy error page)"


@pytest.mark.parametrize("code, error", [(403, "http_request_denied"), (400, "http_request_error")])
def test_proxy_status_error_on_a_4xx_is_the_intermediarys(code, error):
    [result] = run(exchange("https://e.com/", code, headers={"Proxy-Status": f"ExampleCDN; error={error}"}))
    assert facts(result)["source"] == "intermediary"
    assert "status.intermediary-error" in rules(result)
    assert "status.client-error" not in rules(result)


# -- no response ----------------------------------------------------------------------

ERRORS = [
    # kind, message, what proxylens answered, rule, severity
    ("connect", "[Errno 111] Connection refused", 502, "status.upstream-refused", Severity.ERROR),
    ("connect", "[Errno -3] Temporary failure in name resolution", 502, "status.upstream-unreachable",
     Severity.ERROR),
    ("connect", "[Errno 101] Network is unreachable", 502, "status.upstream-unreachable", Severity.ERROR),
    ("timeout", "no response within 60 s", 504, "status.upstream-timeout", Severity.ERROR),
    ("tls", "certificate verify failed: hostname mismatch", 502, "status.upstream-tls-failed", Severity.ERROR),
    ("protocol", "Server disconnected without sending a response", 502, "status.upstream-protocol-error",
     Severity.ERROR),
    ("client", "Client disconnected", None, "status.client-aborted", Severity.INFO),
    ("shutdown", "proxy shut down", None, "status.no-response", Severity.ERROR),
    ("other", "something odd", None, "status.no-response", Severity.ERROR),
]


@pytest.mark.parametrize("kind, message, answered, rule, severity", ERRORS, ids=[f"{e[0]}-{e[3]}" for e in ERRORS])
def test_errored_exchange(kind, message, answered, rule, severity):
    [result] = run(failed(kind, message, answered, url="http://127.0.0.1:9/"))
    f = facts(result)
    assert (f["code"], f["class"], f["redirect_to"], f["reason"]) == (None, None, None, None)
    assert f["error"] == {"kind": kind, "message": message, "proxy_answered": answered, "partial_response": None}
    assert f["source"] == ("proxylens" if answered else None)
    assert rules(result) == [rule]
    finding = only(result, rule)
    assert finding.severity is severity
    assert finding.subject == "response"
    assert finding.evidence == {"error": message, "error_kind": kind, "proxy_status": answered,
                                "host": "127.0.0.1", "port": 9}
    assert message in finding.summary
    assert (f"proxylens answered {answered}, not the origin" in finding.summary) is bool(answered)


def test_proxylens_own_message_is_not_repeated_in_the_summary():
    [result] = run(failed("timeout", "proxylens: the upstream did not answer within 60 s", 504))
    finding = only(result, "status.upstream-timeout")
    assert "proxylens:" not in finding.summary
    assert finding.summary.endswith("(proxylens answered 504, not the origin)")
    assert finding.evidence["error"] == "proxylens: the upstream did not answer within 60 s"


def test_no_response_without_error_object():
    [result] = run(exchange("https://e.com/", None))
    finding = only(result, "status.no-response")
    assert finding.evidence["error_kind"] == "other"
    assert facts(result)["code"] is None and facts(result)["source"] is None


# What proxy/snapshot.py records when the exchange failed after the origin's response head: no response (the
# client never got that head) and the head appended to the error.
CUT_SHORT = ("HTTP/1 protocol error: peer closed connection without sending complete message body (received 1000 "
             "bytes, expected 100000) (the origin had sent its response head: HTTP/1.1 200 OK)")


def test_a_failure_after_the_response_head_is_judged_by_its_error():
    [result] = run(failed("protocol", CUT_SHORT, 502))
    f = facts(result)
    assert (f["code"], f["source"]) == (None, "proxylens")
    assert f["meaning"] != MEANINGS[200] and "after the origin's response head" in f["meaning"]
    partial = {"code": 200, "reason": "OK", "http_version": "HTTP/1.1", "client_got_head": False,
               "body_received": 1000, "body_expected": 100000}
    assert f["error"] == {"kind": "protocol", "message": CUT_SHORT, "proxy_answered": 502, "partial_response": partial}
    assert rules(result) == ["status.upstream-protocol-error"]
    assert only(result, "status.upstream-protocol-error").evidence["partial_response"] == (
        "HTTP/1.1 200 OK, 1000 of 100000 body bytes; the client never got this head")


def test_the_client_leaving_after_the_response_head_is_client_aborted():
    message = "Client disconnected. (the origin had sent its response head: HTTP/2.0 404)"
    [result] = run(failed("client", message))
    f = facts(result)
    assert (f["code"], f["source"], f["error"]["proxy_answered"]) == (None, None, None)
    assert f["error"]["partial_response"] == {"code": 404, "reason": "", "http_version": "HTTP/2.0",
                                              "client_got_head": False, "body_received": None, "body_expected": None}
    assert rules(result) == ["status.client-aborted"]


def test_a_response_with_an_error_beside_it_is_not_a_success():
    """A response the client got the head of, then lost (a streamed body, or a browser's HAR: Chrome records
    200 with _error net::ERR_CONTENT_LENGTH_MISMATCH): the verdict is the error, not "the request succeeded"."""
    cut = exchange("https://e.com/big", 200, reason="OK", body=b"x" * 10,
                   error=ExchangeError("net::ERR_CONTENT_LENGTH_MISMATCH", "protocol"))
    [result] = run(cut)
    f = facts(result)
    assert (f["code"], f["class"], f["source"]) == (200, "successful", "origin")
    assert f["meaning"] != MEANINGS[200]
    assert f["error"]["kind"] == "protocol" and f["error"]["partial_response"]["client_got_head"] is True
    assert f["error"]["partial_response"]["body_received"] == 10
    assert rules(result) == ["status.upstream-protocol-error"]


def test_the_partial_head_format_round_trips():
    pytest.importorskip("mitmproxy")
    from mitmproxy.test import tutils

    from proxy.snapshot import PARTIAL_HEAD, _head_line

    for reason in ("OK", "", "Not (quite) OK", "Bad\x00Gateway"):
        response = tutils.tresp(status_code=502, reason=reason.encode())
        match = PARTIAL_HEAD_RE.search("error" + PARTIAL_HEAD.format(_head_line(response)))
        assert match is not None and (match[1], match[2]) == ("HTTP/1.1", "502"), reason
        assert match[3] == reason.replace("(", "").replace(")", "").replace("\x00", ""), reason


def test_errored_redirect_target_keeps_the_chain():
    a, b = "https://e.com/a", "https://down.example/"
    _, down = run(redirect(a, b), failed("timeout", "timed out", 504, url=b))
    assert facts(down)["chain"] == [a, b] and facts(down)["hops"] == 1
    assert only(down, "status.upstream-timeout").evidence["error_kind"] == "timeout"


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


@pytest.mark.parametrize("location, expected, relative", [
    ("/b", "https://e.com/b", True),
    ("b", "https://e.com/dir/b", True),
    ("../up", "https://e.com/up", True),
    ("?q=1", "https://e.com/dir/page?q=1", True),
    ("//cdn.example.net/x", "https://cdn.example.net/x", True),
    ("http://other.example/abs", "http://other.example/abs", False),
    ("https://other.example/abs", "https://other.example/abs", False),
    ("  /padded  ", "https://e.com/padded", True),
])
def test_location_resolves_against_request_url(location, expected, relative):
    [result] = run(redirect("https://e.com/dir/page", location))
    f = facts(result)
    assert f["redirect_to"] == expected
    assert f["chain"] == ["https://e.com/dir/page", expected]
    assert "status.redirect-without-location" not in rules(result)
    if relative:
        finding = only(result, "status.location-relative")
        assert finding.evidence == {"location": location.strip(), "resolved": expected}
    else:
        assert "status.location-relative" not in rules(result)


@pytest.mark.parametrize("method, code, changes", [
    ("POST", 301, True),
    ("POST", 302, True),
    ("post", 302, True),
    ("POST", 303, False),  # 303 means "GET this instead": the change is what the server asked for
    ("POST", 307, False),
    ("POST", 308, False),
    ("GET", 301, False),
    ("GET", 302, False),
    ("PUT", 301, False),  # Fetch changes the method only for POST
])
def test_redirect_changes_method(method, code, changes):
    [result] = run(redirect("https://e.com/form", "https://e.com/done", code, method=method))
    assert ("status.redirect-changes-method" in rules(result)) is changes
    if changes:
        assert only(result, "status.redirect-changes-method").evidence == {"status": code, "method": "POST"}


@pytest.mark.parametrize("url, location, downgrade", [
    ("https://e.com/a", "http://e.com/a", True),
    ("https://e.com/a", "HTTP://e.com/a", True),
    ("https://e.com/a", "http://other.example/", True),
    ("https://e.com/a", "https://e.com/b", False),
    ("https://e.com/a", "//e.com/b", False),  # scheme-relative: stays https
    ("https://e.com/a", "/b", False),
    ("http://e.com/a", "http://e.com/b", False),
    ("http://e.com/a", "https://e.com/a", False),
])
def test_redirect_to_http(url, location, downgrade):
    [result] = run(redirect(url, location))
    assert ("status.redirect-to-http" in rules(result)) is downgrade


def test_redirect_chain_across_three_exchanges():
    a, b, c = "https://a.example/start", "https://b.example/middle", "https://c.example/end"
    first, second, final = run(
        redirect(a, b, 301, started=T0),
        redirect(b, c, 302, started=T0 + 0.1),
        exchange(c, 200, started=T0 + 0.2),
    )
    assert facts(first)["chain"] == [a, b] and facts(first)["hops"] == 1
    assert facts(second)["redirect_to"] == c
    assert facts(second)["chain"] == [a, b, c] and facts(second)["hops"] == 2
    assert facts(final)["chain"] == [a, b, c] and facts(final)["hops"] == 2
    assert facts(final)["redirect_to"] is None
    assert all(rules(r) == [] for r in (first, second, final))


def test_redirect_chain_with_relative_hops():
    first, second, final = run(
        redirect("https://e.com/a", "/b"),
        redirect("https://e.com/b", "c"),
        exchange("https://e.com/c"),
    )
    assert facts(final)["chain"] == ["https://e.com/a", "https://e.com/b", "https://e.com/c"]
    assert rules(first) == rules(second) == ["status.location-relative"]


def test_unrelated_exchange_has_no_chain():
    _, other = run(redirect("https://e.com/a", "/b"), exchange("https://e.com/unrelated"))
    assert facts(other)["chain"] is None


def test_redirect_loop():
    a, b = "https://e.com/a", "https://e.com/b"
    first, second = run(redirect(a, b), redirect(b, a))
    assert "status.redirect-loop" not in rules(first)
    f = only(second, "status.redirect-loop")
    assert f.severity is Severity.ERROR
    assert f.evidence == {"location": a, "hops": 2, "chain": f"{a} -> {b} -> {a}"}
    assert a in f.summary
    assert facts(second)["chain"] == [a, b, a]


def test_self_redirect_is_a_loop():
    [result] = run(redirect("https://e.com/a", "/a"))
    assert only(result, "status.redirect-loop").evidence["hops"] == 1


def test_a_loop_is_reported_once_and_ends_the_chain():
    a, b = "https://e.com/a", "https://e.com/b"
    results = run(redirect(a, b), redirect(b, a), redirect(a, b))
    assert [rules(r).count("status.redirect-loop") for r in results] == [0, 1, 0]
    assert facts(results[2])["chain"] == [a, b]  # the client came back later: a new chain


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


@pytest.mark.parametrize("hops", [1, 2, 3, 4, 6])
def test_long_chain_is_reported_once_on_the_third_hop(hops):
    results = run(*chain_of(hops))
    counts = [rules(r).count("status.redirect-chain-long") for r in results]
    assert counts == [1 if i == 3 else 0 for i in range(1, hops + 1)]
    if hops >= 3:
        f = only(results[2], "status.redirect-chain-long")
        assert f.evidence["hops"] == 3
        assert f.evidence["chain"] == " -> ".join(f"https://e.com/{i}" for i in range(4))


def test_too_many_redirects_on_the_21st():
    results = run(*chain_of(22))
    too_many = [i + 1 for i, r in enumerate(results) if "status.too-many-redirects" in rules(r)]
    assert too_many == [21]  # Fetch: a network error when the redirect count is already 20
    assert only(results[20], "status.too-many-redirects").evidence == {"hops": 21}
    assert facts(results[20])["hops"] == 21
    assert facts(results[21])["chain"] == ["https://e.com/21", "https://e.com/22"]  # no longer followed


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
    results = run(*(redirect(u, v) for u, v in itertools.pairwise(urls)))
    lengths = [len(facts(r)["chain"]) for r in results]
    assert lengths[:21] == list(range(2, 23))  # 20 redirects are followed; the 21st is the error
    assert max(lengths) <= 22
    assert not any("status.redirect-loop" in rules(r) for r in results)


# -- what the code promises about the headers -------------------------------------------------------

@pytest.mark.parametrize("code, value, rule, seconds", [
    (429, "120", "status.retry-after", 120.0),
    (503, " 120 ", "status.retry-after", 120.0),
    (503, "Tue, 14 Nov 2023 22:15:20 GMT", "status.retry-after", 120.0),  # T0 + 120 s
    (429, "Tue, 14 Nov 2023 22:00:00 GMT", "status.retry-after", 0.0),  # already past
    (301, "60", "status.retry-after", 60.0),
    (429, "soon", "status.retry-after-invalid", None),
    (503, "-5", "status.retry-after-invalid", None),
    (503, "1.5", "status.retry-after-invalid", None),
    (301, "later", "status.retry-after-invalid", None),
    (429, None, "status.retry-after-missing", None),
    (503, None, "status.retry-after-missing", None),
])
def test_retry_after(code, value, rule, seconds):
    headers = {"Location": "https://e.com/x"} if code == 301 else {}
    if value is not None:
        headers["Retry-After"] = value
    [result] = run(exchange("https://e.com/", code, headers=headers))
    retry_rules = [r for r in rules(result) if r.startswith("status.retry-after")]
    assert retry_rules == [rule]
    f = only(result, rule)
    assert f.subject == "response.header.retry-after"
    assert f.evidence.get("seconds") == seconds


@pytest.mark.parametrize("digits", [400, 5000])
def test_a_huge_retry_after_does_not_crash_the_analyzer(digits):
    [result] = run(exchange("https://e.com/", 503, headers={"Retry-After": "9" * digits}))
    assert "proxylens.analyzer-error" not in rules(result)
    assert {"status.retry-after", "status.server-error"} <= set(rules(result))


@pytest.mark.parametrize("code", [200, 404, 500, 302])
def test_retry_after_is_not_expected_elsewhere(code):
    [result] = run(exchange("https://e.com/", code, location="https://e.com/x" if code == 302 else None))
    assert not [r for r in rules(result) if r.startswith("status.retry-after")]


@pytest.mark.parametrize("code, reason, mismatch", [
    (200, "Not Found", True),
    (200, "not found", True),
    (404, "OK", True),
    (201, "OK", True),
    (200, "OK", False),
    (200, "Alright", False),  # custom phrases are fine
    (200, "", False),  # HTTP/2 has none
    (404, "Not Found", False),
    (302, "Moved Temporarily", False),  # HTTP/1.0's phrase for 302: not another code's
])
def test_reason_phrase(code, reason, mismatch):
    [result] = run(exchange("https://e.com/", code, reason=reason, location="https://e.com/x" if code == 302 else None))
    assert facts(result)["reason"] == reason
    assert ("status.reason-phrase-mismatch" in rules(result)) is mismatch
    if mismatch:
        assert only(result, "status.reason-phrase-mismatch").evidence == {"status": code, "reason": reason}


@pytest.mark.parametrize("code, body, method, bodiless", [
    (204, b"hello", "GET", True),
    (304, b"hello", "GET", True),
    (100, b"x", "GET", True),
    (204, b"hello", "HEAD", False),  # a HEAD response has no content anyway
    (304, b"hello", "HEAD", False),
    (204, b"", "GET", False),
    (200, b"hello", "GET", False),
])
def test_content_on_bodiless_status(code, body, method, bodiless):
    [result] = run(exchange("https://e.com/", code, body=body, method=method,
                            request_headers={"If-None-Match": '"v1"'}))
    assert ("status.content-not-allowed" in rules(result)) is bodiless
    if bodiless:
        assert only(result, "status.content-not-allowed").evidence == {"status": code, "bytes": len(body)}


def test_content_size_from_body_size_when_bytes_were_not_kept():
    x = Exchange("size", Request("GET", "https://e.com/"), Response(204, body=Body(raw=None, size=12)),
                 timings=Timings(started=T0))
    [result] = run(x)
    assert only(result, "status.content-not-allowed").evidence["bytes"] == 12
    unknown = Exchange("unknown", Request("GET", "https://e.com/"), Response(204, body=Body(raw=None, size=-1)),
                       timings=Timings(started=T0))
    assert "status.content-not-allowed" not in rules(run(unknown)[0])


@pytest.mark.parametrize("code, request_headers, response_headers, rule, expected", [
    (401, {}, {}, "status.unauthorized-without-challenge", True),
    (401, {}, {"WWW-Authenticate": "Bearer"}, "status.unauthorized-without-challenge", False),
    (403, {}, {}, "status.unauthorized-without-challenge", False),
    (405, {}, {}, "status.method-not-allowed-without-allow", True),
    (405, {}, {"Allow": "GET"}, "status.method-not-allowed-without-allow", False),
    (405, {}, {"Allow": ""}, "status.method-not-allowed-without-allow", False),  # an empty Allow is allowed
    (416, {"Range": "bytes=9-"}, {}, "status.range-not-satisfiable-without-content-range", True),
    (416, {"Range": "bytes=9-"}, {"Content-Range": "bytes */4"}, "status.range-not-satisfiable-without-content-range",
     False),
    (304, {}, {}, "status.not-modified-unconditional", True),
    (304, {"If-None-Match": '"a"'}, {}, "status.not-modified-unconditional", False),
    (304, {"if-modified-since": "Tue, 14 Nov 2023 00:00:00 GMT"}, {}, "status.not-modified-unconditional", False),
    (204, {}, {"Content-Length": "5"}, "status.content-length-on-204", True),
    (200, {}, {"Content-Length": "5"}, "status.content-length-on-204", False),
    (100, {}, {}, "status.informational-as-final", True),
    (103, {}, {}, "status.informational-as-final", True),
    (101, {}, {}, "status.informational-as-final", False),
])
def test_header_promises(code, request_headers, response_headers, rule, expected):
    [result] = run(exchange("https://e.com/", code, method="DELETE" if code == 405 else "GET",
                            request_headers=request_headers, headers=response_headers))
    assert (rule in rules(result)) is expected, rules(result)
    if expected:
        assert only(result, rule).severity is catalog.get(rule).severity


@pytest.mark.parametrize("method, request_headers", [
    ("GET", {"If-Match": '"a"'}),
    ("GET", {"If-Unmodified-Since": "Tue, 14 Nov 2023 00:00:00 GMT"}),
    ("POST", {"If-None-Match": '"a"'}),
])
def test_304_needs_a_condition_that_can_produce_it(method, request_headers):
    [result] = run(exchange("https://e.com/", 304, method=method, request_headers=request_headers))
    assert "status.not-modified-unconditional" in rules(result)


# -- httplint's status notes -----------------------------------------------------------

@pytest.mark.parametrize("code, method, request_headers, response_headers, note", [
    (201, "POST", {}, {}, "CREATED_WITHOUT_LOCATION"),
    (201, "GET", {}, {"Location": "https://e.com/1"}, "CREATED_SAFE_METHOD"),
    (206, "GET", {"Range": "bytes=0-9"}, {}, "PARTIAL_WITHOUT_RANGE"),
    (206, "GET", {}, {"Content-Range": "bytes 0-9/100"}, "PARTIAL_NOT_REQUESTED"),
    (405, "GET", {}, {"Allow": "GET, HEAD"}, "STATUS_405_METHOD_IN_ALLOW"),
    (412, "GET", {}, {}, "STATUS_412_WITHOUT_PRECONDITION"),
    (417, "GET", {}, {}, "STATUS_417_WITHOUT_EXPECT"),
    (100, "GET", {}, {}, "UNEXPECTED_CONTINUE"),
    (101, "GET", {}, {}, "UPGRADE_NOT_REQUESTED"),
])
def test_httplint_semantics(code, method, request_headers, response_headers, note):
    [result] = run(exchange("https://e.com/", code, method=method, request_headers=request_headers,
                            headers=response_headers))
    notes = [f.evidence["httplint"] for f in result.findings if f.rule == "status.semantics"]
    assert note in notes
    assert all(f.severity is Severity.WARNING for f in result.findings if f.rule == "status.semantics")


@pytest.mark.parametrize("code, note", [
    (299, "STATUS_NONSTANDARD"),
    (599, "STATUS_NONSTANDARD"),
    (305, "STATUS_DEPRECATED"),
    (306, "STATUS_RESERVED"),
    (418, "STATUS_IM_A_TEAPOT"),
])
def test_nonstandard_codes(code, note):
    [result] = run(exchange("https://e.com/", code))
    assert only(result, "status.nonstandard-code").evidence["httplint"] == note
    assert facts(result)["meaning"]  # still explained


@pytest.mark.parametrize("code, request_headers, response_headers", [
    (200, {}, {}),
    (201, {}, {"Location": "https://e.com/1"}),
    (206, {"Range": "bytes=0-9"}, {"Content-Range": "bytes 0-9/100"}),
    (404, {}, {}),
    (500, {}, {}),
])
def test_notes_that_only_restate_the_meaning_are_dropped(code, request_headers, response_headers):
    method = "POST" if code == 201 else "GET"
    [result] = run(exchange("https://e.com/", code, method=method, request_headers=request_headers,
                            headers=response_headers))
    assert not {"status.semantics", "status.nonstandard-code"} & set(rules(result)), rules(result)


def test_content_length_0_on_204_is_only_info():
    [result] = run(exchange("https://e.com/", 204, headers={"Content-Length": "0"}))
    assert only(result, "status.content-length-on-204").severity is Severity.INFO


# -- live flows: which error, whose fault, what the client got (proxy/snapshot.py) ---------------------------------

def _flow(error: str, *, response: bool = False, request_done: bool = True, client_open: bool = True,
          server_started: bool = True):
    """A mitmproxy flow as the ``error`` hook sees it."""
    pytest.importorskip("mitmproxy")
    from mitmproxy import flow as mflow
    from mitmproxy.connection import ConnectionState
    from mitmproxy.test import tflow

    f = tflow.tflow(resp=response, err=mflow.Error(error))
    if response:
        f.response.timestamp_end = None  # the body never completed
    if not request_done:
        f.request.timestamp_end = None
    if not client_open:
        f.client_conn.state = ConnectionState.CLOSED
    if not server_started:
        f.server_conn.timestamp_start = f.server_conn.timestamp_tcp_setup = f.server_conn.timestamp_tls_setup = None
    return f


def _snapshot(flow):
    from proxy.snapshot import BodyCapture, exchange_from_flow

    return exchange_from_flow(flow, BodyCapture("all"))


H11_CUT = "HTTP/1 protocol error: peer closed connection without sending complete message body"


@pytest.mark.parametrize("message, kind", [
    ("Cannot parse HTTP response: Bad HTTP response line: b'HTTP/1.1 abc OK'", "protocol"),
    ("Cannot parse HTTP response: Bad HTTP response line: b'garbage'", "protocol"),
    ("Cannot parse HTTP response: Invalid header line: b'NoColonHere'", "protocol"),
    ("unexpected server response: b'\\x00\\x01'", "protocol"),
    ("server closed connection", "protocol"),
    (f"{H11_CUT} (received 1000 bytes, expected 100000)", "protocol"),
    ("Client disconnected.", "client"),
    ("[Errno 111] Connect call failed ('127.0.0.1', 9)", "connect"),
    ("Certificate verify failed: hostname mismatch", "tls"),
    ("connection closed", "other"),  # alone it names no side and no layer: the flow's state decides
])
def test_classify_error(message, kind):
    from proxy.snapshot import classify_error

    assert classify_error(message) == kind


SMUGGLING = "Received invalid header name b'X-A\\x00b' from server, refusing to prevent request smuggling attacks."
NO_TLS_VERSION = "The remote server and mitmproxy cannot agree on a TLS version to use."
REFUSED = "Cannot connect to e.com:443: [Errno 111] Connect call failed ('1.2.3.4', 443)"
WRONG_MODE = "mitmproxy received an HTTP CONNECT request even though it is not running in regular/upstream mode."


@pytest.mark.parametrize("message, kept", [
    (f"{SMUGGLING} Disable the validate_inbound_headers option to skip this security check.", SMUGGLING),
    (f"{NO_TLS_VERSION} You may need to adjust mitmproxy's tls_version_server_min option.", NO_TLS_VERSION),
    ((f"{REFUSED} If you plan to redirect requests away from this server, consider setting `connection_strategy` "
      "to `lazy` to suppress early connections."), REFUSED),
    ((f"{WRONG_MODE} This usually indicates a misconfiguration, please see the mitmproxy mode documentation for "
      "details."), WRONG_MODE),
    ("Client disconnected.", "Client disconnected."),
    ("Upstream said: try again later. Please retry.", "Upstream said: try again later. Please retry."),
])
def test_mitmproxy_advice_is_cut(message, kept):
    from proxy.snapshot import without_mitmproxy_advice

    assert without_mitmproxy_advice(message) == kept


def test_an_upstream_cut_mid_body_is_an_error_without_a_response():
    ex = _snapshot(_flow(f"{H11_CUT} (received 1000 bytes, expected 100000)", response=True))
    assert ex.response is None  # the HAR's response.status is 0: the client got proxylens's 502, not the 200
    assert (ex.error.kind, ex.error.proxy_status) == ("protocol", 502)
    assert ex.error.message == (f"{H11_CUT} (received 1000 bytes, expected 100000) "
                                "(the origin had sent its response head: HTTP/1.1 200 OK)")
    [result] = run(ex)
    assert facts(result)["error"]["partial_response"]["code"] == 200
    assert rules(result) == ["status.upstream-protocol-error"]
    assert ex.timings.receive > 0  # the partial body was coming in until the failure


def test_a_refused_response_header_is_an_error_without_advice():
    ex = _snapshot(_flow("Received invalid header name b'X-A\\x00b' from server, refusing to prevent request "
                         "smuggling attacks. Disable the validate_inbound_headers option to skip this security check.",
                         response=True))
    assert ex.response is None and (ex.error.kind, ex.error.proxy_status) == ("protocol", 502)
    assert "validate_inbound_headers" not in ex.error.message and "HTTP/1.1 200 OK" in ex.error.message


def test_the_client_leaving_while_the_body_comes_in_is_client_aborted():
    ex = _snapshot(_flow("Client disconnected.", response=True, client_open=False))
    assert ex.response is None and (ex.error.kind, ex.error.proxy_status) == ("client", None)


@pytest.mark.parametrize("server_started", [False, True], ids=["plain", "in-a-connect-tunnel"])
def test_the_client_leaving_mid_request_body_is_the_clients_doing(server_started):
    # h11 says "peer": here the peer is the client, since the request never completed
    ex = _snapshot(_flow(f"{H11_CUT} (received 500 bytes, expected 100000)", request_done=False, client_open=False,
                         server_started=server_started))
    assert (ex.error.kind, ex.error.proxy_status) == ("client", None)
    [result] = run(ex)
    assert rules(result) == ["status.client-aborted"]


def test_a_malformed_request_gets_400_and_a_malformed_request_body_nothing():
    head = _snapshot(_flow("Received invalid header name b'X\\x00' from client, refusing to prevent request "
                           "smuggling attacks.", request_done=False))
    assert (head.error.kind, head.error.proxy_status) == ("protocol", 400)
    # mitmproxy closes the client connection on a malformed body before the error hook: no answer
    body = _snapshot(_flow("HTTP/1 protocol error: illegal chunk header", request_done=False, client_open=False))
    assert (body.error.kind, body.error.proxy_status) == ("protocol", None)
    # ... but its HTTP/1 reader answers 400 itself, then closes, when the body's length cannot be known
    flow = _flow("Received multiple content-length headers: [b'0', b'5'] from client, refusing to prevent request "
                 "smuggling attacks.", request_done=False, client_open=False)
    flow.request.headers["Content-Length"] = "0"
    flow.request.headers.add("Content-Length", "5")
    answered = _snapshot(flow)
    assert (answered.error.kind, answered.error.proxy_status) == ("protocol", 400)


def test_an_upstream_closing_before_any_byte_is_a_protocol_error():
    ex = _snapshot(_flow("server closed connection"))
    assert ex.response is None and (ex.error.kind, ex.error.proxy_status) == ("protocol", 502)


def test_an_upstream_closing_during_the_tls_handshake_is_a_tls_failure():
    flow = _flow("connection closed")
    sc = flow.server_conn
    sc.tls, sc.timestamp_tls_setup, sc.error = True, None, "connection closed"  # TCP up, TLS never
    ex = _snapshot(flow)
    assert (ex.error.kind, ex.error.proxy_status) == ("tls", 502)
    assert "TLS handshake" in ex.error.message and ex.error.message.endswith("connection closed")
    [result] = run(ex)
    assert rules(result) == ["status.upstream-tls-failed"]


def test_a_refused_tcp_connection_to_an_https_origin_is_not_a_tls_failure():
    message = "[Errno 111] Connect call failed ('127.0.0.1', 9)"
    flow = _flow(message)
    sc = flow.server_conn
    sc.tls, sc.error = True, message
    sc.timestamp_tcp_setup = sc.timestamp_tls_setup = None  # TCP never came up
    ex = _snapshot(flow)
    assert (ex.error.kind, ex.error.message) == ("connect", message)


def test_a_streamed_response_cut_short_keeps_what_the_client_got():
    flow = _flow(f"{H11_CUT} (received 1000 bytes, expected 100000)", response=True)
    flow.response.stream = True  # an addon streamed it: the client got the head and part of the body
    ex = _snapshot(flow)
    assert ex.response is not None and ex.response.status == 200
    assert (ex.error.kind, ex.error.proxy_status) == ("protocol", None)  # no error page after the origin's head
    [result] = run(ex)
    assert facts(result)["code"] == 200 and rules(result) == ["status.upstream-protocol-error"]
