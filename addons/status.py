"""Status codes and redirect chains (basics; the status issue extends this).

RFC 9110 section 15: "The status code of a response is a three-digit integer
code that describes the result of the request and the semantics of the
response". Facts: ``code``, ``class``, ``meaning``, ``redirect_to`` and the
redirect ``chain`` this exchange belongs to, followed across exchanges.
"""

from __future__ import annotations

from urllib.parse import urljoin

from proxy.analyzer import Analysis, Analyzer
from proxy.findings import Severity, catalog
from proxy.inprocess import InProcess
from proxy.models import Exchange
from proxy.session import Session

RFC9110 = "https://www.rfc-editor.org/rfc/rfc9110#section-15"

CLASSES = {1: "informational", 2: "successful", 3: "redirection", 4: "client-error", 5: "server-error"}

# RFC 9110 section 15 (and RFC 6585 for 428/429/431/511), in our own words.
MEANINGS = {
    100: "the client may go on sending the request body",
    101: "the server switches to the protocol named in Upgrade",
    103: "early hints: headers the final response will likely carry",
    200: "the request succeeded",
    201: "the request created a new resource (see Location)",
    202: "the request was accepted for processing, which is not finished",
    203: "success, but a transforming proxy modified the content",
    204: "success, and there is no content to send",
    205: "success; the client should reset the document view",
    206: "the response carries only the requested ranges of the content",
    300: "several representations exist; the client may choose",
    301: "moved permanently to Location (browsers may turn POST into GET)",
    302: "found at Location for now (browsers may turn POST into GET)",
    303: "see other: fetch Location with GET",
    304: "not modified: the cached response the client has is still valid",
    307: "temporary redirect to Location, repeating the same method and body",
    308: "permanent redirect to Location, repeating the same method and body",
    400: "the server cannot process the request because it is malformed",
    401: "authentication is required (see WWW-Authenticate)",
    402: "payment required (reserved)",
    403: "the server understood the request but refuses to fulfil it",
    404: "the server has no current representation for the target resource",
    405: "the method is not supported by this resource (see Allow)",
    406: "no representation matches the request's proactive negotiation headers",
    407: "the client must authenticate with the proxy",
    408: "the server timed out waiting for the request",
    409: "the request conflicts with the resource's current state",
    410: "the resource is gone, permanently",
    411: "the server requires a Content-Length",
    412: "a precondition in the request's headers evaluated to false",
    413: "the request content is larger than the server will process",
    414: "the target URI is longer than the server will interpret",
    415: "the content is in a format the resource does not support",
    416: "none of the requested ranges can be satisfied",
    417: "the Expect header's expectation cannot be met",
    418: "unused: reserved since RFC 2324's joke \"I'm a teapot\"; treat it as 400",
    421: "the request was directed at a server that cannot answer for this origin",
    422: "the content is well-formed but cannot be processed",
    425: "the server will not process a request that might be replayed (too early)",
    426: "the client must switch to the protocol named in Upgrade",
    428: "the server requires the request to be conditional",
    429: "too many requests: the client is being rate limited",
    431: "the request's header fields are too large",
    451: "unavailable for legal reasons",
    500: "the server hit an unexpected condition",
    501: "the server does not support the functionality required",
    502: "a gateway or proxy got an invalid response from upstream",
    503: "the server is temporarily unable to handle the request",
    504: "a gateway or proxy did not get a timely response from upstream",
    505: "the HTTP version used is not supported",
    511: "the client must authenticate to gain network access (captive portal)",
}

REDIRECTS = {301, 302, 303, 307, 308}
MAX_CHAIN = 20  # Fetch: "If request's redirect count is 20, then return a network error."

R_NO_RESPONSE = catalog.rule(
    "status.no-response",
    Severity.ERROR,
    "No response from the origin: the exchange failed before a response arrived.",
    reference="https://www.rfc-editor.org/rfc/rfc9110#section-15.6.3",
    detail=(
        "proxylens could not get a response from the origin, so the client received an error generated "
        "by the proxy (a 502 or a dropped connection), not an answer from the server. Check that the "
        "origin is up and reachable from the proxy, and see the error in the evidence."
    ),
)
R_REDIRECT_WITHOUT_LOCATION = catalog.rule(
    "status.redirect-without-location",
    Severity.WARNING,
    "A redirect status without a Location header.",
    reference="https://www.rfc-editor.org/rfc/rfc9110#section-10.2.2",
    detail="For 301, 302, 303, 307 and 308 the server SHOULD send Location; without it clients cannot follow "
    "the redirect. Add a Location header with the target URL.",
)
R_REDIRECT_LOOP = catalog.rule(
    "status.redirect-loop",
    Severity.ERROR,
    "A redirect chain comes back to a URL it already visited.",
    reference="https://fetch.spec.whatwg.org/#http-redirect-fetch",
    detail="Browsers stop after 20 redirects with a network error (ERR_TOO_MANY_REDIRECTS). Break the loop "
    "by redirecting to the final URL directly.",
)
R_SERVER_ERROR = catalog.rule(
    "status.server-error",
    Severity.WARNING,
    "The origin answered with a 5xx server error.",
    reference="https://www.rfc-editor.org/rfc/rfc9110#section-15.6",
)
R_CLIENT_ERROR = catalog.rule(
    "status.client-error",
    Severity.INFO,
    "The origin answered with a 4xx client error.",
    reference="https://www.rfc-editor.org/rfc/rfc9110#section-15.5",
)


class StatusAnalyzer(Analyzer):
    name = "status"

    def analyze(self, exchange: Exchange, session: Session) -> Analysis:
        # Redirect chains: remember, for each redirect target, the chain that led there.
        chains = session.store("status.chains", maxsize=4096, ttl=600)
        url = exchange.request.url
        # pop, not get: fetching the target ends that chain's hop, so a later, unrelated request to the
        # same URL (say, the POST after a redirect to a login form) starts a new chain, not a false loop.
        chain: list[str] | None = chains.pop(url)
        response = exchange.response
        if response is None:
            error = exchange.error
            message = error.message if error else "no response"
            return Analysis(
                facts={"code": None, "class": None, "meaning": "no response", "redirect_to": None, "chain": chain},
                findings=[
                    R_NO_RESPONSE.finding(
                        f"No response from the origin: {message}",
                        subject="response",
                        evidence={"error": message, "error_kind": error.kind if error else None},
                    )
                ],
            )
        code = response.status
        findings = []
        redirect_to = None
        if code in REDIRECTS:
            location = response.headers.get("location")
            if location is None:
                findings.append(R_REDIRECT_WITHOUT_LOCATION.finding(subject="response.header.location",
                                                                    evidence={"status": code}))
            else:
                redirect_to = urljoin(url, location.strip())
                chain = (chain or [url]) + [redirect_to]
                if redirect_to in chain[:-1]:
                    findings.append(R_REDIRECT_LOOP.finding(
                        f"Redirect loop: {redirect_to} was already visited in this chain",
                        subject="response.header.location",
                        evidence={"location": redirect_to, "hops": len(chain) - 1},
                    ))
                elif len(chain) <= MAX_CHAIN + 1:
                    chains[redirect_to] = chain
        if 500 <= code <= 599:
            findings.append(R_SERVER_ERROR.finding(
                f"The origin answered {code} {response.reason}".rstrip(), subject="response.status",
                evidence={"status": code}))
        elif 400 <= code <= 499:
            findings.append(R_CLIENT_ERROR.finding(
                f"The origin answered {code} {response.reason}".rstrip(), subject="response.status",
                evidence={"status": code}))
        facts = {
            "code": code,
            "class": CLASSES.get(code // 100, "unknown"),
            "meaning": MEANINGS.get(code, "unregistered status code; treat it as x00 of its class"),
            "redirect_to": redirect_to,
            "chain": chain,
        }
        return Analysis(facts=facts, findings=findings)


# `mitmdump -s addons/status.py` (or mitmweb) runs this analyzer in-process.
addons = [InProcess([StatusAnalyzer()])]
