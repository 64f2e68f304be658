"""Single instance (``single_instance`` in ``[tool.ramparts]``), with real processes: a
running app under ``ramparts dev`` in a real webview, and second instances started as
``ramparts dev APP -- ARGS``, as hostile local clients, and as another user.

The running app's runtime folder is the fallback one (``ramparts-<uid>`` in ``$TMPDIR``,
with ``$XDG_RUNTIME_DIR`` unset) inside a folder every user may enter, so that only the
folder's own permissions stand between another user and the socket.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import unprivileged
from app_folders import write_app

from ramparts.app import App
from ramparts.desktop.single_instance import MAX_CONNECTIONS, MAX_MESSAGE, runtime_dir
from ramparts.errors import ConfigError, RampartsError
from ramparts.release.audit import Audit, _read_single_instance, render_table

IDENTIFIER = "dev.ramparts.test"

COMMANDS = """
import json
import os

from ramparts import command, on_second_instance


def _record(line):
    with open(os.environ["SI_RECORD"], "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\\n")


@command
def ready() -> None:
    _record({"ready": os.getpid()})


@on_second_instance
def second(app, instance):
    _record({"args": list(instance.args), "cwd": instance.cwd, "pid": os.getpid()})
    app.emit("handled", instance.to_json())


@on_second_instance
def boom(app, instance):
    if instance.args == ("boom",):
        raise RuntimeError("the handler failed on purpose")
"""

#: The running app's page: listens, says it is ready, returns what it got once Python's
#: handler has run. Events reach a page in the order they were sent, so a
#: ``ramparts:second-instance`` event sent before the handler's ``handled`` is in ``got``.
WAIT_JS = """
const got = [];
ramparts.events.on("ramparts:second-instance", (p) => got.push(p));
const handled = new Promise((resolve) => ramparts.events.on("handled", resolve));
await ramparts.invoke("ready");
return { got, handled: await handled };
"""

#: A running app that stays until the test removes its ``stay`` file.
STAY_JS = """
await ramparts.invoke("ready");
for (;;) {
  const r = await fetch("/stay.txt").catch(() => null);
  if (!r || !r.ok) return "done";
  await new Promise((res) => setTimeout(res, 50));
}
"""


def wait_until(what: str, check: Callable[[], Any], seconds: float = 120) -> Any:
    """Poll ``check`` until it returns something true; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"waited {seconds} s for {what}")


class Instance:
    """A ``ramparts dev`` process of the app, its stdout and stderr in files."""

    def __init__(self, app: Path, env: dict[str, str], extra: list[str], logs: Path) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        self.out, self.err = logs / "out.txt", logs / "err.txt"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ramparts", "dev", str(app), *extra],
                stdout=out,
                stderr=err,
                env=env,
                start_new_session=True,  # kill -9 reaches the engine's helpers too
            )

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def finish(self, seconds: float = 120) -> tuple[int, str, str]:
        code = self.proc.wait(seconds)
        return code, self.out.read_text(errors="replace"), self.stderr()

    def kill9(self) -> None:
        """``kill -9`` the app's own process; its engine's helpers are left to notice."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(60)

    def kill_leftovers(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


class World:
    """The app folder, the environment its instances share, and what their handler saw."""

    #: The running app, once started.
    main: Instance

    def __init__(self, root: Path, tmpdir: Path, single_instance: str = "") -> None:
        self.root = root
        self.app = write_app(root / "app", capabilities=single_instance, commands=COMMANDS)
        if not single_instance:
            config = self.app / "pyproject.toml"
            text = config.read_text().replace(
                'commands = "testapp_cmds"', 'commands = "testapp_cmds"\nsingle_instance = true'
            )
            config.write_text(text)
        self.record = root / "record.jsonl"
        self.env = {**os.environ, "TMPDIR": str(tmpdir), "SI_RECORD": str(self.record)}
        self.env.pop("XDG_RUNTIME_DIR", None)
        self.folder = tmpdir / f"ramparts-{os.getuid()}"
        self.socket = self.folder / f"{IDENTIFIER}.sock"
        self._n = 0
        self.started: list[Instance] = []

    def lines(self) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        return [json.loads(x) for x in self.record.read_text().splitlines()]

    def deliveries(self) -> list[dict[str, Any]]:
        return [x for x in self.lines() if "args" in x]

    def start(self, *extra: str) -> Instance:
        self._n += 1
        self.started.append(Instance(self.app, self.env, list(extra), self.root / f"run{self._n}"))
        return self.started[-1]

    def stop_all(self) -> None:
        """End what a failed test left running, engine helpers included."""
        for instance in self.started:
            if instance.proc.poll() is None:
                instance.kill9()
            instance.kill_leftovers()

    def run_second(
        self, *args: str | bytes, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """A second instance: ``ramparts dev APP -- ARGS``, to its end."""
        return subprocess.run(
            [sys.executable, "-m", "ramparts", "dev", str(self.app), "--headless", "--", *args],
            capture_output=True,
            env=self.env,
            cwd=cwd or self.root,
            timeout=120,
        )

    def primary(self, js: str, name: str) -> Instance:
        script = self.root / name
        script.write_text(js)
        return self.start("--headless", "--eval", str(script), "--timeout", "300")

    def wait_ready(self, instance: Instance, count: int = 1) -> None:
        wait_until(
            "the running app's page",
            lambda: (
                len([x for x in self.lines() if "ready" in x]) >= count
                or instance.proc.poll() is not None
            ),
        )
        assert instance.proc.poll() is None, instance.stderr()


@pytest.fixture(scope="module")
def open_tmp() -> Iterator[Path]:
    """A ``$TMPDIR`` every user may enter (pytest's own folders are 0700)."""
    path = Path(tempfile.mkdtemp(prefix="ramparts-si-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, open_tmp: Path) -> Iterator[World]:
    """One running app for the socket tests; it exits when they are done."""
    world = World(tmp_path_factory.mktemp("si"), open_tmp / "shared")
    (open_tmp / "shared").mkdir()
    (world.app / "ui" / "stay.txt").write_text("stay")
    app = world.primary(STAY_JS, "stay.js")
    world.wait_ready(app)
    world.main = app
    try:
        yield world
        (world.app / "ui" / "stay.txt").unlink()
        code, _, err = app.finish()
    finally:
        world.stop_all()
    assert code == 0, err
    assert not world.socket.exists(), "a clean exit removes the socket"


@pytest.fixture
def make_world() -> Iterator[Callable[..., World]]:
    """``World(...)``, whose processes are all ended after the test, however it went."""
    made: list[World] = []

    def make(*args: Any) -> World:
        made.append(World(*args))
        return made[-1]

    yield make
    for world in made:
        world.stop_all()


def connect(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(120)
    sock.connect(str(path))
    return sock


def reply_of(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


# -- the running app and second instances -------------------------------------------------


def test_a_second_instance_hands_over_its_arguments_and_exits(
    running: World, tmp_path: Path
) -> None:
    before = len(running.deliveries())
    odd = b"not-utf8-\xff"  # a file name need not be UTF-8: it arrives as os.fsdecode has it
    done = running.run_second("open", "two words", "", "--flag", odd, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert b"already running: handed it the arguments; exiting" in done.stderr
    assert b"Traceback" not in done.stderr
    got = wait_until("the handler", lambda: running.deliveries()[before:])
    assert got == [
        {
            "args": ["open", "two words", "", "--flag", os.fsdecode(odd)],
            "cwd": str(tmp_path),
            "pid": running.main.proc.pid,
        }
    ]


def test_a_built_apps_arguments_are_handed_over_too(running: World) -> None:
    """A built app's launcher, past its manifest check: its own options, then the app's
    arguments (``--`` before one that starts with ``-``)."""
    before = len(running.deliveries())
    code = (
        "import sys\nfrom pathlib import Path\nfrom ramparts.release.launcher import _run\n"
        "_run(Path(sys.argv.pop(1)), 'Test App', False)"
    )
    argv = [sys.executable, "-c", code, str(running.app), "--headless", "a.md", "--", "-x"]
    done = subprocess.run(argv, capture_output=True, env=running.env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert b"already running" in done.stderr
    got = wait_until("the handler", lambda: running.deliveries()[before:])
    assert [x["args"] for x in got] == [["a.md", "-x"]]


#: Another user's process: only root can make one (CI runs as root).
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="another user needs root")


@needs_root
def test_a_failing_handler_is_logged_and_the_next_one_still_runs(running: World) -> None:
    before = len(running.deliveries())
    for args in (["boom"], ["after boom"]):
        assert running.run_second(*args).returncode == 0
    got = wait_until("the handler", lambda: running.deliveries()[before:][1:])
    assert [x["args"] for x in got] == [["after boom"]]
    log = running.main.stderr()
    assert "the second instance handler boom failed" in log
    assert "RuntimeError: the handler failed on purpose" in log


def test_only_the_user_can_reach_the_socket(running: World) -> None:
    folder, sock = os.stat(running.folder), os.stat(running.socket)
    assert stat.S_IMODE(folder.st_mode) == 0o700 and folder.st_uid == os.getuid()
    assert stat.S_ISSOCK(sock.st_mode) and stat.S_IMODE(sock.st_mode) == 0o600
    path = str(running.socket)

    def as_another_user() -> str:
        try:
            connect(Path(path)).close()
        except OSError as e:
            return type(e).__name__
        return "connected"

    assert unprivileged.call(as_another_user) == "PermissionError"


@needs_root
def test_the_peer_check_refuses_another_user_past_the_permissions(
    running: World, open_tmp: Path
) -> None:
    """If the file permissions were lost (here: a hard link in an open folder and the
    socket made 0666), the running app still refuses another user's connection."""
    link = open_tmp / "link.sock"
    os.link(running.socket, link)
    running.socket.chmod(0o666)
    before = len(running.deliveries())
    message = json.dumps({"args": ["from nobody"], "cwd": "/"}).encode() + b"\n"

    def as_another_user() -> str:
        with connect(link) as sock:
            try:
                sock.sendall(message)
                return reply_of(sock).decode()
            except ConnectionError:  # closed with the message unread (reset, broken pipe)
                return ""

    try:
        assert unprivileged.call(as_another_user) == ""  # closed unread, no answer
    finally:
        running.socket.chmod(0o600)
        link.unlink()
    app = running.main
    wait_until("the refusal in the log", lambda: "refused a connection from uid" in app.stderr())
    assert running.run_second("after").returncode == 0
    got = wait_until("the handler", lambda: running.deliveries()[before:])
    assert [x["args"] for x in got] == [["after"]]


@pytest.mark.parametrize(
    "message",
    [
        b"garbage\n",
        b"\xff\xfe\x00\n",
        b'{"args": [1], "cwd": "/"}\n',
        b'{"args": ["a"], "cwd": "/", "extra": 1}\n',
        b'{"args": ["a"]}\n',
        b'[["a"], "/"]\n',
        b'{"args": ["a"], "cwd": NaN}\n',
        b'{"args": ' + b"[" * 200_000 + b"]" * 200_000 + b', "cwd": "/"}\n',
    ],
    ids=["text", "binary", "int-arg", "extra-key", "no-cwd", "array", "nan", "deep"],
)
def test_garbage_is_refused(running: World, message: bytes) -> None:
    before = len(running.deliveries())
    with connect(running.socket) as sock:
        sock.sendall(message)
        reply = json.loads(reply_of(sock))
    assert reply["ok"] is False and "not {" in reply["error"]
    assert running.run_second("still works").returncode == 0
    got = wait_until("the handler", lambda: running.deliveries()[before:])
    assert [x["args"] for x in got] == [["still works"]]


def test_an_oversized_message_is_refused(running: World) -> None:
    before = len(running.deliveries())
    with connect(running.socket) as sock:
        try:
            sock.sendall(b"x" * (MAX_MESSAGE + 2))
            reply = reply_of(sock)
        except (BrokenPipeError, ConnectionResetError):
            reply = b""  # closed before we were done writing: refused all the same
    assert reply == b"" or json.loads(reply)["ok"] is False
    # One argument may hold 128 KiB (MAX_ARG_STRLEN): many make the message too large.
    big = running.run_second(*["y" * 65536] * (MAX_MESSAGE // 65536 + 1))
    assert big.returncode == 1 and b"can be handed to the running instance" in big.stderr
    assert running.run_second("small").returncode == 0
    got = wait_until("the handler", lambda: running.deliveries()[before:])
    assert [x["args"] for x in got] == [["small"]]


def test_silent_clients_cannot_block_it(running: World) -> None:
    """Clients that connect and send nothing hold every connection slot; a second
    instance still gets through (once they time out), and each of them is answered."""
    before = len(running.deliveries())
    silent = [connect(running.socket) for _ in range(MAX_CONNECTIONS)]
    try:
        assert running.run_second("past the silent ones").returncode == 0
        for sock in silent:
            reply = json.loads(reply_of(sock))
            assert reply["ok"] is False and "within" in reply["error"]
    finally:
        for sock in silent:
            sock.close()
    got = wait_until("the handler", lambda: running.deliveries()[before:])
    assert [x["args"] for x in got] == [["past the silent ones"]]


def test_it_listens_on_no_tcp_port(running: World) -> None:
    app = psutil.Process(running.main.proc.pid)
    tree = [app, *app.children(recursive=True)]
    inet = [(p.name(), c.laddr) for p in tree for c in p.net_connections(kind="inet")]
    assert inet == []
    # The kernel names a socket by the path it was bound to: a temporary name beside it.
    unix = [c.laddr for p in tree for c in p.net_connections(kind="unix")]
    assert [a for a in unix if a.startswith(f"{running.folder}/")], unix


def test_two_at_once_one_wins_and_a_killed_one_is_replaced(
    tmp_path: Path, open_tmp: Path, make_world: Callable[..., World]
) -> None:
    """Two starts at once: exactly one runs, the other hands over and exits. Killed with
    ``kill -9``, the winner leaves its socket behind; the next start replaces it."""
    (open_tmp / "race").mkdir()
    world = make_world(tmp_path, open_tmp / "race")
    (world.app / "ui" / "stay.txt").write_text("stay")
    script = tmp_path / "stay.js"
    script.write_text(STAY_JS)
    both = [
        world.start("--headless", "--eval", str(script), "--timeout", "300", "--", name)
        for name in ("first", "second")
    ]
    loser = wait_until("one start to exit", lambda: [i for i in both if i.proc.poll() is not None])
    assert len(loser) == 1, [i.stderr() for i in both]
    code, _, err = loser[0].finish()
    assert code == 0 and "already running" in err, err
    (winner,) = [i for i in both if i is not loser[0]]
    world.wait_ready(winner)
    assert "listening on" in winner.stderr() and winner.proc.poll() is None
    got = wait_until("the handler", world.deliveries)
    assert [x["args"] for x in got] == [["second" if both[0] is winner else "first"]]
    assert got[0]["pid"] == winner.proc.pid

    winner.kill9()  # its engine's helper processes hold neither the lock nor the socket
    assert world.socket.exists()  # left behind, stale
    replacement = world.start("--headless", "--eval", str(script), "--timeout", "300")
    world.wait_ready(replacement, count=2)
    assert "listening on" in replacement.stderr()
    assert world.run_second("to the new one").returncode == 0
    got = wait_until("the handler", lambda: world.deliveries()[1:])
    assert got[0]["args"] == ["to the new one"] and got[0]["pid"] == replacement.proc.pid
    (world.app / "ui" / "stay.txt").unlink()
    assert replacement.finish()[0] == 0


# -- the page gets the event only when granted ----------------------------------------------


@pytest.mark.usefixtures("engine")
@pytest.mark.parametrize(
    ("config", "granted"),
    [
        ('\n[tool.ramparts.single_instance]\nwindows = ["main"]\n', True),
        ("", False),  # single_instance = true: Python only
    ],
    ids=["granted", "not-granted"],
)
def test_the_page_gets_the_event_only_when_granted(
    tmp_path: Path, open_tmp: Path, make_world: Callable[..., World], config: str, granted: bool
) -> None:
    tmpdir = Path(tempfile.mkdtemp(dir=open_tmp))
    world = make_world(tmp_path, tmpdir, config)
    app = world.primary(WAIT_JS, "wait.js")
    world.wait_ready(app)
    second = world.run_second("--open", "file.txt", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    code, out, err = app.finish()
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    payload = {"args": ["--open", "file.txt"], "cwd": str(tmp_path)}
    assert result["handled"] == payload  # Python's handler ran, and emitted after
    assert result["got"] == ([payload] if granted else [])


# -- config and the runtime folder ----------------------------------------------------------


def test_config(tmp_path: Path) -> None:
    world = World(tmp_path / "on", tmp_path, "")
    assert App.load(world.app).config.single_instance is not None
    bad = {
        "[tool.ramparts.single_instance]\nwindows = ['other']\n": "single_instance.windows",
        "[tool.ramparts.single_instance]\nwindow = ['main']\n": "single_instance.window",
    }
    for i, (toml, key) in enumerate(bad.items()):
        app = write_app(tmp_path / f"bad{i}", capabilities=toml, commands=COMMANDS)
        with pytest.raises(ConfigError, match=key):
            App.load(app)
    config = world.app / "pyproject.toml"
    config.write_text(config.read_text().replace("single_instance = true", "single_instance = 1"))
    with pytest.raises(ConfigError, match="single_instance: found 1, expected true, false, or a"):
        App.load(world.app)
    off = write_app(tmp_path / "off", capabilities="", commands=COMMANDS)
    with pytest.raises(ConfigError, match=r"single_instance: found False.*second\b"):
        App.load(off)  # a handler, but single_instance is off


def test_check_and_audit_show_who_gets_the_arguments(tmp_path: Path) -> None:
    """``ramparts check`` for the source, ``ramparts audit`` for the config a build ships."""
    granted = '\n[tool.ramparts.single_instance]\nwindows = ["main"]\n'
    cases = {"on": (granted, ["main"]), "python": ("", []), "off": (None, None)}
    for name, (config, windows) in cases.items():
        if config is None:
            app = write_app(tmp_path / name, capabilities="")
        else:
            app = World(tmp_path / name, tmp_path, config).app
        check = subprocess.run(
            [sys.executable, "-m", "ramparts", "check", str(app)], capture_output=True, text=True
        )
        assert check.returncode == 0, check.stderr
        (line,) = [x for x in check.stdout.splitlines() if x.startswith("instances:")]
        pages = "main" if windows else "none (Python only)"
        assert line.endswith(f"reach pages: {pages}" if windows is not None else "is off)")
        assert _read_single_instance((app / "pyproject.toml").read_text()) == windows
        result = Audit(tmp_path, {}, "valid", "pubkey", {}, {}, single_instance=windows)
        assert result.to_json()["single_instance"] == windows
        table = [x for x in render_table(result).splitlines() if "single_instance" in x]
        assert table == ([] if windows is None else [f"single_instance: {line.split('; ')[1]}"])


def test_runtime_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    xdg = tmp_path / "xdg"
    xdg.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(xdg))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again
    try:
        assert runtime_dir() == xdg / "ramparts"
        xdg.chmod(0o755)  # not private: the fallback
        fallback = tmp_path / f"ramparts-{os.getuid()}"
        assert runtime_dir() == fallback
        assert stat.S_IMODE(fallback.stat().st_mode) == 0o700
        fallback.chmod(0o777)
        with pytest.raises(RampartsError, match="others can enter it"):
            runtime_dir()
        fallback.rmdir()
        fallback.symlink_to(xdg)
        with pytest.raises(RampartsError, match="is not a folder"):
            runtime_dir()
        fallback.unlink()
        if os.getuid() == 0:  # someone else made it first
            fallback.mkdir(mode=0o700)
            os.chown(fallback, unprivileged.NOBODY, unprivileged.NOBODY)
            with pytest.raises(RampartsError, match="belongs to uid 65534"):
                runtime_dir()
    finally:
        tempfile.tempdir = None
