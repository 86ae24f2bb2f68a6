"""The CI gate's policy, baseline and judge: proxy/policy.py, proxy/judge.py, proxy/gate.py, proxy/policy_init.py.

Bad policies must say where (file and line) and what (key) is wrong; levels resolve exact id > longer glob >
shorter glob, overrides last-match-wins; the baseline accepts findings by rule, host, method and path template;
the verdict fails only for new fail-level findings and is the same whatever the arrival order.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy import cli, judge
from proxy.findings import Severity, catalog
from proxy.gate import DEFAULT_BASELINE, Gate, GateConfig, verdict_line
from proxy.judge import BaselineError, Judge, baseline_json, baseline_key, load_baseline, path_template
from proxy.policy import DEFAULT_LEVELS, Policy, PolicyError, find_policy, load_policy
from proxy.policy_init import starter_text, write_starter
from tests.support.traffic import analyze, ex, finding, mixed_traffic, refused, result

PROXYLENS = str(Path(sys.executable).with_name("proxylens"))
KNOWN = [r.id for r in catalog]


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    return str(caught.value)


def judge_all(results, policy: Policy | None = None, baseline: set | None = None, record: bool = False):
    j = Judge(policy, baseline, record_baseline=record)
    for r in results:
        j.add(r)
    return j


# --- loading -------------------------------------------------------------------------------------------------------


def test_a_full_proxylens_toml_loads(tmp_path, monkeypatch):
    (tmp_path / "ci").mkdir()
    path = write(tmp_path / "ci", "proxylens.toml", """
        scope = ["*.Staging.Example.com", "localhost"]
        exclude = ["auth.staging.example.com"]
        baseline = "proxylens-baseline.json"

        [levels]
        error = "fail"
        warning = "warn"
        info = "ignore"

        [rules]
        "caching.heuristic-freshness" = "ignore"
        "tls.*" = "fail"

        [[overrides]]
        url = "https://staging.example.com/legacy/*"
        rules = { "cors.*" = "warn" }
        """)
    monkeypatch.chdir(tmp_path)  # the baseline is relative to the policy file, not to the working directory
    policy = load_policy(path)
    assert policy.scope == ["*.staging.example.com", "localhost"]  # host globs are case-insensitive
    assert policy.exclude == ["auth.staging.example.com"]
    assert policy.levels == {Severity.ERROR: "fail", Severity.WARNING: "warn", Severity.INFO: "ignore"}
    assert policy.rules == {"caching.heuristic-freshness": "ignore", "tls.*": "fail"}
    assert [(o.url, o.rules) for o in policy.overrides] == [("https://staging.example.com/legacy/*",
                                                             {"cors.*": "warn"})]
    assert policy.source == path.resolve()
    assert policy.baseline_path == (tmp_path / "ci" / "proxylens-baseline.json").resolve()
    policy.check_rules(KNOWN)  # every key names or matches a rule


def test_pyproject_tool_proxylens_loads(tmp_path):
    path = write(tmp_path, "pyproject.toml", """
        [project]
        name = "shop"

        [tool.ruff]
        line-length = 120

        [tool.proxylens]
        scope = ["localhost"]
        baseline = "ci/accepted.json"

        [tool.proxylens.levels]
        warning = "fail"

        [tool.proxylens.rules]
        "status.*" = "info"

        [[tool.proxylens.overrides]]
        url = "http://localhost:*/legacy/*"
        rules = { "status.server-error" = "ignore" }
        """)
    policy = load_policy(path)
    assert policy.scope == ["localhost"]
    assert policy.levels == {Severity.WARNING: "fail"}
    assert policy.rules == {"status.*": "info"}
    assert policy.overrides[0].rules == {"status.server-error": "ignore"}
    assert policy.baseline_path == (tmp_path / "ci" / "accepted.json").resolve()


def test_an_empty_policy_means_defaults(tmp_path):
    policy = load_policy(write(tmp_path, "proxylens.toml", "# nothing yet\n"))
    assert (policy.scope, policy.exclude, policy.levels, policy.rules, policy.overrides, policy.baseline) == \
        ([], [], {}, {}, [], None)
    assert policy.baseline_path is None


BAD = [
    pytest.param('baseline = "b.json"\nscopes = ["localhost"]\n', 2, "scopes",
                 "unknown key; expected one of baseline, exclude, levels, overrides, rules, scope",
                 id="unknown-top-level-key"),
    pytest.param('scope = []\n\n[levels]\nwarning = "warn"\nerror = "fial"\n', 5, "levels.error",
                 "'fial' is not a level; use one of ignore, info, warn, fail", id="bad-level-in-levels"),
    pytest.param('[rules]\n"tls.*" = "fail"\n"cors.*" = "Warn"\n', 3, "rules.cors.*",
                 "'Warn' is not a level", id="bad-level-in-rules"),
    pytest.param('[rules]\n"tls.*" = 3\n', 2, "rules.tls.*", "3 is not a level", id="level-not-a-string"),
    pytest.param('exclude = []\nscope = "localhost"\n', 2, "scope", "Input should be a valid list",
                 id="scope-not-a-list"),
    pytest.param('scope = ["localhost", "https://staging.example.com/"]\n', 1, "scope",
                 "'https://staging.example.com/' is not a host glob (e.g. example.com", id="scope-entry-is-a-url"),
    pytest.param('# hosts\nscope = ["api example.com"]\n', 2, "scope", "'api example.com' is not a host glob",
                 id="scope-entry-with-a-space"),
    pytest.param('scope = [""]\n', 1, "scope", "'' is not a host glob", id="scope-entry-empty"),
    pytest.param('# not judged\nexclude = ["ws://x"]\n', 2, "exclude", "'ws://x' is not a host glob",
                 id="exclude-entry-url"),
    pytest.param('baseline = 7\n', 1, "baseline", "Input should be a valid string", id="baseline-not-a-string"),
    pytest.param('levels = "fail"\n', 1, "levels", "Input should be a valid dictionary", id="levels-not-a-table"),
    pytest.param('[[overrides]]\nurl = "https://x/*"\nrules = {}\nrule = { "tls.*" = "warn" }\n', 4,
                 "overrides.0.rule",
                 "unknown key; expected one of rules, url", id="unknown-key-in-override"),
    pytest.param('[[overrides]]\nurl = "https://x/*"\nrules = { "tls.*" = "fial" }\n', 3, "overrides.0.rules.tls.*",
                 "'fial' is not a level", id="bad-level-in-override"),
]


@pytest.mark.parametrize("text, line, key, message", BAD)
def test_a_bad_policy_names_file_line_and_key(tmp_path, text, line, key, message):
    path = write(tmp_path, "proxylens.toml", text)
    error = error_of(path)
    assert error.startswith(f"{path}:{line}: {key}: "), error
    assert message in error


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(tmp_path, "proxylens.toml", 'scope = "x"\nbaseline = 1\n[levels]\nerror = "fial"\n')
    lines = error_of(path).splitlines()
    assert sorted(line.split(": ", 2)[:2] for line in lines) == [
        [f"{path}:1", "scope"], [f"{path}:2", "baseline"], [f"{path}:4", "levels.error"]]


def test_a_bad_severity_key_names_file_line_and_table(tmp_path):
    path = write(tmp_path, "proxylens.toml", '[levels]\nerror = "fail"\nerrror = "fail"\n')
    error = error_of(path)
    assert error.startswith(f"{path}:3: levels.errror"), error
    assert error.endswith("is not a severity; use one of good, info, warning, error")


def test_a_bad_severity_key_is_named_in_the_message(tmp_path):
    path = write(tmp_path, "proxylens.toml", '[levels]\nerror = "fail"\nerrror = "fail"\n')
    error = error_of(path)
    assert error.startswith(f"{path}:3: levels.errror: ")
    assert "'errror' is not a severity" in error
    assert "[key]" not in error


def test_bad_toml_syntax_names_the_file_and_line(tmp_path):
    path = write(tmp_path, "proxylens.toml", 'scope = ["localhost"]\n\n[rules\n"tls.*" = "fail"\n')
    error = error_of(path)
    assert error.startswith(f"{path}: not valid TOML: ")
    assert "line 3" in error


def test_a_missing_policy_points_to_policy_init(tmp_path):
    error = error_of(tmp_path / "proxylens.toml")
    assert error == f"{tmp_path / 'proxylens.toml'}: no such file; `proxylens policy init` writes a starter policy"


def test_an_unreadable_policy_is_a_policy_error(tmp_path):
    (tmp_path / "proxylens.toml").mkdir()
    assert "cannot read it" in error_of(tmp_path / "proxylens.toml")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'baseline = "caf\xe9.json"\n')
    assert error_of(bad).startswith(f"{bad}: cannot read it: ")


def test_pyproject_without_tool_proxylens(tmp_path):
    path = write(tmp_path, "pyproject.toml", '[project]\nname = "shop"\n\n[tool.ruff]\nline-length = 99\n')
    assert error_of(path) == f"{path}: has no [tool.proxylens] table"


def test_pyproject_errors_name_the_line_in_pyproject(tmp_path):
    path = write(tmp_path, "pyproject.toml", """
        [project]
        name = "shop"

        [tool.proxylens]
        scope = ["localhost"]

        [tool.proxylens.levels]
        error = "fial"
        """)
    error = error_of(path)
    assert error.startswith(f"{path}:8: levels.error: 'fial' is not a level"), error


def test_pyproject_line_is_the_one_in_tool_proxylens(tmp_path):
    path = write(tmp_path, "pyproject.toml", """
        [tool.ruff]
        exclude = ["build"]

        [tool.proxylens]
        exclude = "auth.example.com"
        """)
    assert error_of(path).startswith(f"{path}:5: exclude: Input should be a valid list")


def test_a_bad_override_level_is_reported_at_the_override(tmp_path):
    path = write(tmp_path, "proxylens.toml", """
        [rules]
        "cors.*" = "fail"

        [[overrides]]
        url = "https://staging.example.com/legacy/*"
        rules = { "cors.*" = "wran" }
        """)
    assert error_of(path).startswith(f"{path}:6: overrides.0.rules.cors.*: 'wran' is not a level")


def test_the_second_override_is_reported_at_its_own_line(tmp_path):
    path = write(tmp_path, "proxylens.toml", """
        [[overrides]]
        url = "https://a.test/*"
        rules = { "cors.*" = "warn" }

        [[overrides]]
        rules = { "tls.*" = "warn" }
        """)
    error = error_of(path)
    assert error.startswith((f"{path}:5: overrides.1.url: Field required",  # its [[overrides]]
                             f"{path}:6: overrides.1.url: Field required")), error  # or its first key


@pytest.mark.parametrize("text", ["tool = 1\n", 'tool = "x"\n', "tool = [1]\n"])
def test_pyproject_whose_tool_is_not_a_table(tmp_path, text):
    path = write(tmp_path, "pyproject.toml", text)
    assert str(path) in error_of(path)


def test_find_policy(tmp_path):
    assert find_policy(tmp_path) is None
    write(tmp_path, "pyproject.toml", '[project]\nname = "shop"\n')
    assert find_policy(tmp_path) is None  # a pyproject without [tool.proxylens] is not a policy
    write(tmp_path, "pyproject.toml", '[tool.proxylens]\nscope = ["localhost"]\n')
    assert find_policy(tmp_path) == tmp_path / "pyproject.toml"
    write(tmp_path, "pyproject.toml", "[tool.proxylens\n")
    assert find_policy(tmp_path) == tmp_path / "pyproject.toml"  # load_policy will say what is wrong
    write(tmp_path, "proxylens.toml", "")
    assert find_policy(tmp_path) == tmp_path / "proxylens.toml"  # proxylens.toml comes first


def test_find_policy_with_a_pyproject_whose_tool_is_not_a_table(tmp_path):
    write(tmp_path, "pyproject.toml", "tool = 1\n")
    assert find_policy(tmp_path) in (None, tmp_path / "pyproject.toml")


# --- check_rules: a key that matches no rule would silently change nothing -------------------------------------------


def test_unknown_rule_id_in_rules_with_did_you_mean(tmp_path):
    path = write(tmp_path, "proxylens.toml", '[rules]\n"tls.*" = "fail"\n"tls.certficate-expired" = "warn"\n')
    with pytest.raises(PolicyError) as caught:
        load_policy(path).check_rules(KNOWN)
    assert str(caught.value) == (f"{path}:3: rules.'tls.certficate-expired' matches no rule; "
                                 "did you mean 'tls.certificate-expired'?")


def test_unmatched_glob_in_rules(tmp_path):
    path = write(tmp_path, "proxylens.toml", '[rules]\n"tsl.*" = "fail"\n')
    with pytest.raises(PolicyError) as caught:
        load_policy(path).check_rules(KNOWN)
    message = str(caught.value)
    assert message.startswith(f"{path}:2: rules.'tsl.*' matches no rule; ")
    assert "did you mean" in message or "`proxylens rules` lists them" in message


def test_unknown_rule_in_an_override(tmp_path):
    path = write(tmp_path, "proxylens.toml", """
        [rules]
        "cors.*" = "fail"

        [[overrides]]
        url = "https://staging.example.com/legacy/*"
        rules = { "cors.missing-allow-orign" = "warn" }
        """)
    with pytest.raises(PolicyError) as caught:
        load_policy(path).check_rules(KNOWN)
    assert str(caught.value) == (f"{path}:6: overrides[0].rules.'cors.missing-allow-orign' matches no rule; "
                                 "did you mean 'cors.missing-allow-origin'?")


def test_an_unmatched_glob_without_a_close_match_lists_the_rules():
    policy = Policy(rules={"zzz.*": "fail"})
    with pytest.raises(PolicyError) as caught:
        policy.check_rules(KNOWN)
    assert str(caught.value) == "policy: rules.'zzz.*' matches no rule; `proxylens rules` lists them"


def test_known_ids_and_matching_globs_pass_check_rules():
    Policy(rules={"*": "warn", "tls.*": "fail", "cors.allow-*": "info", "hsts.set": "ignore"},
           overrides=[{"url": "*", "rules": {"status.server-error": "info", "caching.*": "ignore"}}]
           ).check_rules(KNOWN)


# --- through the command line ---------------------------------------------------------------------------------------


def proxylens(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PROXYLENS_HOME": str(tmp_path / "home")}
    env.pop("GITHUB_STEP_SUMMARY", None)
    return subprocess.run([PROXYLENS, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
                          check=False)


@pytest.mark.parametrize("text, message", [
    ('scope = ["localhost"]\n[levels]\nerror = "fial"\n',
     "bad.toml:3: levels.error: 'fial' is not a level; use one of ignore, info, warn, fail"),
    ('[rules]\n"tls.certficate-expired" = "warn"\n',
     "bad.toml:2: rules.'tls.certficate-expired' matches no rule; did you mean 'tls.certificate-expired'?"),
], ids=["invalid", "unknown-rule"])
def test_run_with_a_bad_policy_exits_2_without_running_the_command(tmp_path, text, message):
    write(tmp_path, "bad.toml", text)
    out = proxylens(tmp_path, "run", "--policy", "bad.toml", "--", sys.executable, "-c",
                    "import pathlib; pathlib.Path('ran').touch()")
    assert out.returncode == 2, out.stderr
    assert message in out.stderr
    assert "proxylens: error: " in out.stderr
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize("text, message", [
    ("scope = localhost\n", "bad.toml: not valid TOML: "),
    ('scope = "localhost"\n', "bad.toml:1: scope: Input should be a valid list"),
    ('[[overrides]]\nurl = "*"\nrules = { "cors.*" = "warn", "hsts.mising" = "info" }\n',
     "bad.toml:3: overrides[0].rules.'hsts.mising' matches no rule; did you mean 'hsts.missing'?"),
], ids=["syntax", "invalid", "unknown-rule"])
def test_analyze_with_a_bad_policy_exits_2(tmp_path, text, message):
    write(tmp_path, "bad.toml", text)
    har = Path(__file__).parent / "data" / "chrome.har"
    out = proxylens(tmp_path, "analyze", str(har), "--policy", "bad.toml", "--junit", "j.xml")
    assert out.returncode == 2, out.stderr
    assert message in out.stderr
    assert out.stdout == ""  # nothing analyzed
    assert not (tmp_path / "j.xml").exists()


def test_analyze_with_a_missing_policy_exits_2(tmp_path):
    out = proxylens(tmp_path, "analyze", str(Path(__file__).parent / "data" / "chrome.har"), "--policy", "nope.toml")
    assert out.returncode == 2
    assert "nope.toml: no such file; `proxylens policy init` writes a starter policy" in out.stderr


# --- level resolution ------------------------------------------------------------------------------------------------

LEGACY = "https://staging.example.com/legacy/orders?id=1"
NEW = "https://staging.example.com/v2/orders"
OVERRIDES = [{"url": "https://staging.example.com/legacy/*", "rules": {"tls.*": "info", "cors.*": "warn"}},
             {"url": "https://staging.example.com/*", "rules": {"tls.certificate-expiring": "ignore"}}]

LEVEL_TABLE = [
    # severity defaults: error -> fail, warning -> warn, info -> info, good -> ignore
    ({}, "tls.certificate-expired", NEW, "fail"),
    ({}, "tls.certificate-expiring", NEW, "warn"),
    ({}, "caching.heuristic-freshness", NEW, "info"),
    ({}, "tls.verified", NEW, "ignore"),
    # custom [levels]; the severities not named keep their defaults
    ({"levels": {"warning": "fail"}}, "tls.certificate-expiring", NEW, "fail"),
    ({"levels": {"warning": "fail"}}, "tls.certificate-expired", NEW, "fail"),
    ({"levels": {"good": "info", "error": "warn"}}, "tls.verified", NEW, "info"),
    ({"levels": {"good": "info", "error": "warn"}}, "tls.certificate-expired", NEW, "warn"),
    # [rules]: an exact id, then the longest matching glob; [rules] beats [levels]
    ({"rules": {"tls.certificate-expiring": "ignore"}}, "tls.certificate-expiring", NEW, "ignore"),
    ({"rules": {"tls.*": "fail"}}, "tls.certificate-expiring", NEW, "fail"),
    ({"rules": {"tls.*": "fail"}}, "cors.missing-allow-origin", NEW, "fail"),  # by its severity, error
    ({"rules": {"tls.*": "fail"}}, "caching.heuristic-freshness", NEW, "info"),
    ({"rules": {"tls.*": "fail", "tls.certificate-expiring": "info"}}, "tls.certificate-expiring", NEW, "info"),
    ({"rules": {"tls.certificate-expiring": "info", "tls.*": "fail"}}, "tls.certificate-expiring", NEW, "info"),
    ({"rules": {"*": "ignore", "tls.*": "warn", "tls.certificate-*": "fail"}}, "tls.certificate-expiring", NEW,
     "fail"),
    ({"rules": {"tls.certificate-*": "fail", "tls.*": "warn", "*": "ignore"}}, "tls.certificate-expiring", NEW,
     "fail"),
    ({"rules": {"*": "ignore", "tls.*": "warn", "tls.certificate-*": "fail"}}, "tls.verified", NEW, "warn"),
    ({"rules": {"*": "ignore", "tls.*": "warn", "tls.certificate-*": "fail"}}, "hsts.missing", NEW, "ignore"),
    ({"levels": {"warning": "fail"}, "rules": {"tls.certificate-expiring": "info"}}, "tls.certificate-expiring", NEW,
     "info"),
    # [[overrides]]: per URL glob, the last matching one that names the rule wins, over [rules]
    ({"rules": {"tls.certificate-expired": "fail"}, "overrides": OVERRIDES}, "tls.certificate-expired", LEGACY,
     "info"),
    ({"rules": {"tls.certificate-expired": "fail"}, "overrides": OVERRIDES}, "tls.certificate-expired", NEW, "fail"),
    ({"overrides": OVERRIDES}, "tls.certificate-expiring", LEGACY, "ignore"),  # both match: the last wins
    ({"overrides": OVERRIDES}, "tls.certificate-expiring", NEW, "ignore"),
    ({"overrides": OVERRIDES}, "cors.missing-allow-origin", LEGACY, "warn"),  # the last does not name it
    ({"overrides": OVERRIDES}, "cors.missing-allow-origin", NEW, "fail"),
    ({"overrides": OVERRIDES[::-1]}, "tls.certificate-expiring", LEGACY, "info"),  # reversed: the glob one is last
    ({"overrides": [{"url": "*", "rules": {"tls.*": "warn", "tls.certificate-expired": "info"}}]},
     "tls.certificate-expired", NEW, "info"),
    ({"overrides": [{"url": "https://other.example.com/*", "rules": {"*": "ignore"}}]}, "tls.certificate-expired",
     NEW, "fail"),
]


@pytest.mark.parametrize("policy, rule, url, expected", LEVEL_TABLE)
def test_level_resolution(policy, rule, url, expected):
    assert Policy.model_validate(policy).level(finding(rule), url) == expected


def test_levels_follow_the_findings_severity_not_the_rules_default():
    expiring = catalog.get("tls.certificate-expiring").finding(severity=Severity.ERROR)
    assert Policy().level(expiring) == "fail"


def test_every_catalog_rule_gets_its_default_level():
    for rule in catalog:
        assert Policy().level(finding(rule.id), NEW) == DEFAULT_LEVELS[rule.severity]


# --- scope and exclude -----------------------------------------------------------------------------------------------


SCOPE_TABLE = [
    ([], [], "anything.example.org", True),
    (["*.staging.example.com"], [], "api.staging.example.com", True),
    (["*.staging.example.com"], [], "API.Staging.Example.COM", True),
    (["*.Staging.EXAMPLE.com"], [], "api.staging.example.com", True),
    (["*.staging.example.com"], [], "staging.example.com", False),
    (["*.staging.example.com"], [], "evilstaging.example.com", False),
    (["*.staging.example.com"], [], "staging.example.com.evil.test", False),
    (["*.staging.example.com"], ["auth.staging.example.com"], "auth.staging.example.com", False),
    ([], ["*.analytics.test"], "t.analytics.test", False),
    ([], ["*.analytics.test"], "app.test", True),
    (["10.0.*"], [], "10.0.3.7", True),
    (["10.0.*"], [], "10.1.0.1", False),
    (["::1"], [], "::1", True),
    (["::1"], [], "[::1]", True),
    (["localhost"], [], "localhost", True),
]


@pytest.mark.parametrize("scope, exclude, host, expected", SCOPE_TABLE)
def test_in_scope(scope, exclude, host, expected):
    assert Policy(scope=scope, exclude=exclude).in_scope(host) is expected


@pytest.mark.parametrize("url", ["http://localhost:8080/api", "http://LOCALHOST:3000/", "https://localhost/"])
def test_scope_matches_the_host_whatever_the_port(url):
    j = judge_all([result(url, "status.server-error", status=500)], Policy(scope=["localhost"]))
    assert j.out_of_scope == 0 and j.hosts == {"localhost": 1}


def test_scope_matches_an_ipv6_host():
    j = judge_all([result("http://[::1]:8080/x", "status.server-error", status=500)], Policy(scope=["::1"]))
    assert j.hosts == {"::1": 1}


def test_a_bracketed_ipv6_scope_entry_matches():
    j = judge_all([result("http://[::1]:8080/x", "status.server-error", status=500)], Policy(scope=["[::1]"]))
    assert j.hosts == {"::1": 1}


def test_a_scope_entry_with_a_port_is_rejected_or_matches(tmp_path):
    path = write(tmp_path, "proxylens.toml", 'scope = ["localhost:8080"]\n')
    try:
        policy = load_policy(path)
    except PolicyError as exc:
        assert f"{path}:1: scope: " in str(exc)
        return
    j = judge_all([result("http://localhost:8080/", "status.upstream-refused", status=None)], policy)
    assert j.out_of_scope == 0


# --- baseline ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, template", [
    ("/users/17", "/users/{n}"),
    ("/users/17/orders/0042", "/users/{n}/orders/{n}"),
    ("/users/17/", "/users/{n}/"),
    ("/items/3f2504e0-4f89-11d3-9a0c-0305e82c3301", "/items/{uuid}"),
    ("/items/3F2504E0-4F89-11D3-9A0C-0305E82C3301/x", "/items/{uuid}/x"),
    ("/blobs/0123456789abcdef0123", "/blobs/{id}"),
    ("/commits/9fceb02d0ae598e95dc970b74767f19372d61af8", "/commits/{id}"),
    ("/blobs/DEADBEEF00DEADBEEF", "/blobs/{id}"),
    ("/blobs/abc123", "/blobs/abc123"),  # short hex: kept
    ("/deadbeefdeadbeefdeadbeef", "/deadbeefdeadbeefdeadbeef"),  # hex letters only: a word, kept
    ("/api/v2/users", "/api/v2/users"),
    ("/cafe/add", "/cafe/add"),
    ("/v1.2/items", "/v1.2/items"),
    ("/", "/"),
    ("", "/"),
    ("//double", "//double"),
])
def test_path_template(path, template):
    assert path_template(path) == template


def test_baseline_key_drops_the_query_and_normalizes_the_method():
    assert baseline_key("status.server-error", "api.test", "get", "https://api.test/users/17?page=2#x") == \
        ("status.server-error", "api.test", "GET", "/users/{n}")
    assert baseline_key("r.x", "api.test", "POST", "https://api.test") == ("r.x", "api.test", "POST", "/")


def test_baseline_round_trip_is_sorted_and_stable(tmp_path):
    keys = {("tls.self-signed", "b.test", "GET", "/"), ("status.server-error", "a.test", "POST", "/users/{n}")}
    text = baseline_json(keys)
    assert text.endswith("}\n")
    data = json.loads(text)
    assert data["version"] == 1 and data["tool"] == "proxylens"
    assert [a["rule"] for a in data["accepted"]] == ["status.server-error", "tls.self-signed"]
    path = tmp_path / "b.json"
    path.write_text(text)
    assert load_baseline(path) == keys


REGENERATE = "regenerate it with `proxylens run --update-baseline -- ...`"


@pytest.mark.parametrize("content, detail", [
    ('{"version": 2, "accepted": []}', "version 2, expected 1"),
    ('{"accepted": []}', "version None, expected 1"),
    ("not json at all", "Expecting value"),
    ("[]", "has no attribute 'get'"),
    ('{"version": 1}', "'accepted'"),
    ('{"version": 1, "accepted": [{"rule": "r.x", "host": "h"}]}', "'method'"),
    ('{"version": 1, "accepted": "everything"}', "string indices"),
    ('{"version": 1, "accepted": [{"rule": [], "host": "h", "method": "GET", "path": "/"}]}', "unhashable"),
    (b'\xff\xfe{"version": 1}', "codec"),
])
def test_a_broken_baseline_says_how_to_regenerate_it(tmp_path, content, detail):
    path = tmp_path / "proxylens-baseline.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(BaselineError) as caught:
        load_baseline(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not a proxylens baseline (")
    assert detail in message and message.endswith(REGENERATE)


def test_a_missing_baseline_says_how_to_write_it(tmp_path):
    with pytest.raises(BaselineError) as caught:
        load_baseline(tmp_path / "nope.json")
    assert str(caught.value) == (f"{tmp_path / 'nope.json'}: no such baseline file; `proxylens run "
                                 "--update-baseline -- ...` writes it from the current findings")


# --- the judge -------------------------------------------------------------------------------------------------------


def groups_of(verdict) -> dict[tuple[str, str], tuple[str, int, int]]:
    return {(g.rule, g.host): (g.level, g.count, g.new) for g in verdict.groups}


def test_new_and_accepted_findings():
    baseline = {("status.upstream-refused", "api.test", "GET", "/users/{n}")}
    results = analyze([
        refused(0, "https://api.test/users/17?x=1"),  # accepted
        refused(1, "https://api.test/users/18"),  # accepted: the same template
        refused(2, "https://api.test/users/19", method="POST"),  # new: another method
        refused(3, "https://api.test/orders/1"),  # new: another path
        refused(4, "https://other.test/users/17"),  # new: another host
    ])
    verdict = judge_all(results, baseline=baseline).verdict()
    assert groups_of(verdict) == {("status.upstream-refused", "api.test"): ("fail", 4, 2),
                                  ("status.upstream-refused", "other.test"): ("fail", 1, 1)}
    assert verdict.failed
    assert verdict.as_dict()["new_failures"] == 3


def test_only_new_fail_level_findings_fail_the_verdict():
    warn_only = analyze([ex(0, "https://app.test/", status=500)])
    assert {g.level for g in judge_all(warn_only).verdict().groups} == {"warn", "info"}
    assert not judge_all(warn_only).verdict().failed  # warnings never fail, however new

    fail = analyze([refused(0, "https://api.test/users/1")])
    assert judge_all(fail).verdict().failed
    accepted = {("status.upstream-refused", "api.test", "GET", "/users/{n}")}
    assert not judge_all(fail, baseline=accepted).verdict().failed
    assert not judge_all(fail, Policy(rules={"status.upstream-refused": "warn"})).verdict().failed
    assert judge_all(warn_only, Policy(levels={"warning": "fail"})).verdict().failed


def test_update_mode_accepts_everything_and_records_warn_and_fail_keys_only():
    results = mixed_traffic(40)
    recording = judge_all(results, record=True)
    verdict = recording.verdict()
    assert not verdict.failed
    assert all(g.new == 0 for g in verdict.groups)
    recorded_rules = {key[0] for key in recording.recorded}
    assert recorded_rules == {"status.upstream-refused", "status.server-error", "caching.date-missing"}  # no info
    assert ("status.upstream-refused", "api.test", "GET", "/v1/users/{n}") in recording.recorded
    # the same traffic against the recorded baseline: everything accepted
    again = judge_all(results, baseline=recording.recorded).verdict()
    assert not again.failed
    assert all(g.new == 0 for g in again.groups if g.level in ("warn", "fail"))
    # a new endpoint with an old problem is new
    new_endpoint = analyze([refused(99, "https://api.test/v2/accounts/1")])
    assert judge_all(new_endpoint, baseline=recording.recorded).verdict().failed


def test_update_mode_bounds_the_recorded_keys(monkeypatch):
    monkeypatch.setattr(judge, "MAX_BASELINE_KEYS", 3)
    results = analyze([refused(i, f"https://api.test/p{i}/x") for i in range(10)])
    assert len(judge_all(results, record=True).recorded) == 3


def test_a_recorded_baseline_accepts_the_same_traffic_with_overrides():
    policy = Policy.model_validate({"overrides": [{"url": "https://api.test/legacy/*", "rules": {"status.*": "info"}}]})
    results = analyze([refused(0, "https://api.test/v1/orders"), refused(1, "https://api.test/legacy/orders")])
    recording = judge_all(results, policy, record=True)
    assert not recording.verdict().failed
    assert not judge_all(results, policy, baseline=recording.recorded).verdict().failed


def test_a_new_warn_level_finding_never_fails_a_group():
    policy = Policy.model_validate({"overrides": [{"url": "https://api.test/legacy/*",
                                                   "rules": {"status.upstream-refused": "warn"}}]})
    results = analyze([refused(0, "https://api.test/v1/orders"), refused(1, "https://api.test/legacy/orders")])
    accepted = {("status.upstream-refused", "api.test", "GET", "/v1/orders")}
    assert not judge_all(results, policy, baseline=accepted).verdict().failed


def test_an_override_raising_one_url_raises_the_group():
    policy = Policy.model_validate({"overrides": [{"url": "https://app.test/checkout/*",
                                                   "rules": {"status.server-error": "fail"}}]})
    results = analyze([ex(0, "https://app.test/home", status=500), ex(1, "https://app.test/checkout/pay", status=500)])
    for order in (results, results[::-1]):
        verdict = judge_all(order, policy).verdict()
        assert groups_of(verdict)[("status.server-error", "app.test")] == ("fail", 2, 2)
        assert verdict.failed


def test_out_of_scope_exchanges_are_counted_and_never_judged():
    policy = Policy(scope=["*.test"], exclude=["legacy.test"])
    results = mixed_traffic(40) + analyze([refused(100, "https://example.org/")])
    j = judge_all(results, policy)
    verdict = j.verdict()
    assert verdict.exchanges == 41
    assert verdict.out_of_scope == 11  # legacy.test: every fourth of 40, and example.org
    assert verdict.hosts == {"api.test": 10, "app.test": 10, "cdn.test": 10}
    assert {g.host for g in verdict.groups} == {"api.test", "app.test", "cdn.test"}
    assert verdict.as_dict()["out_of_scope"] == 11


def test_ignore_is_never_reported_nor_recorded():
    results = mixed_traffic(40)
    policy = Policy(rules={"caching.*": "ignore", "status.upstream-refused": "ignore"})
    j = judge_all(results, policy, record=True)
    verdict = j.verdict()
    rules = {g.rule for g in verdict.groups}
    assert rules == {"status.server-error", "status.client-error"}  # hsts.set is good: ignored by default
    assert {k[0] for k in j.recorded} == {"status.server-error"}
    assert not any(g.level == "ignore" for g in verdict.groups)
    assert verdict.as_dict()["counts"] == {"fail": 0, "warn": 8, "info": 8}


def test_examples_are_the_five_smallest_urls():
    urls = [f"https://api.test/users/{n}" for n in (9, 3, 12, 1, 7, 30, 2, 5, 11, 4, 8, 6)]
    results = analyze([refused(i, url) for i, url in enumerate(urls)])
    group = judge_all(results).verdict().groups[0]
    assert group.count == 12 and group.new == 12
    assert [e.url for e in group.examples] == sorted(urls)[:5]
    assert all(e.method == "GET" and e.status == 0 and "refused" in e.summary for e in group.examples)


def test_the_verdict_does_not_depend_on_arrival_order():
    results = mixed_traffic(200)
    policy = Policy.model_validate({"rules": {"caching.*": "fail"},
                                    "overrides": [{"url": "https://legacy.test/*", "rules": {"*": "warn"}}]})
    baseline = {("status.upstream-refused", "api.test", "GET", "/v1/users/{n}"),
                ("caching.date-missing", "cdn.test", "GET", "/orders/{n}")}
    expected = judge_all(results, policy, baseline).verdict().as_dict()
    assert all(len(g["examples"]) <= 5 for g in expected["groups"])
    assert max(g["count"] for g in expected["groups"]) > 5
    rng = random.Random(1234)
    for _ in range(5):
        shuffled = results[:]
        rng.shuffle(shuffled)
        assert judge_all(shuffled, policy, baseline).verdict().as_dict() == expected


def test_verdict_summary_counts():
    verdict = judge_all(mixed_traffic(40)).verdict()
    data = verdict.as_dict()
    assert data["verdict"] == "fail" and data["exchanges"] == 40 and data["out_of_scope"] == 0
    assert data["counts"] == {"fail": 8, "warn": 24, "info": 16}
    assert data["new_failures"] == 8
    assert data["hosts"] == {h: 10 for h in ("api.test", "app.test", "cdn.test", "legacy.test")}
    assert [g["level"] for g in data["groups"]] == sorted((g["level"] for g in data["groups"]),
                                                          key=["fail", "warn", "info"].index)
    refused_group = data["groups"][0]
    assert refused_group["rule"] == "status.upstream-refused" and refused_group["failed"] is True
    assert refused_group["description"] == catalog.get("status.upstream-refused").summary


# --- the gate ------------------------------------------------------------------------------------------------------


def test_gate_update_baseline_then_pass(tmp_path):
    policy = write(tmp_path, "proxylens.toml", 'scope = ["*.test"]\n')
    results = mixed_traffic(40)

    first = Gate(GateConfig(policy=str(policy)))
    for r in results:
        first.add(r)
    verdict, messages = first.close()
    assert verdict.failed
    assert messages[-1] == ("policy: FAILED: 8 new fail-level finding(s): " +
                            ", ".join(f"status.upstream-refused @ {h}.test (2)" for h in ("api", "app", "cdn", "legacy")))

    update = Gate(GateConfig(policy=str(policy), update_baseline=True))
    for r in results:
        update.add(r)
    verdict, messages = update.close()
    written = tmp_path / DEFAULT_BASELINE
    assert not verdict.failed
    assert messages[0] == f"baseline: wrote {len(load_baseline(written))} accepted finding(s) to {written}"
    assert messages[1] == f'add `baseline = "{DEFAULT_BASELINE}"` to your policy to use it'

    policy.write_text(f'scope = ["*.test"]\nbaseline = "{DEFAULT_BASELINE}"\n')
    again = Gate(GateConfig(policy=str(policy)))
    for r in results:
        again.add(r)
    verdict, messages = again.close()
    assert not verdict.failed
    assert messages == ["policy: passed (24 warning(s), 8 accepted by the baseline; 0 out of scope)"]


def test_gate_with_a_missing_or_broken_baseline_is_a_policy_error(tmp_path):
    policy = write(tmp_path, "proxylens.toml", 'baseline = "accepted.json"\n')
    with pytest.raises(PolicyError, match="no such baseline file"):
        Gate(GateConfig(policy=str(policy)))
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(PolicyError, match="regenerate it"):
        Gate(GateConfig(baseline=str(tmp_path / "broken.json")))
    Gate(GateConfig(policy=str(policy), update_baseline=True))  # about to be written: not read


def test_gate_reports_an_unwritable_baseline(tmp_path):
    gate = Gate(GateConfig(baseline=str(tmp_path / "missing-dir" / "b.json"), update_baseline=True))
    _, messages = gate.close()
    assert messages[0].startswith(f"error: cannot write the baseline {tmp_path / 'missing-dir' / 'b.json'}: ")


def test_verdict_line():
    results = analyze([refused(i, f"https://h{i}.test/") for i in range(7)] + [ex(9, "https://a.test/", status=500)])
    line = verdict_line(judge_all(results).verdict())
    assert line == ("policy: FAILED: 7 new fail-level finding(s): " +
                    ", ".join(f"status.upstream-refused @ h{i}.test (1)" for i in range(5)) + " and 2 more")
    assert verdict_line(judge_all(results[-1:]).verdict()) == "policy: passed (2 warning(s); 0 out of scope)"


# --- policy init ---------------------------------------------------------------------------------------------------

RULE_LINE = re.compile(r'^# "(?P<id>[^"]+)"\s*= "(?P<level>[a-z]+)"\s+# (?P<severity>[a-z]+): ')


def test_policy_init_lists_every_rule_with_its_default_level(tmp_path, capsys):
    path = tmp_path / "proxylens.toml"
    assert write_starter(str(path), force=False) == 0
    assert f"wrote {path}" in capsys.readouterr().out
    text = path.read_text()
    listed = {m["id"]: (m["level"], m["severity"]) for m in map(RULE_LINE.match, text.splitlines()) if m}
    assert listed == {r.id: (DEFAULT_LEVELS[r.severity], r.severity.value) for r in catalog}
    policy = load_policy(path)
    assert policy.rules == {} and policy.overrides == [] and policy.scope == []
    assert policy.levels == DEFAULT_LEVELS
    policy.check_rules(KNOWN)


def test_policy_init_refuses_to_overwrite_without_force(tmp_path, capsys):
    path = tmp_path / "proxylens.toml"
    path.write_text("# mine\n")
    assert cli.main(["policy", "init", "-o", str(path)]) == 2
    assert f"{path} exists; add --force to overwrite it" in capsys.readouterr().err
    assert path.read_text() == "# mine\n"
    assert cli.main(["policy", "init", "-o", str(path), "--force"]) == 0
    assert path.read_text() == starter_text()


def test_policy_init_into_a_missing_directory_exits_2(tmp_path, capsys):
    assert cli.main(["policy", "init", "-o", str(tmp_path / "no" / "proxylens.toml")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_uncommenting_a_rule_line_changes_its_level(tmp_path):
    lines = starter_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith('# "tls.certificate-expiring"'))
    lines[index] = lines[index][2:].replace('= "warn"', '= "fail"', 1)
    path = tmp_path / "proxylens.toml"
    path.write_text("\n".join(lines) + "\n")
    policy = load_policy(path)
    assert policy.rules == {"tls.certificate-expiring": "fail"}
    assert policy.level(finding("tls.certificate-expiring")) == "fail"
    assert policy.level(finding("tls.certificate-expired")) == "fail"
    assert policy.level(finding("caching.heuristic-freshness")) == "info"


def test_uncommenting_every_rule_line_keeps_every_default(tmp_path):
    text = "\n".join(line[2:] if RULE_LINE.match(line) else line for line in starter_text().splitlines())
    path = tmp_path / "proxylens.toml"
    path.write_text(text + "\n")
    policy = load_policy(path)
    known = [r.id for r in catalog]  # now: the starter lists custom rules loaded in this process too
    policy.check_rules(known)
    assert set(policy.rules) == set(known) >= set(KNOWN)
    for rule in catalog:
        assert policy.level(finding(rule.id)) == DEFAULT_LEVELS[rule.severity]


# --- anything a user may write ---------------------------------------------------------------------------------------

KEYS = ["scope", "exclude", "levels", "rules", "overrides", "baseline", "url", "error", "warning", "info", "good",
        "errror", '"tls.*"', '"cors.missing-allow-origin"', '"[key]"', "tool", "proxylens", "a.b", "'x y'"]
SCALARS = st.one_of(
    st.sampled_from(['"fail"', '"warn"', '"info"', '"ignore"', '"fial"', '"*.example.com"', '"https://x.test/"',
                     '"a b"', '""', '"[::1]"', '"localhost:8080"', "1979-05-27", "3.5", "inf", "nan"]),
    st.integers(-5, 5).map(str),
    st.booleans().map(lambda b: str(b).lower()),
    st.text(max_size=8).map(json.dumps),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
    st.lists(st.tuples(st.sampled_from(KEYS), inner), max_size=3).map(
        lambda kv: "{" + ", ".join(f"{k} = {v}" for k, v in kv) + "}"),
), max_leaves=6)
LINES = st.one_of(
    st.tuples(st.sampled_from(KEYS), VALUES).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    st.sampled_from(["[levels]", "[rules]", "[[overrides]]", "[tool.proxylens]", "[tool]", "[tool.proxylens.levels]",
                     "[[tool.proxylens.overrides]]", "[overrides]", "# comment", ""]),
    st.text(max_size=12),
)
TOMLISH = st.lists(LINES, max_size=8).map("\n".join)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def load_or_policy_error(path: Path) -> None:
    try:
        policy = load_policy(path)
    except PolicyError as exc:
        assert str(exc)
        return
    assert isinstance(policy, Policy)
    policy.level(finding("tls.certificate-expiring"), "https://x.test/")  # a loaded policy is usable


@FUZZ
@given(text=TOMLISH)
def test_load_policy_returns_a_policy_or_raises_policy_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "proxylens.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    load_or_policy_error(path)


@FUZZ
@given(text=TOMLISH)
def test_load_pyproject_returns_a_policy_or_raises_policy_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "pyproject.toml"
    path.write_text("[tool.proxylens]\n" + text, encoding="utf-8", errors="surrogatepass")
    load_or_policy_error(path)
