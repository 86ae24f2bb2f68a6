"""The built-in analyzers, one concern per module."""

from __future__ import annotations

from proxy.analyzer import Analyzer

ENGINES = ("chromium", "firefox")


def builtin_analyzers(engine: str = "chromium") -> list[Analyzer]:
    """*engine*: the browser whose behaviour verdicts follow where engines differ."""
    from .caching import CachingAnalyzer
    from .cors import CorsAnalyzer
    from .status import StatusAnalyzer

    return [StatusAnalyzer(), CachingAnalyzer(engine), CorsAnalyzer(engine)]
