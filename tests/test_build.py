"""``ramparts build``, ``verify`` and ``audit`` on a real PyInstaller build.

One build per test session (about a minute on 2 cores): the ``examples/notes-fs`` app,
which declares only ``fs``, while shell, http, dialog and the test plugins are installed
in this environment. Every tamper case runs on a hard-linked clone of that build, with
only the file under test replaced by a modified copy.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from app_folders import write_app
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from exec_env import STRACE_EXECVE, library_paths

from ramparts.backends import Prune
from ramparts.config import load_config
from ramparts.errors import ConfigError
from ramparts.release.audit import scan_artifact
from ramparts.release.launcher import EXIT_REFUSED
from ramparts.release.prune import Pruned, prune
from ramparts.release.signing import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    canonical_json,
    load_private_key,
    make_link,
    sign,
    utc_stamp,
)
from ramparts.testing import home_env

pytestmark = pytest.mark.build

ROOT = Path(__file__).resolve().parent.parent
PASSPHRASE = "build-test passphrase"
NOTES_JS = """
await ramparts.fs.mkdir({ path: "$APPDATA/notes" });
await ramparts.fs.write_text({ path: "$APPDATA/notes/a.txt", contents: "Groceries\\nmilk" });
const text = await ramparts.fs.read_text({ path: "$APPDATA/notes/a.txt" });
const title = await ramparts.invoke("title", { text });
const outside = await ramparts.fs.read_text({ path: "/etc/hostname" }).catch((e) => e.code);
const shell = await ramparts.invoke("shell.run", { program: "ls" }).catch((e) => e.code);
return { title, outside, shell, api: Object.keys(ramparts).sort() };
"""


#: Stands in for codesign/signtool: it writes a file next to the executable, which must
#: then be in the manifest (it ran before hashing) and verify like any other file.
FAKE_PLATFORM_SIGN = (
    f"{sys.executable} -c \"import sys; open(sys.argv[1] + '.platform-sig', 'w').write('ok')\" "
    "{executable}"
)


@attrs.frozen
class Built:
    artifact: Path
    pubkey: Path
    key: Ed25519PrivateKey
    output: str
    tmp: Path


def ramparts_cli(
    *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m ramparts ARGS`` with ``env`` (default: this process's environment)."""
    return subprocess.run(
        [sys.executable, "-m", "ramparts", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ if env is None else env),
        timeout=900,
    )


#: A Chromium locale the app keeps although the Qt backend prunes the others.
KEPT_LOCALE = "PyQt6/Qt6/translations/qtwebengine_locales/de.pak"
#: The built app's before_build_command (run with no shell, so Python writes the file).
BEFORE_BUILD = f"{sys.executable} -c \"open('before-build.txt', 'w').write('done')\""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    tmp = tmp_path_factory.mktemp("build")
    app = tmp / "notes-fs"
    shutil.copytree(
        ROOT / "examples" / "notes-fs", app, ignore=shutil.ignore_patterns("dist", "build")
    )
    # A dev server that is never there: the built app must not look for it, and the
    # before_build_command runs first.
    with (app / "pyproject.toml").open("a") as f:
        f.write(
            '\n[tool.ramparts.dev]\nurl = "http://127.0.0.1:9"\n'
            f"before_build_command = {json.dumps(BEFORE_BUILD)}\n"
            f"\n[tool.ramparts.build]\nkeep = [{json.dumps(KEPT_LOCALE)}]\n"
        )
    env = {**os.environ, "RAMPARTS_SIGNING_PASSPHRASE": PASSPHRASE}
    keys = ramparts_cli("keygen", "--out", str(tmp / "keys"), env=env)
    assert keys.returncode == 0, keys.stderr
    result = ramparts_cli(
        "build",
        str(app),
        "--key",
        str(tmp / "keys" / "ramparts-signing.key"),
        "--allow-eval",
        "--out",
        str(tmp / "dist"),
        "--sign-command",
        FAKE_PLATFORM_SIGN,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    key = load_private_key(
        (tmp / "keys" / "ramparts-signing.key").read_bytes(), PASSPHRASE.encode(), "test key"
    )
    return Built(
        tmp / "dist" / "notes",
        tmp / "keys" / "ramparts-signing.pub",
        key,
        result.stdout + result.stderr,
        tmp,
    )


def run_app(
    folder: Path, home: Path, script: str = NOTES_JS, wrapper: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run ``folder/notes`` headless with a page script, as a user would (under
    ``wrapper``, a command such as strace, if given)."""
    js = home / "check.js"
    home.mkdir(parents=True, exist_ok=True)
    (home / "data").mkdir(exist_ok=True)
    js.write_text(script)
    return subprocess.run(
        [*wrapper, str(folder / "notes"), "--headless", "--eval", str(js), "--timeout", "60"],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / "data")},
    )


def clone(built: Built, name: str) -> Path:
    """A copy of the artifact made of hard links: instant, and the original stays intact
    as long as a test replaces a file (unlink + write) instead of writing into it."""
    target = built.tmp / "clones" / name
    shutil.copytree(built.artifact, target, symlinks=True, copy_function=os.link)
    return target


def replace(path: Path, data: bytes) -> None:
    mode = path.stat().st_mode
    path.unlink()
    path.write_bytes(data)
    path.chmod(mode)


def flip_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2 if offset is None else offset] ^= 0x01
    replace(path, bytes(data))


def commands_module_offset(executable: Path) -> int:
    """Where the app's compiled commands module sits inside the executable's archive.

    A byte flipped at random in the executable may land in code the verifier itself
    needs, which then crashes instead of refusing (see docs/build.md); a byte of the
    app's own code must be refused cleanly.
    """
    from PyInstaller.archive.readers import CArchiveReader

    pyz = CArchiveReader(str(executable)).open_embedded_archive("PYZ.pyz")
    _, offset, length = pyz.toc["notes_commands"]
    return int(pyz._start_offset + offset + length // 2)


def resign(
    artifact: Path, key: Ed25519PrivateKey, change: Callable[[dict[str, Any]], None]
) -> None:
    manifest = json.loads((artifact / MANIFEST_NAME).read_bytes())
    change(manifest)
    data = canonical_json(manifest)
    replace(artifact / MANIFEST_NAME, data)
    replace(artifact / SIGNATURE_NAME, sign(data, key))


def assert_refused(built: Built, artifact: Path, *needles: str) -> None:
    """The launch refuses (exit 3) and ``ramparts verify`` fails, both naming the cause;
    the refusal is also logged under the (throwaway) home."""
    home = built.tmp / "refusal-home" / artifact.name
    launch = subprocess.run(
        [str(artifact / "notes"), "--headless"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **home_env(home)},
    )
    assert launch.returncode == EXIT_REFUSED, launch.stderr
    assert "refusing to start" in launch.stderr
    assert f"(this message is also in {home}" in launch.stderr
    check = ramparts_cli("verify", str(artifact), "--pubkey", str(built.pubkey))
    assert check.returncode == 1, check.stdout
    for needle in needles:
        assert needle in launch.stderr, launch.stderr
        assert needle in check.stderr, check.stderr


# -- the build ---------------------------------------------------------------------------


def test_build_summary_names_path_capabilities_and_signer(built: Built) -> None:
    out = built.output
    assert f"built:        {built.artifact}" in out
    assert "capabilities: fs\n" in out
    assert "signed by " in out and "UNSIGNED" not in out
    for phase in ("[1/5]", "[3/5]", "packing Python modules", "[4/5]", "[5/5]"):
        assert phase in out
    assert "platform signing: " in out
    assert f"running the before_build_command `{BEFORE_BUILD}`" in out
    assert (built.tmp / "notes-fs" / "before-build.txt").read_text() == "done"
    manifest = json.loads((built.artifact / MANIFEST_NAME).read_bytes())
    assert "notes.platform-sig" in manifest["files"]
    sums = (built.artifact.parent / "SHA256SUMS").read_bytes()
    sig = base64.b64decode((built.artifact.parent / "SHA256SUMS.sig").read_bytes())
    built.key.public_key().verify(sig, sums)  # raises if the signature is wrong
    check = subprocess.run(
        ["sha256sum", "--check", "--quiet", "SHA256SUMS"],
        cwd=built.artifact.parent,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    listed = {line.split("  ", 1)[1] for line in sums.decode().splitlines()}
    assert {f"notes/{MANIFEST_NAME}", f"notes/{SIGNATURE_NAME}", "notes/notes"} <= listed


def test_the_built_app_runs_headless_and_answers_the_bridge(built: Built) -> None:
    proc = run_app(built.artifact, built.tmp / "home")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["title"] == "Groceries"
    assert result["outside"] == "out_of_scope"
    assert result["shell"] == "not_allowed"
    assert "shell" not in result["api"] and "fs" in result["api"]
    # Running it wrote nothing into the app folder: it still verifies.
    check = ramparts_cli("verify", str(built.artifact), "--pubkey", str(built.pubkey))
    assert check.returncode == 0, check.stderr


def test_what_the_built_app_starts_gets_the_users_library_path(built: Built) -> None:
    """PyInstaller's bootloader points LD_LIBRARY_PATH at the bundle; the programs the
    app starts (Qt WebEngine's helper here, the system's programs through shell) get
    the user's own, and Qt's helper still finds its libraries (the call is answered)."""
    trace = built.tmp / "execve.txt"
    proc = run_app(
        built.artifact, built.tmp / "home-env", wrapper=(*STRACE_EXECVE, "-o", str(trace))
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["title"] == "Groceries"
    launcher = str(built.artifact / "notes")  # the bootloader may start itself again
    started = [(p, v) for p, v in library_paths(trace) if p != launcher]
    assert any(p.endswith("QtWebEngineProcess") for p, _ in started), started
    assert [(p, v) for p, v in started if v is not None and str(built.artifact) in v] == []


def test_audit_shows_only_fs_and_no_other_plugin_is_inside(built: Built) -> None:
    proc = ramparts_cli("audit", str(built.artifact), "--pubkey", str(built.pubkey), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is True and report["verified"] is True
    assert list(report["capabilities"]) == ["fs"] and list(report["plugins_inside"]) == ["fs"]
    assert report["capabilities"]["fs"]["options"]["scope"]["allow"][0] == "$APPDATA"
    assert report["commands"] == [
        "fs.list_dir",
        "fs.mkdir",
        "fs.read_text",
        "fs.write_text",
        "title",
    ]
    assert report["signature"]["status"] == "valid"
    assert report["undeclared_plugin_modules"] == {}
    assert report["metadata_entry_points"] == {"fs": "ramparts_fs"}
    assert "script-src 'self'" in report["csp"]
    # The scan really reads PyInstaller's archives: the app's own modules are seen.
    modules = scan_artifact(built.artifact, "notes").modules
    assert {"ramparts_fs", "notes_commands", "ramparts.release.launcher"} <= modules
    absentees = ("ramparts_shell", "ramparts_http", "ramparts_dialog", "ramparts_testplugins")
    # The dev loop is reachable from ramparts.run but never runs in a built app.
    for absent in (*absentees, "watchfiles", "ramparts.dev.loop"):
        assert not any(m == absent or m.startswith(absent + ".") for m in modules)
    table = ramparts_cli("audit", str(built.artifact), "--pubkey", str(built.pubkey))
    assert "audit: PASSED" in table.stdout and "fs           read_text" in table.stdout


def test_audit_fails_on_an_undeclared_plugin_module(built: Built) -> None:
    artifact = clone(built, "smuggled")
    smuggled = artifact / "_internal" / "ramparts_shell" / "__init__.py"
    smuggled.parent.mkdir()
    smuggled.write_text("# a plugin the config does not declare\n")
    proc = ramparts_cli("audit", str(artifact), "--pubkey", str(built.pubkey), "--json")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["undeclared_plugin_modules"] == {"shell": ["ramparts_shell"]}
    assert report["signature"]["status"].startswith("invalid")
    assert "added: _internal/ramparts_shell/__init__.py" in report["signature"]["status"]


# -- tampering ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "notes",
        "_internal/base_library.zip",
        "_internal/app/ui/app.js",
        "_internal/libQt6WebEngineCore.so.6",
    ],
)
def test_one_changed_byte_in_any_shipped_file_is_refused(built: Built, target: str) -> None:
    artifact = clone(built, "byte-" + target.replace("/", "_")).resolve()
    path = artifact / target
    if path.is_symlink():
        path = path.resolve()
    flip_byte(path, commands_module_offset(path) if target == "notes" else None)
    assert_refused(built, artifact, f"changed: {path.relative_to(artifact).as_posix()}")


def test_a_removed_file_is_refused(built: Built) -> None:
    artifact = clone(built, "removed")
    (artifact / "_internal" / "app" / "ui" / "style.css").unlink()
    assert_refused(built, artifact, "missing: _internal/app/ui/style.css")


def test_an_added_file_is_refused(built: Built) -> None:
    artifact = clone(built, "added")
    (artifact / "_internal" / "sitecustomize.py").write_text("print('hi')\n")
    assert_refused(built, artifact, "added: _internal/sitecustomize.py")


def test_an_expired_manifest_is_refused(built: Built) -> None:
    artifact = clone(built, "expired")
    past = utc_stamp(datetime.now(UTC) - timedelta(minutes=1))
    resign(artifact, built.key, lambda m: m.update(expires=past))
    assert_refused(built, artifact, f"expired at {past}")


def test_a_manifest_signed_by_another_key_is_refused(built: Built) -> None:
    artifact = clone(built, "other-key")
    resign(artifact, Ed25519PrivateKey.generate(), lambda m: None)
    assert_refused(built, artifact, "not signed by a trusted key")


def test_a_stripped_signature_is_refused(built: Built) -> None:
    artifact = clone(built, "stripped")
    (artifact / SIGNATURE_NAME).unlink()
    assert_refused(built, artifact, f"{SIGNATURE_NAME} is missing")


def test_rotation_the_built_app_accepts_a_manifest_signed_by_a_chained_next_key(
    built: Built,
) -> None:
    artifact = clone(built, "rotated")
    next_key = Ed25519PrivateKey.generate()
    link = make_link("dev.ramparts.notes", next_key.public_key(), built.key)
    resign(artifact, next_key, lambda m: m.update(key_chain=[link]))
    proc = run_app(artifact, built.tmp / "home-rotated", "return 'started';")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == '"started"'
    # Without the link, the new key is just a stranger to this app.
    resign(artifact, next_key, lambda m: m.update(key_chain=[]))
    assert_refused(built, artifact, "not signed by a trusted key")


# -- onefile, unsigned -------------------------------------------------------------------


def test_onefile_unsigned_build_runs_checks_itself_and_is_marked_unsigned(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The other layout and the other signing mode, in one (~2 min) build."""
    tmp = tmp_path_factory.mktemp("onefile")
    app = tmp / "notes-fs"
    shutil.copytree(ROOT / "examples" / "notes-fs", app)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPARTS_SIGNING")}
    result = ramparts_cli("build", str(app), "--onefile", "--allow-eval", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "UNSIGNED" in result.stdout
    exe = app / "dist" / "notes"
    assert exe.is_file() and not (exe.parent / f"notes.{SIGNATURE_NAME}").exists()

    # It runs: its bundle list matches what the bootloader unpacked, file for file.
    proc = run_app(
        exe.parent, tmp / "home", 'return await ramparts.invoke("title", { text: "a\\nb" });'
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == '"a"'
    assert "UNSIGNED build" in proc.stderr

    check = ramparts_cli("verify", str(exe))
    assert check.returncode == 1 and "unsigned" in check.stderr
    unverified = ramparts_cli("audit", str(exe), "--json")
    assert unverified.returncode == 1 and json.loads(unverified.stdout)["verified"] is False
    audit = json.loads(ramparts_cli("audit", str(exe), "--json", "--allow-unverified").stdout)
    assert audit["ok"] is True and audit["signature"]["status"] == "unsigned"
    assert list(audit["capabilities"]) == ["fs"] and audit["undeclared_plugin_modules"] == {}

    flip_byte(exe, commands_module_offset(exe))
    refused = subprocess.run(
        [str(exe), "--headless"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **home_env(tmp / "home")},
    )
    assert refused.returncode == EXIT_REFUSED
    assert "changed: notes (SHA-256 differs)" in refused.stderr


# -- pruning -----------------------------------------------------------------------------


def test_prune_removes_matches_but_spares_and_keeps_and_tidies(tmp_path: Path) -> None:
    """The mechanism on a tree of its own: what a rule matches goes, with the links to
    it and the folders it leaves empty; a rule's spare and the app's keep stay."""
    root = tmp_path / "_internal"
    for name in ("loc/en-US.pak", "loc/de.pak", "loc/fr.pak", "lib/libx.so.1", "tools/a.pak"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x" * 10)
    (root / "libx.so.1").symlink_to("lib/libx.so.1")
    rules = [
        Prune("locales", "other languages", paths=("loc/*.pak",), spare=("loc/en-US.pak",)),
        Prune("x", "unused", modules=("xmod",), paths=("lib/libx.so.*", "tools/*")),
    ]
    lines: list[str] = []
    done = prune(root, rules, ["loc/de.pak", "loc/it.pak"], lines.append)
    assert done == [Pruned("locales", 1, 10), Pruned("x", 2, 20)]
    remaining = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
    assert remaining == ["loc", "loc/de.pak", "loc/en-US.pak"]
    assert "      left out x: xmod (not collected)" in lines
    assert any(
        line.startswith("      pruned   locales: 0.0 MB in 1 files (10 bytes)") for line in lines
    )
    assert "      warning: tool.ramparts.build.keep: 'loc/it.pak' matches nothing pruned" in lines


def test_pruned_files_are_absent_from_the_app_and_its_manifest(built: Built) -> None:
    """Every file a Qt rule names is gone from the folder and the manifest (what a rule
    spares and what the app keeps excepted), and the build said what each rule saved."""
    from ramparts.backends.qt import QtBackend

    contents = built.artifact / "_internal"
    listed = set(json.loads((built.artifact / MANIFEST_NAME).read_bytes())["files"])

    def files(patterns: tuple[str, ...]) -> set[str]:
        found = {p for pattern in patterns for p in contents.glob(pattern) if not p.is_dir()}
        return {f"_internal/{p.relative_to(contents).as_posix()}" for p in found}

    for rule in QtBackend.shipping.prune:
        left = files(rule.paths) - files((*rule.spare, KEPT_LOCALE))
        assert not left, (rule.name, left)
        if rule.paths:
            said = rf"pruned   {rule.name}: .* in (\d+) files \((\d+) bytes\)"
            line = re.search(said, built.output)
            assert line is not None and int(line[1]) > 0 and int(line[2]) > 0, rule.name
        for module in rule.modules:
            assert f"left out {rule.name}: " in built.output and module in built.output
    locales = "_internal/PyQt6/Qt6/translations/qtwebengine_locales/"
    # The manifest lists exactly the locales that stay: the spare and the kept one.
    assert {f for f in listed if f.startswith(locales)} == {
        f"{locales}en-US.pak",
        f"_internal/{KEPT_LOCALE}",
    }
    assert "_internal/PyQt6/Qt6/resources/qtwebengine_devtools_resources.pak" not in listed
    # No link was left pointing at a pruned library, and no module of a left-out one.
    assert not [p for p in contents.rglob("*") if p.is_symlink() and not p.exists()]
    modules = scan_artifact(built.artifact, "notes").modules
    assert not {m for m in modules if m.split(".")[0] == "gi" or m.startswith("PyQt6.QtQml")}


@pytest.mark.skipif(sys.platform != "linux", reason="reads ELF files' linked libraries")
def test_prune_keeps_a_library_a_staying_file_links_unless_the_system_provides_it(
    tmp_path: Path,
) -> None:
    """cffi's extension module (a real ELF file) links libc.so.6 and libpthread.so.0: the
    first, named by an ordinary rule, stays and the build says why; the second goes, as
    its rule says the system provides it."""
    import _cffi_backend

    root = tmp_path / "_internal"
    (root / "lib").mkdir(parents=True)
    shutil.copy(_cffi_backend.__file__, root / "ext.so")
    for name in ("libc.so.6", "libpthread.so.0", "libunused.so.1"):
        (root / "lib" / name).write_bytes(b"not really a library")
    rules = [
        Prune("bundled", "unused", paths=("lib/libc.so.*", "lib/libunused.so.*")),
        Prune("system", "the system's", paths=("lib/libpthread.so.*",), system=True),
    ]
    lines: list[str] = []
    prune(root, rules, [], lines.append)
    assert sorted(p.name for p in (root / "lib").iterdir()) == ["libc.so.6"]
    assert "      kept     libc.so.6 (bundled): ext.so links it" in lines


@pytest.mark.parametrize(
    ("keep", "found"),
    [('"de.pak"', "'de.pak'"), ('["../lib/x.so"]', "'../lib/x.so'"), ('["/abs"]', "'/abs'")],
)
def test_keep_must_be_patterns_inside_the_app(tmp_path: Path, keep: str, found: str) -> None:
    app = write_app(tmp_path / "app", capabilities=f"\n[tool.ramparts.build]\nkeep = {keep}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(app)
    message = str(caught.value)
    assert "tool.ramparts.build.keep" in message and found in message
    assert "relative to the built app's _internal folder" in message
