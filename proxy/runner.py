"""``proxylens proxy``: mitmproxy in this process, analysis in a worker process.

Start-up: the worker starts first and loads every analyzer (so a broken
``-s`` script is a clear configuration error before anything listens), then
mitmproxy starts with the Bridge addon. Shutdown on SIGINT/SIGTERM: stop
listening, give the exchanges in flight a moment to finish, record the rest
as errors, tell the worker to drain and finalize the HAR, print the summary.
The worker is watched throughout: if it dies, the proxy says so, keeps
serving and starts another, which goes on with the same HAR (supervisor.py);
only a worker that keeps dying stops the proxy (exit 3).
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from addons import AnalysisOptions

from .display import DisplayConfig
from .gate import GateConfig
from .snapshot import BodyCapture
from .supervisor import MAX_RESTARTS, Supervisor, spawn
from .worker import Started, WorkerConfig

EXIT_OK, EXIT_POLICY, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
GRACE_SECONDS = 3.0


@dataclass(frozen=True)
class ProxyConfig:
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    proxyauth: str | None = None  # USER:PASS clients must send (mitmproxy's proxyauth option)
    mode: str = "regular"
    har: str | None = None
    display: DisplayConfig = field(default_factory=DisplayConfig)
    scripts: tuple[str, ...] = field(default_factory=tuple)
    checks: tuple[str, ...] = ()  # --check modules, run in the worker
    packs: bool = True  # installed check packs
    redact: bool = True
    capture: BodyCapture = field(default_factory=BodyCapture)
    ssl_insecure: bool = False
    upstream_ca: str | None = None
    analysis: AnalysisOptions = field(default_factory=AnalysisOptions)
    upstream_timeout: float = 60.0
    gate: GateConfig | None = None  # judge against a policy: exit 1 when it fails
    command: tuple[str, ...] = ()  # `proxylens run -- CMD`: run it through the proxy, then judge
    no_proxy: str = ""  # NO_PROXY for the command


class Messages(io.TextIOBase):
    """Where the proxy process's messages go (ours and mitmproxy's log): stderr, or, while the
    worker's live view owns the terminal, the worker, which prints them above the table."""

    def __init__(self) -> None:
        self.to_worker: Callable[[str], None] | None = None
        self._partial = ""

    def isatty(self) -> bool:  # mitmproxy's log: no colour codes in what we forward
        return False

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.to_worker is None:
            sys.stderr.write(text)
            sys.stderr.flush()
            return len(text)
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            if line:
                self.to_worker(line)
        return len(text)


messages = Messages()


def err(message: str) -> None:
    messages.write(f"proxylens: {message}\n")


def _forward_to(supervisor: Supervisor) -> Callable[[str], None]:
    def forward(line: str) -> None:
        if not supervisor.notice(line):  # no worker right now to print it
            print(line, file=sys.stderr, flush=True)

    return forward


def run_proxy(config: ProxyConfig) -> int:
    import certs

    try:
        authority, warnings, created = certs.ensure(certs.config_dir())
    except certs.CAError as exc:
        err(f"error: {exc}")
        return EXIT_USAGE
    for warning in warnings:
        err(f"warning: {warning}")
    if created:
        err(f"created a new CA for this installation: {authority.subject}")
    worker_config = WorkerConfig(har_path=config.har, redact=config.redact, display=config.display,
                                 scripts=config.scripts, checks=config.checks, packs=config.packs,
                                 max_body=None if config.capture.mode == "all" else config.capture.max_bytes,
                                 analysis=config.analysis, gate=config.gate)
    worker, kind, payload = spawn(worker_config)
    if kind != "ready":
        worker.process.join(5)
        err(f"error: {payload}" if kind == "error" else f"error: the analysis worker exited during start-up "
            f"(exit code {payload})")
        return EXIT_USAGE
    code = EXIT_INTERNAL
    child = ChildExit()
    supervisor = Supervisor(worker_config, worker)
    try:
        code = asyncio.run(_serve(config, authority, supervisor, child))
    except Exception as exc:
        err(f"internal error: {type(exc).__name__}: {exc}")
        code = EXIT_INTERNAL
    finally:
        messages.to_worker = None  # the live view is about to stop: messages go to stderr again
        kind, payload = supervisor.finish()
        if kind == "done":
            print(payload["summary"], flush=True)
            skipped = config.command and not child.started  # nothing ran: a verdict would mislead
            for line in payload["policy_messages"]:
                if line.startswith("error:"):
                    err(line)
                elif not skipped:
                    print(f"proxylens: {line}", flush=True)
            if not payload["har_ok"] and code == EXIT_OK:
                code = EXIT_INTERNAL
            if payload["policy_failed"] and code == EXIT_OK and not skipped:
                code = EXIT_POLICY
        else:
            if config.display.mode == "live":  # rich hid the cursor while drawing and could not show it again
                sys.stdout.write("\x1b[?25h\n")
            err(f"the analysis worker died (exit code {payload}); the HAR and the summary are incomplete")
            code = EXIT_INTERNAL
        if supervisor.restarts:
            err(f"the analysis worker was restarted {supervisor.restarts} time(s); "
                + (f"{supervisor.dropped} exchange(s) it died on are not in the HAR"
                   if supervisor.dropped else "no exchange was lost"))
            if supervisor.dropped and code == EXIT_OK:
                code = EXIT_INTERNAL
    # In `run`, a command that failed decides the exit code: the suite's own failure comes first.
    if child.code:
        return child.code
    return code


@dataclass
class ChildExit:
    code: int | None = None
    started: bool = False


async def _serve(config: ProxyConfig, authority, supervisor: Supervisor, child: ChildExit) -> int:
    from mitmproxy import options
    from mitmproxy.addons.errorcheck import ErrorCheckHandler
    from mitmproxy.addons.termlog import TermLog
    from mitmproxy.tools.dump import DumpMaster

    from .body_stream import LargeBodies, stream_limit
    from .bridge import Bridge
    from .ca_scope import CaScope
    from .field_sanitizer import FieldSanitizer
    from .upstream_timeout import UpstreamTimeout

    loop = asyncio.get_running_loop()
    opts = options.Options(listen_host=config.listen_host, listen_port=config.listen_port, mode=[config.mode])
    master = DumpMaster(opts, with_termlog=False, with_dumper=False)
    # mitmproxy's own log goes to stderr (stdout is for exchanges and the
    # summary). Errors logged during start-up (port in use, a script addon
    # that fails) are collected here rather than by mitmproxy's errorcheck,
    # which would sys.exit() from inside the event loop.
    termlog = TermLog(out=messages)
    errorcheck = master.addons.get("errorcheck")
    errorcheck.finish()
    master.addons.remove(errorcheck)
    startup_errors = ErrorCheckHandler()
    startup_errors.install()
    bridge = Bridge(supervisor, config.capture, supervisor)
    _quiet_cancellations(loop, bridge)
    master.addons.add(termlog, UpstreamTimeout(config.upstream_timeout), FieldSanitizer(), LargeBodies(config.capture),
                      bridge)
    if authority.name_rules is not None:
        master.addons.add(CaScope(authority.name_rules, say=err))
    try:
        opts.update(
            confdir=str(authority.directory),  # mitmproxy signs its leaf certificates with our CA
            termlog_verbosity="warn",
            ssl_insecure=config.ssl_insecure,
            # Inspecting a broken server includes one that only speaks TLS 1.0/1.1: mitmproxy
            # then also lowers OpenSSL's security level (weak keys, SHA-1) for upstream handshakes.
            tls_version_server_min="TLS1" if config.ssl_insecure else "TLS1_2",
            ssl_verify_upstream_trusted_ca=config.upstream_ca,
            scripts=list(config.scripts),
        )
        if config.proxyauth:
            opts.update(proxyauth=config.proxyauth)
        if stream_limit(config.capture) is not None:  # bodies above --max-body pass through, not buffered
            opts.update(stream_large_bodies=stream_limit(config.capture))

        stop = asyncio.Event()
        command: list = []  # the running `run` command, once started
        signals: list[int] = []

        def on_signal(sig: int) -> None:
            signals.append(sig)
            if command and command[0].returncode is None:
                command[0].send_signal(sig)  # the command stops, then so do we
            else:
                stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)
        run = asyncio.create_task(master.run())
        started = asyncio.create_task(bridge.running_event.wait())
        await asyncio.wait({run, started}, return_when=asyncio.FIRST_COMPLETED)
        if run.done():
            run.result()
            return EXIT_INTERNAL
        proxyserver = master.addons.get("proxyserver")
        if startup_errors.has_errored or not proxyserver.listen_addrs():
            err("the proxy could not start (see the error above). If the address is in use, pick another "
                "port with --listen-port or stop the process that holds it.")
            master.shutdown()
            await run
            return EXIT_USAGE
        startup_errors.uninstall()
        _announce(config, proxyserver.listen_addrs(), authority)
        if config.display.mode == "live":
            host, port, *_ = proxyserver.listen_addrs()[0]
            supervisor.started(Started(f"{_address(host, port)} ({config.mode})",
                                       "trust the CA: proxylens certs trust-help"))
            messages.to_worker = _forward_to(supervisor)

        worker_died = False

        async def watch_worker() -> None:
            nonlocal worker_died
            while True:
                while supervisor.worker.alive():
                    await asyncio.sleep(0.5)
                exitcode = supervisor.worker.process.exitcode
                if supervisor.restarts >= MAX_RESTARTS:
                    worker_died = True
                    err(f"error: the analysis worker died again (exit code {exitcode}), after {MAX_RESTARTS} "
                        "restarts; stopping, since nothing would be recorded. Please report this as a bug.")
                    stop.set()
                    return
                fate = supervisor.died()
                err(f"error: the analysis worker died (exit code {exitcode}); restarting it, and the proxy "
                    f"keeps serving: {fate}; the HAR goes on where it stopped")
                worker, kind, payload = await asyncio.wrap_future(supervisor.restart())
                if kind != "ready":
                    worker_died = True
                    err(f"error: the analysis worker could not be restarted ({payload}); stopping")
                    stop.set()
                    return
                resent = supervisor.adopt(worker)
                err(f"the analysis worker is back; {resent} exchange(s) sent to it again")

        watcher = asyncio.create_task(watch_worker())
        if config.command and stop.is_set():
            # Stopped during start-up: never start a command nobody would wait for.
            child.code = 128 + signals[-1] if signals else None
        elif config.command:
            from .wrap import command_env, start_command

            env = command_env(config, proxyserver.listen_addrs()[0][1], authority)
            try:
                command.append(await start_command(config.command, env))
                child.started = True
            except OSError as exc:
                err(f"error: cannot run {config.command[0]}: {exc.strerror or exc}")
                child.code = EXIT_USAGE
                stop.set()
            else:
                async def wait_command() -> None:
                    returncode = await command[0].wait()
                    # Killed by a signal: the shell's convention, 128 + the signal number.
                    child.code = 128 - returncode if returncode < 0 else returncode
                    stop.set()

                asyncio.create_task(wait_command())
        await asyncio.wait({run, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
        watcher.cancel()
        if run.done():
            run.result()
            return EXIT_OK
        await _drain(master, bridge)
        master.shutdown()
        await run
        if bridge.bodies_dropped:
            err(f"{bridge.bodies_dropped} exchange(s) were recorded without bodies because analysis fell behind")
        return EXIT_INTERNAL if worker_died else EXIT_OK
    finally:
        startup_errors.uninstall()
        termlog.uninstall()


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return host == "localhost"


def _announce(config: ProxyConfig, addresses: list, authority) -> None:
    for host, port, *_ in addresses:
        err(f"listening on {_address(host, port)} ({config.mode} mode)")
    exposed = [_address(host, port) for host, port, *_ in addresses if not _is_loopback(host)]
    if exposed:
        # An open proxy that can decrypt HTTPS with a CA the user's browser trusts: say it loudly.
        guard = ("clients must send the --proxyauth credentials" if config.proxyauth else
                 "ANYONE who can reach it can send traffic through it. Add --proxyauth USER:PASS, or bind "
                 "127.0.0.1 (the default) and use an SSH tunnel")
        err(f"WARNING: {', '.join(exposed)} is reachable from other machines, not just this one: {guard}. "
            "Traffic through it is recorded and may be decrypted with this machine's CA.")
    err(f"CA certificate: {authority.cert_path} ({authority.subject}, valid until "
        f"{authority.cert.not_valid_after_utc:%Y-%m-%d}); to intercept HTTPS, trust it: proxylens certs trust-help")
    if authority.name_rules is not None:
        err(f"intercepting HTTPS only for the names the CA may sign for: {authority.name_rules.describe()}; "
            "other hosts pass through untouched")
    if config.har:
        err(f"recording HAR to {config.har}")


async def _drain(master, bridge) -> None:
    """Let the exchanges in flight at the signal finish, within GRACE_SECONDS."""
    bridge.stopping = True
    loop = asyncio.get_running_loop()
    proxyserver = master.addons.get("proxyserver")
    if proxyserver is not None:
        await proxyserver.servers.update([])  # stop accepting; open connections go on
    waiting = set(bridge.inflight)
    deadline = loop.time() + GRACE_SECONDS
    while waiting & bridge.inflight.keys() and loop.time() < deadline:
        await asyncio.sleep(0.05)
    n = bridge.record_inflight("proxylens was stopped before the response completed")
    if n:
        err(f"recorded {n} unfinished exchange(s) as errors")


def _quiet_cancellations(loop: asyncio.AbstractEventLoop, bridge) -> None:
    """Connection handlers cancelled by the shutdown are expected; Python 3.11's
    asyncio reports each one as 'Exception in callback'. Installed before
    mitmproxy's own handler, which restores it when mitmproxy's run ends."""
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        if bridge.stopping and isinstance(context.get("exception"), asyncio.CancelledError):
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
