"""The ``proxylens`` command line. Exit codes: 0 pass, 1 policy failed,
2 usage or configuration error, 3 internal error."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from addons import ENGINES, HSTS_PROFILES, TLS_PROFILES, AnalysisOptions

from . import __version__, certs_cli
from .display import DisplayConfig
from .findings import Severity
from .gate import GateConfig
from .runner import EXIT_INTERNAL, EXIT_USAGE, ProxyConfig, run_proxy
from .snapshot import BodyCapture


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 too; keep our wording
        self.print_usage(sys.stderr)
        print(f"proxylens: error: {message}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def size(text: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    t = text.strip().lower().rstrip("b")
    try:
        value = int(float(t[:-1]) * units[t[-1]]) if t and t[-1] in units else int(t)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (e.g. 512k, 1m)")
    return value


def mode(text: str) -> str:
    from mitmproxy.proxy.mode_specs import ProxyMode

    kind = text.split(":", 1)[0].split("@", 1)[0]
    if kind not in ("regular", "reverse", "upstream", "socks5"):
        raise argparse.ArgumentTypeError(f"unsupported mode {text!r}: use regular, reverse:URL, upstream:URL or socks5")
    try:
        ProxyMode.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid mode {text!r}: {exc}") from None
    return text


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 86400 * 365:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (e.g. 30, 0.5; 0 disables)")
    return value


def days(text: str) -> int:
    if not text.isdigit() or int(text) > 36500:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days (e.g. 30; 0 disables the warning)")
    return int(text)


def check_options(p: argparse.ArgumentParser) -> None:
    """Where custom checks come from, besides -s files: shared by `proxy`, `run`, `analyze` and `rules`."""
    p.add_argument("--check", dest="checks", action="append", default=[], metavar="MODULE",
                   help="import this module (package.module) and run its analyzers (repeatable)")
    p.add_argument("--no-check-packs", dest="packs", action="store_false",
                   help="do not load the check packs installed in this environment (entry points in the "
                        "proxylens.checks group)")


def analysis_options(parser: argparse.ArgumentParser) -> None:
    """Options that change verdicts, shared by `proxy` and `analyze`."""
    parser.add_argument("--engine", choices=ENGINES, default="chromium",
                        help="the browser whose behaviour verdicts follow where engines differ (default chromium)")
    parser.add_argument("--hsts-profile", choices=HSTS_PROFILES, default="rfc",
                        help="how strict HSTS checks are: rfc (any valid header; default), observatory "
                             "(max-age of six months or more) or preload (hstspreload.org's requirements)")
    parser.add_argument("--tls-profile", choices=TLS_PROFILES, default="intermediate",
                        help="the Mozilla server-side TLS configuration upstream handshakes and certificates are "
                             "judged by: modern, intermediate (default) or old")
    parser.add_argument("--cert-expiry-days", type=days, default=30, metavar="DAYS",
                        help="warn when an upstream certificate expires within DAYS days (default 30)")


def analysis_from(args: argparse.Namespace) -> AnalysisOptions:
    return AnalysisOptions(engine=args.engine, hsts_profile=args.hsts_profile, tls_profile=args.tls_profile,
                           cert_expiry_days=args.cert_expiry_days)


def proxy_options(p: argparse.ArgumentParser, default_port: int) -> None:
    """Options of the proxy itself, shared by `proxy` and `run`."""
    p.add_argument("--listen-host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--proxyauth", metavar="USER:PASS",
                   help="require these credentials from clients (Proxy-Authorization, RFC 9110 §11.7.1); "
                        "use it whenever --listen-host is not a loopback address")
    p.add_argument("--listen-port", type=int, default=default_port,
                   help=f"port to bind (default {default_port}; 0 picks a free one)")
    p.add_argument("--mode", type=mode, default="regular", help="regular | reverse:URL | upstream:URL | socks5")
    p.add_argument("--har", metavar="FILE", help="stream every exchange into this HAR file")
    p.add_argument("-s", "--script", dest="scripts", action="append", default=[], metavar="SCRIPT",
                   help="a Python file with proxylens analyzers and/or mitmproxy addons (repeatable)")
    check_options(p)
    p.add_argument("--keep-secrets", action="store_true",
                   help="do not redact Authorization, cookies, tokens and JWT signatures in the HAR")
    p.add_argument("--body-capture", choices=["none", "text", "all"], default="text",
                   help="bodies kept for the HAR: none, textual ones up to --max-body (default), or all")
    p.add_argument("--max-body", type=size, default="1m", metavar="SIZE",
                   help="cap for textual bodies in the HAR (default 1m); larger bodies stream through the proxy "
                        "instead of being held in memory, unless --body-capture all")
    p.add_argument("--ssl-insecure", action="store_true",
                   help="let traffic through to upstream servers a browser would refuse (bad certificates, "
                        "TLS 1.0/1.1, weak keys) so you can inspect them; every problem is still verified "
                        "and flagged")
    p.add_argument("--upstream-ca", metavar="PEM",
                   help="verify upstream servers against this CA bundle instead of the default (certifi's "
                        "Mozilla bundle); e.g. /etc/ssl/certs/ca-certificates.crt for the system store")

    p.add_argument("--upstream-timeout", type=seconds, default=60.0, metavar="SECONDS",
                   help="answer 504 Gateway Timeout when the upstream server has not responded within this "
                        "many seconds (default 60; 0 waits as long as mitmproxy does, 10 minutes)")
    analysis_options(p)
    display_options(p)


def flow_filter(text: str) -> str:
    from .display import parse_flow_filter

    try:
        parse_flow_filter(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (mitmproxy's filter language, e.g. '~d example.com & ~c 404'; "
                                         "see https://docs.mitmproxy.org/stable/concepts/filters/)") from None
    return text


def display_options(p: argparse.ArgumentParser, live: bool = True) -> None:
    """What the console shows; the HAR, the summary and the policy always see every exchange."""
    g = p.add_argument_group("console")
    g.add_argument("--quiet", action="store_true", help="nothing per exchange, only the summary")
    g.add_argument("--explain", action="store_true",
                   help="a tree per exchange: each analyzer's facts in plain language, each finding with its fix")
    g.add_argument("--no-color", action="store_true",
                   help="plain lines without colour or control codes" + (", no live table" if live else "")
                        + " (also when NO_COLOR is set or the output is not a terminal)")
    g.add_argument("--host", dest="hosts", action="append", default=[], metavar="GLOB",
                   help="show only exchanges with a matching host, e.g. '*.example.com' (repeatable)")
    g.add_argument("--category", dest="categories", action="append", default=[], metavar="CAT",
                   help="show only these analyzers' facts and findings: caching, cors, status, hsts, tls, ... "
                        "(repeatable)")
    g.add_argument("--min-severity", choices=[s.value for s in Severity], default="good",
                   help="show only findings at or above this severity, and only exchanges that have one")
    g.add_argument("--filter", dest="flow_filter", type=flow_filter, metavar="EXPR",
                   help="show only exchanges matching this mitmproxy filter expression, e.g. '~m POST & ~c 500'")


def display_from(args: argparse.Namespace, *, running: bool = False, live: bool = True) -> DisplayConfig:
    from .display import choose_mode

    # In `run` the command's own output comes first: only the summary, unless --explain is asked for.
    quiet = args.quiet or (running and not args.explain)
    chosen = choose_mode(sys.stdout, quiet=quiet, explain=args.explain, no_color=args.no_color, live=live)
    return dataclasses.replace(chosen, hosts=tuple(args.hosts), categories=tuple(args.categories),
                               min_severity=Severity(args.min_severity), flow_filter=args.flow_filter)


def gate_options(p: argparse.ArgumentParser, running: bool = False) -> None:
    """The policy and the reports: `run` always judges, `proxy` and `analyze` when given --policy."""
    p.add_argument("--policy", metavar="FILE",
                   help="proxylens.toml or a pyproject.toml with [tool.proxylens]"
                        + (" (default: the one in the current directory, if any)" if running else
                           "; judge the traffic against it at the end (exit 1 when it fails)"))
    p.add_argument("--baseline", metavar="FILE", help="accepted findings (default: the policy's `baseline`)")
    if running:
        p.add_argument("--update-baseline", action="store_true",
                       help="accept every current warn- and fail-level finding: write them to the baseline")
    p.add_argument("--junit", metavar="FILE", help="write a JUnit XML report (one test case per rule and host)")
    p.add_argument("--sarif", metavar="FILE", help="write a SARIF 2.1.0 report")
    p.add_argument("--json-report", metavar="FILE", help="write the verdict as JSON")
    p.add_argument("--markdown", metavar="FILE",
                   help="write a Markdown summary (also appended to $GITHUB_STEP_SUMMARY when set)")


def gate_from(args: argparse.Namespace, running: bool = False) -> GateConfig | None:
    reports = tuple((kind, path) for kind, path in (("junit", args.junit), ("sarif", args.sarif),
                                                     ("json", args.json_report), ("markdown", args.markdown)) if path)
    policy = args.policy
    if policy is None and running:
        from .policy import find_policy

        found = find_policy()
        policy = str(found) if found else None
    if not (running or policy or reports or args.baseline):
        return None
    return GateConfig(policy=policy, baseline=args.baseline, update_baseline=getattr(args, "update_baseline", False),
                      reports=reports)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="proxylens", description="An HTTP(S) debugging proxy that explains every exchange.")
    parser.add_argument("--version", action="version", version=f"proxylens {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("proxy", help="run the proxy until Ctrl-C (SIGINT) or SIGTERM")
    proxy_options(p, default_port=8080)
    gate_options(p)

    w = sub.add_parser("run", help="run a command (e.g. your end-to-end tests) through the proxy, then judge "
                                   "the traffic against the policy",
                       usage="proxylens run [options] -- CMD [ARGS...]")
    proxy_options(w, default_port=0)
    gate_options(w, running=True)
    w.add_argument("--no-proxy", default="", metavar="HOSTS",
                   help="NO_PROXY for the command: hosts that bypass proxylens (default: none, so even loopback "
                        "origins are judged; an inherited NO_PROXY is replaced)")
    w.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]")

    a = sub.add_parser("analyze", help="analyze a HAR file from any browser or tool")
    a.add_argument("file", metavar="FILE.har")
    a.add_argument("--json", action="store_true", help="print a machine-readable report")
    a.add_argument("-s", "--script", dest="scripts", action="append", default=[], metavar="SCRIPT",
                   help="a Python file with extra analyzers (repeatable)")
    check_options(a)
    analysis_options(a)
    display_options(a, live=False)
    gate_options(a)

    pol = sub.add_parser("policy", help="write a starter policy")
    ps = pol.add_subparsers(dest="policy_command", required=True, parser_class=Parser)
    pi = ps.add_parser("init", help="write proxylens.toml listing every rule with its default level")
    pi.add_argument("-o", "--output", default="proxylens.toml", metavar="FILE")
    pi.add_argument("--force", action="store_true", help="overwrite an existing file")
    pi.add_argument("-s", "--script", dest="scripts", action="append", default=[], metavar="SCRIPT",
                    help="also list the rules of the checks in this Python file (repeatable)")
    check_options(pi)

    r = sub.add_parser("rules", help="list every rule, built-in and custom, with its default severity and reference")
    r.add_argument("--json", action="store_true")
    r.add_argument("-s", "--script", dest="scripts", action="append", default=[], metavar="SCRIPT",
                   help="also list the rules of the checks in this Python file (repeatable)")
    check_options(r)
    certs_cli.add_parser(sub)
    return parser


def cmd_rules(args: argparse.Namespace) -> int:
    from .findings import catalog
    from .loader import ScriptError
    from .worker import build_pipeline

    try:  # loading the analyzers registers their rules, custom ones included
        build_pipeline(tuple(args.scripts), checks=tuple(args.checks), packs=args.packs)
    except ScriptError as exc:
        print(f"proxylens: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    as_json = args.json
    rules = list(catalog)
    if as_json:
        print(json.dumps([{"id": r.id, "severity": r.severity.value, "category": r.category,
                           "summary": r.summary, "reference": r.reference} for r in rules], indent=2))
        return 0
    width = max(len(r.id) for r in rules)
    for r in rules:
        print(f"{r.id:{width}}  {r.severity.value:7}  {r.summary}")
        if r.reference:
            print(f"{'':{width}}           {r.reference}")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # `proxylens rules | head`: the reader left, not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception:  # exit 1 means "policy failed"; a bug must not look like that
        import traceback

        traceback.print_exc()
        print("proxylens: internal error (the traceback above); please report it", file=sys.stderr)
        return EXIT_INTERNAL


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("proxy", "run"):
        running = args.command == "run"
        command = tuple(args.argv[1:] if args.argv[:1] == ["--"] else args.argv) if running else ()
        if running and not command:
            print("proxylens: error: run needs a command: proxylens run [options] -- CMD [ARGS...]", file=sys.stderr)
            return EXIT_USAGE
        for path in [*args.scripts, *([args.upstream_ca] if args.upstream_ca else [])]:
            if not os.path.isfile(path):
                print(f"proxylens: error: {path} does not exist", file=sys.stderr)
                return EXIT_USAGE
        return run_proxy(ProxyConfig(
            listen_host=args.listen_host,
            listen_port=args.listen_port,
            proxyauth=args.proxyauth,
            mode=args.mode,
            har=args.har,
            display=display_from(args, running=running),
            scripts=tuple(args.scripts),
            checks=tuple(args.checks),
            packs=args.packs,
            redact=not args.keep_secrets,
            capture=BodyCapture(args.body_capture, args.max_body),
            ssl_insecure=args.ssl_insecure,
            upstream_ca=args.upstream_ca,
            analysis=analysis_from(args),
            upstream_timeout=args.upstream_timeout,
            gate=gate_from(args, running),
            command=command,
            no_proxy=getattr(args, "no_proxy", ""),
        ))
    if args.command == "analyze":
        from .analyze import analyze

        return analyze(args.file, as_json=args.json, scripts=tuple(args.scripts), analysis=analysis_from(args),
                       gate=gate_from(args), display=display_from(args, live=False), checks=tuple(args.checks),
                       packs=args.packs)
    if args.command == "policy":
        from .policy_init import write_starter

        return write_starter(args.output, args.force, tuple(args.scripts), tuple(args.checks), args.packs)
    if args.command == "rules":
        return cmd_rules(args)
    if args.command == "certs":
        return certs_cli.run(args)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
