"""Bad input and failures: the proxy keeps serving, nothing is lost, the user
is told what went wrong."""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
from types import SimpleNamespace

import httpx
from mitmproxy.test import tflow

from proxy.bridge import BACKLOG_BODIES_LIMIT, Bridge
from proxy.snapshot import BodyCapture
from tests.harschema import assert_valid_har
from tests.support.proxyproc import PROXYLENS, proxylens_env


def one_shot_origin(response: bytes) -> int:
    """A raw origin that answers one request with exactly *response* bytes
    (for what http.server will not send: bad header bytes, bombs)."""
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(response)

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1]


class ListQueue(list):
    def put_nowait(self, item) -> None:
        self.append(item)


def test_the_bridge_drops_bodies_not_exchanges_when_analysis_falls_behind():
    sent = ListQueue()
    bridge = Bridge(sent, BodyCapture("all"), processed=SimpleNamespace(value=0))
    flow = tflow.tflow(resp=True)
    bridge.response(flow)
    assert sent[-1].response.body.raw == flow.response.raw_content
    bridge.sent = BACKLOG_BODIES_LIMIT + 10  # the worker has processed none of them
    bridge.response(tflow.tflow(resp=True))
    assert sent[-1].response is not None and sent[-1].response.body.raw is None
    assert sent[-1].response.body.size == len(flow.response.raw_content)
    assert bridge.bodies_dropped == 1


def test_a_flow_that_cannot_be_snapshotted_does_not_break_the_hook(caplog):
    sent = ListQueue()
    bridge = Bridge(sent, BodyCapture())
    flow = tflow.tflow(resp=True)
    flow.request.timestamp_start = "not a number"  # type: ignore[assignment]
    bridge.response(flow)  # must not raise into mitmproxy
    assert not sent and "could not record" in caplog.text


def test_a_script_that_exits_while_loading_is_a_clear_error(tmp_path):
    script = tmp_path / "quits.py"
    script.write_text("import sys\nsys.exit(0)\n")
    out = subprocess.run([PROXYLENS, "proxy", "--listen-port", "0", "-s", str(script)], capture_output=True,
                         text=True, timeout=60, env=proxylens_env(tmp_path))
    assert out.returncode == 2 and "called sys.exit(0) while loading" in out.stderr


def test_scripts_import_their_neighbours_and_name_clashes_are_usage_errors(tmp_path):
    (tmp_path / "helper_mod.py").write_text("NAME = 'status'\n")
    script = tmp_path / "clash.py"
    script.write_text(
        "from helper_mod import NAME\n"
        "from proxy.analyzer import analyzer\n"
        "@analyzer(NAME)\n"
        "def clash(exchange, session):\n"
        "    return None\n"
    )
    har = tmp_path / "one.har"
    har.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "t", "version": "1"}, "entries": []}}))
    out = subprocess.run([PROXYLENS, "analyze", str(har), "-s", str(script)], capture_output=True, text=True,
                         timeout=60, env=proxylens_env(tmp_path))
    assert out.returncode == 2, out.stderr
    assert "two analyzers are named 'status': one built in, one from -s" in out.stderr


def test_nan_facts_and_odd_headers_still_give_a_valid_har(start_proxy, tmp_path):
    script = tmp_path / "nan.py"
    script.write_text(
        "from proxy.analyzer import Analysis, analyzer\n"
        "@analyzer('ratio')\n"
        "def ratio(exchange, session):\n"
        "    return Analysis(facts={'ratio': float('nan')})\n"
    )
    # an origin that sends latin-1 header bytes (not UTF-8), as old servers do
    port = one_shot_origin(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Name: M\xfcller\r\n"
                           b"Content-Disposition: attachment; filename=\"caf\xe9.txt\"\r\n\r\nok")
    proxy = start_proxy("-s", str(script))
    with httpx.Client(proxy=proxy.url, trust_env=False, timeout=30) as c:
        assert c.get(f"http://127.0.0.1:{port}/latin1").text == "ok"
    proxy.stop()
    har = proxy.har()
    assert_valid_har(har)
    (entry,) = har["log"]["entries"]
    headers = {h["name"]: h["value"] for h in entry["response"]["headers"]}
    assert headers["X-Name"] == "M\ufffdller"
    assert "ratio" not in entry["_proxylens"]["facts"]
    errors = [f for f in entry["_proxylens"]["findings"] if f["rule"] == "proxylens.analyzer-error"]
    assert errors and "not JSON" in errors[0]["summary"]


def test_a_gzip_bomb_is_cut_at_max_body(start_proxy, tmp_path):
    bomb = gzip.compress(b"{" + b" " * (20 * 1024 * 1024) + b"}")
    port = one_shot_origin(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                           + f"Content-Length: {len(bomb)}\r\n\r\n".encode() + bomb)
    proxy = start_proxy("--max-body", "64k")
    with httpx.Client(proxy=proxy.url, trust_env=False, timeout=30) as c:
        assert len(c.get(f"http://127.0.0.1:{port}/bomb").content) == 20 * 1024 * 1024 + 2
    proxy.stop()
    content = proxy.har()["log"]["entries"][0]["response"]["content"]
    assert content["_truncated"] is True
    assert len(content["text"]) == 64 * 1024
    assert proxy.har_path.stat().st_size < 1024 * 1024


def test_secrets_in_summaries_errors_and_page_titles_are_redacted(start_proxy, http_origin):
    proxy = start_proxy()
    loop_url = http_origin.url("/status/302?location=/status/302%3Flocation%3D/x&token=SEKRIT1")
    with httpx.Client(proxy=proxy.url, trust_env=False, timeout=30) as c:
        c.get(http_origin.url("/status/200?code=OAUTHCODE2"), headers={"Accept": "text/html"})
        c.get(loop_url)
    proxy.stop()
    text = proxy.har_path.read_text()
    assert_valid_har(json.loads(text))
    assert "OAUTHCODE2" not in text and "SEKRIT1" not in text
    assert "OAUTHCODE2" not in proxy.stdout and "SEKRIT1" not in proxy.stdout
    assert json.loads(text)["log"]["pages"][0]["title"].endswith("code=[redacted]")


def test_a_har_that_cannot_be_written_is_reported_and_the_proxy_keeps_serving(tmp_path, http_origin):
    import resource

    from tests.support.proxyproc import ProxyProcess

    def small_files() -> None:  # as if the disk filled up: writes beyond 64 KiB fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    har = tmp_path / "full.har"
    proxy = ProxyProcess(tmp_path / "home", har=har, preexec_fn=small_files)
    with httpx.Client(proxy=proxy.url, trust_env=False, timeout=30) as c:
        for i in range(40):
            assert c.get(http_origin.url(f"/bytes?n=3000&i={i}")).status_code == 200
            c.get(http_origin.url(f"/echo?i={i}&pad={'x' * 2000}"))
    assert proxy.stop() == 3
    assert "cannot write" in proxy.stderr and "no more entries will be recorded" in proxy.stderr
    assert "HAR incomplete" in proxy.stdout
    out = subprocess.run([PROXYLENS, "analyze", str(har), "--json"], capture_output=True, text=True, timeout=60)
    report = json.loads(out.stdout)
    assert out.returncode == 2 and "truncated" in report["error"]
    assert len(report["entries"]) > 5, "entries written before the failure are intact"
