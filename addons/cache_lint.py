"""httplint's message-level caching notes, as proxylens Findings.

httplint (by the author of REDbot) lints one message: Cache-Control syntax
and conflicts, Age, Date, Expires, Last-Modified, Vary, Cache-Status and
CDN-Cache-Control. Each of its caching notes is mapped here to a stable
proxylens rule id, or deliberately dropped because the caching facts already
say the same thing in numbers (``DROPPED``). ``tests/test_cache_lint.py``
walks httplint's notes so a new httplint note cannot slip through unmapped.
"""

from __future__ import annotations

from addons import httplint_notes
from proxy import Exchange, Finding, Rule, Severity, catalog

RFC9111 = "https://www.rfc-editor.org/rfc/rfc9111"
RFC9110 = "https://www.rfc-editor.org/rfc/rfc9110"

# The header fields whose generic syntax notes (BAD_SYNTAX and friends) belong to caching.
CACHING_FIELDS = frozenset({"cache-control", "expires", "date", "age", "vary", "etag", "last-modified", "pragma",
                            "cache-status", "cdn-cache-control", "surrogate-control"})


# Every caching rule, httplint-mapped or proxylens's own, is defined through this.
caching_rule = catalog.family("caching")


R_CC_VALUE = caching_rule("cache-control-invalid-value", Severity.WARNING,
                   "A Cache-Control directive has a value of the wrong type; caches ignore or misread it.",
                   f"{RFC9111}#section-5.2",
                   "Directives such as max-age take an unquoted integer number of seconds (`max-age=600`); flags "
                   "such as no-store take no value. A malformed value is ignored by some caches and read as 0 by "
                   "others, so freshness becomes unpredictable.")
R_CC_LARGE = caching_rule("max-age-too-large", Severity.INFO, "A Cache-Control delta-seconds value is above 2^31-1.",
                   f"{RFC9111}#section-1.2.2",
                   "Caches treat values above 2147483648 as 2147483648 (68 years); some overflow. One year "
                   "(31536000) is the longest lifetime anyone needs.")
R_CC_CASE = caching_rule("cache-control-case", Severity.INFO, "A Cache-Control directive is not lower-case.",
                  f"{RFC9111}#section-5.2",
                  "Directive names are case-insensitive, but some implementations only recognise lower case.")
R_CC_DUP = caching_rule("duplicate-directive", Severity.WARNING, "A Cache-Control directive appears more than once.",
                 f"{RFC9111}#section-4.2.1",
                 "RFC 9111 lets caches use the first occurrence or consider the response stale; different caches "
                 "pick differently. Send each directive once.")
R_CC_CONFLICT = caching_rule("conflicting-directives", Severity.WARNING, "Cache-Control directives conflict.",
                      f"{RFC9111}#section-4.2.1",
                      "When directives conflict the most restrictive one wins (RFC 9111 section 4.2.1), so the "
                      "others are dead weight that misleads readers. Remove the ones that do not apply.")
R_CC_WRONG_MESSAGE = caching_rule("request-directive-in-response", Severity.INFO,
                           "A Cache-Control directive is used in the kind of message it has no meaning in.",
                           f"{RFC9111}#section-5.2")
R_IE_CHECK = caching_rule("ie-pre-post-check", Severity.INFO,
                   "pre-check/post-check are Internet Explorer extensions that no current browser reads.",
                   "https://learn.microsoft.com/en-us/archive/blogs/ieinternals/",
                   "Remove pre-check and post-check; say what you mean with max-age, no-cache or no-store.")
R_AGE_INVALID = caching_rule("age-invalid", Severity.WARNING, "The Age header is not a non-negative integer; caches "
                      "ignore it.", f"{RFC9111}#section-5.1")
R_AGE_LARGE = caching_rule("age-large", Severity.INFO, "The Age header is very large (more than a year).",
                    f"{RFC9111}#section-5.1")
R_DATE_MISSING = caching_rule("date-missing", Severity.WARNING, "The response has no Date header.",
                       f"{RFC9110}#section-6.6.1",
                       "An origin server with a clock MUST send Date; without it caches cannot compute the "
                       "response's age exactly, and Expires and Last-Modified lose their reference point.")
R_DATE_MISSING_DATES = caching_rule("date-missing-with-dates", Severity.WARNING,
                             "Expires or Last-Modified without a Date header to compare them with.",
                             f"{RFC9111}#section-4.2")
R_CLOCK_SKEW = caching_rule("clock-skew", Severity.WARNING,
                     "The server's Date differs from proxylens's clock by more than a few seconds.",
                     f"{RFC9111}#section-4.2.3",
                     "Caches compute a response's age from Date: a server clock that runs behind makes responses "
                     "look old (a short max-age can be stale on arrival), one that runs ahead hides real age. "
                     "Run NTP on the origin.")
R_AGE_PENALTY = caching_rule("date-changed-by-intermediary", Severity.INFO,
                      "The Date header looks rewritten by an intermediary (it is older than Age implies).",
                      f"{RFC9111}#section-4.2.3")
R_LM_FUTURE = caching_rule("last-modified-in-future", Severity.WARNING, "Last-Modified is later than Date.",
                    f"{RFC9110}#section-8.8.2.1",
                    "An origin server MUST NOT send a Last-Modified date later than its Date; caches then ignore it "
                    "for heuristic freshness and conditional requests become unreliable.")
R_BAD_DATE = caching_rule("invalid-date", Severity.WARNING, "A date header does not parse as an HTTP-date.",
                   f"{RFC9110}#section-5.6.7",
                   "Use the IMF-fixdate format, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`. An invalid Expires means "
                   "\"already expired\" (RFC 9111 section 5.3).")
R_DATE_OBSOLETE = caching_rule("obsolete-date-format", Severity.INFO, "A date header uses an obsolete format.",
                        f"{RFC9110}#section-5.6.7")
R_PRIVATE_PUBLIC = caching_rule("private-and-public", Severity.WARNING,
                         "Cache-Control has both public and private; caches honour private.",
                         f"{RFC9111}#section-5.2.2.7")
R_PUBLIC_AUTH = caching_rule("authorized-response-shared", Severity.WARNING,
                      "A response to an authenticated request may be stored by shared caches.",
                      f"{RFC9111}#section-3.5",
                      "The request carried Authorization and the response has public, must-revalidate or s-maxage, "
                      "which lets a CDN or proxy store it and serve it to other users. If the content is per-user, "
                      "send `Cache-Control: private` (or no-store).")
R_PUBLIC_UNNEEDED = caching_rule("public-unnecessary", Severity.INFO,
                          "Cache-Control: public is not needed here and may make responses to authenticated "
                          "requests shareable.", f"{RFC9111}#section-5.2.2.9")
R_STALE_ON_ARRIVAL = caching_rule("stale-on-arrival", Severity.WARNING,
                           "The response is already stale when it arrives (its age exceeds its freshness lifetime).",
                           f"{RFC9111}#section-4.2",
                           "Caches must revalidate or refetch it on the next request. Look at Age (an upstream cache "
                           "served an old copy) and at Date (a server clock behind the real time).")
R_NO_CACHE_NO_VALIDATOR = caching_rule("no-cache-without-validator", Severity.WARNING,
                                "Cache-Control: no-cache without an ETag or Last-Modified: every reuse is a full "
                                "download.", f"{RFC9111}#section-5.2.2.4",
                                "no-cache means \"revalidate before every reuse\"; without a validator the cache "
                                "cannot ask \"has it changed?\" and refetches the whole response. Add an ETag, or "
                                "use no-store if the response must not be kept at all.")
R_CACHE_STATUS_INVALID = caching_rule("cache-status-invalid", Severity.INFO,
                               "Cache-Status has a parameter or value RFC 9211 does not define.",
                               "https://www.rfc-editor.org/rfc/rfc9211#section-2")
R_CDN_CC_INVALID = caching_rule("cdn-cache-control-invalid", Severity.WARNING,
                         "CDN-Cache-Control has a directive with a value of the wrong type.",
                         "https://www.rfc-editor.org/rfc/rfc9213#section-2.1")
R_VARY_STAR = caching_rule("vary-star", Severity.WARNING, "Vary: * makes the response unusable for any later request.",
                    f"{RFC9111}#section-4.1",
                    "A stored response with `Vary: *` never matches a new request, so caches cannot reuse it. "
                    "List the request headers that really select the representation, or use no-store.")
R_VARY_UA = caching_rule("vary-user-agent", Severity.WARNING, "Vary: User-Agent splits the cache per browser build.",
                  f"{RFC9110}#section-12.5.5",
                  "Every browser version and platform gets its own cache entry, so shared caches almost never hit. "
                  "Vary on Sec-CH-UA client hints or serve one representation.")
R_VARY_HOST = caching_rule("vary-host", Severity.INFO, "Vary: Host is unnecessary: Host is already part of the cache key.",
                    f"{RFC9110}#section-12.5.5")
R_VARY_DUPLICATE = caching_rule("vary-duplicate", Severity.INFO, "Vary lists the same field more than once.",
                         f"{RFC9110}#section-12.5.5")
R_VARY_COMPLEX = caching_rule("vary-complex", Severity.INFO, "Vary lists many request headers; caches will rarely hit.",
                       f"{RFC9110}#section-12.5.5")
R_304_NO_DATE = caching_rule("not-modified-without-date", Severity.WARNING, "A 304 Not Modified without a Date header.",
                      f"{RFC9110}#section-15.4.5")
R_304_EXTRA = caching_rule("not-modified-extra-headers", Severity.INFO,
                    "A 304 Not Modified carries representation headers it should not send.",
                    f"{RFC9110}#section-15.4.5")
R_FIELD_SYNTAX = caching_rule("header-syntax", Severity.WARNING, "A caching header's value does not follow its syntax.",
                       f"{RFC9111}#section-5",
                       "Caches that cannot parse a caching header ignore it, which changes what they store and for "
                       "how long. Fix the value to the syntax the RFC gives.")
R_LINT_FAILED = caching_rule("lint-failed", Severity.INFO, "httplint could not lint this message; only proxylens's own "
                      "caching checks ran.", "https://github.com/mnot/httplint")

# httplint note class name -> rule. Keep in step with DROPPED: every caching note is in one of them.
MAPPED: dict[str, Rule] = {
    "CC_SHOULD_NOT_HAVE_VALUE": R_CC_VALUE, "CC_BAD_VALUE_TYPE": R_CC_VALUE, "CC_MAX_AGE_TOO_LARGE": R_CC_LARGE,
    "CC_MISCAP": R_CC_CASE, "CC_DUP": R_CC_DUP, "CC_CONFLICTING": R_CC_CONFLICT,
    "CC_WRONG_MESSAGE": R_CC_WRONG_MESSAGE,
    "CHECK_SINGLE": R_IE_CHECK, "CHECK_ALL_ZERO": R_IE_CHECK, "CHECK_POST_BIGGER": R_IE_CHECK,
    "CHECK_POST_ZERO": R_IE_CHECK, "CHECK_POST_PRE": R_IE_CHECK,
    "AGE_NOT_INT": R_AGE_INVALID, "AGE_NEGATIVE": R_AGE_INVALID, "AGE_LARGE": R_AGE_LARGE,
    "DATE_CLOCKLESS": R_DATE_MISSING, "DATE_CLOCKLESS_BAD_HDR": R_DATE_MISSING_DATES,
    "DATE_INCORRECT": R_CLOCK_SKEW, "AGE_PENALTY": R_AGE_PENALTY, "LM_FUTURE": R_LM_FUTURE,
    "BAD_DATE_SYNTAX": R_BAD_DATE, "DATE_OBSOLETE": R_DATE_OBSOLETE,
    "STORE_PRIVATE_PUBLIC_CONFLICT": R_PRIVATE_PUBLIC, "STORE_PUBLIC_AUTH": R_PUBLIC_AUTH,
    "STORE_PUBLIC_UNNECESSARY": R_PUBLIC_UNNEEDED,
    "FRESHNESS_NO_CACHE_NO_VALIDATOR": R_NO_CACHE_NO_VALIDATOR,
    "CACHE_STATUS_UNKNOWN_PARAM": R_CACHE_STATUS_INVALID, "CACHE_STATUS_BAD_PARAM_VAL": R_CACHE_STATUS_INVALID,
    "BAD_CDN_CC_TYPE": R_CDN_CC_INVALID,
    "VARY_ASTERISK": R_VARY_STAR, "VARY_USER_AGENT": R_VARY_UA, "VARY_HOST": R_VARY_HOST,
    "VARY_DUPLICATE": R_VARY_DUPLICATE, "VARY_COMPLEX": R_VARY_COMPLEX,
    "NO_DATE_304": R_304_NO_DATE, "HEADER_SHOULD_NOT_BE_IN_304": R_304_EXTRA,
}
# Notes that restate what facts.caching already says with numbers (storable, lifetimes, age, stale
# windows), that proxylens computes itself (stale on arrival, heuristic freshness: httplint flags
# max-age=0 as "stale" too), or good news proxylens does not repeat per exchange.
DROPPED = frozenset({
    "STORE_METHOD_UNCACHEABLE", "STORE_NO_STORE", "STORE_PRIVATE_CC", "STORE_PRIVATE_AUTH", "STORE_STORABLE",
    "STORE_STORABLE_SHARED_ONLY", "STORE_UNSTORABLE", "CURRENT_AGE", "FRESHNESS_FRESH", "FRESHNESS_SHARED_PRIVATE",
    "FRESHNESS_NONE", "FRESHNESS_NO_CACHE", "FRESHNESS_STALE_ALREADY", "FRESHNESS_HEURISTIC", "STALE_SERVABLE", "STALE_IF_ERROR",
    "STALE_WHILE_REVALIDATE", "FRESH_MUST_REVALIDATE", "STALE_MUST_REVALIDATE", "FRESH_PROXY_REVALIDATE",
    "STALE_PROXY_REVALIDATE", "CC_AND_EXPIRES", "CACHE_STATUS", "CDN_CACHE_CONTROL_PRESENT", "DATE_CORRECT",
    "LM_PRESENT", "VARY_NEGOTIATE",
    # httplint notes an odd Pragma only on requests, which say nothing about the response's caching.
    "PRAGMA_OTHER",
    # Proxy-Status (RFC 9209) is about errors, not caching: the status analyzer's concern.
    "PROXY_STATUS", "PROXY_STATUS_UNKNOWN_PARAM", "PROXY_STATUS_BAD_PARAM_VAL",
})
# Generic field notes, mapped only when they concern one of CACHING_FIELDS.
GENERIC = frozenset({"BAD_SYNTAX", "SINGLE_HEADER_REPEAT", "STRUCTURED_FIELD_PARSE_ERROR", "DUPLICATE_KEY",
                     "FIELD_DEPRECATED", "PARAM_REPEATS", "PARAM_SINGLE_QUOTED"})

def rule_for(note: str, field_name: str | None) -> Rule | None:
    rule = MAPPED.get(note)
    if rule is None and note in GENERIC and field_name in CACHING_FIELDS:
        return R_FIELD_SYNTAX
    return rule


def findings(exchange: Exchange) -> list[Finding]:
    """httplint's caching notes on *exchange* (which has a response) as caching findings."""
    return httplint_notes.to_findings(*httplint_notes.lint_exchange(exchange), rule_for)
