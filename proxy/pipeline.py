"""Run every analyzer on an exchange, isolated from one another."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .analyzer import Analyzer, as_analysis
from .findings import ANALYZER_ERROR, Finding
from .models import Exchange
from .session import Session


@dataclass
class Result:
    """One exchange with every analyzer's facts (by analyzer name) and all their findings."""

    exchange: Exchange
    facts: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


class Pipeline:
    def __init__(self, analyzers: Sequence[Analyzer], session: Session | None = None) -> None:
        names = [a.name for a in analyzers]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ValueError(f"two analyzers share the name {sorted(duplicates)[0]!r}")
        self.analyzers = list(analyzers)
        self.session = session or Session()
        # Called once per analyzer, on its first failure, with its analyzer-error finding.
        self.on_first_error: Callable[[str, Finding], None] | None = None
        self._failed: set[str] = set()

    def run(self, exchange: Exchange) -> Result:
        result = Result(exchange)
        by_analyzer: list[tuple[Analyzer, list[Finding]]] = []
        self.session.now = exchange.timings.started
        for analyzer in self.analyzers:
            try:
                analysis = as_analysis(analyzer.analyze(exchange, self.session))
            except (Exception, SystemExit) as exc:  # isolation: one analyzer never breaks the others (nor exits)
                self._failure(result, analyzer, exc)
                continue
            if analysis.facts is not None:
                result.facts[analyzer.name] = analysis.facts
            result.findings.extend(analysis.findings)
            by_analyzer.append((analyzer, analysis.findings))
        try:  # facts go into HAR files and JSON reports: they must be JSON (one check for all: cheaper)
            json.dumps(result.facts, allow_nan=False)
        except (TypeError, ValueError):
            self._drop_bad_facts(result, by_analyzer)
        return result

    def _drop_bad_facts(self, result: Result, by_analyzer: list[tuple[Analyzer, list[Finding]]]) -> None:
        """An analyzer whose facts are not JSON failed: its facts and findings give way to its error."""
        for analyzer, findings in by_analyzer:
            if analyzer.name not in result.facts:
                continue
            try:
                json.dumps(result.facts[analyzer.name], allow_nan=False)
            except (TypeError, ValueError) as exc:
                del result.facts[analyzer.name]
                dropped = {id(f) for f in findings}
                result.findings[:] = [f for f in result.findings if id(f) not in dropped]
                self._failure(result, analyzer, TypeError(f"facts are not JSON: {exc}"))


    def _failure(self, result: Result, analyzer: Analyzer, exc: Exception) -> None:
        finding = _analyzer_error(analyzer, exc)
        result.findings.append(finding)
        if analyzer.name not in self._failed:
            self._failed.add(analyzer.name)
            if self.on_first_error is not None:
                self.on_first_error(analyzer.name, finding)


def _analyzer_error(analyzer: Analyzer, exc: Exception) -> Finding:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return ANALYZER_ERROR.finding(
        f"analyzer {analyzer.name!r} crashed: {type(exc).__name__}: {exc}"[:300],
        subject=f"analyzer.{analyzer.name}",
        evidence={
            "analyzer": analyzer.name,
            "exception": type(exc).__name__,
            "message": str(exc)[:500],
            "location": where,
        },
    )
