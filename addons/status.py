"""Status codes, redirect chains, and where an error came from.

RFC 9110 section 15: "The status code of a response is a three-digit integer
code that describes the result of the request and the semantics of the
response". Facts: ``code``, ``class``, ``meaning``, ``redirect_to``, the
redirect ``chain`` this exchange belongs to (followed across exchanges) and
its ``hops``, and ``source``: who produced what the client got. A 502 or 504
that proxylens answered because the upstream failed is ``proxylens``, with
the underlying ``error``; one that names an intermediary in Proxy-Status
(RFC 9209) or carries mitmproxy's error page is ``intermediary``; everything
else is ``origin``.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from urllib.parse import urljoin, urlsplit

import http_sf

from addons import httplint_notes
from addons.cache_headers import parse_http_date
from proxy import Analysis, Analyzer, Exchange, Finding, InProcess, Rule, Session, Severity, catalog

RFC9110 = "https://www.rfc-editor.org/rfc/rfc9110"
FETCH_REDIRECT = "https://fetch.spec.whatwg.org/#http-redirect-fetch"

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
LONG_CHAIN = 3  # each hop is a round trip before the page can start; Lighthouse flags more than one
# RFC 9110 section 6.4.1: "All 1xx (Informational), 204 (No Content), and 304 (Not Modified) responses do not
# include content."
BODILESS = {204, 304}


_rule = catalog.family("status")


# -- where the error came from ---------------------------------------------------------------------------------

R_NO_RESPONSE = _rule(
    "no-response", Severity.ERROR, "No response from the origin: the exchange failed before a response arrived.",
    f"{RFC9110}#section-15.6.3",
    "proxylens could not get a response from the origin, so the client received an error generated by the proxy "
    "(a 502 or a dropped connection), not an answer from the server. See the error in the evidence.")
R_UPSTREAM_REFUSED = _rule(
    "upstream-refused", Severity.ERROR, "The upstream server refused the connection.",
    f"{RFC9110}#section-15.6.3",
    "Nothing listens on that host and port, or a firewall rejects the connection. The 502 Bad Gateway the client "
    "got was generated by proxylens, not by the origin. Check that the server is running and the URL's port.")
R_UPSTREAM_UNREACHABLE = _rule(
    "upstream-unreachable", Severity.ERROR,
    "The upstream host could not be resolved or reached.", f"{RFC9110}#section-15.6.3",
    "DNS did not resolve the host name, or there is no route to it. The 502 came from proxylens, not the origin. "
    "Check the host name and the proxy machine's DNS and network.")
R_UPSTREAM_TIMEOUT = _rule(
    "upstream-timeout", Severity.ERROR, "The upstream server did not respond in time.",
    f"{RFC9110}#section-15.6.5",
    "The origin accepted the request but sent no response before proxylens gave up (`--upstream-timeout`, "
    "default 60 s). The 504 Gateway Timeout came from proxylens, not the origin. Look for a hung worker, a "
    "deadlock or a slow dependency on the server side.")
R_UPSTREAM_TLS = _rule(
    "upstream-tls-failed", Severity.ERROR,
    "The TLS handshake with the upstream server failed.", f"{RFC9110}#section-15.6.3",
    "Usually the server's certificate did not verify (self-signed, expired, wrong host name, missing "
    "intermediate). A browser would refuse it too. Fix the certificate, or for a test server pass its CA with "
    "`--upstream-ca`.")
R_UPSTREAM_PROTOCOL = _rule(
    "upstream-protocol-error", Severity.ERROR,
    "The upstream server closed the connection or sent an invalid response.",
    f"{RFC9110}#section-15.6.3",
    "The origin closed the connection without a complete response, or sent bytes that are not valid HTTP "
    "(for example header injection or a mismatched Content-Length). The 502 came from proxylens.")
R_CLIENT_ABORTED = _rule(
    "client-aborted", Severity.INFO, "The client went away before the response was complete.",
    "https://www.rfc-editor.org/rfc/rfc9112#section-9.6",
    "The client closed the connection or cancelled the request (navigation away, a timeout, a cancelled fetch). "
    "If the origin is slow, the wait time in the timings says how slow.")
R_INTERMEDIARY_ERROR = _rule(
    "intermediary-error", Severity.WARNING, "An intermediary, not the origin, generated this error response.",
    "https://www.rfc-editor.org/rfc/rfc9209",
    "Proxy-Status (RFC 9209) or the error page itself says a proxy or gateway between proxylens and the origin "
    "produced this response. The origin may never have seen the request.")
R_SERVER_ERROR = _rule("server-error", Severity.WARNING, "The origin answered with a 5xx server error.",
                       f"{RFC9110}#section-15.6")
R_CLIENT_ERROR = _rule("client-error", Severity.INFO, "The origin answered with a 4xx client error.",
                       f"{RFC9110}#section-15.5")

# -- redirects --------------------------------------------------------------------------------------------------

R_REDIRECT_WITHOUT_LOCATION = _rule(
    "redirect-without-location", Severity.WARNING, "A redirect status without a Location header.",
    f"{RFC9110}#section-10.2.2",
    "For 301, 302, 303, 307 and 308 the server SHOULD send Location; without it clients cannot follow the "
    "redirect. Add a Location header with the target URL.")
R_LOCATION_RELATIVE = _rule(
    "location-relative", Severity.INFO, "Location is a relative reference, resolved against the request URL.",
    f"{RFC9110}#section-10.2.2",
    "Allowed since RFC 7231 and followed by every browser; some old HTTP/1.0 clients and naive scripts expect "
    "an absolute URL. The resolved target is in the evidence.")
R_LOCATION_INVALID = _rule(
    "location-invalid", Severity.WARNING, "Location is not a valid URI reference.", f"{RFC9110}#section-10.2.2",
    "Location must be a URI reference (RFC 3986): spaces and non-ASCII characters must be percent-encoded. "
    "Browsers repair some of these, other clients fail.")
R_METHOD_CHANGE = _rule(
    "redirect-changes-method", Severity.WARNING, "A 301 or 302 answer to a POST: browsers repeat it as a GET.",
    FETCH_REDIRECT,
    "Fetch: \"If one of the following is true: internalResponse's status is 301 or 302 and request's method is "
    "`POST`...; then set request's method to `GET` and request's body to null.\" The body is lost. Use 307 or 308 "
    "to keep the method and body, or 303 if switching to GET is what you mean.")
R_REDIRECT_LOOP = _rule(
    "redirect-loop", Severity.ERROR, "A redirect chain comes back to a URL it already visited.", FETCH_REDIRECT,
    "Browsers stop after 20 redirects with a network error (ERR_TOO_MANY_REDIRECTS). Break the loop by "
    "redirecting to the final URL directly.")
R_TOO_MANY = _rule(
    "too-many-redirects", Severity.ERROR, "The redirect chain is longer than the 20 hops browsers follow.",
    FETCH_REDIRECT, "Fetch returns a network error on the 21st redirect. Redirect to the final URL directly.")
R_LONG_CHAIN = _rule(
    "redirect-chain-long", Severity.WARNING, "A redirect chain of several hops.",
    "https://developer.chrome.com/docs/lighthouse/performance/redirects",
    "Every hop is another round trip (and maybe another TLS handshake) before the page can load. Link and "
    "redirect straight to the final URL.")
R_DOWNGRADE = _rule(
    "redirect-to-http", Severity.WARNING, "An HTTPS URL redirects to plain HTTP.", f"{RFC9110}#section-4.2.2",
    "The next request travels unencrypted and can be read or changed on the network; browsers also drop the "
    "Referer and may warn about mixed content. Redirect to https:// URLs only.")

# -- response semantics -----------------------------------------------------------------------------------------

R_304_UNCONDITIONAL = _rule(
    "not-modified-unconditional", Severity.WARNING,
    "304 Not Modified to a request without a condition that can produce it.",
    f"{RFC9110}#section-15.4.5",
    "RFC 9110: 304 \"indicates that a conditional GET or HEAD request has been received and would have resulted in "
    "a 200 (OK) response if it were not for the fact that the condition evaluated to false.\" A client without a "
    "cached copy has nothing to show. Only If-None-Match or If-Modified-Since on GET or HEAD can produce a 304 "
    "(RFC 9110 section 13.2.2); If-Match and If-Unmodified-Since fail with 412.")
R_BODY_NOT_ALLOWED = _rule(
    "content-not-allowed", Severity.ERROR, "A 1xx, 204 or 304 response carries content.", f"{RFC9110}#section-6.4.1",
    "RFC 9110 section 6.4.1: 1xx, 204 and 304 responses do not include content. HTTP/1.1 clients read those bytes "
    "as the start of the next response, which corrupts the connection.")
R_204_LENGTH = _rule(
    "content-length-on-204", Severity.WARNING, "A 204 No Content response has a Content-Length header.",
    f"{RFC9110}#section-8.6",
    "RFC 9110 section 8.6: \"A server MUST NOT send a Content-Length header field in any response with a status "
    "code of 1xx (Informational) or 204 (No Content).\"")
R_401_NO_CHALLENGE = _rule(
    "unauthorized-without-challenge", Severity.WARNING, "401 Unauthorized without WWW-Authenticate.",
    f"{RFC9110}#section-15.5.2",
    "RFC 9110: \"The server generating a 401 response MUST send a WWW-Authenticate header field containing at "
    "least one challenge.\" Without it clients cannot tell how to authenticate; if credentials would not help, "
    "403 is the right status.")
R_405_NO_ALLOW = _rule(
    "method-not-allowed-without-allow", Severity.WARNING, "405 Method Not Allowed without an Allow header.",
    f"{RFC9110}#section-15.5.6",
    "RFC 9110: \"The origin server MUST generate an Allow header field in a 405 response containing a list of the "
    "target resource's currently supported methods.\"")
R_416_NO_RANGE = _rule(
    "range-not-satisfiable-without-content-range", Severity.WARNING, "416 without Content-Range.",
    f"{RFC9110}#section-15.5.17",
    "RFC 9110: a server generating 416 to a byte-range request SHOULD send `Content-Range: bytes */LENGTH` with the "
    "current length, so the client can ask for a range that exists.")
R_RETRY_AFTER = _rule(
    "retry-after", Severity.INFO, "The server says when to retry (Retry-After).", f"{RFC9110}#section-10.2.3")
R_RETRY_AFTER_MISSING = _rule(
    "retry-after-missing", Severity.INFO, "429 or 503 without Retry-After: clients must guess when to retry.",
    f"{RFC9110}#section-10.2.3",
    "Send `Retry-After: <seconds>` (or an HTTP-date) so well-behaved clients back off for the right time instead "
    "of retrying at once or giving up.")
R_RETRY_AFTER_INVALID = _rule(
    "retry-after-invalid", Severity.WARNING, "Retry-After is neither a number of seconds nor an HTTP-date.",
    f"{RFC9110}#section-10.2.3", "Use `Retry-After: 120` or `Retry-After: Fri, 31 Dec 1999 23:59:59 GMT`.")
R_INFORMATIONAL = _rule(
    "informational-as-final", Severity.WARNING, "A 1xx informational status was recorded as the final response.",
    f"{RFC9110}#section-15.2",
    "1xx responses are interim: the final response follows on the same exchange. A 1xx as the only answer means "
    "the exchange did not finish (or a tool recorded the interim response). 101 is final only for an upgrade.")
R_REASON_MISMATCH = _rule(
    "reason-phrase-mismatch", Severity.INFO, "The reason phrase names a different status code.",
    "https://www.rfc-editor.org/rfc/rfc9112#section-4",
    "Clients act on the number and ignore the phrase (RFC 9112: \"A client SHOULD ignore the reason-phrase "
    "content\"), but a phrase such as \"200 Not Found\" usually means the server set the wrong code.")
R_STATUS_LINT = _rule(
    "semantics", Severity.WARNING, "httplint: the status code does not fit the request or the response headers.",
    f"{RFC9110}#section-15")
R_NONSTANDARD = _rule(
    "nonstandard-code", Severity.WARNING, "The status code is not registered, deprecated or reserved.",
    "https://www.iana.org/assignments/http-status-codes",
    "Clients treat an unknown code as the x00 of its class (RFC 9110 section 15), so its particular meaning is "
    "lost. Use a registered code.")

R_STATUS_LINE = _rule(
    "status-line-invalid", Severity.WARNING, "The status line is malformed (a non-numeric code or a non-ASCII "
    "reason phrase).", "https://www.rfc-editor.org/rfc/rfc9112#section-4",
    "RFC 9112 section 4: status-code = 3DIGIT; reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ). Clients may "
    "reject the response or show garbled text; send a plain ASCII phrase (or none).")

# httplint status notes (httplint/status.py). STATUS_* notes that only restate the code's meaning are dropped:
# facts.status.meaning says it. tests/test_status_lint.py walks httplint's notes against these two sets.
LINT_MAPPED: dict[str, Rule] = {
    "UNEXPECTED_CONTINUE": R_STATUS_LINT, "UPGRADE_NOT_REQUESTED": R_STATUS_LINT,
    "CREATED_SAFE_METHOD": R_STATUS_LINT, "CREATED_WITHOUT_LOCATION": R_STATUS_LINT,
    "PARTIAL_WITHOUT_RANGE": R_STATUS_LINT, "PARTIAL_NOT_REQUESTED": R_STATUS_LINT,
    "STATUS_405_METHOD_IN_ALLOW": R_STATUS_LINT, "STATUS_406_WITHOUT_NEGOTIATION": R_STATUS_LINT,
    "STATUS_412_WITHOUT_PRECONDITION": R_STATUS_LINT, "STATUS_416_WITHOUT_RANGE": R_STATUS_LINT,
    "STATUS_417_WITHOUT_EXPECT": R_STATUS_LINT, "STATUS_URI_TOO_LONG": R_STATUS_LINT,
    "STATUS_DEPRECATED": R_NONSTANDARD, "STATUS_RESERVED": R_NONSTANDARD, "STATUS_NONSTANDARD": R_NONSTANDARD,
    "STATUS_IM_A_TEAPOT": R_NONSTANDARD,
    "STATUS_CODE_NON_NUMERIC": R_STATUS_LINE, "STATUS_PHRASE_ENCODING": R_STATUS_LINE,
}
LINT_DROPPED = frozenset({
    "REDIRECT_WITHOUT_LOCATION",  # status.redirect-without-location says it, with the chain
    "STATUS_BAD_REQUEST", "STATUS_FORBIDDEN", "STATUS_METHOD_NOT_ALLOWED", "STATUS_NOT_FOUND", "STATUS_NOT_ACCEPTABLE",
    "STATUS_CONFLICT", "STATUS_GONE", "STATUS_REQUEST_ENTITY_TOO_LARGE", "STATUS_UNSUPPORTED_MEDIA_TYPE",
    "STATUS_INTERNAL_SERVICE_ERROR", "STATUS_NOT_IMPLEMENTED", "STATUS_BAD_GATEWAY", "STATUS_SERVICE_UNAVAILABLE",
    "STATUS_GATEWAY_TIMEOUT", "STATUS_VERSION_NOT_SUPPORTED", "STATUS_PRECONDITION_FAILED",
    "STATUS_EXPECTATION_FAILED", "STATUS_417_WITH_100_CONTINUE", "STATUS_EARLY_HINTS",
    "STATUS_UPLOAD_RESUMPTION_SUPPORTED", "STATUS_ALREADY_REPORTED", "STATUS_MISDIRECTED_REQUEST",
    "STATUS_TOO_EARLY", "STATUS_PRECONDITION_REQUIRED", "STATUS_TOO_MANY_REQUESTS",
    "STATUS_REQUEST_HEADER_FIELDS_TOO_LARGE", "STATUS_UNAVAILABLE_FOR_LEGAL_REASONS", "STATUS_LOOP_DETECTED",
    "STATUS_NETWORK_AUTHENTICATION_REQUIRED",
    # 304 notes belong to caching (addons/cache_lint.py)
    "NO_DATE_304", "HEADER_SHOULD_NOT_BE_IN_304",
})

ERROR_RULES = {"connect": R_UPSTREAM_REFUSED, "timeout": R_UPSTREAM_TIMEOUT, "tls": R_UPSTREAM_TLS,
               "protocol": R_UPSTREAM_PROTOCOL, "client": R_CLIENT_ABORTED}
# mitmproxy's own error page (mitmproxy/proxy/layers/http/_base.py format_error), as an upstream mitmproxy or
# proxylens sends it: the Server header names it.
_MITM_SERVER = re.compile(r"^mitmproxy\b", re.IGNORECASE)
_URI_REFERENCE = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*$")
_STANDARD_PHRASES = {s.phrase.lower(): s.value for s in HTTPStatus}
# RFC 9110 section 13.2.2: only a false If-None-Match or If-Modified-Since on GET or HEAD gives 304;
# If-Match and If-Unmodified-Since fail with 412, and If-Range falls back to a full 200.
CONDITIONS_FOR_304 = ("if-none-match", "if-modified-since")


def _lint_rule(note: str, field_name: str | None) -> Rule | None:
    return LINT_MAPPED.get(note)


def proxy_status_of(response_headers) -> list[dict]:
    """Proxy-Status (RFC 9209): a List of intermediaries, each with its error type and details."""
    value = response_headers.get("proxy-status")
    if not value:
        return []
    try:
        members = http_sf.parse(value.encode("latin-1", "replace"), tltype="list")
    except Exception:  # noqa: BLE001 -- http_sf raises its own error types (and ValueError) on malformed input
        return []
    hops = []
    for item in members if isinstance(members, list) else []:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], dict)):
            continue
        name, params = item
        if isinstance(name, (list, tuple)):  # an inner list is not a proxy name
            continue
        hops.append({"proxy": str(name), **{str(k): str(v) for k, v in params.items()}})
    return hops


def retry_after(value: str, now: float | None) -> tuple[bool, float | None]:
    """Retry-After = HTTP-date / delay-seconds (RFC 9110 section 10.2.3): (valid, seconds to wait), the
    seconds None for a date when the exchange's time is unknown."""
    value = value.strip()
    if value.isascii() and value.isdigit():
        return True, float(min(int(value[:16]), 10**15))  # 16 digits: longer is "effectively never" anyway
    when = parse_http_date(value)
    if when is None:
        return False, None
    return True, (max(0.0, when - now) if now else None)


# h11's words for a body cut short: "(received 1000 bytes, expected 100000)".
_RECEIVED = re.compile(r"\(received (\d{1,18}) bytes, expected (\d{1,18})\)")
# The response head proxylens appends to the error of an exchange that failed after it (proxy/snapshot.py
# PARTIAL_HEAD, not imported: checks run without mitmproxy). tests/test_status.py round-trips the two.
PARTIAL_HEAD_RE = re.compile(r" \(the origin had sent its response head: (HTTP/[\w.]+) (\d{3})\b ?([^()]*)\)")


def partial_response(exchange: Exchange) -> dict | None:
    """What the origin had sent of a response that failed: its status line and, when known, how much of the
    body. From the response itself when the client got its head (a streamed body, a browser's HAR), else from
    the head proxylens appended to the error (proxy/snapshot.py PARTIAL_HEAD). None when no head had arrived."""
    error, response = exchange.error, exchange.response
    if error is None:
        return None
    received = _RECEIVED.search(error.message)
    body = {"body_received": int(received[1]), "body_expected": int(received[2])} if received else {
        "body_received": None, "body_expected": None}
    if response is not None:
        if body["body_received"] is None and response.body.size >= 0:
            body["body_received"] = response.body.size
        return {"code": response.status, "reason": response.reason, "http_version": response.http_version,
                "client_got_head": True, **body}
    head = PARTIAL_HEAD_RE.search(error.message)
    if head is None:
        return None
    return {"code": int(head[2]), "reason": head[3], "http_version": head[1], "client_got_head": False, **body}


def _partial_words(partial: dict) -> str:
    words = f"{partial['http_version']} {partial['code']} {partial['reason']}".rstrip()
    if partial["body_received"] is not None:
        of = f" of {partial['body_expected']}" if partial["body_expected"] is not None else ""
        words += f", {partial['body_received']}{of} body bytes"
    return words + ("" if partial["client_got_head"] else "; the client never got this head")


class StatusAnalyzer(Analyzer):
    name = "status"

    def analyze(self, exchange: Exchange, session: Session) -> Analysis:
        # Redirect chains: remember, for each redirect target, the chain that led there.
        chains = session.store("status.chains", maxsize=4096, ttl=600)
        url = exchange.request.url
        # pop, not get: fetching the target ends that chain's hop, so a later, unrelated request to the
        # same URL (say, the POST after a redirect to a login form) starts a new chain, not a false loop.
        chain: list[str] | None = chains.pop(url)
        if exchange.response is None or exchange.error is not None:
            # A response cut short (an error beside it: a streamed body, or a HAR whose browser got the head)
            # is judged by its error, not its status code: RFC 9112 section 8, a client "MUST record the message
            # as incomplete".
            return self._failed(exchange, chain)
        response = exchange.response
        code = response.status
        findings: list[Finding] = []
        redirect_to = None
        if code in REDIRECTS:
            redirect_to, chain = self._redirect(exchange, chain, chains, findings)
        findings += self._semantics(exchange, session)
        source, hops = self._source(exchange, findings)
        facts = {
            "code": code,
            "class": CLASSES.get(code // 100, "unknown"),
            "meaning": MEANINGS.get(code, "unregistered status code; treat it as x00 of its class"),
            "reason": response.reason,
            "redirect_to": redirect_to,
            "chain": chain,
            "hops": len(chain) - 1 if chain else 0,
            "source": source,
            "error": None,
            "intermediaries": hops or None,
        }
        return Analysis(facts=facts, findings=findings)

    # -- no (complete) response: who answered the client, and why ----------------------------------------------

    def _failed(self, exchange: Exchange, chain: list[str] | None) -> Analysis:
        error = exchange.error
        message = error.message if error else "no response"
        kind = error.kind if error else "other"
        rule = ERROR_RULES.get(kind, R_NO_RESPONSE)
        if error is not None and error.unreachable:
            rule = R_UPSTREAM_UNREACHABLE
        answered = error.proxy_status if error else None
        partial = partial_response(exchange)
        summary = rule.summary.rstrip(".")
        if not message.startswith("proxylens:"):  # proxylens's own messages repeat the summary
            summary += f": {message[:200]}"
        if answered:
            summary += f" (proxylens answered {answered}, not the origin)"
        evidence = {"error": message[:300], "error_kind": kind, "proxy_status": answered,
                    "host": exchange.request.host, "port": exchange.request.port}
        if partial is not None:  # evidence holds scalars: the head and how much of the body, in words
            evidence["partial_response"] = _partial_words(partial)
        if exchange.server_tls is not None and exchange.server_tls.verify_error:
            evidence["verify_error"] = exchange.server_tls.verify_error[:300]
        finding = rule.finding(summary, subject="response", evidence=evidence)
        response = exchange.response  # the head the client did get, when the body was cut short
        if partial is None:
            meaning = "no response from the origin"
        elif response is None:
            meaning = "the exchange failed after the origin's response head, which the client never got"
        else:
            meaning = "the response was cut short: the client got its head and not all of its body"
        facts = {"code": response.status if response else None,
                 "class": CLASSES.get(response.status // 100, "unknown") if response else None,
                 "meaning": meaning, "reason": response.reason if response else None,
                 "redirect_to": None, "chain": chain, "hops": len(chain) - 1 if chain else 0,
                 "source": "proxylens" if answered else ("origin" if response else None),
                 "error": {"kind": kind, "message": message, "proxy_answered": answered,
                           "partial_response": partial},
                 "intermediaries": None}
        # A failed client handshake never reached the HTTP layer: addons/tls.py explains it.
        return Analysis(facts=facts, findings=[] if kind == "client-tls" else [finding])

    @staticmethod
    def _source(exchange: Exchange, findings: list[Finding]) -> tuple[str, list[dict]]:
        """Who generated this response: the origin, or an intermediary that says so."""
        response = exchange.response
        assert response is not None
        hops = proxy_status_of(response.headers)
        code = response.status
        failing = [h for h in hops if "error" in h]
        mitm_page = code in (502, 504) and _MITM_SERVER.match(response.headers.get("server") or "")
        if (code >= 400 and failing) or mitm_page:  # RFC 9209 error types include 4xx ones (http_request_denied)
            who = failing[0]["proxy"] if failing else response.headers.get("server", "mitmproxy")
            error = failing[0].get("error", "") if failing else "(mitmproxy error page)"
            findings.append(R_INTERMEDIARY_ERROR.finding(
                f"{code} generated by the intermediary {who}: {error}".rstrip(": "), subject="response.status",
                evidence={"status": code, "intermediary": who, "error": error,
                          "details": failing[0].get("details", "") if failing else ""}))
            return "intermediary", hops
        if 500 <= code <= 599:
            findings.append(R_SERVER_ERROR.finding(f"The origin answered {code} {response.reason}".rstrip(),
                                                   subject="response.status", evidence={"status": code}))
        elif 400 <= code <= 499:
            findings.append(R_CLIENT_ERROR.finding(f"The origin answered {code} {response.reason}".rstrip(),
                                                   subject="response.status", evidence={"status": code}))
        return "origin", hops

    # -- redirects ----------------------------------------------------------------------------------------------

    @staticmethod
    def _redirect(exchange: Exchange, chain: list[str] | None, chains, findings: list[Finding]
                  ) -> tuple[str | None, list[str] | None]:
        response = exchange.response
        assert response is not None
        url, code, method = exchange.request.url, response.status, exchange.request.method.upper()
        location = response.headers.get("location")
        if method == "POST" and code in (301, 302):
            findings.append(R_METHOD_CHANGE.finding(
                f"{code} after POST: browsers follow it with GET and drop the body; use 307/308 (or 303)",
                subject="response.status", evidence={"status": code, "method": method}))
        if location is None:
            findings.append(R_REDIRECT_WITHOUT_LOCATION.finding(subject="response.header.location",
                                                                evidence={"status": code}))
            return None, chain
        raw = location.strip()
        try:
            redirect_to = urljoin(url, raw)
            target = urlsplit(redirect_to)
            absolute = bool(urlsplit(raw).scheme)
        except ValueError:
            redirect_to = None
        if redirect_to is None or not _URI_REFERENCE.match(raw):
            findings.append(R_LOCATION_INVALID.finding(subject="response.header.location",
                                                       evidence={"location": raw[:200]}))
        if redirect_to is None:
            return None, chain
        if not absolute:
            findings.append(R_LOCATION_RELATIVE.finding(
                f"Location '{raw[:80]}' is relative; it resolves to {redirect_to[:120]}",
                subject="response.header.location", evidence={"location": raw[:200], "resolved": redirect_to[:200]}))
        if exchange.request.scheme == "https" and target.scheme.lower() == "http":
            findings.append(R_DOWNGRADE.finding(f"{url[:100]} redirects to plain HTTP: {redirect_to[:100]}",
                                                subject="response.header.location",
                                                evidence={"from": url[:200], "to": redirect_to[:200]}))
        chain = (chain or [url]) + [redirect_to]
        hops = len(chain) - 1
        if redirect_to in chain[:-1]:
            findings.append(R_REDIRECT_LOOP.finding(
                f"Redirect loop: {redirect_to} was already visited in this chain", subject="response.header.location",
                evidence={"location": redirect_to[:200], "hops": hops, "chain": " -> ".join(chain)[:500]}))
            return redirect_to, chain
        if hops > MAX_CHAIN:
            findings.append(R_TOO_MANY.finding(f"{hops} redirects: browsers give up after {MAX_CHAIN}",
                                               subject="response.header.location", evidence={"hops": hops}))
            return redirect_to, chain
        if hops == LONG_CHAIN:  # once per chain, on the hop that makes it long
            findings.append(R_LONG_CHAIN.finding(
                f"{hops} redirects in a row before {redirect_to[:100]}", subject="response.header.location",
                evidence={"hops": hops, "chain": " -> ".join(chain)[:500]}))
        chains[redirect_to] = chain
        return redirect_to, chain

    # -- what the code promises, checked against the headers ---------------------------------------------------

    @staticmethod
    def _semantics(exchange: Exchange, session: Session) -> list[Finding]:
        request, response = exchange.request, exchange.response
        assert response is not None
        code, headers = response.status, response.headers
        findings: list[Finding] = []
        if 100 <= code <= 199 and code != 101:
            findings.append(R_INFORMATIONAL.finding(f"{code} was recorded as the final response",
                                                    subject="response.status", evidence={"status": code}))
        if code == 304 and (request.method.upper() not in ("GET", "HEAD")
                            or not any(h in request.headers for h in CONDITIONS_FOR_304)):
            sent = [h for h in ("if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "if-range")
                    if h in request.headers]
            findings.append(R_304_UNCONDITIONAL.finding(
                subject="response.status",
                evidence={"status": code, "method": request.method, "conditions": ", ".join(sent) or "none"}))
        size = response.body.size if response.body.raw is None else len(response.body.raw)
        if (code in BODILESS or 100 <= code <= 199) and size > 0 and request.method.upper() != "HEAD":
            findings.append(R_BODY_NOT_ALLOWED.finding(f"A {code} response with {size} bytes of content",
                                                       subject="response.content", evidence={"status": code,
                                                                                             "bytes": size}))
        length = headers.get("content-length")
        if code == 204 and length is not None:  # "Content-Length: 0" is harmless in practice: info
            findings.append(R_204_LENGTH.finding(subject="response.header.content-length",
                                                 severity=Severity.INFO if length.strip() == "0" else None,
                                                 evidence={"content_length": length[:50]}))
        if code == 401 and "www-authenticate" not in headers:
            findings.append(R_401_NO_CHALLENGE.finding(subject="response.header.www-authenticate",
                                                       evidence={"status": code}))
        if code == 405 and "allow" not in headers:
            findings.append(R_405_NO_ALLOW.finding(subject="response.header.allow",
                                                   evidence={"status": code, "method": request.method}))
        if code == 416 and "content-range" not in headers:
            findings.append(R_416_NO_RANGE.finding(subject="response.header.content-range",
                                                   evidence={"status": code, "range": request.headers.get("range")}))
        if code in (429, 503) or (300 <= code <= 399 and "retry-after" in headers):
            findings += _retry_after(code, headers.get("retry-after"), session.now)
        phrase = response.reason.strip().lower()
        other = _STANDARD_PHRASES.get(phrase)
        if phrase and other is not None and other != code:
            findings.append(R_REASON_MISMATCH.finding(
                f"Status {code} with the reason phrase \"{response.reason}\", which is {other}'s",
                subject="response.status", evidence={"status": code, "reason": response.reason[:100]}))
        try:
            findings += httplint_notes.to_findings(*httplint_notes.lint_exchange(exchange), _lint_rule)
        except Exception:  # noqa: BLE001, S110 -- caching reports httplint's failure (caching.lint-failed) once
            pass
        return findings


def _retry_after(code: int, value: str | None, now: float) -> list[Finding]:
    subject = "response.header.retry-after"
    if value is None:
        return [R_RETRY_AFTER_MISSING.finding(f"{code} without Retry-After", subject=subject,
                                              evidence={"status": code})]
    valid, seconds = retry_after(value, now or None)
    if not valid:
        return [R_RETRY_AFTER_INVALID.finding(subject=subject, evidence={"status": code, "value": value[:100]})]
    when = f"after {seconds:g} s" if seconds is not None else f"at {value.strip()[:40]}"
    return [R_RETRY_AFTER.finding(f"{code}: retry {when}", subject=subject,
                                  evidence={"status": code, "value": value[:100], "seconds": seconds})]


# `mitmdump -s addons/status.py` (or mitmweb) runs this analyzer in-process.
addons = [InProcess([StatusAnalyzer()])]
