"""pytest fixtures for check writers, registered as the ``proxylens`` plugin (entry point pytest11).

    def test_my_check(exchange_factory, run_checks):
        [result] = run_checks(my_check, exchange_factory("https://api.test/", status=500))
        assert result.findings

Disable with ``-p no:proxylens``.
"""

from __future__ import annotations

import pytest

from .testing import ExchangeFactory
from .testing import run_checks as _run_checks


@pytest.fixture
def exchange_factory() -> ExchangeFactory:
    """Builds Exchanges: ``exchange_factory(url, method, status=..., response_headers=...)``, and
    ``.from_dict``, ``.from_raw``, ``.from_har``. Each test gets its own clock."""
    return ExchangeFactory()


@pytest.fixture
def run_checks():
    """``run_checks(checks, *exchanges, builtins=False) -> list[Result]``: one session per call."""
    return _run_checks
