"""examples/api_cache_control.py, through the testing kit only (fixtures exchange_factory and run_checks)."""

import pytest

from examples import api_cache_control

RULE = "api.cache-control-missing"
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("url,method,status,headers,flagged", [
    # API by path, by JSON media type, by +json media type
    ("https://shop.test/api/users", "GET", 200, {"Content-Type": "text/plain"}, True),
    ("https://shop.test/users", "GET", 200, JSON, True),
    ("https://shop.test/users", "GET", 200, {"Content-Type": "Application/JSON; charset=utf-8"}, True),
    ("https://shop.test/problem", "GET", 200, {"Content-Type": "application/problem+json"}, True),
    ("https://shop.test/api/v1/x?page=2", "HEAD", 204, {}, True),
    ("https://shop.test/api/download", "GET", 206, {"Content-Type": "application/octet-stream"}, True),
    ("https://shop.test/api/users", "GET", 200, {**JSON, "Cache-Control": " "}, True),  # empty: no directive
    ("https://shop.test/api/users", "GET", 200, {**JSON, "Expires": "0"}, True),  # Expires is not Cache-Control
    # any directive, any header case, counts
    ("https://shop.test/api/users", "GET", 200, {**JSON, "Cache-Control": "no-store"}, False),
    ("https://shop.test/api/users", "GET", 200, {**JSON, "cache-control": "private, max-age=0"}, False),
    # near misses: not the API
    ("https://shop.test/", "GET", 200, {"Content-Type": "text/html"}, False),
    ("https://shop.test/api", "GET", 200, {"Content-Type": "text/html"}, False),
    ("https://shop.test/apiary/", "GET", 200, {"Content-Type": "text/html"}, False),
    ("https://shop.test/docs/api/", "GET", 200, {"Content-Type": "text/html"}, False),
    ("https://shop.test/x.js", "GET", 200, {"Content-Type": "application/javascript"}, False),
    ("https://shop.test/x", "GET", 200, {"Content-Type": "json"}, False),  # not a media type
    # near misses: not a reusable success
    ("https://shop.test/api/users", "GET", 304, {}, False),
    ("https://shop.test/api/users", "GET", 199, JSON, False),
    ("https://shop.test/api/users", "GET", 300, JSON, False),
    ("https://shop.test/api/users", "GET", 404, JSON, False),
    ("https://shop.test/api/users", "GET", 500, JSON, False),
    ("https://shop.test/api/orders", "POST", 201, JSON, False),
    ("https://shop.test/api/orders/1", "DELETE", 200, JSON, False),
    ("https://shop.test/api/orders", "OPTIONS", 204, {}, False),
])
def test_verdicts(exchange_factory, run_checks, url, method, status, headers, flagged):
    [result] = run_checks(api_cache_control, exchange_factory(url, method, status=status, response_headers=headers))
    assert [f.rule for f in result.findings] == ([RULE] if flagged else [])


def test_the_finding_names_the_response_and_never_the_query(exchange_factory, run_checks):
    exchange = exchange_factory("https://shop.test/api/me?access_token=SECRET123", response_headers=JSON)
    [result] = run_checks(api_cache_control, exchange)
    [finding] = result.findings
    assert finding.summary == "200 response to GET /api/me without Cache-Control"
    assert finding.severity == "warning" and finding.subject == "response.header.cache-control"
    assert finding.evidence == {"status": 200, "content_type": "application/json", "expires": None}
    assert finding.reference == "https://www.rfc-editor.org/rfc/rfc9111#section-5.2"
    assert "no-store" in finding.detail
    assert "SECRET123" not in finding.model_dump_json()


def test_no_response_is_not_judged(exchange_factory, run_checks):
    refused = exchange_factory("https://shop.test/api/users", status=None, error="connection refused",
                               error_kind="connect")
    assert run_checks(api_cache_control, refused)[0].findings == []


def test_raw_messages_as_on_the_wire(exchange_factory, run_checks):
    request = "GET /api/catalog HTTP/1.1\r\nHost: shop.test\r\nAccept: application/json\r\n\r\n"
    bare = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]"
    cached = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCACHE-CONTROL: max-age=60\r\nContent-Length: 2\r\n\r\n[]"
    results = run_checks(api_cache_control, exchange_factory.from_raw(request, bare),
                         exchange_factory.from_raw(request, cached))
    assert [[f.rule for f in r.findings] for r in results] == [[RULE], []]
    assert results[0].exchange.request.url == "https://shop.test/api/catalog"
