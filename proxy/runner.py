"""``proxylens proxy``: mitmproxy in this process, analysis in a worker process.

Start-up: the worker starts first and loads every analyzer (so a broken
``-s`` script is a clear configuration error before anything listens), then
mitmproxy starts with the Bridge addon. Shutdown on SIGINT/SIGTERM: stop
listening, give in-flight exchanges a moment to finish, record the rest as
errors, tell the worker to drain and finalize the HAR, print the summary.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import sys
from dataclasses import dataclass, field

from .snapshot import BodyCapture
from .worker import WorkerConfig, worker_main

EXIT_OK, EXIT_POLICY, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
GRACE_SECONDS = 3.0
QUEUE_SIZE = 10_000


@dataclass(frozen=True)
class ProxyConfig:
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    mode: str = "regular"
    har: str | None = None
    quiet: bool = False
    scripts: tuple[str, ...] = field(default_factory=tuple)
    redact: bool = True
    capture: BodyCapture = field(default_factory=BodyCapture)
    ssl_insecure: bool = False
    upstream_ca: str | None = None


def err(message: str) -> None:
    print(f"proxylens: {message}", file=sys.stderr, flush=True)


def run_proxy(config: ProxyConfig) -> int:
    mp = multiprocessing.get_context("spawn")
    inbox: multiprocessing.Queue = mp.Queue(maxsize=QUEUE_SIZE)
    outbox: multiprocessing.Queue = mp.Queue()
    worker_config = WorkerConfig(har_path=config.har, redact=config.redact, quiet=config.quiet,
                                 scripts=config.scripts)
    worker = mp.Process(target=worker_main, args=(worker_config, inbox, outbox), name="proxylens-analysis")
    worker.start()
    kind, payload = outbox.get()
    if kind == "error":
        worker.join()
        err(f"error: {payload}")
        return EXIT_USAGE
    code = EXIT_INTERNAL
    try:
        code = asyncio.run(_serve(config, inbox))
    except Exception as exc:
        err(f"internal error: {type(exc).__name__}: {exc}")
        code = EXIT_INTERNAL
    finally:
        inbox.put(None)
        done = outbox.get()
        worker.join()
        if done[0] == "done":
            print(done[1]["summary"], flush=True)
    return code


async def _serve(config: ProxyConfig, inbox: multiprocessing.Queue) -> int:
    from mitmproxy import options
    from mitmproxy.addons.termlog import TermLog
    from mitmproxy.tools.dump import DumpMaster

    import certs

    from .bridge import Bridge

    confdir = certs.ensure_private()
    opts = options.Options(listen_host=config.listen_host, listen_port=config.listen_port, mode=[config.mode])
    master = DumpMaster(opts, with_termlog=False, with_dumper=False)
    # mitmproxy's own log goes to stderr (stdout is for exchanges and the
    # summary); start-up failures are checked below instead of by errorcheck,
    # which would sys.exit() from inside the event loop.
    termlog = TermLog(out=sys.stderr)
    errorcheck = master.addons.get("errorcheck")
    errorcheck.finish()
    master.addons.remove(errorcheck)
    bridge = Bridge(inbox, config.capture)
    master.addons.add(termlog, bridge)
    opts.update(
        confdir=str(confdir),
        termlog_verbosity="warn",
        ssl_insecure=config.ssl_insecure,
        ssl_verify_upstream_trusted_ca=config.upstream_ca,
        scripts=list(config.scripts),
    )
    certs.ensure_private(confdir)  # mitmproxy may just have created the CA here

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    run = asyncio.create_task(master.run())
    try:
        started = asyncio.create_task(bridge.running_event.wait())
        await asyncio.wait({run, started}, return_when=asyncio.FIRST_COMPLETED)
        if run.done():
            run.result()
            return EXIT_INTERNAL
        proxyserver = master.addons.get("proxyserver")
        failures = [s for s in proxyserver.servers if s.last_exception is not None]
        if failures or not proxyserver.listen_addrs():
            for server in failures:
                err(f"cannot listen for {server.mode.full_spec}: {server.last_exception}")
            err("the proxy could not start. If the address is in use, pick another port with --listen-port "
                "or stop the process that holds it.")
            master.shutdown()
            await run
            return EXIT_USAGE
        _announce(config, proxyserver.listen_addrs(), confdir)
        await asyncio.wait({run, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
        if run.done():
            run.result()
            return EXIT_OK
        await _drain(master, bridge)
        master.shutdown()
        await run
        return EXIT_OK
    finally:
        termlog.uninstall()


def _announce(config: ProxyConfig, addresses: list, confdir) -> None:
    import certs

    for host, port, *_ in addresses:
        shown = f"[{host}]" if ":" in host else host
        err(f"listening on {shown}:{port} ({config.mode} mode)")
    err(f"CA certificate: {certs.ca_cert_path(confdir)} (trust it in the client to intercept HTTPS)")
    if config.har:
        err(f"recording HAR to {config.har}")


async def _drain(master, bridge) -> None:
    """Let the exchanges in flight at the signal finish, within GRACE_SECONDS."""
    bridge.stopping = True
    loop = asyncio.get_running_loop()
    _quiet_cancellations(loop)
    proxyserver = master.addons.get("proxyserver")
    if proxyserver is not None:
        await proxyserver.servers.update([])  # stop accepting; open connections go on
    waiting = set(bridge.inflight)
    deadline = loop.time() + GRACE_SECONDS
    while waiting & bridge.inflight.keys() and loop.time() < deadline:
        await asyncio.sleep(0.05)
    n = await bridge.record_inflight("proxylens was stopped before the response completed")
    if n:
        err(f"recorded {n} unfinished exchange(s) as errors")


def _quiet_cancellations(loop: asyncio.AbstractEventLoop) -> None:
    """Connection handlers cancelled by the shutdown are expected; Python 3.11's
    asyncio reports each one as 'Exception in callback'. Keep other errors."""
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        if isinstance(context.get("exception"), asyncio.CancelledError):
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
