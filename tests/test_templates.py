"""The app and plugin templates: generate, install, and run the generated projects' tests.

How the generated projects are installed, and why:

* Each generated project is built and installed for real, ``uv pip install --no-deps
  --target <tmp>`` (hatchling builds its wheel), so a broken ``pyproject.toml``, package
  layout or entry point fails here. Its dependencies (``ramparts``, ``ramparts-fs``,
  ``ramparts-dialog``, pytest) are *not* reinstalled: the project's tests run with this
  interpreter, whose environment already holds the workspace's copies of them, with
  the target on ``PYTHONPATH``. A fresh venv would download or copy ~200 MB of PyQt6
  per run for no extra coverage of our code, and the workspace venv stays untouched.
* Entry points are found through the installed ``*.dist-info`` in the target, exactly as
  in a normal install; the generated plugin's command is reachable only that way.

Each generated project's own pytest includes one headless-webview test, so this file
starts a few webview subprocesses one after another (about a minute in all).
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import unprivileged
from conftest import write_app
from test_exported_members import undeclared_imports

from ramparts.scaffold import NEXT_STEPS
from ramparts.testing import eval_in_app

ROOT = Path(__file__).resolve().parent.parent
# `uv run` tells its children where it is; otherwise look on PATH (scripts/setup.sh).
UV = os.environ.get("UV") or shutil.which("uv")


def ramparts(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "ramparts", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, f"ramparts {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def install_into(target: Path, project: Path) -> None:
    """Build and install ``project`` alone into ``target`` (dependencies are not pulled)."""
    assert UV, "these tests need uv: run them through scripts/test.sh or `uv run`"
    proc = subprocess.run(
        [
            UV,
            "pip",
            "install",
            "--python",
            sys.executable,
            "--no-deps",
            "--target",
            str(target),
            str(project),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def run_own_tests(project: Path, target: Path) -> str:
    """The generated project's own test suite, as its README says to run it."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(target)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def lint(project: Path) -> None:
    """Generated code meets the project's own bar (ruff, with the project's config)."""
    for args in (["check", "--select", "E,F,W,I,B,UP,SIM,RUF", "."], ["format", "--check", "."]):
        proc = subprocess.run(
            [sys.executable, "-m", "ruff", *args], cwd=project, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.webview
@pytest.mark.parametrize(
    ("capabilities", "tests", "routes"),
    [
        ("", 3, "greet"),
        ("fs", 4, "fs.exists, fs.list_dir, fs.mkdir, fs.read_text, fs.write_text, greet"),
        (
            "fs,dialog,store,clipboard,notification,log",
            4,
            "clipboard.write_text, dialog.confirm, dialog.message, fs.exists, fs.list_dir, "
            "fs.mkdir, fs.read_text, fs.write_text, greet, log.error, log.info, log.warn, "
            "notification.send, notification.server, store.get, store.keys, store.set",
        ),
    ],
)
def test_generated_app_checks_installs_and_passes_its_own_tests(
    tmp_path: Path, capabilities: str, tests: int, routes: str
) -> None:
    args = ["new", "app", "Field Notes", "-o", str(tmp_path), "--no-input"]
    if capabilities:
        args += ["--capabilities", capabilities]
    out = ramparts(*args, cwd=tmp_path)
    project = tmp_path / "field-notes"
    assert f"created {project}" in out
    for part in (
        "pyproject.toml",
        "README.md",
        "src/field_notes/commands.py",
        "ui/index.html",
        "ui/app.js",
        "ui/style.css",
        "tests/test_app.py",
    ):
        assert (project / part).is_file(), part
    html = (project / "ui" / "index.html").read_text()
    assert "<script>" not in html and "onclick" not in html  # the default CSP forbids both
    readme = (project / "README.md").read_text()
    assert f"\n{NEXT_STEPS['app']}\n" in readme  # as `new` prints it
    lint(project)

    check = ramparts("check", str(project), cwd=tmp_path)  # the real config validation
    assert f"routes:       {routes}" in check
    if "fs" in capabilities:
        assert '"allow": ["$APPDATA/**"]' in check  # the narrow default scope

    target = tmp_path / "site"
    install_into(target, project)
    assert (target / "field_notes" / "commands.py").is_file()
    assert f"{tests} passed" in run_own_tests(project, target)


def test_getting_started_quotes_the_template(tmp_path: Path) -> None:
    """docs/getting-started.md shows the generated config, command and page code."""
    ramparts(
        "new",
        "app",
        "Hello",
        "--capabilities",
        "fs",
        "-o",
        str(tmp_path),
        "--no-input",
        cwd=tmp_path,
    )
    project = tmp_path / "hello"
    doc = (ROOT / "docs" / "getting-started.md").read_text()
    for lang, file in (
        ("toml", "pyproject.toml"),
        ("python", "src/hello/commands.py"),
        ("js", "ui/app.js"),
    ):
        lines = {line.strip() for line in (project / file).read_text().splitlines()}
        for block in re.findall(rf"^```{lang}\n(.*?)^```", doc, re.M | re.S):
            if "Added by `ramparts add" in block:
                continue  # what `ramparts add` writes: tests/test_scaffold.py checks it
            missing = [x for x in block.splitlines() if x.strip() and x.strip() not in lines]
            assert not missing, f"getting-started.md shows lines {file} lacks: {missing}"


def test_plain_cookiecutter_makes_the_same_app(tmp_path: Path) -> None:
    """Given the same answers (``ramparts new`` adds only where this environment's
    Ramparts packages came from)."""
    from cookiecutter.main import cookiecutter

    from ramparts.scaffold import template_sources

    ramparts(
        "new",
        "app",
        "Twin",
        "--capabilities",
        "fs",
        "-o",
        str(tmp_path / "cli"),
        "--no-input",
        cwd=tmp_path,
    )
    cookiecutter(
        str(ROOT / "cookiecutter" / "app"),
        no_input=True,
        extra_context={
            "app_name": "Twin",
            "capabilities": "fs",
            "_local_sources": template_sources("app", {"capabilities": "fs"}),
        },
        output_dir=str(tmp_path / "plain"),
    )
    cmp = filecmp.dircmp(tmp_path / "cli" / "twin", tmp_path / "plain" / "twin")
    assert not cmp.diff_files and not cmp.left_only and not cmp.right_only


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["app", "X", "--capabilities", "fs,shell"], "capability 'shell'"),
        (["app", "X", "--frontend", "react"], "frontend 'react' is not offered; choose one of:"),
        (["plugin", "Bad-Name"], "capability 'Bad-Name'"),
        (["plugin", "events"], "capability 'events'"),
        (["app", ""], "the app name '' has no letter in it"),
        (["app", " - "], "the app name ' - ' has no letter in it"),
        (["plugin", ""], "the capability name '' has no letter in it"),
    ],
)
def test_the_templates_refuse_bad_values(tmp_path: Path, args: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ramparts", "new", *args, "-o", str(tmp_path), "--no-input"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []  # nothing half-made


def test_generated_plugin_imports_only_the_declared_api(tmp_path: Path) -> None:
    """The template is what plugin authors copy: it uses ``ramparts``' declared API only
    (``ramparts``, ``ramparts.toolkit``, ``ramparts.errors``; ``ramparts.testing`` in its
    tests), each name one its module's ``__all__`` lists."""
    from cookiecutter.main import cookiecutter

    cookiecutter(str(ROOT / "cookiecutter" / "plugin"), no_input=True, output_dir=str(tmp_path))
    project = tmp_path / "ramparts-my-capability"
    sources = sorted(project.rglob("*.py"))
    assert len(sources) >= 2
    for path in sources:
        in_tests = "tests" in path.relative_to(project).parts
        found = undeclared_imports(path.read_text(encoding="utf-8"), tests=in_tests)
        assert not found, f"{path.relative_to(project)} uses internal API: {found}"


@pytest.mark.webview
def test_generated_plugin_installs_and_works_in_an_app(tmp_path: Path) -> None:
    # The name docs/plugins.md uses: it walks through this module, every line it shows.
    ramparts("new", "plugin", "preview", "-o", str(tmp_path), "--no-input", cwd=tmp_path)
    project = tmp_path / "ramparts-preview"
    assert (project / "docs" / "preview.md").is_file()
    lint(project)
    module = (project / "src" / "ramparts_preview" / "__init__.py").read_text()
    docs = (ROOT / "docs" / "plugins.md").read_text().split("## Worked example")[1]
    shown = docs.split("```python\n")[1].split("```")[0]
    missing = [line for line in shown.splitlines() if line.strip() and line not in module]
    assert not missing, f"docs/plugins.md shows lines the template lacks: {missing}"

    target = tmp_path / "site"
    install_into(target, project)
    assert "7 passed" in run_own_tests(project, target)

    # An app that lists it, run headless: the page calls the plugin through the bridge.
    env = {"PYTHONPATH": str(target)}
    app = write_app(
        tmp_path / "app",
        module="preview_app_cmds",
        capabilities="""
[tool.ramparts.capabilities.preview]
allow = ["example"]

[tool.ramparts.capabilities.preview.scope]
allow = ["$RESOURCE/ui/**"]
""",
    )
    assert "preview      installed" in ramparts("check", str(app), cwd=tmp_path, env=env)
    result = eval_in_app(
        app,
        """
        const ok = await ramparts.preview.example({ path: "$RESOURCE/ui/app.js", count: 1 });
        const bad = await ramparts.preview.example({ path: "$RESOURCE/pyproject.toml" }).catch((e) => e.code);
        const args = await ramparts.preview.example({ path: "$RESOURCE/ui/app.js", count: 0 }).catch((e) => e.code);
        return { ok, bad, args };
        """,
        env=env,
    )
    body = (app / "ui" / "app.js").read_text()
    assert result == {
        "ok": {"size": len(body.encode()), "lines": body.splitlines()[:1]},
        "bad": "out_of_scope",
        "args": "invalid_args",
    }


def test_the_wheel_carries_the_templates_and_new_works_from_it(tmp_path: Path) -> None:
    """``pip install ramparts`` must be enough for ``ramparts new``."""
    assert UV, "these tests need uv: run them through scripts/test.sh or `uv run`"
    proc = subprocess.run(
        [UV, "build", "--package", "ramparts", "--wheel", "-o", str(tmp_path / "dist")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = (tmp_path / "dist").glob("ramparts-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for kind in ("app", "plugin"):
        assert f"ramparts/templates/{kind}/cookiecutter.json" in names
        assert f"ramparts/templates/{kind}/hooks/pre_gen_project.py" in names
    # Installed from the wheel (ahead of the editable checkout on the path), away from
    # the checkout: the templates must come from the package.
    site = tmp_path / "site"
    install_into(site, wheel)
    out = ramparts(
        "new",
        "plugin",
        "clip",
        "-o",
        str(tmp_path / "made"),
        "--no-input",
        cwd=tmp_path,
        env={"PYTHONPATH": str(site)},
    )
    assert (tmp_path / "made" / "ramparts-clip" / "src" / "ramparts_clip" / "__init__.py").is_file()
    assert "created" in out
    probe = subprocess.run(
        [sys.executable, "-c", "import ramparts.scaffold as s; print(s.template_dir('app'))"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(site)},
    )
    assert probe.stdout.strip() == str(site / "ramparts" / "templates" / "app")


def test_new_names_a_folder_it_cannot_write(tmp_path: Path) -> None:
    readonly = tmp_path / "ro"
    readonly.mkdir(mode=0o555)
    proc = unprivileged.run(
        [sys.executable, "-m", "ramparts", "new", "app", "Notes", "-o", str(readonly), "--no-input"]
    )
    assert proc.returncode == 1
    assert f"error: cannot create the project in {readonly / 'notes'}: Permission denied" in (
        proc.stderr
    )
    assert "Traceback" not in proc.stderr and list(readonly.iterdir()) == []
