"""End to end: what ``proxylens proxy`` shows a user, in a real pseudo-terminal and in a pipe.

Real proxylens processes, real loopback origins (HTTP and HTTPS), real clients (curl, httpx). The terminal
is a pexpect pty of a chosen size read through pyte, a VT100 emulator (tests/support/terminal.py): the tests
read the screen as a user sees it, the raw bytes (control codes or none), and the colours of cells.

Every test uses its own PROXYLENS_HOME (so its own CA, created on first start). Clients are given CA files
explicitly (this sandbox exports SSL_CERT_FILE, CURL_CA_BUNDLE and friends globally).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pexpect  # noqa: F401 -- a missing pexpect or pyte must fail here, not skip
import pyte  # noqa: F401
import pytest

from tests.support.origin import Handler, Running
from tests.support.proctree import analysis_worker
from tests.support.proxyproc import PROXYLENS, proxylens_env
from tests.support.terminal import ProxyTerminal, tty_env

LIVE_HEADER = "proxylens  listening on"
FOOTER_HINT = "Ctrl-C stops the proxy and prints the summary"
HEADING = re.compile(r"^(?:time\s+)?method\s+st\s+host\s+path\b.*$")
PLAIN_LINE = re.compile(r"^\d\d:\d\d:\d\d (GET|POST|CONNECT) (\S+) -> (\d{3}|ERROR)\b")
# For clients: no proxy variables from the environment (the proxy is always given explicitly).
CLIENT_ENV = proxylens_env(Path("unused-home"))


# -- origins ------------------------------------------------------------------------------------------------------

class FastHandler(Handler):
    """The shared test origin's routes, plus /cached (fresh for 10 minutes) and a log of what arrived."""

    arrived: ClassVar[set[str]] = set()

    def _route(self) -> None:
        self.arrived.add(self.path)
        if self.path.startswith("/cached"):
            self._send(200, b"cached\n", {"Cache-Control": "max-age=600", "ETag": '"v1"'})
        else:
            super()._route()

    do_GET = do_POST = do_HEAD = _route


class FastOrigin(Running):
    def __init__(self, certfile: str | None = None, keyfile: str | None = None) -> None:
        super().__init__(ThreadingHTTPServer(("127.0.0.1", 0), FastHandler), certfile, keyfile)

    def url(self, path: str = "/") -> str:
        host = "localhost" if self.scheme == "https" else "127.0.0.1"
        return f"{self.scheme}://{host}:{self.port}{path}"


@pytest.fixture(scope="module")
def web():
    server = FastOrigin()
    yield server
    server.close()


@pytest.fixture(scope="module")
def tls_web(origin_certs):
    server = FastOrigin(str(origin_certs.cert_pem), str(origin_certs.key_pem))
    yield server
    server.close()


def dead_url(path: str = "/refused") -> str:
    """A loopback port nothing listens on: the proxy's connect is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


# -- proxies in a terminal ----------------------------------------------------------------------------------------

@pytest.fixture
def terminal(tmp_path: Path, origin_certs):
    """``terminal(*args, cols=, rows=, env_extra={}, history=)``: proxylens proxy in a pty, trusting the test
    origin's CA upstream; every one started is stopped (SIGINT, then SIGKILL) at the end."""
    started: list[ProxyTerminal] = []

    def start(*args: str, cols: int = 140, rows: int = 40, env_extra: dict[str, str] | None = None,
              history: int = 0) -> ProxyTerminal:
        home = tmp_path / f"home{len(started)}"
        term = ProxyTerminal(home, "--upstream-ca", str(origin_certs.ca_pem), *args, cols=cols, rows=rows,
                             env=tty_env(home, **(env_extra or {})), history=history)
        started.append(term)
        return term

    yield start
    for term in started:
        term.close()


def curl(proxy_url: str, url: str, cacert: Path, *extra: str) -> subprocess.CompletedProcess:
    """curl through the proxy; prints the status code. ``cacert`` is the only CA it trusts."""
    return subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-x", proxy_url,
                           "--cacert", str(cacert), "--max-time", "30", *extra, url],
                          capture_output=True, text=True, env=CLIENT_ENV, timeout=60,
                          check=False)


def client(term, **kw) -> httpx.Client:
    return httpx.Client(proxy=term.url, verify=ssl.create_default_context(cafile=str(term.ca)), trust_env=False,
                        timeout=30, **kw)


def table(lines: list[str]) -> tuple[list[str], list[dict[str, str]]]:
    """The live table on screen: its column headings and one dict per row (heading -> cell)."""
    start = next((i for i, line in enumerate(lines) if HEADING.match(line)), None)
    assert start is not None, "no table heading on screen:\n" + "\n".join(lines)
    headings = lines[start].split()
    rows = []
    for line in lines[start + 1:]:
        if line.startswith("most frequent:") or not line.strip():
            break
        cells = line.split(maxsplit=len(headings) - 1)
        if len(cells) == len(headings) - 1 and headings[-1] == "findings":
            cells.append("")  # no badges
        assert len(cells) == len(headings), f"a row that is not one table line: {line!r}"
        rows.append(dict(zip(headings, cells, strict=True)))
    return headings, rows


def har_urls(path: Path) -> list[str]:
    return [e["request"]["url"] for e in json.loads(path.read_text())["log"]["entries"]]


# -- 1. the live view ---------------------------------------------------------------------------------------------

def test_live_view_draws_each_exchange_counts_badges_footer_then_the_summary_on_ctrl_c(
        terminal, tmp_path, web, tls_web):
    har = tmp_path / "live.har"
    term = terminal("--har", str(har), cols=140, rows=40, history=500)
    header = term.wait_for(re.compile(r"proxylens  listening on (127\.0\.0\.1):(\d+) \(regular\)"))
    assert int(header.group(2)) == term.port, "the header shows the address the proxy announced"
    term.wait_for("exchanges 0 ")

    refused = dead_url()
    sent = [  # (url, status curl sees)
        (web.url("/status/200"), "200"),
        (web.url("/status/404?n=1"), "404"),
        (web.url("/status/404?n=2"), "404"),
        (web.url("/status/404?n=3"), "404"),
        (web.url("/status/500"), "500"),
        (tls_web.url("/set-cookie"), "200"),
        (tls_web.url("/status/200"), "200"),
        (refused, "502"),  # answered by the proxy: the origin refused the connection
    ]
    for url, status in sent:
        out = curl(term.url, url, term.ca)
        assert out.stdout == status, (url, out.stdout, out.stderr)

    term.wait_for("exchanges 8 ")
    lines = term.settled()
    screen = "\n".join(lines)
    assert re.search(r"exchanges 8\s+errors 1\s+findings 1 error\b", screen), screen
    assert screen.count(LIVE_HEADER) == 1 and screen.count(FOOTER_HINT) == 1, screen

    headings, rows = table(lines)
    assert headings == ["time", "method", "st", "host", "path", "dur", "size", "http", "tls", "findings"]
    assert [r["path"] for r in rows] == ["/status/200", "/status/404?n=1", "/status/404?n=2", "/status/404?n=3",
                                         "/status/500", "/set-cookie", "/status/200", "/refused"], screen
    by_path = {(r["host"], r["path"]): r for r in rows}
    plain = f"127.0.0.1:{web.port}"
    secure = f"localhost:{tls_web.port}"
    assert by_path[(plain, "/status/200")]["st"] == "200"
    assert by_path[(plain, "/status/200")]["findings"] == ""
    for n in (1, 2, 3):
        row = by_path[(plain, f"/status/404?n={n}")]
        assert row["st"] == "404" and row["findings"] == "stat", row
    error = by_path[(plain, "/status/500")]
    assert error["st"] == "500" and error["method"] == "GET" and error["http"] == "1.1"
    assert error["findings"].split() == ["cache", "stat"], f"badges of the 500, whole: {error}"
    for path in ("/set-cookie", "/status/200"):
        row = by_path[(secure, path)]
        assert row["st"] == "200" and row["tls"] in ("1.2", "1.3"), row
        assert "tls" in row["findings"].split(), row
    assert all(r["tls"] == "-" for r in rows if r["host"] != secure), "plain HTTP has no TLS version"
    gone = next(r for r in rows if r["path"] == "/refused")
    assert gone["st"] == "ERR" and gone["size"] == "-" and gone["findings"] == "stat", gone
    assert re.search(r"^most frequent: 3× status\.client-error\b", screen, re.MULTILINE), screen

    term.ctrl_c()
    assert term.wait_exit() == 0
    seen = "\n".join(term.history_lines())
    assert "proxylens: 8 exchanges (1 without response); findings: 1 error" in seen, seen
    summary = seen[seen.index("proxylens: 8 exchanges"):]
    assert re.search(r"^\s+1\s+error\s+status\.upstream-refused\s+on 127\.0\.0\.1$", summary, re.MULTILINE), summary
    assert re.search(r"^\s+3\s+info\s+status\.client-error\s+on 127\.0\.0\.1 \(3\)$", summary, re.MULTILINE), summary
    assert f"e.g. GET {refused}" in summary
    assert f"HAR written to {har} (8 entries)" in summary
    # The last frame stays above the summary, with the final counts.
    assert seen.count(LIVE_HEADER) == 1 and seen.index(LIVE_HEADER) < seen.index("proxylens: 8 exchanges")
    assert sorted(har_urls(har)) == sorted(url for url, _ in sent), "the HAR holds exactly the requests sent"


# -- 2. colour ----------------------------------------------------------------------------------------------------

def test_a_terminal_gets_colour_and_each_status_class_its_own(terminal, web):
    # NO_COLOR set but empty does not count (https://no-color.org: "present and not an empty string").
    term = terminal(cols=120, rows=30, env_extra={"NO_COLOR": ""})
    with client(term) as c:
        for path in ("/status/200", "/status/404", "/status/500"):
            c.get(web.url(path))
        c.get(dead_url("/nobody-home"))
    term.wait_for("exchanges 4 ")
    term.settled()
    assert b"\x1b[" in term.raw, "a colour terminal gets control codes"
    colours = {}
    for status, path in (("200", "/status/200"), ("404", "/status/404"), ("500", "/status/500"),
                         ("ERR", "/nobody-home")):
        found = term.find(path)
        assert found is not None, term.text()
        row = found[0]
        line = term.lines()[row]
        col = re.search(rf"\s{status}\s", line).start() + 1
        cell = term.cell(row, col)
        assert cell.data == status[0], (line, col)
        colours[status] = (cell.fg, cell.bold, cell.reverse)
    assert colours["500"][0] not in ("default", ""), f"the 500 is drawn in a colour: {colours}"
    assert colours["ERR"][2] or colours["ERR"][0] != "default", colours
    assert len({colours[s] for s in ("200", "404", "500", "ERR")}) == 4, f"one look per status class: {colours}"
    term.ctrl_c()
    assert term.wait_exit() == 0


# -- 3. messages of the proxy process above the table -------------------------------------------------------------

def test_messages_of_the_proxy_appear_above_the_table_none_lost_and_the_table_stays_whole(
        terminal, web, tls_web, origin_certs):
    term = terminal(cols=220, rows=40, history=1000)
    term.wait_for("exchanges 0 ")
    with client(term) as c:
        assert c.get(web.url("/status/200?before")).status_code == 200
    for i in range(3):  # a client that does not trust the proxylens CA: mitmproxy warns each time
        out = curl(term.url, tls_web.url(f"/untrusted{i}"), origin_certs.ca_pem)
        assert out.returncode != 0 and "certificate" in out.stderr.lower(), out
    with client(term) as c:
        assert c.get(web.url("/status/200?after")).status_code == 200
    term.wait_for("exchanges 5 ")
    term.wait_for("Client TLS handshake failed", count=3, raw=True)
    term.settled()

    lines = term.history_lines()
    warnings = [i for i, line in enumerate(lines) if "Client TLS handshake failed" in line]
    assert len(warnings) == 3, "\n".join(lines)
    assert all("does not trust the proxy's certificate" in lines[i] for i in warnings)
    assert term.raw_text().count("Client TLS handshake failed") == 3, "each message printed once"
    headers = [i for i, line in enumerate(lines) if LIVE_HEADER in line]
    assert len(headers) == 1, "the live view is drawn in place, never scrolled:\n" + "\n".join(lines)
    assert max(warnings) < headers[0], "messages are printed above the table:\n" + "\n".join(lines)
    assert sum(FOOTER_HINT in line for line in lines) == 1
    assert sum(bool(HEADING.match(line)) for line in lines) == 1
    _, rows = table(term.lines())
    assert [r["method"] for r in rows] == ["GET", "CONNECT", "CONNECT", "CONNECT", "GET"], term.text()
    assert [r["st"] for r in rows] == ["200", "ERR", "ERR", "ERR", "200"]
    assert all(r["findings"] == "tls" for r in rows if r["method"] == "CONNECT")

    # proxylens's own message at shutdown: an exchange still waiting for its origin after the grace period.
    slow = web.url("/slow?ms=8000&tag=unfinished")
    result: list = []

    def fetch() -> None:
        with client(term) as c:
            try:
                result.append(c.get(slow).status_code)
            except httpx.HTTPError as exc:
                result.append(type(exc).__name__)

    thread = threading.Thread(target=fetch, daemon=True)
    thread.start()
    term.wait_until(lambda: "/slow?ms=8000&tag=unfinished" in FastHandler.arrived, 30, "the slow request arrived")
    term.ctrl_c()
    assert term.wait_exit() == 0
    thread.join(30)
    lines = term.history_lines()
    seen = "\n".join(lines)
    notice = [i for i, line in enumerate(lines) if "recorded 1 unfinished exchange(s) as errors" in line]
    assert len(notice) == 1, seen
    summary = next(i for i, line in enumerate(lines) if line.startswith("proxylens: 6 exchanges"))
    assert notice[0] < summary, seen
    assert "proxylens: 6 exchanges (4 without response)" in seen
    assert seen.count(LIVE_HEADER) == 1 and seen.count(FOOTER_HINT) == 1, seen
    assert seen.count("Client TLS handshake failed") == 3, seen


def test_messages_during_a_burst_are_each_printed_once_above_a_table_drawn_in_place(terminal, web, tls_web,
                                                                                    origin_certs):
    term = terminal(cols=220, rows=30, history=3000)
    term.wait_for("exchanges 0 ")
    burst, untrusted = 400, 10
    failures: list[str] = []

    def traffic() -> None:
        with httpx.Client(proxy=term.url, trust_env=False, timeout=30) as c:
            for i in range(burst):
                if c.get(web.url(f"/status/200?burst={i}")).status_code != 200:
                    failures.append(str(i))

    thread = threading.Thread(target=traffic)
    thread.start()
    wrong_ca = ssl.create_default_context(cafile=str(origin_certs.ca_pem))  # not the proxylens CA
    for i in range(untrusted):
        with pytest.raises(httpx.ConnectError):
            httpx.get(tls_web.url(f"/untrusted{i}"), proxy=term.url, verify=wrong_ca, trust_env=False, timeout=30)
    thread.join(60)
    assert not failures
    term.wait_for(f"exchanges {burst + untrusted} ", timeout=60)
    term.wait_for("Client TLS handshake failed", count=untrusted, raw=True)
    term.settled()
    lines = term.history_lines()
    warnings = [i for i, line in enumerate(lines) if "Client TLS handshake failed" in line]
    headers = [i for i, line in enumerate(lines) if LIVE_HEADER in line]
    assert len(warnings) == untrusted and term.raw_text().count("Client TLS handshake failed") == untrusted
    assert len(headers) == 1 and max(warnings) < headers[0], "\n".join(lines)
    assert sum(bool(HEADING.match(line)) for line in lines) == 1
    _, rows = table(term.lines())  # still a whole table, one line per row
    assert len(rows) >= 10 and all(r["method"] in ("GET", "CONNECT") for r in rows), term.text()
    term.ctrl_c()
    assert term.wait_exit() == 0
    assert f"proxylens: {burst + untrusted} exchanges ({untrusted} without response)" in term.text()


# -- 4. the other modes in a terminal -----------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["NO_COLOR=1", "--no-color", "TERM=dumb"])
def test_plain_lines_without_any_control_code_in_a_terminal(terminal, web, tls_web, how):
    args, env = ([how], {}) if how.startswith("--") else ([], dict([how.split("=")]))
    term = terminal(*args, cols=100, rows=30, env_extra=env)
    urls = [web.url("/status/200"), web.url("/status/500"), tls_web.url("/set-cookie"), dead_url()]
    with client(term) as c:
        for url in urls:
            c.get(url)
    term.wait_for(re.compile(r"-> ERROR"), raw=True)
    term.ctrl_c()
    assert term.wait_exit() == 0
    assert b"\x1b" not in term.raw, "no control code at all"
    out = term.raw.decode()
    lines = [line for line in out.split("\r\n") if PLAIN_LINE.match(line)]
    assert [PLAIN_LINE.match(line).group(2) for line in lines] == urls, "one line per request, in order:\n" + out
    assert " -> 500 Internal Server Error " in lines[1]
    assert lines[1].endswith("| warning: status.server-error: The origin answered 500 Internal Server Error")
    assert " -> 200 OK " in lines[2] and "-> ERROR connect" in lines[3]
    assert "proxylens: 4 exchanges (1 without response)" in out
    assert LIVE_HEADER not in out and FOOTER_HINT not in out


def test_quiet_in_a_terminal_prints_only_the_summary(terminal, web):
    term = terminal("--quiet", cols=120, rows=30)
    with client(term) as c:
        for path in ("/status/200?q=1", "/status/404?q=2", "/status/500?q=3"):
            c.get(web.url(path))
    term.ctrl_c()
    assert term.wait_exit() == 0
    out = term.raw_text()
    assert "proxylens: 3 exchanges (0 without response)" in term.text()
    before = out[:out.index("proxylens: 3 exchanges")]
    assert "/status/" not in before and "q=" not in before, "nothing per exchange:\n" + before
    assert LIVE_HEADER not in out and FOOTER_HINT not in out


def test_explain_in_a_terminal_prints_a_tree_of_facts_and_findings(terminal, web, tls_web):
    term = terminal("--explain", cols=160, rows=60, history=1000)
    with client(term) as c:
        assert c.get(web.url("/cached")).status_code == 200
        assert c.get(web.url("/status/500"), headers={"Origin": "http://app.example"}).status_code == 500
        assert c.get(tls_web.url("/status/200?tls")).status_code == 200
    term.wait_for(f"GET {tls_web.url('/status/200?tls')} 200 OK")
    term.ctrl_c()
    assert term.wait_exit() == 0
    assert b"\x1b[" in term.raw, "a terminal gets a coloured tree"
    seen = "\n".join(term.history_lines())
    cached = seen[seen.index(f"GET {web.url('/cached')} 200 OK"):seen.index(f"GET {web.url('/status/500')}")]
    assert "├── status: 200 OK: the request succeeded" in cached
    assert re.search(r"caching: fresh for 10 ?min", cached), cached
    assert "cors: does not apply" in cached
    error = seen[seen.index(f"GET {web.url('/status/500')} 500 Internal Server Error"):
                 seen.index(f"GET {tls_web.url('/status/200?tls')}")]
    assert "status: 500 Internal Server Error: the server hit an unexpected condition" in error
    assert "cors: blocked — the response has no Access-Control-Allow-Origin" in error, error
    assert "request from http://app.example" in error
    assert "└── findings" in error
    assert re.search(r"error\s+cors\.missing-allow-origin\s+The response has no Access-Control-Allow-Origin", error)
    assert "see https://fetch.spec.whatwg.org/#cors-check" in error
    assert "Make the intent explicit with Cache-Control" in error, "a finding's fix"
    assert re.search(r"warning\s+status\.server-error\s+The origin answered 500", error), error
    assert "see https://www.rfc-editor.org/rfc/rfc9110#section-15.6" in error
    secure = seen[seen.index(f"GET {tls_web.url('/status/200?tls')} 200 OK"):]
    assert re.search(r"tls: upstream: TLSv1\.[23]", secure) and "certificate verified" in secure, secure
    assert "proxylens: 3 exchanges" in secure


class EvilHandler(FastHandler):
    """An origin whose reason phrase carries terminal control sequences."""

    def _route(self) -> None:
        self.send_response(500, f"Oops{INJECTED}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = _route


# Set the window title, clear the screen, move the cursor home: what a hostile client or origin could send.
INJECTED = "\x1b]0;pwned\x07\x1b[2J\x1b[H"


@pytest.mark.parametrize("mode", ["NO_COLOR=1", "live", "--explain"])
def test_control_sequences_in_traffic_never_reach_the_terminal(terminal, mode):
    evil = Running(ThreadingHTTPServer(("127.0.0.1", 0), EvilHandler))
    try:
        args, env = {"NO_COLOR=1": ([], {"NO_COLOR": "1"}), "live": ([], {}), "--explain": (["--explain"], {})}[mode]
        term = terminal(*args, cols=160, rows=40, env_extra=env)
        target = f"http://127.0.0.1:{evil.port}/p{INJECTED}q"
        with socket.create_connection(("127.0.0.1", term.port), timeout=30) as s:
            s.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{evil.port}\r\nConnection: close\r\n\r\n"
                      .encode())
            answer = s.recv(4096)
        assert answer.startswith(b"HTTP/1.1 500 Oops"), answer  # the proxy let it through: now it is shown
        term.ctrl_c()
        assert term.wait_exit() == 0
        raw = bytes(term.raw)
        assert b"proxylens: 1 exchanges" in raw
        for sequence in ("\x1b]0;", "\x1b[2J", "\x1b[H"):
            assert sequence.encode() not in raw, f"{sequence!r} reached the terminal: {raw[-1500:]!r}"
        if mode == "NO_COLOR=1":
            assert b"\x1b" not in raw
    finally:
        evil.close()


# -- 5. not a terminal ---------------------------------------------------------------------------------------------

def _traffic(proxy, web, tls_web) -> list[str]:
    urls = [web.url("/status/200"), web.url("/status/404"), web.url("/status/500"), tls_web.url("/status/200")]
    with httpx.Client(proxy=proxy.url, verify=ssl.create_default_context(cafile=str(proxy.ca)), trust_env=False,
                      timeout=30) as c:
        for url in urls:
            c.get(url)
    return urls


def test_a_pipe_gets_plain_lines_without_control_codes(start_proxy, web, tls_web):
    proxy = start_proxy(har=False)
    urls = _traffic(proxy, web, tls_web)
    assert proxy.stop() == 0
    assert "\x1b" not in proxy.stdout and "\x1b" not in proxy.stderr
    lines = [line for line in proxy.stdout.splitlines() if PLAIN_LINE.match(line)]
    assert [PLAIN_LINE.match(line).group(2) for line in lines] == urls, proxy.stdout
    assert [PLAIN_LINE.match(line).group(3) for line in lines] == ["200", "404", "500", "200"]
    assert "proxylens: 4 exchanges (0 without response)" in proxy.stdout


def test_explain_no_color_in_a_pipe_prints_trees_without_control_codes(start_proxy, web, tls_web):
    proxy = start_proxy("--explain", "--no-color", har=False)
    urls = _traffic(proxy, web, tls_web)
    assert proxy.stop() == 0
    out = proxy.stdout
    assert "\x1b" not in out and "\x1b" not in proxy.stderr
    for url, status in zip(urls, ("200 OK", "404 Not Found", "500 Internal Server Error", "200 OK"), strict=True):
        assert f"GET {url} {status}" in out, out
    assert out.count("├── status: ") == 4 and out.count("cors: does not apply") == 4
    assert "404 Not Found: the server has no current representation" in out
    assert re.search(r"tls: upstream: TLSv1\.[23]", out)
    assert out.count("└── findings") >= 3 and "see https://" in out
    assert "proxylens: 4 exchanges" in out


@pytest.mark.parametrize("option, shown", [
    (("--filter", "~c 500"), 2),  # _traffic's third URL
    (("--host", "local*"), 3),  # the HTTPS origin is localhost, the HTTP one 127.0.0.1
])
def test_display_filters_choose_the_lines_while_the_summary_counts_everything(start_proxy, web, tls_web, option,
                                                                              shown):
    proxy = start_proxy(*option)
    urls = _traffic(proxy, web, tls_web)
    assert proxy.stop() == 0
    lines = [line for line in proxy.stdout.splitlines() if PLAIN_LINE.match(line)]
    got = [PLAIN_LINE.match(line).group(2) for line in lines]
    assert got == [urls[shown]], proxy.stdout
    assert "proxylens: 4 exchanges (0 without response)" in proxy.stdout, "the summary counts every exchange"
    assert len(proxy.har()["log"]["entries"]) == 4, "and so does the HAR"


def test_the_live_view_says_it_is_filtered_and_shows_only_matching_rows(terminal, web):
    term = terminal("--filter", "~c 404", cols=120, rows=30)
    with client(term) as c:
        for path in ("/status/200", "/status/404", "/status/500", "/status/404?again"):
            c.get(web.url(path))
    term.wait_for("exchanges 4 ")
    term.wait_for("showing 2 (filtered)")
    _, rows = table(term.settled())
    assert [(r["st"], r["path"]) for r in rows] == [("404", "/status/404"), ("404", "/status/404?again")]
    term.ctrl_c()
    assert term.wait_exit() == 0
    assert "proxylens: 4 exchanges" in term.text()


def test_a_bad_filter_exits_2_before_listening_with_a_clear_message(tmp_path):
    out = subprocess.run([PROXYLENS, "proxy", "--listen-port", "0", "--filter", "~c"], capture_output=True,
                         text=True, env=proxylens_env(tmp_path / "home"), timeout=60, check=False)
    assert out.returncode == 2, out
    assert "listening on" not in out.stderr + out.stdout
    assert "proxylens: error: argument --filter: Invalid filter expression: '~c'" in out.stderr, out.stderr
    assert "mitmproxy's filter language" in out.stderr


# -- 6. run ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("explain", [True, False])
def test_run_is_quiet_by_default_and_explains_the_commands_traffic_with_explain(tmp_path, origin_certs, web,
                                                                               tls_web, explain):
    work = tmp_path / "work"  # no policy file here: the default policy
    work.mkdir()
    urls = [web.url("/status/500"), tls_web.url("/set-cookie")]
    argv = [PROXYLENS, "run", *(["--explain"] if explain else []), "--upstream-ca", str(origin_certs.ca_pem), "--",
            "curl", "-sS", "--max-time", "30", "-o", "/dev/null", "-o", "/dev/null", *urls]
    out = subprocess.run(argv, capture_output=True, text=True, env=proxylens_env(tmp_path / "home"), cwd=work,
                         timeout=120, check=False)
    assert out.returncode == 0, out
    assert "\x1b" not in out.stdout
    assert "proxylens: 2 exchanges (0 without response)" in out.stdout
    trees = [line for line in out.stdout.splitlines() if line.startswith("GET ")]
    if explain:
        assert [re.sub(r"\s+\d+ ms, \S+$", "", t) for t in trees] == [
            f"GET {urls[0]} 500 Internal Server Error", f"GET {urls[1]} 200 OK"], out.stdout
        assert "status: 500 Internal Server Error: the server hit an unexpected condition" in out.stdout
        assert "cors: does not apply" in out.stdout and re.search(r"tls: upstream: TLSv1\.[23]", out.stdout)
        assert "see https://www.rfc-editor.org/rfc/rfc9110#section-15.6" in out.stdout
    else:
        assert trees == [], out.stdout
        before = out.stdout[:out.stdout.index("proxylens: 2 exchanges")]
        assert "/status/500" not in before and "/set-cookie" not in before, "nothing per exchange"


# -- 7. terminal size and bursts -----------------------------------------------------------------------------------

def test_a_narrow_terminal_and_a_burst_of_300_keep_one_line_per_row_and_the_header_once(terminal, web, tls_web):
    cols, height = 80, 24
    term = terminal(cols=cols, rows=height, history=3000)
    term.wait_for("exchanges 0 ")
    with client(term) as c:
        for i in range(300):
            target = tls_web if i % 10 == 0 else web
            c.get(target.url(("/status/500", "/status/404", "/set-cookie")[i % 3] + f"?i={i}"))
        c.get(web.url("/last"))
    term.wait_for("exchanges 301 ", timeout=60)
    screen = term.settled()
    assert len(screen) == height
    text = "\n".join(screen)
    assert text.count(LIVE_HEADER) == 1 and text.count(FOOTER_HINT) == 1, text
    # The live view takes the whole screen but one spare line (rich scrolls when a frame is exactly as tall).
    assert any(line.startswith(LIVE_HEADER) for line in screen[:2]), "the live view fills the screen:\n" + text
    headings, rows = table(screen)  # every row parses as one line of the table's columns
    assert {"method", "st", "host", "path", "findings"} <= set(headings), headings
    assert 10 <= len(rows) <= height - 4, text
    # The newest exchanges at the bottom: i=298 (404), 299 (/set-cookie, 200), then /last (404).
    assert [(r["st"], r["path"][:11]) for r in rows[-3:]] == [("404", "/status/404"), ("200", "/set-cookie"),
                                                              ("404", "/last")], rows
    for row in rows:
        assert row["method"] == "GET" and re.fullmatch(r"\d{3}", row["st"]), row
        assert row["path"].startswith(("/", "…")), row
        if row["st"] == "500":
            assert row["findings"].split()[:2] == ["cache", "stat"], f"badges whole in 80 columns: {row}"
    # Nothing of the burst scrolled into the terminal's history: the frame was redrawn in place.
    everything = term.history_lines()
    assert sum(LIVE_HEADER in line for line in everything) == 1, "\n".join(everything)
    assert sum(bool(HEADING.match(line)) for line in everything) == 1

    term.ctrl_c()
    assert term.wait_exit() == 0
    assert "proxylens: 301 exchanges (0 without response)" in term.text()


def test_badges_are_never_cut_by_the_right_edge(terminal, web, tls_web):
    """The widest findings cell ends at the terminal's last column, not one past it."""
    term = terminal(cols=120, rows=30)
    with client(term) as c:
        c.get(tls_web.url("/status/500"))  # cache + stat + tls: the widest badges
        c.get(web.url("/status/404"))
    term.wait_for("exchanges 2 ")
    _, rows = table(term.settled())
    assert rows[0]["findings"] == "cache stat tls", rows
    assert rows[1]["findings"] == "stat", rows
    term.ctrl_c()
    assert term.wait_exit() == 0


# -- 8. the live view under load ----------------------------------------------------------------------------------

def test_2000_requests_from_concurrent_clients_through_the_live_view_are_all_recorded(terminal, tmp_path, web):
    har = tmp_path / "load.har"
    term = terminal("--har", str(har), cols=120, rows=40, history=2000)
    term.wait_for("exchanges 0 ")
    total, workers = 2000, 8
    failures: list[str] = []

    def work(k: int) -> None:
        with httpx.Client(proxy=term.url, trust_env=False, timeout=60) as c:
            for i in range(k, total, workers):
                try:
                    r = c.get(web.url(f"/status/200?n={i}"))
                    if r.status_code != 200:
                        failures.append(f"{i}: {r.status_code}")
                except httpx.HTTPError as exc:
                    failures.append(f"{i}: {exc!r}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures[:10]
    term.wait_for(f"exchanges {total} ", timeout=60)
    term.ctrl_c()
    assert term.wait_exit() == 0
    seen = "\n".join(term.history_lines())
    assert f"proxylens: {total} exchanges (0 without response)" in seen
    assert f"HAR written to {har} ({total} entries)" in seen
    assert seen.count(LIVE_HEADER) == 1, "the live view never scrolled"
    urls = har_urls(har)
    assert len(urls) == total
    assert sorted(urls) == sorted(web.url(f"/status/200?n={i}") for i in range(total))


def test_a_killed_worker_during_the_live_view_is_replaced_and_the_view_comes_back(terminal, web, tmp_path):
    har = tmp_path / "killed.har"
    term = terminal("--har", str(har))
    term.wait_for("exchanges 0 ")
    with client(term) as c:
        c.get(web.url("/status/200?before"))
        term.wait_for("exchanges 1 ")
        first = analysis_worker(term.child.pid)
        os.kill(first, signal.SIGKILL)
        term.wait_for("the analysis worker is back", timeout=60)  # the new worker's view shows the proxy's note
        assert c.get(web.url("/status/200?after")).status_code == 200
        term.wait_for("/status/200?after", timeout=30)
    assert analysis_worker(term.child.pid) != first
    term.ctrl_c()
    assert term.wait_exit() == 0
    raw = bytes(term.raw)
    assert b"the analysis worker died (exit code -9); restarting it" in raw
    seen = "\n".join(term.history_lines())
    assert "proxylens: 2 exchanges (0 without response)" in seen  # the dead worker's exchange is counted in
    assert sorted(har_urls(har)) == [web.url("/status/200?after"), web.url("/status/200?before")]
    # rich hid the cursor while drawing; it is shown again at the end.
    assert raw.rfind(b"\x1b[?25h") > raw.rfind(b"\x1b[?25l") >= 0
