"""Strict HAR 1.2 validator for tests.

Derived from the HAR 1.2 spec (http://www.softwareishard.com/blog/har-12-spec/).
Quoted phrases in comments below are the spec's own wording.

Two layers:

* ``HAR_SCHEMA`` -- a JSON Schema (draft 2020-12) for every HAR 1.2 object.
  It is deliberately stricter than most published HAR schemas:

  - required fields are exactly the spec's non-optional fields;
  - integer-valued fields (status, headersSize, bodySize, content.size, ...)
    must be real integers -- ``200.0`` is rejected by ``validate_har`` (see
    ``_STRICT_TYPES``), because ``json.dumps(200.0)`` writes ``200.0``;
  - every object is closed: "Custom fields and elements MUST start with an
    underscore", so keys starting with ``_`` are allowed anywhere and any other
    unknown key (a typo such as ``"tmings"``) is an error.

* ``validate_har`` -- runs the schema and then the cross-field checks that
  JSON Schema cannot express (dates, timing arithmetic, page references,
  base64 bodies, ...).

Public API: ``HAR_SCHEMA``, ``validate_har(har) -> list[str]``,
``assert_valid_har(har) -> None``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
from datetime import datetime
from typing import Any, Iterator
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator
from jsonschema.validators import extend

__all__ = ["HAR_SCHEMA", "validate_har", "assert_valid_har"]

# ---------------------------------------------------------------------------
# Schema building blocks
# ---------------------------------------------------------------------------

_STRING = {"type": "string"}
# "comment [string, optional] (new in 1.2) - A comment provided by the user or
# the application." -- allowed on every object of HAR 1.2.
_COMMENT = _STRING
# "Custom fields and elements MUST start with an underscore" -- any value.
_CUSTOM_FIELDS = {"^_": {}}


def _obj(required: list[str], properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A closed object schema: spec fields + ``comment`` + ``_custom`` fields only."""
    properties = {**properties, "comment": _COMMENT}
    missing = set(required) - set(properties)
    assert not missing, f"required fields without a schema: {missing}"
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "patternProperties": _CUSTOM_FIELDS,
        "additionalProperties": False,
        **extra,
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def _array_of(name: str) -> dict[str, Any]:
    return {"type": "array", "items": _ref(name)}


_DEFS: dict[str, Any] = {
    # -- shared scalar shapes ------------------------------------------------
    # headersSize / bodySize: "Total number of bytes ..." with "-1" as the
    # default, i.e. "-1" means "not available".
    "sizeOrUnknown": {
        "description": "an integer byte count >= 0, or -1 if not available",
        "type": "integer",
        "anyOf": [{"const": -1}, {"minimum": 0}],
    },
    # Optional timings (blocked, dns, connect, ssl) and pageTimings:
    # "Tools that can provide these timings can set their values to -1 if they
    # don't apply."
    "timingOrNotApplicable": {
        "description": "milliseconds >= 0, or -1 if the phase does not apply",
        "type": "number",
        "anyOf": [{"const": -1}, {"minimum": 0}],
    },
    # "The send, wait and receive timings are not optional and must have
    # non-negative values."
    "requiredTiming": {"type": "number", "minimum": 0},
    # startedDateTime / cookie expires: "(ISO 8601)". The exact format is
    # checked semantically in validate_har (JSON Schema's "format" is only an
    # annotation in draft 2020-12).
    "isoDateTime": {"type": "string", "minLength": 1},
    # -- log -----------------------------------------------------------------
    "log": _obj(
        ["version", "creator", "entries"],
        {
            # "version [string] - Version number of the format." This is a
            # strict 1.2 validator, so only "1.2" is accepted.
            "version": {"type": "string", "const": "1.2"},
            "creator": _ref("creator"),
            "browser": _ref("browser"),
            # "pages [array, optional] ... Leave out this field if the
            # application does not support grouping by pages."
            "pages": _array_of("page"),
            "entries": _array_of("entry"),
        },
    ),
    # -- creator / browser: same structure ------------------------------------
    "creator": _obj(["name", "version"], {"name": _STRING, "version": _STRING}),
    "browser": _obj(["name", "version"], {"name": _STRING, "version": _STRING}),
    # -- pages ---------------------------------------------------------------
    "page": _obj(
        ["startedDateTime", "id", "title", "pageTimings"],
        {
            "startedDateTime": _ref("isoDateTime"),
            # "Unique identifier of a page within the <log>. Entries use it
            # to refer the parent page." (uniqueness: checked semantically)
            "id": _STRING,
            "title": _STRING,
            "pageTimings": _ref("pageTimings"),
        },
    ),
    # "All times are specified in milliseconds. If a time info is not
    # available appropriate field is set to -1."
    "pageTimings": _obj(
        [],
        {
            "onContentLoad": _ref("timingOrNotApplicable"),
            "onLoad": _ref("timingOrNotApplicable"),
        },
    ),
    # -- entries -------------------------------------------------------------
    "entry": _obj(
        ["startedDateTime", "time", "request", "response", "cache", "timings"],
        {
            # "pageref [string, unique, optional] - Reference to the parent
            # page." (existence of the page: checked semantically)
            "pageref": _STRING,
            "startedDateTime": _ref("isoDateTime"),
            # "Total elapsed time of the request in milliseconds. This is the
            # sum of all timings available in the timings object (i.e. not
            # including -1 values)" (the sum: checked semantically)
            "time": {"type": "number", "minimum": 0},
            "request": _ref("request"),
            "response": _ref("response"),
            "cache": _ref("cache"),
            "timings": _ref("timings"),
            # "IP address of the server that was connected (result of DNS
            # resolution)." (address syntax: checked semantically)
            "serverIPAddress": _STRING,
            # "Unique ID of the parent TCP/IP connection, can be the client or
            # server port number." -- a string, even for a port number.
            "connection": _STRING,
        },
    ),
    # -- request -------------------------------------------------------------
    "request": _obj(
        [
            "method",
            "url",
            "httpVersion",
            "cookies",
            "headers",
            "queryString",
            "headersSize",
            "bodySize",
        ],
        {
            "method": {"type": "string", "minLength": 1},
            # "Absolute URL of the request (fragments are not included)."
            # (checked semantically)
            "url": {"type": "string", "minLength": 1},
            "httpVersion": _STRING,
            "cookies": _array_of("cookie"),
            "headers": _array_of("header"),
            "queryString": _array_of("queryParam"),
            "postData": _ref("postData"),
            "headersSize": _ref("sizeOrUnknown"),
            "bodySize": _ref("sizeOrUnknown"),
        },
    ),
    # -- response ------------------------------------------------------------
    "response": _obj(
        [
            "status",
            "statusText",
            "httpVersion",
            "cookies",
            "headers",
            "content",
            "redirectURL",
            "headersSize",
            "bodySize",
        ],
        {
            # An HTTP status code; 0 is used by exporters (browsers included)
            # for requests that got no response at all (errored entries).
            "status": {"type": "integer", "minimum": 0, "maximum": 999},
            "statusText": _STRING,
            "httpVersion": _STRING,
            "cookies": _array_of("cookie"),
            "headers": _array_of("header"),
            "content": _ref("content"),
            # "Redirection target URL from the Location response header."
            # Required, but may be "" when there is no redirect.
            "redirectURL": _STRING,
            "headersSize": _ref("sizeOrUnknown"),
            # "Set to 0 in case of responses coming from the cache (304)."
            "bodySize": _ref("sizeOrUnknown"),
        },
    ),
    # -- cookies -------------------------------------------------------------
    "cookie": _obj(
        ["name", "value"],
        {
            "name": _STRING,
            "value": _STRING,
            "path": _STRING,
            "domain": _STRING,
            # "expires [string, optional] - Cookie expiration time. (ISO 8601)"
            "expires": _ref("isoDateTime"),
            "httpOnly": {"type": "boolean"},
            "secure": {"type": "boolean"},
        },
    ),
    # -- headers / queryString: same structure --------------------------------
    "header": _obj(["name", "value"], {"name": _STRING, "value": _STRING}),
    "queryParam": _obj(["name", "value"], {"name": _STRING, "value": _STRING}),
    # -- postData ------------------------------------------------------------
    # "text and params fields are mutually exclusive." Both are listed as
    # required-ish ("yes*"): one of them must be present. Real exporters
    # (e.g. Chrome for url-encoded forms) emit both, so both are tolerated.
    "postData": _obj(
        ["mimeType"],
        {
            "mimeType": _STRING,
            "params": _array_of("postParam"),
            "text": _STRING,
        },
        description="postData needs 'params' or 'text' (next to 'mimeType')",
        anyOf=[{"required": ["params"]}, {"required": ["text"]}],
    ),
    "postParam": _obj(
        ["name"],
        {
            "name": _STRING,
            "value": _STRING,
            "fileName": _STRING,
            "contentType": _STRING,
        },
    ),
    # -- content -------------------------------------------------------------
    "content": _obj(
        ["size", "mimeType"],
        {
            # "Length of the returned content in bytes." (no -1 in the spec)
            "size": {"type": "integer", "minimum": 0},
            # "Number of bytes saved." Can be negative when encoding grew the
            # body, so only the type is checked.
            "compression": {"type": "integer"},
            "mimeType": _STRING,
            "text": _STRING,
            # "Encoding used for response text field e.g "base64"."
            # (base64 validity of text: checked semantically)
            "encoding": _STRING,
        },
    ),
    # -- cache ---------------------------------------------------------------
    # "beforeRequest [object, optional] - State of a cache entry before the
    # request." The spec's examples use null for "there is no cache entry".
    "cache": _obj(
        [],
        {
            "beforeRequest": _ref("cacheState"),
            "afterRequest": _ref("cacheState"),
        },
    ),
    # beforeRequest / afterRequest. Nullable via "type" rather than anyOf so
    # that a missing field is reported as such, not as an opaque anyOf failure.
    # The dates are not checked: the spec's own example uses
    # "2009-16-02T15:50:34" (month 16) and no timezone.
    "cacheState": _obj(
        ["lastAccess", "eTag", "hitCount"],
        {
            "expires": _STRING,
            "lastAccess": _STRING,
            "eTag": _STRING,
            "hitCount": {"type": "integer", "minimum": 0},
        },
        type=["object", "null"],
    ),
    # -- timings -------------------------------------------------------------
    "timings": _obj(
        ["send", "wait", "receive"],
        {
            "blocked": _ref("timingOrNotApplicable"),
            "dns": _ref("timingOrNotApplicable"),
            "connect": _ref("timingOrNotApplicable"),
            "send": _ref("requiredTiming"),
            "wait": _ref("requiredTiming"),
            "receive": _ref("requiredTiming"),
            "ssl": _ref("timingOrNotApplicable"),
        },
    ),
}

HAR_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:proxylens:har-1.2-strict",
    "title": "HTTP Archive (HAR) 1.2, strict",
    **_obj(["log"], {"log": _ref("log")}),
    "$defs": _DEFS,
}
# The root object has no "comment" in the spec, only "log".
del HAR_SCHEMA["properties"]["comment"]


# ---------------------------------------------------------------------------
# Schema validation
# ---------------------------------------------------------------------------


def _is_strict_integer(_checker: Any, instance: Any) -> bool:
    # jsonschema (per the JSON Schema spec) treats 1.0 as an integer; HAR
    # consumers with typed parsers (Go, Rust, Java) do not.
    return isinstance(instance, int) and not isinstance(instance, bool)


_STRICT_TYPES = Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_strict_integer)
_StrictValidator = extend(Draft202012Validator, type_checker=_STRICT_TYPES)
_VALIDATOR = _StrictValidator(HAR_SCHEMA)

_MAX_MESSAGE = 300


def _json_path(parts: Any) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _schema_problems(har: Any) -> list[str]:
    problems = []
    errors = sorted(_VALIDATOR.iter_errors(har), key=lambda e: (_json_path(e.absolute_path), e.message))
    for error in errors:
        path = _json_path(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            # jsonschema's own wording ("'x' does not match any of the regexes:
            # '^_'") hides the field name's role; name each unknown field.
            known = error.schema.get("properties", {})
            for key in error.instance:
                if key not in known and not str(key).startswith("_"):
                    problems.append(
                        f"{path}.{key}: unknown field {key!r} was unexpected"
                        " (HAR 1.2 allows only spec fields and custom fields starting with '_')"
                    )
            continue
        message = error.message
        # anyOf failures ("... is not valid under any of the given schemas")
        # are opaque; our anyOf schemas carry a description saying what is
        # expected.
        if error.validator == "anyOf" and "description" in error.schema:
            message = f"{error.schema['description']} (got {error.instance!r})"
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 3] + "..."
        problems.append(f"{path}: {message}")
    return problems


# ---------------------------------------------------------------------------
# Semantic checks (what JSON Schema cannot express)
# ---------------------------------------------------------------------------
#
# These run even when the schema failed, so they must tolerate any shape:
# every access is guarded and ill-typed values are skipped (the schema has
# already reported them).

# "The time value for the request must be equal to the sum of the timings
# supplied in this section (excluding any -1 values)." ssl is excluded: "If
# the ssl field is defined then the time is also included in the connect
# field (to ensure backward compatibility with HAR 1.1)".
_SUMMED_TIMINGS = ("blocked", "dns", "connect", "send", "wait", "receive")
_TIME_TOLERANCE_MS = 1.0 + 1e-6


def _number(value: Any) -> float | None:
    """``value`` if it is a real (non-bool) finite number, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def _dicts(value: Any) -> Iterator[tuple[int, dict]]:
    """(index, item) for the dict items of ``value`` if it is a list."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict):
                yield i, item


def _check_datetime(value: Any, path: str, problems: list[str], *, need_tz: bool) -> None:
    if not isinstance(value, str) or not value:
        return  # reported by the schema
    try:
        parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        problems.append(f"{path}: {value!r} is not an ISO 8601 date-time")
        return
    if "T" not in value:
        # fromisoformat() also takes a bare date or a space separator; ISO 8601
        # date-times use "T".
        problems.append(f"{path}: {value!r} is not an ISO 8601 date-time (no 'T' between date and time)")
    elif need_tz and parsed.tzinfo is None:
        problems.append(f"{path}: {value!r} has no timezone (expected e.g. 'Z' or '+01:00')")


def _check_non_finite(value: Any, path: str, problems: list[str]) -> None:
    # NaN/Infinity pass JSON Schema's "number" but are not valid JSON (Python's
    # json.dumps writes them as bare NaN/Infinity tokens).
    if isinstance(value, float) and not math.isfinite(value):
        problems.append(f"{path}: {value!r} is not a finite number (not valid JSON)")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_non_finite(item, f"{path}.{key}", problems)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_non_finite(item, f"{path}[{i}]", problems)


def _check_timings(entry: dict, path: str, problems: list[str]) -> None:
    timings = entry.get("timings")
    if not isinstance(timings, dict):
        return
    tpath = f"{path}.timings"

    # "If the ssl field is defined then the time is also included in the
    # connect field" -- so a real ssl time needs a connect time at least as big.
    ssl = _number(timings.get("ssl"))
    connect = _number(timings.get("connect", -1))  # omitted == -1
    if ssl is not None and ssl >= 0 and connect is not None:
        if connect < 0:
            problems.append(
                f"{tpath}.connect: {connect!r} (omitted counts as -1) but ssl is {ssl!r};"
                " connect must include the ssl time"
            )
        elif connect < ssl:
            problems.append(f"{tpath}.connect: {connect!r} is less than ssl {ssl!r}; connect must include the ssl time")

    # entry.time == blocked + dns + connect + send + wait + receive, -1 excluded.
    time = _number(entry.get("time"))
    present = {name: _number(timings[name]) for name in _SUMMED_TIMINGS if name in timings}
    if time is None or None in present.values() or not {"send", "wait", "receive"} <= present.keys():
        return  # a missing field or type problem, reported by the schema
    counted = {name: value for name, value in present.items() if value >= 0}
    total = sum(counted.values())
    if abs(time - total) > _TIME_TOLERANCE_MS:
        terms = " + ".join(counted) or "no timings"
        problems.append(
            f"{path}.time: {time!r} is not the sum of the timings ({terms} = {total!r}; -1 values and ssl excluded)"
        )


def _check_request(request: Any, path: str, problems: list[str]) -> None:
    if not isinstance(request, dict):
        return
    url = request.get("url")
    if isinstance(url, str) and url:
        # "Absolute URL of the request (fragments are not included)."
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            problems.append(f"{path}.url: {url!r} is not a valid URL ({exc})")
        else:
            if not parts.scheme or not parts.netloc:
                problems.append(f"{path}.url: {url!r} is not an absolute URL (scheme://host/...)")
            if "#" in url:
                problems.append(f"{path}.url: {url!r} includes a fragment (the spec says fragments are not included)")
    for i, cookie in _dicts(request.get("cookies")):
        if "expires" in cookie:
            _check_datetime(cookie["expires"], f"{path}.cookies[{i}].expires", problems, need_tz=False)


def _check_response(response: Any, path: str, problems: list[str]) -> None:
    if not isinstance(response, dict):
        return
    for i, cookie in _dicts(response.get("cookies")):
        if "expires" in cookie:
            _check_datetime(cookie["expires"], f"{path}.cookies[{i}].expires", problems, need_tz=False)
    content = response.get("content")
    if not isinstance(content, dict):
        return
    # "The text field is either HTTP decoded text or a encoded (e.g. "base64")
    # representation of the response body"
    encoding, text = content.get("encoding"), content.get("text")
    if encoding == "base64" and isinstance(text, str):
        try:
            base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            problems.append(f"{path}.content.text: not valid base64 although encoding is 'base64' ({exc})")


def _check_server_ip(entry: dict, path: str, problems: list[str]) -> None:
    address = entry.get("serverIPAddress")
    if not isinstance(address, str):
        return
    # Chrome writes IPv6 addresses in brackets ("[::1]"); tolerate that.
    bare = address[1:-1] if address.startswith("[") and address.endswith("]") else address
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        problems.append(f"{path}.serverIPAddress: {address!r} is not an IP address")


def _semantic_problems(har: Any) -> list[str]:
    problems: list[str] = []
    _check_non_finite(har, "$", problems)
    log = har.get("log") if isinstance(har, dict) else None
    if not isinstance(log, dict):
        return problems

    page_ids: set[str] = set()
    for i, page in _dicts(log.get("pages")):
        path = f"$.log.pages[{i}]"
        _check_datetime(page.get("startedDateTime"), f"{path}.startedDateTime", problems, need_tz=True)
        page_id = page.get("id")
        if isinstance(page_id, str):
            # "Unique identifier of a page within the <log>."
            if page_id in page_ids:
                problems.append(f"{path}.id: duplicate page id {page_id!r}")
            page_ids.add(page_id)

    for i, entry in _dicts(log.get("entries")):
        path = f"$.log.entries[{i}]"
        _check_datetime(entry.get("startedDateTime"), f"{path}.startedDateTime", problems, need_tz=True)
        pageref = entry.get("pageref")
        if isinstance(pageref, str) and pageref not in page_ids:
            problems.append(f"{path}.pageref: {pageref!r} does not match any page id in $.log.pages")
        _check_timings(entry, path, problems)
        _check_request(entry.get("request"), f"{path}.request", problems)
        _check_response(entry.get("response"), f"{path}.response", problems)
        _check_server_ip(entry, path, problems)
    return problems


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def validate_har(har: dict) -> list[str]:
    """Return every problem found in ``har`` (empty list when it is valid).

    Each problem is ``"<JSON path>: <message>"``, e.g.
    ``"$.log.entries[0].timings.connect: 5 is less than ssl 10 ..."``.
    """
    return _schema_problems(har) + _semantic_problems(har)


def assert_valid_har(har: dict) -> None:
    """Raise AssertionError listing all problems if ``har`` is not valid HAR 1.2."""
    problems = validate_har(har)
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise AssertionError(f"invalid HAR 1.2 ({len(problems)} problem(s)):\n{listing}")
