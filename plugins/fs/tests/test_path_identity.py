"""One identity for a path: every scope check decides on the name the OS will act on.

Python spells file-name bytes it cannot decode as lone surrogates (``surrogateescape``),
so ``"Priv\\udcc3\\udca9"`` is the OS name ``Privé`` under a second spelling. On the commit
before this file, that spelling passed ``deny = ["$APPDATA/Privé/**"]``: ``stat`` and
``exists`` answered for denied files, ``write_text``, ``rename`` and ``remove`` changed
them (the Linux ``/proc`` check in ``open_checked`` caught only what opened a denied
parent), and ``shell.open`` handed one to the opener. A base directory whose real path
held ``*`` or ``?`` widened every pattern built on it.

What is checked here, for fs and dialog alike (shell: ``test_shell_path_identity.py``
in the shell plugin's tests): a path that is not text with one spelling is
``invalid_args`` (:func:`ramparts.toolkit.scope.os_bytes`); deny patterns hold in NFC, NFD
and any case; base directories, localized ones included, are literal text in patterns;
grants are literal too.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from path_spellings import NAMES, disguised, expected, spellings
from test_fs import Fs
from test_scope import IDENT, PREFIX, World, point_dirs_at

import ramparts
from ramparts import ConfigContext
from ramparts.errors import CommandError, InvalidArgs, OutOfScope
from ramparts.testing import open_bridge
from ramparts.toolkit.scope import Grants, PathScope, compile_glob, escape_glob, os_bytes


def snapshot(root: Path) -> dict[bytes, Any]:
    """Every name (as bytes), kind and content under ``root``."""
    seen: dict[bytes, Any] = {}
    for dirpath, dirs, files in os.walk(os.fsencode(root)):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            seen[p] = ("dir",) if os.path.isdir(p) else ("file", Path(os.fsdecode(p)).read_bytes())
    return seen


def code(call: Callable[[], Any]) -> str:
    try:
        call()
    except CommandError as e:
        return e.code
    return "ok"


# -- the core rule -------------------------------------------------------------------


def test_os_bytes_accepts_text_and_refuses_every_second_spelling() -> None:
    for name in NAMES:
        assert os_bytes(name) == name.encode()
        assert os_bytes(disguised(name)) is None  # would reach the OS as name's bytes
    assert os_bytes("\udcff") is None  # round-trips through surrogateescape: still refused
    assert os_bytes("\ud800") is None  # a high surrogate: no bytes at all
    assert os_bytes("\ud83d\ude00") is None  # a pair spelled as two code points
    assert os_bytes("a\x00b") is None
    assert os_bytes("😀") == "😀".encode()


@pytest.mark.parametrize("name", NAMES)
def test_every_spelling_of_a_denied_name_is_refused_by_the_scope(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    w = World(tmp_path.resolve())
    point_dirs_at(w.home, monkeypatch)
    w.file(f"{name}/secret.txt", "secret")
    scope = w.scope(["$APPDATA/**"], [f"$APPDATA/{name}/**"])
    for label, spelled in spellings(name).items():
        path = f"$APPDATA/{spelled}/secret.txt"
        error = InvalidArgs if label.startswith("surrogates") else OutOfScope
        with pytest.raises(error):
            scope.resolve(path)
        with pytest.raises(error):
            scope.resolve(path, follow_final=False)
        assert not scope.allows(str(w.appdata / spelled / "secret.txt")), label
    assert scope.resolve("$APPDATA/other/secret.txt") == w.appdata / "other/secret.txt"


# -- fs: every command that acts by name ---------------------------------------------


class Denied(World):
    """``$APPDATA/<name>/`` (a denied folder) and ``$APPDATA/box/<name>.txt`` (a denied
    file in an allowed folder: the parent check alone cannot catch it)."""

    def __init__(self, root: Path, name: str) -> None:
        super().__init__(root)
        self.name = name
        self.file(f"{name}/f.txt", "in denied folder")
        self.file(f"box/{name}.txt", "denied file")
        self.file("box/ok.txt", "ok")

    def fs(self) -> Fs:
        deny = [f"$APPDATA/{self.name}/**", f"$APPDATA/**/{self.name}.txt"]
        return Fs(self, {"scope": {"allow": ["$APPDATA/**"], "deny": deny}})


def fs_calls(spelled: str) -> list[tuple[str, dict[str, Any]]]:
    """Every fs command, aimed at the denied folder or file through ``spelled``."""
    d, f = f"$APPDATA/{spelled}", f"$APPDATA/box/{spelled}.txt"
    ok, fresh = "$APPDATA/box/ok.txt", "$APPDATA/box/fresh.txt"
    return [
        ("read_text", {"path": f"{d}/f.txt"}),
        ("read_text", {"path": f}),
        ("read_bytes", {"path": f}),
        ("write_text", {"path": f, "contents": "pwned"}),
        ("write_text", {"path": f"{d}/new.txt", "contents": "pwned"}),
        ("write_bytes", {"path": f"{d}/f.txt", "data": b"pwned"}),
        ("append_text", {"path": f, "contents": "pwned"}),
        ("list_dir", {"path": d}),
        ("stat", {"path": f}),
        ("stat", {"path": f"{d}/f.txt"}),
        ("exists", {"path": f}),
        ("exists", {"path": d}),
        ("mkdir", {"path": f"{d}/sub"}),
        ("mkdir", {"path": f}),
        ("remove", {"path": f}),
        ("remove", {"path": f"{d}/f.txt"}),
        ("remove", {"path": d, "recursive": True}),
        ("rename", {"src": f, "dst": fresh}),
        ("rename", {"src": d, "dst": "$APPDATA/moved"}),
        ("rename", {"src": ok, "dst": f}),
        ("rename", {"src": ok, "dst": f"{d}/f.txt"}),
        ("copy", {"src": f, "dst": fresh}),
        ("copy", {"src": f"{d}/f.txt", "dst": fresh}),
        ("copy", {"src": ok, "dst": f}),
        ("copy", {"src": ok, "dst": f"{d}/f.txt"}),
    ]


def test_fs_calls_cover_every_command() -> None:
    assert {c for c, _ in fs_calls("x")} == set(ramparts_fs_commands())


def ramparts_fs_commands() -> list[str]:
    import ramparts_fs

    return list(ramparts_fs.ramparts_capability().command_table())


@pytest.mark.parametrize("name", NAMES)
def test_no_fs_command_reaches_a_denied_name_in_any_spelling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    w = Denied(tmp_path.resolve(), name)
    point_dirs_at(w.home, monkeypatch)
    fs = w.fs()
    before = snapshot(w.appdata)
    got = {
        (label, command, tuple(args.values())): fs.code(command, **args)
        for label, spelled in spellings(name).items()
        for command, args in fs_calls(spelled)
    }
    wrong = {k: v for k, v in got.items() if v != expected(k[0])}
    assert wrong == {}
    assert snapshot(w.appdata) == before  # nothing written, moved, made or removed
    # the same calls on an ordinary name do work: the refusals above are about the name
    assert fs.code("write_text", path="$APPDATA/box/fresh.txt", contents="x") == "ok"
    assert fs.code("rename", src="$APPDATA/box/fresh.txt", dst="$APPDATA/box/b.txt") == "ok"


def test_listings_leave_out_denied_spellings_and_names_that_are_not_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = Denied(tmp_path.resolve(), "Privé")
    point_dirs_at(w.home, monkeypatch)
    box = w.appdata / "box"
    (box / unicodedata.normalize("NFD", "Privé.txt")).write_text("nfd twin")  # Linux: 2nd file
    (box / "PRIVÉ.txt").write_text("upper twin")
    latin1 = os.path.join(os.fsencode(box), "Privé-latin1.txt".encode("latin-1"))
    with open(latin1, "wb") as f:  # b"Priv\xe9": Python sees "Priv\udce9-latin1.txt"
        f.write(b"undecodable")
    fs = w.fs()
    assert [e["name"] for e in fs("list_dir", path="$APPDATA/box")] == ["ok.txt"]
    # a tree holding a name the page cannot even spell is not removed or moved whole
    assert fs.code("remove", path="$APPDATA/box", recursive=True) == "out_of_scope"
    assert fs.code("rename", src="$APPDATA/box", dst="$APPDATA/box2") == "out_of_scope"
    assert os.path.exists(latin1)


def test_a_symlink_to_a_name_that_is_not_text_is_out_of_scope(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = World(tmp_path.resolve())
    point_dirs_at(w.home, monkeypatch)
    target = os.path.join(os.fsencode(w.appdata), b"Priv\xe9")
    with open(target, "wb") as f:
        f.write(b"x")
    os.symlink(target, w.appdata / "link")
    scope = w.scope(["$APPDATA/**"])
    with pytest.raises(OutOfScope, match="not valid text"):
        scope.resolve("$APPDATA/link")


# -- localized base directories ------------------------------------------------------


@pytest.fixture
def localized(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    """A home whose XDG user-dirs put ``$DOCUMENT`` at ``~/Документы`` (Russian desktop)."""
    w = World(tmp_path.resolve())
    point_dirs_at(w.home, monkeypatch)
    config = w.home / ".config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "user-dirs.dirs").write_text('XDG_DOCUMENTS_DIR="$HOME/Документы"\n')
    docs = w.home / "Документы"
    (docs / "Отчёт").mkdir(parents=True)
    (docs / "Отчёт" / "q1.txt").write_text("private")
    (w.home / "notes.txt").write_text("public")
    return w


def test_a_localized_document_folder_is_denied_in_every_spelling(localized: World) -> None:
    w = localized
    fs = Fs(w, {"scope": {"allow": ["$HOME/**"], "deny": ["$DOCUMENT/**"]}})
    assert fs.state.scope.dirs["DOCUMENT"] == w.home / "Документы"
    before = snapshot(w.home)
    folder = {**spellings("Документы"), "variable": "$DOCUMENT"}
    got = {}
    for label, spelled in folder.items():
        base = spelled if spelled == "$DOCUMENT" else f"$HOME/{spelled}"
        for command, args in [
            ("read_text", {"path": f"{base}/Отчёт/q1.txt"}),
            ("stat", {"path": f"{base}/Отчёт/q1.txt"}),
            ("exists", {"path": f"{base}/Отчёт"}),
            ("list_dir", {"path": base}),
            ("write_text", {"path": f"{base}/new.txt", "contents": "x"}),
            ("remove", {"path": base, "recursive": True}),
            ("rename", {"src": f"{base}/Отчёт", "dst": "$HOME/stolen"}),
            ("copy", {"src": f"{base}/Отчёт/q1.txt", "dst": "$HOME/stolen.txt"}),
        ]:
            got[(label, command)] = fs.code(command, **args)
    assert {k: v for k, v in got.items() if v != expected(k[0])} == {}
    assert snapshot(w.home) == before
    assert fs("read_text", path="$HOME/notes.txt") == "public"


# -- literal text in patterns ----------------------------------------------------------

WILD = "we*rd?[x]{y}\\z"  # every glob-ish character, and the escape character itself


def test_a_base_directory_with_glob_characters_is_literal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path.resolve()
    home = root / WILD
    point_dirs_at(home, monkeypatch)
    # Siblings that the unescaped pattern "<root>/we*rd?[x]{y}\z/**" would have matched.
    lookalikes = [root / "weXXrdQ[x]{y}\\z", root / "werd![x]{y}\\z"]
    for d in [home, *lookalikes]:
        (d / "secret").mkdir(parents=True)
        (d / "secret" / "s.txt").write_text("s")
        (d / "a.txt").write_text("a")
    app = root / "app*?"
    app.mkdir()
    ctx = ConfigContext(app / "pyproject.toml", PREFIX, app, IDENT)
    table = {"allow": ["$HOME/**", "$RESOURCE/*"], "deny": ["$HOME/secret/**"]}
    scope = PathScope.from_config({"scope": table}, ctx)
    assert scope.resolve(str(home / "a.txt")) == home / "a.txt"
    assert scope.resolve("$RESOURCE/x") == app / "x"
    with pytest.raises(OutOfScope, match="denied"):
        scope.resolve(str(home / "secret" / "s.txt"))
    for other in lookalikes:
        with pytest.raises(OutOfScope, match="outside"):
            scope.resolve(str(other / "a.txt"))
    (root / "app-x").mkdir()
    with pytest.raises(OutOfScope):
        scope.resolve(str(root / "app-x" / "x"))


def test_the_app_identifier_is_literal_in_patterns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Config refuses such identifiers (reverse-DNS only); the scope does not rely on it.
    w = World(tmp_path.resolve())
    point_dirs_at(w.home, monkeypatch)
    share = w.home / ".local/share"
    for d in ("dev.we*rd?", "dev.weXXrdY"):
        (share / d).mkdir(parents=True)
    ctx = ConfigContext(w.app_dir / "pyproject.toml", PREFIX, w.app_dir, "dev.we*rd?")
    scope = PathScope.from_config({"scope": {"allow": ["$APPDATA/**"]}}, ctx)
    assert scope.resolve("$APPDATA/a.txt") == share / "dev.we*rd?" / "a.txt"
    with pytest.raises(OutOfScope):
        scope.resolve(str(share / "dev.weXXrdY" / "a.txt"))


def test_grants_are_literal(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    for d in ("a*", "ab", "a?", "a[b]", "ab]"):
        (root / d).mkdir()
        (root / d / "f.txt").write_text(d)
    grants = Grants()
    grants.add_path(root / "a*", recursive=True)
    grants.add_path(root / "a[b]" / "f.txt")
    assert grants.covers(str(root / "a*" / "f.txt"))
    assert grants.covers(str(root / "a[b]" / "f.txt"))
    for other in ("ab", "a?", "ab]"):
        assert not grants.covers(str(root / other / "f.txt")), other
    with pytest.raises(InvalidArgs, match="not valid text"):
        grants.add_path(str(root / disguised("é")))
    assert len(grants) == 2


@given(st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=["Cs"])))
def test_an_escaped_literal_matches_itself_and_nothing_else(literal: str) -> None:
    rx = compile_glob("/a/" + escape_glob(literal) + "/b")
    assert rx.fullmatch(f"/a/{literal}/b")
    assert not rx.fullmatch(f"/a/{literal}x/b")
    assert not rx.fullmatch("/a/x/b") or literal == "x"


# -- the property: the decision is the decision on the OS's name -----------------------

_PIECES = st.one_of(
    st.sampled_from(NAMES),
    st.sampled_from([unicodedata.normalize("NFD", n) for n in NAMES]),
    st.text(st.characters(blacklist_characters="/\x00"), max_size=4),  # surrogates too
    st.builds(disguised, st.sampled_from(NAMES)),
)


def _decide(scope: PathScope, path: str) -> str:
    try:
        scope.resolve(path)
    except CommandError as e:
        return e.code
    return "ok"


@pytest.fixture(scope="module")
def denying(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PathScope]:
    root = tmp_path_factory.mktemp("identity").resolve()
    ctx = ConfigContext(root / "pyproject.toml", PREFIX, root, IDENT)
    deny = [f"$RESOURCE/**/*{n}*/**" for n in NAMES]  # any part holding the name
    yield PathScope.from_config({"scope": {"allow": ["$RESOURCE/**"], "deny": deny}}, ctx)


def _forms(text: str) -> list[str]:
    """The spellings a person would call the same name: both normal forms, any case."""
    nfd = unicodedata.normalize("NFD", text)
    folded = unicodedata.normalize("NFD", nfd.casefold())
    return [unicodedata.normalize("NFC", text), nfd, folded, unicodedata.normalize("NFC", folded)]


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.lists(_PIECES, min_size=1, max_size=3).map("".join), max_size=3))
def test_the_scope_decides_on_the_name_the_os_acts_on(denying: PathScope, parts: list[str]) -> None:
    path = "/".join(["$RESOURCE", *parts, "f.txt"])
    decision = _decide(denying, path)
    try:
        os_name = os.fsdecode(os.fsencode(path))  # the name the OS would act on, as text
    except UnicodeError:
        assert decision == "invalid_args"  # no bytes at all (a high surrogate)
        return
    if os_name != path or any("\ud800" <= c <= "\udfff" for c in path):
        assert decision == "invalid_args"  # a second spelling: never decided on
        return
    # A path with one spelling: a denied name in it, in any form or case, is denied.
    for n in NAMES:
        if any(a in b for a, b in zip(_forms(n), _forms(path), strict=True)):
            assert decision == "out_of_scope", (path, n)


# -- dialog --------------------------------------------------------------------------

DIALOG = {"allow": ["open", "save"]}


class Answer:
    def __init__(self, paths: list[str]) -> None:
        self.paths = paths

    @ramparts.hookimpl
    def ramparts_dialog_answer(self, window: str, kind: str, options: dict[str, Any]) -> Any:
        return self.paths


def test_a_picked_folder_with_a_denied_name_inside_it(tmp_path: Path) -> None:
    picked = tmp_path.resolve() / "Проекты*"  # non-ASCII and a glob character
    for name in NAMES:
        (picked / name).mkdir(parents=True)
        (picked / name / "f.txt").write_text("secret")
    (picked / "ok.txt").write_text("ok")
    (tmp_path / "Проекты_2").mkdir()
    (tmp_path / "Проекты_2" / "ok.txt").write_text("sibling")
    deny = [f"{escape_glob(str(picked))}/{n}/**" for n in NAMES]
    fs = {"allow": ["read_text", "write_text", "stat"], "scope": {"allow": [], "deny": deny}}
    bridge = open_bridge(capabilities={"dialog": DIALOG, "fs": fs})
    bridge.app.pm.register(Answer([str(picked)]))
    with bridge:
        assert bridge.call("dialog.open", {"directory": True}) == str(picked)
        assert bridge.call("fs.read_text", {"path": f"{picked}/ok.txt"}) == "ok"
        sibling = f"{tmp_path.resolve()}/Проекты_2/ok.txt"
        assert code(lambda: bridge.call("fs.read_text", {"path": sibling})) == "out_of_scope"
        got = {
            (name, label, command): code(
                lambda c=command, s=spelled: bridge.call(f"fs.{c}", _args(c, f"{picked}/{s}/f.txt"))
            )
            for name in NAMES
            for label, spelled in spellings(name).items()
            for command in ("read_text", "write_text", "stat")
        }
    assert {k: v for k, v in got.items() if v != expected(k[1])} == {}
    assert all((picked / n / "f.txt").read_text() == "secret" for n in NAMES)


def _args(command: str, path: str) -> dict[str, Any]:
    return {"path": path, "contents": "pwned"} if command == "write_text" else {"path": path}


def test_a_pick_that_is_not_text_grants_nothing(tmp_path: Path) -> None:
    good = tmp_path.resolve() / "a.txt"
    good.write_text("a")
    fs = {"allow": ["read_text"], "scope": {"allow": []}}
    bridge = open_bridge(capabilities={"dialog": DIALOG, "fs": fs})
    bridge.app.pm.register(Answer([str(good), str(tmp_path / disguised("é.txt"))]))
    with bridge:
        with pytest.raises(ramparts.CommandFailed) as info:
            bridge.call("dialog.open", {"multiple": True})
        assert info.value.data == {"reason": "not_text"}
        assert len(bridge.session.grants) == 0  # not even the good pick of the two
        assert code(lambda: bridge.call("fs.read_text", {"path": str(good)})) == "out_of_scope"
