"""Hypothesis over the CORS header parsers, the CORS and preflight checks, and
CorsAnalyzer.analyze: total (nothing raises but parse_token_list's documented
ValueError), well-typed results, JSON facts, and the same answers as small
reference implementations written from the Fetch standard's text.

Header text is what a header can hold on the way in: any Unicode, the
wire's non-UTF-8 bytes as mitmproxy decodes them (surrogateescape,
U+DC80-U+DCFF), lone surrogates (JSON in HAR files can carry them), control
characters, commas, quotes, non-ASCII digits, and values up to 20,000
characters (an all-digit Access-Control-Max-Age past Python's 4300-digit
int() limit included). Request URLs include unparseable ones (HAR input).
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from addons.cors import CorsAnalyzer, Failure, cors_check, preflight_check
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
from proxy.findings import Finding, catalog
from proxy.models import Exchange, ExchangeError, Headers, Request, Response, Timings
from proxy.session import Session

FAST = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.data_too_large])

# -- strategies -----------------------------------------------------------------------------------------

unicode_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=60)
wire_bytes = st.binary(max_size=60).map(lambda b: b.decode("utf-8", "surrogateescape"))
har_text = st.lists(st.one_of(st.characters(blacklist_categories=["Cs"]),  # st.text() drops surrogates
                             st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)), max_size=30).map("".join)
tricky = st.text(st.sampled_from(list(',;="\'\t \x00\x01\r\n\x7f()<>@:[]{}*/\\-.é0123456789aZ\udc80\udcff')),
                 max_size=40)
huge = st.tuples(st.one_of(unicode_text, wire_bytes, tricky).filter(bool), st.integers(100, 3000)).map(
    lambda t: (t[0] * t[1])[:20_000])
header_text = st.one_of(unicode_text, wire_bytes, tricky, huge, har_text)

CORS_NAMES = ["Origin", "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
              "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age",
              "Access-Control-Expose-Headers", "Access-Control-Request-Method", "Access-Control-Request-Headers",
              "Access-Control-Request-Private-Network", "Access-Control-Allow-Private-Network", "Sec-Fetch-Mode",
              "Sec-Fetch-Site", "Upgrade", "Cookie", "Vary", "Content-Type", "Accept", "Accept-Language",
              "Content-Language", "Range", "Authorization", "X-Custom", "Set-Cookie"]
header_name = st.one_of(
    st.sampled_from(CORS_NAMES).flatmap(lambda n: st.sampled_from([n, n.lower(), n.upper()])),
    unicode_text, wire_bytes)
ORIGINS = ["https://app.example", "https://api.example", "http://api.example", "null", "*", "https://app.example/",
           "https://APP.example", "https://app.example, https://b.example", ""]
header_value = st.one_of(
    header_text,
    st.sampled_from(ORIGINS + ["true", "True", "GET, PUT", "PUT", "patch", "x-custom, *", "*", "authorization",
                               "cors", "navigate", "no-cors", "same-origin", "same-site", "cross-site", "websocket",
                               "600", "-1", "86400", "99999999999999999999", "sid=1", "Origin",
                               "text/plain", "application/json", "bytes=0-", "bytes=-5"]))
headers_list = st.lists(st.tuples(header_name, header_value), max_size=8)
token_list_text = st.one_of(header_text, st.lists(st.sampled_from(
    ["GET", "PUT", "patch", "*", "x-custom", "X-Custom", "authorization", "", " ", "a b", '"x"', "é"]),
    max_size=6).map(", ".join))


def is_json_scalar(v) -> bool:
    return v is None or isinstance(v, (str, bool, int, float))


def check_failure(failure) -> None:
    assert failure is None or isinstance(failure, Failure)
    if failure is not None:
        assert failure.rule.id in catalog and failure.rule.id.startswith("cors.")
        assert isinstance(failure.reason, str) and failure.reason
        assert isinstance(failure.subject, str) and failure.subject
        assert all(isinstance(k, str) and is_json_scalar(v) for k, v in failure.evidence.items())
        json.dumps(failure.evidence, allow_nan=False)
        Finding(rule=failure.rule.id, severity=failure.rule.severity, category="cors", summary=failure.reason,
                evidence=failure.evidence)  # evidence fits the Finding model


# -- references, written from the Fetch standard's text -------------------------------------------------

UNSAFE = {b for b in range(0x20) if b != 0x09} | set(b'"():<>?@[\\]{}') | {0x7F}
LANGUAGE = set(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz *,-.;=")
TOKEN_CHARS = set("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
HTTP_WS = "\t\n\r "
ASCII_DIGITS = "0123456789"


def ascii_lower(s: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in s)


def ref_mime_essence(data: str) -> str | None:
    """MIME Sniffing, "parse a MIME type", up to the essence (parameters never make it fail)."""
    data = data.strip(HTTP_WS)
    slash = data.find("/")
    if slash < 0:
        return None
    kind, rest = data[:slash], data[slash + 1:]
    sub = rest.split(";", 1)[0].rstrip(HTTP_WS)
    if not kind or not sub or not set(kind) <= TOKEN_CHARS or not set(sub) <= TOKEN_CHARS:
        return None
    return ascii_lower(kind) + "/" + ascii_lower(sub)


def ref_single_range(data: str) -> tuple[int | None, int | None] | None:
    """Fetch, "parse a single range header value" with allowWhitespace false."""
    if not data.startswith("bytes"):
        return None
    pos = 5
    if data[pos:pos + 1] != "=":
        return None
    pos += 1
    start = pos
    while data[pos:pos + 1] and data[pos] in ASCII_DIGITS:
        pos += 1
    range_start = int(data[start:pos]) if pos > start else None
    if data[pos:pos + 1] != "-":
        return None
    pos += 1
    start = pos
    while data[pos:pos + 1] and data[pos] in ASCII_DIGITS:
        pos += 1
    range_end = int(data[start:pos]) if pos > start else None
    if pos != len(data) or (range_start is None and range_end is None):
        return None
    if range_start is not None and range_end is not None and range_start > range_end:
        return None
    return range_start, range_end


def wire(value: str) -> bytes:
    """The bytes behind a header string: UTF-8 with surrogateescape (mitmproxy); a lone surrogate from a
    HAR file, which has no byte form, as its 3-byte UTF-8 pattern (what addons/cors_headers.py does)."""
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")


def ref_safelisted(name: str, value: str) -> bool:
    """Fetch, "CORS-safelisted request-header" (on bytes; isomorphic decoding where it says so)."""
    raw = wire(value)
    if len(raw) > 128:
        return False
    lname = wire(name).lower()  # byte-lowercase: ASCII only
    if lname == b"accept":
        return not any(b in UNSAFE for b in raw)
    if lname in (b"accept-language", b"content-language"):
        return all(b in LANGUAGE for b in raw)
    if lname == b"content-type":
        if any(b in UNSAFE for b in raw):
            return False
        return ref_mime_essence(raw.decode("latin-1")) in (
            "application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
    if lname == b"range":
        parsed = ref_single_range(raw.decode("latin-1"))
        return parsed is not None and parsed[0] is not None
    return False


def ref_unsafe_names(headers) -> list[str]:
    unsafe, potentially, size = [], [], 0
    for name, value in headers:
        if not ref_safelisted(name, value):
            unsafe.append(name)
        else:
            potentially.append(name)
            size += len(wire(value))
    if size > 1024:
        unsafe += potentially
    return sorted({n.lower() for n in unsafe})


def ref_get(fields, name: str) -> str | None:
    """Fetch "get": values of every line, whitespace-trimmed as HTTP delivers them, joined by ", "."""
    values = [v.strip(" \t") for n, v in fields if n.lower() == name]
    return ", ".join(values) if values else None


def ref_cors_check(origin: str, fields, credentials: str) -> bool:
    acao = ref_get(fields, "access-control-allow-origin")
    if acao is None:
        return False
    if credentials != "include" and acao == "*":
        return True
    if origin != acao:
        return False
    if credentials != "include":
        return True
    return ref_get(fields, "access-control-allow-credentials") == "true"


def ref_token_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [i.strip(" \t") for i in value.split(",")]
    items = [i for i in items if i]
    if any(not set(i) <= TOKEN_CHARS for i in items):
        raise ValueError
    return items


def ref_preflight_ok(origin, status, fields, method, names, credentials, engine) -> bool:
    """Fetch, "CORS-preflight fetch" step 7, with Chromium's one documented difference: `*` in
    Access-Control-Allow-Headers still covers Authorization there."""
    if not ref_cors_check(origin, fields, credentials) or not 200 <= status <= 299:
        return False
    try:
        methods = ref_token_list(ref_get(fields, "access-control-allow-methods")) or []
        allowed = ref_token_list(ref_get(fields, "access-control-allow-headers")) or []
    except ValueError:
        return False
    if method not in methods and method not in ("GET", "HEAD", "POST") and (
            credentials == "include" or "*" not in methods):
        return False
    lowered = [ascii_lower(h) for h in allowed]
    if engine != "chromium" and "authorization" in names and "authorization" not in lowered:
        return False
    return all(n in lowered or (credentials != "include" and "*" in allowed) for n in names)


# -- the parsers ----------------------------------------------------------------------------------------

@FAST
@given(header_name, header_text)
def test_is_safelisted_request_header_is_total_and_follows_the_standard(name, value):
    result = is_safelisted_request_header(name, value)
    assert isinstance(result, bool)
    assert result == ref_safelisted(name, value)


@FAST
@given(st.sampled_from(["Accept", "Accept-Language", "Content-Language", "Content-Type", "Range"]),
       st.one_of(st.from_regex(r"bytes=\d{0,4}-\d{0,4}", fullmatch=True),
                 st.from_regex(r"(text|TEXT|multipart|application)/(plain|form-data|x-www-form-urlencoded|json)"
                               r"[ \t]*(;[ -~]{0,20})?", fullmatch=True),
                 st.from_regex(r"[a-zA-Z0-9 *,\-.;=_/]{0,130}", fullmatch=True)))
def test_is_safelisted_request_header_near_the_rules(name, value):
    """Values shaped like the safelisted ones, where the interesting boundaries are."""
    assert is_safelisted_request_header(name, value) == ref_safelisted(name, value)


SHAPED = {"accept": lambda n, c: c * n, "accept-language": lambda n, c: "a" * n,
          "content-language": lambda n, c: "e" * n, "content-type": lambda n, c: "text/plain;x=" + c * (n - 13),
          "range": lambda n, c: "bytes=" + "1" * (n - 7) + "-"}


@FAST
@given(st.sampled_from(sorted(SHAPED)), st.integers(120, 136), st.sampled_from(["a", "\u00e9", "\udcff"]))
def test_is_safelisted_request_header_around_128_bytes(name, size, char):
    """"If value's length is greater than 128, then return false": values of 120-136 characters (and, with
    2-byte or surrogate-escaped characters, other byte lengths)."""
    value = SHAPED[name](size, char)
    assert is_safelisted_request_header(name, value) == ref_safelisted(name, value)


@FAST
@given(header_text)
def test_has_unsafe_byte_and_mime_essence_are_total(value):
    assert has_unsafe_byte(value) == any(b in UNSAFE for b in wire(value))
    essence = mime_essence(value)
    assert essence is None or (isinstance(essence, str) and essence.count("/") == 1 and essence == essence.lower())
    if "\n" not in value and "\r" not in value:  # mime_essence trims SP/HT only; CR/LF are unsafe bytes anyway
        assert essence == ref_mime_essence(value)


@FAST
@given(st.integers(6, 12), st.sampled_from([1000, 1023, 1024, 1025, 1100]),
       st.lists(st.sampled_from(["Accept", "Accept-Language", "content-language", "X-Custom", "Range"]),
                min_size=12, max_size=12))
def test_unsafe_request_header_names_around_1024_bytes(count, total, names):
    """"If safelistValueSize is greater than 1024, then [...] append name to unsafeNames": safelisted
    values whose sizes add up to about 1024 bytes."""
    sizes = [total // count + (1 if i < total % count else 0) for i in range(count)]
    headers = [(name, ("bytes=0-" + "0" * (size - 8)) if name == "Range" else "a" * size)
               for name, size in zip(names, sizes)]
    assert unsafe_request_header_names(headers) == ref_unsafe_names(headers)


@settings(FAST, max_examples=300)
@given(st.lists(st.tuples(header_name, header_text), max_size=12))
def test_unsafe_request_header_names(headers):
    names = unsafe_request_header_names(headers)
    assert isinstance(names, list) and all(isinstance(n, str) for n in names)
    assert names == sorted(set(names)) and all(n == n.lower() for n in names)
    assert set(names) <= {n.lower() for n, _ in headers}
    assert names == ref_unsafe_names(headers)


@settings(FAST, max_examples=300)
@given(st.lists(st.tuples(header_name, header_text), max_size=12))
def test_author_headers_is_a_subsequence(headers):
    kept = author_headers(headers)
    assert isinstance(kept, list)
    it = iter(headers)
    assert all(any(pair == other for other in it) for pair in kept)  # order kept, nothing invented
    assert not any(n.lower() in ("origin", "cookie", "host") or n.lower().startswith("sec-") for n, _ in kept)


@FAST
@given(st.one_of(st.none(), token_list_text))
def test_parse_token_list_raises_only_value_error(value):
    try:
        items = parse_token_list(value)
    except ValueError:
        try:
            ref_token_list(value)
        except ValueError:
            return
        raise AssertionError(f"parse_token_list rejected {value!r}, which is a list of tokens")
    assert items == ref_token_list(value)
    assert items is None or all(isinstance(i, str) and i and i == i.strip(" \t") and "," not in i for i in items)


@FAST
@given(st.one_of(st.none(), header_text))
def test_split_list(value):
    items = split_list(value)
    if value is None:
        assert items is None
    else:
        assert isinstance(items, list)
        assert all(i and "," not in i and i == i.strip(" \t") for i in items)


@FAST
@given(st.one_of(st.none(), header_text, st.from_regex(r"[ \t]*[0-9]{1,400}[ \t]*", fullmatch=True),
                 st.integers(4000, 5000).map(lambda n: "9" * n)))
def test_parse_max_age(value):
    result = parse_max_age(value)
    assert result is None or (type(result) is int and result >= 0)
    if value is not None:
        stripped = value.strip(" \t")
        if not stripped or not all(c in ASCII_DIGITS for c in stripped):
            assert result is None
        elif len(stripped.lstrip("0")) <= 18:
            assert result == int(stripped)
        else:  # RFC 9111 1.2.2: too large to represent is 2^31 "or the greatest positive integer" one can
            assert result >= 2**31


@FAST
@given(st.sampled_from(["http", "https", "ws", "wss", "ftp", "blob"]),
       st.one_of(unicode_text, st.sampled_from(["::1", "[::1]", "2001:db8::1", "127.0.0.1", "a.example"])),
       st.one_of(st.none(), st.integers(0, 65535)))
def test_serialize_origin(scheme, host, port):
    """scheme "://" host [":" port]: the port only when it is not the scheme's default; IPv6 in brackets."""
    result = serialize_origin(scheme, host, port)
    default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(scheme)
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    assert result == (f"{scheme}://{shown}" if port in (None, default) else f"{scheme}://{shown}:{port}")


# -- the CORS check and the preflight check ---------------------------------------------------------------

origin_text = st.sampled_from(["https://app.example", "null", "http://[::1]:8080", "junk"]).flatmap(
    lambda o: header_text if o == "junk" else st.just(o))
credentials_mode = st.sampled_from(["include", "omit", "same-origin"])
engine = st.sampled_from(["chromium", "firefox"])


def with_acao(origin: str):
    """A CORS response for *origin*: each CORS header absent, plausible (often right, often nearly right) or
    junk, plus a few arbitrary lines (which may repeat a CORS header), in any order."""
    def maybe(name, plausible, junk=header_value):
        def line(how):
            if how == "absent":
                return st.just([])
            return (st.sampled_from(plausible) if how == "plausible" else junk).map(lambda v: [(name, v)])
        return st.sampled_from(["absent", "plausible", "plausible", "junk"]).flatmap(line)
    parts = st.tuples(
        maybe("Access-Control-Allow-Origin",
              [origin, origin, "*", origin + "/", origin.upper(), f" {origin} ", "null", f"{origin}, {origin}"]),
        maybe("access-control-allow-credentials", ["true", "true", "True", " true", "false", ""]),
        maybe("Access-Control-Allow-Methods", ["PUT", "PATCH", "patch", "*", "GET, PUT, DELETE", "*, PUT", "GET PUT"],
              token_list_text),
        maybe("Access-Control-Allow-Headers", ["x-custom", "*", "authorization", "Authorization, *",
                                               "X-Custom, content-type", "x trace"], token_list_text),
        st.lists(st.tuples(header_name, header_value), max_size=3))
    return parts.map(lambda t: [pair for part in t for pair in part]).flatmap(st.permutations)


@settings(FAST, max_examples=300)
@given(st.data(), origin_text, credentials_mode)
def test_cors_check_follows_the_standard(data, origin, credentials):
    fields = data.draw(with_acao(origin))
    failure = cors_check(origin, Headers(tuple(fields)), credentials)
    check_failure(failure)
    assert (failure is None) == ref_cors_check(origin, fields, credentials)
    if failure is not None:
        assert failure.rule.id in {"cors.missing-allow-origin", "cors.allow-origin-mismatch",
                                   "cors.multiple-allow-origin", "cors.credentials-with-wildcard-origin",
                                   "cors.allow-credentials-not-true"}


@settings(FAST, max_examples=300)
@given(st.data(), origin_text, st.sampled_from([200, 204, 299, 302, 404, None]).flatmap(
           lambda c: st.integers(0, 999) if c is None else st.just(c)),
       credentials_mode, engine,
       st.sampled_from(["GET", "PUT", "patch", "PATCH", "DELETE", "POST", "*", "", None]).flatmap(
           lambda m: unicode_text if m is None else st.just(m)),
       st.lists(st.sampled_from(["x-custom", "authorization", "content-type", "*", None]).flatmap(
           lambda n: unicode_text if n is None else st.just(n)), max_size=3))
def test_preflight_check_follows_the_standard(data, origin, status, credentials, engine, method, names):
    fields = data.draw(with_acao(origin))
    names = [n.lower() for n in names]  # CORS-unsafe request-header names are lowercase by definition
    failure = preflight_check(origin, status, Headers(tuple(fields)), method, names, credentials, engine)
    check_failure(failure)
    assert (failure is None) == ref_preflight_ok(origin, status, fields, method, names, credentials, engine)
    if status in (301, 302, 303, 307, 308):  # Fetch's "redirect status"
        assert failure is not None and failure.rule.id == "cors.preflight-redirect"


@FAST
@given(st.sampled_from(["https://app.example", "null"]), st.sampled_from([200, 204]),
       st.sampled_from(["include", "omit"]), engine,
       st.sampled_from(["GET", "HEAD", "POST", "PUT", "patch", "PATCH", "DELETE", "PROPFIND", "get"]),
       st.lists(st.sampled_from(["x-custom", "authorization", "authorization", "content-type", "x-other"]),
                min_size=1, max_size=3, unique=True),
       st.lists(st.sampled_from(["PUT", "PATCH", "patch", "*", "DELETE", "GET", "put"]), max_size=4),
       st.lists(st.sampled_from(["x-custom", "X-Custom", "*", "*", "authorization", "Authorization", "content-type",
                                 "X-OTHER"]), min_size=1, max_size=4),
       st.sampled_from([False, False, True]), st.sampled_from(["true", "true", "True", None]), st.booleans())
def test_preflight_check_lists_follow_the_standard(origin, status, credentials, engine, method, names, acam, acah,
                                                   star_origin, acac, two_lines):
    """Only the method and header rules vary (the CORS check and status mostly pass), so every branch of
    "CORS-preflight fetch" step 7 is reached many times."""
    fields = [("Access-Control-Allow-Origin", "*" if star_origin else origin)]
    if acac is not None:
        fields.append(("Access-Control-Allow-Credentials", acac))
    for name, items in (("Access-Control-Allow-Methods", acam), ("Access-Control-Allow-Headers", acah)):
        if two_lines and len(items) > 1:
            fields += [(name, ", ".join(items[:1])), (name, ", ".join(items[1:]))]
        elif items:
            fields.append((name, ",".join(items)))
    failure = preflight_check(origin, status, Headers(tuple(fields)), method, sorted(names), credentials, engine)
    check_failure(failure)
    assert (failure is None) == ref_preflight_ok(origin, status, fields, method, sorted(names), credentials, engine)


# -- the analyzer -----------------------------------------------------------------------------------------

VERDICTS = {"allowed", "blocked", "not-cors", "unknown"}
KINDS = {"same-origin", "simple", "preflighted", "preflight", "no-cors", "navigation", "websocket"}
CORS_KINDS = {"simple", "preflighted", "preflight"}
PAGE_ORIGINS = ["https://app.example", "https://b.example", "https://c.example", "null", "https://api.example",
                "https://x.api.example"]
URLS = ["https://api.example/data", "https://api.example/data?x=1", "http://api.example:8080/",
        "https://app.example/", "wss://api.example/ws", "ws://api.example/ws", "http://[::1]:8080/x",
        "http://192.168.1.1/api", "https://API.example:443/data",
        "http://[::1/x", "http://api.example:99999/", "not a url", "https://[zz]/", "//api.example/x"]
METHODS = ["GET", "POST", "PUT", "OPTIONS", "patch", "DELETE", "HEAD"]
REFERERS = ["https://app.example/page", "https://b.example:8443/", "http://[::1]:3000/", "not a url", "",
            "http://[::1/page", "https://app.example:99999/"]

arbitrary_pair = st.tuples(header_name, header_value)


def some(*pairs):
    """A few of these (name, value strategy) pairs, each included or not."""
    return st.tuples(*[st.one_of(st.none(), st.tuples(st.just(n), v)) for n, v in pairs]).map(
        lambda t: [x for x in t if x is not None])


@st.composite
def browser_exchange(draw, at: float = 0.0):
    """Mostly what a browser and a server put on the wire (so the deep paths run), salted with junk."""
    origin = draw(st.sampled_from(PAGE_ORIGINS))
    url = draw(st.sampled_from(URLS))
    shape = draw(st.sampled_from(["preflight", "actual", "actual", "websocket", "navigate", "failed-har", "junk"]))
    method = draw(st.sampled_from(METHODS))
    req: list[tuple[str, str]] = []
    if shape == "preflight":
        method = "OPTIONS"
        req += [("Origin", origin), ("Access-Control-Request-Method", draw(st.sampled_from(METHODS)))]
        req += draw(some(("Access-Control-Request-Headers", st.sampled_from(["x-custom", "authorization",
                                                                             "content-type,x-custom", ""])),
                         ("Access-Control-Request-Private-Network", st.sampled_from(["true", "false"]))))
    elif shape == "actual":
        req += [("Origin", origin), ("Sec-Fetch-Mode", "cors")]
        req += draw(some(("Sec-Fetch-Site", st.sampled_from(["cross-site", "same-site", "same-origin"])),
                         ("Cookie", st.just("sid=1")), ("X-Custom", st.just("1")),
                         ("Authorization", st.just("Bearer t")),
                         ("Content-Type", st.sampled_from(["text/plain", "application/json"]))))
    elif shape == "websocket":
        req += [("Upgrade", "websocket")] + draw(some(("Origin", st.just(origin))))
    elif shape == "navigate":
        req += [("Sec-Fetch-Mode", draw(st.sampled_from(["navigate", "nested-navigate", "no-cors"])))]
        req += draw(some(("Cookie", st.just("sid=1")), ("Origin", st.just(origin))))
    elif shape == "failed-har":  # what Chromium's own HAR keeps of a fetch that failed CORS
        req += draw(some(("Referer", st.one_of(st.sampled_from(REFERERS), header_text))))
    req += draw(st.lists(arbitrary_pair, max_size=3 if shape == "junk" else 1))
    near = [origin, origin, "*", origin + "/", origin.upper(), "null", "https://other.example"]
    resp = draw(some(("Access-Control-Allow-Origin", st.sampled_from(near)),
                     ("Access-Control-Allow-Credentials", st.sampled_from(["true", "True"])),
                     ("Access-Control-Allow-Methods", st.one_of(st.sampled_from(["PUT", "GET, PUT, patch, DELETE",
                                                                                  "*", "GET PUT"]), token_list_text)),
                     ("Access-Control-Allow-Headers", st.one_of(st.sampled_from(["x-custom", "*", "authorization, *",
                                                                                  "X-Custom, content-type"]),
                                                                token_list_text)),
                     ("Access-Control-Max-Age", st.one_of(st.sampled_from(["600", "0", "86400", "-1", "x",
                                                                           "9" * 4400]), header_text)),
                     ("Access-Control-Allow-Private-Network", st.just("true")),
                     ("Access-Control-Expose-Headers", st.sampled_from(["*", "x-custom", "X-Other"])),
                     ("Vary", st.sampled_from(["Origin", "Accept-Encoding"])),
                     ("X-Custom", st.just("42"))))
    resp += draw(st.lists(arbitrary_pair, max_size=2))
    status = draw(st.one_of(st.sampled_from([101, 200, 204, 302, 403, 500]), st.none(), st.integers(0, 999)))
    resource_type = draw(st.sampled_from([None, "fetch", "xhr", "document", "websocket"]))
    if shape == "failed-har":
        status, resource_type = None, draw(st.sampled_from(["fetch", "xhr"]))
    error = None
    if status is None:
        error = ExchangeError(draw(st.sampled_from(["net::ERR_FAILED", "refused", ""])), "other")
    return Exchange(
        id="x", request=Request(method, url, headers=Headers(tuple(req))),
        response=None if status is None else Response(status, headers=Headers(tuple(resp))), error=error,
        timings=Timings(started=at), source=draw(st.sampled_from(["live", "har"])), resource_type=resource_type)


@st.composite
def sessions(draw):
    """Exchanges in time order, close enough that preflights pair, caches hit and reflections add up."""
    at, out = 1000.0, []
    for _ in range(draw(st.integers(1, 6))):
        at += draw(st.sampled_from([0.0, 0.1, 3.0, 300.0, 8000.0, 90000.0]))
        out.append(draw(browser_exchange(at)))
    return out


def check_analysis(analysis, engine_name: str) -> dict:
    facts = analysis.facts
    assert isinstance(facts, dict)
    json.dumps(facts, allow_nan=False)
    assert facts["verdict"] in VERDICTS and facts["kind"] in KINDS
    assert facts["credentials"] in {"include", "omit", "unknown"}
    assert facts["engine"] == engine_name
    assert facts["origin"] is None or isinstance(facts["origin"], str)
    assert isinstance(facts["reasons"], list) and all(isinstance(r, str) and r for r in facts["reasons"])
    assert facts["preflight"] is None or isinstance(facts["preflight"], dict)
    if facts["verdict"] == "not-cors":
        assert facts["kind"] not in CORS_KINDS
    else:
        assert facts["kind"] in CORS_KINDS and facts["reasons"]
    for finding in analysis.findings:
        assert isinstance(finding, Finding) and finding.rule in catalog and finding.category == "cors"
        json.dumps(finding.to_json(), allow_nan=False)
    return facts


@settings(SLOW, max_examples=100)
@given(engine, sessions())
def test_analyze_a_session_never_raises_and_facts_are_json(engine_name, sequence):
    analyzer, session = CorsAnalyzer(engine_name), Session()
    for ex in sequence:
        session.now = ex.timings.started
        facts = check_analysis(analyzer.analyze(ex, session), engine_name)
        if facts["kind"] == "preflighted" and facts["preflight"]["seen"]:
            assert facts["preflight"]["from_cache"] is False


@SLOW
@given(engine, st.one_of(st.sampled_from(METHODS), unicode_text), st.sampled_from(URLS), headers_list,
       st.one_of(st.none(), st.integers(0, 999)), headers_list,
       st.sampled_from([None, "fetch", "xhr", "document"]), st.sampled_from(["live", "har"]))
def test_analyze_arbitrary_headers(engine_name, method, url, req, status, resp, resource_type, source):
    ex = Exchange(id="y", request=Request(method, url, headers=Headers(tuple(req))),
                  response=None if status is None else Response(status, headers=Headers(tuple(resp))),
                  error=ExchangeError("net::ERR_FAILED") if status is None else None, resource_type=resource_type,
                  source=source)
    check_analysis(CorsAnalyzer(engine_name).analyze(ex, Session()), engine_name)


@settings(SLOW, max_examples=150)
@given(st.data(), engine, st.sampled_from(["https://app.example", "null", "https://b.example"]),
       st.sampled_from(["GET", "PUT", "patch"]), st.floats(0, 20_000, allow_nan=False))
def test_a_preflight_and_its_actual_request(data, engine_name, origin, method, gap):
    """A preflight, then the actual request after *gap* seconds: whatever the answers, the pairing facts
    stay consistent with the preflight's verdict and max-age."""
    url = "https://api.example/data"
    analyzer, session = CorsAnalyzer(engine_name), Session()
    pf_headers = [("Origin", origin), ("Access-Control-Request-Method", method), ("Sec-Fetch-Mode", "cors")]
    pf_headers += data.draw(some(("Access-Control-Request-Headers", st.sampled_from(["x-custom", "authorization"])),
                                 ("Access-Control-Request-Private-Network", st.just("true"))))
    good = [("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Methods", method),
            ("Access-Control-Allow-Headers", data.draw(st.sampled_from(["x-custom, authorization", "*", "x-custom"]))),
            ("Access-Control-Allow-Private-Network", "true")]
    pf_resp = data.draw(st.one_of(st.just(good), st.lists(st.sampled_from(good), max_size=3)))
    pf_resp += data.draw(some(("Access-Control-Max-Age", st.sampled_from(["0", "5", "600", "7200", "86400", "x"])),
                              ("Access-Control-Allow-Credentials", st.just("true"))))
    preflight = Exchange("p", Request("OPTIONS", url, headers=Headers(tuple(pf_headers))),
                         Response(data.draw(st.sampled_from([200, 204, 302, 404])), headers=Headers(tuple(pf_resp))),
                         timings=Timings(started=1000.0))
    actual_headers = [("Origin", origin), ("Sec-Fetch-Mode", "cors")] + data.draw(
        st.lists(st.sampled_from([("X-Custom", "1"), ("Cookie", "a=1"), ("Authorization", "x")]), max_size=2))
    actual = Exchange("a", Request(method, url, headers=Headers(tuple(actual_headers))),
                      Response(200, headers=Headers(tuple(data.draw(response_headers_for(origin))))),
                      timings=Timings(started=1000.0 + gap))
    session.now = 1000.0
    pf_facts = check_analysis(analyzer.analyze(preflight, session), engine_name)
    assert pf_facts["kind"] == "preflight"
    session.now = 1000.0 + gap
    facts = check_analysis(analyzer.analyze(actual, session), engine_name)
    if facts["kind"] == "preflighted":
        p = facts["preflight"]
        if p["seen"]:
            assert pf_facts["verdict"] != "blocked" and gap <= pf_facts["preflight"]["max_age"] + 2
            assert pf_facts["preflight"]["max_age"] <= {"chromium": 7200, "firefox": 86400}[engine_name]
        else:
            assert p["from_cache"] is None


def response_headers_for(origin: str):
    return some(("Access-Control-Allow-Origin", st.sampled_from([origin, "*"])),
                ("Access-Control-Allow-Credentials", st.just("true")), ("Vary", st.just("Origin")),
                ("X-Custom", st.just("1")))
