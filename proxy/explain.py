"""Facts in plain language, and the explain tree of one exchange.

``fact_lines`` turns one analyzer's facts (the contract in DESIGN.md) into
the sentences a developer needs: "fresh for 10 min in the browser, 1 h on a
CDN", "CORS: blocked — the preflight lacks ...". Analyzers it does not know
(custom ones) get their facts as ``key: value`` lines. ``FactsView`` and
``Explanation`` are rich renderables: they draw themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text
from rich.tree import Tree

from addons.caching import duration

from .findings import Finding, Severity
from .pipeline import Result
from .plainlog import human_size, printable
from .redact import redact_text
from .theme import status_style, wrapped


def _caching(f: dict) -> list[str]:
    browser, shared = f.get("browser") or {}, f.get("shared") or {}
    engine = str(browser.get("engine") or "browser").capitalize()
    if not browser.get("stores"):
        why = (browser.get("why") or ["not storable"])[0]
        first = f"not stored by the browser ({engine}): {why}"
    elif browser.get("fresh_for"):
        first = f"fresh for {duration(browser['fresh_for'])} in the browser ({engine})"
    elif browser.get("then") == "revalidate":
        first = f"stored by the browser ({engine}) but checked with the server before every reuse"
    else:  # RFC 9111 section 4.3.1: without a validator there is nothing to check with
        first = f"stored by the browser ({engine}) but downloaded again every time (no validator)"
    if shared.get("stores") and shared.get("fresh_for"):
        first += f", {duration(shared['fresh_for'])} on a CDN or shared proxy"
    elif shared.get("stores"):
        first += "; a CDN stores it but revalidates before every reuse"
    else:
        why = (shared.get("why") or [""])[0]
        first += "; not stored by CDNs or shared proxies" + (f" ({why})" if why else "")
    lines = [first]
    if f.get("freshness_source"):
        lines.append(f"freshness from {f['freshness_source']}" + (f", age {f['age']} s" if f.get("age") else ""))
    if browser.get("stores") and browser.get("fresh_for"):
        lines.append("once stale: " + (f"revalidated with {browser['validator']}" if browser.get("then") == "revalidate"
                                       else "downloaded again in full (no validator)"))
    if f.get("validators"):
        lines.append("validators: " + ", ".join(f["validators"]))
    if f.get("vary"):
        lines.append("varies on: " + ", ".join(f["vary"]))
    revalidation = f.get("revalidation")
    if isinstance(revalidation, dict):
        sent = "If-None-Match" if revalidation.get("if_none_match") else "If-Modified-Since"
        lines.append(f"conditional request ({sent}) answered {revalidation.get('status')}: "
                     f"{revalidation.get('outcome') or ''}".rstrip(": "))
    return lines


def _cors(f: dict) -> list[str]:
    verdict, kind = f.get("verdict"), f.get("kind")
    reasons = [str(r) for r in f.get("reasons") or []]
    if verdict == "not-cors":
        return [f"does not apply ({reasons[0] if reasons else kind})"]
    head = f"{verdict}" + (f" — {reasons[0]}" if reasons else "")
    lines = [head, f"{kind} request from {f.get('origin')}, credentials {f.get('credentials')}"]
    lines += reasons[1:]
    preflight = f.get("preflight")
    if isinstance(preflight, dict):
        if "method" in preflight:  # the preflight exchange itself
            asked = preflight["method"] + (f" with {', '.join(preflight['headers'])}" if preflight.get("headers") else "")
            lines.append(f"preflight asked for {asked}, answered {preflight.get('status')}"
                         + (f"; the browser reuses this answer for {duration(preflight['max_age'])}"
                            if preflight.get("max_age") is not None and verdict == "allowed" else ""))
        elif preflight.get("failed"):
            pass  # the reasons say why
        elif preflight.get("from_cache"):
            lines.append(f"preflight reused from the browser's cache ({preflight.get('age')} s old)")
        elif preflight.get("seen"):
            lines.append(f"preflight seen, answered {preflight.get('status')}")
        else:
            lines.append("needed a preflight proxylens did not see")
    return lines


def _status(f: dict) -> list[str]:
    error = f.get("error")
    if isinstance(error, dict):
        line = f"no response ({error.get('kind')}): {error.get('message')}"
        if error.get("proxy_answered"):
            line += f"; proxylens answered {error['proxy_answered']}, not the origin"
        return [line]
    lines = [f"{f.get('code')} {f.get('reason') or ''}".rstrip() + f": {f.get('meaning')}"]
    if f.get("redirect_to"):
        lines.append(f"redirects to {f['redirect_to']}")
    chain = f.get("chain")
    if chain and len(chain) > 1:
        hops = f.get("hops")
        lines.append(f"redirect chain ({hops} hop{'' if hops == 1 else 's'}): " + " → ".join(chain))
    if f.get("source") not in (None, "origin"):
        lines.append(f"answered by {f['source']}, not the origin")
    return lines


def _hsts(f: dict) -> list[str]:
    if not f.get("present"):
        return ["no Strict-Transport-Security header"]
    if not f.get("valid"):
        return ["header present but invalid, so browsers ignore it: " + "; ".join(f.get("errors") or ["malformed"])]
    parts = [f"max-age {duration(f.get('max_age'))}"]
    if f.get("include_subdomains"):
        parts.append("includeSubDomains")
    if f.get("preload"):
        parts.append("preload")
    line = ", ".join(parts)
    if f.get("applies") is False:  # RFC 6797 section 8.1: only over secure transport, only for host names
        return [line + "; ignored: browsers honour HSTS only over HTTPS on a host name"]
    return [line + ("; ready for the preload list" if f.get("preload_ready") else "; not ready for the preload list")]


def _tls(f: dict) -> list[str]:
    lines = []
    server = f.get("server")
    if isinstance(server, dict):
        if server.get("handshake_error"):
            lines.append(f"upstream handshake failed: {server['handshake_error']}")
        else:
            proto = " ".join(str(x) for x in (server.get("version"), server.get("cipher"), server.get("alpn")) if x)
            lines.append(f"upstream: {proto or 'TLS details unknown'}")
        if server.get("verified") is True:
            lines.append("certificate verified")
        elif server.get("verify_error"):
            let_through = " (let through by --ssl-insecure)" if server.get("verify_enforced") is False else ""
            lines.append(f"certificate NOT verified: {server['verify_error']}{let_through}")
        cert = server.get("certificate")
        if isinstance(cert, dict):
            line = f"certificate for {cert.get('subject')} issued by {cert.get('issuer')}"
            days = server.get("expires_in_days")
            if days is not None:
                line += f", expires in {days:.0f} days" if days >= 0 else f", expired {-days:.0f} days ago"
            lines.append(line)
        profile = server.get("profile")
        if isinstance(profile, dict) and profile.get("name"):
            lines.append(f"Mozilla {profile['name']} profile: " + ("met" if profile.get("meets") else
                                                                  "not met: " + "; ".join(map(str, profile.get("breaches") or []))))
    client = f.get("client")
    if isinstance(client, dict):
        offered = ", ".join(client.get("versions_offered") or []) or "?"
        lines.append(f"client: SNI {client.get('sni') or '(none)'}, offered {offered}, ALPN "
                     f"{', '.join(client.get('alpn_offers') or []) or '(none)'}; negotiated "
                     f"{client.get('version') or '?'}")
    return lines or ["no TLS on this exchange"]


def _generic(f: Any) -> list[str]:
    if not isinstance(f, dict):
        return [str(f)]
    return [f"{key}: {value}" for key, value in f.items() if value not in (None, [], {}, "")]


EXPLAINERS: dict[str, Callable[[dict], list[str]]] = {
    "status": _status, "caching": _caching, "cors": _cors, "hsts": _hsts, "tls": _tls,
}


def fact_lines(analyzer: str, facts: Any) -> list[str]:
    """One analyzer's facts as plain sentences; never raises (a custom analyzer may write anything)."""
    explain = EXPLAINERS.get(analyzer)
    if explain is not None and isinstance(facts, dict):
        try:
            return explain(facts)
        except Exception:  # noqa: BLE001, S110 -- unexpected shapes (an old HAR): fall back to the raw facts
            pass
    return _generic(facts)


@dataclass(frozen=True)
class FactsView:
    """One analyzer's facts, drawn as its name and plain-language lines."""

    analyzer: str
    facts: Any
    redact: bool = True

    def lines(self) -> list[str]:
        lines = fact_lines(self.analyzer, self.facts)
        return [printable(redact_text(line) if self.redact else line) for line in lines]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = self.lines()
        width = options.max_width
        yield from wrapped(Text.assemble((f"{self.analyzer}: ", "label"), lines[0] if lines else ""), console, width)
        for line in lines[1:]:
            yield from wrapped(Text(line), console, width, indent=2)


@dataclass(frozen=True)
class Selection:
    """What explain mode shows of an exchange: categories (None: all) and the lowest severity."""

    categories: frozenset[str] | None = None
    min_severity: Severity = Severity.GOOD

    def shows_category(self, name: str) -> bool:
        return self.categories is None or name in self.categories

    def findings(self, findings: Iterable[Finding]) -> list[Finding]:
        return [f for f in findings if f.severity >= self.min_severity and self.shows_category(f.category)]


def request_line(result: Result, redact: bool = True) -> Text:
    ex = result.exchange
    url = redact_text(ex.request.url) if redact else ex.request.url
    line = Text.assemble((printable(ex.request.method), "method"), " ", printable(url), " ")
    if ex.response is not None:
        line.append(printable(f"{ex.response.status} {ex.response.reason}".rstrip()), status_style(ex.response.status))
        line.append(f"  {ex.timings.total:.0f} ms, {human_size(ex.response.body.size)}", "muted")
    else:
        kind = ex.error.kind if ex.error else "no response"
        line.append(f"ERROR ({kind})", "status.error")
        if ex.error is not None:
            line.append(" " + printable(redact_text(ex.error.message) if redact else ex.error.message))
    return line


@dataclass(frozen=True)
class Explanation:
    """The explain tree of one exchange: the request line, each analyzer's facts, each finding."""

    result: Result
    selection: Selection = Selection()
    redact: bool = True

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        tree = Tree(request_line(self.result, self.redact), guide_style="muted")
        for analyzer, facts in self.result.facts.items():
            if self.selection.shows_category(analyzer):
                tree.add(FactsView(analyzer, facts, self.redact))
        findings = sorted(self.selection.findings(self.result.findings), key=lambda f: -f.severity.rank)
        if findings:
            branch = tree.add(Text("findings", style="label"))
            for finding in findings:
                branch.add(_redacted(finding) if self.redact else finding)
        yield tree


def _redacted(finding: Finding) -> Finding:
    return finding.model_copy(update={"summary": redact_text(finding.summary)})
