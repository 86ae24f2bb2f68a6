"""Reports of a verdict: JUnit XML, Markdown, JSON and SARIF 2.1.0.

Deterministic: the same traffic gives byte-identical files. Everything is
sorted, and nothing carries a time (none of these formats requires one).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote
from xml.etree import ElementTree as ET

from . import __version__
from .findings import catalog
from .judge import Verdict

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_LEVEL = {"fail": "error", "warn": "warning", "info": "note"}


def json_report(verdict: Verdict) -> str:
    return json.dumps({"tool": "proxylens", "version": __version__, **verdict.as_dict()}, indent=2,
                      sort_keys=False) + "\n"


def junit(verdict: Verdict) -> str:
    """One test case per rule and host; a failure for each new fail-level finding group."""
    suites = ET.Element("testsuites", name="proxylens")
    by_category: dict[str, list] = {}
    for group in verdict.groups:
        by_category.setdefault(group.category, []).append(group)
    total = failures = 0
    for category in sorted(by_category):
        suite = ET.SubElement(suites, "testsuite", name=f"proxylens.{category}")
        failed = 0
        for group in by_category[category]:
            case = ET.SubElement(suite, "testcase", classname=f"proxylens.{category}",
                                 name=f"{group.rule} @ {group.host}", time="0")
            text = _describe(group)
            if group.failed:
                failed += 1
                rule = catalog.get(group.rule)
                failure = ET.SubElement(case, "failure", type=group.rule, message=(
                    f"{group.new_failures} new finding(s): {rule.summary if rule else group.rule}"))
                failure.text = text
            else:
                ET.SubElement(case, "system-out").text = text
        _totals(suite, len(by_category[category]), failed)
        total += len(by_category[category])
        failures += failed
    if verdict.hosts:
        # A run without findings still shows what was judged: one passing case per host.
        suite = ET.SubElement(suites, "testsuite", name="proxylens (judged hosts)")
        for host in sorted(verdict.hosts):
            case = ET.SubElement(suite, "testcase", classname="proxylens.hosts", name=f"judged @ {host}", time="0")
            ET.SubElement(case, "system-out").text = f"{verdict.hosts[host]} exchange(s) judged"
        _totals(suite, len(verdict.hosts), 0)
        total += len(verdict.hosts)
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    suites.set("errors", "0")
    suites.set("time", "0")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _totals(suite: ET.Element, tests: int, failures: int) -> None:
    for name, value in (("tests", tests), ("failures", failures), ("errors", 0), ("skipped", 0), ("time", 0)):
        suite.set(name, str(value))


def _describe(group) -> str:
    rule = catalog.get(group.rule)
    lines = [(f"{group.count} finding(s) at level {group.level}, {group.new} new, {group.count - group.new} "
              "accepted by the baseline")]
    if rule is not None:
        lines.append(rule.summary)
        if rule.reference:
            lines.append(f"Reference: {rule.reference}")
    for e in group.examples:
        lines.append(f"{e.method} {e.url} -> {e.status or 'no response'}: {e.summary}")
    return "\n".join(lines)


def markdown(verdict: Verdict) -> str:
    passed = not verdict.failed
    out = [f"## proxylens: {'passed' if passed else 'FAILED'}", ""]
    new_failures = sum(g.new_failures for g in verdict.groups)
    out.append(f"{verdict.exchanges} exchange(s), {sum(verdict.hosts.values())} judged on {len(verdict.hosts)} "
               f"host(s), {verdict.out_of_scope} out of scope. Findings: {verdict.count('fail')} fail "
               f"({new_failures} new), {verdict.count('warn')} warn, {verdict.count('info')} info.")
    if verdict.baseline:
        out.append(f"Baseline: `{verdict.baseline}`.")
    out.append("")
    for level, title in (("fail", "Failures"), ("warn", "Warnings"), ("info", "Notes")):
        groups = [g for g in verdict.groups if g.level == level]
        if not groups:
            continue
        out += [f"### {title}", "", "| rule | host | count | new | example |", "|---|---|---:|---:|---|"]
        for g in groups:
            example = g.examples[0] if g.examples else None
            shown = f"`{example.method} {_cell(example.url)}`: {_cell(example.summary)}" if example else ""
            out.append(f"| `{g.rule}` | {_cell(g.host)} | {g.count} | {g.new} | {shown} |")
        out.append("")
    if not verdict.groups:
        out += ["No findings.", ""]
    return "\n".join(out)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:200]


def sarif(verdict: Verdict) -> str:
    rules = sorted({g.rule for g in verdict.groups})
    index = {r: i for i, r in enumerate(rules)}
    descriptors = []
    for rule_id in rules:
        rule = catalog.get(rule_id)
        descriptor = {"id": rule_id, "shortDescription": {"text": rule.summary if rule else rule_id}}
        if rule is not None and rule.reference:
            descriptor["helpUri"] = rule.reference
        if rule is not None and rule.detail:
            descriptor["fullDescription"] = {"text": rule.detail}
        descriptors.append(descriptor)
    results = []
    for g in verdict.groups:
        for e in g.examples:
            results.append({
                "ruleId": g.rule, "ruleIndex": index[g.rule], "level": SARIF_LEVEL[g.level],
                "message": {"text": f"{e.summary} ({e.method} {e.url}, {g.count} on {g.host})"},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(e.url)}}}],
                "partialFingerprints": {"proxylens/v1": f"{g.rule}|{g.host}|{e.method}|{e.url}"},
                "baselineState": "new" if g.new else "unchanged",
            })
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "proxylens", "version": __version__, "rules": descriptors}},
        "results": results,
    }]}
    return json.dumps(log, indent=2) + "\n"


def _uri(url: str) -> str:
    """A valid RFC 3986 URI reference: browsers send characters such as | unencoded."""
    return quote(url, safe=":/?#[]@!$&'()*+,;=%~")


WRITERS = {"junit": junit, "markdown": markdown, "json": json_report, "sarif": sarif}


def write_reports(verdict: Verdict, targets: dict[str, str]) -> list[str]:
    """Write each requested report (kind -> path) and the Markdown summary to $GITHUB_STEP_SUMMARY when set.
    Returns the problems (an unwritable path) instead of raising."""
    problems = []
    for kind, path in sorted(targets.items()):
        try:
            Path(path).write_text(WRITERS[kind](verdict), encoding="utf-8")
        except OSError as exc:
            problems.append(f"cannot write the {kind} report to {path}: {exc.strerror or exc}")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        try:
            with open(summary, "a", encoding="utf-8") as out:
                out.write(markdown(verdict) + "\n")
        except OSError as exc:
            problems.append(f"cannot append to $GITHUB_STEP_SUMMARY ({summary}): {exc.strerror or exc}")
    return problems
