"""Exchange + analysis -> one HAR 1.2 entry (dict), redacted unless told otherwise.

HAR 1.2: http://www.softwareishard.com/blog/har-12-spec/ . Extensions use a
leading underscore, as the spec allows: ``_proxylens``, ``_error``,
``_serverPort`` and Playwright's ``_securityDetails``.
"""

from __future__ import annotations

import base64
import functools
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl

from . import redact as R
from .bodies import BodyText, body_text
from .findings import Finding, Severity
from .models import Body, Exchange, Headers, ServerTLS
from .pipeline import Result

HAR_VERSION = "1.2"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _headers(headers: Headers, redact: bool) -> list[dict]:
    if redact:
        return [{"name": k, "value": R.redact_header(k, v)} for k, v in headers]
    return [{"name": k, "value": v} for k, v in headers]


def request_cookies(headers: Headers) -> list[tuple[str, str]]:
    pairs = []
    for line in headers.get_all("cookie"):
        for part in line.split(";"):
            name, sep, value = part.strip().partition("=")
            if sep and name:
                pairs.append((name, value))
    return pairs


def response_cookies(headers: Headers, redact: bool) -> list[dict]:
    cookies = []
    for line in headers.get_all("set-cookie"):
        first, *attrs = line.split(";")
        name, sep, value = first.strip().partition("=")
        if not sep or not name:
            continue
        cookie: dict[str, Any] = {"name": name, "value": R.REDACTED if redact else value}
        for attr in attrs:
            key, _, val = attr.strip().partition("=")
            key = key.lower()
            if key in ("path", "domain"):
                cookie[key] = val
            elif key == "expires":
                # HAR wants ISO 8601; Set-Cookie carries an HTTP-date (RFC 6265 section 5.1.1).
                try:
                    cookie["expires"] = parsedate_to_datetime(val).isoformat()
                except (TypeError, ValueError, IndexError):
                    cookie["_expires"] = val
            elif key == "httponly":
                cookie["httpOnly"] = True
            elif key == "secure":
                cookie["secure"] = True
        cookies.append(cookie)
    return cookies


def _pairs(pairs: list[tuple[str, str]]) -> list[dict]:
    return [{"name": k, "value": v} for k, v in pairs]


@functools.lru_cache(maxsize=256)
def _security_details(leaf_der: bytes, protocol: str | None) -> dict:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_der_x509_certificate(leaf_der)

    def cn(name: x509.Name) -> str:
        attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(attrs[0].value) if attrs else name.rfc4514_string()

    return {
        "protocol": (protocol or "").replace("TLSv", "TLS "),
        "subjectName": cn(cert.subject),
        "issuer": cn(cert.issuer),
        "validFrom": int(cert.not_valid_before_utc.timestamp()),
        "validTo": int(cert.not_valid_after_utc.timestamp()),
    }


def security_details(tls: ServerTLS | None) -> dict | None:
    """Playwright's ``_securityDetails`` for the upstream certificate."""
    if tls is None:
        return None
    if tls.certificate_chain:
        try:
            return _security_details(tls.certificate_chain[0], tls.version)
        except ValueError:
            return None
    return tls.security_details


def findings_comment(findings: list[Finding]) -> str:
    """The entry's one-line ``comment``: worst findings first."""
    if not findings:
        return "proxylens: no findings"
    ordered = sorted(findings, key=lambda f: -f.severity.rank)
    counts = {s: sum(1 for f in findings if f.severity is s) for s in Severity}
    tally = ", ".join(f"{n} {s.value}" for s, n in sorted(counts.items(), key=lambda i: -i[0].rank) if n)
    worst = "; ".join(f"{f.rule}: {f.summary}" for f in ordered[:3])
    return f"proxylens: {tally} — {worst}"[:500]


_HEADER_KEYS = {"authorization", "proxy-authorization", "cookie", "set-cookie"}


def _redact_value(value: Any, key: str = "") -> Any:
    """Facts and evidence may quote URLs, header values and error messages.

    Redacted mostly by value, not by key name: fact fields such as
    ``cors.credentials`` ("include" or "omit") are not secrets, while a URL's
    token or a JWT is, whatever key holds it. The one exception: a value under
    a key named like a credential header (authorization, proxy-authorization,
    cookie, set-cookie) is redacted as that header's value would be."""
    if isinstance(value, str):
        if key.lower() in _HEADER_KEYS:
            return R.redact_header(key, value)
        return R.redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(v, key) for v in value]
    return value


def _redact_as_any(text: str, headers: Headers) -> str:
    """Redact the body as each media type its Content-Type field lines name: with the field repeated
    ("", then a form type), joining them would name no type at all and leak the form's secrets."""
    types = list(dict.fromkeys(v.strip() for v in headers.get_all("content-type") if v.strip())) or [""]
    for mime in types:
        text = R.redact_body(text, mime)
    return text


def _body(body: Body, headers: Headers, redact: bool, limit: int | None) -> BodyText:
    text = body_text(body, headers, limit)
    if not redact or text.text is None:
        return text
    if text.encoding is None:
        return BodyText(_redact_as_any(text.text, headers), None, text.size, text.cut)
    if text.encoding == "base64":
        # Not decodable in its charset (a latin-1 form, a multipart upload with
        # a binary part): redact over latin-1, which maps bytes 1:1, so the
        # bytes around a redacted value come back unchanged.
        try:
            raw = base64.b64decode(text.text).decode("latin-1")
        except ValueError:
            return text
        redacted = _redact_as_any(raw, headers)
        if redacted != raw:
            return BodyText(base64.b64encode(redacted.encode("latin-1")).decode("ascii"), "base64", text.size,
                            text.cut)
    return text


def _not_captured(size: int) -> str:
    return f"body not captured ({size} bytes); see --body-capture and --max-body" if size > 0 else \
        "body not captured; see --body-capture and --max-body"


def har_entry(result: Result, *, redact: bool = True, pageref: str | None = None,
              max_body: int | None = None) -> dict:
    """The HAR entry; *max_body* caps decoded bodies (None: no cap)."""
    ex: Exchange = result.exchange
    req = ex.request
    url = R.redact_url(req.url) if redact else req.url
    query = req.query
    cookies = request_cookies(req.headers)
    if redact:
        query = R.redact_query_pairs(query)
        cookies = R.redact_cookie_pairs(cookies)
    has_body = bool(req.body.size or req.body.raw or req.body.text)
    request: dict[str, Any] = {
        "method": req.method,
        "url": url,
        "httpVersion": req.http_version,
        "cookies": _pairs(cookies),
        "headers": _headers(req.headers, redact),
        "queryString": _pairs(query),
        "headersSize": -1,
        "bodySize": max(req.body.size, -1) if has_body else 0,
    }
    if has_body:
        mime = req.headers.get("content-type") or ""
        text = _body(req.body, req.headers, redact, max_body)
        # HAR 1.2 wants text or params; an empty text with a comment says
        # "not captured" without pretending the body was empty.
        post: dict[str, Any] = {"mimeType": mime, "text": text.text or ""}
        if text.text is None:
            post["comment"] = _not_captured(req.body.size)
        elif text.encoding:
            post["_encoding"] = text.encoding
        elif mime.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
            post["params"] = _pairs(parse_qsl(text.text, keep_blank_values=True))
        if req.body.truncated or text.cut:
            post["_truncated"] = True
        request["postData"] = post

    resp = ex.response
    if resp is not None:
        mime = resp.headers.get("content-type") or ""
        text = _body(resp.body, resp.headers, redact, max_body)
        content: dict[str, Any] = {"size": text.size, "mimeType": mime}
        if text.text is not None:
            content["text"] = text.text
            if text.encoding:
                content["encoding"] = text.encoding
        elif text.size:
            content["comment"] = _not_captured(text.size)
        if resp.body.truncated or text.cut:
            content["_truncated"] = True
        if resp.body.size >= 0 and text.size:
            content["compression"] = text.size - resp.body.size
        location = resp.headers.get("location") or ""
        response: dict[str, Any] = {
            "status": resp.status,
            "statusText": resp.reason,
            "httpVersion": resp.http_version,
            "cookies": response_cookies(resp.headers, redact),
            "headers": _headers(resp.headers, redact),
            "content": content,
            "redirectURL": R.redact_url(location) if redact else location,
            "headersSize": -1,
            "bodySize": resp.body.size,
        }
    else:
        # HAR has no place for "no response"; the de-facto convention (Chrome,
        # Firefox) is status 0 with an empty content and the error beside it.
        response = {
            "status": 0,
            "statusText": "",
            "httpVersion": req.http_version,
            "cookies": [],
            "headers": [],
            "content": {"size": 0, "mimeType": "x-unknown", "text": ""},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        }
    error_message = None
    if ex.error is not None:
        error_message = R.redact_text(ex.error.message) if redact else ex.error.message
        response["_error"] = error_message
        response["_errorKind"] = ex.error.kind
        if ex.error.proxy_status is not None:
            response["_proxyStatus"] = ex.error.proxy_status  # what proxylens answered the client with

    t = ex.timings
    timings = {
        "blocked": round(t.blocked, 3),
        "dns": round(t.dns, 3),
        "connect": round(t.connect, 3),
        "ssl": round(t.ssl, 3),
        "send": round(t.send, 3),
        "wait": round(t.wait, 3),
        "receive": round(t.receive, 3),
    }
    facts = result.facts
    found = result.findings
    if redact:
        facts = _redact_value(facts)
        found = [f.model_copy(update={"summary": R.redact_text(f.summary), "detail": R.redact_text(f.detail),
                                      "evidence": _redact_value(f.evidence)}) for f in found]
    entry: dict[str, Any] = {
        "startedDateTime": iso(t.started),
        "time": round(sum(v for k, v in timings.items() if k != "ssl" and v > 0), 3),
        "request": request,
        "response": response,
        "cache": {},
        "timings": timings,
        "comment": findings_comment(found),
        "_proxylens": {"facts": facts, "findings": [f.to_json() for f in found]},
    }
    if pageref:
        entry["pageref"] = pageref
    if ex.server_ip:
        entry["serverIPAddress"] = ex.server_ip
    if ex.server_address:
        entry["_serverPort"] = ex.server_address[1]
    if ex.connection_id:
        entry["connection"] = ex.connection_id
    if error_message is not None:
        entry["_error"] = error_message
    details = security_details(ex.server_tls)
    if details:
        entry["_securityDetails"] = details
    return entry
