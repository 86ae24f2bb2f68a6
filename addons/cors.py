"""CORS: would a browser let the page read this response, and exactly why not.

Implements the Fetch standard's CORS protocol (https://fetch.spec.whatwg.org/
#http-cors-protocol) as a pure analyzer. It sees the wire, not the page, so:

* an actual request that reached the wire proves its preflight (if one was
  needed) succeeded — the browser never sends it otherwise; the verdict on
  it is the CORS check of its own response;
* the verdict on a preflight says whether the browser goes on to send the
  actual request;
* the credentials mode is not on the wire. A Cookie header means "include";
  no Cookie, where this host's cookies were seen on earlier same-site
  requests, means "not include". Otherwise it is unknown, and when the
  verdict depends on it the verdict is "unknown" with both outcomes spelled
  out, never a guess.

The verdict follows Chromium (the default engine); ``engine="firefox"``
changes what differs (the preflight cache's max-age cap).
"""

# No `from __future__ import annotations` here: mitmproxy loads this file as a script without
# registering it in sys.modules, and dataclasses cannot resolve string annotations then.

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from addons.cache_model import storing_caches
from addons.cors_headers import (
    NON_WILDCARD_REQUEST_HEADERS,
    SAFELISTED_METHODS,
    SAFELISTED_RESPONSE_HEADERS,
    author_headers,
    parse_max_age,
    parse_token_list,
    serialize_origin,
    split_list,
    unsafe_request_header_names,
)
from proxy import Analysis, Analyzer, Exchange, Finding, Headers, InProcess, Rule, Session, Severity, catalog

F = "https://fetch.spec.whatwg.org/"

# Preflight cache caps (seconds) and the standard's default when Access-Control-Max-Age is absent.
MAX_AGE_CAP = {"chromium": 7200, "firefox": 86400}
DEFAULT_MAX_AGE = 5


def _rule(name: str, severity: Severity, summary: str, anchor: str, detail: str = "") -> Rule:
    return catalog.rule(f"cors.{name}", severity, summary, reference=F + anchor, detail=detail)


R_ALLOWED = _rule("allowed", Severity.GOOD, "The browser lets the page read this cross-origin response.",
                  "#cors-check")
R_MISSING_ACAO = _rule("missing-allow-origin", Severity.ERROR,
                       "The response has no Access-Control-Allow-Origin: the browser blocks it.", "#cors-check")
R_ACAO_MISMATCH = _rule("allow-origin-mismatch", Severity.ERROR,
                        "Access-Control-Allow-Origin does not match the request's Origin exactly.", "#cors-check")
R_ACAO_MULTIPLE = _rule("multiple-allow-origin", Severity.ERROR,
                        "Access-Control-Allow-Origin holds more than one value; browsers accept exactly one.",
                        "#cors-check")
R_ACAO_NULL = _rule("allow-origin-null", Severity.WARNING,
                    "Access-Control-Allow-Origin: null grants access to every sandboxed iframe and file: page.",
                    "#cors-check")
R_WILDCARD_CREDENTIALS = _rule("credentials-with-wildcard-origin", Severity.ERROR,
                               "Access-Control-Allow-Origin: * cannot be used with a credentialed request.",
                               "#cors-protocol-and-credentials")
R_ACAC = _rule("allow-credentials-not-true", Severity.ERROR,
               "A credentialed request needs Access-Control-Allow-Credentials: true (exactly).",
               "#http-access-control-allow-credentials")
R_METHOD = _rule("method-not-allowed", Severity.ERROR,
                 "The preflight's Access-Control-Allow-Methods does not allow the request's method.",
                 "#cors-preflight-fetch")
R_HEADER = _rule("header-not-allowed", Severity.ERROR,
                 "The preflight's Access-Control-Allow-Headers does not allow a header the page sets.",
                 "#cors-preflight-fetch")
R_PREFLIGHT_STATUS = _rule("preflight-bad-status", Severity.ERROR,
                           "The preflight was answered with a status outside 200-299.", "#cors-preflight-fetch")
R_PREFLIGHT_REDIRECT = _rule("preflight-redirect", Severity.ERROR,
                             "The preflight was answered with a redirect, which browsers never follow.",
                             "#cors-preflight-fetch")
R_PREFLIGHT_SYNTAX = _rule("preflight-invalid-list", Severity.ERROR,
                           "Access-Control-Allow-Methods or -Allow-Headers does not parse as a list of tokens.",
                           "#cors-preflight-fetch")
R_AUTH_WILDCARD = _rule("authorization-covered-by-wildcard", Severity.WARNING,
                        "Access-Control-Allow-Headers: * lets Authorization through in Chromium only (deprecated); "
                        "the Fetch standard and Firefox block it.", "#cors-non-wildcard-request-header-name",
                        detail="Chromium still accepts this (a deprecation announced in 2021, not shipped as of "
                        "Chromium 156); Firefox and Safari follow the standard, where '*' never covers "
                        "Authorization. List it explicitly: `Access-Control-Allow-Headers: authorization, *`.")
R_CREDENTIALS_UNKNOWN = _rule("credentials-unknown", Severity.INFO,
                              "The verdict depends on the request's credentials mode, which the wire does not show.",
                              "#concept-request-credentials-mode")
R_PREFLIGHT_CACHED = _rule("preflight-from-cache", Severity.INFO,
                           "No preflight on the wire: the browser used its preflight cache.",
                           "#concept-cache")
R_PREFLIGHT_UNSEEN = _rule("preflight-not-observed", Severity.INFO,
                           "This request needed a preflight, which proxylens did not see (it passed: the browser "
                           "sent the request).", "#cors-preflight-fetch")
R_VARY = _rule("reflected-origin-without-vary", Severity.WARNING,
               "Access-Control-Allow-Origin echoes the Origin but the response lacks Vary: Origin.",
               "#cors-protocol-and-http-caches")
R_UNIVERSAL = _rule("reflects-any-origin-with-credentials", Severity.ERROR,
                    "The server echoes any Origin in Access-Control-Allow-Origin together with "
                    "Access-Control-Allow-Credentials: true.", "#cors-protocol-and-credentials")
R_MAX_AGE_LONG = _rule("max-age-capped", Severity.INFO,
                       "Access-Control-Max-Age is longer than the browser keeps preflight results.",
                       "#http-access-control-max-age")
R_MAX_AGE_INVALID = _rule("max-age-invalid", Severity.WARNING,
                          "Access-Control-Max-Age is not a non-negative integer; browsers use 5 seconds instead.",
                          "#http-access-control-max-age")
R_PNA = _rule("private-network-preflight", Severity.INFO,
              "A Private Network Access preflight: a less private site asks to reach this private address.",
              "#cors-preflight-fetch")
R_PNA_DENIED = _rule("private-network-not-allowed", Severity.WARNING,
                     "The Private Network Access preflight was not answered with "
                     "Access-Control-Allow-Private-Network: true.", "#cors-preflight-fetch",
                     detail="Chromium only warns about this in DevTools (Private Network Access preflights were "
                     "never enforced and are being replaced by Local Network Access permission prompts); Firefox "
                     "does not implement them. Answer with `Access-Control-Allow-Private-Network: true` where the "
                     "access is intended.")
R_WEBSOCKET = _rule("websocket-foreign-origin", Severity.WARNING,
                    "A WebSocket from another origin was accepted; CORS does not protect WebSockets.",
                    "#websocket-opening-handshake")
R_HIDDEN_HEADERS = _rule("headers-not-exposed", Severity.INFO,
                         "Response headers the page's script cannot read (not in Access-Control-Expose-Headers).",
                         "#http-access-control-expose-headers")

# Response headers of plumbing that scripts rarely want; not worth a finding when hidden.
_UNINTERESTING = frozenset({"connection", "keep-alive", "transfer-encoding", "date", "server", "vary", "alt-svc",
                            "strict-transport-security", "via", "set-cookie", "set-cookie2", "content-encoding",
                            "accept-ranges", "age", "x-content-type-options", "x-frame-options", "report-to", "nel",
                            "content-security-policy", "referrer-policy", "permissions-policy"})


@dataclass
class Failure:
    rule: Rule
    reason: str
    subject: str
    evidence: dict = field(default_factory=dict)


def _val(headers: Headers, name: str) -> str | None:
    """Fetch "get": the combined value (", "-joined), whitespace-trimmed; None if absent."""
    values = headers.get_all(name)
    return ", ".join(v.strip(" \t") for v in values) if values else None


def cors_check(origin: str, headers: Headers, credentials: str) -> Failure | None:
    """Fetch, "CORS check": None on success, else why it fails."""
    acao = _val(headers, "access-control-allow-origin")
    if acao is None:
        return Failure(R_MISSING_ACAO,
                       f"the response has no Access-Control-Allow-Origin; the server must send "
                       f"'Access-Control-Allow-Origin: {origin}' (or '*' for requests without credentials)",
                       "response.header.access-control-allow-origin", {"origin": origin})
    # "If request's credentials mode is not "include" and origin is `*`, return success."
    if credentials != "include" and acao == "*":
        return None
    if acao != origin:
        if acao == "*":
            return Failure(R_WILDCARD_CREDENTIALS,
                           f"Access-Control-Allow-Origin is '*' but the request is credentialed "
                           f"(credentials: 'include'); the server must echo the exact origin '{origin}' and send "
                           f"'Access-Control-Allow-Credentials: true'",
                           "response.header.access-control-allow-origin", {"allow_origin": acao, "origin": origin})
        if len(headers.get_all("access-control-allow-origin")) > 1 or "," in acao or " " in acao:
            return Failure(R_ACAO_MULTIPLE,
                           f"Access-Control-Allow-Origin is '{acao}': browsers accept exactly one origin; the "
                           f"server must pick the one matching the request, '{origin}'",
                           "response.header.access-control-allow-origin", {"allow_origin": acao, "origin": origin})
        hint = ""
        if acao.rstrip("/") == origin:
            hint = " (an origin has no trailing slash)"
        elif acao.lower() == origin.lower():
            hint = " (the comparison is case-sensitive)"
        return Failure(R_ACAO_MISMATCH,
                       f"Access-Control-Allow-Origin is '{acao}' but the request's Origin is '{origin}'{hint}; "
                       f"the server must send 'Access-Control-Allow-Origin: {origin}'",
                       "response.header.access-control-allow-origin", {"allow_origin": acao, "origin": origin})
    if credentials != "include":
        return None
    acac = _val(headers, "access-control-allow-credentials")
    if acac != "true":
        shown = "missing" if acac is None else f"'{acac}'"
        return Failure(R_ACAC,
                       f"the request is credentialed but Access-Control-Allow-Credentials is {shown}; the server "
                       f"must send 'Access-Control-Allow-Credentials: true' (lowercase, exactly)",
                       "response.header.access-control-allow-credentials", {"allow_credentials": acac})
    return None


def preflight_check(origin: str, status: int, headers: Headers, method: str, header_names: list[str],
                    credentials: str, engine: str = "chromium") -> Failure | None:
    """Fetch, "CORS-preflight fetch", steps after the response arrives.

    Engine difference: Chromium (checked with 156) still lets
    Access-Control-Allow-Headers: * cover Authorization, a change it announced
    in 2021 but has not shipped; the standard, Firefox and Safari do not."""
    if status in (301, 302, 303, 307, 308):  # Fetch's "redirect status"
        return Failure(R_PREFLIGHT_REDIRECT,
                       f"the preflight (OPTIONS) got a {status} redirect; browsers do not follow redirects of "
                       f"preflights: answer OPTIONS at this URL with 200 or 204 and the CORS headers",
                       "response.status", {"status": status})
    failure = cors_check(origin, headers, credentials)
    if failure is not None:
        failure.reason = "preflight: " + failure.reason
        return failure
    if not 200 <= status <= 299:
        return Failure(R_PREFLIGHT_STATUS,
                       f"the preflight (OPTIONS) got status {status}; it must succeed with 200 or 204 (the server "
                       f"likely routes OPTIONS to its normal handler or an auth check: exempt OPTIONS)",
                       "response.status", {"status": status})
    try:
        methods = parse_token_list(_val(headers, "access-control-allow-methods"))
        allowed_headers = parse_token_list(_val(headers, "access-control-allow-headers"))
    except ValueError as exc:
        return Failure(R_PREFLIGHT_SYNTAX, f"the preflight's allow lists do not parse: {exc}",
                       "response.header.access-control-allow-methods")
    methods = methods or []
    # "If request's method is not in methods, request's method is not a CORS-safelisted method, and
    # request's credentials mode is "include" or methods does not contain `*`, then return a network error."
    # Method names compare case-sensitively: fetch() uppercases only DELETE, GET, HEAD, OPTIONS, POST, PUT.
    if method not in methods and method not in SAFELISTED_METHODS and (credentials == "include" or "*" not in methods):
        why = ""
        if "*" in methods and credentials == "include":
            why = " ('*' is not a wildcard for credentialed requests)"
        elif method.upper() in methods:
            why = f" (methods compare case-sensitively: the page sends '{method}')"
        shown = ", ".join(methods) or "missing"
        return Failure(R_METHOD,
                       f"the preflight's Access-Control-Allow-Methods ({shown}) does not allow {method}{why}; add "
                       f"'{method}' to it", "response.header.access-control-allow-methods",
                       {"method": method, "allow_methods": ", ".join(methods)})
    lowered = [h.lower() for h in allowed_headers or []]
    for name in header_names:
        if name in NON_WILDCARD_REQUEST_HEADERS and name not in lowered and engine != "chromium":
            return Failure(R_HEADER,
                           f"the page sets the '{name}' header, which Access-Control-Allow-Headers must name "
                           f"explicitly ('*' never covers Authorization); add '{name}' to it",
                           "response.header.access-control-allow-headers",
                           {"header": name, "allow_headers": ", ".join(allowed_headers or [])})
        if name not in lowered and (credentials == "include" or "*" not in lowered):
            why = " ('*' is not a wildcard for credentialed requests)" if "*" in lowered else ""
            shown = ", ".join(allowed_headers or []) or "missing"
            return Failure(R_HEADER,
                           f"the preflight's Access-Control-Allow-Headers ({shown}) lacks '{name}'{why}; add "
                           f"'{name}' to it", "response.header.access-control-allow-headers",
                           {"header": name, "allow_headers": ", ".join(allowed_headers or [])})
    return None


def _decide(check, modes: list[str]) -> tuple[str, Failure | None, dict[str, Failure | None]]:
    """Run *check* for each possible credentials mode: (verdict, decisive failure, per mode)."""
    outcomes = {mode: check(mode) for mode in modes}
    failures = [f for f in outcomes.values() if f is not None]
    if not failures:
        return "allowed", None, outcomes
    if len(failures) == len(outcomes):
        return "blocked", failures[-1], outcomes
    return "unknown", failures[0], outcomes


@dataclass
class PreflightRecord:
    """What a preflight answered, for pairing with the actual request and as the preflight cache."""

    origin: str
    url: str
    method: str
    headers: list[str]
    verdict: str
    status: int
    max_age: int
    at: float
    uses: int = 0  # actual requests paired with it: the first one followed it on the wire, later ones hit the cache


class CorsAnalyzer(Analyzer):
    name = "cors"

    def __init__(self, engine: str = "chromium") -> None:
        if engine not in MAX_AGE_CAP:
            raise ValueError(f"unknown engine {engine!r}: use chromium or firefox")
        self.engine = engine

    # -- classification -------------------------------------------------------------------------
    @staticmethod
    def target_origin(ex: Exchange) -> str:
        """The origin requested ("null" for an unparseable URL); a WebSocket URL compares as http(s)."""
        origin = ex.request.origin
        for ws, http in (("ws://", "http://"), ("wss://", "https://")):
            if origin.startswith(ws):
                return http + origin[len(ws):]
        return origin

    def analyze(self, ex: Exchange, session: Session) -> Analysis:
        req = ex.request
        h = req.headers
        origin = _val(h, "origin")
        mode = (_val(h, "sec-fetch-mode") or "").lower()
        site = (_val(h, "sec-fetch-site") or "").lower()
        target = self.target_origin(ex)
        cookies_seen = session.store("cors.cookie-hosts", maxsize=4096, ttl=3600)
        if "cookie" in h:
            cookies_seen[req.host] = True
        facts = {"verdict": "not-cors", "kind": None, "origin": origin, "target": target,
                 "credentials": "unknown", "reasons": [], "preflight": None, "engine": self.engine}

        if (_val(h, "upgrade") or "").lower() == "websocket" or mode == "websocket":
            facts["kind"] = "websocket"
            return Analysis(facts, self._websocket(ex, origin, target))
        if req.method == "OPTIONS" and "access-control-request-method" in h and origin:
            return self._preflight(ex, session, facts, origin)
        if origin is None and ex.response is None and ex.resource_type in ("fetch", "xhr"):
            # A browser's own HAR (Chromium) keeps only the provisional headers of a fetch that
            # failed (no Origin, no Sec-Fetch-*): the Referer still names the page's origin.
            origin = self._referer_origin(h)
            facts["origin"] = origin
        if mode in ("navigate", "nested-navigate"):
            facts["kind"] = "navigation"
            facts["reasons"] = ["a navigation: CORS does not apply"]
            return Analysis(facts)
        if mode == "no-cors":
            facts["kind"] = "no-cors"
            facts["reasons"] = ["no-cors mode: the page gets an opaque response it cannot read; CORS does not apply"]
            return Analysis(facts)
        if mode == "same-origin" or site == "same-origin" or (origin is not None and origin == target):
            facts["kind"] = "same-origin"
            facts["reasons"] = ["same-origin request: CORS does not apply"]
            return Analysis(facts)
        if origin is None:
            facts["kind"] = "no-cors"
            facts["reasons"] = ["no Origin header: not a CORS request (a non-browser client, or a browser request "
                                "that is not in cors mode)"]
            return Analysis(facts)
        return self._actual(ex, session, facts, origin, site, cookies_seen)

    @staticmethod
    def _referer_origin(headers: Headers) -> str | None:
        referer = _val(headers, "referer")
        if not referer:
            return None
        try:
            parts = urlsplit(referer)
            if not parts.scheme or not parts.hostname:
                return None
            port = parts.port
        except ValueError:
            return None
        return serialize_origin(parts.scheme.lower(), parts.hostname.lower(), port)

    # -- preflight ------------------------------------------------------------------------------
    def _preflight(self, ex: Exchange, session: Session, facts: dict, origin: str) -> Analysis:
        h = ex.request.headers
        facts["kind"] = "preflight"
        method = (_val(h, "access-control-request-method") or "").strip()
        names = [n.lower() for n in split_list(_val(h, "access-control-request-headers")) or []]
        findings: list[Finding] = []
        resp = ex.response
        if resp is None:
            facts["verdict"] = "blocked"
            facts["reasons"] = [f"the preflight got no response ({ex.error.message if ex.error else 'no response'}); "
                                "the browser does not send the actual request"]
            self._remember_failure(session, origin, ex, method, None, facts["reasons"][0])
            return Analysis(facts)
        # A preflight never carries credentials; the check uses the actual request's mode, unknown here.
        verdict, failure, outcomes = _decide(
            lambda mode: preflight_check(origin, resp.status, resp.headers, method, names, mode, self.engine),
            ["include", "omit"])
        acah = [n.lower() for n in split_list(_val(resp.headers, "access-control-allow-headers")) or []]
        if "authorization" in names and "authorization" not in acah and "*" in acah and verdict != "blocked":
            findings.append(R_AUTH_WILDCARD.finding(subject="response.header.access-control-allow-headers",
                                                    evidence={"allow_headers": ", ".join(acah)}))
        pna = (_val(h, "access-control-request-private-network") or "").lower() == "true"
        if pna:
            findings.append(R_PNA.finding(subject="request.header.access-control-request-private-network"))
            if (_val(resp.headers, "access-control-allow-private-network") or "") != "true" and \
                    self.engine == "chromium":
                # Not decisive: Chromium only warns (never enforced), Firefox does not implement it.
                findings.append(R_PNA_DENIED.finding(subject="response.header.access-control-allow-private-network"))
        facts["verdict"] = verdict
        facts["preflight"] = {"method": method, "headers": names, "status": resp.status}
        if verdict == "allowed":
            facts["reasons"] = [f"the preflight allows {method}" + (f" with {', '.join(names)}" if names else "")]
        elif verdict == "blocked":
            facts["reasons"] = [failure.reason, "the browser does not send the actual request"]
            findings.append(self._finding(failure))
            self._remember_failure(session, origin, ex, method, resp.status, failure.reason)
        else:
            facts["credentials"] = "unknown"
            facts["reasons"] = self._credentials_reasons(outcomes, "the actual request")
            findings.append(self._unknown_finding(outcomes))
        max_age, age_findings = self._max_age(resp.headers)
        findings.extend(age_findings)
        facts["preflight"]["max_age"] = max_age
        if verdict != "blocked":
            record = PreflightRecord(origin, ex.request.url, method, names, verdict, resp.status, max_age,
                                     ex.timings.started)
            session.store("cors.preflights", maxsize=2048, ttl=MAX_AGE_CAP["firefox"])[(origin, ex.request.url)] = \
                record
        findings.extend(self._reflection(ex, origin, resp.headers, session))
        return Analysis(facts, findings)

    @staticmethod
    def _remember_failure(session: Session, origin: str, ex: Exchange, method: str, status: int | None,
                          reason: str) -> None:
        """A browser's HAR (not the wire) also lists the request a failed preflight stopped, as a network
        error: remember why, for a minute, so that entry can say it."""
        session.store("cors.failed-preflights", maxsize=1024, ttl=60)[(origin, ex.request.url)] = \
            (method, status, reason)

    def _max_age(self, headers: Headers) -> tuple[int, list[Finding]]:
        raw = _val(headers, "access-control-max-age")
        cap = MAX_AGE_CAP[self.engine]
        value = parse_max_age(raw)
        if raw is not None and value is None:
            negative = raw.strip(" \t").startswith("-") and raw.strip(" \t")[1:].isdigit()
            # Chromium reads a negative value as "do not cache"; the standard falls back to 5 seconds.
            kept = 0 if negative and self.engine == "chromium" else DEFAULT_MAX_AGE
            return kept, [R_MAX_AGE_INVALID.finding(
                f"Access-Control-Max-Age: {raw} is not a non-negative integer; "
                + ("Chromium does not cache this preflight at all (the standard and Firefox: 5 seconds)"
                   if kept == 0 else f"the browser caches this preflight for {DEFAULT_MAX_AGE} seconds"),
                subject="response.header.access-control-max-age", evidence={"max_age": raw})]
        if value is None:
            return DEFAULT_MAX_AGE, []
        if value > cap:
            return cap, [R_MAX_AGE_LONG.finding(
                f"Access-Control-Max-Age is {value} s; {self.engine.capitalize()} caps it at {cap} s "
                f"(Chromium: 7200, Firefox: 86400)", subject="response.header.access-control-max-age",
                evidence={"max_age": value, "cap": cap, "engine": self.engine})]
        return value, []

    # -- actual CORS requests -------------------------------------------------------------------
    def _actual(self, ex: Exchange, session: Session, facts: dict, origin: str, site: str, cookies_seen) -> Analysis:
        req = ex.request
        findings: list[Finding] = []
        failed = session.store("cors.failed-preflights", maxsize=1024, ttl=60).pop((origin, req.url)) \
            if ex.response is None else None
        if failed is not None and failed[0] == req.method:
            # Fetch, CORS-preflight fetch: on failure "return a network error"; the request is never sent.
            facts.update(kind="preflighted", verdict="blocked",
                         preflight={"seen": True, "from_cache": False, "failed": True, "status": failed[1]},
                         reasons=[f"its preflight failed: {failed[2]}",
                                  "the browser never sent this request; this entry records the network error"])
            return Analysis(facts)
        record: PreflightRecord | None = session.store("cors.preflights", maxsize=2048,
                                                       ttl=MAX_AGE_CAP["firefox"]).get((origin, req.url))
        age = ex.timings.started - record.at if record is not None else 0.0
        computed = set(unsafe_request_header_names(author_headers(req.headers)))
        sent = {name.lower() for name, _ in req.headers}
        # Fetch "main fetch" preflights only non-safelisted methods or CORS-unsafe headers; the preflight
        # it answered also names headers we might mistake for the browser's own (an author's Cache-Control).
        needs_preflight = req.method not in SAFELISTED_METHODS or bool(computed) or (
            record is not None and record.uses == 0 and bool(record.headers) and set(record.headers) <= sent)
        # The browser reuses a preflight result for max-age seconds (its cache); a little slack for clocks.
        paired = needs_preflight and record is not None and record.method == req.method and \
            age <= record.max_age + 2
        author = set(record.headers) if paired and record.uses == 0 else computed
        facts["kind"] = "preflighted" if needs_preflight else "simple"

        # Credentials mode, from the wire.
        if "cookie" in req.headers:
            modes, facts["credentials"] = ["include"], "include"
        elif paired and "authorization" in req.headers and "authorization" not in author:
            modes, facts["credentials"] = ["include"], "include"  # the browser's own HTTP auth: only with include
        elif cookies_seen.get(req.host) and site in ("same-origin", "same-site"):
            modes, facts["credentials"] = ["omit"], "omit"  # "include" would have sent this host's cookies
        else:
            modes = ["include", "omit"]

        if needs_preflight:
            if paired:
                from_cache = record.uses > 0
                record.uses += 1
                facts["preflight"] = {"seen": not from_cache, "from_cache": from_cache, "status": record.status,
                                      "max_age": record.max_age, "age": round(age, 3)}
                if from_cache:
                    findings.append(R_PREFLIGHT_CACHED.finding(
                        f"no preflight on the wire: the browser reused the preflight answered {age:.0f} s ago "
                        f"(max-age {record.max_age} s)", subject="request",
                        evidence={"age": round(age, 3), "max_age": record.max_age}))
            else:
                facts["preflight"] = {"seen": False, "from_cache": None}
                findings.append(R_PREFLIGHT_UNSEEN.finding(
                    "this request needed a preflight that proxylens did not see; the browser sent the request, so "
                    "the preflight passed (answered before proxylens watched, or from the browser's cache)",
                    subject="request", evidence={"method": req.method, "headers": ", ".join(sorted(author))}))

        resp = ex.response
        if resp is None:
            message = ex.error.message if ex.error else "network error"
            facts["verdict"] = "blocked"
            facts["reasons"] = [f"no response ({message}): the fetch fails with a network error"]
            if ex.source == "har" and message.startswith("net::ERR_FAILED"):
                facts["reasons"].append("this is how Chromium's own HAR records a CORS failure, without the headers "
                                        "that would say which check failed; record it through proxylens proxy to "
                                        "see the preflight and the response")
            return Analysis(facts, findings)
        verdict, failure, outcomes = _decide(lambda mode: cors_check(origin, resp.headers, mode), modes)
        facts["verdict"] = verdict
        facts["allow_origin"] = _val(resp.headers, "access-control-allow-origin")
        facts["allow_credentials"] = _val(resp.headers, "access-control-allow-credentials")
        if verdict == "allowed":
            facts["reasons"] = [f"Access-Control-Allow-Origin '{facts['allow_origin']}' matches origin '{origin}'"
                                + (" and credentials are allowed" if modes == ["include"] else "")]
            findings.append(R_ALLOWED.finding(subject="response.header.access-control-allow-origin",
                                              evidence={"origin": origin, "allow_origin": facts["allow_origin"]}))
            hidden = self._hidden_headers(resp.headers, modes)
            facts["exposed_headers"] = split_list(_val(resp.headers, "access-control-expose-headers")) or []
            if hidden:
                findings.append(R_HIDDEN_HEADERS.finding(
                    f"the page's script cannot read {', '.join(hidden[:8])}"
                    f"{' and more' if len(hidden) > 8 else ''}; list them in Access-Control-Expose-Headers",
                    subject="response.header.access-control-expose-headers",
                    evidence={"hidden": ", ".join(hidden)}))
        elif verdict == "blocked":
            facts["reasons"] = [failure.reason]
            findings.append(self._finding(failure))
        else:
            facts["reasons"] = self._credentials_reasons(outcomes, "this request")
            findings.append(self._unknown_finding(outcomes))
        findings.extend(self._reflection(ex, origin, resp.headers, session))
        return Analysis(facts, findings)

    def _hidden_headers(self, headers: Headers, modes: list[str]) -> list[str]:
        exposed = [n.lower() for n in split_list(_val(headers, "access-control-expose-headers")) or []]
        if "*" in exposed and modes == ["omit"]:
            return []
        names = []
        for name, _ in headers:
            lname = name.lower()
            if lname in SAFELISTED_RESPONSE_HEADERS or lname in exposed or lname in _UNINTERESTING \
                    or lname.startswith("access-control-") or lname in names:
                continue
            names.append(lname)
        return names

    # -- shared ---------------------------------------------------------------------------------
    def _reflection(self, ex: Exchange, origin: str, headers: Headers, session: Session) -> list[Finding]:
        acao = _val(headers, "access-control-allow-origin")
        if acao is None or acao != origin or acao == "*":
            return []
        findings = []
        vary = [v.lower() for v in split_list(_val(headers, "vary")) or []]
        # Which caches could hand this response to another origin is the caching analyzer's call: with
        # no-store (or for a POST) nothing stores it, and a missing Vary: Origin harms no one.
        stores = storing_caches(ex.request.method, ex.response.status if ex.response else 0, ex.request.headers,
                                headers)
        if "origin" not in vary and "*" not in vary and stores:
            findings.append(R_VARY.finding(
                f"Access-Control-Allow-Origin echoes '{origin}' without 'Vary: Origin': {stores} may serve this "
                "response to another origin, which the browser then blocks (or, worse, allows); add 'Vary: Origin'",
                subject="response.header.vary",
                evidence={"origin": origin, "vary": ", ".join(vary), "stored_by": stores}))
        if _val(headers, "access-control-allow-credentials") == "true":
            seen = session.store("cors.reflections", maxsize=1024, ttl=3600)
            key = self.target_origin(ex)
            origins = seen.get(key) or []
            if origin not in origins:
                origins = (origins + [origin])[-10:]
                seen[key] = origins
            if origin == "null" or len(origins) >= 3:
                findings.append(R_UNIVERSAL.finding(
                    f"{key} echoed {len(origins)} different origins ({', '.join(origins[:3])}...) with credentials "
                    "allowed: any site can read its users' data. Check Origin against an allow-list"
                    if origin != "null" else
                    "the server allows the 'null' origin with credentials: any sandboxed iframe can read users' data",
                    subject="response.header.access-control-allow-origin",
                    evidence={"origins_seen": len(origins), "origin": origin}))
        return findings

    def _websocket(self, ex: Exchange, origin: str | None, target: str) -> list[Finding]:
        if origin is None or origin == target or ex.response is None or ex.response.status != 101:
            return []
        return [R_WEBSOCKET.finding(
            f"the server accepted a WebSocket from '{origin}' (this is {target}); browsers apply no CORS check to "
            "WebSockets, so the server must verify the Origin header itself",
            subject="request.header.origin", evidence={"origin": origin, "target": target})]

    @staticmethod
    def _finding(failure: Failure) -> Finding:
        return failure.rule.finding(failure.reason[0].upper() + failure.reason[1:], subject=failure.subject,
                                    evidence=failure.evidence)

    @staticmethod
    def _credentials_reasons(outcomes: dict[str, Failure | None], what: str) -> list[str]:
        failing = next(m for m, f in outcomes.items() if f is not None)
        failure = outcomes[failing]
        allowed_mode = "include" if failing == "omit" else "omit"
        shown = {"include": "credentials: 'include'", "omit": "credentials 'omit' or 'same-origin'"}
        return [f"depends on the credentials mode, which the wire does not show: with {shown[failing]} the browser "
                f"blocks {what} because {failure.reason}",
                f"with {shown[allowed_mode]} the browser allows it"]

    def _unknown_finding(self, outcomes: dict[str, Failure | None]) -> Finding:
        reasons = self._credentials_reasons(outcomes, "it")
        return R_CREDENTIALS_UNKNOWN.finding("; ".join(reasons)[:600], subject="request",
                                             evidence={"blocked_with": next(m for m, f in outcomes.items() if f)})


addons = [InProcess([CorsAnalyzer()])]
