"""What caches do with one response: RFC 9111 for private and shared caches,
and the selected browser engine's own rules.

A pure core: a response (with its request and the two clock readings) in,
three ``CachePolicy`` values out. No I/O, no session; the analyzer in
``caching.py`` adds what needs earlier exchanges.

Chromium's rules are those of ``net/http/http_response_headers.cc``
(``GetFreshnessLifetimes``, ``GetCurrentAge``) and ``http_cache_transaction.cc``
(``ConditionalizeRequest``), checked against Chromium 156 by
``tests/test_caching_browser.py``. Firefox's follow Gecko's
``nsHttpResponseHead::ComputeFreshnessLifetime``; they are not checked
against a real Firefox.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from addons.cache_headers import (
    DELTA_MAX,
    Directives,
    delta_seconds,
    parse_directives,
    parse_etag,
    parse_http_date,
    parse_vary,
)
from proxy import Headers

# RFC 9110 section 15.1: "Responses with status codes that are defined as heuristically cacheable
# (e.g., 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, and 501 in this specification) can
# be reused by a cache with heuristic expiration".
HEURISTIC_STATUSES = frozenset({200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501})
# RFC 9111 section 4.2.2: "If the response has a Last-Modified header field, caches are encouraged
# to use a heuristic expiration value that is no more than some fraction of the interval since
# that time. A typical setting of this fraction might be 10%."
HEURISTIC_FRACTION = 0.1
FOREVER = DELTA_MAX  # "fresh forever" is reported as 2^31 seconds (68 years)
CACHEABLE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class Engine:
    """Where a browser's HTTP cache departs from RFC 9111's private cache."""

    name: str
    display: str
    # Statuses for which Last-Modified gives a heuristic lifetime.
    heuristic_statuses: frozenset[int]
    # Statuses fresh forever when nothing explicit says otherwise.
    forever_statuses: frozenset[int]
    # Statuses whose stored response is revalidated with a conditional request; others are refetched.
    conditional_statuses: frozenset[int] | None
    heuristic_cap: int | None = None
    must_revalidate_blocks_heuristic: bool = False


ENGINES = {
    # GetFreshnessLifetimes: heuristic "(date_value - last_modified_value) / 10" only for 200, 203 and
    # 206 and not with must-revalidate; 300, 301, 308 and 410 are "implicitly fresh"
    # (TimeDelta::Max()). ConditionalizeRequest: "This only makes sense for cached 200 or 206
    # responses."
    "chromium": Engine("chromium", "Chromium", frozenset({200, 203, 206}), frozenset({300, 301, 308, 410}),
                       frozenset({200, 206}), must_revalidate_blocks_heuristic=True),
    # ComputeFreshnessLifetime: heuristic for any status, capped at one week; 300, 410 and permanent
    # redirects "can be cached indefinitely".
    "firefox": Engine("firefox", "Firefox", HEURISTIC_STATUSES, frozenset({300, 301, 308, 410}), None,
                      heuristic_cap=7 * 86400),
}


@dataclass
class CachePolicy:
    """What one cache does with the response on the next request for the URL."""

    stores: bool
    lifetime: int | None = None       # freshness lifetime in seconds (RFC 9111 section 4.2.1)
    source: str | None = None         # max-age | s-maxage | expires | heuristic | implicit | None
    fresh_for: int | None = None      # reused without asking for this long after arrival; None: not stored
    then: str = "refetch"             # revalidate | refetch, once stale
    validator: str | None = None      # the conditional header a revalidation carries
    stale_while_revalidate: int | None = None
    stale_if_error: int | None = None
    why: list[str] = field(default_factory=list)  # plain-language reasons, decisive first

    @property
    def forever(self) -> bool:
        return self.fresh_for is not None and self.fresh_for >= FOREVER


@dataclass
class CacheModel:
    cc: Directives
    age: int                          # corrected initial age when the response arrived
    validators: list[str]
    vary: list[str]
    private: CachePolicy
    shared: CachePolicy
    browser: CachePolicy
    engine: str
    pragma_no_cache: bool
    expires_invalid: bool
    heuristic_base: int | None        # seconds between Last-Modified and Date, when known

    @property
    def engine_display(self) -> str:
        return ENGINES[self.engine].display


@dataclass(frozen=True)
class Message:
    """The inputs: a response, its request, and when each happened (Unix seconds)."""

    method: str
    status: int
    request_headers: Headers
    response_headers: Headers
    request_time: float | None = None
    response_time: float | None = None


def _first(headers: Headers, name: str) -> str | None:
    values = headers.get_all(name)
    return values[0].strip() if values else None


def first_member(headers: Headers, name: str) -> str | None:
    """The first member of a field that should be a singleton but arrived as a list."""
    value = _first(headers, name)
    return value.split(",", 1)[0].strip() if value is not None else None


def current_age(msg: Message, date: float | None) -> int:
    """RFC 9111 section 4.2.3, at the moment the response arrived (resident_time = 0)::

        apparent_age = max(0, response_time - date_value);
        response_delay = response_time - request_time;
        corrected_age_value = age_value + response_delay;
        corrected_initial_age = max(apparent_age, corrected_age_value);

    An invalid Age is ignored (section 5.1: "a cache SHOULD ignore" it); a
    missing clock reading counts as no delay.
    """
    # Section 5.1: with a list value "a cache ... SHOULD use the first member"
    age_value = delta_seconds(first_member(msg.response_headers, "age")) or 0
    apparent = 0.0
    if date is not None and msg.response_time is not None:
        apparent = max(0.0, msg.response_time - date)
    delay = 0.0
    if msg.request_time is not None and msg.response_time is not None:
        delay = max(0.0, msg.response_time - msg.request_time)
    return min(int(max(apparent, age_value + delay)), DELTA_MAX)


def _has_token(headers: Headers, name: str, token: str) -> bool:
    """A bare directive among a field's comma-separated members, like Chromium's HasHeaderValue."""
    return any(part.strip().lower() == token for value in headers.get_all(name) for part in value.split(","))


def build(msg: Message, engine: str = "chromium") -> CacheModel:
    headers = msg.response_headers
    cc = parse_directives(headers.get("cache-control"))
    date = parse_http_date(_first(headers, "date"))
    expires_raw = _first(headers, "expires")
    expires = parse_http_date(expires_raw)
    last_modified = parse_http_date(_first(headers, "last-modified"))
    etag = _first(headers, "etag")
    validators = []
    if etag is not None and parse_etag(etag) is not None:
        validators.append("etag")
    if last_modified is not None:
        validators.append("last-modified")
    vary = parse_vary(headers.get("vary"))
    age = current_age(msg, date)
    # RFC 9110 section 6.6.1: a recipient with a clock uses the time it received the message
    # when Date is missing.
    date_value = date if date is not None else msg.response_time
    heuristic_base = None
    if last_modified is not None and date_value is not None and last_modified <= date_value:
        heuristic_base = int(date_value - last_modified)
    model = CacheModel(
        cc=cc, age=age, validators=validators, vary=vary,
        private=CachePolicy(False), shared=CachePolicy(False), browser=CachePolicy(False),
        engine=engine, pragma_no_cache=_has_token(headers, "pragma", "no-cache"),
        expires_invalid=expires_raw is not None and expires is None, heuristic_base=heuristic_base,
    )
    model.private = _rfc_policy(msg, model, expires, date_value, shared=False)
    model.shared = _rfc_policy(msg, model, expires, date_value, shared=True)
    model.browser = _engine_policy(msg, model, expires, date_value, ENGINES[engine])
    return model


def _validator_header(validators: list[str]) -> str | None:
    if "etag" in validators:
        return "If-None-Match"
    if "last-modified" in validators:
        return "If-Modified-Since"
    return None


def _stale_windows(policy: CachePolicy, cc: Directives, shared: bool = False) -> None:
    # RFC 5861: stale-while-revalidate / stale-if-error. RFC 9111 section 4.2.4: "A cache MUST NOT
    # generate a stale response if it is prohibited by an explicit in-protocol directive (e.g., by a
    # no-cache response directive, a must-revalidate response directive, or an applicable s-maxage or
    # proxy-revalidate response directive". (Several CDNs honour stale-while-revalidate next to
    # s-maxage anyway; the shared facts follow the RFC.)
    if "must-revalidate" in cc or ("no-cache" in cc and cc.get("no-cache") is None):
        return
    if shared and ("s-maxage" in cc or "proxy-revalidate" in cc):
        return
    policy.stale_while_revalidate = cc.seconds("stale-while-revalidate")
    policy.stale_if_error = cc.seconds("stale-if-error")


def _rfc_policy(msg: Message, model: CacheModel, expires: float | None, date_value: float | None,
                shared: bool) -> CachePolicy:
    """RFC 9111 section 3 (storing) and 4.2 (freshness) for a private or a shared cache."""
    cc, status = model.cc, msg.status
    request_cc = parse_directives(msg.request_headers.get("cache-control"))
    policy = CachePolicy(False)
    if msg.method.upper() not in CACHEABLE_METHODS:
        post = msg.method.upper() == "POST"
        policy.why.append(f"responses to {msg.method} are not reused (RFC 9111 section 3: the request method "
                          "must be understood by the cache" + ("; POST needs explicit freshness and Content-Location, "
                                                               "which no common cache honours)" if post else ")"))
        return policy
    if status < 200 or status == 304:
        policy.why.append(f"a {status} response is not stored as such")
        return policy
    if "no-store" in cc or "no-store" in request_cc:
        where = "the response's" if "no-store" in cc else "the request's"
        policy.why.append(f"{where} Cache-Control has no-store (RFC 9111 section 5.2)")
        return policy
    if "*" in model.vary:
        policy.why.append("Vary: * never matches a later request (RFC 9111 section 4.1)")
        return policy
    if shared:
        if "private" in cc and cc.get("private") is None:
            policy.why.append("Cache-Control: private keeps it out of shared caches (RFC 9111 section 5.2.2.7)")
            return policy
        if "authorization" in msg.request_headers and not (
                "public" in cc or "must-revalidate" in cc or "s-maxage" in cc):
            policy.why.append("the request carried Authorization, and neither public, must-revalidate nor "
                              "s-maxage allows a shared cache to store it (RFC 9111 section 3.5)")
            return policy
    explicit = ("public" in cc or "max-age" in cc or expires is not None or model.expires_invalid
                or (shared and "s-maxage" in cc) or (not shared and "private" in cc))
    if not explicit and status not in HEURISTIC_STATUSES:
        policy.why.append(f"{status} is not heuristically cacheable and nothing explicitly allows storing it "
                          "(RFC 9111 section 3)")
        return policy
    policy.stores = True
    # Freshness lifetime, RFC 9111 section 4.2.1, in order: s-maxage (shared only), max-age, Expires.
    # "Caches are encouraged to consider responses that have invalid freshness information (e.g., a
    # max-age directive with non-integer content) to be stale."
    for name in (("s-maxage", "max-age") if shared else ("max-age",)):
        if name in cc:
            policy.lifetime, policy.source = cc.seconds(name, quoted_ok=True) or 0, name
            break
    else:
        if expires is not None or model.expires_invalid:
            # Section 5.3: "A cache recipient MUST interpret invalid date formats, especially the
            # value "0", as representing a time in the past".
            lifetime = expires - date_value if expires is not None and date_value is not None else 0
            policy.lifetime, policy.source = max(0, int(lifetime)), "expires"
        elif (status in HEURISTIC_STATUSES or "public" in cc) and model.heuristic_base is not None:
            # Section 5.2.2.9: "If a response with the public directive has no explicit freshness
            # information, it is heuristically cacheable".
            policy.lifetime, policy.source = int(model.heuristic_base * HEURISTIC_FRACTION), "heuristic"
    policy.then = "revalidate" if model.validators else "refetch"
    policy.validator = _validator_header(model.validators)
    if "no-cache" in cc and cc.get("no-cache") is None:
        # Section 5.2.2.4: "the response MUST NOT be used to satisfy any other request without
        # forwarding it for validation and receiving a successful response".
        policy.fresh_for = 0
        policy.why.append("Cache-Control: no-cache: stored, but validated with the origin before every reuse")
    else:
        policy.fresh_for = max(0, (policy.lifetime or 0) - model.age)
    _stale_windows(policy, cc, shared)
    return policy


def _engine_policy(msg: Message, model: CacheModel, expires: float | None, date_value: float | None,
                   engine: Engine) -> CachePolicy:
    headers, cc, status = msg.response_headers, model.cc, msg.status
    policy = CachePolicy(False)
    if msg.method.upper() != "GET":
        policy.why.append(f"{engine.display} reuses cached responses only for GET" +
                          (" (a POST response is kept at most for back/forward navigation)"
                           if msg.method.upper() == "POST" else ""))
        return policy
    if status < 200 or status == 304:
        policy.why.append(f"a {status} response is not stored as such")
        return policy
    if _has_token(headers, "cache-control", "no-store"):
        policy.why.append("Cache-Control: no-store")
        return policy
    policy.stores = True
    no_cache = _has_token(headers, "cache-control", "no-cache")
    if no_cache or model.pragma_no_cache:
        # Both engines treat a response's Pragma: no-cache like Cache-Control: no-cache.
        policy.lifetime, policy.source = 0, None
        policy.why.append("Cache-Control: no-cache: stored, but validated before every reuse" if no_cache else
                          f"Pragma: no-cache, which {engine.display} treats as Cache-Control: no-cache")
    elif "max-age" in cc:
        policy.lifetime, policy.source = cc.seconds("max-age") or 0, "max-age"
    elif expires is not None:
        # "The expires value can be a date in the past!"
        policy.lifetime, policy.source = max(0, int(expires - (date_value or expires))), "expires"
    elif model.expires_invalid:
        policy.lifetime, policy.source = 0, "expires"
    else:
        must_revalidate = "must-revalidate" in cc
        if status in engine.heuristic_statuses and model.heuristic_base is not None and not (
                must_revalidate and engine.must_revalidate_blocks_heuristic):
            lifetime = int(model.heuristic_base * HEURISTIC_FRACTION)
            if engine.heuristic_cap is not None:
                lifetime = min(lifetime, engine.heuristic_cap)
            policy.lifetime, policy.source = lifetime, "heuristic"
        elif status in engine.forever_statuses:
            policy.lifetime, policy.source = FOREVER, "implicit"
            policy.why.append(f"{engine.display} keeps a {status} without explicit freshness fresh indefinitely")
    policy.fresh_for = max(0, (policy.lifetime or 0) - model.age)
    if policy.lifetime == FOREVER:
        policy.fresh_for = FOREVER
    validators = model.validators
    if "*" in model.vary:
        # Chromium stores it, but HttpVaryData never matches "*": every reuse is validated first, and
        # "Can't rely on last-modified if vary is different" -- only an ETag makes that conditional.
        policy.fresh_for = 0
        validators = [v for v in validators if v == "etag"]
        policy.why.append(f"Vary: * never matches, so {engine.display} validates before every reuse")
    conditional = engine.conditional_statuses is None or status in engine.conditional_statuses
    if validators and conditional:
        policy.then, policy.validator = "revalidate", _validator_header(validators)
    elif validators:
        policy.why.append(f"{engine.display} revalidates only 200 and 206 responses; this {status} is refetched")
    if not (no_cache or model.pragma_no_cache or policy.lifetime == FOREVER):  # "It should never be stale."
        _stale_windows(policy, cc)
    return policy


def storing_caches(method: str, status: int, request_headers: Headers, response_headers: Headers) -> str:
    """Which caches may store this response, in words ("" when none): for other analyzers' findings."""
    model = build(Message(method, status, request_headers, response_headers))
    stored_by = [name for name, policy in (("the browser's cache", model.browser), ("a shared cache", model.shared))
                 if policy.stores]
    return " or ".join(stored_by)
