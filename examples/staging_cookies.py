"""Cookies set by staging hosts must be ``Secure; HttpOnly; SameSite=Strict|Lax|None``.

Why: without Secure a cookie travels over plain HTTP; without HttpOnly an XSS can read it; without SameSite
the browser picks a cross-site policy for you (an unknown value counts as missing: browsers ignore it).
``SameSite=None`` without ``Secure`` is worse: Chromium rejects the cookie. One finding per cookie, naming
it and what it lacks, never its value (a secret). Deletions (``Max-Age<=0``, a past ``Expires``) are not
judged. Staging hosts: the constructor's host globs, else ``PROXYLENS_STAGING_DOMAINS`` (comma-separated,
default ``*.staging.example.com``), read when the instance is built (at import, for ``staging_cookies``).

Load: ``proxylens proxy -s examples/staging_cookies.py`` or ``--check examples.staging_cookies``.
"""

import os
import re
from email.utils import parsedate_to_datetime
from fnmatch import fnmatchcase

from proxy import Analyzer, Severity, rule

INSECURE = rule(
    "cookies.staging-insecure", Severity.ERROR, "A staging cookie lacks Secure, HttpOnly or SameSite.",
    reference="https://cheatsheetseries.owasp.org/cheatsheets/Session_Management_Cheat_Sheet.html#cookies",
    detail="Set every cookie with `Secure; HttpOnly; SameSite=Lax` (or `Strict`; `None` only for cookies "
           "that must be sent cross-site, and then with `Secure`: Chromium rejects `SameSite=None` without "
           "it, see https://www.chromium.org/updates/same-site/).",
)


def parse_set_cookie(header: str) -> tuple[str, dict[str, str]]:
    """RFC 6265 section 5.2, as browsers parse it: the name (the value is dropped: it is a secret) and the
    attributes by lower-cased name; the last of a repeated attribute wins."""
    pair, *avs = header.split(";")
    name, has_value, _ = pair.partition("=")
    attrs = {k.strip().lower(): v.strip() for k, _, v in (av.partition("=") for av in avs)}
    return (name.strip() if has_value else ""), attrs  # no "=": a nameless cookie (RFC 6265bis)


def is_deletion(attrs: dict[str, str], now: float) -> bool:
    if re.fullmatch(r"-?\d+", attrs.get("max-age", "")):  # Max-Age wins over Expires (RFC 6265 5.3)
        return int(attrs["max-age"]) <= 0
    try:
        return parsedate_to_datetime(attrs["expires"]).timestamp() <= now
    except (KeyError, TypeError, ValueError, IndexError):
        return False


class StagingCookies(Analyzer):
    """``StagingCookies(["*.stg.test"], script_readable=("XSRF-TOKEN",))``: other domains, and cookies that
    scripts must read (a double-submit CSRF token) exempt from HttpOnly."""

    name = "staging_cookies"

    def __init__(self, domains=None, script_readable=()) -> None:
        if domains is None:  # also how a check pack's entry point naming this class builds it
            domains = os.environ.get("PROXYLENS_STAGING_DOMAINS", "*.staging.example.com").split(",")
        self.domains = tuple(d.strip().lower() for d in domains if d.strip())
        self.script_readable = frozenset(script_readable)

    def analyze(self, exchange, session):
        host, response = exchange.request.host, exchange.response
        if response is None or not any(fnmatchcase(host, glob) for glob in self.domains):
            return
        for header in response.headers.get_all("set-cookie"):
            name, attrs = parse_set_cookie(header)
            if not header.strip() or is_deletion(attrs, exchange.timings.started):
                continue
            samesite = attrs.get("samesite")
            missing = [attr for attr, ok in (("Secure", "secure" in attrs),
                                             ("HttpOnly", "httponly" in attrs or name in self.script_readable),
                                             ("SameSite", (samesite or "").lower() in ("strict", "lax", "none")))
                       if not ok]
            rejected = (samesite or "").lower() == "none" and "secure" not in attrs
            if not missing:
                continue
            yield INSECURE.finding(
                f"cookie {name or '(nameless)'!r} from {host} lacks {', '.join(missing)}"
                + ("; SameSite=None without Secure: Chromium rejects it" if rejected else ""),
                subject="response.header.set-cookie",
                # not "cookie": the HAR writer redacts evidence under header names (cookie, set-cookie, ...)
                evidence={"cookie_name": name, "host": host, "missing": ", ".join(missing),
                          "samesite": samesite and samesite[:40], "rejected_by_chromium": rejected},
            )


staging_cookies = StagingCookies()
