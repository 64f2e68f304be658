"""Helpers for testing Ramparts apps and capability plugins.

Public: app and plugin authors use these in their tests.

Two levels, both through the real bridge:

* :func:`open_bridge` / :func:`call_command`: no window. Calls are signed with a real
  session key and handed to the window's :class:`~ramparts.bridge.host.WindowHost`, the object
  the Qt backend feeds, so the MAC and replay checks, the random handles, argument
  validation, the worker pool, timeouts and the error mapping all run, with the app's
  (or a given) config and scopes. Fast: no Qt, no subprocess.
* :func:`eval_in_app`: the whole app in a headless webview, in a subprocess (one webview
  per process, as Qt requires), running page JS: the same machinery as
  ``ramparts dev APP --headless --eval FILE.js``. The script has exactly the page's
  privileges: it reaches Python only through ``window.ramparts``.

The pytest fixtures built on these live in :mod:`ramparts.pytest_plugin`; pytest loads
them automatically once ``ramparts`` is installed.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from ramparts.app import App
from ramparts.bridge.host import WindowHost
from ramparts.bridge.protocol import (
    ProtocolError,
    decode_binary_reply,
    sign_binary,
    sign_channel,
    split_segments,
)
from ramparts.bridge.session import WindowSession
from ramparts.errors import (
    CommandError,
    CommandFailed,
    CommandTimeout,
    InvalidArgs,
    NotAllowed,
    OutOfScope,
    TooLarge,
)

__all__ = [
    "Bridge",
    "PageError",
    "app_dirs",
    "call_command",
    "eval_in_app",
    "home_env",
    "open_bridge",
]

_ERRORS: dict[str, type[CommandError]] = {
    cls.code: cls
    for cls in (NotAllowed, InvalidArgs, OutOfScope, TooLarge, CommandTimeout, CommandFailed)
}
_INDEX_HTML = '<!doctype html><html><head><meta charset="utf-8"><title>test</title></head></html>\n'


class Bridge:
    """One window session of a loaded app, driven from Python instead of a page.

    Make one with :func:`open_bridge`; use it as a context manager (or call
    :meth:`close`) so the session ends and its ``ramparts_session_ended`` hooks run.

    Not covered, because there is no webview: the page, its CSP, origin checks of the
    webview, and commands that need the window itself (native dialogs fail with
    ``failed`` unless a ``ramparts_dialog_answer`` hook answers them). Use
    :func:`eval_in_app` for those.

    :ivar app: the loaded :class:`~ramparts.app.App` (``app.pm`` is its plugin manager).
    :ivar events: ``(event, payload)`` pairs the commands sent to the page, in order.
    """

    def __init__(self, app: App, window: str = "main", *, reply_timeout: float = 60.0) -> None:
        from ramparts.bridge.dispatch import Dispatcher

        spec = app.config.window_named(window)
        if spec is None:
            labels = ", ".join(w.label for w in app.config.windows)
            raise ValueError(f"the app has no window {window!r} (its windows: {labels})")
        self.app = app
        self.events: list[tuple[str, Any]] = []
        self.reply_timeout = reply_timeout
        self._replies: dict[str, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._cleanup: list[Path] = []
        self._closed = False
        self._dispatcher = Dispatcher(app.config.security.command_timeout)
        self._host: WindowHost = app.make_host(spec, self._dispatcher)
        self._host.connect(self._receive)
        try:
            self._session = self._host.new_session()  # ramparts_session_started runs
        except BaseException:
            self._dispatcher.close()
            raise
        self._handles = {k: list(v) for k, v in self._session.initial_handles.items()}

    @property
    def session(self) -> WindowSession:
        """The live session: ``session.grants`` holds run-time scope grants."""
        return self._session

    @property
    def routes(self) -> list[str]:
        """The command names this window's page could call."""
        return sorted(self._session.registry.routes)

    def call(self, command: str, args: Mapping[str, Any] | None = None, /) -> Any:
        """Call ``command`` like ``ramparts.invoke(command, args)`` does in the page.

        :return: the result as the page would get it after JSON (tuples become lists,
            attrs classes dicts), with ``bytes`` for binary values.
        :raises CommandError: the subclass for the error code the page would get
            (``NotAllowed`` for a command the config does not allow, ``InvalidArgs``,
            ``OutOfScope``, ...), with ``message`` and ``data``.
        :raises ProtocolError: the bridge rejected the message itself.
        """
        callback = "t" + secrets.token_hex(6)
        waiter: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=1)
        with self._lock:
            pool = self._handles.get(command)
            # A name the config does not allow has no handle: send one that was never
            # issued, as a page guessing would, and let the dispatcher refuse it.
            if not pool:
                handle = secrets.token_urlsafe(16)
            elif self._session.handle_mode == "per-call":
                handle = pool.pop(0)  # used once; the reply brings its replacement
            else:
                handle = pool[0]
            self._replies[callback] = waiter
        header = {"s": next(self._seq), "h": handle, "c": callback, "a": dict(args or {})}
        route = self._session.registry.routes.get(command)
        if route is not None and route.command.binary:
            header["a"], segments = split_segments(header["a"])
            body = sign_binary(self._session.key, header, segments)
            self._host.binary_message(
                self._host.start_url, self._host.origin, body, self._binary_reply(waiter)
            )
        else:
            text = sign_channel(self._session.key, json.dumps(header))
            self._host.channel_message(self._host.start_url, text)
        try:
            reply = waiter.get(timeout=self.reply_timeout)
        except queue.Empty:
            raise AssertionError(
                f"{command}: no reply within {self.reply_timeout:g} s"
                " (the bridge drops rejected channel messages without answering)"
            ) from None
        finally:
            with self._lock:
                self._replies.pop(callback, None)
        if "rejected" in reply:
            raise ProtocolError(reply["rejected"])
        if "n" in reply and pool is not None:
            with self._lock:
                pool.append(reply["n"])
        if reply["ok"]:
            return reply.get("r")
        error = reply["e"]
        raise _ERRORS.get(error["code"], CommandFailed)(error["message"], data=error.get("data"))

    def close(self) -> None:
        """End the session (its ``ramparts_session_ended`` hooks run) and stop the workers."""
        if self._closed:
            return
        self._closed = True
        self._dispatcher.wait_idle()
        self._host.end()
        self._dispatcher.close()
        for path in self._cleanup:
            shutil.rmtree(path, ignore_errors=True)

    def __enter__(self) -> Bridge:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _receive(self, text: str) -> None:
        message = json.loads(text)
        if "ev" in message:
            self.events.append((message["ev"], message.get("p")))
            return
        with self._lock:
            waiter = self._replies.get(message.get("c", ""))
        if waiter is not None:
            waiter.put(message)

    @staticmethod
    def _binary_reply(waiter: queue.Queue[dict[str, Any]]) -> Any:
        def reply(status: int, chunks: list[bytes]) -> None:
            body = b"".join(chunks)
            waiter.put(json.loads(body) if status != 200 else decode_binary_reply(body))

        return reply


def open_bridge(
    app_dir: str | Path | None = None,
    *,
    capabilities: Mapping[str, Mapping[str, Any]] | None = None,
    identifier: str = "dev.ramparts.test",
    security: Mapping[str, Any] | None = None,
    window: str = "main",
) -> Bridge:
    """Load an app and open a :class:`Bridge` to one of its windows.

    Give either ``app_dir`` (an app folder: its ``[tool.ramparts]`` is used as is) or
    ``capabilities``: the tables of ``[tool.ramparts.capabilities]``, e.g.
    ``{"fs": {"allow": ["read_text"], "scope": {"allow": ["$APPDATA/**"]}}}``. These are
    written to a throwaway app folder and loaded like any app, so they are validated by
    the same code (``ConfigError`` names the key), and only the capabilities named are
    imported through their entry points.

    :param identifier: the throwaway app's identifier (``$APPDATA`` is keyed by it).
    :param security: the throwaway app's ``[tool.ramparts.security]`` table.
    :param window: the label of the window whose routes and capabilities apply.
    """
    if (app_dir is None) == (capabilities is None):
        raise ValueError("give either app_dir or capabilities")
    temp: Path | None = None
    if app_dir is None:
        import tomlkit

        temp = Path(tempfile.mkdtemp(prefix="ramparts-test-"))
        table: dict[str, Any] = {"name": "Ramparts test", "identifier": identifier}
        if security:
            table["security"] = dict(security)
        table["capabilities"] = {k: dict(v) for k, v in (capabilities or {}).items()}
        (temp / "ui").mkdir()
        (temp / "ui" / "index.html").write_text(_INDEX_HTML, encoding="utf-8")
        (temp / "pyproject.toml").write_text(
            tomlkit.dumps({"tool": {"ramparts": table}}), encoding="utf-8"
        )
        app_dir = temp
    try:
        bridge = Bridge(App.load(app_dir), window)
    except BaseException:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
        raise
    if temp is not None:
        bridge._cleanup.append(temp)
    return bridge


def call_command(
    command: str,
    args: Mapping[str, Any] | None = None,
    /,
    *,
    app_dir: str | Path | None = None,
    capabilities: Mapping[str, Mapping[str, Any]] | None = None,
    identifier: str = "dev.ramparts.test",
    window: str = "main",
) -> Any:
    """Open a bridge (see :func:`open_bridge`), make one call, close it; return the result.

    ``call_command("fs.exists", {"path": "$APPDATA/x"}, capabilities={"fs": {...}})``
    """
    with open_bridge(
        app_dir, capabilities=capabilities, identifier=identifier, window=window
    ) as bridge:
        return bridge.call(command, args)


def home_env(home: Path) -> dict[str, str]:
    """Environment variables that move ``$HOME`` and the XDG base directories to ``home``.

    With them set (``monkeypatch.setenv`` for in-process tests, ``env=`` for
    :func:`eval_in_app`), the scope variables ``$APPDATA``, ``$APPCONFIG``,
    ``$APPCACHE``, ``$APPLOG`` and ``$HOME`` point under ``home`` on Linux, and the
    ``$HOME``-based ones on macOS, so tests never touch the real user's files. Windows'
    known folders cannot be moved this way.
    """
    return {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
    }


def app_dirs(identifier: str, app_dir: str | Path | None = None) -> dict[str, Path]:
    """The folders ``$APPDATA``, ``$APPCONFIG``, ``$APPCACHE``, ``$APPLOG``, ``$HOME``, ...
    resolve to for an app with this identifier, on this OS, with the current environment.

    The same resolution the scopes use (platformdirs, keyed by the identifier), so a test
    can put a file where ``$APPDATA/notes.txt`` will find it on Linux, macOS and Windows
    alike: ``app_dirs(IDENT)["APPDATA"] / "notes.txt"``. Call it inside the test (after
    ``ramparts_home`` has moved ``$HOME``), not at import time. ``$RESOURCE`` is included
    only when ``app_dir`` is given. Nothing is created.
    """
    from ramparts.toolkit.dirs import base_dirs

    dirs = base_dirs(identifier, Path(app_dir) if app_dir is not None else Path())
    if app_dir is None:
        del dirs["RESOURCE"]
    return dirs


class PageError(AssertionError):
    """The page script failed, timed out, or the app did not start.

    :ivar returncode: the ``ramparts dev`` exit code (1 error, 2 timeout).
    :ivar stderr: everything the app printed on stderr.
    """

    def __init__(self, message: str, returncode: int, stderr: str) -> None:
        super().__init__(f"{message}\n--- app stderr ---\n{stderr}")
        self.returncode = returncode
        self.stderr = stderr


def eval_in_app(
    app_dir: str | Path,
    script: str,
    *,
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
    trace: bool = False,
    wrapper: Sequence[str] = (),
) -> Any:
    """Run ``script`` (the body of an async function) in the app's page; return its value.

    :param app_dir: the app folder.
    :param script: JS; ``return`` a JSON-serialisable value (``await`` is allowed).
    :param timeout: seconds the script may take once the page has loaded.
    :param env: extra environment variables for the app process.
    :param trace: also print console lines and bridge calls to the app's stderr.
    :param wrapper: a command the app runs under, e.g. ``["strace", "-f", "-o", "t.txt"]``.
    :raises PageError: on a JS error, a timeout, or an app that did not start.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False, encoding="utf-8") as f:
        f.write(script)
        path = f.name
    try:
        cmd = [
            *wrapper,
            sys.executable,
            "-m",
            "ramparts",
            "dev",
            str(app_dir),
            "--headless",
            "--eval",
            path,
            "--timeout",
            str(timeout),
            # Tests check what ships: the ui folder, never a front-end dev server.
            "--no-dev-server",
        ]
        if trace:
            cmd.append("--trace")
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout + 60,
            env={**os.environ, **(env or {})},
        )
    finally:
        os.unlink(path)
    if proc.returncode != 0:
        raise PageError(
            f"page script failed (exit {proc.returncode})", proc.returncode, proc.stderr
        )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if not lines:
        raise PageError("the app printed no result", proc.returncode, proc.stderr)
    return json.loads(lines[-1])
