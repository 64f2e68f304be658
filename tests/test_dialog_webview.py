"""The dialog capability with real native dialogs (Qt's offscreen, GTK's under Xvfb),
operated by the test-only ``autodialog`` plugin, and through the ``ramparts_dialog_answer``
hook."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import REPORT_COMMANDS, write_app

from ramparts.testing import eval_in_app

pytestmark = [pytest.mark.webview, pytest.mark.usefixtures("engine")]


def dialog_app(root: Path, *, with_fs: bool = True) -> Path:
    fs = textwrap.dedent(
        """
        [tool.ramparts.capabilities.fs]
        allow = ["read_text", "write_text"]
        [tool.ramparts.capabilities.fs.scope]
        allow = []
        """
    )
    caps = textwrap.dedent(
        """
        [tool.ramparts.capabilities.dialog]
        allow = ["open", "save", "message", "ask", "confirm"]
        [tool.ramparts.capabilities.autodialog]
        allow = []
        """
    )
    return write_app(root, capabilities=caps + (fs if with_fs else ""), module="dialog_cmds")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    docs = tmp_path / "docs"
    (docs / "folder").mkdir(parents=True)
    out = {
        "picked": docs / "picked.txt",
        "sibling": docs / "sibling.txt",
        "inside": docs / "folder" / "inside.txt",
        "other": docs / "folder" / "other.txt",
        "new": docs / "new.txt",
        "folder": docs / "folder",
    }
    for name in ("picked", "sibling", "inside", "other"):
        out[name].write_text(f"{name} content")
    return out


def run(app_dir: Path, tmp_path: Path, mode: str, answers: list[Any], script: str) -> Any:
    plan = tmp_path / f"dialogs-{mode}.json"
    plan.write_text(json.dumps({"mode": mode, "answers": answers}))
    return eval_in_app(app_dir, script, env={"RAMPARTS_TEST_DIALOGS": str(plan)}, timeout=60)


SCRIPT = """
const f = %s;
const code = (p) => p.then((v) => v, (e) => e.code);
const read = (path) => code(ramparts.fs.read_text({ path }));
const out = {};
out.before = await read(f.picked);
out.opened = await ramparts.dialog.open({ filters: [{ name: "Text", extensions: ["txt"] }] });
out.picked = await read(f.picked);
out.sibling = await read(f.sibling);
out.cancelled = await ramparts.dialog.open({});
out.folder = await ramparts.dialog.open({ directory: true });
out.inside = await read(f.inside);
out.siblingStill = await read(f.sibling);
out.many = await ramparts.dialog.open({ multiple: true });
out.yes = await ramparts.dialog.ask({ text: "Proceed?" });
out.no = await ramparts.dialog.ask({ text: "Proceed?" });
out.ok = await ramparts.dialog.confirm({ text: "Sure?" });
out.cancel = await ramparts.dialog.confirm({ text: "Sure?" });
out.message = await ramparts.dialog.message({ text: "Saved", level: "info" });
out.saved = await ramparts.dialog.save({ default_name: "new.txt" });
out.write = await code(ramparts.fs.write_text({ path: f.new, contents: "written" }));
out.badFilter = await code(ramparts.dialog.open({ filters: [{ name: "x;y", extensions: ["txt"] }] }));
return out;
"""


def answers(f: dict[str, Path]) -> list[Any]:
    return [
        [str(f["picked"])],
        "cancel",
        [str(f["folder"])],
        [str(f["sibling"]), str(f["picked"])],
        "yes",
        "no",
        "ok",
        "cancel",
        "ok",
        [str(f["new"])],
    ]


def check(result: dict[str, Any], f: dict[str, Path]) -> None:
    assert result["before"] == "out_of_scope"
    assert result["opened"] == str(f["picked"])
    assert result["picked"] == "picked content"
    assert result["sibling"] == "out_of_scope"  # exactly the picked file, not its folder
    assert result["cancelled"] is None
    assert result["folder"] == str(f["folder"])
    assert result["inside"] == "inside content"  # a picked folder grants its tree
    assert result["siblingStill"] == "out_of_scope"
    assert sorted(result["many"]) == sorted([str(f["sibling"]), str(f["picked"])])
    assert (result["yes"], result["no"], result["ok"], result["cancel"]) == (
        True,
        False,
        True,
        False,
    )
    assert result["message"] is None
    assert result["saved"] == str(f["new"])
    assert result["write"] is None and f["new"].read_text() == "written"
    assert result["badFilter"] == "invalid_args"


@pytest.mark.parametrize("mode", ["drive", "hook"])
def test_picked_paths_join_this_sessions_scope(
    tmp_path: Path, files: dict[str, Path], mode: str
) -> None:
    """``drive``: real native dialogs, operated on screen; ``hook``: answered by the hook."""
    app_dir = dialog_app(tmp_path / "app")
    script = SCRIPT % json.dumps({k: str(v) for k, v in files.items()})
    check(run(app_dir, tmp_path, mode, answers(files), script), files)


def test_nothing_is_granted_without_fs(tmp_path: Path, files: dict[str, Path]) -> None:
    """The page side: no fs at all. That no grant is recorded is proven on the session
    itself in ``test_dialog.py::test_a_window_without_fs_records_no_grant``."""
    app_dir = dialog_app(tmp_path / "app", with_fs=False)
    result = run(
        app_dir,
        tmp_path,
        "hook",
        [[str(files["picked"])]],
        """
        return { picked: await ramparts.dialog.open({}), fs: typeof ramparts.fs };
        """,
    )
    assert result == {"picked": str(files["picked"]), "fs": "undefined"}


RELOAD_COMMANDS = (
    REPORT_COMMANDS
    + """


@command
def dialogs(ctx: CallContext) -> list[str]:
    \"\"\"The texts of the message boxes on screen now.\"\"\"
    import os

    def find_gtk() -> list[str]:
        from gi.repository import Gtk

        return sorted(
            w.get_property("text")
            for w in Gtk.Window.list_toplevels()
            if isinstance(w, Gtk.MessageDialog) and w.get_visible()
        )

    def find() -> list[str]:
        from PyQt6.QtWidgets import QApplication, QMessageBox

        return sorted(
            w.text()
            for w in QApplication.allWidgets()
            if isinstance(w, QMessageBox) and w.isVisible()
        )

    gtk = os.environ["RAMPARTS_BACKEND"] == "gtk"
    return ctx.session.host.call_on_ui(find_gtk if gtk else find)
"""
)

RELOADER_JS = """
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const call = (name, args) => ramparts.invoke(name, args || {});
const until = async (cond, ms = 10000) => {
  const end = Date.now() + ms;
  for (;;) { const v = await cond(); if (v || Date.now() > end) return v; await sleep(20); }
};
(async () => {
  if (!sessionStorage.getItem("reloaded")) {
    sessionStorage.setItem("reloaded", "1");
    ramparts.dialog.message({ text: "first" }).catch(() => {});
    await until(async () => (await call("dialogs")).includes("first"));
    location.reload();  // the dialog is still open: nobody answers it
    return;
  }
  const firstClosed = await until(async () => !(await call("dialogs")).includes("first"));
  // One dialog per window: while the first page's call unwinds, this one may be "busy".
  let outcome;
  for (let i = 0; i < 100; i++) {
    const shown = ramparts.dialog.message({ text: "second" }).then(
      () => "closed", (e) => (e.data && e.data.reason) || e.code);
    outcome = await Promise.race([shown, sleep(300).then(() => "open")]);
    if (outcome !== "busy") break;
    await sleep(50);
  }
  await until(async () => (await call("dialogs")).includes("second"));
  await call("report", { value: { firstClosed, outcome, dialogs: await call("dialogs") } });
})();
"""


def test_a_dialog_ends_with_its_page_and_a_window_shows_one_at_a_time(tmp_path: Path) -> None:
    """Found on main: "one dialog at a time" was per session, so a page that reloaded
    with a dialog open could open another on top of it, and the first stayed open (its
    call pinning a worker) for a page that was gone."""
    caps = textwrap.dedent(
        """
        [tool.ramparts.capabilities.dialog]
        allow = ["message"]
        [[tool.ramparts.windows]]
        label = "main"
        capabilities = []
        [[tool.ramparts.windows]]
        label = "second"
        entry = "second.html"
        capabilities = ["dialog"]
        start = true
        """
    )
    app_dir = write_app(
        tmp_path / "app",
        capabilities=caps,
        commands=RELOAD_COMMANDS,
        module="dialog_reload_cmds",
        files={
            "second.html": "<!doctype html><script src='second.js'></script>",
            "second.js": RELOADER_JS,
        },
    )
    result = eval_in_app(
        app_dir,
        """
        for (let i = 0; i < 2000; i++) {
          const reports = await ramparts.invoke("reports");
          if (reports.length) return reports[0];
          await new Promise((r) => setTimeout(r, 20));
        }
        return "no report";
        """,
        timeout=90,
    )
    assert result == {"firstClosed": True, "outcome": "open", "dialogs": ["second"]}
