"""Hostile input against a real ``proxylens proxy`` process, real loopback origins and real clients.

For each attack: the proxy keeps serving other clients (a normal request right
after gets 200 and the exact body), its memory (the proxy process and its
children: the analysis worker, multiprocessing's resource tracker) stays
bounded where that is the point, and the client and the HAR say what happened.

What mitmproxy 11.0 (and so proxylens) does, found out by these tests:

* no limit on request or response header size or count: 1 MB header values
  and 10,000 headers are relayed byte for byte and recorded whole; the origin
  decides (Python's http.server answers 431). A header section that never ends
  is buffered without limit (xfail below);
* mitmproxy buffers whole bodies (peak RSS about 3x the body) and frees a
  finished flow only when Python's cyclic garbage collector runs; proxylens
  streams bodies above ``--max-body`` through (proxy/body_stream.py), still
  counting their size and keeping their first ``--max-body`` for the HAR, and
  collects after large buffered bodies;
* request smuggling shapes are refused with 400 before anything reaches an
  origin (mitmproxy's validate_inbound_headers), except that a TE.CL attempt
  gets its connection closed without the 400 while the HAR says 400 (xfail);
* bare CR, NUL and obs-fold inside header values (and a CR in the reason
  phrase) are forwarded unchanged by mitmproxy; proxylens replaces each with
  a space first (proxy/field_sanitizer.py; RFC 9110 section 5.5, RFC 9112
  sections 2.2 and 5.2);
* a request line mitmproxy cannot parse is answered 400 and leaves no HAR
  entry (xfail).

Measured numbers are printed with a ``MEASURED`` prefix (``pytest -s`` shows them).
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.harschema import assert_valid_har
from tests.support.origin import Origin
from tests.support.proctree import descendants
from tests.support.proxyproc import ProxyProcess
from tests.support.tlscerts import make_origin_certs
from tests.test_robustness import one_shot_origin

MB = 1024 * 1024
# A real leak or an unbounded buffer breaks this; normal churn (caches, arenas, imports) does not.
GENEROUS = 200 * MB

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="the memory checks read /proc (Linux)")


# -- helpers: memory of the proxy's process tree -----------------------------------------------------------------------

def _status_bytes(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:  # the process has just exited
        pass
    return 0


class ProcTree:
    """The proxy process and its children: summed current RSS (psutil, else /proc VmRSS) and summed peaks
    (/proc VmHWM: psutil has no peak on Linux)."""

    def __init__(self, proxy: ProxyProcess) -> None:
        self.pid = proxy.proc.pid
        self.base = 0

    def rss(self) -> int:
        pids = descendants(self.pid)
        try:
            import psutil
        except ImportError:
            return sum(_status_bytes(p, "VmRSS") for p in pids)
        total = 0
        for p in pids:
            try:
                total += psutil.Process(p).memory_info().rss
            except psutil.Error:  # the process has just exited
                pass
        return total

    def peak(self) -> int:
        return sum(_status_bytes(p, "VmHWM") for p in descendants(self.pid))

    def baseline(self) -> int:
        self.base = self.rss()
        return self.base

    def growth(self) -> int:
        return self.rss() - self.base

    def peak_growth(self) -> int:
        """Upper bound of the growth at any moment since the baseline (the peaks of the processes may differ in time)."""
        return self.peak() - self.base


def measured(what: str, value: object) -> None:
    print(f"MEASURED {what}: {value}")


# -- helpers: clients and origins -------------------------------------------------------------------------------------

def expected_bytes(n: int) -> bytes:
    """What tests/support/origin.py's /bytes?n=N answers."""
    return bytes(i % 251 for i in range(n))


def assert_still_serves(proxy: ProxyProcess, http_origin: Origin, tag: str) -> None:
    """A normal request from a new client, on a new connection: 200 and exactly the origin's bytes."""
    with httpx.Client(proxy=proxy.url, trust_env=False, timeout=60) as c:
        r = c.get(http_origin.url(f"/bytes?n=6000&after={tag}"))
    assert r.status_code == 200, r.text[:300]
    assert r.content == expected_bytes(6000)


def raw_exchange(port: int, data: bytes, timeout: float = 30) -> bytes:
    """Send *data* on a new connection to the proxy and read until it closes (or resets)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = bytearray()
        try:
            while chunk := s.recv(65536):
                out += chunk
        except ConnectionResetError:
            pass
    return bytes(out)


def head_of(message: bytes) -> bytes:
    return message.split(b"\r\n\r\n", 1)[0]


def har_entry(har: dict, url_end: str) -> dict:
    found = [e for e in har["log"]["entries"] if e["request"]["url"].endswith(url_end)]
    assert len(found) == 1, (url_end, [e["request"]["url"] for e in har["log"]["entries"]])
    return found[0]


class _Listener:
    """A loopback TCP server that hands each connection to ``_serve`` in its own thread."""

    def __init__(self, backlog: int) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(backlog)
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.server.close()


class RawOrigin(_Listener):
    """A lenient loopback origin that records every byte it receives and counts the requests in them.

    Framing: Content-Length first, else chunked, else no body (what a typical
    backend does); each request gets a 200 naming its path and the SHA-256 and
    length of the body it received.
    """

    def __init__(self) -> None:
        self.requests: list[tuple[bytes, bytes]] = []  # (head, body)
        self.received: list[bytearray] = []  # raw bytes, per connection
        self.lock = threading.Lock()
        super().__init__(backlog=64)

    def _serve(self, conn: socket.socket) -> None:
        raw = bytearray()
        with self.lock:
            self.received.append(raw)
        buf = bytearray()

        def more() -> bool:
            data = conn.recv(1 << 20)
            raw.extend(data)
            buf.extend(data)
            return bool(data)

        conn.settimeout(60)
        with conn:
            try:
                while True:
                    while (end := buf.find(b"\r\n\r\n")) < 0:
                        if not more():
                            return
                    head = bytes(buf[:end])
                    del buf[:end + 4]
                    fields = {}
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        fields.setdefault(name.strip().lower(), value.strip())
                    if b"content-length" in fields:
                        n = int(fields[b"content-length"])
                        while len(buf) < n:
                            if not more():
                                return
                        body = bytes(buf[:n])
                        del buf[:n]
                    elif b"chunked" in fields.get(b"transfer-encoding", b"").lower():
                        body = bytearray()
                        while True:
                            while (eol := buf.find(b"\r\n")) < 0:
                                if not more():
                                    return
                            size = int(bytes(buf[:eol]).split(b";")[0].strip() or b"0", 16)
                            del buf[:eol + 2]
                            while len(buf) < size + 2:
                                if not more():
                                    return
                            body += buf[:size]
                            del buf[:size + 2]
                            if size == 0:
                                break
                        body = bytes(body)
                    else:
                        body = b""
                    with self.lock:
                        self.requests.append((head, body))
                    target = head.split(b" ")[1] if head.count(b" ") >= 2 else b"?"
                    reply = (b"origin saw " + target + b" body-sha256=" + hashlib.sha256(body).hexdigest().encode()
                             + b" len=%d" % len(body))
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
                                 % len(reply) + reply)
            except OSError:
                return


class StreamOrigin(_Listener):
    """Answers every request with *total* bytes of ASCII text (Content-Length), written 1 MiB at a time."""

    BLOCK = (b"proxylens hostile body 0123456789 abcdefghijklmnopqrstuvwxyz\n" * 20000)[:MB]

    def __init__(self, total: int) -> None:
        self.total = total
        super().__init__(backlog=16)

    def sha256(self) -> str:
        h = hashlib.sha256()
        whole, rest = divmod(self.total, MB)
        for _ in range(whole):
            h.update(self.BLOCK)
        h.update(self.BLOCK[:rest])
        return h.hexdigest()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    head += chunk
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n" % self.total)
                sent = 0
                while sent < self.total:
                    n = min(MB, self.total - sent)
                    conn.sendall(self.BLOCK[:n])
                    sent += n
            except OSError:
                return


def download(proxy: ProxyProcess, url: str) -> tuple[int, str]:
    """GET *url* through the proxy, streaming: (bytes received, their SHA-256)."""
    h = hashlib.sha256()
    n = 0
    with httpx.Client(proxy=proxy.url, trust_env=False, timeout=120) as c, c.stream("GET", url) as r:
        assert r.status_code == 200
        for chunk in r.iter_raw():
            h.update(chunk)
            n += len(chunk)
    return n, h.hexdigest()


def started(start_proxy, http_origin: Origin, *args: str, **kwargs) -> tuple[ProxyProcess, ProcTree]:
    """A quiet proxy that has served one request (lazy imports done), with its memory baseline taken after it."""
    proxy = start_proxy("--quiet", *args, **kwargs)
    tree = ProcTree(proxy)
    assert_still_serves(proxy, http_origin, "warm-up")
    tree.baseline()
    return proxy, tree


# -- 1. oversized headers ---------------------------------------------------------------------------------------------

BIG_VALUE = b"h" * MB
MANY = 10_000


def test_oversized_request_headers_are_relayed_whole_and_recorded(start_proxy, http_origin):
    """mitmproxy has no header size or count limit: the origin decides; the HAR records what it answered."""
    proxy, tree = started(start_proxy, http_origin)
    raw_origin = RawOrigin()
    many = b"".join(b"X-Many-%d: v%d\r\n" % (i, i) for i in range(MANY))
    try:
        # to a lenient origin: arrives intact
        reply = raw_exchange(proxy.port, b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Big: %s\r\nConnection: close\r\n\r\n"
                             % (raw_origin.url("/big-request-header").encode(), raw_origin.port, BIG_VALUE))
        assert reply.startswith(b"HTTP/1.1 200 OK"), reply[:200]
        reply = raw_exchange(proxy.port, b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%sConnection: close\r\n\r\n"
                             % (raw_origin.url("/many-request-headers").encode(), raw_origin.port, many))
        assert reply.startswith(b"HTTP/1.1 200 OK"), reply[:200]
        heads = {h.split(b" ")[1]: h for h, _ in raw_origin.requests}
        assert b"\r\nX-Big: " + BIG_VALUE + b"\r\n" in heads[b"/big-request-header"] + b"\r\n"
        assert heads[b"/many-request-headers"].count(b"\r\nX-Many-") == MANY

        # to Python's http.server: it refuses with 431, and the client gets that answer
        for path, payload in (("/echo?big-to-stdlib", b"X-Big: " + BIG_VALUE + b"\r\n"), ("/echo?many-to-stdlib", many)):
            reply = raw_exchange(proxy.port, b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%sConnection: close\r\n\r\n"
                                 % (http_origin.url(path).encode(), http_origin.port, payload))
            assert reply.startswith(b"HTTP/1.1 431 "), reply[:200]
            assert b"Server: proxylens-test-origin" in reply, "the origin's own answer, relayed"
        measured("RSS growth after 1 MB and 10,000-header requests (MB)", tree.growth() // MB)
        assert tree.growth() < GENEROUS
        assert_still_serves(proxy, http_origin, "oversized-request-headers")
    finally:
        raw_origin.close()
    assert proxy.stop() == 0
    har = proxy.har()
    assert_valid_har(har)
    big = har_entry(har, "/big-request-header")
    assert big["response"]["status"] == 200
    assert [len(h["value"]) for h in big["request"]["headers"] if h["name"] == "X-Big"] == [MB]
    assert len(har_entry(har, "/many-request-headers")["request"]["headers"]) == MANY + 2
    for path, reason in (("big-to-stdlib", "Line too long"), ("many-to-stdlib", "Too many headers")):
        entry = har_entry(har, path)
        assert (entry["response"]["status"], entry["response"]["statusText"]) == (431, reason)
        assert "_error" not in entry, "an origin's answer, not a proxy error"
    measured("HAR size with a 1 MB header recorded twice (bytes)", proxy.har_path.stat().st_size)


def test_oversized_response_headers_reach_the_client_intact_and_are_recorded(start_proxy, http_origin):
    proxy, tree = started(start_proxy, http_origin)
    many = b"".join(b"X-Many-%d: v%d\r\n" % (i, i) for i in range(MANY))
    big_response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Big: " + BIG_VALUE + b"\r\n\r\nok"
    many_response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + many + b"\r\nok"
    for path, response in (("/big-response-header", big_response), ("/many-response-headers", many_response)):
        port = one_shot_origin(response)
        got = raw_exchange(proxy.port, b"GET http://127.0.0.1:%d%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                           b"Connection: close\r\n\r\n" % (port, path.encode(), port))
        assert got == response, "relayed byte for byte"
    measured("RSS growth after 1 MB and 10,000-header responses (MB)", tree.growth() // MB)
    assert tree.growth() < GENEROUS
    assert_still_serves(proxy, http_origin, "oversized-response-headers")
    assert proxy.stop() == 0
    har = proxy.har()
    assert_valid_har(har)
    big = har_entry(har, "/big-response-header")["response"]
    assert [len(h["value"]) for h in big["headers"] if h["name"] == "X-Big"] == [MB]
    assert big["content"]["size"] == 2
    assert len(har_entry(har, "/many-response-headers")["response"]["headers"]) == MANY + 1


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "a request header section that never ends is buffered without limit: 256 MB of header bytes without a blank "
    "line grow the proxy's RSS by 256 MB, and closing the connection then copies the buffer and builds its "
    "repr() for a log line nobody sees (peak +1 GB). mitmproxy 11.0's HTTP/1 server has no header size limit "
    "(mitmproxy/proxy/layers/http/_http1.py Http1Server.read_headers: 'FIXME: protect against header size DoS') "
    "and proxylens sets none, so any client that can reach the proxy can exhaust its memory"))
def test_a_header_section_that_never_ends_does_not_grow_memory_without_bound(start_proxy, http_origin):
    proxy, tree = started(start_proxy, http_origin)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=60) as s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: " % http_origin.url("/echo?endless").encode())
        chunk = b"e" * MB
        for _ in range(256):
            s.sendall(chunk)
        assert_still_serves(proxy, http_origin, "endless-header-open")  # asyncio keeps serving others meanwhile
        growth_open = tree.growth()
    assert_still_serves(proxy, http_origin, "endless-header-closed")
    peak = tree.peak_growth()
    measured("RSS growth with 256 MB of unterminated request headers (MB)", growth_open // MB)
    measured("peak RSS growth after that connection closed (MB)", peak // MB)
    assert proxy.stop() == 0
    assert_valid_har(proxy.har())
    assert peak < GENEROUS


# -- 2. oversized bodies ----------------------------------------------------------------------------------------------

BODY = 200 * MB
UPLOAD = 50 * MB


def test_a_200_mb_response_arrives_intact_and_the_har_keeps_only_max_body(start_proxy, http_origin):
    """Streamed through (bodies above --max-body are not buffered): every byte arrives, memory stays far below
    the body's size, and the HAR still has the size and the first --max-body."""
    origin = StreamOrigin(BODY)
    proxy, tree = started(start_proxy, http_origin, "--max-body", "64k")
    try:
        n, digest = download(proxy, origin.url("/big-download"))
    finally:
        origin.close()
    assert n == BODY and digest == origin.sha256(), "every byte, unchanged"
    peak = tree.peak_growth()
    measured("peak RSS growth relaying a 200 MB response (MB)", peak // MB)
    measured("RSS growth just after it (MB)", tree.growth() // MB)
    assert peak < GENEROUS
    assert_still_serves(proxy, http_origin, "200mb-download")
    assert proxy.stop() == 0
    har = proxy.har()
    assert_valid_har(har)
    entry = har_entry(har, "/big-download")
    content = entry["response"]["content"]
    assert content["size"] == BODY and entry["response"]["bodySize"] == BODY
    assert content["_truncated"] is True
    assert content["text"] == StreamOrigin.BLOCK[:64 * 1024].decode()
    assert proxy.har_path.stat().st_size < MB


def test_a_50_mb_upload_arrives_intact_and_the_har_keeps_only_max_body(start_proxy, http_origin):
    origin = RawOrigin()
    body = StreamOrigin.BLOCK * (UPLOAD // MB)
    proxy, tree = started(start_proxy, http_origin, "--max-body", "64k")
    try:
        with httpx.Client(proxy=proxy.url, trust_env=False, timeout=120) as c:
            r = c.post(origin.url("/big-upload"), content=body, headers={"Content-Type": "text/plain"})
        assert r.status_code == 200
        assert r.text == f"origin saw /big-upload body-sha256={hashlib.sha256(body).hexdigest()} len={UPLOAD}"
        assert len(origin.requests) == 1
    finally:
        origin.close()
    peak = tree.peak_growth()
    measured("peak RSS growth relaying a 50 MB upload (MB)", peak // MB)
    assert peak < 4 * UPLOAD + 64 * MB
    assert_still_serves(proxy, http_origin, "50mb-upload")
    assert proxy.stop() == 0
    har = proxy.har()
    assert_valid_har(har)
    request = har_entry(har, "/big-upload")["request"]
    assert request["bodySize"] == UPLOAD
    assert request["postData"]["_truncated"] is True
    assert request["postData"]["text"] == body[:64 * 1024].decode()


def test_relaying_a_large_response_is_bounded_by_max_body_not_by_the_body(start_proxy, http_origin):
    origin = StreamOrigin(100 * MB)
    proxy, tree = started(start_proxy, http_origin, "--max-body", "64k")
    try:
        n, digest = download(proxy, origin.url("/big-download-bounded"))
    finally:
        origin.close()
    assert n == 100 * MB and digest == origin.sha256()
    peak = tree.peak_growth()
    measured("peak RSS growth relaying a 100 MB response (MB)", peak // MB)
    assert_still_serves(proxy, http_origin, "bounded")
    proxy.stop()
    assert peak < GENEROUS


def test_memory_of_finished_large_exchanges_is_released(start_proxy, http_origin):
    origin = StreamOrigin(100 * MB)
    proxy, tree = started(start_proxy, http_origin, "--max-body", "64k")
    retained = []
    try:
        for i in range(3):
            n, _ = download(proxy, origin.url(f"/sequential-{i}"))
            assert n == 100 * MB
            time.sleep(0.3)  # the response is complete and the connection closed: nothing is in flight
            retained.append(tree.growth() // MB)
    finally:
        origin.close()
    measured("RSS growth after each of 3 sequential 100 MB downloads (MB)", retained)
    assert_still_serves(proxy, http_origin, "sequential")
    proxy.stop()
    # with --max-body 64k nothing of a finished exchange needs to stay: not one body, let alone several
    assert max(retained) < 64, retained


# -- 3. header injection ----------------------------------------------------------------------------------------------

# A field value is "clean" when it has no bare CR, no NUL and no obs-fold: RFC 9110 section 5.5 (a recipient of CR, LF
# or NUL within a field value MUST reject the message or replace each with SP before forwarding), RFC 9112 section
# 2.2 (bare CR), section 5.2 (a proxy MUST reject obs-fold or replace it with SP before forwarding).
UNCLEAN = re.compile(rb"\x00|\r(?!\n)|\r\n[ \t]")


def header_names_as_any_parser_sees_them(head: bytes) -> set[str]:
    """Header names in *head* for a lenient parser that ends lines at CR, LF or CRLF and strips indentation."""
    lines = re.split(rb"\r\n|\r|\n", head)[1:]
    return {line.split(b":", 1)[0].strip().decode("latin-1").lower() for line in lines if b":" in line}


@dataclass
class Relayed:
    sent: bytes  # what the sending side wrote
    received: bytes  # what the other side got: the origin (requests) or the client (responses)
    client: bytes  # what the client got back
    entry: dict | None


REQUEST_INJECTIONS = {
    "bare-cr-in-value": b"X-Note: a\rSet-Cookie: injected=1\r\n",
    "obs-fold-in-value": b"X-Note: a\r\n Set-Cookie: injected=1\r\n",
    "bare-lf-in-value": b"X-Note: a\nSet-Cookie: injected=1\r\n",
    "nul-in-value": b"X-Note: a\x00Set-Cookie: injected=1\r\n",
}
RESPONSE_INJECTIONS = {
    "resp-bare-cr-in-value": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Note: a\rSet-Cookie: injected=1\r\n\r\nok",
    "resp-obs-fold-in-value": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Note: a\r\n Set-Cookie: injected=1\r\n\r\nok",
    "resp-bare-lf-in-value": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Note: a\nSet-Cookie: injected=1\r\n\r\nok",
    "resp-nul-in-value": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Note: a\x00Set-Cookie: injected=1\r\n\r\nok",
    "resp-bare-cr-in-reason": b"HTTP/1.1 200 OK\rSet-Cookie: injected=1\r\nContent-Length: 2\r\n\r\nok",
}
BAD_TARGETS = {
    "cr-in-target": b"GET http://127.0.0.1:{port}/cr-in-target\rSet-Cookie: injected=1 HTTP/1.1\r\n",
    "header-in-target": b"GET http://127.0.0.1:{port}/header-in-target Set-Cookie: injected=1 HTTP/1.1\r\n",
}


@pytest.fixture(scope="module")
def injections(tmp_path_factory, http_origin) -> dict[str, Relayed]:
    """Every injection attempt through one proxy; then its HAR."""
    tmp = tmp_path_factory.mktemp("injection")
    proxy = ProxyProcess(tmp / "home", "--quiet", har=tmp / "injection.har")
    origin = RawOrigin()
    done: dict[str, tuple[bytes, bytes, bytes]] = {}
    try:
        for name, header in REQUEST_INJECTIONS.items():
            before = len(origin.received)
            sent = (b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%sConnection: close\r\n\r\n"
                    % (origin.url(f"/{name}").encode(), origin.port, header))
            client = raw_exchange(proxy.port, sent)
            received = b"".join(origin.received[before:])
            done[name] = (sent, received, client)
        for name, line in BAD_TARGETS.items():
            before = len(origin.received)
            sent = line.replace(b"{port}", b"%d" % origin.port) + b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n"
            client = raw_exchange(proxy.port, sent)
            done[name] = (sent, b"".join(origin.received[before:]), client)
        for name, response in RESPONSE_INJECTIONS.items():
            port = one_shot_origin(response)
            client = raw_exchange(proxy.port, b"GET http://127.0.0.1:%d/%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                                  b"Connection: close\r\n\r\n" % (port, name.encode(), port))
            done[name] = (response, client, client)
        assert_still_serves(proxy, http_origin, "injections")
    finally:
        origin.close()
        assert proxy.stop() == 0
    har = proxy.har()
    assert_valid_har(har)
    by_path = {e["request"]["url"].rsplit("/", 1)[1]: e for e in har["log"]["entries"]}
    return {name: Relayed(*done[name], by_path.get(name)) for name in done}


@pytest.mark.parametrize("name", [
    "bare-cr-in-value",
    "obs-fold-in-value",
    "bare-lf-in-value",
    "nul-in-value",
])
def test_no_header_is_injected_into_what_the_origin_receives(injections, name):
    got = injections[name]
    assert got.client.startswith(b"HTTP/1.1 200 OK"), got.client[:200]
    forwarded = head_of(got.received)
    assert forwarded.startswith(b"GET /%s HTTP/1.1\r\n" % name.encode())
    recorded = {h["name"].lower() for h in got.entry["request"]["headers"]}
    # every header any parser finds in the forwarded request is one the HAR says the client sent
    assert header_names_as_any_parser_sees_them(forwarded) <= recorded, forwarded
    assert not UNCLEAN.search(forwarded), forwarded
    # bare LF ends a line for mitmproxy (RFC 9112 section 2.2 allows it): it forwards CRLF, and the HAR agrees
    # with what the origin got; no recorded value carries a line break
    for h in got.entry["request"]["headers"]:
        assert not re.search(r"[\r\n\x00]", h["value"]), h


@pytest.mark.parametrize("name", list(BAD_TARGETS))
def test_a_request_target_with_cr_or_a_header_in_it_is_refused_and_never_reaches_the_origin(injections, name):
    got = injections[name]
    assert got.client.startswith(b"HTTP/1.1 400 Bad Request"), got.client[:200]
    assert b"Bad HTTP request line" in got.client
    assert got.received == b"", "nothing reached the origin"


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "a request whose request line mitmproxy cannot parse is answered 400 by the proxy but leaves no trace in the "
    "HAR (and nothing on the console: mitmproxy only logs it at info level, below proxylens's 'warn' termlog): "
    "mitmproxy creates no flow (_http1.py Http1Server.read_headers when read_request_head fails before "
    "self.request is set), and proxylens's Bridge only records flows and failed client TLS handshakes"))
@pytest.mark.parametrize("name", list(BAD_TARGETS))
def test_a_refused_request_line_is_recorded(injections, name):
    assert injections[name].entry is not None


@pytest.mark.parametrize("name", [
    "resp-bare-cr-in-value",
    "resp-obs-fold-in-value",
    "resp-bare-lf-in-value",
    "resp-nul-in-value",
    "resp-bare-cr-in-reason",
])
def test_no_header_is_injected_into_what_the_client_receives(injections, name):
    got = injections[name]
    assert got.client.endswith(b"\r\n\r\nok")
    head = head_of(got.client)
    response = got.entry["response"]
    recorded = {h["name"].lower() for h in response["headers"]}
    assert header_names_as_any_parser_sees_them(head) <= recorded, head
    assert not UNCLEAN.search(head), head
    # the HAR's cookies are exactly the Set-Cookie headers it records, never a forged one
    assert len(response["cookies"]) == sum(1 for h in response["headers"] if h["name"].lower() == "set-cookie")


def test_the_har_never_shows_a_header_the_peer_did_not_receive(injections):
    """Whatever the relay did, the HAR records no header that a strict (CRLF-only) parser does not find in
    what was actually relayed: no forged Set-Cookie."""
    for name, got in injections.items():
        if got.entry is None:
            continue
        relayed = head_of(got.received if name in REQUEST_INJECTIONS else got.client)
        strict = {line.split(b":", 1)[0].decode("latin-1").lower()
                  for line in relayed.split(b"\r\n")[1:] if b":" in line and line[:1] not in (b" ", b"\t")}
        side = "request" if name in REQUEST_INJECTIONS else "response"
        recorded = {h["name"].lower() for h in got.entry[side]["headers"]}
        assert recorded <= strict, (name, recorded - strict)
        if "set-cookie" in recorded:
            assert name.endswith("bare-lf-in-value"), name  # the one case where Set-Cookie really is its own line


# -- 4. request smuggling ---------------------------------------------------------------------------------------------

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
SMUGGLING = {
    # name: (headers after Host, body, what the client's 400 says, what the HAR's error says). mitmproxy refuses some
    # shapes twice: its HTTP/1 reader answers the client, its header validation sets the flow's error.
    "cl-te": (b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n" + SMUGGLED,
              "both transfer-encoding and content-length", "both transfer-encoding and content-length"),
    "te-cl": (b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n",
              (b"5c\r\nGPOST /smuggled HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
               b"Content-Length: 15\r\n\r\nx=1\r\n0\r\n\r\n"),
              "both transfer-encoding and content-length", "both transfer-encoding and content-length"),
    "two-content-lengths": (b"Content-Length: 0\r\nContent-Length: %d\r\n" % len(SMUGGLED), SMUGGLED,
                            f"invalid content-length header: '0, {len(SMUGGLED)}'",
                            f"multiple content-length headers: [b'0', b'{len(SMUGGLED)}']"),
    "te-chunked-identity": (b"Transfer-Encoding: chunked, identity\r\n", b"0\r\n\r\n" + SMUGGLED,
                            "unknown transfer-encoding header: 'chunked, identity'",
                            "unknown transfer-encoding header: b'chunked, identity'"),
    "te-chunked-identity-with-cl": (b"Transfer-Encoding: chunked, identity\r\nContent-Length: 5\r\n",
                                    b"0\r\n\r\n" + SMUGGLED, "unknown transfer-encoding header: 'chunked, identity'",
                                    "both transfer-encoding and content-length"),
    "te-space-before-colon": (b"Content-Length: 5\r\nTransfer-Encoding : chunked\r\n", b"0\r\n\r\n" + SMUGGLED,
                              "invalid header name: b'Transfer-Encoding '", "invalid header name: b'Transfer-Encoding '"),
}


@pytest.fixture(scope="module")
def smuggling(tmp_path_factory, http_origin) -> tuple[RawOrigin, dict[str, bytes], dict]:
    tmp = tmp_path_factory.mktemp("smuggling")
    proxy = ProxyProcess(tmp / "home", "--quiet", har=tmp / "smuggling.har")
    origin = RawOrigin()
    replies = {}
    try:
        for name, (headers, body) in ((n, s[:2]) for n, s in SMUGGLING.items()):
            replies[name] = raw_exchange(proxy.port, b"POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n%s"
                                         % (origin.url(f"/{name}").encode(), origin.port, headers, body))
        assert_still_serves(proxy, http_origin, "smuggling")
        time.sleep(0.5)  # anything smuggled would have reached the origin by now
    finally:
        origin.close()
        assert proxy.stop() == 0
    har = proxy.har()
    assert_valid_har(har)
    return origin, replies, har


def test_no_smuggling_shape_reaches_the_origin(smuggling):
    origin, replies, har = smuggling
    assert origin.requests == [] and all(not raw for raw in origin.received), \
        "mitmproxy refuses every shape before connecting upstream"
    assert b"/smuggled" not in b"".join(origin.received)
    for name, reply in replies.items():
        assert reply.count(b"HTTP/1.1 ") <= 1, (name, reply)  # never a second response to the smuggled request
    attempts = [e for e in har["log"]["entries"] if e["request"]["method"] == "POST"]
    assert len(attempts) == len(SMUGGLING), "one entry per attempt"
    assert not [e for e in har["log"]["entries"] if "smuggled" in e["request"]["url"]], "none for a smuggled request"


@pytest.mark.parametrize("name", [
    "cl-te",
    pytest.param("te-cl", marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
        "TE.CL (the bytes after the refused head hold another complete head): the client's connection is closed "
        "with no response at all, not a 400 saying why. mitmproxy's HTTP/1 server reads on into the body while the "
        "requestheaders hook that refuses the message is pending, fails on the chunk header 'GPOST /smuggled...' "
        "and closes the connection before the 400 is written (mitmproxy/proxy/layers/http/__init__.py "
        "handle_protocol_error: the 400 becomes 'killed', 444)"))),
    "two-content-lengths",
    "te-chunked-identity",
    "te-chunked-identity-with-cl",
    "te-space-before-colon",
])
def test_a_smuggling_attempt_gets_a_400_naming_the_problem_and_the_har_says_so(smuggling, name):
    _, replies, har = smuggling
    _, _, client_says, har_says = SMUGGLING[name]
    reply = replies[name]
    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n"), reply[:300]
    assert client_says.replace("'", "&#x27;").encode() in reply, reply
    entry = har_entry(har, f"/{name}")
    assert entry["response"]["status"] == 0, "no origin answered"
    assert entry["response"]["_errorKind"] == "protocol"
    assert har_says in entry["_error"], entry["_error"]
    assert entry["request"]["method"] == "POST"


@pytest.mark.parametrize("name", [
    "cl-te",
    "te-cl",
    "two-content-lengths",
    "te-chunked-identity",
    "te-chunked-identity-with-cl",
    "te-space-before-colon",
])
def test_the_har_proxy_status_is_what_the_client_received(smuggling, name):
    _, replies, har = smuggling
    reply = replies[name]
    sent = int(reply.split(b" ")[1]) if reply.startswith(b"HTTP/1.1 ") else None
    assert har_entry(har, f"/{name}")["response"].get("_proxyStatus") == sent, reply[:40]


def test_the_har_error_for_a_smuggling_attempt_gives_no_advice_about_mitmproxy_options(smuggling):
    """mitmproxy appends 'Disable the validate_inbound_headers option to skip this security check.': an option
    proxylens does not expose. proxy/snapshot.py cuts such advice."""
    _, _, har = smuggling
    for entry in har["log"]["entries"]:
        if entry["request"]["method"] == "POST":
            assert "validate_inbound_headers" not in entry["_error"], entry["_error"]
            assert entry["_error"].endswith("refusing to prevent request smuggling attacks.") or \
                "from client" not in entry["_error"], entry["_error"]


# -- 5. many distinct host names --------------------------------------------------------------------------------------

HOSTS = 300


def test_300_distinct_host_names_each_get_their_own_leaf_certificate(start_proxy, http_origin, tmp_path):
    """CONNECT 127.0.0.1:PORT, then TLS with a different SNI each time (h{i}.hostile.test need not resolve):
    mitmproxy signs a leaf per name (its certificate cache is capped at 100)."""
    certs = make_origin_certs(tmp_path / "wildcard-origin", hostnames=("localhost", "*.hostile.test"))
    origin = Origin(str(certs.cert_pem), str(certs.key_pem))
    proxy, tree = started(start_proxy, http_origin, "--upstream-ca", str(certs.ca_pem), trust_origin=False)
    ctx = ssl.create_default_context(cafile=str(proxy.ca))  # checks that the leaf names the SNI, too

    def visit(i: int) -> tuple[str, bytes, tuple, bytes]:
        name = f"h{i}.hostile.test"
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=60) as s:
            s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (origin.port, origin.port))
            head = b""
            while b"\r\n\r\n" not in head:
                head += s.recv(1)
            assert head.startswith(b"HTTP/1.1 200"), head
            with ctx.wrap_socket(s, server_hostname=name) as tls:
                der = tls.getpeercert(binary_form=True)
                sans = tls.getpeercert()["subjectAltName"]
                tls.sendall(f"GET /echo?i={i} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
                reply = b""
                while chunk := tls.recv(65536):
                    reply += chunk
        return name, der, sans, reply

    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(visit, range(HOSTS)))
    finally:
        origin.close()
    for i, (name, _, sans, reply) in enumerate(results):
        assert ("DNS", name) in sans
        assert reply.startswith(b"HTTP/1.1 200 OK"), reply[:200]
        assert b'"path": "/echo?i=%d"' % i in reply and f'"Host": "{name}"'.encode() in reply
    assert len({der for _, der, _, _ in results}) == HOSTS, "a leaf per name"
    measured(f"RSS growth after {HOSTS} distinct SNI names (MB)", tree.growth() // MB)
    assert tree.growth() < GENEROUS
    assert_still_serves(proxy, http_origin, "many-hosts")
    assert proxy.stop() == 0
    har = proxy.har()
    assert_valid_har(har)
    tls_entries = [e for e in har["log"]["entries"] if e["request"]["url"].startswith("https://")]
    assert len(tls_entries) == HOSTS
    hosts = {next(h["value"] for h in e["request"]["headers"] if h["name"] == "Host") for e in tls_entries}
    assert hosts == {f"h{i}.hostile.test" for i in range(HOSTS)}
    assert all(e["response"]["status"] == 200 for e in tls_entries)


# -- 6. slowloris -----------------------------------------------------------------------------------------------------

SLOW = 200
NORMAL = 10


def test_slowloris_connections_do_not_stop_normal_clients(start_proxy, http_origin):
    """Half the slow connections dribble their request line, the other half their headers (the request line and
    Host sent at once), one byte each every 200 ms, while normal clients come and go."""
    proxy, tree = started(start_proxy, http_origin)
    request_line = b"GET %s HTTP/1.1\r\n" % http_origin.url("/echo?slowloris=1").encode()
    headers = b"Host: 127.0.0.1:%d\r\nX-Slow-1: %s\r\nX-Slow-2: %s\r\n" % (http_origin.port, b"s" * 40, b"t" * 40)
    slow = [socket.create_connection(("127.0.0.1", proxy.port), timeout=60) for _ in range(SLOW)]
    dribbling = [request_line + headers if i % 2 == 0 else headers for i in range(SLOW)]
    for i, s in enumerate(slow):
        if i % 2:
            s.sendall(request_line)
    sent = 0
    stop = threading.Event()

    def trickle() -> None:  # one more byte on every connection every 200 ms
        nonlocal sent
        while not stop.is_set() and sent < len(headers):
            for s, data in zip(slow, dribbling):
                s.sendall(data[sent:sent + 1])
            sent += 1
            stop.wait(0.2)

    trickler = threading.Thread(target=trickle)
    trickler.start()
    try:
        for i in range(NORMAL):  # each on a new connection from a new client, while the trickle goes on
            with httpx.Client(proxy=proxy.url, trust_env=False, timeout=60) as c:
                r = c.get(http_origin.url(f"/echo?normal={i}"))
            assert r.status_code == 200 and r.json()["path"] == f"/echo?normal={i}"
            time.sleep(0.1)
        assert_still_serves(proxy, http_origin, "during-slowloris")
    finally:
        stop.set()
        trickler.join()
    measured(f"bytes each of {SLOW} slow connections had dribbled", sent)
    assert 0 < sent < len(headers)
    for s in slow:  # none was dropped: nothing to read yet
        s.setblocking(False)
        with pytest.raises(BlockingIOError):
            s.recv(1)
        s.setblocking(True)
    # half of them (of both kinds) finish their request and get their answer; the other half give up mid-way
    finished, abandoned = slow[:SLOW // 2], slow[SLOW // 2:]
    for s, data in zip(finished, dribbling):
        s.sendall(data[sent:] + b"Connection: close\r\n\r\n")
    for s in abandoned:
        s.close()
    for s in finished:
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
        s.close()
        assert reply.startswith(b"HTTP/1.1 200 OK") and b'"path": "/echo?slowloris=1"' in reply
    measured(f"RSS growth with {SLOW} slowloris connections (MB)", tree.growth() // MB)
    assert tree.growth() < GENEROUS
    assert_still_serves(proxy, http_origin, "after-slowloris")
    assert proxy.stop() == 0
    assert "Traceback" not in proxy.stderr
    har = proxy.har()
    assert_valid_har(har)
    urls = [e["request"]["url"] for e in har["log"]["entries"]]
    assert urls.count(http_origin.url("/echo?slowloris=1")) == SLOW // 2, "each finished slow request, once"
    assert sum("normal=" in u for u in urls) == NORMAL
    assert all(e["response"]["status"] == 200 for e in har["log"]["entries"])
