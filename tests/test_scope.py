"""The path-scope engine (``ramparts.toolkit.scope``): globs, deny rules, path syntax, symlinks,
run-time grants, config errors, and the checked open that catches swapped paths.

Every test runs against real files under ``tmp_path``; the base directories
(``$APPDATA``, ...) are pointed there through ``HOME`` and the ``XDG_*`` variables.
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

import ramparts.toolkit.scope
from ramparts import ConfigContext
from ramparts.errors import CommandFailed, ConfigError, InvalidArgs, OutOfScope
from ramparts.testing import home_env
from ramparts.toolkit.scope import (
    BASE_DIRS,
    Grants,
    PathScope,
    check_path_syntax,
    compile_glob,
    open_checked,
    open_dir_checked,
)

IDENT = "dev.ramparts.test"
PREFIX = "tool.ramparts.capabilities.fs"
T = TypeVar("T")


class World:
    """A fake home with the XDG directories, an app folder, and a dir outside every scope."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.appdata = self.home / ".local" / "share" / IDENT
        self.outside = root / "outside"
        self.app_dir = root / "app"
        for d in (self.appdata, self.outside, self.app_dir):
            d.mkdir(parents=True)
        self.secret = self.outside / "secret.txt"
        self.secret.write_text("outside secret")
        self.ctx = ConfigContext(self.app_dir / "pyproject.toml", PREFIX, self.app_dir, IDENT)

    def scope(self, allow: list[str], deny: list[str] | None = None) -> PathScope:
        return PathScope.from_config({"scope": {"allow": allow, "deny": deny or []}}, self.ctx)

    def file(self, rel: str, text: str = "x") -> Path:
        p = self.appdata / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        return p


def point_dirs_at(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in home_env(home).items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    w = World(tmp_path.resolve())
    point_dirs_at(w.home, monkeypatch)
    return w


def no_hang(fn: Callable[[], T], seconds: float = 10.0) -> T:
    """Run ``fn`` in a thread so a blocking open fails the test instead of hanging it."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "the call blocked"
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


# -- globs ---------------------------------------------------------------------------

GLOBS = [
    # "*" stays inside one part
    ("/a/*", "/a/b", True),
    ("/a/*", "/a/b/c", False),
    ("/a/*", "/a", False),
    ("/a/*.txt", "/a/x.txt", True),
    ("/a/*.txt", "/a/d/x.txt", False),
    ("/a/*/c", "/a/b/c", True),
    ("/a/*/c", "/a/b/x/c", False),
    # "*" and "?" never match a leading dot, unless the pattern has the dot
    ("/a/*", "/a/.hidden", False),
    ("/a/*.txt", "/a/.x.txt", False),
    ("/a/*/c", "/a/.git/c", False),
    ("/a/x*", "/a/x.y", True),
    ("/a/.*", "/a/.hidden", True),
    ("/a/.h*", "/a/.hidden", True),
    ("/a/?", "/a/b", True),
    ("/a/?", "/a/bc", False),
    ("/a/?", "/a/.", False),
    ("/a/?x", "/a/.x", False),
    ("/a/x?", "/a/x.", True),
    # "**" crosses parts and also matches zero parts, but, like "*", never a part that
    # starts with a dot: every dotted part must be matched by a literal dot
    ("/a/**", "/a", True),
    ("/a/**", "/a/b", True),
    ("/a/**", "/a/b/c/d", True),
    ("/a/**", "/a/b.c/d.e", True),
    ("/a/**", "/a/.git", False),
    ("/a/**", "/a/.git/config", False),
    ("/a/**", "/a/b/.ssh/id_rsa", False),
    ("/a/**", "/a/b/.", False),
    ("/a/**", "/ab", False),
    ("/a/**", "/a-b/c", False),
    ("/**", "/", True),
    ("/**", "/etc/passwd", True),
    ("/**", "/home/u/.ssh/id_rsa", False),
    ("/a/**/x.txt", "/a/x.txt", True),
    ("/a/**/x.txt", "/a/b/c/x.txt", True),
    ("/a/**/x.txt", "/a/.h/x.txt", False),
    ("/a/**/x.txt", "/a/b/.h/x.txt", False),
    ("/a/**/x.txt", "/a/bx.txt", False),
    ("/a/**/x.txt", "/a/b/x.txt.bak", False),
    ("/a/**/*.key", "/a/b/id.key", True),
    ("/a/**/*.key", "/a/.ssh/id.key", False),
    ("/a/**/*.key", "/a/b/.id.key", False),
    ("/a/x**", "/a/xy/z", True),
    ("/a/x**", "/a/x/.z", False),
    # a literal dot lets a dotted part in, and only that part
    ("/a/.config/**", "/a/.config", True),
    ("/a/.config/**", "/a/.config/app/x", True),
    ("/a/.config/**", "/a/.config/app/.token", False),
    ("/a/**/.cache/*", "/a/.cache/x", True),
    ("/a/**/.cache/*", "/a/b/c/.cache/x", True),
    ("/a/**/.cache/*", "/a/.b/.cache/x", False),
    ("/a/**/.cache/*", "/a/b/.cache/.x", False),
    ("/a/.*/**", "/a/.git/HEAD", True),
    # whole paths only; everything else is literal
    ("/a/b", "/a/b/c", False),
    ("/a/b", "/x/a/b", False),
    ("/a/b", "/a/b\n", False),
    ("/a/[x]", "/a/[x]", True),
    ("/a/[x]", "/a/x", False),
    ("/a/x.y", "/a/xzy", False),
    ("/a/x+y(z)|w", "/a/x+y(z)|w", True),
    ("/a/x+y(z)|w", "/a/w", False),
    # "\\" makes the next character literal (real base directories are escaped this way)
    ("/a/\\*", "/a/*", True),
    ("/a/\\*", "/a/b", False),
    ("/a/\\?", "/a/x", False),
    ("/a\\*b/**", "/a*b/c", True),
    ("/a\\*b/**", "/aXb/c", False),
    ("/a/\\\\", "/a/\\", True),
    ("/a/\\\\*", "/a/\\x", True),  # an escaped backslash, then a real wildcard
    ("/a/\\[x]", "/a/[x]", True),
    ("/a/x\\", "/a/x\\", True),  # a trailing lone backslash is literal
]


@pytest.mark.parametrize(("pattern", "path", "expected"), GLOBS)
def test_glob_semantics(pattern: str, path: str, expected: bool) -> None:
    assert bool(compile_glob(pattern).fullmatch(path)) is expected


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        ("/a/**", "/a/.git/config"),
        ("/a/*", "/a/.hidden"),
        ("/a/**/*.key", "/a/.ssh/.id.key"),
        ("/a/?env", "/a/.env"),
        ("/**", "/home/u/.ssh/id_rsa"),
    ],
)
def test_deny_wildcards_match_dotted_parts(world: World, pattern: str, path: str) -> None:
    # A deny is never narrower than it reads: "$HOME/secret/**" covers secret/.key too.
    assert not compile_glob(pattern).fullmatch(path)
    assert compile_glob(pattern, fold=True, hidden=True).fullmatch(path)
    scope = PathScope((path,), (pattern,), {})
    assert not scope.allows(path)


def test_folded_globs_ignore_case_and_normalization() -> None:
    nfc = unicodedata.normalize("NFC", "/a/Café/**")
    rx = compile_glob(nfc, fold=True)
    fold = ramparts.toolkit.scope.fold_name
    assert rx.fullmatch("/a/CAFÉ/x")  # one character for one: re.IGNORECASE
    assert rx.fullmatch(fold(unicodedata.normalize("NFD", "/a/cafÉ/x")))
    assert not compile_glob(nfc).fullmatch("/a/CAFÉ/x")  # allow patterns do not fold


# -- path syntax (rule 1) ------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "$APPDATA/notes/../notes/a.txt",  # would land in scope: still refused
        "$APPDATA/..",
        "..",
        "/etc/../etc/passwd",
        "$NOPE/../x",  # '..' is reported before the unknown variable
        "relative/../x",  # ... and before the missing root
        "$APPDATA/a/../../../../etc/passwd",
    ],
)
def test_dotdot_is_refused_before_anything_else(world: World, path: str) -> None:
    scope = world.scope(["$APPDATA/**", "/**"])
    with pytest.raises(InvalidArgs, match=r"'\.\.' is not allowed"):
        scope.resolve(path)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("$APPDATA/a\x00.txt", "NUL"),
        ("\x00", "NUL"),
        ("", "empty"),
        ("/" + "a/" * 2048 + "b", "longer than 4096 bytes"),
        ("$APPDATA/" + "a" * 256, "longer than 255 bytes"),
        ("$APPDATA/" + "é" * 128, "longer than 255 bytes"),  # bytes, not characters
        ("$APPDATA/\ud800", "not valid text"),
    ],
)
def test_malformed_paths_are_invalid_args(world: World, path: str, message: str) -> None:
    scope = world.scope(["$APPDATA/**"])
    with pytest.raises(InvalidArgs, match=message):
        scope.resolve(path)


@pytest.mark.parametrize("value", [None, 1, b"/etc/passwd", ["/x"]])
def test_non_strings_are_invalid_args(value: Any) -> None:
    with pytest.raises(InvalidArgs, match="expected a path string"):
        check_path_syntax(value, "src")


def test_length_limits_are_inclusive() -> None:
    check_path_syntax("/" + "a" * 255)
    check_path_syntax("/" + "é" * 127)
    exact = "/" + "/".join(["a" * 254] * 16)
    exact += "/" + "b" * (4096 - len(exact) - 1)
    assert len(exact.encode()) == 4096
    check_path_syntax(exact)


@pytest.mark.parametrize(
    "name", ["...", "..x", "x..", ".x.", "%2e%2e", "..%2f..", "..\\..", "\u2025"]
)
def test_dot_lookalikes_are_ordinary_names(world: World, name: str) -> None:
    scope = world.scope(["$APPDATA/notes/**", "$APPDATA/notes/.*"])  # ".*": literal dot
    resolved = scope.resolve(f"$APPDATA/notes/{name}")
    assert resolved == world.appdata / "notes" / name
    assert resolved.parent == world.appdata / "notes"


@pytest.mark.parametrize(
    "path",
    [
        "notes/a.txt",
        "./a.txt",
        "~/a.txt",
        "$appdata/a.txt",
        "APPDATA/a.txt",
        "${APPDATA}/a.txt",
        "$NOPE/a.txt",
        "$APPDATAX/a.txt",
        "$APPDATA_2/a.txt",
    ],
)
def test_relative_paths_and_unknown_variables_are_invalid_args(world: World, path: str) -> None:
    scope = world.scope(["$APPDATA/**", "/**"])
    with pytest.raises(InvalidArgs):
        scope.resolve(path)


def test_base_directories_follow_platformdirs(world: World) -> None:
    dirs = world.scope([]).dirs
    assert set(dirs) == set(BASE_DIRS)
    home = world.home
    assert dirs["APPDATA"] == home / ".local/share" / IDENT
    assert dirs["APPCONFIG"] == home / ".config" / IDENT
    assert dirs["APPCACHE"] == home / ".cache" / IDENT
    assert dirs["APPLOG"] == home / ".local/state" / IDENT / "log"
    assert dirs["HOME"] == home
    assert dirs["DOCUMENT"] == home / "Documents"
    assert dirs["DOWNLOAD"] == home / "Downloads"
    assert dirs["DESKTOP"] == home / "Desktop"
    assert dirs["TEMP"] == Path(tempfile.gettempdir())
    assert dirs["RESOURCE"] == world.app_dir


def test_variables_expand_in_paths_and_patterns(world: World) -> None:
    (world.app_dir / "assets").mkdir()
    scope = world.scope(["$APPDATA", "$APPLOG/*.log", "$RESOURCE/assets/**"])
    assert scope.resolve("$APPDATA") == world.appdata
    log = world.home / ".local/state" / IDENT / "log" / "app.log"
    assert scope.resolve("$APPLOG/app.log") == log
    assert scope.resolve(str(log)) == log  # the same file, asked by its absolute path
    assert scope.resolve("$RESOURCE/assets/a/b.png") == world.app_dir / "assets/a/b.png"
    with pytest.raises(OutOfScope):
        scope.resolve("$APPLOG/app.txt")
    with pytest.raises(OutOfScope):
        scope.resolve("$APPCONFIG/settings.json")


def test_base_directory_behind_a_symlink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path.resolve()
    real = root / "real-share"
    (real / IDENT).mkdir(parents=True)
    (real / IDENT / "a.txt").write_text("a")
    (root / "home").mkdir()
    (root / "home" / "share").symlink_to(real)
    point_dirs_at(root / "home", monkeypatch)
    monkeypatch.setenv("XDG_DATA_HOME", str(root / "home" / "share"))
    ctx = ConfigContext(root / "pyproject.toml", PREFIX, root, IDENT)
    scope = PathScope.from_config({"scope": {"allow": ["$APPDATA/*"]}}, ctx)
    assert scope.allow == (f"{real / IDENT}/*",)  # patterns hold the canonical base
    assert scope.resolve("$APPDATA/a.txt") == real / IDENT / "a.txt"
    assert scope.resolve(str(root / "home/share" / IDENT / "a.txt")) == real / IDENT / "a.txt"


def test_a_path_that_does_not_exist_yet_resolves(world: World) -> None:
    scope = world.scope(["$APPDATA/notes/*"])
    assert scope.resolve("$APPDATA/notes/new.txt") == world.appdata / "notes/new.txt"
    assert scope.resolve("$APPDATA/notes/new.txt/") == world.appdata / "notes/new.txt"
    assert scope.resolve("$APPDATA//notes///new.txt") == world.appdata / "notes/new.txt"
    assert scope.resolve("$APPDATA/./notes/./new.txt") == world.appdata / "notes/new.txt"


def test_no_scope_table_allows_nothing(world: World) -> None:
    world.file("a.txt")
    scope = PathScope.from_config({}, world.ctx)
    assert scope.allow == () and scope.deny == ()
    for path in ("$APPDATA/a.txt", "$APPDATA", "/", str(world.secret)):
        with pytest.raises(OutOfScope):
            scope.resolve(path)


# -- deny ----------------------------------------------------------------------------


def test_deny_wins_over_allow(world: World) -> None:
    world.file("secret/pw.txt")
    world.file("data/id.key")
    scope = world.scope(["$APPDATA/**"], ["$APPDATA/secret/**", "$APPDATA/**/*.key"])
    for path in ("$APPDATA/secret", "$APPDATA/secret/pw.txt", "$APPDATA/secret/new/x"):
        with pytest.raises(OutOfScope, match="denied"):
            scope.resolve(path)
    with pytest.raises(OutOfScope, match="denied"):
        scope.resolve("$APPDATA/data/id.key")
    with pytest.raises(OutOfScope, match="denied"):
        scope.resolve("$APPDATA/id.key")
    assert scope.resolve("$APPDATA/data/id.key.txt") == world.appdata / "data/id.key.txt"
    assert scope.resolve("$APPDATA/secrets.txt") == world.appdata / "secrets.txt"


def test_deny_of_a_directory_name_alone_does_not_cover_its_contents(world: World) -> None:
    # Documented: to deny a tree, deny "dir/**" ("dir" alone is only the directory).
    scope = world.scope(["$APPDATA/**"], ["$APPDATA/secret"])
    with pytest.raises(OutOfScope):
        scope.resolve("$APPDATA/secret")
    assert scope.resolve("$APPDATA/secret/x") == world.appdata / "secret/x"


@pytest.mark.parametrize(
    "path",
    [
        "$APPDATA/SECRET/pw.txt",
        "$APPDATA/Secret/pw.txt",
        "$APPDATA/secret/PW.TXT",
        "$APPDATA/data/ID.KEY",
        "$APPDATA/data/id.Key",
    ],
)
def test_deny_ignores_case(world: World, path: str) -> None:
    scope = world.scope(["$APPDATA/**"], ["$APPDATA/secret/**", "$APPDATA/**/*.key"])
    with pytest.raises(OutOfScope, match="denied"):
        scope.resolve(path)


def test_deny_ignores_unicode_normalization(world: World) -> None:
    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    assert nfc != nfd
    (world.appdata / nfd).mkdir()  # on disk, decomposed (as macOS would store it)
    (world.appdata / nfd / "pw.txt").write_text("pw")
    for pattern in (nfc, nfd):
        scope = world.scope(["$APPDATA/**"], [f"$APPDATA/{pattern}/**"])
        for name in (nfc, nfd, nfc.upper(), nfd.upper()):
            with pytest.raises(OutOfScope, match="denied"):
                scope.resolve(f"$APPDATA/{name}/pw.txt")
    # case folding, not just lower-casing: "STRASSE" is "straße"
    scope = world.scope(["$APPDATA/**"], ["$APPDATA/straße/**"])
    with pytest.raises(OutOfScope, match="denied"):
        scope.resolve("$APPDATA/STRASSE/x")


@pytest.mark.parametrize("name", [".g\u200cit", ".GIT\u200d", "\ufeff.git", ".gi\u206at"])
def test_deny_ignores_what_hfs_plus_ignores(world: World, name: str) -> None:
    # HFS+ compares names without some zero-width code points: there, these are ".git".
    scope = world.scope(["$APPDATA/**/.*/*"], ["$APPDATA/**/.git/**"])
    with pytest.raises(OutOfScope, match="denied"):
        scope.resolve(f"$APPDATA/repo/{name}/config")
    assert scope.resolve("$APPDATA/repo/.gitx/config") == world.appdata / "repo/.gitx/config"


def test_allow_wildcards_do_not_reach_a_dot_behind_what_hfs_plus_ignores(world: World) -> None:
    # On HFS+ "\u200c.ssh" is ".ssh": a wildcard must not match it, nor a tree grant.
    scope = world.scope(["$APPDATA/**", "$APPDATA/*"])
    grants = Grants()
    grants.add_path(world.outside, recursive=True)
    for name in ("\u200c.ssh", "\ufeff.env", "\u200e\u200f.git"):
        with pytest.raises(OutOfScope, match="outside"):
            scope.resolve(f"$APPDATA/{name}/id")
        with pytest.raises(OutOfScope, match="outside"):
            scope.resolve(f"$APPDATA/{name}")
        assert not grants.covers(str(world.outside / name / "x"))
    assert scope.resolve("$APPDATA/\u200cx/id") == world.appdata / "\u200cx/id"
    assert grants.covers(str(world.outside / "\u200cx"))


@pytest.mark.parametrize(
    "name", ["ß.key", "ẞ.key", unicodedata.normalize("NFD", "é.key"), "ﬁ.key", "Ω.key"]
)
def test_one_character_wildcards_survive_folding(world: World, name: str) -> None:
    # Full case folding changes lengths ("ß" -> "ss", "ﬁ" -> "fi") and NFD splits "é" in
    # two: a deny's "?" must still see one character in some spelling, or the deny
    # would be narrower than it reads.
    scope = world.scope(["$APPDATA/**"], ["$APPDATA/?.key"])
    with pytest.raises(OutOfScope, match="denied"):
        scope.resolve(f"$APPDATA/{name}")
    assert scope.resolve("$APPDATA/ab.key") == world.appdata / "ab.key"


def test_deny_matches_the_path_as_asked_and_the_canonical_path(world: World) -> None:
    world.file("real/x.txt")
    world.file("secret/pw.txt")
    (world.appdata / "alias").symlink_to(world.appdata / "real")
    (world.appdata / "pub").symlink_to(world.appdata / "secret")
    (world.appdata / "pw-link").symlink_to(world.appdata / "secret/pw.txt")
    scope = world.scope(["$APPDATA/**"], ["$APPDATA/alias/**", "$APPDATA/secret/**"])
    assert scope.resolve("$APPDATA/real/x.txt") == world.appdata / "real/x.txt"
    with pytest.raises(OutOfScope, match="denied"):  # as asked
        scope.resolve("$APPDATA/alias/x.txt")
    with pytest.raises(OutOfScope, match="denied"):  # canonical
        scope.resolve("$APPDATA/pub/pw.txt")
    with pytest.raises(OutOfScope, match="denied"):
        scope.resolve("$APPDATA/pw-link")


def test_deny_wins_over_grants(world: World) -> None:
    pw = world.file("secret/pw.txt")
    grants = Grants()
    grants.add_path(pw)
    grants.add_path(world.appdata, recursive=True)
    scope = world.scope([], ["$APPDATA/secret/**"])
    with pytest.raises(OutOfScope, match="denied"):
        scope.resolve(str(pw), grants)
    with pytest.raises(OutOfScope, match="denied"):
        scope.resolve("$APPDATA/SECRET/pw.txt", grants)
    assert not scope.allows(str(pw), grants)
    assert scope.resolve("$APPDATA/other.txt", grants) == world.appdata / "other.txt"


def test_allows_is_what_listings_use(world: World) -> None:
    scope = world.scope(["$APPDATA/notes/*"], ["$APPDATA/notes/*.key"])
    notes = world.appdata / "notes"
    assert scope.allows(str(notes / "a.txt"))
    assert not scope.allows(str(notes / ".hidden"))
    assert not scope.allows(str(notes / "a.key"))
    assert not scope.allows(str(notes / "A.KEY"))
    assert not scope.allows(str(notes / "sub/a.txt"))
    grants = Grants()
    grants.add_path(world.outside, recursive=True)
    assert scope.allows(str(world.secret), grants)
    assert not scope.allows(str(world.secret))


# -- symlinks ------------------------------------------------------------------------


def test_symlinks_are_resolved_before_matching(world: World) -> None:
    data = world.appdata / "data"
    data.mkdir()
    (data / "to-file").symlink_to(world.secret)
    (data / "to-dir").symlink_to(world.outside)
    (data / "to-root").symlink_to("/")
    (data / "relative").symlink_to("../../../../../outside/secret.txt")
    (data / "dangling").symlink_to(world.outside / "not-yet.txt")
    (data / "chain1").symlink_to(data / "chain2")
    (data / "chain2").symlink_to(world.secret)
    assert os.path.realpath(data / "relative") == str(world.secret)
    scope = world.scope(["$APPDATA/data/**"])
    for name in (
        "to-file",
        "to-dir",
        "to-dir/secret.txt",
        "to-dir/new.txt",
        "to-root/etc/passwd",
        "relative",
        "dangling",
        "chain1",
    ):
        with pytest.raises(OutOfScope, match="outside"):
            scope.resolve(f"$APPDATA/data/{name}")
    assert not (world.outside / "not-yet.txt").exists()


def test_symlinks_inside_the_scope_resolve_to_their_target(world: World) -> None:
    target = world.file("data/real.txt")
    (world.appdata / "data/link.txt").symlink_to("real.txt")
    (world.appdata / "data/dirlink").symlink_to(world.appdata / "data")
    scope = world.scope(["$APPDATA/data/**"])
    assert scope.resolve("$APPDATA/data/link.txt") == target
    assert scope.resolve("$APPDATA/data/dirlink/real.txt") == target


def test_symlink_loops_resolve_without_hanging(world: World) -> None:
    data = world.appdata / "data"
    data.mkdir()
    (data / "a").symlink_to(data / "b")
    (data / "b").symlink_to(data / "a")
    scope = world.scope(["$APPDATA/data/**"])
    canonical = no_hang(lambda: scope.resolve("$APPDATA/data/a"))
    assert canonical.parent == data
    with pytest.raises(OutOfScope):  # the open refuses it (ELOOP)
        open_checked(canonical, os.O_RDONLY)


def test_follow_final_false_works_on_the_link_itself(world: World) -> None:
    data = world.appdata / "data"
    data.mkdir()
    (data / "link").symlink_to(world.secret)
    (data / "dirlink").symlink_to(world.outside)
    world.file("secret/pw.txt")
    (data / "to-secret").symlink_to(world.appdata / "secret/pw.txt")
    scope = world.scope(["$APPDATA/data/**", "$APPDATA/secret/**"], ["$APPDATA/secret/**"])
    # the last part stays the link (remove/rename act on the link, not its target)
    assert scope.resolve("$APPDATA/data/link", follow_final=False) == data / "link"
    assert scope.resolve("$APPDATA/data/link/", follow_final=False) == data / "link"
    assert scope.resolve("$APPDATA/data/to-secret", follow_final=False) == data / "to-secret"
    with pytest.raises(OutOfScope):
        scope.resolve("$APPDATA/data/link")
    # parents are still resolved
    with pytest.raises(OutOfScope, match="outside"):
        scope.resolve("$APPDATA/data/dirlink/secret.txt", follow_final=False)
    # and deny still applies to the name itself
    with pytest.raises(OutOfScope, match="denied"):
        scope.resolve("$APPDATA/secret/pw.txt", follow_final=False)


# -- grants --------------------------------------------------------------------------


def test_grants_exact_and_recursive(world: World) -> None:
    picked = world.outside / "picked.txt"
    picked.write_text("p")
    tree = world.outside / "tree"
    (tree / "sub").mkdir(parents=True)
    scope = world.scope(["$APPDATA/**"])
    grants = Grants()
    assert len(grants) == 0
    with pytest.raises(OutOfScope):
        scope.resolve(str(picked), grants)
    assert grants.add_path(picked) == str(picked)
    assert scope.resolve(str(picked), grants) == picked
    for sibling in (world.secret, world.outside / "picked.txt.bak", world.outside / "picked.txt/x"):
        with pytest.raises(OutOfScope):
            scope.resolve(str(sibling), grants)
    # an exact grant of a directory covers the directory, not what is inside it
    grants.add_path(world.outside / "tree")
    assert scope.resolve(str(tree), grants) == tree
    with pytest.raises(OutOfScope):
        scope.resolve(str(tree / "a.txt"), grants)
    # a recursive grant covers the whole tree, not its prefix-named siblings
    grants.add_path(tree, recursive=True)
    assert len(grants) == 3
    assert scope.resolve(str(tree / "sub/deep/x.txt"), grants) == tree / "sub/deep/x.txt"
    # ... but, like "tree/**", not the dotted entries below its root
    for dotted in (".hidden", ".git/config", "sub/.env"):
        with pytest.raises(OutOfScope, match="outside"):
            scope.resolve(str(tree / dotted), grants)
    (world.outside / ".dotdir").mkdir()
    grants.add_path(world.outside / ".dotdir", recursive=True)  # picked itself: granted
    assert scope.resolve(str(world.outside / ".dotdir/x"), grants) == world.outside / ".dotdir/x"
    with pytest.raises(OutOfScope):
        scope.resolve(str(world.outside / ".dotdir/.y"), grants)
    with pytest.raises(OutOfScope):
        scope.resolve(str(world.outside / "tree2/x"), grants)
    # grants belong to one session: another Grants() sees nothing
    with pytest.raises(OutOfScope):
        scope.resolve(str(picked), Grants())
    with pytest.raises(OutOfScope):
        scope.resolve(str(picked))


def test_grants_are_canonical(world: World) -> None:
    real = world.outside / "real.txt"
    real.write_text("r")
    (world.outside / "alias.txt").symlink_to(real)
    grants = Grants()
    assert grants.add_path(world.outside / "alias.txt") == str(real)
    assert grants.covers(str(real))
    assert not grants.covers(str(world.outside / "alias.txt"))
    scope = world.scope([])
    # asking through the link resolves to the granted canonical path
    assert scope.resolve(str(world.outside / "alias.txt"), grants) == real


# -- config --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "key", "expected"),
    [
        ({"scope": ["$APPDATA/**"]}, "scope", "a table"),
        ({"scope": {"allow": "$APPDATA/**"}}, "scope.allow", "a list of path patterns"),
        ({"scope": {"allow": ["$APPDATA/**", 3]}}, "scope.allow", "a list of path patterns"),
        ({"scope": {"deny": [None]}}, "scope.deny", "a list of path patterns"),
        ({"scope": {"allow": ["notes/**"]}}, "scope.allow", "absolute pattern"),
        ({"scope": {"allow": ["$appdata/**"]}}, "scope.allow", "absolute pattern"),
        ({"scope": {"allow": ["$NOPE/**"]}}, "scope.allow", "starting with one of"),
        ({"scope": {"deny": ["$APPDATA/../x"]}}, "scope.deny", "without '..'"),
        ({"scope": {"allow": ["/a/../b"]}}, "scope.allow", "without '..'"),
        ({"scope": {"allow": [], "alow": []}}, "scope.alow", "no such key"),
    ],
)
def test_config_errors_name_the_key(world: World, table: Any, key: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        PathScope.from_config(table, world.ctx)
    assert info.value.key == f"{PREFIX}.{key}"
    assert info.value.file == str(world.app_dir / "pyproject.toml")
    assert expected in info.value.expected


def test_patterns_are_expanded_once(world: World) -> None:
    scope = world.scope(["$APPDATA/**", "/srv/x/*"], ["$HOME/.ssh/**"])
    assert scope.allow == (f"{world.appdata}/**", "/srv/x/*")
    assert scope.deny == (f"{world.home}/.ssh/**",)


# -- open_checked --------------------------------------------------------------------


def test_open_checked_reads_a_regular_file(world: World) -> None:
    f = world.file("a.txt", "hello")
    fd = open_checked(f, os.O_RDONLY)
    try:
        assert os.read(fd, 100) == b"hello"
        assert os.get_blocking(fd)
    finally:
        os.close(fd)


def test_open_checked_refuses_fifos_without_hanging(world: World) -> None:
    fifo = world.appdata / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InvalidArgs, match="not a regular file"):
        no_hang(lambda: open_checked(fifo, os.O_RDONLY))
    with pytest.raises(InvalidArgs, match="not a regular file"):  # no reader: ENXIO
        no_hang(lambda: open_checked(fifo, os.O_WRONLY))
    with pytest.raises(InvalidArgs, match="not a regular file"):
        no_hang(lambda: open_checked(fifo, os.O_WRONLY | os.O_APPEND | os.O_CREAT))
    # regular=False lets it through, and the descriptor is blocking again
    fd = no_hang(lambda: open_checked(fifo, os.O_RDONLY, regular=False))
    try:
        assert stat.S_ISFIFO(os.fstat(fd).st_mode)
        assert os.get_blocking(fd)
    finally:
        os.close(fd)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_open_checked_refuses_devices() -> None:
    with pytest.raises(InvalidArgs, match="not a regular file"):
        no_hang(lambda: open_checked(Path("/dev/zero"), os.O_RDONLY))
    with pytest.raises(InvalidArgs, match="not a regular file"):
        no_hang(lambda: open_checked(Path("/dev/null"), os.O_WRONLY))


def test_open_checked_refuses_directories(world: World) -> None:
    with pytest.raises(InvalidArgs, match="not a regular file"):
        open_checked(world.appdata, os.O_RDONLY)
    with pytest.raises(InvalidArgs, match="is a directory"):
        open_checked(world.appdata, os.O_WRONLY)
    fd = open_dir_checked(world.appdata)
    os.close(fd)
    f = world.file("a.txt")
    with pytest.raises(InvalidArgs, match="not a directory"):
        open_dir_checked(f)


def test_open_checked_missing_file_is_failed(world: World) -> None:
    with pytest.raises(CommandFailed, match="does not exist") as info:
        open_checked(world.appdata / "missing.txt", os.O_RDONLY)
    assert info.value.data == {"errno": "ENOENT"}


def test_open_checked_catches_a_final_symlink_swapped_in_after_the_check(world: World) -> None:
    f = world.file("data/f.txt", "in scope")
    scope = world.scope(["$APPDATA/data/**"])
    canonical = scope.resolve("$APPDATA/data/f.txt")
    # between the check and the open, the file becomes a link out of the scope
    f.unlink()
    f.symlink_to(world.secret)
    for flags in (os.O_RDONLY, os.O_WRONLY | os.O_TRUNC, os.O_WRONLY | os.O_APPEND):
        with pytest.raises(OutOfScope, match="symlink"):
            open_checked(canonical, flags)
    assert world.secret.read_text() == "outside secret"
    with pytest.raises(OutOfScope):  # and a fresh check refuses it outright
        scope.resolve("$APPDATA/data/f.txt")


def test_open_checked_catches_a_parent_swapped_for_a_symlink(world: World) -> None:
    world.file("data/sub/secret.txt", "in scope")
    world.file("data/sub/deeper/f.txt", "in scope")
    (world.outside / "deeper").mkdir()
    (world.outside / "deeper" / "f.txt").write_text("outside")
    scope = world.scope(["$APPDATA/data/**"])
    canonical = scope.resolve("$APPDATA/data/sub/secret.txt")
    deeper = scope.resolve("$APPDATA/data/sub/deeper")
    sub = world.appdata / "data/sub"
    sub.rename(world.appdata / "data/sub.orig")
    sub.symlink_to(world.outside)  # outside/secret.txt now sits at the checked path
    for flags in (os.O_RDONLY, os.O_WRONLY | os.O_APPEND):
        with pytest.raises(OutOfScope, match="changed while it was being opened"):
            open_checked(canonical, flags)
    with pytest.raises(OutOfScope, match="changed while it was being opened"):
        open_dir_checked(deeper)
    # the swapped directory itself: O_NOFOLLOW refuses to open the link as a directory
    with pytest.raises(OutOfScope, match="symlink"):
        open_dir_checked(canonical.parent)
    assert world.secret.read_text() == "outside secret"
    assert (world.outside / "deeper" / "f.txt").read_text() == "outside"


def test_without_proc_a_swapped_parent_is_still_caught(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """macOS and the BSDs have no /proc/self/fd: the fallback must catch it too."""
    real_exists = os.path.exists
    monkeypatch.setattr(
        ramparts.toolkit.scope.os.path,
        "exists",
        lambda p: False if str(p).startswith("/proc/self/fd/") else real_exists(p),
    )
    world.file("data/sub/deeper/f.txt", "in scope")
    (world.outside / "deeper").mkdir()
    (world.outside / "deeper" / "f.txt").write_text("outside")
    scope = world.scope(["$APPDATA/data/**"])
    canonical = scope.resolve("$APPDATA/data/sub/deeper/f.txt")
    os.close(open_checked(canonical, os.O_RDONLY))  # untouched: opens fine
    os.close(open_dir_checked(canonical.parent))
    (world.appdata / "data/sub").rename(world.appdata / "data/sub.orig")
    (world.appdata / "data/sub").symlink_to(world.outside)
    with pytest.raises(OutOfScope, match="changed while it was being opened"):
        open_checked(canonical, os.O_RDONLY)
    with pytest.raises(OutOfScope, match="changed while it was being opened"):
        open_dir_checked(canonical.parent)
