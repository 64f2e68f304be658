"""Transport floor: what Qt WebEngine itself costs, with no Ramparts and no pywebview code.

    uv run python benchmarks/floor.py [--rounds N] [--out FILE]

Two targets of issue 9 (small calls at 2x pywebview, the 10 MB round trip at 8x its
string echo) are bounded by the two ways a page can reach Python in Qt WebEngine. This
script measures those ways bare, in a page of its own (plain PyQt6, one process per run),
so the bound is measured in the same run as the figures it bounds:

* ``channel``: the page -> isolated world -> QWebChannel property write -> Python -> signal
  -> page round trip Ramparts' channel carrier uses, with a 150-character message and
  nothing done with it: ``direct`` answers on the GUI thread; ``worker`` hands the text
  to a thread and answers from there, as the bridge does (a command must not run on the
  GUI thread, which is also Chromium's UI thread). Microseconds per sequential call.
* ``scheme``: ``fetch`` to a custom URL scheme handled in Python, as the binary carrier
  does: a POST of 10 MiB (``--bytes``) whose body Python reads and drops (``up``), a
  GET of that size (``down``), and a POST answered with the same bytes (``round trip``).
  Milliseconds.

``--child MODE`` runs one measurement and prints its JSON (used by the parent).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from bridge import qt_env  # the same headless Qt set-up as every other row

HERE = Path(__file__).resolve().parent
CALLS = 3000
WARMUP = 300
MIB = 1024 * 1024
BIG = 10 * MIB
BIG_RUNS = 3

# The page-side loops; `send(text)` resolves with the reply text.
CHANNEL_PAGE = """
(() => {
  let next = null;
  document.addEventListener("floor-in", (ev) => {
    if (ev.detail === "ready") { run(); return; }
    const r = next; next = null; r(ev.detail);
  });
  const send = (t) => new Promise((res) => {
    next = res; document.dispatchEvent(new CustomEvent("floor-out", { detail: t }));
  });
  async function run() {
    const msg = "x".repeat(150);
    for (let i = 0; i < __WARMUP__; i++) await send(msg);
    const t0 = performance.now();
    for (let i = 0; i < __CALLS__; i++) await send(msg);
    const us = (performance.now() - t0) / __CALLS__ * 1000;
    const detail = "DONE" + JSON.stringify({ us });
    document.dispatchEvent(new CustomEvent("floor-out", { detail }));
  }
})();
"""
# Runs in the isolated world, like Ramparts' relay: the page never sees `qt`.
CHANNEL_RELAY = """
new QWebChannel(qt.webChannelTransport, (ch) => {
  const b = ch.objects.floor;
  b.deliver.connect((t) => document.dispatchEvent(new CustomEvent("floor-in", { detail: t })));
  document.addEventListener("floor-out", (ev) => { b.inbox = ev.detail; });
  document.dispatchEvent(new CustomEvent("floor-in", { detail: "ready" }));
});
"""
SCHEME_PAGE = """
(async () => {
  const size = __BIG__, runs = __RUNS__;
  const body = new Uint8Array(size);
  for (let i = 0; i < size; i++) body[i] = (i * 7) & 255;
  async function timed(fn) {
    const t = performance.now();
    await fn();
    return performance.now() - t;
  }
  const post = { method: "POST", body, cache: "no-store" };
  async function up() {
    const r = await fetch("floor://app/up?n=" + size, post);
    await r.arrayBuffer();
  }
  async function down() {
    const r = await fetch("floor://app/down", { cache: "no-store" });
    const b = await r.arrayBuffer();
    if (b.byteLength !== size) throw new Error("short download");
  }
  async function echo() {
    const r = await fetch("floor://app/echo?n=" + size, post);
    const b = await r.arrayBuffer();
    if (b.byteLength !== size) throw new Error("short echo");
  }
  const out = {};
  try {
    for (const [name, fn] of [["up", up], ["down", down], ["round_trip", echo]]) {
      const ms = [];
      for (let i = 0; i < runs + 1; i++) { const t = await timed(fn); if (i) ms.push(t); }
      out[name] = ms;
    }
  } catch (e) { out.error = String(e); }
  const done = await fetch("floor://app/done", { method: "POST", body: JSON.stringify(out) });
  await done.arrayBuffer();
})();
"""


def child(mode: str, size: int) -> None:
    """One measurement in this process: print its JSON on stdout."""
    from PyQt6 import QtCore
    from PyQt6.QtCore import (
        QBuffer,
        QByteArray,
        QFile,
        QIODevice,
        QObject,
        QTimer,
        QUrl,
        QUrlQuery,
        pyqtSignal,
    )
    from PyQt6.QtWebChannel import QWebChannel
    from PyQt6.QtWebEngineCore import (
        QWebEngineScript,
        QWebEngineUrlRequestJob,
        QWebEngineUrlScheme,
        QWebEngineUrlSchemeHandler,
    )
    from PyQt6.QtWebEngineWidgets import QWebEngineView
    from PyQt6.QtWidgets import QApplication

    scheme = QWebEngineUrlScheme(b"floor")
    scheme.setSyntax(QWebEngineUrlScheme.Syntax.Host)
    scheme.setFlags(
        QWebEngineUrlScheme.Flag.SecureScheme | QWebEngineUrlScheme.Flag.FetchApiAllowed
    )
    QWebEngineUrlScheme.registerScheme(scheme)
    app = QApplication(sys.argv[:1])
    result: dict[str, Any] = {}

    def finish(value: dict[str, Any]) -> None:
        result.update(value)
        app.quit()

    class Outbox(QObject):
        text = pyqtSignal(str)

    class Floor(QObject):
        deliver = pyqtSignal(str)
        inboxChanged = pyqtSignal()

        def __init__(self) -> None:
            super().__init__()
            self.outbox = Outbox()
            self.outbox.text.connect(self.deliver)
            self.jobs: queue.SimpleQueue[str] = queue.SimpleQueue()
            threading.Thread(target=self._work, daemon=True).start()

        def _work(self) -> None:
            while True:
                self.outbox.text.emit(self.jobs.get())

        def _read(self) -> str:
            return ""

        def _write(self, text: str) -> None:
            if text.startswith("DONE"):
                finish(json.loads(text[4:]))
            elif mode == "channel-worker":
                self.jobs.put(text)
            else:
                self.deliver.emit(text)

        inbox = QtCore.pyqtProperty(str, fget=_read, fset=_write, notify=inboxChanged)  # type: ignore[attr-defined]

    def reply(
        job: QWebEngineUrlRequestJob, data: bytes, mime: bytes = b"application/octet-stream"
    ) -> None:
        buf = QBuffer(job)
        buf.setData(QByteArray(data))
        buf.open(QIODevice.OpenModeFlag.ReadOnly)
        job.reply(mime, buf)

    def read_body(job: QWebEngineUrlRequestJob) -> bytes:
        # One read of the announced size: Qt's body device repeats its first chunk when
        # read in pieces (see ramparts.backends.qt._read_body).
        n = int(QUrlQuery(job.requestUrl()).queryItemValue("n") or 0)
        device = job.requestBody()
        assert device is not None
        device.open(QIODevice.OpenModeFlag.ReadOnly)
        return bytes(device.read(n) if n else device.readAll())

    payload = (bytes((i * 7) & 255 for i in range(256)) * (size // 256 + 1))[:size]

    class Handler(QWebEngineUrlSchemeHandler):
        def requestStarted(self, job: QWebEngineUrlRequestJob | None) -> None:
            assert job is not None
            path = job.requestUrl().path()
            if path == "/":
                reply(job, b"<!doctype html><p>floor</p>", b"text/html")
            elif path == "/up":
                read_body(job)
                reply(job, b"")
            elif path == "/down":
                reply(job, payload)
            elif path == "/echo":
                reply(job, read_body(job))
            elif path == "/done":
                body = read_body(job)
                reply(job, b"")
                QTimer.singleShot(0, lambda: finish(json.loads(body)))
            else:
                job.fail(QWebEngineUrlRequestJob.Error.UrlNotFound)

    view = QWebEngineView()
    page = view.page()
    assert page is not None
    profile = page.profile()
    assert profile is not None
    handler = Handler(app)
    profile.installUrlSchemeHandler(b"floor", handler)
    floor = Floor()
    if mode.startswith("channel"):
        f = QFile(":/qtwebchannel/qwebchannel.js")
        f.open(QIODevice.OpenModeFlag.ReadOnly)
        relay = bytes(f.readAll().data()).decode() + CHANNEL_RELAY
        f.close()
        channel = QWebChannel(page)
        channel.registerObject("floor", floor)
        page.setWebChannel(channel, QWebEngineScript.ScriptWorldId.ApplicationWorld)
        code = CHANNEL_PAGE.replace("__WARMUP__", str(WARMUP)).replace("__CALLS__", str(CALLS))
        scripts = [(relay, QWebEngineScript.ScriptWorldId.ApplicationWorld)]
        scripts.append((code, QWebEngineScript.ScriptWorldId.MainWorld))
    else:
        code = SCHEME_PAGE.replace("__BIG__", str(size)).replace("__RUNS__", str(BIG_RUNS))
        scripts = [(code, QWebEngineScript.ScriptWorldId.MainWorld)]
    page_scripts = page.scripts()
    assert page_scripts is not None
    for source, world in scripts:
        s = QWebEngineScript()
        s.setSourceCode(source)
        s.setInjectionPoint(QWebEngineScript.InjectionPoint.DocumentReady)
        s.setWorldId(world)
        page_scripts.insert(s)
    view.setUrl(QUrl("floor://app/"))
    view.show()
    QTimer.singleShot(120_000, lambda: finish({"error": "no result within 120 s"}))
    app.exec()
    print(json.dumps(result), flush=True)


MODES = ("channel-direct", "channel-worker", "scheme")


def run_child(mode: str, size: int) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--bytes", str(size)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **qt_env()},
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"floor {mode} failed (exit {proc.returncode}): {proc.stderr[-1500:]}")
    value: dict[str, Any] = json.loads(lines[-1])
    if "error" in value:
        raise RuntimeError(f"floor {mode}: {value['error']}")
    return value


def measure(rounds: int, size: int = BIG) -> dict[str, Any]:
    """Every mode ``rounds`` times, taking turns; medians and the raw runs."""
    raw: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
    for _ in range(rounds):
        for mode in MODES:
            raw[mode].append(run_child(mode, size))
    out: dict[str, Any] = {"rounds": rounds, "calls": CALLS, "big_bytes": size, "raw": raw}
    for mode in ("channel-direct", "channel-worker"):
        out[f"{mode}_us"] = statistics.median(r["us"] for r in raw[mode])
    for phase in ("up", "down", "round_trip"):
        out[f"scheme_{phase}_ms"] = statistics.median(ms for r in raw["scheme"] for ms in r[phase])
    return out


def report(res: dict[str, Any]) -> list[str]:
    mib = f"{res['big_bytes'] / MIB:g} MiB"
    return [
        "| bare transport (no Ramparts, no pywebview) | median |",
        "|---|---|",
        f"| channel round trip, answered on the GUI thread | {res['channel-direct_us']:.0f} us |",
        f"| channel round trip, answered from a worker | {res['channel-worker_us']:.0f} us |",
        f"| scheme: {mib} up (POST, body read in Python) | {res['scheme_up_ms']:.0f} ms |",
        f"| scheme: {mib} down (GET) | {res['scheme_down_ms']:.0f} ms |",
        f"| scheme: {mib} round trip (POST echoed) | {res['scheme_round_trip_ms']:.0f} ms |",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--child", choices=MODES)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bytes", type=int, default=BIG, help="size of the scheme transfers")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "floor.json")
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.bytes)
        return 0
    res = measure(args.rounds, args.bytes)
    print("\n".join(report(res)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
