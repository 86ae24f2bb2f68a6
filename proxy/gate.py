"""The CI gate: policy + baseline + judge + reports, as ``run``, ``proxy --policy`` and ``analyze --policy`` use it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .findings import catalog
from .judge import BaselineError, Judge, Verdict, baseline_json, load_baseline
from .pipeline import Result
from .policy import Policy, PolicyError, load_policy
from .reports import write_reports

DEFAULT_BASELINE = "proxylens-baseline.json"


@dataclass(frozen=True)
class GateConfig:
    policy: str | None = None  # path of proxylens.toml or pyproject.toml; None: default levels, every host
    baseline: str | None = None  # overrides the policy's baseline path
    update_baseline: bool = False
    reports: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (kind, path)


class Gate:
    def __init__(self, config: GateConfig) -> None:
        """Loads the policy and the baseline; PolicyError or BaselineError say what is wrong."""
        self.config = config
        self.policy = load_policy(config.policy) if config.policy else Policy()
        if config.baseline:
            self.baseline_path: Path | None = Path(config.baseline).resolve()
        elif self.policy.baseline_path is not None:
            self.baseline_path = self.policy.baseline_path
        elif config.update_baseline:
            base = self.policy.source.parent if self.policy.source else Path.cwd()
            self.baseline_path = base / DEFAULT_BASELINE
        else:
            self.baseline_path = None
        baseline = set()
        if self.baseline_path is not None and not config.update_baseline:
            try:
                baseline = load_baseline(self.baseline_path)
            except BaselineError as exc:
                raise PolicyError(str(exc)) from None
        self.judge = Judge(self.policy, baseline, record_baseline=config.update_baseline)

    def check_rules(self) -> None:
        """Once every analyzer (custom ones too) has registered its rules."""
        self.policy.check_rules([r.id for r in catalog])

    def add(self, result: Result) -> None:
        self.judge.add(result)

    def close(self) -> tuple[Verdict, list[str]]:
        """The verdict, and lines to tell the user (reports written, baseline updated, problems)."""
        messages = []
        if self.config.update_baseline and self.baseline_path is not None:
            keys = self.judge.recorded or set()
            try:
                self.baseline_path.write_text(baseline_json(keys), encoding="utf-8")
                messages.append(f"baseline: wrote {len(keys)} accepted finding(s) to {self.baseline_path}")
                if self.policy.baseline_path != self.baseline_path and not self.config.baseline:
                    messages.append(f'add `baseline = "{self.baseline_path.name}"` to your policy to use it')
            except OSError as exc:
                messages.append(f"error: cannot write the baseline {self.baseline_path}: {exc.strerror or exc}")
        verdict = self.judge.verdict()
        messages += [f"error: {p}" for p in write_reports(verdict, dict(self.config.reports))]
        messages += [f"{kind} report: {path}" for kind, path in sorted(self.config.reports)]
        messages.append(verdict_line(verdict))
        return verdict, messages


def verdict_line(verdict: Verdict) -> str:
    failed = [g for g in verdict.groups if g.failed]
    accepted = sum(g.count - g.new for g in verdict.groups if g.level == "fail")
    extra = f", {accepted} accepted by the baseline" if accepted else ""
    if failed:
        shown = ", ".join(f"{g.rule} @ {g.host} ({g.new_failures})" for g in failed[:5])
        more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
        return f"policy: FAILED: {sum(g.new_failures for g in failed)} new fail-level finding(s): {shown}{more}{extra}"
    return f"policy: passed ({verdict.count('warn')} warning(s){extra}; {verdict.out_of_scope} out of scope)"
