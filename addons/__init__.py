"""The built-in analyzers, one concern per module."""

from __future__ import annotations

from proxy.analyzer import Analyzer


def builtin_analyzers() -> list[Analyzer]:
    from .status import StatusAnalyzer

    return [StatusAnalyzer()]
