"""Small helpers for asserting on pipeline results."""

from __future__ import annotations

from proxy.findings import Finding
from proxy.pipeline import Result


def rules(result: Result) -> list[str]:
    return [f.rule for f in result.findings]


def only(result: Result, rule: str) -> Finding:
    matching = [f for f in result.findings if f.rule == rule]
    assert len(matching) == 1, rules(result)
    return matching[0]
