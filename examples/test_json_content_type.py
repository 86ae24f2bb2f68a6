"""examples/json_content_type.py, through the testing kit only (fixtures exchange_factory and run_checks)."""

import gzip

import pytest

from examples import json_content_type

TYPE, CHARSET = "api.json-content-type", "api.json-charset"
OBJ = '{"id": 17, "name": "Zo\u00eb"}'


@pytest.mark.parametrize("content_type,body,expected", [
    # JSON under a non-JSON media type, or none
    ("text/html; charset=utf-8", OBJ, [TYPE]),
    ("text/plain", "[1, 2, 3]", [TYPE]),
    ("text/javascript", "  \n{}\n", [TYPE]),
    ("text/json", OBJ, [TYPE]),  # not the registered type
    (None, OBJ, [TYPE]),
    ("application/octet-stream", OBJ, [TYPE]),  # seen live only with --body-capture all
    # JSON media types: correct, whatever their case or parameters
    ("application/json", OBJ, []),
    ("Application/JSON", OBJ, []),
    ("application/problem+json", '{"title": "Not Found", "status": 404}', []),
    ("application/vnd.api+json; ext=bulk", '{"data": []}', []),
    ("application/x-ndjson", '{"event": 1}', []),  # one NDJSON record is valid JSON too
    # near misses: not a JSON object or array
    ("text/plain", "42", []),
    ("text/plain", "true", []),
    ("text/plain", '"a string"', []),
    ("text/plain", "[NaN]", []),  # Python accepts it; RFC 8259 does not
    ("text/plain", '{"a": 1', []),
    ("text/plain", '{"a": 1}{"b": 2}', []),
    ("application/javascript", 'callback({"a": 1});', []),  # JSONP
    ("text/html", "<!doctype html><p>{}</p>", []),
    ("text/plain", "", []),
    ("text/plain", "[" * 100_000 + "]" * 100_000, []),  # deeper than Python's stack: skipped, no crash
    # charset on a JSON media type: only non-UTF-8 labels
    ("application/json; charset=utf-8", OBJ, []),  # harmless: RFC 8259 section 11 defines no charset
    ("application/json; charset=UTF-8", OBJ, []),
    ('application/json;charset="utf8"', OBJ, []),  # a WHATWG label of UTF-8
    ("application/json; charset=iso-8859-1", OBJ, [CHARSET]),
    ("application/json; Charset=UTF-16", "{}", [CHARSET]),
    ("application/problem+json; charset=windows-1252", "{}", [CHARSET]),
    ("text/plain; charset=iso-8859-1", "hello", []),  # not JSON: not this rule's business
])
def test_verdicts(exchange_factory, run_checks, content_type, body, expected):
    headers = {"Content-Type": content_type} if content_type else {}
    exchange = exchange_factory("https://shop.test/api/users/17", response_headers=headers, response_body=body)
    [result] = run_checks(json_content_type, exchange)
    assert [f.rule for f in result.findings] == expected


def test_findings_say_what_was_served(exchange_factory, run_checks):
    mislabelled = exchange_factory("https://shop.test/a", status=500, response_body=OBJ,
                                   response_headers={"Content-Type": "text/html; charset=utf-8"})
    latin1 = exchange_factory("https://shop.test/b", response_body=OBJ.encode("latin-1"),
                              response_headers={"Content-Type": "application/json; charset=ISO-8859-1"})
    first, second = run_checks(json_content_type, mislabelled, latin1)
    [t] = first.findings
    assert t.summary == "JSON served as text/html" and t.subject == "response.header.content-type"
    assert t.evidence == {"content_type": "text/html; charset=utf-8", "status": 500}
    assert t.reference == "https://www.rfc-editor.org/rfc/rfc8259#section-11"
    [c] = second.findings
    assert c.summary == "application/json labelled charset=iso-8859-1"
    assert c.reference == "https://www.rfc-editor.org/rfc/rfc8259#section-8.1"


@pytest.mark.parametrize("body_kwargs", [
    {"response_body": None},  # not captured
    {"response_body": "[" + "1," * 600_000 + "1]"},  # over 1 MiB: not parsed
], ids=["not-captured", "over-the-limit"])
def test_bodies_it_does_not_read(exchange_factory, run_checks, body_kwargs):
    exchange = exchange_factory("https://shop.test/big", response_headers={"Content-Type": "text/plain"},
                                **body_kwargs)
    assert run_checks(json_content_type, exchange)[0].findings == []


def test_gzip_coded_json_is_decoded(exchange_factory, run_checks):
    exchange = exchange_factory("https://shop.test/z", response_body=gzip.compress(OBJ.encode()),
                                response_headers={"Content-Type": "text/plain", "Content-Encoding": "gzip"})
    assert [f.rule for f in run_checks(json_content_type, exchange)[0].findings] == [TYPE]


def test_head_and_no_response_are_not_judged(exchange_factory, run_checks):
    head = exchange_factory("https://shop.test/a", "HEAD", response_headers={"Content-Type": "text/plain"})
    refused = exchange_factory("https://shop.test/a", status=None, error="connection refused")
    assert [r.findings for r in run_checks(json_content_type, head, refused)] == [[], []]


def test_raw_chunked_response(exchange_factory, run_checks):
    exchange = exchange_factory.from_raw(
        "GET /api/orders HTTP/1.1\nHost: shop.test\n\n",
        'HTTP/1.1 200 OK\nContent-Type: text/html\nTransfer-Encoding: chunked\n\n7\r\n{"a": 1\r\n1\r\n}\r\n0\r\n\r\n')
    [result] = run_checks(json_content_type, exchange)
    assert [f.rule for f in result.findings] == [TYPE]


# -- rough edges of the public API met while writing this check -----------------------------------------------

def test_text_limit_cuts_an_uncoded_body(exchange_factory):
    exchange = exchange_factory("https://shop.test/", response_headers={"Content-Type": "text/plain"},
                                response_body="x" * 5000)
    assert len(exchange.response.text(limit=100)) == 100  # actual: 5000


def test_text_of_a_base64_har_body_matches_the_live_one(exchange_factory):
    live = exchange_factory("https://shop.test/", response_headers={"Content-Type": "application/octet-stream"},
                            response_body=b'{"a": 1}')
    entry = {"startedDateTime": "2026-05-28T10:00:00.000Z", "time": 1, "cache": {}, "timings": {"wait": 1},
             "request": {"method": "GET", "url": "https://shop.test/", "httpVersion": "HTTP/1.1", "headers": [],
                         "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0},
             "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "cookies": [],
                          "headers": [{"name": "Content-Type", "value": "application/octet-stream"}],
                          "content": {"size": 8, "mimeType": "application/octet-stream",
                                      "text": "eyJhIjogMX0=", "encoding": "base64"},
                          "redirectURL": "", "headersSize": -1, "bodySize": 8}}
    assert live.response.text() == '{"a": 1}'
    assert exchange_factory.from_har(entry).response.text() == '{"a": 1}'  # actual: None
