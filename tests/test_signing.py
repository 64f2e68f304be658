"""Keys, the signed manifest, tree checks, expiry and key rotation: no PyInstaller needed.

The end-to-end versions of these checks, on a real PyInstaller build, are in
``tests/test_build.py``.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import unprivileged
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from ramparts.cli import app as cli
from ramparts.errors import BuildError, VerificationError
from ramparts.release.audit import find_undeclared, module_roots
from ramparts.release.launcher import (
    EXIT_REFUSED,
    REFUSAL_LOG,
    dialog_command,
    locate,
    refusal_log,
)
from ramparts.release.signing import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    canonical_json,
    check_files,
    generate_key,
    hash_tree,
    key_id,
    load_private_key,
    make_link,
    public_pem,
    sign,
    utc_stamp,
    verify_artifact,
    verify_manifest,
)
from ramparts.testing import home_env
from ramparts.toolkit.atomic import atomic_write

APP_ID = "dev.ramparts.test"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def manifest_for(files: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "format": 1,
        "app": {"name": "Test", "identifier": APP_ID, "version": "1"},
        "layout": "onedir",
        "executable": "test",
        "created": utc_stamp(NOW),
        "expires": utc_stamp(NOW + timedelta(days=30)),
        "files": files,
        **extra,
    }


def write_signed(artifact: Path, manifest: dict[str, Any], key: Ed25519PrivateKey | None) -> None:
    """What ``ramparts build`` writes beside the files: the manifest and its signature."""
    data = canonical_json(manifest)
    target = artifact if artifact.is_dir() else artifact.parent
    prefix = "" if artifact.is_dir() else f"{artifact.name}."
    atomic_write(target / f"{prefix}{MANIFEST_NAME}", data)
    if key is not None:
        atomic_write(target / f"{prefix}{SIGNATURE_NAME}", sign(data, key))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A small onedir-like app folder, with a symlink like PyInstaller makes."""
    root = tmp_path / "app"
    (root / "_internal" / "pkg").mkdir(parents=True)
    (root / "test").write_bytes(b"\x7fELF launcher")
    (root / "_internal" / "pkg" / "mod.py").write_text("x = 1\n")
    (root / "_internal" / "libQt.so.6").write_bytes(os.urandom(4096))
    (root / "libQt.so.6").symlink_to("_internal/libQt.so.6")
    return root


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


# -- keys --------------------------------------------------------------------------------


def test_keygen_encrypts_the_private_key_and_it_round_trips() -> None:
    private, public = generate_key(b"correct horse")
    assert b"ENCRYPTED PRIVATE KEY" in private
    assert public.startswith(b"-----BEGIN PUBLIC KEY-----")
    loaded = load_private_key(private, b"correct horse", "k")
    assert public_pem(loaded.public_key()) == public
    with pytest.raises(BuildError, match="wrong passphrase"):
        load_private_key(private, b"wrong", "k")
    with pytest.raises(BuildError, match="RAMPARTS_SIGNING_PASSPHRASE"):
        load_private_key(private, None, "k")
    with pytest.raises(BuildError, match="non-empty passphrase"):
        generate_key(b"")


def test_keygen_command_writes_a_0600_key_and_refuses_to_overwrite(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"RAMPARTS_SIGNING_PASSPHRASE": "s3cret"}
    result = runner.invoke(cli, ["keygen", "--out", str(tmp_path)], env=env)
    assert result.exit_code == 0, result.output
    key_file = tmp_path / "ramparts-signing.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    load_private_key(key_file.read_bytes(), b"s3cret", str(key_file))
    again = runner.invoke(cli, ["keygen", "--out", str(tmp_path)], env=env)
    assert again.exit_code == 1 and "--force" in again.output


def test_canonical_json_is_one_byte_form() -> None:
    a = canonical_json({"b": [1, "é"], "a": {"y": 1, "x": None}})
    b = canonical_json({"a": {"x": None, "y": 1}, "b": [1, "é"]})
    assert a == b == '{"a":{"x":null,"y":1},"b":[1,"é"]}'.encode()


# -- trees -------------------------------------------------------------------------------


def test_check_files_names_changed_missing_added_and_relinked(tree: Path) -> None:
    expected = hash_tree(tree)
    assert expected["libQt.so.6"] == {"symlink": "_internal/libQt.so.6"}
    assert check_files(tree, expected) == []
    lib = tree / "_internal" / "libQt.so.6"
    data = bytearray(lib.read_bytes())
    data[100] ^= 1
    lib.write_bytes(bytes(data))
    (tree / "_internal" / "pkg" / "mod.py").unlink()
    (tree / "_internal" / "pkg" / "evil.py").write_text("import os\n")
    (tree / "libQt.so.6").unlink()
    (tree / "libQt.so.6").symlink_to("/usr/lib/libevil.so")
    assert check_files(tree, expected) == [
        "changed: _internal/libQt.so.6 (SHA-256 differs)",
        "missing: _internal/pkg/mod.py",
        "changed: libQt.so.6 (symlink to /usr/lib/libevil.so, expected symlink to "
        "_internal/libQt.so.6)",
        "added: _internal/pkg/evil.py",
    ]


def test_a_listed_symlink_that_leads_out_of_the_tree_is_refused(tree: Path) -> None:
    # Its target text matches the manifest, but the file it reaches is never hashed.
    (tree / "_internal" / "pkg" / "up.py").symlink_to("../../../evil.py")
    (tree / "_internal" / "abs.so").symlink_to("/tmp/evil.so")
    (tree / "_internal" / "in.py").symlink_to("pkg/mod.py")
    expected = hash_tree(tree)
    assert check_files(tree, expected) == [
        "outside: _internal/abs.so links to /tmp/evil.so",
        "outside: _internal/pkg/up.py links to ../../../evil.py",
    ]


def test_a_directory_the_walk_cannot_list_is_an_error_not_an_empty_one(tree: Path) -> None:
    expected = hash_tree(tree)
    hidden = tree / "_internal" / "hidden"
    hidden.mkdir()
    (hidden / "evil.py").write_text("import os\n")
    hidden.chmod(0o111)  # unreadable, yet a file in it can still be opened by name
    script = (
        "import sys, json; from pathlib import Path; from ramparts.release.signing import check_files\n"
        f"check_files(Path({str(tree)!r}), json.loads({json.dumps(expected)!r}))\n"
    )
    proc = unprivileged.run([sys.executable, "-c", script])
    assert proc.returncode != 0
    assert "PermissionError" in proc.stderr and "_internal/hidden" in proc.stderr


# -- signatures, expiry ------------------------------------------------------------------


def test_a_signed_manifest_verifies_and_any_change_to_it_does_not(key: Ed25519PrivateKey) -> None:
    data = canonical_json(manifest_for({}))
    sig = sign(data, key)
    assert verify_manifest(data, sig, [key.public_key()], now=NOW)["app"]["identifier"] == APP_ID
    forged = data.replace(b'"version":"1"', b'"version":"2"')
    with pytest.raises(VerificationError, match="not signed by a trusted key"):
        verify_manifest(forged, sig, [key.public_key()], now=NOW)


def test_a_manifest_signed_by_another_key_is_refused(key: Ed25519PrivateKey) -> None:
    data = canonical_json(manifest_for({}))
    other = Ed25519PrivateKey.generate()
    with pytest.raises(VerificationError, match=key_id(key.public_key())):
        verify_manifest(data, sign(data, other), [key.public_key()], now=NOW)


def test_signed_or_unsigned_is_decided_by_the_verifier_not_the_files(
    key: Ed25519PrivateKey,
) -> None:
    data = canonical_json(manifest_for({}))
    with pytest.raises(VerificationError, match="is missing"):
        verify_manifest(data, None, [key.public_key()], now=NOW)  # signature stripped
    with pytest.raises(VerificationError, match="no public key"):
        verify_manifest(data, sign(data, key), [], now=NOW)
    assert verify_manifest(data, None, [], now=NOW)["format"] == 1


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ((b'"version":"1"', b'"version":"1","version":"2"'), "duplicate key 'version'"),
        ((b'"format":1', b'"format":1,"x":NaN'), "NaN is not JSON"),
    ],
)
def test_signed_bytes_that_readers_could_parse_differently_are_refused(
    key: Ed25519PrivateKey, change: tuple[bytes, bytes], error: str
) -> None:
    data = canonical_json(manifest_for({})).replace(*change)
    with pytest.raises(VerificationError, match=error):
        verify_manifest(data, sign(data, key), [key.public_key()], now=NOW)


def test_a_duplicate_key_among_many_is_found(key: Ed25519PrivateKey) -> None:
    # Unsigned bytes are parsed before the signature check, so the duplicate search must
    # stay linear (a dict, not pairwise comparison): 30,000 keys pairwise would stall.
    keys = b",".join(b'"k%d":0' % i for i in range(30_000))
    data = b'{"format":1,' + keys + b',"k0":1}'
    with pytest.raises(VerificationError, match="duplicate key 'k0'"):
        verify_manifest(data, b"", [key.public_key()], now=NOW)


def test_unsigned_bytes_nested_too_deeply_are_a_refusal_not_a_crash(
    key: Ed25519PrivateKey,
) -> None:
    # The JSON is parsed before its signature is checked (the key chain is inside it).
    data = b'{"format":1,"x":' + b"[" * 100_000
    with pytest.raises(VerificationError, match="nested too deeply"):
        verify_manifest(data, b"", [key.public_key()], now=NOW)


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside", "a/../../b", "a//b", "C:/x", ""])
@pytest.mark.parametrize("field", ["files", "bundle"])
def test_a_manifest_path_that_leaves_the_tree_is_refused(
    key: Ed25519PrivateKey, field: str, path: str
) -> None:
    entry = {"sha256": "0" * 64, "size": 0}
    manifest = {**manifest_for({}), field: {"ok/name.py": entry, path: entry}}
    data = canonical_json(manifest)
    with pytest.raises(VerificationError, match="lists a path outside the tree"):
        verify_manifest(data, sign(data, key), [key.public_key()], now=NOW)


def test_an_expired_manifest_is_refused(key: Ed25519PrivateKey) -> None:
    data = canonical_json(manifest_for({}))
    sig = sign(data, key)
    verify_manifest(data, sig, [key.public_key()], now=NOW + timedelta(days=29))
    with pytest.raises(VerificationError, match="expired at 2026-07-01T12:00:00Z"):
        verify_manifest(data, sig, [key.public_key()], now=NOW + timedelta(days=30))


def test_the_build_refuses_a_non_positive_expiry() -> None:
    from ramparts.release.signing import expiry

    with pytest.raises(BuildError, match="--expires-in"):
        expiry(NOW, 0)


# -- key rotation ------------------------------------------------------------------------


def test_rotation_a_manifest_signed_by_the_announced_next_key_is_accepted() -> None:
    k0, k1 = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    link = make_link(APP_ID, k1.public_key(), k0)
    # Release N, signed by k0, announces k1; release N+1 is signed by k1 and carries the link.
    release_n = canonical_json(manifest_for({}, next_public_key=link))
    verify_manifest(release_n, sign(release_n, k0), [k0.public_key()], now=NOW)
    release_n1 = canonical_json(manifest_for({}, key_chain=[link]))
    verified = verify_manifest(release_n1, sign(release_n1, k1), [k0.public_key()], now=NOW)
    assert verified["key_chain"] == [link]
    # Without the chain, k1 is just an unknown key.
    bare = canonical_json(manifest_for({}))
    with pytest.raises(VerificationError, match="not signed by a trusted key"):
        verify_manifest(bare, sign(bare, k1), [k0.public_key()], now=NOW)


@pytest.mark.parametrize("flaw", ["untrusted signer", "other app", "swapped key"])
def test_rotation_a_link_not_signed_by_a_trusted_key_for_this_app_is_ignored(flaw: str) -> None:
    k0, k1, mallory = (Ed25519PrivateKey.generate() for _ in range(3))
    if flaw == "untrusted signer":
        link = make_link(APP_ID, k1.public_key(), mallory)
    elif flaw == "other app":
        link = make_link("dev.ramparts.other", k1.public_key(), k0)
    else:  # a genuine link whose key was replaced by the attacker's
        link = make_link(APP_ID, k1.public_key(), k0)
        link["public_key"] = public_pem(mallory.public_key()).decode()
        k1 = mallory
    data = canonical_json(manifest_for({}, key_chain=[link]))
    with pytest.raises(VerificationError, match="not signed by a trusted key"):
        verify_manifest(data, sign(data, k1), [k0.public_key()], now=NOW)


def test_rotation_a_link_for_another_app_sharing_the_key_does_not_pass_for_this_one() -> None:
    # One developer key k0 signs two apps; only the other app rotated to k1. A manifest
    # that claims to be the other app must not let k1 in where this app is expected.
    k0, k1 = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    other = "dev.ramparts.other"
    manifest = manifest_for({}, key_chain=[make_link(other, k1.public_key(), k0)])
    manifest["app"] = {**manifest["app"], "identifier": other}
    data = canonical_json(manifest)
    assert verify_manifest(data, sign(data, k1), [k0.public_key()], now=NOW, identifier=other)
    with pytest.raises(VerificationError, match="is for the app 'dev\\.ramparts\\.other'"):
        verify_manifest(data, sign(data, k1), [k0.public_key()], now=NOW, identifier=APP_ID)


def test_rotation_chains_over_several_keys_in_order() -> None:
    k0, k1, k2 = (Ed25519PrivateKey.generate() for _ in range(3))
    chain = [make_link(APP_ID, k1.public_key(), k0), make_link(APP_ID, k2.public_key(), k1)]
    data = canonical_json(manifest_for({}, key_chain=chain))
    verify_manifest(data, sign(data, k2), [k0.public_key()], now=NOW)
    reversed_chain = canonical_json(manifest_for({}, key_chain=chain[::-1]))
    with pytest.raises(VerificationError):
        verify_manifest(reversed_chain, sign(reversed_chain, k2), [k0.public_key()], now=NOW)


# -- artifacts: onedir and onefile -------------------------------------------------------


def test_verify_artifact_onedir(tree: Path, key: Ed25519PrivateKey) -> None:
    write_signed(tree, manifest_for(hash_tree(tree)), key)
    verify_artifact(tree, [key.public_key()], now=NOW)
    (tree / "_internal" / "added.py").write_text("")
    with pytest.raises(VerificationError) as e:
        verify_artifact(tree, [key.public_key()], now=NOW)
    assert e.value.problems == ["added: _internal/added.py"]
    assert "1 file(s) differ" in str(e.value)


def test_verify_artifact_onefile_checks_the_executable_and_the_unpacked_tree(
    tmp_path: Path, tree: Path, key: Ed25519PrivateKey
) -> None:
    exe = tmp_path / "dist" / "test"
    exe.parent.mkdir()
    exe.write_bytes(b"\x7fELF onefile archive")
    (exe.parent / "unrelated.txt").write_text("other artifacts may share dist/")
    files = {"test": hash_tree(exe.parent)["test"]}
    manifest = manifest_for(files, layout="onefile", bundle=hash_tree(tree))
    write_signed(exe, manifest, key)
    assert locate(exe, tree, "onefile") == (exe, tree)
    verify_artifact(exe, [key.public_key()], now=NOW, unpacked=tree)
    (tree / "_internal" / "pkg" / "mod.py").write_text("x = 2\n")
    with pytest.raises(VerificationError) as e:
        verify_artifact(exe, [key.public_key()], now=NOW, unpacked=tree)
    assert e.value.problems == [f"changed: _internal/pkg/mod.py (SHA-256 differs) (in {tree})"]
    exe.write_bytes(b"\x7fELF onefile archivX")
    with pytest.raises(VerificationError, match="changed: test"):
        verify_artifact(exe, [key.public_key()], now=NOW)
    with pytest.raises(VerificationError, match="onefile build, but this is a onedir"):
        write_signed(tree, manifest, key)
        verify_artifact(tree, [key.public_key()], now=NOW)


def test_onefile_verify_hashes_the_file_it_was_given_not_a_neighbour(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "test").write_bytes(b"\x7fELF genuine onefile")
    write_signed(dist / "test", manifest_for(hash_tree(dist), layout="onefile"), key)
    # The genuine manifest and signature, copied beside another executable: the
    # manifest lists "test", which is intact, but "evil" is what would be run.
    (dist / "evil").write_bytes(b"\x7fELF something else")
    for name in (MANIFEST_NAME, SIGNATURE_NAME):
        (dist / f"evil.{name}").write_bytes((dist / f"test.{name}").read_bytes())
    verify_artifact(dist / "test", [key.public_key()], now=NOW)
    with pytest.raises(VerificationError, match="is for the executable 'test', not 'evil'"):
        verify_artifact(dist / "evil", [key.public_key()], now=NOW)


def test_launcher_locates_onedir_by_the_executable_folder(tree: Path) -> None:
    assert locate(tree / "test", None, "onedir") == (tree, None)
    with pytest.raises(VerificationError, match="without an unpacked bundle"):
        locate(tree / "test", None, "onefile")


def test_launcher_refuses_before_importing_the_app_qt_or_any_plugin(
    tree: Path, key: Ed25519PrivateKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run the launcher as a frozen app would, on an intact and a tampered tree."""
    expires = utc_stamp(datetime.now(UTC) + timedelta(days=1))
    write_signed(tree, manifest_for(hash_tree(tree), expires=expires), key)
    script = textwrap.dedent(
        f"""
        import json, os, sys
        sys.executable = {str(tree / "test")!r}
        sys.argv[1:] = json.loads(sys.argv[1])
        from ramparts.release.launcher import launch
        try:
            launch(public_key={public_pem(key.public_key()).decode()!r},
                   layout="onedir", allow_eval=False, identifier={APP_ID!r},
                   backend="gtk")
        except SystemExit as e:
            loaded = [m for m in ("ramparts.app", "ramparts.plugins", "ramparts_fs",
                                  "webview", "PyQt6") if m in sys.modules]
            print(json.dumps({{"code": e.code, "loaded": loaded}}))
            print(os.environ["RAMPARTS_BACKEND"], file=sys.stderr)
        """
    )

    env = home_env(tmp_path / "home")
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # the launcher's env, for refusal_log() here
    # The build ships one engine: the environment cannot switch a built app to the other.
    monkeypatch.setenv("RAMPARTS_BACKEND", "qt")
    log = refusal_log(APP_ID)

    def launch(*argv: str) -> tuple[Any, str]:
        cmd = [sys.executable, "-c", script, json.dumps(argv)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        return json.loads(proc.stdout), proc.stderr

    # Intact: verification passes and the app starts loading (this tree has no app/).
    result, stderr = launch()
    assert result["code"] == 1 and "ramparts.app" in result["loaded"], stderr
    assert "refusing" not in stderr
    assert stderr.splitlines()[-1] == "gtk", stderr
    # Built without --allow-eval: --eval is not an option at all.
    result, stderr = launch("--eval", "x.js")
    assert result == {"code": 2, "loaded": []}
    assert "unrecognized arguments: --eval" in stderr
    (tree / "_internal" / "pkg" / "mod.py").write_text("x = 666\n")
    result, stderr = launch()
    assert result == {"code": EXIT_REFUSED, "loaded": []}, stderr
    assert "refusing to start" in stderr
    assert "changed: _internal/pkg/mod.py" in stderr
    # Also logged, for a user who started it without a terminal; the message says where.
    assert log.is_relative_to(tmp_path / "home") and f"also in {log}" in stderr
    assert "refusing to start" in log.read_text() and "changed: _internal/pkg/mod.py" in (
        log.read_text()
    )
    log.unlink()
    log.parent.rmdir()
    log.parent.write_text("a file where the log folder should be")
    result, stderr = launch()
    assert result == {"code": EXIT_REFUSED, "loaded": []}, stderr
    assert f"could not log it to {log}" in stderr and "changed: _internal/pkg/mod.py" in stderr


def test_the_refusal_dialog_is_a_system_program_given_the_text_as_an_argument() -> None:
    text = 'refusing to start: changed: a"b\\c\nend tell <b>x</b>'
    tools = {"zenity": "/usr/bin/zenity", "xmessage": "/usr/bin/xmessage", "osascript": "/o"}
    which = tools.get
    linux = dialog_command(text, "linux", {"DISPLAY": ":0"}, which)
    assert linux == [
        "/usr/bin/zenity",
        "--error",
        "--no-markup",
        "--title=This app refused to start",
        f"--text={text}",
    ]
    assert dialog_command(text, "linux", {"WAYLAND_DISPLAY": "w"}, {"xmessage": "/x"}.get) == [
        "/x",
        "-center",
        f"This app refused to start\n\n{text}",
    ]
    assert dialog_command(text, "linux", {}, which) is None  # no display: nobody to show
    assert dialog_command(text, "linux", {"DISPLAY": ":0"}, {}.get) is None
    mac = dialog_command(text, "darwin", {}, which)
    assert mac is not None and mac[0] == "/o" and mac[-1] == text  # data, not script
    assert text not in " ".join(mac[:-1])
    assert dialog_command(text, "win32", {"DISPLAY": ":0"}, which) is None


def test_the_dialog_tool_is_looked_up_on_absolute_path_entries_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative or empty PATH entry means the working folder, which may be the bundle."""
    here, system = tmp_path / "bundle", tmp_path / "usr-bin"
    for folder in (here, system):
        folder.mkdir()
        tool = folder / "zenity"
        tool.write_text("#!/bin/sh\n")
        tool.chmod(0o755)
    monkeypatch.chdir(here)
    monkeypatch.setenv("PATH", os.pathsep.join(["", ".", str(system)]))
    assert dialog_command("x", "linux", {"DISPLAY": ":0"})[0] == str(system / "zenity")  # type: ignore[index]
    monkeypatch.setenv("PATH", os.pathsep.join(["", "."]))
    assert dialog_command("x", "linux", {"DISPLAY": ":0"}) is None


def test_a_refusal_with_no_terminal_shows_the_desktops_dialog(tmp_path: Path) -> None:
    """Started from a file manager, stderr reaches nobody: the refusal also goes to the
    system's zenity (here a stand-in on PATH that records what it got), with the library
    path PyInstaller's bootloader set for the bundle taken back out."""
    record = tmp_path / "zenity.json"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "zenity"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"open({str(record)!r}, 'w').write(json.dumps("
        "{'argv': sys.argv[1:], 'env': dict(os.environ)}))\n"
    )
    fake.chmod(0o755)
    lines = "\\n".join(f"  changed: file{i}" for i in range(40))
    script = (
        "import sys\n"
        "sys.frozen = True\n"
        "from ramparts.release.launcher import _refuse\n"
        f"_refuse('1 file(s) differ\\n{lines}', None)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "RAMPARTS_NO_DIALOG"}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env['PATH']}",
        DISPLAY=":0",
        LD_LIBRARY_PATH="/bundle/_internal",
        LD_LIBRARY_PATH_ORIG="/usr/local/lib",
        QT_PLUGIN_PATH="/bundle/_internal/PyQt6/Qt6/plugins",
        LC_ALL="C.UTF-8",
    )

    def run(*argv: str, **extra: str) -> subprocess.CompletedProcess[str]:
        record.unlink(missing_ok=True)
        return subprocess.run(
            [sys.executable, "-c", script, *argv],
            capture_output=True,
            text=True,
            env={**env, **extra},
            timeout=60,
        )

    proc = run()
    assert proc.returncode == EXIT_REFUSED and "changed: file39" in proc.stderr
    shown = json.loads(record.read_text())
    # Only what a dialog needs: not the bundle's library or plugin paths.
    assert shown["env"]["LD_LIBRARY_PATH"] == "/usr/local/lib"
    assert "QT_PLUGIN_PATH" not in shown["env"] and shown["env"]["LC_ALL"] == "C.UTF-8"
    assert shown["env"]["DISPLAY"] == ":0"
    assert shown["argv"][:3] == ["--error", "--no-markup", "--title=This app refused to start"]
    body = shown["argv"][3].removeprefix("--text=").splitlines()
    assert body[0] == "refusing to start: 1 file(s) differ" and len(body) == 15
    assert body[-1] == "... (27 more lines)"
    # A terminal-less run of an automation or a test: no dialog, same refusal.
    for argv, extra in ((("--headless",), {}), ((), {"RAMPARTS_NO_DIALOG": "1"})):
        proc = run(*argv, **extra)
        assert proc.returncode == EXIT_REFUSED and not record.exists()
    # File names from a tampered bundle: a NUL, and bytes that are not UTF-8 (os.walk
    # gives them as lone surrogates). Still exit 3, logged, and shown without the NUL.
    home = tmp_path / "home"
    script = (
        "import sys\n"
        "from ramparts.release.launcher import _refuse\n"
        f"_refuse('added: a\\x00b \\udcff.so', {APP_ID!r})\n"
    )
    proc = run(**home_env(home))
    assert proc.returncode == EXIT_REFUSED, proc.stderr
    shown_text = json.loads(record.read_text())["argv"][3]
    assert shown_text.splitlines()[0] == "--text=refusing to start: added: ab \\udcff.so"
    logged = next(home.rglob(REFUSAL_LOG)).read_text()
    assert "added: a\x00b \\udcff.so" in logged


# -- audit: which modules belong to undeclared plugins -----------------------------------


def test_module_roots_spare_the_core_and_packages_shared_with_declared_plugins() -> None:
    eps = {
        "fs": "ramparts_fs",
        "shell": "ramparts_shell:plugin",
        "window": "ramparts.builtins.window",
        "sample": "ramparts_testplugins.sample",
        "spy": "ramparts_testplugins.spy",
    }
    assert module_roots(["fs", "sample"], eps) == {
        "shell": ["ramparts_shell"],
        "spy": ["ramparts_testplugins.spy"],
        "window": ["ramparts.builtins.window"],
    }
    assert module_roots(["fs"], eps)["spy"] == [
        "ramparts_testplugins",
        "ramparts_testplugins.spy",
    ]
    modules = [
        "ramparts",
        "ramparts.builtins",
        "ramparts_fs",
        "ramparts_shellfish",
        "ramparts_shell.x",
    ]
    assert find_undeclared(modules, module_roots(["fs"], eps)) == {"shell": ["ramparts_shell.x"]}


def test_build_names_app_code_that_imports_an_undeclared_plugin() -> None:
    from ramparts.release.build import undeclared_imports

    # The format of PyInstaller's warn-<name>.txt, as PyInstaller 6.22 writes it.
    warnings = textwrap.dedent(
        """
        excluded module named _frozen_importlib - imported by importlib (optional), zipimport (top-level)
        excluded module named ramparts_shell - imported by notes_commands (top-level), ramparts_shell.extra (delayed)
        excluded module named ramparts_testplugins.spy - imported by ramparts_testplugins (top-level)
        missing module named ramparts_http - imported by somewhere (top-level)
        """
    )
    excluded = {
        "shell": ["ramparts_shell"],
        "spy": ["ramparts_testplugins"],
        "http": ["ramparts_http"],
    }
    assert undeclared_imports(warnings, excluded) == ["notes_commands imports ramparts_shell"]


def test_chain_from_previous_releases_carries_trust_forward(tmp_path: Path) -> None:
    """``build --next-pubkey`` then ``build --chain-from``, over three keys."""
    from ramparts.release.signing import chain_to

    k0, k1, k2 = (Ed25519PrivateKey.generate() for _ in range(3))
    release = {n: tmp_path / f"r{n}" for n in range(3)}
    for folder in release.values():
        folder.mkdir()
    write_signed(
        release[0], manifest_for({}, next_public_key=make_link(APP_ID, k1.public_key(), k0)), k0
    )
    chain1 = chain_to(release[0], k1.public_key())
    manifest1 = manifest_for(
        {}, key_chain=list(chain1), next_public_key=make_link(APP_ID, k2.public_key(), k1)
    )
    write_signed(release[1], manifest1, k1)
    chain2 = chain_to(release[1], k2.public_key())
    assert len(chain2) == 2
    write_signed(release[2], manifest_for({}, key_chain=list(chain2)), k2)
    for folder in release.values():  # someone who only ever trusted k0 accepts all three
        verify_artifact(folder, [k0.public_key()], now=NOW)
    with pytest.raises(BuildError, match="does not announce this signing key"):
        chain_to(release[0], k2.public_key())


def test_build_command_errors_are_one_clear_line(tmp_path: Path) -> None:
    runner = CliRunner()
    unset = {"RAMPARTS_SIGNING_KEY": None, "RAMPARTS_SIGNING_PASSPHRASE": None}
    rotation = runner.invoke(cli, ["build", str(tmp_path), "--next-pubkey", "k.pub"], env=unset)
    assert rotation.exit_code == 1
    assert "--next-pubkey and --chain-from need a signing key" in rotation.output
    private, _ = generate_key(b"right")
    (tmp_path / "k.key").write_bytes(private)
    wrong = runner.invoke(
        cli,
        ["build", str(tmp_path), "--key", str(tmp_path / "k.key")],
        env={**unset, "RAMPARTS_SIGNING_PASSPHRASE": "wrong"},
    )
    assert wrong.exit_code == 1 and "wrong passphrase?" in wrong.output
    assert "Traceback" not in wrong.output
    # CI: the key's PEM text itself in RAMPARTS_SIGNING_KEY (not a path).
    from_env = runner.invoke(
        cli,
        ["build", str(tmp_path)],
        env={"RAMPARTS_SIGNING_KEY": private.decode(), "RAMPARTS_SIGNING_PASSPHRASE": "wrong"},
    )
    assert from_env.exit_code == 1
    assert (
        "$RAMPARTS_SIGNING_KEY: cannot load the signing key: wrong passphrase?" in from_env.output
    )


# -- errors a user can cause are one line, never a traceback -----------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[1, 2]", "is not a format-1 manifest (a JSON object"),
        (b'{"format": 1, "app": "x", "files": {}}', "field 'app' is not a JSON object"),
        (b"\xff", "is not valid JSON"),
        (b'{"format": 1, "files": {"a": "x"}}', "field 'files' holds a non-object entry"),
    ],
)
@pytest.mark.parametrize("command", ["verify", "audit"])
def test_verify_and_audit_name_a_malformed_manifest(
    tmp_path: Path, command: str, content: bytes, message: str
) -> None:
    (tmp_path / MANIFEST_NAME).write_bytes(content)
    result = CliRunner().invoke(cli, [command, str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert f"{tmp_path / MANIFEST_NAME}" in result.output and message in result.output
    assert isinstance(result.exception, SystemExit)  # typer.Exit, not an AttributeError


def test_verify_passes_only_with_a_given_pubkey(tree: Path, key: Ed25519PrivateKey) -> None:
    # Anyone can re-sign changed files with a key of their own and put it in the manifest.
    stranger = Ed25519PrivateKey.generate()
    expires = utc_stamp(datetime.now(UTC) + timedelta(days=1))
    manifest = manifest_for(hash_tree(tree), expires=expires)
    manifest["public_key"] = public_pem(stranger.public_key()).decode()
    manifest["signer"] = key_id(stranger.public_key())
    write_signed(tree, manifest, stranger)
    (tree.parent / "k.pub").write_bytes(public_pem(key.public_key()))
    runner = CliRunner()
    own = runner.invoke(cli, ["verify", str(tree)])
    assert own.exit_code == 1, own.output
    # The text agrees with the exit code: intact files, but no bare "OK".
    assert own.stdout.startswith("integrity OK, signer NOT verified (no --pubkey): ")
    assert "OK: " not in own.stdout and "only a key you trust (--pubkey)" in own.output
    pinned = runner.invoke(cli, ["verify", str(tree), "--pubkey", str(tree.parent / "k.pub")])
    assert pinned.exit_code == 1 and "not signed by a trusted key" in pinned.output
    write_signed(tree, manifest, key)
    pinned = runner.invoke(cli, ["verify", str(tree), "--pubkey", str(tree.parent / "k.pub")])
    assert pinned.exit_code == 0, pinned.output
    assert pinned.stdout.startswith("OK: ")


def test_a_signature_that_cannot_be_read_is_a_verification_error(
    tree: Path, key: Ed25519PrivateKey
) -> None:
    write_signed(tree, manifest_for(hash_tree(tree)), None)
    (tree / SIGNATURE_NAME).mkdir()  # reading it fails with EISDIR, even for root
    with pytest.raises(VerificationError, match=f"cannot read the signature .*{SIGNATURE_NAME}"):
        verify_artifact(tree, [key.public_key()], now=NOW)


def test_the_launcher_refuses_an_unreadable_file_with_a_message(
    tree: Path, key: Ed25519PrivateKey
) -> None:
    expires = utc_stamp(datetime.now(UTC) + timedelta(days=1))
    write_signed(tree, manifest_for(hash_tree(tree), expires=expires), key)
    (tree / "_internal" / "pkg" / "mod.py").chmod(0)
    script = (
        f"import sys; sys.executable = {str(tree / 'test')!r}\n"
        "from ramparts.release.launcher import launch\n"
        f"launch(public_key={public_pem(key.public_key()).decode()!r}, layout='onedir', "
        "allow_eval=False)\n"
    )
    proc = unprivileged.run([sys.executable, "-c", script])
    assert proc.returncode == EXIT_REFUSED, proc.stderr
    assert "refusing to start: cannot read " in proc.stderr
    assert "_internal/pkg/mod.py: Permission denied" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_build_names_a_folder_it_cannot_write(tmp_path: Path) -> None:
    from conftest import write_app

    app = write_app(tmp_path / "app", capabilities="")
    (app / "build").write_text("a file where the build folder goes")
    env = {"RAMPARTS_SIGNING_KEY": None, "RAMPARTS_SIGNING_PASSPHRASE": None}
    result = CliRunner().invoke(cli, ["build", str(app)], env=env)
    assert result.exit_code == 1
    assert f"error: {app / 'build'}" in result.output
    assert isinstance(result.exception, SystemExit)  # typer.Exit, not an OSError


# -- audit: an unverified manifest is only the artifact's own claim ----------------------


#: A manifest's grant of a capability that allows no command and sets no option.
NO_GRANT: dict[str, object] = {"allow": [], "options": {}}


def fake_artifact(
    root: Path,
    capabilities: dict[str, dict[str, object]],
    key: Ed25519PrivateKey | None = None,
    plant: str | None = "ramparts_shell",
) -> Path:
    """An onedir artifact whose executable is a real (empty) PyInstaller archive, with the
    package ``plant`` planted inside (none if None) and a manifest declaring
    ``capabilities``, signed with ``key`` (unsigned if None)."""
    from PyInstaller.archive.writers import CArchiveWriter

    root.mkdir()
    CArchiveWriter(str(root / "test"), [], "libpython3.11.so")
    if plant is not None:
        (root / "_internal" / plant).mkdir(parents=True)
        (root / "_internal" / plant / "__init__.py").write_text("# planted\n")
    expires = utc_stamp(datetime.now(UTC) + timedelta(days=1))
    manifest = manifest_for(hash_tree(root), expires=expires, capabilities=capabilities)
    write_signed(root, manifest, key)
    return root


def test_an_unsigned_audit_is_unverified_and_fails_unless_allowed(tmp_path: Path) -> None:
    # Whoever planted shell also "declared" it: only the unverified mark gives it away.
    artifact = fake_artifact(tmp_path / "app", {"fs": NO_GRANT, "shell": NO_GRANT})
    runner = CliRunner()
    failed = runner.invoke(cli, ["audit", str(artifact), "--json"])
    assert failed.exit_code == 1, failed.output
    report = json.loads(failed.stdout)
    assert report["ok"] is False and report["verified"] is False
    assert report["signature"]["status"] == "unsigned"
    assert report["undeclared_plugin_modules"] == {}
    assert report["plugins_inside"] == {"shell": ["ramparts_shell"]}
    allowed = runner.invoke(cli, ["audit", str(artifact), "--allow-unverified"])
    assert allowed.exit_code == 0, allowed.output
    assert "UNVERIFIED: no --pubkey signature check passed" in allowed.stdout
    assert "plugins inside: shell" in allowed.stdout and "audit: PASSED" in allowed.stdout


def test_only_a_given_pubkey_verifies_an_audit(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    artifact = fake_artifact(tmp_path / "app", {"shell": NO_GRANT}, key)
    (tmp_path / "k.pub").write_bytes(public_pem(key.public_key()))
    runner = CliRunner()
    own_key = runner.invoke(cli, ["audit", str(artifact), "--json"])
    assert own_key.exit_code == 1 and json.loads(own_key.stdout)["verified"] is False
    pinned = runner.invoke(cli, ["audit", str(artifact), "--json", "--pubkey", f"{tmp_path}/k.pub"])
    assert pinned.exit_code == 0, pinned.output
    assert json.loads(pinned.stdout)["verified"] is True


def test_an_audit_reports_a_changed_file_as_changed_not_as_a_key_problem(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    artifact = fake_artifact(tmp_path / "app", {"shell": NO_GRANT}, key)
    (artifact / "_internal" / "ramparts_shell" / "__init__.py").write_text("# changed\n")
    (tmp_path / "k.pub").write_bytes(public_pem(key.public_key()))
    table = CliRunner().invoke(cli, ["audit", str(artifact), "--pubkey", f"{tmp_path}/k.pub"])
    assert table.exit_code == 1, table.output
    assert "FAIL: 1 file(s) changed since the build (integrity" in table.stdout
    assert "changed: _internal/ramparts_shell/__init__.py" in table.stdout
    assert "the signing key is not at fault" in table.stdout
    assert "UNVERIFIED" not in table.stdout and "no --pubkey" not in table.stdout
    assert "audit: FAILED" in table.stdout


def test_verify_of_an_unsigned_build_says_intact_but_not_verified(tmp_path: Path) -> None:
    artifact = fake_artifact(tmp_path / "app", {"shell": NO_GRANT})
    result = CliRunner().invoke(cli, ["verify", str(artifact)])
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("integrity OK, signer NOT verified (unsigned build): ")
    assert "the build is unsigned" in result.output


def test_an_audit_reports_the_manifest_it_verified_not_an_earlier_read(
    tmp_path: Path, key: Ed25519PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A manifest served by the attacker (a network share, a FIFO) reads as a
    shell-declaring forgery first, then as the genuine signed bytes: the audit must
    report the manifest it verified. The file answers each read in turn here (a FIFO
    fed by a thread did the same, but its timing made the test flaky under load)."""
    from ramparts.release.audit import audit

    artifact = fake_artifact(tmp_path / "app", {"fs": NO_GRANT}, key)
    manifest_path = artifact / MANIFEST_NAME
    genuine = manifest_path.read_bytes()
    forged = json.loads(genuine)
    forged["capabilities"]["shell"] = {"allow": [], "options": {}}
    reads = [canonical_json(forged), genuine]
    real_read_bytes = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self == manifest_path:
            return reads.pop(0) if len(reads) > 1 else reads[0]
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    result = audit(artifact, [key.public_key()], {})
    assert reads == [genuine]  # both reads happened: the forgery came first
    assert result.signature == "valid"
    assert list(result.manifest["capabilities"]) == ["fs"]
    assert result.undeclared == {"shell": ["ramparts_shell"]} and not result.ok


def test_undeclared_plugins_are_found_without_being_installed() -> None:
    """First-party plugins are known to the core; the artifact's metadata adds others."""
    from ramparts.release.audit import FIRST_PARTY, plugin_roots

    modules = ["ramparts_fs", "ramparts_shell.run", "ramparts_clip", "notes_commands"]
    nothing_installed: dict[str, str] = {}
    in_artifact = {"clip": "ramparts_clip:plugin", "fs": "ramparts_fs"}
    roots = plugin_roots(["fs"], FIRST_PARTY, nothing_installed, in_artifact)
    assert find_undeclared(modules, roots) == {
        "clip": ["ramparts_clip"],
        "shell": ["ramparts_shell.run"],
    }
    # Renaming a plugin's capability in one source does not hide its modules in another.
    renamed = plugin_roots(["fs"], FIRST_PARTY, {"fs": "ramparts_shell"})
    assert find_undeclared(modules, renamed)["shell"] == ["ramparts_shell.run"]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"LD_LIBRARY_PATH": "/b/_internal"}, {}),  # the user had none: none again
        (
            {"LD_LIBRARY_PATH": "/b/_internal:/u/lib", "LD_LIBRARY_PATH_ORIG": "/u/lib"},
            {"LD_LIBRARY_PATH": "/u/lib", "LD_LIBRARY_PATH_ORIG": "/u/lib"},
        ),
        ({"LD_LIBRARY_PATH_ORIG": ""}, {"LD_LIBRARY_PATH": "", "LD_LIBRARY_PATH_ORIG": ""}),
        ({"PATH": "/usr/bin"}, {"PATH": "/usr/bin"}),
    ],
)
def test_the_launcher_gives_children_the_users_library_path(
    before: dict[str, str], after: dict[str, str]
) -> None:
    """What the bootloader's LD_LIBRARY_PATH becomes for what the app starts (built apps'
    real children: test_build.py and test_deb.py trace them)."""
    from ramparts.release.launcher import give_back_library_path

    env = dict(before)
    give_back_library_path(env)
    assert env == after
