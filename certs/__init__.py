"""The interception CA: create, load, export and inspect certificates with ``cryptography``.

proxylens never uses ``~/.mitmproxy``: its CA lives in ``$PROXYLENS_HOME``,
or ``$XDG_CONFIG_HOME/proxylens``, or ``~/.config/proxylens``, a directory
only its owner can open. Each installation creates its own CA on first use.
"""

from __future__ import annotations

import os
from pathlib import Path

from .authority import (
    DEFAULT_DAYS,
    EXPIRY_WARNING_DAYS,
    KEY_TYPES,
    MAX_DAYS,
    Authority,
    Rotation,
    create,
    ensure,
    load,
    rotate,
)
from .constraints import NameRules
from .files import CAError

__all__ = ["DEFAULT_DAYS", "EXPIRY_WARNING_DAYS", "KEY_TYPES", "MAX_DAYS", "Authority", "CAError", "NameRules",
           "Rotation", "config_dir", "create", "ensure", "load", "rotate"]


def config_dir() -> Path:
    if os.environ.get("PROXYLENS_HOME"):
        return Path(os.environ["PROXYLENS_HOME"]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "proxylens"
