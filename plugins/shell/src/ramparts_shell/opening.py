"""``shell.open``: hand an allowed URL, or a non-executable file in scope, to the desktop.

Never starts a local program: executables and file types a desktop would run are
refused, and the opener gets the target as a single argument, never via a shell.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import threading
from urllib.parse import unquote, urlsplit

from ramparts import CallContext, CommandFailed, InvalidArgs, NotAllowed, OutOfScope, command
from ramparts.toolkit import fold_name, os_bytes, os_error

from .config import ShellState

__all__ = ["MAX_TARGET", "OPEN_WAIT", "open_"]

#: Seconds ``open`` waits for the opener to report success; a slower one is left running.
OPEN_WAIT = 5.0
MAX_TARGET = 8192

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Environment the desktop opener needs to find the session and the user's handlers.
_OPEN_ENV = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "TMPDIR",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XAUTHORITY",
    "DBUS_SESSION_BUS_ADDRESS",
    "DESKTOP_SESSION",
    "KDE_FULL_SESSION",
    "KDE_SESSION_VERSION",
    "GNOME_DESKTOP_SESSION_ID",
    "BROWSER",
)
_OPEN_ENV_PREFIXES = ("XDG_", "LC_")
# fmt: off
#: File types a desktop may run, install or hand to an interpreter when "opened".
_RISKY_SUFFIXES = frozenset({
    ".desktop", ".app", ".command", ".tool", ".terminal", ".workflow", ".action", ".scpt",
    ".scptd", ".applescript", ".jar", ".jnlp", ".appimage", ".flatpakref", ".flatpakrepo",
    ".snap", ".deb", ".rpm", ".pkg", ".mpkg", ".run", ".bin", ".sh", ".bash", ".zsh", ".csh",
    ".ksh", ".fish", ".py", ".pyw", ".pyz", ".pl", ".rb", ".php", ".js", ".jse", ".vbs",
    ".vbe", ".wsf", ".wsh", ".ps1", ".psm1", ".bat", ".cmd", ".com", ".exe", ".msi", ".msp",
    ".scr", ".pif", ".cpl", ".hta", ".lnk", ".reg", ".inf", ".scf", ".url", ".application",
    ".appref-ms", ".gadget", ".msc", ".dll", ".so", ".dylib", ".kext",
})
# fmt: on


@command(name="open")
def open_(ctx: CallContext, target: str) -> None:
    """Open a URL (or an allowed, non-executable file) with the desktop's default handler.

    Never starts a local program: executables and file types a desktop would run are
    refused, and the opener gets the target as a single argument, never via a shell.
    """
    state: ShellState = ctx.state
    argument = _open_argument(state, target)
    if state.opener is None:
        raise CommandFailed("there is no desktop opener (xdg-open) on this system")
    env = {
        k: v for k, v in os.environ.items() if k in _OPEN_ENV or k.startswith(_OPEN_ENV_PREFIXES)
    }
    try:
        opener = subprocess.Popen(
            [state.opener, argument],
            shell=False,
            env=env,
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as e:
        raise CommandFailed(f"the desktop opener could not be started: {e.strerror}") from None
    try:
        code = opener.wait(OPEN_WAIT)
    except subprocess.TimeoutExpired:
        # Some openers run the handler in the foreground: leave it (it is the user's
        # browser now), but still reap it when it ends.
        threading.Thread(target=opener.wait, name="ramparts-shell-open", daemon=True).start()
        return
    if code != 0:
        raise CommandFailed(f"the desktop could not open it (the opener exited with {code})")


def _open_argument(state: ShellState, target: str) -> str:
    """Check ``target`` and return what the opener gets (a URL, or a canonical path)."""
    if state.open_pattern is None:
        raise NotAllowed("open is turned off in this app's config (open = false)")
    if not target or len(target) > MAX_TARGET:
        raise InvalidArgs(f"target: give a URL or path of 1 to {MAX_TARGET} characters")
    if _CONTROL.search(target):
        raise InvalidArgs("target: control characters are not allowed")
    if os_bytes(target) is None:
        # The pattern reads text and the opener gets bytes: lone surrogates would make
        # those two different names (a URL included, not only a path).
        raise InvalidArgs("target: not valid text (lone surrogates)")
    if target.startswith("-"):
        raise InvalidArgs("target: cannot start with '-' (the opener would read an option)")
    if state.open_pattern.fullmatch(target) is None:
        raise OutOfScope(f"target: {target!r} does not match this app's open pattern")
    scheme = _SCHEME.match(target)
    if target.startswith("/") or (scheme is not None and scheme.group().lower() == "file:"):
        return _open_file(state, target)
    if scheme is None:
        raise InvalidArgs("target: give a URL with a scheme (https://...) or an absolute path")
    if any(c.isspace() for c in target) or "\\" in target:
        raise InvalidArgs("target: a URL cannot contain spaces or backslashes")
    try:
        parts = urlsplit(target)
        host = parts.hostname
    except ValueError:
        raise InvalidArgs("target: not a valid URL") from None
    if "@" in parts.netloc:
        raise InvalidArgs("target: URLs with user info (user@host) are refused")
    if parts.scheme.lower() in ("http", "https") and not host:
        raise InvalidArgs("target: the URL has no host")
    return target


def _open_file(state: ShellState, target: str) -> str:
    if target.startswith("/"):
        path = target
    else:
        parts = urlsplit(target)
        if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
            raise InvalidArgs("target: only plain local file: URLs can be opened")
        try:
            # Strict: "%FF" must not quietly become U+FFFD, another name than was sent.
            path = unquote(parts.path, errors="strict")
        except UnicodeDecodeError:
            raise InvalidArgs("target: the file: URL's path is not valid UTF-8") from None
    canonical = state.open_files.resolve(path, where="target")
    try:
        info = os.stat(canonical)
    except OSError as e:
        raise os_error(e, canonical) from None
    if not stat.S_ISREG(info.st_mode):
        raise InvalidArgs(f"target: {canonical} is not a regular file")
    if info.st_mode & 0o111:
        raise NotAllowed(f"target: {canonical} is executable; open never starts programs")
    for name in (canonical.name, os.path.basename(path)):
        # Folded: ".SH", ".s\u200ch" (one name with ".sh" on HFS+) are ".sh" too.
        suffix = os.path.splitext(fold_name(name))[1]
        if suffix in _RISKY_SUFFIXES:
            raise NotAllowed(f"target: {suffix} files may run code when opened; refused")
    return str(canonical)
