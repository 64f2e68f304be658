"""The figures in docs/security.md must be true of the current catalogue and profile.

Cases per category and engine, and how many are blocked, known limits or (on GTK, the
gaps the catalogue names) get through, follow from the catalogue (deterministic), so
the docs' table must equal the table the report would generate for it. Run counts
depend on the run: the docs must name the budget that produced them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import report
import test_fuzz
import test_soak
from attacks import CASES
from test_engine_egress import CASE_IDS as EGRESS_IDS
from test_engine_powers import CASE_IDS as POWER_IDS
from test_engine_powers import QT_ONLY
from test_local_process import CASE_IDS
from update_docs import DOC, END, START

FUZZ_SOURCE = Path(test_fuzz.__file__).read_text(encoding="utf-8")


def _docs_results() -> str:
    return DOC.read_text(encoding="utf-8").split(START, 1)[1].split(END, 1)[0]


def _catalogue_report() -> dict[str, Any]:
    """The report a run in which every case behaves as catalogued would produce."""
    cases = []
    for engine in report.ENGINES:
        for c in CASES:
            limit = c.known_limit and engine in c.known_limit_on
            cases.append((c.category, "known-limit" if limit else "blocked", engine))
        cases += [("local-process", "blocked", engine) for _ in CASE_IDS]
        for case_id in (*POWER_IDS, *EGRESS_IDS):
            if engine == "gtk" and case_id in QT_ONLY:
                continue
            cases.append(("engine", "blocked", engine))
    records = [{"category": c, "status": s, "engine": e} for c, s, e in cases]
    return {"parts": {}, "categories": report.categories(records)}


def test_table_matches_the_catalogue() -> None:
    expected = report.summary_table(_catalogue_report()).split("\n\n")[0]
    table = _docs_results().strip().split("\n\n")[0]
    assert table == expected, "run the documented command and update_docs.py"


def test_fuzz_figures_name_their_budget() -> None:
    line = next(ln for ln in _docs_results().splitlines() if ln.startswith("- Fuzzing"))
    m = re.match(r"- Fuzzing \((CI budget|long run): ([\d,]+) examples per target\)", line)
    assert m, line
    per_target = int(m[2].replace(",", ""))
    if m[1] == "CI budget":
        assert per_target == test_fuzz.CI_EXAMPLES
    else:
        assert per_target > test_fuzz.CI_EXAMPLES
    targets = FUZZ_SOURCE.count("\n@FUZZ\n")
    assert f" executions in {targets} targets" in line
    runs = re.search(r"\*\*([\d,]+)\*\* decoder", line)
    assert runs, line
    executions = int(runs[1].replace(",", ""))
    # Hypothesis runs at most the budget per target (the decoder target counts two).
    assert per_target <= executions <= 2 * per_target * (targets + 1)


def test_soak_figures_match_the_profile() -> None:
    line = next(ln for ln in _docs_results().splitlines() if ln.startswith("- Soak"))
    assert f"**{test_soak.CALLS:,}** calls" in line
    assert f"{test_soak.BATCH:,} at a time" in line


def test_report_goes_outside_the_source_tree(monkeypatch: Any) -> None:
    monkeypatch.delenv("RAMPARTS_REPORT_DIR", raising=False)
    source = Path(__file__).resolve().parents[2]
    assert not report.report_dir().resolve().is_relative_to(source)
    monkeypatch.setenv("RAMPARTS_REPORT_DIR", str(report.SOURCE_DIR))
    assert report.report_dir() == report.SOURCE_DIR
