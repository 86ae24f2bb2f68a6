"""End to end: ``proxylens run -- CMD`` with real commands (a Python suite using httpx and requests, Node's
fetch, curl in a shell), real loopback origins (tests/support/run_origin.py: a clean one and one whose CDN
headers trigger the error-level rule ``caching.shared-cache-hit-uncacheable``), and the reports it writes.

The commands get the proxy and the CA only from the environment proxylens sets; every test runs proxylens
with its own PROXYLENS_HOME (so its own CA) and in an empty working directory (so no stray policy is found).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.support.proxyproc import PROXYLENS, proxylens_env
from tests.support.run_origin import FAILING_RULE, RunOrigin

RUN_TIMEOUT = 60
REPORTS = {"junit": ("--junit", "report.xml"), "sarif": ("--sarif", "report.sarif"),
           "json": ("--json-report", "report.json"), "markdown": ("--markdown", "report.md")}
LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+)")

# A small real test suite. Each URL is fetched once with httpx and once with requests (with ?client=requests,
# so no URL is fetched twice: a refetch adds a timing-dependent caching note). It exits 4 when one of its own
# assertions fails, so its failure is told apart from proxylens's "policy failed" (1).
SUITE = '''\
import sys
import traceback

import httpx
import requests


def main(argv):
    expect_ok = True
    if argv[:1] == ["--break"]:  # the suite's own bug: it expects what the API never says
        expect_ok, argv = False, argv[1:]
    with httpx.Client(timeout=20) as client, requests.Session() as session:
        for url in argv:
            r = client.get(url)
            assert r.status_code == 200, (url, r.status_code, r.text)
            assert r.json()["ok"] is expect_ok, (url, r.json())
            other = url + ("&" if "?" in url else "?") + "client=requests"
            r = session.get(other, timeout=20)
            assert r.status_code == 200, (other, r.status_code, r.text)
            assert r.json()["ok"] is expect_ok, (other, r.json())
    print(f"suite: {len(argv)} url(s) passed", flush=True)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except AssertionError:
        traceback.print_exc()
        sys.exit(4)
'''

# Node: fetch the given paths from PROXYLENS_URL (reverse mode), or fetch the given absolute URLs.
NODE_SUITE = '''\
const base = process.env.PROXYLENS_URL;
for (const arg of process.argv.slice(2)) {
  const url = base ? new URL(arg, base) : new URL(arg);
  const r = await fetch(url);
  const body = await r.json();
  if (r.status !== 200 || body.path !== url.pathname) {
    console.error(`node suite: ${url} -> ${r.status} ${JSON.stringify(body)}`);
    process.exit(4);
  }
}
console.log(`node suite: ${process.argv.length - 2} request(s) passed`);
'''

# A command that makes one request through the proxy, says it is ready, then sleeps until it is signalled.
SLEEPER = '''\
import sys
import time
from pathlib import Path

import httpx

httpx.get(sys.argv[2], timeout=20).raise_for_status()
Path(sys.argv[1]).write_text("ready")
time.sleep(120)
'''

# A mitmproxy addon that makes proxylens's start-up slow (after its signal handlers are installed, before it
# starts the command) and says so with a marker file: a window in which a CI runner's SIGTERM can arrive.
SLOW_START = '''\
import asyncio
import os
from pathlib import Path


class SlowStart:
    async def running(self):
        marker = os.environ.get("RUN_E2E_SLOW_START")
        if marker:
            Path(marker).write_text("starting")
            await asyncio.sleep(2)


addons = [SlowStart()]
'''

# Writes its pid, then (unless killed) a second file after a few seconds.
SURVIVOR = '''\
import os
import sys
import time
from pathlib import Path

Path(sys.argv[1]).write_text(str(os.getpid()))
time.sleep(4)
Path(sys.argv[2]).write_text("still running after proxylens exited")
'''


# -- fixtures and helpers ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scripts(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("run-scripts")
    out = {}
    for name, text in (("suite.py", SUITE), ("suite.mjs", NODE_SUITE), ("sleeper.py", SLEEPER),
                       ("slow_start.py", SLOW_START), ("survivor.py", SURVIVOR)):
        (d / name).write_text(text)
        out[name] = d / name
    return out


def _serving(bad: str, certs=None):
    """A RunOrigin for one module: HTTPS when given the origin's certificates."""
    server = RunOrigin(bad, *((str(certs.cert_pem), str(certs.key_pem)) if certs else ()))
    yield server
    server.close()


@pytest.fixture(scope="module")
def clean_http():
    yield from _serving("none")


@pytest.fixture(scope="module")
def clean_https(origin_certs):
    yield from _serving("none", origin_certs)


@pytest.fixture(scope="module")
def bad_http():
    yield from _serving("all")


@pytest.fixture(scope="module")
def bad_https(origin_certs):
    yield from _serving("all", origin_certs)


@pytest.fixture(scope="module")
def split_http():
    """Clean as 127.0.0.1, misconfigured as localhost."""
    yield from _serving("localhost")


@pytest.fixture(scope="module")
def split_https(origin_certs):
    yield from _serving("localhost", origin_certs)


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    out: Path  # where the reports are
    seconds: float

    def path(self, kind: str) -> Path:
        return self.out / REPORTS[kind][1]

    def text(self, kind: str) -> str:
        return self.path(kind).read_text(encoding="utf-8")

    def report(self) -> dict:
        return json.loads(self.text("json"))

    def junit(self) -> ET.Element:
        return ET.fromstring(self.path("junit").read_bytes())

    def failures(self) -> dict[str, ET.Element]:
        """JUnit test case name ("rule @ host") -> its <failure>."""
        return {case.get("name"): case.find("failure") for case in self.junit().iter("testcase")
                if case.find("failure") is not None}

    def groups(self) -> dict[tuple[str, str], dict]:
        return {(g["rule"], g["host"]): g for g in self.report()["groups"]}

    def all_reports(self) -> dict[str, str]:
        return {kind: self.text(kind) for kind in REPORTS}

    def explain(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


class Runner:
    """``runner(name, *options, cmd=[...])``: one ``proxylens run`` with every report, in its own directory."""

    def __init__(self, tmp_path: Path, certs) -> None:
        self.tmp = tmp_path
        self.home = tmp_path / "home"
        self.certs = certs
        self.work = tmp_path / "work"  # the current directory of proxylens (policy discovery)
        self.work.mkdir()

    def env(self, **extra: str) -> dict[str, str]:
        env = proxylens_env(self.home)
        env.pop("GITHUB_STEP_SUMMARY", None)
        env.update(extra)
        return env

    def argv(self, name: str, *options: str, cmd: list[str], reports: bool = True) -> tuple[list[str], Path]:
        out = self.tmp / name
        out.mkdir()
        argv = [PROXYLENS, "run", "--upstream-ca", str(self.certs.ca_pem), *options]
        if reports:
            for flag, filename in REPORTS.values():
                argv += [flag, str(out / filename)]
        return [*argv, "--", *map(str, cmd)], out

    def __call__(self, name: str, *options: str, cmd: list, env: dict[str, str] | None = None,
                 reports: bool = True) -> Run:
        argv, out = self.argv(name, *options, cmd=cmd, reports=reports)
        started = time.monotonic()
        p = subprocess.run(argv, capture_output=True, text=True, env=env or self.env(), cwd=self.work, check=False,
                           timeout=RUN_TIMEOUT)
        return Run(p.returncode, p.stdout, p.stderr, out, time.monotonic() - started)


@pytest.fixture
def runner(tmp_path: Path, origin_certs) -> Runner:
    return Runner(tmp_path, origin_certs)


def suite(scripts, *args: str) -> list:
    return [sys.executable, scripts["suite.py"], *args]


def assert_rule_absent(run: Run, rule: str) -> None:
    for kind, text in run.all_reports().items():
        assert rule not in text, f"{rule} in the {kind} report:\n{text}"


# -- 1. a Python suite (httpx and requests) through the proxy ----------------------------------------------------

def test_clean_suite_passes_and_writes_every_report(runner, scripts, clean_http, clean_https):
    urls = [clean_http.url("/users/1"), clean_https.url("/orders/2", host="localhost")]
    run = runner("clean", cmd=suite(scripts, *urls))
    assert run.code == 0, run.explain()
    # The command's output first, then the summary and the verdict (stdout); start-up lines on stderr.
    assert "suite: 2 url(s) passed" in run.stdout
    assert run.stdout.index("suite: 2 url(s) passed") < run.stdout.index("proxylens: policy: passed")
    assert "listening on 127.0.0.1:" in run.stderr and "listening on" not in run.stdout
    report = run.report()
    # Both clients went through the proxy, for HTTP and for HTTPS (each URL once per client).
    assert report["verdict"] == "pass" and report["exchanges"] == 4
    assert report["hosts"] == {"127.0.0.1": 2, "localhost": 2}
    assert report["counts"]["fail"] == 0 and report["new_failures"] == 0
    junit = run.junit()
    assert junit.get("failures") == "0"
    assert {c.get("name") for c in junit.iter("testcase")} >= {"judged @ 127.0.0.1", "judged @ localhost"}
    sarif = json.loads(run.text("sarif"))
    assert sarif["version"] == "2.1.0" and not [r for r in sarif["runs"][0]["results"] if r["level"] == "error"]
    assert run.text("markdown").startswith("## proxylens: passed")


def test_misconfigured_origin_fails_the_run_with_a_junit_failure(runner, scripts, bad_http, bad_https):
    urls = [bad_http.url("/users/1"), bad_https.url("/orders/2", host="localhost")]
    run = runner("bad", cmd=suite(scripts, *urls))
    assert run.code == 1, run.explain()
    assert "suite: 2 url(s) passed" in run.stdout  # the suite itself passed
    assert "proxylens: policy: FAILED" in run.stdout
    failures = run.failures()
    assert set(failures) == {f"{FAILING_RULE} @ 127.0.0.1", f"{FAILING_RULE} @ localhost"}
    for name, failure in failures.items():
        assert failure.get("type") == FAILING_RULE
        assert failure.get("message").startswith("2 new finding(s):")
        host = name.split(" @ ")[1]
        assert f"://{host}:" in failure.text  # the examples name the URLs
    assert run.junit().get("failures") == "2"
    report = run.report()
    assert report["verdict"] == "fail" and report["new_failures"] == 4
    sarif_errors = [r for r in json.loads(run.text("sarif"))["runs"][0]["results"] if r["level"] == "error"]
    assert {r["ruleId"] for r in sarif_errors} == {FAILING_RULE}
    assert f"`{FAILING_RULE}`" in run.text("markdown").split("### Failures", 1)[1]


def test_the_suites_own_failure_wins_and_reports_are_still_written(runner, scripts, bad_http):
    run = runner("broken", cmd=suite(scripts, "--break", bad_http.url("/users/1")))
    # The suite exits 4 (its assertion failed); the policy failed too, but the suite's code comes first.
    assert run.code == 4, run.explain()
    assert "AssertionError" in run.stderr
    assert "proxylens: policy: FAILED" in run.stdout
    assert set(run.failures()) == {f"{FAILING_RULE} @ 127.0.0.1"}
    assert run.report()["exchanges"] == 1


# -- 2. scope and exclude ------------------------------------------------------------------------------------

def _split_urls(split_http, split_https) -> list[str]:
    return [split_http.url("/a", host="127.0.0.1"), split_http.url("/b", host="localhost"),
            split_https.url("/c", host="127.0.0.1"), split_https.url("/d", host="localhost")]


@pytest.mark.parametrize("policy", [
    'scope = ["127.0.0.1"]\n',
    'exclude = ["localhost"]\n',
    'scope = ["127.0.0.*", "localhost"]\nexclude = ["local*"]\n',
], ids=["scope", "exclude", "exclude-beats-scope"])
def test_out_of_scope_host_never_fails_and_is_absent_from_reports(runner, scripts, split_http, split_https,
                                                                   policy):
    (runner.tmp / "policy.toml").write_text(policy)
    run = runner("scoped", "--policy", str(runner.tmp / "policy.toml"),
                 cmd=suite(scripts, *_split_urls(split_http, split_https)))
    assert run.code == 0, run.explain()
    report = run.report()
    assert report["exchanges"] == 8 and report["out_of_scope"] == 4
    assert report["hosts"] == {"127.0.0.1": 4}
    for kind, text in run.all_reports().items():
        assert "localhost" not in text, f"the out-of-scope host is in the {kind} report:\n{text}"
    assert "4 out of scope" in run.stdout


def test_in_scope_host_still_fails(runner, scripts, split_http, split_https):
    """The control for the scope tests: the same traffic, the misconfigured host in scope."""
    (runner.tmp / "policy.toml").write_text('scope = ["localhost"]\n')
    run = runner("scoped", "--policy", str(runner.tmp / "policy.toml"),
                 cmd=suite(scripts, *_split_urls(split_http, split_https)))
    assert run.code == 1, run.explain()
    assert set(run.failures()) == {f"{FAILING_RULE} @ localhost"}
    assert run.report()["hosts"] == {"localhost": 4}
    for kind, text in run.all_reports().items():
        assert "127.0.0.1" not in text, f"the out-of-scope host is in the {kind} report:\n{text}"


# -- 3. ignore, per rule and per URL ---------------------------------------------------------------------------

def test_ignored_rule_passes_and_is_absent_from_reports(runner, scripts, bad_http, bad_https):
    # No --policy: pyproject.toml's [tool.proxylens] in the current directory is used.
    (runner.work / "pyproject.toml").write_text(
        f'[project]\nname = "x"\n\n[tool.proxylens.rules]\n"{FAILING_RULE}" = "ignore"\n')
    run = runner("ignored", cmd=suite(scripts, bad_http.url("/users/1"), bad_https.url("/x", host="localhost")))
    assert run.code == 0, run.explain()
    assert_rule_absent(run, FAILING_RULE)
    report = run.report()
    assert report["exchanges"] == 4 and report["verdict"] == "pass"
    # Only that rule is ignored: the origin's other (info-level) caching findings are still reported.
    assert "caching.date-changed-by-intermediary" in {g["rule"] for g in report["groups"]}


def test_per_url_override(runner, scripts, bad_http):
    base = bad_http.url("")
    (runner.tmp / "policy.toml").write_text(
        f'[[overrides]]\nurl = "{base}/legacy/*"\nrules = {{ "{FAILING_RULE}" = "ignore" }}\n\n'
        # the last matching override wins: /legacy/strict/ fails again
        f'[[overrides]]\nurl = "{base}/legacy/strict/*"\nrules = {{ "{FAILING_RULE}" = "fail" }}\n')
    policy = ("--policy", str(runner.tmp / "policy.toml"))
    mixed = runner("mixed", *policy, cmd=suite(scripts, f"{base}/legacy/a", f"{base}/legacy/strict/b", f"{base}/api/c"))
    assert mixed.code == 1, mixed.explain()
    group = mixed.groups()[(FAILING_RULE, "127.0.0.1")]
    assert group["count"] == 4 and group["new"] == 4
    assert sorted(e["url"].split("?")[0] for e in group["examples"]) == [
        f"{base}/api/c", f"{base}/api/c", f"{base}/legacy/strict/b", f"{base}/legacy/strict/b"]
    assert "/legacy/a" not in mixed.failures()[f"{FAILING_RULE} @ 127.0.0.1"].text

    legacy = runner("legacy", *policy, cmd=suite(scripts, f"{base}/legacy/a", f"{base}/legacy/b/c"))
    assert legacy.code == 0, legacy.explain()
    assert_rule_absent(legacy, FAILING_RULE)
    assert legacy.report()["exchanges"] == 4


# -- 4. baseline ---------------------------------------------------------------------------------------------

def test_baseline_accepts_known_findings_and_catches_new_paths(runner, scripts, bad_http):
    baseline = runner.work / "accepted.json"
    users17 = suite(scripts, bad_http.url("/users/17"))

    first = runner("first", cmd=users17)
    assert first.code == 1, first.explain()

    # ./proxylens.toml is found in the current directory; the baseline path is relative to it. A baseline the
    # policy names but that does not exist yet is a configuration error, until --update-baseline writes it.
    (runner.work / "proxylens.toml").write_text('baseline = "accepted.json"\n')
    missing = runner("missing", cmd=users17)
    assert missing.code == 2, missing.explain()
    assert f"{baseline}: no such baseline file" in missing.stderr
    assert not baseline.exists()

    update = runner("update", "--update-baseline", cmd=users17)
    assert update.code == 0, update.explain()
    assert f"baseline: wrote 1 accepted finding(s) to {baseline}" in update.stdout
    data = json.loads(baseline.read_text())
    assert data["version"] == 1
    assert data["accepted"] == [{"rule": FAILING_RULE, "host": "127.0.0.1", "method": "GET", "path": "/users/{n}"}]

    again = runner("again", cmd=users17)
    assert again.code == 0, again.explain()
    group = again.groups()[(FAILING_RULE, "127.0.0.1")]
    assert (group["count"], group["new"], group["accepted"], group["failed"]) == (2, 0, 2, False)
    assert not again.failures()
    assert "2 accepted by the baseline" in again.stdout

    # /users/18 is the same finding as /users/17; /orders/5 is new and fails the run again.
    new_path = runner("new-path", cmd=suite(scripts, bad_http.url("/users/18"), bad_http.url("/orders/5")))
    assert new_path.code == 1, new_path.explain()
    group = new_path.groups()[(FAILING_RULE, "127.0.0.1")]
    assert (group["count"], group["new"], group["accepted"]) == (4, 2, 2)
    failure = new_path.failures()[f"{FAILING_RULE} @ 127.0.0.1"]
    assert failure.get("message").startswith("2 new finding(s):")
    sarif = json.loads(new_path.text("sarif"))["runs"][0]["results"]
    assert sarif and all(r["baselineState"] == "new" for r in sarif if r["ruleId"] == FAILING_RULE)
    assert json.loads(baseline.read_text()) == data  # a normal run never rewrites the baseline


# -- 5. Node's fetch ---------------------------------------------------------------------------------------

def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    return node


def test_node_fetch_in_reverse_mode(runner, scripts, clean_http, bad_https):
    node = node_or_skip()
    clean = runner("clean", "--mode", f"reverse:http://127.0.0.1:{clean_http.port}",
                   cmd=[node, scripts["suite.mjs"], "/users/1", "/orders/2"])
    assert clean.code == 0, clean.explain()
    assert "node suite: 2 request(s) passed" in clean.stdout
    assert clean.report()["exchanges"] == 2 and clean.report()["hosts"] == {"127.0.0.1": 2}

    bad = runner("bad", "--mode", f"reverse:https://localhost:{bad_https.port}",
                 cmd=[node, scripts["suite.mjs"], "/users/1", "/orders/2"])
    assert bad.code == 1, bad.explain()
    assert "node suite: 2 request(s) passed" in bad.stdout
    assert set(bad.failures()) == {f"{FAILING_RULE} @ localhost"}  # judged by the upstream host


def test_node_fetch_in_regular_mode_uses_node_use_env_proxy(runner, scripts, bad_http):
    """NODE_USE_ENV_PROXY=1 routes fetch through HTTP_PROXY on Node 22.21+/24.5+; older Node ignores it."""
    node = node_or_skip()
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    before = len(bad_http.requests)
    run = runner("regular", cmd=[node, scripts["suite.mjs"], bad_http.url("/users/1")])
    reached_origin = len(bad_http.requests) - before
    exchanges = run.report()["exchanges"]
    if exchanges == 0 and reached_origin == 1 and run.code == 0:
        pytest.skip(f"node {version}: fetch ignores NODE_USE_ENV_PROXY=1 and HTTP_PROXY; the request went "
                    "straight to the origin (0 exchanges reached the proxy), so `proxylens run` passes unseen; "
                    "use --mode reverse:URL with PROXYLENS_URL on this Node")
    assert (exchanges, reached_origin) == (1, 1), run.explain()
    assert run.code == 1, run.explain()
    assert set(run.failures()) == {f"{FAILING_RULE} @ 127.0.0.1"}


# -- 6. curl in a shell, and the command's environment -------------------------------------------------------

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
BUNDLE_VARS = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
               # not in the list of the brief, but set by certs.trust_env on purpose (see proxy/wrap.py)
               "PIP_CERT", "GIT_SSL_CAINFO", "AWS_CA_BUNDLE")
CA_VARS = ("NODE_EXTRA_CA_CERTS", "DENO_CERT")
SHELL_VARS = {"PWD", "OLDPWD", "SHLVL", "_"}  # what sh itself sets


def read_env(path: Path) -> dict[str, str]:
    return dict(item.split("=", 1) for item in path.read_text().split("\0") if "=" in item)


def env_changes(parent: dict[str, str], child: dict[str, str]) -> dict[str, str | None]:
    """What the command saw that its grandparent did not: name -> value (None: removed)."""
    return {k: child.get(k) for k in set(parent) | set(child)
            if parent.get(k) != child.get(k) and k not in SHELL_VARS}


def test_curl_in_a_shell_trusts_the_proxy_via_curl_ca_bundle_and_sees_exactly_the_run_env(
        runner, scripts, clean_http, clean_https):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    parent = runner.env(NO_PROXY="localhost", no_proxy="localhost", ALL_PROXY="http://127.0.0.1:9",
                        CURL_CA_BUNDLE="/nonexistent/bundle.pem")
    env_file, body = runner.tmp / "env0", runner.tmp / "body.json"
    # No CA flag; SSL_CERT_FILE unset for curl, so only CURL_CA_BUNDLE can make it trust the proxy's certificate.
    script = ('set -e; env -u SSL_CERT_FILE -u SSL_CERT_DIR curl -sSf "$1" -o "$3"; curl -sSf "$2" -o /dev/null; '
              'env -0 > "$4"')
    run = runner("curl", cmd=["sh", "-c", script, "sh", clean_https.url("/users/1", host="localhost"),
                              clean_http.url("/orders/2"), body, env_file], env=parent)
    assert run.code == 0, run.explain()
    assert json.loads(body.read_text()) == {"path": "/users/1", "ok": True}
    assert run.report()["hosts"] == {"localhost": 1, "127.0.0.1": 1}  # both went through the proxy

    port = LISTENING.search(run.stderr).group(1)
    proxy = f"http://127.0.0.1:{port}"
    ca = runner.home / "mitmproxy-ca-cert.pem"
    bundle = runner.home / "ca-bundle.pem"
    expected = {**{v: proxy for v in PROXY_VARS}, "PROXYLENS_PROXY": proxy, "NODE_USE_ENV_PROXY": "1",
                "NO_PROXY": "", "no_proxy": "", **{v: str(bundle) for v in BUNDLE_VARS},
                **{v: str(ca) for v in CA_VARS}, "ALL_PROXY": None}
    assert env_changes(parent, read_env(env_file)) == expected
    # The bundle: the system's CAs plus the proxylens CA.
    text = bundle.read_text()
    assert text.rstrip().endswith(ca.read_text().strip())
    assert text.count("-----BEGIN CERTIFICATE-----") > 10


def test_no_proxy_option_and_reverse_mode_env(runner, tmp_path):
    parent = runner.env(NO_PROXY="localhost", no_proxy="localhost")
    env_file = tmp_path / "env0"
    run = runner("no-proxy", "--no-proxy", "example.com,10.0.0.1", reports=False,
                 cmd=["sh", "-c", 'env -0 > "$1"', "sh", env_file], env=parent)
    assert run.code == 0, run.explain()
    child = read_env(env_file)
    assert child["NO_PROXY"] == child["no_proxy"] == "example.com,10.0.0.1"
    assert child["HTTPS_PROXY"] == child["PROXYLENS_PROXY"]

    # Reverse mode: no proxy variables at all (an inherited NO_PROXY removed too), but PROXYLENS_URL.
    run = runner("reverse", "--mode", "reverse:http://127.0.0.1:9", reports=False,
                 cmd=["sh", "-c", 'env -0 > "$1"', "sh", env_file], env=parent)
    assert run.code == 0, run.explain()
    port = LISTENING.search(run.stderr).group(1)
    changes = env_changes(parent, read_env(env_file))
    assert changes == {"PROXYLENS_URL": f"http://127.0.0.1:{port}", "PROXYLENS_PROXY": f"http://127.0.0.1:{port}",
                       "NO_PROXY": None, "no_proxy": None,
                       **{v: str(runner.home / "ca-bundle.pem") for v in BUNDLE_VARS},
                       **{v: str(runner.home / "mitmproxy-ca-cert.pem") for v in CA_VARS}}


# -- 7. exit codes -----------------------------------------------------------------------------------------

def test_bad_policy_exits_2_naming_file_line_and_key(runner, tmp_path):
    policy = tmp_path / "bad.toml"
    policy.write_text('scope = ["localhost"]\n\n[rules]\n"caching.heuristic-freshness" = "sometimes"\n')
    marker = tmp_path / "ran"
    run = runner("bad-policy", "--policy", str(policy), cmd=["touch", marker])
    assert run.code == 2, run.explain()
    assert f"{policy}:4: rules.caching.heuristic-freshness: 'sometimes' is not a level" in run.stderr
    assert not marker.exists()  # the command never ran

    policy.write_text('[rules]\n"caching.no-such-rule" = "warn"\n')
    run = runner("unknown-rule", "--policy", str(policy), cmd=["touch", marker])
    assert run.code == 2, run.explain()
    assert re.search(rf"{re.escape(str(policy))}:2: rules\.'caching\.no-such-rule' matches no rule", run.stderr)
    assert not marker.exists()


def test_run_without_a_command_exits_2(runner):
    for argv in ([PROXYLENS, "run"], [PROXYLENS, "run", "--"]):
        p = subprocess.run(argv, capture_output=True, text=True, env=runner.env(), cwd=runner.work, timeout=30, check=False)
        assert p.returncode == 2, p.stderr
        assert "run needs a command" in p.stderr


def test_missing_command_exits_2_with_a_clear_message(runner):
    run = runner("missing", cmd=["proxylens-e2e-no-such-command", "--flag"])
    assert run.code == 2, run.explain()
    assert "error: cannot run proxylens-e2e-no-such-command: No such file or directory" in run.stderr
    assert run.report()["exchanges"] == 0  # the reports are still written


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_is_forwarded_and_the_run_ends_with_128_plus_n(runner, scripts, bad_http, tmp_path, sig):
    """SIGTERM (a CI runner) or SIGINT (Ctrl-C) to proxylens: the command (a Python sleep, killed by it) ends,
    proxylens exits 143 or 130, with the reports written."""
    ready = tmp_path / "ready"
    argv, out = runner.argv("signal", cmd=[sys.executable, scripts["sleeper.py"], ready, bad_http.url("/users/1")])
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=runner.env(),
                            cwd=runner.work)
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate(timeout=5)
            time.sleep(0.05)
        sent = time.monotonic()
        proc.send_signal(sig)  # to proxylens only: the command is in its own process group
        stdout, stderr = proc.communicate(timeout=20)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    run = Run(proc.returncode, stdout, stderr, out, took)
    assert run.code == 128 + sig, run.explain()
    assert took < 10, run.explain()
    assert set(run.failures()) == {f"{FAILING_RULE} @ 127.0.0.1"}  # the request made before the signal
    assert run.report()["exchanges"] == 1


def test_sigterm_during_start_up_stops_the_run_without_leaving_the_command_behind(runner, scripts, tmp_path):
    marker, pid_file, late = tmp_path / "starting", tmp_path / "pid", tmp_path / "late"
    argv, _ = runner.argv("startup", "-s", str(scripts["slow_start.py"]),
                            cmd=[sys.executable, scripts["survivor.py"], pid_file, late])
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=runner.env(RUN_E2E_SLOW_START=str(marker)), cwd=runner.work)
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate(timeout=5)
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    try:
        left_running = False
        if pid_file.exists():  # the command was started: it must not outlive proxylens
            pid = int(pid_file.read_text())
            time.sleep(0.3)
            try:
                os.kill(pid, 0)
                left_running = True
            except ProcessLookupError:
                pass
        assert not left_running, f"the command (pid {pid}) still runs after proxylens exited {proc.returncode}"
        assert proc.returncode == 128 + signal.SIGTERM, f"exit {proc.returncode}\n{stdout}\n{stderr}"
        assert "policy: passed" not in stdout
    finally:
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)  # the survivor this test started
            except ProcessLookupError:
                pass


# -- 8. determinism ------------------------------------------------------------------------------------------

def test_same_traffic_gives_byte_identical_reports(runner, scripts, bad_http, bad_https, clean_http):
    urls = [bad_http.url("/users/1"), bad_https.url("/orders/2", host="localhost"), clean_http.url("/ok/3"),
            bad_https.url("/items/4", host="127.0.0.1")]
    first = runner("first", cmd=suite(scripts, *urls))
    second = runner("second", cmd=suite(scripts, *urls))
    assert first.code == second.code == 1, first.explain() + second.explain()
    assert len(first.failures()) == 2  # the reports have substance: a failure on each host
    for kind in REPORTS:
        assert first.path(kind).read_bytes() == second.path(kind).read_bytes(), kind


# -- 9. GITHUB_STEP_SUMMARY ----------------------------------------------------------------------------------

def test_markdown_summary_is_appended_to_github_step_summary(runner, scripts, bad_http, tmp_path):
    summary = tmp_path / "step-summary.md"
    summary.write_text("## an earlier step\n\nits summary\n")
    env = runner.env(GITHUB_STEP_SUMMARY=str(summary))
    run = runner("gha", cmd=suite(scripts, bad_http.url("/users/1")), env=env)
    assert run.code == 1, run.explain()
    markdown = run.text("markdown")
    assert markdown.startswith("## proxylens: FAILED") and f"`{FAILING_RULE}`" in markdown
    assert summary.read_text() == "## an earlier step\n\nits summary\n" + markdown + "\n"

    # Without --markdown too, and appended again after the first.
    again = runner("gha-again", cmd=suite(scripts, bad_http.url("/users/2")), env=env, reports=False)
    assert again.code == 1, again.explain()
    text = summary.read_text()
    assert text.startswith("## an earlier step\n\nits summary\n" + markdown + "\n")
    assert text.count("## proxylens: FAILED") == 2 and "/users/2" in text[len(markdown):]
