"""The built-in analyzers, one concern per module."""

from __future__ import annotations

from proxy.analyzer import Analyzer

ENGINES = ("chromium", "firefox")
HSTS_PROFILES = ("rfc", "observatory", "preload")


def builtin_analyzers(engine: str = "chromium", hsts_profile: str = "rfc") -> list[Analyzer]:
    """*engine*: the browser whose behaviour verdicts follow where engines differ;
    *hsts_profile*: how strict the HSTS checks are (see addons/hsts.py)."""
    from .caching import CachingAnalyzer
    from .cors import CorsAnalyzer
    from .hsts import HstsAnalyzer
    from .status import StatusAnalyzer

    return [StatusAnalyzer(), CachingAnalyzer(engine), CorsAnalyzer(engine), HstsAnalyzer(hsts_profile)]
