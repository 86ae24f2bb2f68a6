"""The analysis worker: a separate process that runs analyzers, writes the HAR
and prints the per-exchange log, so the proxy's event loop never waits for
analysis.

Protocol: the proxy process puts Exchanges (or lists of them) on ``inbox``,
``Started`` once it listens, ``Notice`` for its messages while the live view
owns the terminal, and ``None`` to finish. The worker answers on ``outbox``
with ``("ready", None)`` or ``("error", message)`` at start and ``("done",
summary)`` at the end.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import sys
import traceback
from dataclasses import dataclass, field

from addons import AnalysisOptions

from .display import DisplayConfig, DisplayError, check_categories
from .gate import Gate, GateConfig
from .loader import ScriptError, analyzers_in, check_packs, load_check_module, load_script
from .pipeline import Pipeline, Result
from .policy import PolicyError
from .summary import Tally, summary_text


@dataclass(frozen=True)
class Started:
    """The proxy listens (the live view's header shows where, and how to trust the CA)."""

    address: str
    ca_hint: str


@dataclass(frozen=True)
class Notice:
    """A message of the proxy process, shown by the worker while the live view owns the terminal."""

    text: str


@dataclass(frozen=True)
class WorkerConfig:
    har_path: str | None = None
    redact: bool = True
    display: DisplayConfig = field(default_factory=DisplayConfig)
    scripts: tuple[str, ...] = field(default_factory=tuple)
    checks: tuple[str, ...] = ()  # --check modules
    packs: bool = True  # installed check packs (entry points)
    max_body: int | None = 1024 * 1024  # cap on decoded bodies in the HAR; None keeps them whole
    analysis: AnalysisOptions = field(default_factory=AnalysisOptions)
    gate: GateConfig | None = None  # judge against a policy and write reports
    resume: bool = False  # a restarted worker: go on with the HAR its predecessor left, and count it in


@dataclass(frozen=True)
class Unanalyzed:
    """An exchange an earlier worker died on twice: record it without running the analyzers again."""

    exchange: object
    reason: str


def warn(message: str) -> None:
    print(f"proxylens: {message}", file=sys.stderr, flush=True)


def build_pipeline(scripts: tuple[str, ...] = (), options: AnalysisOptions | None = None, *,
                   checks: tuple[str, ...] = (), packs: bool = True) -> Pipeline:
    """Built-in analyzers, then those of installed check packs, ``--check`` modules and ``-s`` scripts;
    ScriptError says what is wrong. A check that fails at analysis time is named once on stderr."""
    from addons import builtin_analyzers

    sourced = [(a, "built in") for a in builtin_analyzers(options)]
    if packs:
        sourced += [(a, "an installed check pack") for a in check_packs(warn)]
    for name in checks:
        sourced += [(a, f"--check {name}") for a in analyzers_in(load_check_module(name))]
    for path in scripts:
        sourced += [(a, f"-s {path}") for a in analyzers_in(load_script(path))]
    seen: dict[str, str] = {}
    for analyzer, source in sourced:  # an analyzer's name is the key of its facts: one each
        if analyzer.name in seen:
            raise ScriptError(f"two analyzers are named {analyzer.name!r}: one {seen[analyzer.name]}, one from "
                              f"{source}; load each check once (a pack and --check of its module, or the same -s "
                              "file twice, load it twice), or rename one")
        seen[analyzer.name] = source if source == "built in" else f"from {source}"
    pipeline = Pipeline([a for a, _ in sourced])
    pipeline.on_first_error = lambda analyzer, finding: warn(
        f"warning: check {analyzer!r} failed: {finding.evidence.get('exception')}: {finding.evidence.get('message')} "
        f"(at {finding.evidence.get('location')}); each exchange it fails on gets a proxylens.analyzer-error finding "
        "instead of its verdict, and everything else goes on")
    return pipeline


class Sink:
    """Everything done with one analyzed exchange: HAR, log line, tally."""

    def __init__(self, config: WorkerConfig) -> None:
        from .console import ConsoleOutput
        from .har_writer import HarWriter

        self.config = config
        self.tally = Tally(redact=config.redact)
        self.har = (HarWriter(config.har_path, redact=config.redact, max_body=config.max_body, resume=config.resume)
                    if config.har_path else None)
        self.console = ConsoleOutput(config.display, redact=config.redact)
        self.gate = Gate(config.gate) if config.gate is not None else None

    def recover(self) -> int:
        """Count the exchanges a dead predecessor recorded into the summary and the policy verdict,
        from the findings its HAR entries carry, so that a restart loses none of them."""
        from .findings import Finding
        from .har_reader import HarError, exchange_from_har, iter_entries

        if self.har is None:
            return 0
        recovered = 0
        try:
            for entry in iter_entries(str(self.har.path)):
                stored = (entry.data.get("_proxylens") or {}).get("findings") or []
                result = Result(exchange_from_har(entry), findings=[Finding.model_validate(f) for f in stored])
                self.tally.add(result)
                if self.gate is not None:
                    self.gate.add(result)
                recovered += 1
        except HarError:
            pass  # the file is unfinished by design: it ends after the last complete entry
        return recovered

    def add(self, result: Result) -> None:
        self.tally.add(result)
        if self.gate is not None:
            self.gate.add(result)
        if self.har is not None:
            before = self.har.error
            self.har.add(result)
            if self.har.error and not before:
                print(f"proxylens: error: {self.har.error}; no more entries will be recorded. "
                      "Free some space or pick another --har path.", file=sys.stderr, flush=True)
        self.console.add(result)

    def close(self) -> dict:
        self.console.close()
        har = self.har
        if har is not None:
            har.close()
        summary = summary_text(self.tally, self.config.har_path, har.entries if har else None,
                               color=self.config.display.color, width=self.console.console.width)
        if har is not None and (har.error or har.lost):
            summary += f"\nHAR incomplete: {har.error} ({har.lost} entries not recorded)"
        done = {"summary": summary, "tally": self.tally.as_dict(), "har_ok": har is None or not har.error,
                "policy_failed": False, "policy_messages": []}
        if self.gate is not None:
            verdict, messages = self.gate.close()
            done.update(policy_failed=verdict.failed, policy_messages=messages)
        return done


def process(pipeline: Pipeline, sink: Sink, exchange) -> None:
    try:
        result = pipeline.run(exchange)
    except Exception:  # the pipeline isolates analyzers; this is a bug in proxylens itself
        traceback.print_exc()
        result = Result(exchange)
    try:
        sink.add(result)
    except Exception:
        print(f"proxylens: internal error while recording {exchange.request.url}:", file=sys.stderr)
        traceback.print_exc()


def record_unanalyzed(sink: Sink, item: Unanalyzed) -> None:
    from .findings import ANALYZER_ERROR

    finding = ANALYZER_ERROR.finding(f"not analyzed: {item.reason}"[:300], subject="analysis worker",
                                     evidence={"analyzer": "*", "exception": "WorkerDied", "message": item.reason})
    sink.add(Result(item.exchange, findings=[finding]))


def worker_main(config: WorkerConfig, inbox: multiprocessing.Queue, outbox: multiprocessing.Queue,
                processed=None) -> None:
    # Ctrl-C in a terminal signals the whole process group; the proxy process
    # decides when we stop (it sends None once in-flight flows are recorded).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        pipeline = build_pipeline(config.scripts, config.analysis, checks=config.checks, packs=config.packs)
        check_categories(config.display.categories, [a.name for a in pipeline.analyzers])
        sink = Sink(config)
        if sink.gate is not None:
            sink.gate.check_rules()
        if config.resume:
            sink.recover()
    except BaseException as exc:  # a script may even call sys.exit(): report it, never hang the proxy
        outbox.put(("error", str(exc) if isinstance(exc, (ScriptError, OSError, PolicyError, DisplayError)) else
                    f"{type(exc).__name__}: {exc}"))
        return
    outbox.put(("ready", None))
    parent = multiprocessing.parent_process()
    try:
        while True:
            try:
                item = inbox.get(timeout=1.0)
            except queue.Empty:
                if parent is not None and not parent.is_alive():
                    break  # the proxy died without saying goodbye: still finalize the HAR
                continue
            if item is None:
                break
            if isinstance(item, Started):
                sink.console.started(item.address, item.ca_hint)
                continue
            if isinstance(item, Notice):
                sink.console.notice(item.text)
                continue
            for exchange in item if isinstance(item, list) else (item,):
                if isinstance(exchange, Unanalyzed):
                    record_unanalyzed(sink, exchange)
                else:
                    process(pipeline, sink, exchange)
                if processed is not None:
                    processed.value += 1
    finally:
        outbox.put(("done", sink.close()))
