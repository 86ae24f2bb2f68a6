"""Small helpers for asserting on pipeline results."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from proxy.findings import Finding
from proxy.pipeline import Result


def rules(result: Result) -> list[str]:
    return [f.rule for f in result.findings]


def only(result: Result, rule: str) -> Finding:
    matching = [f for f in result.findings if f.rule == rule]
    assert len(matching) == 1, rules(result)
    return matching[0]


def rules_of(entry: dict, prefix: str = "") -> list[str]:
    """Rule ids of a HAR entry's findings (optionally only those starting with *prefix*)."""
    return [f["rule"] for f in entry["_proxylens"]["findings"] if f["rule"].startswith(prefix)]


def by_case(har: dict) -> dict[str, dict]:
    """HAR entries keyed by their ``case=`` query parameter (URLs that carry one)."""
    out = {}
    for entry in har["log"]["entries"]:
        case = parse_qs(urlsplit(entry["request"]["url"]).query).get("case")
        if case:
            assert case[0] not in out, f"two entries for case {case[0]}"
            out[case[0]] = entry
    return out
