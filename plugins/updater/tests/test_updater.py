"""The updater against a real HTTP server on loopback: every refusal, an interrupted
download, a complete install, and the page's API through the bridge.

The builds are small signed folders (tests/update_fixtures.make_build); the full v1 -> v2
update of a PyInstaller build is in tests/test_update_build.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from update_fixtures import APP, Route, loopback_server, make_build, running

from ramparts import CommandFailed
from ramparts.errors import BuildError, ConfigError, VerificationError
from ramparts.release.signing import canonical_json, make_link, sign
from ramparts.release.updates import (
    UpdateError,
    make_release,
    newer,
    preferred_update,
    set_running_build,
    this_platform,
    version_key,
)
from ramparts_updater import EVENT_PROGRESS, Updater


@attrs.frozen
class Site:
    """A publisher's folder of builds and releases, and the server that hosts them."""

    base: str
    routes: dict[str, Route]
    tmp: Path
    key: Ed25519PrivateKey

    def build(self, version: str, key: Ed25519PrivateKey | None = None, **kw: Any) -> Path:
        (self.tmp / "builds").mkdir(exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=self.tmp / "builds", prefix=version))
        return make_build(folder / "app", version, key or self.key, **kw)

    def publish(
        self, version: str, key: Ed25519PrivateKey | None = None, **kw: Any
    ) -> tuple[bytes, bytes]:
        """Build, release and serve ``version``: the feed at /feed.json. Returns
        ``(feed bytes, archive bytes)``."""
        now = kw.pop("now", None)
        artifact = self.build(version, key, **kw)
        done = make_release(
            artifact,
            key or self.key,
            artifact.parent / "out",
            url=None,
            notes=f"notes for {version}",
            expires_in_days=7,
            say=lambda line: None,
            now=now,
        )
        feed, archive = done.feed.read_bytes(), done.archive.read_bytes()
        self.routes["/feed.json"] = Route(feed)
        self.routes[f"/{done.archive.name}"] = Route(archive)
        return feed, archive

    def archive_route(self) -> Route:
        return next(r for p, r in self.routes.items() if p.endswith(".tar.gz"))


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def site(tmp_path: Path, key: Ed25519PrivateKey) -> Iterator[Site]:
    with loopback_server() as (base, routes):
        yield Site(base, routes, tmp_path, key)


@pytest.fixture
def v1(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    """The installed app: version 1.0, signed by ``key``."""
    return make_build(tmp_path / "installed" / "app", "1.0", key)


def updater(site: Site, v1: Path, key: Ed25519PrivateKey, version: str = "1.0") -> Updater:
    return Updater(
        f"{site.base}/feed.json", build=running(v1, version, key), root=site.tmp / "updates"
    )


def refused(code: str, call: Any) -> UpdateError:
    with pytest.raises(UpdateError) as caught:
        call()
    assert caught.value.code == code, str(caught.value)
    return caught.value


def nothing_installed(site: Site) -> None:
    root = site.tmp / "updates"
    assert not (root / "current").exists()
    leftovers = [p.name for p in root.iterdir() if p.name != ".lock"] if root.exists() else []
    assert leftovers in ([], ["versions"]) and not any((root / "versions").glob("*"))


# -- versions ----------------------------------------------------------------------------


def test_versions_order_numbers_and_pre_releases_and_refuse_guesses() -> None:
    assert newer("1.10", "1.9") and newer("2.0", "2.0rc1") and newer("2.0rc2", "2.0b9")
    assert not newer("1.0.0", "1.0") and not newer("1.0", "1.0.0")
    assert version_key("1.0") == version_key("1")
    for bad in ("1.0-beta", "v1", "", "1..2", "1.0.post1"):
        refused("bad_version", lambda bad=bad: version_key(bad))


# -- the feed ----------------------------------------------------------------------------


def test_check_reports_a_newer_signed_version(site: Site, v1: Path, key: Ed25519PrivateKey) -> None:
    site.publish("1.1")
    offer = updater(site, v1, key).check()
    assert offer is not None and offer.version == "1.1" and offer.notes == "notes for 1.1"
    assert offer.size == len(site.archive_route().body)


def test_an_unsigned_feed_is_refused(site: Site, v1: Path, key: Ed25519PrivateKey) -> None:
    feed, _ = site.publish("1.1")
    envelope = json.loads(feed)
    del envelope["signature"]
    site.routes["/feed.json"] = Route(json.dumps(envelope).encode())
    error = refused("unsigned", updater(site, v1, key).check)
    assert f"{site.base}/feed.json" in str(error) and "unsigned" in str(error)


def test_a_feed_signed_by_an_unknown_key_is_refused(
    site: Site, v1: Path, key: Ed25519PrivateKey
) -> None:
    site.publish("1.1", key=Ed25519PrivateKey.generate())
    error = refused("unknown_key", updater(site, v1, key).check)
    assert "not signed by this app's key" in str(error)


def test_a_feed_whose_text_was_changed_after_signing_is_refused(
    site: Site, v1: Path, key: Ed25519PrivateKey
) -> None:
    feed, _ = site.publish("1.1")
    envelope = json.loads(feed)
    envelope["feed"] = envelope["feed"].replace("notes for 1.1", "notes for 6.6")
    site.routes["/feed.json"] = Route(json.dumps(envelope).encode())
    refused("unknown_key", updater(site, v1, key).check)


def test_rotation_a_feed_signed_by_a_chained_key_is_accepted_and_a_foreign_chain_is_not(
    site: Site, v1: Path, key: Ed25519PrivateKey
) -> None:
    new = Ed25519PrivateKey.generate()
    site.publish("1.1", key=new, chain=(make_link(APP, new.public_key(), key),))
    offer = updater(site, v1, key).check()
    assert offer is not None and offer.version == "1.1"
    # A link made by a key this app does not trust adds no trust.
    stranger = Ed25519PrivateKey.generate()
    site.publish("1.2", key=new, chain=(make_link(APP, new.public_key(), stranger),))
    refused("unknown_key", updater(site, v1, key).check)
    # Nor does a link from the right key for another app.
    site.publish("1.3", key=new, chain=(make_link("dev.other", new.public_key(), key),))
    refused("unknown_key", updater(site, v1, key).check)


def test_an_expired_feed_is_refused(site: Site, v1: Path, key: Ed25519PrivateKey) -> None:
    site.publish("1.1", now=datetime.now(UTC) - timedelta(days=8))  # valid for 7 days
    error = refused("expired", updater(site, v1, key).check)
    assert "expired at" in str(error) and "sign a fresh one" in str(error)


def test_a_feed_for_another_app_is_refused(site: Site, v1: Path, key: Ed25519PrivateKey) -> None:
    site.publish("1.1", identifier="dev.ramparts.other")
    error = refused("wrong_app", updater(site, v1, key).check)
    assert "'dev.ramparts.other'" in str(error)


def test_a_feed_for_another_platform_is_refused(
    site: Site, v1: Path, key: Ed25519PrivateKey
) -> None:
    feed, _ = site.publish("1.1")
    text = json.loads(json.loads(feed)["feed"])
    text["platform"] = "win32-amd64"
    data = canonical_json(text)
    envelope = {"feed": data.decode(), "signature": sign(data, key).decode().strip()}
    site.routes["/feed.json"] = Route(json.dumps(envelope).encode())
    refused("wrong_platform", updater(site, v1, key).check)


def test_the_same_version_is_no_update_and_an_older_one_is_a_replay(
    site: Site, v1: Path, key: Ed25519PrivateKey
) -> None:
    site.publish("1.0")
    assert updater(site, v1, key).check() is None
    refused("not_newer", updater(site, v1, key).install)
    site.publish("0.9")
    error = refused("not_newer", updater(site, v1, key).check)
    assert "replayed or rolled-back" in str(error)
    refused("not_newer", updater(site, v1, key).install)
    nothing_installed(site)


def test_feeds_that_are_not_feeds_are_refused(site: Site, v1: Path, key: Ed25519PrivateKey) -> None:
    for body in (b"<html>", b'{"feed": 1}', b'{"feed": "{}", "signature": "AAAA"}', b"[]"):
        site.routes["/feed.json"] = Route(body)
        refused("bad_feed", updater(site, v1, key).check)
    site.routes["/feed.json"] = Route(b" " * (2 << 20))
    refused("too_large", updater(site, v1, key).check)
    site.routes["/feed.json"] = Route(b"", status=404)
    assert "HTTP 404" in str(refused("network", updater(site, v1, key).check))


def test_only_https_or_loopback_http_and_every_redirect_is_checked(
    site: Site, v1: Path, key: Ed25519PrivateKey
) -> None:
    build = running(v1, "1.0", key)
    for url in ("http://updates.example/feed.json", "ftp://127.0.0.1/f", "https://u:p@x.example/"):
        refused("insecure_url", lambda url=url: Updater(url, build=build))
    site.publish("1.1")
    site.routes["/moved"] = Route(b"", status=302, location="http://updates.example/feed.json")
    moved = Updater(f"{site.base}/moved", build=build, root=site.tmp / "updates")
    assert "a redirect" in str(refused("insecure_url", moved.check))
    site.routes["/moved"] = Route(b"", status=302, location="/feed.json")
    assert moved.check() is not None


def test_no_key_means_no_updates(v1: Path) -> None:
    refused("not_built", lambda: Updater("https://updates.example/feed.json"))


def test_release_refuses_unsigned_foreign_and_onefile_builds(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    def release(artifact: Path, with_key: Ed25519PrivateKey = key) -> None:
        make_release(
            artifact, with_key, tmp_path / "out", url=None, notes="", expires_in_days=1,
            say=lambda line: None,
        )  # fmt: skip

    with pytest.raises(BuildError, match="unsigned"):
        release(make_build(tmp_path / "unsigned", "1.0", None))
    with pytest.raises(BuildError, match="not by this key"):
        release(make_build(tmp_path / "other", "1.0", Ed25519PrivateKey.generate()))
    changed = make_build(tmp_path / "changed", "1.0", key)
    (changed / "_internal" / "data.txt").write_text("changed")
    with pytest.raises(VerificationError, match="differ from the signed manifest"):
        release(changed)
    with pytest.raises(BuildError, match="not an onedir build"):
        release(changed / "app")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_the_archive_is_the_same_bytes_each_time(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    artifact = make_build(tmp_path / "b", "1.0", key)
    sums = set()
    for out in ("one", "two"):
        done = make_release(
            artifact, key, tmp_path / out, url="https://cdn.example/a.tgz", notes="",
            expires_in_days=1, say=lambda line: None,
        )  # fmt: skip
        sums.add(done.sha256)
    assert len(sums) == 1


# -- the archive -------------------------------------------------------------------------


def test_an_archive_that_differs_from_the_signed_hash_is_refused(
    site: Site, v1: Path, key: Ed25519PrivateKey
) -> None:
    site.publish("1.1")
    route = site.archive_route()
    route.body = bytes([route.body[0] ^ 1]) + route.body[1:]
    refused("hash_mismatch", updater(site, v1, key).install)
    nothing_installed(site)


def test_an_archive_shorter_than_signed_is_refused(
    site: Site, v1: Path, key: Ed25519PrivateKey
) -> None:
    site.publish("1.1")
    route = site.archive_route()
    route.body = route.body[:-10]
    refused("size_mismatch", updater(site, v1, key).install)
    nothing_installed(site)


def test_an_archive_larger_than_announced_is_refused_and_reading_stops(
    site: Site, v1: Path, key: Ed25519PrivateKey
) -> None:
    _, archive = site.publish("1.1")
    route = site.archive_route()
    route.length, route.extra = None, 256 << 20  # no Content-Length; 256 MB more on offer
    refused("too_large", updater(site, v1, key).install)
    nothing_installed(site)
    # The client stopped within a chunk past the size; the server's socket buffers
    # hold a few MB at most, far from the 256 MB it offered.
    assert route.sent < len(archive) + (32 << 20)
    # A Content-Length beyond the size is refused before the body is read.
    route.length, route.extra, route.sent = len(archive) + 1, 0, 0
    assert "announced" in str(refused("too_large", updater(site, v1, key).install))


def test_an_interrupted_download_installs_nothing_and_a_retry_works(
    site: Site, v1: Path, key: Ed25519PrivateKey
) -> None:
    _, archive = site.publish("1.1")
    route = site.archive_route()
    route.cut_after = len(archive) // 2
    error = refused("network", updater(site, v1, key).install)
    assert site.base in str(error)
    nothing_installed(site)
    route.cut_after = None
    feed, executable = updater(site, v1, key).install()
    assert feed.version == "1.1" and executable.parent.name == "1.1"


def test_a_build_inside_the_archive_that_does_not_verify_is_refused(
    site: Site, v1: Path, key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    """The publisher's key signed the feed and archive, but the build in it is signed by
    another key: the manifest check, not only the hash, decides."""
    other = Ed25519PrivateKey.generate()
    artifact = make_build(tmp_path / "foreign", "1.1", other)
    done = make_release(
        artifact, other, tmp_path / "rel", url=None, notes="", expires_in_days=1,
        say=lambda line: None,
    )  # fmt: skip
    text = json.loads(json.loads(done.feed.read_bytes())["feed"])
    data = canonical_json({**text, "signer": "re-signed"})
    envelope = {"feed": data.decode(), "signature": sign(data, key).decode().strip()}
    site.routes["/feed.json"] = Route(json.dumps(envelope).encode())
    site.routes[f"/{done.archive.name}"] = Route(done.archive.read_bytes())
    error = refused("bad_build", updater(site, v1, key).install)
    assert "not signed by a trusted key" in str(error)
    nothing_installed(site)


# -- install, launch check, hand-over ----------------------------------------------------


def test_install_makes_the_new_build_current_and_keeps_the_old_one(
    site: Site, v1: Path, key: Ed25519PrivateKey
) -> None:
    root = site.tmp / "updates"
    site.publish("1.1")
    updater(site, v1, key).install()
    assert (root / "current").readlink() == Path("versions/1.1")
    site.publish("1.2")
    seen: list[tuple[str, int, int]] = []
    feed, executable = updater(site, v1, key, "1.1").install(lambda *a: seen.append(a))
    assert (root / "current").readlink() == Path("versions/1.2")
    assert (root / "previous").readlink() == Path("versions/1.1")
    assert sorted(p.name for p in (root / "versions").iterdir()) == ["1.1", "1.2"]
    downloads = [s for s in seen if s[0] == "download"]
    assert downloads[-1] == ("download", feed.size, feed.size)
    assert [s[0] for s in seen if s[0] != "download"] == [
        "install:unpacked", "install:placed", "install:checked", "install:switched",
        "install:kept",
    ]  # fmt: skip
    assert preferred_update(root, [key.public_key()], APP, "1.0") == executable


def test_a_build_that_fails_its_launch_check_is_rolled_back(
    site: Site, v1: Path, key: Ed25519PrivateKey
) -> None:
    root = site.tmp / "updates"
    site.publish("1.1")
    updater(site, v1, key).install()
    site.publish("1.2", launch_check_exit=1)
    error = refused("launch_check", updater(site, v1, key, "1.1").install)
    assert "exit 1" in str(error)
    assert (root / "current").readlink() == Path("versions/1.1")
    assert sorted(p.name for p in (root / "versions").iterdir()) == ["1.1"]


def test_preferred_update_takes_only_newer_builds_that_verify_under_the_pinned_key(
    site: Site, v1: Path, key: Ed25519PrivateKey
) -> None:
    root = site.tmp / "updates"
    site.publish("1.1")
    _, executable = updater(site, v1, key).install()
    trusted = [key.public_key()]
    assert preferred_update(root, trusted, APP, "1.0") == executable
    assert preferred_update(root, trusted, APP, "1.1") is None  # not newer than the base
    assert preferred_update(root, [Ed25519PrivateKey.generate().public_key()], APP, "1.0") is None
    warnings: list[str] = []
    (executable.parent / "_internal" / "data.txt").write_text("planted")
    assert preferred_update(root, trusted, APP, "1.0", warnings.append) is None
    assert "changed: _internal/data.txt" in warnings[0]


def test_the_launcher_hands_over_to_a_verified_update_and_only_to_one(
    site: Site, v1: Path, key: Ed25519PrivateKey, tmp_path: Path, ramparts_home: Path
) -> None:
    """The installed launcher (signing's launch(), run as a frozen app runs it) execs
    the update's executable, telling it where the base is; a tampered update is not
    used and the installed app runs."""
    from ramparts.release.updates import update_root

    site.publish("1.1")
    Updater(f"{site.base}/feed.json", build=running(v1, "1.0", key)).install()
    pem = key.public_key()
    script = (
        "import sys\n"
        f"sys.executable = {str(v1 / 'app')!r}\n"
        "from ramparts.release.launcher import launch\n"
        f"launch({public_pem_text(pem)!r}, 'onedir', False, {APP!r})\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, "--x"], capture_output=True, text=True, timeout=120
    )
    ran = json.loads(proc.stdout)
    assert ran == {"version": "1.1", "argv": ["--x"], "base": str(v1 / "app")}, proc.stderr
    data = update_root(APP) / "versions" / "1.1" / "_internal" / "data.txt"
    data.write_text("planted")
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert "the update 1.1" in proc.stderr and "changed: _internal/data.txt" in proc.stderr
    assert proc.stdout == ""  # the installed app ran (and, with no app/ here, failed)


def public_pem_text(key: Any) -> str:
    from ramparts.release.signing import public_pem

    return public_pem(key).decode()


# -- config and the page's API -----------------------------------------------------------


def test_the_endpoint_must_be_https_or_loopback(ramparts_bridge: Any) -> None:
    for bad in ("http://updates.example/f.json", "file:///etc/passwd", 5):
        with pytest.raises(ConfigError, match=r"capabilities\.updater\.endpoint"):
            ramparts_bridge(capabilities={"updater": {"allow": ["check"], "endpoint": bad}})
    with pytest.raises(ConfigError, match=r"capabilities\.updater\.keys"):
        ramparts_bridge(
            capabilities={"updater": {"allow": [], "endpoint": "https://u.example", "keys": 1}}
        )


def test_the_page_checks_and_installs_with_progress_events_and_reason_codes(
    site: Site, v1: Path, key: Ed25519PrivateKey, ramparts_bridge: Any
) -> None:
    caps = {"updater": {"allow": ["check", "install"], "endpoint": f"{site.base}/feed.json"}}
    bridge = ramparts_bridge(capabilities=caps)
    with pytest.raises(CommandFailed) as caught:
        bridge.call("updater.check")
    assert caught.value.data == {"reason": "not_built"}
    set_running_build(running(v1, "1.0", key))
    try:
        site.publish("1.1", key=Ed25519PrivateKey.generate())
        with pytest.raises(CommandFailed) as caught:
            bridge.call("updater.check")
        assert caught.value.data == {"reason": "unknown_key"}
        site.publish("1.1")
        answer = bridge.call("updater.check")
        assert answer["available"] is True and answer["current"] == "1.0"
        assert answer["version"] == "1.1" and answer["notes"] == "notes for 1.1"
        assert bridge.call("updater.install", {"relaunch": False}) == {
            "version": "1.1",
            "relaunch": False,
        }
        phases = [p["phase"] for e, p in bridge.events if e == EVENT_PROGRESS]
        assert phases[0] == "download" and phases[-1] == "install:kept"
    finally:
        set_running_build(None)


def test_a_page_without_install_in_allow_cannot_install(
    v1: Path, key: Ed25519PrivateKey, ramparts_bridge: Any
) -> None:
    from ramparts import NotAllowed

    caps = {"updater": {"allow": ["check"], "endpoint": "https://updates.example/f.json"}}
    bridge = ramparts_bridge(capabilities=caps)
    assert "updater.install" not in bridge.routes
    with pytest.raises(NotAllowed):
        bridge.call("updater.install")


def test_release_command_prints_steps_and_one_clear_error_line(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    from cryptography.hazmat.primitives import serialization
    from test_build import ramparts_cli

    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass"),
    )
    (tmp_path / "k.key").write_bytes(pem)
    env = {**os.environ, "RAMPARTS_SIGNING_PASSPHRASE": "pass"}
    env.pop("RAMPARTS_SIGNING_KEY", None)
    build = make_build(tmp_path / "b" / "app", "1.2", key)
    done = ramparts_cli("release", str(build), "--key", str(tmp_path / "k.key"), env=env)
    assert done.returncode == 0, done.stderr
    assert [line[:5] for line in done.stderr.splitlines() if line.startswith("[")] == [
        "[1/3]", "[2/3]", "[3/3]",
    ]  # fmt: skip
    assert "version: 1.2; signed by" in done.stdout
    assert sorted(p.name for p in (tmp_path / "b" / "updates").iterdir()) == [
        f"app-1.2-{this_platform()}.json",
        f"app-1.2-{this_platform()}.tar.gz",
    ]
    for args, message in (
        ([], "error: no signing key: pass --key"),
        (["--key", str(tmp_path / "nope.key")], "error: cannot read the signing key"),
        (["--key", str(tmp_path / "k.key"), "--notes", "a", "--notes-file", "b"], "not both"),
    ):
        done = ramparts_cli("release", str(build), *args, env=env)
        assert done.returncode == 1 and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    other = make_build(tmp_path / "o" / "app", "1.2", Ed25519PrivateKey.generate())
    done = ramparts_cli("release", str(other), "--key", str(tmp_path / "k.key"), env=env)
    assert done.returncode == 1 and "not by this key" in done.stderr


def test_pointers_that_leave_the_versions_folder_are_ignored(
    site: Site, v1: Path, key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    """A ``current`` re-pointed (by whoever can write the user's files) at a folder
    outside ``versions/``, even a validly signed newer build, is not run."""
    root = tmp_path / "updates"
    elsewhere = make_build(tmp_path / "elsewhere" / "9.0", "9.0", key)
    root.mkdir()
    for target in (str(elsewhere), "../elsewhere/9.0", "versions/..", "versions/../../x"):
        (root / "current").unlink(missing_ok=True)
        os.symlink(target, root / "current")
        assert preferred_update(root, [key.public_key()], APP, "1.0") is None, target
