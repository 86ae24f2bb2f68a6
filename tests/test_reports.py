"""The verdict's reports (proxy/reports.py): JUnit XML valid against the Jenkins/pytest junit-10.xsd, SARIF valid
against the official SARIF 2.1.0 schema, Markdown that renders to the table a reviewer reads, JSON, all
byte-identical for the same traffic in any order; $GITHUB_STEP_SUMMARY appended; write problems reported, not raised.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import jsonschema
import pytest
import xmlschema
from markdown_it import MarkdownIt

from proxy import __version__
from proxy.analyzer import analyzer
from proxy.findings import catalog
from proxy.gate import Gate, GateConfig
from proxy.judge import Judge, Verdict
from proxy.pipeline import Pipeline
from proxy.policy import Policy
from proxy.reports import SARIF_SCHEMA, WRITERS, json_report, junit, markdown, sarif, write_reports
from tests.support.traffic import analyze, ex, mixed_traffic, refused

DATA = Path(__file__).parent / "data"
PROXYLENS = str(Path(sys.executable).with_name("proxylens"))

# Fail-level: refused connections (accepted on api.test) and, by policy, responses without Date (accepted on
# cdn.test's /orders only); legacy.test is all warn. Warnings: 500s; notes: 404s, RFC/browser differences.
POLICY = Policy.model_validate({"rules": {"caching.date-missing": "fail"},
                                "overrides": [{"url": "https://legacy.test/*", "rules": {"*": "warn"}}]})
BASELINE = {("status.upstream-refused", "api.test", "GET", "/v1/users/{n}"),
            ("caching.date-missing", "cdn.test", "GET", "/orders/{n}")}


@pytest.fixture(scope="module")
def results():
    return mixed_traffic(200)


@pytest.fixture(scope="module")
def verdict(results) -> Verdict:
    return verdict_of(results)


@pytest.fixture(scope="module")
def junit_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(DATA / "junit-10.xsd"))


@pytest.fixture(scope="module")
def sarif_validator():
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    assert schema["id"] == SARIF_SCHEMA  # the schema the report names is the one it is checked against
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    # FormatChecker(): every format jsonschema knows; uri and uri-reference need rfc3986-validator (a test dependency)
    checker = jsonschema.FormatChecker()
    assert not checker.conforms("https://x.test/a b", "uri-reference"), "install rfc3986-validator"
    return cls(schema, format_checker=checker)


def verdict_of(results, policy: Policy = POLICY, baseline: set | None = None) -> Verdict:
    judge = Judge(policy, BASELINE if baseline is None else baseline)
    for r in results:
        judge.add(r)
    return judge.verdict()


def test_the_fixture_covers_every_case(verdict):
    by_key = {(g.rule, g.host): g for g in verdict.groups}
    assert by_key[("status.upstream-refused", "api.test")].failed is False  # fail-level, all accepted
    assert by_key[("status.upstream-refused", "app.test")].failed is True
    date = by_key[("caching.date-missing", "cdn.test")]
    assert date.level == "fail" and 0 < date.new < date.count and date.failed  # partly accepted
    assert {g.level for g in verdict.groups} == {"fail", "warn", "info"}
    assert by_key[("hsts.set", "legacy.test")].level == "warn"  # the override's "*" names a good rule too
    assert ("hsts.set", "api.test") not in by_key  # good: ignored
    assert verdict.failed


# --- determinism -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_reports_are_byte_identical_whatever_the_arrival_order(results, verdict, kind):
    expected = WRITERS[kind](verdict)
    rng = random.Random(kind)
    for _ in range(4):
        shuffled = results[:]
        rng.shuffle(shuffled)
        assert WRITERS[kind](verdict_of(shuffled)) == expected


def test_written_files_are_byte_identical(tmp_path, results, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    contents = []
    for n, order in enumerate((results, results[::-1])):
        targets = {kind: str(tmp_path / f"{n}.{kind}") for kind in WRITERS}
        assert write_reports(verdict_of(order), targets) == []
        contents.append({kind: Path(path).read_bytes() for kind, path in targets.items()})
    assert contents[0] == contents[1]


# --- JUnit -----------------------------------------------------------------------------------------------------------


def cases_of(xml: str) -> list[ET.Element]:
    return list(ET.fromstring(xml).iter("testcase"))


def test_junit_is_valid_and_has_one_case_per_rule_and_host(verdict, junit_schema):
    xml = junit(verdict)
    junit_schema.validate(xml)
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ')
    cases = cases_of(xml)
    names = [(c.get("classname"), c.get("name")) for c in cases]
    assert len(names) == len(set(names))
    expected = {(f"proxylens.{g.category}", f"{g.rule} @ {g.host}") for g in verdict.groups}
    expected |= {("proxylens.hosts", f"judged @ {h}") for h in verdict.hosts}
    assert set(names) == expected

    failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert set(failed) == {f"{g.rule} @ {g.host}" for g in verdict.groups if g.failed}
    for g in verdict.groups:
        case = next(c for c in cases if c.get("name") == f"{g.rule} @ {g.host}")
        if g.failed:
            failure = failed[case.get("name")]
            assert failure.get("type") == g.rule
            assert failure.get("message") == f"{g.new} new finding(s): {catalog.get(g.rule).summary}"
            text = failure.text
        else:
            assert case.find("failure") is None
            text = case.find("system-out").text
        assert text.startswith(f"{g.count} finding(s) at level {g.level}, {g.new} new, {g.count - g.new} accepted")
        assert f"GET {g.examples[0].url} -> " in text


def test_junit_counts_add_up(verdict):
    root = ET.fromstring(junit(verdict))
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        assert suite.get("tests") == str(len(cases))
        assert suite.get("failures") == str(sum(c.find("failure") is not None for c in cases))
        assert all(c.get("classname", "").startswith("proxylens.") for c in cases)
    assert root.get("tests") == str(len(cases_of(junit(verdict))))
    assert root.get("failures") == str(sum(g.failed for g in verdict.groups))
    assert [s.get("name") for s in root.iter("testsuite")] == \
        ["proxylens.caching", "proxylens.hsts", "proxylens.status", "proxylens (judged hosts)"]


def test_junit_of_runs_without_findings(junit_schema):
    empty = Judge().verdict()
    junit_schema.validate(junit(empty))
    assert cases_of(junit(empty)) == []
    # judged traffic without reportable findings still shows what was judged
    quiet = verdict_of(analyze([ex(0, "https://ok.test/", date=True)]), Policy(), set())
    junit_schema.validate(junit(quiet))
    assert [(c.get("name"), c.find("system-out").text) for c in cases_of(junit(quiet))] == \
        [("judged @ ok.test", "1 exchange(s) judged")]


@analyzer("crashy")
def crashy(exchange, session):
    raise RuntimeError("custom check broke")


def test_junit_with_proxylens_category_findings(junit_schema):
    from addons import builtin_analyzers

    pipeline = Pipeline([*builtin_analyzers(), crashy])
    results = [pipeline.run(refused(0, "https://api.test/x"))]
    verdict = verdict_of(results, Policy(rules={"proxylens.*": "fail"}), set())
    assert {g.rule for g in verdict.groups} == {"proxylens.analyzer-error", "status.upstream-refused"}
    xml = junit(verdict)
    junit_schema.validate(xml)
    names = [(c.get("classname"), c.get("name")) for c in cases_of(xml)]
    assert len(names) == len(set(names)) == 3
    assert ET.fromstring(xml).get("failures") == "2"


# --- SARIF -----------------------------------------------------------------------------------------------------------


def test_sarif_is_valid_sarif_2_1_0(verdict, sarif_validator):
    log = json.loads(sarif(verdict))
    sarif_validator.validate(log)
    assert log["$schema"] == SARIF_SCHEMA and log["version"] == "2.1.0"
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "proxylens" and driver["version"] == __version__
    rules = [r["id"] for r in driver["rules"]]
    assert rules == sorted({g.rule for g in verdict.groups})
    for descriptor in driver["rules"]:
        rule = catalog.get(descriptor["id"])
        assert descriptor["shortDescription"]["text"] == rule.summary
        assert descriptor.get("helpUri") == (rule.reference or None)
    results = log["runs"][0]["results"]
    assert len(results) == sum(len(g.examples) for g in verdict.groups)
    levels = {"fail": "error", "warn": "warning", "info": "note"}
    by_key = {(g.rule, g.host): g for g in verdict.groups}
    for r in results:
        assert rules[r["ruleIndex"]] == r["ruleId"]
        host = r["partialFingerprints"]["proxylens/v1"].split("|")[1]
        group = by_key[(r["ruleId"], host)]
        assert r["level"] == levels[group.level]
        assert r["baselineState"] == ("new" if group.new else "unchanged")
        uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri in [e.url for e in group.examples] and uri in r["message"]["text"]


def test_sarif_of_an_empty_run_is_valid(sarif_validator):
    log = json.loads(sarif(Judge().verdict()))
    sarif_validator.validate(log)
    assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"] == []


def test_sarif_uri_of_a_url_with_a_pipe_is_valid(sarif_validator):
    url = "https://en.wikipedia.test/w/api.php?action=query&prop=info|revisions"
    log = json.loads(sarif(verdict_of(analyze([refused(0, url)]), Policy(), set())))
    sarif_validator.validate(log)


# --- JSON ------------------------------------------------------------------------------------------------------------


def test_json_report_is_the_verdict(verdict):
    data = json.loads(json_report(verdict))
    assert data == {"tool": "proxylens", "version": __version__, **verdict.as_dict()}
    assert data["verdict"] == "fail"
    assert json.loads(json_report(Judge().verdict()))["verdict"] == "pass"


# --- Markdown --------------------------------------------------------------------------------------------------------

MD = MarkdownIt("commonmark").enable("table")


def rendered(text: str) -> dict:
    """Headings, paragraphs and tables (rows of cell texts) as a reader of the rendered Markdown sees them."""
    out: dict = {"h2": [], "h3": [], "p": [], "tables": []}
    tokens = MD.parse(text)
    cell = False
    for i, t in enumerate(tokens):
        if t.type == "table_open":
            out["tables"].append([])
        elif t.type == "tr_open":
            out["tables"][-1].append([])
        elif t.type in ("th_open", "td_open"):
            cell = True
        elif t.type in ("th_close", "td_close"):
            cell = False
        elif t.type == "inline":
            words = "".join(c.content if c.type != "softbreak" else "\n" for c in t.children)
            if cell:
                out["tables"][-1][-1].append(words)
            elif tokens[i - 1].type == "heading_open":
                out[tokens[i - 1].tag].append(words)
            elif tokens[i - 1].type == "paragraph_open":
                out["p"].append(words)
    return out


def test_markdown_renders_the_verdict_and_a_table_per_level(verdict):
    page = rendered(markdown(verdict))
    assert page["h2"] == ["proxylens: FAILED"]
    assert page["h3"] == ["Failures", "Warnings", "Notes"]
    new_failures = sum(g.new for g in verdict.groups if g.level == "fail")
    assert page["p"] == [(f"200 exchange(s), 200 judged on 4 host(s), 0 out of scope. Findings: "
                          f"{verdict.count('fail')} fail ({new_failures} new), {verdict.count('warn')} warn, "
                          f"{verdict.count('info')} info.")]
    assert len(page["tables"]) == 3
    for level, table in zip(("fail", "warn", "info"), page["tables"]):
        assert table[0] == ["rule", "host", "count", "new", "example"]
        groups = [g for g in verdict.groups if g.level == level]
        assert table[1:] == [[g.rule, g.host, str(g.count), str(g.new),
                              f"{g.examples[0].method} {g.examples[0].url}: {g.examples[0].summary}"]
                             for g in groups]
    failures = {(row[0], row[1]): row for row in page["tables"][0][1:]}
    assert failures[("status.upstream-refused", "api.test")][3] == "0"  # accepted: shown, not new
    assert int(failures[("status.upstream-refused", "app.test")][3]) > 0


def test_markdown_of_a_passing_run_and_the_baseline(tmp_path):
    policy = tmp_path / "proxylens.toml"
    policy.write_text('baseline = "accepted.json"\n')
    (tmp_path / "accepted.json").write_text('{"version": 1, "accepted": []}')
    gate = Gate(GateConfig(policy=str(policy)))
    verdict, _ = gate.close()
    page = rendered(markdown(verdict))
    assert page["h2"] == ["proxylens: passed"]
    assert page["h3"] == []
    assert page["p"] == [("0 exchange(s), 0 judged on 0 host(s), 0 out of scope. Findings: 0 fail (0 new), 0 warn, "
                          f"0 info.\nBaseline: {tmp_path / 'accepted.json'}."), "No findings."]


def test_markdown_table_cells_survive_pipes_and_newlines():
    url = "https://en.wikipedia.test/w/api.php?action=query&prop=info|revisions"
    verdict = verdict_of(analyze([refused(0, url)]), Policy(), set())
    table = rendered(markdown(verdict))["tables"][0]
    assert len(table[1]) == 5
    assert table[1][4].startswith(f"GET {url}: ")


# --- writing them ----------------------------------------------------------------------------------------------------


def test_github_step_summary_is_appended(tmp_path, monkeypatch, verdict):
    summary = tmp_path / "step-summary.md"
    summary.write_text("## tests\n\n42 passed\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert write_reports(verdict, {}) == []
    assert write_reports(verdict, {"markdown": str(tmp_path / "m.md")}) == []
    text = summary.read_text()
    assert text == "## tests\n\n42 passed\n" + (markdown(verdict) + "\n") * 2
    assert (tmp_path / "m.md").read_text() == markdown(verdict)


def test_an_unwritable_report_path_is_reported_not_raised(tmp_path, monkeypatch, verdict):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))  # a directory: cannot append
    targets = {"junit": str(tmp_path / "missing" / "j.xml"), "sarif": str(tmp_path), "json": str(tmp_path / "r.json")}
    problems = write_reports(verdict, targets)
    assert problems == [f"cannot write the junit report to {tmp_path / 'missing' / 'j.xml'}: No such file or directory",
                        f"cannot write the sarif report to {tmp_path}: Is a directory",
                        f"cannot append to $GITHUB_STEP_SUMMARY ({tmp_path}): Is a directory"]
    assert json.loads((tmp_path / "r.json").read_text())["verdict"] == "fail"  # the others are still written


def test_gate_close_tells_what_was_written(tmp_path, monkeypatch, results):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    reports = (("sarif", str(tmp_path / "r.sarif")), ("junit", str(tmp_path / "no" / "j.xml")))
    gate = Gate(GateConfig(reports=reports))
    for r in results[:10]:
        gate.add(r)
    _, messages = gate.close()
    assert messages[:3] == [(f"error: cannot write the junit report to {tmp_path / 'no' / 'j.xml'}: "
                             "No such file or directory"),
                            f"junit report: {tmp_path / 'no' / 'j.xml'}", f"sarif report: {tmp_path / 'r.sarif'}"]
    assert messages[3].startswith("policy: FAILED: ")
    assert json.loads((tmp_path / "r.sarif").read_text())["runs"][0]["results"]


def test_analyze_writes_every_report(tmp_path, junit_schema, sarif_validator):
    """End to end: `proxylens analyze` on a Chrome HAR with a policy; every report valid, the step summary appended."""
    (tmp_path / "proxylens.toml").write_text('exclude = ["*.badssl.com"]\n[rules]\n"caching.*" = "ignore"\n')
    summary = tmp_path / "summary.md"
    summary.write_text("before\n")
    env = {**os.environ, "PROXYLENS_HOME": str(tmp_path / "home"), "GITHUB_STEP_SUMMARY": str(summary)}
    out = subprocess.run([PROXYLENS, "analyze", str(DATA / "chrome.har"), "--policy", "proxylens.toml",
                          "--junit", "j.xml", "--sarif", "r.sarif", "--json-report", "r.json", "--markdown", "m.md"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 1, out.stderr  # the HAR has a request that got no response: fail by default
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["verdict"] == "fail" and report["out_of_scope"] == 1  # self-signed.badssl.com
    assert [(g["rule"], g["host"]) for g in report["groups"] if g["failed"]] == \
        [("status.no-response", "api.example.net")]
    assert not any(g["rule"].startswith("caching.") or g["host"].endswith("badssl.com") for g in report["groups"])
    junit_schema.validate(str(tmp_path / "j.xml"))
    sarif_validator.validate(json.loads((tmp_path / "r.sarif").read_text()))
    markdown_text = (tmp_path / "m.md").read_text()
    assert summary.read_text() == "before\n" + markdown_text + "\n"
    assert rendered(markdown_text)["h2"] == ["proxylens: FAILED"]
    assert "policy: FAILED: 1 new fail-level finding(s): status.no-response @ api.example.net (1)" in out.stderr
    failures = [c for c in cases_of((tmp_path / "j.xml").read_text()) if c.find("failure") is not None]
    assert [c.get("name") for c in failures] == ["status.no-response @ api.example.net"]
