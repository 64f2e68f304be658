"""A tiny PyTauri app running one page script of ``benchmarks/bridge.js`` (or a start-up probe).

Run by ``benchmarks/pytauri_row.py`` with the Python of the venv that
``benchmarks/pytauri/setup.sh`` made (pytauri-wheel is not a workspace dependency)::

    python benchmarks/pytauri/app.py SCRIPT.js TIMEOUT

``SCRIPT.js`` is the body of an async function, run by the page once Tauri's globals
exist; the page hands its outcome to the ``done`` command, which prints it as one JSON
line and exits. The commands are written the way a PyTauri app writes them: a typed body
(pydantic parses the JSON and dumps the reply) for ``echo``, raw ``bytes`` for
``echo_bytes``, events through ``Emitter.emit_str``. The window is Tauri's own
(WebKitGTK 4.1 here), so it needs an X display.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from anyio.from_thread import start_blocking_portal
from pytauri import AppHandle, Commands, Emitter
from pytauri_wheel.lib import builder_factory, context_factory

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>PyTauri bench</title></head>
<body><p>PyTauri bridge benchmark</p>
<script>
(async () => {
  while (!(window.__TAURI__ && window.__TAURI__.pytauri)) {
    await new Promise((r) => setTimeout(r, 1));
  }
  return await (async () => {
__SOURCE__
  })();
})().then(
  (v) => ({ ok: true, value: v === undefined ? null : v }),
  (e) => ({ ok: false, error: String((e && e.stack) || e) }),
).then((outcome) => window.__TAURI__.pytauri.pyInvoke("done", outcome));
</script></body></html>
"""

CONFIG = {
    "productName": "pytauri-bench",
    "identifier": "dev.ramparts.bench.pytauri",
    "version": "0.1.0",
    "build": {"frontendDist": "dist"},
    "app": {
        "withGlobalTauri": True,
        "windows": [{"label": "main", "title": "PyTauri bench", "width": 800, "height": 600}],
        "security": {"csp": None},
    },
}
CAPABILITY = {
    "identifier": "default",
    "windows": ["main"],
    "permissions": ["core:default", "pytauri:default"],
}

commands = Commands()
OUTCOME: dict[str, Any] = {}


@commands.command()
async def echo(body: Any) -> Any:
    return body


@commands.command()
async def echo_bytes(body: bytes) -> bytes:
    return body


@commands.command()
async def burst(body: int, app_handle: AppHandle) -> int:
    for i in range(body):
        Emitter.emit_str(app_handle, "bench-tick", str(i))
    return body


@commands.command()
async def done(body: Any, app_handle: AppHandle) -> None:
    OUTCOME.update(body)
    app_handle.exit(0)


def project(root: Path, script: str) -> Path:
    """The src-tauri-like folder pytauri-wheel reads: config, capability, front end."""
    (root / "capabilities").mkdir()
    (root / "dist").mkdir()
    (root / "tauri.conf.json").write_text(json.dumps(CONFIG), encoding="utf-8")
    (root / "capabilities" / "default.json").write_text(json.dumps(CAPABILITY), encoding="utf-8")
    page = PAGE.replace("__SOURCE__", script)
    (root / "dist" / "index.html").write_text(page, encoding="utf-8")
    return root


def main() -> int:
    script, timeout = Path(sys.argv[1]).read_text(encoding="utf-8"), float(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="pytauri-bench-") as tmp:
        src = project(Path(tmp), script)
        with start_blocking_portal("asyncio") as portal:
            app = builder_factory().build(
                context=context_factory(src),
                invoke_handler=commands.generate_handler(portal),
            )
            handle = app.handle()
            timer = threading.Timer(timeout, lambda: handle.exit(2))
            timer.daemon = True
            timer.start()
            app.run_return()
            timer.cancel()
    if not OUTCOME:
        print(f"the script did not settle within {timeout:g} s", file=sys.stderr)
        return 2
    if not OUTCOME.get("ok"):
        print(OUTCOME.get("error"), file=sys.stderr)
        return 1
    print(json.dumps(OUTCOME["value"]), flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter finalization: Tauri's threads can still hold the GIL machinery
    # then, and pytauri-wheel 0.8.0 sometimes aborts there ("PyGILState_Release: thread
    # state ... must be current"), after the measurement was printed.
    os._exit(code)
