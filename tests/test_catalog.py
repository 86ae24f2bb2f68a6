"""The rule catalog, Finding and Severity: the contract reports depend on.

Walks every registered rule (like httplint's test that walks its notes), and
checks that `proxylens rules` lists all of them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pydantic
import pytest

from addons import builtin_analyzers
from proxy.findings import RULE_ID, Catalog, Finding, Rule, Severity, catalog

ROOT = Path(__file__).resolve().parent.parent

builtin_analyzers()  # importing the analyzers registers their rules
RULES = list(catalog)


def test_catalog_has_the_builtin_rules():
    ids = {r.id for r in RULES}
    assert "proxylens.analyzer-error" in ids
    assert {"status.no-response", "status.redirect-without-location", "status.redirect-loop",
            "status.server-error", "status.client-error"} <= ids
    assert len(ids) == len(RULES)  # unique ids (the catalog may since hold custom rules other tests loaded)


def test_catalog_iterates_sorted_by_id():
    assert [r.id for r in RULES] == sorted(r.id for r in RULES)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
class TestEveryRule:
    def test_id_is_category_dot_kebab_name(self, rule: Rule):
        assert RULE_ID.match(rule.id), rule.id
        category, name = rule.id.split(".")
        assert name == name.lower() and "_" not in name and "--" not in name

    def test_category_is_id_prefix(self, rule: Rule):
        assert rule.category == rule.id.split(".", 1)[0]

    def test_severity_is_a_severity(self, rule: Rule):
        assert isinstance(rule.severity, Severity)

    def test_summary_is_one_nonempty_line(self, rule: Rule):
        assert rule.summary.strip(), rule.id
        assert "\n" not in rule.summary and "\r" not in rule.summary
        assert rule.summary == rule.summary.strip()

    def test_has_https_reference(self, rule: Rule):
        assert rule.reference.startswith("https://"), f"{rule.id} has no https reference"
        assert " " not in rule.reference

    def test_lookup_returns_the_same_rule(self, rule: Rule):
        assert catalog.get(rule.id) is rule
        assert rule.id in catalog

    def test_default_finding_is_valid(self, rule: Rule):
        f = rule.finding()
        assert (f.rule, f.severity, f.category, f.summary, f.reference) == (
            rule.id, rule.severity, rule.category, rule.summary, rule.reference)
        assert json.loads(json.dumps(f.to_json()))["rule"] == rule.id


# -- Rule.finding ----------------------------------------------------------

RULE = Rule("demo.some-check", Severity.WARNING, "Generic summary.", reference="https://example.org/spec",
            detail="Generic detail.")


def test_rule_derives_category_from_id():
    assert RULE.category == "demo"
    assert Rule("demo.x", Severity.INFO, "s", category="custom").category == "custom"


def test_rule_rejects_bad_id():
    with pytest.raises(ValueError):
        Rule("NoDot", Severity.INFO, "s")
    with pytest.raises(ValueError):
        Rule("demo.Some_Check", Severity.INFO, "s")


def test_rule_finding_fills_defaults():
    f = RULE.finding()
    assert f.rule == "demo.some-check"
    assert f.severity is Severity.WARNING
    assert f.category == "demo"
    assert f.summary == "Generic summary."
    assert f.detail == "Generic detail."
    assert f.reference == "https://example.org/spec"
    assert f.subject == ""
    assert f.evidence == {}


def test_rule_finding_overrides():
    f = RULE.finding("Specific summary", detail="Specific detail", subject="response.header.x",
                     evidence={"value": "1", "n": 3}, severity=Severity.ERROR)
    assert f.summary == "Specific summary"
    assert f.detail == "Specific detail"
    assert f.subject == "response.header.x"
    assert f.evidence == {"value": "1", "n": 3}
    assert f.severity is Severity.ERROR
    # What is not overridable stays the rule's.
    assert (f.rule, f.category, f.reference) == (RULE.id, RULE.category, RULE.reference)


def test_rule_finding_empty_detail_override_is_kept():
    assert RULE.finding(detail="").detail == ""


# -- Catalog.register --------------------------------------------------------

def test_register_conflicting_rule_raises():
    c = Catalog()
    c.rule("demo.thing", Severity.INFO, "A thing.", reference="https://example.org/")
    with pytest.raises(ValueError, match="demo.thing"):
        c.rule("demo.thing", Severity.ERROR, "A thing.", reference="https://example.org/")
    with pytest.raises(ValueError):
        c.register(Rule("demo.thing", Severity.INFO, "Another summary.", reference="https://example.org/"))
    assert c.get("demo.thing").severity is Severity.INFO  # the first definition stays
    assert len(c) == 1


def test_register_identical_rule_is_idempotent():
    c = Catalog()
    first = c.rule("demo.thing", "info", "A thing.")
    c.register(Rule("demo.thing", Severity.INFO, "A thing."))
    assert len(c) == 1 and c.get("demo.thing") == first


def test_global_catalog_refuses_redefining_a_builtin():
    builtin = catalog.get("status.no-response")
    with pytest.raises(ValueError):
        catalog.register(Rule("status.no-response", Severity.INFO, "Something else."))
    assert catalog.get("status.no-response") is builtin


# -- Finding ---------------------------------------------------------------

def make(**kw) -> Finding:
    base = dict(rule="demo.some-check", severity="warning", category="demo", summary="s")
    base.update(kw)
    return Finding(**base)


def test_finding_is_frozen():
    f = make()
    with pytest.raises(pydantic.ValidationError):
        f.summary = "changed"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        f.severity = Severity.GOOD  # type: ignore[misc]
    assert f.summary == "s"


@pytest.mark.parametrize("bad", ["", "nodot", "Demo.check", "demo.Check", "demo.some_check", "demo.-x",
                                 "demo.x-", "demo..x", "demo.a.b", " demo.x", "demo.x "])
def test_finding_rejects_bad_rule_ids(bad):
    with pytest.raises(pydantic.ValidationError):
        make(rule=bad)


@pytest.mark.parametrize("good", ["demo.x", "cors.credentials-with-wildcard-origin", "my-team.check-2"])
def test_finding_accepts_good_rule_ids(good):
    assert make(rule=good).rule == good


@pytest.mark.parametrize("value", ["text", 0, -3, 1.5, True, False, None])
def test_evidence_accepts_json_scalars(value):
    f = make(evidence={"k": value})
    assert f.evidence["k"] == value and type(f.evidence["k"]) is type(value)


@pytest.mark.parametrize("value", [[1, 2], ["a"], {"nested": 1}, {}, (1,), float("nan"), float("inf")])
def test_evidence_rejects_non_scalars(value):
    with pytest.raises(pydantic.ValidationError):
        make(evidence={"k": value})


def test_severity_parsed_from_string_and_bad_one_rejected():
    assert make(severity="error").severity is Severity.ERROR
    with pytest.raises(pydantic.ValidationError):
        make(severity="fatal")


def test_to_json_round_trips():
    f = make(detail="**why**", subject="response.status", reference="https://example.org/#x",
             evidence={"status": 503, "ratio": 0.25, "header": "max-age=0", "ok": False, "none": None})
    data = f.to_json()
    assert data["severity"] == "warning"  # plain JSON, not an enum
    text = json.dumps(data, allow_nan=False)
    back = Finding.model_validate(json.loads(text))
    assert back == f
    assert back.to_json() == data


# -- Severity --------------------------------------------------------------

def test_severity_order():
    assert Severity.GOOD < Severity.INFO < Severity.WARNING < Severity.ERROR
    assert Severity.ERROR > Severity.WARNING > Severity.INFO > Severity.GOOD
    assert Severity.INFO <= Severity.INFO and Severity.INFO >= Severity.INFO
    assert not Severity.ERROR < Severity.GOOD
    assert sorted([Severity.ERROR, Severity.GOOD, Severity.WARNING, Severity.INFO]) == [
        Severity.GOOD, Severity.INFO, Severity.WARNING, Severity.ERROR]


def test_severity_max_and_min():
    assert max([Severity.INFO, Severity.ERROR, Severity.GOOD]) is Severity.ERROR
    assert max([Severity.GOOD, Severity.WARNING, Severity.INFO]) is Severity.WARNING
    assert min([Severity.WARNING, Severity.INFO]) is Severity.INFO
    assert max(f.severity for f in [make(severity="info"), make(severity="warning")]) is Severity.WARNING


def test_severity_compared_with_plain_string_uses_severity_order():
    # Alphabetically "error" < "good"; a Severity must not silently fall back to that.
    assert Severity.ERROR > "good"
    assert "good" < Severity.ERROR
    assert Severity.WARNING >= "warning"
    assert Severity.INFO < "warning"
    with pytest.raises(TypeError):
        Severity.INFO < "fatal"  # noqa: B015
    with pytest.raises(TypeError):
        Severity.INFO < 3  # noqa: B015


# -- proxylens rules ---------------------------------------------------------

def run_rules(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "proxy.cli", "rules", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_cli_rules_lists_every_rule():
    proc = run_rules()
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    listed = {line.split()[0] for line in lines if line and not line[0].isspace()}
    assert listed == {r.id for r in RULES}
    for r in RULES:
        line = next(line for line in lines if line.startswith(r.id + " "))
        assert r.severity.value in line.split() and r.summary in line
        assert r.reference in proc.stdout


def test_cli_rules_json_lists_every_rule():
    proc = run_rules("--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    by_id = {item["id"]: item for item in data}
    assert set(by_id) == {r.id for r in RULES}
    assert len(data) == len(RULES)
    for r in RULES:
        assert by_id[r.id] == {"id": r.id, "severity": r.severity.value, "category": r.category,
                               "summary": r.summary, "reference": r.reference}
