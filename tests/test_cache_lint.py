"""httplint's caching notes, each mapped to a proxylens rule or dropped on purpose."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import httplint
import httplint.field
import httplint.field.parsers
from httplint.note import Note, categories

from addons import cache_lint
from proxy.findings import catalog
from proxy.models import Exchange, Headers, Request, Response

# Modules whose notes are about the fields the caching analyzer owns.
CACHING_MODULES = {"cache", "age", "date", "expires", "last_modified", "pragma", "vary", "cache_control",
                   "cache_status", "cdn_cache_control", "etag"}


def httplint_notes() -> dict[str, type[Note]]:
    modules = ["httplint.cache", "httplint.message", "httplint.status", "httplint.field"]
    modules += [f"httplint.field.parsers.{m.name}" for m in pkgutil.iter_modules(httplint.field.parsers.__path__)]
    modules += [f"httplint.field.{m.name}" for m in pkgutil.iter_modules(httplint.field.__path__)]
    notes: dict[str, type[Note]] = {}
    for name in modules:
        module = importlib.import_module(name)
        for cls in vars(module).values():
            if inspect.isclass(cls) and issubclass(cls, Note) and cls is not Note and cls.__module__ == name:
                notes[cls.__name__] = cls
    return notes


def test_every_caching_note_is_mapped_or_dropped():
    unmapped = []
    for name, cls in httplint_notes().items():
        module = cls.__module__.rsplit(".", 1)[-1]
        about_caching = cls.category in (categories.CACHING, categories.VALIDATION) or module in CACHING_MODULES
        if about_caching and name not in cache_lint.MAPPED and name not in cache_lint.DROPPED:
            unmapped.append(f"{name} ({cls.__module__}, {cls.category.name})")
    assert not unmapped, "httplint notes with no proxylens rule: add them to MAPPED or DROPPED:\n" + "\n".join(unmapped)


def test_mapped_and_dropped_name_real_notes():
    notes = httplint_notes()
    stale = [n for n in [*cache_lint.MAPPED, *cache_lint.DROPPED, *cache_lint.GENERIC] if n not in notes]
    assert not stale, f"no such httplint note (renamed upstream?): {stale}"
    assert not set(cache_lint.MAPPED) & cache_lint.DROPPED


def test_mapped_rules_are_in_the_catalog_as_caching_rules():
    for rule in cache_lint.MAPPED.values():
        assert catalog.get(rule.id) is rule
        assert rule.category == "caching" and rule.reference.startswith("https://")


def _exchange(headers: Headers, at: float | None = None) -> Exchange:
    return Exchange("1", Request("GET", "http://a.test/", timestamp_start=at),
                    Response(200, "OK", headers=headers, timestamp_start=at))


def test_notes_become_findings_with_the_field_as_subject():
    headers = Headers.of([("Date", "Sun, 06 Nov 1994 08:49:37 GMT"), ("Cache-Control", "max-age=60, Max-Age=5"),
                          ("Vary", "*"), ("Age", "-3")])
    findings = {f.rule: f for f in cache_lint.findings(_exchange(headers, at=784111777.0))}
    assert findings["caching.cache-control-case"].subject == "response.header.cache-control"
    assert findings["caching.duplicate-directive"].evidence["httplint"] == "CC_DUP"
    assert findings["caching.vary-star"].subject == "response.header.vary"
    assert findings["caching.age-invalid"].evidence["value"] == "-3"
    # the detail is plain text: httplint's %(var)s holes are named, not filled with wire data
    assert "%(" not in findings["caching.duplicate-directive"].detail


def test_generic_syntax_notes_count_only_for_caching_fields():
    headers = Headers.of([("ETag", "no-quotes"), ("Content-Type", "text/html; charset")])
    findings = cache_lint.findings(_exchange(headers))
    assert [f.subject for f in findings if f.rule == "caching.header-syntax"] == ["response.header.etag"]


def test_httplint_version_is_the_pinned_line():
    # pyproject pins httplint to a range that resolves with mitmproxy 11's Brotli; see docs/caching.md.
    assert httplint.__version__.startswith("2026.09")
