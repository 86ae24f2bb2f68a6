"""Tests for the strict HAR 1.2 validator in tests/harschema.py.

The point of these tests is to show that the validator *can fail*: a known
good HAR passes, and each targeted corruption of it is reported with the
offending field named in the message.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from tests.harschema import HAR_SCHEMA, assert_valid_har, validate_har

# ---------------------------------------------------------------------------
# A minimal valid HAR: one page, one successful entry, one errored entry
# ---------------------------------------------------------------------------

_VALID_HAR: dict[str, Any] = {
    "log": {
        "version": "1.2",
        "creator": {"name": "proxylens", "version": "0.1.0"},
        "pages": [
            {
                "startedDateTime": "2009-04-16T12:07:25.123+01:00",
                "id": "page_0",
                "title": "Test Page",
                "pageTimings": {"onContentLoad": 1720, "onLoad": -1},
            }
        ],
        "entries": [
            {
                "pageref": "page_0",
                "startedDateTime": "2009-04-16T12:07:23.596Z",
                # blocked + dns(-1: excluded) + connect + send + wait + receive
                # = 0 + 15 + 20 + 38 + 12.25; ssl (10) is part of connect.
                "time": 85.25,
                "request": {
                    "method": "POST",
                    "url": "https://www.example.com/path/?param=value",
                    "httpVersion": "HTTP/1.1",
                    "cookies": [{"name": "sid", "value": "abc", "httpOnly": True, "secure": True}],
                    "headers": [{"name": "Content-Type", "value": "application/x-www-form-urlencoded"}],
                    "queryString": [{"name": "param", "value": "value"}],
                    "postData": {
                        "mimeType": "application/x-www-form-urlencoded",
                        "params": [{"name": "a", "value": "1"}],
                    },
                    "headersSize": 150,
                    "bodySize": 3,
                },
                "response": {
                    "status": 200,
                    "statusText": "OK",
                    "httpVersion": "HTTP/1.1",
                    "cookies": [
                        {
                            "name": "TestCookie",
                            "value": "Cookie Value",
                            "path": "/",
                            "domain": "www.example.com",
                            "expires": "2009-07-24T19:20:30.123+02:00",
                        }
                    ],
                    "headers": [{"name": "Content-Type", "value": "text/html; charset=utf-8"}],
                    "content": {
                        "size": 33,
                        "compression": 0,
                        "mimeType": "text/html; charset=utf-8",
                        # The spec's own example.
                        "text": "PGh0bWw+PGhlYWQ+PC9oZWFkPjxib2R5Lz48L2h0bWw+XG4=",
                        "encoding": "base64",
                    },
                    "redirectURL": "",
                    "headersSize": 160,
                    "bodySize": 33,
                },
                "cache": {},
                "timings": {
                    "blocked": 0,
                    "dns": -1,
                    "connect": 15,
                    "ssl": 10,
                    "send": 20,
                    "wait": 38,
                    "receive": 12.25,
                },
                "serverIPAddress": "10.0.0.1",
                "connection": "52492",
            },
            {
                # Errored entry: no response was received at all.
                "startedDateTime": "2009-04-16T12:07:24+00:00",
                "time": 0,
                "request": {
                    "method": "GET",
                    "url": "http://unreachable.example/",
                    "httpVersion": "HTTP/1.1",
                    "cookies": [],
                    "headers": [],
                    "queryString": [],
                    "headersSize": -1,
                    "bodySize": 0,
                },
                "response": {
                    "status": 0,
                    "statusText": "",
                    "httpVersion": "",
                    "cookies": [],
                    "headers": [],
                    "content": {"size": 0, "mimeType": "x-unknown"},
                    "redirectURL": "",
                    "headersSize": -1,
                    "bodySize": -1,
                    "_error": "connection refused",
                },
                "cache": {"beforeRequest": None, "afterRequest": None},
                "timings": {"blocked": -1, "dns": -1, "connect": -1, "send": 0, "wait": 0, "receive": 0, "ssl": -1},
            },
        ],
    }
}


def valid_har() -> dict[str, Any]:
    return copy.deepcopy(_VALID_HAR)


# ---------------------------------------------------------------------------
# Mutation helpers: paths are tuples of keys / list indexes
# ---------------------------------------------------------------------------

Path = tuple[Any, ...]
E0 = ("log", "entries", 0)  # the successful entry
E1 = ("log", "entries", 1)  # the errored entry
P0 = ("log", "pages", 0)


def _parent(har: dict, path: Path) -> Any:
    node: Any = har
    for key in path[:-1]:
        node = node[key]
    return node


def delete(*path: Any) -> Callable[[dict], None]:
    def mutate(har: dict) -> None:
        del _parent(har, path)[path[-1]]

    return mutate


def put(*path_and_value: Any) -> Callable[[dict], None]:
    *path, value = path_and_value

    def mutate(har: dict) -> None:
        _parent(har, tuple(path))[path[-1]] = value

    return mutate


def both(*mutations: Callable[[dict], None]) -> Callable[[dict], None]:
    def mutate(har: dict) -> None:
        for m in mutations:
            m(har)

    return mutate


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(HAR_SCHEMA)


def test_every_object_schema_is_closed_but_allows_custom_fields() -> None:
    # Guards against a future edit adding an object without
    # additionalProperties: false (typos would then pass silently).
    objects = [HAR_SCHEMA, *HAR_SCHEMA["$defs"].values()]
    for schema in objects:
        if "object" in schema.get("type", ()):
            assert schema["additionalProperties"] is False, schema
            assert schema["patternProperties"] == {"^_": {}}, schema


def test_minimal_valid_har_passes() -> None:
    har = valid_har()
    assert validate_har(har) == []
    assert_valid_har(har)
    # And it survives a JSON round trip unchanged in validity.
    assert validate_har(json.loads(json.dumps(har))) == []


def test_optional_parts_may_be_left_out() -> None:
    har = valid_har()
    del har["log"]["pages"]  # "Leave out this field if ... not support grouping by pages"
    del har["log"]["entries"][0]["pageref"]
    for name in ("blocked", "dns", "connect", "ssl"):  # "An exporting tool can omit ..."
        del har["log"]["entries"][0]["timings"][name]
    har["log"]["entries"][0]["time"] = 20 + 38 + 12.25
    assert validate_har(har) == []
    har["log"]["entries"] = []
    assert validate_har(har) == []


def test_optional_spec_fields_and_comments_are_accepted() -> None:
    har = valid_har()
    log = har["log"]
    log["comment"] = "c"
    log["browser"] = {"name": "Firefox", "version": "3.6", "comment": ""}
    log["creator"]["comment"] = ""
    log["pages"][0]["comment"] = ""
    log["pages"][0]["pageTimings"]["comment"] = ""
    entry = log["entries"][0]
    entry["comment"] = ""
    entry["request"]["comment"] = ""
    entry["request"]["postData"] = {
        "mimeType": "multipart/form-data",
        "params": [{"name": "f", "value": "x", "fileName": "a.pdf", "contentType": "application/pdf", "comment": ""}],
        "comment": "",
    }
    entry["request"]["queryString"][0]["comment"] = ""
    entry["request"]["headers"][0]["comment"] = ""
    entry["request"]["cookies"][0]["comment"] = ""
    entry["response"]["comment"] = ""
    entry["response"]["content"]["comment"] = ""
    entry["cache"] = {
        "beforeRequest": None,
        "afterRequest": {
            "expires": "2009-04-16T15:50:36",
            "lastAccess": "2009-16-02T15:50:34",  # sic, from the spec's example
            "eTag": "",
            "hitCount": 0,
            "comment": "",
        },
        "comment": "",
    }
    entry["timings"]["comment"] = ""
    entry["serverIPAddress"] = "[::1]"  # Chrome's bracketed IPv6 form
    assert validate_har(har) == []


def test_post_data_with_text_only_is_accepted() -> None:
    har = valid_har()
    har["log"]["entries"][0]["request"]["postData"] = {"mimeType": "text/plain", "text": "hello"}
    assert validate_har(har) == []


def test_custom_underscore_fields_are_allowed_everywhere() -> None:
    har = valid_har()
    har["_root"] = 1
    log = har["log"]
    entry = log["entries"][0]
    for obj in (
        log,
        log["creator"],
        log["pages"][0],
        log["pages"][0]["pageTimings"],
        entry,
        entry["request"],
        entry["request"]["cookies"][0],
        entry["request"]["headers"][0],
        entry["request"]["queryString"][0],
        entry["request"]["postData"],
        entry["request"]["postData"]["params"][0],
        entry["response"],
        entry["response"]["content"],
        entry["cache"],
        entry["timings"],
    ):
        obj["_custom"] = {"anything": [1, None, "x"]}
    assert validate_har(har) == []


CASES: list[tuple[str, Callable[[dict], None], str]] = [
    # -- missing required fields ------------------------------------------
    ("missing log", delete("log"), "'log' is a required property"),
    ("missing log.version", delete("log", "version"), "'version'"),
    ("missing log.creator", delete("log", "creator"), "'creator'"),
    ("missing log.entries", delete("log", "entries"), "'entries'"),
    ("missing creator.version", delete("log", "creator", "version"), "'version'"),
    ("missing page.id", delete(*P0, "id"), "'id'"),
    ("missing page.title", delete(*P0, "title"), "'title'"),
    ("missing page.pageTimings", delete(*P0, "pageTimings"), "'pageTimings'"),
    ("missing entry.startedDateTime", delete(*E0, "startedDateTime"), "'startedDateTime'"),
    ("missing entry.time", delete(*E0, "time"), "'time'"),
    ("missing entry.cache", delete(*E0, "cache"), "'cache'"),
    ("missing entry.timings", delete(*E0, "timings"), "'timings'"),
    ("missing request.method", delete(*E0, "request", "method"), "'method'"),
    ("missing request.url", delete(*E0, "request", "url"), "'url'"),
    ("missing request.queryString", delete(*E0, "request", "queryString"), "'queryString'"),
    ("missing request.headersSize", delete(*E0, "request", "headersSize"), "'headersSize'"),
    ("missing request.bodySize", delete(*E0, "request", "bodySize"), "'bodySize'"),
    ("missing response.status", delete(*E0, "response", "status"), "'status'"),
    ("missing response.statusText", delete(*E1, "response", "statusText"), "'statusText'"),
    ("missing response.redirectURL", delete(*E0, "response", "redirectURL"), "'redirectURL'"),
    ("missing response.content", delete(*E0, "response", "content"), "'content'"),
    ("missing content.size", delete(*E0, "response", "content", "size"), "'size'"),
    ("missing content.mimeType", delete(*E1, "response", "content", "mimeType"), "'mimeType'"),
    ("missing header.value", delete(*E0, "request", "headers", 0, "value"), "'value'"),
    ("missing cookie.name", delete(*E0, "response", "cookies", 0, "name"), "'name'"),
    ("missing postData.mimeType", delete(*E0, "request", "postData", "mimeType"), "'mimeType'"),
    (
        "postData without params or text",
        delete(*E0, "request", "postData", "params"),
        "postData: postData needs 'params' or 'text'",
    ),
    ("missing timings.send", delete(*E0, "timings", "send"), "'send'"),
    ("missing timings.wait", delete(*E1, "timings", "wait"), "'wait'"),
    ("missing timings.receive", delete(*E0, "timings", "receive"), "'receive'"),
    (
        "cache entry without hitCount",
        put(*E0, "cache", "afterRequest", {"lastAccess": "", "eTag": ""}),
        "'hitCount'",
    ),
    # -- wrong types ------------------------------------------------------
    ("log not an object", put("log", []), "$.log: [] is not of type 'object'"),
    ("entries not an array", put("log", "entries", {}), "$.log.entries"),
    ("version not 1.2", put("log", "version", "1.1"), "$.log.version"),
    ("status as string", put(*E0, "response", "status", "200"), "response.status"),
    ("status as float", put(*E0, "response", "status", 200.0), "response.status"),
    ("status negative", put(*E1, "response", "status", -1), "response.status"),
    ("status too large", put(*E0, "response", "status", 1000), "response.status"),
    ("headersSize as string", put(*E0, "request", "headersSize", "150"), "request.headersSize"),
    ("headersSize below -1", put(*E0, "response", "headersSize", -2), "response.headersSize"),
    ("bodySize as bool", put(*E0, "request", "bodySize", True), "request.bodySize"),
    ("bodySize as float", put(*E0, "response", "bodySize", 33.0), "response.bodySize"),
    ("content.size negative", put(*E1, "response", "content", "size", -1), "content.size"),
    ("time as string", put(*E0, "time", "85.25"), "$.log.entries[0].time"),
    ("time NaN", put(*E0, "time", float("nan")), "$.log.entries[0].time"),
    ("time negative", put(*E1, "time", -1), "$.log.entries[1].time"),
    ("send negative", put(*E1, "timings", "send", -1), "timings.send"),
    ("dns below -1", put(*E0, "timings", "dns", -2), "timings.dns"),
    ("onLoad below -1", put(*P0, "pageTimings", "onLoad", -5), "pageTimings.onLoad"),
    ("httpOnly as string", put(*E0, "request", "cookies", 0, "httpOnly", "yes"), "cookies[0].httpOnly"),
    ("headers as object", put(*E0, "request", "headers", {"Host": "x"}), "request.headers"),
    ("header value as int", put(*E0, "response", "headers", 0, "value", 5), "headers[0].value"),
    ("connection as int", put(*E0, "connection", 52492), "connection"),
    ("comment as int", put("log", "comment", 1), "$.log.comment"),
    ("cache.afterRequest as string", put(*E0, "cache", "afterRequest", "none"), "cache.afterRequest"),
    ("content.encoding as int", put(*E0, "response", "content", "encoding", 64), "content.encoding"),
    ("postData.params as string", put(*E0, "request", "postData", "params", "a=1"), "postData.params"),
    # -- unknown (non-underscore) fields: typos are caught ------------------
    ("unknown root field", put("logs", {}), "'logs' was unexpected"),
    ("unknown entry field", put(*E0, "tmings", {}), "'tmings' was unexpected"),
    ("unknown request field", put(*E0, "request", "metod", "GET"), "'metod' was unexpected"),
    ("unknown header field", put(*E0, "request", "headers", 0, "vaule", "x"), "'vaule' was unexpected"),
    ("unknown timings field", put(*E0, "timings", "sll", 1), "'sll' was unexpected"),
    ("unknown content field", put(*E0, "response", "content", "Text", ""), "'Text' was unexpected"),
    ("unknown page field", put(*P0, "pageref", "page_0"), "'pageref' was unexpected"),
    ("unknown cache field", put(*E1, "cache", "hit", True), "'hit' was unexpected"),
    # -- dates --------------------------------------------------------------
    ("entry date garbage", put(*E0, "startedDateTime", "yesterday"), "$.log.entries[0].startedDateTime"),
    ("entry date no timezone", put(*E0, "startedDateTime", "2009-04-16T12:07:23.596"), "startedDateTime"),
    ("entry date invalid month", put(*E1, "startedDateTime", "2009-13-16T12:07:23Z"), "startedDateTime"),
    ("entry date only", put(*E1, "startedDateTime", "2009-04-16"), "startedDateTime"),
    ("entry date HTTP format", put(*E0, "startedDateTime", "Thu, 16 Apr 2009 12:07:23 GMT"), "startedDateTime"),
    ("entry date as number", put(*E0, "startedDateTime", 1239883643), "startedDateTime"),
    ("page date no timezone", put(*P0, "startedDateTime", "2009-04-16 12:07:25"), "$.log.pages[0].startedDateTime"),
    (
        "cookie expires not ISO 8601",
        put(*E0, "response", "cookies", 0, "expires", "Fri, 24 Jul 2009 17:20:30 GMT"),
        "cookies[0].expires",
    ),
    # -- timings arithmetic -------------------------------------------------
    ("connect < ssl", put(*E0, "timings", "ssl", 16), "timings.connect"),
    ("ssl without connect", put(*E0, "timings", "connect", -1), "timings.connect"),
    ("time too large", put(*E0, "time", 87), "$.log.entries[0].time"),
    ("time too small", put(*E0, "time", 84), "$.log.entries[0].time"),
    ("time counts ssl twice", put(*E0, "time", 95.25), "$.log.entries[0].time"),
    ("time of errored entry", put(*E1, "time", 2.5), "$.log.entries[1].time"),
    # -- references and bodies ------------------------------------------------
    ("dangling pageref", put(*E0, "pageref", "page_1"), "$.log.entries[0].pageref"),
    ("pageref without pages", delete("log", "pages"), "$.log.entries[0].pageref"),
    (
        "duplicate page id",
        lambda har: har["log"]["pages"].append(copy.deepcopy(har["log"]["pages"][0])),
        "$.log.pages[1].id",
    ),
    ("bad base64", put(*E0, "response", "content", "text", "not base64!"), "content.text"),
    ("truncated base64", put(*E0, "response", "content", "text", "PGh0bWw"), "content.text"),
    # -- URL and server address ----------------------------------------------
    ("relative url", put(*E0, "request", "url", "/path/?param=value"), "request.url"),
    ("url with fragment", put(*E0, "request", "url", "https://www.example.com/#top"), "request.url"),
    ("bad server ip", put(*E0, "serverIPAddress", "www.example.com"), "serverIPAddress"),
]


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_corruption_is_reported(mutate: Callable[[dict], None], expected: str) -> None:
    har = valid_har()
    mutate(har)
    problems = validate_har(har)
    assert problems, "expected at least one problem"
    assert any(expected in p for p in problems), f"no problem mentions {expected!r}: {problems}"


def test_time_within_one_millisecond_is_accepted() -> None:
    har = valid_har()
    har["log"]["entries"][0]["time"] = 85.25 + 1.0
    har["log"]["entries"][1]["time"] = 0.999
    assert validate_har(har) == []


def test_assert_valid_har_lists_every_problem() -> None:
    har = valid_har()
    put(*E0, "tmings", {})(har)
    put(*E0, "pageref", "nope")(har)
    with pytest.raises(AssertionError) as excinfo:
        assert_valid_har(har)
    message = str(excinfo.value)
    assert "2 problem(s)" in message
    assert "'tmings' was unexpected" in message
    assert "$.log.entries[0].pageref" in message


# Arbitrary JSON values, to splice into random places of a valid HAR.
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=10,
)


def _all_paths(node: Any, path: Path = ()) -> list[Path]:
    paths = [path] if path else []
    if isinstance(node, dict):
        for key, value in node.items():
            paths += _all_paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            paths += _all_paths(value, (*path, i))
    return paths


_PATHS = _all_paths(_VALID_HAR)


@settings(max_examples=200, deadline=None)
@given(path=st.sampled_from(_PATHS), value=_json_values)
def test_validator_never_crashes_on_malformed_input(path: Path, value: Any) -> None:
    har = valid_har()
    put(*path, value)(har)
    problems = validate_har(har)
    assert isinstance(problems, list)
    assert all(isinstance(p, str) for p in problems)


@pytest.mark.parametrize("har", [{}, {"log": None}, {"log": {"entries": [None, 1, "x"]}}, [], None, "har"])
def test_validator_reports_garbage_without_crashing(har: Any) -> None:
    assert validate_har(har)
