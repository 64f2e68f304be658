"""Start-up, import cost and memory: a Ramparts hello app against a plain pywebview one.

    uv run python benchmarks/startup.py [--runs 5] [--out FILE]

- **time to first call**: from just before the process is spawned to the page's first
  bridge call answered (the page records ``Date.now()`` when its first call resolves;
  both apps make that call as early as their bridge allows). Ramparts is started twice:
  through its Python API (``App.load(dir).run()``, what a built app's launcher calls)
  and through the ``ramparts dev`` command line; then pywebview and Ramparts (API) on
  WebKitGTK, and the PyTauri hello app when ``benchmarks/pytauri/setup.sh`` has run;
- **peak RSS**: the largest summed RSS of the whole process tree (Python and the
  QtWebEngineProcess children), sampled every 20 ms;
- **core import**: ``python -X importtime -c "import ramparts.app"`` (no webview stack),
  the median and the minimum over the runs (noise on a shared machine only adds);
- **modules imported** after loading an app that lists one capability against one
  listing four (the same plugins installed in both cases).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engines
from bridge import machine, qt_env, write_json  # the same set-up as bridge.py

PYWEBVIEW_APP = '''
import json, sys, time, webview

class Api:
    def add(self, a, b):
        return a + b

HTML = """<!doctype html><html><body><script>
(async () => {
  while (!(window.pywebview && window.pywebview.api && window.pywebview.api.add))
    await new Promise((r) => setTimeout(r, 1));
  await window.pywebview.api.add(1, 2);
  window.firstCall = Date.now();
})();
</script></body></html>"""

def watch(window):
    while True:
        t = window.evaluate_js("window.firstCall || null")
        if t:
            print(json.dumps({"first_call_ms": t}), flush=True)
            window.destroy()
            return
        time.sleep(0.005)

w = webview.create_window("hello", html=HTML, js_api=Api())
webview.start(watch, w, gui=sys.argv[1], private_mode=True)
'''

#: The same app started through the Python API, as a built app's launcher does after its
#: own argument parsing: without the ``ramparts`` CLI (typer, which imports pydantic).
RAMPARTS_API_APP = """
import sys
from pathlib import Path
from ramparts.app import App

result = App.load(sys.argv[1]).run(headless=True, eval_js=Path(sys.argv[2]).read_text())
if result is None or not result.ok:
    sys.exit(f"failed: {result and result.error}")
print(result.value)
"""

#: The PyTauri hello page (run by benchmarks/pytauri/app.py, which waits for Tauri's
#: globals as the pywebview page waits for its stub): one answered call, then its time.
PYTAURI_HELLO_JS = """
await window.__TAURI__.pytauri.pyInvoke("echo", { a: 1, b: 2 });
return { first_call_ms: Date.now() };
"""

RAMPARTS_APP_JS = """
ramparts.invoke("add", { a: 1, b: 2 }).then(() => { window.firstCall = Date.now(); });
"""


def ramparts_app(root: Path) -> Path:
    (root / "ui").mkdir(parents=True)
    (root / "ui" / "index.html").write_text(
        "<!doctype html><html><head><script src='app.js'></script></head><body></body></html>"
    )
    (root / "ui" / "app.js").write_text(RAMPARTS_APP_JS)
    (root / "hello_bench.py").write_text(
        "from ramparts import command\n\n"
        "@command\ndef add(a: int, b: int) -> int:\n    return a + b\n"
    )
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [tool.ramparts]
            name = "hello"
            identifier = "dev.ramparts.hellobench"
            commands = "hello_bench"
            """
        )
    )
    (root / "wait.js").write_text(
        "while (!window.firstCall) await new Promise((r) => setTimeout(r, 1));\n"
        "return { first_call_ms: window.firstCall };\n"
    )
    return root


def run_measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(ms from spawn to the page's first answered call, peak RSS of the tree in MB)."""
    start_ms = time.time() * 1000
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(qt_env() if env is None else env)},
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                root = psutil.Process(proc.pid)
                procs = [root, *root.children(recursive=True)]
                rss = 0
                for p in procs:
                    with contextlib.suppress(psutil.Error):  # a child may just have exited
                        rss += p.memory_info().rss
                peak = max(peak, rss)
            except psutil.Error:
                pass
            done.wait(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        done.set()
        sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} failed: {err[-2000:]}")
    first = json.loads(out.strip().splitlines()[-1])["first_call_ms"]
    return first - start_ms, peak / 1024 / 1024


def compile_sources() -> None:
    """Write current bytecode for the workspace's packages and everything the venv holds.

    An installed wheel or a built app carries compiled bytecode (pip compiles at install,
    PyInstaller at build; uv does not, and PyTauri's venv was made by pip). A source
    checkout run with ``PYTHONDONTWRITEBYTECODE=1`` (as CI and this machine's shell set
    it) would otherwise recompile every module without a ``.pyc`` at each start, pywebview
    and PyGObject included, and bill the compiler to the import and start-up figures.
    """
    import importlib.util
    import sysconfig

    dirs = [sysconfig.get_paths()["purelib"]]
    for name in ("ramparts", "ramparts_fs", "ramparts_shell", "ramparts_http", "ramparts_dialog"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            dirs += list(spec.submodule_search_locations)
    print("writing current bytecode (compileall) ...", flush=True)
    # Project templates are Jinja with a .py name: not Python, never imported.
    skip = r"[/\\]templates[/\\]"
    cmd = [sys.executable, "-m", "compileall", "-q", "-j", "0", "-x", skip, *dirs]
    subprocess.run(cmd, check=True)


def import_profile(module: str) -> tuple[float, dict[str, float]]:
    """``-X importtime`` of ``import module``: its cumulative ms and every module's self ms."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    selfs: dict[str, float] = {}
    total = 0.0
    for line in out.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)$", line)
        if m:
            selfs[m[4]] = int(m[1]) / 1000
            if m[3] == "" and m[4] == module:
                total = int(m[2]) / 1000
    return total, selfs


MODULES_PROBE = """
import sys, json
from ramparts.app import App
App.load(sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


def modules_for(root: Path, caps: list[str]) -> list[str]:
    app = root / ("caps_" + "_".join(caps))
    (app / "ui").mkdir(parents=True)
    (app / "ui" / "index.html").write_text("<!doctype html>")
    tables = "".join(f"[tool.ramparts.capabilities.{c}]\nallow = []\n" for c in caps)
    (app / "pyproject.toml").write_text(
        f'[tool.ramparts]\nname = "m"\nidentifier = "dev.ramparts.mods"\n{tables}'
    )
    out = subprocess.run(
        [sys.executable, "-c", MODULES_PROBE, str(app)], capture_output=True, text=True, check=True
    ).stdout
    return list(json.loads(out))


#: The hello apps, in the order they take turns and are reported.
HELLO_APPS = ("pywebview", "ramparts", "ramparts dev", "pywebview gtk", "ramparts gtk", "pytauri")
#: Paired ratios the report shows: (key, numerator app, denominator app).
STARTUP_RATIOS = (
    ("startup_ratio", "ramparts", "pywebview"),
    ("startup_ratio_dev", "ramparts dev", "pywebview"),
    ("startup_ratio_gtk", "ramparts gtk", "pywebview gtk"),
    ("startup_ratio_vs_pytauri", "ramparts", "pytauri"),
    ("startup_ratio_gtk_vs_pytauri", "ramparts gtk", "pytauri"),
)


def hello_commands(
    root: Path, display: str | None, pytauri: Path | None
) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Each hello app's command line and environment; GTK and PyTauri when they can run."""
    pyw = root / "pywebview_hello.py"
    pyw.write_text(PYWEBVIEW_APP)
    api = root / "ramparts_hello.py"
    api.write_text(RAMPARTS_API_APP)
    app = ramparts_app(root / "hello")
    wait = str(app / "wait.js")
    py = sys.executable
    cmds = {
        "pywebview": ([py, str(pyw), "qt"], qt_env()),
        "ramparts": ([py, str(api), str(app), wait], qt_env()),
        "ramparts dev": (
            [py, "-m", "ramparts", "dev", str(app), "--headless", "--eval", wait],
            qt_env(),
        ),
    }
    if display is not None:
        gtk = engines.gtk_env(display)
        cmds["pywebview gtk"] = ([py, str(pyw), "gtk"], gtk)
        cmds["ramparts gtk"] = ([py, str(api), str(app), wait], gtk)
    if display is not None and pytauri is not None:
        hello = root / "pytauri_hello.js"
        hello.write_text(PYTAURI_HELLO_JS)
        env = {"DISPLAY": display, "GDK_BACKEND": "x11"}
        cmds["pytauri"] = ([str(pytauri), str(engines.PYTAURI_APP), str(hello), "60"], env)
    return cmds


def measure_startup(root: Path, runs: int) -> dict[str, Any]:
    """Time to first answered call and peak RSS, the hello apps taking turns.

    Qt's pywebview and Ramparts always; on WebKitGTK and PyTauri when an X display (or
    Xvfb) and the PyTauri venv are there, otherwise with the reason in ``not_run``.
    """
    root.mkdir(parents=True, exist_ok=True)
    not_run: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        display = None
        try:
            display = stack.enter_context(engines.x_display())
        except RuntimeError as e:
            not_run["gtk"] = not_run["pytauri"] = str(e)
        pytauri, why = engines.pytauri_python()
        if why:
            not_run["pytauri"] = why
        for name, reason in not_run.items():
            print(f"  {name} start-up skipped: {reason}", flush=True)
        cmds = hello_commands(root, display, pytauri)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cmds}
        for i in range(runs):  # alternate, so drift hits every app alike
            print(f"  start-up round {i + 1}/{runs} ...", flush=True)
            for name, (cmd, env) in cmds.items():
                samples[name].append(run_measured(cmd, env))
    result: dict[str, Any] = {"not_run": not_run}
    for name, got in samples.items():
        result[name] = {
            "first_call_ms": statistics.median(s[0] for s in got),
            "peak_rss_mb": statistics.median(s[1] for s in got),
            "samples": got,
        }

    # Ratios paired by run (the apps start one after the other), then the median: a busy
    # spell on a shared machine hits both sides of a pair.
    def paired(name: str, base: str, column: int) -> float:
        pairs = zip(samples[name], samples[base], strict=True)
        return statistics.median(o[column] / b[column] for o, b in pairs)

    for key, name, base in STARTUP_RATIOS:
        if name in samples and base in samples:
            result[key] = paired(name, base, 0)
            result[key.replace("startup_", "rss_")] = paired(name, base, 1)
    base, ours = result["pywebview"], result["ramparts"]
    result["startup_ratio_of_medians"] = ours["first_call_ms"] / base["first_call_ms"]
    return result


def measure_imports(root: Path, runs: int) -> dict[str, Any]:
    """Core import time (no webview stack) and the modules one vs four capabilities load."""
    one = modules_for(root, ["fs"])
    four = modules_for(root, ["fs", "shell", "http", "dialog"])
    compile_sources()
    profiles = [import_profile("ramparts.app") for _ in range(runs)]
    imports = [total for total, _ in profiles]
    # Ramparts' own share: the self time of its modules, against the floor set by the two
    # dependencies every app needs anyway (attrs and pluggy, and the stdlib they import).
    own = [
        sum(ms for name, ms in selfs.items() if name.split(".")[0] == "ramparts")
        for _, selfs in profiles
    ]
    startup = set(import_profile("sys")[1])  # site, encodings, ...: every process pays them
    deps = []
    for _ in range(runs):
        selfs = import_profile("attrs, pluggy")[1]
        deps.append(sum(ms for name, ms in selfs.items() if name not in startup))
    return {
        "core_import_ms": statistics.median(imports),
        "core_import_min_ms": min(imports),
        "core_import_runs_ms": imports,
        "core_import_own_modules_ms": statistics.median(own),
        "core_import_attrs_pluggy_ms": statistics.median(deps),
        "modules_one_capability": len(one),
        "modules_four_capabilities": len(four),
        "modules_added_by_three_more": sorted(set(four) - set(one)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "startup.json")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result: dict[str, Any] = {"runs": args.runs, "machine": machine()}
        result.update(measure_startup(Path(tmp), args.runs))
        result.update(measure_imports(Path(tmp), args.runs))
    one, four = result["modules_one_capability"], result["modules_four_capabilities"]
    print(f"start-up and memory, median of {args.runs} runs")
    print(f"{'':14}{'first call ms':>13}{'peak RSS MB':>14}")
    for name in (n for n in HELLO_APPS if n in result):
        print(
            f"{name:14}{result[name]['first_call_ms']:>13.0f}{result[name]['peak_rss_mb']:>14.0f}"
        )
    print(
        f"start-up ratio x{result['startup_ratio']:.2f} (target <= 1.15; "
        f"through `ramparts dev` x{result['startup_ratio_dev']:.2f}); "
        f"RSS ratio x{result['rss_ratio']:.2f}"
    )
    print(
        f"core import (ramparts.app, no webview): median {result['core_import_ms']:.0f} ms, "
        f"min {result['core_import_min_ms']:.0f} ms (target < 50)"
    )
    print(f"modules after App.load: one capability {one}, four {four} (+{four - one})")
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
