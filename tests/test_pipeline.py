"""The analyzer pipeline (isolation, facts, findings) and bounded session state."""

from __future__ import annotations

from collections.abc import Hashable

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from proxy.analyzer import Analysis, Analyzer, analyzer
from proxy.findings import Finding, Rule, Severity
from proxy.models import Exchange, Request, Response, Timings
from proxy.pipeline import Pipeline
from proxy.session import BoundedStore, Session

R_A = Rule("test.a", Severity.INFO, "Finding A.", reference="https://example.org/a")
R_B = Rule("test.b", Severity.WARNING, "Finding B.", reference="https://example.org/b")
R_C = Rule("test.c", Severity.ERROR, "Finding C.", reference="https://example.org/c")


def exchange(url: str = "https://example.com/", started: float = 1_700_000_000.0, status: int = 200,
             id: str = "1") -> Exchange:
    return Exchange(id=id, request=Request("GET", url), response=Response(status),
                    timings=Timings(started=started))


class Fixed(Analyzer):
    """Returns the given facts and findings."""

    def __init__(self, name: str, facts=None, findings=()):
        self.name = name
        self.facts = facts
        self.findings = list(findings)

    def analyze(self, exchange, session):
        return Analysis(facts=self.facts, findings=list(self.findings))


class Boom(Analyzer):
    def __init__(self, name: str = "boom", exc: Exception | None = None):
        self.name = name
        self.exc = exc or RuntimeError("kaput")

    def analyze(self, exchange, session):
        raise self.exc


def analyzer_errors(result) -> list[Finding]:
    return [f for f in result.findings if f.rule == "proxylens.analyzer-error"]


# -- facts and findings ----------------------------------------------------

def test_facts_are_stored_under_each_analyzer_name():
    result = Pipeline([Fixed("one", {"x": 1}), Fixed("two", {"y": [2, 3]}), Fixed("three")]).run(exchange())
    assert result.facts == {"one": {"x": 1}, "two": {"y": [2, 3]}}  # None facts: no key at all
    assert result.exchange.request.url == "https://example.com/"


def test_findings_are_concatenated_in_analyzer_order():
    a1, a2, b, c = R_A.finding("a1"), R_A.finding("a2"), R_B.finding(), R_C.finding()
    result = Pipeline([Fixed("first", findings=[a1, a2]), Fixed("empty"), Fixed("second", findings=[b]),
                       Fixed("third", findings=[c])]).run(exchange())
    assert result.findings == [a1, a2, b, c]


@pytest.mark.parametrize("returned, expected", [
    (None, []),
    (R_A.finding("single"), [R_A.finding("single")]),
    ([R_A.finding(), R_B.finding()], [R_A.finding(), R_B.finding()]),
    ((R_B.finding(),), [R_B.finding()]),
])
def test_accepted_return_shapes(returned, expected):
    @analyzer("shape")
    def check(exchange, session):
        return returned

    result = Pipeline([check]).run(exchange())
    assert result.findings == expected
    assert "shape" not in result.facts


# -- isolation -------------------------------------------------------------

def test_raising_analyzer_becomes_one_finding_and_the_rest_still_run():
    before = Fixed("before", {"ok": True}, [R_A.finding()])
    after = Fixed("after", {"ok": "still"}, [R_B.finding()])
    result = Pipeline([before, Boom("boom", ValueError("bad header value")), after]).run(exchange())

    errors = analyzer_errors(result)
    assert len(errors) == 1
    err = errors[0]
    assert err.severity is Severity.WARNING and err.category == "proxylens"
    assert err.evidence["analyzer"] == "boom"
    assert err.evidence["exception"] == "ValueError"
    assert err.evidence["message"] == "bad header value"
    assert "test_pipeline.py" in err.evidence["location"]
    assert err.subject == "analyzer.boom"
    assert "boom" in err.summary and "ValueError" in err.summary and "bad header value" in err.summary

    assert result.facts == {"before": {"ok": True}, "after": {"ok": "still"}}
    assert "boom" not in result.facts
    assert [f.rule for f in result.findings] == ["test.a", "proxylens.analyzer-error", "test.b"]


def test_every_raising_analyzer_gets_its_own_error():
    result = Pipeline([Boom("x", KeyError("k")), Boom("y", ZeroDivisionError("division by zero")),
                       Fixed("z", {"z": 1})]).run(exchange())
    errors = analyzer_errors(result)
    assert [(e.evidence["analyzer"], e.evidence["exception"]) for e in errors] == [
        ("x", "KeyError"), ("y", "ZeroDivisionError")]
    assert result.facts == {"z": {"z": 1}}


def test_generator_raising_midway_discards_its_partial_findings():
    @analyzer("halfway")
    def halfway(exchange, session):
        yield R_A.finding()
        raise RuntimeError("second step failed")

    result = Pipeline([halfway, Fixed("next", {"n": 1})]).run(exchange())
    assert [f.rule for f in result.findings] == ["proxylens.analyzer-error"]
    assert result.findings[0].evidence["message"] == "second step failed"
    assert result.facts == {"next": {"n": 1}}


@pytest.mark.parametrize("returned", [
    ["not a finding"],
    [R_A.finding(), {"rule": "test.a"}],
    42,  # not iterable at all
    "text",  # iterable, but of str
    Analysis(facts={"f": 1}, findings=["not a finding"]),  # type: ignore[list-item]
])
def test_non_finding_result_is_an_analyzer_error_not_a_crash(returned):
    @analyzer("sloppy")
    def sloppy(exchange, session):
        return returned

    result = Pipeline([sloppy, Fixed("next", {"n": 1}, [R_B.finding()])]).run(exchange())
    errors = analyzer_errors(result)
    assert len(errors) == 1
    assert errors[0].evidence["analyzer"] == "sloppy"
    assert errors[0].evidence["exception"] == "TypeError"
    assert all(isinstance(f, Finding) for f in result.findings)
    assert [f.rule for f in result.findings] == ["proxylens.analyzer-error", "test.b"]
    assert result.facts == {"next": {"n": 1}}


def test_long_exception_messages_are_capped():
    result = Pipeline([Boom("long", RuntimeError("x" * 5000))]).run(exchange())
    err = analyzer_errors(result)[0]
    assert len(err.evidence["message"]) <= 500
    assert len(err.summary) <= 300


def test_duplicate_analyzer_names_are_rejected():
    with pytest.raises(ValueError, match="dup"):
        Pipeline([Fixed("dup"), Fixed("other"), Fixed("dup")])
    Pipeline([Fixed("a"), Fixed("b")])  # distinct names are fine


# -- @analyzer ---------------------------------------------------------------

def test_analyzer_decorator_with_a_generator_function():
    @analyzer("gen")
    def gen(exchange, session):
        if exchange.response.status >= 400:
            yield R_C.finding(f"status {exchange.response.status}", evidence={"status": exchange.response.status})
        yield R_A.finding()

    assert isinstance(gen, Analyzer) and gen.name == "gen"
    pipeline = Pipeline([gen])
    bad = pipeline.run(exchange(status=500))
    assert [f.rule for f in bad.findings] == ["test.c", "test.a"]
    assert bad.findings[0].evidence == {"status": 500}
    good = pipeline.run(exchange(status=200))
    assert [f.rule for f in good.findings] == ["test.a"]
    assert good.facts == {}


def test_analyzer_decorator_returning_analysis_stores_facts():
    @analyzer("withfacts")
    def withfacts(exchange, session):
        return Analysis(facts={"host": exchange.request.host}, findings=[R_A.finding()])

    result = Pipeline([withfacts]).run(exchange("https://Example.COM:8443/x"))
    assert result.facts == {"withfacts": {"host": "example.com"}}
    assert [f.rule for f in result.findings] == ["test.a"]


# -- session -----------------------------------------------------------------

def test_session_is_shared_across_runs():
    seen: list[Session] = []

    @analyzer("counter")
    def counter(exchange, session):
        seen.append(session)
        store = session.store("counter")
        store["n"] = store.get("n", 0) + 1
        return Analysis(facts={"n": store["n"]})

    session = Session()
    pipeline = Pipeline([counter], session=session)
    results = [pipeline.run(exchange(id=str(i), started=1000.0 + i)) for i in range(3)]
    assert [r.facts["counter"]["n"] for r in results] == [1, 2, 3]
    assert all(s is session for s in seen) and pipeline.session is session
    assert session.store("counter")["n"] == 3


def test_pipeline_creates_its_own_session_when_none_given():
    p1, p2 = Pipeline([]), Pipeline([])
    assert isinstance(p1.session, Session) and p1.session is not p2.session


def test_session_now_follows_exchange_start_time():
    nows: list[float] = []

    @analyzer("clock")
    def clock(exchange, session):
        nows.append(session.now)

    pipeline = Pipeline([clock])
    for started in (1_700_000_000.0, 1_700_000_123.5, 1_600_000_000.0):  # HAR order may go backwards
        pipeline.run(exchange(started=started))
    assert nows == [1_700_000_000.0, 1_700_000_123.5, 1_600_000_000.0]
    assert pipeline.session.now == 1_600_000_000.0


def test_session_store_is_created_once_per_name():
    session = Session()
    store = session.store("x", maxsize=2, ttl=5)
    assert session.store("x") is store and store.maxsize == 2 and store.ttl == 5
    assert session.store("y") is not store


# -- BoundedStore ----------------------------------------------------------------

def test_store_rejects_nonpositive_maxsize():
    with pytest.raises(ValueError):
        BoundedStore(Session(), maxsize=0)


def test_lru_evicts_least_recently_set_at_maxsize():
    store = BoundedStore(Session(), maxsize=3)
    for k in "abcd":
        store[k] = k.upper()
    assert len(store) == 3
    assert store.get("a") is None and "a" not in store
    assert [store[k] for k in "bcd"] == ["B", "C", "D"]


def test_lru_get_refreshes_recency():
    store = BoundedStore(Session(), maxsize=3)
    store["a"], store["b"], store["c"] = 1, 2, 3
    assert store.get("a") == 1  # a is now the most recently used; b is the least
    store["d"] = 4
    assert "b" not in store
    assert store.get("a") == 1 and store.get("c") == 3 and store.get("d") == 4


def test_lru_overwrite_refreshes_recency_and_value():
    store = BoundedStore(Session(), maxsize=2)
    store["a"], store["b"] = 1, 2
    store["a"] = 10
    store["c"] = 3
    assert "b" not in store
    assert store["a"] == 10 and store["c"] == 3
    assert len(store) == 2


def test_getitem_raises_keyerror_and_get_returns_default():
    store = BoundedStore(Session())
    with pytest.raises(KeyError):
        store["missing"]
    assert store.get("missing", "dflt") == "dflt"
    store["none"] = 0
    assert store.get("none", "dflt") == 0  # falsy values are values


def test_ttl_is_traffic_time_not_wall_clock():
    session = Session()
    session.now = 1000.0
    store = BoundedStore(session, maxsize=10, ttl=60)
    store["k"] = "v"
    session.now = 1060.0  # exactly the ttl: still fresh
    assert store.get("k") == "v"
    session.now = 1060.5
    assert store.get("k") is None
    assert "k" not in store
    assert len(store) == 0  # the expired entry was dropped on access


def test_ttl_counts_from_last_set_not_last_get():
    session = Session()
    store = BoundedStore(session, ttl=10)
    session.now = 0.0
    store["k"] = 1
    session.now = 9.0
    assert store["k"] == 1
    session.now = 11.0
    assert "k" not in store
    store["k"] = 2
    session.now = 20.0
    assert store["k"] == 2


def test_ttl_in_the_past_from_an_old_har_still_expires_consistently():
    # A HAR from long ago: traffic time is far behind the wall clock; nothing expires early.
    session = Session()
    session.now = 1_000_000.0
    store = BoundedStore(session, ttl=600)
    store["k"] = "v"
    session.now += 599
    assert store["k"] == "v"


def test_no_ttl_never_expires():
    session = Session()
    store = BoundedStore(session)
    store["k"] = "v"
    session.now = 1e12
    assert store["k"] == "v"


def test_pop():
    session = Session()
    store = BoundedStore(session, ttl=10)
    store["a"], store["b"] = 1, 2
    assert store.pop("a") == 1
    assert "a" not in store and len(store) == 1
    assert store.pop("a", "gone") == "gone"
    assert store.pop("never") is None
    session.now = 100.0
    assert store.pop("b", "expired") == "expired"
    assert len(store) == 0


def test_contains():
    session = Session()
    store = BoundedStore(session, ttl=5)
    store[("tuple", "key")] = None  # a stored None is still present
    assert ("tuple", "key") in store
    assert "other" not in store
    session.now = 6.0
    assert ("tuple", "key") not in store


def test_items_skip_expired():
    session = Session()
    store = BoundedStore(session, maxsize=10, ttl=10)
    session.now = 0.0
    store["old"] = 1
    session.now = 8.0
    store["new"] = 2
    assert dict(store.items()) == {"old": 1, "new": 2}
    session.now = 15.0
    assert dict(store.items()) == {"new": 2}
    session.now = 30.0
    assert list(store.items()) == []


# -- BoundedStore against a reference model (hypothesis) ---------------------------

KEYS = st.sampled_from(["a", "b", "c", "d", "e", "f", ("t", 1), 7])


class BoundedStoreMachine(RuleBasedStateMachine):
    """A BoundedStore against a plain dict with use counters.

    Model: each key maps to (stored_at, value, last_use). A key is visible
    while ``now - stored_at <= ttl``. Setting inserts, then evicts the entry
    with the smallest last_use until at most maxsize remain. A successful get
    (or ``in``) counts as a use; a get of an expired key forgets it.
    """

    def __init__(self):
        super().__init__()
        self.session = Session()
        self.store: BoundedStore | None = None
        self.model: dict[Hashable, tuple[float, int, int]] = {}
        self.tick = 0

    @precondition(lambda self: self.store is None)
    @rule(maxsize=st.integers(1, 5), ttl=st.none() | st.integers(1, 20).map(float))
    def create(self, maxsize, ttl):
        self.store = BoundedStore(self.session, maxsize=maxsize, ttl=ttl)

    def _visible(self, key) -> bool:
        stored_at = self.model[key][0]
        return self.store.ttl is None or self.session.now - stored_at <= self.store.ttl

    def _use(self) -> int:
        self.tick += 1
        return self.tick

    def _model_get(self, key):
        if key not in self.model:
            return False, None
        if not self._visible(key):
            del self.model[key]
            return False, None
        stored_at, value, _ = self.model[key]
        self.model[key] = (stored_at, value, self._use())
        return True, value

    @precondition(lambda self: self.store is not None)
    @rule(key=KEYS, value=st.integers())
    def set(self, key, value):
        self.store[key] = value
        self.model[key] = (self.session.now, value, self._use())
        while len(self.model) > self.store.maxsize:
            del self.model[min(self.model, key=lambda k: self.model[k][2])]
        # get after set returns what was just set.
        assert self.store.get(key) == value
        self._model_get(key)

    @precondition(lambda self: self.store is not None)
    @rule(key=KEYS)
    def get(self, key):
        found, value = self._model_get(key)
        assert self.store.get(key, "MISSING") == (value if found else "MISSING")

    @precondition(lambda self: self.store is not None)
    @rule(key=KEYS)
    def contains(self, key):
        found, _ = self._model_get(key)
        assert (key in self.store) is found

    @precondition(lambda self: self.store is not None)
    @rule(key=KEYS)
    def pop(self, key):
        entry = self.model.pop(key, None)
        expected = entry[1] if entry is not None and (
            self.store.ttl is None or self.session.now - entry[0] <= self.store.ttl) else "MISSING"
        assert self.store.pop(key, "MISSING") == expected

    @precondition(lambda self: self.store is not None)
    @rule(dt=st.integers(0, 15))
    def advance(self, dt):
        self.session.now += dt

    @precondition(lambda self: self.store is not None)
    @rule()
    def items(self):
        expected = {k: v for k, (t, v, _) in self.model.items() if self._visible(k)}
        assert dict(self.store.items()) == expected

    @invariant()
    def bounded(self):
        if self.store is not None:
            assert len(self.store) <= self.store.maxsize
            assert len(self.store) == len(self.model)


TestBoundedStoreModel = BoundedStoreMachine.TestCase
TestBoundedStoreModel.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
