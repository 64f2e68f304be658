"""Attack catalogue: a page using the web engine's own powers, on both engines.

None of these go through the bridge: the page asks the engine itself for the microphone,
the clipboard, the user's files. Each case runs in a real window whose config grants
none of them (or, for the variants, grants one to another window or to the page but
not to a frame), and must get nothing, with its request answered (a request left
pending is one nobody decided).

Each case's script returns ``{got, answered, detail}``: ``got`` whether the power was
obtained (tracks, a file, a "granted"), ``answered`` whether the engine settled the
request within the wait.

WebKitGTK 2.50 lacks many of these powers (no MIDI, no File System Access, no local
fonts, no fullscreen API in the page, no media devices unless a window is granted
them): there the case shows the power absent, which the page sees as the same refusal.
It has no capture device either (and no fake ones): a window granted the microphone
gets ``OverconstrainedError`` before WebKit asks for the permission, so a refusal inside
such a window (the frame variant) cannot be seen there.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import report
from engine_powers import PRELUDE, run_page, write_powers_app
from engines import module_engine, qt_only_skip  # noqa: F401  # fixtures: both engines

pytestmark = [pytest.mark.webview, pytest.mark.usefixtures("qt_only_skip")]

SECRET_DIR = "secret-dir"


@attrs.frozen
class Case:
    id: str
    description: str
    #: An async arrow function's body; ``FILE`` and ``DIR`` are paths of files to steal.
    js: str


def _settled(expr: str, got: str) -> str:
    """A case whose ``attempt`` result ``r`` got the power when ``got`` is true."""
    return f"const r = await {expr}; return {{ got: !!({got}), answered: r[0] !== 'pending', detail: r }};"


_OK = "r[0] === 'ok'"

CASES = [
    Case(
        "getusermedia-audio",
        "getUserMedia({audio}) for live microphone tracks",
        _settled("attempt(media({ audio: true }))", _OK),
    ),
    Case(
        "getusermedia-video",
        "getUserMedia({video}) for live camera tracks",
        _settled("attempt(media({ video: true }))", _OK),
    ),
    Case(
        "getusermedia-both",
        "getUserMedia({audio, video}) for both",
        _settled("attempt(media({ audio: true, video: true }))", _OK),
    ),
    Case(
        "getdisplaymedia",
        "getDisplayMedia() for a screen capture",
        _settled(
            "attempt(async () => tracks(await navigator.mediaDevices.getDisplayMedia({ video: true })))",
            _OK,
        ),
    ),
    Case(
        "notification-permission",
        "Notification.requestPermission() for 'granted'",
        _settled("attempt(() => Notification.requestPermission())", "r[1] === 'granted'"),
    ),
    Case(
        "geolocation",
        "navigator.geolocation.getCurrentPosition for a position",
        _settled(
            "attempt(() => new Promise((ok, no) => navigator.geolocation.getCurrentPosition("
            "(p) => ok(p.coords.latitude), (e) => no(new Error(`code ${e.code}`)))))",
            # code 2 (no position source) means the permission was granted
            _OK + " || /code 2/.test(r[1])",
        ),
    ),
    Case(
        "clipboard-write",
        "navigator.clipboard.writeText puts text on the clipboard",
        _settled("attempt(() => navigator.clipboard.writeText('planted'))", _OK),
    ),
    Case(
        "clipboard-read",
        "navigator.clipboard.readText reads the clipboard",
        _settled("attempt(() => navigator.clipboard.readText())", _OK),
    ),
    Case(
        "clipboard-read-clicked",
        "readText inside a real click (user activation)",
        _settled("clicked(() => navigator.clipboard.readText())", _OK),
    ),
    Case(
        "midi-sysex",
        "requestMIDIAccess({sysex: true}) inside a real click",
        _settled("clicked(() => navigator.requestMIDIAccess({ sysex: true }))", _OK),
    ),
    Case(
        "pointer-lock",
        "requestPointerLock inside a real click",
        _settled("clicked(() => document.body.requestPointerLock())", _OK),
    ),
    Case(
        "local-fonts",
        "queryLocalFonts() inside a real click lists installed fonts",
        _settled(
            "clicked(async () => (await window.queryLocalFonts()).length)", _OK + " && r[1] > 0"
        ),
    ),
    Case(
        "open-file-picker",
        "showOpenFilePicker() inside a real click hands over a file",
        _settled("clicked(async () => (await window.showOpenFilePicker()).length)", _OK),
    ),
    Case(
        "directory-picker",
        "showDirectoryPicker() inside a real click hands over a folder",
        _settled("clicked(async () => (await window.showDirectoryPicker()).name)", _OK),
    ),
    Case(
        "storage-persist",
        "navigator.storage.persist() inside a real click",
        _settled("clicked(() => navigator.storage.persist())", _OK + " && r[1] === true"),
    ),
    Case(
        "fullscreen",
        "requestFullscreen() inside a real click",
        _settled(
            "clicked(async () => { await document.documentElement.requestFullscreen(); "
            "return !!document.fullscreenElement; })",
            _OK + " && r[1]",
        ),
    ),
    Case(
        "file-input",
        "a real click on <input type=file>: the chooser hands over a file",
        "const names = await picked([]); return { got: names.length > 0, answered: true, detail: names };",
    ),
    Case(
        "folder-input",
        "a real click on <input webkitdirectory>: every file of a folder",
        "const names = await picked(['webkitdirectory']); "
        "return { got: names.length > 0, answered: true, detail: names };",
    ),
    Case(
        "file-paste",
        "a file copied in a file manager and pasted (Ctrl+V) reaches the page's paste handler",
        "const p = await pasted([FILE]); return { got: p.files.length > 0, answered: true, detail: p };",
    ),
    Case(
        "file-drop",
        "a file dropped on the window reaches the page's drop handler",
        "const names = await dropped([FILE]); return { got: names.length > 0, answered: true, detail: names };",
    ),
]

#: Variants in a window that *is* granted the microphone: a frame the page makes asks
#: for itself (the engine cannot say which frame asked, so nothing is granted while one
#: exists), and a second window that is not granted asks, before and after it reloads.
VARIANTS = [
    Case(
        "same-origin-iframe",
        "getUserMedia from a same-origin iframe of a granted page",
        "const f = document.createElement('iframe'); document.body.appendChild(f);"
        "await new Promise((ok) => setTimeout(ok, 200));"
        "const fm = f.contentWindow.navigator.mediaDevices;"
        + _settled(
            "attempt(async () => tracks(await fm.getUserMedia({ audio: true })))", _OK
        ).replace("return", "f.remove(); return"),
    ),
    Case("second-window", "getUserMedia from a second window the config does not grant", ""),
    Case("second-window-after-reload", "the same second window after it reloads", ""),
]

SECOND_JS = PRELUDE + textwrap.dedent(
    """
    (async () => {
      const again = sessionStorage.getItem("reloaded") === "1";
      const r = await attempt(media({ audio: true }));
      const id = again ? "second-window-after-reload" : "second-window";
      await ramparts.invoke("report", { value: { id, got: r[0] === "ok", answered: r[0] !== "pending", detail: r } });
      if (!again) { sessionStorage.setItem("reloaded", "1"); location.reload(); }
    })();
    """
)

#: The clipboard cases run each in a page of its own: a clipboard read can freeze a
#: WebKitGTK page (its web process waits for an answer nobody gives), which would take
#: the other cases with it. Seconds such a page may take.
#: Cases that cannot be observed on WebKitGTK, and why (they run on Qt only).
QT_ONLY = {
    "same-origin-iframe": "WebKitGTK has no capture device here: a granted page's frame gets "
    "OverconstrainedError before the permission is asked, so the frame's refusal cannot be "
    "observed",
}


#: The cases this module records (the docs' figures count them).
CASE_IDS = tuple(c.id for c in (*CASES, *VARIANTS))
EXPECTED = "refused: the window's config grants nothing of the kind, and the request is answered"


@pytest.fixture(scope="module")
def outcomes(engine: str) -> Iterator[dict[str, dict[str, Any]]]:
    found: dict[str, dict[str, Any]] = {}
    yield found
    report.write_part("engine_powers", list(found.values()), engine)
    assert set(found) <= set(CASE_IDS)


def _judge(outcomes: dict[str, dict[str, Any]], case: Case, got: dict[str, Any]) -> None:
    reasons = []
    if got["got"]:
        reasons.append(f"obtained {got['detail']!r}")
    if not got["answered"]:
        reasons.append(f"left pending {got['detail']!r}")
    ability = "iframe" if "iframe" in case.id else "xss"
    outcomes[case.id] = report.case_record(
        case.id, "engine", ability, case.description, EXPECTED, reasons
    )
    assert not reasons, f"{case.description}: {'; '.join(reasons)}"


def _body(cases: list[Case], files: Path) -> str:
    runs = "\n".join(
        f"out[{c.id!r}] = await (async () => {{ {c.js} }})().catch((e) => "
        f"({{ got: false, answered: false, detail: String(e) }}));"
        for c in cases
        if c.js
    )
    # Answers for any chooser the engine opens: a file, then a folder, as a person would.
    answers = [[str(files / "secret.txt")], [str(files / SECRET_DIR)]] * 3
    return (
        textwrap.dedent(
            f"""
        const FILE = {str(files / "secret.txt")!r};
        await ramparts.invoke("answer_choosers", {{ answers: {answers!r} }});
        const out = {{}};
        """
        )
        + runs
        + "\nout.choosers = await ramparts.invoke('choosers');\nreturn out;"
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("loot")
    (root / "secret.txt").write_text("secret")
    (root / SECRET_DIR).mkdir()
    (root / SECRET_DIR / "inner.txt").write_text("inner")
    return root


@pytest.fixture(scope="module")
def ungranted(tmp_path_factory: pytest.TempPathFactory, files: Path) -> dict[str, Any]:
    windows = '[[tool.ramparts.windows]]\nlabel = "main"\ncapabilities = ["window"]\n'
    app = write_powers_app(tmp_path_factory.mktemp("ungranted"), windows)
    result: dict[str, Any] = run_page(app, _body(CASES, files), timeout=180)
    return result


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory, files: Path) -> dict[str, Any]:
    windows = textwrap.dedent(
        """
        [[tool.ramparts.windows]]
        label = "main"
        capabilities = ["window"]
        web = ["microphone"]
        [[tool.ramparts.windows]]
        label = "second"
        entry = "second.html"
        """
    )
    second = (
        "<!doctype html><html><head><script src='second.js'></script></head><body></body></html>"
    )
    app = write_powers_app(
        tmp_path_factory.mktemp("variants"),
        windows,
        files={"second.html": second, "second.js": SECOND_JS},
    )
    # The control first: this page is granted the microphone, so the engine has one
    # (and a grant made before a frame exists must not carry over to the frame).
    control = "out.control = await attempt(media({ audio: true }));\n"
    body = _body(VARIANTS, files).replace("const out = {};\n", "const out = {};\n" + control)
    body = body.replace(
        "return out;",
        textwrap.dedent(
            """
            await ramparts.invoke("window.open", { label: "second" });
            for (let i = 0; i < 200; i++) {
              const seen = await ramparts.invoke("reports");
              if (seen.length >= 2) { for (const s of seen) out[s.id] = s; break; }
              await new Promise((ok) => setTimeout(ok, 100));
            }
            return out;
            """
        ),
    )
    result: dict[str, Any] = run_page(app, body, timeout=180)
    return result


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_engine_power_refused(
    ungranted: dict[str, Any],
    outcomes: dict[str, dict[str, Any]],
    engine: str,
    case: Case,
) -> None:
    _judge(outcomes, case, ungranted[case.id])


def test_no_file_chooser_is_even_shown(ungranted: dict[str, Any]) -> None:
    """Refused in Python before any native chooser opens: the user is never asked."""
    assert ungranted["choosers"] == []


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=[pytest.mark.qt_only(QT_ONLY[c.id])] if c.id in QT_ONLY else [])
        for c in VARIANTS
    ],
    ids=lambda c: c.id,
)
def test_engine_power_variant_refused(
    variants: dict[str, Any], outcomes: dict[str, dict[str, Any]], case: Case
) -> None:
    # The control got the microphone (WebKitGTK, with no device: the grant switched
    # capture on, which is off otherwise), so the refusals mean something.
    r = variants["control"]
    assert r[0] == "ok" or r[1].startswith("OverconstrainedError"), r
    _judge(outcomes, case, variants[case.id])
