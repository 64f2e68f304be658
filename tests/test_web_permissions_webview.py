"""The web engine's own powers, per window, in real windows: what ``web = [...]`` grants
works, and nothing else does. The refusals are the attack catalogue's
(``tests/security/test_engine_powers.py``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from engine_powers import run_page, write_powers_app

from ramparts.backends.chromium import refused_switch
from ramparts.bridge.host import WindowHost
from ramparts.bridge.session import Registry
from ramparts.release.audit import Audit, _read_web, render_table

QT_INPUT = pytest.mark.qt_only(
    "its expectations are Chromium's powers (fake capture devices, local fonts, folder "
    "uploads, File System Access, dropped and pasted files), which this WebKitGTK lacks "
    "whatever the grant; GTK's grants and refusals: tests/test_gtk_backend.py"
)


@pytest.mark.webview
@pytest.mark.usefixtures("engine")
@QT_INPUT
def test_a_window_gets_the_microphone_it_is_granted_and_nothing_more(tmp_path: Path) -> None:
    app = write_powers_app(
        tmp_path / "app",
        '[[tool.ramparts.windows]]\nlabel = "main"\nweb = ["microphone"]\n',
    )
    got = run_page(
        app,
        """
        return {
          audio: await attempt(media({ audio: true })),
          video: await attempt(media({ video: true })),
          both: await attempt(media({ audio: true, video: true })),
          text: await pasted([], "typed elsewhere"),
          flags: await ramparts.invoke("engine_flags"),
        };
        """,
    )
    assert got["audio"] == ["ok", ["audio:live"]]
    assert got["video"][0] == "err", got
    # Asked for both, the page gets what it is granted: the microphone alone.
    assert got["both"] == ["ok", ["audio:live"]]
    # The environment had the auto-approving switch, and pywebview added it again for the
    # window: the engine, started before that, never took it (else video would be live).
    assert "--use-fake-ui-for-media-stream" in got["flags"].split()
    # Without file-drop, text still pastes: only files on the clipboard are held back.
    assert got["text"] == {"files": [], "text": "typed elsewhere"}


GRANTED = textwrap.dedent(
    """
    [[tool.ramparts.windows]]
    label = "main"
    web = ["microphone", "camera", "notifications", "clipboard", "local-fonts",
           "fullscreen", "pointer-lock", "file-input", "file-drop"]
    """
)


@pytest.mark.webview
@pytest.mark.usefixtures("engine")
@QT_INPUT
def test_granted_powers_work(tmp_path: Path) -> None:
    loot = tmp_path / "loot"
    (loot / "folder").mkdir(parents=True)
    (loot / "picked.txt").write_text("picked")
    (loot / "folder" / "inner.txt").write_text("inner")
    app = write_powers_app(tmp_path / "app", GRANTED)
    picked = str(loot / "picked.txt")
    got = run_page(
        app,
        f"""
        const out = {{}};
        // A query and a fragment in the page's URL change nothing.
        history.replaceState(null, "", "?q=1#fragment");
        await ramparts.invoke("answer_choosers", {{ answers: [[{picked!r}], [{picked!r}]] }});
        out.both = await attempt(media({{ audio: true, video: true }}));
        out.notifications = await attempt(() => Notification.requestPermission());
        out.clipboard = await attempt(async () => {{
          await navigator.clipboard.writeText("round trip");
          return await navigator.clipboard.readText();
        }});
        out.fonts = await clicked(async () => (await window.queryLocalFonts()).length);
        out.pointer = await clicked(async () => {{
          await document.body.requestPointerLock();
          document.exitPointerLock();  // or the lock takes the clicks that follow
        }});
        out.fullscreen = await clicked(async () => {{
          await document.documentElement.requestFullscreen();
          const on = !!document.fullscreenElement;
          await document.exitFullscreen();
          return on;
        }});
        out.input = await picked([]);
        out.folder = await picked(["webkitdirectory"]);
        out.handle = await clicked(async () => {{
          const [h] = await window.showOpenFilePicker();
          window.handle = h;
          return await (await h.getFile()).text();
        }});
        out.write = await clicked(async () => (await window.handle.createWritable()) && "writable");
        out.drop = await dropped([{picked!r}]);
        out.paste = await pasted([{picked!r}]);
        out.choosers = await ramparts.invoke("choosers");
        return out;
        """,
        timeout=120,
    )
    assert got["both"] == ["ok", ["audio:live", "video:live"]]
    assert got["notifications"] == ["ok", "granted"]
    assert got["clipboard"] == ["ok", "round trip"]
    assert got["fonts"][0] == "ok" and got["fonts"][1] > 0, got["fonts"]
    assert got["fullscreen"] == ["ok", True]
    assert got["input"] == ["picked.txt"]
    # Folder uploads stay refused with file-input, before any chooser opens; a File
    # System Access picker hands over the picked file to read, and no more.
    assert got["folder"] == []
    assert got["handle"] == ["ok", "picked"]
    assert got["write"][0] == "err" and "NotAllowedError" in got["write"][1], got["write"]
    assert [c["folder"] for c in got["choosers"]] == [False, False]
    assert got["drop"] == ["picked.txt"]
    assert got["paste"]["files"] == ["picked.txt"]
    assert got["pointer"] == ["ok", None]


def test_auto_approving_switches_are_refused() -> None:
    """From QTWEBENGINE_CHROMIUM_FLAGS and the app's arguments alike (the webview test
    above shows one set in the environment taking no effect)."""
    refused = [
        "--use-fake-ui-for-media-stream",
        "-use-fake-ui-for-fedcm",
        "--auto-accept-camera-and-microphone-capture",
        "--auto-select-desktop-capture-source=Entire screen",
        "--auto-accept-this-tab-capture",
        "--remote-debugging-port=9222",
    ]
    kept = ["--use-fake-device-for-media-stream", "--disable-gpu", "notes.txt"]
    assert [a for a in refused + kept if not refused_switch(a)] == kept


def test_check_lists_each_windows_web_permissions(tmp_path: Path) -> None:
    app = write_powers_app(
        tmp_path / "app",
        '[[tool.ramparts.windows]]\nlabel = "main"\nweb = ["microphone", "file-drop"]\n'
        '[[tool.ramparts.windows]]\nlabel = "second"\n',
    )
    proc = subprocess.run(
        [sys.executable, "-m", "ramparts", "check", str(app)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "  main         capabilities: none; web permissions: microphone, file-drop" in lines
    assert "  second       capabilities: none; web permissions: none" in lines


def test_audit_reports_the_bundled_configs_web_permissions(tmp_path: Path) -> None:
    """``scan_artifact`` reads the built app's own ``app/pyproject.toml`` with this."""
    app = write_powers_app(
        tmp_path / "app",
        '[[tool.ramparts.windows]]\nlabel = "main"\nweb = ["camera"]\n'
        '[[tool.ramparts.windows]]\nlabel = "second"\n',
    )
    web = _read_web((app / "pyproject.toml").read_text())
    assert web == {"main": ["camera"], "second": []}
    assert _read_web(
        '[tool.ramparts]\nname = "x"\n[tool.ramparts.window]\nweb = ["clipboard"]\n'
    ) == {"main": ["clipboard"]}
    result = Audit(
        tmp_path, {"windows": {"main": [], "second": []}}, "valid", "pubkey", {}, {}, web=web
    )
    assert result.to_json()["web"] == web
    table = render_table(result).splitlines()
    assert "window main web permissions: camera" in table
    assert "window second web permissions: none" in table


def test_allow_web_grants_only_the_apps_own_page(tmp_path: Path) -> None:
    """The policy the backend asks, for what the real engine cannot be made to send
    here: a request of another origin (frames of other origins never load)."""
    (tmp_path / "ui").mkdir()
    host = WindowHost(
        label="main",
        identifier="dev.ramparts.test",
        ui=tmp_path / "ui",
        entry="index.html",
        csp={},
        registry=Registry(),
        dispatcher=None,  # type: ignore[arg-type]  # no call is made
        handle_mode="per-session",
        web=("microphone",),
    )
    page = "app://dev.ramparts.test/index.html"
    assert not host.allow_web("microphone", "app://dev.ramparts.test", page)  # no session yet
    host.new_session()
    assert host.allow_web("microphone", "app://dev.ramparts.test", page)
    assert host.allow_web("microphone", "app://dev.ramparts.test/", page)
    assert not host.allow_web("camera", "app://dev.ramparts.test", page)
    assert not host.allow_web("microphone", "https://evil.example", page)
    assert not host.allow_web("microphone", "app://dev.ramparts.test.evil", page)
    assert not host.allow_web("microphone", "app://dev.ramparts.test", "about:blank")
    assert not host.allow_web("microphone", "app://dev.ramparts.test", page, True)
