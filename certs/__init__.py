"""The interception CA's home: proxylens's own config directory.

proxylens never uses ``~/.mitmproxy``: its CA lives in ``$PROXYLENS_HOME``,
or ``$XDG_CONFIG_HOME/proxylens``, or ``~/.config/proxylens``, a directory
readable by its owner only. (Until proxylens creates the CA itself with
cryptography, mitmproxy generates it there, writing the key with a 0o077
umask; ``ensure_private`` re-checks the permissions on every start.)
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

CA_BASENAME = "mitmproxy"  # mitmproxy's file naming inside the config directory
CA_CERT_FILE = f"{CA_BASENAME}-ca-cert.pem"
CA_KEY_FILE = f"{CA_BASENAME}-ca.pem"  # holds the private key


def config_dir() -> Path:
    if os.environ.get("PROXYLENS_HOME"):
        return Path(os.environ["PROXYLENS_HOME"]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "proxylens"


def ensure_private(directory: Path | None = None) -> Path:
    """Create the config directory (0700) and tighten any key file to 0600."""
    directory = directory or config_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    if stat.S_IMODE(directory.stat().st_mode) & 0o077:
        directory.chmod(0o700)
    for key in directory.glob("*-ca.pem"):
        if stat.S_IMODE(key.stat().st_mode) & 0o077:
            key.chmod(0o600)
    return directory


def ca_cert_path(directory: Path | None = None) -> Path:
    return (directory or config_dir()) / CA_CERT_FILE
