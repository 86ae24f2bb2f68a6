"""The built-in analyzers, one concern per module."""

from __future__ import annotations

from dataclasses import dataclass

from proxy import Analyzer

ENGINES = ("chromium", "firefox")
HSTS_PROFILES = ("rfc", "observatory", "preload")
TLS_PROFILES = ("modern", "intermediate", "old")  # Mozilla's server-side TLS configurations


@dataclass(frozen=True)
class AnalysisOptions:
    """Options that change verdicts; shared by `proxy` and `analyze`."""

    engine: str = "chromium"  # the browser whose behaviour verdicts follow where engines differ
    hsts_profile: str = "rfc"  # how strict the HSTS checks are (addons/hsts.py)
    tls_profile: str = "intermediate"  # the Mozilla configuration upstream TLS is judged by (addons/tls.py)
    cert_expiry_days: int = 30  # warn when the upstream certificate expires within this many days


def builtin_analyzers(options: AnalysisOptions | None = None) -> list[Analyzer]:
    from .caching import CachingAnalyzer
    from .cors import CorsAnalyzer
    from .hsts import HstsAnalyzer
    from .status import StatusAnalyzer
    from .tls import TlsAnalyzer

    o = options or AnalysisOptions()
    return [StatusAnalyzer(), CachingAnalyzer(o.engine), CorsAnalyzer(o.engine), HstsAnalyzer(o.hsts_profile),
            TlsAnalyzer(o.tls_profile, o.cert_expiry_days)]
