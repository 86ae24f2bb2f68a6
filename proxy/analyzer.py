"""The analyzer API: an Exchange and the session in, facts and findings out.

An analyzer is an object with a ``name`` (the key its facts are stored under)
and an ``analyze(exchange, session)`` method. It returns an ``Analysis``, or
just an iterable of Findings, or None. The ``@analyzer`` decorator turns a
plain function into one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .findings import Finding
from .models import Exchange
from .session import Session


@dataclass
class Analysis:
    facts: dict[str, Any] | None = None
    findings: list[Finding] = field(default_factory=list)


class Analyzer:
    """Base class for analyzers. Subclasses set ``name`` and override ``analyze``."""

    name: str = ""

    def analyze(self, exchange: Exchange, session: Session) -> Analysis | Iterable[Finding] | None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<analyzer {self.name}>"


class FunctionAnalyzer(Analyzer):
    def __init__(self, name: str, func: Callable[[Exchange, Session], Any]) -> None:
        self.name = name
        self.func = func

    def analyze(self, exchange: Exchange, session: Session) -> Any:
        return self.func(exchange, session)


def analyzer(name: str) -> Callable[[Callable[[Exchange, Session], Any]], FunctionAnalyzer]:
    """Decorator: ``@analyzer("mycheck")`` over ``def f(exchange, session)``."""

    def wrap(func: Callable[[Exchange, Session], Any]) -> FunctionAnalyzer:
        return FunctionAnalyzer(name, func)

    return wrap


def as_analysis(result: Any) -> Analysis:
    """Normalize what an analyzer returned."""
    if result is None:
        return Analysis()
    if isinstance(result, Finding):
        return Analysis(findings=[result])
    if isinstance(result, Analysis):
        facts, findings = result.facts, list(result.findings)
    else:
        facts, findings = None, list(result)
    for item in findings:
        if not isinstance(item, Finding):
            raise TypeError(f"analyzer returned {type(item).__name__}, expected Finding")
    return Analysis(facts=facts, findings=findings)
