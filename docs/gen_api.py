"""Generate docs/api.md from the public API's docstrings and signatures.

    .venv/bin/python docs/gen_api.py          # rewrite docs/api.md
    .venv/bin/python docs/gen_api.py --check  # exit 1 if docs/api.md is out of date (the tests run this)

Documents every name in ``proxy.__all__``, the testing kit (``proxy.testing``)
and the pytest fixtures, in that order. The text comes from the code, so the
reference cannot drift from it.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUT = ROOT / "docs" / "api.md"
HEADER = """# API reference

Generated from the code by `docs/gen_api.py`; do not edit by hand. The
tutorial is [custom-checks.md](custom-checks.md).

Everything a check needs is importable from `proxy`. These names are stable:
a rename comes with a deprecation period and a changelog entry. The built-in
analyzers in `addons/` use exactly these names.
"""


def _doc(obj: object) -> str:
    return inspect.cleandoc(obj.__doc__) if obj.__doc__ else ""


def _signature(obj: object) -> str:
    try:
        text = str(inspect.signature(obj, eval_str=True))  # `str | None`, not the string 'str | None'
    except (NameError, TypeError, ValueError):
        try:
            text = str(inspect.signature(obj))
        except (TypeError, ValueError):
            return "(...)"
    # The names a reader imports: proxy.models.Exchange is proxy.Exchange.
    text = re.sub(r"\b(?:proxy\.\w+|collections\.abc|typing|pathlib)\.", "", text)
    return text.replace("Union[str, int, float, bool, NoneType]", "JSONScalar")


def _item(text: str) -> str:
    """A docstring as a list item's text: continuation lines indented under it."""
    return text.replace("\n", "\n  ")


def _members(cls: type) -> list[str]:
    lines = []
    if dataclasses.is_dataclass(cls):
        lines.append(f"Fields: {', '.join(f.name for f in dataclasses.fields(cls) if not f.name.startswith('_'))}.\n")
    elif hasattr(cls, "model_fields"):  # pydantic
        lines.append(f"Fields: {', '.join(cls.model_fields)}.\n")
    for name, member in vars(cls).items():
        if name.startswith("_") and name not in ("__call__",):
            continue
        if isinstance(member, property):
            if member.__doc__:
                lines.append(f"- `{name}` (property): {_item(_doc(member))}")
        elif isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
            if member.__doc__:
                lines.append(f"- `{name}{_signature(member)}`: {_item(_doc(member))}")
        elif inspect.isfunction(member) and member.__doc__:
            lines.append(f"- `{name}{_signature(member)}`: {_item(_doc(member))}")
    return lines


def document(name: str, obj: object) -> str:
    if inspect.isclass(obj):
        if issubclass(obj, str) and hasattr(obj, "__members__"):  # an Enum
            values = ", ".join(f"`{m.value}`" for m in obj)
            return f"### `{name}`\n\n{_doc(obj)}\n\nValues: {values}.\n"
        parts = [f"### class `{name}`\n", _doc(obj), ""]
        members = _members(obj)
        return "\n".join(parts + members) + "\n"
    if callable(obj):
        return f"### `{name}{_signature(obj)}`\n\n{_doc(obj)}\n"
    return f"### `{name}`\n\n{_doc(type(obj))}\n"


def generate() -> str:
    import proxy
    from proxy import pytest_plugin, testing

    sections = [HEADER, "## `proxy`\n", _doc(proxy).split("::")[0].strip() + "\n"]
    for name in proxy.__all__:
        sections.append(document(name, getattr(proxy, name)))
    sections += ["## `proxy.testing`\n", _doc(testing).split("    from")[0].strip() + "\n"]
    for name in ("ExchangeFactory", "run_checks", "load_checks"):
        sections.append(document(name, getattr(testing, name)))
    sections += ["## pytest fixtures (plugin `proxylens`)\n", _doc(pytest_plugin).split("    def")[0].strip() + "\n"]
    for name in ("exchange_factory", "run_checks"):
        fixture = getattr(pytest_plugin, name)
        func = getattr(fixture, "__wrapped__", None) or getattr(fixture, "_fixture_function", fixture)
        sections.append(f"### fixture `{name}`\n\n{_doc(func)}\n")
    return "\n".join(s.rstrip() + "\n" for s in sections)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/api.md is out of date")
    args = parser.parse_args()
    text = generate()
    if args.check:
        if not OUT.exists() or OUT.read_text() != text:
            print("docs/api.md is out of date: run `.venv/bin/python docs/gen_api.py`", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
