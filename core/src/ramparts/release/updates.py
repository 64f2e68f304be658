"""Signed updates: the update archive and feed ``ramparts release`` writes, the checks a
running app makes on them, and the per-user update root the launcher prefers.

A feed is a JSON envelope ``{"feed": TEXT, "signature": BASE64}``: ``TEXT`` is the
canonical JSON of the feed, signed as bytes with the build's Ed25519 key (the same key
and rotation chain as the manifest, :mod:`ramparts.release.signing`), so the signature
is checked on those exact bytes before anything in them is trusted.

The installed app is never written. An update goes to a per-user update root
(:func:`update_root`): each version in its own folder, ``current`` a symlink flipped
with one ``rename(2)``. At each start the installed app's launcher verifies the build
``current`` names with the key compiled into *itself* and runs it only if it is newer;
otherwise it runs itself. See ``docs/updates.md``.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import attrs
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ramparts.errors import BuildError, VerificationError
from ramparts.release.signing import (
    canonical_json,
    key_id,
    load_manifest,
    public_pem,
    sign,
    signed_by,
    strict_json,
    utc_stamp,
    verify_artifact,
)

__all__ = [
    "ARCHIVE_SUFFIX",
    "BASE_ENV",
    "FEED_FORMAT",
    "LAUNCH_CHECK",
    "Feed",
    "Release",
    "RunningBuild",
    "UpdateError",
    "install",
    "launch_check",
    "make_release",
    "newer",
    "preferred_update",
    "read_feed",
    "running_build",
    "set_running_build",
    "this_platform",
    "update_root",
    "version_key",
    "write_archive",
]

FEED_FORMAT = 1
ARCHIVE_SUFFIX = ".tar.gz"
#: What a feed signs, so that it can never pass for a manifest or a rotation link.
_FEED_PURPOSE = "ramparts-update-feed"
#: Set by an installed app's launcher when it hands over to a newer build of the update
#: root: where to relaunch (the installed launcher, which verifies the update again).
BASE_ENV = "RAMPARTS_BASE_EXECUTABLE"
#: The built app's option that verifies it and loads the app without opening a window.
LAUNCH_CHECK = "--launch-check"
_LAUNCH_CHECK_SECONDS = 300.0
_VERSION = re.compile(r"(\d+(?:\.\d+)*)(?:(a|b|rc)(\d+))?")


class UpdateError(VerificationError):
    """An update refused: ``code`` says why (``unsigned``, ``unknown_key``, ``expired``,
    ``wrong_app``, ``wrong_platform``, ``not_newer``, ``size_mismatch``,
    ``hash_mismatch``, ``too_large``, ``bad_feed``, ``bad_build``, ``launch_check``, ...);
    the message says what and where."""

    def __init__(self, code: str, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message, problems)
        self.code = code


# -- versions ----------------------------------------------------------------------------


def version_key(version: str) -> tuple[tuple[int, ...], tuple[int, int]]:
    """A sort key for ``1.2.3``, ``1.2.3rc1``, ``2.0b2``: dotted numbers, then an optional
    pre-release, which sorts before the release itself.

    :raises UpdateError: (``bad_version``) for anything else: an update's order must
        never depend on a guess.
    """
    match = _VERSION.fullmatch(version)
    if match is None:
        raise UpdateError(
            "bad_version",
            f"version {version!r} cannot be ordered: use dotted numbers such as 1.4.2, "
            "optionally followed by a1, b1 or rc1",
        )
    numbers = tuple(int(n) for n in match[1].split("."))
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers = numbers[:-1]  # 1.0 == 1.0.0
    pre = (("a", "b", "rc").index(match[2]), int(match[3])) if match[2] else (3, 0)
    return numbers, pre


def newer(candidate: str, than: str) -> bool:
    return version_key(candidate) > version_key(than)


def this_platform() -> str:
    """The platform an archive is for: PyInstaller builds run only where they were made."""
    return f"{sys.platform}-{platform.machine().lower()}"


# -- the archive -------------------------------------------------------------------------


@contextlib.contextmanager
def _atomic_file(path: Path) -> Iterator[IO[bytes]]:
    """A file written under a temporary name beside ``path``, renamed over it once
    complete and flushed: a failure leaves nothing, never half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _tar_entry(root: Path, rel: str) -> tuple[tarfile.TarInfo, Path | None]:
    path = root / rel
    st = path.lstat()
    info = tarfile.TarInfo(rel)
    info.mtime = 0  # the same build gives the same bytes: re-releasing changes nothing
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if path.is_symlink():
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, os.readlink(path), 0o777
        return info, None
    if path.is_dir():
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        return info, None
    info.mode = 0o755 if st.st_mode & 0o100 else 0o644
    info.size = st.st_size
    return info, path


def write_archive(
    artifact: Path, out: Path, say: Callable[[str], None], level: int = 6
) -> dict[str, Any]:
    """Pack an onedir artifact into ``out`` (a deterministic ``.tar.gz``: sorted names,
    no times or owners; gzip ``level`` 1 to 9); return its ``{"size", "sha256"}``.

    tar rather than zip: it keeps symlinks (Qt's frameworks and libraries use them) and
    the executable bit, which zip carries only through extensions.
    """
    names: list[str] = []
    for dirpath, dirnames, filenames in os.walk(artifact):
        base = Path(dirpath)
        for name in [*dirnames, *filenames]:
            names.append((base / name).relative_to(artifact).as_posix())
        dirnames[:] = [d for d in dirnames if not (base / d).is_symlink()]
    names.sort()
    # mtime=0 and no file name in the gzip header: the same bytes on every run.
    with (
        _atomic_file(out) as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=level) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for count, rel in enumerate(names, 1):
            info, path = _tar_entry(artifact, rel)
            if path is None:
                tar.addfile(info)
            else:
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            if count % 500 == 0:
                say(f"      {count} of {len(names)} entries")
    return _digest(out)


def _digest(path: Path) -> dict[str, Any]:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return {"size": path.stat().st_size, "sha256": h.hexdigest()}


# -- the feed ----------------------------------------------------------------------------


@attrs.frozen
class Release:
    """What ``ramparts release`` wrote."""

    archive: Path
    feed: Path
    version: str
    size: int
    sha256: str
    expires: str
    signer: str


def make_release(
    artifact: Path,
    key: Ed25519PrivateKey,
    out: Path,
    *,
    url: str | None,
    notes: str,
    expires_in_days: float,
    say: Callable[[str], None],
    now: datetime | None = None,
    level: int = 6,
) -> Release:
    """Turn a signed onedir build into an update archive and a signed feed in ``out``.

    The build is verified first, under ``key``'s public half (a build signed by another
    key, unsigned, changed since, or expired is refused). ``url`` is where the archive
    will be served, absolute or relative to the feed's own URL (default: its file name).
    ``level`` is gzip's: on a Qt build, 1 packs about 6 times faster than 6, into 10%
    more bytes.
    """
    say(f"[1/3] verifying {artifact} under the key {key_id(key.public_key())}")
    manifest = _releasable(artifact, key)
    app = manifest["app"]
    moment = now or datetime.now(UTC)
    if expires_in_days <= 0:
        raise BuildError(f"--expires-in must be a positive number of days, not {expires_in_days:g}")
    if not 1 <= level <= 9:
        raise BuildError(f"--compress-level must be 1 to 9, not {level}")
    stem = f"{artifact.name}-{app['version']}-{this_platform()}"
    out.mkdir(parents=True, exist_ok=True)
    archive = out / f"{stem}{ARCHIVE_SUFFIX}"
    say(f"[2/3] packing {artifact} into {archive.name}")
    entry = write_archive(artifact, archive, say, level)
    say(f"[3/3] signing the feed ({entry['size'] / 1e6:.1f} MB, sha256 {entry['sha256'][:16]}...)")
    feed = {
        "purpose": _FEED_PURPOSE,
        "format": FEED_FORMAT,
        "app": {"identifier": app["identifier"], "name": app["name"]},
        "version": app["version"],
        "notes": notes,
        "platform": this_platform(),
        "published": utc_stamp(moment),
        "expires": utc_stamp(moment + timedelta(days=expires_in_days)),
        "archive": {"url": url or archive.name, **entry},
        "signer": key_id(key.public_key()),
        "key_chain": manifest.get("key_chain", []),
    }
    text = canonical_json(feed)
    envelope = {"feed": text.decode("utf-8"), "signature": sign(text, key).decode().strip()}
    feed_path = out / f"{stem}.json"
    with _atomic_file(feed_path) as f:
        f.write(canonical_json(envelope) + b"\n")
    return Release(
        archive, feed_path, app["version"], entry["size"], entry["sha256"], feed["expires"],
        feed["signer"],
    )  # fmt: skip


def _releasable(artifact: Path, key: Ed25519PrivateKey) -> dict[str, Any]:
    """The manifest of a build that may be released with ``key``, or a clear refusal."""
    if not artifact.is_dir():
        raise BuildError(
            f"{artifact}: not an onedir build (updates ship a folder; build without --onefile)"
        )
    manifest = load_manifest(artifact)
    if manifest.get("public_key") is None:
        raise BuildError(
            f"{artifact}: the build is unsigned; an update must be signed (rebuild with --key)"
        )
    public = key.public_key()
    if manifest.get("public_key") != public_pem(public).decode():
        raise BuildError(
            f"{artifact}: the build is signed by {manifest.get('signer')}, not by this key "
            f"({key_id(public)}); release with the key the build was signed with"
        )
    verify_artifact(artifact, [public], identifier=manifest["app"].get("identifier"))
    version_key(str(manifest["app"].get("version")))
    return manifest


@attrs.frozen
class Feed:
    """A verified feed: every field has been checked against the running app."""

    identifier: str
    version: str
    notes: str
    url: str
    size: int
    sha256: str
    published: str
    expires: str
    signer: str


def read_feed(
    data: bytes,
    trusted: list[Ed25519PublicKey],
    identifier: str,
    *,
    where: str,
    now: datetime | None = None,
    platform_name: str | None = None,
) -> Feed:
    """Verify a feed envelope for the app ``identifier``: its signature (by a trusted key
    or one chained from it), purpose, app, platform and expiry.

    :raises UpdateError: ``bad_feed``, ``unsigned``, ``unknown_key``, ``wrong_app``,
        ``wrong_platform`` or ``expired``; ``where`` (the URL) is named in each.
    """
    envelope = _json(data, where)
    if not isinstance(envelope, dict) or not isinstance(envelope.get("feed"), str):
        raise UpdateError("bad_feed", f'{where}: not an update feed (no "feed" text)')
    signature = envelope.get("signature")
    if not isinstance(signature, str) or not signature:
        raise UpdateError("unsigned", f"{where}: the feed is unsigned; an update must be signed")
    text = envelope["feed"].encode("utf-8")
    feed = _json(text, where)
    if not isinstance(feed, dict) or feed.get("purpose") != _FEED_PURPOSE:
        raise UpdateError("bad_feed", f"{where}: not a Ramparts update feed")
    signer = signed_by(text, signature.encode(), trusted, identifier, feed.get("key_chain"))
    if signer is None:
        raise UpdateError(
            "unknown_key",
            f"{where}: the feed is not signed by this app's key "
            f"(trusted: {', '.join(key_id(k) for k in trusted)}; "
            f"the feed names signer {feed.get('signer')!r})",
        )
    return _checked_feed(feed, identifier, where, now or datetime.now(UTC), platform_name)


def _json(data: bytes, where: str) -> Any:
    try:
        return strict_json(data, where)
    except VerificationError as e:
        raise UpdateError("bad_feed", str(e)) from None


def _checked_feed(
    feed: dict[str, Any], identifier: str, where: str, now: datetime, platform_name: str | None
) -> Feed:
    app, archive = feed.get("app"), feed.get("archive")
    if feed.get("format") != FEED_FORMAT or not isinstance(app, dict):
        raise UpdateError("bad_feed", f"{where}: not a format-{FEED_FORMAT} update feed")
    if app.get("identifier") != identifier:
        raise UpdateError(
            "wrong_app",
            f"{where}: the feed is for the app {app.get('identifier')!r}, not {identifier!r}",
        )
    wanted = platform_name or this_platform()
    if feed.get("platform") != wanted:
        raise UpdateError(
            "wrong_platform",
            f"{where}: the feed is for {feed.get('platform')!r}; this app runs on {wanted!r}",
        )
    expires = _stamp(feed.get("expires"), where)
    if now >= expires:
        raise UpdateError(
            "expired",
            f"{where}: the feed expired at {feed['expires']} (it is now {utc_stamp(now)}); "
            "the publisher must sign a fresh one",
        )
    ok = isinstance(archive, dict) and isinstance(archive.get("url"), str)
    size = archive.get("size") if isinstance(archive, dict) else None
    digest = archive.get("sha256") if isinstance(archive, dict) else None
    if not ok or not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise UpdateError("bad_feed", f"{where}: the feed's archive has no URL or size")
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise UpdateError("bad_feed", f"{where}: the feed's archive has no SHA-256")
    fields = (feed.get("version"), feed.get("notes"), feed.get("published"))
    if not all(isinstance(f, str) for f in fields):
        raise UpdateError("bad_feed", f"{where}: the feed's version, notes or date is missing")
    version_key(feed["version"])
    assert isinstance(archive, dict)  # checked above, for the type checker
    return Feed(
        identifier, feed["version"], feed["notes"], archive["url"], size, digest,
        feed["published"], feed["expires"], str(feed.get("signer")),
    )  # fmt: skip


def _stamp(value: Any, where: str) -> datetime:
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise UpdateError("bad_feed", f"{where}: 'expires' is not a UTC time: {value!r}") from None


# -- the running build -------------------------------------------------------------------


@attrs.frozen
class RunningBuild:
    """The built app that is running, as its launcher verified it.

    :ivar keys: PEM of the keys the launcher trusts (compiled into it): the only keys an
        update is checked with. Nothing the page sends can change them.
    :ivar executable: this build's executable.
    :ivar base: the installed app's executable (itself, unless it handed over to a newer
        build of the update root): where a relaunch starts, so that the installed
        launcher verifies the update again.
    """

    identifier: str
    name: str
    version: str
    keys: tuple[str, ...]
    executable: Path
    base: Path


_running: list[RunningBuild] = []


def set_running_build(build: RunningBuild | None) -> None:
    """Record the running build (the launcher does, once verified)."""
    _running[:] = [build] if build is not None else []


def running_build() -> RunningBuild | None:
    """The running build, or ``None`` under ``ramparts dev`` (no build, no key)."""
    return _running[0] if _running else None


# -- the update root ---------------------------------------------------------------------


def update_root(identifier: str) -> Path:
    """Where a user's updates of the app ``identifier`` go.

    Per user (the installed app may be root-owned, ``/opt/<identifier>``), and outside the
    app's own ``$APPDATA``, so that an ``fs`` scope of ``$APPDATA/**`` does not reach it.
    """
    import platformdirs

    return Path(platformdirs.user_data_dir("ramparts-updates", appauthor=False)) / identifier


def _unpack(archive: Path, root: Path) -> Path:
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".staging-"))
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            # "data": no absolute names, no "..", no link out of the folder, no devices,
            # no setuid bits: the archive's own checks, before its manifest's.
            tar.extractall(staging, filter="data")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        shutil.rmtree(staging, ignore_errors=True)
        raise UpdateError("bad_archive", f"{archive}: cannot unpack the update: {e}") from None
    return staging


def _flip(root: Path, name: str, target: str) -> None:
    """Point ``root/name`` at ``target`` with one rename(2): old or new, never neither."""
    tmp = root / f".{name}.new"
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, root / name)
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pointer(root: Path, name: str) -> str | None:
    """The version ``root/name`` points at, if it is one of ours (``versions/<v>``)."""
    try:
        target = os.readlink(root / name)
    except OSError:
        return None
    folder, _, version = target.partition("/")
    return version if folder == "versions" and _VERSION.fullmatch(version) else None


def _verified_build(
    folder: Path, trusted: list[Ed25519PublicKey], identifier: str, version: str
) -> dict[str, Any]:
    try:
        manifest = verify_artifact(folder, trusted, identifier=identifier)
    except VerificationError as e:
        message = f"the update's build does not verify: {str(e).splitlines()[0]}"
        raise UpdateError("bad_build", message, e.problems) from None
    found = manifest["app"].get("version")
    if found != version or manifest.get("layout") != "onedir":
        raise UpdateError(
            "bad_build",
            f"the update's build is {manifest.get('layout')} {found!r}, not onedir {version!r}",
        )
    if "/" in str(manifest.get("executable")) or not manifest.get("executable"):
        raise UpdateError("bad_build", "the update's manifest names no executable")
    return manifest


def _quiet(step: str) -> None:
    pass


def install(
    archive: Path,
    version: str,
    trusted: list[Ed25519PublicKey],
    identifier: str,
    root: Path,
    *,
    check: Callable[[Path], None] | None = None,
    step: Callable[[str], None] = _quiet,
) -> Path:
    """Unpack an archive whose hash the feed vouched for, verify the build in it, run
    its launch check, then make it ``current``; return its executable.

    Until the flip, the update root is as it was; the flip is one rename(2). The build
    that was current stays, as ``previous``, until the next install. ``step`` is told
    ``unpacked``, ``placed``, ``checked``, ``switched`` and ``kept`` as each is done.
    """
    root.mkdir(parents=True, exist_ok=True)
    _clean(root, spare=archive)
    staging = _unpack(archive, root)
    step("unpacked")
    try:
        manifest = _verified_build(staging, trusted, identifier, version)
        if _pointer(root, "current") == version:
            raise UpdateError("not_newer", f"{version} is installed already: relaunch to use it")
        target = root / "versions" / version
        target.parent.mkdir(exist_ok=True)
        if target.exists():  # left by an install that did not finish
            shutil.rmtree(target)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    step("placed")
    executable = target / str(manifest["executable"])
    try:
        (check or launch_check)(executable)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    step("checked")
    old = _pointer(root, "current")
    _flip(root, "current", f"versions/{version}")
    step("switched")
    if old is not None:
        _flip(root, "previous", f"versions/{old}")
    step("kept")
    _clean(root, spare=archive)
    return executable


def _clean(root: Path, spare: Path) -> None:
    """Remove what an interrupted install left (but ``spare``, the archive being
    installed), and versions no pointer names."""
    keep = {_pointer(root, "current"), _pointer(root, "previous")}
    for entry in root.iterdir():
        if entry.name.startswith((".staging-", ".download-")) and entry != spare:
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink()
    versions = root / "versions"
    if versions.is_dir():
        for entry in versions.iterdir():
            if entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)


def launch_check(executable: Path) -> None:
    """Run a build's own launch check: it verifies itself and loads the app (config,
    plugins, commands) without opening a window.

    :raises UpdateError: ``launch_check``, with the last lines it printed.
    """
    env = {**os.environ, "RAMPARTS_NO_DIALOG": "1"}
    env.pop(BASE_ENV, None)
    try:
        done = subprocess.run(
            [str(executable), LAUNCH_CHECK],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=_LAUNCH_CHECK_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise UpdateError(
            "launch_check", f"{executable}: the launch check did not run: {e}"
        ) from None
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-5:]
        raise UpdateError(
            "launch_check",
            f"{executable}: the new build failed its launch check (exit {done.returncode})",
            tail,
        )


def preferred_update(
    root: Path,
    trusted: list[Ed25519PublicKey],
    identifier: str,
    version: str,
    warn: Callable[[str], None] = _quiet,
) -> Path | None:
    """The executable of the newest build in the update root that is newer than
    ``version`` and verifies under ``trusted`` (the installed launcher's own key, and
    keys chained from it): ``current``, else ``previous``; ``None`` to run the installed
    app itself. A build that fails verification is skipped, and ``warn`` says why.
    """
    for name in ("current", "previous"):
        pointed = _pointer(root, name)
        if pointed is None:
            continue
        folder = root / "versions" / pointed
        try:
            if not newer(pointed, version):
                continue
            manifest = _verified_build(folder, trusted, identifier, pointed)
        except (UpdateError, OSError) as e:
            warn(f"the update {pointed} in {root} is not used: {e}")
            continue
        return folder / str(manifest["executable"])
    return None
