"""One identity for a path, in shell: ``open`` targets, working directories and program
arguments are decided on the name the OS will act on (the fs and dialog side of this is
``test_path_identity.py`` in the fs plugin's tests).

A name that is not text with one spelling (lone surrogates) is ``invalid_args``; deny
patterns hold in NFC, NFD and any case; risky file types are refused in any case.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from path_spellings import NAMES, disguised, expected, spellings
from test_scope import point_dirs_at
from test_shell import Shell, ShellWorld


@pytest.fixture
def shell_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ShellWorld:
    w = ShellWorld(tmp_path.resolve())
    point_dirs_at(w.home, monkeypatch)
    return w


def test_shell_open_and_cwd_refuse_every_spelling_of_a_denied_name(
    shell_world: ShellWorld,
) -> None:
    w = shell_world
    log = w.root / "opened.log"
    opener = w.script("opener", f"printf '%s\\n' \"$1\" >> '{log}'\n")
    docs = w.appdata / "docs"
    for name in NAMES:
        (docs / name).mkdir(parents=True)
        (docs / name / "f.txt").write_text("secret")
    (docs / "ok.txt").write_text("ok")
    table = {"allow": ["$APPDATA/**"], "deny": [f"$APPDATA/docs/{n}/**" for n in NAMES]}
    echo = {"name": "pwd", "cmd": w.script("pwd", "pwd\n")}
    shell = Shell(
        w,
        {"programs": [echo], "open": ".*", "open_with": opener, "open_files": table, "cwd": table},
    )
    got = {}
    for name in NAMES:
        for label, spelled in spellings(name).items():
            got[(name, label, "open")] = shell.code("open", target=f"{docs}/{spelled}/f.txt")
            got[(name, label, "cwd")] = shell.code(
                "execute", program="pwd", cwd=f"{docs}/{spelled}"
            )
    assert {k: v for k, v in got.items() if v != expected(k[1])} == {}
    # file: URLs: percent-escapes decode as UTF-8 or not at all ("%FF" is no U+FFFD)
    privé = "Priv%C3%A9"
    assert shell.code("open", target=f"file://{docs}/{privé}/f.txt") == "out_of_scope"
    assert shell.code("open", target=f"file://{docs}/Priv%E9/f.txt") == "invalid_args"
    assert shell.code("open", target=f"file://{docs}/Priv%ED%B3%83/f.txt") == "invalid_args"
    assert shell.code("open", target="https://example.com/" + disguised("é")) == "invalid_args"
    # risky types in any case, or behind a code point HFS+ ignores (".s\u200ch" is ".sh")
    for risky in ("run.SH", "run.s\u200ch", "Setup.DeskTop", "x.\ufeffpy"):
        (docs / risky).write_text("echo")
        assert shell.code("open", target=f"{docs}/{risky}") == "not_allowed", risky
    assert not log.exists()  # the opener never ran
    shell("open", target=f"{docs}/ok.txt")
    assert log.read_text() == f"{docs}/ok.txt\n"


def test_shell_arguments_are_text_with_one_spelling(shell_world: ShellWorld) -> None:
    w = shell_world
    log = w.root / "argv.log"
    record = w.script("record", f"printf '%s\\0' \"$@\" >> '{log}'\n")
    # A validator that refuses "Privé" must not be passed by the bytes of "Privé".
    validator = {"validator": "(?!.*Priv[eé]).*"}
    shell = Shell(w, {"programs": [{"name": "r", "cmd": record, "args": [validator]}]})
    assert shell.code("execute", program="r", args=["Privé"]) == "invalid_args"
    assert shell.code("execute", program="r", args=[disguised("Privé")]) == "invalid_args"
    assert shell.code("execute", program="r", args=["\udcff"]) == "invalid_args"
    assert shell.code("execute", program="r", args=["Публичный"]) == "ok"
    assert log.read_bytes() == "Публичный".encode() + b"\0"
