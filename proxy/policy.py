"""The policy: which hosts are judged, how much each rule matters, and which findings are accepted.

Read from ``proxylens.toml`` or ``[tool.proxylens]`` in ``pyproject.toml``
and validated by pydantic; an error names the file, the line and the key::

    scope = ["*.staging.example.com", "localhost"]   # host globs judged; others pass unjudged
    exclude = ["auth.staging.example.com"]          # never judged, even in scope
    baseline = "proxylens-baseline.json"            # accepted findings (relative to this file)

    [levels]                 # default level of each severity
    error = "fail"
    warning = "warn"

    [rules]                  # per rule id, or glob of ids
    "caching.heuristic-freshness" = "ignore"
    "tls.*" = "fail"

    [[overrides]]            # per URL glob; the last matching one wins
    url = "https://staging.example.com/legacy/*"
    rules = { "cors.*" = "warn" }

Levels: ``ignore`` (not reported), ``info``, ``warn`` (reported, never
fails), ``fail`` (fails the run unless the baseline accepts it).
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from .findings import Finding, Severity

Level = Literal["ignore", "info", "warn", "fail"]
LEVELS: tuple[Level, ...] = ("ignore", "info", "warn", "fail")
DEFAULT_LEVELS: dict[Severity, Level] = {Severity.ERROR: "fail", Severity.WARNING: "warn", Severity.INFO: "info",
                                         Severity.GOOD: "ignore"}
POLICY_FILE = "proxylens.toml"


class PolicyError(Exception):
    """A policy that cannot be used; the message names the file, line and key."""


def _host_glob(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]  # [::1] as in URLs; hosts are compared without brackets
    if not value or any(c in value for c in "/ []") or "://" in value:
        raise ValueError(f"{value!r} is not a host glob (e.g. example.com, *.staging.example.com, 10.0.*)")
    if value.count(":") == 1:
        raise ValueError(f"{value!r}: write the host without a port ({value.split(':')[0]!r}); "
                         "scope matches host names, whatever the port")
    return value


class Override(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="URL glob, e.g. https://staging.example.com/legacy/*")
    rules: dict[str, Level]


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: list[str] = Field(default_factory=list, description="host globs judged; empty: every host")
    exclude: list[str] = Field(default_factory=list, description="host globs never judged")
    levels: dict[Severity, Level] = Field(default_factory=dict)
    rules: dict[str, Level] = Field(default_factory=dict)
    overrides: list[Override] = Field(default_factory=list)
    baseline: str | None = None

    # Where it came from, for messages and for resolving the baseline path.
    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path | None:
        return self._source

    @field_validator("scope", "exclude")
    @classmethod
    def _globs(cls, values: list[str]) -> list[str]:
        return [_host_glob(v) for v in values]

    def in_scope(self, host: str) -> bool:
        host = host.lower().strip("[]")
        if any(fnmatch.fnmatchcase(host, g) for g in self.exclude):
            return False
        return not self.scope or any(fnmatch.fnmatchcase(host, g) for g in self.scope)

    def level(self, finding: Finding, url: str = "") -> Level:
        for override in reversed(self.overrides):
            if fnmatch.fnmatchcase(url, override.url):
                level = _lookup(override.rules, finding.rule)
                if level is not None:
                    return level
        level = _lookup(self.rules, finding.rule)
        if level is not None:
            return level
        return self.levels.get(finding.severity, DEFAULT_LEVELS[finding.severity])

    @property
    def baseline_path(self) -> Path | None:
        if self.baseline is None:
            return None
        base = self.source.parent if self.source is not None else Path.cwd()
        return (base / self.baseline).resolve()

    def check_rules(self, known: list[str]) -> None:
        """Every rule key must name a rule or match one: a typo would silently change nothing."""
        tables = [("rules", ("rules",), self.rules)] + [
            (f"overrides[{i}].rules", ("overrides", i, "rules"), o.rules) for i, o in enumerate(self.overrides)]
        for where, loc, table in tables:
            for key in table:
                if any(fnmatch.fnmatchcase(r, key) for r in known):
                    continue
                close = difflib.get_close_matches(key, known, n=1)
                categories = {r.split(".", 1)[0] for r in known}
                if key.split(".", 1)[0] not in categories and not any(c in key for c in "*?["):
                    # No loaded rule has this category: most likely a custom check that is not loaded.
                    hint = ("; no loaded check has rules in this category: load the custom check that defines it "
                            "in this command too (-s FILE, --check MODULE or an installed check pack)")
                else:
                    hint = f"; did you mean {close[0]!r}?" if close else "; `proxylens rules` lists them"
                raise PolicyError(f"{self._where((*loc, key))}: {where}.{key!r} matches no rule{hint}")

    def _where(self, loc: tuple) -> str:
        if self.source is None:
            return "policy"
        line = _line_of(self.source, loc)
        return f"{self.source}:{line}" if line else str(self.source)


def _lookup(table: dict[str, Level], rule: str) -> Level | None:
    """An exact rule id wins; otherwise the most specific (longest) matching glob."""
    if rule in table:
        return table[rule]
    matches = [g for g in table if fnmatch.fnmatchcase(rule, g)]
    return table[max(matches, key=len)] if matches else None


def _line_of(path: Path, loc: tuple) -> int | None:
    """The line where the key at *loc* is written (TOML keeps no positions): the key's line inside its
    own table (``[levels]``, the N-th ``[[overrides]]``, ``[tool.proxylens]`` in pyproject.toml), else
    that table's header line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    root = "tool.proxylens" if path.name == "pyproject.toml" else ""
    parts = [p for p in loc if p != "[key]"]
    if not parts:
        return None
    table, index, keys = root, None, [str(parts[0])]
    if parts[0] in ("levels", "rules") and len(parts) > 1:
        table, keys = _join(root, str(parts[0])), [str(parts[1]), str(parts[0])]
    elif parts[0] == "overrides" and len(parts) > 1 and isinstance(parts[1], int):
        table, index = _join(root, "overrides"), parts[1]
        keys = [str(p) for p in reversed(parts[2:])]
    current, seen, header_line = "", -1, None
    for number, text in enumerate(lines, 1):
        header = re.match(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]", text)
        if header:
            current = header.group(2).strip().replace('"', "")
            if current == table and header.group(1) == "[[":
                seen += 1
            if current == table and (index is None or seen == index):
                header_line = number
            continue
        if current != table or (index is not None and seen != index):
            continue
        for key in keys:
            name = re.escape(key)
            if re.search(rf'^\s*(?:"{name}"|\'{name}\'|{name})\s*=|[{{,]\s*["\']?{name}["\']?\s*=', text):
                return number
    return header_line


def _join(root: str, name: str) -> str:
    return f"{root}.{name}" if root else name


def load_policy(path: str | Path) -> Policy:
    """Read a policy file: proxylens.toml, or pyproject.toml's [tool.proxylens]. PolicyError says what is wrong."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"{path}: no such file; `proxylens policy init` writes a starter policy") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: cannot read it: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: not valid TOML: {exc}") from None
    if path.name == "pyproject.toml":
        tool = data.get("tool")
        data = tool.get("proxylens") if isinstance(tool, dict) else None
        if data is None:
            raise PolicyError(f"{path}: has no [tool.proxylens] table")
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if p != "[key]")  # pydantic marks errors in a dict key so
            key = ".".join(str(p) for p in loc) or "(top level)"
            line = _line_of(path, loc)
            where = f"{path}:{line}" if line else str(path)
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = f"unknown key; expected one of {', '.join(sorted(_keys_of(loc)))}"
            elif error["type"] == "literal_error":
                message = f"{error['input']!r} is not a level; use one of {', '.join(LEVELS)}"
            elif error["type"] == "enum":
                message = f"{loc[-1]!r} is not a severity; use one of good, info, warning, error"
            problems.append(f"{where}: {key}: {message}")
        raise PolicyError("\n".join(problems)) from None
    policy._source = path.resolve()
    return policy


def _keys_of(loc: tuple) -> list[str]:
    model = Override if "overrides" in loc else Policy
    return list(model.model_fields)


def find_policy(start: Path | None = None) -> Path | None:
    """proxylens.toml, or a pyproject.toml with [tool.proxylens], in the current directory."""
    start = start or Path.cwd()
    if (start / POLICY_FILE).is_file():
        return start / POLICY_FILE
    pyproject = start / "pyproject.toml"
    if pyproject.is_file():
        try:
            tool = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool")
            if isinstance(tool, dict) and "proxylens" in tool:
                return pyproject
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return pyproject  # let load_policy report what is wrong with it
    return None
