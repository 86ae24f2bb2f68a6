"""docs/api.md is generated from the public API's docstrings; it must match the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_api_reference_is_up_to_date():
    result = subprocess.run([sys.executable, str(ROOT / "docs" / "gen_api.py"), "--check"], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr


def test_api_reference_documents_every_public_name():
    import proxy

    text = (ROOT / "docs" / "api.md").read_text()
    for name in proxy.__all__:
        assert f"`{name}" in text, name
    for name in ("ExchangeFactory", "run_checks", "exchange_factory"):
        assert f"`{name}" in text, name
