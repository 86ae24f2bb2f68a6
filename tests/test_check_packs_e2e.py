"""Custom checks end to end: a check pack installed with a real ``pip install`` (tests/data/check-pack, found
through its ``proxylens.checks`` entry point), a broken pack (tests/data/check-pack-broken), and broken explicit
checks (``-s FILE``, ``--check MODULE``), with real ``proxylens`` processes and real clients through them to the
loopback origins.

The packs are installed with ``pip install --target`` into a temporary directory and put on PYTHONPATH, so
``importlib.metadata`` finds their entry points exactly as for a pack installed in the environment.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest

from tests.harschema import assert_valid_har
from tests.support.proxyproc import PROXYLENS, proxylens_env

DATA = Path(__file__).resolve().parent / "data"
PACK_RULE = "testpack.server-version-disclosed"
ANALYZER_ERROR = "proxylens.analyzer-error"
BROKEN_PACK_ERROR = "RuntimeError: proxylens-test-pack-broken cannot start: its configuration is missing"


# -- installing the packs --------------------------------------------------------------------------------------------

def venv_builds_wheels() -> bool:
    """Can pip build the pack here without build isolation? setuptools builds wheels by itself from 70.1; an
    older one needs the ``wheel`` package. (Python 3.11's venv has setuptools 65 and no wheel; 3.12's has
    neither.)"""
    try:
        version = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return False
    major_minor = tuple(int(n) for n in re.findall(r"\d+", version)[:2])
    return major_minor >= (70, 1) or importlib.util.find_spec("wheel") is not None


def pip_install(source: Path, work: Path) -> Path:
    """``pip install --no-deps --target SITE`` of a copy of *source* (pip builds in the source tree: the copy keeps
    build/ and *.egg-info out of tests/data). Returns SITE."""
    copy = work / source.name
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = work / "site"
    argv = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-input", "--disable-pip-version-check",
            "--target", str(site)]
    if venv_builds_wheels():
        argv += ["--no-build-isolation", "--no-index"]  # offline: the venv's own setuptools builds it
    # Otherwise pip builds it in an isolated environment with setuptools from the package index (the venv ./dev
    # makes has no wheel-building setuptools); either way it is a real pip install from a local directory.
    argv.append(str(copy))
    out = subprocess.run(argv, capture_output=True, text=True, timeout=240, check=False)
    assert out.returncode == 0, f"{' '.join(argv)}\n{out.stdout}\n{out.stderr}"
    return site


@pytest.fixture(scope="module")
def pack_site(tmp_path_factory) -> Path:
    site = pip_install(DATA / "check-pack", tmp_path_factory.mktemp("pack"))
    [dist_info] = site.glob("proxylens_test_pack-*.dist-info")
    assert "[proxylens.checks]\ntest-pack = proxylens_test_pack" in (dist_info / "entry_points.txt").read_text()
    return site


@pytest.fixture(scope="module")
def broken_pack_site(tmp_path_factory) -> Path:
    return pip_install(DATA / "check-pack-broken", tmp_path_factory.mktemp("broken-pack"))


def pythonpath(*sites: Path) -> str:
    return ":".join(str(s) for s in sites)


def proxylens(*args: str, cwd: Path, path: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    env = proxylens_env(cwd / "home")
    if path is not None:
        env["PYTHONPATH"] = path
    return subprocess.run([PROXYLENS, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env,
                          check=False)


def client(proxy) -> httpx.Client:
    return httpx.Client(proxy=proxy.url, trust_env=False, timeout=30)


def findings_of(entry: dict, rule: str | None = None) -> list[dict]:
    return [f for f in entry["_proxylens"]["findings"] if rule is None or f["rule"] == rule]


def server_header(http_origin) -> str:
    return httpx.get(http_origin.url("/echo"), trust_env=False).headers["server"]


# -- 1. an installed pack ------------------------------------------------------------------------------------------

def test_pack_rule_is_listed_in_rules_and_policy_init_and_no_check_packs_turns_it_off(tmp_path, pack_site):
    listed = proxylens("rules", "--json", cwd=tmp_path, path=pythonpath(pack_site))
    assert listed.returncode == 0 and listed.stderr == "", listed.stderr
    rules = {r["id"]: r for r in json.loads(listed.stdout)}
    assert rules[PACK_RULE] == {"id": PACK_RULE, "severity": "warning", "category": "testpack",
                                "summary": "The Server header discloses the server software's version.",
                                "reference": "https://www.rfc-editor.org/rfc/rfc9110#section-10.2.4"}
    text = proxylens("rules", cwd=tmp_path, path=pythonpath(pack_site))
    assert re.search(rf"^{re.escape(PACK_RULE)} +warning +The Server header discloses", text.stdout, re.MULTILINE)

    off = proxylens("rules", "--json", "--no-check-packs", cwd=tmp_path, path=pythonpath(pack_site))
    assert off.returncode == 0
    assert set(rules) - {r["id"] for r in json.loads(off.stdout)} == {PACK_RULE}

    starter = proxylens("policy", "init", "-o", "with.toml", cwd=tmp_path, path=pythonpath(pack_site))
    assert starter.returncode == 0, starter.stderr
    assert re.search(rf'^# "{re.escape(PACK_RULE)}" += "warn" +# warning: ', (tmp_path / "with.toml").read_text(),
                     re.MULTILINE)
    starter = proxylens("policy", "init", "-o", "without.toml", "--no-check-packs", cwd=tmp_path,
                        path=pythonpath(pack_site))
    assert starter.returncode == 0 and PACK_RULE not in (tmp_path / "without.toml").read_text()


def test_pack_finding_in_a_proxied_exchange_and_in_analyze(start_proxy, http_origin, pack_site, tmp_path,
                                                          monkeypatch):
    server = server_header(http_origin)
    assert re.search(r"/\d", server), server  # the test origin says "proxylens-test-origin/1 Python/3.x"
    monkeypatch.setenv("PYTHONPATH", pythonpath(pack_site))
    urls = [http_origin.url("/echo?pack=1"), http_origin.url("/status/404?pack=2")]

    proxy = start_proxy()
    with client(proxy) as c:
        assert [c.get(u).status_code for u in urls] == [200, 404]
    assert proxy.stop() == 0
    har = proxy.har()
    assert_valid_har(har)
    entries = har["log"]["entries"]
    assert [e["request"]["url"] for e in entries] == urls
    for entry in entries:
        [finding] = findings_of(entry, PACK_RULE)
        assert finding["severity"] == "warning" and finding["summary"] == f"Server: {server}"
        assert finding["evidence"] == {"server": server} and finding["subject"] == "response.header.server"
        assert entry["_proxylens"]["facts"]["test-pack"] == {"server": server}
        assert entry["_proxylens"]["facts"]["status"]["code"] == entry["response"]["status"], "built-ins ran too"
        assert not findings_of(entry, ANALYZER_ERROR)
    for url, status in zip(urls, ["200 OK", "404 Not Found"]):
        line = next(ln for ln in proxy.stdout.splitlines() if f" GET {url} -> " in ln)
        assert f"-> {status} " in line and f"| warning: {PACK_RULE}: Server: {server}" in line
    assert "warning" not in proxy.stderr and "error" not in proxy.stderr, proxy.stderr

    # --no-check-packs: the same traffic, no trace of the pack.
    quiet = start_proxy("--no-check-packs")
    with client(quiet) as c:
        assert [c.get(u).status_code for u in urls] == [200, 404]
    assert quiet.stop() == 0
    plain_har = quiet.har_path
    for entry in quiet.har()["log"]["entries"]:
        assert not findings_of(entry, PACK_RULE) and "test-pack" not in entry["_proxylens"]["facts"]
        assert entry["_proxylens"]["facts"]["status"]["code"] == entry["response"]["status"]
    assert PACK_RULE not in quiet.stdout

    # proxylens analyze on the HAR recorded without the pack: the pack judges it offline.
    analyzed = proxylens("analyze", str(plain_har), "--json", cwd=tmp_path, path=pythonpath(pack_site))
    assert analyzed.returncode == 0, analyzed.stderr
    report = json.loads(analyzed.stdout)
    assert [e["url"] for e in report["entries"]] == urls
    for entry in report["entries"]:
        assert [f["evidence"] for f in entry["findings"] if f["rule"] == PACK_RULE] == [{"server": server}]
        assert entry["facts"]["test-pack"] == {"server": server}
    text = proxylens("analyze", str(plain_har), cwd=tmp_path, path=pythonpath(pack_site))
    assert text.returncode == 0 and f"warning {PACK_RULE}: Server: {server}" in text.stdout
    off = proxylens("analyze", str(plain_har), "--json", "--no-check-packs", cwd=tmp_path,
                    path=pythonpath(pack_site))
    assert off.returncode == 0 and PACK_RULE not in off.stdout and "test-pack" not in off.stdout


# -- 2. a broken pack ------------------------------------------------------------------------------------------------

def test_broken_pack_is_skipped_with_a_warning_and_the_proxy_serves(start_proxy, http_origin, pack_site,
                                                                   broken_pack_site, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", pythonpath(pack_site, broken_pack_site))
    proxy = start_proxy()
    with client(proxy) as c:
        assert c.get(http_origin.url("/echo?broken-pack=1")).json()["path"] == "/echo?broken-pack=1"
        assert c.get(http_origin.url("/status/503")).status_code == 503
    assert proxy.stop() == 0
    warnings = [ln for ln in proxy.stderr.splitlines() if "broken-pack" in ln]
    assert len(warnings) == 1, proxy.stderr
    warning = warnings[0]
    assert warning.startswith("proxylens: warning: check pack 'broken-pack' (proxylens_test_pack_broken, from "
                              "proxylens-test-pack-broken) failed to load and is skipped: ")
    assert BROKEN_PACK_ERROR in warning
    assert "`pip uninstall proxylens-test-pack-broken`" in warning and "--no-check-packs" in warning
    # The other pack and the built-in analyzers still judge every exchange.
    entries = proxy.har()["log"]["entries"]
    assert len(entries) == 2
    for entry in entries:
        assert findings_of(entry, PACK_RULE) and "status" in entry["_proxylens"]["facts"]
    assert "status.server-error" in [f["rule"] for f in findings_of(entries[1])]


def test_broken_pack_with_rules_and_no_check_packs(tmp_path, pack_site, broken_pack_site):
    path = pythonpath(broken_pack_site, pack_site)
    listed = proxylens("rules", "--json", cwd=tmp_path, path=path)
    assert listed.returncode == 0 and PACK_RULE in {r["id"] for r in json.loads(listed.stdout)}
    assert "check pack 'broken-pack'" in listed.stderr and BROKEN_PACK_ERROR in listed.stderr
    off = proxylens("rules", "--json", "--no-check-packs", cwd=tmp_path, path=path)
    assert off.returncode == 0 and off.stderr == "" and PACK_RULE not in off.stdout


# -- 3. broken explicit checks: a start-up error, before listening ---------------------------------------------------

IMPORT_ERROR = '''\
"""A check whose dependency is missing."""
from proxy import analyzer
import proxylens_no_such_dependency
'''

SYNTAX_ERROR = '''\
from proxy import analyzer


@analyzer("broken")
def broken(exchange:
    return None
'''

EXITS = '''\
import sys

from proxy import analyzer

sys.exit(3)
'''


def dup(name: str) -> str:
    return f"from proxy import analyzer\n\n\n@analyzer({name!r})\ndef check(exchange):\n    return None\n"


def start_failing(tmp_path: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess:
    out = proxylens("proxy", "--listen-port", "0", "--har", str(tmp_path / "never.har"), *args, cwd=tmp_path,
                    path=path, timeout=60)
    assert out.returncode == 2, f"exit {out.returncode}\n{out.stdout}\n{out.stderr}"
    assert "listening on" not in out.stdout + out.stderr and not (tmp_path / "never.har").exists()
    return out


@pytest.mark.parametrize("source, message", [
    (IMPORT_ERROR, ("proxylens: error: script {path} failed to load: ModuleNotFoundError: No module named "
                    "'proxylens_no_such_dependency' (at {path}:3)")),
    (SYNTAX_ERROR, "proxylens: error: script {path} failed to load: SyntaxError: "),
    (EXITS, "proxylens: error: script {path} called sys.exit(3) while loading"),
], ids=["import-error", "syntax-error", "sys-exit"])
def test_broken_script_stops_the_start(tmp_path, source, message):
    script = tmp_path / "my_check.py"
    script.write_text(source)
    out = start_failing(tmp_path, "-s", str(script))
    assert message.format(path=script) in out.stderr, out.stderr
    if source is SYNTAX_ERROR:
        assert "(my_check.py, line 5)" in out.stderr, out.stderr


def test_sys_exit_in_a_script_names_the_line(tmp_path):
    script = tmp_path / "my_check.py"
    script.write_text(EXITS)
    assert f"{script}:5" in start_failing(tmp_path, "-s", str(script)).stderr


def test_syntax_error_location_is_the_file_not_importlib(tmp_path):
    script = tmp_path / "my_check.py"
    script.write_text(SYNTAX_ERROR)
    stderr = start_failing(tmp_path, "-s", str(script)).stderr
    assert "<frozen importlib" not in stderr and f"{script}:5" in stderr


def test_missing_check_module_stops_the_start(tmp_path):
    out = start_failing(tmp_path, "--check", "no.such.module")
    assert "proxylens: error: check module no.such.module failed to import: ModuleNotFoundError: No module " \
           "named 'no'; is it installed, or on PYTHONPATH?" in out.stderr


def test_check_module_that_raises_stops_the_start(tmp_path):
    pkg = tmp_path / "lib" / "acme_checks"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "api.py").write_text("from proxy import analyzer\n\nraise ValueError('no API key configured')\n")
    out = start_failing(tmp_path, "--check", "acme_checks.api", path=str(tmp_path / "lib"))
    assert ("proxylens: error: check module acme_checks.api failed to import: ValueError: no API key configured "
            f"(at {pkg / 'api.py'}:3)") in out.stderr


@pytest.mark.parametrize("first, second", [("acme", "acme"), ("status", None)], ids=["two-checks", "a-built-in"])
def test_two_checks_with_one_name_stop_the_start(tmp_path, first, second):
    args = []
    for i, name in enumerate(n for n in (first, second) if n):
        (tmp_path / f"check_{i}.py").write_text(dup(name))
        args += ["-s", str(tmp_path / f"check_{i}.py")]
    out = start_failing(tmp_path, *args)
    where = f"from -s {tmp_path / 'check_0.py'}" if second else "built in"
    source = tmp_path / ("check_1.py" if second else "check_0.py")
    assert (f"proxylens: error: two analyzers are named {first!r}: one {where}, one from -s {source}; load each "
            "check once") in out.stderr


def test_broken_script_stops_run_before_the_command(tmp_path):
    script = tmp_path / "my_check.py"
    script.write_text(IMPORT_ERROR)
    marker = tmp_path / "ran"
    out = proxylens("run", "-s", str(script), "--", sys.executable, "-c",
                    f"open({str(marker)!r}, 'w').write('ran')", cwd=tmp_path)
    assert out.returncode == 2 and "ModuleNotFoundError" in out.stderr
    assert not marker.exists(), "the command ran although proxylens could not start"


# -- 4. checks failing at analysis time in a running proxy -----------------------------------------------------------

CRASHY = '''\
from proxy import Analysis, analyzer


@analyzer("crashy")
def crashy(exchange):
    if "boom" in exchange.request.url:
        raise ZeroDivisionError("boom on purpose")
    return Analysis(facts={"calm": True})
'''

WRONG_TYPE = '''\
from proxy import analyzer


@analyzer("wrong-type")
def wrong_type(exchange):
    if "/status/" in exchange.request.url:
        return {"rule": "acme.not-a-finding"}
    return []
'''


def test_checks_failing_at_analysis_time_are_named_once_and_traffic_flows(start_proxy, http_origin, tmp_path):
    crashy, wrong = tmp_path / "crashy.py", tmp_path / "wrong_type.py"
    crashy.write_text(CRASHY)
    wrong.write_text(WRONG_TYPE)
    proxy = start_proxy("-s", str(crashy), "-s", str(wrong))
    urls = [http_origin.url(f"/echo?boom={i}") for i in range(4)] + \
        [http_origin.url(f"/status/{code}?n={i}") for i, code in enumerate((200, 404, 500))] + \
        [http_origin.url("/echo?calm=1")]
    with client(proxy) as c:
        statuses = [c.get(u).status_code for u in urls]
    assert statuses == [200] * 4 + [200, 404, 500, 200]
    assert proxy.stop() == 0

    stderr = proxy.stderr
    crash_lines = [ln for ln in stderr.splitlines() if "check 'crashy' failed" in ln]
    wrong_lines = [ln for ln in stderr.splitlines() if "check 'wrong-type' failed" in ln]
    assert len(crash_lines) == 1 and len(wrong_lines) == 1, stderr
    assert crash_lines[0].startswith(f"proxylens: warning: check 'crashy' failed: ZeroDivisionError: boom on purpose "
                                     f"(at {crashy}:7); ")
    assert "everything else goes on" in crash_lines[0] and ANALYZER_ERROR in crash_lines[0]
    type_error = ("returned dict {'rule': 'acme.not-a-finding'}; return Findings (a list, or yield them), an "
                  "Analysis, or None")
    assert wrong_lines[0].startswith(f"proxylens: warning: check 'wrong-type' failed: TypeError: {type_error} (at ")

    har = proxy.har()
    assert_valid_har(har)
    by_url = {e["request"]["url"]: e for e in har["log"]["entries"]}
    assert list(by_url) == urls
    for url, entry in by_url.items():
        facts = entry["_proxylens"]["facts"]
        assert facts["status"]["code"] == entry["response"]["status"], "the built-in facts are still there"
        errors = {f["evidence"]["analyzer"]: f for f in findings_of(entry, ANALYZER_ERROR)}
        expected = {"crashy"} if "boom" in url else {"wrong-type"} if "/status/" in url else set()
        assert set(errors) == expected, (url, errors)
        if "crashy" in errors:
            assert errors["crashy"]["evidence"]["exception"] == "ZeroDivisionError"
            assert errors["crashy"]["evidence"]["message"] == "boom on purpose"
            assert errors["crashy"]["summary"] == "analyzer 'crashy' crashed: ZeroDivisionError: boom on purpose"
            assert "crashy" not in facts
        else:
            assert facts["crashy"] == {"calm": True}
        if "wrong-type" in errors:
            assert errors["wrong-type"]["evidence"]["exception"] == "TypeError"
            assert errors["wrong-type"]["evidence"]["message"] == type_error
    assert "status.server-error" in [f["rule"] for f in findings_of(by_url[urls[6]])]
    # The summary counts the errors like any other finding.
    assert re.search(rf"\b7 +warning +{re.escape(ANALYZER_ERROR)}\b", proxy.stdout), proxy.stdout


EXITER = '''\
import sys

from proxy import analyzer


@analyzer("exiter")
def exiter(exchange):
    if "exit" in exchange.request.url:
        sys.exit(1)
'''


def test_a_check_calling_sys_exit_while_analyzing_does_not_stop_the_proxy(start_proxy, http_origin, tmp_path):
    script = tmp_path / "exiter.py"
    script.write_text(EXITER)
    proxy = start_proxy("-s", str(script))
    urls = [http_origin.url(p) for p in ("/echo?before=1", "/echo?exit=1", "/echo?after=1")]
    with client(proxy) as c:
        for url in urls:
            assert c.get(url).status_code == 200
    code = proxy.stop()
    entries = proxy.har()["log"]["entries"]
    assert [e["request"]["url"] for e in entries] == urls, proxy.stderr
    [error] = findings_of(entries[1], ANALYZER_ERROR)
    assert error["evidence"]["analyzer"] == "exiter" and error["evidence"]["exception"] == "SystemExit"
    assert code == 0 and "worker died" not in proxy.stderr


# -- 5. proxylens run with a policy failing on the pack's rule -------------------------------------------------------

FETCH = "import sys, httpx\nfor url in sys.argv[1:]:\n    httpx.get(url, timeout=20).raise_for_status()\n"


def test_run_fails_on_the_pack_rule_and_the_junit_report_names_it(tmp_path, http_origin, pack_site):
    policy = tmp_path / "proxylens.toml"
    policy.write_text(f'[rules]\n"*" = "ignore"\n"{PACK_RULE}" = "fail"\n')
    urls = [http_origin.url("/echo?run=1"), http_origin.url("/echo?run=2")]
    junit = tmp_path / "report.xml"
    options = ["--policy", str(policy), "--junit", str(junit)]
    command = ["--", sys.executable, "-c", FETCH, *urls]

    run = proxylens("run", *options, *command, cwd=tmp_path, path=pythonpath(pack_site), timeout=120)
    assert run.returncode == 1, f"{run.stdout}\n{run.stderr}"
    assert "proxylens: policy: FAILED" in run.stdout
    root = ET.fromstring(junit.read_bytes())
    failures = {c.get("name"): c.find("failure") for c in root.iter("testcase") if c.find("failure") is not None}
    assert set(failures) == {f"{PACK_RULE} @ 127.0.0.1"}
    failure = failures[f"{PACK_RULE} @ 127.0.0.1"]
    assert failure.get("type") == PACK_RULE and failure.get("message").startswith("2 new finding(s):")
    assert all(url in failure.text for url in urls)

    # Without the pack, the policy names a rule nobody defines: a configuration error, and the command never runs.
    junit.unlink()
    off = proxylens("run", *options, "--no-check-packs", *command, cwd=tmp_path, path=pythonpath(pack_site),
                    timeout=120)
    assert off.returncode == 2, f"{off.stdout}\n{off.stderr}"
    assert f"rules.'{PACK_RULE}' matches no rule" in off.stderr
    assert "policy:" not in off.stdout and not junit.exists()
