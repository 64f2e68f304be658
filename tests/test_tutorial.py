"""docs/tutorial.md, followed as written: the page's own blocks build the notes app.

Every fenced block of the page is either a whole file, ```` ```lang title="PATH" ````
(written at PATH in the app's folder, replacing what is there), or shell commands,
```` ```sh ```` (one a line). This test runs them in order, literally, in a fresh folder
with a fresh home and this workspace's ``ramparts`` first on ``PATH``: ``ramparts new``
makes the app, and the generated README's ``uv run pytest`` gives it its own ``.venv``
(Ramparts from this checkout, through the ``[tool.uv.sources]`` that ``new`` writes)
and runs its tests, at the end of every step that changes a file; ``uv run ramparts
check`` runs after every step. At the end the app must be ``examples/notes``, so the
page, the example and the template cannot drift apart.

One command is not run: ``uv run ramparts dev`` opens a window and runs until the person
closes it. The page is exercised headless by the app's own tests (``eval_in_app``).
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest
from test_templates import UV, lint

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "tutorial.md"
EXAMPLE = ROOT / "examples" / "notes"
APP_NAME = "notes"  # the folder `ramparts new app Notes` makes
FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```$", re.M | re.S)
FILE_INFO = re.compile(r'(?P<lang>\w+) title="(?P<path>[^"]+)"')
# What `ramparts new` writes when Ramparts came from a checkout or local wheels, as here:
# where the packages install from. The page says to keep this table.
UV_SOURCES = re.compile(r"(?:^#[^\n]*\n)*^\[tool\.uv\.sources\]\n(?:^[^\[\n][^\n]*\n)*", re.M)
# Files of the built app that say where *this machine* has Ramparts (README.md's install
# section says it too), so the example, which is the same everywhere, does not hold them.
MACHINE_FILES = {"README.md", "requirements-local.txt", "uv.lock"}


@dataclass(frozen=True)
class Block:
    step: str  # the "## " heading it is under
    path: str | None  # a file block: where it goes in the app's folder
    body: str  # the file's text, or the commands
    prose: str  # the text between the block before it and this one


def blocks(markdown: str) -> Iterator[Block]:
    step = ""
    headings = re.finditer(r"^## (.+)$", markdown, re.M)
    heading = next(headings, None)
    end = 0
    for fence in FENCE.finditer(markdown):
        while heading is not None and heading.start() < fence.start():
            step, heading = heading.group(1), next(headings, None)
        info, body = fence.group("info").strip(), fence.group("body")
        prose, end = markdown[end : fence.start()], fence.end()
        if info == "sh":
            yield Block(step, None, body, prose)
            continue
        file = FILE_INFO.fullmatch(info)
        assert file, f"{step}: a block that is neither a file nor commands: ```{info}"
        yield Block(step, file.group("path"), body, prose)


def commands(block: Block) -> list[str]:
    return [line.strip() for line in block.body.splitlines() if line.strip()]


def readme_commands(app: Path) -> set[str]:
    """The commands the generated README gives, each part of an ``a && b`` line."""
    readme = (app / "README.md").read_text(encoding="utf-8")
    texts = re.findall(r"^```\w*\n(.*?)^```$", readme, re.M | re.S)
    return {
        part.strip() for text in texts for line in text.splitlines() for part in line.split("&&")
    }


def ignored(relative: PurePosixPath, patterns: list[str]) -> bool:
    """Whether the app's .gitignore (as the template writes it) leaves this file out."""
    for pattern in patterns:
        if pattern.endswith("/"):
            if any(fnmatch.fnmatch(part, pattern.rstrip("/")) for part in relative.parts[:-1]):
                return True
        elif fnmatch.fnmatch(relative.name, pattern):
            return True
    return False


def app_files(app: Path) -> dict[str, bytes]:
    """The files a repository of the app would hold: all but what its .gitignore leaves out."""
    patterns = [
        line.strip()
        for line in (app / ".gitignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    found = {}
    for path in sorted(app.rglob("*")):
        relative = PurePosixPath(path.relative_to(app).as_posix())
        if path.is_file() and not ignored(relative, patterns):
            found[str(relative)] = path.read_bytes()
    return found


def example_files() -> dict[str, bytes]:
    """The files of examples/notes that this repository holds, or would once committed."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "."],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    return {name: (EXAMPLE / name).read_bytes() for name in listed if (EXAMPLE / name).is_file()}


def without_ramparts_tables(pyproject: str) -> dict[str, object]:
    data = tomllib.loads(pyproject)
    del data["tool"]["ramparts"]
    return data


def test_every_step_that_changes_files_ends_with_the_tests() -> None:
    last: dict[str, tuple[int, int]] = {}  # step -> (last file block, last test command)
    for i, block in enumerate(blocks(DOC.read_text(encoding="utf-8"))):
        wrote, tested = last.get(block.step, (-1, -1))
        if block.path is not None:
            wrote = i
        elif any("pytest" in line for line in commands(block)):
            tested = i
        last[block.step] = (wrote, tested)
    untested = [step for step, (wrote, tested) in last.items() if wrote > tested]
    assert not untested, f"steps that change files but do not run the app's tests: {untested}"


def test_the_commands_shown_twice_differ_only_by_greet() -> None:
    """Step 2 keeps the template's ``greet`` (its page still calls it), step 3 takes it out:
    nothing else may differ, or the reader would see two versions of ``note_path``."""
    shown = [b.body for b in blocks(DOC.read_text()) if b.path == "src/notes/commands.py"]
    assert len(shown) == 2
    diff = list(difflib.ndiff(shown[0].splitlines(), shown[1].splitlines()))
    assert not [line for line in diff if line.startswith("+ ")]
    removed = "\n".join(line[2:] for line in diff if line.startswith("- "))
    assert "def greet(" in removed and "note_path" not in removed


@pytest.mark.webview
def test_the_tutorial_builds_the_notes_example(tmp_path: Path) -> None:
    assert UV, "this test needs uv: run it through scripts/test.sh or `uv run`"
    home = tmp_path / "home"
    home.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("XDG_") and k != "UV_PROJECT_ENVIRONMENT"
    }
    env.update(
        HOME=str(home),
        # The workspace's environment, active as `. .venv/bin/activate` makes it (the page
        # says so): `ramparts` runs anywhere, and the app's `uv run` ignores it.
        VIRTUAL_ENV=sys.prefix,
        PATH=os.pathsep.join([str(Path(sys.executable).parent), str(Path(UV).parent), env["PATH"]]),
        # The fresh home would start an empty uv cache: every run would download PyQt6
        # (~200 MB) again. The cache holds downloads only; the app's .venv is its own.
        UV_CACHE_DIR=subprocess.run(
            [UV, "cache", "dir"], capture_output=True, text=True, check=True
        ).stdout.strip(),
        # That cache made the workspace's environment, so it holds all the app needs:
        # no network, as for the other tests.
        UV_OFFLINE="1",
    )
    cwd = tmp_path / "work"
    cwd.mkdir()
    app = cwd / APP_NAME
    generated_pyproject = kept_sources = ""
    ran: list[str] = []

    def sh(line: str, where: Path, step: str) -> str:
        proc = subprocess.run(
            line, shell=True, cwd=where, env=env, capture_output=True, text=True, timeout=900
        )
        assert proc.returncode == 0, f"{step}: {line}\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    step = ""
    for block in blocks(DOC.read_text(encoding="utf-8")):
        if block.step != step and app.is_dir():  # every step leaves a config check accepts
            sh("uv run ramparts check", app, step)
        step = block.step
        if block.path is not None:
            target = (cwd / block.path).resolve()
            assert target.is_relative_to(app), f"{block.step}: {block.path} is outside the app"
            text = block.body
            if block.path == "pyproject.toml" and (found := UV_SOURCES.search(generated_pyproject)):
                kept_sources = found.group(0)  # kept where it was, as the page says
                text = text.replace("\n[build-system]", f"\n{kept_sources}\n[build-system]", 1)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            continue
        for line in commands(block):
            ran.append(line)
            words = shlex.split(line)
            if words[0] == "cd":
                cwd = (cwd / words[1]).resolve()
                continue
            if words[-2:] == ["ramparts", "dev"]:
                assert line in readme_commands(app), f"not the README's way to run it: {line}"
                continue  # a window until closed: see the module docstring
            if words[-1] == "pytest":
                assert line in readme_commands(app), f"not the README's way to test it: {line}"
            out = sh(line, cwd, block.step)
            if words[-1] == "pytest":  # every test ran: none skipped for want of a display
                assert " passed" in out and "skipped" not in out, out
            if words[:2] == ["ramparts", "new"]:
                generated_pyproject = (app / "pyproject.toml").read_text(encoding="utf-8")
            if words[-2:] == ["ramparts", "check"]:  # the page names the routes it lists
                (routes,) = re.findall(r"^routes: +(.*)$", out, re.M)
                unnamed = [r for r in routes.split(", ") if f"`{r}`" not in block.prose]
                assert not unnamed, f"{block.step}: `ramparts check` lists {unnamed} too"

    assert ran[0] == "ramparts new app Notes --capabilities fs,dialog --no-input"
    assert "uv run ramparts check" in ran and "uv run pytest" in ran
    assert (app / ".venv" / "pyvenv.cfg").is_file()  # the app ran in an environment of its own
    built_pyproject = (app / "pyproject.toml").read_text(encoding="utf-8")
    # The page says the tables above [tool.ramparts] are the template's, unchanged.
    assert without_ramparts_tables(built_pyproject) == without_ramparts_tables(generated_pyproject)

    built = app_files(app)
    if kept_sources:  # the page's file, as the example holds it
        built["pyproject.toml"] = built_pyproject.replace(kept_sources + "\n", "", 1).encode()
    built = {name: data for name, data in built.items() if name not in MACHINE_FILES}
    example = example_files()
    differ = sorted(n for n in built.keys() | example.keys() if built.get(n) != example.get(n))
    assert not differ, f"examples/notes is not what docs/tutorial.md builds ({app}): {differ}"
    lint(app)  # the template's bar applies to what the page writes too
