"""What ``ramparts check`` and ``ramparts types`` say about an app's grants, read the same
way by the tests of every capability: the core's (``tests/``) and the plugins'
(``plugins/*/tests/``). The audit's fake artifact is ``test_signing.fake_artifact``."""

from __future__ import annotations

from pathlib import Path

from test_types import _compile
from typer.testing import CliRunner

from ramparts.cli import app as cli


def check_lines(app: Path) -> tuple[list[str], str]:
    """The lines ``ramparts check`` prints for ``app`` and, of them, its ``routes:`` line;
    the check must pass."""
    done = CliRunner().invoke(cli, ["check", str(app)])
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    return lines, next(line for line in lines if line.startswith("routes:"))


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
