"""The streaming HAR writer on its own: validity, pages, redaction, bounded memory."""

from __future__ import annotations

import json
import tracemalloc

from addons import builtin_analyzers
from proxy.har_writer import HarWriter
from proxy.models import Body, Exchange, ExchangeError, Headers, Request, Response, Timings
from proxy.pipeline import Pipeline
from tests.harschema import assert_valid_har

T0 = 1_780_000_000.0


def ex(i: int, url: str, *, status: int | None = 200, headers=(), resp_headers=(), body: bytes = b"ok",
       method: str = "GET", req_body: bytes | None = None, error: str | None = None) -> Exchange:
    req_h = Headers.of(headers)
    return Exchange(
        id=f"x{i}",
        request=Request(method, url, headers=req_h,
                        body=Body(raw=req_body, size=len(req_body)) if req_body is not None else Body()),
        response=None if status is None else Response(
            status, "OK", headers=Headers.of([("Content-Type", "text/plain"), *resp_headers]),
            body=Body(raw=body, size=len(body))),
        error=ExchangeError(error, "connect") if error else None,
        timings=Timings(started=T0 + i, connect=5, ssl=3, send=1, wait=10, receive=2),
    )


def write(path, exchanges, **kw) -> dict:
    pipeline = Pipeline(builtin_analyzers())
    writer = HarWriter(path, **kw)
    for e in exchanges:
        writer.add(pipeline.run(e))
    writer.close()
    return json.loads(path.read_text())


NAV = [("Sec-Fetch-Mode", "navigate"), ("Sec-Fetch-Dest", "document")]


def test_entries_pages_errors_and_redaction(tmp_path):
    har = write(tmp_path / "a.har", [
        ex(0, "https://app.test/", headers=NAV, resp_headers=[("Content-Type", "text/html")]),
        ex(1, "https://app.test/app.js", headers=[("Referer", "https://app.test/"), ("Sec-Fetch-Mode", "no-cors"),
                                                  ("Sec-Fetch-Dest", "script")]),
        ex(2, "https://api.test/login?token=abc123", method="POST", req_body=b"user=al&password=pw123",
           headers=[("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", "Bearer xyz789"),
                    ("Referer", "https://app.test/")]),
        ex(3, "https://down.test/", status=None, error="[Errno 111] Connection refused"),
    ])
    assert_valid_har(har)
    log = har["log"]
    assert [p["id"] for p in log["pages"]] == ["page_1"]
    entries = log["entries"]
    assert [e.get("pageref") for e in entries] == ["page_1", "page_1", "page_1", None]
    login = entries[2]
    assert login["request"]["url"] == "https://api.test/login?token=[redacted]"
    assert {"name": "Authorization", "value": "Bearer [redacted]"} in login["request"]["headers"]
    assert login["request"]["postData"]["text"] == "user=al&password=[redacted]"
    down = entries[3]
    assert down["response"]["status"] == 0 and down["_error"] == "[Errno 111] Connection refused"
    assert down["_proxylens"]["findings"][0]["rule"] == "status.upstream-refused"
    assert down["comment"].startswith("proxylens: 1 error")
    assert entries[0]["timings"]["connect"] == 5 and entries[0]["timings"]["ssl"] == 3
    assert entries[0]["time"] == 18  # connect (including ssl) + send + wait + receive


def test_keep_secrets(tmp_path):
    har = write(tmp_path / "k.har", [ex(0, "https://api.test/?token=abc123", headers=[("Cookie", "a=b")])],
                redact=False)
    entry = har["log"]["entries"][0]
    assert entry["request"]["url"].endswith("token=abc123")
    assert entry["request"]["cookies"] == [{"name": "a", "value": "b"}]


def test_redirect_hops_of_a_navigation_join_its_page(tmp_path):
    har = write(tmp_path / "r.har", [
        ex(0, "http://app.test/", status=301, headers=NAV, resp_headers=[("Location", "https://app.test/")]),
        ex(1, "https://app.test/", headers=NAV),
        ex(2, "https://other.test/", headers=NAV),
    ])
    assert_valid_har(har)
    assert [e["pageref"] for e in har["log"]["entries"]] == ["page_1", "page_1", "page_2"]
    assert len(har["log"]["pages"]) == 2


def test_every_entry_is_on_disk_before_finalize(tmp_path):
    path = tmp_path / "s.har"
    pipeline = Pipeline(builtin_analyzers())
    writer = HarWriter(path)
    for i in range(3):
        writer.add(pipeline.run(ex(i, f"https://a.test/{i}")))
        # the file on disk already holds entry i, completely
        assert path.read_text().count('"startedDateTime"') == i + 1
    writer.close()
    assert_valid_har(json.loads(path.read_text()))


def test_finalize_writes_a_constant_tail_and_memory_stays_flat(tmp_path):
    """Finalizing appends the same few bytes whether there are 10 or 20,000
    entries, and the writer's memory does not grow with the entry count."""
    pipeline = Pipeline(builtin_analyzers())

    def run(n: int) -> tuple[int, int]:
        path = tmp_path / f"{n}.har"
        writer = HarWriter(path)
        tracemalloc.start()
        baseline = 0
        for i in range(n):
            writer.add(pipeline.run(ex(i, f"https://a.test/item/{i}?q={i}", body=b"x" * 200)))
            # The analyzers' session stores are bounded (a few thousand entries); flat means no growth
            # once they are full, so measure over the second half.
            if i == max(9, n // 2):
                baseline = tracemalloc.get_traced_memory()[0]
        grown = tracemalloc.get_traced_memory()[0] - baseline
        tracemalloc.stop()
        before = path.stat().st_size
        writer.close()
        assert_valid_har(json.loads(path.read_text())) if n <= 10 else None
        assert len(json.loads(path.read_text())["log"]["entries"]) == n
        return path.stat().st_size - before, grown

    tail_small, _ = run(10)
    tail_large, growth = run(20_000)
    assert tail_small == tail_large
    assert growth < 1024 * 1024, f"memory grew by {growth} bytes over the last 10,000 entries"


def test_har_and_its_scratch_file_are_private(tmp_path):
    """A HAR holds URLs and bodies (and credentials with --keep-secrets): 0600, even under umask 000."""
    import os
    import stat

    existing = tmp_path / "old.har"
    existing.write_text("{}")
    existing.chmod(0o666)
    old = os.umask(0)
    try:
        for path in (tmp_path / "new.har", existing):
            writer = HarWriter(path)
            scratch = path.with_name(path.name + ".pages.tmp")
            assert stat.S_IMODE(scratch.stat().st_mode) == 0o600
            writer.add(Pipeline(builtin_analyzers()).run(ex(0, "https://a.test/")))
            writer.close()
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
            assert not scratch.exists()
    finally:
        os.umask(old)
