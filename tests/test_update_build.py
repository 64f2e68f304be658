"""A complete v1 -> v2 update of a real PyInstaller build, driven from its page.

One build (v1) per module. v2 is that build with its bundled config's version and its
page changed, hashed and signed again with the same key: exactly what a rebuild of the
changed app gives, less a second PyInstaller run (about a minute). ``ramparts release``
packs v2 (gzip level 1: level 6 takes 6 times the CPU, over a minute here) and signs its
feed; a loopback server hosts both. Then v1 runs headless with a
page script that calls ``updater.check`` and ``updater.install``: the install verifies
and flips the user's update root, relaunches the installed v1, whose launcher verifies
v2 with its own key and runs it, and the same script, now in v2's page, finds no newer
version. The installed v1 folder is never written.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from test_build import PASSPHRASE, ramparts_cli
from update_fixtures import Route, loopback_server, resign

from ramparts.release.signing import hash_tree
from ramparts.testing import home_env

pytestmark = pytest.mark.build

IDENTIFIER = "dev.ramparts.updatedemo"
PAGE = "<!doctype html><html><head><title>{title}</title></head><body>{title}</body></html>"
CONFIG = """\
[project]
name = "update-demo"
version = "1.0.0"

[tool.ramparts]
name = "Update demo"
identifier = "{identifier}"
ui = "ui"

[tool.ramparts.capabilities.updater]
allow = ["check", "install"]
endpoint = "{endpoint}"
"""
SCRIPT = """
const offer = await ramparts.updater.check();
if (offer.available) {
  await ramparts.updater.install();  // relaunches: this page ends here
}
return { title: document.title, current: offer.current, available: offer.available };
"""


@attrs.frozen
class Site:
    v1: Path
    key_file: Path
    routes: dict[str, Route]
    tmp: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("update-build")
    env = {**os.environ, "RAMPARTS_SIGNING_PASSPHRASE": PASSPHRASE}
    with loopback_server() as (base, routes):
        app = tmp / "app"
        (app / "ui").mkdir(parents=True)
        (app / "ui" / "index.html").write_text(PAGE.format(title="v1"))
        config = CONFIG.format(identifier=IDENTIFIER, endpoint=f"{base}/feed.json")
        (app / "pyproject.toml").write_text(config)
        done = ramparts_cli("keygen", "--out", str(tmp / "keys"), env=env)
        assert done.returncode == 0, done.stderr
        key_file = tmp / "keys" / "ramparts-signing.key"
        args = ["build", str(app), "--key", str(key_file), "--allow-eval", "--out"]
        done = ramparts_cli(*args, str(tmp / "dist"), env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        shutil.rmtree(app / "build", ignore_errors=True)  # PyInstaller's work files
        yield Site(tmp / "dist" / "updatedemo", key_file, routes, tmp)


def make_v2(site: Site) -> Path:
    """v1 with version 2.0.0 and a v2 page, re-hashed and re-signed as a build is."""
    folder = site.tmp / "v2" / "updatedemo"
    return resign(site.v1, folder, site.key_file, PASSPHRASE, "2.0.0", PAGE.format(title="v2"))


def run_v1(site: Site, home: Path) -> subprocess.CompletedProcess[str]:
    script = site.tmp / "page.js"
    script.write_text(SCRIPT)
    return subprocess.run(
        [str(site.v1 / "updatedemo"), "--headless", "--eval", str(script), "--timeout", "300"],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **home_env(home), "RAMPARTS_NO_DIALOG": "1"},
    )


def test_a_built_app_updates_itself_from_v1_to_v2_and_relaunches(site: Site) -> None:
    v2 = make_v2(site)
    env = {**os.environ, "RAMPARTS_SIGNING_PASSPHRASE": PASSPHRASE}
    out = site.tmp / "site"
    done = ramparts_cli(
        "release", str(v2), "--key", str(site.key_file), "--out", str(out),
        "--notes", "Version 2", "--compress-level", "1", env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "[3/3] signing the feed" in done.stderr and "version: 2.0.0" in done.stdout
    feed, archive = sorted(out.glob("*.json"))[0], sorted(out.glob("*.tar.gz"))[0]
    site.routes["/feed.json"] = Route(feed.read_bytes())
    site.routes[f"/{archive.name}"] = Route(archive.read_bytes())
    before = hash_tree(site.v1)

    home = site.tmp / "home"
    result = run_v1(site, home)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "title": "v2",
        "current": "2.0.0",
        "available": False,
    }, result.stderr[-3000:]
    assert hash_tree(site.v1) == before  # the installed app was not written
