"""The pure caching model (addons/cache_model.py) as tables with fixed clocks.

Every expected number is worked out here from the RFC text (or, for the
browser policy, from Chromium's ``GetFreshnessLifetimes`` /
``ConditionalizeRequest`` as summarised in cache_model.py), never read back
from the code. The clocks are fixed: the request leaves at ``T`` unless a row
says otherwise, the response arrives at ``received``, and the origin's Date,
Expires and Last-Modified are built with ``email.utils.formatdate``.

RFC 9111 section 4.2.3, the age the tables check (resident_time is 0: the
model judges the response at the moment it arrived)::

    apparent_age = max(0, response_time - date_value)
    response_delay = response_time - request_time
    corrected_age_value = age_value + response_delay
    corrected_initial_age = max(apparent_age, corrected_age_value)

Every expectation is derived from the RFC text (quoted beside it) or, for
the browser policy, from Chromium's behaviour as tests/test_caching_browser.py
observes it.
"""

from __future__ import annotations

from email.utils import formatdate

import pytest

from addons import cache_model
from addons.cache_headers import DELTA_MAX
from addons.cache_model import FOREVER, Message, build
from proxy.models import Headers

T = 1_700_000_000
MIN, HOUR, DAY = 60, 3600, 86400
INM, IMS = "If-None-Match", "If-Modified-Since"
ETAG = ("ETag", '"v1"')
NO_DATE = object()


def http_date(t: float) -> str:
    return formatdate(t, usegmt=True)


LM_10_DAYS = ("Last-Modified", http_date(T - 10 * DAY))  # heuristic: 10% of 864000 s = 86400 s


def msg(resp=(), status: int = 200, *, req=(), method: str = "GET", sent: float | None = T,
        received: float | None = None, date=None) -> Message:
    """A response received at ``received`` (default: when it was sent) whose Date is ``date``
    (default: ``received``; NO_DATE for none; a string is used verbatim)."""
    received = sent if received is None else received
    headers = list(resp)
    if date is None:
        date = received
    if date is not NO_DATE:
        headers.insert(0, ("Date", date if isinstance(date, str) else http_date(date)))
    return Message(method, status, Headers(tuple(req)), Headers(tuple(headers)), sent, received)


def cc(value: str, *more) -> list[tuple[str, str]]:
    return [("Cache-Control", value), *more]


# =====================================================================================================
# Freshness lifetime, RFC 9111 section 4.2.1
# =====================================================================================================
#
# "If the cache is shared and the s-maxage response directive is present, use its value, or
#  If the max-age response directive is present, use its value, or
#  If the Expires response header field is present, use its value minus the value of the Date
#  response header field (using the time the message was received if it is not present [...]), or
#  Otherwise, no explicit expiration time is present in the response. A heuristic freshness
#  lifetime might be applicable; see Section 4.2.2."
#
# Section 4.2.2: "caches are encouraged to use a heuristic expiration value that is no more than some
# fraction of the interval since [Last-Modified]. A typical setting of this fraction might be 10%."
# RFC 9110 section 15.1: heuristically cacheable are "200, 203, 204, 206, 300, 301, 308, 404, 405,
# 410, 414, and 501"; "all other status codes are not heuristically cacheable".
#
# Rows: id, message, (private lifetime, source), (shared lifetime, source). None: stored without a
# lifetime (or, for storability, see the next table).

FRESHNESS = [
    ("max-age", msg(cc("max-age=600")), (600, "max-age"), (600, "max-age")),
    ("s-maxage-is-for-shared-caches-only", msg(cc("max-age=600, s-maxage=3600")),
     (600, "max-age"), (3600, "s-maxage")),
    ("s-maxage-alone", msg(cc("s-maxage=3600")), (None, None), (3600, "s-maxage")),
    ("s-maxage-zero-beats-max-age-for-shared", msg(cc("max-age=600, s-maxage=0")),
     (600, "max-age"), (0, "s-maxage")),
    ("max-age-beats-expires", msg(cc("max-age=600", ("Expires", http_date(T + HOUR)))),
     (600, "max-age"), (600, "max-age")),
    ("max-age-beats-expires-in-the-past", msg(cc("max-age=600", ("Expires", http_date(T - HOUR)))),
     (600, "max-age"), (600, "max-age")),
    ("expires-minus-date", msg([("Expires", http_date(T + HOUR))]), (3600, "expires"), (3600, "expires")),
    # Date 100 s ahead of the receive time: the lifetime is Expires - Date (3500), not Expires - now.
    ("expires-minus-date-not-minus-now", msg([("Expires", http_date(T + HOUR))], date=T + 100),
     (3500, "expires"), (3500, "expires")),
    # No Date: "using the time the message was received": T+3600 - (T+100) = 3500.
    ("expires-without-date-uses-receive-time",
     msg([("Expires", http_date(T + HOUR))], sent=T + 100, date=NO_DATE), (3500, "expires"), (3500, "expires")),
    # Section 5.3: "A cache recipient MUST interpret invalid date formats, especially the value "0",
    # as representing a time in the past (i.e., "already expired")."
    ("expires-zero-is-already-expired", msg([("Expires", "0")]), (0, "expires"), (0, "expires")),
    ("expires-garbage-is-already-expired", msg([("Expires", "never")]), (0, "expires"), (0, "expires")),
    ("expires-in-the-past", msg([("Expires", http_date(T - MIN))]), (0, "expires"), (0, "expires")),
    ("expires-equal-to-date", msg([("Expires", http_date(T))]), (0, "expires"), (0, "expires")),
    ("heuristic-200", msg([LM_10_DAYS]), (DAY, "heuristic"), (DAY, "heuristic")),
    ("heuristic-404-per-rfc", msg([LM_10_DAYS], 404), (DAY, "heuristic"), (DAY, "heuristic")),
    ("heuristic-204", msg([LM_10_DAYS], 204), (DAY, "heuristic"), (DAY, "heuristic")),
    ("heuristic-410", msg([LM_10_DAYS], 410), (DAY, "heuristic"), (DAY, "heuristic")),
    ("heuristic-501", msg([LM_10_DAYS], 501), (DAY, "heuristic"), (DAY, "heuristic")),
    # 12345 s since Last-Modified: "no more than" 10% = 1234.5 -> 1234 whole seconds.
    ("heuristic-rounds-down", msg([("Last-Modified", http_date(T - 12345))]), (1234, "heuristic"),
     (1234, "heuristic")),
    # Without Date the interval is counted to the receive time (RFC 9110 section 6.6.1).
    ("heuristic-without-date", msg([LM_10_DAYS], date=NO_DATE), (DAY, "heuristic"), (DAY, "heuristic")),
    # Last-Modified later than Date: no interval, no heuristic (RFC 9110 8.8.2.1: such a date is wrong).
    ("no-heuristic-last-modified-after-date", msg([("Last-Modified", http_date(T + MIN))]),
     (None, None), (None, None)),
    ("no-heuristic-with-explicit-max-age", msg(cc("max-age=60", LM_10_DAYS)), (60, "max-age"), (60, "max-age")),
    ("no-heuristic-with-invalid-expires", msg([("Expires", "0"), LM_10_DAYS]), (0, "expires"), (0, "expires")),
    ("no-heuristic-without-last-modified", msg([]), (None, None), (None, None)),
    # "Caches are encouraged to consider responses that have invalid freshness information (e.g., a
    # max-age directive with non-integer content) to be stale."
    ("max-age-non-integer-is-stale", msg(cc("max-age=abc")), (0, "max-age"), (0, "max-age")),
    ("max-age-negative-is-stale", msg(cc("max-age=-1")), (0, "max-age"), (0, "max-age")),
    ("max-age-empty-is-stale", msg(cc("max-age=")), (0, "max-age"), (0, "max-age")),
    ("s-maxage-invalid-is-stale-for-shared", msg(cc("max-age=600, s-maxage=soon")), (600, "max-age"),
     (0, "s-maxage")),
    # Section 1.2.2: "greater than the greatest integer it can represent [...] MUST consider the value
    # to be 2147483648 (2^31)".
    ("max-age-overflow-is-2-31", msg(cc("max-age=99999999999")), (2147483648, "max-age"),
     (2147483648, "max-age")),
    # Section 4.2.1: with duplicates "either the first occurrence should be used or the response should
    # be considered stale"; the model uses the first.
    ("max-age-duplicate-first-wins", msg(cc("max-age=60, max-age=600")), (60, "max-age"), (60, "max-age")),
    # Section 5.2: directives are "compared case-insensitively".
    ("directive-names-are-case-insensitive", msg(cc("MAX-AGE=600")), (600, "max-age"), (600, "max-age")),
    ("cache-control-on-two-lines", msg([("Cache-Control", "public"), ("Cache-Control", "max-age=600")]),
     (600, "max-age"), (600, "max-age")),
    ("302-with-max-age", msg(cc("max-age=60"), 302), (60, "max-age"), (60, "max-age")),
    ("307-with-expires", msg([("Expires", http_date(T + 120))], 307), (120, "expires"), (120, "expires")),
]


@pytest.mark.parametrize("message,private,shared", [row[1:] for row in FRESHNESS], ids=[r[0] for r in FRESHNESS])
def test_freshness_lifetime_and_source(message: Message, private, shared):
    model = build(message)
    assert model.private.stores and model.shared.stores
    assert (model.private.lifetime, model.private.source) == private
    assert (model.shared.lifetime, model.shared.source) == shared
    # Every row arrives with age 0: nothing left of the lifetime is used up yet.
    assert model.age == 0
    assert model.private.fresh_for == (private[0] or 0)
    assert model.shared.fresh_for == (shared[0] or 0)


def test_no_cache_keeps_the_lifetime_but_is_fresh_for_nothing():
    """Section 5.2.2.4: no-cache: "MUST NOT be used to satisfy any other request without forwarding it
    for validation"; stored all the same."""
    model = build(msg(cc("no-cache, max-age=600")))
    for policy in (model.private, model.shared):
        assert policy.stores and policy.lifetime == 600 and policy.fresh_for == 0


def test_qualified_no_cache_does_not_make_the_response_stale():
    """Section 5.2.2.4: with field names, "a cache MAY store and reuse the response" without the fields."""
    model = build(msg(cc('no-cache="Set-Cookie", max-age=600')))
    assert model.private.fresh_for == 600 and model.shared.fresh_for == 600


def test_rfc_caches_ignore_pragma_in_responses():
    """Section 5.4: Pragma's no-cache is a request directive; a response's Pragma means nothing to RFC
    9111 caches (browsers differ: see the browser table)."""
    model = build(msg(cc("max-age=600", ("Pragma", "no-cache"))))
    assert model.private.fresh_for == 600 and model.shared.fresh_for == 600
    assert model.pragma_no_cache


@pytest.mark.parametrize("status", [302, 307, 500])
def test_public_makes_any_status_heuristically_cacheable(status: int):
    model = build(msg(cc("public", LM_10_DAYS), status))
    for policy in (model.private, model.shared):
        assert policy.stores
        assert (policy.lifetime, policy.source) == (DAY, "heuristic")


def test_rfc_caches_accept_a_quoted_max_age():
    model = build(msg(cc('max-age="600", s-maxage="3600"')))
    assert (model.private.lifetime, model.shared.lifetime) == (600, 3600)


# =====================================================================================================
# Current age, RFC 9111 section 4.2.3, and clock skew
# =====================================================================================================
#
# Rows: id, sent, received, Date, Age header (None: absent), expected age; max-age=600 throughout, so
# the private cache's fresh_for is max(0, 600 - age).

AGE = [
    ("no-delay", T, T, T, None, 0),
    # apparent 0; response_delay 3; corrected_age_value 0 + 3.
    ("response-delay-counts", T, T + 3, T + 3, None, 3),
    # apparent (T+2)-(T+1) = 1 < corrected_age_value 0 + 2.
    ("delay-beats-apparent", T, T + 2, T + 1, None, 2),
    # corrected_age_value = 100 + 2; apparent 2.
    ("age-header-plus-delay", T, T + 2, T, "100", 102),
    # apparent 300 beats corrected_age_value 100.
    ("apparent-age-beats-age-header", T, T, T - 300, "100", 300),
    ("age-header-beats-apparent-age", T, T, T - 100, "300", 300),
    # No Date: apparent age 0 (RFC 9110 6.6.1: the receive time stands in); 5 + 2.
    ("no-date", T, T + 2, NO_DATE, "5", 7),
    # Section 5.1: "If the field value [...] is invalid (e.g., it contains something other than a
    # non-negative integer), a cache SHOULD ignore the field."
    ("invalid-age-ignored", T, T, T, "abc", 0),
    ("negative-age-ignored", T, T, T, "-1", 0),
    ("fractional-age-ignored", T, T, T, "1.5", 0),
    ("signed-age-ignored", T, T, T, "+5", 0),
    ("quoted-age-ignored", T, T, T, '"5"', 0),
    ("empty-age-ignored", T, T, T, "", 0),
    ("age-beyond-lifetime", T, T, T, "700", 700),
    # Section 1.2.2: delta-seconds overflow is 2^31.
    ("huge-age-is-2-31", T, T, T, "99999999999", 2147483648),
    # -- clock skew: the origin's Date against proxylens's receive time --
    # Date ahead of the receive time: apparent_age = max(0, negative) = 0.
    ("date-ahead-1h", T, T, T + HOUR, None, 0),
    ("date-ahead-age-header-still-counts", T, T, T + HOUR, "30", 30),
    # Date behind: the whole difference is apparent age.
    ("date-behind-5min", T, T, T - 300, None, 300),
    ("date-behind-exactly-the-lifetime", T, T, T - 600, None, 600),
    ("date-behind-more-than-the-lifetime", T, T, T - 700, None, 700),
    ("date-behind-and-slow-response", T, T + 4, T - 10, None, 14),
    # An unparseable Date counts as none (RFC 9110 6.6.1 lets the recipient use the receive time).
    ("invalid-date-no-apparent-age", T, T, "yesterday", None, 0),
]


@pytest.mark.parametrize("sent,received,date,age_header,age", [row[1:] for row in AGE], ids=[r[0] for r in AGE])
def test_current_age(sent, received, date, age_header, age):
    headers = cc("max-age=600", *([("Age", age_header)] if age_header is not None else []))
    model = build(msg(headers, sent=sent, received=received, date=date))
    assert model.age == age
    assert model.private.fresh_for == max(0, 600 - age)
    assert model.shared.fresh_for == max(0, 600 - age)
    assert model.browser.fresh_for == max(0, 600 - age)


def test_age_on_two_field_lines_uses_the_first():
    headers = [("Cache-Control", "max-age=600"), ("Age", "10"), ("Age", "20")]
    assert build(msg(headers)).age == 10


def test_list_based_age_uses_the_first_member():
    assert build(msg(cc("max-age=600", ("Age", "10, 20")))).age == 10


def test_a_slow_clock_makes_a_max_age_response_stale_on_arrival():
    """Date 700 s behind proxylens's clock: apparent age 700 >= max-age 600, so no cache may reuse it
    ("response_is_fresh = (freshness_lifetime > current_age)")."""
    model = build(msg(cc("max-age=600", ETAG), date=T - 700))
    assert model.age == 700
    assert model.private.lifetime == 600
    assert model.private.fresh_for == model.shared.fresh_for == model.browser.fresh_for == 0
    assert model.browser.then == "revalidate"


@pytest.mark.parametrize("date,fresh", [(T + HOUR, 600), (T - 300, 300), (T, 600)],
                         ids=["date-ahead", "date-behind", "in-sync"])
def test_expires_lifetime_is_relative_to_the_servers_own_date(date: int, fresh: int):
    """Expires - Date cancels the server's clock error out of the lifetime (600 s each time); a Date
    behind still adds apparent age (300 s), a Date ahead adds none."""
    model = build(msg([("Expires", http_date(date + 600))], date=date))
    assert model.private.lifetime == 600
    assert model.private.fresh_for == fresh


# =====================================================================================================
# Storing, RFC 9111 section 3 (and 3.5 for Authorization)
# =====================================================================================================
#
# "A cache MUST NOT store a response to a request unless: the request method is understood by the
# cache; the response status code is final; [...] the no-store cache directive is not present in the
# response; if the cache is shared: the private response directive is either not present or allows a
# shared cache to store a modified response; if the cache is shared: the Authorization header field is
# not present in the request or a response directive is present that explicitly allows shared caching;
# and the response contains at least one of: a public response directive; a private response directive,
# if the cache is not shared; an Expires header field; a max-age response directive; if the cache is
# shared: an s-maxage response directive; [...] a status code that is defined as heuristically
# cacheable." Section 5.2.1.5, the no-store request directive: "a cache MUST NOT store any part of
# either this request or any response to it." Section 4.1: "A stored response with a Vary header field
# value containing a member "*" always fails to match."

AUTH = [("Authorization", "Bearer secret")]

STORABLE = [
    # id, method, status, response headers, request headers, private stores, shared stores
    ("max-age", "GET", 200, cc("max-age=600"), (), True, True),
    ("head", "HEAD", 200, cc("max-age=600"), (), True, True),
    ("no-store", "GET", 200, cc("no-store"), (), False, False),
    ("no-store-beats-max-age", "GET", 200, cc("max-age=600, no-store"), (), False, False),
    ("no-store-in-request", "GET", 200, cc("max-age=600"), [("Cache-Control", "no-store")], False, False),
    ("private", "GET", 200, cc("private, max-age=600"), (), True, False),
    # Section 5.2.2.7: with field names, a shared cache "MAY store the remainder of the response".
    ("private-qualified", "GET", 200, cc('private="Set-Cookie", max-age=600'), (), True, True),
    ("authorization", "GET", 200, cc("max-age=600"), AUTH, True, False),
    ("authorization-public", "GET", 200, cc("public, max-age=600"), AUTH, True, True),
    ("authorization-must-revalidate", "GET", 200, cc("max-age=600, must-revalidate"), AUTH, True, True),
    ("authorization-s-maxage", "GET", 200, cc("s-maxage=600"), AUTH, True, True),
    ("authorization-lower-case", "GET", 200, cc("max-age=600"), [("authorization", "Basic eDp5")], True, False),
    ("post", "POST", 200, cc("max-age=600"), (), False, False),
    ("put", "PUT", 200, cc("max-age=600"), (), False, False),
    ("vary-star", "GET", 200, cc("max-age=600", ("Vary", "*")), (), False, False),
    ("vary-star-in-a-list", "GET", 200, cc("max-age=600", ("Vary", "Accept-Encoding, *")), (), False, False),
    ("vary-accept-encoding", "GET", 200, cc("max-age=600", ("Vary", "Accept-Encoding")), (), True, True),
    ("304-not-stored-as-such", "GET", 304, cc("max-age=600", ETAG), (), False, False),
    ("100-not-final", "GET", 100, cc("max-age=600"), (), False, False),
    ("103-not-final", "GET", 103, cc("max-age=600"), (), False, False),
    ("200-heuristically-cacheable", "GET", 200, [], (), True, True),
    ("404-heuristically-cacheable", "GET", 404, [], (), True, True),
    ("501-heuristically-cacheable", "GET", 501, [], (), True, True),
    ("302-without-freshness", "GET", 302, [], (), False, False),
    ("302-with-last-modified-only", "GET", 302, [LM_10_DAYS], (), False, False),
    ("500-without-freshness", "GET", 500, [LM_10_DAYS], (), False, False),
    ("302-public", "GET", 302, cc("public"), (), True, True),
    ("302-expires", "GET", 302, [("Expires", http_date(T + 60))], (), True, True),
    ("302-invalid-expires", "GET", 302, [("Expires", "0")], (), True, True),
    ("302-private", "GET", 302, cc("private"), (), True, False),
    ("302-s-maxage", "GET", 302, cc("s-maxage=60"), (), False, True),
]


@pytest.mark.parametrize("method,status,resp,req,private,shared", [r[1:] for r in STORABLE],
                         ids=[r[0] for r in STORABLE])
def test_storable(method, status, resp, req, private: bool, shared: bool):
    model = build(msg(resp, status, req=req, method=method))
    assert (model.private.stores, model.shared.stores) == (private, shared)
    for policy in (model.private, model.shared):
        if not policy.stores:
            assert policy.fresh_for is None and policy.lifetime is None
            assert policy.why, "a policy that does not store says why"


def test_not_storing_says_why_first():
    model = build(msg(cc("private, max-age=600")))
    assert "private" in model.shared.why[0]
    model = build(msg(cc("max-age=600"), req=AUTH))
    assert "Authorization" in model.shared.why[0]
    model = build(msg(cc("max-age=600"), req=[("Cache-Control", "no-store")]))
    assert "request" in model.private.why[0]


@pytest.mark.parametrize("value", ["s-maxage=60, stale-while-revalidate=600, stale-if-error=600",
                                   "max-age=60, proxy-revalidate, stale-while-revalidate=600, stale-if-error=600"])
def test_shared_caches_may_not_serve_stale_with_s_maxage_or_proxy_revalidate(value: str):
    model = build(msg(cc(value)))
    assert model.shared.stale_while_revalidate is None and model.shared.stale_if_error is None


def test_stale_windows_for_private_caches():
    """RFC 5861 windows; must-revalidate (section 5.2.2.2) and no-cache forbid serving stale."""
    model = build(msg(cc("max-age=60, stale-while-revalidate=600, stale-if-error=86400")))
    assert (model.private.stale_while_revalidate, model.private.stale_if_error) == (600, 86400)
    for value in ("max-age=60, must-revalidate, stale-while-revalidate=600",
                  "no-cache, stale-while-revalidate=600"):
        model = build(msg(cc(value)))
        assert model.private.stale_while_revalidate is None


# =====================================================================================================
# The browser: Chromium
# =====================================================================================================
#
# GetFreshnessLifetimes: "Pragma: no-cache" is a synonym for "Cache-Control: no-cache"; max-age, then
# Expires - Date ("can be a date in the past!"); heuristic "(date_value - last_modified_value) / 10" only
# for 200, 203 and 206 and not with must-revalidate; 300, 301, 308 and 410 are "implicitly fresh"
# (TimeDelta::Max(), reported as FOREVER); otherwise 0. ConditionalizeRequest: "This only makes sense for
# cached 200 or 206 responses", with If-None-Match for an ETag, else If-Modified-Since. must-revalidate
# "overrides stale-while-revalidate".
#
# Rows: id, status, response headers, (stores, fresh_for, then, validator, stale_while_revalidate).

LM = LM_10_DAYS
BROWSER = [
    ("max-age", 200, cc("max-age=600"), (True, 600, "refetch", None, None)),
    ("max-age-etag", 200, cc("max-age=600", ETAG), (True, 600, "revalidate", INM, None)),
    ("etag-and-last-modified-prefers-inm", 200, cc("max-age=0", ETAG, LM), (True, 0, "revalidate", INM, None)),
    ("last-modified-only-ims", 200, cc("max-age=0", LM), (True, 0, "revalidate", IMS, None)),
    ("no-store", 200, cc("no-store, max-age=600"), (False, None, "refetch", None, None)),
    ("no-cache", 200, cc("no-cache, max-age=600", ETAG), (True, 0, "revalidate", INM, None)),
    ("pragma-no-cache-with-last-modified", 200, [("Pragma", "no-cache"), LM], (True, 0, "revalidate", IMS, None)),
    ("pragma-no-cache-beats-max-age", 200, cc("max-age=600", ("Pragma", "no-cache")),
     (True, 0, "refetch", None, None)),
    ("pragma-no-cache-among-others", 200, cc("max-age=600", ("Pragma", "x-foo, No-Cache")),
     (True, 0, "refetch", None, None)),
    ("expires-future", 200, [("Expires", http_date(T + HOUR))], (True, 3600, "refetch", None, None)),
    ("expires-past", 200, [("Expires", http_date(T - HOUR))], (True, 0, "refetch", None, None)),
    ("max-age-beats-expires-past", 200, cc("max-age=600", ("Expires", http_date(T - HOUR))),
     (True, 600, "refetch", None, None)),
    ("heuristic-200", 200, [LM], (True, DAY, "revalidate", IMS, None)),
    ("heuristic-203-not-revalidated", 203, [LM], (True, DAY, "refetch", None, None)),
    ("heuristic-206", 206, [LM], (True, DAY, "revalidate", IMS, None)),
    ("no-heuristic-404", 404, [LM], (True, 0, "refetch", None, None)),
    ("no-heuristic-204", 204, [LM], (True, 0, "refetch", None, None)),
    ("no-heuristic-410-is-forever-anyway", 410, [LM], (True, FOREVER, "refetch", None, None)),
    ("no-heuristic-with-must-revalidate", 200, cc("must-revalidate", LM), (True, 0, "revalidate", IMS, None)),
    ("300-forever", 300, [], (True, FOREVER, "refetch", None, None)),
    ("301-forever", 301, [], (True, FOREVER, "refetch", None, None)),
    ("308-forever", 308, [], (True, FOREVER, "refetch", None, None)),
    ("410-forever", 410, [], (True, FOREVER, "refetch", None, None)),
    ("301-with-last-modified-still-forever", 301, [LM], (True, FOREVER, "refetch", None, None)),
    ("301-with-etag-is-not-revalidated", 301, [ETAG], (True, FOREVER, "refetch", None, None)),
    ("301-must-revalidate-still-forever", 301, cc("must-revalidate"), (True, FOREVER, "refetch", None, None)),
    ("301-explicit-max-age-wins", 301, cc("max-age=60"), (True, 60, "refetch", None, None)),
    ("301-expires-past-wins", 301, [("Expires", http_date(T - 1))], (True, 0, "refetch", None, None)),
    ("302-not-fresh", 302, [], (True, 0, "refetch", None, None)),
    ("307-not-fresh", 307, [LM], (True, 0, "refetch", None, None)),
    ("404-etag-refetched", 404, cc("max-age=0", ETAG), (True, 0, "refetch", None, None)),
    ("206-etag-revalidated", 206, cc("max-age=0", ETAG), (True, 0, "revalidate", INM, None)),
    ("410-no-cache-etag-refetched", 410, cc("no-cache", ETAG), (True, 0, "refetch", None, None)),
    ("no-validator-refetched", 200, cc("max-age=0"), (True, 0, "refetch", None, None)),
    ("invalid-etag-is-no-validator", 200, cc("max-age=0", ("ETag", "v1")), (True, 0, "refetch", None, None)),
    ("stale-while-revalidate", 200, cc("max-age=60, stale-while-revalidate=600", ETAG),
     (True, 60, "revalidate", INM, 600)),
    ("stale-while-revalidate-without-max-age", 200, cc("stale-while-revalidate=600"),
     (True, 0, "refetch", None, 600)),
    ("must-revalidate-overrides-swr", 200, cc("max-age=60, must-revalidate, stale-while-revalidate=600"),
     (True, 60, "refetch", None, None)),
    ("no-cache-no-swr", 200, cc("no-cache, stale-while-revalidate=600"), (True, 0, "refetch", None, None)),
    ("pragma-no-cache-no-swr", 200, cc("max-age=60, stale-while-revalidate=600", ("Pragma", "no-cache")),
     (True, 0, "refetch", None, None)),
    ("swr-invalid", 200, cc("max-age=60, stale-while-revalidate=soon"), (True, 60, "refetch", None, None)),
    # HttpVaryData::MatchesRequest: "Vary: *" never matches, so every reuse is validated; with
    # vary_mismatch_ only the ETag makes it conditional.
    ("vary-star-etag", 200, cc("max-age=600", ("Vary", "*"), ETAG), (True, 0, "revalidate", INM, None)),
    ("vary-star-last-modified", 200, cc("max-age=600", ("Vary", "*"), LM), (True, 0, "refetch", None, None)),
]


@pytest.mark.parametrize("status,resp,expected", [r[1:] for r in BROWSER], ids=[r[0] for r in BROWSER])
def test_chromium_policy(status: int, resp, expected):
    browser = build(msg(resp, status), "chromium").browser
    stores, fresh_for, then, validator, swr = expected
    assert browser.stores is stores
    assert browser.fresh_for == fresh_for
    assert browser.forever is (fresh_for == FOREVER)
    if stores:
        assert browser.then == then
        assert (browser.validator if browser.then == "revalidate" else None) == validator
        assert browser.stale_while_revalidate == swr


@pytest.mark.parametrize("method", ["POST", "HEAD", "PUT"])
def test_chromium_reuses_only_get(method: str):
    assert not build(msg(cc("max-age=600"), method=method), "chromium").browser.stores


def test_chromium_forever_ignores_age():
    """TimeDelta::Max() minus any age is still "fresh forever"."""
    browser = build(msg([("Age", "86400")], 301, date=T - DAY), "chromium").browser
    assert browser.fresh_for == FOREVER and browser.forever


def test_chromium_and_the_rfc_disagree_on_a_404_heuristic():
    model = build(msg([LM], 404), "chromium")
    assert model.private.fresh_for == DAY
    assert model.browser.fresh_for == 0


def test_chromium_heuristic_without_date_counts_to_the_receive_time():
    browser = build(msg([LM], date=NO_DATE), "chromium").browser
    assert (browser.lifetime, browser.source, browser.fresh_for) == (DAY, "heuristic", DAY)


# =====================================================================================================
# The browser: Firefox (as documented in cache_model.ENGINES, not checked against a real Firefox)
# =====================================================================================================


@pytest.mark.parametrize("status,resp,fresh_for,then", [
    (404, [LM], DAY, "revalidate"),                                         # heuristic for any status...
    (200, [("Last-Modified", http_date(T - 100 * DAY))], 7 * DAY, "revalidate"),  # ...capped at one week
    (301, [], FOREVER, "refetch"),
    (404, cc("max-age=0", ETAG), 0, "revalidate"),                          # any status is revalidated
    (200, cc("max-age=600", ("Pragma", "no-cache")), 0, "refetch"),
])
def test_firefox_policy(status: int, resp, fresh_for: int, then: str):
    browser = build(msg(resp, status), "firefox").browser
    assert browser.stores and browser.fresh_for == fresh_for and browser.then == then


# =====================================================================================================
# The other model fields
# =====================================================================================================


@pytest.mark.parametrize("resp,validators", [
    ([ETAG], ["etag"]),
    ([("ETag", 'W/"v1"')], ["etag"]),
    ([LM], ["last-modified"]),
    ([ETAG, LM], ["etag", "last-modified"]),
    ([("ETag", "v1")], []),                                  # not an entity-tag
    ([("Last-Modified", "yesterday")], []),                  # not an HTTP-date
    ([], []),
])
def test_validators(resp, validators: list[str]):
    assert build(msg(resp)).validators == validators


@pytest.mark.parametrize("value,names", [
    ("Accept-Encoding", ["accept-encoding"]),
    ("Accept-Encoding, Origin", ["accept-encoding", "origin"]),
    ("accept-encoding, Accept-Encoding", ["accept-encoding"]),
    (" , Origin ,", ["origin"]),
    ("*", ["*"]),
])
def test_vary(value: str, names: list[str]):
    assert build(msg(cc("max-age=600", ("Vary", value)))).vary == names


def test_expires_invalid_and_heuristic_base():
    model = build(msg([("Expires", "0"), LM]))
    assert model.expires_invalid and model.heuristic_base == 10 * DAY
    model = build(msg([("Expires", http_date(T))]))
    assert not model.expires_invalid and model.heuristic_base is None
    assert build(msg([("Last-Modified", http_date(T + 1))])).heuristic_base is None


def test_the_engine_is_recorded():
    assert build(msg(cc("max-age=60")), "firefox").engine_display == "Firefox"
    assert build(msg(cc("max-age=60"))).engine == "chromium"
    assert set(cache_model.ENGINES) == {"chromium", "firefox"}


def test_a_delta_seconds_value_of_thousands_of_digits_is_2_31():
    model = build(msg(cc("max-age=" + "9" * 5000, ("Age", "1" * 5000))))
    assert model.private.lifetime == DELTA_MAX
    assert model.age == DELTA_MAX
