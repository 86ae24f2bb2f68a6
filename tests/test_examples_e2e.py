"""End to end: the examples/ checks in a real ``proxylens proxy`` and a real ``proxylens run``, against a real
loopback origin (tests/support/examples_origin.py: an offending and a clean route per rule), with real clients.

Checks are loaded both ways a project would: ``-s examples/x.py`` and ``--check examples.x`` (the latter needs
the repository root importable: PYTHONPATH). ``PROXYLENS_STAGING_DOMAINS=localhost`` makes the HTTPS origin,
addressed as ``localhost``, a staging host; the same routes on ``127.0.0.1`` are not staging.
"""

from __future__ import annotations

import json
import shutil
import ssl
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.examples_origin import COOKIE_SECRET, ROUTES, ExamplesOrigin
from tests.support.results import rules_of
from tests.test_run_e2e import Runner, assert_rule_absent

ROOT = Path(__file__).resolve().parent.parent
ENV = {"PYTHONPATH": str(ROOT), "PROXYLENS_STAGING_DOMAINS": "localhost"}
EXAMPLE_RULES = ("api.cache-control-missing", "api.json-content-type", "api.json-charset",
                 "security.server-version-leak", "cookies.staging-insecure")
# rule, check module, how it is loaded, offending path, clean path, scheme (https: as localhost, a staging host)
CASES = [
    ("api.cache-control-missing", "api_cache_control", "--check", "/api/no-cache", "/api/cached", "http"),
    ("api.json-content-type", "json_content_type", "-s", "/json/as-html", "/json/ok", "http"),
    ("api.json-charset", "json_content_type", "--check", "/json/latin1", "/json/ok", "http"),
    ("security.server-version-leak", "server_version", "-s", "/server/leaky", "/server/ok", "http"),
    ("cookies.staging-insecure", "staging_cookies", "--check", "/cookies/insecure", "/cookies/ok", "https"),
]
# Every check, half of them each way.
ALL_CHECKS = ("-s", "examples/server_version.py", "-s", "examples/json_content_type.py",
              "--check", "examples.api_cache_control", "--check", "examples.staging_cookies")
# What each route of the origin gets from the example checks: the same on both hosts, except the cookies,
# which are judged only on localhost (staging) and not on 127.0.0.1.
OFFENDING = {"/api/no-cache": ["api.cache-control-missing"], "/json/as-html": ["api.json-content-type"],
             "/json/latin1": ["api.json-charset"], "/server/leaky": ["security.server-version-leak"] * 2}
EXPECTED = {**{("http", path): OFFENDING.get(path, []) for path in ROUTES},
            **{("https", path): OFFENDING.get(path, []) for path in ROUTES},
            ("https", "/cookies/insecure"): ["cookies.staging-insecure"] * 2}


@pytest.fixture(scope="module")
def origins(origin_certs):
    http, https = ExamplesOrigin(), ExamplesOrigin(str(origin_certs.cert_pem), str(origin_certs.key_pem))
    yield {"http": http, "https": https}
    http.close()
    https.close()


def url(origins, scheme: str, path: str) -> str:
    return origins[scheme].url(path, host="localhost" if scheme == "https" else "127.0.0.1")


def example_rules(entry: dict) -> list[str]:
    return sorted(r for r in rules_of(entry) if r in EXAMPLE_RULES)


def line_of(stdout: str, target: str) -> str:
    [line] = [line for line in stdout.splitlines() if f" GET {target} -> " in line]
    return line


# -- proxylens proxy: HAR entries and console -------------------------------------------------------------

def test_every_example_flags_its_offending_route_and_only_it(start_proxy, origins, monkeypatch):
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT)
    proxy = start_proxy(*ALL_CHECKS)
    context = ssl.create_default_context(cafile=str(proxy.ca))
    with httpx.Client(proxy=proxy.url, verify=context, trust_env=False, timeout=30) as client:
        for scheme, path in EXPECTED:
            assert client.get(url(origins, scheme, path)).status_code == 200
    assert proxy.stop() == 0, proxy.stderr
    assert "warning: check" not in proxy.stderr  # no example crashed
    entries = {e["request"]["url"]: e for e in proxy.har()["log"]["entries"]}
    got = {key: example_rules(entries[url(origins, *key)]) for key in EXPECTED}
    assert got == {key: sorted(rules) for key, rules in EXPECTED.items()}
    assert not [e for e in entries.values() if "proxylens.analyzer-error" in rules_of(e)]

    findings = {key: entries[url(origins, *key)]["_proxylens"]["findings"] for key in EXPECTED}
    [sid, prefs] = [f for f in findings["https", "/cookies/insecure"] if f["rule"] == "cookies.staging-insecure"]
    assert (sid["evidence"]["cookie_name"], sid["evidence"]["missing"]) == ("sid", "Secure, HttpOnly, SameSite")
    assert (prefs["evidence"]["cookie_name"], prefs["evidence"]["missing"]) == ("prefs", "HttpOnly")
    assert COOKIE_SECRET not in json.dumps(list(findings.values())) and COOKIE_SECRET not in proxy.stdout
    leaks = [f["evidence"]["value"] for f in findings["http", "/server/leaky"]
             if f["rule"] == "security.server-version-leak"]
    assert leaks == ["Apache/2.4.57 (Debian)", "PHP/8.2.1"]
    assert entries[url(origins, "http", "/server/leaky")]["_proxylens"]["facts"]["server_version"] == {
        "disclosed": {"Server": "Apache/2.4.57 (Debian)", "X-Powered-By": "PHP/8.2.1"}}

    # The console: each exchange's line names its worst finding of warning or above ...
    out = proxy.stdout
    assert line_of(out, url(origins, "https", "/cookies/insecure")).endswith(
        "| error: cookies.staging-insecure: cookie 'sid' from localhost lacks Secure, HttpOnly, SameSite (+1)")
    assert "| warning: api.cache-control-missing: 200 response to GET /api/no-cache without Cache-Control" in \
        line_of(out, url(origins, "http", "/api/no-cache"))
    assert "| warning: api.json-content-type: JSON served as text/html" in line_of(out, url(origins, "http",
                                                                                              "/json/as-html"))
    assert "| warning: api.json-charset: application/json labelled charset=iso-8859-1" in \
        line_of(out, url(origins, "http", "/json/latin1"))
    for clean in ("/api/cached", "/json/ok", "/server/ok", "/cookies/ok"):
        assert " | " not in line_of(out, url(origins, "http", clean))
    assert " | " not in line_of(out, url(origins, "https", "/cookies/ok"))
    # ... so the info-level version leak is in the summary, with its example, not on the line.
    assert "4  info     security.server-version-leak  on 127.0.0.1 (2), localhost (2)" in out
    assert f"GET {url(origins, 'http', '/server/leaky')} — Server reveals a version: Apache/2.4.57 (Debian)" in out


def test_min_severity_info_line_names_the_info_finding(start_proxy, origins, monkeypatch):
    monkeypatch.chdir(ROOT)
    proxy = start_proxy("-s", "examples/server_version.py", "--min-severity", "info", har=False)
    context = ssl.create_default_context(cafile=str(proxy.ca))
    with httpx.Client(proxy=proxy.url, verify=context, trust_env=False, timeout=30) as client:
        client.get(url(origins, "http", "/server/leaky"))
    assert proxy.stop() == 0
    line = line_of(proxy.stdout, url(origins, "http", "/server/leaky"))  # shown: it has an info finding
    assert "security.server-version-leak" in line  # actual: "... -> 200 OK 3ms 3B", no finding named


# -- proxylens run --policy: exit code and JUnit ------------------------------------------------------------

CLIENT = """\
import sys
import httpx  # reads HTTPS_PROXY and SSL_CERT_FILE, as proxylens run sets them
for url in sys.argv[1:]:
    httpx.get(url, timeout=20).raise_for_status()
"""


def client_command(target: str) -> list[str]:
    if target.startswith("https:") and shutil.which("curl"):
        return ["curl", "-sS", "--fail", "-o", "/dev/null", target]  # reads HTTPS_PROXY and CURL_CA_BUNDLE
    return [sys.executable, "-c", CLIENT, target]


@pytest.mark.parametrize("rule,module,how,bad,clean,scheme", CASES, ids=[c[0] for c in CASES])
def test_run_fails_the_policy_on_the_rule_and_passes_clean(tmp_path, origin_certs, origins, rule, module, how,
                                                           bad, clean, scheme):
    runner = Runner(tmp_path, origin_certs)
    policy = tmp_path / "policy.toml"
    policy.write_text(f'[rules]\n"{rule}" = "fail"\n')
    check = str(ROOT / "examples" / f"{module}.py") if how == "-s" else f"examples.{module}"
    host = "localhost" if scheme == "https" else "127.0.0.1"
    options = (how, check, "--policy", str(policy))

    failing = runner("bad", *options, cmd=client_command(url(origins, scheme, bad)), env=runner.env(**ENV))
    assert failing.code == 1, failing.explain()
    assert "proxylens: policy: FAILED" in failing.stdout and f"{rule} @ {host}" in failing.stdout
    failures = failing.failures()
    assert set(failures) == {f"{rule} @ {host}"}, failing.explain()
    failure = failures[f"{rule} @ {host}"]
    count = len(EXPECTED[scheme, bad])
    assert failure.get("type") == rule and failure.get("message").startswith(f"{count} new finding(s):")
    assert url(origins, scheme, bad) in failure.text
    for kind, text in failing.all_reports().items():
        assert COOKIE_SECRET not in text, kind

    passing = runner("clean", *options, cmd=client_command(url(origins, scheme, clean)), env=runner.env(**ENV))
    assert passing.code == 0, passing.explain()
    assert passing.junit().get("failures") == "0" and "proxylens: policy: passed" in passing.stdout
    assert_rule_absent(passing, rule)
