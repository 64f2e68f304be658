"""``ramparts add`` and ``ramparts remove``: the config edit and the install, for real.

The edits run through the CLI on copies of real app configs. The install test makes a
throwaway venv that sees the workspace's packages (through ``site.addsitedir``) but
installs into its own ``site-packages``, so a real ``uv pip install`` and ``uninstall``
of a local plugin run without touching the workspace venv or the network.
"""

from __future__ import annotations

import os
import pty
import select
import shlex
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import time
import tomllib
from pathlib import Path

import pytest
from conftest import write_app

from ramparts.config import load_config

ROOT = Path(__file__).resolve().parent.parent

# Comments, a sub-table, an array of tables, and a comment leading into the next table:
# everything but the removed capability's lines must survive byte for byte.
TRICKY = """\
# The app's config; these comments must survive.
[project]
name = "tricky"  # trailing comment
version = "1.0"

[tool.ramparts]
name = "Tricky"
identifier = "dev.ramparts.tricky"

# Files, narrowly.
[tool.ramparts.capabilities.fs]
allow = ["read_text"]  # keep me

[tool.ramparts.capabilities.fs.scope]
allow = ["$APPDATA/**"]

[tool.ramparts.capabilities.shell]
allow = ["execute"]

[[tool.ramparts.capabilities.shell.programs]]
name = "echo"
cmd = "/bin/echo"
args = true

# The window, with a comment that belongs to it.
[tool.ramparts.window]
title = "Tricky"

[tool.other]
x = 1
"""


def ramparts(
    *args: str, python: str = sys.executable, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    # No terminal on stdin, as in CI: nothing may wait for an answer.
    return subprocess.run(
        [python, "-m", "ramparts", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


@pytest.fixture
def tricky(tmp_path: Path) -> Path:
    app = write_app(tmp_path / "app", module="tricky_cmds")
    (app / "pyproject.toml").write_text(TRICKY)
    return app


def test_add_declares_an_empty_allow_list_and_remove_gives_back_the_same_bytes(
    tricky: Path,
) -> None:
    before = (tricky / "pyproject.toml").read_bytes()
    proc = ramparts("add", "http", str(tricky), "--no-install")
    assert proc.returncode == 0, proc.stderr
    text = (tricky / "pyproject.toml").read_text()
    added = textwrap.dedent(
        """
        # Added by `ramparts add http`: the page can call none of its commands
        # until you list them in allow. Its other keys (scopes) are on its docs page.
        [tool.ramparts.capabilities.http]
        allow = []  # any of: fetch
        """
    )
    # After the last [tool.ramparts...] table, before [tool.other].
    assert text == before.decode().replace('title = "Tricky"\n', 'title = "Tricky"\n' + added)
    config = load_config(tricky)
    assert config.capabilities["http"].allow == ()
    # The hint names a command that works as written.
    hint = proc.stdout.strip().splitlines()[-1]
    assert hint.startswith("next: list the commands the page may call in allow in ")
    assert hint.endswith(f"then run: ramparts check {tricky}")
    assert ramparts(*hint.split("then run: ramparts ")[1].split()).returncode == 0

    proc = ramparts("remove", "http", str(tricky), "--keep-installed")
    assert proc.returncode == 0, proc.stderr
    assert (tricky / "pyproject.toml").read_bytes() == before


def test_the_plugin_joins_and_leaves_the_project_dependencies(tmp_path: Path) -> None:
    """As in a generated app: a multi-line dependencies array, with a comment. The
    workspace's ramparts-http is an editable install of its folder: where it comes
    from is recorded too, for uv and for pip, and goes again with it."""
    app = write_app(tmp_path / "app", module="deps_cmds", capabilities="")
    text = (app / "pyproject.toml").read_text()
    text = text.replace(
        'version = "1.2.3"\n',
        'version = "1.2.3"\ndependencies = [\n    "ramparts>=0.1",  # the core\n]\n',
    )
    (app / "pyproject.toml").write_text(text)
    assert ramparts("add", "http", str(app), "--no-install").returncode == 0
    data = tomllib.loads((app / "pyproject.toml").read_text())
    assert data["project"]["dependencies"] == ["ramparts>=0.1", "ramparts-http"]
    assert (
        '    "ramparts>=0.1",  # the core\n    "ramparts-http",\n]'
        in (app / "pyproject.toml").read_text()
    )
    http = ROOT / "plugins" / "http"
    assert data["tool"]["uv"]["sources"] == {"ramparts-http": {"path": str(http), "editable": True}}
    assert (
        (app / "pyproject.toml")
        .read_text()
        .endswith(f'[tool.uv.sources]\nramparts-http = {{ path = "{http}", editable = true }}\n')
    )
    requirements = (app / "requirements-local.txt").read_text()
    assert requirements.startswith("# Where pip installs these from")
    assert requirements.endswith(f"\n-e {http}  # ramparts-http\n")
    proc = ramparts("remove", "http", str(app), "--keep-installed")
    assert "and ramparts-http from its [project] dependencies" in proc.stdout
    assert "and [tool.uv.sources] and requirements-local.txt" in proc.stdout
    assert (app / "pyproject.toml").read_text() == text
    assert not (app / "requirements-local.txt").exists()


def test_remove_takes_sub_tables_and_arrays_of_tables_and_nothing_else(tricky: Path) -> None:
    before = tomllib.loads(TRICKY)
    assert ramparts("remove", "shell", str(tricky), "--keep-installed").returncode == 0
    text = (tricky / "pyproject.toml").read_text()
    expected = before
    del expected["tool"]["ramparts"]["capabilities"]["shell"]
    assert tomllib.loads(text) == expected
    assert "# The window, with a comment that belongs to it.\n[tool.ramparts.window]" in text
    assert 'allow = ["read_text"]  # keep me' in text

    assert ramparts("remove", "fs", str(tricky), "--keep-installed").returncode == 0
    text = (tricky / "pyproject.toml").read_text()
    assert "capabilities" not in text and "# Files, narrowly." not in text
    assert text.startswith("# The app's config; these comments must survive.\n")
    assert 'name = "tricky"  # trailing comment' in text


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (None, ["add", "fs"], "tool.ramparts.capabilities.fs is already declared"),
        (None, ["remove", "http"], "tool.ramparts.capabilities.http is not declared"),
        (None, ["add", "stats"], "'stats' is not a capability name"),
        (None, ["add", "nope", "--no-install"], "no installed package provides the 'nope'"),
        ("[tool.x]\n", ["add", "fs"], "no [tool.ramparts] table: not a Ramparts app"),
        (
            '[tool.ramparts]\nname = "I"\nidentifier = "a.b"\n'
            "capabilities = { http = { allow = [] } }\n",
            ["remove", "http"],
            "written as an inline table or with dotted keys",
        ),
    ],
)
def test_clear_errors_and_the_file_left_alone(
    tricky: Path, setup: str | None, args: list[str], message: str
) -> None:
    if setup is not None:
        (tricky / "pyproject.toml").write_text(setup)
    before = (tricky / "pyproject.toml").read_bytes()
    proc = ramparts(*args[:2], str(tricky), *args[2:])
    assert proc.returncode == 1
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert (tricky / "pyproject.toml").read_bytes() == before


def _venv_over_the_workspace(tmp_path: Path) -> Path:
    """A venv that imports the workspace's packages but installs into its own folder."""
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "this test needs uv: run it through scripts/test.sh or `uv run`"
    venv = tmp_path / "venv"
    proc = subprocess.run(
        [uv, "venv", "--python", sys.executable, str(venv)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    workspace = sysconfig.get_path("purelib")
    # An "import" line in a .pth runs at start-up; addsitedir also runs the editable
    # installs' own .pth files there.
    (Path(site) / "_workspace.pth").write_text(f"import site; site.addsitedir({workspace!r})\n")
    return python


def test_add_installs_a_local_plugin_and_remove_uninstalls_it(tmp_path: Path) -> None:
    plugin = tmp_path / "tiny"
    (plugin / "src" / "ramparts_tiny").mkdir(parents=True)
    (plugin / "src" / "ramparts_tiny" / "__init__.py").write_text(
        textwrap.dedent(
            """
            import ramparts
            from ramparts import Capability, command

            @command
            def ping(word: str) -> str:
                return word

            @command
            def pong() -> str:
                return "pong"

            @ramparts.hookimpl
            def ramparts_capability() -> Capability:
                return Capability(name="tiny", commands=[ping, pong])
            """
        )
    )
    (plugin / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [project]
            name = "ramparts-tiny"
            version = "0.3.0"
            dependencies = []  # ramparts comes from the workspace; nothing to download

            [project.entry-points."ramparts.capabilities"]
            tiny = "ramparts_tiny"

            [build-system]
            requires = ["hatchling"]
            build-backend = "hatchling.build"

            [tool.hatch.build.targets.wheel]
            packages = ["src/ramparts_tiny"]
            """
        )
    )
    python = str(_venv_over_the_workspace(tmp_path))
    app = write_app(tmp_path / "app", module="tiny_app_cmds", capabilities="")
    pyproject = (app / "pyproject.toml").read_text()
    (app / "pyproject.toml").write_text(
        pyproject.replace('version = "1.2.3"\n', 'version = "1.2.3"\ndependencies = ["ramparts"]\n')
    )
    before = (app / "pyproject.toml").read_bytes()

    # The path as typed in tmp_path: recorded relative to the app folder.
    proc = ramparts("add", "tiny", "app", "--from", "tiny", python=python, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(ramparts-tiny 0.3.0, added to [project] dependencies)" in proc.stdout
    text = (app / "pyproject.toml").read_text()
    assert "allow = []  # any of: ping, pong" in text
    assert 'dependencies = ["ramparts", "ramparts-tiny"]' in text
    assert 'ramparts-tiny = { path = "../tiny", editable = false }\n' in text
    assert (app / "requirements-local.txt").read_text().endswith("\n../tiny  # ramparts-tiny\n")
    check = ramparts("check", str(app), python=python)
    assert check.returncode == 0, check.stderr
    assert "tiny         installed; allow = []" in check.stdout
    # Installed into the throwaway venv only.
    assert ramparts("plugins", python=sys.executable).stdout.count("ramparts-tiny") == 0

    # No terminal to ask on: it stays installed, and the command to uninstall it works.
    proc = ramparts("remove", "tiny", str(app), python=python)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (app / "pyproject.toml").read_bytes() == before
    assert not (app / "requirements-local.txt").exists()
    assert "ramparts-tiny" in ramparts("plugins", python=python).stdout
    kept = proc.stdout.strip().splitlines()[-1]
    assert kept.startswith("kept ramparts-tiny installed in ") and "other apps may use it" in kept
    command = shlex.split(kept.split("; to uninstall it: ")[1])
    assert subprocess.run(command, capture_output=True).returncode == 0
    assert "ramparts-tiny" not in ramparts("plugins", python=python).stdout

    # On a terminal it asks, and Enter means no.
    assert ramparts("add", "tiny", str(app), "--from", str(plugin), python=python).returncode == 0
    assert f'ramparts-tiny = {{ path = "{plugin}", editable = false }}' in (
        (app / "pyproject.toml").read_text()
    )
    out = on_a_terminal([python, "-m", "ramparts", "remove", "tiny", str(app)], answer="")
    assert "uninstall ramparts-tiny from " in out and "may need it [y/N]: " in out
    assert "kept ramparts-tiny installed" in out
    assert "ramparts-tiny" in ramparts("plugins", python=python).stdout

    # Installed from a folder, added again without --from: the same source is recorded,
    # from its direct_url.json. --uninstall decides without asking.
    assert ramparts("add", "tiny", str(app), "--no-install", python=python).returncode == 0
    assert f'ramparts-tiny = {{ path = "{plugin}", editable = false }}' in (
        (app / "pyproject.toml").read_text()
    )
    proc = ramparts("remove", "tiny", str(app), "--uninstall", python=python)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (app / "pyproject.toml").read_bytes() == before
    assert "ramparts-tiny" not in ramparts("plugins", python=python).stdout


def on_a_terminal(args: list[str], answer: str) -> str:
    """Run ``args`` with a pseudo-terminal for stdin and stdout; type ``answer`` and
    Enter at the first question (a line ending in ``]: ``); return what it printed."""
    main, child = pty.openpty()
    proc = subprocess.Popen(args, stdin=child, stdout=child, stderr=child)
    os.close(child)
    out, answered = b"", False
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], deadline - time.monotonic())
        try:
            chunk = os.read(main, 4096) if ready else b""
        except OSError:  # EIO: the other side has closed
            chunk = b""
        if not chunk:
            break
        out += chunk
        if not answered and out.rstrip(b" ").endswith(b"]:"):
            os.write(main, answer.encode() + b"\n")
            answered = True
    os.close(main)
    assert proc.wait(timeout=60) == 0, out.decode()
    return out.decode().replace("\r\n", "\n")


MULTI_WINDOW = """\
[tool.ramparts]
name = "Two"
identifier = "dev.ramparts.two"

[tool.ramparts.capabilities.fs]
allow = ["read_text"]

[tool.ramparts.capabilities.fs.scope]
allow = ["$APPDATA/**"]

[tool.ramparts.capabilities.http]
allow = []

[[tool.ramparts.windows]]
label = "main"
capabilities = ["http", "fs"]  # the main page reads files

[[tool.ramparts.windows]]
label = "settings"
capabilities = [
    "fs",
]

[[tool.ramparts.windows]]
label = "about"
"""


def test_remove_takes_the_capability_out_of_every_window_and_add_names_them(
    tmp_path: Path,
) -> None:
    app = write_app(tmp_path / "app", module="two_cmds")
    (app / "pyproject.toml").write_text(MULTI_WINDOW)
    proc = ramparts("remove", "fs", str(app), "--keep-installed")
    assert proc.returncode == 0, proc.stderr
    assert "removed 'fs' from the capabilities of window(s): main, settings" in proc.stdout
    text = (app / "pyproject.toml").read_text()
    assert 'capabilities = ["http"]  # the main page reads files\n' in text
    assert 'label = "settings"\ncapabilities = [\n]\n' in text  # layout kept, entry gone
    config = load_config(app)  # it still loads: no window names an undeclared capability
    assert [w.capabilities for w in config.windows] == [("http",), (), ()]

    proc = ramparts("add", "fs", str(app), "--no-install")
    assert proc.returncode == 0, proc.stderr
    assert "lists it in capabilities (windows: main, settings, about)" in proc.stdout


# -- new ----------------------------------------------------------------------------------


def test_new_asks_only_for_what_the_command_line_did_not_give(tmp_path: Path) -> None:
    from ramparts.scaffold import new_project

    asked: dict[str, str] = {}

    def ask(question: str, default: str) -> str:
        asked[question] = default
        return default

    context = {"app_name": "Field Notes", "capabilities": "fs"}
    made = new_project("app", context, output_dir=tmp_path, no_input=False, ask=ask)
    assert made == tmp_path / "field-notes"
    questions = " | ".join(asked)
    assert "App name" not in questions and "Capabilities" not in questions
    # The rest are asked, with defaults that follow the given name.
    assert asked["Project folder and distribution name"] == "field-notes"
    assert asked["Identifier, reverse-DNS (it also keys $APPDATA)"] == "dev.example.field-notes"
    assert "[tool.ramparts.capabilities.fs]" in (made / "pyproject.toml").read_text()


@pytest.mark.parametrize(
    ("kind", "args", "folder", "key"),
    [
        ("app", ["Field Notes", "--capabilities", "fs"], "field-notes", "app"),
        ("app", ["Field Notes", "--frontend", "vite-ts"], "field-notes", "app --frontend vite-ts"),
        ("plugin", ["preview"], "ramparts-preview", "plugin"),
    ],
)
def test_new_without_a_terminal_uses_defaults_and_prints_the_readmes_next_step(
    tmp_path: Path, kind: str, args: list[str], folder: str, key: str
) -> None:
    from ramparts.scaffold import NEXT_STEPS

    # stdin is not a terminal here (and holds nothing): no --no-input, yet no prompt.
    proc = subprocess.run(
        [sys.executable, "-m", "ramparts", "new", kind, *args, "-o", str(tmp_path)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    made = tmp_path / folder
    assert proc.stdout.splitlines()[-1] == f"next: cd {made} && {NEXT_STEPS[key]}"
    # The generated README says the same commands, word for word.
    assert f"\n{NEXT_STEPS[key]}\n" in (made / "README.md").read_text()


def test_a_new_plugin_is_named_for_its_capability_and_says_its_command_is_an_example(
    tmp_path: Path,
) -> None:
    from ramparts.scaffold import new_project

    made = new_project("plugin", {"capability": "preview"}, output_dir=tmp_path, no_input=True)
    pyproject = tomllib.loads((made / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "ramparts-preview"
    assert pyproject["project"]["description"] == "The preview capability for Ramparts apps."
    assert pyproject["project"]["entry-points"]["ramparts.capabilities"] == {
        "preview": "ramparts_preview"
    }
    assert "Replace it" in (made / "README.md").read_text()
    docs = (made / "docs" / "preview.md").read_text()
    assert "Its `example` command is the template's example" in docs and "replace" in docs
    module = (made / "src" / "ramparts_preview" / "__init__.py").read_text()
    assert module.startswith('"""The preview capability for Ramparts apps.')
    # The command says what it is, whatever the capability: no checksum in a preview.
    assert "``example`` is the template's example command" in module
    assert "commands=[example]," in module and "checksum" not in module + docs
    assert 'description="The preview capability for Ramparts apps.",' in module
    assert (made / "tests" / "test_preview.py").is_file()
    leftovers = [
        str(p.relative_to(made))
        for p in made.rglob("*")
        if p.is_file() and "my_capability" in str(p.relative_to(made))
    ]
    assert not leftovers  # every file name comes from the given name


# -- where a distribution came from ------------------------------------------------------


@pytest.mark.parametrize(
    ("direct_url", "uv", "pip"),
    [
        (
            {"url": "file:///src/my%20plugin", "dir_info": {"editable": True}},
            '{ path = "/src/my plugin", editable = true }',
            "-e '/src/my plugin'",
        ),
        (
            {"url": "file:///src/p", "dir_info": {}},
            '{ path = "/src/p", editable = false }',
            "/src/p",
        ),
        (
            {"url": "file:///d/p-1.0-py3-none-any.whl", "archive_info": {"hash": "sha256=00"}},
            '{ path = "/d/p-1.0-py3-none-any.whl" }',
            "/d/p-1.0-py3-none-any.whl",
        ),
        (
            {"url": "https://example.org/p-1.0.tar.gz", "archive_info": {}},
            '{ url = "https://example.org/p-1.0.tar.gz" }',
            "{name} @ https://example.org/p-1.0.tar.gz",
        ),
        (
            {
                "url": "https://github.com/o/r.git",
                "vcs_info": {"vcs": "git", "commit_id": "0123abc", "requested_revision": "main"},
                "subdirectory": "core",
            },
            '{ git = "https://github.com/o/r.git", rev = "0123abc", subdirectory = "core" }',
            "{name} @ git+https://github.com/o/r.git@0123abc#subdirectory=core",
        ),
        ({"url": "https://hg.example.org/r", "vcs_info": {"vcs": "hg"}}, None, None),
        (None, None, None),  # from an index: no direct_url.json
    ],
)
def test_where_an_installed_distribution_came_from(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    direct_url: dict[str, object] | None,
    uv: str | None,
    pip: str | None,
) -> None:
    """PEP 610's kinds, read from a real ``.dist-info`` on the path, as uv and pip lines."""
    import json

    from ramparts.sources import installed_source

    name = f"ramparts-kind-{tmp_path.name.lower().replace('_', '-')}"
    info = tmp_path / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))
    monkeypatch.syspath_prepend(str(tmp_path))
    source = installed_source(name)
    if uv is None:
        assert source is None
        return
    assert source is not None
    assert source.uv_line() == f"{name} = {uv}"
    assert tomllib.loads(source.uv_line())  # valid TOML, as uv reads it
    assert source.pip_line() == f"{pip.format(name=name)}  # {name}"  # type: ignore[union-attr]


def test_removing_the_built_in_window_capability_keeps_where_ramparts_comes_from(
    tmp_path: Path,
) -> None:
    app = write_app(tmp_path / "app", module="win_cmds", capabilities="")
    core = ROOT / "core"
    text = (
        (app / "pyproject.toml")
        .read_text()
        .replace('version = "1.2.3"\n', 'version = "1.2.3"\ndependencies = ["ramparts"]\n')
    )
    text += (
        f'\n[tool.uv.sources]\nramparts = {{ path = "{core}", editable = true }}\n'
        "\n[tool.ramparts.capabilities.window]\nallow = []\n"
    )
    (app / "pyproject.toml").write_text(text)
    (app / "requirements-local.txt").write_text(f"-e {core}  # ramparts\n")
    proc = ramparts("remove", "window", str(app))
    assert proc.returncode == 0, proc.stderr
    assert "'window' is built into ramparts; nothing to uninstall" in proc.stdout
    data = tomllib.loads((app / "pyproject.toml").read_text())
    assert data["project"]["dependencies"] == ["ramparts"]
    assert data["tool"]["uv"]["sources"] == {"ramparts": {"path": str(core), "editable": True}}
    assert (app / "requirements-local.txt").read_text() == f"-e {core}  # ramparts\n"
