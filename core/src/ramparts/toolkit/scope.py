"""Path scopes: deny-by-default allow/deny globs over canonical paths.

Shared by every capability that touches the file system (fs, shell's working
directories and ``open``, dialog grants). The rules, in the order they are applied:

1. The requested path must be a string without NUL, at most 4096 bytes, each part at
   most 255 bytes, and without a ``..`` part (checked before anything else). It must be
   **text with one spelling** (:func:`os_bytes`): no lone surrogates, nothing the file
   system encoding cannot hold. Python spells undecodable file-name bytes as surrogates
   (``surrogateescape``), so ``"Priv\\udcc3\\udca9"`` is the OS name ``Privé`` in
   disguise; a scope that compared the disguise would not see the name it denies.
2. A leading ``$VARIABLE`` (``$APPDATA``, ``$HOME``, ...; see :data:`BASE_DIRS`) is
   expanded; the result must be absolute.
3. The path is made canonical: every symlink resolved (``os.path.realpath``). A
   canonical path that is not text (a symlink to an undecodable name) is out of scope.
4. **Deny wins**: a deny pattern matching the canonical path (or the path as asked,
   before symlinks were resolved) refuses it. Deny patterns ignore case and Unicode
   normalization: the path and the pattern are compared in NFC, in NFD and fully case
   folded, and any match denies, so ``SECRET`` or a decomposed ``é`` cannot slip past.
5. The canonical path must match an allow pattern, or a grant made at run time for
   this session (:class:`Grants`), else ``out_of_scope``.

Globs: ``*`` matches within one path part; ``?`` is one character within a part;
``**`` (a whole part) matches any number of parts, none included; ``\\`` makes the next
character literal (:func:`escape_glob`: the real base directories spliced into
patterns are escaped, so a home folder named ``a*b`` does not widen them). Patterns
match the whole path. In allow patterns **every part starting with a dot must be matched
by a literal dot**: no wildcard matches a leading dot, ``**`` included, so ``$HOME/**``
does not reach ``~/.ssh``, and ``$HOME/.config/**`` reaches ``~/.config/app/x`` but not
``~/.config/app/.token`` (Tauri's ``require_literal_leading_dot``). Deny patterns
are the other way round: their wildcards match dotted parts too, so a deny is never
narrower than it reads. A recursive grant (a folder the person picked) follows the allow
rule below the folder: its dotted entries are not granted.

Opening: :func:`open_checked` opens the checked canonical path with ``O_NOFOLLOW`` and
then confirms, from the descriptor, that the file opened is the one that was checked,
so a symlink swapped in between the check and the open is caught.

First use: a scope read from the config makes the app's own base directories its allow
patterns start with (``$APPDATA``, ``$APPCONFIG``, ``$APPCACHE``, ``$APPLOG``), mode
0700, the first time it resolves a path (:func:`~ramparts.toolkit.dirs.make_app_dir`),
so a page's first write on a fresh account does not need ``~/.local`` to exist.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
import sys
import threading
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from ramparts.errors import CommandError, CommandFailed, InvalidArgs, OutOfScope
from ramparts.toolkit.configtable import ConfigContext
from ramparts.toolkit.dirs import APP_DIRS, BASE_DIRS, base_dirs, make_app_dir

__all__ = [
    "BASE_DIRS",
    "Grants",
    "PathScope",
    "base_dirs",
    "check_path_syntax",
    "compile_glob",
    "escape_glob",
    "fold_name",
    "open_checked",
    "open_dir_checked",
    "os_bytes",
    "os_error",
]

MAX_PATH = 4096
MAX_PART = 255

log = logging.getLogger("ramparts.scope")

_VAR = re.compile(r"^\$([A-Z]+)(?=/|$)")
#: One scope at a time makes its directories, so two first calls do not race.
_MAKE_LOCK = threading.Lock()
_SURROGATE = re.compile("[\ud800-\udfff]")
#: What glob syntax a literal must escape: the wildcards, the escape itself, and the
#: brackets and braces other glob dialects read, so an escaped literal stays literal.
_GLOB_SPECIAL = re.compile(r"([\\*?\[\]{}])")


def os_bytes(text: str) -> bytes | None:
    """The bytes the OS gets for ``text`` (a path, a program argument), if it has one spelling.

    ``None`` when ``text`` holds NUL, any surrogate code point (what ``surrogateescape``
    makes of undecodable bytes: ``"Priv\\udcc3\\udca9"`` reaches the OS as ``Privé``),
    or anything the file system encoding cannot hold or does not decode back to
    ``text``. Checks that compare text are then comparing the name the OS acts on.
    """
    if text.isascii():  # the common case; file system encodings all extend ASCII
        return None if "\x00" in text else text.encode("ascii")
    if "\x00" in text or _SURROGATE.search(text):
        return None
    codec = sys.getfilesystemencoding()
    try:
        name = text.encode(codec)
        back = name.decode(codec)
    except UnicodeError:
        return None
    return name if back == text else None


def escape_glob(literal: str) -> str:
    """``literal`` as a glob that matches exactly it (``a*b`` -> ``a\\*b``)."""
    return _GLOB_SPECIAL.sub(r"\\\1", literal)


#: Code points HFS+ ignores when it compares names (Apple TN1150; the list git uses
#: since CVE-2014-9390): ``.g\u200cit`` is ``.git`` there, ``\u200c.ssh`` is ``.ssh``.
_IGNORABLE_CHARS = (
    "\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u206a\u206b\u206c\u206d\u206e\u206f\ufeff"
)
_IGNORABLE = dict.fromkeys(map(ord, _IGNORABLE_CHARS))


def fold_name(text: str) -> str:
    """The spelling names are compared in where case and normalization must not matter
    (deny patterns, risky file types): NFC of the full case folding (``ß`` -> ``ss``,
    ``É`` -> ``é``), without the code points HFS+ ignores."""
    folded = unicodedata.normalize("NFD", text).casefold().translate(_IGNORABLE)
    return unicodedata.normalize("NFC", folded)


def _dotted(part: str) -> bool:
    """Does a path part start with a dot (after what HFS+ would ignore)?"""
    return part.lstrip(_IGNORABLE_CHARS).startswith(".")


#: The spellings a deny pattern and a path are compared in; a match in any one denies.
#: NFC and NFD because macOS file systems treat both as one name (and Linux ones keep
#: either); the folded forms because full folding changes lengths (``ß``/``ss``), which
#: ``re.IGNORECASE`` (one character for one) cannot see.
_DENY_FORMS: tuple[Callable[[str], str], ...] = (
    lambda t: unicodedata.normalize("NFC", t),
    lambda t: unicodedata.normalize("NFD", t),
    fold_name,
    lambda t: unicodedata.normalize("NFD", fold_name(t)),
)


def compile_glob(pattern: str, *, fold: bool = False, hidden: bool = False) -> re.Pattern[str]:
    """Compile an absolute glob into a regex over whole paths (see module docs).

    :param fold: ignore case, one character for one (deny patterns; :class:`PathScope`
        also compares them in each normal form and fully folded).
    :param hidden: let wildcards match a part's leading dot (deny patterns).
    """
    # A wildcard may not start a part with "." (nor with what HFS+ ignores, then ".").
    lead = "" if hidden else f"(?![{_IGNORABLE_CHARS}]*\\.)"
    part = f"{lead}[^/]+"
    tail = ""
    if pattern.endswith("/**") and not _escaped(pattern, len(pattern) - 3):
        # A trailing "/**" matches the directory itself and anything below it.
        pattern = pattern[: -len("/**")]
        tail = f"(?:/{part})*" if pattern else f"(?:/|(?:/{part})+)"
    out = []
    i = 0
    at_part_start = True
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            # An escaped character is literal (a trailing lone "\\" is literal too).
            out.append(re.escape(pattern[i + 1]))
            at_part_start = pattern[i + 1] == "/"
            i += 2
            continue
        if at_part_start and pattern.startswith("**/", i):
            out.append(f"(?:{part}/)*")  # zero or more whole parts
            i += 3
            continue
        if pattern.startswith("**", i):
            # Inside a part ("a**"): like "*", but across "/", each new part still
            # refusing a leading dot.
            out.append((lead if at_part_start else "") + f"(?:[^/]|/{lead})*")
            at_part_start = False
            i += 2
            continue
        if c == "*":
            out.append(lead + "[^/]*" if at_part_start else "[^/]*")
        elif c == "?":
            out.append(lead + "[^/]" if at_part_start else "[^/]")
        else:
            out.append(re.escape(c))
        at_part_start = c == "/"
        i += 1
    return re.compile("".join(out) + tail, re.DOTALL | (re.IGNORECASE if fold else 0))


def _escaped(pattern: str, i: int) -> bool:
    """Is ``pattern[i]`` escaped (preceded by an odd run of backslashes)?"""
    run = len(pattern[:i]) - len(pattern[:i].rstrip("\\"))
    return run % 2 == 1


def check_path_syntax(path: Any, where: str = "path") -> str:
    """Rule 1: refuse what is malformed before touching the file system."""
    if not isinstance(path, str):
        raise InvalidArgs(f"{where}: expected a path string")
    if "\x00" in path:
        raise InvalidArgs(f"{where}: a path cannot contain a NUL byte")
    if not path:
        raise InvalidArgs(f"{where}: the path is empty")
    encoded = os_bytes(path)
    if encoded is None:
        raise InvalidArgs(
            f"{where}: the path is not valid text for this system "
            "(a lone surrogate, or a character its file names cannot hold)"
        )
    if len(encoded) > MAX_PATH:
        raise InvalidArgs(f"{where}: the path is longer than {MAX_PATH} bytes")
    parts = path.replace("\\", "/").split("/") if sys.platform == "win32" else path.split("/")
    if ".." in parts:
        raise InvalidArgs(f"{where}: '..' is not allowed in a path")
    if any(len(os.fsencode(p)) > MAX_PART for p in parts):
        raise InvalidArgs(f"{where}: a path part is longer than {MAX_PART} bytes")
    return path


@attrs.define
class Grants:
    """Paths added to one session's scope at run time (e.g. a file picked in a dialog).

    Grants belong to a :class:`~ramparts.bridge.session.WindowSession` (``session.grants``) and
    die with it: another window, or the same window after a reload, does not see them.
    Deny patterns still win over grants. A recursive grant covers its root (even a
    dotted one: the person picked it) and, below it, what ``root/**`` would: no part
    starting with a dot, so picking ``~`` does not hand over ``~/.ssh``.
    """

    _exact: set[str] = attrs.field(factory=set)
    _trees: set[str] = attrs.field(factory=set)
    _lock: threading.Lock = attrs.field(factory=threading.Lock)

    def add_path(self, path: str | os.PathLike[str], *, recursive: bool = False) -> str:
        """Grant exactly ``path`` (its canonical form), or its whole tree if ``recursive``.

        Grants compare canonical paths as literal text (no glob), so a picked folder
        named ``a*`` grants that folder, not ``ab``.

        :return: the canonical path that was granted.
        :raises InvalidArgs: the path, or what it resolves to, is not text with one
            spelling (:func:`os_bytes`): the scope could never match it.
        """
        canonical = os.path.realpath(check_path_syntax(os.fspath(path)))
        if os_bytes(canonical) is None:
            raise InvalidArgs(f"path: {path} resolves to a name that is not valid text")
        with self._lock:
            (self._trees if recursive else self._exact).add(canonical)
        return canonical

    def covers(self, canonical: str) -> bool:
        with self._lock:
            if canonical in self._exact or canonical in self._trees:
                return True
            trees = list(self._trees)
        for tree in trees:
            root = tree.rstrip("/") + "/"
            if canonical.startswith(root):
                below = canonical[len(root) :].split("/")
                if not any(_dotted(p) for p in below):
                    return True
        return False

    def __len__(self) -> int:
        return len(self._exact) + len(self._trees)


@attrs.frozen
class PathScope:
    """Allow and deny globs, already expanded to absolute patterns."""

    allow: tuple[str, ...]
    deny: tuple[str, ...]
    dirs: Mapping[str, Path] = attrs.field(repr=False)
    #: The app's own base directories the allow patterns start with, made on first use
    #: (:meth:`resolve`; see :func:`~ramparts.toolkit.dirs.make_app_dir`).
    own_dirs: tuple[Path, ...] = attrs.field(default=(), repr=False, eq=False)
    _made: threading.Event = attrs.field(factory=threading.Event, init=False, repr=False, eq=False)
    _allow_re: tuple[re.Pattern[str], ...] = attrs.field(init=False, repr=False)
    #: One tuple of compiled deny patterns per spelling in :data:`_DENY_FORMS`.
    #: Per spelling of :data:`_DENY_FORMS`: the spelling and every deny pattern in it,
    #: as one regex (the same regex object when two spellings of the patterns agree).
    _deny_re: tuple[tuple[Callable[[str], str], re.Pattern[str]], ...] = attrs.field(
        init=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_allow_re", tuple(compile_glob(p) for p in self.allow))
        compiled: dict[str, re.Pattern[str]] = {}
        deny = []
        for form in _DENY_FORMS if self.deny else ():
            rx = (compile_glob(form(p), fold=True, hidden=True) for p in self.deny)
            source = "|".join(f"(?:{r.pattern})" for r in rx)
            flags = re.DOTALL | re.IGNORECASE
            deny.append((form, compiled.setdefault(source, re.compile(source, flags))))
        object.__setattr__(self, "_deny_re", tuple(deny))

    @classmethod
    def from_config(
        cls, table: Mapping[str, Any], ctx: ConfigContext, key: str = "scope"
    ) -> PathScope:
        """Read ``[<capability>.scope]`` with ``allow`` and ``deny`` lists of patterns."""
        raw = table.get(key, {})
        if not isinstance(raw, dict):
            raise ctx.error(key, raw, "a table with 'allow' and 'deny' lists of path patterns")
        ctx.check_keys(raw, ("allow", "deny"), where=key)
        dirs = base_dirs(ctx.identifier, ctx.app_dir)
        lists: dict[str, list[str]] = {}
        for which in ("allow", "deny"):
            patterns = raw.get(which, [])
            if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
                raise ctx.error(f"{key}.{which}", patterns, "a list of path patterns")
            expanded = []
            for p in patterns:
                try:
                    expanded.append(expand_pattern(p, dirs))
                except ValueError as e:
                    raise ctx.error(f"{key}.{which}", p, str(e)) from None
            lists[which] = expanded
        named = {m.group(1) for p in raw.get("allow", []) if (m := _VAR.match(p))}
        own = tuple(dict.fromkeys(dirs[d] for d in APP_DIRS if d in named))
        return cls(tuple(lists["allow"]), tuple(lists["deny"]), dirs, own)

    def resolve(
        self,
        path: Any,
        grants: Grants | None = None,
        *,
        where: str = "path",
        follow_final: bool = True,
    ) -> Path:
        """Apply rules 1-5 and return the canonical path, or raise a ``CommandError``.

        :param follow_final: resolve a symlink in the last part too (reads and writes go
            to the link's target). ``False`` for operations on the link itself (remove,
            rename): only the parent is resolved.
        """
        check_path_syntax(path, where)
        if not self._made.is_set():
            self._make_own_dirs()
        expanded = self.expand(path, where)
        literal = os.path.normpath(expanded)
        if follow_final:
            canonical = os.path.realpath(expanded)
        else:
            head, tail = os.path.split(literal)
            canonical = os.path.join(os.path.realpath(head), tail)
        if self.denies(canonical) or self.denies(literal):
            raise OutOfScope(f"{where}: {path} is denied by this app's scope")
        if os_bytes(canonical) is None:
            # Reached through a symlink or base directory whose name is not text: no
            # pattern can be trusted to have meant it.
            raise OutOfScope(f"{where}: {path} resolves to a name that is not valid text")
        if any(r.fullmatch(canonical) for r in self._allow_re):
            return Path(canonical)
        if grants is not None and grants.covers(canonical):
            return Path(canonical)
        raise OutOfScope(f"{where}: {path} is outside this app's scope")

    def _make_own_dirs(self) -> None:
        """Create the app's own base directories the scope allows, once per scope.

        On first use rather than when the config is read, so ``ramparts check`` and a
        build leave the machine's home alone. A directory that cannot be made is a
        warning, not a refusal to start: an app that only reads there still runs, and
        a write there fails as it would without this (``out_of_scope`` for the folders
        above it, or ``command_failed``).
        """
        with _MAKE_LOCK:
            if self._made.is_set():
                return
            for d in self.own_dirs:
                try:
                    if make_app_dir(d):
                        log.info("created %s (mode 0700)", d)
                except OSError as e:
                    log.warning(
                        "cannot create the app directory %s (%s); writes there will fail",
                        d,
                        e.strerror or e,
                    )
            self._made.set()

    def denies(self, path: str) -> bool:
        """Does a deny pattern match ``path`` in any spelling of :data:`_DENY_FORMS`?"""
        if path.isascii():
            # ASCII text is every one of its spellings, up to case, which the regexes
            # ignore: each distinct regex is tried once, on the path as it is.
            return any(rx.fullmatch(path) for rx in dict.fromkeys(r for _, r in self._deny_re))
        tried: set[tuple[re.Pattern[str], str]] = set()
        for form, rx in self._deny_re:
            spelled = form(path)
            if (rx, spelled) not in tried:  # ASCII paths and patterns: one try, not four
                tried.add((rx, spelled))
                if rx.fullmatch(spelled):
                    return True
        return False

    def allows(self, canonical: str, grants: Grants | None = None) -> bool:
        """Is an already-canonical path in scope (used to filter directory listings)?

        A name that is not text (:func:`os_bytes`) never is: the page could not name it.
        """
        if self.denies(canonical) or os_bytes(canonical) is None:
            return False
        if any(r.fullmatch(canonical) for r in self._allow_re):
            return True
        return grants is not None and grants.covers(canonical)

    def expand(self, path: str, where: str = "path") -> str:
        m = _VAR.match(path)
        if m:
            name = m.group(1)
            if name not in self.dirs:
                raise InvalidArgs(f"{where}: unknown base directory ${name}")
            path = str(self.dirs[name]) + path[m.end() :]
        if not os.path.isabs(path):
            raise InvalidArgs(f"{where}: give an absolute path or start with $APPDATA, $HOME, ...")
        return path


def expand_pattern(pattern: str, dirs: Mapping[str, Path]) -> str:
    """``$APPDATA/**`` -> ``/home/u/.local/share/<id>/**`` (canonical, escaped base)."""
    m = _VAR.match(pattern)
    if m:
        if m.group(1) not in dirs:
            raise ValueError(f"a pattern starting with one of ${', $'.join(BASE_DIRS)}")
        # The base directory itself may be a symlink: match what paths resolve to. Its
        # name is literal text: a "*" in it (or in the app identifier) is no wildcard.
        base = escape_glob(os.path.realpath(dirs[m.group(1)]))
        pattern = base + pattern[m.end() :]
    if not os.path.isabs(pattern):
        raise ValueError("an absolute pattern or one starting with $APPDATA, $HOME, ...")
    if ".." in pattern.split("/"):
        raise ValueError("a pattern without '..'")
    return pattern


def open_checked(canonical: Path, flags: int, mode: int = 0o666, *, regular: bool = True) -> int:
    """Open a checked canonical path and prove the descriptor is that file.

    ``O_NOFOLLOW`` refuses a symlink swapped in for the last part; the descriptor's real
    path (``/proc/self/fd`` on Linux; elsewhere device, inode and a path that still
    resolves to itself) catches a swapped parent.
    ``O_NONBLOCK`` keeps FIFOs from hanging the open; ``regular`` then refuses anything
    that is not a regular file (FIFOs, devices such as ``/dev/zero``, sockets).
    """
    extra = 0
    for name in ("O_NOFOLLOW", "O_CLOEXEC", "O_NONBLOCK"):
        extra |= getattr(os, name, 0)
    try:
        fd = os.open(canonical, flags | extra, mode)
    except OSError as e:
        if e.errno == errno.ENOTDIR and os.path.islink(canonical):
            # O_DIRECTORY | O_NOFOLLOW on a symlink fails with ENOTDIR, not ELOOP.
            e = OSError(errno.ELOOP, os.strerror(errno.ELOOP))
        raise os_error(e, canonical) from None
    try:
        st = os.fstat(fd)
        if regular and not stat.S_ISREG(st.st_mode):
            raise InvalidArgs(f"{canonical} is not a regular file")
        _confirm(fd, canonical, st)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _confirm(fd: int, canonical: Path, st: os.stat_result) -> None:
    proc = f"/proc/self/fd/{fd}"
    if os.path.exists(proc):
        if os.readlink(proc) != str(canonical):
            raise OutOfScope(f"{canonical} changed while it was being opened")
        return
    # No /proc (macOS, BSD): device and inode alone cannot see a parent that was swapped
    # for a symlink (the path still leads to the opened file), so the path must also
    # still resolve to itself.
    try:
        now = os.stat(canonical, follow_symlinks=False)
        real = os.path.realpath(canonical)
    except OSError:
        raise OutOfScope(f"{canonical} changed while it was being opened") from None
    if real != str(canonical) or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
        raise OutOfScope(f"{canonical} changed while it was being opened")


def open_dir_checked(canonical: Path) -> int:
    """Open a checked directory (for ``*at`` operations) and prove it is that directory."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    fd = open_checked(canonical, flags, regular=False)
    if not stat.S_ISDIR(os.fstat(fd).st_mode):
        os.close(fd)
        raise InvalidArgs(f"{canonical} is not a directory")
    return fd


def os_error(e: OSError, path: Path | str) -> CommandError:
    """A clear ``CommandError`` for an ``OSError`` on a checked path."""
    if e.errno == errno.ELOOP:
        return OutOfScope(f"{path} is a symlink that appeared after the scope check")
    if e.errno == errno.ENOENT:
        return CommandFailed(f"{path} does not exist", data={"errno": "ENOENT"})
    if e.errno in (errno.EACCES, errno.EPERM):
        return CommandFailed(f"{path}: permission denied", data={"errno": "EACCES"})
    if e.errno == errno.EISDIR:
        return InvalidArgs(f"{path} is a directory")
    if e.errno == errno.ENOTDIR:
        return InvalidArgs(f"a parent of {path} is not a directory")
    if e.errno == errno.ENXIO:
        return InvalidArgs(f"{path} is not a regular file")
    return CommandFailed(f"{path}: {os.strerror(e.errno or 0)}")
