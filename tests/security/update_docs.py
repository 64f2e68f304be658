"""Put the figures of the last security run into docs/security.md.

    RAMPARTS_REPORT_DIR=tests/security/report uv run pytest tests/security tests/test_fuzz.py
    uv run python tests/security/update_docs.py       # rewrites the table in the docs

It reads ``$RAMPARTS_REPORT_DIR``, by default ``tests/security/report/``.

The table goes between the ``results:start`` and ``results:end`` markers; the rest of
the page is left alone.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # attacks and report, when run as a script

import report  # noqa: E402

DOC = HERE.parent.parent / "docs" / "security.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"


def main() -> int:
    data = report.build(Path(os.environ.get("RAMPARTS_REPORT_DIR") or report.SOURCE_DIR))
    if not data["cases"]:
        print("no report parts yet: run the security tests first", file=sys.stderr)
        return 1
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    table = report.summary_table(data)
    DOC.write_text(f"{head}{START}\n{table}\n{END}{tail}", encoding="utf-8")
    print(f"updated {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
