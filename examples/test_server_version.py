"""examples/server_version.py, through the testing kit only (fixtures exchange_factory and run_checks)."""

import pytest

from examples import server_version

RULE = "security.server-version-leak"


@pytest.mark.parametrize("headers,expected", [
    # Server: only with a version
    ([("Server", "nginx/1.25.3")], [("Server", True)]),
    ([("Server", "Apache/2.4.57 (Debian)")], [("Server", True)]),
    ([("Server", "Microsoft-IIS/10.0")], [("Server", True)]),
    ([("Server", "Jetty(9.4.44.v20210927)")], [("Server", True)]),
    ([("Server", "Werkzeug/3.0.1 Python/3.11.2")], [("Server", True)]),
    ([("Server", "awselb/2")], [("Server", True)]),
    ([("server", "openresty/1.21.4.1")], [("Server", True)]),  # any header case
    ([("Server", "nginx")], []),
    ([("Server", "Express")], []),
    ([("Server", "cloudflare")], []),
    ([("Server", "Google Frontend")], []),
    ([("Server", "ECS (dcb/7F83)")], []),  # a node id, not a version
    ([("Server", "web1")], []),
    # X-Powered-By: always, with or without a version
    ([("X-Powered-By", "PHP/8.2.1")], [("X-Powered-By", True)]),
    ([("X-Powered-By", "Express")], [("X-Powered-By", False)]),
    ([("X-Powered-By", "ASP.NET")], [("X-Powered-By", False)]),
    # ASP.NET's version headers: always
    ([("X-AspNet-Version", "4.0.30319")], [("X-AspNet-Version", True)]),
    ([("x-aspnetmvc-version", "5.2")], [("X-AspNetMvc-Version", True)]),
    # several at once: one finding per header, in a stable order
    ([("X-Powered-By", "Express"), ("Server", "nginx/1.25.3")], [("Server", True), ("X-Powered-By", False)]),
    # near misses: other headers with versions
    ([("Via", "1.1 varnish (Varnish/7.4)"), ("X-Version", "2.3.1"), ("Server", "envoy")], []),
    ([], []),
])
def test_verdicts(exchange_factory, run_checks, headers, expected):
    [result] = run_checks(server_version, exchange_factory("https://shop.test/", response_headers=headers))
    assert {f.rule for f in result.findings} <= {RULE}
    assert [(f.evidence["header"], f.evidence["version"]) for f in result.findings] == expected


def test_finding_and_facts(exchange_factory, run_checks):
    exchange = exchange_factory("https://shop.test/", status=404,
                                response_headers={"Server": "Apache/2.4.57 (Debian)", "X-Powered-By": "Express"})
    [result] = run_checks(server_version, exchange)
    server, powered = result.findings
    assert server.summary == "Server reveals a version: Apache/2.4.57 (Debian)"
    assert server.subject == "response.header.server" and server.severity == "info"
    assert server.evidence == {"header": "Server", "value": "Apache/2.4.57 (Debian)", "version": True}
    assert server.reference == "https://www.rfc-editor.org/rfc/rfc9110#section-10.2.4"
    assert "server_tokens off" in server.detail and "owasp.org" in server.detail
    assert powered.summary == "X-Powered-By names the framework: Express"
    assert result.facts == {"server_version": {"disclosed": {"Server": "Apache/2.4.57 (Debian)",
                                                             "X-Powered-By": "Express"}}}


def test_clean_response_records_no_facts(exchange_factory, run_checks):
    [result] = run_checks(server_version, exchange_factory("https://shop.test/", response_headers={"Server": "nginx"}))
    assert result.findings == [] and result.facts == {}


def test_long_values_are_cut(exchange_factory, run_checks):
    value = "Apache/2.4.57 " + "(mod_x/1.0) " * 100
    [result] = run_checks(server_version, exchange_factory("https://shop.test/", response_headers={"Server": value}))
    [finding] = result.findings
    assert len(finding.evidence["value"]) == 200 and len(finding.summary) < 120


def test_no_response(exchange_factory, run_checks):
    timeout = exchange_factory("https://shop.test/", status=None, error="timed out", error_kind="timeout")
    assert run_checks(server_version, timeout)[0].findings == []


def test_from_a_devtools_har_entry(exchange_factory, run_checks):
    entry = {
        "startedDateTime": "2026-05-28T10:00:00.000Z", "time": 12.5,
        "request": {"method": "GET", "url": "https://shop.test/api/users", "httpVersion": "h2",
                    "headers": [{"name": ":authority", "value": "shop.test"}], "queryString": [],
                    "cookies": [], "headersSize": -1, "bodySize": 0},
        "response": {"status": 200, "statusText": "", "httpVersion": "h2", "cookies": [],
                     "headers": [{"name": "server", "value": "nginx/1.25.3"},
                                 {"name": "x-powered-by", "value": "Next.js"},
                                 {"name": "content-type", "value": "application/json"}],
                     "content": {"size": 2, "mimeType": "application/json", "text": "[]"},
                     "redirectURL": "", "headersSize": -1, "bodySize": 2},
        "cache": {}, "timings": {"send": 0, "wait": 12, "receive": 0.5},
    }
    [result] = run_checks(server_version, exchange_factory.from_har(entry))
    assert [(f.evidence["header"], f.evidence["value"]) for f in result.findings] == [
        ("Server", "nginx/1.25.3"), ("X-Powered-By", "Next.js")]
