"""The entry point of a built app: verify everything, then run the app from the bundle.

``ramparts build`` generates a two-line entry script that calls :func:`launch` with the
public key baked in. Verification happens before the app's commands module or any
capability plugin is imported. Only this module, :mod:`ramparts.release.signing`,
:mod:`ramparts.release.updates` and what they import (the standard library,
``cryptography``, ``attrs``, ``platformdirs``, the core's error tree) run first.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
from collections.abc import Callable, Mapping, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from ramparts.config import BACKEND_ENV
from ramparts.errors import VerificationError
from ramparts.release.signing import load_manifest, load_public_key, utc_stamp, verify_artifact
from ramparts.release.updates import (
    BASE_ENV,
    LAUNCH_CHECK,
    RunningBuild,
    preferred_update,
    set_running_build,
    update_root,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["EXIT_REFUSED", "REFUSAL_LOG", "dialog_command", "launch", "locate", "refusal_log"]

#: Exit code of a built app that refuses to start because verification failed.
EXIT_REFUSED = 3
#: The file in the app's log folder (``$APPLOG``) that refusals are appended to.
REFUSAL_LOG = "ramparts-launch.log"
#: Set to anything to never show a refusal in a dialog (automation, tests).
NO_DIALOG_ENV = "RAMPARTS_NO_DIALOG"
#: Lines of a refusal shown in a dialog; the log file keeps the whole message.
_DIALOG_LINES = 15


def locate(executable: Path, meipass: Path | None, layout: str) -> tuple[Path, Path | None]:
    """``(artifact, unpacked tree)`` of the running app.

    onedir: the artifact is the executable's folder, and everything is in it.
    onefile: the artifact is the executable itself; PyInstaller unpacked its files to
    ``sys._MEIPASS``, which is checked too (for files changed or added after unpacking).
    """
    if layout == "onefile":
        if meipass is None:
            raise VerificationError("a onefile app is running without an unpacked bundle")
        return executable, meipass
    return executable.parent, None


def refusal_log(identifier: str) -> Path:
    """Where a built app logs why it refused to start: the per-user log folder keyed by
    its identifier (``$APPLOG``), because a windowed or double-clicked app has no
    terminal to show stderr."""
    from ramparts.toolkit.dirs import base_dirs

    return base_dirs(identifier, Path())["APPLOG"] / REFUSAL_LOG


def _refuse(message: str, identifier: str | None) -> NoReturn:
    text = f"refusing to start: {message}"
    if identifier:
        log = refusal_log(identifier)
        stamp = utc_stamp(datetime.now(UTC))
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            # One write to an O_APPEND file: entries from two launches never interleave.
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                # backslashreplace: a file name that is not UTF-8 must not stop the log
                os.write(fd, f"{stamp} {text}\n".encode("utf-8", "backslashreplace"))
            finally:
                os.close(fd)
            text += f"\n(this message is also in {log})"
        except OSError as e:
            text += f"\n(could not log it to {log}: {e.strerror or e})"
    print(text, file=sys.stderr, flush=True)
    _show_refusal(text)
    raise SystemExit(EXIT_REFUSED)


def _system_which(name: str) -> str | None:
    """``shutil.which`` over the absolute entries of ``PATH`` only: a relative or empty
    entry means the working folder, which may be the app's own bundle."""
    entries = os.environ.get("PATH", "").split(os.pathsep)
    return shutil.which(name, path=os.pathsep.join(e for e in entries if os.path.isabs(e)))


def dialog_command(
    text: str,
    platform: str = sys.platform,
    env: Mapping[str, str] = os.environ,
    which: Callable[[str], str | None] = _system_which,
) -> list[str] | None:
    """The argv that shows ``text`` in the desktop's own error dialog, or ``None``.

    Only a program of the system found on ``PATH`` (``zenity``, then ``xmessage`` on
    Linux and the BSDs when a display is set; ``osascript`` on macOS), never code from
    the bundle: the refusal may be caused by any of its files, Qt included. The text is
    passed as a plain argument (``--no-markup``; an AppleScript ``argv`` item), never
    spliced into markup or a script. Windows: ``None`` (no dialog tool that is not a
    script host ships with it).
    """
    title = "This app refused to start"
    if platform == "darwin":
        osascript = which("osascript")
        if osascript is None:
            return None
        script = "display alert (item 1 of argv) message (item 2 of argv) as critical"
        return [osascript, "-e", "on run argv", "-e", script, "-e", "end run", title, text]
    if platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
            return None
        zenity = which("zenity")
        if zenity is not None:
            return [zenity, "--error", "--no-markup", f"--title={title}", f"--text={text}"]
        xmessage = which("xmessage")
        if xmessage is not None:
            return [xmessage, "-center", f"{title}\n\n{text}"]
    return None


def _show_refusal(text: str) -> None:
    """Show the refusal in a dialog when nobody would see stderr (double-clicked).

    Not when stderr is a terminal, not with ``--headless``, not with
    ``RAMPARTS_NO_DIALOG`` set. Waits until the dialog is dismissed.
    """
    if os.environ.get(NO_DIALOG_ENV) or "--headless" in sys.argv[1:]:
        return
    try:
        if sys.stderr is not None and sys.stderr.isatty():
            return
    except ValueError:  # a closed stderr
        pass
    # File names come from the (possibly tampered) bundle: no NULs, nothing UTF-8 cannot
    # carry, or the dialog's argv could not be built.
    text = text.replace("\0", "").encode("utf-8", "backslashreplace").decode()
    lines = text.splitlines()
    if len(lines) > _DIALOG_LINES:
        lines = [*lines[: _DIALOG_LINES - 1], f"... ({len(lines) - _DIALOG_LINES + 1} more lines)"]
    argv = dialog_command("\n".join(lines))
    if argv is None:
        return
    import subprocess

    with contextlib.suppress(OSError, ValueError):  # it is on stderr and in the log already
        subprocess.run(
            argv,
            env=_system_env(os.environ),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )


#: What a desktop dialog tool needs from the environment; nothing else is passed on.
_DIALOG_ENV = (
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XAUTHORITY",
    "XDG_RUNTIME_DIR",
    "DBUS_SESSION_BUS_ADDRESS",
    "HOME",
    "USER",
    "LOGNAME",
    "PATH",
    "LANG",
    "LANGUAGE",
    "TMPDIR",
)


#: The variables PyInstaller's bootloader points into the bundle (``*_ORIG``: the user's).
_LIBRARY_PATHS = ("LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "LIBPATH")


def _system_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment for a system dialog tool: only what a dialog needs (the display,
    the session, the locale), so nothing a bundle set up for itself (PyInstaller points
    the library path, Qt's plugin path and OpenSSL's modules into it) reaches it. A
    library path the user had before the bootloader changed it (``*_ORIG``) is kept."""
    out = {k: v for k, v in env.items() if k in _DIALOG_ENV or k.startswith("LC_")}
    for name in _LIBRARY_PATHS:
        if name + "_ORIG" in env:
            out[name] = env[name + "_ORIG"]
    return out


def give_back_library_path(env: MutableMapping[str, str]) -> None:
    """Give the processes this app starts the user's own library path.

    The bootloader points it at the bundle for this process, whose loader read it once
    at start. Its children are system programs (WebKitGTK's web and network processes,
    dialogs, what the shell capability runs), which must load the system's libraries,
    not the bundle's OpenSSL or zlib; Qt WebEngine's helper, which is in the bundle,
    finds its libraries through its own ``RUNPATH``. An update started by ``exec``
    sees the user's path too, as when it is started from a desktop entry.
    """
    for name in _LIBRARY_PATHS:
        original = env.get(name + "_ORIG")
        if original is None:
            env.pop(name, None)
        else:
            env[name] = original


def launch(
    public_key: str | None,
    layout: str,
    allow_eval: bool,
    identifier: str | None = None,
    backend: str | None = None,
) -> None:
    """Verify the running app, then run it. Called by the generated entry script.

    A signed onedir build first looks at the user's update root: a newer build there
    that verifies under ``public_key`` (or a key chained from it) runs instead, through
    ``exec`` (see :func:`ramparts.release.updates.preferred_update`).

    :param public_key: PEM of the key the manifest must be signed with (``None``: the
        build is unsigned; file hashes and expiry are still checked, and a warning says
        the app's origin is not proven).
    :param layout: ``onedir`` or ``onefile``.
    :param allow_eval: accept ``--eval`` (built with ``ramparts build --allow-eval``).
    :param identifier: the app's identifier, baked in at build time (the manifest may be
        the thing that is broken): a refusal is also appended to :func:`refusal_log`.
    :param backend: the webview backend the build ships (``RAMPARTS_BACKEND`` at build
        time, else the config's): the app runs on it whatever the environment says now,
        as the other engine's modules are not in the build.
    """
    meipass = getattr(sys, "_MEIPASS", None)
    executable = Path(sys.executable).resolve()
    give_back_library_path(os.environ)
    try:
        trusted = [load_public_key(public_key, "the built-in key")] if public_key else []
        artifact, unpacked = locate(executable, Path(meipass) if meipass else None, layout)
        if trusted and identifier and layout == "onedir" and LAUNCH_CHECK not in sys.argv[1:]:
            _hand_over(trusted, identifier, artifact, executable)
        manifest = verify_artifact(artifact, trusted, unpacked=unpacked, identifier=identifier)
    except VerificationError as e:
        _refuse(str(e), identifier)
    except OSError as e:  # a file the hashing could not read (permissions, I/O error)
        _refuse(f"cannot read {e.filename}: {e.strerror or e}", identifier)
    if not trusted:
        print(
            "warning: this is an UNSIGNED build: its files match its manifest, "
            "but nothing proves who built it",
            file=sys.stderr,
            flush=True,
        )
    set_running_build(
        RunningBuild(
            identifier=str(identifier or manifest["app"]["identifier"]),
            name=manifest["app"]["name"],
            version=manifest["app"]["version"],
            keys=(public_key,) if public_key else (),
            executable=executable,
            base=Path(os.environ.pop(BASE_ENV, "") or executable),
        )
    )
    if backend is not None:
        os.environ[BACKEND_ENV] = backend
    _run(Path(meipass or executable.parent) / "app", manifest["app"]["name"], allow_eval)


def _hand_over(
    trusted: list[Ed25519PublicKey], identifier: str, artifact: Path, executable: Path
) -> None:
    """Run a newer build from the user's update root instead, if one verifies under this
    launcher's own key (``ramparts-updater`` puts it there; see docs/updates.md).

    Before this build's own files are hashed: they are not loaded if it hands over, and
    an installed build that has expired still starts its verified update.
    """

    def warn(line: str) -> None:
        print(f"warning: {line}", file=sys.stderr, flush=True)

    try:
        version = str(load_manifest(artifact)["app"].get("version"))
        update = preferred_update(update_root(identifier), trusted, identifier, version, warn)
    except VerificationError:
        return  # this build's own manifest is broken: its verification says how
    except OSError as e:  # an unreadable update root: the installed app still runs
        warn(f"cannot read the update root: {e}")
        return
    if update is None or update == executable:
        return
    os.environ.setdefault(BASE_ENV, str(executable))
    sys.stdout.flush()
    os.execv(update, [str(update), *sys.argv[1:]])


def _run(app_dir: Path, name: str, allow_eval: bool) -> None:
    # No abbreviations: "--head" must not mean --headless here and something else to the
    # refusal dialog's check, which runs before this parser.
    parser = argparse.ArgumentParser(
        prog=name, description=f"{name} (built with Ramparts)", allow_abbrev=False
    )
    parser.add_argument("--headless", action="store_true", help="run with no screen")
    if allow_eval:
        parser.add_argument("--eval", type=Path, help="JS file run as a page script")
        parser.add_argument("--timeout", type=float, default=30.0, help="seconds --eval may take")
    parser.add_argument("--trace", action="store_true", help="print console and bridge lines")
    parser.add_argument(
        "app_args",
        nargs="*",
        metavar="ARGS",
        help="the app's own arguments (after --); with single_instance, handed to a "
        "running instance",
    )
    parser.add_argument(
        LAUNCH_CHECK,
        action="store_true",
        help="verify this build and load the app without a window, then exit (the updater)",
    )
    if "--devtools" in sys.argv[1:]:
        # The inspector can run any script in the page, with the bridge's powers: it is
        # for `ramparts dev` only, and a built app never opens it.
        parser.error("--devtools is only for `ramparts dev`; a built app has no inspector")
    args = parser.parse_args()
    if args.launch_check:
        _launch_check(app_dir)
    from ramparts.run import run_app  # the app, Qt and the plugins load only from here on

    raise SystemExit(
        run_app(
            app_dir,
            headless=args.headless,
            eval_file=getattr(args, "eval", None),
            timeout=getattr(args, "timeout", 30.0),
            trace=args.trace,
            args=args.app_args,
        )
    )


def _launch_check(app_dir: Path) -> NoReturn:
    """Exit 0 once the app loads (config, declared plugins, commands), with no window:
    what the updater asks of a new build before making it current."""
    from ramparts.app import App
    from ramparts.errors import RampartsError

    try:
        App.load(app_dir)
    except (RampartsError, ImportError, SyntaxError) as e:
        print(f"error: the app does not load: {e}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    print("launch check: OK", file=sys.stderr, flush=True)
    raise SystemExit(0)
