"""Load custom checks, three ways, and find the analyzers they define.

- ``-s FILE``: a Python file. It may define analyzers (instances of
  ``proxy.Analyzer``, for example made with ``@analyzer``) for the analysis
  worker, and mitmproxy addons (an ``addons`` list, as in mitmproxy) for the
  proxy process.
- ``--check package.module``: an importable module's analyzers.
- Entry points in the group ``proxylens.checks`` of installed distributions
  (``pip install`` a check pack): a module, an analyzer, a list of them, or
  an Analyzer subclass. A pack that fails to load is skipped with a warning,
  so one broken install never keeps the proxy from starting; an explicit
  ``-s`` or ``--check`` that fails is a start-up error.

A module-level ``analyzers`` list, when present, is taken as it is.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from .analyzer import Analyzer


class ScriptError(Exception):
    pass


def load_script(path: str) -> ModuleType:
    file = Path(path)
    if not file.is_file():
        raise ScriptError(f"script {path} does not exist")
    name = f"proxylens_script_{file.stem}_{abs(hash(str(file.resolve()))):x}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ScriptError(f"script {path} cannot be loaded as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    # As mitmproxy does for its scripts: modules beside the script are importable.
    folder = str(file.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except SystemExit as exc:
        raise ScriptError(f"script {path} called sys.exit({exc.code!r}) while loading{_where(exc)}") from exc
    except Exception as exc:
        raise ScriptError(f"script {path} failed to load: {type(exc).__name__}: {exc}{_where(exc)}") from exc
    return module


def _where(exc: BaseException) -> str:
    """Where in the user's code it went wrong: a SyntaxError's own position, else the deepest frame
    outside importlib's machinery."""
    if isinstance(exc, SyntaxError):
        return f" (at {exc.filename}:{exc.lineno})" if exc.filename else ""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<frozen ")]
    return f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""


def analyzers_in(module: ModuleType) -> list[Analyzer]:
    explicit = getattr(module, "analyzers", None)
    if explicit is not None:
        try:
            found = list(explicit)
        except TypeError:
            raise ScriptError(f"{module.__file__}: `analyzers` must be a list of analyzers") from None
    else:
        found = [v for v in vars(module).values() if isinstance(v, Analyzer)]
    for item in found:
        if not isinstance(item, Analyzer) or not item.name:
            raise ScriptError(f"{module.__file__}: {item!r} is not a named proxylens analyzer")
    return found


ENTRY_POINT_GROUP = "proxylens.checks"


def load_check_module(name: str) -> ModuleType:
    """``--check package.module``: import it; ScriptError says what went wrong, naming the check.
    As with ``python -m``, the current directory is searched too (after installed packages)."""
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.append(str(Path.cwd()))
    try:
        return importlib.import_module(name)
    except SystemExit as exc:
        raise ScriptError(f"check module {name} called sys.exit({exc.code!r}) while loading{_where(exc)}") from exc
    except Exception as exc:
        missing = isinstance(exc, ModuleNotFoundError)
        where = "" if missing else _where(exc)
        hint = "; is it installed, or on PYTHONPATH?" if missing else ""
        raise ScriptError(f"check module {name} failed to import: {type(exc).__name__}: {exc}{where}{hint}") from exc


def analyzers_of(value: object) -> list[Analyzer]:
    """The analyzers an entry point stands for."""
    if isinstance(value, ModuleType):
        return analyzers_in(value)
    if isinstance(value, Analyzer):
        found = [value]
    elif inspect.isclass(value) and issubclass(value, Analyzer):
        found = [value()]
    elif isinstance(value, (list, tuple)):
        found = list(value)
    else:
        raise ScriptError(f"the entry point names a value of type {type(value).__name__}; it must name a module, "
                          "an analyzer, a list of analyzers or an Analyzer subclass")
    for item in found:
        if not isinstance(item, Analyzer) or not item.name:
            raise ScriptError(f"{item!r} is not a named proxylens analyzer")
    return found


def check_packs(warn: Callable[[str], None]) -> list[Analyzer]:
    """The analyzers of every installed check pack. A broken pack is named in a warning and skipped."""
    analyzers: list[Analyzer] = []
    for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = ep.dist.name if ep.dist is not None else "an unknown distribution"
        what = f"check pack {ep.name!r} ({ep.value}, from {dist})"
        try:
            analyzers.extend(analyzers_of(ep.load()))
        except BaseException as exc:  # noqa: BLE001 -- an installed pack must never keep the proxy from starting
            if isinstance(exc, KeyboardInterrupt):
                raise
            reason = str(exc) if isinstance(exc, ScriptError) else f"{type(exc).__name__}: {exc}{_where(exc)}"
            warn(f"warning: {what} failed to load and is skipped: {reason}. Fix it, `pip uninstall {dist}`, or "
                 "run with --no-check-packs")
    return analyzers
