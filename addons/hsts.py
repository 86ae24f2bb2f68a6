"""HTTP Strict Transport Security (RFC 6797): what a browser makes of each
Strict-Transport-Security header, judged against a policy profile.

Profiles (``--hsts-profile``):

- ``rfc``: any header a browser accepts is fine; a missing one is only noted.
- ``observatory``: Mozilla Observatory's bar, max-age of at least six months
  (15552000 s); plain HTTP must redirect to HTTPS on the same host.
- ``preload``: hstspreload.org's submission requirements: max-age of at least
  one year (31536000 s), includeSubDomains and preload; HTTP redirects to
  HTTPS on the same host first; an HTTPS redirect carries the header itself.

Session knowledge: once a host sent a valid header over HTTPS, a browser
upgrades every later http:// request to it (and, with includeSubDomains, to
its subdomains) before sending anything, so seeing one is a finding.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from addons import HSTS_PROFILES
from addons.sts_header import StsPolicy, parse_sts
from proxy import Analysis, Analyzer, Exchange, Finding, InProcess, Rule, Session, Severity, catalog, is_ip

RFC6797 = "https://www.rfc-editor.org/rfc/rfc6797"
PRELOAD = "https://hstspreload.org/#submission-requirements"
OBSERVATORY = "https://developer.mozilla.org/en-US/observatory/docs/tests_and_scoring"

PROFILES = HSTS_PROFILES
SIX_MONTHS = 15552000  # Observatory: "max-age must be at least six months (15552000)"
ONE_YEAR = 31536000  # hstspreload.org: "The max-age must be at least 31536000 seconds (1 year)"
MIN_AGE = {"rfc": 0, "observatory": SIX_MONTHS, "preload": ONE_YEAR}
# How loud a missing header (or an HTTP site that does not redirect) is under each profile.
MISSING_LEVEL = {"rfc": Severity.INFO, "observatory": Severity.WARNING, "preload": Severity.ERROR}
DOCUMENT_TYPES = ("text/html", "application/xhtml+xml")


_rule = catalog.family("hsts")


R_OK = _rule("set", Severity.GOOD, "HSTS is set and meets the selected profile.", f"{RFC6797}#section-6.1")
R_INVALID = _rule("invalid", Severity.ERROR, "Strict-Transport-Security is malformed, so browsers ignore it.",
                  f"{RFC6797}#section-6.1",
                  "RFC 6797 section 6.1: UAs MUST ignore an STS header that does not conform to the syntax. Send "
                  "`Strict-Transport-Security: max-age=31536000; includeSubDomains` (semicolons between "
                  "directives, max-age required, each directive once).")
R_OVER_HTTP = _rule("over-http", Severity.WARNING, "Strict-Transport-Security over plain HTTP is ignored.",
                    f"{RFC6797}#section-8.1",
                    "RFC 6797 section 8.1: \"If an HTTP response is received over insecure transport, the UA MUST "
                    "ignore any present STS header field(s).\" A network attacker could otherwise inject or strip "
                    "it. Redirect HTTP to HTTPS and send the header on the HTTPS responses.")
R_IP = _rule("ip-address", Severity.INFO, "HSTS on an IP address is ignored: only host names can be HSTS hosts.",
             f"{RFC6797}#section-8.1.1")
R_MULTIPLE = _rule("multiple-headers", Severity.WARNING,
                   "More than one Strict-Transport-Security header: browsers use only the first.",
                   f"{RFC6797}#section-8.1", "Send one header; an intermediary may be adding a second one.")
R_UNKNOWN = _rule("unknown-directive", Severity.INFO, "Strict-Transport-Security has a directive browsers ignore.",
                  f"{RFC6797}#section-6.1")
R_UNUSUAL = _rule("unusual-syntax", Severity.INFO,
                  "Strict-Transport-Security is valid but written unusually (quoted max-age, case, a repeated "
                  "preload).", f"{RFC6797}#section-6.1",
                  "Browsers accept it, but hstspreload.org and some parsers are stricter. Write "
                  "`max-age=31536000; includeSubDomains; preload` exactly.")
R_MAX_AGE_ZERO = _rule("max-age-zero", Severity.WARNING,
                       "max-age=0 tells browsers to forget this host's HSTS policy.", f"{RFC6797}#section-6.1.1",
                       "That is the way to switch HSTS off; if it is not meant, send a long max-age.")
R_TOO_SHORT = _rule("max-age-too-short", Severity.WARNING, "HSTS max-age is shorter than the profile requires.",
                    OBSERVATORY,
                    "A short max-age leaves a window after each expiry in which a first plain-HTTP request can be "
                    "intercepted. Mozilla Observatory asks for six months (15552000 s), hstspreload.org for one "
                    "year (31536000 s).")
R_PRELOAD_SUBDOMAINS = _rule("preload-missing-include-subdomains", Severity.ERROR,
                             "HSTS preloading requires includeSubDomains.", PRELOAD)
R_PRELOAD_DIRECTIVE = _rule("preload-missing-preload", Severity.ERROR,
                            "HSTS preloading requires the preload directive.", PRELOAD)
R_MISSING = _rule("missing", Severity.INFO, "An HTTPS response without Strict-Transport-Security.",
                  f"{RFC6797}#section-7.1",
                  "Without HSTS a user who types the host name or follows an http:// link makes a first request in "
                  "plain HTTP, which an attacker on the network can intercept (SSL stripping). Send "
                  "`Strict-Transport-Security: max-age=31536000; includeSubDomains` on HTTPS responses.")
R_REDIRECT_WITHOUT = _rule("redirect-without-hsts", Severity.ERROR,
                           "An HTTPS redirect without Strict-Transport-Security.", PRELOAD,
                           "hstspreload.org: \"If you are serving an additional redirect from your HTTPS site, "
                           "that redirect must still have the HSTS header (rather than the page it redirects to).\"")
R_HTTP_NOT_REDIRECTED = _rule("http-not-redirected", Severity.WARNING,
                              "A plain-HTTP request was answered without a redirect to HTTPS.", PRELOAD,
                              "hstspreload.org and Mozilla Observatory require plain HTTP to redirect to HTTPS on "
                              "the same host, so that users who arrive over HTTP reach HTTPS and pick up the HSTS "
                              "policy.")
R_REDIRECT_OTHER_HOST = _rule("redirect-other-host", Severity.WARNING,
                              "HTTP redirects to HTTPS on a different host first, so this host never gets HSTS.",
                              PRELOAD,
                              "hstspreload.org: http://example.com should immediately redirect to "
                              "https://example.com before adding the www subdomain. Otherwise the browser never "
                              "sees an HSTS header for the host the user typed.")
R_HTTP_AFTER_HSTS = _rule("http-after-hsts", Severity.WARNING,
                          "A plain-HTTP request to a host that already set HSTS: a browser would not have sent it.",
                          f"{RFC6797}#section-8.3",
                          "RFC 6797 section 8.3: the UA MUST replace the http URI scheme with https before sending "
                          "any request to a Known HSTS Host. Chrome shows a 307 Internal Redirect. The client here "
                          "did not apply HSTS: it is not a browser, it ignores HSTS, or its HSTS state was cleared. "
                          "Use https:// URLs in links and code.")


def _is_document(exchange: Exchange) -> bool:
    """A page (where HSTS matters), not a subresource: HTML, or what the HAR says was a document."""
    assert exchange.response is not None
    content_type = (exchange.response.headers.get("content-type") or "").split(";")[0].strip().lower()
    return content_type in DOCUMENT_TYPES or exchange.resource_type == "document"


def _days(seconds: int) -> str:
    if seconds >= 86400:
        return f"{seconds} s ({seconds / 86400:.4g} days)"
    return f"{seconds} s ({seconds / 3600:.3g} h)" if seconds >= 3600 else f"{seconds} s"


class HstsAnalyzer(Analyzer):
    name = "hsts"

    def __init__(self, profile: str = "rfc") -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown HSTS profile {profile!r}: use one of {', '.join(PROFILES)}")
        self.profile = profile

    def analyze(self, exchange: Exchange, session: Session) -> Analysis | None:
        request, response = exchange.request, exchange.response
        host, scheme = request.host, request.scheme
        known = session.store("hsts.hosts", maxsize=4096)
        findings: list[Finding] = []
        if scheme in ("http", "ws"):
            rule_host = self._known_hsts_host(known, host, session.now)
            if rule_host is not None:
                findings.append(R_HTTP_AFTER_HSTS.finding(
                    f"http:// request to {host}, which set HSTS earlier"
                    + (f" (includeSubDomains from {rule_host})" if rule_host != host else ""),
                    subject="request.url", evidence={"host": host, "hsts_host": rule_host}))
        if response is None:
            return Analysis(findings=findings) if findings else None
        values = response.headers.get_all("strict-transport-security")
        secure = scheme in ("https", "wss")
        policy = parse_sts(values[0]) if values else None
        facts = {
            "present": bool(values),
            "valid": policy.valid if policy else False,
            "max_age": policy.max_age if policy else None,
            "include_subdomains": policy.include_subdomains if policy else False,
            "preload": policy.preload if policy else False,
            "preload_ready": bool(policy and self._preload_gaps(policy) == []),
            "profile": self.profile,
            "applies": bool(policy and policy.valid and secure and not is_ip(host)),
            "errors": list(policy.errors) if policy else [],
        }
        if policy is not None:
            findings += self._header(exchange, values, policy, secure, host, known, session.now)
        elif secure and not is_ip(host):
            findings += self._missing(exchange)
        if not secure and not is_ip(host):
            findings += self._plain_http(exchange)
        facts["meets_profile"] = bool(facts["applies"]) and not any(
            f.rule in (R_TOO_SHORT.id, R_PRELOAD_SUBDOMAINS.id, R_PRELOAD_DIRECTIVE.id, R_MAX_AGE_ZERO.id)
            for f in findings)
        if facts["meets_profile"] and policy is not None:
            findings.append(R_OK.finding(
                f"HSTS for {host}: max-age {_days(policy.max_age or 0)}"
                + ("; includeSubDomains" if policy.include_subdomains else "") + ("; preload" if policy.preload else "")
                + f" (meets the {self.profile} profile)",
                subject="response.header.strict-transport-security", evidence={"value": values[0][:200]}))
        return Analysis(facts=facts, findings=findings)

    @staticmethod
    def _known_hsts_host(known, host: str, now: float) -> str | None:
        """The Known HSTS Host that covers *host* (RFC 6797 section 8.2: superdomain match needs includeSubDomains)."""
        labels = host.split(".")
        for i in range(len(labels)):
            candidate = ".".join(labels[i:])
            entry = known.get(candidate)
            if entry is None:
                continue
            expires, include_subdomains = entry
            if now <= expires and (i == 0 or include_subdomains):
                return candidate
        return None

    def _preload_gaps(self, policy: StsPolicy) -> list[Rule]:
        """hstspreload.org's header rules that *policy* fails."""
        gaps = []
        if not policy.valid:
            return [R_INVALID]
        if (policy.max_age or 0) < ONE_YEAR:
            gaps.append(R_TOO_SHORT)
        if not policy.include_subdomains:
            gaps.append(R_PRELOAD_SUBDOMAINS)
        if not policy.preload:
            gaps.append(R_PRELOAD_DIRECTIVE)
        return gaps

    def _header(self, exchange: Exchange, values: list[str], policy: StsPolicy, secure: bool, host: str, known,
                now: float) -> list[Finding]:
        subject = "response.header.strict-transport-security"
        value = values[0][:200]
        findings: list[Finding] = []
        if len(values) > 1:
            findings.append(R_MULTIPLE.finding(f"{len(values)} Strict-Transport-Security headers; only the first "
                                               "counts", subject=subject,
                                               evidence={"count": len(values), "first": value,
                                                         "second": values[1][:200]}))
        if not secure:
            findings.append(R_OVER_HTTP.finding(subject=subject, evidence={"value": value, "scheme": "http"}))
            return findings
        if is_ip(host):
            findings.append(R_IP.finding(subject=subject, evidence={"value": value, "host": host}))
            return findings
        if not policy.valid:
            findings.append(R_INVALID.finding(f"Strict-Transport-Security is ignored: {policy.errors[0]}",
                                              subject=subject,
                                              evidence={"value": value, "errors": "; ".join(policy.errors)}))
            return findings
        for name in policy.unknown:
            findings.append(R_UNKNOWN.finding(f"Strict-Transport-Security directive '{name}' is ignored",
                                              subject=subject, evidence={"value": value, "directive": name}))
        for note in policy.notes:
            findings.append(R_UNUSUAL.finding(f"Strict-Transport-Security: {note}", subject=subject,
                                              evidence={"value": value}))
        max_age = policy.max_age or 0
        # RFC 6797 section 8.1: a valid header over a secure connection updates the Known HSTS Host;
        # max-age=0 removes it.
        if max_age == 0:
            known.pop(host)
            findings.append(R_MAX_AGE_ZERO.finding(subject=subject, evidence={"value": value}))
            return findings
        known[host] = (now + max_age, policy.include_subdomains)
        wanted = MIN_AGE[self.profile]
        preload_checks = self.profile == "preload" or policy.preload
        # A header that asks for preloading is held to the preload list's rules under any profile, as a warning.
        level = Severity.ERROR if self.profile == "preload" else Severity.WARNING
        if preload_checks:
            wanted = max(wanted, ONE_YEAR)
        if max_age < wanted:
            findings.append(R_TOO_SHORT.finding(
                f"HSTS max-age is {_days(max_age)}; "
                + ("the preload list" if wanted == ONE_YEAR else f"the {self.profile} profile")
                + f" wants at least {_days(wanted)}", subject=subject,
                severity=level if preload_checks else Severity.WARNING,
                evidence={"value": value, "max_age": max_age, "required": wanted}))
        if preload_checks:
            for rule in self._preload_gaps(policy):
                if rule is not R_TOO_SHORT:
                    findings.append(rule.finding(subject=subject, severity=level, evidence={"value": value}))
        return findings

    def _missing(self, exchange: Exchange) -> list[Finding]:
        response = exchange.response
        assert response is not None
        redirect = 300 <= response.status < 400 and "location" in response.headers
        if redirect and self.profile == "preload":
            return [R_REDIRECT_WITHOUT.finding(
                f"HTTPS redirect ({response.status}) without Strict-Transport-Security",
                subject="response.header.strict-transport-security",
                evidence={"status": response.status, "location": (response.headers.get("location") or "")[:200]})]
        if not (redirect or _is_document(exchange)):  # subresources: the page's own response is where HSTS matters
            return []
        return [R_MISSING.finding(f"HTTPS response from {exchange.request.host} without Strict-Transport-Security",
                                  subject="response.header.strict-transport-security",
                                  severity=MISSING_LEVEL[self.profile],
                                  evidence={"status": response.status, "profile": self.profile})]

    def _plain_http(self, exchange: Exchange) -> list[Finding]:
        """hstspreload.org's and Observatory's redirect rules for an http:// response."""
        response = exchange.response
        assert response is not None
        host = exchange.request.host
        location = response.headers.get("location")
        redirect = 300 <= response.status < 400 and location is not None
        if redirect:
            target = urljoin(exchange.request.url, location.strip())
            try:
                parts = urlsplit(target)
                target_scheme, target_host = parts.scheme.lower(), (parts.hostname or "").lower()
            except ValueError:
                target_scheme = target_host = ""
            if target_scheme == "https" and target_host == host:
                return []
            if target_scheme == "https":
                return [R_REDIRECT_OTHER_HOST.finding(
                    f"http://{host} redirects to HTTPS on {target_host} first", subject="response.header.location",
                    severity=MISSING_LEVEL[self.profile],
                    evidence={"location": target[:200], "host": host})]
        if self.profile == "rfc" or not (redirect or _is_document(exchange)):
            return []
        return [R_HTTP_NOT_REDIRECTED.finding(
            f"http://{host} answered {response.status}"
            + (f" with a redirect to {location[:100]}" if redirect and location else "") + ", not a redirect to HTTPS",
            subject="response.status", severity=MISSING_LEVEL[self.profile],
            evidence={"status": response.status, "location": (location or "")[:200], "profile": self.profile})]


# `mitmdump -s addons/hsts.py` (or mitmweb) runs this analyzer in-process.
addons = [InProcess([HstsAnalyzer()])]
