"""Bridge, don't serve: the running app (and its engine's helper processes) opens no
socket, on each engine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from conftest import read_keylog

pytestmark = [pytest.mark.webview, pytest.mark.usefixtures("engine")]


def test_app_process_tree_has_no_inet_socket(app_dir: Path, tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    script = tmp_path / "wait.js"
    # The page makes calls, then waits until the test has looked at the sockets.
    script.write_text(
        """
        await ramparts.invoke("add", { a: 1, b: 2 });
        await ramparts.sample.echo_bytes({ data: new Uint8Array(10) });
        window.document.title = "calls-done";
        for (;;) {
          const r = await fetch("/__go.txt").catch(() => null);
          if (r && r.ok) return "done";
          await new Promise((res) => setTimeout(res, 20));
        }
        """
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ramparts",
            "dev",
            str(app_dir),
            "--headless",
            "--trace",
            "--eval",
            str(script),
            "--timeout",
            "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "RAMPARTS_KEYLOG": str(keylog)},
    )
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:  # wait until both carriers have been used
            seen.append(line)
            if "sample.echo_bytes -> ok" in line:
                break
        else:
            raise AssertionError("the app ended early:\n" + "".join(seen))
        assert read_keylog(keylog)
        root = psutil.Process(proc.pid)
        found = []
        processes = [root, *root.children(recursive=True)]
        assert len(processes) > 1  # the engine's helper processes are included
        for p in processes:
            for conn in p.net_connections(kind="inet"):
                found.append((p.name(), conn.laddr, conn.status))
        assert found == [], f"sockets open in the app's process tree: {found}"
    finally:
        (app_dir / "ui" / "__go.txt").write_text("go")
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip().endswith('"done"')
