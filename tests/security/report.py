"""The security report: parts written by each suite, merged into JSON and markdown.

Each test module writes its part (``<dir>/parts/<name>.json``) when it has run, and
the merged ``report.json`` and ``report.md`` are rebuilt from whatever parts exist, so
running one suite alone refreshes only its own figures. ``<dir>`` is
``$RAMPARTS_REPORT_DIR``; without it a plain pytest run (CI) writes to a temporary
directory, outside the source tree. The documented command sets it to
``tests/security/report/``, where ``update_docs.py`` reads it from.
"""

from __future__ import annotations

import getpass
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

#: Where the documented command writes, and ``update_docs.py`` reads by default.
SOURCE_DIR = Path(__file__).parent / "report"
#: The parts that hold attack cases (a list of records with ``id``, ``category``,
#: ``ability``, ``description``, ``expected``, ``status`` and ``reasons``).
CASE_PARTS = ("corpus", "local_process", "engine_powers", "engine_egress")


def report_dir() -> Path:
    env = os.environ.get("RAMPARTS_REPORT_DIR")
    if env:
        return Path(env)
    return Path(tempfile.gettempdir()) / f"ramparts-security-report-{getpass.getuser()}"


def write_part(name: str, data: Any) -> None:
    parts = report_dir() / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    part = {"written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "data": data}
    (parts / f"{name}.json").write_text(json.dumps(part, indent=1))
    build(report_dir())


def build(where: Path) -> dict[str, Any]:
    """Merge the parts into report.json and report.md; return the merged report."""
    parts = {p.stem: json.loads(p.read_text()) for p in sorted((where / "parts").glob("*.json"))}
    cases = []
    for name in CASE_PARTS:
        if name in parts:
            cases.extend(parts[name]["data"])
    report = {
        "parts": {k: v["written"] for k, v in parts.items()},
        "cases": cases,
        "categories": categories(cases),
        "fuzz": parts.get("fuzz", {}).get("data"),
        "soak": parts.get("soak", {}).get("data"),
    }
    (where / "report.json").write_text(json.dumps(report, indent=1))
    (where / "report.md").write_text(markdown(report))
    return report


def case_record(
    case_id: str, category: str, ability: str, description: str, expected: str, reasons: list[str]
) -> dict[str, Any]:
    """One case's record for a part, blocked when nothing got through (no ``reasons``)."""
    return {
        "id": case_id,
        "category": category,
        "ability": ability,
        "description": description,
        "expected": expected,
        "status": "escaped" if reasons else "blocked",
        "reasons": reasons,
    }


def categories(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by: dict[str, Counter[str]] = {}
    for c in cases:
        by.setdefault(c["category"], Counter())[c["status"]] += 1
    return [{"category": k, "tried": sum(v.values()), **v} for k, v in by.items()]


def summary_table(report: dict[str, Any]) -> str:
    """The figures table for docs/security.md."""
    from attacks import CATEGORIES

    rows = [
        "| category | cases tried | blocked | known limit | got through / error |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    total: Counter[str] = Counter()
    order = list(CATEGORIES)  # the catalogue's order, not the order launches ran in
    for c in sorted(report["categories"], key=lambda c: order.index(c["category"])):
        bad = c.get("escaped", 0) + c.get("error", 0)
        rows.append(
            f"| {CATEGORIES.get(c['category'], c['category'])} | {c['tried']} | "
            f"{c.get('blocked', 0)} | {c.get('known-limit', 0)} | {bad} |"
        )
        total.update({k: v for k, v in c.items() if isinstance(v, int)})
    rows.append(
        f"| **all** | **{total['tried']}** | **{total['blocked']}** | "
        f"**{total['known-limit']}** | **{total['escaped'] + total['error']}** |"
    )
    lines = ["\n".join(rows), ""]
    fuzz, soak = report.get("fuzz"), report.get("soak")
    if fuzz:
        lines.append(
            f"- Fuzzing ({fuzz_budget(fuzz)}): **{fuzz['executions']:,}** decoder/dispatcher "
            f"executions in {fuzz['targets']} targets, **{fuzz['commands_run']}** commands "
            f"run by unsigned or broken messages; **{fuzz['past_the_mac']:,}** signed "
            f"messages past the MAC, {fuzz['routed']:,} of them reaching the handle lookup, "
            f"and only well-formed calls ({fuzz['canary_runs']:,}) ran the canary; memory "
            f"growth {fuzz['memory_growth_bytes']:,} bytes over {fuzz['memory_messages']:,} "
            "messages."
        )
    if soak:
        lines.append(
            f"- Soak: **{soak['calls']:,}** calls through the real webview with per-call "
            f"handles, {soak['batch']:,} at a time ({soak['calls_per_second']:,.0f} calls/s); "
            f"lost {soak['lost']}, duplicated {soak['duplicated']}, misrouted "
            f"{soak['misrouted']}; resolvers left {soak['pending_after']}. RSS after warm-up "
            f"and a forced GC: Python {soak['rss_mib'][2]:.0f} → {soak['rss_mib'][-1]:.0f} MiB, "
            f"Chromium {soak['renderer_rss_mib'][2]:.0f} → {soak['renderer_rss_mib'][-1]:.0f} MiB."
        )
        lines.append(
            f"- Concurrency: **{soak['concurrent']:,}** calls in flight in Python at once "
            "(per-session handles, an async command), all answered correctly."
        )
        lines.append(
            f"- Faults survived: **{soak['faults_survived']}** "
            f"({', '.join(soak['faults'])}), each failing alone with its own error code "
            "while concurrent good calls succeeded."
        )
    lines.append("")
    lines.append(
        "Generated from the last run: "
        + ", ".join(f"{k} {v}" for k, v in report["parts"].items())
        + "."
    )
    return "\n".join(lines)


def fuzz_budget(fuzz: dict[str, Any]) -> str:
    """Which budget produced the fuzz figures: the CI one or a long run."""
    kind = "CI budget" if fuzz["budget"] == "CI" else "long run"
    return f"{kind}: {fuzz['examples_per_target']:,} examples per target"


def markdown(report: dict[str, Any]) -> str:
    out = ["# Ramparts security report", "", summary_table(report), "", "## Cases", ""]
    out.append("| id | category | attacker | status | CSP violations | expected |")
    out.append("| --- | --- | --- | --- | --- | --- |")
    for c in report["cases"]:
        csp = f"{c['csp_violations']} ({', '.join(c['violated'])})" if c.get("violated") else "0"
        out.append(
            f"| `{c['id']}` | {c['category']} | {c['ability']} | **{c['status']}** | {csp} "
            f"| {c['expected']} |"
        )
    bad = [c for c in report["cases"] if c["status"] not in ("blocked", "known-limit")]
    if bad:
        out += ["", "## Failures", ""]
        for c in bad:
            out.append(f"- `{c['id']}`: {'; '.join(c['reasons'])}")
    return "\n".join(out) + "\n"
