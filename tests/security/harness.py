"""Runs the attack corpus in the real webview and judges each case by what Python did.

One app launch (``ramparts dev APP --headless --trace --eval``) per launch group; the
cases of a group run one after the other in the same page. Python-side evidence:

* ``RAMPARTS_CANARY``: the file the canary command appends each call's tag to;
* ``RAMPARTS_KEYLOG``: the session keys and handles, to build forged messages and to
  search everything a case collected for a leaked secret;
* the ``--trace`` lines: every call that passed MAC and replay checks, by outcome;
* a loopback HTTP server (a second origin, ``__LOOPBACK__`` in a case's JS) that
  records every request: a case's request there means the page got through the CSP.

Page-side, each case's ``securitypolicyviolation`` events go into the report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs
from attacks import CASES, PRELUDE, UI_FILES, Case
from conftest import read_keylog, write_app

CANARY_COMMANDS = '''
import os
from ramparts import command


def _mark(tag: str) -> None:
    with open(os.environ["RAMPARTS_CANARY"], "a", encoding="utf-8") as f:
        f.write(tag + "\\n")


@command
def canary(tag: str) -> str:
    """Leaves a trace outside the page: the test reads the file to see whether Python ran."""
    _mark(tag)
    return "ran:" + tag


@command
def canary_bytes(tag: str, data: bytes) -> bytes:
    """The same on the binary carrier."""
    _mark(tag)
    return bytes(data)
'''

CAPABILITIES = textwrap.dedent(
    """
    [tool.ramparts.capabilities.sample]
    allow = ["echo", "echo_bytes", "slow_async"]
    """
)

RELOAD_ONCE = (
    "if (!sessionStorage.getItem('r')) { sessionStorage.setItem('r', '1'); location.reload(); }\n"
)


@attrs.frozen
class Launch:
    security: str = ""  # "{loopback}" stands for the loopback server's origin
    app_js: str = "window.appLoaded = true;\n"
    before_app: tuple[str, ...] = ()  # scripts the page loads before app.js
    sessions: int = 1  # sessions to wait for before forging (a reload makes two)
    #: Run the (single) case with follow.py, which follows the page to about:blank.
    follow: bool = False


LAUNCHES: dict[str, Launch] = {
    "shared": Launch(),
    "keylog": Launch(),
    "reload": Launch(app_js=RELOAD_ONCE, sessions=2),
    "per-call": Launch(security='handles = "per-call"'),
    "poison": Launch(before_app=("poison.js",)),
    "poison-2": Launch(),
    "navigation": Launch(),
    # The app lets other-origin frames through its CSP: only Qt's navigation check is left.
    "loose-csp": Launch(security='csp = { "frame-src" = ["https:", "data:", "blob:"] }'),
    "follow-about-blank": Launch(follow=True),
}

#: Not an attack launch: the CSP opened to the loopback origin, to show that the network
#: cases reach the server when nothing but the CSP stands in the way. (Config refuses a
#: loopback script source outright, so script-src and default-src stay closed.)
OPEN_TO_LOOPBACK = Launch(
    security="csp = { "
    + ", ".join(
        f'"{d}" = ["{{loopback}}", "ws://127.0.0.1:{{port}}"]'
        for d in ("connect-src", "img-src", "frame-src", "form-action")
    )
    + " }"
)

#: Seconds one case may take in the page before it counts as an error.
CASE_TIMEOUT_MS = 10_000


def current_engine() -> str:
    """The engine the apps this process starts run on (``RAMPARTS_BACKEND``, as the
    ``engine`` fixture sets it; Qt by default)."""
    return os.environ.get("RAMPARTS_BACKEND") or "qt"


class Loopback:
    """A second origin, ``http://127.0.0.1:<port>``, that records every request.

    Paths start with the case id, so each request is charged to the case that made it.
    A ``.js`` path answers with a script that calls the canary, anything else with text
    any origin may read: if the CSP let a request through, it would also succeed.
    """

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            timeout = 5  # a stalled client cannot hold a thread

            def _answer(self) -> None:
                seen.append((self.command, self.path))
                case = self.path.strip("/").split("/", 1)[0]
                js = self.path.endswith(".js")
                body = f"ramparts.invoke('canary', {{tag: '{case}'}});" if js else "reached"
                self.send_response(200)
                self.send_header("Content-Type", "text/javascript" if js else "text/plain")
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body.encode())

            do_GET = do_POST = do_HEAD = do_OPTIONS = do_PUT = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def by_case(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for method, path in list(self.requests):
            out.setdefault(path.strip("/").split("/", 1)[0], []).append(f"{method} {path}")
        return out


@contextmanager
def loopback() -> Iterator[Loopback]:
    """The loopback server for the duration of a ``with`` block, then stopped."""
    server = Loopback()
    server._thread.start()
    try:
        yield server
    finally:
        server._server.shutdown()
        server._server.server_close()
        server._thread.join(timeout=10)


@attrs.define
class Outcome:
    case: Case
    status: str  # "blocked" | "escaped" | "error" | "known-limit"
    reasons: list[str]
    result: Any
    traces: int
    launch_seconds: float
    #: The page's securitypolicyviolation events during the case.
    violations: list[dict[str, str]] = attrs.field(factory=list)
    engine: str = attrs.field(factory=current_engine)

    def to_json(self) -> dict[str, Any]:
        c = self.case
        return {
            "id": c.id,
            "engine": self.engine,
            "category": c.category,
            "ability": c.ability,
            "description": c.description,
            "expected": c.expected,
            "status": self.status,
            "reasons": self.reasons,
            "canary_traces": self.traces,
            "csp_violations": len(self.violations),
            "violated": sorted({v.get("directive", "?") for v in self.violations}),
            "result": _trim(self.result),
        }


def _trim(value: Any) -> Any:
    """Keep the report readable: drop the bulky text dumps cases collect for leak checks."""
    if isinstance(value, dict):
        return {k: _trim(v) for k, v in value.items() if k != "texts"}
    if isinstance(value, list):
        return [_trim(v) for v in value[:20]]
    return value


def dev_command(app_dir: Path, script: Path, timeout: float) -> list[str]:
    """``ramparts dev APP --headless --trace --eval SCRIPT``: bridge calls go to stderr."""
    return [
        *(sys.executable, "-m", "ramparts", "dev", str(app_dir), "--headless", "--trace"),
        *("--eval", str(script), "--timeout", str(timeout)),
    ]


def page_script(cases: list[Case], origin: str) -> str:
    """The eval body: the prelude, then each case and its control call, in order."""
    entries = ",\n".join(
        f"[{json.dumps(c.id)}, {json.dumps(c.control)}, async (ID) => {{\n"
        + c.js.replace("__LOOPBACK__", origin)
        + "\n}]"
        for c in cases
    )
    return f"""
const ENGINE = {json.dumps(current_engine())};
{PRELUDE}
const CASES = [{entries}];
const results = {{}};
const timeout = (ms) => sleep(ms).then(() => ({{ error: "the case did not finish in " + ms + " ms" }}));
for (const [id, control, fn] of CASES) {{
  const v0 = _violations.length;
  let result;
  try {{ result = await _race([fn(id), timeout({CASE_TIMEOUT_MS})]); }}
  catch (e) {{ result = {{ error: String((e && e.stack) || e) }}; }}
  let check = null;
  if (control) check = await _race([settle(canary("control:" + id)), timeout(5000)]);
  await sleep(50);  // violation events are dispatched as tasks
  results[id] = {{ result, control: check, violations: _violations.slice(v0, v0 + 40) }};
}}
return results;
"""


def _forger(
    cases: list[Case], launch: Launch, keylog: Path, target: Path, stop: threading.Event
) -> None:
    """Once the key log has the sessions, write every case's forged messages for the page."""
    while not stop.is_set():
        sessions = read_keylog(keylog)
        if len(sessions) >= launch.sessions:
            out = {
                c.id: {k: v.hex() for k, v in c.forge(sessions).items()}
                for c in cases
                if c.forge is not None
            }
            tmp = target.with_suffix(".tmp")
            tmp.write_text(json.dumps(out))
            tmp.replace(target)
            return
        stop.wait(0.02)


def run_launch(
    name: str, cases: list[Case], workdir: Path, server: Loopback, launch: Launch | None = None
) -> list[Outcome]:
    launch = launch or LAUNCHES[name]
    root = workdir / name
    files = dict(UI_FILES)
    files["app.js"] = launch.app_js
    if launch.before_app:
        tags = "".join(f"<script src='{s}'></script>" for s in launch.before_app)
        files["index.html"] = files["index.html"].replace(
            "<script src='app.js'>", tags + "<script src='app.js'>"
        )
    app_dir = write_app(
        root,
        capabilities=CAPABILITIES,
        commands=CANARY_COMMANDS,
        module=f"corpus_{name.replace('-', '_')}",
        files=files,
        security=launch.security.replace("{loopback}", server.origin).replace(
            "{port}", str(server.port)
        ),
    )
    canary_log, keylog = root / "canary.log", root / "keys.log"
    script = root / "attack.js"
    script.write_text(page_script(cases, server.origin))
    timeout = 30 + len(cases) * (CASE_TIMEOUT_MS / 1000 + 6)
    command = dev_command(app_dir, script, timeout)
    if launch.follow:
        (case,) = cases
        body = f"const ENGINE = {json.dumps(current_engine())};\n{PRELUDE}\n"
        body += f"const ID = {json.dumps(case.id)};\n{case.js}"
        script.write_text(json.dumps({"id": case.id, "js": body}))
        command = [
            sys.executable,
            str(Path(__file__).with_name("follow.py")),
            str(app_dir),
            str(script),
        ]
    stop = threading.Event()
    forger = None
    if any(c.forge for c in cases):
        target = app_dir / "ui" / "__forged.json"
        forger = threading.Thread(target=_forger, args=(cases, launch, keylog, target, stop))
        forger.start()
    env = {**os.environ, "RAMPARTS_CANARY": str(canary_log), "RAMPARTS_KEYLOG": str(keylog)}
    started = time.monotonic()
    try:
        proc = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout + 60,
            env=env,
        )
    finally:
        stop.set()
        if forger is not None:
            forger.join()
    seconds = time.monotonic() - started
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    try:
        results = json.loads(lines[-1]) if proc.returncode == 0 and lines else None
    except json.JSONDecodeError:
        results = None
    tags = Counter(canary_log.read_text().split()) if canary_log.exists() else Counter()
    secrets = _secrets(read_keylog(keylog))
    hits = server.by_case()
    outcomes = []
    for case in cases:
        if results is None or case.id not in results:
            tail = "\n".join(proc.stderr.splitlines()[-15:])
            outcome = Outcome(
                case,
                "error",
                [f"launch {name!r} failed (exit {proc.returncode}):\n{tail}"],
                None,
                tags[case.id],
                seconds,
            )
        else:
            outcome = judge(case, results[case.id], tags, secrets, seconds)
            outcome.violations = results[case.id].get("violations") or []
        if hits.get(case.id):
            outcome.status = "escaped"
            outcome.reasons.append(f"the loopback server received: {hits[case.id][:10]}")
        outcomes.append(outcome)
    ids = {c.id for c in CASES}
    stray = [
        t
        for t in tags
        if t not in ids
        and t.split(":", 1)[0] not in ids  # "<id>:<part>": a genuine step of a case
        and not t.startswith(("control:", "control-", "spend-"))
    ]
    if stray:  # a tag no case or control sent: something ran that nobody asked for
        outcomes[0].status = "escaped"
        outcomes[0].reasons.append(f"unexpected canary tags in launch {name!r}: {stray}")
    return outcomes


def _secrets(sessions: list[dict[str, Any]]) -> dict[str, str]:
    out = {}
    for s in sessions:
        out[s["key"]] = "session key"
        for name, pool in s["handles"].items():
            for h in pool:
                out[h] = f"a handle of {name}"
    return out


def judge(
    case: Case, got: dict[str, Any], tags: Counter[str], secrets: dict[str, str], seconds: float
) -> Outcome:
    result, control = got.get("result"), got.get("control")
    traces = tags[case.id]
    reasons: list[str] = []
    status = "blocked"
    if not isinstance(result, dict) or "error" in result or "escaped" not in result:
        status = "error"
        reasons.append(f"the case did not complete: {result!r}")
    elif result["escaped"]:
        status = "escaped"
        reasons.append("the page saw the attack succeed")
    if traces > case.traces:
        status = "escaped"
        reasons.append(
            f"Python ran the canary {traces} time(s) for this attack (expected {case.traces})"
        )
    elif traces < case.traces and status != "escaped":
        status = "error"
        reasons.append(
            f"the genuine part of the attack did not run ({traces}/{case.traces} traces)"
        )
    dump = json.dumps(result)
    for secret, what in secrets.items():
        if secret in dump:
            status = "escaped"
            reasons.append(f"{what} leaked into what the page collected")
    control_ran = (
        isinstance(control, dict) and control.get("ok") and tags[f"control:{case.id}"] == 1
    )
    if case.control and not control_ran:
        if status != "escaped":
            status = "error"
        reasons.append(f"the control call after the case did not run: {control!r}")
    if status == "escaped" and case.known_limit and current_engine() in case.known_limit_on:
        status = "known-limit"
    return Outcome(case, status, reasons, result, traces, seconds)


def run_corpus(workdir: Path, cases: list[Case] = CASES) -> list[Outcome]:
    """Run every case, grouped by launch (one launch at a time: one webview at a time)."""
    groups: dict[str, list[Case]] = {}
    for c in cases:
        groups.setdefault(c.launch, []).append(c)
    outcomes: list[Outcome] = []
    with loopback() as server:
        for name, group in groups.items():
            outcomes.extend(run_launch(name, group, workdir, server))
        ids = {c.id for c in cases}
        stray = {k: v for k, v in server.by_case().items() if k not in ids}
    if stray and outcomes:  # a request no case made: something loaded that nobody asked for
        outcomes[0].status = "escaped"
        outcomes[0].reasons.append(f"unexpected requests to the loopback server: {stray}")
    return outcomes
