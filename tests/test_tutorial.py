"""docs/custom-checks.md works as written: its code blocks are run as they stand."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "custom-checks.md"
PROXYLENS = str(Path(sys.executable).with_name("proxylens"))


def files_of(markdown: str) -> dict[str, str]:
    """Each fenced block whose first line is `# name.ext`: {name.ext: the block}."""
    blocks = re.findall(r"```(?:python|toml)\n(# (\S+)\n.*?)```", markdown, re.DOTALL)
    return {name: text for text, name in blocks}


def test_the_tutorial_checks_and_their_tests_pass(tmp_path: Path):
    files = files_of(TUTORIAL.read_text())
    assert {"my_checks.py", "test_my_checks.py", "dedupe.py"} <= set(files)
    for name in ("my_checks.py", "test_my_checks.py", "dedupe.py"):
        (tmp_path / name).write_text(files[name])
    # pytest as a user runs it: in their folder, with proxylens's plugin giving the fixtures
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_my_checks.py"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "6 passed" in run.stdout, run.stdout
    rules = subprocess.run([PROXYLENS, "rules", "-s", "my_checks.py", "-s", "dedupe.py"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120, check=False)
    assert rules.returncode == 0, rules.stderr
    assert re.search(r"^team\.request-id-missing\s+warning\s+API responses must carry X-Request-Id\.$",
                     rules.stdout, re.MULTILINE), rules.stdout
    assert re.search(r"^team\.request-id-reused\s+error\s", rules.stdout, re.MULTILINE)


def test_the_tutorial_session_check_finds_a_reused_request_id(tmp_path: Path):
    sys.path.insert(0, str(tmp_path))
    try:
        (tmp_path / "dedupe.py").write_text(files_of(TUTORIAL.read_text())["dedupe.py"])
        from dedupe import request_id_reuse

        from proxy.testing import ExchangeFactory, run_checks

        make = ExchangeFactory()
        exchanges = [make(f"https://shop.test/api/{i}", response_headers={"X-Request-Id": rid})
                     for i, rid in enumerate(["a1", "b2", "a1"])]
        results = run_checks(request_id_reuse, *exchanges)
        assert [[f.rule for f in r.findings] for r in results] == [[], [], ["team.request-id-reused"]]
        assert "https://shop.test/api/0" in results[2].findings[0].summary
        # an hour later (traffic time) the first use has expired from the session
        late = make("https://shop.test/api/9", response_headers={"X-Request-Id": "b2"}, started=make_time(3700))
        assert run_checks(request_id_reuse, *exchanges, late)[-1].findings == []
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("dedupe", None)


def make_time(seconds_after_start: float) -> float:
    from proxy.testing import T0

    return T0 + seconds_after_start
