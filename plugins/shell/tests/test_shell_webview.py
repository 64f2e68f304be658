# ruff: noqa: E501  (page JS and case tables in strings: wrapping them would only hurt reading)
"""The ``shell`` capability through the real bridge, driven by page JS with the page's own
privileges (``ramparts dev --eval``).

The app's environment is hostile on purpose: its ``PATH`` starts with a folder of fake
``echo``, ``env``, ``sh``, ``git``, ``xdg-open`` ... that each leave a marker file, and it
carries a secret and ``LD_LIBRARY_PATH``. Every injection attempt must be refused with a
stable code or reach the declared program as one literal argument; afterwards no
marker may exist and the declared recorders must have run exactly for the allowed calls.
"""

from __future__ import annotations

import contextlib
import json
import os
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from app_folders import REPORT_COMMANDS, write_app
from gtk_display import engine, gtk_display  # noqa: F401  # fixtures: both webview engines

from ramparts.testing import eval_in_app
from ramparts_shell.config import SAFE_PATH

pytestmark = [pytest.mark.webview, pytest.mark.usefixtures("engine")]

FAKES = ("echo", "env", "printenv", "git", "xdg-open", "sh", "bash", "open")


def script(path: Path, body: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body).lstrip())
    path.chmod(0o755)
    return str(path)


class Setup:
    """An app whose shell config declares a few harmless programs, plus its traps."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.markers = root / "markers"
        self.markers.mkdir()
        self.evil = root / "evil-bin"
        for name in FAKES:
            script(self.evil / name, f"touch '{self.markers}/ran-{name}'\n")
        self.argv_log = root / "argv.log"
        self.git_log = root / "git.log"
        self.open_log = root / "open.log"
        self.pidfile = root / "lingerer.pids"
        bin_ = root / "bin"
        record = script(bin_ / "record", f"printf '%s\\0' \"$@\" >> '{self.argv_log}'\n")
        fakegit = script(bin_ / "fakegit", f"printf '%s\\0' \"$@\" >> '{self.git_log}'\n")
        opener = script(bin_ / "opener", f"printf '%s|%s\\n' \"$#\" \"$1\" >> '{self.open_log}'\n")
        chatter = script(bin_ / "chatter", "echo to-out\necho to-err >&2\nexit 3\n")
        lingerer = script(
            bin_ / "lingerer",
            f"""
            sleep 1000 &
            echo "$$ $!" > '{self.pidfile}.tmp' && mv '{self.pidfile}.tmp' '{self.pidfile}'
            echo ready
            wait
            """,
        )
        self.app = write_app(
            root / "app",
            capabilities=textwrap.dedent(
                f"""
                [tool.ramparts.capabilities.shell]
                allow = ["execute", "spawn", "write", "kill", "open"]
                open_with = "{opener}"

                [[tool.ramparts.capabilities.shell.programs]]
                name = "echo"
                cmd = "echo"
                args = true

                [[tool.ramparts.capabilities.shell.programs]]
                name = "record"
                cmd = "{record}"
                args = true

                [[tool.ramparts.capabilities.shell.programs]]
                name = "git"
                cmd = "{fakegit}"
                args = ["fetch", {{ validator = "[A-Za-z0-9_./:-]+" }}]

                [[tool.ramparts.capabilities.shell.programs]]
                name = "word"
                cmd = "{record}"
                args = [{{ validator = "^[a-z]+" }}]

                [[tool.ramparts.capabilities.shell.programs]]
                name = "either"
                cmd = "{record}"
                args = [{{ validator = "^safe|other$" }}]

                [[tool.ramparts.capabilities.shell.programs]]
                name = "printenv"
                cmd = "/usr/bin/env"
                args = ["printenv", {{ validator = "[A-Z_]+" }}]
                env = ["RAMPARTS_SHARED"]

                [[tool.ramparts.capabilities.shell.programs]]
                name = "cat"
                cmd = "cat"

                [[tool.ramparts.capabilities.shell.programs]]
                name = "sleep"
                cmd = "sleep"
                args = [{{ validator = "[0-9]{{1,4}}" }}]
                timeout = 1

                [[tool.ramparts.capabilities.shell.programs]]
                name = "chatter"
                cmd = "{chatter}"

                [[tool.ramparts.capabilities.shell.programs]]
                name = "lingerer"
                cmd = "{lingerer}"
                """
            ),
        )

    def env(self) -> dict[str, str]:
        return {
            "PATH": f"{self.evil}:{os.environ['PATH']}",
            "RAMPARTS_SECRET": "s3cret",
            "RAMPARTS_SHARED": "shared-value",
            "LD_LIBRARY_PATH": "/nonexistent-evil-libs",
        }

    def run(self, js: str) -> Any:
        return eval_in_app(self.app, PRELUDE + js, env=self.env(), timeout=60)


PRELUDE = """
const code = (p) => p.then((r) => ["ok", r], (e) => [e.code, e.message]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const waitFor = async (cond, ms = 15000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (cond()) return true; await sleep(10); }
  return cond();
};
const sh = ramparts.shell;
"""


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path.resolve())


def test_injection_corpus_is_refused_or_literal(setup: Setup) -> None:
    marker = setup.markers / "pwned"
    payloads = [
        f"; touch {marker}",
        f"| touch {marker}",
        f"&& touch {marker}",
        f"|| touch {marker}",
        f"`touch {marker}`",
        f"$(touch {marker})",
        f"\ntouch {marker}\n",
        f"'; touch {marker}; '",
        f'"; touch {marker}; "',
        f"> {marker}",
        f"; rm -rf {setup.root}/app",
        "| cat /etc/passwd",
        "${IFS}cat${IFS}/etc/passwd",
        "*",
    ]
    result = setup.run(
        f"""
        const payloads = {json.dumps(payloads)};
        const out = {{ literal: [], refused: {{}} }};
        // Harmless: each payload is one literal argument of a declared program.
        for (const p of payloads) {{
          const r = await sh.execute({{ program: "echo", args: [p] }});
          out.literal.push(r.stdout);
        }}
        out.recorded = await code(sh.execute({{ program: "record", args: payloads }}));
        const tries = {{
          // option injection against a git-like program
          uploadPack: ["git", ["fetch", "--upload-pack=touch {marker}"]],
          uploadPackBare: ["git", ["fetch", "--upload-pack"]],
          dashC: ["git", ["-c", "core.sshCommand=touch {marker}"]],
          dashCExtra: ["git", ["fetch", "-c", "core.sshCommand=touch {marker}"]],
          gitMeta: ["git", ["fetch", "origin; touch {marker}"]],
          gitNewline: ["git", ["fetch", "origin\\ntouch {marker}"]],
          // validators that only look anchored
          unanchoredEnd: ["word", ["abc; touch {marker}"]],
          unanchoredAlt: ["either", ["safe; touch {marker}"]],
          // environment tricks through arguments
          preloadFirst: ["printenv", ["LD_PRELOAD=/tmp/evil.so", "printenv"]],
          pathAssign: ["printenv", ["printenv", "PATH=/tmp/evil"]],
          // programs that are not declared, or named by path
          undeclared: ["rm", ["-rf", "/"]],
          shByPath: ["/bin/sh", ["-c", "touch {marker}"]],
          shByName: ["sh", ["-c", "touch {marker}"]],
          echoByPath: ["/usr/bin/echo", ["x"]],
          evilEcho: ["{setup.evil}/echo", ["x"]],
          traversal: ["../echo", ["x"]],
          trailingSpace: ["echo ", ["x"]],
          caseTrick: ["ECHO", ["x"]],
          withMeta: ["echo; touch {marker}", []],
        }};
        for (const [name, [program, args]] of Object.entries(tries)) {{
          out.refused[name] = (await code(sh.execute({{ program, args }})))[0];
          out.refused[name + "Spawn"] = (await code(sh.spawn({{ program, args }})))[0];
        }}
        out.shapes = {{
          envArg: (await code(sh.execute({{ program: "printenv", args: ["printenv", "PATH"], env: {{ LD_PRELOAD: "/tmp/x.so" }} }})))[0],
          shellArg: (await code(sh.execute({{ program: "echo", args: ["x"], shell: true }})))[0],
          argsString: (await code(sh.execute({{ program: "echo", args: "x; touch {marker}" }})))[0],
          argsNumbers: (await code(sh.execute({{ program: "echo", args: [1, 2] }})))[0],
          programArray: (await code(sh.execute({{ program: ["echo"] }})))[0],
          nul: (await code(sh.execute({{ program: "echo", args: ["a\\u0000b"] }})))[0],
          cwd: (await code(sh.execute({{ program: "echo", cwd: "/" }})))[0],
        }};
        out.git = await code(sh.execute({{ program: "git", args: ["fetch", "origin"] }}));
        out.word = await code(sh.execute({{ program: "word", args: ["abc"] }}));
        return out;
        """
    )
    assert result["literal"] == [p + "\n" for p in payloads]
    assert result["recorded"][0] == "ok"
    expected = {
        "uploadPack": "invalid_args",
        "uploadPackBare": "invalid_args",
        "dashC": "invalid_args",
        "dashCExtra": "invalid_args",
        "gitMeta": "invalid_args",
        "gitNewline": "invalid_args",
        "unanchoredEnd": "invalid_args",
        "unanchoredAlt": "invalid_args",
        "preloadFirst": "invalid_args",
        "pathAssign": "invalid_args",
        "undeclared": "not_allowed",
        "shByPath": "not_allowed",
        "shByName": "not_allowed",
        "echoByPath": "not_allowed",
        "evilEcho": "not_allowed",
        "traversal": "not_allowed",
        "trailingSpace": "not_allowed",
        "caseTrick": "not_allowed",
        "withMeta": "not_allowed",
    }
    assert result["refused"] == {
        **expected,
        **{k + "Spawn": v for k, v in expected.items()},
    }
    assert result["shapes"] == {
        "envArg": "invalid_args",
        "shellArg": "invalid_args",
        "argsString": "invalid_args",
        "argsNumbers": "invalid_args",
        "programArray": "invalid_args",
        "nul": "invalid_args",
        "cwd": "out_of_scope",
    }
    assert result["git"][0] == "ok" and result["word"][0] == "ok"
    # Nothing undeclared ran: no payload, no fake from the app's PATH.
    assert sorted(p.name for p in setup.markers.iterdir()) == []
    assert (setup.root / "app" / "pyproject.toml").exists()
    # The declared recorders ran exactly for the allowed calls, with literal arguments.
    assert setup.git_log.read_text() == "fetch\0origin\0"
    assert setup.argv_log.read_text() == "\0".join(payloads) + "\0" + "abc\0"


def test_the_environment_reaching_programs(setup: Setup) -> None:
    result = setup.run(
        """
        const env = async (name) => {
          const r = await sh.execute({ program: "printenv", args: ["printenv", name] });
          return [r.code, r.stdout];
        };
        return {
          path: await env("PATH"),
          lang: await env("LANG"),
          secret: await env("RAMPARTS_SECRET"),
          libs: await env("LD_LIBRARY_PATH"),
          shared: await env("RAMPARTS_SHARED"),
          home: await env("HOME"),
        };
        """
    )
    assert result == {
        "path": [0, SAFE_PATH + "\n"],
        "lang": [0, "C.UTF-8\n"],
        "secret": [1, ""],
        "libs": [1, ""],
        "shared": [0, "shared-value\n"],  # allowlisted for this program
        "home": [1, ""],
    }
    assert list(setup.markers.iterdir()) == []


def test_bytes_timeouts_and_exit_status(setup: Setup) -> None:
    result = setup.run(
        """
        const data = new Uint8Array(256);
        for (let i = 0; i < 256; i++) data[i] = i;
        const back = await sh.execute({ program: "cat", stdin: data, output: "bytes" });
        const text = await sh.execute({ program: "cat", stdin: "héllo wörld" });
        return {
          bytes: [back.stdout instanceof Uint8Array, back.stdout.length, Array.from(back.stdout.slice(250))],
          text: text.stdout,
          chatter: await sh.execute({ program: "chatter" }),
          timeout: (await code(sh.execute({ program: "sleep", args: ["30"] })))[0],
        };
        """
    )
    assert result["bytes"] == [True, 256, [250, 251, 252, 253, 254, 255]]
    assert result["text"] == "héllo wörld"
    assert result["chatter"] == {
        "code": 3,
        "signal": None,
        "stdout": "to-out\n",
        "stderr": "to-err\n",
    }
    assert result["timeout"] == "timeout"


def test_spawn_streams_events_write_kill_and_exit(setup: Setup) -> None:
    result = setup.run(
        """
        const seen = { out: [], err: [], exit: [] };
        ramparts.events.on("shell:stdout", (p) => seen.out.push(p));
        ramparts.events.on("shell:stderr", (p) => seen.err.push(p));
        ramparts.events.on("shell:exit", (p) => seen.exit.push(p));
        const linesOf = (id) => seen.out.filter((p) => p.child === id).map((p) => p.line);
        const exitOf = (id) => seen.exit.find((p) => p.child === id);

        const cat = await sh.spawn({ program: "cat" });
        await sh.write({ child: cat, data: "hello\\n" });
        const gotHello = await waitFor(() => linesOf(cat).includes("hello"));
        await sh.write({ child: cat, data: new TextEncoder().encode("wörld\\n"), close: true });
        await waitFor(() => exitOf(cat));

        const sleeper = await sh.spawn({ program: "sleep", args: ["1000"] });
        await sh.kill({ child: sleeper });
        await waitFor(() => exitOf(sleeper));

        const chatter = await sh.spawn({ program: "chatter" });
        await waitFor(() => exitOf(chatter));

        return {
          ids: [typeof cat, cat.length >= 20, cat !== sleeper],
          gotHello,
          catLines: linesOf(cat),
          catExit: exitOf(cat),
          sleeperExit: exitOf(sleeper),
          chatterOut: linesOf(chatter),
          chatterErr: seen.err.filter((p) => p.child === chatter).map((p) => p.line),
          chatterExit: exitOf(chatter),
          afterExit: {
            write: (await code(sh.write({ child: cat, data: "late" })))[0],
            kill: (await code(sh.kill({ child: sleeper })))[0],
          },
          unknown: {
            write: (await code(sh.write({ child: "not-a-child", data: "x" })))[0],
            kill: (await code(sh.kill({ child: "../" + cat })))[0],
            type: (await code(sh.kill({ child: 5 })))[0],
          },
        };
        """
    )
    assert result["ids"] == ["string", True, True]
    assert result["gotHello"] is True
    assert result["catLines"] == ["hello", "wörld"]
    assert result["catExit"]["code"] == 0 and result["catExit"]["signal"] is None
    assert result["sleeperExit"]["code"] is None and result["sleeperExit"]["signal"] == 9
    assert result["chatterOut"] == ["to-out"]
    assert result["chatterErr"] == ["to-err"]
    assert result["chatterExit"]["code"] == 3
    assert result["afterExit"] == {"write": "not_allowed", "kill": "not_allowed"}
    assert result["unknown"] == {
        "write": "not_allowed",
        "kill": "not_allowed",
        "type": "invalid_args",
    }


def test_children_die_with_the_page(setup: Setup) -> None:
    result = setup.run(
        """
        const lines = [];
        ramparts.events.on("shell:stdout", (p) => lines.push(p.line));
        const id = await sh.spawn({ program: "lingerer" });
        return { id, ready: await waitFor(() => lines.includes("ready")) };
        """
    )
    assert result["ready"] is True
    # The app has exited: its session ended and the child's whole group went with it.
    pids = [int(p) for p in setup.pidfile.read_text().split()]
    assert len(pids) == 2

    def gone(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    deadline = time.monotonic() + 10
    while not all(gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert all(gone(p) for p in pids), "a spawned program outlived the page"


def test_open_only_hands_https_urls_to_the_opener(setup: Setup) -> None:
    result = setup.run(
        """
        const targets = [
          "https://example.com/docs?q=1",
          "http://example.com/",
          "file:///bin/sh",
          "/bin/sh",
          "javascript:alert(1)",
          "https://user@evil.example/",
          "https://example.com/\\nfile:///bin/sh",
          "--help",
          "https://example.com/ && touch /tmp/pwned",
        ];
        const out = {};
        for (const t of targets) out[t] = (await code(sh.open({ target: t })))[0];
        return out;
        """
    )
    assert result == {
        "https://example.com/docs?q=1": "ok",
        "http://example.com/": "out_of_scope",
        "file:///bin/sh": "out_of_scope",
        "/bin/sh": "out_of_scope",
        "javascript:alert(1)": "out_of_scope",
        "https://user@evil.example/": "invalid_args",
        "https://example.com/\nfile:///bin/sh": "invalid_args",
        "--help": "invalid_args",
        "https://example.com/ && touch /tmp/pwned": "invalid_args",
    }
    # open waits for the opener to exit, so its record is complete when the call answers.
    assert setup.open_log.read_text() == "1|https://example.com/docs?q=1\n"
    assert list(setup.markers.iterdir()) == []


# -- a page's children end with the page (issue 14) -------------------------------------

LIFE_COMMANDS = (
    REPORT_COMMANDS
    + """
import os

import psutil


@command
def pids() -> list[int]:
    try:
        with open(os.environ["TEST_PIDS"]) as f:
            return [int(line) for line in f.read().split()]
    except FileNotFoundError:
        return []


@command
def alive(pids: list[int]) -> list[int]:
    def running(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    return [p for p in pids if running(p)]


@command
def marker() -> bool:
    return os.path.exists(os.environ["TEST_MARKER"])


@command
def close_second(ctx: CallContext) -> None:
    ctx.app.close_window("second")
"""
)

LIFE_PRELUDE = """
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const call = (name, args) => ramparts.invoke(name, args || {});
const until = async (cond, ms = 20000) => {
  const end = Date.now() + ms;
  for (;;) { const v = await cond(); if (v || Date.now() > end) return v; await sleep(20); }
};
"""


class Lifetime:
    """Two windows: ``main`` runs the test's script and watches; ``second`` holds the
    shell capability and runs ``second.js``, which starts children and goes away."""

    def __init__(self, root: Path, second_js: str) -> None:
        self.pidlog = root / "pids.log"
        self.marker = root / "marker"
        napper = script(root / "bin" / "napper", f"echo $$ >> '{self.pidlog}'\nexec sleep 1000\n")
        toucher = script(root / "bin" / "toucher", f"touch '{self.marker}'\n")
        caps = textwrap.dedent(
            f"""
            [tool.ramparts.capabilities.shell]
            allow = ["execute"]

            [[tool.ramparts.capabilities.shell.programs]]
            name = "napper"
            cmd = "{napper}"
            timeout = 60

            [[tool.ramparts.capabilities.shell.programs]]
            name = "short"
            cmd = "{napper}"
            timeout = 2

            [[tool.ramparts.capabilities.shell.programs]]
            name = "toucher"
            cmd = "{toucher}"

            [[tool.ramparts.windows]]
            label = "main"
            capabilities = []

            [[tool.ramparts.windows]]
            label = "second"
            entry = "second.html"
            capabilities = ["shell"]
            start = true
            """
        )
        page = "<!doctype html><html><head><script src='{}'></script></head><body></body></html>"
        self.app = write_app(
            root / "app",
            capabilities=caps,
            commands=LIFE_COMMANDS,
            module="life_cmds",
            files={
                "second.html": page.format("second.js"),
                "second.js": LIFE_PRELUDE + second_js,
                "other.html": page.format("other.js"),
                "other.js": "ramparts.invoke('report', { value: 'after' });\n",
            },
        )

    def run(self, js: str) -> Any:
        env = {"TEST_PIDS": str(self.pidlog), "TEST_MARKER": str(self.marker)}
        try:
            return eval_in_app(self.app, LIFE_PRELUDE + js, env=env, timeout=90)
        finally:  # on a broken build the children outlive the app: do not leave them
            for pid in self.logged():
                with contextlib.suppress(psutil.Error):
                    psutil.Process(pid).kill()

    def logged(self) -> list[int]:
        return [int(p) for p in self.pidlog.read_text().split()] if self.pidlog.exists() else []


GO_AWAY = {
    "reload": "location.reload();",
    "navigate": "location.href = 'other.html';",
    "close": "",  # the main window closes this one
}


@pytest.mark.parametrize("how", sorted(GO_AWAY))
def test_an_executed_program_ends_with_its_page(tmp_path: Path, how: str) -> None:
    """Found on main: ``execute`` children were tied to nothing: a page that reloaded,
    navigated or closed left them running until their own timeout (or forever, past
    the app's exit)."""
    life = Lifetime(
        tmp_path,
        f"""
        (async () => {{
          if (sessionStorage.getItem("gone")) {{ await call("report", {{ value: "after" }}); return; }}
          sessionStorage.setItem("gone", "1");
          ramparts.shell.execute({{ program: "napper" }}).catch(() => {{}});
          await until(async () => (await call("pids")).length);
          await call("report", {{ value: "started" }});
          {GO_AWAY[how]}
        }})();
        """,
    )
    result = life.run(
        f"""
        await until(async () => (await call("reports")).includes("started"));
        if ({json.dumps(how)} === "close") await call("close_second");
        else await until(async () => (await call("reports")).includes("after"));
        const pids = await call("pids");
        const alive = await until(async () => {{
          const left = await call("alive", {{ pids }});
          return left.length ? null : left;
        }}, 10000);
        return {{ pids, alive: alive || await call("alive", {{ pids }}) }};
        """
    )
    assert len(result["pids"]) == 1
    assert result["alive"] == [], f"the program outlived its page ({how})"


def test_an_execute_queued_when_the_page_reloads_never_starts(tmp_path: Path) -> None:
    """Found on main: ``execute`` calls waiting for a thread of the shared executor when
    the page reloaded still started their programs later, for a page that was gone.
    Two more calls than asyncio's default executor has threads are made; the last one,
    queued behind a full batch of 2 s programs, would touch a marker file."""
    batch = min(32, (os.cpu_count() or 1) + 4)  # asyncio's default executor's threads
    life = Lifetime(
        tmp_path,
        """
        (async () => {
          if (sessionStorage.getItem("gone")) { await call("report", { value: "after" }); return; }
          sessionStorage.setItem("gone", "1");
          for (let i = 0; i < BATCH + 1; i++) ramparts.shell.execute({ program: "short" }).catch(() => {});
          ramparts.shell.execute({ program: "toucher" }).catch(() => {});
          await until(async () => (await call("pids")).length);
          await sleep(1000);  // every call has reached Python: running or queued there
          await call("report", { value: "started" });
          location.reload();
        })();
        """.replace("BATCH", str(batch)),
    )
    result = life.run(
        """
        await until(async () => (await call("reports")).includes("after"));
        // On main the queued calls ran as the running ones hit their 2 s timeout.
        const touched = await until(() => call("marker"), 8000);
        const pids = await call("pids");
        return { touched, pids, alive: await call("alive", { pids }) };
        """
    )
    assert result["pids"], "no program started"
    assert result["touched"] is False, "a call queued at the reload ran after it"
    assert result["alive"] == []
    assert not life.marker.exists()
