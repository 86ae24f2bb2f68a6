"""Chromium's trust store on Linux (the NSS database in ``$HOME/.pki/nssdb``), set up the way
``proxylens certs trust-help`` says, and Chromium run against it (tests only).

``trust_help_steps`` reads one target's section of trust-help's output: the indented command lines, the
``Check:`` command and the ``Undo:`` command, exactly as printed. ``run_shell`` runs such lines with bash,
with ``HOME`` set to a throw-away directory (nothing is substituted in the commands themselves).
``chromium_visits`` starts Playwright's Chromium with that ``HOME`` and no ``--ignore-certificate-errors``,
opens each URL and reports what a user would see: the page, or Chromium's ``net::ERR_...`` code.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tests.conftest import CHROMIUM_ARGS, chromium_path

PACKAGE_INSTALL = "sudo apt-get install libnss3-tools"  # installs certutil; the test machine has it already


def require_certutil() -> None:
    """NSS's certutil (libnss3-tools). Missing: a failure under CI=true, a skip elsewhere (like chromium_path)."""
    if shutil.which("certutil") is None:
        message = "certutil is not installed (apt-get install libnss3-tools)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)


@dataclass(frozen=True)
class Steps:
    commands: list[str]  # the indented command lines of the section, in order
    check: str | None  # the command after "Check:"
    undo: str | None  # the command after "Undo:"


def trust_help_steps(output: str, target: str) -> Steps:
    """The command lines trust-help printed for *target* (its ``== target:`` section)."""
    sections = re.split(r"(?m)^== ", output)
    section = next((s for s in sections if s.startswith(f"{target}:")), None)
    assert section is not None, f"trust-help printed no {target} section:\n{output}"
    lines = section.splitlines()[1:]
    commands = [line.strip() for line in lines if line.startswith("  ") and line.strip()]
    check = next((m.group(1).strip() for line in lines if (m := re.search(r"Check: (.+)$", line))), None)
    undo = next((m.group(1).strip() for line in lines if (m := re.match(r"Undo: (.+)$", line))), None)
    return Steps(commands, check, undo)


def run_shell(commands: list[str], home: Path, cwd: Path | None = None,
              extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The lines as one bash script (stopping at the first failure), with HOME=*home*."""
    if any("certutil" in line for line in commands):
        require_certutil()
    env = {**os.environ, "HOME": str(home), **(extra_env or {})}
    return subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join(commands)], env=env, cwd=cwd,
                          capture_output=True, text=True, check=False, timeout=60)


def nss_fingerprints(home: Path, nickname: str) -> list[str]:
    """SHA-256 fingerprints (hex, upper case) of every certificate stored under *nickname*."""
    out = subprocess.run(["certutil", "-d", f"sql:{home}/.pki/nssdb", "-L", "-n", nickname, "-a"],
                         capture_output=True, text=True, check=False, timeout=30)
    if out.returncode != 0:
        return []
    return [x509.load_pem_x509_certificate(block.encode()).fingerprint(hashes.SHA256()).hex().upper()
            for block in re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", out.stdout, re.DOTALL)]


def nss_all_fingerprints(home: Path) -> list[str]:
    """SHA-256 fingerprints of every certificate in the database, whatever its nickname."""
    out = subprocess.run(["certutil", "-d", f"sql:{home}/.pki/nssdb", "-L"], capture_output=True, text=True,
                         check=True, timeout=30)
    nicknames = re.findall(r"^(\S.*?)\s+[A-Za-z]*,[A-Za-z]*,[A-Za-z]*\s*$", out.stdout, re.MULTILINE)
    # certutil -L -n prints every certificate with the nickname's subject: CAs sharing a subject come twice
    return list(dict.fromkeys(fp for nickname in dict.fromkeys(nicknames) for fp in nss_fingerprints(home, nickname)))


def empty_nssdb(home: Path) -> None:
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True)
    subprocess.run(["certutil", "-d", f"sql:{db}", "-N", "--empty-password"], check=True, timeout=30,
                   capture_output=True)


@dataclass(frozen=True)
class Visit:
    error: str | None  # net::ERR_... when the page did not load
    status: int | None = None
    title: str | None = None
    issuer: str | None = None  # the certificate's issuer, as Chromium's DevTools reports it
    subject: str | None = None


def chromium_visits(home: Path, urls: list[str], *args: str) -> dict[str, Visit]:
    """Open each URL in a fresh browser context of one Chromium whose HOME (so whose NSS db) is *home*."""
    executable = chromium_path()
    from playwright.sync_api import Error, sync_playwright

    visits: dict[str, Visit] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=[*CHROMIUM_ARGS, *args],
                                    env={**os.environ, "HOME": str(home)})
        try:
            for url in urls:
                context = browser.new_context()
                page = context.new_page()
                try:
                    response = page.goto(url, timeout=30_000)
                    assert response is not None
                    page.wait_for_load_state("load")
                    details = response.security_details() or {}
                    visits[url] = Visit(None, response.status, page.title(), details.get("issuer"),
                                        details.get("subjectName"))
                except Error as exc:
                    m = re.search(r"net::ERR_[A-Z_0-9]+", str(exc))
                    visits[url] = Visit(m.group(0) if m else str(exc).splitlines()[0])
                finally:
                    context.close()
        finally:
            browser.close()
    return visits
