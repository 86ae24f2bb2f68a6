"""The analysis worker's keeper, in the proxy process: start it, feed it, restart it when it dies.

A worker can die under the proxy: the OOM killer, a user's ``kill``, a
native crash in a check's C extension. The proxy must keep serving and lose
nothing, so the supervisor

- keeps every exchange it sent until the worker has counted it finished
  (``processed``, a shared counter), and sends those again to the next worker;
- starts that worker with ``resume``: it goes on with the HAR where the dead
  one stopped and counts the recorded entries into the summary and the policy
  verdict, so the HAR stays one valid file and the verdict covers everything;
- treats an exchange a worker died on twice in a row as poison: it is then
  recorded without analysis (as a ``proxylens.analyzer-error``), and after a
  third death dropped, and said so, rather than killing every worker after it.

After ``MAX_RESTARTS`` the proxy stops as before (exit 3): a worker that keeps
dying is a bug to report, not one to hide.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import queue
import threading
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

from .models import Exchange
from .worker import Notice, Started, Unanalyzed, WorkerConfig, worker_main

MAX_RESTARTS = 5
# Exchanges go to the worker in batches: one pickle, one pipe write and one wake-up of the queue's
# feeder thread per batch instead of per exchange. Under load that thread's wake-ups took a seventh
# of the event loop's time, contending for the GIL. A batch waits at most BATCH_SECONDS.
BATCH_SECONDS = 0.01
BATCH_MAX = 64


@dataclass
class WorkerProcess:
    process: Any  # multiprocessing.Process
    inbox: Any  # multiprocessing.Queue: Exchanges, Started, Notice, None (finish)
    outbox: Any  # multiprocessing.Queue: ("ready" | "error" | "done", payload)
    processed: Any  # multiprocessing.RawValue: exchanges this worker finished

    def alive(self) -> bool:
        return self.process.is_alive()

    def receive(self) -> tuple[str, Any]:
        """The worker's next message, or ("dead", exit code) if it died first."""
        while True:
            try:
                return self.outbox.get(timeout=0.5)
            except queue.Empty:
                if not self.process.is_alive():
                    try:  # it may have said something just before exiting
                        return self.outbox.get(timeout=0.5)
                    except queue.Empty:
                        return "dead", self.process.exitcode


def spawn(config: WorkerConfig) -> tuple[WorkerProcess, str, Any]:
    """Start a worker and wait until it has loaded every analyzer: (worker, "ready" | "error" | "dead", detail)."""
    mp = multiprocessing.get_context("spawn")
    worker = WorkerProcess(None, mp.Queue(), mp.Queue(), mp.RawValue("Q", 0))
    worker.process = mp.Process(target=worker_main, args=(config, worker.inbox, worker.outbox, worker.processed),
                                name="proxylens-analysis")
    worker.process.start()
    kind, payload = worker.receive()
    return worker, kind, payload


class _Finished:
    value = 0


class Supervisor:
    """Sends exchanges to the current worker (``put_nowait``, never blocking) and counts what every
    worker so far has finished (``value``): the Bridge's queue and backlog gauge in one."""

    def __init__(self, config: WorkerConfig, worker: WorkerProcess) -> None:
        self.config = config
        self.worker: WorkerProcess | None = worker
        self.restarts = 0
        self.unanalyzed = 0  # recorded without analysis: a worker died on them twice
        self.dropped = 0  # not recorded at all: a worker died on them three times
        self._processed: Any = worker.processed
        self._done_before = 0  # finished by workers that have died since
        self._unsettled: deque[Exchange | Unanalyzed] = deque()  # sent, not known finished, oldest first
        self._batch: list[Exchange] = []  # the tail of _unsettled not yet handed to the queue
        self._settled = 0  # how much of this worker's processed count has left _unsettled
        self._started: Started | None = None
        self._deaths_here = 0  # consecutive deaths without a finished exchange in between
        self._restarting: concurrent.futures.Future | None = None  # the next worker, while it starts
        self._progress_at_death = -1

    @property
    def value(self) -> int:
        return self._done_before + self._processed.value

    def put_nowait(self, exchange: Exchange) -> None:
        self._settle()
        self._unsettled.append(exchange)
        self._batch.append(exchange)
        if len(self._batch) >= BATCH_MAX:
            self.flush()
        elif len(self._batch) == 1:
            try:
                asyncio.get_running_loop().call_later(BATCH_SECONDS, self.flush)
            except RuntimeError:  # not on an event loop: nothing would flush it later
                self.flush()

    def flush(self) -> None:
        """Hand the waiting batch to the worker's queue (never blocks: the queue's thread writes it)."""
        if self._batch and self.worker is not None:  # while a new worker starts, they wait in _unsettled
            self.worker.inbox.put_nowait(self._batch)
        self._batch = []

    def started(self, item: Started) -> None:
        self._started = item  # a restarted worker's live view needs it too
        if self.worker is not None:
            self.flush()
            self.worker.inbox.put(item)

    def notice(self, text: str) -> bool:
        """Show a message in the live view; False when no worker is there to show it."""
        if self.worker is None or not self.worker.alive():
            return False
        self.flush()  # after the exchanges that came before it
        self.worker.inbox.put(Notice(text))
        return True

    def _settle(self) -> None:
        done = self._processed.value
        while self._settled < done and self._unsettled:
            self._unsettled.popleft()
            self._settled += 1

    def died(self) -> str:
        """Take note of the worker's death, before a restart: say what happens to its exchanges."""
        assert self.worker is not None
        self._settle()  # what is left was not finished (see note on the one possible duplicate below)
        # The worker counts an exchange right after recording it: killed between the two, that one
        # exchange is recorded twice. The window is a few instructions; losing it would be worse.
        self._done_before += self._processed.value
        self._processed, self._settled = _Finished(), 0
        old, self.worker, self._batch = self.worker, None, []
        old.inbox.cancel_join_thread()  # nobody reads it any more: never wait for its feeder at exit
        old.inbox.close()
        if self._done_before == self._progress_at_death:
            self._deaths_here += 1
        else:
            self._deaths_here = 1
        self._progress_at_death = self._done_before
        waiting = len(self._unsettled)
        if not self._unsettled or self._deaths_here == 1:
            return f"{waiting} exchange(s) it had not finished will be analyzed again"
        first = self._unsettled[0]
        exchange = first.exchange if isinstance(first, Unanalyzed) else first
        what = f"{exchange.request.method} {exchange.request.url}"
        if self._deaths_here == 2:
            self._unsettled[0] = Unanalyzed(exchange, f"the analysis worker died twice while analyzing {what}")
            self.unanalyzed += 1
            return f"it died on {what} twice: that exchange is recorded without analysis"
        self._unsettled.popleft()
        self.dropped += 1
        self._deaths_here = 0
        return f"it died on {what} even without analysis: that exchange is left out of the HAR"

    def restart(self) -> concurrent.futures.Future:
        """Start the next worker in a thread; the future gives (worker, "ready" | "error" | "dead", detail).

        The future is kept: if the proxy stops while the worker starts, finish() still adopts it, so
        the exchanges waiting for it are recorded and no worker is left running that nobody ends
        (multiprocessing would wait for it at exit, forever)."""
        self.restarts += 1
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_running_or_notify_cancel()  # a cancelled waiter must not cancel the start itself

        def start() -> None:
            try:
                future.set_result(spawn(replace(self.config, resume=True)))
            except BaseException as exc:  # reported through the future
                future.set_exception(exc)

        threading.Thread(target=start, name="proxylens-restart", daemon=True).start()
        self._restarting = future
        return future

    def adopt(self, worker: WorkerProcess) -> int:
        """Make *worker* the current one and send it everything unfinished; on the event loop."""
        self._restarting = None
        self.worker, self._processed, self._settled = worker, worker.processed, 0
        if self._started is not None:
            worker.inbox.put(self._started)
        self._batch = []
        if self._unsettled:
            worker.inbox.put_nowait(list(self._unsettled))
        return len(self._unsettled)

    def finish(self) -> tuple[str, Any]:
        """Ask the worker to finalize the HAR and summarize: ("done", summary) or ("dead", exit code)."""
        if self.worker is not None and not self.worker.alive() and self.restarts < MAX_RESTARTS:
            self.died()  # it died after the proxy last looked: what it had goes to a new worker
            self.restart()
        if self.worker is None and self._restarting is not None:  # stopped while a new worker started
            worker, kind, payload = self._restarting.result()
            if kind != "ready":
                return "dead", payload
            self.adopt(worker)
        if self.worker is None:
            return "dead", None
        self.flush()
        if self.worker.alive():
            self.worker.inbox.put(None)
        else:
            self.worker.inbox.cancel_join_thread()
        kind, payload = self.worker.receive()
        self.worker.process.join(10)
        return kind, payload
