"""The Strict-Transport-Security header field (RFC 6797 section 6.1), parsed
the way browsers parse it.

    Strict-Transport-Security = "Strict-Transport-Security" ":"
                                [ directive ]  *( ";" [ directive ] )
    directive                 = directive-name [ "=" directive-value ]
    directive-name            = token
    directive-value           = token / quoted-string

Browsers follow section 6.1 strictly: "UAs MUST ignore any STS header field
containing directives, or other header field value data, that does not
conform to the syntax defined in this specification", and "All directives
MUST appear only once". Chromium's ParseHSTSHeader rejects the whole header
for a repeated or malformed max-age or includeSubDomains, a missing max-age,
or includeSubDomains with a value; it ignores unknown directives (preload is
one of those to a browser). Directive names are case-insensitive and
max-age "can optionally be quoted" (6.1.1). Nothing here raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# RFC 9110 section 5.6.2: token = 1*tchar; 5.6.4: quoted-string with qdtext and quoted-pair; 5.6.3: OWS is
# spaces and tabs only.
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_DIRECTIVE = re.compile(rf"[ \t]*({_TOKEN})[ \t]*(?:=[ \t]*({_TOKEN}|{_QUOTED})[ \t]*)?")
_PART = re.compile(rf'(?:{_QUOTED}|[^;"]|")*')  # up to the next semicolon outside a quoted string
MAX_DIGITS = 15  # a longer max-age is taken as 10^15 - 1 s (browsers clamp far lower: Chromium to one year)
CANONICAL = {"max-age": "max-age", "includesubdomains": "includeSubDomains", "preload": "preload"}


@dataclass(frozen=True)
class StsPolicy:
    """What one Strict-Transport-Security value says, and whether a browser would accept it."""

    valid: bool
    max_age: int | None = None
    include_subdomains: bool = False
    preload: bool = False
    errors: tuple[str, ...] = ()  # why a browser ignores the header (empty when valid)
    unknown: tuple[str, ...] = ()  # directives a browser ignores (preload counts as known here)
    notes: tuple[str, ...] = ()  # legal but noteworthy: quoted max-age, upper-case names


def _directives(value: str) -> list[str]:
    """The value split at semicolons, except those inside a quoted string (report-uri="a;b" is one directive)."""
    parts, pos = [], 0
    while True:
        match = _PART.match(value, pos)
        end = match.end() if match else pos
        parts.append(value[pos:end])
        if end >= len(value):
            return parts
        pos = end + 1  # skip the semicolon


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def parse_sts(value: str) -> StsPolicy:
    errors: list[str] = []
    unknown: list[str] = []
    notes: list[str] = []
    seen: set[str] = set()
    max_age: int | None = None
    include_subdomains = preload = False
    for part in _directives(value):
        if not part.strip(" \t"):  # "[ directive ]": empty directives are allowed
            continue
        match = _DIRECTIVE.fullmatch(part)
        if match is None:
            errors.append(f"{part.strip(' ' + chr(9))[:60]!r} is not a directive (name, or name=value)")
            continue
        raw_name, raw_value = match.group(1), match.group(2)
        name = raw_name.lower()
        if name in seen:
            if name in ("max-age", "includesubdomains"):
                errors.append(f"{raw_name} appears more than once")
            else:  # browsers ignore unknown directives, repeated or not; the preload list refuses repeats
                notes.append(f"{raw_name} appears more than once")
            continue
        seen.add(name)
        if name in CANONICAL and raw_name != CANONICAL[name]:
            notes.append(f"{raw_name} is spelled in unusual case (names are case-insensitive)")
        if name == "max-age":
            if raw_value is None:
                errors.append("max-age has no value")
                continue
            if raw_value.startswith('"'):
                notes.append("max-age is quoted (allowed, but unusual)")
            digits = _unquote(raw_value)
            if not digits.isascii() or not digits.isdigit():
                errors.append(f"max-age={raw_value} is not a number of seconds")
                continue
            if len(digits.lstrip("0")) > MAX_DIGITS:
                notes.append(f"max-age has {len(digits)} digits; taken as {10 ** MAX_DIGITS - 1}")
                max_age = 10**MAX_DIGITS - 1
            else:
                max_age = int(digits)
        elif name == "includesubdomains":
            if raw_value is not None:
                errors.append("includeSubDomains takes no value")
                continue
            include_subdomains = True
        elif name == "preload":
            # Not part of RFC 6797 (hstspreload.org's opt-in); browsers ignore it, the preload list reads it.
            if raw_value is not None:  # to a browser still an ignored directive; the preload list refuses it
                notes.append("preload takes no value, so it does not count")
                continue
            preload = True
        else:
            unknown.append(raw_name)
    if max_age is None and not errors:
        errors.append("max-age is missing (it is required)")
    valid = not errors
    return StsPolicy(valid=valid, max_age=max_age if valid else None, include_subdomains=include_subdomains and valid,
                     preload=preload and valid, errors=tuple(errors), unknown=tuple(unknown), notes=tuple(notes))
