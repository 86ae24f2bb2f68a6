"""Running httplint over one exchange, and turning its notes into Findings.

httplint (by the author of REDbot) lints one message at a time. Several
analyzers map its notes to their own rules (cache_lint.py for caching,
status.py for status codes); they share one lint run per exchange, memoized
here, since the pipeline hands the same exchange to each analyzer in turn.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from httplint import HttpRequestLinter, HttpResponseLinter
from httplint.note import Note

from addons.cache_headers import delta_seconds
from addons.cache_model import first_member
from proxy import Exchange, Finding, Headers, Rule

_OFFSET = re.compile(r"offset-(\d+)")
_DIRECTIVE = re.compile(r"%\((\w+)\)[-+ #0]*\d*(?:\.\d+)?[a-zA-Z]")


def _wire(headers: Headers) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1", "replace"), v.encode("utf-8", "replace")) for k, v in headers]


@lru_cache(maxsize=4)
def lint(method: str, url: str, request_headers: Headers, status: int, reason: str, response_headers: Headers,
         request_time: float | None, response_time: float | None) -> tuple[tuple[Note, ...], Headers]:
    """Run httplint over the request and response head: its notes, unfiltered, and the response
    headers in the order httplint saw them (its 'offset-N' subjects index into those)."""
    # httplint checks Date against the clock while parsing it, reading Age only if it came first:
    # "Date, Age: 300" from a CDN would look like a clock 300 s behind. Age goes first.
    response_headers = Headers(tuple(sorted(response_headers, key=lambda f: f[0].lower() != "age")))
    if "age" in response_headers and delta_seconds(first_member(response_headers, "age")) is None:
        request_time = None  # httplint 2026.9 adds an invalid (None) Age to the request delay and crashes
    request = HttpRequestLinter(start_time=request_time, no_content=True)
    request.process_request_topline(method.encode("latin-1", "replace"), url.encode("utf-8", "replace"),
                                    b"HTTP/1.1")
    request.process_headers(_wire(request_headers))
    request.finish_content(True)
    response = HttpResponseLinter(start_time=response_time, _related=request, no_content=True)
    response.is_head_response = method.upper() == "HEAD"
    response.process_response_topline(b"HTTP/1.1", str(status).encode(), reason.encode("latin-1", "replace"))
    response.process_headers(_wire(response_headers))
    response.finish_content(True)
    return tuple(response.notes), response_headers


def response_time(ex: Exchange) -> float | None:
    """When the response arrived (Unix time), from its timestamp or the request start plus the timings."""
    response = ex.response
    if response is not None and response.timestamp_start:
        return response.timestamp_start
    started = ex.request.timestamp_start or ex.timings.started or None
    if started is None:
        return None
    t = ex.timings
    return started + sum(max(v, 0) for v in (t.blocked, t.dns, t.connect, t.send, t.wait)) / 1000


def lint_exchange(ex: Exchange) -> tuple[tuple[Note, ...], Headers]:
    """lint() for an exchange with a response; analyzers of the same exchange share the run."""
    request, response = ex.request, ex.response
    assert response is not None
    return lint(request.method, request.url, request.headers, response.status, response.reason, response.headers,
                request.timestamp_start or ex.timings.started or None, response_time(ex))


def _field_of(note: Note, headers: Headers) -> str | None:
    """The header field a note is about: httplint says 'field-name' or 'offset-N' (the Nth field)."""
    for subject in note.subject.split():
        if subject.startswith("field-"):
            return subject[len("field-"):]
        match = _OFFSET.fullmatch(subject)
        if match and int(match.group(1)) < len(headers.fields):
            return headers.fields[int(match.group(1))][0].lower()
    return None


def _plain(text: str) -> str:
    """httplint's Markdown with its %(var)s holes named instead of filled: wire data stays in evidence."""
    return _DIRECTIVE.sub(lambda m: f"*{m.group(1).replace('_', ' ')}*", text).strip()


_SUMMARIES: dict[int, tuple[Note, str | None]] = {}  # id(note) -> (note, text); the note kept alive with it


def _summary(note: Note) -> str | None:
    """The note's summary text, made once per note: the analyzers that share a lint run both ask, and
    httplint formats durations through babel, a tenth of the lint's cost. Notes are not hashable, so
    they are remembered by identity, each kept alive by its entry so that its id is not reused."""
    cached = _SUMMARIES.get(id(note))
    if cached is not None and cached[0] is note:
        return cached[1]
    try:
        text: str | None = str(note.summary)
    except TypeError:  # a mistranslated template: the caller keeps the rule's own words
        text = None
    if len(_SUMMARIES) >= 256:
        _SUMMARIES.clear()
    _SUMMARIES[id(note)] = (note, text)
    return text


def to_findings(notes: tuple[Note, ...], headers: Headers,
                rule_for: Callable[[str, str | None], Rule | None]) -> list[Finding]:
    """Findings for the notes that *rule_for(note class name, header field or None)* maps to a rule."""
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for note in notes:
        name = type(note).__name__
        field_name = _field_of(note, headers)
        rule = rule_for(name, field_name)
        if rule is None:
            continue
        summary = _summary(note) or rule.summary
        if (rule.id, summary) in seen:
            continue
        seen.add((rule.id, summary))
        evidence = {k: v if isinstance(v, (int, float, bool)) else str(v)[:200]
                    for k, v in note.vars.items() if k != "message_type" and v is not None}
        evidence["httplint"] = name
        if field_name:
            evidence.setdefault("value", (headers.get(field_name) or "")[:200])
        findings.append(rule.finding(
            summary, subject=f"response.header.{field_name}" if field_name else "response",
            detail=rule.detail or _plain(note._text), evidence=evidence))
    return findings
