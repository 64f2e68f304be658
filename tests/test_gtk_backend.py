"""Choosing the engine (``backend`` in ``[tool.ramparts]``, ``RAMPARTS_BACKEND``), and
what only the WebKitGTK backend has to show: its substitutes for what Qt reports."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from conftest import write_app
from engine_powers import run_page, write_powers_app

from ramparts.backends import BACKENDS
from ramparts.config import BACKEND_NAMES, load_config
from ramparts.errors import ConfigError
from ramparts.testing import eval_in_app


def with_backend(app: Path, name: str) -> Path:
    """``app`` with ``backend = name`` in its ``[tool.ramparts]``."""
    toml = app / "pyproject.toml"
    text = toml.read_text()
    toml.write_text(text.replace("[tool.ramparts]\n", f'[tool.ramparts]\nbackend = "{name}"\n', 1))
    return app


def test_every_backend_name_has_a_backend() -> None:
    assert set(BACKEND_NAMES) == set(BACKENDS)


def test_qt_is_the_default_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAMPARTS_BACKEND", raising=False)
    assert load_config(write_app(tmp_path / "a")).backend == "qt"
    chosen = with_backend(write_app(tmp_path / "b"), "gtk")
    assert load_config(chosen).backend == "gtk"
    monkeypatch.setenv("RAMPARTS_BACKEND", "qt")
    assert load_config(chosen).backend == "qt"


def test_an_unknown_backend_is_a_config_error_naming_the_choices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAMPARTS_BACKEND", raising=False)
    app = with_backend(write_app(tmp_path / "a"), "cocoa")
    with pytest.raises(
        ConfigError, match=r"tool\.ramparts\.backend: found 'cocoa', expected one of 'qt', 'gtk'"
    ):
        load_config(app)
    monkeypatch.setenv("RAMPARTS_BACKEND", "edge")
    with pytest.raises(
        ConfigError, match=r"RAMPARTS_BACKEND: found 'edge', expected one of 'qt', 'gtk'"
    ):
        load_config(write_app(tmp_path / "b"))


@pytest.fixture
def gtk(gtk_display: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app processes this test starts run on WebKitGTK."""
    monkeypatch.setenv("RAMPARTS_BACKEND", "gtk")
    monkeypatch.setenv("DISPLAY", gtk_display)


POWERS = """
return {
  audio: await attempt(media({ audio: true })),
  screen: await attempt(async () => tracks(await navigator.mediaDevices.getDisplayMedia({ video: true }))),
  notifications: await attempt(() => Notification.requestPermission()),
  geolocation: await attempt(() => new Promise((res, rej) => navigator.geolocation.getCurrentPosition(
    () => res("position"), (e) => rej(new Error("code " + e.code))))),
  clipboard: await attempt(async () => {
    await navigator.clipboard.writeText("round trip");
    return await navigator.clipboard.readText();
  }),
  popup: window.open("/index.html") === null,
};
"""


@pytest.mark.webview
@pytest.mark.usefixtures("gtk")
def test_engine_powers_without_and_with_a_grant(tmp_path: Path) -> None:
    """WebKit's ``permission-request`` goes through ``host.allow_web``; media capture is
    switched off in the engine's settings unless granted. Powers this machine's WebKitGTK
    cannot give whatever the grant (no capture device, no location provider, no WebRTC
    built in) show the grant by failing later than the refusal does."""
    bare = write_powers_app(tmp_path / "bare", '[[tool.ramparts.windows]]\nlabel = "main"\n')
    refused = run_page(bare, POWERS)
    assert "mediaDevices" in refused["audio"][1]  # no getUserMedia at all
    assert "mediaDevices" in refused["screen"][1]
    assert refused["notifications"] == ["ok", "denied"]
    # WebKitGTK never asks about notifications for an app:// page: denied even when
    # granted (docs/backends.md).
    assert refused["geolocation"] == ["err", "Error: code 1"]  # PERMISSION_DENIED
    # No async clipboard API without the grant (WebKit's would write with no gesture).
    assert refused["clipboard"][0] == "err" and "navigator.clipboard" in refused["clipboard"][1]
    assert refused["popup"] is True
    granted_app = write_powers_app(
        tmp_path / "granted",
        '[[tool.ramparts.windows]]\nlabel = "main"\n'
        'web = ["microphone", "notifications", "geolocation", "clipboard", "screen-capture"]\n',
    )
    granted = run_page(granted_app, POWERS)
    assert granted["audio"][1].startswith("OverconstrainedError")  # asked, no device
    assert "user gesture" in granted["screen"][1]
    assert granted["notifications"] == ["ok", "denied"]
    assert granted["geolocation"] == ["err", "Error: code 2"]  # POSITION_UNAVAILABLE
    assert granted["clipboard"] == ["ok", "round trip"]
    assert granted["popup"] is True


DIALOG_COMMANDS = '''
import os
import time
from typing import Any
from ramparts import CallContext, command

@command
def ask(ctx: CallContext) -> Any:
    return ctx.native_dialogs().message("question", "Go on?", title="Q", buttons=["yes", "no"])

@command
def pick(ctx: CallContext, folder: str) -> Any:
    return ctx.native_dialogs().pick("open", title="Pick", default_path=folder)

@command
def operate(ctx: CallContext, response: str, path: str = "") -> str:
    """Answer the first modal dialog that shows, as a person would (GUI thread)."""
    import gi
    gi.require_version("Gtk", "3.0")
    from gi.repository import Gtk

    R = {"yes": Gtk.ResponseType.YES, "accept": Gtk.ResponseType.ACCEPT}
    def answer() -> str | None:
        for w in Gtk.Window.list_toplevels():
            if isinstance(w, Gtk.Dialog) and w.get_visible():
                if path:
                    w.select_filename(path)
                w.response(R[response])
                return type(w).__name__
        return None
    end = time.monotonic() + 20
    while time.monotonic() < end:
        shown = ctx.app.hosts[ctx.window].call_on_ui(answer)
        if shown:
            return shown
        time.sleep(0.05)
    return "no dialog"
'''


@pytest.mark.webview
@pytest.mark.usefixtures("gtk")
def test_native_dialogs_are_gtks_modal_to_the_window(tmp_path: Path) -> None:
    picked = tmp_path / "docs" / "picked.txt"
    picked.parent.mkdir()
    picked.write_text("x")
    app = write_app(tmp_path / "app", capabilities="", commands=DIALOG_COMMANDS, module="dlg_cmds")
    got = eval_in_app(
        app,
        f"""
        const asked = ramparts.invoke("ask", {{}});
        const askedBy = await ramparts.invoke("operate", {{ response: "yes" }});
        const pick = ramparts.invoke("pick", {{ folder: {str(picked.parent)!r} }});
        const pickedBy = await ramparts.invoke("operate", {{ response: "accept", path: {str(picked)!r} }});
        return {{ asked: await asked, askedBy, picked: await pick, pickedBy }};
        """,
        timeout=60,
    )
    assert got == {
        "asked": "yes",
        "askedBy": "MessageDialog",
        "picked": [str(picked)],
        "pickedBy": "FileChooserDialog",
    }


@pytest.fixture
def listeners() -> Iterator[list[tuple[socket.socket, list[str]]]]:
    """Two TCP listeners on the loopback address, each noting who connects."""
    made: list[tuple[socket.socket, list[str]]] = []
    stop = threading.Event()

    def accept(server: socket.socket, seen: list[str]) -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                data = conn.recv(4096)
                seen.append(data.decode("latin-1").split("\r\n", 1)[0])
                body = b"named"
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: 5\r\n"
                    b"Connection: close\r\n\r\n" + body
                )

    threads = []
    for _ in range(2):
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()
        seen: list[str] = []
        made.append((server, seen))
        threads.append(threading.Thread(target=accept, args=(server, seen), daemon=True))
        threads[-1].start()
    yield made
    stop.set()
    for t in threads:
        t.join()
    for server, _ in made:
        server.close()


@pytest.mark.webview
@pytest.mark.usefixtures("gtk")
def test_connections_reach_only_the_hosts_the_csp_names(
    tmp_path: Path, listeners: list[tuple[socket.socket, list[str]]]
) -> None:
    """WebKit's proxy settings send every connection to a host the CSP does not name to
    a proxy that refuses it (port 0 of the loopback address): a preconnect, which the
    CSP never sees, reaches nothing; the named host is reached directly."""
    (named, named_seen), (other, other_seen) = listeners
    named_url = f"http://127.0.0.1:{named.getsockname()[1]}"
    other_url = f"http://127.0.0.1:{other.getsockname()[1]}"
    app = write_app(tmp_path / "app", security=f'csp = {{ "connect-src" = ["{named_url}"] }}')
    got = eval_in_app(
        app,
        f"""
        for (const rel of ["preconnect", "prefetch", "dns-prefetch"]) {{
          const l = document.createElement("link");
          l.rel = rel;
          l.href = "{other_url}/" + rel;
          document.head.appendChild(l);
        }}
        const named = await fetch("{named_url}/fetch").then((r) => r.text(), (e) => String(e));
        const other = await fetch("{other_url}/fetch").then((r) => r.text(), (e) => "refused");
        await new Promise((r) => setTimeout(r, 1000));
        return {{ named, other }};
        """,
    )
    assert got == {"named": "named", "other": "refused"}
    assert named_seen == ["GET /fetch HTTP/1.1"]
    assert other_seen == []


@pytest.mark.webview
@pytest.mark.usefixtures("gtk")
def test_console_lines_come_through_the_relays_world(app_dir: Path, tmp_path: Path) -> None:
    """WebKitGTK has no console signal: uncaught errors and unhandled rejections reach
    the relay's world as events, the console's messages from a main-world wrapper."""
    script = tmp_path / "console.js"
    script.write_text(
        """
        console.error("E1", 2); console.warn("W1"); console.log("L1");
        setTimeout(() => { throw new Error("T1"); });
        Promise.reject(new Error("R1"));
        await new Promise((r) => setTimeout(r, 300));
        return 1;
        """
    )
    proc = subprocess.run(
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
            "--no-dev-server",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("console: main: ")]
    got = sorted(line.removeprefix("console: main: ") for line in lines)
    page = "app://dev.ramparts.test/index.html:"
    assert [line.partition(f" ({page}")[0] for line in got] == [
        "E1 2",
        "L1",
        "Uncaught (in promise) Error: R1",
        "Uncaught Error: T1",
        "W1",
    ]
    # Each line says where in the page it came from, as Qt's do (not the rejection).
    assert [f" ({page}" in line for line in got] == [True, True, False, True, True]


KEY_COMMANDS = '''
from typing import Any
from ramparts import CallContext, command

@command
def press(ctx: CallContext, key: str, control: bool = False) -> bool:
    """Press ``key`` in the window as the keyboard would (GUI thread)."""
    import gi
    gi.require_version("Gdk", "3.0")
    gi.require_version("Gtk", "3.0")
    from gi.repository import Gdk
    from webview.platforms.gtk import BrowserView

    host = ctx.app.hosts[ctx.window]
    view = BrowserView.instances[host.native.uid].webview
    mods = Gdk.ModifierType.CONTROL_MASK if control else Gdk.ModifierType(0)
    keyval = Gdk.keyval_from_name(key)

    def event(kind: Any) -> Any:
        ev = Gdk.Event.new(kind)
        ev.key.window = view.get_toplevel().get_window()
        ev.key.send_event = True
        ev.key.time = Gdk.CURRENT_TIME
        ev.key.keyval = keyval
        ev.key.state = mods
        keys = Gdk.Keymap.get_for_display(Gdk.Display.get_default()).get_entries_for_keyval(keyval)
        ev.key.hardware_keycode = keys[1][0].keycode if keys[0] else 0
        ev.set_device(Gdk.Display.get_default().get_default_seat().get_keyboard())
        return ev

    def run() -> bool:
        view.grab_focus()  # no window manager under Xvfb gives the window focus
        top = view.get_toplevel()
        handled = top.event(event(Gdk.EventType.KEY_PRESS))
        top.event(event(Gdk.EventType.KEY_RELEASE))
        return bool(handled)

    return bool(host.call_on_ui(run))
'''


@pytest.mark.webview
@pytest.mark.usefixtures("gtk")
def test_f5_and_ctrl_r_reload_the_page_in_dev(tmp_path: Path) -> None:
    counting = (
        "sessionStorage.setItem('loads', String(Number(sessionStorage.getItem('loads') || 0) + 1));"
        "document.addEventListener('keydown', (e) => sessionStorage.setItem('seen', e.key));"
    )
    app = write_app(
        tmp_path / "app",
        capabilities="",
        commands=KEY_COMMANDS,
        module="key_cmds",
        files={"app.js": counting},
    )
    got = eval_in_app(
        app,
        """
        const loads = Number(sessionStorage.getItem("loads"));
        if (loads === 1) await ramparts.invoke("press", { key: "F5" });
        if (loads === 2) await ramparts.invoke("press", { key: "r", control: true });
        if (loads === 3) {
          await ramparts.invoke("press", { key: "x" });
          await new Promise((r) => setTimeout(r, 200));
          return { loads, seen: sessionStorage.getItem("seen") };
        }
        await new Promise(() => {});  // the reload takes this page away
        """,
    )
    # The page saw neither reload key, and saw the key that was not one.
    assert got == {"loads": 3, "seen": "x"}


@pytest.mark.webview
@pytest.mark.usefixtures("gtk")
@pytest.mark.parametrize("web", ["", '"file-input"'])
def test_a_file_chooser_opens_only_with_file_input(tmp_path: Path, web: str) -> None:
    """A click on an ``<input type=file>`` opens Ramparts' GTK chooser only in a window
    granted ``file-input``; there the file picked reaches the page."""
    picked = tmp_path / "picked.txt"
    picked.write_text("x")
    app = write_powers_app(
        tmp_path / "app", f'[[tool.ramparts.windows]]\nlabel = "main"\nweb = [{web}]\n'
    )
    got = run_page(
        app,
        f"""
        await ramparts.invoke("answer_choosers", {{ answers: [[{str(picked)!r}]] }});
        return {{ files: await picked([]), choosers: await ramparts.invoke("choosers") }};
        """,
    )
    if web:
        assert got == {
            "files": ["picked.txt"],
            "choosers": [{"folder": False, "answer": [str(picked)]}],
        }
    else:
        assert got == {"files": [], "choosers": []}  # refused before any chooser shows


@pytest.mark.webview
@pytest.mark.usefixtures("gtk")
def test_devtools_opens_webkits_inspector_in_process_with_no_port(app_dir: Path) -> None:
    script = app_dir / "wait.js"
    script.write_text(
        """
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
            "--devtools",
            "--eval",
            str(script),
            "--timeout",
            "60",
            "--no-dev-server",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("ramparts dev: devtools: "):
                break
        else:
            raise AssertionError("no inspector:\n" + "".join(seen))
        assert line.strip() == "ramparts dev: devtools: main: inspector://"
        root = psutil.Process(proc.pid)
        found = [
            (p.name(), conn.laddr, conn.status)
            for p in [root, *root.children(recursive=True)]
            for conn in p.net_connections(kind="inet")
        ]
        assert found == [], f"sockets open in the app's process tree: {found}"
    finally:
        (app_dir / "ui" / "__go.txt").write_text("go")
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip() == '"done"'


PASTE_COMMANDS = """from typing import Any
from ramparts import CallContext, command

KEEP: list[Any] = []

@command
def paste(ctx: CallContext, paths: list[str]) -> bool:
    \"\"\"Own the clipboard with files (as a file manager copies them), press Ctrl+V.\"\"\"
    import gi
    gi.require_version("Gdk", "3.0")
    gi.require_version("Gtk", "3.0")
    from gi.repository import Gdk, GLib, Gtk
    from webview.platforms.gtk import BrowserView

    host = ctx.app.hosts[ctx.window]
    view = BrowserView.instances[host.native.uid].webview
    uris = [GLib.filename_to_uri(p, None) for p in paths]

    def key(kind: Any) -> Any:
        ev = Gdk.Event.new(kind)
        ev.key.window = view.get_toplevel().get_window()
        ev.key.send_event = True
        ev.key.time = Gdk.CURRENT_TIME
        ev.key.keyval = Gdk.KEY_v
        ev.key.state = Gdk.ModifierType.CONTROL_MASK
        keymap = Gdk.Keymap.get_for_display(Gdk.Display.get_default())
        keys = keymap.get_entries_for_keyval(Gdk.KEY_v)
        ev.key.hardware_keycode = keys[1][0].keycode
        ev.set_device(Gdk.Display.get_default().get_default_seat().get_keyboard())
        return ev

    def run() -> bool:
        owner = Gtk.Invisible()
        KEEP.append(owner)
        owner.connect("selection-get", lambda _w, data, _i, _t: data.set_uris(uris))
        uri_list = Gdk.Atom.intern("text/uri-list", False)
        Gtk.selection_add_target(owner, Gdk.SELECTION_CLIPBOARD, uri_list, 0)
        ok = Gtk.selection_owner_set(owner, Gdk.SELECTION_CLIPBOARD, Gdk.CURRENT_TIME)
        view.grab_focus()
        top = view.get_toplevel()
        top.event(key(Gdk.EventType.KEY_PRESS))
        top.event(key(Gdk.EventType.KEY_RELEASE))
        return bool(ok)

    return bool(host.call_on_ui(run))
"""


@pytest.mark.webview
@pytest.mark.usefixtures("gtk")
def test_a_pasted_file_reaches_the_page_as_nothing(tmp_path: Path) -> None:
    """Files copied in a file manager and pasted with Ctrl+V: WebKitGTK names the type
    but hands the page no file, no path and no text (Qt needs ``file-drop`` for them)."""
    picked = tmp_path / "picked.txt"
    picked.write_text("secret")
    app = write_app(tmp_path / "app", capabilities="", commands=PASTE_COMMANDS, module="paste_cmds")
    got = eval_in_app(
        app,
        f"""
        const area = document.createElement("textarea");
        document.body.appendChild(area);
        area.focus();
        const seen = {{ pastes: 0 }};
        document.addEventListener("paste", (e) => {{
          const d = e.clipboardData;
          Object.assign(seen, {{ pastes: seen.pastes + 1, files: [...d.files].map((f) => f.name),
            uris: d.getData("text/uri-list"), text: d.getData("text/plain") }});
        }});
        const owned = await ramparts.invoke("paste", {{ paths: [{str(picked)!r}] }});
        for (let i = 0; i < 100 && !seen.pastes; i++) await new Promise((r) => setTimeout(r, 20));
        return {{ owned, ...seen, value: area.value }};
        """,
    )
    assert got == {"owned": True, "pastes": 1, "files": [], "uris": "", "text": "", "value": ""}


@pytest.mark.webview
@pytest.mark.usefixtures("gtk")
def test_a_granted_drop_reaches_the_page_with_the_files_url_and_no_file(tmp_path: Path) -> None:
    """A real X drag of a file onto a window granted ``file-drop``: the drop event fires,
    but WebKitGTK gives DataTransfer no file access on GTK (its fix for CVE-2025-13947),
    so the page gets no ``File``; the file's URL shows only in the drop's ``text/html``.
    Without the grant the drag is refused at the view (the attack catalogue's
    ``file-drop`` case), so an ungranted page learns not even that."""
    picked = tmp_path / "picked.txt"
    picked.write_text("secret")
    app = write_powers_app(
        tmp_path / "app", '[[tool.ramparts.windows]]\nlabel = "main"\nweb = ["file-drop"]\n'
    )
    got = run_page(
        app,
        f"""
        const drops = [];
        document.addEventListener("drop", (e) => drops.push({{
          types: [...e.dataTransfer.types], files: e.dataTransfer.files.length,
          uris: e.dataTransfer.getData("text/uri-list"), html: e.dataTransfer.getData("text/html"),
        }}), true);
        const b = target();
        b.addEventListener("dragover", (e) => e.preventDefault());
        for (let i = 0; i < 3 && !drops.length; i++) {{  // a drag can miss on a loaded machine
          await ramparts.invoke("drop", {{ paths: [{str(picked)!r}], x: 20, y: 20 }});
          await waitFor(() => drops.length, 3000);
        }}
        return drops;
        """,
        timeout=90,
    )
    assert got, "the drop never reached the page"
    assert {(d["files"], d["uris"]) for d in got} == {(0, "")}, got
    assert "Files" not in got[0]["types"], got
    assert picked.as_uri() in got[0]["html"], got


@pytest.mark.webview
@pytest.mark.usefixtures("gtk")
def test_a_page_cannot_download_into_the_users_folders(app_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "Downloads").mkdir(parents=True)
    got = eval_in_app(
        app_dir,
        """
        const save = (href, name) => {
          const a = document.createElement("a");
          Object.assign(a, { href, download: name });
          document.body.appendChild(a);
          a.click();
        };
        save(URL.createObjectURL(new Blob(["pwned"], { type: "text/plain" })), "blob.txt");
        save("/app.js", "same-origin.js");
        await new Promise((r) => setTimeout(r, 1000));
        return location.href;
        """,
        env={"HOME": str(home), "XDG_DOWNLOAD_DIR": str(home / "Downloads")},
    )
    assert got == "app://dev.ramparts.test/index.html"
    assert list((home / "Downloads").iterdir()) == []
    assert [p for p in home.rglob("*") if p.name in ("blob.txt", "same-origin.js")] == []


SESSION_DIALOG_COMMANDS = (
    DIALOG_COMMANDS
    + '''
OUTCOME: list[Any] = []

@command
def ask_and_keep(ctx: CallContext) -> None:
    OUTCOME.append(ctx.native_dialogs().message("question", "Go on?", buttons=["yes", "cancel"]))

@command
def shown(ctx: CallContext) -> bool:
    """Wait until a dialog shows."""
    import gi
    gi.require_version("Gtk", "3.0")
    from gi.repository import Gtk

    def visible() -> bool:
        return any(isinstance(w, Gtk.Dialog) and w.get_visible() for w in Gtk.Window.list_toplevels())

    end = time.monotonic() + 20
    while time.monotonic() < end and not ctx.app.hosts[ctx.window].call_on_ui(visible):
        time.sleep(0.05)
    return bool(ctx.app.hosts[ctx.window].call_on_ui(visible))

@command
def outcome() -> list[Any]:
    end = time.monotonic() + 20
    while not OUTCOME and time.monotonic() < end:
        time.sleep(0.05)
    return OUTCOME
'''
)


@pytest.mark.webview
@pytest.mark.usefixtures("gtk")
def test_a_dialog_still_open_when_its_page_goes_is_closed_with_no_button(tmp_path: Path) -> None:
    app = write_app(
        tmp_path / "app", capabilities="", commands=SESSION_DIALOG_COMMANDS, module="dlg2_cmds"
    )
    got = eval_in_app(
        app,
        """
        if (!sessionStorage.getItem("asked")) {
          sessionStorage.setItem("asked", "1");
          ramparts.invoke("ask_and_keep", {}).catch(() => {});
          sessionStorage.setItem("shown", String(await ramparts.invoke("shown", {})));
          location.reload();
          await new Promise(() => {});
        }
        return { shown: sessionStorage.getItem("shown"), outcome: await ramparts.invoke("outcome", {}) };
        """,
    )
    # The reload ended the session that held the dialog: closed, no button pressed.
    assert got == {"shown": "true", "outcome": [None]}
