"""httplint's status notes, each mapped to a proxylens rule or dropped on purpose (addons/status.py)."""

from __future__ import annotations

import inspect

import httplint.message
import httplint.status
import pytest
from httplint.note import Note

from addons import status
from proxy.findings import catalog

# Status-line notes that httplint defines with the message parser rather than in httplint.status.
MESSAGE_STATUS_NOTES = ("STATUS_CODE_NON_NUMERIC", "STATUS_PHRASE_ENCODING")


def status_notes() -> dict[str, type[Note]]:
    notes = {name: cls for name, cls in vars(httplint.status).items()
             if inspect.isclass(cls) and issubclass(cls, Note) and cls is not Note
             and cls.__module__ == httplint.status.__name__}
    for name in MESSAGE_STATUS_NOTES:
        cls = getattr(httplint.message, name, None)
        if inspect.isclass(cls) and issubclass(cls, Note):
            notes[name] = cls
    return notes


def test_httplint_still_has_status_notes():
    # If this fails, httplint moved its status notes and the walk below would pass vacuously.
    notes = status_notes()
    assert len(notes) >= 40
    assert {"CREATED_WITHOUT_LOCATION", "STATUS_NONSTANDARD", "STATUS_NOT_FOUND"} <= set(notes)


@pytest.mark.parametrize("name", sorted(status_notes()))
def test_every_status_note_is_mapped_or_dropped_exactly_once(name):
    where = [label for label, names in (("LINT_MAPPED", status.LINT_MAPPED), ("LINT_DROPPED", status.LINT_DROPPED))
             if name in names]
    assert len(where) == 1, f"{name} is in {where or 'neither set'}: add it to LINT_MAPPED or LINT_DROPPED"


def test_mapped_and_dropped_name_real_notes():
    notes = status_notes()
    stale = sorted(n for n in [*status.LINT_MAPPED, *status.LINT_DROPPED] if n not in notes)
    assert not stale, f"no such httplint status note (renamed upstream?): {stale}"
    assert not set(status.LINT_MAPPED) & status.LINT_DROPPED


def test_mapped_rules_are_status_rules_in_the_catalog():
    for note, rule in status.LINT_MAPPED.items():
        assert catalog.get(rule.id) is rule, note
        assert rule.category == "status" and rule.reference.startswith("https://"), note
    assert {rule.id for rule in status.LINT_MAPPED.values()} == {"status.semantics", "status.nonstandard-code",
                                                                  "status.status-line-invalid"}


def test_notes_that_only_restate_a_code_are_dropped():
    # STATUS_* notes of level INFO say what the code means; facts.status.meaning already does.
    notes = status_notes()
    restating = {n for n, cls in notes.items() if n.startswith("STATUS_") and cls.level.name == "INFO"}
    assert restating <= status.LINT_DROPPED, sorted(restating - status.LINT_DROPPED)


def test_304_notes_are_left_to_caching():
    from addons import cache_lint

    for name in ("NO_DATE_304", "HEADER_SHOULD_NOT_BE_IN_304"):
        assert name in status.LINT_DROPPED
        assert name in cache_lint.MAPPED or name in cache_lint.DROPPED
