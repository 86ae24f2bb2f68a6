"""Parsers for the header fields the caching analyzer reads.

Pure functions, lenient like a browser: they never raise on wire input. What
they could not parse is reported back (``Directives.invalid``, ``None``) so
the analyzer can turn it into a finding.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from email.utils import parsedate_tz

# RFC 9111 section 1.2.2: "If a cache receives a delta-seconds value greater than the greatest
# integer it can represent, or if any of its subsequent calculations overflows, the cache MUST
# consider the value to be 2147483648 (2^31) or the greatest positive integer it can conveniently
# represent."
DELTA_MAX = 2147483648

_DIGITS = re.compile(r"[0-9]+")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def split_commas(value: str) -> list[str]:
    """Split a list-based field on commas outside quoted strings (RFC 9110 section 5.6.1)."""
    items, current, quoted, escaped = [], [], False, False
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            items.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    items.append("".join(current).strip())
    return [item for item in items if item]


def delta_seconds(value: str | None) -> int | None:
    """RFC 9111 section 1.2.2: delta-seconds = 1*DIGIT; None when invalid."""
    if value is None or not _DIGITS.fullmatch(value):
        return None
    # Longer than 10 digits is above 2^31 anyway; int() of thousands of digits would raise.
    return DELTA_MAX if len(value.lstrip("0")) > 10 else min(int(value), DELTA_MAX)


@dataclass
class Directives:
    """A parsed Cache-Control (or CDN-Cache-Control, Surrogate-Control) field.

    Directive names are case-insensitive (RFC 9111 section 5.2); the first
    occurrence of a directive wins ("either the first occurrence should be
    used or the response should be considered stale", section 4.2.1), and
    later ones are kept in ``duplicates``.
    """

    values: dict[str, str | None] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)  # items that are not token[=value]

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def seconds(self, name: str, quoted_ok: bool = False) -> int | None:
        """The directive's delta-seconds value; None when absent or invalid.

        RFC 9111 section 5.2: recipients "ought to accept both forms" (token and quoted-string)
        of arguments; *quoted_ok* does. Chromium does not, so its policy calls this without.
        """
        value = self.values.get(name)
        if quoted_ok and value is not None and len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        return delta_seconds(value)

    def has_invalid_seconds(self, name: str) -> bool:
        return name in self.values and self.seconds(name) is None

    def as_dict(self) -> dict[str, str | None]:
        return dict(self.values)


def parse_directives(value: str | None) -> Directives:
    parsed = Directives()
    if not value:
        return parsed
    for item in split_commas(value):
        name, sep, arg = item.partition("=")
        name = name.strip().lower()
        if not _TOKEN.fullmatch(name):
            parsed.invalid.append(item)
            continue
        argument: str | None = None
        if sep:
            arg = arg.strip()
            # quoted-string form, e.g. no-cache="Set-Cookie"; RFC 9111 section 5.2 says senders
            # SHOULD NOT quote max-age, so the quotes are kept for delta-seconds checks to reject.
            argument = arg[1:-1] if len(arg) >= 2 and arg[0] == arg[-1] == '"' and name not in _NUMERIC else arg
        if name in parsed.values:
            parsed.duplicates.append(name)
            continue
        parsed.values[name] = argument
    return parsed


_NUMERIC = frozenset({"max-age", "s-maxage", "stale-while-revalidate", "stale-if-error", "min-fresh", "max-stale"})


def parse_http_date(value: str | None) -> float | None:
    """An HTTP-date (RFC 9110 section 5.6.7) as a Unix timestamp; None when invalid.

    Accepts the IMF-fixdate and the two obsolete formats recipients must
    accept (RFC 850 and asctime). Out-of-range fields are invalid rather than
    rolled over.
    """
    if not value or len(value) > 64:
        return None
    parts = parsedate_tz(value.strip())
    if parts is None:
        return None
    year, month, day, hour, minute, second = parts[:6]
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second <= 60 and year >= 1):
        return None
    try:
        return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - (parts[9] or 0))
    except (OverflowError, ValueError):
        return None


def parse_vary(value: str | None) -> list[str]:
    """Vary's field names, lower-cased, in order, without duplicates."""
    names: list[str] = []
    for item in split_commas(value or ""):
        name = item.lower()
        if name not in names:
            names.append(name)
    return names


_ETAG = re.compile(r'\s*(W/)?"([^"]*)"\s*')


def parse_etag(value: str | None) -> tuple[bool, str] | None:
    """An entity-tag (RFC 9110 section 8.8.3) as (weak, opaque-tag); None when invalid."""
    if value is None:
        return None
    match = _ETAG.fullmatch(value)
    return (bool(match.group(1)), match.group(2)) if match else None


def etag_list(value: str | None) -> list[str] | None:
    """If-None-Match / If-Match: "*" or a list of entity-tags, returned as raw tags; None when absent."""
    if value is None:
        return None
    return [item.strip() for item in split_commas(value)]


def weak_match(a: str | None, b: str | None) -> bool:
    """RFC 9110 section 8.8.3.2 weak comparison: the opaque-tags match, weakness ignored."""
    pa, pb = parse_etag(a), parse_etag(b)
    if pa is None or pb is None:
        return a is not None and a.strip() == (b or "").strip() and bool(a.strip())
    return pa[1] == pb[1]
