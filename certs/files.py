"""Files that must stay private: written atomically with an exact mode, checked before use.

A CA key another user can read lets them impersonate any site to every
client that trusts the CA; one another user can replace lets them choose the
CA. So proxylens refuses key files it does not own and symlinks, and tightens
(loudly) modes that let anyone else read them, the way OpenSSH treats
``~/.ssh/id_*``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
PUBLIC_FILE = 0o644


class CAError(Exception):
    """A problem with the CA or its files; the message says what to run."""


def mode_of(path: Path) -> str:
    return oct(stat.S_IMODE(path.lstat().st_mode))[2:].rjust(4, "0")


def private_dir(directory: Path) -> list[str]:
    """Create *directory* 0700, or check an existing one; return warnings."""
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        st = directory.stat()  # a symlinked config directory is fine: its target is what must be ours
    except OSError as exc:
        raise CAError(f"cannot use the config directory {directory}: {exc.strerror or exc}. "
                      "Set PROXYLENS_HOME to a directory you own.") from None
    if not stat.S_ISDIR(st.st_mode):
        raise CAError(f"{directory} is not a directory. Set PROXYLENS_HOME to a directory you own.")
    if st.st_uid != os.getuid():
        raise CAError(f"{directory} belongs to user id {st.st_uid}, not to you (user id {os.getuid()}): whoever "
                      "owns it can replace your CA. Set PROXYLENS_HOME to a directory you own.")
    if stat.S_IMODE(st.st_mode) & 0o077:
        old = mode_of(directory)
        directory.chmod(PRIVATE_DIR)
        return [f"{directory} was mode {old} (open to other users); tightened to 0700"]
    return []


def check_private_file(path: Path) -> list[str]:
    """Refuse a key file that is a symlink or someone else's; tighten a readable one. Return warnings."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        raise CAError(f"{path} does not exist") from None
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
        raise CAError(f"{path} is not a regular file (a symlink or special file): proxylens only uses a CA key "
                      "it wrote itself. Remove it and run `proxylens certs rotate`.")
    if st.st_uid != os.getuid():
        raise CAError(f"{path} belongs to user id {st.st_uid}, not to you (user id {os.getuid()}): another user "
                      "may have written it or can read it. Run `proxylens certs rotate` to set it aside and "
                      "create your own CA (then trust the new one), or set PROXYLENS_HOME to a directory you own.")
    if stat.S_IMODE(st.st_mode) & 0o077:
        old = mode_of(path)
        path.chmod(PRIVATE_FILE)
        return [(f"{path} holds the CA private key and was mode {old} (readable or writable by other users); "
                 "tightened to 0600. If anyone else could have copied it, run `proxylens certs rotate` and "
                 "re-trust the new CA.")]
    return []


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write *data* to *path* with exactly *mode*: a new file, then a rename over the old one.

    The temporary file is created with O_EXCL and the final mode, so the
    content is never readable by others, not even for a moment, and readers
    never see half a file.
    """
    # A random name: a file left by a process killed mid-write never blocks the next one.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have removed bits the file should have (0644)
        with os.fdopen(fd, "wb") as out:
            fd = -1
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Serialize CA creation and rotation between proxylens processes sharing *directory*."""
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, PRIVATE_FILE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
