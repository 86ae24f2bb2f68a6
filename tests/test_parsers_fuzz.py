"""Hypothesis over the header parsers used when writing HAR entries and
reading ClientHellos: total (never raise) and well-formed output."""

from __future__ import annotations


from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.bodies import charset_of
from proxy.har import request_cookies, response_cookies
from proxy.models import Headers
from proxy.snapshot import classify_error

header_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=200)


@settings(max_examples=1000)
@given(st.lists(header_text, max_size=4), st.booleans())
def test_set_cookie_parsing_is_total_and_har_shaped(values, redact):
    cookies = response_cookies(Headers(tuple(("Set-Cookie", v) for v in values)), redact)
    assert len(cookies) <= len(values)
    for c in cookies:
        assert isinstance(c["name"], str) and c["name"]
        assert isinstance(c["value"], str)
        assert set(c) <= {"name", "value", "path", "domain", "expires", "_expires", "httpOnly", "secure"}
        if redact:
            assert c["value"] == "[redacted]"


def test_set_cookie_attributes():
    (c,) = response_cookies(Headers((("Set-Cookie", "id=a3fWa; Expires=Wed, 21 Oct 2015 07:28:00 GMT; "
                                                    "Secure; HttpOnly; Path=/docs; Domain=example.com"),)), False)
    assert c == {"name": "id", "value": "a3fWa", "expires": "2015-10-21T07:28:00+00:00", "secure": True,
                 "httpOnly": True, "path": "/docs", "domain": "example.com"}


@settings(max_examples=1000)
@given(st.lists(header_text, max_size=4))
def test_cookie_parsing_is_total(values):
    pairs = request_cookies(Headers(tuple(("Cookie", v) for v in values)))
    for name, value in pairs:
        assert name and "=" not in name and ";" not in name and ";" not in value


@settings(max_examples=1000)
@given(header_text)
def test_charset_of_is_total(value):
    result = charset_of(value)
    assert result is None or isinstance(result, str)


def test_charset_of():
    assert charset_of('text/html; charset="ISO-8859-1"') == "ISO-8859-1"
    assert charset_of("application/json") is None
    assert charset_of("text/plain;Charset=utf-8") == "utf-8"


@given(header_text)
def test_error_classification_is_total(message):
    assert classify_error(message) in {"connect", "timeout", "tls", "protocol", "client", "other"}


def test_error_classification():
    assert classify_error("[Errno 111] Connect call failed ('127.0.0.1', 1)") == "connect"
    assert classify_error("Certificate verify failed: unable to get local issuer certificate") == "tls"
    assert classify_error("Client disconnected.") == "client"
    assert classify_error("Connection timed out") == "timeout"
