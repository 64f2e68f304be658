"""The app template's front ends: vanilla (``ui/``) and Vite + TypeScript (``frontend/``).

The vite-ts app is generated, its npm packages installed (npm's cache is kept under
``~/.cache/ramparts-tests`` so reruns need no download), its page built the way its
``before_build_command`` builds it, and then its own tests run against the built page,
the way tests/test_templates.py runs a generated app's tests. ``ramparts dev`` runs it
from the Vite dev server its ``before_dev_command`` starts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_templates import install_into, lint, ramparts, run_own_tests

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "cookiecutter" / "app" / "{{cookiecutter.project_slug}}"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ramparts-tests"


def generate(tmp_path: Path, frontend: str) -> Path:
    """``ramparts new app`` with fs and dialog, as a person would run it."""
    ramparts(
        "new", "app", "Field Notes", "--capabilities", "fs,dialog", "--frontend", frontend,
        "-o", str(tmp_path), "--no-input", cwd=tmp_path,
    )  # fmt: skip
    return tmp_path / "field-notes"


def npm(project: Path, *args: str) -> str:
    """npm in the app's ``frontend/``, with this interpreter's ``ramparts`` on ``PATH``
    (its scripts run ``ramparts types``)."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    proc = subprocess.run(
        ["npm", "--cache", str(CACHE / "npm"), *args],
        cwd=project / "frontend",
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PATH": path},
    )
    assert proc.returncode == 0, f"npm {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.parametrize(
    ("frontend", "kept", "removed"), [("vanilla", "ui", "frontend"), ("vite-ts", "frontend", "ui")]
)
def test_the_post_gen_hook_keeps_only_the_chosen_front_end(
    tmp_path: Path, frontend: str, kept: str, removed: str
) -> None:
    project = generate(tmp_path, frontend)
    assert (project / kept / "index.html").is_file()
    assert not (project / removed).exists()
    ignored = (project / ".gitignore").read_text().splitlines()
    assert ("frontend/node_modules/" in ignored) == (frontend == "vite-ts")
    config = (project / "pyproject.toml").read_text()
    assert ('ui = "frontend/dist"' in config) == (frontend == "vite-ts")
    assert ("[tool.ramparts.dev]" in config) == (frontend == "vite-ts")


def test_both_front_ends_get_the_same_page_and_stylesheet(tmp_path: Path) -> None:
    """One page body and one stylesheet in the template, moved into the Vite project."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    vanilla = generate(tmp_path / "a", "vanilla") / "ui"
    vite = generate(tmp_path / "b", "vite-ts") / "frontend"
    assert (vanilla / "style.css").read_bytes() == (vite / "src" / "style.css").read_bytes()

    def body(html: Path) -> str:
        return re.search(r"<body>.*</body>", html.read_text(), re.S)[0]

    assert body(vanilla / "index.html") == body(vite / "index.html")
    assert '<script type="module" src="/src/main.ts">' in (vite / "index.html").read_text()
    assert '<script src="app.js" defer>' in (vanilla / "index.html").read_text()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A vite-ts app with fs and dialog, its npm packages installed and its page built."""
    if shutil.which("npm") is None:
        pytest.skip("node and npm are needed to build a Vite app (not installed)")
    project = generate(tmp_path_factory.mktemp("vite"), "vite-ts")
    npm(project, "install", "--no-audit", "--no-fund", "--prefer-offline")
    npm(project, "run", "build")  # types, then tsc --noEmit, then vite build
    return project


def test_types_are_written_before_the_first_build(tmp_path: Path) -> None:
    """`npm run build` and `npm run dev` both start with `ramparts types`."""
    project = generate(tmp_path, "vite-ts")
    out = project / "frontend" / "src" / "ramparts.d.ts"
    ramparts("types", str(project), "--out", str(out), cwd=tmp_path)
    assert '"greet": { args: { name: string; }; result: string };' in out.read_text()


@pytest.mark.webview
def test_vite_ts_app_builds_and_passes_its_own_tests(built: Path, tmp_path: Path) -> None:
    lint(built)
    dist = built / "frontend" / "dist"
    html = (dist / "index.html").read_text()
    assert re.search(r'<script type="module" crossorigin src="\./assets/[^"]+\.js">', html)
    assert re.search(r'<link rel="stylesheet" crossorigin href="\./assets/[^"]+\.css">', html)
    # The CSP refuses inline scripts and styles:
    assert all(" src=" in tag for tag in re.findall(r"<script\b[^>]*>", html))
    assert not re.search(r"<style[\s>]", html)
    built_files = [p for p in dist.rglob("*") if p.is_file()]
    assert all("data:" not in p.read_text() for p in built_files)  # and data: URLs
    check = ramparts("check", str(built), cwd=tmp_path)  # the real config validation
    assert "greet" in check and "fs.write_text" in check

    site = tmp_path / "site"
    install_into(site, built)
    assert "4 passed" in run_own_tests(built, site)


@pytest.mark.webview
def test_tsc_refuses_a_page_that_calls_what_the_app_does_not_allow(built: Path) -> None:
    wrong = [
        'await ramparts.invoke("shell.run", { program: "sh" });',  # no such command
        'await ramparts.fs.remove({ path: "$APPDATA/note.txt" });',  # fs, but not allowed
        "await ramparts.dialog.open({});",  # dialog, but not allowed
        'await ramparts.invoke("greet", { name: 42 });',  # a number where the hint says str
        '(await ramparts.invoke("greet", { name: "Ada" })).toFixed();',  # a string result
    ]
    page = built / "frontend" / "src" / "wrong.ts"
    page.write_text(
        "\n".join(["async function page(): Promise<void> {", *wrong, "}", "void page();"])
    )
    try:
        proc = subprocess.run(
            ["node", "node_modules/typescript/bin/tsc", "--noEmit", "-p", "."],
            cwd=built / "frontend",
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        page.unlink()
    assert proc.returncode != 0
    errors = re.findall(r"^(\S+)\((\d+),\d+\): error", proc.stdout, re.M)
    # One error on each wrong line, and none in the template's own page.
    assert sorted(errors) == [("src/wrong.ts", str(n)) for n in range(2, 7)], proc.stdout


@pytest.mark.webview
def test_ramparts_dev_shows_the_vite_page_and_hot_reloads_it(built: Path, tmp_path: Path) -> None:
    """`ramparts dev` starts Vite (before_dev_command) and shows its page under the app's
    own origin; an edit to the stylesheet reaches the open page without a reload."""
    script = tmp_path / "check.js"
    script.write_text(
        """
        const until = async (ok) => { while (!ok()) await new Promise((r) => setTimeout(r, 20)); };
        const started = performance.timeOrigin;
        const greeting = document.getElementById("greeting");
        document.getElementById("greet-form").requestSubmit();
        await until(() => greeting.textContent !== "");
        // The edit arrives as a new style element, which applies by the dev CSP's nonce.
        await until(() => getComputedStyle(document.body).marginTop === "3px");
        return {
          origin: location.origin,
          shown: greeting.textContent,
          reloaded: performance.timeOrigin !== started,
        };
        """
    )
    css = built / "frontend" / "src" / "style.css"
    original = css.read_text()
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    with subprocess.Popen(
        [sys.executable, "-m", "ramparts", "dev", str(built), "--headless", "--eval", str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PATH": path},
    ) as proc:
        assert proc.stderr is not None
        stderr = []
        try:
            for line in proc.stderr:  # until the page has loaded, then edit the stylesheet
                stderr.append(line)
                if "window 'main' loaded" in line:
                    css.write_text(original + "body { margin-top: 3px; }\n")
                    break
            out, rest = proc.communicate(timeout=120)
        finally:
            css.write_text(original)
    stderr.append(rest)
    assert proc.returncode == 0, "".join(stderr)
    assert json.loads(out.splitlines()[-1]) == {
        "origin": "app://dev.example.field-notes",
        "shown": "Hello, world!",
        "reloaded": False,
    }
    # Uncaught errors, console errors and CSP refusals print as page errors in dev: the
    # hot-reload client would print one if its socket were refused.
    assert "page error" not in "".join(stderr)
