"""The analyzer API: an Exchange and the session in, facts and findings out.

An analyzer is an object with a ``name`` (the key its facts are stored under)
and an ``analyze(exchange, session)`` method. It returns an ``Analysis``, or
just an iterable of Findings, or None. The ``@analyzer`` decorator turns a
plain function of ``(exchange)`` or ``(exchange, session)`` into one. The
built-in analyzers (``addons/``) are Analyzer subclasses like any other.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .findings import Finding
from .models import Exchange
from .session import Session


@dataclass
class Analysis:
    """What an analyzer found: its facts (a JSON-able dict, stored under the analyzer's name in the
    HAR and reports) and its findings."""

    facts: dict[str, Any] | None = None
    findings: list[Finding] = field(default_factory=list)


class Analyzer:
    """Base class for analyzers. Subclasses set ``name`` (the key of their facts, unique among loaded
    analyzers) and override ``analyze``. One instance sees every exchange, in arrival order."""

    name: str = ""

    def analyze(self, exchange: Exchange, session: Session) -> Analysis | Iterable[Finding] | None:
        """Judge one exchange. Keep state across exchanges in ``session.store(...)``, not on self:
        the session is what ``proxylens analyze`` and tests reset."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<analyzer {self.name}>"


class FunctionAnalyzer(Analyzer):
    """An analyzer made from a function of ``(exchange)`` or ``(exchange, session)``."""

    def __init__(self, name: str, func: Callable[..., Any]) -> None:
        self.name = name
        self.func = func
        self.__doc__ = func.__doc__
        try:
            params = [p for p in inspect.signature(func).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):  # a builtin or a C callable: assume the full signature
            params = [None, None]
        self._with_session = len(params) >= 2

    def analyze(self, exchange: Exchange, session: Session) -> Any:
        return self.func(exchange, session) if self._with_session else self.func(exchange)

    def __repr__(self) -> str:
        return f"<analyzer {self.name} ({getattr(self.func, '__qualname__', self.func)})>"


def analyzer(name: str | Callable[..., Any] | None = None) -> Any:
    """Make a function an analyzer. ``@analyzer("mycheck")`` stores its facts under "mycheck";
    bare ``@analyzer`` uses the function's name. The function takes ``(exchange)`` or
    ``(exchange, session)`` and returns or yields Findings (see ``as_analysis``)."""
    if callable(name):
        return FunctionAnalyzer(_name_of(name), name)

    def wrap(func: Callable[..., Any]) -> FunctionAnalyzer:
        return FunctionAnalyzer(_name_of(func) if name is None else name, func)

    return wrap


def _name_of(func: Callable[..., Any]) -> str:
    name = getattr(func, "__name__", None) or getattr(getattr(func, "func", None), "__name__", None)
    if not name:
        raise TypeError(f"{func!r} has no __name__: name the analyzer, @analyzer(\"name\")")
    return name


def as_analysis(result: Any) -> Analysis:
    """Normalize what an analyzer returned: None, a Finding, an Analysis, or an iterable (a list, a
    generator) of Findings and Analyses (whose facts are merged, later keys winning). Anything else is
    a TypeError that says what was returned, which the pipeline reports as the analyzer's error."""
    if result is None:
        return Analysis()
    if isinstance(result, Finding):
        return Analysis(findings=[result])
    if isinstance(result, Analysis):
        items: list[Any] = [result]
    elif isinstance(result, (str, bytes, dict)) or not isinstance(result, Iterable):
        raise TypeError(f"returned {_kind(result)}; return Findings (a list, or yield them), an Analysis, or None")
    else:
        items = list(result)
    facts: dict[str, Any] | None = None
    findings: list[Finding] = []
    for item in items:
        if isinstance(item, Finding):
            findings.append(item)
        elif isinstance(item, Analysis):
            if item.facts is not None:
                if not isinstance(item.facts, dict):
                    raise TypeError(f"Analysis.facts is {_kind(item.facts)}; it must be a dict")
                facts = {**(facts or {}), **item.facts}
            findings.extend(as_analysis(list(item.findings or [])).findings)
        else:
            raise TypeError(f"yielded {_kind(item)}; expected Finding (make one with a Rule: rule.finding(...))")
    return Analysis(facts=facts, findings=findings)


def _kind(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"
