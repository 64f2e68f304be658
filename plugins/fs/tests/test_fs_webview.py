# ruff: noqa: E501  (page JS and case tables in strings: wrapping them would only hurt reading)
"""A corpus of hostile paths against the ``fs`` capability, run twice with the same
expectations: from page JS through the real bridge in a real webview window (one
``eval_in_app`` launch per engine), and in-process through the same command functions.

Every hostile call must answer exactly the expected ``out_of_scope`` or
``invalid_args``; afterwards the directory outside the scope (sentinel file, symlink
targets) must be byte-for-byte unchanged and hold nothing new. Encoded or look-alike
traversal names (``%2e%2e``, ``..\\``, ``\u2025``) are ordinary names on POSIX: the test
writes them and checks they land inside the scope under their literal name.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from app_folders import write_app
from gtk_display import engine, gtk_display  # noqa: F401  # fixtures: both webview engines
from test_fs import Fs
from test_scope import World, point_dirs_at

from ramparts.testing import eval_in_app, home_env

COMMANDS = [
    "read_text",
    "read_bytes",
    "write_text",
    "write_bytes",
    "append_text",
    "list_dir",
    "stat",
    "exists",
    "mkdir",
    "remove",
    "rename",
    "copy",
]
CAFE_NFC = unicodedata.normalize("NFC", "café")
CAFE_NFD = unicodedata.normalize("NFD", "café")
SECRET_RU = "Секрет.txt"


def disguised(text: str) -> str:
    """``text``'s UTF-8 bytes as lone surrogates: another spelling of the same OS name."""
    return text.encode().decode("ascii", "surrogateescape")


CAPABILITIES = f"""
[tool.ramparts.capabilities.fs]
allow = {json.dumps(COMMANDS)}

[tool.ramparts.capabilities.fs.scope]
allow = ["$APPDATA/notes", "$APPDATA/notes/*", "$APPDATA/data/**", "$APPDATA/data/.*"]
deny = ["$APPDATA/data/secret/**", "$APPDATA/**/*.key", "$APPDATA/data/{CAFE_NFC}/**", "$APPDATA/data/Секрет*"]
"""
#: The fs table exactly as the app's pyproject.toml declares it, minus ``allow``.
OPTIONS = {
    k: v
    for k, v in tomllib.loads(CAPABILITIES)["tool"]["ramparts"]["capabilities"]["fs"].items()
    if k != "allow"
}

#: Names that look like traversal but are literal on POSIX (written inside data/, where
#: "data/.*" covers those with a leading dot: "**" does not).
LITERAL_NAMES = [
    "%2e%2e%2f%2e%2e%2fescape.txt",
    "..%2f..%2fescape.txt",
    "%252e%252e%252fescape.txt",
    "..\\..\\escape.txt",
    "...",
    "\u2025",  # two dot leader
    "\uff0e\uff0e",  # fullwidth full stops
]


class Hostile(World):
    """The scope's folders, populated with traps, and an outside folder with a sentinel."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.data = self.appdata / "data"
        self.notes = self.appdata / "notes"
        out, data, notes = self.outside, self.data, self.notes
        (out / "dir").mkdir()
        (out / "dir" / "inner.txt").write_text("inner")
        data.mkdir()
        notes.mkdir()
        (notes / "a.txt").write_text("hello")
        (notes / ".hidden").write_text("hidden")
        (notes / "link_file").symlink_to(self.secret)
        (data / "dir").mkdir()
        (data / "secret").mkdir()
        (data / "secret" / "pw.txt").write_text("pw")
        (data / "x.key").write_text("key")
        (data / "sub").mkdir()
        (data / "sub" / "y.key").write_text("key")
        (data / "sub" / "ok.txt").write_text("ok")
        (data / CAFE_NFD).mkdir()  # decomposed on disk, denied in composed form
        (data / CAFE_NFD / "pw.txt").write_text("pw")
        (data / SECRET_RU).write_text("pw")  # a denied file in an allowed folder
        (data / "link_file").symlink_to(self.secret)
        (data / "link_dir").symlink_to(out)
        (data / "link_root").symlink_to("/")
        (data / "rel").symlink_to("../../../../../outside/secret.txt")
        (data / "dangling").symlink_to(out / "created-by-page.txt")
        (data / "chain1").symlink_to(data / "chain2")
        (data / "chain2").symlink_to(self.secret)
        (data / "link_secret").symlink_to(data / "secret" / "pw.txt")
        (data / "zero").symlink_to("/dev/zero")
        os.mkfifo(data / "fifo")
        assert os.path.realpath(data / "rel") == str(self.secret)

    def env(self) -> dict[str, str]:
        return home_env(self.home)

    def snapshot(self) -> dict[str, Any]:
        """Everything about the outside folder a write, create or delete would change."""
        seen: dict[str, Any] = {}
        for dirpath, dirs, files in os.walk(self.outside):
            for name in dirs + files:
                p = Path(dirpath) / name
                st = p.lstat()
                rel = str(p.relative_to(self.outside))
                if p.is_symlink():
                    seen[rel] = ("link", os.readlink(p))
                elif p.is_dir():
                    seen[rel] = ("dir", st.st_mode, st.st_mtime_ns)
                else:
                    digest = hashlib.sha256(p.read_bytes()).hexdigest()
                    seen[rel] = ("file", st.st_mode, st.st_size, st.st_mtime_ns, digest)
        return seen


def corpus(w: Hostile) -> list[tuple[str, str, dict[str, Any], str]]:
    """(label, command, arguments, expected error code)."""
    out = str(w.outside)
    sentinel = str(w.secret)
    bad, oos = "invalid_args", "out_of_scope"
    a = "$APPDATA/notes/a.txt"
    # fmt: off
    items: list[tuple[str, str, dict[str, Any], str]] = [
        # traversal: '..' is refused before anything else, even when it lands in scope
        ("dotdot-up", "read_text", {"path": "$APPDATA/notes/../../../../../outside/secret.txt"}, bad),
        ("dotdot-in-scope", "read_text", {"path": "$APPDATA/data/../notes/a.txt"}, bad),
        ("dotdot-base", "read_text", {"path": "$APPDATA/.."}, bad),
        ("dotdot-write", "write_text", {"path": "$APPDATA/notes/../pwned.txt", "contents": "x"}, bad),
        ("dotdot-list", "list_dir", {"path": "$APPDATA/data/.."}, bad),
        ("dotdot-copy-dst", "copy", {"src": a, "dst": "$APPDATA/notes/../../x"}, bad),
        ("dotdot-rename-dst", "rename", {"src": a, "dst": "$APPDATA/data/../../moved"}, bad),
        ("dotdot-relative", "read_text", {"path": "../outside/secret.txt"}, bad),
        ("dotdot-absolute", "read_text", {"path": f"{out}/../outside/secret.txt"}, bad),
        ("dotdot-mkdir", "mkdir", {"path": "$APPDATA/data/x/../../../escape"}, bad),
        ("dotdot-remove", "remove", {"path": "$APPDATA/notes/..", "recursive": True}, bad),
        ("dotdot-trailing", "exists", {"path": "$APPDATA/notes/a.txt/.."}, bad),
        ("dotdot-bytes", "write_bytes", {"path": "$APPDATA/data/../../x", "data": {"$bytes": "x"}}, bad),
        # encoded forms are literal names: deeper than notes/* allows, so out of scope
        ("encoded-deep", "read_text", {"path": "$APPDATA/notes/%2e%2e/%2e%2e/%2e%2e/outside/secret.txt"}, oos),
        ("encoded-deep-write", "write_text", {"path": "$APPDATA/notes/%2e%2e/escape.txt", "contents": "x"}, oos),
        # ... and under notes/* a leading dot makes them hidden names, also out of scope
        ("dot-encoded", "write_text", {"path": "$APPDATA/notes/..%2f..%2fescape.txt", "contents": "x"}, oos),
        ("dot-backslash", "write_text", {"path": "$APPDATA/notes/..\\..\\escape.txt", "contents": "x"}, oos),
        ("three-dots", "write_text", {"path": "$APPDATA/notes/...", "contents": "x"}, oos),
        # absolute paths elsewhere
        ("etc-passwd", "read_text", {"path": "/etc/passwd"}, oos),
        ("sentinel-read", "read_text", {"path": sentinel}, oos),
        ("sentinel-write", "write_text", {"path": sentinel, "contents": "pwned"}, oos),
        ("sentinel-write-bytes", "write_bytes", {"path": sentinel, "data": {"$bytes": "pwned"}}, oos),
        ("sentinel-append", "append_text", {"path": sentinel, "contents": "pwned"}, oos),
        ("outside-create", "write_text", {"path": f"{out}/new.txt", "contents": "x"}, oos),
        ("list-root", "list_dir", {"path": "/"}, oos),
        ("list-outside", "list_dir", {"path": out}, oos),
        ("stat-passwd", "stat", {"path": "/etc/passwd"}, oos),
        ("exists-passwd", "exists", {"path": "/etc/passwd"}, oos),
        ("exists-outside-missing", "exists", {"path": f"{out}/nothing"}, oos),
        ("proc-environ", "read_bytes", {"path": "/proc/self/environ"}, oos),
        ("home-bashrc", "read_text", {"path": "$HOME/.bashrc"}, oos),
        ("appconfig", "read_text", {"path": "$APPCONFIG/settings.json"}, oos),
        ("resource", "read_text", {"path": "$RESOURCE/pyproject.toml"}, oos),
        ("temp", "write_text", {"path": "$TEMP/x.txt", "contents": "x"}, oos),
        ("list-appdata", "list_dir", {"path": "$APPDATA"}, oos),
        ("mkdir-outside", "mkdir", {"path": f"{out}/newdir"}, oos),
        ("remove-sentinel", "remove", {"path": sentinel}, oos),
        ("remove-outside", "remove", {"path": out, "recursive": True}, oos),
        ("copy-in", "copy", {"src": sentinel, "dst": "$APPDATA/data/stolen.txt"}, oos),
        ("copy-out", "copy", {"src": a, "dst": f"{out}/planted.txt"}, oos),
        ("rename-out", "rename", {"src": a, "dst": f"{out}/moved.txt"}, oos),
        ("rename-in", "rename", {"src": sentinel, "dst": "$APPDATA/data/stolen.txt"}, oos),
        # trailing separators and doubled ones
        ("trailing-passwd", "read_text", {"path": "/etc/passwd/"}, oos),
        ("double-root", "read_text", {"path": "//etc/passwd"}, oos),
        ("double-everywhere", "read_text", {"path": "///etc//passwd"}, oos),
        ("double-outside", "read_text", {"path": f"{out}//secret.txt"}, oos),
        ("double-hidden", "read_text", {"path": "$APPDATA//notes//.hidden"}, oos),
        ("trailing-hidden", "read_text", {"path": "$APPDATA/notes/.hidden/"}, oos),
        ("trailing-link-dir", "list_dir", {"path": "$APPDATA/data/link_dir/"}, oos),
        ("trailing-link-file", "read_text", {"path": "$APPDATA/notes/link_file/"}, oos),
        ("double-deeper", "write_text", {"path": "$APPDATA/notes/sub//x.txt", "contents": "x"}, oos),
        # relative paths and unknown base directories
        ("relative", "read_text", {"path": "notes/a.txt"}, bad),
        ("dot-relative", "read_text", {"path": "./notes/a.txt"}, bad),
        ("tilde", "read_text", {"path": "~/.bashrc"}, bad),
        ("lowercase-var", "read_text", {"path": "$appdata/notes/a.txt"}, bad),
        ("unknown-var", "read_text", {"path": "$NOPE/x"}, bad),
        ("braced-var", "read_text", {"path": "${APPDATA}/notes/a.txt"}, bad),
        ("empty", "read_text", {"path": ""}, bad),
        # symlinks created in the scope, pointing out of it
        ("link-in-notes", "read_text", {"path": "$APPDATA/notes/link_file"}, oos),
        ("link-read", "read_text", {"path": "$APPDATA/data/link_file"}, oos),
        ("link-read-bytes", "read_bytes", {"path": "$APPDATA/data/link_file"}, oos),
        ("link-write", "write_text", {"path": "$APPDATA/data/link_file", "contents": "pwned"}, oos),
        ("link-append", "append_text", {"path": "$APPDATA/data/link_file", "contents": "pwned"}, oos),
        ("link-copy-dst", "copy", {"src": a, "dst": "$APPDATA/data/link_file"}, oos),
        ("link-copy-src", "copy", {"src": "$APPDATA/data/link_file", "dst": "$APPDATA/data/c.txt"}, oos),
        ("link-stat", "stat", {"path": "$APPDATA/data/link_file"}, oos),
        ("link-exists", "exists", {"path": "$APPDATA/data/link_file"}, oos),
        ("dirlink-read", "read_text", {"path": "$APPDATA/data/link_dir/secret.txt"}, oos),
        ("dirlink-deep", "read_text", {"path": "$APPDATA/data/link_dir/dir/inner.txt"}, oos),
        ("dirlink-write", "write_text", {"path": "$APPDATA/data/link_dir/planted.txt", "contents": "x"}, oos),
        ("dirlink-list", "list_dir", {"path": "$APPDATA/data/link_dir"}, oos),
        ("dirlink-mkdir", "mkdir", {"path": "$APPDATA/data/link_dir/newdir"}, oos),
        ("dirlink-remove", "remove", {"path": "$APPDATA/data/link_dir/secret.txt"}, oos),
        ("dirlink-remove-tree", "remove", {"path": "$APPDATA/data/link_dir/dir", "recursive": True}, oos),
        ("dirlink-rename-src", "rename", {"src": "$APPDATA/data/link_dir/secret.txt", "dst": "$APPDATA/data/s.txt"}, oos),
        ("dirlink-rename-dst", "rename", {"src": a, "dst": "$APPDATA/data/link_dir/moved.txt"}, oos),
        ("rootlink", "read_text", {"path": "$APPDATA/data/link_root/etc/passwd"}, oos),
        ("relative-link", "read_text", {"path": "$APPDATA/data/rel"}, oos),
        ("dangling-write", "write_text", {"path": "$APPDATA/data/dangling", "contents": "x"}, oos),
        ("dangling-append", "append_text", {"path": "$APPDATA/data/dangling", "contents": "x"}, oos),
        ("chain", "read_text", {"path": "$APPDATA/data/chain1"}, oos),
        ("link-to-denied", "read_text", {"path": "$APPDATA/data/link_secret"}, oos),
        # hidden files: notes/* does not match a leading dot
        ("hidden-read", "read_text", {"path": "$APPDATA/notes/.hidden"}, oos),
        ("hidden-write", "write_text", {"path": "$APPDATA/notes/.hidden", "contents": "x"}, oos),
        ("hidden-create", "write_text", {"path": "$APPDATA/notes/.new", "contents": "x"}, oos),
        ("hidden-stat", "stat", {"path": "$APPDATA/notes/.hidden"}, oos),
        ("hidden-exists", "exists", {"path": "$APPDATA/notes/.hidden"}, oos),
        ("hidden-remove", "remove", {"path": "$APPDATA/notes/.hidden"}, oos),
        ("hidden-rename-src", "rename", {"src": "$APPDATA/notes/.hidden", "dst": "$APPDATA/notes/v.txt"}, oos),
        ("hidden-rename-dst", "rename", {"src": a, "dst": "$APPDATA/notes/.a"}, oos),
        ("hidden-copy", "copy", {"src": "$APPDATA/notes/.hidden", "dst": "$APPDATA/data/h.txt"}, oos),
        # deny inside allow
        ("deny-read", "read_text", {"path": "$APPDATA/data/secret/pw.txt"}, oos),
        ("deny-list", "list_dir", {"path": "$APPDATA/data/secret"}, oos),
        ("deny-create", "write_text", {"path": "$APPDATA/data/secret/new.txt", "contents": "x"}, oos),
        ("deny-key", "read_text", {"path": "$APPDATA/data/x.key"}, oos),
        ("deny-key-deep", "read_text", {"path": "$APPDATA/data/sub/y.key"}, oos),
        ("deny-key-notes", "write_text", {"path": "$APPDATA/notes/n.key", "contents": "x"}, oos),
        ("deny-remove-tree", "remove", {"path": "$APPDATA/data/secret", "recursive": True}, oos),
        ("deny-remove-holder", "remove", {"path": "$APPDATA/data/sub", "recursive": True}, oos),
        ("deny-rename-holder", "rename", {"src": "$APPDATA/data/sub", "dst": "$APPDATA/data/sub2"}, oos),
        ("deny-copy", "copy", {"src": "$APPDATA/data/x.key", "dst": "$APPDATA/data/x.txt"}, oos),
        ("deny-exists", "exists", {"path": "$APPDATA/data/secret/pw.txt"}, oos),
        # case and Unicode-normalization variants of denied names
        ("case-upper", "read_text", {"path": "$APPDATA/data/SECRET/pw.txt"}, oos),
        ("case-mixed", "read_text", {"path": "$APPDATA/data/Secret/PW.TXT"}, oos),
        ("case-key", "read_text", {"path": "$APPDATA/data/X.KEY"}, oos),
        ("nfc", "read_text", {"path": f"$APPDATA/data/{CAFE_NFC}/pw.txt"}, oos),
        ("nfd", "read_text", {"path": f"$APPDATA/data/{CAFE_NFD}/pw.txt"}, oos),
        ("nfc-upper", "read_text", {"path": f"$APPDATA/data/{CAFE_NFC.upper()}/pw.txt"}, oos),
        ("nfd-list", "list_dir", {"path": f"$APPDATA/data/{CAFE_NFD}"}, oos),
        ("nfc-create", "write_text", {"path": f"$APPDATA/data/{CAFE_NFC}/new.txt", "contents": "x"}, oos),
        ("ru-upper", "read_text", {"path": f"$APPDATA/data/{SECRET_RU.upper()}"}, oos),
        ("ru-stat", "stat", {"path": f"$APPDATA/data/{SECRET_RU}"}, oos),
        # the same OS names spelled with lone surrogates (JS strings can hold them)
        *[(f"surrogate-{label}", cmd, args, bad) for label, cmd, args in surrogate_calls()],
        # special files
        ("fifo-read", "read_text", {"path": "$APPDATA/data/fifo"}, bad),
        ("fifo-read-bytes", "read_bytes", {"path": "$APPDATA/data/fifo"}, bad),
        ("fifo-write", "write_text", {"path": "$APPDATA/data/fifo", "contents": "x"}, bad),
        ("fifo-append", "append_text", {"path": "$APPDATA/data/fifo", "contents": "x"}, bad),
        ("fifo-copy-src", "copy", {"src": "$APPDATA/data/fifo", "dst": "$APPDATA/data/f.txt"}, bad),
        ("fifo-copy-dst", "copy", {"src": a, "dst": "$APPDATA/data/fifo"}, bad),
        ("zero-link", "read_bytes", {"path": "$APPDATA/data/zero"}, oos),
        ("zero-link-text", "read_text", {"path": "$APPDATA/data/zero"}, oos),
        ("zero-link-copy", "copy", {"src": "$APPDATA/data/zero", "dst": "$APPDATA/data/z"}, oos),
        ("dev-zero", "read_bytes", {"path": "/dev/zero"}, oos),
        ("directory-read", "read_text", {"path": "$APPDATA/data/dir"}, bad),
        # NUL bytes
        ("nul-suffix", "read_text", {"path": "$APPDATA/notes/a.txt\x00.png"}, bad),
        ("nul-write", "write_text", {"path": "$APPDATA/notes/x\x00", "contents": "x"}, bad),
        ("nul-only", "read_text", {"path": "\x00"}, bad),
        ("nul-rename-dst", "rename", {"src": a, "dst": "$APPDATA/notes/b\x00.txt"}, bad),
        ("nul-copy-src", "copy", {"src": "/etc/passwd\x00", "dst": "$APPDATA/data/p"}, bad),
        # overlong
        ("long-part", "read_text", {"path": "$APPDATA/notes/" + "a" * 256}, bad),
        ("long-part-bytes", "write_text", {"path": "$APPDATA/notes/" + "é" * 128, "contents": "x"}, bad),
        ("long-path", "read_text", {"path": "/" + "a/" * 2100}, bad),
        ("long-mkdir", "mkdir", {"path": "$APPDATA/data/" + ("d" * 200 + "/") * 25}, bad),
        # not a path at all
        ("number", "read_text", {"path": 42}, bad),
        ("array", "read_text", {"path": ["/etc/passwd"]}, bad),
        ("object", "read_text", {"path": {"toString": "/etc/passwd"}}, bad),
        ("null", "read_text", {"path": None}, bad),
        ("extra-arg", "read_text", {"path": a, "follow": True}, bad),
    ]
    # fmt: on
    labels = [i[0] for i in items]
    assert len(labels) == len(set(labels))
    return items


def surrogate_calls() -> list[tuple[str, str, dict[str, Any]]]:
    """Every command aimed at the denied names through their surrogate spellings."""
    ru, cafe = f"$APPDATA/data/{disguised(SECRET_RU)}", f"$APPDATA/data/{disguised(CAFE_NFD)}"
    ok = "$APPDATA/notes/a.txt"
    return [
        ("read", "read_text", {"path": ru}),
        ("read-in-dir", "read_text", {"path": f"{cafe}/pw.txt"}),
        ("read-bytes", "read_bytes", {"path": ru}),
        ("write", "write_text", {"path": ru, "contents": "pwned"}),
        ("write-bytes", "write_bytes", {"path": f"{cafe}/pw.txt", "data": {"$bytes": "pwned"}}),
        ("append", "append_text", {"path": ru, "contents": "pwned"}),
        ("list", "list_dir", {"path": cafe}),
        ("stat", "stat", {"path": ru}),
        ("exists", "exists", {"path": ru}),
        ("mkdir", "mkdir", {"path": f"{cafe}/sub"}),
        ("remove", "remove", {"path": ru}),
        ("remove-tree", "remove", {"path": cafe, "recursive": True}),
        ("rename-src", "rename", {"src": ru, "dst": "$APPDATA/data/stolen.txt"}),
        ("rename-dst", "rename", {"src": ok, "dst": ru}),
        ("copy-src", "copy", {"src": ru, "dst": "$APPDATA/data/stolen.txt"}),
        ("copy-dst", "copy", {"src": ok, "dst": f"{cafe}/pw.txt"}),
        ("nfc-spelling", "stat", {"path": f"$APPDATA/data/{disguised(CAFE_NFC)}/pw.txt"}),
    ]


def literal_writes() -> list[tuple[str, str, dict[str, Any]]]:
    """Calls that must succeed, creating look-alike names inside the scope."""
    calls: list[tuple[str, str, dict[str, Any]]] = [
        (f"literal-{i}", "write_text", {"path": f"$APPDATA/data/{name}", "contents": name})
        for i, name in enumerate(LITERAL_NAMES)
    ]
    deep = "$APPDATA/data/%2e%2e/%2e%2e"
    calls.append(("literal-mkdir", "mkdir", {"path": deep}))
    calls.append(("literal-deep", "write_text", {"path": f"{deep}/secret.txt", "contents": "page"}))
    return calls


PAGE_SCRIPT = """
const toArgs = (args) => {
  const out = {};
  for (const [k, v] of Object.entries(args)) {
    out[k] = v !== null && typeof v === "object" && "$bytes" in v ? new TextEncoder().encode(v.$bytes) : v;
  }
  return out;
};
const run = async ([label, cmd, args]) => {
  try {
    await ramparts.fs[cmd](toArgs(args));
    return [label, "ok"];
  } catch (e) {
    return [label, e instanceof ramparts.Error ? e.code : "js-error: " + String(e)];
  }
};
const results = {};
for (const call of CORPUS) { const [label, code] = await run(call); results[label] = code; }
for (const call of LITERAL) { const [label, code] = await run(call); results[label] = code; }
const names = async (path) => (await ramparts.fs.list_dir({ path })).map((e) => e.name);
return {
  results,
  notes: await names("$APPDATA/notes"),
  data: await names("$APPDATA/data"),
  read: await ramparts.fs.read_text({ path: "$APPDATA/notes/a.txt" }),
};
"""


def expected_listing() -> tuple[list[str], list[str]]:
    notes = ["a.txt", "link_file"]
    data = sorted(
        [
            *LITERAL_NAMES,
            "%2e%2e",  # the literal directories made by "literal-mkdir"
            "chain1",
            "chain2",
            "dangling",
            "dir",
            "fifo",
            "link_dir",
            "link_file",
            "link_root",
            "link_secret",
            "rel",
            "sub",
            "zero",
        ]
    )  # not: secret/, x.key, the denied NFD café/, Секрет.txt
    return notes, data


def check(w: Hostile, before: dict[str, Any], outcome: dict[str, Any]) -> None:
    expected = {label: code for label, _, _, code in corpus(w)}
    expected.update({label: "ok" for label, _, _ in literal_writes()})
    results = outcome["results"]
    wrong = {k: (results.get(k), v) for k, v in expected.items() if results.get(k) != v}
    assert wrong == {}, "label: (got, expected)"
    assert set(results) == set(expected)
    notes, data = expected_listing()
    assert outcome["notes"] == notes
    assert outcome["data"] == data
    assert outcome["read"] == "hello"
    # nothing outside the scope changed, and nothing appeared there
    assert w.snapshot() == before
    assert w.secret.read_text() == "outside secret"
    assert sorted(os.listdir(w.appdata)) == ["data", "notes"]
    # the look-alike names are entries inside data/, under their literal names
    for name in LITERAL_NAMES:
        assert (w.data / name).read_text() == name
    assert (w.data / "%2e%2e" / "%2e%2e" / "secret.txt").read_text() == "page"
    # the refused calls left the scope as it was
    assert (w.notes / "a.txt").read_text() == "hello"
    assert (w.notes / ".hidden").read_text() == "hidden"
    assert (w.data / "secret" / "pw.txt").read_text() == "pw"
    assert (w.data / SECRET_RU).read_text() == "pw"
    assert os.listdir(w.data / CAFE_NFD) == ["pw.txt"]
    assert (w.data / CAFE_NFD / "pw.txt").read_text() == "pw"
    assert (w.data / "sub" / "y.key").exists()
    assert not (w.data / "stolen.txt").exists() and not (w.data / "sub2").exists()


def test_hostile_paths_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = Hostile(tmp_path.resolve())
    point_dirs_at(w.home, monkeypatch)
    fs = Fs(w, OPTIONS)
    before = w.snapshot()

    def convert(args: dict[str, Any]) -> dict[str, Any]:
        return {
            k: v["$bytes"].encode() if isinstance(v, dict) and "$bytes" in v else v
            for k, v in args.items()
        }

    results = {label: fs.code(cmd, **convert(args)) for label, cmd, args, _ in corpus(w)}
    results.update({label: fs.code(cmd, **args) for label, cmd, args in literal_writes()})
    outcome = {
        "results": results,
        "notes": [e["name"] for e in fs("list_dir", path="$APPDATA/notes")],
        "data": [e["name"] for e in fs("list_dir", path="$APPDATA/data")],
        "read": fs("read_text", path="$APPDATA/notes/a.txt"),
    }
    check(w, before, outcome)


@pytest.mark.webview
@pytest.mark.usefixtures("engine")
def test_hostile_paths_through_the_bridge(tmp_path: Path) -> None:
    w = Hostile(tmp_path.resolve())
    write_app(w.app_dir, capabilities=CAPABILITIES)
    before = w.snapshot()
    script = (
        f"const CORPUS = {json.dumps([c[:3] for c in corpus(w)])};\n"
        f"const LITERAL = {json.dumps(literal_writes())};\n" + PAGE_SCRIPT
    )
    outcome = eval_in_app(w.app_dir, script, env=w.env(), timeout=60)
    check(w, before, outcome)


SURROGATE_PAGE = r"""
// "é" is UTF-8 C3 A9: Python's surrogateescape spells those bytes \uDCC3\uDCA9, and a
// JS string can hold them as lone surrogates.
const disguised = "$APPDATA/Priv\uDCC3\uDCA9";
const calls = [
  ["read_text", { path: disguised + "/s.txt" }],
  ["stat", { path: disguised + "/s.txt" }],
  ["exists", { path: disguised }],
  ["list_dir", { path: disguised }],
  ["write_text", { path: disguised + "/s.txt", contents: "pwned" }],
  ["append_text", { path: disguised + "/s.txt", contents: "pwned" }],
  ["mkdir", { path: disguised + "/sub" }],
  ["copy", { src: disguised + "/s.txt", dst: "$APPDATA/stolen.txt" }],
  ["rename", { src: disguised, dst: "$APPDATA/stolen" }],
  ["remove", { path: disguised, recursive: true }],
];
const codes = {};
for (const [cmd, args] of calls) {
  try { await ramparts.fs[cmd](args); codes[cmd] = "ok"; } catch (e) { codes[cmd] = e.code; }
}
let proper;
try { await ramparts.fs.read_text({ path: "$APPDATA/Privé/s.txt" }); proper = "ok"; }
catch (e) { proper = e.code; }
return { lone: disguised.charCodeAt(13).toString(16), codes, proper };
"""


@pytest.mark.webview
@pytest.mark.usefixtures("engine")
def test_a_page_cannot_reach_a_denied_name_through_lone_surrogates(tmp_path: Path) -> None:
    w = World(tmp_path.resolve())
    (w.appdata / "Privé").mkdir()
    (w.appdata / "Privé" / "s.txt").write_text("secret")
    caps = """
[tool.ramparts.capabilities.fs]
allow = ["read_text", "stat", "exists", "list_dir", "write_text", "append_text", "mkdir",
         "copy", "rename", "remove"]
[tool.ramparts.capabilities.fs.scope]
allow = ["$APPDATA/**"]
deny = ["$APPDATA/Privé/**"]
"""
    write_app(w.app_dir, capabilities=caps)
    out = eval_in_app(w.app_dir, SURROGATE_PAGE, env=home_env(w.home), timeout=60)
    assert out["lone"] == "dcc3"  # the page really sent a lone surrogate
    assert out["codes"] == {cmd: "invalid_args" for cmd in out["codes"]}
    assert len(out["codes"]) == 10
    assert out["proper"] == "out_of_scope"
    assert sorted(os.listdir(w.appdata)) == ["Privé"]
    assert os.listdir(w.appdata / "Privé") == ["s.txt"]
    assert (w.appdata / "Privé" / "s.txt").read_text() == "secret"
