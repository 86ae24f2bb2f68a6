"""proxy.har_reader: lenient with HAR as real tools write it, strict in its errors.

The fixtures in tests/data/ reproduce each producer's own layout and quirks:

* chrome.har      Chrome DevTools "Export HAR" (creator "WebInspector"): HTTP/2
                  pseudo-headers, ``connection`` holding the server *port* and
                  ``_connectionId`` the connection, "[::1]" in serverIPAddress,
                  ``_fromCache``, ``_initiator``, ``_priority``, ``_transferSize``,
                  ``_blocked_queueing``, failed requests with status 0 and
                  ``response._error`` "net::ERR_...". (DevTools front_end/models/har/Log.ts)
* firefox.har     Firefox netmonitor (har-builder.js): local-time offsets
                  ("+01:00"), ``connection`` = remote port, -1 and {} timings,
                  ``cache.afterRequest`` for a 304, status 0 without any error text.
* safari.har      WebKit Web Inspector (HARBuilder.js): ``_fetchType``,
                  ``_priority``, ``_serverPort``, ``connection`` = connection id,
                  float timings, a request without ``cookies``, ``response._error``.
* charles.har     Charles Proxy 4: base64 bodies, ``statusText``/``redirectURL``
                  null, ":status" in response headers, ``comment``, form posts
                  as ``params`` only, ``_charlesStatus``.
* playwright.har  Playwright record_har_path (harTracer.ts): ``_securityDetails``,
                  ``_serverPort``, ``_monotonicTime``, ``_frameref``, embedded
                  base64 bodies, status -1 with/without ``_failureText``.
* mitmproxy.har   written by mitmproxy 11's own savehar addon (``SaveHar.make_har``
                  on hand-made flows): timings without blocked/dns and with
                  ``connect`` *excluding* ``ssl``, status 0 with ``response._error``.
* proxylens.har   written by proxylens's own HarWriter: ``_proxylens``,
                  ``comment``, ``_error``/``_errorKind``, pages after entries.
* proxylens-truncated.har  the same, cut in the middle of the 3rd entry.
"""

from __future__ import annotations

import base64
import json
import math
import os
import pickle
import tempfile
import time
import tracemalloc
import types
from datetime import datetime
from pathlib import Path

import ijson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import proxy.har_reader as har_reader
from proxy.har_reader import HarEntry, HarError, HarTruncated, exchange_from_har, iter_entries
from proxy.models import Body, Exchange, ExchangeError, Headers, Response, ServerTLS, Timings

DATA = Path(__file__).parent / "data"
ERROR_KINDS = {"connect", "timeout", "tls", "protocol", "client", "shutdown", "other"}

PRODUCERS = {
    "chrome.har": "WebInspector",
    "firefox.har": "Firefox",
    "safari.har": "WebKit Web Inspector",
    "charles.har": "Charles Proxy",
    "playwright.har": "Playwright",
    "mitmproxy.har": "mitmproxy",
    "proxylens.har": "proxylens",
}


def ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def raw(name: str) -> dict:
    with open(DATA / name, encoding="utf-8") as f:
        return json.load(f)


def exchanges(name: str) -> list[Exchange]:
    return [exchange_from_har(e) for e in iter_entries(str(DATA / name))]


def header_names(headers: Headers) -> list[str]:
    return [k for k, _ in headers]


def b64(body: Body) -> bytes:
    assert body.text is not None and body.text_encoding == "base64"
    return base64.b64decode(body.text, validate=True)


# ---------------------------------------------------------------------------
# Every producer's file
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PRODUCERS))
def test_every_entry_of_every_producer_becomes_an_exchange(name):
    har = raw(name)
    assert har["log"]["creator"]["name"] == PRODUCERS[name]
    entries = list(iter_entries(str(DATA / name)))
    # streaming sees exactly what a whole-file JSON parse sees, in order
    assert [e.index for e in entries] == list(range(len(har["log"]["entries"])))
    assert [e.data for e in entries] == har["log"]["entries"]
    assert {e.creator for e in entries} == {PRODUCERS[name]}
    for entry, ex in zip(entries, map(exchange_from_har, entries)):
        assert isinstance(ex, Exchange)
        assert ex.id == f"har-{entry.index}" and ex.source == "har"
        assert ex.request.url == entry.data["request"]["url"]
        # no exchange is left without either a response or an error
        assert (ex.response is None) != (ex.error is None)
        assert_well_typed(ex)


@pytest.mark.parametrize("name", ["chrome.har", "charles.har", "playwright.har"])
def test_http2_pseudo_headers_are_dropped(name):
    har = raw(name)
    pseudo = [h["name"] for e in har["log"]["entries"]
              for h in e["request"]["headers"] + e["response"]["headers"] if h["name"].startswith(":")]
    assert pseudo, "the fixture must contain pseudo-headers for this test to mean anything"
    for ex in exchanges(name):
        names = header_names(ex.request.headers) + (header_names(ex.response.headers) if ex.response else [])
        assert not [n for n in names if n.startswith(":")]
    first = exchanges(name)[0]
    assert len(first.request.headers) == len(har["log"]["entries"][0]["request"]["headers"]) - sum(
        1 for h in har["log"]["entries"][0]["request"]["headers"] if h["name"].startswith(":"))


# ---------------------------------------------------------------------------
# Chrome DevTools
# ---------------------------------------------------------------------------


def test_chrome_document_over_http2():
    har = raw("chrome.har")["log"]["entries"][0]
    ex = exchanges("chrome.har")[0]
    req, resp = ex.request, ex.response
    assert (req.method, req.url, req.http_version) == ("GET", "https://www.example.org/", "http/2.0")
    assert req.headers.get("cookie") == "session=9f86d081; theme=dark"
    assert req.headers.get("SEC-FETCH-MODE") == "navigate"
    assert ":authority" not in req.headers and "host" not in req.headers
    assert req.body == Body(size=0)
    assert resp is not None and ex.error is None
    assert (resp.status, resp.reason, resp.http_version) == (200, "", "http/2.0")
    assert resp.headers.get("content-type") == "text/html; charset=UTF-8"
    assert resp.body.text == har["response"]["content"]["text"] and resp.body.text_encoding is None
    assert resp.body.size == 812  # bodySize is -1 over HTTP/2: the reader falls back to _transferSize
    assert resp.body.decoded_size == len(har["response"]["content"]["text"])
    assert ex.resource_type == "document" and ex.from_cache is None
    assert ex.server_ip == "93.184.215.14"
    assert ex.server_address == ("93.184.215.14", 443)  # Chrome's "connection" is the port
    assert ex.connection_id == "394563"  # ... and "_connectionId" the connection
    assert ex.server_tls is None
    started = ts("2024-03-05T10:12:01.250Z")
    assert ex.timings.started == pytest.approx(started) and req.timestamp_start == pytest.approx(started)
    t = ex.timings
    assert (t.blocked, t.dns, t.connect, t.ssl) == pytest.approx((3.352, 11.926, 39.703, 25.158), abs=1e-3)
    assert (t.send, t.wait, t.receive) == pytest.approx((0.338, 91.663, 1.636), abs=1e-3)
    assert t.total == pytest.approx(har["time"])  # connect includes ssl, as in Chrome's own "time"


def test_chrome_cache_hits():
    memory, disk = exchanges("chrome.har")[1:3]
    assert memory.from_cache == "memory" and memory.resource_type == "script"
    assert memory.server_ip is None and memory.server_address is None and memory.connection_id is None
    assert memory.response is not None and memory.response.body.size == 0
    assert memory.response.body.text == 'console.log("app ready");\n'
    assert (memory.timings.dns, memory.timings.connect, memory.timings.ssl) == (-1, -1, -1)

    assert disk.from_cache == "disk" and disk.resource_type == "image"
    # a disk-cache hit has the port in "connection" but no "_connectionId": it used no connection
    assert disk.connection_id is None and disk.server_address == ("93.184.215.14", 443)
    assert disk.response is not None
    assert b64(disk.response.body).startswith(b"\x89PNG\r\n\x1a\n")
    assert disk.response.body.decoded_size == len(b64(disk.response.body)) == 70


def test_chrome_ipv6_loopback_post():
    ex = exchanges("chrome.har")[3]
    assert ex.server_ip == "::1"  # Chrome writes "[::1]"
    assert ex.server_address == ("::1", 8080)
    assert ex.connection_id == "394611"
    assert (ex.request.method, ex.request.port, ex.request.http_version) == ("POST", 8080, "HTTP/1.1")
    assert ex.request.headers.get("host") == "localhost:8080"
    assert ex.request.body == Body(size=41, text='{"event":"view","page":"/","ms":148.6}')
    assert ex.request.query == [("v", "2")]
    assert ex.response is not None and (ex.response.status, ex.response.reason) == (201, "Created")
    assert ex.response.body.size == 11 and ex.response.body.text == '{"ok":true}'
    assert ex.resource_type == "fetch"
    assert ex.timings.ssl == -1 and ex.timings.connect == pytest.approx(0.313)


@pytest.mark.parametrize("index, message, kind", [
    (4, "net::ERR_FAILED", "other"),
    (5, "net::ERR_CERT_AUTHORITY_INVALID", "tls"),
])
def test_chrome_failed_requests(index, message, kind):
    ex = exchanges("chrome.har")[index]
    assert ex.response is None
    assert ex.error == ExchangeError(message, kind)
    assert ex.server_ip is None and ex.server_address is None and ex.connection_id is None
    t = ex.timings
    assert t.blocked > 0 and (t.dns, t.connect, t.ssl) == (-1, -1, -1) and (t.send, t.wait, t.receive) == (0, 0, 0)


@pytest.mark.parametrize("message, kind", [
    ("net::ERR_CERT_COMMON_NAME_INVALID", "tls"),  # the generic classifier says "protocol" ("invalid")
    ("net::ERR_SSL_PROTOCOL_ERROR", "tls"),
    ("net::ERR_NAME_NOT_RESOLVED", "connect"),
    ("net::ERR_CONNECTION_REFUSED", "connect"),
    ("net::ERR_CONNECTION_TIMED_OUT", "timeout"),
    ("net::ERR_ABORTED", "client"),
    ("net::ERR_HTTP2_PROTOCOL_ERROR", "protocol"),
    ("net::ERR_BLOCKED_BY_CLIENT", "other"),
    ("A server with the specified hostname could not be found.", "connect"),
    ("NS_ERROR_UNKNOWN_HOST", "connect"),
    ("[Errno 111] Connect call failed ('127.0.0.1', 1)", "connect"),
    ("TLS handshake failed", "tls"),
])
def test_error_kinds_of_browser_messages(message, kind):
    entry = {"request": {"url": "https://example.com/"}, "response": {"status": 0, "_error": message}}
    assert exchange_from_har(HarEntry(0, entry)).error == ExchangeError(message, kind)


# ---------------------------------------------------------------------------
# Firefox
# ---------------------------------------------------------------------------


def test_firefox_local_time_offsets_and_port_in_connection():
    page, css, post, blocked = exchanges("firefox.har")
    assert page.timings.started == pytest.approx(ts("2024-03-05T10:12:01.250Z"))  # "11:12:01.250+01:00"
    assert page.request.timestamp_start == page.timings.started
    assert page.server_address == ("93.184.215.14", 443)
    assert page.connection_id is None  # "443" is the port, not a connection: reuse must not be inferred
    assert page.request.http_version == "HTTP/2" and page.request.headers.get("te") == "trailers"
    assert page.response is not None and page.response.reason == "OK"
    assert page.response.body.size == 960 and page.response.body.decoded_size == len(page.response.body.text or "")
    t = page.timings
    assert (t.blocked, t.dns, t.connect, t.ssl, t.send, t.wait, t.receive) == (0, 14, 31, 19, 0, 97, 2)

    assert css.response is not None and css.response.status == 304 and css.response.body.size == 0
    assert css.response.body.decoded_size == 1204
    assert css.timings.blocked == -1 and css.timings.connect == 0

    assert post.request.body == Body(size=19, text="q=caf%C3%A9&lang=fr")
    assert post.response is not None and post.response.headers.get("location") == "/results?q=caf%C3%A9"


def test_firefox_failed_request_has_no_error_text():
    ex = exchanges("firefox.har")[3]
    assert ex.response is None
    assert ex.error == ExchangeError("no response (status 0 in the HAR file)", "other")
    assert ex.timings == Timings(started=ts("2024-03-05T10:12:03.010Z"))  # "timings": {} -> all defaults
    assert ex.server_ip is None and ex.server_address is None and ex.connection_id is None
    assert ex.request.query == [("id", "1")]


# ---------------------------------------------------------------------------
# Safari / WebKit
# ---------------------------------------------------------------------------


def test_safari_entries():
    page, cached, failed = exchanges("safari.har")
    assert page.server_address == ("93.184.215.14", 443)  # from _serverPort
    assert page.connection_id == "2"  # WebKit's connection identifier
    assert page.from_cache is None  # "_fetchType": "Network Load"
    assert page.request.http_version == "HTTP/2"
    assert page.timings.dns == pytest.approx(12.87388801574707)
    assert page.timings.total == pytest.approx(raw("safari.har")["log"]["entries"][0]["time"], abs=0.5)
    assert page.response is not None and page.response.body.size == 648

    assert cached.from_cache == "memory"  # "_fetchType": "Memory Cache"
    assert cached.response is not None and cached.response.body.size == -1  # bodySize -1: unknown
    assert cached.response.body.decoded_size == 27
    assert cached.request.body.size == 0 and cached.server_address is None

    assert failed.response is None
    assert failed.error == ExchangeError("A server with the specified hostname could not be found.", "connect")


# ---------------------------------------------------------------------------
# Charles Proxy
# ---------------------------------------------------------------------------


def test_charles_entries():
    get, login = exchanges("charles.har")
    assert get.timings.started == pytest.approx(ts("2024-03-05T10:12:01.250Z"))
    assert get.request.headers.get("cookie") == "sid=8c1e77;"
    assert get.response is not None
    assert get.response.reason == ""  # "statusText": null
    assert get.response.headers.get("content-encoding") == "gzip" and ":status" not in get.response.headers
    body = b64(get.response.body)
    assert json.loads(body)["items"][0]["name"] == "café"
    assert get.response.body.decoded_size == len(body)
    assert get.response.body.size == len(body) - 13
    t = get.timings
    assert (t.blocked, t.dns, t.connect, t.ssl, t.send, t.wait, t.receive) == (-1, 35, 253, 152, 1, 119, 1)
    assert get.comment == "Slow first request: check the TLS handshake"
    assert get.server_ip == "203.0.113.20" and get.server_address is None and get.connection_id is None

    # a form post that Charles exported as params only, without text
    assert login.request.body == Body(size=27, text="user=alice&password=hunter2")
    assert login.response is not None and b64(login.response.body) == b"OK"
    assert login.comment is None  # "comment": ""


# ---------------------------------------------------------------------------
# Playwright
# ---------------------------------------------------------------------------


def test_playwright_security_details_and_server_port():
    har = raw("playwright.har")["log"]["entries"]
    page, api, refused, unfinished = exchanges("playwright.har")
    assert page.server_tls == ServerTLS(version="TLSv1.3", security_details=har[0]["_securityDetails"])
    assert page.server_tls.security_details["subjectName"] == "www.example.org"
    assert page.server_tls.security_details["validTo"] == 1737072000
    assert page.server_address == ("93.184.215.14", 443) and page.server_ip == "93.184.215.14"
    assert page.connection_id is None
    assert page.response is not None
    assert b64(page.response.body).startswith(b"<!doctype html>")
    assert page.response.body.size == 648
    assert page.response.body.decoded_size == len(b64(page.response.body))
    t = page.timings
    assert (t.blocked, t.dns, t.connect, t.ssl, t.send) == (-1, 11.926, 39.703, 25.158, 0)
    assert t.started == pytest.approx(ts("2024-03-05T10:12:01.250Z"))  # not _monotonicTime

    assert api.request.body == Body(size=24, text='{"sku":"A-100","qty":2}\n')
    assert api.response is not None and json.loads(b64(api.response.body)) == {"items": 3}


def test_playwright_failed_and_unfinished_requests():
    refused, unfinished = exchanges("playwright.har")[2:]
    assert refused.response is None
    assert refused.error == ExchangeError("net::ERR_CONNECTION_REFUSED", "connect")
    t = refused.timings
    assert (t.send, t.wait, t.receive, t.connect) == (0, 0, 0, -1)  # Playwright's -1s
    # status -1 and no _failureText: the page was closed while the request was in flight
    assert unfinished.response is None
    assert unfinished.error == ExchangeError("no response (status -1 in the HAR file)", "other")


# ---------------------------------------------------------------------------
# mitmproxy
# ---------------------------------------------------------------------------


def test_mitmproxy_connect_is_made_to_include_ssl():
    har = raw("mitmproxy.har")["log"]["entries"]
    first, post, image, failed = exchanges("mitmproxy.har")
    # mitmproxy's savehar: connect = tcp_setup - start, ssl = tls_setup - tcp_setup (not inside connect)
    assert first.timings.ssl == pytest.approx(har[0]["timings"]["ssl"])
    assert first.timings.connect == pytest.approx(har[0]["timings"]["connect"] + har[0]["timings"]["ssl"])
    assert first.timings.connect >= first.timings.ssl
    assert first.timings.total == pytest.approx(har[0]["time"])  # mitmproxy's "time" counts ssl once too
    assert (first.timings.blocked, first.timings.dns) == (-1, -1)  # not written at all
    assert (post.timings.connect, post.timings.ssl) == (-1, -1)  # reused connection


def test_mitmproxy_entries():
    first, post, image, failed = exchanges("mitmproxy.har")
    assert first.timings.started == pytest.approx(ts("2024-03-05T10:12:01.250000+00:00"))
    assert first.server_ip == "2606:2800:21f:cb07:6820:80da:af6b:8b2c"
    assert first.server_address is None and first.connection_id is None  # mitmproxy writes neither
    assert first.response is not None
    assert (first.response.status, first.response.reason, first.response.http_version) == (200, "OK", "HTTP/2.0")
    assert first.response.body.text is not None and first.response.body.text.startswith("<!doctype html>")

    assert post.request.body == Body(size=21, text="user=alice&remember=1")
    assert post.response is not None and post.response.status == 302
    assert post.response.headers.get("location") == "/home"

    assert image.response is not None and b64(image.response.body).startswith(b"\x89PNG")

    assert failed.response is None
    assert failed.error == ExchangeError("[Errno 111] Connect call failed ('203.0.113.9', 8443)", "connect")
    assert failed.request.port == 8443 and failed.server_ip is None


# ---------------------------------------------------------------------------
# proxylens
# ---------------------------------------------------------------------------


def test_proxylens_har_with_pages_after_entries():
    har = raw("proxylens.har")["log"]
    assert list(har) == ["version", "creator", "entries", "pages"]  # pages come last in the file
    page, upload, expired, revalidated = exchanges("proxylens.har")

    assert page.comment == "proxylens: no findings"
    assert page.server_tls is not None and page.server_tls.version == "TLSv1.3"
    assert page.server_tls.security_details == har["entries"][0]["_securityDetails"]
    assert page.server_address == ("93.184.215.14", 443) and page.connection_id == "c-7f3a"
    assert (page.timings.connect, page.timings.ssl) == (63.5, 31.9)  # proxylens already includes ssl

    assert upload.request.body.text_encoding == "base64" and upload.request.body.truncated
    assert upload.request.body.size == 5000 and b64(upload.request.body) == bytes(range(200))
    assert upload.request.url.endswith("token=[redacted]")

    assert expired.response is None
    assert expired.error == ExchangeError("Certificate verify failed: certificate has expired", "tls")
    assert expired.comment is not None and "status.no-response" in expired.comment
    assert expired.connection_id == "c-9b01" and expired.server_address == ("198.51.100.7", 443)

    assert revalidated.response is not None and revalidated.response.status == 304
    assert revalidated.response.body == Body(size=0, text="", decoded_size=0)


def test_truncated_proxylens_har_yields_the_complete_entries_then_raises():
    path = str(DATA / "proxylens-truncated.har")
    seen = []
    with pytest.raises(HarTruncated) as info:
        for entry in iter_entries(path):
            seen.append(entry)
    assert [e.index for e in seen] == [0, 1]
    assert [exchange_from_har(e).request.url for e in seen] == [
        "https://www.example.org/", "https://www.example.org/api/upload?token=[redacted]"]
    assert info.value.entries == 2
    message = str(info.value)
    assert "truncated" in message and "after 2 complete entries" in message and path in message


# ---------------------------------------------------------------------------
# Truncation versus syntax errors, on both ijson backends
# ---------------------------------------------------------------------------


def _ijson_with(backend_name: str) -> types.SimpleNamespace:
    backend = ijson.get_backend(backend_name)
    return types.SimpleNamespace(parse=backend.parse, ObjectBuilder=ijson.ObjectBuilder, get_backend=ijson.get_backend,
                                 JSONError=ijson.JSONError, IncompleteJSONError=ijson.IncompleteJSONError)


BACKENDS = ["python"] + (["yajl2_c"] if ijson.backend == "yajl2_c" else [])


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    monkeypatch.setattr(har_reader, "ijson", _ijson_with(request.param))
    return request.param


def test_every_cut_inside_the_third_entry_is_a_truncation(backend, tmp_path):
    """yajl reports a cut inside "12.", "tru", "\\" or a UTF-8 sequence as a
    lexical error, not "premature EOF": all must still read as truncated."""
    data = (DATA / "proxylens.har").read_bytes()
    lines = data.split(b"\n")
    start = len(b"\n".join(lines[:3])) + 1
    end = start + lines[3].rindex(b"}")  # the line ends with the entry's closing brace and a comma
    path = tmp_path / "cut.har"
    for cut in range(start, end, 1 if backend != "python" else 3):
        path.write_bytes(data[:cut])
        seen = []
        with pytest.raises(HarTruncated) as info:
            for entry in iter_entries(str(path)):
                seen.append(entry.index)
        assert seen == [0, 1] and info.value.entries == 2, (cut, data[cut - 20:cut])


@pytest.mark.parametrize("text, expected", [
    ('{"log": {"entries": [{"request": {"url": "http://a/"}}, {"request": NaN}]}}',
     "not valid JSON after 1 complete entry"),
    ('{"log": {"entries": [{"request": {"url": "http://a/"}}]}} {"log": {}}',
     "not valid JSON after 1 complete entry"),
    ('{"log": {"entries": [{"request": {"url": "http://a/"}}, }]}}',
     "not valid JSON after 1 complete entry"),
])
def test_a_syntax_error_is_not_called_a_truncation(backend, tmp_path, text, expected):
    path = tmp_path / "bad.har"
    path.write_text(text)
    with pytest.raises(HarError) as info:
        list(iter_entries(str(path)))
    assert type(info.value) is HarError  # not HarTruncated
    assert expected in str(info.value) and "truncated" not in str(info.value)
    assert "\n" not in str(info.value)  # one line, without yajl's excerpt


def test_truncated_before_any_entry_is_complete(tmp_path):
    path = tmp_path / "killed.har"
    path.write_text('{"log": {"version": "1.2", "creator": {"name": "proxylens", "version": "0.1.0"}, "entries": [\n')
    with pytest.raises(HarTruncated) as info:
        list(iter_entries(str(path)))
    assert info.value.entries == 0 and "truncated after 0 complete entries" in str(info.value)


# ---------------------------------------------------------------------------
# Files that are not HAR at all
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("content, expected", [
    (b"<!doctype html><html><body>Sign in</body></html>", "not valid JSON (lexical error: invalid char in json text.)"),
    (b"", "not valid JSON"),
    (b'{"version": "1.2", "entries": []}', 'not a HAR file: there is no top-level "log" object'),
    (b'[{"log": {"entries": []}}]', 'not a HAR file: there is no top-level "log" object'),
    (b'{"log": {"version": "1.2", "creator": {"name": "x", "version": "1"}, "pages": []}}',
     'not a HAR file: "log" has no "entries" array'),
    (b'{"log": {"entries": {"0": {}}}}', 'not a HAR file: "log" has no "entries" array'),
])
def test_not_a_har_file(tmp_path, content, expected):
    path = tmp_path / "input.har"
    path.write_bytes(content)
    with pytest.raises(HarError) as info:
        list(iter_entries(str(path)))
    assert type(info.value) is HarError
    assert str(info.value).startswith(f"{path}: ")
    assert expected in str(info.value)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.har"
    with pytest.raises(HarError) as info:
        list(iter_entries(str(path)))
    assert str(info.value) == f"cannot read {path}: No such file or directory"


def test_a_directory_is_not_a_file(tmp_path):
    with pytest.raises(HarError, match="cannot read"):
        list(iter_entries(str(tmp_path)))


def test_lone_surrogate_escapes_are_read(tmp_path):
    """JSON allows "\\udc00" (JavaScript writes it for an unpaired UTF-16 unit);
    ijson's C backend cannot decode a lone low surrogate and raised UnicodeDecodeError."""
    entries = [{"request": {"method": "POST", "url": f"https://a.example/{i}",
                            "postData": {"mimeType": "text/plain", "text": text}}}
               for i, text in enumerate(["ok", "bin\udc00ary\ud800", "after"])]
    path = tmp_path / "surrogates.har"
    path.write_text(json.dumps({"log": {"entries": entries}}))  # ensure_ascii: written as \udc00 escapes
    found = [exchange_from_har(e) for e in iter_entries(str(path))]
    assert [ex.request.url for ex in found] == [f"https://a.example/{i}" for i in range(3)]
    assert found[1].request.body.text == "bin\udc00ary\ud800"
    assert found[1].request.body.size > 0


def test_utf8_byte_order_mark_is_ignored(tmp_path):
    path = tmp_path / "bom.har"
    path.write_bytes(b"\xef\xbb\xbf" + (DATA / "charles.har").read_bytes())
    assert [ex.request.url for ex in map(exchange_from_har, iter_entries(str(path)))] == [
        "https://api.example.com/v1/items?page=2", "https://api.example.com/v1/login"]


# ---------------------------------------------------------------------------
# An entry without a URL
# ---------------------------------------------------------------------------


def test_entry_without_url_names_its_index_and_the_others_still_parse(tmp_path):
    entries = [
        {"request": {"method": "GET", "url": "https://a.example/"}, "response": {"status": 200}},
        {"request": {"method": "GET"}, "response": {"status": 200}},
        None,  # not an object: skipped, but it keeps its place in the numbering
        {"request": {"method": "GET", "url": ""}},
        {"response": {"status": 204}},
        {"request": {"method": "DELETE", "url": "https://a.example/x"}, "response": {"status": 204}},
    ]
    path = tmp_path / "partial.har"
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}))
    good, problems = [], []
    for entry in iter_entries(str(path)):
        try:
            good.append(exchange_from_har(entry))
        except HarError as exc:
            problems.append(str(exc))
    assert [(ex.id, ex.request.method, ex.request.url) for ex in good] == [
        ("har-0", "GET", "https://a.example/"), ("har-5", "DELETE", "https://a.example/x")]
    assert problems == ["entry 1: no request.url", "entry 3: no request.url", "entry 4: no request.url"]


# ---------------------------------------------------------------------------
# Anything at all in an entry: an Exchange or a HarError, nothing else
# ---------------------------------------------------------------------------

HAR_KEYS = [
    "request", "response", "timings", "startedDateTime", "serverIPAddress", "connection", "_connectionId",
    "_serverPort", "_securityDetails", "_resourceType", "_fromCache", "_fetchType", "_error", "comment",
    "method", "url", "httpVersion", "headers", "postData", "text", "params", "name", "value", "bodySize",
    "_transferSize", "content", "size", "encoding", "_encoding", "status", "statusText", "_errorKind",
    "_failureText", "protocol", "blocked", "dns", "connect", "ssl", "send", "wait", "receive", "_truncated",
]
TRICKY = [
    "", "-1", "0", "443", "65536", "1e400", "inf", "-inf", "nan", "NaN", "base64", "TLS 1.3", "[::1]", "[]",
    ":authority", ":status", "net::ERR_FAILED", "net::ERR_", "Memory Cache", "Disk Cache", "memory", "tls",
    "2024-03-05T11:12:01.250+01:00", "2024-03-05T10:12:01Z", "0001-01-01T00:00:00", "9999-12-31T23:59:59-23:59",
    "z", "\ud800", "caf\u00e9", "QUJD", "QUJD=", "é===",
]
json_leaf = (
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**70), max_value=2**1100)
    | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(TRICKY) | st.text(max_size=12)
    | st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=3)
)
json_key = st.sampled_from(HAR_KEYS) | st.text(max_size=6)
json_value = st.recursive(
    json_leaf,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(json_key, children, max_size=6),
    max_leaves=25,
)
good_url = st.sampled_from(["https://www.example.org/", "http://[::1]:8080/x?y=1", "https://a.example:99999/",
                            "http://h/p?q=%ZZ", "not a url", "https://x.example/\u00e9"])
request_like = json_value | st.fixed_dictionaries(
    {"url": good_url},
    optional={k: json_value for k in ("method", "httpVersion", "headers", "postData", "bodySize")})
entry_like = st.fixed_dictionaries(
    {},
    optional={"request": request_like, **{k: json_value for k in HAR_KEYS if k != "request"}})
creators = st.sampled_from([None, "mitmproxy", "WebInspector", "Firefox", "proxylens", "Playwright", ""])


def assert_well_typed(ex: Exchange) -> None:
    """What analyzers may rely on, whatever the HAR said."""
    pickle.loads(pickle.dumps(ex))  # plain, picklable data

    def finite(x):
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)

    def check_headers(headers):
        assert isinstance(headers, Headers)
        for name, value in headers:
            assert isinstance(name, str) and isinstance(value, str) and not name.startswith(":")

    def check_body(body):
        assert isinstance(body, Body) and isinstance(body.size, int) and not isinstance(body.size, bool)
        assert body.text is None or isinstance(body.text, str)
        assert body.text_encoding is None or isinstance(body.text_encoding, str)
        assert body.decoded_size is None or (isinstance(body.decoded_size, int) and body.decoded_size >= 0)
        if body.text_encoding == "base64" and ex.response is not None and body is ex.response.body:
            base64.b64decode(body.text or "", validate=True)  # mislabelled base64 is demoted to text

    assert isinstance(ex.request.method, str) and isinstance(ex.request.url, str) and ex.request.url
    assert isinstance(ex.request.http_version, str)
    check_headers(ex.request.headers)
    check_body(ex.request.body)
    if ex.response is not None:
        assert isinstance(ex.response, Response) and isinstance(ex.response.status, int) and ex.response.status > 0
        assert isinstance(ex.response.reason, str) and isinstance(ex.response.http_version, str)
        check_headers(ex.response.headers)
        check_body(ex.response.body)
    else:
        assert isinstance(ex.error, ExchangeError)
    if ex.error is not None:
        assert isinstance(ex.error.message, str) and ex.error.message and ex.error.kind in ERROR_KINDS
    t = ex.timings
    assert finite(t.started)
    for phase in (t.blocked, t.dns, t.connect, t.ssl, t.send, t.wait, t.receive):
        assert finite(phase) and (phase == -1 or phase >= 0)
    assert min(t.send, t.wait, t.receive) >= 0 and finite(t.total)
    if ex.server_address is not None:
        host, port = ex.server_address
        assert isinstance(host, str) and host and isinstance(port, int) and 0 < port < 65536
    for text in (ex.server_ip, ex.connection_id, ex.resource_type, ex.from_cache, ex.comment):
        assert text is None or (isinstance(text, str) and text)
    assert ex.server_ip is None or "[" not in ex.server_ip
    if ex.server_tls is not None:
        assert isinstance(ex.server_tls.security_details, dict)
        assert ex.server_tls.version is None or isinstance(ex.server_tls.version, str)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=entry_like, index=st.integers(min_value=0, max_value=10**6), creator=creators)
def test_any_entry_gives_an_exchange_or_a_har_error(data, index, creator):
    url = data.get("request", {}).get("url") if isinstance(data.get("request"), dict) else None
    try:
        ex = exchange_from_har(HarEntry(index, data, creator))
    except HarError as exc:
        assert not (isinstance(url, str) and url), "only a missing URL makes an entry unusable"
        assert str(exc) == f"entry {index}: no request.url"
        return
    assert isinstance(url, str) and url
    assert ex.id == f"har-{index}" and ex.request.url == url
    assert_well_typed(ex)


@settings(max_examples=150, deadline=None)
@given(doc=st.one_of(
    json_value.map(lambda v: json.dumps(v).encode("utf-8", "surrogatepass")),
    st.fixed_dictionaries({"log": st.fixed_dictionaries({"entries": st.lists(entry_like, max_size=4)})}).map(
        lambda v: json.dumps(v).encode("utf-8", "surrogatepass")),
    st.binary(max_size=200),
))
def test_any_file_gives_entries_or_a_har_error(doc):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "x.har")
        with open(path, "wb") as f:
            f.write(doc)
        try:
            for entry in iter_entries(path):
                assert isinstance(entry.data, dict)
                try:
                    exchange_from_har(entry)
                except HarError:
                    pass
        except HarError as exc:
            assert str(exc).startswith(path) and "\n" not in str(exc)


# ---------------------------------------------------------------------------
# Size
# ---------------------------------------------------------------------------


def test_streams_a_20000_entry_file_in_bounded_memory(tmp_path):
    path = tmp_path / "big.har"
    template = json.dumps({
        "startedDateTime": "2024-03-05T10:12:01.250Z", "time": 12.5,
        "request": {"method": "GET", "url": "https://www.example.org/item/@@", "httpVersion": "HTTP/1.1",
                    "headers": [{"name": "Accept", "value": "*/*"}], "cookies": [], "queryString": [],
                    "headersSize": -1, "bodySize": 0},
        "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "cookies": [],
                     "headers": [{"name": "Content-Type", "value": "text/plain"}],
                     "content": {"size": 64, "mimeType": "text/plain", "text": "x" * 64},
                     "redirectURL": "", "headersSize": -1, "bodySize": 64},
        "cache": {}, "timings": {"send": 0.5, "wait": 10, "receive": 2},
    })
    count = 20_000
    with open(path, "w") as f:
        f.write('{"log": {"version": "1.2", "creator": {"name": "gen", "version": "1"}, "entries": [\n')
        f.write(",\n".join(template.replace("@@", str(i)) for i in range(count)))
        f.write('\n]}}\n')
    size = path.stat().st_size
    started = time.perf_counter()
    n = last = 0
    for entry in iter_entries(str(path)):
        n += 1
        last = entry.index
        if entry.index % 997 == 0:
            assert exchange_from_har(entry).request.url.endswith(f"/item/{entry.index}")
    assert n == count and last == count - 1
    assert time.perf_counter() - started < 20

    # Streaming: the first entries come before the file is read whole. (Tracing
    # allocations is slow, so only while taking the first 500 of them; reading
    # the file whole before the first entry would cost several times its size.)
    entries = iter_entries(str(path))
    tracemalloc.start()
    try:
        first = [next(entries).index for _ in range(500)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        entries.close()
    assert first == list(range(500))
    assert peak < size / 10, f"peak {peak} bytes while streaming a {size}-byte file"
