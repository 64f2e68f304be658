"""A small GTK app built into a ``.deb``, installed as root and run the way a user would:
shared by tests/test_deb.py and tests/test_deb_update.py.

The app is one page and one command; :func:`build_deb` builds it signed with
``--deb --deb-compression gzip`` (the GTK backend bundles no engine: the smaller and
faster build), :func:`dpkg_installed` puts the package in place for the length of a ``with``
and purges it after, and :func:`run_installed` runs a command line of the installed app
as ``nobody``, who has no rights on ``/opt``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
from unprivileged import NOBODY

from ramparts.release.launcher import NO_DIALOG_ENV
from ramparts.testing import home_env

ROOT = Path(__file__).resolve().parent.parent
ICON = ROOT / "cookiecutter" / "app" / "{{cookiecutter.project_slug}}" / "icon.png"
COMMANDS = """
from ramparts import command


@command
def add(a: int, b: int) -> int:
    return a + b
"""
PAGE = (
    '<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>'
    "<body><p>{title}</p></body></html>"
)
#: Field codes a desktop entry's ``Exec`` may hold (freedesktop Desktop Entry
#: Specification, "Exec key"). Started with no file or URL, a launcher drops the file and
#: URL codes; it would expand %i, %c and %k, which the entries ramparts writes never use,
#: so here they are dropped too.
_FIELD_CODES = frozenset("fFuUdDnNickvm")


def write_app(root: Path, pyproject: str, title: str) -> Path:
    """The app's folder: ``ui/index.html`` titled ``title``, its commands, its icon."""
    (root / "ui").mkdir(parents=True)
    (root / "ui" / "index.html").write_text(PAGE.format(title=title))
    (root / "debtest_commands.py").write_text(COMMANDS)
    (root / "pyproject.toml").write_text(pyproject)
    shutil.copyfile(ICON, root / "icon.png")
    return root


@attrs.frozen
class Built:
    deb: Path
    output: str
    artifact: Path


def build_deb(app: Path, key: Path, out: Path, env: dict[str, str]) -> Built:
    """``ramparts build APP --key KEY --allow-eval --deb --deb-compression gzip``."""
    env = {k: v for k, v in env.items() if k != "RAMPARTS_BACKEND"}  # the app's own: gtk
    deb = ("--allow-eval", "--out", str(out), "--deb", "--deb-compression", "gzip")
    done = subprocess.run(
        [sys.executable, "-m", "ramparts", "build", str(app), "--key", str(key), *deb],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    shutil.rmtree(app / "build", ignore_errors=True)  # PyInstaller's work files
    debs = sorted(out.glob("*.deb"))
    assert len(debs) == 1, output
    return Built(debs[0], output, out / app.name)


@contextmanager
def dpkg_installed(deb: Path, package: str) -> Iterator[Path]:
    """``dpkg -i DEB``; ``dpkg --purge`` on the way out, whatever happened. Yields
    ``/opt/<package>``."""
    done = subprocess.run(["dpkg", "-i", str(deb)], capture_output=True, text=True)
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        yield Path("/opt") / package
    finally:
        subprocess.run(["dpkg", "--purge", package], capture_output=True, text=True)


def desktop_exec(entry: str) -> list[str]:
    """The command line of a desktop entry's ``Exec=`` key, as a launcher runs it with no
    file to open: the value's escapes undone, split into words (double quotes group;
    inside them a backslash escapes a quote, backquote, dollar or backslash), field codes
    dropped."""
    value = next(line[5:] for line in entry.splitlines() if line.startswith("Exec="))
    value = _unescape_string(value)
    words: list[str] = []
    word: str | None = None
    i = 0
    while i < len(value):
        c = value[i]
        if c == " ":
            if word is not None:
                words.append(word)
            word = None
        elif c == '"':
            end = i + 1
            quoted = ""
            while value[end] != '"':
                if value[end] == "\\" and value[end + 1] in '"`$\\':
                    end += 1
                quoted += value[end]
                end += 1
            word = (word or "") + quoted
            i = end
        else:
            word = (word or "") + c
        i += 1
    if word is not None:
        words.append(word)
    return [w.replace("%%", "%") for w in words if not _is_field_code(w)]


def _unescape_string(value: str) -> str:
    escapes = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    out, i = "", 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value) and value[i + 1] in escapes:
            out += escapes[value[i + 1]]
            i += 2
        else:
            out += value[i]
            i += 1
    return out


def _is_field_code(word: str) -> bool:
    return len(word) == 2 and word[0] == "%" and word[1] in _FIELD_CODES


def run_installed(
    argv: list[str], home: Path, display: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``argv`` (its first word found on ``/usr/bin:/bin``, as a desktop would) as
    ``nobody``, with ``home`` as ``$HOME`` and the XDG folders, on X display ``display``."""
    env = {"PATH": "/usr/bin:/bin", "DISPLAY": display, NO_DIALOG_ENV: "1", **home_env(home)}
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env=env,
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
        timeout=timeout,
    )
