"""``ramparts build --deb``: a real Debian package of a small GTK app.

One PyInstaller build and one ``dpkg-deb`` per module (the GTK backend: no engine
inside, so it is the smaller and faster one), then lintian, ``desktop-file-validate``,
and, as root (CI), ``dpkg -i``, a run of the installed app from its launcher on ``PATH``
as an unprivileged user, a refused launch after a file changed, and ``dpkg --purge``.
The fast tests at the top need no build.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from deb_app import ICON, Built, build_deb, dpkg_installed, run_installed, write_app
from exec_env import STRACE_EXECVE, library_paths
from test_build import ramparts_cli
from unprivileged import NOBODY

from ramparts.config import load_config
from ramparts.errors import BuildError, ConfigError
from ramparts.release.deb import LINTIAN_OVERRIDES, debian_version, plan_deb
from ramparts.release.launcher import EXIT_REFUSED

ROOT = Path(__file__).resolve().parent.parent
IDENT = "dev.ramparts.debtest"
COMMAND = "debtest"
PASSPHRASE = "deb-test passphrase"
PYPROJECT = """
[project]
name = "debtest"
version = "1.2.0rc1"
description = "A small app that the .deb tests install."
authors = [{ name = "Ramparts Tests", email = "tests@ramparts.dev" }]
license = "MIT"

[tool.ramparts]
name = "Deb Test"
identifier = "dev.ramparts.debtest"
commands = "debtest_commands"
backend = "gtk"
icon = "icon.png"
"""
CHECK_JS = "return { sum: await ramparts.invoke('add', { a: 40, b: 2 }), title: document.title };"


# -- no build --------------------------------------------------------------------------


def test_debian_versions_sort_as_pep_440_does() -> None:
    ordered = ["1!0.1", "2.0.dev1", "2.0a1.dev1", "2.0a1", "2.0b2", "2.0rc1", "2.0", "2.0+local.1"]
    ordered += ["2.0.post1.dev1", "2.0.post1", "2.1"]
    ordered.sort(key=lambda v: v.startswith("1!"))  # the epoch makes 1!0.1 the highest
    debian = [debian_version(v) for v in ordered]
    assert debian[:3] == ["2.0~~dev1", "2.0~a1~dev1", "2.0~a1"]
    assert debian[-1] == "1:0.1"
    for lower, higher in itertools.pairwise(debian):
        done = subprocess.run(["dpkg", "--compare-versions", lower, "lt", higher], check=False)
        assert done.returncode == 0, f"{lower} should sort before {higher}"
    with pytest.raises(ValueError):
        debian_version("version one")


@pytest.mark.parametrize(
    ("value", "make", "needle"),
    [
        ("missing.png", None, "cannot read"),
        ("/etc/icon.png", None, "inside it"),
        ("../icon.png", None, "inside it"),
        ("icon.png", b"GIF89a" + bytes(40), "is not a PNG file"),
        ("icon.png", "wide", "is 128x64"),
        ("icon.png", "odd", "is 100x100"),
    ],
)
def test_a_bad_icon_is_a_config_error_naming_file_and_key(
    tmp_path: Path, value: str, make: bytes | str | None, needle: str
) -> None:
    pyproject = PYPROJECT.replace('"icon.png"', json.dumps(value))
    app = write_app(tmp_path / "app", pyproject, "deb test")
    if isinstance(make, bytes):
        (app / "icon.png").write_bytes(make)
    elif make is not None:  # the real icon's header, with another size
        width, height = (128, 64) if make == "wide" else (100, 100)
        data = bytearray(ICON.read_bytes())
        data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
        (app / "icon.png").write_bytes(bytes(data))
    with pytest.raises(ConfigError) as caught:
        load_config(app)
    assert caught.value.key == "tool.ramparts.icon"
    assert str(app / "pyproject.toml") in str(caught.value) and needle in str(caught.value)
    check = subprocess.run(
        [sys.executable, "-m", "ramparts", "check", str(app)], capture_output=True, text=True
    )
    assert check.returncode == 1 and "tool.ramparts.icon" in check.stderr, check.stderr


def test_the_icon_is_optional_and_check_shows_it(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", PYPROJECT, "deb test")
    assert load_config(app).icon == app / "icon.png"
    check = subprocess.run(
        [sys.executable, "-m", "ramparts", "check", str(app)], capture_output=True, text=True
    )
    assert f"icon:         {app / 'icon.png'}" in check.stdout, check.stdout + check.stderr
    (app / "pyproject.toml").write_text(PYPROJECT.replace('icon = "icon.png"\n', ""))
    assert load_config(app).icon is None


def test_a_deb_needs_a_maintainer_a_pep_440_version_and_onedir(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", PYPROJECT, "deb test")
    with pytest.raises(BuildError, match="drop --onefile"):
        plan_deb(load_config(app), onefile=True)
    (app / "pyproject.toml").write_text(PYPROJECT.replace("authors", "contributors"))
    with pytest.raises(ConfigError, match=r"project\.authors: found nothing .* name = "):
        plan_deb(load_config(app), onefile=False)
    (app / "pyproject.toml").write_text(PYPROJECT.replace('"1.2.0rc1"', '"first"'))
    with pytest.raises(ConfigError, match=r"project\.version: found 'first'.* PEP 440"):
        plan_deb(load_config(app), onefile=False)


# -- one real build --------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    tmp = tmp_path_factory.mktemp("deb")
    app = write_app(tmp / "debtest", PYPROJECT, "deb test")
    env = {**os.environ, "RAMPARTS_SIGNING_PASSPHRASE": PASSPHRASE}
    keys = ramparts_cli("keygen", "--out", str(tmp / "keys"), env=env)
    assert keys.returncode == 0, keys.stderr
    built = build_deb(app, tmp / "keys" / "ramparts-signing.key", tmp / "dist", env)
    shutil.rmtree(built.artifact)  # the .deb holds it; 200 MB less on disk
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True)
    assert built.deb.name == f"{IDENT}_1.2.0~rc1_{arch.stdout.strip()}.deb"
    return built


def field(deb: Path, name: str) -> str:
    done = subprocess.run(["dpkg-deb", "--field", str(deb), name], capture_output=True, text=True)
    return done.stdout.strip()


@pytest.mark.build
def test_the_control_file_says_what_the_package_is(built: Built) -> None:
    assert f"deb:          {built.deb}" in built.output
    assert "[deb] dev.ramparts.debtest 1.2.0~rc1" in built.output
    assert field(built.deb, "Package") == IDENT
    assert field(built.deb, "Version") == "1.2.0~rc1"
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True)
    assert field(built.deb, "Architecture") == arch.stdout.strip()
    assert field(built.deb, "Maintainer") == "Ramparts Tests <tests@ramparts.dev>"
    assert field(built.deb, "Description").startswith("small app that the .deb tests install\n")
    depends = field(built.deb, "Depends").split(", ")
    # The engine is the system's; the bundle needs libc from outside.
    assert {"gir1.2-webkit2-4.1", "gir1.2-gtk-3.0"} <= set(depends)
    assert any(d.startswith("libc6 (>= ") for d in depends), depends
    assert not any("webkit2gtk" in d or "qt6" in d.lower() for d in depends), depends
    installed = int(field(built.deb, "Installed-Size"))
    assert installed * 1024 > 10 * built.deb.stat().st_size // 10  # more than it weighs
    # No maintainer scripts at all: installing runs none of the app's code.
    control = subprocess.run(
        ["dpkg-deb", "--ctrl-tarfile", str(built.deb)], capture_output=True, check=True
    )
    listing = subprocess.run(
        ["tar", "-t"], input=control.stdout, capture_output=True, check=True
    ).stdout.decode()
    assert sorted(n for n in listing.split() if n not in ("./", ".")) == ["./control", "./md5sums"]


@pytest.mark.build
def test_the_files_go_where_debian_and_freedesktop_expect(built: Built) -> None:
    listing = subprocess.run(
        ["dpkg-deb", "--contents", str(built.deb)], capture_output=True, text=True, check=True
    ).stdout
    for line in listing.splitlines():
        assert line.split()[1] == "root/root", line
    assert re.search(rf"^-rwxr-xr-x .* \./opt/{IDENT}/{COMMAND}$", listing, re.M)
    assert re.search(rf"\./opt/{IDENT}/ramparts-manifest\.sig$", listing, re.M)
    assert re.search(rf"\./usr/bin/{COMMAND} -> /opt/{IDENT}/{COMMAND}$", listing, re.M)
    assert re.search(rf"\./usr/share/icons/hicolor/128x128/apps/{IDENT}\.png$", listing, re.M)
    # Shared libraries lose the execute bit (the loader does not need it).
    assert not re.search(r"^-rwx.* \./opt/.*\.so(\.[0-9.]+)?$", listing, re.M)
    out = built.deb.parent / "extracted"
    subprocess.run(["dpkg-deb", "--extract", str(built.deb), str(out)], check=True)
    desktop = out / "usr" / "share" / "applications" / f"{IDENT}.desktop"
    checked = subprocess.run(
        ["desktop-file-validate", str(desktop)], capture_output=True, text=True
    )
    assert checked.returncode == 0 and not checked.stdout.strip(), checked.stdout
    entry = desktop.read_text()
    assert f"Exec={COMMAND}\n" in entry and f"Icon={IDENT}\n" in entry
    assert "Name=Deb Test\n" in entry
    icon = out / "usr" / "share" / "icons" / "hicolor" / "128x128" / "apps" / f"{IDENT}.png"
    assert icon.read_bytes() == ICON.read_bytes()
    shutil.rmtree(out)


@pytest.mark.build
@pytest.mark.slow
def test_lintian_is_clean_and_every_override_is_documented(built: Built) -> None:
    done = subprocess.run(
        ["lintian", "--tag-display-limit", "0", str(built.deb)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    tags = [line for line in done.stdout.splitlines() if re.match(r"[EW]: ", line)]
    assert not tags, "\n".join(tags)
    docs = (ROOT / "docs" / "packaging.md").read_text()
    for tag in LINTIAN_OVERRIDES:
        assert f"`{tag}`" in docs, f"docs/packaging.md does not explain {tag}"


# -- installed as root -----------------------------------------------------------------


@pytest.fixture
def installed(built: Built) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("dpkg -i needs root (CI runs the suite as root)")
    with dpkg_installed(built.deb, IDENT) as opt:
        yield opt


def run_as_nobody(home: Path, display: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The launcher found on ``PATH``, as a user with no rights on ``/opt``."""
    return run_installed([COMMAND, *args], home, display)


@pytest.mark.build
def test_installed_app_runs_refuses_a_changed_file_and_purges_clean(
    installed: Path, gtk_display: str
) -> None:
    assert shutil.which(COMMAND, path="/usr/bin") == f"/usr/bin/{COMMAND}"
    home = Path(tempfile.mkdtemp(prefix="ramparts-deb-home-"))
    try:
        os.chown(home, NOBODY, NOBODY)
        script = home / "check.js"
        script.write_text(CHECK_JS)
        script.chmod(0o644)
        trace = home / "execve.txt"
        ran = run_installed(
            [*STRACE_EXECVE, "-o", str(trace), COMMAND, "--eval", str(script), "--timeout", "120"],
            home,
            gtk_display,
        )
        assert ran.returncode == 0, ran.stderr
        assert json.loads(ran.stdout.strip().splitlines()[-1]) == {"sum": 42, "title": "deb test"}
        assert "refusing" not in ran.stderr and "UNSIGNED" not in ran.stderr
        # WebKitGTK's helpers are the system's: the bundle's library path (the bootloader
        # points it into /opt) must not reach them, nor anything else the app starts.
        started = [(p, v) for p, v in library_paths(trace) if not p.startswith(str(installed))]
        assert any("WebKitWebProcess" in p or "bwrap" in p for p, _ in started), started
        assert [(p, v) for p, v in started if v is not None and str(installed) in v] == []

        page = installed / "_internal" / "app" / "ui" / "index.html"
        page.write_text(page.read_text().replace("deb test", "changed"))
        refused = run_as_nobody(home, gtk_display, "--eval", str(script))
        assert refused.returncode == EXIT_REFUSED, refused.stderr
        assert "refusing to start" in refused.stderr
        assert "changed: _internal/app/ui/index.html" in refused.stderr
    finally:
        shutil.rmtree(home)
    purged = subprocess.run(["dpkg", "--purge", IDENT], capture_output=True, text=True)
    assert purged.returncode == 0, purged.stdout + purged.stderr
    assert not installed.exists(), sorted(installed.rglob("*"))[:10]
    assert not Path(f"/usr/bin/{COMMAND}").exists()
    assert not Path(f"/usr/share/applications/{IDENT}.desktop").exists()


@pytest.mark.parametrize("frontend", ["vanilla", "vite-ts"])
def test_new_apps_get_the_default_icon(tmp_path: Path, frontend: str) -> None:
    from ramparts.scaffold import new_project, template_answers

    answers = template_answers("app", {"app_name": "Iconic", "frontend": frontend}, None)
    made = new_project("app", answers, output_dir=tmp_path, no_input=True)
    assert (made / "icon.png").read_bytes() == ICON.read_bytes()  # copied, not rendered
    assert 'icon = "icon.png"' in (made / "pyproject.toml").read_text()
    if frontend == "vanilla":  # vite-ts has no ui folder before its build
        assert load_config(made).icon == made / "icon.png"
