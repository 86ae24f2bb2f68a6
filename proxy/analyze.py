"""``proxylens analyze FILE.har``: the live pipeline, offline, on any HAR."""

from __future__ import annotations

import json
import sys
from typing import IO

from addons import AnalysisOptions

from .console import ConsoleOutput
from .display import DisplayConfig, DisplayError, check_categories
from .gate import Gate, GateConfig
from .har_reader import HarError, exchange_from_har, iter_entries
from .loader import ScriptError
from .pipeline import Result
from .policy import PolicyError
from .runner import EXIT_OK, EXIT_POLICY, EXIT_USAGE
from .summary import Tally, summary_text
from .worker import build_pipeline


def _report_entry(index: int, result: Result) -> dict:
    ex = result.exchange
    return {
        "index": index,
        "url": ex.request.url,
        "method": ex.request.method,
        "status": ex.response.status if ex.response else 0,
        "error": ex.error.message if ex.error else None,
        "facts": result.facts,
        "findings": [f.to_json() for f in result.findings],
    }


def analyze(path: str, *, as_json: bool = False, scripts: tuple[str, ...] = (),
            analysis: AnalysisOptions | None = None, out: IO[str] = sys.stdout, gate: GateConfig | None = None,
            display: DisplayConfig | None = None, checks: tuple[str, ...] = (), packs: bool = True) -> int:
    """Analyze a HAR: per entry what *display* asks for (plain lines with their findings by default)
    or, with *as_json*, a JSON report; then the summary. The entries' own URLs are shown unredacted:
    the file is already on disk, and redacting would hide what it holds."""
    display = display or DisplayConfig()
    try:
        pipeline = build_pipeline(scripts, analysis, checks=checks, packs=packs)
        check_categories(display.categories, [a.name for a in pipeline.analyzers])
        judge = Gate(gate) if gate is not None else None
        if judge is not None:
            judge.check_rules()
    except (ScriptError, PolicyError, DisplayError) as exc:
        print(f"proxylens: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    tally = Tally(redact=False)
    console = None if as_json else ConsoleOutput(display, redact=False, out=out, findings_under_lines=True)
    problems: list[str] = []
    fatal: str | None = None
    if as_json:
        out.write('{"file": ' + json.dumps(path) + ', "entries": [')
    first = True
    try:
        for entry in iter_entries(path):
            try:
                exchange = exchange_from_har(entry)
            except HarError as exc:
                problems.append(str(exc))
                continue
            result = pipeline.run(exchange)
            tally.add(result)
            if judge is not None:
                judge.add(result)
            if as_json:
                out.write(("\n" if first else ",\n") + json.dumps(_report_entry(entry.index, result), default=str))
                first = False
            else:
                console.add(result)
    except HarError as exc:
        fatal = str(exc)
    if as_json:
        out.write("\n], " + json.dumps({"summary": tally.as_dict(), "problems": problems, "error": fatal})[1:] + "\n")
    else:
        out.write(summary_text(tally, color=display.color, width=console.console.width) + "\n")
    out.flush()
    for problem in problems:
        print(f"proxylens: skipped {problem}", file=sys.stderr)
    if fatal:
        print(f"proxylens: error: {fatal}", file=sys.stderr)
        return EXIT_USAGE
    if judge is not None:
        verdict, messages = judge.close()
        for line in messages:
            print(f"proxylens: {line}", file=sys.stderr)
        return EXIT_POLICY if verdict.failed else EXIT_OK
    return EXIT_OK
