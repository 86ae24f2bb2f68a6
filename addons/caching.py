"""HTTP caching: storable by whom, fresh for how long, revalidated how.

Per exchange, ``cache_model`` answers for a browser (the selected engine), an
RFC 9111 private cache and a shared cache (CDN, proxy); httplint's notes on
the caching headers become findings (``cache_lint``); ``cache_status`` reads
what a CDN says it did. Across exchanges, the session remembers the last
response for each URL, which shows what no linter can: conditional requests
and their answers, requests a browser cache would not have sent, validators
that change while the content does not, and cache-busting query strings.
"""

# No `from __future__ import annotations` here: mitmproxy loads this file as a script without
# registering it in sys.modules, and dataclasses cannot resolve string annotations then.

import hashlib
import time
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from addons import cache_lint
from addons.cache_headers import etag_list, parse_directives, parse_http_date, parse_vary, weak_match
from addons.cache_lint import R_STALE_ON_ARRIVAL, RFC9110, RFC9111, caching_rule
from addons.cache_model import FOREVER, CacheModel, CachePolicy, Message, build
from addons.cache_status import cdn_status, targeted
from addons.httplint_notes import response_time as arrival_time
from proxy import Analysis, Analyzer, Exchange, Finding, Headers, InProcess, Session, Severity

R_ENGINE_DIFFERS = caching_rule(
    "browser-differs-from-rfc", Severity.INFO,
    "The browser's cache treats this response differently from RFC 9111's private cache.", f"{RFC9111}#section-4.2",
    "facts.caching.browser follows the browser engine; freshness_lifetime_private follows the RFC. Other clients "
    "(HTTP libraries, service workers' Cache API users, other browsers) may follow the RFC. Make the intent "
    "explicit with Cache-Control: max-age, no-cache or no-store so every cache agrees.")
R_HEURISTIC = caching_rule(
    "heuristic-freshness", Severity.INFO,
    "No explicit freshness: caches guess a lifetime from Last-Modified.", f"{RFC9111}#section-4.2.2",
    "Without max-age or Expires, caches may reuse the response for a fraction (typically 10%) of the time since "
    "Last-Modified -- a day for a file unchanged for ten days. Say how long it may be reused with "
    "Cache-Control: max-age (or no-cache to always revalidate).")
R_PRAGMA_ONLY = caching_rule(
    "pragma-only", Severity.WARNING,
    "Pragma: no-cache without Cache-Control: only browsers honour it, shared caches ignore it.",
    f"{RFC9111}#section-5.4",
    "RFC 9111 deprecates Pragma and gives it no meaning in responses. Chromium and Firefox treat it as no-cache, "
    "but a CDN or proxy may store and reuse the response. Send `Cache-Control: no-cache` (or no-store).")
R_IMMUTABLE_SHORT = caching_rule(
    "immutable-short-lifetime", Severity.WARNING,
    "Cache-Control: immutable with a short or missing max-age.", "https://www.rfc-editor.org/rfc/rfc8246#section-2",
    "immutable only saves revalidations while the response is fresh; it is meant for versioned URLs with a long "
    "max-age (e.g. `max-age=31536000, immutable`). With a short lifetime it does almost nothing.")
R_SET_COOKIE_SHARED = caching_rule(
    "set-cookie-shared-cacheable", Severity.WARNING,
    "A response with Set-Cookie may be stored by shared caches and served to other users.",
    f"{RFC9111}#section-7.3",
    "Shared caches may store a response with Set-Cookie (RFC 9111 does not forbid it), and some CDNs then hand "
    "one user's session cookie to everyone. Send `Cache-Control: private` (or no-store) on responses that set "
    "cookies, or `no-cache=\"Set-Cookie\"`.")
R_NO_CACHE_NOT_NO_STORE = caching_rule(
    "no-cache-is-not-no-store", Severity.INFO,
    "no-cache does not stop caches from storing this personal response; no-store does.",
    f"{RFC9111}#section-5.2.2.4",
    "`no-cache` means \"revalidate before reuse\": the response is still written to the browser's disk cache "
    "(and to shared caches unless private). For personal or sensitive responses use `no-store`.")
R_CDN_HIT_UNCACHEABLE = caching_rule(
    "shared-cache-hit-uncacheable", Severity.ERROR,
    "A CDN or proxy served a stored copy of a response that shared caches must not reuse.",
    f"{RFC9111}#section-3",
    "The cache-status header says a shared cache answered from storage, but Cache-Control forbids that (private, "
    "no-store, or no-cache without revalidation). The cache is misconfigured to override the origin: one user's "
    "response may reach another. Fix the CDN rule, or use CDN-Cache-Control to state the intent.")
R_CDN_STALE = caching_rule(
    "shared-cache-served-stale", Severity.WARNING,
    "A shared cache served a response older than its freshness lifetime.", f"{RFC9111}#section-4.2.4",
    "Age exceeds the lifetime the headers give shared caches, and no stale-while-revalidate or stale-if-error "
    "window allows that. The CDN is configured to serve stale content (or ignores the origin's headers).")
R_REVALIDATED = caching_rule(
    "revalidated", Severity.GOOD, "A conditional request was answered 304 Not Modified: the cached copy was reused.",
    f"{RFC9111}#section-4.3")
R_304_MISMATCH = caching_rule(
    "not-modified-validator-mismatch", Severity.WARNING,
    "A 304 Not Modified carries an ETag the request did not ask about.", f"{RFC9111}#section-4.3.4",
    "Caches update only the stored response whose validator matches the 304's; with a different ETag no stored "
    "response is selected and the client gets nothing usable. Send the same ETag the request's If-None-Match held.")
R_304_DROPPED = caching_rule(
    "not-modified-missing-headers", Severity.WARNING,
    "A 304 Not Modified omits headers the full response had and the 304 must repeat.", f"{RFC9110}#section-15.4.5",
    "RFC 9110: \"The server generating a 304 response MUST generate any of the following header fields that would "
    "have been sent in a 200 (OK) response to the same request: Content-Location, Date, ETag, and Vary; "
    "Cache-Control and Expires\". Without them caches keep the old values (an old max-age, say).")
R_FULL_NOT_304 = caching_rule(
    "full-response-to-matching-condition", Severity.WARNING,
    "The request's validator still matched, but the server sent the whole response instead of a 304.",
    f"{RFC9110}#section-13.1.2",
    "If-None-Match named the current ETag (or If-Modified-Since the current Last-Modified), so a 304 Not Modified "
    "without a body would have done. Make the server (or framework middleware) evaluate conditional requests.")
R_VALIDATOR_UNUSED = caching_rule(
    "validator-not-used", Severity.INFO,
    "The previous response had a validator, but this request for the same URL was not conditional.",
    f"{RFC9111}#section-4.3.1",
    "A cache holding the previous response would have sent If-None-Match or If-Modified-Since and could have got "
    "a 304. The client has no HTTP cache, did not keep the response, or keyed it differently (Chromium partitions "
    "its cache by top-level site).")
R_FRESH_REFETCHED = caching_rule(
    "fresh-response-refetched", Severity.INFO,
    "This request was sent although the previous response for the URL was still fresh in a browser cache.",
    f"{RFC9111}#section-4",
    "A browser would have reused the stored response without asking. The client bypassed its cache (reload, "
    "DevTools \"Disable cache\", fetch's cache: 'no-store'/'reload'), has no HTTP cache, or partitions it "
    "(Chromium keys its cache by top-level site).")
R_UNSTABLE_ETAG = caching_rule(
    "unstable-validator", Severity.WARNING,
    "The same URL returned identical content with a different ETag or Last-Modified.", f"{RFC9110}#section-8.8.3",
    "Validators that change while the content does not (per-server ETags behind a load balancer, inode-based "
    "ETags, Last-Modified set to the current time) make every revalidation fail. Derive them from the content.")
R_INCONSISTENT_VARY = caching_rule(
    "inconsistent-vary", Severity.WARNING, "The same URL was answered with different Vary headers.",
    f"{RFC9111}#section-4.1",
    "Caches select stored responses by the Vary of the response they stored; when it changes between responses, "
    "caches store duplicates or serve a representation to the wrong client. Send the same Vary on every response.")
R_CACHE_BUSTING = caching_rule(
    "cache-busting-query", Severity.WARNING,
    "A query parameter changes on every request, so no cache can reuse an otherwise cacheable response.",
    f"{RFC9111}#section-4",
    "A parameter such as `_=1732450000000` makes each URL unique: caches never hit, and they fill with copies. "
    "If the response must not be reused, say so with Cache-Control; if it may be, drop the parameter (or version "
    "the URL by content hash).")

# Names of query parameters commonly used to defeat caches (jQuery's "_", ExtJS's "_dc", ...).
BUSTER_NAMES = frozenset({"_", "_t", "t", "ts", "_ts", "timestamp", "time", "cb", "cachebuster", "cache_buster",
                          "cachebust", "nocache", "no_cache", "nc", "rnd", "rand", "random", "bust", "_dc", "r"})
# Fields a 304 must repeat when the full response had them (RFC 9110 section 15.4.5).
MUST_REPEAT_IN_304 = ("cache-control", "expires", "etag", "vary", "content-location")
# RFC 9111 section 3.2: a 304 updates the stored headers, except these describe the stored content.
NOT_UPDATED_BY_304 = frozenset({"content-length", "content-encoding", "transfer-encoding", "content-range"})
BYPASS_DIRECTIVES = ("no-cache", "no-store")
# What the session keeps of a stored response's headers.
KEPT_FIELDS = frozenset(MUST_REPEAT_IN_304) | {"last-modified", "date", "age", "pragma"}


@dataclass
class Previous:
    """What the session keeps about the last response for a URL."""

    status: int
    headers: Headers                 # the stored response's headers (updated by 304s)
    arrived: float
    fresh_until: float | None        # when the browser model stops reusing it; None: not stored
    request_vary: dict[str, str | None]
    digest: str | None
    size: int
    validator: str | None = None     # the conditional header the browser would revalidate it with


def _url_key(url: str) -> str:
    try:
        parts = urlsplit(url)
        return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query, ""))
    except ValueError:
        return url


def _digest(ex: Exchange) -> str | None:
    body = ex.response.body if ex.response else None
    if body is None or body.truncated or body.raw is None or not body.raw:
        return None
    return hashlib.sha256(body.raw).hexdigest()


def duration(seconds: int | None) -> str:
    """Seconds for people: "45 s", "10 min", "1 h 30 min", "2 days", "indefinitely"."""
    if seconds is None:
        return "not at all"
    if seconds >= FOREVER // 2:  # FOREVER, or what is left of it
        return "indefinitely"
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min" + (f" {seconds % 60} s" if seconds % 60 and seconds < 600 else "")
    if seconds < 86400:
        hours, minutes = divmod(seconds // 60, 60)
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days = seconds // 86400
    return f"{days} day" + ("s" if days != 1 else "")


def _bypass(headers: Headers) -> str | None:
    """The request header by which the client asked to bypass stored responses, if any."""
    cc = parse_directives(headers.get("cache-control"))
    for name in BYPASS_DIRECTIVES:
        if name in cc:
            return f"Cache-Control: {name}"
    if "max-age" in cc and cc.seconds("max-age") == 0:
        return "Cache-Control: max-age=0"
    if "no-cache" in (headers.get("pragma") or "").lower():
        return "Pragma: no-cache"
    return None


class CachingAnalyzer(Analyzer):
    name = "caching"

    def __init__(self, engine: str = "chromium") -> None:
        self.engine = engine

    def analyze(self, exchange: Exchange, session: Session) -> Analysis | None:
        response = exchange.response
        if response is None:
            return None
        request = exchange.request
        urls = session.store("caching.urls", maxsize=4096, ttl=86400)
        key = _url_key(request.url)
        previous: Previous | None = urls.get(key) if request.method.upper() == "GET" else None
        status, response_headers = response.status, response.headers
        if status == 304 and previous is not None:
            # RFC 9111 section 4.3.4: a 304 freshens the stored response; judge what is now stored.
            status, response_headers = previous.status, _freshen(previous.headers, response.headers)
        request_time = request.timestamp_start or exchange.timings.started or None
        response_time = arrival_time(exchange)
        model = build(Message(request.method, status, request.headers, response_headers, request_time,
                              response_time), self.engine)
        findings: list[Finding] = []
        try:
            findings += cache_lint.findings(exchange)
        except Exception as exc:  # noqa: BLE001 -- httplint is a dependency: its bug must not cost the caching facts
            findings.append(cache_lint.R_LINT_FAILED.finding(
                f"httplint could not lint this message ({type(exc).__name__}: {exc})"[:300], subject="response",
                evidence={"exception": type(exc).__name__, "message": str(exc)[:300]}))
        cdn = cdn_status(response.headers)
        target = targeted(response.headers)
        findings += self._departures(model)
        findings += self._interplay(exchange, model)
        if status != 304:  # a CDN may answer a conditional request itself (RFC 9111 section 4.3.2)
            findings += self._cdn(model, cdn, target)
        revalidation = None
        if previous is not None and exchange.from_cache is None:
            revalidation, cross = self._against_previous(exchange, previous, model, session.now or response_time)
            findings += cross
        findings += self._cache_busting(exchange, model, session)
        if request.method.upper() == "GET" and exchange.from_cache is None and 200 <= response.status < 400:
            self._remember(urls, key, exchange, previous, status, response_headers, model, response_time)
        facts = self._facts(model, cdn, target, revalidation, exchange)
        return Analysis(facts=facts, findings=findings)

    # -- facts ---------------------------------------------------------------------------------
    def _facts(self, model: CacheModel, cdn, target, revalidation, exchange: Exchange) -> dict[str, Any]:
        browser = model.browser
        facts: dict[str, Any] = {
            "storable_private": model.private.stores,
            "storable_shared": model.shared.stores,
            "freshness_lifetime_private": model.private.lifetime if model.private.stores else None,
            "freshness_lifetime_shared": model.shared.lifetime if model.shared.stores else None,
            "freshness_source": model.private.source if model.private.stores else None,
            "freshness_source_shared": model.shared.source if model.shared.stores else None,
            "age": model.age,
            "validators": model.validators,
            "vary": model.vary,
            "directives": model.cc.as_dict(),
            "stale_while_revalidate": model.private.stale_while_revalidate,
            "stale_if_error": model.private.stale_if_error,
            "revalidation": revalidation,
            "browser": {
                "engine": model.engine,
                "stores": browser.stores,
                "fresh_for": browser.fresh_for if browser.stores else None,
                "then": browser.then,
                "validator": browser.validator if browser.then == "revalidate" else None,
                "stale_while_revalidate": browser.stale_while_revalidate,
                "why": browser.why,
            },
            "shared": {"stores": model.shared.stores, "fresh_for": model.shared.fresh_for, "why": model.shared.why},
            "cdn": cdn.as_dict() if cdn else None,
            "targeted": ({"field": target.field, "directives": target.directives.as_dict(),
                          "lifetime": target.lifetime} if target else None),
            "summary": self.summary(model, target),
        }
        if exchange.from_cache:
            facts["served_from"] = f"{exchange.from_cache} cache"
        return facts

    @staticmethod
    def summary(model: CacheModel, target=None) -> str:
        """The plain-language answer: who reuses it, for how long, and then what."""
        browser = model.browser
        then = (f"afterwards it revalidates with {browser.validator}" if browser.then == "revalidate"
                else "afterwards it downloads it again")
        if not browser.stores:
            parts = [f"a browser does not store this ({browser.why[0] if browser.why else 'not storable'})"]
        elif browser.forever:
            parts = ["a browser reuses this indefinitely without asking"]
        elif browser.fresh_for:
            parts = [f"a browser reuses this for {duration(browser.fresh_for)} without asking"]
        elif browser.then == "revalidate":
            parts = [f"a browser stores this but revalidates it with {browser.validator} before every reuse"]
        else:
            parts = ["a browser stores this but downloads it again every time (no validator)"]
        if browser.stale_while_revalidate and browser.stores:
            parts.append(f"then serves it stale for up to {duration(browser.stale_while_revalidate)} while "
                         "revalidating in the background")
        shared_for = target.lifetime if target is not None and target.stores else model.shared.fresh_for
        if target is not None and not target.stores:
            parts.append(f"a CDN does not store it ({target.field})")
        elif not model.shared.stores and target is None:
            parts.append("shared caches (CDN, proxy) do not store it")
        elif shared_for:
            parts.append(f"a CDN for {duration(shared_for)}")
        else:
            parts.append("a CDN stores it but must revalidate before reuse")
        if browser.stores and browser.fresh_for and not browser.forever:
            parts.append(then)
        return "; ".join(parts)

    # -- single-exchange checks -------------------------------------------------------------------
    def _departures(self, model: CacheModel) -> list[Finding]:
        browser, rfc = model.browser, model.private
        differs = []
        if browser.stores != rfc.stores:
            differs.append(f"{model.engine_display} {'stores' if browser.stores else 'does not store'} it, the RFC "
                           f"{'would' if rfc.stores else 'would not'}")
        elif browser.stores and abs((browser.fresh_for or 0) - (rfc.fresh_for or 0)) > 1:
            differs.append(f"{model.engine_display} reuses it for {duration(browser.fresh_for)}, an RFC 9111 private cache "
                           f"for {duration(rfc.fresh_for)}")
        elif browser.stores and browser.then != rfc.then:
            differs.append(f"once stale, {model.engine_display} {'revalidates' if browser.then == 'revalidate' else 'refetches'}"
                           f" it where an RFC 9111 cache would {rfc.then}")
        if not differs:
            return []
        reason = "; ".join(w for w in browser.why if model.engine_display in w or "Pragma" in w)
        summary = differs[0] + (f" ({reason})" if reason else "")
        return [R_ENGINE_DIFFERS.finding(
            summary[0].upper() + summary[1:], subject="response.header.cache-control",
            evidence={"engine": model.engine, "browser_fresh_for": browser.fresh_for if browser.stores else None,
                      "rfc_fresh_for": rfc.fresh_for if rfc.stores else None, "browser_then": browser.then,
                      "rfc_then": rfc.then})]

    def _interplay(self, ex: Exchange, model: CacheModel) -> list[Finding]:
        headers, cc = ex.response.headers, model.cc
        findings = []
        if model.browser.source == "heuristic" and model.browser.stores:
            findings.append(R_HEURISTIC.finding(
                f"No max-age or Expires: {model.engine_display} reuses this for {duration(model.browser.fresh_for)}, 10% of "
                f"the {duration(model.heuristic_base)} since Last-Modified; set Cache-Control: max-age explicitly",
                subject="response.header.last-modified",
                evidence={"heuristic_lifetime": model.browser.lifetime, "since_last_modified": model.heuristic_base}))
        private = model.private
        if private.stores and private.lifetime and model.age >= private.lifetime:
            findings.append(R_STALE_ON_ARRIVAL.finding(
                f"Already stale on arrival: age {duration(model.age)} against a freshness lifetime of "
                f"{duration(private.lifetime)} ({private.source})", subject="response.header.age",
                evidence={"age": model.age, "lifetime": private.lifetime, "source": private.source,
                          "age_header": headers.get("age"), "date": headers.get("date")}))
        if model.pragma_no_cache and "cache-control" not in headers:
            findings.append(R_PRAGMA_ONLY.finding(subject="response.header.pragma",
                                                  evidence={"pragma": headers.get("pragma")}))
        if "immutable" in cc:
            max_age = cc.seconds("max-age")
            if max_age is None or max_age < 86400:
                findings.append(R_IMMUTABLE_SHORT.finding(
                    f"immutable with max-age={cc.get('max-age')}: the response is reused without revalidation only "
                    f"while fresh ({duration(max_age)}); use a long max-age on versioned URLs"
                    if max_age is not None else
                    "immutable without max-age: immutable only matters while a response is fresh",
                    subject="response.header.cache-control", evidence={"max_age": max_age}))
        set_cookie = "set-cookie" in headers
        # no-cache="Set-Cookie" / private="Set-Cookie": shared caches must not reuse that field
        # (RFC 9111 sections 5.2.2.4 and 5.2.2.7).
        qualified = f"{cc.get('no-cache') or ''},{cc.get('private') or ''}".lower()
        if set_cookie and model.shared.stores and "set-cookie" not in qualified and (
                model.shared.fresh_for or model.shared.source == "heuristic"):
            findings.append(R_SET_COOKIE_SHARED.finding(
                f"Set-Cookie on a response shared caches may reuse for {duration(model.shared.fresh_for)}",
                subject="response.header.set-cookie",
                evidence={"cache_control": headers.get("cache-control"), "shared_fresh_for": model.shared.fresh_for}))
        personal = set_cookie or "authorization" in ex.request.headers or "cookie" in ex.request.headers
        if "no-cache" in cc and cc.get("no-cache") is None and "no-store" not in cc and personal:
            findings.append(R_NO_CACHE_NOT_NO_STORE.finding(
                subject="response.header.cache-control",
                evidence={"cache_control": headers.get("cache-control"),
                          "personal": "set-cookie" if set_cookie else "credentials in request"}))
        return findings

    def _cdn(self, model: CacheModel, cdn, target) -> list[Finding]:
        if cdn is None or cdn.status not in ("hit", "stale"):
            return []
        cc = model.cc
        if target is not None:
            allowed, lifetime = target.stores, target.lifetime
        else:
            allowed = model.shared.stores and not ("no-cache" in cc and cc.get("no-cache") is None)
            lifetime = model.shared.lifetime
        if not allowed:
            why = model.shared.why[0] if model.shared.why else (
                f"{target.field} forbids it" if target is not None else "Cache-Control: no-cache requires revalidation")
            return [R_CDN_HIT_UNCACHEABLE.finding(
                f"{cdn.source} says '{cdn.value[:80]}' (a {cdn.status}), but {why}", subject=f"response.header.{cdn.source.lower()}",
                evidence={"cdn_status": cdn.status, "header": cdn.source, "cache_control": ", ".join(
                    f"{k}={v}" if v is not None else k for k, v in cc.as_dict().items())[:200]})]
        stale_ok = (model.shared.stale_while_revalidate or 0) + (model.shared.stale_if_error or 0)
        if cdn.status == "hit" and lifetime is not None and model.age > lifetime + stale_ok:
            return [R_CDN_STALE.finding(
                f"{cdn.source} reports a hit with Age {model.age} s, beyond the {lifetime} s shared caches may reuse it",
                subject="response.header.age", evidence={"age": model.age, "lifetime": lifetime})]
        return []

    # -- cross-exchange checks ------------------------------------------------------------------
    def _against_previous(self, ex: Exchange, prev: Previous, model: CacheModel,
                          now: float | None) -> tuple[dict[str, Any] | None, list[Finding]]:
        request, response = ex.request, ex.response
        findings: list[Finding] = []
        inm, ims = request.headers.get("if-none-match"), request.headers.get("if-modified-since")
        conditional = inm is not None or ims is not None
        same_variant = all(request.headers.get(name) == value for name, value in prev.request_vary.items())
        bypass = _bypass(request.headers)
        left = int(prev.fresh_until - now) if prev.fresh_until is not None and now is not None else 0
        if left >= 1 and same_variant:
            findings.append(R_FRESH_REFETCHED.finding(
                (f"The client bypassed its cache ({bypass}) although the previous response was fresh for "
                 f"{duration(left)} more" if bypass else
                 f"A browser would have reused the previous response for {duration(left)} more without this request"),
                subject="request", evidence={"fresh_for_left": left, "bypass": bypass}))
        revalidation = None
        if conditional:
            revalidation, checks = self._revalidation(ex, prev, inm, ims)
            findings += checks
        elif (prev.validator and same_variant and bypass is None and "range" not in request.headers
              and prev.fresh_until is not None and now is not None and now >= prev.fresh_until):
            # prev.validator is what the browser model says it would send: None for a 404 (Chromium
            # refetches those) or for Last-Modified alone under Vary: *.
            name = "ETag" if prev.validator == "If-None-Match" else "Last-Modified"
            value = prev.headers.get(name.lower()) or ""
            findings.append(R_VALIDATOR_UNUSED.finding(
                f"The previous response had {name} {value[:80]}, but this request sent no {prev.validator}: "
                f"{prev.size} bytes were downloaded again instead of a 304",
                subject=f"request.header.{prev.validator.lower()}", evidence={"validator": value[:200], "size": prev.size}))
        if response.status == 200 and prev.status == 200:
            digest = _digest(ex)
            for name in ("etag", "last-modified"):
                old, new = prev.headers.get(name), response.headers.get(name)
                if digest and digest == prev.digest and old and new and old != new:
                    findings.append(R_UNSTABLE_ETAG.finding(
                        f"Identical content came with {name} {old[:60]} before and {new[:60]} now",
                        subject=f"response.header.{name}", evidence={"previous": old[:200], "current": new[:200]}))
            old_vary, new_vary = sorted(parse_vary(prev.headers.get("vary"))), sorted(model.vary)
            if old_vary != new_vary:
                findings.append(R_INCONSISTENT_VARY.finding(
                    f"Vary was '{', '.join(old_vary) or '(none)'}' and is now '{', '.join(new_vary) or '(none)'}'",
                    subject="response.header.vary",
                    evidence={"previous": ", ".join(old_vary), "current": ", ".join(new_vary)}))
        return revalidation, findings

    def _revalidation(self, ex: Exchange, prev: Previous, inm: str | None,
                      ims: str | None) -> tuple[dict[str, Any], list[Finding]]:
        response = ex.response
        findings: list[Finding] = []
        tags = etag_list(inm) or []
        etag = response.headers.get("etag")
        if response.status == 304:
            outcome = "not-modified"
            matched = None
            if inm is not None:
                compare_to = etag or prev.headers.get("etag")
                matched = "*" in tags or any(weak_match(tag, compare_to) for tag in tags)
                if etag is not None and not matched:
                    findings.append(R_304_MISMATCH.finding(
                        f"The 304 carries ETag {etag[:60]}, the request asked If-None-Match: {inm[:80]}",
                        subject="response.header.etag", evidence={"etag": etag[:200], "if_none_match": inm[:200]}))
            dropped = [name for name in MUST_REPEAT_IN_304 if name in prev.headers and name not in response.headers]
            if dropped:
                findings.append(R_304_DROPPED.finding(
                    f"The 304 omits {', '.join(dropped)}, which the full response had",
                    subject="response.header." + dropped[0], evidence={"missing": ", ".join(dropped)}))
            if matched is not False:
                findings.append(R_REVALIDATED.finding(
                    f"Revalidated with {'If-None-Match' if inm is not None else 'If-Modified-Since'}: 304 Not "
                    f"Modified saved downloading {prev.size} bytes again",
                    subject="response.status", evidence={"saved_bytes": prev.size}))
        else:
            outcome = "modified" if 200 <= response.status < 300 else "other"
            matched = False
            if response.status == 200:
                current_lm = parse_http_date(response.headers.get("last-modified"))
                since = parse_http_date(ims)
                if inm is not None:
                    # RFC 9110 section 13.1.2: "*" is false when a current representation exists
                    matched = "*" in tags or (etag is not None and any(weak_match(tag, etag) for tag in tags))
                else:  # section 13.1.3: false when Last-Modified is "earlier or equal" to the date
                    matched = current_lm is not None and since is not None and current_lm <= since
                if matched:
                    findings.append(R_FULL_NOT_304.finding(
                        f"{'If-None-Match' if inm is not None else 'If-Modified-Since'} matched the current "
                        f"{'ETag' if inm is not None else 'Last-Modified'}, yet the full {response.body.size}-byte "
                        "response was sent; a 304 would do",
                        subject="response.status",
                        evidence={"if_none_match": (inm or "")[:200], "if_modified_since": ims, "etag": etag}))
        revalidation = {"if_none_match": inm, "if_modified_since": ims, "status": response.status,
                        "outcome": outcome, "validator_matched": matched}
        return revalidation, findings

    def _cache_busting(self, ex: Exchange, model: CacheModel, session: Session) -> list[Finding]:
        request = ex.request
        query = request.query
        if request.method.upper() != "GET" or not query:
            return []
        try:
            parts = urlsplit(request.url)
        except ValueError:
            return []
        path_key = f"{parts.scheme}://{parts.netloc.lower()}{parts.path}"
        seen = session.store("caching.queries", maxsize=2048, ttl=3600)
        before: dict[str, str] = seen.get(path_key) or {}
        candidates = {name: value[:40] for name, value in query if name.lower() in BUSTER_NAMES}
        if candidates:
            seen[path_key] = candidates
        now = request.timestamp_start or ex.timings.started or time.time()
        busters = []
        for name, value in query:
            timestamp = value.isascii() and value.isdigit() and len(value) in (10, 13) and \
                abs(int(value[:10]) - now) < 86400
            changed = name.lower() in BUSTER_NAMES and name in before and before[name] != value[:40] and len(value) >= 4
            if timestamp or changed:
                busters.append((name, value))
        cacheable = model.browser.stores and (model.browser.fresh_for or model.browser.then == "revalidate")
        if not busters or not cacheable:
            return []
        name, value = busters[0]
        return [R_CACHE_BUSTING.finding(
            f"Query parameter '{name}={value[:40]}' makes every request a new URL, while the response itself is "
            f"cacheable ({self.summary(model)})"[:400],
            subject="request.url", evidence={"parameter": name, "value": value[:100]})]

    def _remember(self, urls, key: str, ex: Exchange, previous: Previous | None, status: int, headers: Headers,
                  model: CacheModel, arrived: float | None) -> None:
        arrived = arrived or 0.0
        browser: CachePolicy = model.browser
        fresh_until = arrived + browser.fresh_for if browser.stores and browser.fresh_for is not None else None
        if ex.response.status == 304 and previous is not None:
            urls[key] = replace(previous, headers=_kept(headers), arrived=arrived, fresh_until=fresh_until,
                                validator=browser.validator if browser.then == "revalidate" else None)
            return
        request_vary = {name: ex.request.headers.get(name) for name in model.vary if name != "*"}
        validator = browser.validator if browser.stores and browser.then == "revalidate" else None
        urls[key] = Previous(status, _kept(headers), arrived, fresh_until, request_vary, _digest(ex),
                             max(ex.response.body.size, 0), validator)


def _kept(headers: Headers) -> Headers:
    """Only the fields later checks read, so the session stays small."""
    return Headers(tuple((k, v[:512]) for k, v in headers if k.lower() in KEPT_FIELDS))


def _freshen(stored: Headers, fresh: Headers) -> Headers:
    """RFC 9111 section 3.2: the 304's header fields replace the stored ones of the same name."""
    names = {name.lower() for name, _ in fresh if name.lower() not in NOT_UPDATED_BY_304}
    kept = [(k, v) for k, v in stored if k.lower() not in names]
    return Headers(tuple(kept + [(k, v) for k, v in fresh if k.lower() in names]))


addons = [InProcess([CachingAnalyzer()])]
