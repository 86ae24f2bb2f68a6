"""A worker for tests/test_certs.py: processes that call ``certs.ensure()`` on one fresh directory at once."""

from __future__ import annotations

from pathlib import Path


def ensure_together(directory: str, barrier, results) -> None:
    """Import everything first, wait for the others, then race them to ``ensure()``."""
    import mitmproxy.certs  # noqa: F401  (ensure() imports it lazily; do it before the race)

    import certs

    barrier.wait(timeout=120)
    authority, warnings, created = certs.ensure(Path(directory))
    results.put((authority.fingerprint, created, warnings))
