"""Replace CR, LF and NUL inside header field values (and reason phrases) with spaces before forwarding.

mitmproxy 11 forwards a field value containing a bare CR, a NUL, or an
obs-fold (a line break followed by whitespace) as it came. A downstream
parser that ends lines at a bare CR would then see a header the proxy did
not: "X: a\\rSet-Cookie: injected=1" is a cookie to it. The RFCs leave a proxy
two choices, and this addon takes the one that keeps traffic flowing:

- RFC 9110 section 5.5: "Field values containing CR, LF, or NUL characters
  are invalid and dangerous [...] a recipient of CR, LF, or NUL within a
  field value MUST either reject the message or replace each of those
  characters with SP before further processing or forwarding of that message."
- RFC 9112 section 5.2: a proxy receiving obs-fold MUST either reject the
  message or "replace each received obs-fold with one or more SP octets
  prior to interpreting the field value or forwarding the message downstream."

The reason phrase gets the same treatment (RFC 9112 section 4: reason-phrase
is HTAB, SP, VCHAR and obs-text only). Each replacement is said once per
host and field name on the proxy's log, since it changes what is forwarded.
"""

from __future__ import annotations

import logging
import re

from mitmproxy import http

logger = logging.getLogger(__name__)

_FORBIDDEN = re.compile(rb"[\r\n\x00]")
MAX_REPORTED = 1000  # (host, field) pairs remembered for the once-only message


class FieldSanitizer:
    def __init__(self) -> None:
        self._reported: set[tuple[str, str]] = set()

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self._clean(flow.request.headers, flow, "the client", "request")

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        response = flow.response
        assert response is not None
        self._clean(response.headers, flow, flow.request.pretty_host, "response")
        if _FORBIDDEN.search(response.data.reason):
            response.data.reason = _FORBIDDEN.sub(b" ", response.data.reason)
            self._say(flow.request.pretty_host, "reason phrase", "response")

    def _clean(self, headers: http.Headers, flow: http.HTTPFlow, sender: str, message: str) -> None:
        fields = headers.fields
        if not any(_FORBIDDEN.search(value) for _, value in fields):
            return
        cleaned = []
        for name, value in fields:
            if _FORBIDDEN.search(value):
                value = _FORBIDDEN.sub(b" ", value)
                self._say(sender if sender != "the client" else f"the client of {flow.request.pretty_host}",
                          f"{name.decode('latin-1')} header", message)
            cleaned.append((name, value))
        headers.fields = tuple(cleaned)

    def _say(self, sender: str, what: str, message: str) -> None:
        key = (sender, what)
        if key in self._reported or len(self._reported) >= MAX_REPORTED:
            return
        self._reported.add(key)
        logger.warning("proxylens: %s sent CR, LF or NUL (or a folded line) in the %s of a %s; each was replaced "
                       "with a space before forwarding, as RFC 9110 section 5.5 requires, so no one downstream "
                       "can read it as a second header", sender, what, message)
