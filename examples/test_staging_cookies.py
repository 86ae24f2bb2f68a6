"""examples/staging_cookies.py, through the testing kit only (fixtures exchange_factory and run_checks)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from examples import staging_cookies
from examples.staging_cookies import StagingCookies

RULE = "cookies.staging-insecure"
STAGING = "https://api.staging.example.com/login"
GOOD = "; Path=/; Secure; HttpOnly; SameSite=Lax"


@pytest.mark.parametrize("set_cookie,missing", [
    ("sid=s3cr3t", "Secure, HttpOnly, SameSite"),
    ("sid=s3cr3t; Path=/; HttpOnly; SameSite=Strict", "Secure"),
    ("sid=s3cr3t; Path=/; Secure; SameSite=Lax", "HttpOnly"),
    ("sid=s3cr3t; Path=/; Secure; HttpOnly", "SameSite"),
    ("sid=s3cr3t; Secure; HttpOnly; SameSite=Relaxed", "SameSite"),  # unknown value: ignored by browsers
    ("sid=s3cr3t; Secure; HttpOnly; SameSite", "SameSite"),  # no value
    ("sid=s3cr3t; HttpOnly; SameSite=None", "Secure"),  # and Chromium rejects it
    ("sid=s3cr3t; Max-Age=3600; Secure; HttpOnly", "SameSite"),  # a lifetime is not a deletion
    ("sid=s3cr3t; Expires=Wed, 21 Oct 2099 07:28:00 GMT", "Secure, HttpOnly, SameSite"),
    ("sid=s3cr3t; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "Secure, HttpOnly, SameSite"),  # Max-Age wins
    ("s3cr3t; Secure; HttpOnly", "SameSite"),  # nameless (RFC 6265bis), still judged
    # complete, in any spelling browsers accept
    ("sid=s3cr3t" + GOOD, None),
    ("sid=s3cr3t; path=/; SECURE; httponly; samesite=strict", None),
    ("sid=s3cr3t;Secure;HttpOnly;SameSite=None", None),
    ("sid=s3cr3t; Secure=1; HttpOnly; SameSite = Lax", None),  # an attribute's value does not matter
    # deletions carry no value: not judged
    ("sid=; Max-Age=0; Path=/", None),
    ("sid=; Max-Age=-1", None),
    ("sid=; Expires=Thu, 01 Jan 1970 00:00:00 GMT", None),
    ("", None),
])
def test_verdicts(exchange_factory, run_checks, set_cookie, missing):
    exchange = exchange_factory(STAGING, response_headers=[("Set-Cookie", set_cookie)])
    [result] = run_checks(staging_cookies, exchange)
    assert [f.evidence["missing"] for f in result.findings] == ([missing] if missing else [])
    assert "s3cr3t" not in repr([f.model_dump() for f in result.findings])  # never the value


@pytest.mark.parametrize("url,flagged", [
    ("https://api.staging.example.com/", True),
    ("https://API.Staging.Example.COM/", True),  # host names are case-insensitive
    ("https://a.b.staging.example.com/", True),
    ("https://staging.example.com/", False),  # the glob is *.staging.example.com: the apex is not staging
    ("https://evilstaging.example.com/", False),
    ("https://staging.example.com.evil.test/", False),
    ("https://www.example.com/", False),
])
def test_only_staging_hosts(exchange_factory, run_checks, url, flagged):
    exchange = exchange_factory(url, response_headers={"Set-Cookie": "sid=s3cr3t"})
    assert bool(run_checks(staging_cookies, exchange)[0].findings) is flagged


def test_one_finding_per_cookie_from_raw_messages(exchange_factory, run_checks):
    exchange = exchange_factory.from_raw(
        "POST /login HTTP/1.1\r\nHost: app.staging.example.com\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 303 See Other\r\nLocation: /\r\n"
        "Set-Cookie: sid=s3cr3t-session; Path=/; HttpOnly\r\n"
        "Set-Cookie: csrf=s3cr3t-token; Path=/; Secure; SameSite=None\r\n"
        "set-cookie: theme=dark" + GOOD + "\r\n"
        "Content-Length: 0\r\n\r\n")
    [result] = run_checks(staging_cookies, exchange)
    sid, csrf = result.findings
    assert sid.summary == "cookie 'sid' from app.staging.example.com lacks Secure, SameSite"
    assert sid.evidence == {"cookie_name": "sid", "host": "app.staging.example.com", "missing": "Secure, SameSite",
                            "samesite": None, "rejected_by_chromium": False}
    assert csrf.evidence["missing"] == "HttpOnly" and csrf.evidence["samesite"] == "None"
    assert sid.severity == "error" and sid.subject == "response.header.set-cookie"
    assert "owasp.org" in sid.reference and "chromium.org" in sid.detail
    assert "s3cr3t" not in repr([f.model_dump() for f in result.findings])


def test_samesite_none_without_secure_says_chromium_rejects_it(exchange_factory, run_checks):
    exchange = exchange_factory(STAGING, response_headers={"Set-Cookie": "sid=x; HttpOnly; SameSite=none"})
    [finding] = run_checks(staging_cookies, exchange)[0].findings
    assert finding.summary.endswith("lacks Secure; SameSite=None without Secure: Chromium rejects it")
    assert finding.evidence["rejected_by_chromium"] is True


def test_configured_domains_and_script_readable_cookies(exchange_factory, run_checks):
    check = StagingCookies([" *.stg.test ", "", "LOCALHOST"], script_readable=("XSRF-TOKEN",))
    cookies = [("Set-Cookie", "XSRF-TOKEN=abc; Secure; SameSite=Strict"), ("Set-Cookie", "sid=abc; Secure")]
    results = run_checks(check, exchange_factory("https://a.stg.test/", response_headers=cookies),
                         exchange_factory("http://localhost:8080/", response_headers=cookies),
                         exchange_factory(STAGING, response_headers=cookies))
    assert [[f.evidence["cookie_name"] for f in r.findings] for r in results] == [["sid"], ["sid"], []]


def test_no_response_and_no_cookies(exchange_factory, run_checks):
    refused = exchange_factory(STAGING, status=None, error="connection refused")
    plain = exchange_factory(STAGING, response_headers={"Content-Type": "text/html"})
    assert [r.findings for r in run_checks(staging_cookies, refused, plain)] == [[], []]


def test_the_environment_variable_sets_the_domains_at_import():
    code = "from examples.staging_cookies import staging_cookies as c; print(c.domains)"
    env = {**os.environ, "PROXYLENS_STAGING_DOMAINS": "localhost, *.STG.test,"}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=Path(__file__).parent.parent,
                         capture_output=True, text=True, check=True, timeout=60).stdout
    assert out.strip() == "('localhost', '*.stg.test')"


def test_built_without_domains_it_reads_the_environment(monkeypatch):
    monkeypatch.delenv("PROXYLENS_STAGING_DOMAINS", raising=False)
    assert StagingCookies().domains == ("*.staging.example.com",)
    monkeypatch.setenv("PROXYLENS_STAGING_DOMAINS", "127.0.0.1")
    assert StagingCookies().domains == ("127.0.0.1",)
