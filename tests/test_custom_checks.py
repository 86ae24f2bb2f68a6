"""Custom checks (issue 10), fast: the public API, the ``@analyzer`` forms, what a check may return and how a
wrong return or a crash is isolated, the testing kit (``proxy.testing``), the pytest plugin, and the command
line's view of custom rules (``proxylens rules``, a policy naming a custom rule).

The end-to-end side (a real ``pip install`` of a check pack, broken checks in a running proxy) is in
tests/test_check_packs_e2e.py.
"""

from __future__ import annotations

import ast
import dataclasses
import gzip
import inspect
import itertools
import json
import math
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

import proxy
from addons import builtin_analyzers
from proxy import (
    Analysis,
    Analyzer,
    Body,
    Exchange,
    ExchangeError,
    Finding,
    Headers,
    Request,
    Response,
    Result,
    Rule,
    Session,
    Severity,
    analyzer,
    catalog,
)
from proxy.analyzer import FunctionAnalyzer, as_analysis
from proxy.har_reader import HarTruncated, iter_entries
from proxy.pipeline import Pipeline
from proxy.testing import T0, ExchangeFactory, load_checks, run_checks
from tests.support.proxyproc import PROXYLENS

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
ANALYZER_ERROR = "proxylens.analyzer-error"

# Rules made with Rule(...) are not registered: these tests leave the global catalog as they found it.
SLOW = Rule("acme.slow", Severity.WARNING, "The response took long.", reference="https://example.test/slow")
LOUD = Rule("acme.loud", Severity.INFO, "The response is loud.", reference="https://example.test/loud")
REPEAT = Rule("acme.repeat", Severity.INFO, "The same URL again, soon.", reference="https://example.test/repeat")


@pytest.fixture
def fresh_catalog(monkeypatch):
    """Rules registered during the test (rule(), family(), loading a check file) are forgotten after it."""
    monkeypatch.setattr(catalog, "_rules", dict(catalog._rules))
    monkeypatch.setattr(sys, "path", list(sys.path))  # load_script puts the check's folder on sys.path
    return catalog


def rules_of(result: Result) -> list[str]:
    return [f.rule for f in result.findings]


def errors_of(result: Result) -> list[Finding]:
    return [f for f in result.findings if f.rule == ANALYZER_ERROR]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# -- 1. the public API ---------------------------------------------------------------------------------------------

def _own_docstring(name: str, obj: object) -> str:
    doc = obj.__doc__ or ""
    if inspect.isclass(obj) and dataclasses.is_dataclass(obj) and doc.startswith(f"{obj.__name__}("):
        return ""  # the signature dataclasses write when the class has no docstring of its own
    return doc.strip()


@pytest.mark.parametrize("name", proxy.__all__)
def test_every_public_name_is_importable_and_documented(name):
    namespace: dict = {}
    exec(f"from proxy import {name}", namespace)  # noqa: S102 - the import statement a check writer types
    obj = namespace[name]
    assert obj is getattr(proxy, name)
    if inspect.isclass(obj) or inspect.isroutine(obj):
        assert _own_docstring(name, obj), f"proxy.{name} has no docstring"
    else:  # catalog: an instance, documented by its class
        assert _own_docstring(name, type(obj)), f"proxy.{name} ({type(obj).__name__}) has no docstring"


def test_all_is_unique_and_star_import_gives_exactly_it():
    assert len(proxy.__all__) == len(set(proxy.__all__))
    namespace: dict = {}
    exec("from proxy import *", namespace)  # noqa: S102
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(proxy.__all__)


def test_inprocess_resolves_lazily():
    """``import proxy`` must not import mitmproxy (a check imported by a test runs without it); proxy.InProcess
    imports it on first use."""
    code = textwrap.dedent("""\
        import sys
        import proxy
        heavy = sorted(m for m in sys.modules if m.split(".")[0] == "mitmproxy" or m == "proxy.inprocess")
        print(repr(heavy))
        cls = proxy.InProcess
        from proxy.inprocess import InProcess
        print(cls is InProcess, "proxy.inprocess" in sys.modules)
        try:
            proxy.NoSuchName
        except AttributeError as exc:
            print(exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.splitlines() == ["[]", "True True", "module 'proxy' has no attribute 'NoSuchName'"]


def _proxy_imports(path: Path) -> list[tuple[str, int, str, list[str]]]:
    """(kind, line, module, names) for every import of proxy or proxy.* in a file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                node.module.split(".")[0] == "proxy":
            found.append(("from", node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "proxy":
                    found.append(("import", node.lineno, alias.name, []))
    return found


ADDONS = sorted((ROOT / "addons").glob("*.py"))


@pytest.mark.parametrize("path", ADDONS, ids=lambda p: p.name)
def test_builtin_analyzers_use_only_the_public_api(path):
    """Nothing built-in reaches around the API: only ``from proxy import <name in __all__>``."""
    for kind, line, module, names in _proxy_imports(path):
        where = f"{path.relative_to(ROOT)}:{line}"
        assert kind == "from" and module == "proxy", f"{where}: imports {module} (use `from proxy import ...`)"
        private = sorted(set(names) - set(proxy.__all__))
        assert not private, f"{where}: imports {private} from proxy, which are not in proxy.__all__"


def test_the_api_walk_sees_what_it_must_refuse(tmp_path):
    """The walk above would catch each way of reaching around the API, even inside a function."""
    bad = write(tmp_path / "bad.py", """\
        from proxy import Analyzer
        import proxy.models
        from proxy.pipeline import Pipeline

        def later():
            from proxy import catalog, bodies
    """)
    assert _proxy_imports(bad) == [
        ("from", 1, "proxy", ["Analyzer"]), ("import", 2, "proxy.models", []),
        ("from", 3, "proxy.pipeline", ["Pipeline"]), ("from", 6, "proxy", ["catalog", "bodies"])]


def test_every_builtin_analyzer_is_an_analyzer_subclass():
    analyzers = builtin_analyzers()
    assert {"status", "caching", "cors", "hsts", "tls"} <= {a.name for a in analyzers}
    for a in analyzers:
        assert isinstance(a, Analyzer)
        assert type(a) is not Analyzer and type(a) is not FunctionAnalyzer
        assert type(a).analyze is not Analyzer.analyze, f"{type(a).__name__} does not override analyze"


def test_the_base_analyzer_must_be_overridden():
    class Lazy(Analyzer):
        name = "lazy"

    [result] = run_checks(Lazy(), ExchangeFactory()())
    [error] = errors_of(result)
    assert error.evidence["analyzer"] == "lazy" and error.evidence["exception"] == "NotImplementedError"


# -- 2. @analyzer ---------------------------------------------------------------------------------------------------

def test_bare_decorator_names_the_analyzer_after_the_function():
    @analyzer
    def response_time(exchange):
        """Slow responses."""
        if exchange.timings.wait > 500:
            yield SLOW.finding()

    assert isinstance(response_time, Analyzer)
    assert response_time.name == "response_time"
    assert response_time.__doc__ == "Slow responses."
    assert "response_time" in repr(response_time)
    make = ExchangeFactory()
    fast, slow = run_checks(response_time, make(wait_ms=20), make(wait_ms=900))
    assert rules_of(fast) == [] and rules_of(slow) == ["acme.slow"]


def test_named_decorator_uses_the_given_name_as_the_facts_key():
    @analyzer("acme-size")
    def size(exchange):
        return Analysis(facts={"bytes": len(exchange.response.body.raw)})

    assert size.name == "acme-size"
    [result] = run_checks(size, ExchangeFactory()(response_body="hello"))
    assert result.facts == {"acme-size": {"bytes": 5}}


def test_exchange_only_and_exchange_session_signatures():
    seen = []

    @analyzer("one")
    def one(exchange):
        seen.append(("one", exchange.id))

    @analyzer("two")
    def two(exchange, session):
        seen.append(("two", exchange.id, type(session).__name__, session.now))

    @analyzer("defaulted")
    def defaulted(exchange, session=None):  # two positional parameters: it gets the session
        seen.append(("defaulted", session is not None))

    @analyzer("lambda")
    def _(exchange):
        return None

    run_checks([one, two, defaulted, analyzer("lam")(lambda exchange: None)], ExchangeFactory()())
    assert seen == [("one", "test-1"), ("two", "test-1", "Session", T0), ("defaulted", True)]


def test_generator_yielding_findings_and_facts_merges_the_facts():
    @analyzer("acme")
    def acme(exchange):
        yield Analysis(facts={"a": 1, "shared": "first"})
        yield LOUD.finding(subject="response.body")
        yield Analysis(facts={"b": [2, 3], "shared": "second"}, findings=[SLOW.finding()])
        yield REPEAT.finding()

    [result] = run_checks(acme, ExchangeFactory()())
    assert result.facts == {"acme": {"a": 1, "shared": "second", "b": [2, 3]}}  # later keys win
    assert rules_of(result) == ["acme.loud", "acme.slow", "acme.repeat"]  # in the order yielded


@pytest.mark.parametrize("returned, facts, findings", [
    (lambda: None, None, []),
    (lambda: LOUD.finding(), None, ["acme.loud"]),
    (lambda: [LOUD.finding(), SLOW.finding()], None, ["acme.loud", "acme.slow"]),
    (lambda: (LOUD.finding(),), None, ["acme.loud"]),
    (list, None, []),
    (lambda: iter([SLOW.finding()]), None, ["acme.slow"]),
    (lambda: Analysis(), None, []),
    (lambda: Analysis(facts={}), {}, []),
    (lambda: Analysis(facts={"k": "v"}, findings=[LOUD.finding()]), {"k": "v"}, ["acme.loud"]),
    (lambda: [Analysis(facts={"k": 1}), LOUD.finding()], {"k": 1}, ["acme.loud"]),
], ids=["none", "finding", "list", "tuple", "empty-list", "iterator", "empty-analysis", "empty-facts",
        "analysis", "list-with-analysis"])
def test_accepted_returns(returned, facts, findings):
    @analyzer("acme")
    def acme(exchange):
        return returned()

    analysis = as_analysis(returned())
    assert analysis.facts == facts and [f.rule for f in analysis.findings] == findings
    [result] = run_checks(acme, ExchangeFactory()())
    assert result.facts == ({} if facts is None else {"acme": facts})
    assert rules_of(result) == findings


def test_class_based_analyzer_keeps_state_in_the_session_with_a_ttl_in_traffic_time():
    class RepeatedGet(Analyzer):
        """The same URL fetched again within a minute (of traffic time)."""

        name = "repeat"

        def analyze(self, exchange, session):
            seen = session.store("repeat.seen", maxsize=100, ttl=60)
            count = seen.get(exchange.request.url, 0) + 1
            seen[exchange.request.url] = count
            yield Analysis(facts={"count": count})
            if count > 1:
                yield REPEAT.finding(evidence={"count": count})

    check = RepeatedGet()
    make = ExchangeFactory(step=30)  # T0, T0+30, T0+60, T0+90
    url = "https://api.test/users"
    results = run_checks(check, make(url), make(url), make("https://api.test/other"), make(url),
                         make(url, started=T0 + 90 + 61))  # 61 s after the last one: forgotten
    assert [r.facts["repeat"]["count"] for r in results] == [1, 2, 1, 3, 1]
    assert [rules_of(r) for r in results] == [[], ["acme.repeat"], [], ["acme.repeat"], []]
    assert results[3].findings[0].evidence == {"count": 3}
    # Each run_checks call is one session: state does not leak from the call above.
    [again] = run_checks(check, make(url))
    assert again.facts["repeat"]["count"] == 1


def test_one_pipeline_session_is_shared_by_every_analyzer_and_follows_traffic_time():
    session = Session()
    nows = []

    @analyzer("clock")
    def clock(exchange, session):
        nows.append(session.now)

    pipeline = Pipeline([clock], session)
    make = ExchangeFactory(start=1000.0, step=2.5)
    for _ in range(3):
        pipeline.run(make())
    assert nows == [1000.0, 1002.5, 1005.0] and session.now == 1005.0


# -- 3. wrong returns, crashes and non-JSON facts -------------------------------------------------------------------

def _gen(*items):
    yield from items


WRONG = [
    ("str", lambda: "oops", "returned str 'oops'; return Findings (a list, or yield them), an Analysis, or None"),
    ("bytes", lambda: b"oops", "returned bytes b'oops';"),
    ("dict", lambda: {"rule": "acme.loud"}, "returned dict {'rule': 'acme.loud'};"),
    ("int", lambda: 42, "returned int 42;"),
    ("bool", lambda: True, "returned bool True;"),
    ("rule", lambda: LOUD, "returned Rule Rule(id='acme.loud'"),
    ("list-of-str", lambda: ["acme.loud"],
     "yielded str 'acme.loud'; expected Finding (make one with a Rule: rule.finding(...))"),
    ("list-with-rule", lambda: [LOUD.finding(), LOUD], "yielded Rule Rule(id='acme.loud'"),
    ("generator-of-dict", lambda: _gen(LOUD.finding(), {"a": 1}), "yielded dict {'a': 1};"),
    ("nested-list", lambda: [[LOUD.finding()]], "yielded list [Finding("),
    ("analysis-list-facts", lambda: Analysis(facts=[1, 2]), "Analysis.facts is list [1, 2]; it must be a dict"),
    ("analysis-str-finding", lambda: Analysis(findings=["acme.loud"]), "yielded str 'acme.loud';"),
    ("yielded-analysis-bad-facts", lambda: _gen(Analysis(facts="x")), "Analysis.facts is str 'x'; it must be a dict"),
]


@pytest.mark.parametrize("returned, message", [w[1:] for w in WRONG], ids=[w[0] for w in WRONG])
def test_wrong_return_is_a_type_error_naming_what_was_returned(returned, message):
    with pytest.raises(TypeError) as caught:
        as_analysis(returned())
    assert str(caught.value).startswith(message), str(caught.value)


def test_a_long_wrong_return_is_cut_in_the_message():
    with pytest.raises(TypeError) as caught:
        as_analysis("x" * 500)
    text = str(caught.value)
    assert text.startswith("returned str '" + "x" * 40) and "..." in text and len(text) < 200


@pytest.mark.parametrize("returned, message", [w[1:] for w in WRONG], ids=[w[0] for w in WRONG])
def test_wrong_return_becomes_an_analyzer_error_and_others_are_unaffected(returned, message):
    @analyzer("before")
    def before(exchange):
        yield Analysis(facts={"ok": True})
        yield LOUD.finding()

    @analyzer("wrong")
    def wrong(exchange):
        return returned()

    @analyzer("after")
    def after(exchange):
        yield Analysis(facts={"ok": True})
        yield SLOW.finding()

    [result] = run_checks([before, wrong, after], ExchangeFactory()("https://api.test/x"))
    assert result.facts == {"before": {"ok": True}, "after": {"ok": True}}
    assert rules_of(result) == ["acme.loud", ANALYZER_ERROR, "acme.slow"]
    error = result.findings[1]
    assert error.evidence["analyzer"] == "wrong" and error.evidence["exception"] == "TypeError"
    assert error.evidence["message"].startswith(message)
    assert error.summary.startswith("analyzer 'wrong' crashed: TypeError: ")
    assert error.subject == "analyzer.wrong" and error.severity is Severity.WARNING


def test_a_raising_check_is_isolated_with_its_location():
    @analyzer("crashy")
    def crashy(exchange):
        return {"a": 1}["b"]

    [result] = run_checks([crashy], ExchangeFactory()(), builtins=True)
    [error] = errors_of(result)
    assert error.evidence["exception"] == "KeyError" and error.evidence["message"] == "'b'"
    assert error.evidence["location"].endswith(f"{Path(__file__).name}:{crashy.func.__code__.co_firstlineno + 2}")
    assert "status" in result.facts, "the built-in analyzers still ran"


def test_partial_findings_of_a_generator_that_fails_midway_are_dropped():
    @analyzer("half")
    def half(exchange):
        yield Analysis(facts={"started": True})
        yield LOUD.finding()
        raise ValueError("midway")

    [result] = run_checks(half, ExchangeFactory()())
    assert result.facts == {} and rules_of(result) == [ANALYZER_ERROR]
    assert result.findings[0].evidence["message"] == "midway"


@pytest.mark.parametrize("facts, needle", [
    ({"when": {1, 2}}, "set"),
    ({"ratio": math.nan}, "Out of range float"),
    ({"ratio": math.inf}, "Out of range float"),
    ({"body": b"raw"}, "bytes"),
    ({"obj": object()}, "object"),
    ({(1, 2): "tuple key"}, "keys must be"),
], ids=["set", "nan", "inf", "bytes", "object", "tuple-key"])
def test_non_json_facts_are_an_analyzer_error(facts, needle):
    @analyzer("facty")
    def facty(exchange):
        yield Analysis(facts=facts)
        yield LOUD.finding()

    @analyzer("plain")
    def plain(exchange):
        return Analysis(facts={"n": 1})

    [result] = run_checks([facty, plain], ExchangeFactory()())
    assert result.facts == {"plain": {"n": 1}}, "the failing analyzer's facts are left out, the others kept"
    [error] = errors_of(result)
    assert rules_of(result) == [ANALYZER_ERROR], "its findings are dropped with its facts"
    assert error.evidence["analyzer"] == "facty" and error.evidence["exception"] == "TypeError"
    assert error.evidence["message"].startswith("facts are not JSON: ") and needle in error.evidence["message"]


def test_a_finding_with_non_scalar_evidence_fails_inside_the_check():
    @analyzer("evidence")
    def evidence(exchange):
        yield LOUD.finding(evidence={"list": [1, 2]})

    [result] = run_checks(evidence, ExchangeFactory()())
    [error] = errors_of(result)
    assert error.evidence["exception"] == "ValidationError" and "evidence.list" in error.evidence["message"]


def test_on_first_error_is_called_once_per_failing_analyzer():
    @analyzer("boom")
    def boom(exchange):
        raise RuntimeError(f"kaput {exchange.id}")

    @analyzer("wrong")
    def wrong(exchange):
        return "nope"

    @analyzer("sometimes")
    def sometimes(exchange):
        if exchange.id == "test-3":
            raise LookupError("only the third")

    @analyzer("fine")
    def fine(exchange):
        return Analysis(facts={"id": exchange.id})

    pipeline = Pipeline([boom, wrong, sometimes, fine])
    calls = []
    pipeline.on_first_error = lambda name, finding: calls.append((name, finding.evidence["message"]))
    make = ExchangeFactory()
    results = [pipeline.run(make()) for _ in range(4)]
    wrong_message = "returned str 'nope'; return Findings (a list, or yield them), an Analysis, or None"
    assert calls == [("boom", "kaput test-1"), ("wrong", wrong_message), ("sometimes", "only the third")]
    assert [len(errors_of(r)) for r in results] == [2, 2, 3, 2], "every failing exchange still gets its finding"
    assert [r.facts["fine"]["id"] for r in results] == ["test-1", "test-2", "test-3", "test-4"]


def test_a_check_calling_sys_exit_while_analyzing_is_isolated():
    @analyzer("exiter")
    def exiter(exchange):
        sys.exit(1)

    try:
        [result] = run_checks([exiter, analyzer("after")(lambda exchange: Analysis(facts={"ran": True}))],
                              ExchangeFactory()())
    except SystemExit:
        pytest.fail("SystemExit escaped from the pipeline")
    [error] = errors_of(result)
    assert error.evidence["analyzer"] == "exiter" and error.evidence["exception"] == "SystemExit"
    assert result.facts == {"after": {"ran": True}}


def test_two_analyzers_with_one_name_are_refused():
    with pytest.raises(ValueError, match="two analyzers share the name 'status'"):
        run_checks([analyzer("status")(lambda exchange: None)], ExchangeFactory()(), builtins=True)


# -- 4. the testing kit: ExchangeFactory -----------------------------------------------------------------------------

def test_factory_defaults():
    ex = ExchangeFactory()()
    assert isinstance(ex, Exchange)
    assert (ex.id, ex.request.method, ex.request.url, ex.request.http_version) == \
        ("test-1", "GET", "https://example.test/", "HTTP/1.1")
    assert (ex.response.status, ex.response.reason, ex.response.http_version) == (200, "OK", "HTTP/1.1")
    assert ex.error is None and ex.client_tls is None and ex.server_tls is None
    assert ex.request.headers == Headers() and ex.request.body == Body(raw=b"", size=0)
    assert ex.timings.started == ex.request.timestamp_start == T0 and ex.timings.wait == 10.0
    assert ex.response.timestamp_start == pytest.approx(T0 + 0.010)
    assert ex.source == "live"


def test_factory_start_times_increase_monotonically_and_ids_count_up():
    make = ExchangeFactory(start=5000.0, step=0.25)
    made = [make(f"https://a.test/{i}") for i in range(6)]
    starts = [e.timings.started for e in made]
    assert starts == [5000.0 + 0.25 * i for i in range(6)]
    assert all(a < b for a, b in itertools.pairwise(starts))
    assert [e.id for e in made] == [f"test-{i}" for i in range(1, 7)]
    # An explicit start does not move the clock; two factories have their own clocks.
    assert make(started=1.0).timings.started == 1.0 and make().timings.started == 5001.5
    assert ExchangeFactory()().timings.started == T0


def test_factory_keywords():
    make = ExchangeFactory()
    ex = make("http://api.test:8080/v1/x?q=1", "post", status=418, request_headers=[("A", "1"), ("A", "2")],
              response_headers={"Content-Type": "application/json"}, request_body="é", response_body=b"{}",
              http_version="HTTP/2.0", wait_ms=250)
    assert ex.request.method == "post" and ex.request.port == 8080 and ex.request.query == [("q", "1")]
    assert ex.request.headers.get_all("a") == ["1", "2"] and ex.request.headers.get("A") == "1, 2"
    assert ex.request.body.raw == "é".encode() and ex.request.body.size == 2
    assert (ex.response.status, ex.response.reason) == (418, "I'm a Teapot")
    assert ex.response.headers.get("content-type") == "application/json" and ex.response.body.raw == b"{}"
    assert ex.timings.wait == 250
    assert make(status=599).response.reason == ""  # no phrase for an unregistered code
    assert make(status=200, reason="Fine").response.reason == "Fine"


def test_factory_exchanges_without_a_response():
    make = ExchangeFactory()
    gone = make(status=None)
    assert gone.response is None and gone.error == ExchangeError("no response", "other")
    refused = make(error="connection refused", error_kind="connect")  # an error wins over the default status
    assert refused.response is None and refused.error.kind == "connect" and not refused.error.unreachable
    unreachable = make(error="[Errno -2] Name or service not known", error_kind="connect")
    assert unreachable.error.unreachable
    assert not make(error="Name or service not known", error_kind="timeout").error.unreachable


def test_from_dict_builds_the_same_exchange_as_the_keywords():
    row = json.loads('{"url": "https://api.test/a", "method": "PUT", "status": 404, '
                     '"response_headers": {"Cache-Control": "no-store"}, "response_body": "gone"}')
    a, b = ExchangeFactory().from_dict(row), ExchangeFactory()(**row)
    assert a == b and a.response.status == 404 and a.response.headers.get("cache-control") == "no-store"


def test_from_dict_refuses_unknown_keys():
    with pytest.raises(TypeError) as caught:
        ExchangeFactory().from_dict({"url": "https://a.test/", "stauts": 500, "header": {}})
    message = str(caught.value)
    assert message.startswith("unknown exchange field(s) header, stauts; known: url, method, status, ")
    assert "response_headers" in message


def test_from_raw_absolute_form_target():
    ex = ExchangeFactory().from_raw(b"GET http://api.test:8080/a?b=1 HTTP/1.1\r\nHost: other.test\r\n\r\n")
    assert ex.request.url == "http://api.test:8080/a?b=1"  # the target wins over Host
    assert ex.request.headers.get("host") == "other.test"
    assert ex.response is None and ex.error.message == "no response"


def test_from_raw_origin_form_uses_host_and_scheme():
    make = ExchangeFactory()
    assert make.from_raw("GET /x?y=1 HTTP/1.1\r\nHost: api.test\r\n\r\n").request.url == "https://api.test/x?y=1"
    assert make.from_raw("GET / HTTP/1.1\r\nHost: api.test:81\r\n\r\n", scheme="http").request.url == \
        "http://api.test:81/"
    assert make.from_raw("GET /p HTTP/1.0\r\n\r\n").request.url == "https://example.test/p"  # no Host


def test_from_raw_bare_newlines_and_content_length_body():
    ex = ExchangeFactory().from_raw(
        "POST /v1/items HTTP/1.1\nHost: api.test\nContent-Type: application/json\nContent-Length: 9\n\n"
        '{"a": 1}\nEXTRA BYTES',
        "HTTP/1.1 201 Created\nLocation: /v1/items/1\nContent-Length: 2\n\n{}")
    assert ex.request.method == "POST" and ex.request.url == "https://api.test/v1/items"
    assert [k for k, _ in ex.request.headers] == ["Host", "Content-Type", "Content-Length"]
    assert ex.request.body.raw == b'{"a": 1}\n' and ex.request.text() == '{"a": 1}\n'
    assert ex.response.status == 201 and ex.response.headers.get("location") == "/v1/items/1"
    assert ex.response.body.raw == b"{}" and ex.error is None


def test_from_raw_chunked_body_with_extensions():
    ex = ExchangeFactory().from_raw(
        "GET /stream HTTP/1.1\r\nHost: api.test\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
        "5\r\nhello\r\n6;name=value\r\n world\r\nA\r\n, chunked!\r\n0\r\n\r\n")
    assert ex.response.body.raw == b"hello world, chunked!" and ex.response.body.size == 21
    assert ex.response.text() == "hello world, chunked!"


def test_from_raw_response_without_body_and_without_response():
    make = ExchangeFactory()
    no_body = make.from_raw("HEAD / HTTP/1.1\r\nHost: a.test\r\n\r\n", "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n")
    assert no_body.response.status == 204 and no_body.response.body.raw == b"" and no_body.response.text() == ""
    assert no_body.response.headers.get("x-a") == "1" and no_body.error is None
    none = make.from_raw("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", error="connection reset by peer")
    assert none.response is None and none.error.message == "connection reset by peer"


def test_from_raw_body_until_close():
    ex = ExchangeFactory().from_raw("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n",
                                    "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nread until the end")
    assert ex.response.http_version == "HTTP/1.0" and ex.response.body.raw == b"read until the end"


@pytest.mark.parametrize("eol", ["\r\n", "\n"], ids=["crlf", "lf"])
def test_from_raw_reason_phrase_is_as_on_the_wire(eol):
    ex = ExchangeFactory().from_raw(f"GET / HTTP/1.1{eol}Host: a.test{eol}{eol}",
                                    f"HTTP/1.1 201 Created{eol}Content-Length: 0{eol}{eol}")
    assert ex.response.reason == "Created"


def test_from_raw_matches_what_mitmproxy_reads_on_a_real_connection():
    """Headers as mitmproxy's HTTP/1 layer reads them: the kit uses the same reader."""
    from h11._receivebuffer import ReceiveBuffer
    from mitmproxy.net.http.http1 import read_request_head

    raw = b"GET /a HTTP/1.1\r\nHost: api.test\r\nX-Folded: one\r\n  two\r\nAccept: */*\r\n\r\n"
    buf = ReceiveBuffer()
    buf += raw
    real = read_request_head([bytes(line) for line in buf.maybe_extract_lines()])
    ex = ExchangeFactory().from_raw(raw)
    assert ex.request.headers.fields == tuple(real.headers.items(multi=True))
    assert ex.request.method == real.method and ex.request.http_version == real.http_version


# -- the testing kit: from_har ---------------------------------------------------------------------------------------

# exchange_from_har reads some producers' fields by log.creator (Chrome's and Firefox's "connection" is a port,
# mitmproxy's timings.connect leaves out ssl): from_har takes the creator, from_har_file reads it from the file.
HAR_FILES = ["chrome", "firefox", "mitmproxy", "proxylens", "safari", "charles", "playwright"]


def _har_entries(name: str):
    """(raw entry dict, the Exchange `proxylens analyze` builds from it) for every entry of a HAR file."""
    from proxy.har_reader import exchange_from_har

    raw = json.loads((DATA / f"{name}.har").read_text())["log"]["entries"]
    analyzed = []
    try:
        for entry in iter_entries(str(DATA / f"{name}.har")):
            analyzed.append((entry.index, exchange_from_har(entry)))
    except HarTruncated:
        pass
    assert len(analyzed) == len(raw) > 0
    return [(raw[i], i, ex) for i, ex in analyzed]


@pytest.mark.parametrize("name", HAR_FILES)
def test_from_har_reads_an_entry_as_proxylens_analyze_does(name):
    make = ExchangeFactory()
    creator = json.loads((DATA / f"{name}.har").read_text())["log"].get("creator", {}).get("name")
    entries = _har_entries(name)
    assert make.from_har_file(DATA / f"{name}.har") == [expected for _, _, expected in entries]
    for raw, index, expected in entries:
        got = make.from_har(raw, index, creator)
        assert got.source == "har" and got.id == f"har-{index}"
        assert got == expected, f"{name} entry {index}: " + ", ".join(
            f"{f}: {getattr(got, f)!r} != {getattr(expected, f)!r}" for f in Exchange.__slots__
            if getattr(got, f) != getattr(expected, f))


def test_from_har_exchanges_run_through_checks():
    make = ExchangeFactory()
    entries = json.loads((DATA / "proxylens.har").read_text())["log"]["entries"]
    results = run_checks([], (make.from_har(e, i) for i, e in enumerate(entries)), builtins=True)
    assert [r.exchange.request.url for r in results] == [e["request"]["url"] for e in entries]
    assert results[0].facts["status"]["code"] == 200


# -- the testing kit: Request/Response.text() ------------------------------------------------------------------------

def test_text_removes_gzip_content_coding():
    plain = "héllo, wörld " * 50
    ex = ExchangeFactory()(response_headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"},
                           response_body=gzip.compress(plain.encode()),
                           request_headers={"Content-Encoding": "gzip"}, request_body=gzip.compress(b"{}"))
    assert ex.response.body.raw[:2] == b"\x1f\x8b", "the body is kept as transferred"
    assert ex.response.text() == plain and ex.request.text() == "{}"
    assert ex.response.text(limit=10) == plain.encode()[:10].decode("utf-8", "ignore")


def test_text_uses_the_charset():
    body = "café naïve".encode("latin-1")
    ex = ExchangeFactory()(response_headers={"Content-Type": 'text/html; charset="ISO-8859-1"'}, response_body=body)
    assert ex.response.text() == "café naïve"
    utf8 = ExchangeFactory()(response_headers={"Content-Type": "text/plain"}, response_body="café")
    assert utf8.response.text() == "café"  # UTF-8 by default


def test_text_is_none_when_not_text_or_not_captured():
    make = ExchangeFactory()
    assert make(response_body=b"\xff\xfe\x00\x81binary").response.text() is None
    assert make(response_headers={"Content-Type": "text/plain; charset=x-unknown"},
                response_body="x").response.text() is None
    uncaptured = Response(200, body=Body(raw=None, size=1234))
    assert uncaptured.text() is None
    assert Request("GET", "https://a.test/").text() is None  # a bare Request's Body() was not captured
    assert Request("GET", "https://a.test/", body=Body(raw=b"", size=0)).text() == ""
    # A broken gzip body is not text (its bytes stay as they were).
    assert make(response_headers={"Content-Encoding": "gzip"}, response_body=b"not gzip").response.text() \
        == "not gzip"


# -- the testing kit: run_checks and load_checks ---------------------------------------------------------------------

def test_run_checks_without_and_with_builtins():
    @analyzer("mine")
    def mine(exchange):
        yield Analysis(facts={"url": exchange.request.url})

    make = ExchangeFactory()
    [alone] = run_checks(mine, make("https://api.test/x", status=500))
    assert alone.facts == {"mine": {"url": "https://api.test/x"}} and alone.findings == []
    [both] = run_checks(mine, make("https://api.test/x", status=500), builtins=True)
    assert list(both.facts)[:4] == ["status", "caching", "cors", "hsts"] and list(both.facts)[-1] == "mine"
    assert both.facts["status"]["code"] == 500 and "status.server-error" in rules_of(both)


def test_run_checks_takes_exchanges_and_iterables_of_them_in_order():
    @analyzer("ids")
    def ids(exchange):
        return Analysis(facts={"id": exchange.id})

    make = ExchangeFactory()
    a, b, c, d = (make() for _ in range(4))
    results = run_checks(ids, a, [b, c], iter([d]))
    assert [r.facts["ids"]["id"] for r in results] == ["test-1", "test-2", "test-3", "test-4"]
    assert run_checks(ids) == []


CHECK_FILE = '''\
from proxy import Analysis, Severity, analyzer, rule

HELLO = rule("acme-kit.hello", Severity.INFO, "Hello from a check file.", reference="https://example.test/hello")


@analyzer("kit-file")
def kit_file(exchange):
    yield Analysis(facts={"host": exchange.request.host})
    yield HELLO.finding()


def helper():  # not an analyzer: ignored
    return 1
'''


def test_load_checks_from_an_analyzer_a_module_a_path_and_a_list(tmp_path, fresh_catalog):
    path = write(tmp_path / "kit_check.py", CHECK_FILE)
    from_str = load_checks(str(path))
    from_path = load_checks(path)
    assert [a.name for a in from_str] == [a.name for a in from_path] == ["kit-file"]
    assert "acme-kit.hello" in fresh_catalog, "loading a check file registers its rules"

    module = ModuleType("kit_module")
    module.first = analyzer("m-one")(lambda exchange: None)
    module.second = analyzer("m-two")(lambda exchange: None)
    module.not_a_check = len
    assert [a.name for a in load_checks(module)] == ["m-one", "m-two"]
    explicit = ModuleType("kit_explicit")
    explicit.hidden = analyzer("hidden")(lambda exchange: None)
    explicit.analyzers = [module.second]  # an explicit list is taken as it is
    assert load_checks(explicit) == [module.second]

    single = analyzer("single")(lambda exchange: None)
    assert load_checks(single) == [single]
    mixed = load_checks([single, module, path])
    assert [a.name for a in mixed] == ["single", "m-one", "m-two", "kit-file"]

    [result] = run_checks(path, ExchangeFactory()("https://host.test/"))
    assert result.facts == {"kit-file": {"host": "host.test"}} and rules_of(result) == ["acme-kit.hello"]


def test_load_checks_refuses_what_is_not_a_check(tmp_path):
    from proxy.loader import ScriptError

    with pytest.raises(TypeError, match="42 is not an analyzer, a module or a check file"):
        load_checks([42])
    with pytest.raises(ScriptError, match="does not exist"):
        load_checks(tmp_path / "missing.py")
    unnamed = ModuleType("unnamed")
    unnamed.analyzers = [analyzer("")(lambda exchange: None)]
    unnamed.__file__ = "unnamed.py"
    with pytest.raises(ScriptError, match="is not a named proxylens analyzer"):
        load_checks(unnamed)


def test_rule_and_family_register_custom_rules(fresh_catalog):
    r = proxy.rule("acme-cat.one", "warning", "One.", reference="https://example.test/1")
    define = proxy.family("acme-cat")
    two = define("two", Severity.ERROR, "Two.", "https://example.test/2", "Why two.")
    assert fresh_catalog.get("acme-cat.one") is r and fresh_catalog.get("acme-cat.two") is two
    assert (two.category, two.severity, two.detail) == ("acme-cat", Severity.ERROR, "Why two.")
    assert proxy.rule("acme-cat.one", "warning", "One.", reference="https://example.test/1") == r  # idempotent
    with pytest.raises(ValueError, match="already registered with a different definition"):
        proxy.rule("acme-cat.one", "error", "One, louder.")
    with pytest.raises(ValueError, match="is not of the form category.kebab-name"):
        proxy.rule("NoDot", "info", "Bad id.")
    finding = two.finding("Two, here.", subject="response.header.x", evidence={"n": 2})
    assert (finding.rule, finding.summary, finding.detail, finding.reference) == \
        ("acme-cat.two", "Two, here.", "Why two.", "https://example.test/2")


# -- 5. the pytest plugin ----------------------------------------------------------------------------------------------

PLUGIN_TEST = '''\
from proxy import Rule, Severity, analyzer

SERVER_ERROR = Rule("api.server-error", Severity.ERROR, "The API failed.", reference="https://example.test/5xx")


@analyzer("api")
def api(exchange):
    if exchange.response is not None and exchange.response.status >= 500:
        yield SERVER_ERROR.finding(evidence={"status": exchange.response.status})


def test_flags_server_errors(exchange_factory, run_checks):
    ok = exchange_factory("https://api.test/a")
    bad = exchange_factory("https://api.test/b", status=503)
    results = run_checks(api, ok, bad)
    assert [[f.rule for f in r.findings] for r in results] == [[], ["api.server-error"]]
    assert bad.timings.started > ok.timings.started


def test_builtins_and_raw(exchange_factory, run_checks):
    ex = exchange_factory.from_raw("GET /x HTTP/1.1\\r\\nHost: api.test\\r\\n\\r\\n", "HTTP/1.1 500 Oops\\r\\n\\r\\n")
    [result] = run_checks(api, ex, builtins=True)
    assert result.facts["status"]["code"] == 500
    assert "api.server-error" in [f.rule for f in result.findings]


def test_each_test_gets_its_own_clock(exchange_factory):
    assert exchange_factory().id == "test-1"
'''


def test_pytest_plugin_gives_the_fixtures(pytester):
    pytester.makepyfile(test_my_checks=PLUGIN_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_pytest_plugin_can_be_disabled(pytester):
    pytester.makepyfile(test_my_checks=PLUGIN_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:proxylens")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(["*fixture 'exchange_factory' not found*"])


def test_the_fixtures_here(exchange_factory, run_checks):
    """This suite runs with the plugin too (installed with proxylens)."""
    assert isinstance(exchange_factory, ExchangeFactory)
    [result] = run_checks(analyzer("here")(lambda exchange: LOUD.finding()), exchange_factory())
    assert rules_of(result) == ["acme.loud"]


# -- 6. the command line: proxylens rules, a policy naming a custom rule ----------------------------------------------

CLI_CHECK = '''\
from proxy import Severity, analyzer, rule

HELLO = rule("acme-cli.hello", Severity.WARNING, "Every exchange says hello.",
             reference="https://example.test/acme-cli/hello")


@analyzer("acme-cli")
def hello(exchange):
    yield HELLO.finding(subject="request")
'''


def proxylens(*args: str, cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    from tests.support.proxyproc import proxylens_env

    env = proxylens_env(cwd / "home")
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([PROXYLENS, *args], capture_output=True, text=True, timeout=60, cwd=cwd, env=env,
                          check=False)


@pytest.fixture
def cli_check(tmp_path) -> Path:
    return write(tmp_path / "checks" / "acme_cli.py", CLI_CHECK)


def _rules_text(out: str) -> dict[str, str]:
    return {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(" ")}


@pytest.mark.parametrize("how", ["script", "check-module"])
def test_rules_lists_custom_rules(tmp_path, cli_check, how):
    load = ["-s", str(cli_check)] if how == "script" else ["--check", "acme_cli"]
    path = cli_check.parent if how == "check-module" else None
    text = proxylens("rules", *load, cwd=tmp_path, pythonpath=path)
    assert text.returncode == 0, text.stderr
    listed = _rules_text(text.stdout)
    assert listed["acme-cli.hello"].split(None, 2)[1:] == ["warning", "Every exchange says hello."]
    assert "status.server-error" in listed, "the built-in rules are still listed"
    lines = text.stdout.splitlines()
    at = lines.index(listed["acme-cli.hello"])
    assert lines[at + 1].strip() == "https://example.test/acme-cli/hello"

    as_json = proxylens("rules", "--json", *load, cwd=tmp_path, pythonpath=path)
    assert as_json.returncode == 0, as_json.stderr
    rules = {r["id"]: r for r in json.loads(as_json.stdout)}
    assert rules["acme-cli.hello"] == {"id": "acme-cli.hello", "severity": "warning", "category": "acme-cli",
                                       "summary": "Every exchange says hello.",
                                       "reference": "https://example.test/acme-cli/hello"}
    assert [r["id"] for r in json.loads(as_json.stdout)] == sorted(rules)

    if how == "check-module":
        return
    plain = proxylens("rules", "--json", cwd=tmp_path)
    assert "acme-cli.hello" not in {r["id"] for r in json.loads(plain.stdout)}
    assert len(json.loads(plain.stdout)) == len(rules) - 1


def test_rules_with_a_broken_check_is_a_usage_error(tmp_path):
    broken = write(tmp_path / "broken_check.py", "import no_such_module_for_proxylens\n")
    out = proxylens("rules", "-s", str(broken), cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert "broken_check.py failed to load: ModuleNotFoundError" in out.stderr
    assert f"{broken}:1" in out.stderr
    missing = proxylens("rules", "--check", "no_such_pkg.checks", cwd=tmp_path)
    assert missing.returncode == 2 and "check module no_such_pkg.checks failed to import" in missing.stderr


POLICY = '[rules]\n"status.*" = "ignore"\n"caching.*" = "ignore"\n"{rule}" = "fail"\n'


def test_a_policy_naming_a_custom_rule_needs_its_check(tmp_path, cli_check):
    har = str(DATA / "proxylens.har")
    policy = write(tmp_path / "proxylens.toml", POLICY.format(rule="acme-cli.hello"))

    judged = proxylens("analyze", har, "--policy", str(policy), "-s", str(cli_check), cwd=tmp_path)
    assert judged.returncode == 1, judged.stderr  # accepted, and applied: the custom rule fails the policy
    assert "policy: FAILED" in judged.stderr and "acme-cli.hello @ www.example.org (" in judged.stderr
    assert "acme-cli.hello" in judged.stdout

    as_module = proxylens("analyze", har, "--policy", str(policy), "--check", "acme_cli", cwd=tmp_path,
                          pythonpath=cli_check.parent)
    assert as_module.returncode == 1 and "acme-cli.hello @ www.example.org (" in as_module.stderr

    unknown = proxylens("analyze", har, "--policy", str(policy), cwd=tmp_path)
    assert unknown.returncode == 2 and unknown.stdout == ""
    # no loaded rule is in the acme-cli category: the advice is to load the check, not a did-you-mean
    assert unknown.stderr.strip() == (f"proxylens: error: {policy}:4: rules.'acme-cli.hello' matches no rule; "
                                      "no loaded check has rules in this category: load the custom check that "
                                      "defines it in this command too (-s FILE, --check MODULE or an installed "
                                      "check pack)")

    typo = write(tmp_path / "typo.toml", POLICY.format(rule="acme-cli.helo"))
    misspelt = proxylens("analyze", har, "--policy", str(typo), "-s", str(cli_check), cwd=tmp_path)
    assert misspelt.returncode == 2
    assert f"{typo}:4: rules.'acme-cli.helo' matches no rule; did you mean 'acme-cli.hello'?" in misspelt.stderr


def test_a_policy_glob_over_custom_rules(tmp_path, cli_check):
    policy = write(tmp_path / "glob.toml", POLICY.format(rule="acme-cli.*"))
    har = str(DATA / "proxylens.har")
    assert proxylens("analyze", har, "--policy", str(policy), "-s", str(cli_check), cwd=tmp_path).returncode == 1
    refused = proxylens("analyze", har, "--policy", str(policy), cwd=tmp_path)
    assert refused.returncode == 2 and "rules.'acme-cli.*' matches no rule" in refused.stderr


# -- 7. check packs: every form an entry point may take (a dist-info on sys.path, as pip would leave it) --------------

PACK_MODULE = '''\
from proxy import Analyzer, analyzer

@analyzer("ep-module-a")
def a(exchange):
    return None

@analyzer("ep-single")
def single(exchange):
    return None

LISTED = [analyzer("ep-list-1")(lambda exchange: None), analyzer("ep-list-2")(lambda exchange: None)]

class Stateful(Analyzer):
    name = "ep-class"

    def analyze(self, exchange, session):
        return None

NOT_A_CHECK = 42
UNNAMED = [analyzer("")(lambda exchange: None)]
'''

ENTRY_POINTS = '''\
[proxylens.checks]
e-single = fake_pack_mod:single
b-list = fake_pack_mod:LISTED
c-class = fake_pack_mod:Stateful
a-module = fake_pack_sub
x-int = fake_pack_mod:NOT_A_CHECK
y-unnamed = fake_pack_mod:UNNAMED
z-missing = fake_pack_mod:NO_SUCH_NAME

[console_scripts]
not-a-check = fake_pack_mod:single
'''


def test_check_packs_take_a_module_an_analyzer_a_list_or_a_class_and_skip_broken_ones(tmp_path, monkeypatch):
    from proxy.loader import check_packs

    write(tmp_path / "fake_pack_mod.py", PACK_MODULE)
    write(tmp_path / "fake_pack_sub.py", 'from proxy import analyzer\n\nsub = analyzer("ep-module-b")(lambda e: None)\n')
    write(tmp_path / "fake_checks-1.0.dist-info" / "METADATA", "Metadata-Version: 2.1\nName: fake-checks\nVersion: 1.0\n")
    write(tmp_path / "fake_checks-1.0.dist-info" / "entry_points.txt", ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(tmp_path))
    warnings: list[str] = []
    found = check_packs(warnings.append)
    names = [a.name for a in found]
    # In entry point name order; a module gives every analyzer in it; a class is instantiated.
    assert names == ["ep-module-b", "ep-list-1", "ep-list-2", "ep-class", "ep-single"]
    assert type(found[3]).__name__ == "Stateful"
    assert len(warnings) == 3
    x_int, y_unnamed, z_missing = warnings
    assert x_int.startswith("warning: check pack 'x-int' (fake_pack_mod:NOT_A_CHECK, from fake-checks) failed to load "
                            "and is skipped: ")
    assert ("the entry point names a value of type int; it must name a module, an analyzer, a list of analyzers or "
            "an Analyzer subclass." in x_int)
    assert x_int.count("check pack 'x-int'") == 1  # named once, not repeated by the reason
    assert "is not a named proxylens analyzer" in y_unnamed
    assert "AttributeError" in z_missing and "NO_SUCH_NAME" in z_missing
    for w in warnings:
        assert w.endswith("Fix it, `pip uninstall fake-checks`, or run with --no-check-packs")


def test_policy_init_lists_custom_rules_and_the_uncommented_line_is_a_valid_policy(tmp_path, cli_check):
    starter = tmp_path / "proxylens.toml"
    out = proxylens("policy", "init", "-o", str(starter), "-s", str(cli_check), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = starter.read_text()
    [line] = [ln for ln in text.splitlines() if '"acme-cli.hello"' in ln]
    assert re.fullmatch(r'# "acme-cli\.hello" += "warn" +# warning: Every exchange says hello\.', line), line
    # Uncommented and made to fail, the line judges a HAR once the check is loaded.
    starter.write_text(text.replace(line, '"acme-cli.hello" = "fail"\n"status.*" = "ignore"\n"caching.*" = "ignore"'))
    judged = proxylens("analyze", str(DATA / "proxylens.har"), "--policy", str(starter), "-s", str(cli_check),
                       cwd=tmp_path)
    assert judged.returncode == 1 and "acme-cli.hello @ www.example.org" in judged.stderr, judged.stderr

    broken = write(tmp_path / "broken_check.py", "raise RuntimeError('not today')\n")
    refused = proxylens("policy", "init", "-o", str(tmp_path / "other.toml"), "-s", str(broken), cwd=tmp_path)
    assert refused.returncode == 2 and "broken_check.py failed to load: RuntimeError: not today" in refused.stderr
    assert not (tmp_path / "other.toml").exists()


def test_check_modules_are_found_under_the_current_directory_like_python_m(tmp_path, cli_check):
    # cli_check is tmp_path/checks/acme_cli.py: `--check checks.acme_cli` from tmp_path, no PYTHONPATH
    (cli_check.parent / "__init__.py").write_text("")
    found = proxylens("rules", "--check", "checks.acme_cli", cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    assert "acme-cli.hello" in found.stdout
    elsewhere = proxylens("rules", "--check", "checks.acme_cli", cwd=cli_check.parent)  # not from here
    assert elsewhere.returncode == 2 and "check module checks.acme_cli failed to import" in elsewhere.stderr
