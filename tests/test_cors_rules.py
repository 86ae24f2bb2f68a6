"""The CORS rules as tables: the Fetch standard's header rules, the CORS check,
the preflight check, and the analyzer end to end on hand-built exchanges.

The reference is the Fetch standard (https://fetch.spec.whatwg.org/); the
rule each table enforces is quoted beside it. Where the analyzer follows
Chromium instead (the default engine), the test says so and why. Behaviour
that contradicts the standard or Chromium, and is not a documented engine
difference, is written with the correct expectation and marked
``xfail(strict=True)`` with the evidence in its reason.
"""

from __future__ import annotations

import itertools
import json

import pytest

from addons.cors import (
    DEFAULT_MAX_AGE,
    MAX_AGE_CAP,
    CorsAnalyzer,
    Failure,
    cors_check,
    preflight_check,
)
from addons.cors_headers import (
    author_headers,
    has_unsafe_byte,
    is_safelisted_request_header,
    mime_essence,
    parse_max_age,
    parse_token_list,
    serialize_origin,
    split_list,
    unsafe_request_header_names,
)
from proxy.findings import catalog
from proxy.models import Exchange, ExchangeError, Headers, Request, Response, Timings
from proxy.pipeline import Pipeline, Result
from tests.support.results import only, rules


def esc(raw: bytes) -> str:
    """Wire bytes as mitmproxy hands them over (UTF-8, surrogateescape for the rest)."""
    return raw.decode("utf-8", "surrogateescape")


# =====================================================================================================
# CORS-safelisted request-header
# =====================================================================================================
#
# Fetch: "A CORS-unsafe request-header byte is a byte byte for which one of the following is true:
# byte is less than 0x20 and is not 0x09 HT; byte is 0x22 ("), 0x28 (left parenthesis), 0x29 (right
# parenthesis), 0x3A (:), 0x3C (<), 0x3E (>), 0x3F (?), 0x40 (@), 0x5B ([), 0x5C (\), 0x5D (]), 0x7B
# ({), 0x7D (}), or 0x7F DEL."
SPEC_UNSAFE_BYTES = {b for b in range(0x20) if b != 0x09} | set(b'"():<>?@[\\]{}') | {0x7F}

# Fetch, `accept-language` / `content-language`: "If value contains a byte that is not in the range
# 0x30 (0) to 0x39 (9), inclusive, is not in the range 0x41 (A) to 0x5A (Z), inclusive, is not in the
# range 0x61 (a) to 0x7A (z), inclusive, and is not 0x20 (SP), 0x2A (*), 0x2C (,), 0x2D (-), 0x2E
# (.), 0x3B (;), or 0x3D (=), then return false."
SPEC_LANGUAGE_BYTES = set(range(0x30, 0x3A)) | set(range(0x41, 0x5B)) | set(range(0x61, 0x7B)) | set(b" *,-.;=")


@pytest.mark.parametrize("byte", range(256), ids=lambda b: f"0x{b:02x}")
def test_accept_rejects_exactly_the_cors_unsafe_request_header_bytes(byte: int):
    """`accept`: "If value contains a CORS-unsafe request-header byte, then return false."
    Bytes 0x80-0xFF are not unsafe (they arrive surrogate-escaped when not UTF-8)."""
    value = esc(b"text/html" + bytes([byte]) + b"x")
    assert is_safelisted_request_header("Accept", value) is (byte not in SPEC_UNSAFE_BYTES)
    assert has_unsafe_byte(value) is (byte in SPEC_UNSAFE_BYTES)


@pytest.mark.parametrize("name", ["Accept-Language", "Content-Language"])
@pytest.mark.parametrize("byte", range(256), ids=lambda b: f"0x{b:02x}")
def test_languages_allow_only_alphanumerics_and_space_star_comma_dash_dot_semicolon_equals(name: str, byte: int):
    value = esc(b"en" + bytes([byte]) + b"US")
    assert is_safelisted_request_header(name, value) is (byte in SPEC_LANGUAGE_BYTES)


ACCEPT_TABLE = [
    ("*/*", True),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),  # , / ; = are allowed
    ("a\tb", True),  # "less than 0x20 and is not 0x09 HT": tab is fine
    ('a"b', False),
    ("a(b", False),
    ("a)b", False),
    ("application/json:x", False),
    ("user@host", False),
    ("a<b>", False),
    ("what?", False),
    ("[x]", False),
    ("a\\b", False),
    ("{x}", False),
    ("a\x7fb", False),  # DEL
    ("a\x00b", False),
    ("a\x1fb", False),
    ("a\rb", False),
    ("a\nb", False),
    ("text/plain; é", True),  # non-ASCII bytes are not CORS-unsafe bytes
    (esc(b"\xff\xfe"), True),  # surrogate-escaped non-UTF-8 bytes: 0xFF 0xFE are not unsafe either
    ("", True),
]


@pytest.mark.parametrize("value,safe", ACCEPT_TABLE, ids=repr)
def test_accept(value: str, safe: bool):
    assert is_safelisted_request_header("accept", value) is safe


LANGUAGE_TABLE = [
    ("en-US,en;q=0.9", True),
    ("*", True),
    ("de-CH, fr;q=0.5", True),
    ("en_US", False),  # 0x5F is not in the list
    ("en/US", False),
    ("en\tUS", False),  # tab is not allowed here (unlike Accept)
    ("en@x", False),
    ("fr-é", False),
    ('"en"', False),
    ("", True),
]


@pytest.mark.parametrize("name", ["accept-language", "Content-Language", "ACCEPT-LANGUAGE"])
@pytest.mark.parametrize("value,safe", LANGUAGE_TABLE, ids=repr)
def test_accept_language_and_content_language(name: str, value: str, safe: bool):
    assert is_safelisted_request_header(name, value) is safe


# `content-type`: "If value contains a CORS-unsafe request-header byte, then return false. Let mimeType
# be the result of parsing the result of isomorphic decoding value. If mimeType is failure, then return
# false. If mimeType's essence is not "application/x-www-form-urlencoded", "multipart/form-data", or
# "text/plain", then return false."
CONTENT_TYPE_TABLE = [
    ("text/plain", True),
    ("text/plain;charset=UTF-8", True),
    ("text/plain; charset=utf-8", True),
    ("TEXT/Plain", True),  # the essence is lowercased
    ("Text/Plain;Charset=UTF-8", True),
    ("multipart/form-data; boundary=----WebKitFormBoundaryABC123", True),
    ("application/x-www-form-urlencoded", True),
    ("application/x-www-form-urlencoded;charset=UTF-8", True),
    ("text/plain;", True),
    ("text/plain ;x=y", True),  # trailing whitespace of the subtype is removed by the MIME parser
    ("text/plain\t", True),
    ("text/plain; foo", True),  # parameters never make the MIME type fail
    ("text/plain;\tcharset=x", True),
    ("application/json", False),
    ("text/html", False),
    ("text/plain-x", False),
    ("text/plain/x", False),
    ("text", False),
    ("/plain", False),
    ("text/", False),
    ("text /plain", False),  # the type is not a token
    ("text/ plain", False),  # neither is the subtype
    ("text/plain, application/json", False),  # not a list: the subtype is "plain, application/json"
    ('text/plain; charset="utf-8"', False),  # 0x22 is a CORS-unsafe byte, even in a parameter
    ("text/plain; charset=(utf-8)", False),
    ("text/plain; a=b:c", False),
    ("text/plain\x01", False),
    ("tëxt/plain", False),
    ("", False),
]


@pytest.mark.parametrize("value,safe", CONTENT_TYPE_TABLE, ids=repr)
def test_content_type(value: str, safe: bool):
    assert is_safelisted_request_header("Content-Type", value) is safe


# `range`: "Let rangeValue be the result of parsing a single range header value given value and false.
# If rangeValue is failure, then return false. If rangeValue[0] is null, then return false." (Note: "As
# web browsers have historically not emitted ranges such as `bytes=-500` this algorithm does not
# safelist them.")
RANGE_TABLE = [
    ("bytes=0-", True),
    ("bytes=0-10", True),
    ("bytes=10-10", True),
    ("bytes=00-01", True),
    ("bytes=500-", True),
    ("bytes=-5", False),  # a suffix range: rangeStart is null
    ("bytes=-", False),  # "If rangeEndValue and rangeStartValue are null, then return failure."
    ("bytes=10-5", False),  # "rangeStartValue is greater than rangeEndValue, then return failure"
    ("bytes=0-1,2-3", False),  # a single range only: position is not past the end
    ("bytes=0-1, 2-3", False),
    ("bytes = 0-1", False),  # allowWhitespace is false
    ("bytes= 0-1", False),
    ("bytes=0 -1", False),
    ("bytes=0- 1", False),
    ("Bytes=0-", False),  # "If data does not start with "bytes"": case-sensitive
    ("BYTES=0-1", False),
    ("items=0-1", False),
    ("bytes=0x1-", False),
    ("bytes=+1-", False),
    ("bytes=1-2-3", False),
    ("bytes0-1", False),
    ("", False),
]


@pytest.mark.parametrize("value,safe", RANGE_TABLE, ids=repr)
def test_range(value: str, safe: bool):
    assert is_safelisted_request_header("Range", value) is safe


@pytest.mark.parametrize("value", ["bytes=\u0661-", "bytes=0-\u0661", "bytes=\uff11-\uff12"])
def test_range_digits_are_ascii_digits_only(value: str):
    """Fetch, "parse a single range header value": "Let data be the isomorphic decoding of value" and
    "Let rangeStart be the result of collecting a sequence of code points that are ASCII digits".
    (Regression: _SIMPLE_RANGE once used Python's \\d, which matches every Unicode decimal digit.)"""
    assert is_safelisted_request_header("range", value) is False


@pytest.mark.parametrize("name", ["x-trace", "Authorization", "cache-control", "content-length", "origin",
                                  "x-requested-with", "accepts", "content-type2", "", "accept "])
def test_other_names_are_not_safelisted(name: str):
    """"Otherwise: Return false." — whatever the value."""
    assert is_safelisted_request_header(name, "text/plain") is False
    assert is_safelisted_request_header(name, "") is False


@pytest.mark.parametrize("name", ["ACCEPT", "Accept", "aCcEpT"])
def test_names_are_byte_lowercased(name: str):
    assert is_safelisted_request_header(name, "*/*") is True


# "If value's length is greater than 128, then return false." (length in bytes)
LENGTH_TABLE = [
    ("accept", "a" * 128, True),
    ("accept", "a" * 129, False),
    ("accept-language", "a" * 128, True),
    ("accept-language", "a" * 129, False),
    ("content-language", "en," * 42 + "en", True),  # 128
    ("content-language", "en," * 43, False),  # 129
    ("content-type", "text/plain;x=" + "a" * 115, True),  # 13 + 115 = 128
    ("content-type", "text/plain;x=" + "a" * 116, False),
    ("range", "bytes=" + "0" * 121 + "-", True),  # 6 + 121 + 1 = 128
    ("range", "bytes=" + "0" * 122 + "-", False),
    ("accept", "é" * 64, True),  # 64 characters, 128 bytes
    ("accept", "é" * 64 + "a", False),  # 65 characters, 129 bytes: it is the bytes that count
    ("accept", "\udcff" * 128, True),  # 128 surrogate-escaped bytes
    ("accept", "\udcff" * 129, False),
]


@pytest.mark.parametrize("name,value,safe", LENGTH_TABLE, ids=lambda v: f"{v[:12]}…" if isinstance(v, str) else v)
def test_value_length_limit_is_128_bytes(name: str, value: str, safe: bool):
    assert is_safelisted_request_header(name, value) is safe


# =====================================================================================================
# CORS-unsafe request-header names
# =====================================================================================================


def test_unsafe_names_are_sorted_lowercase_unique():
    """"Return the result of convert header names to a sorted-lowercase set with unsafeNames.\""""
    headers = [("X-B", "1"), ("x-a", "1"), ("X-A", "2"), ("Accept", "*/*"), ("Content-Type", "application/json"),
               ("X-b", "3")]
    assert unsafe_request_header_names(headers) == ["content-type", "x-a", "x-b"]


def test_unsafe_names_of_safelisted_headers_is_empty():
    assert unsafe_request_header_names([("Accept", "*/*"), ("Accept-Language", "en"),
                                        ("Content-Type", "text/plain"), ("Range", "bytes=0-")]) == []
    assert unsafe_request_header_names([]) == []


def test_a_safelisted_name_with_an_unsafe_value_is_unsafe():
    assert unsafe_request_header_names([("Accept", 'a"b'), ("Accept-Language", "en_US")]) == [
        "accept", "accept-language"]


# "If safelistValueSize is greater than 1024, then for each name of potentiallyUnsafeNames, append name
# to unsafeNames."
def test_safelisted_values_up_to_1024_bytes_in_total_stay_safe():
    assert unsafe_request_header_names([("Accept", "a" * 128)] * 8) == []  # exactly 1024


def test_safelisted_values_over_1024_bytes_in_total_all_become_unsafe():
    headers = [("Accept", "a" * 128)] * 8 + [("Content-Language", "e")]  # 1025
    assert unsafe_request_header_names(headers) == ["accept", "content-language"]


def test_the_1024_byte_total_counts_bytes_not_characters():
    assert unsafe_request_header_names([("Accept", "é" * 64)] * 8) == []  # 8 x 128 bytes
    assert unsafe_request_header_names([("Accept", "é" * 64)] * 8 + [("Accept", "é")]) == ["accept"]


def test_unsafe_values_do_not_count_towards_the_1024_bytes():
    headers = [("Accept", "a" * 128)] * 8 + [("X-Big", "a" * 5000), ("Accept-Language", "a" * 129)]
    assert unsafe_request_header_names(headers) == ["accept-language", "x-big"]


def test_author_headers_drop_what_the_browser_adds_itself():
    headers = [("Host", "api.example"), ("Origin", "https://app.example"), ("Cookie", "a=1"),
               ("Sec-Fetch-Mode", "cors"), ("Sec-Ch-Ua", '"x"'), ("Proxy-Authorization", "x"),
               ("User-Agent", "UA"), ("Accept-Encoding", "gzip"), ("Referer", "https://app.example/"),
               (":authority", "api.example"), ("X-Trace", "1"), ("Content-Type", "application/json")]
    assert author_headers(headers) == [("X-Trace", "1"), ("Content-Type", "application/json")]


# =====================================================================================================
# Parsers
# =====================================================================================================

# Access-Control-Allow-Methods = #method ; Access-Control-Allow-Headers = #field-name
TOKEN_LIST_TABLE = [
    (None, None),  # "If list does not contain name, then return null."
    ("", []),
    ("GET", ["GET"]),
    ("GET, PUT", ["GET", "PUT"]),
    ("GET,PUT", ["GET", "PUT"]),
    (" GET ,\tPUT\t", ["GET", "PUT"]),
    ("GET,,PUT,", ["GET", "PUT"]),  # empty list elements are allowed by #rule
    (" , ,", []),
    ("*", ["*"]),
    ("x-trace, X-Other", ["x-trace", "X-Other"]),
    ("!#$%&'*+.^_`|~", ["!#$%&'*+.^_`|~"]),
]


@pytest.mark.parametrize("value,expected", TOKEN_LIST_TABLE, ids=repr)
def test_parse_token_list(value, expected):
    assert parse_token_list(value) == expected


@pytest.mark.parametrize("value", ["GET PUT", "GET;", '"GET"', "x:y", "a/b", "x-é", "(x)", "a{b}", "x\x00",
                                   "GET, P UT", "x-trace, [bad]", "=", "a@b"])
def test_parse_token_list_fails_on_non_tokens(value: str):
    """"If extract is failure, then return failure." — an item that is not a token."""
    with pytest.raises(ValueError):
        parse_token_list(value)


def test_split_list():
    assert split_list(None) is None
    assert split_list("a, b,,c ,\t") == ["a", "b", "c"]
    assert split_list("") == []


# Access-Control-Max-Age = delta-seconds (RFC 9111: delta-seconds = 1*DIGIT)
MAX_AGE_TABLE = [
    (None, None),
    ("600", 600),
    (" 600\t", 600),
    ("0", 0),
    ("007", 7),
    ("86400", 86400),
    ("99999999999", 99999999999),
    ("", None),
    ("-1", None),
    ("+5", None),
    ("1.5", None),
    ("5s", None),
    ("1e3", None),
    ("0x10", None),
    ("\u0665", None),  # ARABIC-INDIC DIGIT FIVE is not a DIGIT
    ("\u00b2", None),  # SUPERSCRIPT TWO: str.isdigit() is True, but it is not a DIGIT
    ("600, 600", None),  # two header lines: "If the ABNF for name allows a single header [...] failure"
]


@pytest.mark.parametrize("value,expected", MAX_AGE_TABLE, ids=repr)
def test_parse_max_age(value, expected):
    assert parse_max_age(value) == expected


def test_parse_max_age_of_a_huge_number_does_not_raise():
    """RFC 9111 1.2.2: a delta-seconds too large to represent "MUST" count as 2147483648 (2^31) "or the
    greatest positive integer it can conveniently represent". (Regression: int() once raised ValueError
    past Python's 4300-digit conversion limit.)"""
    result = parse_max_age("9" * 5000)
    assert result is None or (isinstance(result, int) and result >= 2**31)


# Fetch/HTML "serialization of an origin": scheme "://" host [":" port], the port omitted when it is
# null (the scheme's default port).
ORIGIN_TABLE = [
    (("https", "example.com", 443), "https://example.com"),
    (("https", "example.com", None), "https://example.com"),
    (("http", "example.com", 80), "http://example.com"),
    (("http", "example.com", 443), "http://example.com:443"),
    (("https", "example.com", 80), "https://example.com:80"),
    (("https", "example.com", 8443), "https://example.com:8443"),
    (("ws", "example.com", 80), "ws://example.com"),
    (("wss", "example.com", 443), "wss://example.com"),
    (("wss", "example.com", 80), "wss://example.com:80"),
    (("http", "::1", 8080), "http://[::1]:8080"),
    (("https", "::1", 443), "https://[::1]"),
    (("https", "[::1]", 443), "https://[::1]"),
    (("http", "2001:db8::1", None), "http://[2001:db8::1]"),
    (("http", "127.0.0.1", 80), "http://127.0.0.1"),
    (("http", "127.0.0.1", 0), "http://127.0.0.1:0"),
]


@pytest.mark.parametrize("args,expected", ORIGIN_TABLE, ids=repr)
def test_serialize_origin(args, expected):
    assert serialize_origin(*args) == expected


TARGET_TABLE = [
    ("https://API.Example:443/x?y", "https://api.example"),
    ("http://api.example:80/", "http://api.example"),
    ("http://api.example:8080/", "http://api.example:8080"),
    ("http://[::1]:8080/x", "http://[::1]:8080"),
    ("https://[2001:db8::1]/", "https://[2001:db8::1]"),
    ("ws://api.example/ws", "http://api.example"),  # a WebSocket's origin check compares with http(s)
    ("wss://api.example:443/ws", "https://api.example"),
    ("wss://api.example:8443/ws", "https://api.example:8443"),
]


@pytest.mark.parametrize("url,expected", TARGET_TABLE)
def test_target_origin(url: str, expected: str):
    assert CorsAnalyzer.target_origin(Exchange("1", Request("GET", url))) == expected


MIME_TABLE = [
    ("text/plain", "text/plain"),
    ("Text/Plain; charset=UTF-8", "text/plain"),
    ("  application/JSON  ", "application/json"),
    ("text/plain ;x", "text/plain"),
    ("text", None),
    ("text/", None),
    ("/plain", None),
    ("te xt/plain", None),
    ("text/pla:in", None),
    ("", None),
]


@pytest.mark.parametrize("value,expected", MIME_TABLE, ids=repr)
def test_mime_essence(value: str, expected):
    assert mime_essence(value) == expected


def test_mime_essence_is_ascii_only():
    """MIME Sniffing, "parse a MIME type": type and subtype are "solely HTTP token code points" (ASCII),
    then ASCII-lowercased. (Regression: str.lower() ran first and turned U+212A KELVIN SIGN into "k".)"""
    assert mime_essence("text/\u212a") is None


# =====================================================================================================
# CORS check
# =====================================================================================================
#
# Fetch, "CORS check": "1. Let origin be the result of getting `Access-Control-Allow-Origin` from
# response's header list. 2. If origin is null, then return failure. 3. If request's credentials mode is
# not "include" and origin is `*`, then return success. 4. If the result of byte-serializing a request
# origin with request is not origin, then return failure. 5. If request's credentials mode is not
# "include", then return success. 6. Let credentials be the result of getting
# `Access-Control-Allow-Credentials` [...] 7. If credentials is `true`, then return success. 8. Return
# failure."
O = "https://app.example"
OK = None
MISSING = "cors.missing-allow-origin"
MISMATCH = "cors.allow-origin-mismatch"
MULTIPLE = "cors.multiple-allow-origin"
WILDCARD = "cors.credentials-with-wildcard-origin"
NOT_TRUE = "cors.allow-credentials-not-true"

ACAO = "Access-Control-Allow-Origin"
ACAC = "Access-Control-Allow-Credentials"

CORS_CHECK_TABLE = [
    # id, origin, response header lines, credentials, expected
    ("no-acao", O, [], "omit", MISSING),
    ("no-acao-cred", O, [], "include", MISSING),
    ("acac-without-acao", O, [(ACAC, "true")], "include", MISSING),
    ("star", O, [(ACAO, "*")], "omit", OK),
    ("star-cred", O, [(ACAO, "*")], "include", WILDCARD),
    ("star-cred-with-acac", O, [(ACAO, "*"), (ACAC, "true")], "include", WILDCARD),
    ("star-padded", O, [(ACAO, " * ")], "omit", OK),  # header values are whitespace-trimmed
    ("echo", O, [(ACAO, O)], "omit", OK),
    ("echo-padded", O, [(ACAO, f"\t{O} ")], "omit", OK),
    ("echo-lowercase-name", O, [("access-control-allow-origin", O)], "omit", OK),
    ("echo-uppercase-name", O, [("ACCESS-CONTROL-ALLOW-ORIGIN", O)], "omit", OK),
    ("echo-cred-no-acac", O, [(ACAO, O)], "include", NOT_TRUE),
    ("echo-cred-acac-true", O, [(ACAO, O), (ACAC, "true")], "include", OK),
    ("echo-cred-acac-padded", O, [(ACAO, O), (ACAC, " true ")], "include", OK),
    ("echo-cred-acac-True", O, [(ACAO, O), (ACAC, "True")], "include", NOT_TRUE),  # %s"true": case-sensitive
    ("echo-cred-acac-TRUE", O, [(ACAO, O), (ACAC, "TRUE")], "include", NOT_TRUE),
    ("echo-cred-acac-1", O, [(ACAO, O), (ACAC, "1")], "include", NOT_TRUE),
    ("echo-cred-acac-false", O, [(ACAO, O), (ACAC, "false")], "include", NOT_TRUE),
    ("echo-cred-acac-empty", O, [(ACAO, O), (ACAC, "")], "include", NOT_TRUE),
    ("echo-cred-acac-two-lines", O, [(ACAO, O), (ACAC, "true"), (ACAC, "true")], "include", NOT_TRUE),
    ("echo-omit-acac-garbage", O, [(ACAO, O), (ACAC, "nope")], "omit", OK),  # ignored without credentials
    ("trailing-slash", O, [(ACAO, O + "/")], "omit", MISMATCH),
    ("upper-case-host", O, [(ACAO, "https://APP.example")], "omit", MISMATCH),
    ("upper-case-scheme", O, [(ACAO, "HTTPS://app.example")], "omit", MISMATCH),
    ("explicit-default-port", O, [(ACAO, "https://app.example:443")], "omit", MISMATCH),
    ("other-scheme", O, [(ACAO, "http://app.example")], "omit", MISMATCH),
    ("other-port", O, [(ACAO, "https://app.example:8443")], "omit", MISMATCH),
    ("other-host", O, [(ACAO, "https://evil.example")], "omit", MISMATCH),
    ("subdomain", O, [(ACAO, "https://www.app.example")], "omit", MISMATCH),
    ("empty-value", O, [(ACAO, "")], "omit", MISMATCH),  # Null is not ``: an empty value is not absent
    ("acao-null-real-origin", O, [(ACAO, "null")], "omit", MISMATCH),
    ("null-origin-acao-null", "null", [(ACAO, "null")], "omit", OK),  # an opaque origin serializes to `null`
    ("null-origin-acao-null-cred", "null", [(ACAO, "null"), (ACAC, "true")], "include", OK),
    ("null-origin-acao-NULL", "null", [(ACAO, "NULL")], "omit", MISMATCH),
    ("null-origin-star", "null", [(ACAO, "*")], "omit", OK),
    ("null-origin-acao-origin", "null", [(ACAO, O)], "omit", MISMATCH),
    ("two-lines-same", O, [(ACAO, O), (ACAO, O)], "omit", MULTIPLE),  # get: "a, a" is not the origin
    ("two-lines-different", O, [(ACAO, O), (ACAO, "https://b.example")], "omit", MULTIPLE),
    ("two-lines-star", O, [(ACAO, "*"), (ACAO, "*")], "omit", MULTIPLE),
    ("list-one-line", O, [(ACAO, f"{O}, https://b.example")], "omit", MULTIPLE),
    ("list-no-space", O, [(ACAO, f"{O},https://b.example")], "omit", MULTIPLE),
    ("space-separated", O, [(ACAO, f"{O} https://b.example")], "omit", MULTIPLE),
    ("star-and-origin", O, [(ACAO, f"*, {O}")], "omit", MULTIPLE),
]


@pytest.mark.parametrize("origin,fields,credentials,expected",
                         [c[1:] for c in CORS_CHECK_TABLE], ids=[c[0] for c in CORS_CHECK_TABLE])
def test_cors_check(origin: str, fields, credentials: str, expected: str | None):
    failure = cors_check(origin, Headers(tuple(fields)), credentials)
    if expected is None:
        assert failure is None
    else:
        assert isinstance(failure, Failure), "expected a failure"
        assert failure.rule.id == expected, failure.reason
        assert failure.reason and failure.subject.startswith("response.header.")
        json.dumps(failure.evidence, allow_nan=False)


def test_cors_check_hints_name_the_trailing_slash_and_case():
    assert "trailing slash" in cors_check(O, Headers(((ACAO, O + "/"),)), "omit").reason
    assert "case-sensitive" in cors_check(O, Headers(((ACAO, O.upper()),)), "omit").reason


# =====================================================================================================
# CORS-preflight fetch (the checks after the response arrives)
# =====================================================================================================
#
# "If a CORS check for request and response returns success and response's status is an ok status,
# then: [...]" ("An ok status is a status in the range 200 to 299, inclusive."); "Otherwise, return a
# network error." The preflight uses "HTTP-network-or-cache fetch", so redirects are never followed.
ACAM = "Access-Control-Allow-Methods"
ACAH = "Access-Control-Allow-Headers"
PREFLIGHT_OK = [(ACAO, O), (ACAM, "PUT, PATCH, DELETE"), (ACAH, "x-trace, content-type")]


def pf(status: int = 204, fields=PREFLIGHT_OK, method: str = "PUT", names=(), credentials: str = "omit",
       engine: str = "chromium") -> str | None:
    failure = preflight_check(O, status, Headers(tuple(fields)), method, list(names), credentials, engine)
    if failure is not None:
        assert failure.reason.strip() and failure.rule.id in catalog
    return None if failure is None else failure.rule.id


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_preflight_redirect(status: int):
    assert pf(status, PREFLIGHT_OK + [("Location", "https://api.example/elsewhere")]) == "cors.preflight-redirect"


@pytest.mark.parametrize("status", [100, 199, 300, 304, 400, 401, 403, 404, 405, 500, 503])
def test_preflight_non_ok_status_fails(status: int):
    assert pf(status) == "cors.preflight-bad-status"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 500, 503])
def test_preflight_bad_status(status: int):
    assert pf(status) == "cors.preflight-bad-status"


@pytest.mark.parametrize("status", [200, 204, 206, 299])
def test_preflight_ok_status(status: int):
    assert pf(status) is None


def test_preflight_runs_the_cors_check_with_the_actual_requests_credentials_mode():
    """Note: "The CORS check is done on request rather than preflight to ensure the correct credentials
    mode is used.\""""
    assert pf(fields=[(ACAM, "PUT")]) == MISSING
    assert pf(fields=[(ACAO, "*"), (ACAM, "PUT")]) is None
    assert pf(fields=[(ACAO, "*"), (ACAM, "PUT")], credentials="include") == WILDCARD
    assert pf(fields=[(ACAO, O), (ACAM, "PUT")], credentials="include") == NOT_TRUE
    assert pf(fields=[(ACAO, O), (ACAM, "PUT"), (ACAC, "true")], credentials="include") is None


# "If request's method is not in methods, request's method is not a CORS-safelisted method, and
# request's credentials mode is "include" or methods does not contain `*`, then return a network error."
METHOD_NA = "cors.method-not-allowed"
METHOD_TABLE = [
    # id, method, ACAM lines, credentials, expected
    ("listed", "PUT", ["PUT"], "omit", None),
    ("listed-in-list", "DELETE", ["GET, PUT, DELETE"], "omit", None),
    ("listed-on-second-line", "DELETE", ["PUT", "DELETE"], "omit", None),  # values of every line
    ("not-listed", "PUT", ["GET, POST"], "omit", METHOD_NA),
    ("absent", "PUT", [], "omit", METHOD_NA),
    ("empty", "PUT", [""], "omit", METHOD_NA),
    ("acam-lower", "PUT", ["put"], "omit", METHOD_NA),  # methods compare byte for byte
    ("patch-vs-PATCH", "patch", ["PATCH"], "omit", METHOD_NA),  # fetch() does not uppercase PATCH
    ("patch-vs-patch", "patch", ["patch"], "omit", None),
    ("PATCH-vs-PATCH", "PATCH", ["PATCH"], "omit", None),
    ("PATCH-vs-patch", "PATCH", ["patch"], "omit", METHOD_NA),
    ("GET-needs-nothing", "GET", [], "omit", None),
    ("HEAD-needs-nothing", "HEAD", [], "omit", None),
    ("POST-needs-nothing", "POST", [], "omit", None),
    ("POST-needs-nothing-cred", "POST", [], "include", None),
    ("GET-not-in-list", "GET", ["PUT"], "omit", None),
    ("star-omit", "PUT", ["*"], "omit", None),
    ("star-cred", "PUT", ["*"], "include", METHOD_NA),  # "*" is not a wildcard with credentials
    ("star-and-listed-cred", "PUT", ["*, PUT"], "include", None),
    ("star-custom-method", "PROPFIND", ["*"], "omit", None),
]


@pytest.mark.parametrize("method,acam,credentials,expected", [c[1:] for c in METHOD_TABLE],
                         ids=[c[0] for c in METHOD_TABLE])
def test_preflight_methods(method: str, acam: list[str], credentials: str, expected: str | None):
    fields = [(ACAO, O), (ACAC, "true")] + [(ACAM, v) for v in acam]
    for engine in ("chromium", "firefox"):  # Chromium 156 and Firefox agree: byte-for-byte comparison
        assert pf(fields=fields, method=method, credentials=credentials, engine=engine) == expected


def test_method_failure_explains_case_and_wildcard():
    why = preflight_check(O, 204, Headers(((ACAO, O), (ACAM, "PATCH"))), "patch", [], "omit").reason
    assert "case-sensitively" in why
    why = preflight_check(O, 204, Headers(((ACAO, O), (ACAC, "true"), (ACAM, "*"))), "PUT", [], "include").reason
    assert "'*' is not a wildcard" in why


# "For each unsafeName of the CORS-unsafe request-header names with request's header list, if unsafeName
# is not a byte-case-insensitive match for an item in headerNames and request's credentials mode is
# "include" or headerNames does not contain `*`, return a network error."
HEADER_NA = "cors.header-not-allowed"
HEADER_TABLE = [
    ("listed", ["x-trace"], ["x-trace"], "omit", None),
    ("listed-upper", ["x-trace"], ["X-Trace"], "omit", None),
    ("listed-UPPER", ["x-trace", "content-type"], ["X-TRACE, CONTENT-TYPE"], "omit", None),
    ("two-lines", ["x-a", "x-b"], ["x-a", "x-b"], "omit", None),
    ("list-with-spaces", ["x-a", "x-b"], [" x-a ,  x-b "], "omit", None),
    ("not-listed", ["x-trace"], ["x-other"], "omit", HEADER_NA),
    ("one-missing", ["x-a", "x-b"], ["x-a"], "omit", HEADER_NA),
    ("absent", ["x-trace"], [], "omit", HEADER_NA),
    ("nothing-needed", [], [], "omit", None),
    ("star-omit", ["x-trace"], ["*"], "omit", None),
    ("star-cred", ["x-trace"], ["*"], "include", HEADER_NA),
    ("star-and-listed-cred", ["x-trace"], ["*, x-trace"], "include", None),
    ("content-type-star", ["content-type"], ["*"], "omit", None),
]


@pytest.mark.parametrize("names,acah,credentials,expected", [c[1:] for c in HEADER_TABLE],
                         ids=[c[0] for c in HEADER_TABLE])
def test_preflight_headers(names: list[str], acah: list[str], credentials: str, expected: str | None):
    fields = [(ACAO, O), (ACAC, "true"), (ACAM, "PUT")] + [(ACAH, v) for v in acah]
    for engine in ("chromium", "firefox"):
        assert pf(fields=fields, names=names, credentials=credentials, engine=engine) == expected


def test_header_failure_names_the_header():
    failure = preflight_check(O, 204, Headers(((ACAO, O), (ACAH, "x-a"))), "GET", ["x-a", "x-b"], "omit")
    assert failure.evidence["header"] == "x-b" and "'x-b'" in failure.reason


# "A CORS non-wildcard request-header name is a header name that is a byte-case-insensitive match for
# `Authorization`." / "If one of request's header list's names is a CORS non-wildcard request-header name
# and is not a byte-case-insensitive match for an item in headerNames, then return a network error."
# Engine difference: Chromium (156, see tests/test_cors_browser.py "pf-authorization-acah-star") still
# lets `*` cover Authorization, with a deprecation warning; Firefox follows the standard.
AUTH_TABLE = [
    ("star-chromium", ["*"], "omit", "chromium", None),
    ("star-firefox", ["*"], "omit", "firefox", HEADER_NA),
    ("star-cred-chromium", ["*"], "include", "chromium", HEADER_NA),
    ("star-cred-firefox", ["*"], "include", "firefox", HEADER_NA),
    ("listed-chromium", ["authorization"], "omit", "chromium", None),
    ("listed-firefox", ["Authorization"], "omit", "firefox", None),
    ("listed-and-star-firefox", ["Authorization, *"], "omit", "firefox", None),
    ("absent-chromium", [], "omit", "chromium", HEADER_NA),
    ("other-name-firefox", ["x-trace"], "omit", "firefox", HEADER_NA),
]


@pytest.mark.parametrize("acah,credentials,engine,expected", [c[1:] for c in AUTH_TABLE],
                         ids=[c[0] for c in AUTH_TABLE])
def test_preflight_authorization_and_the_wildcard(acah, credentials, engine, expected):
    fields = [(ACAO, O), (ACAC, "true")] + [(ACAH, v) for v in acah]
    assert pf(fields=fields, method="GET", names=["authorization"], credentials=credentials,
              engine=engine) == expected


def test_firefox_explains_that_star_never_covers_authorization():
    failure = preflight_check(O, 204, Headers(((ACAO, O), (ACAH, "*"))), "GET", ["authorization"], "omit",
                              "firefox")
    assert "never covers Authorization" in failure.reason


# "Let methods be the result of extracting header list values [...] If either methods or headerNames is
# failure, return a network error."
@pytest.mark.parametrize("name,value", [
    (ACAM, "GET PUT"), (ACAM, "PUT;"), (ACAM, '"PUT"'), (ACAM, "PUT, (x)"),
    (ACAH, "x trace"), (ACAH, "x-trace, [bad]"), (ACAH, "x-trace:"), (ACAH, "x-é"),
])
def test_preflight_invalid_list(name: str, value: str):
    fields = [(ACAO, O), (ACAM, "PUT"), (ACAH, "x-trace")]
    fields = [(n, v) for n, v in fields if n != name] + [(name, value)]
    assert pf(fields=fields, names=["x-trace"]) == "cors.preflight-invalid-list"


def test_preflight_invalid_list_even_when_not_needed():
    """The lists are extracted before anything is compared: a GET with no author headers fails too."""
    assert pf(fields=[(ACAO, O), (ACAM, "GET POST")], method="GET") == "cors.preflight-invalid-list"


def test_preflight_empty_list_items_are_fine():
    assert pf(fields=[(ACAO, O), (ACAM, ",PUT,,"), (ACAH, ", x-trace ,")], names=["x-trace"]) is None


# =====================================================================================================
# CorsAnalyzer, end to end through one Pipeline (one shared session)
# =====================================================================================================

T0 = 1_700_000_000.0
API = "https://api.example/data"
_ids = itertools.count(1)


def exchange(method: str, url: str = API, req=(), status: int | None = 200, resp=(), *, at: float = T0,
             error: str | None = None) -> Exchange:
    response = None if status is None else Response(status, headers=Headers(tuple(resp)))
    return Exchange(str(next(_ids)), Request(method, url, headers=Headers(tuple(req))), response,
                    ExchangeError(error) if error else None, Timings(started=at))


def cors(method: str = "GET", url: str = API, extra=(), status: int | None = 200, resp=(), *,
         origin: str | None = O, site: str = "cross-site", mode: str = "cors", at: float = T0) -> Exchange:
    """A request as Chromium sends it from a page on *origin* in cors mode."""
    req = [("Host", url.split("/")[2]), ("Accept", "*/*"), ("Sec-Fetch-Mode", mode), ("Sec-Fetch-Site", site),
           ("User-Agent", "Mozilla/5.0"), ("Accept-Encoding", "gzip, deflate, br")]
    if origin is not None:
        req.append(("Origin", origin))
    return exchange(method, url, req + list(extra), status, resp, at=at)


def preflight(method: str = "PUT", names: str | None = None, url: str = API, status: int | None = 204,
              resp=(), *, origin: str = O, at: float = T0, extra=()) -> Exchange:
    req = [("Host", url.split("/")[2]), ("Accept", "*/*"), ("Origin", origin),
           ("Access-Control-Request-Method", method), ("Sec-Fetch-Mode", "cors"), ("Sec-Fetch-Site", "cross-site")]
    if names is not None:
        req.append(("Access-Control-Request-Headers", names))
    return exchange("OPTIONS", url, req + list(extra), status, resp, at=at)


class Run:
    """One pipeline, one session: exchanges analyzed in order, like a recorded browser session."""

    def __init__(self, engine: str = "chromium") -> None:
        self.pipeline = Pipeline([CorsAnalyzer(engine)])

    def __call__(self, ex: Exchange) -> Result:
        result = self.pipeline.run(ex)
        assert "proxylens.analyzer-error" not in rules(result), result.findings
        json.dumps(result.facts["cors"], allow_nan=False)
        return result


def facts(result: Result) -> dict:
    return result.facts["cors"]


NOT_CORS_KINDS = {"same-origin", "no-cors", "navigation", "websocket"}
STAR = [(ACAO, "*")]

CLASSIFY_TABLE = [
    ("navigate", exchange("GET", API, [("Sec-Fetch-Mode", "navigate"), ("Sec-Fetch-Site", "cross-site")]),
     "navigation"),
    ("form-post-navigation-with-origin",
     exchange("POST", API, [("Origin", O), ("Sec-Fetch-Mode", "navigate"), ("Content-Type", "application/json")]),
     "navigation"),
    ("nested-navigate", exchange("GET", API, [("Sec-Fetch-Mode", "nested-navigate"), ("Origin", O)]),
     "navigation"),
    ("no-cors-mode-with-origin", cors("POST", mode="no-cors", extra=[("Content-Type", "text/plain")]), "no-cors"),
    ("no-cors-mode-is-case-insensitive", cors(mode="No-Cors"), "no-cors"),
    ("curl-no-origin", exchange("GET", API, [("User-Agent", "curl/8")]), "no-cors"),
    ("cors-mode-without-origin", cors(origin=None, site="same-site"), "no-cors"),
    ("mode-same-origin", cors(mode="same-origin", site="same-origin", origin="https://api.example"), "same-origin"),
    ("site-same-origin", cors(site="same-origin", origin="https://api.example"), "same-origin"),
    ("origin-equals-target-no-fetch-metadata",
     exchange("POST", API, [("Origin", "https://api.example"), ("Content-Type", "application/json")]), "same-origin"),
    ("origin-equals-target-explicit-default-port",
     exchange("PUT", "https://api.example:443/data", [("Origin", "https://api.example")]), "same-origin"),
    ("origin-equals-target-uppercase-host-in-url",
     exchange("PUT", "https://API.EXAMPLE/data", [("Origin", "https://api.example")]), "same-origin"),
    ("other-port-is-cross-origin", exchange("GET", "https://api.example:8443/", [("Origin", "https://api.example")],
                                            200, STAR), "simple"),
    ("other-scheme-is-cross-origin", exchange("GET", "http://api.example/", [("Origin", "https://api.example")],
                                              200, STAR), "simple"),
    ("upgrade-websocket", exchange("GET", "wss://api.example/ws", [("Origin", O), ("Upgrade", "websocket"),
                                                                    ("Connection", "Upgrade")], 101), "websocket"),
    ("upgrade-websocket-case", exchange("GET", "ws://api.example/ws", [("Origin", O), ("upgrade", "WebSocket")], 101),
     "websocket"),
    ("sec-fetch-mode-websocket", exchange("GET", "wss://api.example/ws", [("Origin", O),
                                                                          ("Sec-Fetch-Mode", "websocket")], 101),
     "websocket"),
    ("preflight", preflight(), "preflight"),
    ("preflight-lowercase-names", exchange("OPTIONS", API, [("origin", O), ("access-control-request-method", "PUT")]),
     "preflight"),
    ("options-without-acrm-is-an-actual-request", cors("OPTIONS", resp=STAR), "preflighted"),
    ("options-with-acrm-without-origin", exchange("OPTIONS", API, [("Access-Control-Request-Method", "PUT")]),
     "no-cors"),
    ("simple-get", cors(resp=STAR), "simple"),
    ("simple-head", cors("HEAD", resp=STAR), "simple"),
    ("simple-post-text-plain", cors("POST", extra=[("Content-Type", "text/plain;charset=UTF-8")], resp=STAR),
     "simple"),
    ("simple-post-form", cors("POST", extra=[("Content-Type", "multipart/form-data; boundary=x")], resp=STAR),
     "simple"),
    ("simple-range", cors(extra=[("Range", "bytes=0-99")], resp=STAR), "simple"),
    ("simple-despite-browser-headers",
     cors(extra=[("Cookie", "a=1"), ("Referer", O + "/"), ("Sec-Ch-Ua", '"Chromium";v="156"'), ("Priority", "u=1, i"),
                 ("Connection", "keep-alive"), ("Accept-Language", "en-US,en;q=0.9")], resp=STAR), "simple"),
    ("post-json", cors("POST", extra=[("Content-Type", "application/json")], resp=STAR), "preflighted"),
    ("put", cors("PUT", resp=STAR), "preflighted"),
    ("delete", cors("DELETE", resp=STAR), "preflighted"),
    ("lowercase-patch", cors("patch", resp=STAR), "preflighted"),
    ("custom-header", cors(extra=[("X-Trace", "1")], resp=STAR), "preflighted"),
    ("accept-unsafe-byte", cors(extra=[("Accept", 'a"b')], resp=STAR), "preflighted"),
    ("accept-language-129", cors(extra=[("Accept-Language", "a" * 129)], resp=STAR), "preflighted"),
    ("suffix-range", cors(extra=[("Range", "bytes=-5")], resp=STAR), "preflighted"),
    ("authorization", cors(extra=[("Authorization", "Bearer x")], resp=STAR), "preflighted"),
]


@pytest.mark.parametrize("ex,kind", [c[1:] for c in CLASSIFY_TABLE], ids=[c[0] for c in CLASSIFY_TABLE])
def test_classification(ex: Exchange, kind: str):
    f = facts(Run()(ex))
    assert f["kind"] == kind
    assert (f["verdict"] == "not-cors") is (kind in NOT_CORS_KINDS)
    if kind != "websocket":
        assert f["reasons"] and all(isinstance(r, str) and r for r in f["reasons"])


def test_facts_carry_origin_target_engine():
    f = facts(Run("firefox")(cors(resp=STAR)))
    assert (f["origin"], f["target"], f["engine"]) == (O, "https://api.example", "firefox")
    assert f["allow_origin"] == "*"


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="unknown engine"):
        CorsAnalyzer("safari")


# -- verdicts on single exchanges ---------------------------------------------------------------------

def test_simple_request_allowed_with_a_good_finding():
    r = Run()(cors(extra=[("Cookie", "sid=1")], resp=[(ACAO, O), (ACAC, "true"), ("Vary", "Origin")]))
    assert facts(r)["verdict"] == "allowed" and facts(r)["credentials"] == "include"
    assert "cors.allowed" in rules(r)


def test_simple_request_blocked_names_the_rule_and_the_fix():
    r = Run()(cors(resp=[(ACAO, O + "/")]))
    f = facts(r)
    assert f["verdict"] == "blocked"
    assert "trailing slash" in f["reasons"][0]
    assert only(r, MISMATCH).severity == "error"


def test_no_response_is_blocked():
    r = Run()(exchange("GET", API, [("Origin", O), ("Sec-Fetch-Mode", "cors")], None, error="connection refused"))
    assert facts(r)["verdict"] == "blocked" and "connection refused" in facts(r)["reasons"][0]


def test_preflight_without_response_is_blocked():
    r = Run()(exchange("OPTIONS", API, [("Origin", O), ("Access-Control-Request-Method", "PUT")], None,
                       error="timed out"))
    assert facts(r)["kind"] == "preflight" and facts(r)["verdict"] == "blocked"


@pytest.mark.parametrize("status,rule", [(302, "cors.preflight-redirect"), (404, "cors.preflight-bad-status"),
                                         (500, "cors.preflight-bad-status")])
def test_failed_preflight_is_blocked_and_says_the_actual_request_is_not_sent(status: int, rule: str):
    r = Run()(preflight(status=status, resp=[(ACAO, O), (ACAM, "PUT"), (ACAC, "true")]))
    f = facts(r)
    assert f["verdict"] == "blocked" and f["preflight"]["status"] == status
    assert f["reasons"][-1] == "the browser does not send the actual request"
    assert rule in rules(r)


def test_preflight_allowed_regardless_of_credentials():
    r = Run()(preflight("PUT", "x-trace", resp=[(ACAO, O), (ACAC, "true"), (ACAM, "PUT"), (ACAH, "x-trace"),
                                                ("Vary", "Origin")]))
    f = facts(r)
    assert f["verdict"] == "allowed"
    assert f["preflight"] == {"method": "PUT", "headers": ["x-trace"], "status": 204, "max_age": DEFAULT_MAX_AGE}


@pytest.mark.parametrize("resp", [
    [(ACAO, "*"), (ACAM, "PUT")],  # "*" ACAO: fails only with credentials
    [(ACAO, O), (ACAM, "*")],  # "*" methods: a wildcard only without credentials (and ACAC missing)
    [(ACAO, O), (ACAC, "true"), (ACAM, "*")],  # with ACAC, only the method wildcard depends on it
])
def test_preflight_verdict_depending_on_credentials_is_unknown(resp):
    r = Run()(preflight("PUT", resp=resp))
    f = facts(r)
    assert f["verdict"] == "unknown" and f["credentials"] == "unknown"
    assert "credentials: 'include'" in f["reasons"][0] and "omit" in f["reasons"][1]
    assert "cors.credentials-unknown" in rules(r)


def test_preflight_authorization_under_star_is_allowed_by_chromium_with_a_warning():
    resp = [(ACAO, O), (ACAM, "GET"), (ACAH, "*")]
    chromium = Run()(preflight("GET", "authorization", resp=resp))
    # ACAH "*" is a wildcard only without credentials: the verdict depends on the credentials mode.
    assert facts(chromium)["verdict"] == "unknown"
    assert only(chromium, "cors.authorization-covered-by-wildcard").severity == "warning"
    firefox = Run("firefox")(preflight("GET", "authorization", resp=resp))
    assert facts(firefox)["verdict"] == "blocked"
    assert "cors.authorization-covered-by-wildcard" not in rules(firefox)
    assert HEADER_NA in rules(firefox)


# -- preflight pairing, the preflight cache, and a preflight that was not seen ------------------------

GOOD_PREFLIGHT = [(ACAO, O), (ACAC, "true"), (ACAM, "PUT"), (ACAH, "x-trace"), ("Access-Control-Max-Age", "600"),
                  ("Vary", "Origin")]
GOOD_ACTUAL = [(ACAO, O), (ACAC, "true"), ("Vary", "Origin")]


def test_preflight_then_actual_then_cache_then_expired():
    run = Run()
    r = run(preflight("PUT", "x-trace", resp=GOOD_PREFLIGHT, at=T0))
    assert facts(r)["kind"] == "preflight" and facts(r)["verdict"] == "allowed"
    assert facts(r)["preflight"]["max_age"] == 600

    r = run(cors("PUT", extra=[("X-Trace", "1")], resp=GOOD_ACTUAL, at=T0 + 0.2))
    f = facts(r)
    assert f["kind"] == "preflighted" and f["verdict"] == "allowed"
    assert f["preflight"]["seen"] is True and f["preflight"]["from_cache"] is False
    assert f["preflight"]["status"] == 204 and f["preflight"]["max_age"] == 600
    assert "cors.preflight-from-cache" not in rules(r) and "cors.preflight-not-observed" not in rules(r)

    r = run(cors("PUT", extra=[("X-Trace", "2")], resp=GOOD_ACTUAL, at=T0 + 300))
    f = facts(r)
    assert f["kind"] == "preflighted"
    assert f["preflight"]["seen"] is False and f["preflight"]["from_cache"] is True
    assert f["preflight"]["age"] == pytest.approx(300)
    assert only(r, "cors.preflight-from-cache").evidence["max_age"] == 600

    r = run(cors("PUT", extra=[("X-Trace", "3")], resp=GOOD_ACTUAL, at=T0 + 601 + 60))
    f = facts(r)
    assert f["kind"] == "preflighted"
    assert f["preflight"] == {"seen": False, "from_cache": None}
    assert "cors.preflight-from-cache" not in rules(r)
    assert only(r, "cors.preflight-not-observed").evidence["method"] == "PUT"


def test_actual_request_without_any_preflight_is_preflight_not_observed():
    r = Run()(cors("DELETE", resp=[(ACAO, "*")]))
    assert facts(r)["kind"] == "preflighted"
    assert "cors.preflight-not-observed" in rules(r)


def test_a_simple_request_has_no_preflight_facts():
    r = Run()(cors(resp=STAR))
    assert facts(r)["preflight"] is None
    assert not {"cors.preflight-not-observed", "cors.preflight-from-cache"} & set(rules(r))


def test_pairing_is_per_origin_and_url():
    run = Run()
    run(preflight("PUT", "x-trace", resp=GOOD_PREFLIGHT, at=T0))
    other_url = run(cors("PUT", "https://api.example/other", extra=[("X-Trace", "1")], resp=GOOD_ACTUAL, at=T0 + 1))
    assert "cors.preflight-not-observed" in rules(other_url)
    other_origin = run(cors("PUT", extra=[("X-Trace", "1")], resp=[(ACAO, "https://b.example")],
                            origin="https://b.example", at=T0 + 1))
    assert "cors.preflight-not-observed" in rules(other_origin)


def test_pairing_keeps_lowercase_methods():
    run = Run()
    run(preflight("patch", resp=[(ACAO, O), (ACAM, "patch")], at=T0))
    r = run(cors("patch", resp=[(ACAO, O)], at=T0 + 0.1))
    assert facts(r)["preflight"]["seen"] is True


def test_default_max_age_is_5_seconds():
    run = Run()
    run(preflight("PUT", resp=[(ACAO, O), (ACAM, "PUT")], at=T0))
    run(cors("PUT", resp=[(ACAO, O)], at=T0 + 0.1))
    r = run(cors("PUT", resp=[(ACAO, O)], at=T0 + 60))
    assert "cors.preflight-not-observed" in rules(r)


def test_a_blocked_preflight_is_not_cached():
    run = Run()
    run(preflight("PUT", resp=[(ACAO, O), (ACAM, "GET")], at=T0))
    r = run(cors("PUT", resp=[(ACAO, O)], at=T0 + 0.1))
    assert facts(r)["preflight"] == {"seen": False, "from_cache": None}


def test_a_simple_request_after_a_preflight_for_the_same_url_stays_simple():
    """Fetch, "main fetch": a CORS-preflight (and so the preflight cache) is used only when "request's
    method is not a CORS-safelisted method or CORS-unsafe request-header names with request's header
    list is not empty" (or the use-CORS-preflight flag, XHR upload listeners only). A plain GET after a
    GET + X-Trace preflight needs none. (Regression: it was paired with the cached record: kind
    "preflighted", preflight.from_cache True and a cors.preflight-from-cache finding.)"""
    run = Run()
    run(preflight("GET", "x-trace", resp=[(ACAO, O), (ACAH, "x-trace"), ("Access-Control-Max-Age", "600")], at=T0))
    run(cors("GET", extra=[("X-Trace", "1")], resp=[(ACAO, O)], at=T0 + 0.1))
    r = run(cors("GET", resp=[(ACAO, O)], at=T0 + 10))
    assert facts(r)["kind"] == "simple"
    assert "cors.preflight-from-cache" not in rules(r)


# -- credentials inference ----------------------------------------------------------------------------

def test_cookie_means_credentials_include():
    r = Run()(cors(extra=[("Cookie", "sid=1")], resp=STAR))
    f = facts(r)
    assert f["credentials"] == "include" and f["verdict"] == "blocked"
    assert WILDCARD in rules(r)


def test_cookies_seen_earlier_on_the_host_and_none_now_on_a_same_site_request_means_omit():
    run = Run()
    run(exchange("GET", "https://api.example/", [("Cookie", "sid=1"), ("Sec-Fetch-Mode", "navigate")]))
    r = run(cors(site="same-site", resp=STAR, origin="https://app.api.example", url=API))
    f = facts(r)
    assert f["credentials"] == "omit" and f["verdict"] == "allowed"


def test_cookies_seen_earlier_do_not_decide_a_cross_site_request():
    """SameSite cookies may be withheld cross-site, so a missing Cookie proves nothing there."""
    run = Run()
    run(exchange("GET", "https://api.example/", [("Cookie", "sid=1"), ("Sec-Fetch-Mode", "navigate")]))
    r = run(cors(site="cross-site", resp=STAR))
    assert facts(r)["credentials"] == "unknown" and facts(r)["verdict"] == "unknown"


def test_cookies_of_another_host_do_not_decide():
    run = Run()
    run(exchange("GET", "https://other.example/", [("Cookie", "sid=1")]))
    r = run(cors(site="same-site", resp=STAR))
    assert facts(r)["credentials"] == "unknown"


@pytest.mark.parametrize("resp,failing", [
    (STAR, WILDCARD),
    ([(ACAO, O), ("Vary", "Origin")], NOT_TRUE),
    ([(ACAO, O), (ACAC, "True"), ("Vary", "Origin")], NOT_TRUE),
])
def test_unknown_credentials_mode_gives_verdict_unknown_with_both_outcomes(resp, failing):
    r = Run()(cors(resp=resp))
    f = facts(r)
    assert f["credentials"] == "unknown" and f["verdict"] == "unknown"
    first, second = f["reasons"]
    assert "credentials: 'include'" in first and "blocks" in first
    assert "'omit'" in second and "allows" in second
    finding = only(r, "cors.credentials-unknown")
    assert finding.evidence == {"blocked_with": "include"}
    assert failing not in rules(r)  # not claimed as a failure: it is only one of two outcomes


@pytest.mark.parametrize("resp,verdict", [
    ([(ACAO, O), (ACAC, "true"), ("Vary", "Origin")], "allowed"),
    ([], "blocked"),
    ([(ACAO, "https://b.example")], "blocked"),
])
def test_unknown_credentials_mode_that_does_not_matter_gives_a_verdict(resp, verdict):
    r = Run()(cors(resp=resp))
    assert facts(r)["credentials"] == "unknown" and facts(r)["verdict"] == verdict
    assert "cors.credentials-unknown" not in rules(r)


def test_http_auth_on_a_paired_request_means_include():
    """Authorization the page did not set (not in the preflight's ACRH) is the browser's own HTTP
    authentication, which it only sends with credentials mode "include"."""
    run = Run()
    run(preflight("PUT", resp=[(ACAO, O), (ACAM, "PUT")], at=T0))
    r = run(cors("PUT", extra=[("Authorization", "Basic dTpw")], resp=[(ACAO, O)], at=T0 + 0.1))
    assert facts(r)["credentials"] == "include" and facts(r)["verdict"] == "blocked"
    assert NOT_TRUE in rules(r)


# -- findings beyond the verdict ----------------------------------------------------------------------

@pytest.mark.parametrize("vary,expected", [
    (None, True), ("Accept-Encoding", True), ("Origin", False), ("origin", False),
    ("Accept-Encoding, Origin", False), ("*", False),
])
def test_reflected_origin_without_vary(vary, expected):
    resp = [(ACAO, O)] + ([("Vary", vary)] if vary else [])
    r = Run()(cors(resp=resp))
    assert ("cors.reflected-origin-without-vary" in rules(r)) is expected


def test_star_is_not_a_reflection():
    assert "cors.reflected-origin-without-vary" not in rules(Run()(cors(resp=STAR)))


def test_reflects_any_origin_with_credentials_after_three_origins():
    run = Run()
    found = []
    for i, origin in enumerate(["https://a.example", "https://b.example", "https://a.example", "https://c.example"]):
        r = run(cors(origin=origin, extra=[("Cookie", "sid=1")], at=T0 + i,
                     resp=[(ACAO, origin), (ACAC, "true"), ("Vary", "Origin")]))
        assert facts(r)["verdict"] == "allowed"
        found.append("cors.reflects-any-origin-with-credentials" in rules(r))
    assert found == [False, False, False, True]  # the third *distinct* origin
    finding = only(r, "cors.reflects-any-origin-with-credentials")
    assert finding.severity == "error" and finding.evidence["origins_seen"] == 3


def test_reflection_without_credentials_is_not_universal():
    run = Run()
    for i, origin in enumerate(["https://a.example", "https://b.example", "https://c.example", "https://d.example"]):
        r = run(cors(origin=origin, at=T0 + i, resp=[(ACAO, origin), ("Vary", "Origin")]))
    assert "cors.reflects-any-origin-with-credentials" not in rules(r)


def test_null_origin_with_credentials_is_flagged_at_once():
    r = Run()(cors(origin="null", extra=[("Cookie", "sid=1")], resp=[(ACAO, "null"), (ACAC, "true"),
                                                                    ("Vary", "Origin")]))
    assert facts(r)["verdict"] == "allowed"
    assert "cors.reflects-any-origin-with-credentials" in rules(r)


@pytest.mark.parametrize("engine,value,max_age,capped", [
    ("chromium", "7200", 7200, False),
    ("chromium", "7201", 7200, True),
    ("chromium", "86400", 7200, True),
    ("firefox", "7201", 7201, False),
    ("firefox", "86400", 86400, False),
    ("firefox", "86401", 86400, True),
    ("firefox", "99999999999", 86400, True),
    ("chromium", "0", 0, False),
])
def test_max_age_cap(engine: str, value: str, max_age: int, capped: bool):
    """"If max-age is greater than an imposed limit on max-age, then set max-age to the imposed limit."
    Chromium's limit is 2 hours, Firefox's 24 hours (a documented engine difference)."""
    assert MAX_AGE_CAP == {"chromium": 7200, "firefox": 86400}
    r = Run(engine)(preflight("PUT", resp=[(ACAO, O), (ACAM, "PUT"), ("Access-Control-Max-Age", value)]))
    assert facts(r)["preflight"]["max_age"] == max_age
    assert ("cors.max-age-capped" in rules(r)) is capped
    if capped:
        assert only(r, "cors.max-age-capped").evidence["cap"] == MAX_AGE_CAP[engine]


@pytest.mark.parametrize("lines", [["ten"], ["1.5"], [""], ["600", "600"], ["600, 600"]])
def test_max_age_invalid_falls_back_to_5_seconds(lines):
    """"If max-age is failure or null, then set max-age to 5." (two lines: the ABNF allows a single header)"""
    resp = [(ACAO, O), (ACAM, "PUT")] + [("Access-Control-Max-Age", v) for v in lines]
    r = Run()(preflight("PUT", resp=resp))
    assert facts(r)["preflight"]["max_age"] == DEFAULT_MAX_AGE == 5
    assert "cors.max-age-invalid" in rules(r)


@pytest.mark.parametrize("engine,max_age", [("chromium", 0), ("firefox", 5)])
def test_negative_max_age(engine, max_age):
    """Chromium reads a negative Access-Control-Max-Age as "do not cache"; the standard (Firefox) uses 5 s."""
    r = Run(engine)(preflight("PUT", resp=[(ACAO, O), (ACAM, "PUT"), ("Access-Control-Max-Age", "-1")]))
    assert facts(r)["preflight"]["max_age"] == max_age
    assert "cors.max-age-invalid" in rules(r)


def test_max_age_absent_is_5_seconds_without_a_finding():
    r = Run()(preflight("PUT", resp=[(ACAO, O), (ACAM, "PUT")]))
    assert facts(r)["preflight"]["max_age"] == 5
    assert not {"cors.max-age-invalid", "cors.max-age-capped"} & set(rules(r))


def test_huge_max_age_does_not_crash_the_analyzer():
    """A 5000-digit Access-Control-Max-Age: RFC 9111 1.2.2 makes it 2^31 (then the 7200 s cap);
    Chromium's ParseAccessControlMaxAge (services/network/public/cpp/cors/preflight_result.cc) falls
    back to its 5 s default when base::StringToInt64 overflows. Either is fine; a crash is not.
    (Regression: parse_max_age raised and the pipeline recorded proxylens.analyzer-error.)"""
    result = Pipeline([CorsAnalyzer()]).run(preflight("PUT", resp=[(ACAO, O), (ACAM, "PUT"),
                                                                   ("Access-Control-Max-Age", "9" * 5000)]))
    assert "proxylens.analyzer-error" not in rules(result)
    assert result.facts["cors"]["preflight"]["max_age"] in (DEFAULT_MAX_AGE, MAX_AGE_CAP["chromium"])


PNA = ("Access-Control-Request-Private-Network", "true")
PNA_OK = ("Access-Control-Allow-Private-Network", "true")
PNA_CORS_OK = [(ACAO, O), (ACAC, "true"), (ACAM, "PUT")]  # the CORS part passes with either credentials mode


def test_private_network_preflight_allowed():
    r = Run()(preflight("PUT", url="http://192.168.1.1/api", extra=[PNA],
                        resp=[(ACAO, O), (ACAC, "true"), (ACAM, "PUT"), PNA_OK]))
    assert facts(r)["verdict"] == "allowed"
    assert only(r, "cors.private-network-preflight").severity == "info"
    assert "cors.private-network-not-allowed" not in rules(r)


def test_private_network_preflight_without_allow_private_network():
    r = Run()(preflight("PUT", url="http://192.168.1.1/api", extra=[PNA], resp=PNA_CORS_OK))
    assert "cors.private-network-preflight" in rules(r)
    assert "cors.private-network-not-allowed" in rules(r)


def test_private_network_access_is_chromium_only():
    r = Run("firefox")(preflight("PUT", url="http://192.168.1.1/api", extra=[PNA], resp=PNA_CORS_OK))
    assert facts(r)["verdict"] == "allowed"
    assert "cors.private-network-not-allowed" not in rules(r)


def test_no_private_network_findings_without_the_request_header():
    r = Run()(preflight("PUT", url="http://192.168.1.1/api", resp=[(ACAO, O), (ACAM, "PUT")]))
    assert not {"cors.private-network-preflight", "cors.private-network-not-allowed"} & set(rules(r))


def test_private_network_preflight_failure_does_not_block_in_chromium():
    """Chromium never enforced Private Network Access preflight results: since Chrome 104 "Preflight
    failures only display warnings in DevTools, without otherwise affecting the private network
    requests" (developer.chrome.com/blog/private-network-access-preflight); "PNA preflights are not
    currently enforced" (developer.chrome.com/blog/pna-on-hold, October 2024); from Chrome 142 Local
    Network Access (a permission prompt) replaced PNA. So a preflight whose CORS part passes is followed
    by the actual request. (Regression: the verdict was "blocked".)"""
    r = Run()(preflight("PUT", url="http://192.168.1.1/api", extra=[PNA], resp=PNA_CORS_OK))
    assert facts(r)["verdict"] == "allowed"


@pytest.mark.parametrize("url,origin,status,expected", [
    ("wss://api.example/ws", "https://evil.example", 101, True),
    ("ws://api.example/ws", "http://evil.example", 101, True),
    ("ws://api.example:8080/ws", "http://api.example", 101, True),  # another port is another origin
    ("wss://api.example/ws", "https://api.example", 101, False),
    ("ws://api.example/ws", "http://api.example", 101, False),
    ("wss://api.example:443/ws", "https://api.example", 101, False),
    ("wss://api.example/ws", "https://evil.example", 403, False),  # refused: nothing to warn about
    ("wss://api.example/ws", None, 101, False),  # no Origin: not a browser
])
def test_websocket_foreign_origin(url: str, origin: str | None, status: int, expected: bool):
    req = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Version", "13")]
    if origin:
        req.append(("Origin", origin))
    r = Run()(exchange("GET", url, req, status))
    assert facts(r)["kind"] == "websocket" and facts(r)["verdict"] == "not-cors"
    assert ("cors.websocket-foreign-origin" in rules(r)) is expected


def test_websocket_without_response_has_no_finding():
    r = Run()(exchange("GET", "wss://api.example/ws", [("Upgrade", "websocket"), ("Origin", "https://e.example")],
                       None, error="refused"))
    assert facts(r)["kind"] == "websocket" and rules(r) == []


# "A CORS-safelisted response-header name [...] is [...] `Cache-Control`, `Content-Language`,
# `Content-Length`, `Content-Type`, `Expires`, `Last-Modified`, `Pragma`" (plus what
# Access-Control-Expose-Headers lists; `*` only for requests without credentials).
def test_headers_not_exposed():
    resp = [(ACAO, O), (ACAC, "true"), ("Vary", "Origin"), ("Content-Type", "application/json"),
            ("Cache-Control", "no-store"), ("X-Custom", "42"), ("X-Request-Id", "abc"), ("Date", "x")]
    r = Run()(cors(extra=[("Cookie", "sid=1")], resp=resp))
    finding = only(r, "cors.headers-not-exposed")
    assert finding.evidence["hidden"] == "x-custom, x-request-id"


@pytest.mark.parametrize("aceh", ["X-Custom, X-Request-Id", "x-custom,x-request-id", "X-CUSTOM, x-request-id"])
def test_exposed_headers_are_not_reported(aceh: str):
    resp = [(ACAO, O), (ACAC, "true"), ("Vary", "Origin"), ("X-Custom", "42"), ("X-Request-Id", "abc"),
            ("Access-Control-Expose-Headers", aceh)]
    r = Run()(cors(extra=[("Cookie", "sid=1")], resp=resp))
    assert "cors.headers-not-exposed" not in rules(r)
    assert facts(r)["exposed_headers"] == split_list(aceh)


def test_expose_star_is_literal_with_credentials():
    resp = [(ACAO, O), (ACAC, "true"), ("Vary", "Origin"), ("X-Custom", "42"), ("Access-Control-Expose-Headers", "*")]
    r = Run()(cors(extra=[("Cookie", "sid=1")], resp=resp))
    assert only(r, "cors.headers-not-exposed").evidence["hidden"] == "x-custom"


def test_expose_star_exposes_everything_without_credentials():
    run = Run()
    run(exchange("GET", "https://api.example/", [("Cookie", "sid=1"), ("Sec-Fetch-Mode", "navigate")]))
    r = run(cors(site="same-site", origin="https://app.api.example",
                 resp=[(ACAO, "*"), ("X-Custom", "42"), ("Access-Control-Expose-Headers", "*")]))
    assert facts(r)["credentials"] == "omit" and facts(r)["verdict"] == "allowed"
    assert "cors.headers-not-exposed" not in rules(r)


def test_findings_are_catalogued_and_json():
    run = Run()
    results = [run(preflight("PUT", "x-trace", resp=GOOD_PREFLIGHT + [("X-Custom", "1")], at=T0)),
               run(cors("PUT", extra=[("X-Trace", "1"), ("Cookie", "a=1")], resp=GOOD_ACTUAL + [("X-Custom", "1")],
                        at=T0 + 0.1)),
               run(cors(resp=[(ACAO, O + "/")], at=T0 + 1))]
    for result in results:
        for finding in result.findings:
            assert finding.rule in catalog and finding.category == "cors"
            assert finding.reference.startswith("https://fetch.spec.whatwg.org/")
            json.dumps(finding.to_json(), allow_nan=False)


# -- robustness on input that a HAR file can carry ----------------------------------------------------

@pytest.mark.parametrize("value", ["\ud800", "text/plain\udc00", "en\udfff"])
def test_lone_surrogates_from_har_do_not_crash(value: str):
    """HAR input can carry lone surrogates (JSON "\\ud800"; har_reader keeps them, see
    tests/test_har_reader.py::test_lone_surrogate_escapes_are_read). (Regression: encoding with
    "surrogateescape", which maps only U+DC80-U+DCFF, raised UnicodeEncodeError and crashed the analyzer.)"""
    assert isinstance(is_safelisted_request_header("accept", value), bool)
    assert isinstance(unsafe_request_header_names([("Accept-Language", value)]), list)
    result = Pipeline([CorsAnalyzer()]).run(cors(extra=[("Accept-Language", value)], resp=STAR))
    assert "proxylens.analyzer-error" not in rules(result)


def test_an_unparseable_url_does_not_crash():
    """har_reader accepts any non-empty request.url. (Regression: urlsplit() raised ValueError "Invalid IPv6
    URL" on "http://[::1/", from target_origin() and from proxy.models.Request.host, and crashed the
    analyzer.)"""
    result = Pipeline([CorsAnalyzer()]).run(exchange("GET", "http://[::1/x", [("Origin", O)], 200, STAR))
    assert "proxylens.analyzer-error" not in rules(result)
    assert result.facts["cors"]["verdict"] in {"allowed", "blocked", "not-cors", "unknown"}


def test_an_unparseable_referer_on_a_failed_har_fetch_does_not_crash():
    """A failed fetch in a browser's own HAR (no response, no Origin) takes its origin from the Referer;
    an unparseable Referer is no origin. (Regression: urlsplit() ran outside the try block and its
    ValueError "Invalid IPv6 URL" crashed the analyzer.)"""
    ex = Exchange("1", Request("GET", API, headers=Headers((("Referer", "http://[::1/page"),))), None,
                  ExchangeError("net::ERR_FAILED"), source="har", resource_type="fetch")
    result = Pipeline([CorsAnalyzer()]).run(ex)
    assert "proxylens.analyzer-error" not in rules(result)
    assert result.facts["cors"]["origin"] is None


def test_a_failed_har_fetch_takes_its_origin_from_the_referer():
    """Chromium's HAR keeps only provisional headers of a fetch that failed CORS (no Origin)."""
    ex = Exchange("1", Request("GET", API, headers=Headers((("Referer", "https://App.example:443/page?q"),))), None,
                  ExchangeError("net::ERR_FAILED"), source="har", resource_type="fetch")
    f = facts(Run()(ex))
    assert f["origin"] == O and f["kind"] in ("simple", "preflighted") and f["verdict"] == "blocked"
    assert any("Chromium's own HAR" in r for r in f["reasons"])
    bad_port = Exchange("2", Request("GET", API, headers=Headers((("Referer", "https://app.example:99999/"),))), None,
                        ExchangeError("net::ERR_FAILED"), source="har", resource_type="xhr")
    assert facts(Run()(bad_port))["origin"] is None
