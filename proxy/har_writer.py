"""Streaming HAR writer: entries go to disk as exchanges complete.

The file is valid JSON only once finalized, but every entry is complete on
disk as soon as it is written, so a killed run still leaves entries that
``proxylens analyze`` can read. Memory is flat: nothing is kept per entry.
Pages (one per navigation) are streamed to a side file and appended at
finalize, which therefore costs O(pages), independent of the number of entries.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import IO

from . import __version__
from .har import HAR_VERSION, har_entry, iso
from .models import Exchange
from .pipeline import Result
from .redact import redact_url
from .session import BoundedStore, Session


def is_navigation(ex: Exchange) -> bool:
    """A top-level document load, judged from Fetch metadata when present.

    Fetch metadata (https://w3c.github.io/webappsec-fetch-metadata/):
    Sec-Fetch-Mode "navigate" with Sec-Fetch-Dest "document" is a top-level
    navigation. Without it (old clients, curl), a GET that asks for HTML first.
    """
    h = ex.request.headers
    mode = h.get("sec-fetch-mode")
    if mode is not None:
        return mode == "navigate" and h.get("sec-fetch-dest", "document") == "document"
    accept = h.get("accept") or ""
    return ex.request.method == "GET" and accept.startswith("text/html")


class PageTracker:
    """Assigns entries to pages: a navigation opens one, its subresources (by
    Referer) and its redirect hops join it. Bounded like all session state."""

    def __init__(self) -> None:
        session = Session()
        self._by_url: BoundedStore[str] = session.store("pages", maxsize=4096)
        self._session = session
        self._count = 0

    def continue_after(self, pages: int) -> None:
        """Number new pages after the *pages* an earlier writer of this file made."""
        self._count = pages

    def assign(self, result: Result) -> tuple[str | None, dict | None]:
        """Return (pageref, new page or None)."""
        ex = result.exchange
        self._session.now = ex.timings.started
        url = ex.request.url
        page_id = self._by_url.get(url)
        new_page = None
        if page_id is None and is_navigation(ex):
            self._count += 1
            page_id = f"page_{self._count}"
            new_page = {
                "startedDateTime": iso(ex.timings.started),
                "id": page_id,
                "title": url,
                "pageTimings": {"onContentLoad": -1, "onLoad": -1},
            }
        if page_id is None:
            referer = ex.request.headers.get("referer")
            page_id = self._by_url.get(referer) if referer else None
        if page_id is not None:
            self._by_url[url] = page_id
            location = ex.response.headers.get("location") if ex.response else None
            if location and ex.response and 300 <= ex.response.status < 400:
                from urllib.parse import urljoin

                self._by_url[urljoin(url, location)] = page_id
        return page_id, new_page


def _dumps(obj: dict) -> str:
    try:
        return json.dumps(obj, ensure_ascii=False, allow_nan=False, default=str)
    except ValueError:  # NaN or Infinity somewhere: not JSON; write them as null-like strings
        return json.dumps(_finite(obj), ensure_ascii=False, default=str)


def _finite(value: object) -> object:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _utf8(text: str) -> str:
    """mitmproxy decodes header bytes that are not UTF-8 with surrogateescape
    ("M\\udcfcller" for a latin-1 "Müller"); a HAR file is UTF-8 text, so
    turn those back into bytes and decode them with replacement."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _cut_to_last_complete_line(path: Path, *, skip_first: bool = False) -> int:
    """Cut *path* back to its last complete JSON line and count those lines.

    The writer puts each entry (and each page) on one line, separated by
    ",\\n", with one write: after a kill only the last line can be partial.
    With *skip_first*, the first line is the HAR's head, not an entry.
    Streams the file, so a multi-gigabyte HAR costs a read, not its size in memory.
    """
    count = 0
    good = 0  # end of the last complete line, before its ",\\n"
    with open(path, "r+b") as f:
        offset = 0
        for number, line in enumerate(f):
            end = offset + len(line)
            body = line.rstrip(b"\n").removesuffix(b",")
            if number == 0 and skip_first:
                good = end
            elif body:
                if not line.endswith(b"\n"):  # the last line, maybe cut short: is it whole?
                    try:
                        json.loads(body)
                    except ValueError:
                        break
                count += 1
                good = offset + len(body)
            offset = end
        f.truncate(good)
    return count


def _private(path: str, flags: int) -> int:
    """Open for the owner only (0600): a HAR holds URLs, bodies and, with --keep-secrets, credentials."""
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
    return fd


class HarWriter:
    """Writes one HAR file, entry by entry.

    A write that fails (disk full, file too large) is fatal for the file but
    not for the proxy: the writer stops, ``error`` says why, and ``lost``
    counts the entries that did not make it. The file is cut back to the last
    complete entry so that it stays readable.
    """

    def __init__(self, path: str | os.PathLike[str], *, redact: bool = True, max_body: int | None = None,
                 resume: bool = False) -> None:
        """With *resume*, go on writing a file an earlier writer left unfinished (its process was
        killed): the entries and pages on disk are kept, a half-written last one is cut off."""
        self.path = Path(path)
        self.redact = redact
        self.max_body = max_body
        self.entries = 0
        self.pages = 0
        self.lost = 0
        self.error: str | None = None
        self._tracker = PageTracker()
        self._pages_path = self.path.with_name(self.path.name + ".pages.tmp")
        if resume and self.path.exists():
            self.entries = _cut_to_last_complete_line(self.path, skip_first=True)
            self.pages = _cut_to_last_complete_line(self._pages_path) if self._pages_path.exists() else 0
            self._tracker.continue_after(self.pages)
            self._file: IO[str] = open(self.path, "a", encoding="utf-8", opener=_private)
            self._pages: IO[str] = open(self._pages_path, "a+", encoding="utf-8", opener=_private)
        else:
            self._file = open(self.path, "w", encoding="utf-8", opener=_private)
            self._pages = open(self._pages_path, "w+", encoding="utf-8", opener=_private)
            creator = {"name": "proxylens", "version": __version__}
            head = json.dumps({"version": HAR_VERSION, "creator": creator})[:-1]
            self._file.write('{"log": ' + head + ', "entries": [\n')
            self._file.flush()
        self._good_size = self._file.tell()
        self.closed = False

    def add(self, result: Result) -> dict | None:
        if self.error is not None:
            self.lost += 1
            return None
        pageref, page = self._tracker.assign(result)
        try:
            if page is not None:
                if self.redact:
                    page["title"] = redact_url(page["title"])
                # the page first: an entry that fails below must not leave later pagerefs dangling
                self._pages.write(("" if self.pages == 0 else ",\n") + _dumps(page))
                self._pages.flush()  # on disk before any entry names it, should this process be killed
                self.pages += 1
            entry = har_entry(result, redact=self.redact, pageref=pageref, max_body=self.max_body)
            line = _utf8(_dumps(entry))
            self._file.write(("" if self.entries == 0 else ",\n") + line)
            self._file.flush()
        except OSError as exc:
            self._fail(exc)
            return None
        self._good_size = self._file.tell()
        self.entries += 1
        return entry

    def _fail(self, exc: OSError) -> None:
        self.error = f"cannot write {self.path}: {exc.strerror or exc}"
        self.lost += 1
        try:  # cut a half-written entry so the file still reads up to the last good one
            self._file.seek(self._good_size)
            self._file.truncate()
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            if self.error is None:
                self._file.write('\n], "pages": [\n')
                self._pages.seek(0)
                shutil.copyfileobj(self._pages, self._file)
                self._file.write("\n]}}\n")
                self._file.flush()
                os.fsync(self._file.fileno())
        except OSError as exc:
            self.error = f"cannot finalize {self.path}: {exc.strerror or exc}"
        finally:
            for f in (self._file, self._pages):
                try:
                    f.close()
                except OSError:
                    pass
            self._pages_path.unlink(missing_ok=True)
