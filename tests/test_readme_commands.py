"""A generated project's README, run as written: its commands, literally, with ``sh``.

Each case makes a project with ``ramparts new`` in a fresh folder outside the
workspace, with an empty home, then runs the fenced commands of the project's README in
the project folder, as a new user would paste them. The environment is fresh: no
virtualenv of ours or workspace on ``PATH``, no config or data folders of ours, no
display (``ramparts dev`` runs headless, as in CI). ``uv run`` makes the project's own
``.venv``; only the package caches are shared with the machine (``UV_CACHE_DIR``,
``PIP_CACHE_DIR``), so nothing is downloaded twice.

``ramparts dev`` runs until it is closed: the test waits for its
``ramparts: window 'main' loaded`` line on stderr, then sends SIGINT to the whole
process group, as Ctrl+C in a terminal does, and checks that nothing is left running.
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UV = os.environ.get("UV") or shutil.which("uv")
#: A first ``uv run`` installs the project and PyQt6 (from the cache): minutes at worst.
DEADLINE = 900
LOADED = "ramparts: window 'main' loaded"

pytestmark = [pytest.mark.slow, pytest.mark.webview]


def _cache(tool: str, variable: str) -> str:
    """The machine's own cache of ``tool``, found before the home is replaced."""
    if os.environ.get(variable):
        return os.environ[variable]
    if tool == "uv":
        assert UV, "these tests need uv: run them through scripts/test.sh or `uv run`"
        out = subprocess.run([UV, "cache", "dir"], capture_output=True, text=True, check=True)
        return out.stdout.strip()
    return str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / tool)


#: What would tie a command to our environment rather than the new user's: our venv,
#: our display, our config and data folders (they follow the new home instead).
NOT_FRESH = (
    "VIRTUAL_ENV", "UV", "UV_PROJECT_ENVIRONMENT", "UV_PROJECT", "UV_PYTHON",
    "UV_RUN_RECURSION_DEPTH", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "CONDA_PREFIX",
    "DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "XDG_CONFIG_HOME", "XDG_DATA_HOME",
    "XDG_CACHE_HOME", "XDG_STATE_HOME",
)  # fmt: skip


@pytest.fixture
def fresh(tmp_path: Path) -> dict[str, str]:
    """A new user's environment: an empty home, this machine's ``PATH`` without our
    virtualenv (uv first), and its network settings (proxies, certificates)."""
    assert UV, "these tests need uv: run them through scripts/test.sh or `uv run`"
    assert not tmp_path.resolve().is_relative_to(ROOT)
    home = tmp_path / "home"
    home.mkdir()
    ours = (Path(sys.prefix), ROOT)
    path = [str(Path(UV).parent)] + [
        p
        for p in os.environ.get("PATH", "").split(os.pathsep)
        if p and not any(Path(p).resolve().is_relative_to(o.resolve()) for o in ours)
    ]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in NOT_FRESH and not k.startswith(("RAMPARTS_", "QTWEBENGINE_"))
    }
    return {
        **env,
        "HOME": str(home),
        "PATH": os.pathsep.join(path),
        "UV_CACHE_DIR": _cache("uv", "UV_CACHE_DIR"),
        "PIP_CACHE_DIR": _cache("pip", "PIP_CACHE_DIR"),
        "RAMPARTS_NO_DIALOG": "1",  # a refusal prints on stderr, no desktop dialog
    }


def run(
    args: list[str], cwd: Path, env: dict[str, str], timeout: float = DEADLINE
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        args,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{shlex.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def new(kind: str, *args: str, where: Path, env: dict[str, str], python: str = "") -> Path:
    """``ramparts new``, with this interpreter's Ramparts unless ``python`` says another."""
    out = run([python or sys.executable, "-m", "ramparts", "new", kind, *args], where, env)
    made = Path(out.stdout.splitlines()[0].removeprefix("created "))
    assert made.is_dir(), out.stdout
    return made


def blocks(readme: Path) -> list[str]:
    """The README's fenced shell blocks, as written."""
    return re.findall(r"^```sh\n(.*?)^```", readme.read_text(encoding="utf-8"), re.M | re.S)


def the_block(readme: Path, word: str) -> str:
    (block,) = [b for b in blocks(readme) if word in b]
    return block


def run_until_loaded(block: str, cwd: Path, env: dict[str, str]) -> str:
    """Run ``block`` (it ends in ``ramparts dev``) until the window has loaded, then
    Ctrl+C it; return its stderr. Nothing it started may be left running."""
    proc = subprocess.Popen(
        ["sh", "-ec", block],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's job has
    )
    assert proc.stderr is not None
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in proc.stderr or ():
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []
    try:
        seen += _wait_for(lines, LOADED, time.monotonic() + DEADLINE)
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    # First: a helper still running would also hold stderr open.
    _assert_group_gone(proc.pid)
    seen += _rest(lines)
    err = "".join(seen)
    assert code in (0, -signal.SIGINT, 128 + signal.SIGINT), f"exit {code}:\n{err}"
    assert "Traceback" not in err, err
    return err


def _wait_for(lines: queue.Queue[str | None], wanted: str, deadline: float) -> list[str]:
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no {wanted!r} line in time:\n{''.join(seen)}") from None
        if line is None:
            raise AssertionError(f"it ended before {wanted!r}:\n{''.join(seen)}")
        seen.append(line)
        if line.startswith(wanted):
            return seen


def _rest(lines: queue.Queue[str | None]) -> list[str]:
    """What is left on stderr once the process has exited (its end is the ``None``)."""
    rest: list[str] = []
    while (line := lines.get(timeout=60)) is not None:
        rest.append(line)
    return rest


def _assert_group_gone(pgid: int) -> None:
    """Every process of the group (Chromium's helpers too) exits; a generous deadline."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.killpg(pgid, signal.SIGKILL)
    raise AssertionError(f"processes of group {pgid} were still running after Ctrl+C")


def sources(project: Path) -> dict[str, dict[str, object]]:
    data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    found: dict[str, dict[str, object]] = data["tool"]["uv"]["sources"]
    return found


# -- the cases ----------------------------------------------------------------------------


def test_the_apps_readme_works_as_written_with_uv(tmp_path: Path, fresh: dict[str, str]) -> None:
    """Ramparts from this checkout (editable, as ``uv sync`` installs the workspace)."""
    from ramparts.scaffold import NEXT_STEPS

    app = new("app", "Field Notes", "--capabilities", "fs,dialog", where=tmp_path, env=fresh)
    assert sources(app) == {
        "ramparts": {"path": str(ROOT / "core"), "editable": True},
        "ramparts-fs": {"path": str(ROOT / "plugins" / "fs"), "editable": True},
        "ramparts-dialog": {"path": str(ROOT / "plugins" / "dialog"), "editable": True},
    }
    block = the_block(app / "README.md", "uv run")
    assert block == NEXT_STEPS["app"] + "\n"
    err = run_until_loaded(block, app, fresh)
    assert "ramparts dev: no display: running headless" in err
    assert (app / ".venv").is_dir()  # the app's own environment, nothing else's


def test_the_apps_readme_works_as_written_with_pip(tmp_path: Path, fresh: dict[str, str]) -> None:
    app = new("app", "Field Notes", "--capabilities", "fs,dialog", where=tmp_path, env=fresh)
    requirements = (app / "requirements-local.txt").read_text(encoding="utf-8")
    assert f"-e {ROOT / 'core'}  # ramparts\n" in requirements
    assert f"-e {ROOT / 'plugins' / 'dialog'}  # ramparts-dialog\n" in requirements
    block = the_block(app / "README.md", "pip install")
    assert "pip install -r requirements-local.txt -e . pytest\npytest\n" in block
    run_until_loaded(block, app, fresh)


def test_an_app_from_local_wheels_installs_from_them(tmp_path: Path, fresh: dict[str, str]) -> None:
    """Ramparts installed from wheels: the new app's sources are those wheel files."""
    dist = tmp_path / "dist"
    for package in ("ramparts", "ramparts-fs", "ramparts-dialog"):
        run([UV or "uv", "build", "--package", package, "--wheel", "-o", str(dist)], ROOT, fresh)
    venv = tmp_path / "venv"
    python = str(venv / "bin" / "python")
    run([UV or "uv", "venv", str(venv)], tmp_path, fresh)
    (dialog,) = dist.glob("ramparts_dialog-*.whl")
    wheels = sorted(str(w) for w in dist.glob("*.whl") if w != dialog)
    run([UV or "uv", "pip", "install", "--python", python, *wheels], tmp_path, fresh)

    # A plugin the app needs but this environment lacks: nothing to record, and it says so.
    args = ["-m", "ramparts", "new", "app", "Early", "--capabilities", "fs,dialog"]
    proc = run([python, *args], tmp_path, fresh)
    assert "note: ramparts-dialog is not installed here: the project will look for it" in (
        proc.stderr
    )
    assert sorted(sources(tmp_path / "early")) == ["ramparts", "ramparts-fs"]

    run([UV or "uv", "pip", "install", "--python", python, str(dialog)], tmp_path, fresh)
    app = new(
        "app",
        "Field Notes",
        "--capabilities",
        "fs,dialog",
        where=tmp_path,
        env=fresh,
        python=python,
    )

    found = sources(app)
    assert sorted(found) == ["ramparts", "ramparts-dialog", "ramparts-fs"]
    for source in found.values():
        assert list(source) == ["path"] and str(source["path"]).startswith(str(dist))
        assert str(source["path"]).endswith(".whl")
    requirements = (app / "requirements-local.txt").read_text(encoding="utf-8")
    assert f"{found['ramparts']['path']}  # ramparts\n" in requirements
    assert "passed" in run(["sh", "-ec", "uv run pytest"], app, fresh).stdout


def test_a_plugin_added_from_a_folder_keeps_the_app_installable(
    tmp_path: Path, fresh: dict[str, str]
) -> None:
    """``ramparts new plugin``, its README's commands, then ``ramparts add --from`` it in
    an app with a relative path: the app's next ``uv run`` still installs."""
    plugin = new("plugin", "preview", where=tmp_path, env=fresh)
    assert (
        "passed"
        in run(["sh", "-ec", the_block(plugin / "README.md", "uv run")], plugin, fresh).stdout
    )
    app = new("app", "Field Notes", where=tmp_path, env=fresh)
    run(["sh", "-ec", "uv run pytest"], app, fresh)
    before = (app / "pyproject.toml").read_bytes(), (app / "requirements-local.txt").read_bytes()

    add = "uv run ramparts add preview --from ../ramparts-preview"
    out = run(["sh", "-ec", add], app, fresh).stdout
    assert "recorded in [tool.uv.sources] and requirements-local.txt: ramparts-preview = " in out
    assert sources(app)["ramparts-preview"] == {
        "path": "../ramparts-preview",
        "editable": False,
    }
    assert "\n../ramparts-preview  # ramparts-preview\n" in (
        app / "requirements-local.txt"
    ).read_text(encoding="utf-8")
    assert "passed" in run(["sh", "-ec", "uv run pytest"], app, fresh).stdout

    # With no terminal to ask on, remove keeps the plugin installed and says how to go on.
    out = run(["sh", "-ec", "uv run ramparts remove preview"], app, fresh).stdout
    assert "kept ramparts-preview installed" in out and "to uninstall it: " in out
    after = (app / "pyproject.toml").read_bytes(), (app / "requirements-local.txt").read_bytes()
    assert after == before
    plugins = run(["sh", "-ec", "uv run ramparts plugins"], app, fresh).stdout
    assert "ramparts-preview" in plugins
    assert "passed" in run(["sh", "-ec", "uv run pytest"], app, fresh).stdout
