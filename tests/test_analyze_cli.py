"""`proxylens analyze` on HAR files written by real producers: Chromium
(Playwright's record_har_path), mitmproxy's hardump, and proxylens itself."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import CHROMIUM_ARGS, chromium_path
from tests.harschema import assert_valid_har
from tests.support.proxyproc import PROXYLENS, Mitmdump


def analyze(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([PROXYLENS, "analyze", *args], capture_output=True, text=True, timeout=120, env=env)


def analyze_json(path: Path) -> dict:
    out = analyze(str(path), "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_analyze_a_har_recorded_by_chromium(tmp_path, http_origin):
    from playwright.sync_api import sync_playwright

    har = tmp_path / "chromium.har"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        context = browser.new_context(record_har_path=str(har))
        page = context.new_page()
        page.goto(http_origin.url("/"))
        page.wait_for_load_state("load")
        assert page.title().endswith("(js ran)")
        page.goto(http_origin.url("/status/503"))
        context.close()
        browser.close()
    report = analyze_json(har)
    by_url = {e["url"]: e for e in report["entries"]}
    assert by_url[http_origin.url("/")]["status"] == 200
    assert by_url[http_origin.url("/app.js")]["facts"]["status"]["code"] == 200
    failing = by_url[http_origin.url("/status/503")]
    assert failing["status"] == 503
    assert "status.server-error" in [f["rule"] for f in failing["findings"]]
    assert report["summary"]["exchanges"] == len(report["entries"]) >= 4
    assert report["error"] is None

    text = analyze(str(har))
    assert text.returncode == 0
    assert re.search(r"GET http://127\.0\.0\.1:\d+/status/503 -> 503", text.stdout)
    assert "warning status.server-error" in text.stdout


def test_analyze_a_har_written_by_mitmproxy_hardump(tmp_path, http_origin, https_origin):
    har = tmp_path / "mitm.har"
    with Mitmdump(tmp_path, "--set", f"hardump={har}", "--set", "ssl_insecure=true") as mitmdump, \
            httpx.Client(proxy=mitmdump.url, verify=False, trust_env=False, timeout=30) as c:
        c.get(http_origin.url("/status/404"))
        c.post(https_origin.url("/echo"), json={"a": 1})
        c.get(http_origin.url("/status/302?location=/echo"), follow_redirects=False)
    report = analyze_json(har)
    assert [(e["method"], e["status"]) for e in report["entries"]] == [("GET", 404), ("POST", 200), ("GET", 302)]
    assert report["entries"][2]["facts"]["status"]["redirect_to"] == http_origin.url("/echo")
    assert "status.client-error" in [f["rule"] for f in report["entries"][0]["findings"]]


def _record(start_proxy, http_origin, n: int):
    proxy = start_proxy("--quiet")
    with httpx.Client(proxy=proxy.url, trust_env=False, timeout=30) as c:
        for i in range(n):
            c.get(http_origin.url(f"/status/{404 if i % 2 else 200}?i={i}"))
    return proxy


def test_analyze_our_own_har_matches_the_live_verdicts(start_proxy, http_origin):
    proxy = _record(start_proxy, http_origin, 4)
    proxy.stop()
    live = proxy.har()["log"]["entries"]
    report = analyze_json(proxy.har_path)
    assert [e["status"] for e in report["entries"]] == [200, 404, 200, 404]
    for entry, recorded in zip(report["entries"], live):
        assert entry["facts"]["status"] == recorded["_proxylens"]["facts"]["status"]
        assert [f["rule"] for f in entry["findings"]] == [f["rule"] for f in recorded["_proxylens"]["findings"]]


def test_a_killed_proxy_still_leaves_a_valid_har(start_proxy, http_origin):
    """SIGKILL of the proxy process: the analysis worker notices and finalizes the HAR."""
    proxy = _record(start_proxy, http_origin, 3)
    time.sleep(0.5)
    proxy.proc.kill()
    proxy.proc.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = proxy.har_path.read_text()
        if text.endswith("]}}\n"):
            break
        time.sleep(0.2)
    har = json.loads(text)
    assert_valid_har(har)
    assert len(har["log"]["entries"]) == 3


def test_a_truncated_har_is_reported_and_its_complete_entries_analyzed(start_proxy, http_origin, tmp_path):
    proxy = _record(start_proxy, http_origin, 3)
    proxy.stop()
    text = proxy.har_path.read_text()
    cut = tmp_path / "cut.har"
    third = text.index('{"startedDateTime"', text.index('{"startedDateTime"', text.index('{"startedDateTime"') + 1) + 1)
    cut.write_text(text[: third + 200])
    out = analyze(str(cut), "--json")
    assert out.returncode == 2
    assert "truncated after 2 complete entries" in out.stderr
    report = json.loads(out.stdout)
    assert len(report["entries"]) == 2 and "truncated" in report["error"]
    plain = analyze(str(cut))
    assert plain.returncode == 2 and plain.stdout.count(" -> ") == 2


@pytest.mark.parametrize(
    "content,message",
    [
        ("this is not json", "not valid JSON"),
        ('{"entries": []}', 'no top-level "log"'),
        ('{"log": {"version": "1.2"}}', 'has no "entries"'),
        ("", "not valid JSON"),
    ],
)
def test_invalid_har_gives_a_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.har"
    path.write_text(content)
    out = analyze(str(path))
    assert out.returncode == 2
    assert message in out.stderr and str(path) in out.stderr


def test_missing_file(tmp_path):
    out = analyze(str(tmp_path / "nope.har"))
    assert out.returncode == 2 and "cannot read" in out.stderr and "No such file" in out.stderr


def test_browser_through_the_proxy_gives_pages_and_pagerefs(start_proxy, http_origin):
    from playwright.sync_api import sync_playwright

    proxy = start_proxy()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path(),
            args=[*CHROMIUM_ARGS, f"--proxy-server={proxy.url}", "--proxy-bypass-list=<-loopback>"],
        )
        page = browser.new_page()
        page.goto(http_origin.url("/"))
        page.wait_for_load_state("load")
        assert page.title().endswith("(js ran)")
        browser.close()
    proxy.stop()
    har = proxy.har()
    assert_valid_har(har)
    pages = har["log"]["pages"]
    assert [pg["title"] for pg in pages] == [http_origin.url("/")]
    by_url = {e["request"]["url"]: e for e in har["log"]["entries"]}
    for path in ("/", "/app.js", "/status/200"):
        assert by_url[http_origin.url(path)]["pageref"] == pages[0]["id"], path
    assert by_url[http_origin.url("/")]["request"]["headers"], "Chromium's real headers were recorded"


def test_engine_option_changes_the_verdict_where_engines_differ(tmp_path):
    """Access-Control-Allow-Headers: * covers Authorization in Chromium, not in Firefox (or the standard)."""
    def header_list(pairs):
        return [{"name": k, "value": v} for k, v in pairs]

    entry = {
        "startedDateTime": "2026-01-01T00:00:00.000Z", "time": 1,
        "request": {"method": "OPTIONS", "url": "https://api.example/x", "httpVersion": "HTTP/1.1",
                    "headers": header_list([("Origin", "https://app.example"),
                                            ("Access-Control-Request-Method", "GET"),
                                            ("Access-Control-Request-Headers", "authorization"),
                                            ("Sec-Fetch-Mode", "cors")]),
                    "cookies": [], "queryString": [], "headersSize": -1, "bodySize": 0},
        "response": {"status": 204, "statusText": "No Content", "httpVersion": "HTTP/1.1",
                     "headers": header_list([("Access-Control-Allow-Origin", "https://app.example"),
                                             ("Access-Control-Allow-Credentials", "true"),
                                             ("Access-Control-Allow-Headers", "*")]),
                     "cookies": [], "content": {"size": 0, "mimeType": ""}, "redirectURL": "",
                     "headersSize": -1, "bodySize": 0},
        "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0},
    }
    path = tmp_path / "preflight.har"
    path.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "t", "version": "1"},
                                        "entries": [entry]}}))
    facts = {}
    for engine in ("chromium", "firefox"):
        out = analyze(str(path), "--json", "--engine", engine)
        assert out.returncode == 0, out.stderr
        facts[engine] = json.loads(out.stdout)["entries"][0]["facts"]["cors"]
    # Firefox: '*' never lets Authorization through. Chromium: it does, unless the actual request is
    # credentialed (then '*' is no wildcard at all), which a preflight cannot show.
    assert facts["firefox"]["verdict"] == "blocked" and "authorization" in facts["firefox"]["reasons"][0]
    assert facts["chromium"]["verdict"] == "unknown" and "credentials" in facts["chromium"]["reasons"][0]
