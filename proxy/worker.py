"""The analysis worker: a separate process that runs analyzers, writes the HAR
and prints the per-exchange log, so the proxy's event loop never waits for
analysis.

Protocol: the proxy process puts Exchanges (or lists of them) on ``inbox``
and ``None`` to finish. The worker answers on ``outbox`` with
``("ready", None)`` or ``("error", message)`` at start and ``("done",
summary)`` at the end.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import sys
import traceback
from dataclasses import dataclass, field

from .loader import ScriptError, analyzers_in, load_script
from .pipeline import Pipeline, Result
from .plainlog import Tally, exchange_line, summary_text, write_line


@dataclass(frozen=True)
class WorkerConfig:
    har_path: str | None = None
    redact: bool = True
    quiet: bool = False
    scripts: tuple[str, ...] = field(default_factory=tuple)


def build_pipeline(scripts: tuple[str, ...]) -> Pipeline:
    from addons import builtin_analyzers

    analyzers = builtin_analyzers()
    for path in scripts:
        analyzers.extend(analyzers_in(load_script(path)))
    return Pipeline(analyzers)


class Sink:
    """Everything done with one analyzed exchange: HAR, log line, tally."""

    def __init__(self, config: WorkerConfig) -> None:
        from .har_writer import HarWriter

        self.config = config
        self.tally = Tally()
        self.har = HarWriter(config.har_path, redact=config.redact) if config.har_path else None

    def add(self, result: Result) -> None:
        self.tally.add(result)
        if self.har is not None:
            self.har.add(result)
        if not self.config.quiet:
            write_line(sys.stdout, exchange_line(result))

    def close(self) -> str:
        if self.har is not None:
            self.har.close()
        return summary_text(self.tally, self.config.har_path, self.har.entries if self.har else None)


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


def worker_main(config: WorkerConfig, inbox: multiprocessing.Queue, outbox: multiprocessing.Queue) -> None:
    # Ctrl-C in a terminal signals the whole process group; the proxy process
    # decides when we stop (it sends None once in-flight flows are recorded).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        pipeline = build_pipeline(config.scripts)
        sink = Sink(config)
    except (ScriptError, OSError, ValueError) as exc:
        outbox.put(("error", str(exc)))
        return
    outbox.put(("ready", None))
    parent = multiprocessing.parent_process()
    while True:
        try:
            item = inbox.get(timeout=1.0)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                break  # the proxy died without saying goodbye: still finalize the HAR
            continue
        if item is None:
            break
        for exchange in item if isinstance(item, list) else (item,):
            process(pipeline, sink, exchange)
    summary = sink.close()
    outbox.put(("done", {"summary": summary, "tally": sink.tally.as_dict()}))
