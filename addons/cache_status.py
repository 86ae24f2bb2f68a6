"""What a CDN or proxy cache says it did: Cache-Status (RFC 9211), the common
X-Cache style headers, and the targeted CDN-Cache-Control / Surrogate-Control
fields (RFC 9213).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import http_sf

from addons.cache_headers import Directives, delta_seconds, parse_directives, split_commas
from addons.cache_model import first_member
from proxy import Headers

# Vendor headers holding a hit/miss word, most specific first. The last comma-separated member is
# the cache closest to the client (Fastly: "MISS, HIT" is shield miss, edge hit).
VENDOR_HEADERS = ("cf-cache-status", "x-vercel-cache", "x-nf-cache-status", "cdn-cache", "x-cache",
                  "x-proxy-cache", "x-cache-status", "x-drupal-cache", "x-varnish-cache", "x-litespeed-cache")

# Checked in order: the first word found decides (REFRESH_HIT before HIT, and so on).
_WORDS = (("REFRESH_HIT", "revalidated"), ("REFRESHHIT", "revalidated"), ("REVALIDATED", "revalidated"),
          ("STALE", "stale"), ("UPDATING", "stale"), ("EXPIRED", "expired"), ("MISS", "miss"), ("HIT", "hit"),
          ("BYPASS", "bypass"), ("DYNAMIC", "bypass"), ("PASS", "bypass"), ("UNCACHEABLE", "bypass"),
          ("NONE", "bypass"), ("ERROR", "error"))


@dataclass
class CdnStatus:
    status: str                 # hit | miss | stale | revalidated | expired | bypass | error | unknown
    source: str                 # the header it came from
    value: str
    cache: str | None = None    # the cache's name (Cache-Status) or node (X-Served-By)
    ttl: int | None = None      # Cache-Status ttl: seconds of freshness left (negative: stale)

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "source": self.source, "value": self.value[:200], "cache": self.cache,
                "ttl": self.ttl}


def _word(value: str) -> str:
    upper = value.upper()
    for word, status in _WORDS:
        if word in upper:
            return status
    return "unknown"


def parse_cache_status(value: str) -> CdnStatus | None:
    """RFC 9211 section 2: "The list members identify caches that have handled the response, in the
    order they handled it" -- the last member is the cache closest to the client."""
    try:
        members = http_sf.parse(value.encode("latin-1", "replace"), tltype="list")
    except Exception:  # noqa: BLE001 -- http_sf raises its own error types (and ValueError) on malformed input
        return CdnStatus("unknown", "Cache-Status", value)
    if not isinstance(members, list) or not members:
        return CdnStatus("unknown", "Cache-Status", value)
    item = members[-1]
    name, params = (item[0], item[1]) if isinstance(item, tuple) and len(item) == 2 else (item, {})
    if not isinstance(params, dict):
        params = {}
    ttl = params.get("ttl")
    ttl = ttl if isinstance(ttl, int) and not isinstance(ttl, bool) else None
    fwd = str(params.get("fwd", "")).lower()
    if params.get("hit") is True:
        status = "stale" if ttl is not None and ttl < 0 else "hit"
    elif fwd == "stale":
        status = "revalidated" if params.get("fwd-status") == 304 else "stale"
    elif fwd in ("bypass", "method", "request"):
        status = "bypass"
    elif fwd in ("uri-miss", "vary-miss", "miss", "partial"):
        status = "miss"
    else:
        status = "unknown"
    return CdnStatus(status, "Cache-Status", value, cache=str(name)[:100], ttl=ttl)


def cdn_status(headers: Headers) -> CdnStatus | None:
    """What the nearest cache on the way says it did, from the most specific header present."""
    value = headers.get("cache-status")
    if value is not None:
        return parse_cache_status(value)
    for name in VENDOR_HEADERS:
        value = headers.get(name)
        if value is not None:
            members = split_commas(value) or [value]
            status = CdnStatus(_word(members[-1]), name.title().replace("Cf-", "CF-"), value)
            nodes = split_commas(headers.get("x-served-by") or "")
            status.cache = nodes[-1][:100] if nodes else None
            return status
    age = delta_seconds(first_member(headers, "age"))
    if age:
        # An Age above zero is only added by a cache that served a stored response (RFC 9111 section 5.1).
        return CdnStatus("hit", "Age", str(age))
    return None


@dataclass
class Targeted:
    """CDN-Cache-Control or Surrogate-Control: directives only CDNs obey, overriding Cache-Control."""

    field: str
    directives: Directives

    @property
    def lifetime(self) -> int | None:
        if "no-store" in self.directives or "private" in self.directives:
            return None
        for name in ("s-maxage", "max-age"):
            if name in self.directives:
                return self.directives.seconds(name) or 0
        return None

    @property
    def stores(self) -> bool:
        return "no-store" not in self.directives and "private" not in self.directives


def targeted(headers: Headers) -> Targeted | None:
    # RFC 9213 section 2.2: a cache that honours a targeted field ignores Cache-Control. CDN-Cache-Control
    # is the standard one; Surrogate-Control is its older Akamai/Fastly form.
    for name, label in (("cdn-cache-control", "CDN-Cache-Control"), ("surrogate-control", "Surrogate-Control")):
        value = headers.get(name)
        if value is not None:
            return Targeted(label, parse_directives(value))
    return None
