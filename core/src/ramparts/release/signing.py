"""Signing keys, the signed build manifest, and checking a file tree against it.

Only the standard library and ``cryptography``: no Qt, no app or plugin code. A built
app's launcher imports this module first and checks everything before it loads the app.

The manifest is canonical JSON (sorted keys, no spaces, UTF-8) and is signed as bytes:
the signature is checked *before* the JSON is trusted. See ``docs/build.md``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import posixpath
import stat
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path, PureWindowsPath
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ramparts.errors import BuildError, VerificationError

__all__ = [
    "ENV_KEY",
    "ENV_PASSPHRASE",
    "KEY_FILE",
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "PUB_FILE",
    "SIGNATURE_NAME",
    "artifact_files",
    "canonical_json",
    "chain_to",
    "check_files",
    "escaping_links",
    "expiry",
    "file_digest",
    "generate_key",
    "hash_tree",
    "key_id",
    "load_manifest",
    "load_private_key",
    "load_public_key",
    "make_link",
    "own_key",
    "parse_manifest",
    "public_pem",
    "sign",
    "signed_by",
    "strict_json",
    "utc_stamp",
    "verify_artifact",
    "verify_manifest",
]

MANIFEST_NAME = "ramparts-manifest.json"
SIGNATURE_NAME = "ramparts-manifest.sig"
MANIFEST_FORMAT = 1
KEY_FILE = "ramparts-signing.key"
PUB_FILE = "ramparts-signing.pub"
ENV_KEY = "RAMPARTS_SIGNING_KEY"
ENV_PASSPHRASE = "RAMPARTS_SIGNING_PASSPHRASE"
#: What a key-rotation link signs, so a link can never be mistaken for a manifest.
_LINK_PURPOSE = "ramparts-next-key"

#: {"sha256": hex, "size": int}, {"symlink": target} or {"special": mode}
FileEntry = dict[str, Any]


# -- bytes and files ---------------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """The one byte form of ``value`` that is signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def file_digest(path: Path) -> FileEntry:
    """SHA-256 and size of a file, read in chunks (Qt libraries are 100+ MB)."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return {"sha256": h.hexdigest(), "size": size}


def hash_tree(root: Path, skip: Iterable[str] = ()) -> dict[str, FileEntry]:
    """Every file under ``root`` by POSIX relative path; symlinks by their target.

    Symlinks are recorded, never followed: a link re-pointed outside the tree is a change.
    Directories are not: Qt WebEngine creates an empty ``locales`` folder in the app at
    run time, and an empty folder can add no code. A directory that cannot be listed
    raises ``OSError``: what is in it unseen must not pass for nothing.
    """
    skipped = set(skip)
    found: dict[str, FileEntry] = {}
    for dirpath, dirnames, filenames in os.walk(root, onerror=_raise):
        base = Path(dirpath)
        for name in [*dirnames, *filenames]:
            path = base / name
            rel = path.relative_to(root).as_posix()
            if rel in skipped:
                continue
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                found[rel] = {"symlink": os.readlink(path)}
            elif stat.S_ISREG(mode):
                found[rel] = file_digest(path)
            elif not stat.S_ISDIR(mode):
                found[rel] = {"special": stat.filemode(mode)}
        dirnames[:] = [d for d in dirnames if not (base / d).is_symlink()]
    return found


def _raise(error: OSError) -> None:
    raise error


def check_files(
    root: Path, expected: Mapping[str, FileEntry], *, skip: Iterable[str] = (), extra: bool = True
) -> list[str]:
    """Compare the tree at ``root`` with ``expected``; one line per difference.

    :param skip: paths that are not in the list on purpose (the manifest, its signature).
    :param extra: report files present but not listed ("added").
    """
    problems: list[str] = []
    actual = hash_tree(root, skip) if extra else {}
    for rel, want in sorted(expected.items()):
        path = root / rel
        if extra:
            got = actual.get(rel)
        elif path.is_symlink() or path.is_file():
            got = {"symlink": os.readlink(path)} if path.is_symlink() else file_digest(path)
        else:
            got = None
        if got is None:
            problems.append(f"missing: {rel}")
        elif got != want:
            problems.append(f"changed: {rel}{_how(want, got)}")
    problems.extend(f"added: {rel}" for rel in sorted(set(actual) - set(expected)))
    problems.extend(f"outside: {rel} links to {t}" for rel, t in escaping_links(expected))
    return problems


def escaping_links(files: Mapping[str, FileEntry]) -> list[tuple[str, str]]:
    """``(path, target)`` of each symlink that leads out of the tree.

    A link's target is checked as text; the file it reaches outside the tree is not,
    and whoever controls that location controls what the app loads.
    """
    found = []
    for rel, entry in sorted(files.items()):
        link = entry.get("symlink")
        if not isinstance(link, str):
            continue
        target = link.replace("\\", "/")  # Windows' readlink
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
        if PureWindowsPath(target).anchor or joined == ".." or joined.startswith("../"):
            found.append((rel, link))
    return found


def _how(want: FileEntry, got: FileEntry) -> str:
    if "size" in want and "size" in got and want["size"] != got["size"]:
        return f" (size {got['size']}, expected {want['size']})"
    if "sha256" in want and "sha256" in got:
        return " (SHA-256 differs)"
    return f" ({_kind(got)}, expected {_kind(want)})"


def _kind(entry: FileEntry) -> str:
    if "symlink" in entry:
        return f"symlink to {entry['symlink']}"
    return "a file" if "sha256" in entry else "not a file"


# -- keys --------------------------------------------------------------------------------


def generate_key(passphrase: bytes) -> tuple[bytes, bytes]:
    """A new Ed25519 key pair: (private key as encrypted PKCS#8 PEM, public key PEM)."""
    if not passphrase:
        raise BuildError("a signing key needs a non-empty passphrase")
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    return private, public_pem(key.public_key())


def load_private_key(pem: bytes, passphrase: bytes | None, where: str) -> Ed25519PrivateKey:
    """Decrypt a private key; ``where`` names its source in errors."""
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase or None)
    except TypeError as e:  # encrypted without a passphrase, or the other way round
        raise BuildError(f"{where}: {e} (set {ENV_PASSPHRASE} or type it when asked)") from None
    except ValueError as e:
        raise BuildError(f"{where}: cannot load the signing key: wrong passphrase? ({e})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BuildError(f"{where}: not an Ed25519 private key (make one with `ramparts keygen`)")
    return key


def load_public_key(pem: bytes | str, where: str) -> Ed25519PublicKey:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as e:
        raise VerificationError(f"{where}: not a PEM public key ({e})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise VerificationError(f"{where}: not an Ed25519 public key")
    return key


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(key: Ed25519PublicKey) -> str:
    """A short fingerprint: the first 16 hex digits of SHA-256 over the raw public key."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(data: bytes, key: Ed25519PrivateKey) -> bytes:
    """The detached signature file for ``data``: base64 of the Ed25519 signature."""
    return base64.b64encode(key.sign(data)) + b"\n"


def _signature_ok(data: bytes, signature: bytes, key: Ed25519PublicKey) -> bool:
    try:
        key.verify(base64.b64decode(signature.strip(), validate=True), data)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


# -- key rotation ------------------------------------------------------------------------


def make_link(identifier: str, next_key: Ed25519PublicKey, signer: Ed25519PrivateKey) -> Any:
    """A rotation link: ``signer`` vouches that ``next_key`` may sign this app's manifests.

    A manifest carries the link for its successor key as ``next_public_key``; a manifest
    signed by that successor carries the links that lead to it as ``key_chain``.
    """
    pem = public_pem(next_key).decode()
    statement = {"purpose": _LINK_PURPOSE, "identifier": identifier, "public_key": pem}
    return {"public_key": pem, "signature": sign(canonical_json(statement), signer).decode()}


def chain_to(previous: Path, key: Ed25519PublicKey) -> tuple[Any, ...]:
    """The rotation links a release signed by ``key`` carries: ``previous``'s chain plus
    the link with which ``previous`` (an artifact) announced ``key``.

    Nothing here needs trusting: every verifier re-checks each link's signature.
    """
    manifest = load_manifest(previous)
    link = manifest.get("next_public_key")
    if not isinstance(link, dict) or link.get("public_key") != public_pem(key).decode():
        raise BuildError(
            f"{previous}: its manifest does not announce this signing key ({key_id(key)}) "
            "as next_public_key; build that release with --next-pubkey first"
        )
    return (*manifest.get("key_chain", []), link)


def signed_by(
    data: bytes,
    signature: bytes,
    trusted: Iterable[Ed25519PublicKey],
    identifier: str,
    chain: Any,
) -> Ed25519PublicKey | None:
    """The key that signed ``data``: one of ``trusted``, or one reached from them through
    ``chain`` (rotation links for ``identifier``, walked as for a manifest); ``None`` if
    no such key signed it. Other signed documents (update feeds) use this one rule."""
    keys = list(trusted)
    _walk_chain(identifier, chain, keys)
    return next((k for k in keys if _signature_ok(data, signature, k)), None)


def _walk_chain(identifier: str, chain: Any, trusted: list[Ed25519PublicKey]) -> None:
    """Extend ``trusted`` with each link signed by a key already in it, in order."""
    if not isinstance(chain, list):
        return
    for link in chain:
        if not isinstance(link, dict) or not isinstance(link.get("public_key"), str):
            return
        pem, sig = link["public_key"], str(link.get("signature", ""))
        statement = {"purpose": _LINK_PURPOSE, "identifier": identifier, "public_key": pem}
        data = canonical_json(statement)
        if not any(_signature_ok(data, sig.encode(), k) for k in trusted):
            return  # a broken link ends the chain: nothing after it is trusted
        trusted.append(load_public_key(pem, "key_chain"))


# -- the manifest ------------------------------------------------------------------------


def utc_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expiry(now: datetime, days: float) -> str:
    if days <= 0:
        raise BuildError(f"--expires-in must be a positive number of days, not {days:g}")
    return utc_stamp(now + timedelta(days=days))


def _parse_stamp(value: Any, field: str) -> datetime:
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise VerificationError(f"manifest field {field!r} is not a UTC time: {value!r}") from None


#: The manifest fields the core reads, and the JSON type each must have.
_SHAPE: dict[str, type] = {
    "app": dict,
    "capabilities": dict,
    "commands": list,
    "windows": dict,
    "files": dict,
    "bundle": dict,
    "key_chain": list,
    "excluded_plugins": dict,
}


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json keeps the last of duplicate keys and other parsers the first: the signed bytes
    # must mean one thing to every reader (canonical_json never writes duplicates).
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"duplicate key {key!r}")
        found[key] = value
    return found


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # canonical_json refuses to write it


def _relative_path(path: str) -> bool:
    """A path that stays inside the tree it is joined to, on any OS."""
    parts = path.replace("\\", "/").split("/")
    return not PureWindowsPath(path).anchor and all(p not in ("", ".", "..") for p in parts)


def strict_json(data: bytes, where: str) -> Any:
    """Parse UTF-8 JSON that may be read before its signature is checked: duplicate keys,
    ``NaN`` and nesting too deep for the parser are refusals naming ``where``."""
    try:
        return json.loads(
            data.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise VerificationError(f"{where} is not valid JSON ({e})") from None
    except ValueError as e:  # from the hooks
        raise VerificationError(f"{where}: {e}") from None
    except RecursionError:  # parsed before the signature is checked: any bytes reach here
        raise VerificationError(f"{where} is not valid JSON (nested too deeply)") from None


def parse_manifest(data: bytes, where: str = MANIFEST_NAME) -> dict[str, Any]:
    """Parse manifest bytes and check their shape (not their signature).

    :raises VerificationError: not JSON, not a format-1 object, or a field of the wrong
        type; ``where`` names the file in the message.
    """
    manifest = strict_json(data, where)
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise VerificationError(
            f"{where} is not a format-{MANIFEST_FORMAT} manifest "
            f'(a JSON object with "format": {MANIFEST_FORMAT})'
        )
    for key, kind in _SHAPE.items():
        if key in manifest and not isinstance(manifest[key], kind):
            expected = "object" if kind is dict else "array"
            raise VerificationError(f"{where}: field {key!r} is not a JSON {expected}")
    for field in ("files", "bundle"):
        bad = [p for p in manifest.get(field, {}) if not _relative_path(p)]
        if bad:
            raise VerificationError(
                f"{where}: field {field!r} lists a path outside the tree: {bad[0]!r}"
            )
        if not all(isinstance(e, dict) for e in manifest.get(field, {}).values()):
            raise VerificationError(f"{where}: field {field!r} holds a non-object entry")
    caps = manifest.get("capabilities", {})
    if not all(isinstance(c, dict) for c in caps.values()):
        raise VerificationError(f"{where}: field 'capabilities' holds a non-object entry")
    return manifest


def verify_manifest(
    data: bytes,
    signature: bytes | None,
    trusted: Iterable[Ed25519PublicKey],
    *,
    now: datetime | None = None,
    identifier: str | None = None,
) -> dict[str, Any]:
    """Check a manifest's signature, format and expiry; return it parsed.

    ``trusted`` empty means an unsigned build is expected: the signature is not checked
    (and must be absent). Otherwise the manifest must be signed by a trusted key, or by
    a key reached from one through its ``key_chain`` (see :func:`make_link`).

    :param identifier: the app this must be (the launcher's baked-in one). Without it,
        the manifest's own claim picks which links count, so a key shared by two apps
        would let one app's rotated key pass as the other's.
    :raises VerificationError: naming what is wrong.
    """
    keys = list(trusted)
    manifest = parse_manifest(data)
    claimed = manifest.get("app", {}).get("identifier")
    if identifier is not None and claimed != identifier:
        raise VerificationError(
            f"{MANIFEST_NAME} is for the app {claimed!r}, but this is {identifier!r}"
        )
    if keys:
        if signature is None:
            raise VerificationError(
                f"{SIGNATURE_NAME} is missing: this app expects a signed manifest"
            )
        if not any(_signature_ok(data, signature, k) for k in keys):
            _walk_chain(str(identifier or claimed or ""), manifest.get("key_chain"), keys)
            if not any(_signature_ok(data, signature, k) for k in keys):
                raise VerificationError(
                    f"{SIGNATURE_NAME}: the manifest is not signed by a trusted key "
                    f"(trusted: {', '.join(key_id(k) for k in keys)}; "
                    f"manifest names signer {manifest.get('signer')!r})"
                )
    elif signature is not None:
        raise VerificationError(
            f"{SIGNATURE_NAME} is present but no public key was given to check it"
        )
    moment = now or datetime.now(UTC)
    expires = _parse_stamp(manifest.get("expires"), "expires")
    if moment >= expires:
        raise VerificationError(
            f"the manifest expired at {manifest['expires']} (it is now {utc_stamp(moment)}); "
            "rebuild and re-sign the app"
        )
    if not isinstance(manifest.get("files"), dict):
        raise VerificationError(f"{MANIFEST_NAME} has no file list")
    return manifest


def own_key(manifest: Mapping[str, Any]) -> list[Ed25519PublicKey]:
    """The key a manifest says it is signed with (none if unsigned).

    Trusting it shows that the files are intact, not who built them: only for when the
    caller has no key of its own (``verify`` and ``audit`` without ``--pubkey``).
    """
    pem = manifest.get("public_key")
    return [load_public_key(pem, "the manifest's public_key")] if isinstance(pem, str) else []


# -- artifacts ---------------------------------------------------------------------------


def artifact_files(artifact: Path) -> tuple[Path, Path, Path, str]:
    """``(files root, manifest, signature, layout)`` of a built app.

    An onedir app is a folder with the manifest inside it. A onefile app is one
    executable with ``<name>.ramparts-manifest.json`` (and ``.sig``) beside it.
    """
    if artifact.is_dir():
        return artifact, artifact / MANIFEST_NAME, artifact / SIGNATURE_NAME, "onedir"
    return (
        artifact.parent,
        artifact.with_name(f"{artifact.name}.{MANIFEST_NAME}"),
        artifact.with_name(f"{artifact.name}.{SIGNATURE_NAME}"),
        "onefile",
    )


def read_manifest(artifact: Path) -> tuple[bytes, bytes | None]:
    """The manifest bytes and signature bytes (``None``: unsigned) of an artifact."""
    _, manifest, signature, _ = artifact_files(artifact)
    try:
        data = manifest.read_bytes()
    except OSError as e:
        raise VerificationError(f"cannot read the manifest {manifest}: {e.strerror}") from None
    try:
        sig: bytes | None = signature.read_bytes()
    except FileNotFoundError:
        sig = None
    except OSError as e:
        raise VerificationError(f"cannot read the signature {signature}: {e.strerror}") from None
    return data, sig


def load_manifest(artifact: Path) -> dict[str, Any]:
    """An artifact's manifest, parsed and shape-checked but **not** verified."""
    return parse_manifest(read_manifest(artifact)[0], str(artifact_files(artifact)[1]))


def verify_artifact(
    artifact: Path,
    trusted: Iterable[Ed25519PublicKey],
    *,
    now: datetime | None = None,
    unpacked: Path | None = None,
    identifier: str | None = None,
) -> dict[str, Any]:
    """Check a built app against its manifest: signature, expiry, every file.

    :param trusted: the keys to accept (empty: the build is expected to be unsigned).
    :param unpacked: a onefile app's unpacked tree (``sys._MEIPASS``), checked against
        the manifest's ``bundle`` list, added files included.
    :param identifier: the app the manifest must be for (see :func:`verify_manifest`).
    :raises VerificationError: listing every file that is changed, missing or added.
    """
    root, _, _, layout = artifact_files(artifact)
    data, signature = read_manifest(artifact)
    manifest = verify_manifest(data, signature, trusted, now=now, identifier=identifier)
    if manifest.get("layout") != layout:
        raise VerificationError(
            f"{artifact}: the manifest describes a {manifest.get('layout')} build, "
            f"but this is a {layout} one"
        )
    executable = manifest.get("executable")
    if layout == "onefile" and (
        executable != artifact.name or set(manifest["files"]) != {artifact.name}
    ):
        # Otherwise a copied manifest checks the executable it names, not this one.
        raise VerificationError(
            f"{artifact}: the manifest is for the executable {executable!r}, not {artifact.name!r}"
        )
    if layout == "onedir":
        problems = check_files(root, manifest["files"], skip=(MANIFEST_NAME, SIGNATURE_NAME))
    else:
        problems = check_files(root, manifest["files"], extra=False)
    if unpacked is not None:
        bundle = manifest.get("bundle")
        if not isinstance(bundle, dict):
            raise VerificationError(f"{MANIFEST_NAME} has no list of the unpacked files")
        problems += [f"{p} (in {unpacked})" for p in check_files(unpacked, bundle)]
    if problems:
        raise VerificationError(
            f"{artifact}: {len(problems)} file(s) differ from the signed manifest", problems
        )
    return manifest
