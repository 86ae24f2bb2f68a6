"""Judge analyzed exchanges against a policy and a baseline: the verdict reports and exit codes use.

Findings are grouped by rule and host. Memory stays bounded however long
the run: a group keeps counts and its few "smallest" examples (sorted by
URL, so the same traffic gives the same examples in any arrival order).

The baseline lists accepted findings by rule, host, method and path
template (query dropped; numeric, UUID and long hexadecimal segments
generalized), so a new endpoint with an old problem is still new, while
``/users/17`` and ``/users/18`` are one finding.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .findings import Finding, Severity, catalog
from .pipeline import Result
from .policy import Level, Policy

EXAMPLES = 5
BASELINE_VERSION = 1
MAX_BASELINE_KEYS = 100_000
LEVEL_RANK = {"ignore": 0, "info": 1, "warn": 2, "fail": 3}
_ID_SEGMENT = [
    (re.compile(r"^\d+$"), "{n}"),
    (re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE), "{uuid}"),
    (re.compile(r"^(?=.*\d)[0-9a-f]{16,}$", re.IGNORECASE), "{id}"),
]


class BaselineError(Exception):
    pass


def path_template(path: str) -> str:
    segments = []
    for segment in path.split("/"):
        for pattern, name in _ID_SEGMENT:
            if pattern.match(segment):
                segment = name
                break
        segments.append(segment)
    return "/".join(segments) or "/"


def baseline_key(rule: str, host: str, method: str, url: str) -> tuple[str, str, str, str]:
    return rule, host, method.upper(), path_template(urlsplit(url).path)


def load_baseline(path: Path) -> set[tuple[str, str, str, str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != BASELINE_VERSION:
            raise ValueError(f"version {data.get('version')!r}, expected {BASELINE_VERSION}")
        return {(a["rule"], a["host"], a["method"], a["path"]) for a in data["accepted"]}
    except FileNotFoundError:
        raise BaselineError(f"{path}: no such baseline file; `proxylens run --update-baseline -- ...` "
                            "writes it from the current findings") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BaselineError(f"{path}: not a proxylens baseline ({exc}); regenerate it with "
                            "`proxylens run --update-baseline -- ...`") from None


def baseline_json(keys: set[tuple[str, str, str, str]]) -> str:
    accepted = [{"rule": r, "host": h, "method": m, "path": p} for r, h, m, p in sorted(keys)]
    return json.dumps({"version": BASELINE_VERSION, "tool": "proxylens", "accepted": accepted}, indent=2) + "\n"


@dataclass(frozen=True, order=True)
class Example:
    url: str
    method: str
    status: int
    summary: str


@dataclass
class Group:
    """One rule on one host."""

    rule: str
    host: str
    level: Level
    severity: Severity
    count: int = 0
    new: int = 0  # not accepted by the baseline
    new_failures: int = 0  # of those, the ones at level fail (an override may lower some URLs' level)
    examples: list[Example] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.new_failures > 0

    @property
    def category(self) -> str:
        return self.rule.split(".", 1)[0]

    def add(self, finding: Finding, example: Example, new: bool, level: Level) -> None:
        self.count += 1
        self.new += new
        self.new_failures += new and level == "fail"
        self.severity = max(self.severity, finding.severity)
        if example not in self.examples:
            bisect.insort(self.examples, example)
            del self.examples[EXAMPLES:]

    def as_dict(self) -> dict:
        rule = catalog.get(self.rule)
        return {"rule": self.rule, "host": self.host, "level": self.level, "severity": self.severity.value,
                "count": self.count, "new": self.new, "accepted": self.count - self.new,
                "new_failures": self.new_failures, "failed": self.failed,
                "description": rule.summary if rule else "", "reference": rule.reference if rule else "",
                "examples": [e.__dict__ for e in self.examples]}


@dataclass
class Verdict:
    groups: list[Group]
    hosts: dict[str, int]  # in-scope host -> exchanges judged
    out_of_scope: int
    exchanges: int
    baseline: str | None

    @property
    def failed(self) -> bool:
        return any(g.failed for g in self.groups)

    def count(self, level: str) -> int:
        return sum(g.count for g in self.groups if g.level == level)

    def as_dict(self) -> dict:
        return {"verdict": "fail" if self.failed else "pass", "exchanges": self.exchanges,
                "out_of_scope": self.out_of_scope, "baseline": self.baseline,
                "counts": {level: self.count(level) for level in ("fail", "warn", "info")},
                "new_failures": sum(g.new_failures for g in self.groups),
                "hosts": dict(sorted(self.hosts.items())), "groups": [g.as_dict() for g in self.groups]}


class Judge:
    def __init__(self, policy: Policy | None = None, baseline: set | None = None, record_baseline: bool = False):
        self.policy = policy or Policy()
        self.baseline = baseline or set()
        self.groups: dict[tuple[str, str], Group] = {}
        self.hosts: dict[str, int] = {}
        self.out_of_scope = 0
        self.exchanges = 0
        self.recorded: set | None = set() if record_baseline else None

    def add(self, result: Result) -> None:
        self.exchanges += 1
        exchange = result.exchange
        host = exchange.request.host.lower()
        if not self.policy.in_scope(host):
            self.out_of_scope += 1
            return
        self.hosts[host] = self.hosts.get(host, 0) + 1
        url, method = exchange.request.url, exchange.request.method
        status = exchange.response.status if exchange.response else 0
        for finding in result.findings:
            level = self.policy.level(finding, url)
            if level == "ignore":
                continue
            key = baseline_key(finding.rule, host, method, url)
            if self.recorded is not None and level in ("warn", "fail") and len(self.recorded) < MAX_BASELINE_KEYS:
                self.recorded.add(key)
            group = self.groups.get((finding.rule, host))
            if group is None:
                group = self.groups[(finding.rule, host)] = Group(finding.rule, host, level, finding.severity)
            elif LEVEL_RANK[level] > LEVEL_RANK[group.level]:
                group.level = level  # an override may raise one URL's level: the group shows the highest
            # While a baseline is being recorded, everything it will hold counts as accepted.
            new = key not in self.baseline and self.recorded is None
            group.add(finding, Example(url, method, status, finding.summary[:300]), new, level)

    def verdict(self) -> Verdict:
        groups = sorted(self.groups.values(), key=lambda g: (-LEVEL_RANK[g.level], g.rule, g.host))
        path = self.policy.baseline_path
        return Verdict(groups, self.hosts, self.out_of_scope, self.exchanges, str(path) if path else None)
