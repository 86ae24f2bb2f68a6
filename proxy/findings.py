"""Finding, Severity and the rule catalog: the contract reports depend on.

Every rule has one entry in the catalog with its default severity, category
and reference; analyzers create findings through their Rule, so a finding can
never name a rule that ``proxylens rules`` does not list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Callable, Iterator, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

RULE_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\.[a-z0-9]+(?:-[a-z0-9]+)*$")

JSONScalar = Union[str, int, float, bool, None]


class Severity(str, Enum):
    """Ordered: good < info < warning < error. Say what is right, too."""

    GOOD = "good"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @staticmethod
    def _other_rank(other: object) -> int:
        # Severity is a str, so a plain string on the other side would otherwise fall back to
        # alphabetical order (where "error" < "good"); compare by severity or refuse.
        if isinstance(other, Severity):
            return other.rank
        if isinstance(other, str):
            try:
                return _RANK[Severity(other)]
            except ValueError:
                pass
        raise TypeError(f"cannot compare Severity with {other!r}")

    def __lt__(self, other: object) -> bool:
        return self.rank < self._other_rank(other)

    def __le__(self, other: object) -> bool:
        return self.rank <= self._other_rank(other)

    def __gt__(self, other: object) -> bool:
        return self.rank > self._other_rank(other)

    def __ge__(self, other: object) -> bool:
        return self.rank >= self._other_rank(other)


_RANK = {Severity.GOOD: 0, Severity.INFO: 1, Severity.WARNING: 2, Severity.ERROR: 3}


class Finding(BaseModel):
    """One judgement about one exchange."""

    # allow_inf_nan=False: NaN and Infinity are not JSON, and evidence must be JSON scalars.
    model_config = ConfigDict(frozen=True, use_enum_values=False, allow_inf_nan=False)

    rule: str = Field(description="stable id, category.kebab-name")
    severity: Severity
    category: str
    summary: str
    detail: str = ""
    subject: str = ""
    evidence: dict[str, JSONScalar] = Field(default_factory=dict)
    reference: str = ""

    @field_validator("rule")
    @classmethod
    def _rule_id(cls, value: str) -> str:
        if not RULE_ID.match(value):
            raise ValueError(f"rule id {value!r} is not of the form category.kebab-name")
        return value

    def to_json(self) -> dict:
        return self.model_dump(mode="json")

    def __rich_console__(self, console, options):
        """Severity, rule and summary on one line; then why it matters and the fix; then the reference."""
        from rich.text import Text

        from .plainlog import printable
        from .theme import severity_style, wrapped

        width = options.max_width
        yield from wrapped(Text.assemble((f"{self.severity.value:<7}", severity_style(self.severity)), " ",
                                         (self.rule, "rule"), " ", printable(self.summary)), console, width)
        if self.detail:
            # Details use Markdown code spans only: draw them as code, without the backticks
            # (a full Markdown renderer pads every line to the console width).
            parts = printable(self.detail, newlines=True).split("`")
            detail = Text.assemble(*((part, "code") if i % 2 else part for i, part in enumerate(parts)))
            yield from wrapped(detail, console, width, indent=8)
        if self.reference:
            yield from wrapped(Text.assemble(("see ", "muted"), (self.reference, "reference")), console, width, 8)


@dataclass(frozen=True)
class Rule:
    """A catalog entry. ``summary`` is the rule's generic one-line description."""

    id: str
    severity: Severity
    summary: str
    reference: str = ""
    detail: str = ""
    category: str = ""

    def __post_init__(self) -> None:
        if not RULE_ID.match(self.id):
            raise ValueError(f"rule id {self.id!r} is not of the form category.kebab-name")
        if not self.category:
            object.__setattr__(self, "category", self.id.split(".", 1)[0])

    def finding(
        self,
        summary: str | None = None,
        *,
        detail: str | None = None,
        subject: str = "",
        evidence: dict[str, JSONScalar] | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        """A finding of this rule: *summary* says what was seen on this exchange (the rule's own
        summary by default); *subject* where (``response.header.cache-control``); *evidence* the
        values it rests on (JSON scalars; never secrets). Severity, category, detail and reference
        come from the rule unless given."""
        return Finding(
            rule=self.id,
            severity=severity or self.severity,
            category=self.category,
            summary=summary or self.summary,
            detail=self.detail if detail is None else detail,
            subject=subject,
            evidence=evidence or {},
            reference=self.reference,
        )


class Catalog:
    """The registry of every rule, built-in and custom."""

    def __init__(self) -> None:
        self._rules: dict[str, Rule] = {}

    def register(self, rule: Rule) -> Rule:
        """Add *rule*; registering the same definition twice is allowed (a module imported twice),
        a different one under the same id is a ValueError."""
        existing = self._rules.get(rule.id)
        if existing is not None and existing != rule:
            raise ValueError(f"rule {rule.id!r} is already registered with a different definition")
        self._rules[rule.id] = rule
        return rule

    def rule(self, id: str, severity: Severity | str, summary: str, *, reference: str = "", detail: str = "",
             category: str = "") -> Rule:
        """Define and register a rule in one step."""
        return self.register(Rule(id, Severity(severity), summary, reference, detail, category))

    def family(self, category: str) -> Callable[..., Rule]:
        """A definer for one category's rules: ``family("hsts")("missing", ...)`` registers ``hsts.missing``."""

        def define(name: str, severity: Severity | str, summary: str, reference: str = "", detail: str = "") -> Rule:
            return self.rule(f"{category}.{name}", severity, summary, reference=reference, detail=detail)

        return define

    def get(self, id: str) -> Rule | None:
        return self._rules.get(id)

    def __contains__(self, id: object) -> bool:
        return id in self._rules

    def __iter__(self) -> Iterator[Rule]:
        return iter(sorted(self._rules.values(), key=lambda r: r.id))

    def __len__(self) -> int:
        return len(self._rules)


catalog = Catalog()

ANALYZER_ERROR = catalog.rule(
    "proxylens.analyzer-error",
    Severity.WARNING,
    "An analyzer raised an exception; its verdict for this exchange is missing.",
    reference="https://docs.python.org/3/library/exceptions.html",
    detail=(
        "The exchange itself was proxied and recorded normally; only this analyzer's facts and "
        "findings are missing. If the analyzer is a custom check, fix the exception shown in the "
        "evidence; if it is built in, please report it with the HAR entry."
    ),
)
