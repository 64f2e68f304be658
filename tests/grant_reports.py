"""What ``ramparts check``, ``ramparts audit`` and ``ramparts types`` say about an app's
grants, read the same way by the tests of every capability: the core's (``tests/``) and
the plugins' (``plugins/*/tests/``)."""

from __future__ import annotations

from pathlib import Path

from test_signing import fake_artifact
from test_types import _compile
from typer.testing import CliRunner

from ramparts.cli import app as cli
from ramparts.release.audit import Audit, audit


def check_lines(app: Path) -> tuple[list[str], str]:
    """The lines ``ramparts check`` prints for ``app`` and, of them, its ``routes:`` line;
    the check must pass."""
    done = CliRunner().invoke(cli, ["check", str(app)])
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    return lines, next(line for line in lines if line.startswith("routes:"))


def audited(
    root: Path, capabilities: dict[str, dict[str, object]], plant: str | None = None
) -> Audit:
    """The audit, with no key to verify it, of a fake artifact at ``root`` whose unsigned
    manifest declares ``capabilities``, with the package ``plant`` inside (none if None)."""
    return audit(fake_artifact(root, capabilities, plant=plant), [], {}, allow_unverified=True)


def types_text(app: Path, tmp_path: Path) -> str:
    """What ``ramparts types APP --out FILE`` writes for ``app``; it must succeed."""
    out = tmp_path / "ramparts.d.ts"
    done = CliRunner().invoke(cli, ["types", str(app), "--out", str(out)])
    assert done.exit_code == 0, done.output
    return out.read_text()


def refusals(tmp_path: Path, dts: str, good: list[str], wrong: list[str]) -> list[str]:
    """Compile one page, the ``good`` lines then the ``wrong`` ones, against ``dts``: tsc
    must accept every good line and refuse each wrong one, on its line. Returns what tsc
    says of each wrong line, in order."""
    body = "\n".join(f"  {line}" for line in good + wrong)
    done = _compile(tmp_path, dts, f"async function page(): Promise<void> {{\n{body}\n}}\n")
    reported = {
        int(r.split("(")[1].split(",")[0]): r
        for r in done.stdout.splitlines()
        if r.startswith("page.ts(")
    }
    first_wrong = 2 + len(good)
    assert sorted(reported) == list(range(first_wrong, first_wrong + len(wrong))), done.stdout
    return [reported[n] for n in sorted(reported)]


def refused_as(tmp_path: Path, dts: str, good: list[str], wrong: list[tuple[str, str]]) -> None:
    """``refusals`` of the wrong lines, each ``(line, error code)``: tsc's report of each
    line names its code."""
    reports = refusals(tmp_path, dts, good, [line for line, _ in wrong])
    for (line, error), report in zip(wrong, reports, strict=True):
        assert error in report, (line, report)
