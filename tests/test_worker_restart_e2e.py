"""The analysis worker dies under a real proxy: it is restarted, the proxy keeps serving, nothing is lost.

The worker is killed for real (SIGKILL from outside, as the OOM killer would, or ``os._exit`` from a check,
as a native crash would). Each test then checks the traffic, the HAR (valid, one entry per request, none
twice), the summary and the exit code.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from proxy.supervisor import MAX_RESTARTS
from tests.harschema import assert_valid_har
from tests.support.proctree import analysis_worker
from tests.support.proxyproc import PROXYLENS, proxylens_env
from tests.support.run_origin import FAILING_RULE, RunOrigin


def wait_for(predicate, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def killer_script(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "killer.py"
    script.write_text("import os\nfrom proxy import analyzer\n\n@analyzer('killer')\n"
                      "def killer(exchange):\n" + body)
    return script


def entry_urls(har: dict) -> Counter:
    return Counter(e["request"]["url"] for e in har["log"]["entries"])


def test_a_killed_worker_under_load_is_restarted_and_the_har_has_every_request_once(start_proxy, http_origin):
    proxy = start_proxy("--quiet")
    first = analysis_worker(proxy.proc.pid)
    urls = [http_origin.url(f"/echo?n={i}") for i in range(600)]
    failures: list[str] = []
    done = Counter()
    lock = threading.Lock()

    def client(part: list[str]) -> None:
        with httpx.Client(proxy=proxy.url, trust_env=False, timeout=60) as c:
            for url in part:
                try:
                    r = c.get(url)
                    ok = r.status_code == 200 and r.json()["path"] == url.split(str(http_origin.port), 1)[1]
                except httpx.HTTPError as exc:
                    failures.append(f"{url}: {exc!r}")
                    continue
                with lock:
                    done["ok" if ok else "bad"] += 1

    threads = [threading.Thread(target=client, args=(urls[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    wait_for(lambda: sum(done.values()) >= 150, "the first requests")
    os.kill(first, signal.SIGKILL)  # mid-traffic: exchanges are in its queue and in its hands
    for t in threads:
        t.join(120)
    assert not failures and done == Counter(ok=600), (failures[:5], done)
    wait_for(lambda: "the analysis worker is back" in proxy.stderr, "the restart")
    assert analysis_worker(proxy.proc.pid) != first
    assert proxy.stop() == 0, proxy.stderr
    assert "the analysis worker died (exit code -9); restarting it, and the proxy keeps serving" in proxy.stderr
    assert "restarted 1 time(s); no exchange was lost" in proxy.stderr
    har = proxy.har()
    assert_valid_har(har)
    counts = entry_urls(har)
    assert set(counts) == set(urls), f"missing: {sorted(set(urls) - set(counts))[:5]}"
    # One exchange may be recorded twice if the worker is killed between writing its entry and counting it
    # (a window of a few instructions); anything more is a bug.
    assert sum(counts.values()) - len(urls) <= 1, [u for u, n in counts.items() if n > 1]
    assert "600 exchanges" in proxy.stdout or "601 exchanges" in proxy.stdout, proxy.stdout


def test_an_exchange_the_worker_dies_on_twice_is_recorded_without_analysis(start_proxy, http_origin, tmp_path):
    script = killer_script(tmp_path, "    if 'die' in exchange.request.url:\n        os._exit(9)\n    return []\n")
    proxy = start_proxy("--quiet", "-s", str(script))
    with httpx.Client(proxy=proxy.url, trust_env=False, timeout=30) as c:
        assert c.get(http_origin.url("/echo?before")).status_code == 200
        assert c.get(http_origin.url("/echo?die=1")).status_code == 200
        wait_for(lambda: "recorded without analysis" in proxy.stderr, "the second death")
        wait_for(lambda: proxy.stderr.count("the analysis worker is back") == 2, "the second restart")
        assert c.get(http_origin.url("/echo?after")).status_code == 200  # served, and analyzed again
    assert proxy.stop() == 0, proxy.stderr
    har = proxy.har()
    assert_valid_har(har)
    entries = {e["request"]["url"].rsplit("?", 1)[1]: e for e in har["log"]["entries"]}
    assert sorted(entries) == ["after", "before", "die=1"]
    rules = {q: [f["rule"] for f in e["_proxylens"]["findings"]] for q, e in entries.items()}
    assert rules["die=1"] == ["proxylens.analyzer-error"]
    finding = entries["die=1"]["_proxylens"]["findings"][0]
    assert "died twice while analyzing GET" in finding["summary"] and "die=1" in finding["summary"]
    assert "proxylens.analyzer-error" not in rules["after"]
    assert {"caching", "status"} <= entries["after"]["_proxylens"]["facts"].keys()  # analyzed
    assert "restarted 2 time(s)" in proxy.stderr


def test_a_worker_that_keeps_dying_stops_the_proxy_with_exit_3(start_proxy, http_origin, tmp_path):
    script = killer_script(tmp_path, "    os._exit(9)\n")
    proxy = start_proxy("--quiet", "-s", str(script))
    with httpx.Client(proxy=proxy.url, trust_env=False, timeout=30) as c:
        for i in range(MAX_RESTARTS + 2):
            if proxy.proc.poll() is not None:
                break
            c.get(http_origin.url(f"/echo?{i}"))
            wait_for(lambda: proxy.proc.poll() is not None or "the analysis worker is back" in proxy.stderr
                     or "is left out of the HAR" in proxy.stderr, "a restart")
    assert proxy.proc.wait(60) == 3
    proxy.stop()
    assert f"after {MAX_RESTARTS} restarts; stopping" in proxy.stderr
    assert "Please report this as a bug" in proxy.stderr


def test_findings_recorded_before_a_death_still_fail_the_policy(tmp_path, origin_certs):
    """`run` judges every exchange: the ones the dead worker judged are counted in from its HAR."""
    marker = tmp_path / "died-once"
    script = killer_script(tmp_path, f"    if 'die' in exchange.request.url and not os.path.exists({str(marker)!r}):\n"
                                     f"        open({str(marker)!r}, 'w').close()\n        os._exit(9)\n    return []\n")
    client = tmp_path / "client.py"
    client.write_text("import sys, time, httpx\n"
                      "with httpx.Client(timeout=30) as c:\n"
                      "    for url in sys.argv[1:]:\n"
                      "        assert c.get(url).status_code == 200, url\n"
                      "        time.sleep(0.5)\n")
    origin = RunOrigin(bad="localhost")  # only the first request, by that name, breaks the policy
    urls = [origin.url("/bad", host="localhost"), origin.url("/die"), origin.url("/after")]
    har = tmp_path / "run.har"
    try:
        proc = subprocess.run(
            [PROXYLENS, "run", "--listen-port", "0", "--har", str(har), "-s", str(script), "--",
             sys.executable, str(client), *urls],
            env=proxylens_env(tmp_path / "home"), cwd=tmp_path, capture_output=True, text=True, timeout=120,
            check=False)
    finally:
        origin.close()
    assert marker.exists()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "restarted 1 time(s); no exchange was lost" in proc.stderr
    assert FAILING_RULE in proc.stdout
    data = json.loads(har.read_text())
    assert_valid_har(data)
    assert sorted(entry_urls(data)) == sorted(urls)


@pytest.mark.parametrize("cut", ["inside the last entry", "after the separator", "at an entry's end"])
def test_a_resumed_har_writer_cuts_a_partial_entry_and_goes_on(tmp_path, cut):
    """The writer of a restarted worker continues the dead one's file: one valid HAR, no entry twice."""
    from proxy.har_writer import HarWriter
    from proxy.pipeline import Result
    from proxy.testing import ExchangeFactory

    make = ExchangeFactory()
    path = tmp_path / "resumed.har"
    first = HarWriter(path)
    for i in range(3):
        first.add(Result(make(url=f"https://example.test/{i}", request_headers={"accept": "text/html"})))
    first._file.flush()
    size = path.stat().st_size
    tail = {"inside the last entry": b',\n{"startedDateTime": "2026-', "after the separator": b",\n",
            "at an entry's end": b""}[cut]
    with open(path, "ab") as f:  # what a kill in the middle of the next write leaves
        f.write(tail)
    del first  # never closed: its process died
    assert path.stat().st_size == size + len(tail)
    second = HarWriter(path, resume=True)
    assert (second.entries, second.pages) == (3, 3)
    second.add(Result(make(url="https://example.test/3", request_headers={"accept": "text/html"})))
    second.close()
    har = json.loads(path.read_text())
    assert_valid_har(har)
    assert [e["request"]["url"] for e in har["log"]["entries"]] == [f"https://example.test/{i}" for i in range(4)]
    assert [p["id"] for p in har["log"]["pages"]] == ["page_1", "page_2", "page_3", "page_4"]
    assert {e["pageref"] for e in har["log"]["entries"]} == {"page_1", "page_2", "page_3", "page_4"}


@pytest.mark.parametrize("pause", [0, 1.5], ids=["before-the-proxy-notices", "while-the-next-worker-starts"])
def test_a_run_that_ends_just_after_the_worker_died_records_everything(tmp_path, http_origin, pause):
    """The command ends right after the request that kills the worker: before the proxy has noticed the
    death, or while the next worker is still starting (its check takes 3 s to load). Either way the proxy
    starts or adopts that worker at shutdown, so the exchanges it was sent are recorded, and no orphaned
    worker keeps the proxy from exiting (multiprocessing waits for its children at exit)."""
    marker = tmp_path / "died-once"
    script = tmp_path / "slow_restart.py"
    script.write_text(
        "import os, time\nfrom proxy import analyzer\n\n"
        f"if os.path.exists({str(marker)!r}):\n    time.sleep(3)  # only the restarted worker loads slowly\n\n"
        "@analyzer('killer')\ndef killer(exchange):\n"
        f"    if 'die' in exchange.request.url and not os.path.exists({str(marker)!r}):\n"
        f"        open({str(marker)!r}, 'w').close()\n        os._exit(9)\n    return []\n")
    client = tmp_path / "client.py"
    client.write_text("import sys, httpx\n"
                      "with httpx.Client(timeout=30) as c:\n"
                      "    for url in sys.argv[1:]:\n"
                      "        assert c.get(url).status_code == 200, url\n"
                      f"import time; time.sleep({pause})\n")
    har = tmp_path / "run.har"
    urls = [http_origin.url("/echo?first"), http_origin.url("/echo?die=1")]
    proc = subprocess.run(
        [PROXYLENS, "run", "--listen-port", "0", "--har", str(har), "-s", str(script), "--",
         sys.executable, str(client), *urls],
        env=proxylens_env(tmp_path / "home"), cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert marker.exists()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(har.read_text())
    assert_valid_har(data)
    assert sorted(entry_urls(data)) == sorted(urls)
    assert "2 exchanges" in proc.stdout, proc.stdout
    assert "restarted 1 time(s); no exchange was lost" in proc.stderr
    if pause:  # the proxy noticed, started the next worker, and stopped before that worker was ready
        assert "restarting it" in proc.stderr and "the analysis worker is back" not in proc.stderr, proc.stderr
