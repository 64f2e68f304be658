"""The ``shell`` capability without a window: config parsing, argument rules, the child's
environment and working directory, limits, process groups, reaping and session ends.

Commands are called the way the bridge calls them (arguments bound against the
signature, a real ``CallContext`` on a real ``WindowSession``) and run real programs:
small ``/bin/sh`` scripts written under ``tmp_path`` that report their process ids, so
each test can check that exactly those processes are gone afterwards.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import psutil
import pytest
from app_folders import write_app
from test_scope import IDENT, World, point_dirs_at

import ramparts_shell
from ramparts import CallContext, ConfigContext
from ramparts.bridge.session import Registry, WindowSession
from ramparts.commands import as_command
from ramparts.errors import CommandError, ConfigError
from ramparts.plugins import make_plugin_manager
from ramparts_shell import DangerousConfigWarning, ShellState
from ramparts_shell.children import CHILDREN
from ramparts_shell.config import (
    BASE_ENV,
    DEFAULT_MAX_OUTPUT,
    DEFAULT_SPAWN_MAX_EVENTS,
    DEFAULT_SPAWN_MAX_OUTPUT,
    DEFAULT_SPAWN_TIMEOUT,
    DEFAULT_TIMEOUT,
    SAFE_PATH,
)

PREFIX = "tool.ramparts.capabilities.shell"
COMMANDS = {"execute", "spawn", "write", "kill", "open"}


# -- helpers -------------------------------------------------------------------------


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Poll for something that must happen; ``False`` only if it never did."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def gone(pid: int) -> bool:
    """Dead: no such process, or a zombie (dead, waiting for a parent that is not us)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def not_our_child(pid: int) -> bool:
    """Reaped by the capability: the kernel no longer lists it as our child."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def no_zombie_children() -> bool:
    for child in psutil.Process().children():
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:  # reaped between the listing and the look: fine
            continue
    return True


class Shell:
    """A configured shell capability and one real window session."""

    def __init__(self, world: ShellWorld, table: dict[str, Any]) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DangerousConfigWarning)
            self.state: ShellState = ramparts_shell.configure(table, world.ctx)
        self.sent: list[str] = []
        self.session = WindowSession("main", Registry(), "per-session", self.sent.append)

    def __call__(self, name: str, **args: Any) -> Any:
        """Call a command as the bridge does: validate the page's arguments, then run."""
        func = (
            ramparts_shell.opening.open_
            if name == "open"
            else getattr(ramparts_shell.commands, name)
        )
        cmd = as_command(func)
        assert cmd is not None and cmd.wants_context and cmd.name == name
        kwargs = cmd.bind(args)
        ctx = CallContext("shell", name, self.session.window, self.state, self.session)
        result = func(ctx, **kwargs)
        return asyncio.run(result) if asyncio.iscoroutine(result) else result

    def code(self, name: str, **args: Any) -> str:
        """``"ok"`` or the error code the page would see."""
        try:
            self(name, **args)
        except CommandError as e:
            return e.code
        return "ok"

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        decoded = [json.loads(text) for text in list(self.sent)]
        return [{"ev": e["ev"], **e["p"]} for e in decoded if name is None or e["ev"] == name]

    def lines(self, child: str, stream: str = "stdout") -> list[str]:
        return [e["line"] for e in self.events(f"shell:{stream}") if e["child"] == child]

    def exit_of(self, child: str) -> dict[str, Any] | None:
        found = [e for e in self.events("shell:exit") if e["child"] == child]
        return found[0] if found else None

    def wait_exit(self, child: str) -> dict[str, Any]:
        assert wait_until(lambda: self.exit_of(child) is not None), "no exit event"
        found = self.exit_of(child)
        assert found is not None
        return found

    def end_session(self) -> None:
        """What the host does when the page goes away: close, then the hook."""
        self.session.close()
        pm = make_plugin_manager()
        pm.register(ramparts_shell)
        pm.hook.ramparts_session_ended(session=self.session)


class ShellWorld(World):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.ctx = ConfigContext(self.app_dir / "pyproject.toml", PREFIX, self.app_dir, IDENT)
        self.work = self.appdata / "work"
        self.work.mkdir()
        self.bin = root / "bin"
        self.bin.mkdir()

    def script(self, name: str, body: str) -> str:
        """An executable ``/bin/sh`` script; returns its absolute path."""
        path = self.bin / name
        path.write_text("#!/bin/sh\n" + textwrap.dedent(body).lstrip())
        path.chmod(0o755)
        return str(path)

    def shell(self, programs: list[dict[str, Any]], **options: Any) -> Shell:
        return Shell(self, {"programs": programs, **options})


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ShellWorld:
    w = ShellWorld(tmp_path.resolve())
    point_dirs_at(w.home, monkeypatch)
    return w


@pytest.fixture(params=["pidfd", "waitid-poll", "reap-poll"])
def exit_watch(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """How a leader's exit is noticed: a pidfd (Linux), or polling where there is none
    (``waitid`` leaving it unreaped; plain reaping on macOS before Python 3.13)."""
    mode: str = request.param
    if mode == "pidfd" and not hasattr(os, "pidfd_open"):
        pytest.skip("no pidfd on this system")
    if mode != "pidfd":
        monkeypatch.delattr(os, "pidfd_open", raising=False)
    if mode == "reap-poll":
        monkeypatch.setattr(ramparts_shell.process, "_HAS_WAITID", False)
    return mode


@pytest.fixture(autouse=True)
def _no_leftovers() -> Any:
    """Every test must leave no live children and no zombies behind."""
    yield
    assert wait_until(lambda: not CHILDREN.running()), "a spawned child was left running"
    assert wait_until(no_zombie_children), "a child was left unreaped"


# -- the capability ------------------------------------------------------------------


def test_the_capability_and_its_commands() -> None:
    cap = ramparts_shell.ramparts_capability()
    table = cap.command_table()
    assert cap.name == "shell"
    assert set(table) == COMMANDS
    # bytes travel raw on the binary carrier: stdin/data may be bytes, output may be.
    assert table["execute"].binary and table["write"].binary
    assert table["execute"].is_async  # so the bridge's timeout can cancel (and kill) it
    assert not table["spawn"].binary


def test_the_session_end_hook_matches_the_spec() -> None:
    pm = make_plugin_manager()
    pm.register(ramparts_shell)  # pluggy validates hookimpl signatures against the specs
    assert pm.hook.ramparts_session_ended.get_hookimpls()


# -- config --------------------------------------------------------------------------


def test_configure_defaults(world: ShellWorld) -> None:
    state = ramparts_shell.configure({"programs": [{"name": "echo", "cmd": "echo"}]}, world.ctx)
    echo = state.programs["echo"]
    assert os.path.isabs(echo.path) and os.path.basename(echo.path) == "echo"
    assert echo.args == ()
    assert echo.env == ()
    assert echo.timeout == DEFAULT_TIMEOUT == 30.0
    assert echo.max_output_bytes == DEFAULT_MAX_OUTPUT == 1024 * 1024
    assert echo.cwd.allow == ()
    assert state.max_children == 16
    # spawn has limits even when the config names none
    assert echo.spawn_timeout == DEFAULT_SPAWN_TIMEOUT == 3600.0
    assert echo.spawn_max_output == DEFAULT_SPAWN_MAX_OUTPUT == 64 * 1024 * 1024
    assert echo.spawn_max_events == DEFAULT_SPAWN_MAX_EVENTS == 1000
    assert state.open_pattern is not None and state.open_pattern.pattern == "https://.+"
    assert state.open_files.allow == ()
    assert state.default_cwd == os.path.realpath(world.app_dir)
    assert state.warnings == ()
    assert ramparts_shell.configure({}, world.ctx).programs == {}


def test_bare_names_resolve_once_on_the_safe_path_never_the_environments(
    world: ShellWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    evil = world.root / "evil"
    evil.mkdir()
    for name in ("echo", "only-here"):
        (evil / name).write_text("#!/bin/sh\ntouch /tmp/never\n")
        (evil / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{evil}:{os.environ['PATH']}")
    state = ramparts_shell.configure({"programs": [{"name": "e", "cmd": "echo"}]}, world.ctx)
    path = state.programs["e"].path
    assert os.path.dirname(path) in SAFE_PATH.split(":")
    with pytest.raises(ConfigError) as info:
        ramparts_shell.configure({"programs": [{"name": "x", "cmd": "only-here"}]}, world.ctx)
    assert info.value.key == f"{PREFIX}.programs[0].cmd"
    # The path is fixed at config time: the environment changing later changes nothing.
    monkeypatch.setenv("PATH", str(evil))
    shell = Shell(world, {"programs": [{"name": "e", "cmd": "echo", "args": True}]})
    assert shell("execute", program="e", args=["hi"])["stdout"] == "hi\n"


def _p(**fields: Any) -> dict[str, Any]:
    return {"programs": [{"name": "p", "cmd": "echo", **fields}]}


BAD_CONFIGS = [
    ({"programs": {"name": "p"}}, "programs"),
    ({"programs": ["echo"]}, "programs[0]"),
    ({"bogus": 1}, "bogus"),
    ({"programs": [{"cmd": "echo"}]}, "programs[0].name"),
    (_p(name="has space"), "programs[0].name"),
    (_p(name="/bin/echo"), "programs[0].name"),
    ({"programs": [{"name": "p", "cmd": "echo"}, {"name": "p", "cmd": "cat"}]}, "programs[1].name"),
    ({"programs": [{"name": "p"}]}, "programs[0].cmd"),
    (_p(cmd=""), "programs[0].cmd"),
    (_p(cmd="no-such-program-anywhere"), "programs[0].cmd"),
    (_p(cmd="bin/echo"), "programs[0].cmd"),
    (_p(cmd="/usr/bin/../bin/echo"), "programs[0].cmd"),
    (_p(cmd="/usr/bin"), "programs[0].cmd"),
    (_p(cmd="/no/such/file"), "programs[0].cmd"),
    (_p(shell=True), "programs[0].shell"),
    (_p(args="--any"), "programs[0].args"),
    (_p(args=False), "programs[0].args"),
    (_p(args=[1]), "programs[0].args[0]"),
    (_p(args=["ok", "nul\x00"]), "programs[0].args[1]"),
    (_p(args=[{}]), "programs[0].args[0].validator"),
    (_p(args=[{"validator": 5}]), "programs[0].args[0].validator"),
    (_p(args=[{"validator": "("}]), "programs[0].args[0].validator"),
    (_p(args=[{"regex": "x"}]), "programs[0].args[0].regex"),
    (_p(args=[{"validator": "x", "leading_dash": "yes"}]), "programs[0].args[0].leading_dash"),
    ({"env": "PATH"}, "env"),
    ({"env": ["1BAD"]}, "env"),
    ({"env": ["A=B"]}, "env"),
    (_p(env=["OK", "NOT OK"]), "programs[0].env"),
    ({"timeout": 0}, "timeout"),
    ({"timeout": -1}, "timeout"),
    ({"timeout": True}, "timeout"),
    ({"timeout": "3"}, "timeout"),
    ({"timeout": float("inf")}, "timeout"),
    (_p(timeout=0), "programs[0].timeout"),
    ({"max_output_bytes": 0}, "max_output_bytes"),
    ({"max_output_bytes": 1.5}, "max_output_bytes"),
    (_p(max_output_bytes=-1), "programs[0].max_output_bytes"),
    ({"max_children": 0}, "max_children"),
    ({"spawn_timeout": 0}, "spawn_timeout"),  # unlimited is "none", said explicitly
    ({"spawn_timeout": "unlimited"}, "spawn_timeout"),
    ({"spawn_timeout": float("inf")}, "spawn_timeout"),
    (_p(spawn_timeout=-1), "programs[0].spawn_timeout"),
    ({"spawn_max_output": 0}, "spawn_max_output"),
    (_p(spawn_max_output="1M"), "programs[0].spawn_max_output"),
    ({"spawn_max_events": 0}, "spawn_max_events"),
    ({"cwd": "/tmp"}, "cwd"),
    ({"cwd": {"allow": "/tmp"}}, "cwd.allow"),
    ({"cwd": {"allow": ["relative/**"]}}, "cwd.allow"),
    (_p(cwd={"allow": ["$NOPE/**"]}), "programs[0].cwd.allow"),
    (_p(cwd={"permit": []}), "programs[0].cwd.permit"),
    ({"open": 5}, "open"),
    ({"open": True}, "open"),
    ({"open": "("}, "open"),
    ({"open_with": "no-such-opener-anywhere"}, "open_with"),
    ({"open_with": 1}, "open_with"),
    ({"open_files": {"allow": ["x"]}}, "open_files.allow"),
]


def test_cmd_must_be_an_executable_file(world: ShellWorld) -> None:
    plain = world.root / "plain"
    plain.write_text("#!/bin/sh\n")
    plain.chmod(0o644)
    with pytest.raises(ConfigError) as info:
        ramparts_shell.configure(_p(cmd=str(plain)), world.ctx)
    assert info.value.key == f"{PREFIX}.programs[0].cmd"


@pytest.mark.parametrize(("table", "key"), BAD_CONFIGS)
def test_configure_errors_name_the_key(world: ShellWorld, table: Any, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        ramparts_shell.configure(table, world.ctx)
    assert info.value.key == f"{PREFIX}.{key}"
    assert str(world.ctx.file) in str(info.value)


def test_per_program_settings_override_the_capability_wide_ones(world: ShellWorld) -> None:
    state = ramparts_shell.configure(
        {
            "env": ["A"],
            "timeout": 5,
            "max_output_bytes": 100,
            "cwd": {"allow": ["$APPDATA/**"]},
            "programs": [
                {"name": "inherits", "cmd": "echo"},
                {
                    "name": "own",
                    "cmd": "echo",
                    "env": [],
                    "timeout": 1.5,
                    "max_output_bytes": 7,
                    "cwd": {"allow": ["$APPDATA/work/**"]},
                },
            ],
        },
        world.ctx,
    )
    inherits, own = state.programs["inherits"], state.programs["own"]
    assert (inherits.env, inherits.timeout, inherits.max_output_bytes) == (("A",), 5.0, 100)
    assert inherits.cwd.allow == (f"{world.appdata}/**",)
    assert (own.env, own.timeout, own.max_output_bytes) == ((), 1.5, 7)
    assert own.cwd.allow == (f"{world.work}/**",)


def test_args_true_is_flagged_as_dangerous(world: ShellWorld) -> None:
    with pytest.warns(DangerousConfigWarning, match="arbitrary code execution"):
        state = ramparts_shell.configure(
            {"programs": [{"name": "py", "cmd": sys.executable, "args": True}]}, world.ctx
        )
    assert state.programs["py"].args is None
    assert len(state.warnings) == 1 and "programs[0] ('py'): args = true" in state.warnings[0]


def test_ramparts_check_shows_the_danger(tmp_path: Path) -> None:
    app = write_app(
        tmp_path / "app",
        capabilities=textwrap.dedent(
            """
            [tool.ramparts.capabilities.shell]
            allow = ["execute"]
            [[tool.ramparts.capabilities.shell.programs]]
            name = "anything"
            cmd = "sh"
            args = true
            """
        ),
    )
    result = subprocess.run(
        [sys.executable, "-m", "ramparts", "check", str(app)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "DangerousConfigWarning" in result.stderr
    assert "args = true lets the page choose every argument" in result.stderr
    assert "shell.execute" in result.stdout


# -- arguments -----------------------------------------------------------------------


@pytest.fixture
def recorder(world: ShellWorld) -> tuple[str, Path]:
    """A program that prints each argument it got on its own NUL-terminated record."""
    log = world.root / "argv.log"
    return world.script("record", f"printf '%s\\0' \"$@\" >> '{log}'\nprintf '%s\\0' \"$@\"\n"), log


@pytest.mark.parametrize(
    ("validator", "good", "bad"),
    [
        ("[a-z]+", "abc", "abc; touch /tmp/x"),
        ("^[a-z]+", "abc", "abc def"),  # looks anchored at one end only
        ("[a-z]+$", "abc", "x\nabc"),  # $ also matches before a final newline in search()
        ("^[a-z]+$", "abc", "abc\n"),
        ("^safe|other$", "safe", "safe; rm -rf ~"),  # ^ binds to the first branch only
        ("(?m)^ok$", "ok", "ok\n$(touch x)"),
        ("[0-9]{1,3}", "42", "4242"),
        (".*", "any text at all", "line\nbreak"),  # . does not match a newline
    ],
)
def test_validators_match_the_whole_argument(
    world: ShellWorld, recorder: tuple[str, Path], validator: str, good: str, bad: str
) -> None:
    path, log = recorder
    shell = world.shell([{"name": "r", "cmd": path, "args": [{"validator": validator}]}])
    assert shell("execute", program="r", args=[good])["stdout"] == good + "\0"
    assert shell.code("execute", program="r", args=[bad]) == "invalid_args"
    assert log.read_text() == good + "\0"  # the refused call never ran


def test_fixed_args_count_and_leading_dash(world: ShellWorld, recorder: tuple[str, Path]) -> None:
    path, log = recorder
    word = {"validator": "[A-Za-z0-9_.=/-]+"}
    shell = world.shell(
        [
            {"name": "git", "cmd": path, "args": ["fetch", word]},
            {"name": "opt", "cmd": path, "args": [{**word, "leading_dash": True}]},
        ]
    )
    ok = shell("execute", program="git", args=["fetch", "origin"])
    assert ok["stdout"] == "fetch\0origin\0"
    refused = [
        ["fetch", "--upload-pack=touch"],  # an option where a value was meant
        ["fetch", "-c"],
        ["-c", "core.sshCommand=touch"],  # the fixed argument must be exactly "fetch"
        ["fetch", "-c", "core.sshCommand=touch"],  # one argument too many
        ["fetch"],  # one too few
        ["FETCH", "origin"],
        ["fetch ", "origin"],
        [],
    ]
    for args in refused:
        assert shell.code("execute", program="git", args=args) == "invalid_args", args
    assert shell("execute", program="opt", args=["--verbose"])["stdout"] == "--verbose\0"
    assert log.read_text() == "fetch\0origin\0--verbose\0"


def test_argument_shapes_and_bytes(world: ShellWorld, recorder: tuple[str, Path]) -> None:
    path, _ = recorder
    shell = world.shell([{"name": "r", "cmd": path, "args": True}])
    assert shell.code("execute", program="r", args="a b") == "invalid_args"
    assert shell.code("execute", program="r", args=[1]) == "invalid_args"
    assert shell.code("execute", program="r", args=["nul\x00byte"]) == "invalid_args"
    assert shell.code("execute", program="r", args=["x" * 200_000]) == "invalid_args"
    assert shell.code("execute", program="r", args=["a"] * 2000) == "invalid_args"
    # Lone surrogates: the validator would read other text than the program's bytes.
    assert shell.code("execute", program="r", args=["\udcff"]) == "invalid_args"
    assert shell.code("execute", program="r", env={"LD_PRELOAD": "x"}) == "invalid_args"
    assert shell.code("execute", program="r", shell=True) == "invalid_args"
    assert shell.code("execute", program=["r"]) == "invalid_args"


def test_metacharacters_are_literal_arguments(
    world: ShellWorld, recorder: tuple[str, Path]
) -> None:
    path, _ = recorder
    marker = world.root / "pwned"
    shell = world.shell([{"name": "r", "cmd": path, "args": True}])
    corpus = [
        f"; touch {marker}",
        f"| touch {marker}",
        f"&& touch {marker}",
        f"`touch {marker}`",
        f"$(touch {marker})",
        f"\ntouch {marker}\n",
        f"'\"; touch {marker}; \"'",
        "${IFS}",
        "*",
        "~",
    ]
    result = shell("execute", program="r", args=corpus)
    assert result["stdout"].split("\0")[:-1] == corpus
    assert not marker.exists()


@pytest.mark.parametrize(
    "name", ["/bin/sh", "sh", "/usr/bin/echo", "../echo", "echo;", "ECHO", "echo ", "", "e\x00"]
)
def test_only_declared_program_names_run(world: ShellWorld, name: str) -> None:
    shell = world.shell([{"name": "echo", "cmd": "echo", "args": True}])
    assert shell.code("execute", program=name, args=["x"]) == "not_allowed"
    assert shell.code("spawn", program=name) == "not_allowed"


# -- environment ---------------------------------------------------------------------


def _env(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


def test_the_environment_is_cleared_to_the_allowlist(
    world: ShellWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAMPARTS_SECRET", "s3cret")
    monkeypatch.setenv("RAMPARTS_SHARED", "shared")
    monkeypatch.setenv("LD_PRELOAD", "/nonexistent/evil.so")
    monkeypatch.setenv("PATH", f"/nonexistent/evil:{os.environ['PATH']}")
    shell = world.shell(
        [
            {"name": "env", "cmd": "env"},
            {"name": "env_shared", "cmd": "env", "env": ["RAMPARTS_SHARED", "UNSET_VAR"]},
        ],
        env=["RAMPARTS_SECRET"],
    )
    assert _env(shell("execute", program="env")["stdout"]) == {
        **BASE_ENV,
        "RAMPARTS_SECRET": "s3cret",
    }
    # A program's own list replaces the capability-wide one.
    assert _env(shell("execute", program="env_shared")["stdout"]) == {
        **BASE_ENV,
        "RAMPARTS_SHARED": "shared",
    }
    assert BASE_ENV == {"PATH": SAFE_PATH, "LANG": "C.UTF-8"}


def test_allowlisting_path_passes_the_apps_own(
    world: ShellWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/opt/app/bin:/usr/bin:/bin")
    shell = world.shell([{"name": "env", "cmd": "env", "env": ["PATH"]}])
    assert _env(shell("execute", program="env")["stdout"])["PATH"] == "/opt/app/bin:/usr/bin:/bin"


# -- working directory ---------------------------------------------------------------


def test_cwd_is_checked_against_the_scope(world: ShellWorld) -> None:
    pwd = {"name": "pwd", "cmd": world.script("pwd", "pwd -P\n")}
    shell = world.shell(
        [pwd], cwd={"allow": ["$APPDATA/work/**"], "deny": ["$APPDATA/work/private"]}
    )
    (world.work / "sub").mkdir()
    (world.work / "private").mkdir()
    (world.work / "file.txt").write_text("x")
    (world.work / "escape").symlink_to(world.outside)
    (world.work / "sub/.git").mkdir()

    def run(cwd: str) -> str:
        return shell("execute", program="pwd", cwd=cwd)["stdout"].strip()

    assert run("$APPDATA/work/sub") == str(world.work / "sub")
    assert run(str(world.work)) == str(world.work)
    assert shell("execute", program="pwd")["stdout"].strip() == str(world.app_dir)
    codes = {
        cwd: shell.code("execute", program="pwd", cwd=cwd)
        for cwd in [
            str(world.outside),
            "/",
            "$APPDATA/work/escape",  # a symlink in scope that leads out of it
            "$APPDATA/work/private",
            "$APPDATA/work/sub/.git",  # "**" does not match a dotted name
            "$APPDATA/work/sub/../../..",
            "work/sub",
            "$APPDATA/work/file.txt",
            "$APPDATA/work/missing",
            "$NOPE/x",
        ]
    }
    assert codes == {
        str(world.outside): "out_of_scope",
        "/": "out_of_scope",
        "$APPDATA/work/escape": "out_of_scope",
        "$APPDATA/work/private": "out_of_scope",
        "$APPDATA/work/sub/.git": "out_of_scope",
        "$APPDATA/work/sub/../../..": "invalid_args",
        "work/sub": "invalid_args",
        "$APPDATA/work/file.txt": "invalid_args",
        "$APPDATA/work/missing": "failed",
        "$NOPE/x": "invalid_args",
    }


def test_no_cwd_scope_means_no_cwd_from_the_page(world: ShellWorld) -> None:
    shell = world.shell([{"name": "pwd", "cmd": "pwd"}])
    assert shell.code("execute", program="pwd", cwd=str(world.app_dir)) == "out_of_scope"
    assert shell.code("spawn", program="pwd", cwd=str(world.app_dir)) == "out_of_scope"


# -- stdin, output, encodings --------------------------------------------------------


def test_stdin_is_dev_null_unless_given(world: ShellWorld) -> None:
    shell = world.shell(
        [
            {"name": "stdin", "cmd": world.script("stdin", "readlink /proc/self/fd/0\n")},
            {"name": "cat", "cmd": "cat"},
        ]
    )
    if sys.platform.startswith("linux"):
        assert shell("execute", program="stdin")["stdout"] == "/dev/null\n"
    assert shell("execute", program="cat") == {
        "code": 0,
        "signal": None,
        "stdout": "",
        "stderr": "",
    }
    assert shell("execute", program="cat", stdin="")["stdout"] == ""
    assert shell("execute", program="cat", stdin="héllo")["stdout"] == "héllo"


def test_bytes_in_and_out(world: ShellWorld) -> None:
    shell = world.shell([{"name": "cat", "cmd": "cat"}])
    data = bytes(range(256)) * 4
    result = shell("execute", program="cat", stdin=data, output="bytes")
    assert result["stdout"] == data and result["stderr"] == b""
    text = shell("execute", program="cat", stdin=b"ok \xff\xfe")["stdout"]
    assert text == "ok \ufffd\ufffd"  # undecodable bytes are replaced, not an error
    assert (
        shell("execute", program="cat", stdin=b"\xe9t\xe9", encoding="latin-1")["stdout"] == "été"
    )
    assert shell("execute", program="cat", stdin="été", encoding="latin-1", output="bytes")[
        "stdout"
    ] == "été".encode("latin-1")
    for bad in ("base64", "no-such", "undefined", "idna", "punycode", ""):
        # "undefined" raises UnicodeError, not LookupError: still the page's mistake.
        assert shell.code("execute", program="cat", encoding=bad) == "invalid_args", bad
        assert shell.code("spawn", program="cat", encoding=bad) == "invalid_args", bad
    assert shell.code("execute", program="cat", output="json") == "invalid_args"
    assert shell.code("execute", program="cat", stdin="€", encoding="ascii") == "invalid_args"


def test_large_input_and_output_flow_together(world: ShellWorld, exit_watch: str) -> None:
    """The program writes while it still reads: neither side may deadlock."""
    shell = world.shell([{"name": "cat", "cmd": "cat", "max_output_bytes": 8 * 1024 * 1024}])
    data = os.urandom(4 * 1024 * 1024)
    assert shell("execute", program="cat", stdin=data, output="bytes")["stdout"] == data


def test_exit_codes_signals_and_stderr(world: ShellWorld) -> None:
    shell = world.shell(
        [
            {"name": "fail", "cmd": world.script("fail", "echo out; echo err >&2; exit 3\n")},
            {"name": "die", "cmd": world.script("die", "kill -TERM $$\n")},
        ]
    )
    assert shell("execute", program="fail") == {
        "code": 3,
        "signal": None,
        "stdout": "out\n",
        "stderr": "err\n",
    }
    assert shell("execute", program="die") == {
        "code": None,
        "signal": 15,
        "stdout": "",
        "stderr": "",
    }


# -- limits, process groups, reaping -------------------------------------------------


def _tree_script(world: ShellWorld) -> str:
    """Leader and a background grandchild; writes both pids to the file in $1."""
    return world.script(
        "tree",
        """
        sleep 1000 &
        echo "$$ $!" > "$1.tmp" && mv "$1.tmp" "$1"
        echo started
        wait
        """,
    )


def _pids(pidfile: Path) -> list[int]:
    assert wait_until(pidfile.exists), "the script never wrote its pids"
    return [int(p) for p in pidfile.read_text().split()]


def test_a_timeout_kills_the_whole_process_group(world: ShellWorld, exit_watch: str) -> None:
    shell = world.shell([{"name": "tree", "cmd": _tree_script(world), "args": True, "timeout": 2}])
    pidfile = world.root / "pids"
    started = time.monotonic()
    assert shell.code("execute", program="tree", args=[str(pidfile)]) == "timeout"
    assert time.monotonic() - started < 20
    leader, grandchild = _pids(pidfile)
    assert not_our_child(leader)  # reaped
    assert wait_until(lambda: gone(grandchild)), "the grandchild survived the timeout"


def test_the_bridge_giving_up_kills_the_program(world: ShellWorld) -> None:
    """``security.command_timeout`` cancels the call: the program must die with it."""
    shell = world.shell([{"name": "tree", "cmd": _tree_script(world), "args": True}])
    pidfile = world.root / "pids"
    cmd = as_command(ramparts_shell.commands.execute)
    assert cmd is not None
    kwargs = cmd.bind({"program": "tree", "args": [str(pidfile)]})
    ctx = CallContext("shell", "execute", "main", shell.state, shell.session)

    async def scenario() -> None:
        task = asyncio.ensure_future(ramparts_shell.commands.execute(ctx, **kwargs))
        deadline = time.monotonic() + 10
        while not pidfile.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        task.cancel()  # what asyncio.wait_for in the dispatcher does on its timeout
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    leader, grandchild = _pids(pidfile)
    assert wait_until(lambda: gone(leader) and gone(grandchild))
    assert wait_until(lambda: not_our_child(leader))


def test_output_beyond_the_cap_stops_reading_and_kills(world: ShellWorld) -> None:
    pidfile = world.root / "pid"
    flood = world.script("flood", f"echo $$ > '{pidfile}'\nexec yes\n")
    shell = world.shell([{"name": "flood", "cmd": flood, "max_output_bytes": 100_000}])
    assert shell.code("execute", program="flood") == "too_large"
    (pid,) = _pids(pidfile)
    assert not_our_child(pid)
    # Exactly at the cap is fine.
    exact = world.shell([{"name": "cat", "cmd": "cat", "max_output_bytes": 10}])
    assert exact("execute", program="cat", stdin="0123456789")["stdout"] == "0123456789"
    assert exact.code("execute", program="cat", stdin="0123456789X") == "too_large"
    # stdout and stderr count together.
    both = world.script("both", "printf 123456 ; printf 123456 >&2\n")
    capped = world.shell([{"name": "both", "cmd": both, "max_output_bytes": 10}])
    assert capped.code("execute", program="both") == "too_large"


def test_finished_programs_are_reaped_and_leave_nothing_running(
    world: ShellWorld, exit_watch: str
) -> None:
    script = world.script("bg", "sleep 1000 &\necho $$ $!\n")
    shell = world.shell([{"name": "bg", "cmd": script, "timeout": 60}])
    started = time.monotonic()
    result = shell("execute", program="bg")  # not held until the timeout by the sleeper
    assert time.monotonic() - started < 30
    leader, grandchild = (int(p) for p in result["stdout"].split())
    assert not_our_child(leader)
    assert wait_until(lambda: gone(grandchild)), "a background process outlived execute"
    assert no_zombie_children()


def test_a_program_that_cannot_start_is_a_clean_failure(world: ShellWorld) -> None:
    script = world.script("gone", "true\n")
    shell = world.shell([{"name": "gone", "cmd": script}])
    os.unlink(script)
    assert shell.code("execute", program="gone") == "failed"
    assert shell.code("spawn", program="gone") == "failed"
    assert CHILDREN.running(shell.session) == []


# -- spawn, write, kill --------------------------------------------------------------


def test_spawn_streams_lines_then_exits(world: ShellWorld, exit_watch: str) -> None:
    script = world.script(
        "chatty",
        """
        printf 'one\\ntwo\\r\\n'
        echo oops >&2
        printf 'no newline'
        exit 3
        """,
    )
    shell = world.shell([{"name": "chatty", "cmd": script}])
    child = shell("spawn", program="chatty")
    assert isinstance(child, str) and len(child) >= 20
    assert shell.wait_exit(child) == {
        "ev": "shell:exit",
        "child": child,
        "code": 3,
        "signal": None,
        "reason": None,
    }
    assert shell.lines(child) == ["one", "two", "no newline"]
    assert shell.lines(child, "stderr") == ["oops"]
    # The exit event comes last, after every line.
    assert shell.events()[-1]["ev"] == "shell:exit"
    assert shell.code("kill", child=child) == "not_allowed"  # finished: the id is gone


def test_spawn_limits_are_inherited_and_none_is_explicit(world: ShellWorld) -> None:
    state = ramparts_shell.configure(
        {
            "spawn_timeout": "none",
            "spawn_max_output": 10,
            "programs": [
                {"name": "a", "cmd": "echo"},
                {"name": "b", "cmd": "echo", "spawn_timeout": 5, "spawn_max_events": 7},
            ],
        },
        world.ctx,
    )
    a, b = state.programs["a"], state.programs["b"]
    assert (a.spawn_timeout, a.spawn_max_output, a.spawn_max_events) == (math.inf, 10, 1000)
    assert (b.spawn_timeout, b.spawn_max_output, b.spawn_max_events) == (5.0, 10, 7)


def test_a_spawned_child_past_its_output_cap_is_killed(world: ShellWorld) -> None:
    yes = {"name": "yes", "cmd": "yes", "spawn_max_output": 100_000, "spawn_max_events": 10**6}
    shell = world.shell([yes])
    child = shell("spawn", program="yes")
    end = shell.wait_exit(child)
    assert (end["code"], end["signal"], end["reason"]) == (None, 9, "too_large")
    lines = shell.lines(child)
    assert lines and set(lines) == {"y"} and 2 * len(lines) <= 100_000


def test_a_spawned_child_past_its_time_limit_is_killed(world: ShellWorld) -> None:
    shell = world.shell([{"name": "sleep", "cmd": "sleep", "args": ["1000"], "spawn_timeout": 0.2}])
    child = shell("spawn", program="sleep", args=["1000"])
    end = shell.wait_exit(child)  # without the limit this never comes
    assert (end["code"], end["signal"], end["reason"]) == (None, 9, "timeout")


def test_event_rate_sleeps_once_the_budget_is_spent() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    rate = ramparts_shell.EventRate(10, clock=lambda: now[0], sleep=sleep)
    for _ in range(10):  # a burst of the whole budget
        rate.take()
    assert slept == []
    for _ in range(5):  # then one event every 1/10 s
        rate.take()
    assert slept == pytest.approx([0.1] * 5)
    now[0] += 1.0  # a quiet second refills the budget, no more
    slept.clear()
    for _ in range(11):
        rate.take()
    assert slept == pytest.approx([0.1])


def test_a_rate_limited_child_is_slowed_not_truncated(world: ShellWorld) -> None:
    shell = world.shell([{"name": "seq", "cmd": "seq", "args": ["30"], "spawn_max_events": 10}])
    child = shell("spawn", program="seq", args=["30"])
    assert shell.wait_exit(child)["reason"] is None
    assert shell.lines(child) == [str(i) for i in range(1, 31)]


def test_long_lines_arrive_in_pieces(world: ShellWorld) -> None:
    shell = world.shell([{"name": "cat", "cmd": "cat"}])
    child = shell("spawn", program="cat")
    line = "x" * (ramparts_shell.streaming.MAX_LINE * 2 + 5)
    shell("write", child=child, data=line + "\n", close=True)
    shell.wait_exit(child)
    assert [len(p) for p in shell.lines(child)] == [
        ramparts_shell.streaming.MAX_LINE,
        ramparts_shell.streaming.MAX_LINE,
        5,
    ]


def test_write_to_stdin_and_close(world: ShellWorld) -> None:
    shell = world.shell([{"name": "cat", "cmd": "cat"}])
    child = shell("spawn", program="cat")
    shell("write", child=child, data="hello\n")
    assert wait_until(lambda: shell.lines(child) == ["hello"])
    shell("write", child=child, data=b"w\xc3\xb6rld\n", close=True)
    assert shell.wait_exit(child)["code"] == 0
    assert shell.lines(child) == ["hello", "wörld"]
    assert shell.code("write", child=child, data="late") == "not_allowed"


def test_write_after_close_and_to_a_child_that_does_not_read(world: ShellWorld) -> None:
    shell = world.shell(
        [
            {"name": "cat", "cmd": "cat"},
            {"name": "deaf", "cmd": "sleep", "args": ["1000"], "timeout": 1},
        ]
    )
    cat = shell("spawn", program="cat")
    shell("write", child=cat, data="", close=True)
    assert shell.wait_exit(cat)["code"] == 0
    deaf = shell("spawn", program="deaf", args=["1000"])  # fixed arguments are given too
    # Far more than a pipe holds; the child never reads: the write gives up in time.
    assert shell.code("write", child=deaf, data=b"x" * (4 * 1024 * 1024)) == "timeout"
    shell("kill", child=deaf)
    assert shell.wait_exit(deaf)["signal"] == 9


def test_kill_takes_the_whole_group(world: ShellWorld, exit_watch: str) -> None:
    shell = world.shell([{"name": "tree", "cmd": _tree_script(world), "args": True}])
    pidfile = world.root / "pids"
    child = shell("spawn", program="tree", args=[str(pidfile)])
    leader, grandchild = _pids(pidfile)
    shell("kill", child=child)
    assert shell.wait_exit(child) == {
        "ev": "shell:exit",
        "child": child,
        "code": None,
        "signal": 9,
        "reason": None,  # killed by the page, not by a limit
    }
    assert not_our_child(leader)
    assert wait_until(lambda: gone(grandchild))
    assert shell.code("kill", child=child) == "not_allowed"


def test_child_ids_belong_to_their_session(world: ShellWorld) -> None:
    shell = world.shell([{"name": "cat", "cmd": "cat"}])
    other = Shell(world, {"programs": [{"name": "cat", "cmd": "cat"}]})  # another window
    child = shell("spawn", program="cat")
    assert other.code("write", child=child, data="x") == "not_allowed"
    assert other.code("kill", child=child) == "not_allowed"
    assert shell.code("kill", child="not-a-child") == "not_allowed"
    assert shell.code("kill", child=child[:-1]) == "not_allowed"
    assert shell.exit_of(child) is None  # untouched by the other window
    shell("kill", child=child)
    shell.wait_exit(child)
    assert other.events() == []  # the other window never heard of it
    ids = {shell("spawn", program="cat") for _ in range(5)}
    assert len(ids) == 5
    for c in ids:
        shell("kill", child=c)
        shell.wait_exit(c)


def test_children_are_killed_when_the_session_ends(world: ShellWorld) -> None:
    shell = world.shell([{"name": "tree", "cmd": _tree_script(world), "args": True}])
    pids = []
    for n in range(3):
        pidfile = world.root / f"pids{n}"
        shell("spawn", program="tree", args=[str(pidfile)])
        pids += _pids(pidfile)
    assert len(CHILDREN.running(shell.session)) == 3
    shell.end_session()
    assert CHILDREN.running(shell.session) == []
    assert wait_until(lambda: all(gone(p) for p in pids)), "a child outlived its session"
    assert wait_until(lambda: all(not_our_child(p) for p in pids[::2]))
    assert shell.code("spawn", program="tree", args=["x"]) == "not_allowed"


def test_a_spawn_racing_the_session_end_is_killed(
    world: ShellWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    shell = world.shell([{"name": "tree", "cmd": _tree_script(world), "args": True}])
    pidfile = world.root / "pids"
    real_start = ramparts_shell.process.Proc.start

    def start_then_end(*args: Any, **kwargs: Any) -> Any:
        proc = real_start(*args, **kwargs)
        shell.end_session()  # the page went away while the program was starting
        return proc

    monkeypatch.setattr(ramparts_shell.process.Proc, "start", start_then_end)
    assert shell.code("spawn", program="tree", args=[str(pidfile)]) == "not_allowed"
    monkeypatch.undo()
    # Killed before or after it wrote its pids; either way nothing of it is left.
    assert wait_until(no_zombie_children)
    if pidfile.exists():
        assert wait_until(lambda: all(gone(p) for p in _pids(pidfile)))
    assert CHILDREN.running() == []


def test_max_children_per_window(world: ShellWorld) -> None:
    shell = world.shell([{"name": "cat", "cmd": "cat"}], max_children=2)
    a = shell("spawn", program="cat")
    b = shell("spawn", program="cat")
    assert shell.code("spawn", program="cat") == "too_large"
    other = Shell(world, {"programs": [{"name": "cat", "cmd": "cat"}], "max_children": 2})
    c = other("spawn", program="cat")  # the limit is per window
    shell("kill", child=a)
    shell.wait_exit(a)
    d = shell("spawn", program="cat")
    for s, child in ((shell, b), (shell, d), (other, c)):
        s("kill", child=child)
        s.wait_exit(child)


def test_events_go_only_to_the_spawning_session_and_stop_when_it_ends(world: ShellWorld) -> None:
    shell = world.shell([{"name": "cat", "cmd": "cat"}])
    child = shell("spawn", program="cat")
    shell("write", child=child, data="before\n")
    assert wait_until(lambda: shell.lines(child) == ["before"])
    shell.end_session()
    count = len(shell.sent)
    assert wait_until(lambda: CHILDREN.running() == [] and no_zombie_children())
    assert len(shell.sent) == count  # a closed session's page gets nothing more


# -- open ----------------------------------------------------------------------------


@pytest.fixture
def opened(world: ShellWorld) -> tuple[str, Path]:
    """A stand-in for xdg-open that records what it was asked to open."""
    log = world.root / "opened.log"
    return world.script("opener", f"printf '%s|%s\\n' \"$#\" \"$1\" >> '{log}'\n"), log


def test_open_https_only_by_default(world: ShellWorld, opened: tuple[str, Path]) -> None:
    opener, log = opened
    shell = world.shell([], open_with=opener)
    shell("open", target="https://example.com/a?b=c#d")
    refused = {
        "http://example.com": "out_of_scope",
        "HTTPS://example.com": "out_of_scope",
        " https://example.com": "out_of_scope",
        "https://": "out_of_scope",
        "file:///bin/sh": "out_of_scope",
        "/bin/sh": "out_of_scope",
        "javascript:alert(1)": "out_of_scope",
        "https://user@evil.example/": "invalid_args",
        "https://example.com@evil.example/": "invalid_args",
        "https://good.example\\@evil.example/": "invalid_args",
        "https://exa mple.com": "invalid_args",
        "https://example.com/\nfile:///bin/sh": "invalid_args",
        "https://[::1": "invalid_args",
        "-https://example.com": "invalid_args",
        "--help": "invalid_args",
        "": "invalid_args",
        "https://" + "a" * 9000: "invalid_args",
    }
    codes = {t: shell.code("open", target=t) for t in refused}
    assert codes == refused
    assert log.read_text() == "1|https://example.com/a?b=c#d\n"


def test_open_never_starts_a_program(world: ShellWorld, opened: tuple[str, Path]) -> None:
    opener, log = opened
    docs = world.appdata / "docs"
    docs.mkdir()
    (docs / "note.txt").write_text("hi")
    (docs / "tool").write_text("#!/bin/sh\ntouch /tmp/pwned\n")
    (docs / "tool").chmod(0o755)
    (docs / "launcher.desktop").write_text("[Desktop Entry]\nExec=sh\n")
    (docs / "script.SH").write_text("echo\n")
    (docs / "innocent.txt").symlink_to(docs / "tool")
    (docs / "sh-link.txt").symlink_to("/bin/sh")
    (docs / "dir").mkdir()
    shell = world.shell([], open=".*", open_with=opener, open_files={"allow": ["$APPDATA/docs/**"]})
    shell("open", target=f"{docs}/note.txt")
    shell("open", target=f"file://{docs}/note.txt")
    codes = {
        name: shell.code("open", target=f"{docs}/{name}")
        for name in ["tool", "launcher.desktop", "script.SH", "innocent.txt", "sh-link.txt", "dir"]
    }
    assert codes == {
        "tool": "not_allowed",
        "launcher.desktop": "not_allowed",
        "script.SH": "not_allowed",
        "innocent.txt": "not_allowed",  # the link's target is executable
        "sh-link.txt": "out_of_scope",  # the link leads out of open_files
        "dir": "invalid_args",
    }
    assert shell.code("open", target="file:///bin/sh") == "out_of_scope"
    assert shell.code("open", target=f"file://otherhost{docs}/note.txt") == "invalid_args"
    assert shell.code("open", target=f"file://{docs}/note.txt?x=1") == "invalid_args"
    assert shell.code("open", target=f"{docs}/../docs/note.txt") == "invalid_args"
    assert shell.code("open", target="docs/note.txt") == "invalid_args"
    assert shell.code("open", target=f"{docs}/missing.txt") == "failed"
    canonical = os.path.realpath(docs / "note.txt")
    assert log.read_text() == f"1|{canonical}\n1|{canonical}\n"


def test_open_turned_off_missing_or_failing(world: ShellWorld, opened: tuple[str, Path]) -> None:
    opener, _ = opened
    assert world.shell([], open=False).code("open", target="https://x.example") == "not_allowed"
    shell = world.shell([], open_with=opener)
    shell.state = attrs.evolve(shell.state, opener=None)
    assert shell.code("open", target="https://x.example") == "failed"
    failing = world.script("failing-opener", "exit 4\n")
    assert world.shell([], open_with=failing).code("open", target="https://x.example") == "failed"


def test_open_uses_a_minimal_environment(
    world: ShellWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = world.root / "env.log"
    opener = world.script("env-opener", f"env > '{log}'\n")
    monkeypatch.setenv("RAMPARTS_SECRET", "s3cret")
    monkeypatch.setenv("LD_PRELOAD", "/nonexistent/evil.so")
    monkeypatch.setenv("XDG_CURRENT_DESKTOP", "Test")
    world.shell([], open_with=opener)("open", target="https://example.com")
    env = _env(log.read_text())
    assert "RAMPARTS_SECRET" not in env and "LD_PRELOAD" not in env
    assert env["XDG_CURRENT_DESKTOP"] == "Test"
