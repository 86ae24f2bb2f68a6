"""``proxylens policy init``: a commented starter policy listing every rule with its default level."""

from __future__ import annotations

import sys
from pathlib import Path

from .findings import catalog
from .policy import DEFAULT_LEVELS, load_policy
from .runner import EXIT_OK, EXIT_USAGE

HEAD = """\
# proxylens policy: which hosts `proxylens run` judges, and how much each rule matters.
# Levels: ignore (not reported), info, warn (reported, never fails the run),
# fail (fails the run with exit 1, unless the baseline accepts the finding).
# Docs: docs/ci.md. Rules: `proxylens rules`.

# Host globs to judge; traffic to other hosts passes through unjudged. Empty: every host.
scope = []
# Host globs never judged, even when in scope (e.g. third-party analytics).
exclude = []
# Accepted findings; `proxylens run --update-baseline -- CMD` writes it.
# baseline = "proxylens-baseline.json"

# The level of each severity, unless a rule says otherwise.
[levels]
{levels}

# Per rule id or glob of ids (e.g. "tls.*"). An exact id wins over a glob,
# a longer glob over a shorter one. Uncomment a line to change a rule.
[rules]
{rules}

# Per URL glob; the last matching override wins over [rules].
# [[overrides]]
# url = "https://staging.example.com/legacy/*"
# rules = {{ "cors.*" = "warn" }}
"""


def starter_text(scripts: tuple[str, ...] = (), checks: tuple[str, ...] = (), packs: bool = True) -> str:
    from .worker import build_pipeline

    build_pipeline(scripts, checks=checks, packs=packs)  # loading the analyzers registers their rules
    levels = "\n".join(f'{severity.value} = "{level}"' for severity, level in DEFAULT_LEVELS.items())
    width = max(len(r.id) for r in catalog) + 2
    rules = "\n".join(f'# {chr(34) + r.id + chr(34):{width}} = "{DEFAULT_LEVELS[r.severity]}"   # {r.severity.value}: '
                      f"{r.summary[:90]}" for r in catalog)
    return HEAD.format(levels=levels, rules=rules)


def write_starter(output: str, force: bool, scripts: tuple[str, ...] = (), checks: tuple[str, ...] = (),
                  packs: bool = True) -> int:
    from .loader import ScriptError

    path = Path(output)
    if path.exists() and not force:
        print(f"proxylens: error: {path} exists; add --force to overwrite it", file=sys.stderr)
        return EXIT_USAGE
    try:
        text = starter_text(scripts, checks, packs)
    except ScriptError as exc:
        print(f"proxylens: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"proxylens: error: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    load_policy(path)  # what we write must be a valid policy
    print(f"wrote {path}: every rule at its default level; edit it, then `proxylens run -- YOUR TESTS`")
    return EXIT_OK
