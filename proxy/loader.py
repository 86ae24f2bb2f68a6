"""Load user scripts (``-s FILE``) and find the analyzers they define.

A script may define analyzers (instances of ``proxy.analyzer.Analyzer``, for
example made with ``@analyzer``) for the analysis worker, and mitmproxy
addons (an ``addons`` list, as in mitmproxy) for the proxy process. A
module-level ``analyzers`` list, when present, is taken as it is.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
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
        raise ScriptError(f"script {path} called sys.exit({exc.code!r}) while loading") from exc
    except Exception as exc:
        last = traceback.extract_tb(exc.__traceback__)[-1]
        raise ScriptError(
            f"script {path} failed to load: {type(exc).__name__}: {exc} (at {last.filename}:{last.lineno})"
        ) from exc
    return module


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
