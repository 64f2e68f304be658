"""A local process against a running app: find any socket of the app's process tree and
try to connect, with every debugging switch an environment or argument could carry.

The app is started the hostile way: ``QTWEBENGINE_REMOTE_DEBUGGING``, a
``--remote-debugging-port`` in ``QTWEBENGINE_CHROMIUM_FLAGS`` and another one in its
arguments (as a file name passed to the app could be), and WebKit's inspector servers
(``WEBKIT_INSPECTOR_SERVER``, ``WEBKIT_INSPECTOR_HTTP_SERVER``). A DevTools or
inspector port would let any local process run script in the page, so each of those
must stay closed, on either engine (each engine is given every switch: the other
engine's must do nothing either).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
import report
from conftest import read_keylog, write_app
from engines import module_engine, qt_only_skip  # noqa: F401  # fixtures: both engines
from harness import CANARY_COMMANDS, CAPABILITIES

pytestmark = [pytest.mark.webview, pytest.mark.usefixtures("qt_only_skip")]

#: The cases this module records (the docs' figures count them).
CASE_IDS = (
    "local-tcp-listeners",
    "local-unix-sockets",
    "local-devtools-switches",
    "local-pywebview-port",
)
PYWEBVIEW_PORT = 42001  # pywebview's fixed port for its local HTTP server
DEBUG_PORTS = {
    "env": 9224,
    "flags": 9225,
    "argv": 9226,
    "quoted-flags": 9227,
    "webkit-inspector": 9228,
    "webkit-inspector-http": 9229,
}

DRIVER = textwrap.dedent(
    """
    import sys
    from ramparts.app import App

    app_dir, script = sys.argv[1], sys.argv[2]
    sys.argv = [sys.argv[0], *sys.argv[3:]]  # the arguments the app was started with
    say = lambda line: print(line, file=sys.stderr, flush=True)
    result = App.load(app_dir).run(headless=True, eval_js=open(script).read(), timeout=60, trace=say)
    print(result.value if result.ok else "FAILED " + str(result.error))
    """
)

PAGE = """
await ramparts.invoke("canary", { tag: "local:channel" });
await ramparts.invoke("canary_bytes", { tag: "local:binary", data: new Uint8Array(4) });
for (;;) {
  const r = await fetch("/__go.txt").catch(() => null);
  if (r && r.ok) return "done";
  await new Promise((res) => setTimeout(res, 20));
}
"""


def _try_tcp(host: str, port: int) -> str:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        try:
            s.connect((host, port))
        except OSError as e:
            return type(e).__name__
        s.sendall(b"GET /json HTTP/1.0\r\n\r\n")  # DevTools would list the page here
        return "connected: " + s.recv(200).decode("latin-1", "replace")


def _try_unix(path: str) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        try:
            s.connect("\0" + path[1:] if path.startswith("@") else path)
        except OSError as e:
            return type(e).__name__
        return "connected"


@pytest.fixture(scope="module")
def running_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("local")
    app_dir = write_app(
        root / "app", capabilities=CAPABILITIES, commands=CANARY_COMMANDS, module="local_cmds"
    )
    (root / "driver.py").write_text(DRIVER)
    (root / "page.js").write_text(PAGE)
    canary, keylog = root / "canary.log", root / "keys.log"
    env = {
        **os.environ,
        "RAMPARTS_CANARY": str(canary),
        "RAMPARTS_KEYLOG": str(keylog),
        "QTWEBENGINE_REMOTE_DEBUGGING": str(DEBUG_PORTS["env"]),
        # Qt drops every double quote when it reads the variable, so a quoted switch
        # is the same switch to it.
        "QTWEBENGINE_CHROMIUM_FLAGS": f"--remote-debugging-port={DEBUG_PORTS['flags']} "
        f'"--remote-debugging-port={DEBUG_PORTS["quoted-flags"]}" '
        '--remote-"debugging"-address=0.0.0.0',
        "WEBKIT_INSPECTOR_SERVER": f"127.0.0.1:{DEBUG_PORTS['webkit-inspector']}",
        "WEBKIT_INSPECTOR_HTTP_SERVER": f"127.0.0.1:{DEBUG_PORTS['webkit-inspector-http']}",
    }
    argv = [f"--remote-debugging-port={DEBUG_PORTS['argv']}"]
    proc = subprocess.Popen(
        [sys.executable, str(root / "driver.py"), str(app_dir), str(root / "page.js"), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:  # both carriers used: the app is fully up
            seen.append(line)
            if "canary_bytes -> ok" in line:
                break
        else:
            raise AssertionError("the app ended early:\n" + "".join(seen))
        root_proc = psutil.Process(proc.pid)
        tree = [root_proc, *root_proc.children(recursive=True)]
        yield {"tree": tree, "canary": canary, "keylog": keylog}
    finally:
        (app_dir / "ui" / "__go.txt").write_text("go")
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.strip().endswith('"done"'), err[-2000:]


@pytest.fixture(scope="module")
def outcomes(running_app: dict[str, Any], engine: str) -> Iterator[dict[str, dict[str, Any]]]:
    found: dict[str, dict[str, Any]] = {}
    yield found
    report.write_part("local_process", list(found.values()), engine)
    assert set(found) <= set(CASE_IDS)


def _record(
    found: dict[str, dict[str, Any]],
    case: str,
    description: str,
    expected: str,
    result: Any,
    ok: bool,
) -> None:
    found[case] = {
        "id": case,
        "category": "local-process",
        "ability": "local-process",
        "description": description,
        "expected": expected,
        "status": "blocked" if ok else "escaped",
        "reasons": [] if ok else [f"reached the app: {result}"],
        "canary_traces": 0,
        "result": result,
    }


def _owned_by(tree: list[psutil.Process], port: int) -> bool:
    pids = {p.pid for p in tree}
    return any(
        c.laddr and c.laddr.port == port and c.pid in pids
        for c in psutil.net_connections(kind="inet")
    )


def test_no_socket_in_the_app_tree_accepts_a_connection(
    running_app: dict[str, Any], outcomes: dict[str, dict[str, Any]]
) -> None:
    tree: list[psutil.Process] = running_app["tree"]
    assert len(tree) > 1  # the engine's helper processes are included
    inet, unix = [], []
    for p in tree:
        inet += [(p.name(), c.laddr, c.status) for c in p.net_connections(kind="inet")]
        unix += [c.laddr for c in p.net_connections(kind="unix") if c.laddr]
    tried = {f"{a.ip}:{a.port}": _try_tcp(a.ip, a.port) for _, a, _ in inet if a}
    _record(
        outcomes,
        "local-tcp-listeners",
        "Enumerate the app's process tree (psutil) for TCP/UDP sockets and connect to each.",
        "blocked: the tree holds no inet socket at all",
        {"sockets": [str(s) for s in inet], "tried": tried},
        not inet,
    )
    unix_tried = {path: _try_unix(path) for path in unix}
    _record(
        outcomes,
        "local-unix-sockets",
        "Connect to every named or abstract unix socket the app's process tree holds.",
        "blocked: none accepts a connection (they are the engine's and D-Bus's client ends)",
        unix_tried,
        "connected" not in unix_tried.values(),
    )
    assert not inet, f"inet sockets in the app's process tree: {inet}"
    assert "connected" not in unix_tried.values(), unix_tried


def test_debugging_switches_open_no_port(
    running_app: dict[str, Any], outcomes: dict[str, dict[str, Any]]
) -> None:
    tree = running_app["tree"]
    tried = {}
    for where, port in DEBUG_PORTS.items():
        outcome = _try_tcp("127.0.0.1", port)
        if outcome.startswith("connected") and not _owned_by(tree, port):
            outcome = "someone else's listener (not the app's)"
        tried[f"{where}:{port}"] = outcome
    _record(
        outcomes,
        "local-devtools-switches",
        "Start the app with a DevTools port requested four ways (QTWEBENGINE_REMOTE_DEBUGGING, "
        "--remote-debugging-port in QTWEBENGINE_CHROMIUM_FLAGS, plain and in quotes, and in "
        "its arguments) and WebKit's two inspector servers in the environment, then connect "
        "to each port.",
        "blocked: Ramparts strips every debugging switch before the engine starts",
        tried,
        not any(v.startswith("connected") for v in tried.values()),
    )
    assert not any(v.startswith("connected") for v in tried.values()), tried


def test_pywebview_default_port_is_not_the_apps(
    running_app: dict[str, Any], outcomes: dict[str, dict[str, Any]]
) -> None:
    tree = running_app["tree"]
    result = {}
    for host in ("127.0.0.1", "::1"):
        outcome = _try_tcp(host, PYWEBVIEW_PORT)
        if outcome.startswith("connected") and not _owned_by(tree, PYWEBVIEW_PORT):
            outcome = "someone else's listener (not the app's)"
        result[host] = outcome
    escaped = any(v.startswith("connected") for v in result.values())
    _record(
        outcomes,
        "local-pywebview-port",
        f"Connect to pywebview's fixed HTTP server port {PYWEBVIEW_PORT} on 127.0.0.1 and ::1.",
        "blocked: no local HTTP server is ever started (the UI is served by a scheme handler)",
        result,
        not escaped,
    )
    assert not escaped, result
    # The app really ran, on both carriers, while we probed.
    assert read_keylog(running_app["keylog"])
    assert running_app["canary"].read_text().split() == ["local:channel", "local:binary"]
