"""Run analyzers inside a mitmproxy process (``mitmdump -s addons/status.py``).

For use with plain mitmdump or mitmweb, without proxylens's worker: findings
become the flow's comment, the flow is marked by its worst severity, and the
facts and findings are stored in ``flow.metadata["proxylens"]`` as JSON-able
data (pydantic objects there would break mitmproxy's flow saving).
"""

from __future__ import annotations

from typing import Sequence

from mitmproxy import http

from .analyzer import Analyzer
from .findings import Finding, Severity
from .har import findings_comment
from .pipeline import Pipeline
from .snapshot import BodyCapture, exchange_from_flow
from .tls_capture import TlsCapture

MARKERS = {Severity.ERROR: ":red_circle:", Severity.WARNING: ":warning:"}


class InProcess:
    """A mitmproxy addon running *analyzers* inside mitmdump or mitmweb, without proxylens's worker:
    ``addons = [InProcess([my_check])]`` in a script for ``mitmdump -s``. Findings become the flow's
    comment and marker; facts and findings are kept in ``flow.metadata["proxylens"]``."""

    def __init__(self, analyzers: Sequence[Analyzer]) -> None:
        self.pipeline = Pipeline(analyzers)
        self.capture = BodyCapture("text")
        # mitmproxy refuses two addons of the same name; several modules may be loaded side by side.
        self.name = "proxylens-" + "-".join(a.name for a in analyzers)
        self.tls = TlsCapture()
        self.tls.name = self.name + "-tls"  # type: ignore[attr-defined]  # addon names must be unique
        self.addons = [self.tls]  # a child addon: mitmproxy calls its hooks too

    def _analyze(self, flow: http.HTTPFlow) -> None:
        exchange = exchange_from_flow(flow, self.capture, client=self.tls.client(flow.client_conn),
                                      server=self.tls.server(flow.server_conn))
        result = self.pipeline.run(exchange)
        # Several addons/ modules may be loaded side by side: merge, don't overwrite.
        stored = flow.metadata.setdefault("proxylens", {"facts": {}, "findings": []})
        stored["facts"].update(result.facts)
        stored["findings"].extend(f.to_json() for f in result.findings)
        findings = [Finding.model_validate(f) for f in stored["findings"]]
        if findings:
            flow.comment = findings_comment(findings)
            worst = max(f.severity for f in findings)
            if worst in MARKERS:
                flow.marked = MARKERS[worst]

    def response(self, flow: http.HTTPFlow) -> None:
        self._analyze(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._analyze(flow)
