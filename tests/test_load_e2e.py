"""Load without loss: 100,000 requests from concurrent keep-alive clients through a real proxy.

The client is curl in parallel mode (10 transfers at a time, connections kept alive), each request to a
distinct URL of the loopback origin, so every HAR entry can be matched to exactly one request. The count
can be lowered for a quick local run with PROXYLENS_LOAD_REQUESTS; CI runs the full 100,000.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections import Counter

from tests.harschema import assert_valid_har
from tests.support.proctree import rss

REQUESTS = int(os.environ.get("PROXYLENS_LOAD_REQUESTS", "100000"))
# A leak guard, not the benchmark (bench/memory.py measures growth): 1.5 KB kept per exchange would break it.
RSS_GROWTH_LIMIT = 150 * 1024 * 1024


def curl_requests(proxy_url: str, url_glob: str, parallel: int = 10) -> Counter:
    """Status codes curl saw, one per request (the 204 responses have no body: stdout holds only those)."""
    curl = shutil.which("curl")
    assert curl, "curl is required (apt-get install curl)"
    out = subprocess.run([curl, "-s", "-Z", "--parallel-max", str(parallel), "-x", proxy_url, "-w", "%{http_code}\\n",
                          url_glob],
                         capture_output=True, text=True, timeout=3600, check=False)
    return Counter(out.stdout.split())


def test_every_one_of_100k_concurrent_requests_has_exactly_one_valid_har_entry(start_proxy, http_origin):
    proxy = start_proxy("--quiet")
    assert curl_requests(proxy.url, http_origin.url("/status/204?warmup=[1-200]")) == Counter({"204": 200})
    baseline = rss(proxy.proc.pid)
    peak = [baseline]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(1.0):
            peak[0] = max(peak[0], rss(proxy.proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        statuses = curl_requests(proxy.url, http_origin.url(f"/status/204?n=[1-{REQUESTS}]"))
    finally:
        stop.set()
        sampler.join()
    assert statuses == Counter({"204": REQUESTS}), statuses.most_common(5)
    assert proxy.stop() == 0, proxy.stderr[-2000:]
    assert f"{REQUESTS + 200} exchanges (0 without response)" in proxy.stdout, proxy.stdout[-2000:]
    assert peak[0] - baseline < RSS_GROWTH_LIMIT, f"RSS grew by {(peak[0] - baseline) >> 20} MiB"

    har = json.loads(proxy.har_path.read_text())  # the whole file parses: the HAR was finalized
    entries = har["log"]["entries"]
    counts = Counter(e["request"]["url"] for e in entries)
    expected = {http_origin.url(f"/status/204?n={i}") for i in range(1, REQUESTS + 1)}
    warmup = {http_origin.url(f"/status/204?warmup={i}") for i in range(1, 201)}
    assert set(counts) == expected | warmup, f"missing: {sorted(expected - set(counts))[:5]}"
    assert [u for u, n in counts.items() if n > 1] == [], "duplicate entries"
    assert len(entries) == REQUESTS + 200
    assert all(e["response"]["status"] == 204 and "_error" not in e for e in entries)
    # The schema check costs about a millisecond per entry: every entry is written by the same code, so
    # the first and last thousand (plus the pages and the log object) stand for the rest.
    assert_valid_har({"log": {**har["log"], "entries": entries[:1000] + entries[-1000:]}})
