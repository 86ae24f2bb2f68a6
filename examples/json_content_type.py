"""JSON APIs must label JSON correctly.

Enforces, on responses:

- ``api.json-content-type``: a body that is a JSON object or array is served with a JSON media type
  (``application/json`` or a ``+json`` type such as ``application/problem+json``). JSON served as
  ``text/html`` can be rendered as HTML, so any user input in it becomes cross-site scripting; clients
  that check the type refuse it. Only objects and arrays count: a body ``42`` or ``true`` is valid JSON
  but just as plausibly plain text. Newline-delimited JSON types are correct labels, not flagged.
- ``api.json-charset``: a JSON media type with a charset other than UTF-8. RFC 8259 section 8.1: JSON
  exchanged between systems "MUST be encoded using UTF-8"; clients that honour the label (requests,
  .NET) decode the body wrongly.

Bodies are read only when captured and at most 1 MiB (the proxy captures textual types by default; use
``--body-capture all`` to see JSON served as ``application/octet-stream`` too).

Load: ``proxylens proxy -s examples/json_content_type.py`` or ``--check examples.json_content_type``.
"""

import json

from proxy import Severity, analyzer, rule

CONTENT_TYPE = rule(
    "api.json-content-type", Severity.WARNING, "A JSON body is served without a JSON media type.",
    reference="https://www.rfc-editor.org/rfc/rfc8259#section-11",
    detail="The media type of JSON is `application/json` (or a `+json` type). Served as `text/html`, JSON "
           "echoing user input is an XSS vector; served as `text/plain`, clients that check the type reject "
           "it. Set `Content-Type: application/json` (and `X-Content-Type-Options: nosniff`).",
)
CHARSET = rule(
    "api.json-charset", Severity.WARNING, "JSON is labelled with a charset other than UTF-8.",
    reference="https://www.rfc-editor.org/rfc/rfc8259#section-8.1",
    detail="JSON between systems must be UTF-8 (RFC 8259 section 8.1). Encode the body as UTF-8 and drop "
           "the charset parameter (`application/json` defines none), or send `charset=utf-8`.",
)
LIMIT = 1024 * 1024
NDJSON = {"application/x-ndjson", "application/jsonl", "application/json-seq"}  # one record is valid JSON
# WHATWG Encoding's labels for UTF-8. RFC 8259 section 11: application/json defines no charset parameter
# and "adding one really has no effect on compliant recipients": charset=utf-8 is harmless, never flagged.
UTF8 = {"utf-8", "utf8", "unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "x-unicode20utf8"}


def _reject(constant: str):
    raise ValueError(f"{constant} is not JSON")  # json.loads accepts NaN and Infinity; RFC 8259 does not


@analyzer("json_content_type")
def json_content_type(exchange):
    response = exchange.response
    if response is None:
        return
    content_type = response.headers.get("content-type")
    mtype, *params = (content_type or "").lower().split(";")
    mtype = mtype.strip()
    if mtype == "application/json" or (mtype.endswith("+json") and "/" in mtype):
        charsets = [v.strip().strip('"') for k, _, v in (p.partition("=") for p in params) if k.strip() == "charset"]
        if charsets and charsets[-1] not in UTF8:
            yield CHARSET.finding(f"{mtype} labelled charset={charsets[-1]}", subject="response.header.content-type",
                                  evidence={"content_type": content_type})
        return
    body = response.body
    if mtype in NDJSON or exchange.request.method == "HEAD" or body.truncated or max(
            body.size, body.decoded_size or 0) > LIMIT:
        return
    text = (response.text(limit=LIMIT) or "").strip()  # None: not captured, or not text
    if not text.startswith(("{", "[")):
        return
    try:
        json.loads(text, parse_constant=_reject)
    except (ValueError, RecursionError):  # not JSON; or nested deeper than Python's stack allows
        return
    yield CONTENT_TYPE.finding(f"JSON served as {mtype or 'no Content-Type'}", subject="response.header.content-type",
                               evidence={"content_type": content_type, "status": response.status})
