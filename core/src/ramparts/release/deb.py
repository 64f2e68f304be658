"""``ramparts build --deb``: a Debian package of a built (onedir) app.

The built app goes under ``/opt/<identifier>/`` byte for byte, so its manifest still
verifies at each launch; around it go a launcher on ``PATH``, a desktop entry and the
icon. The package has no maintainer scripts. Its dependencies are what the bundled
binaries link to outside the bundle (``dpkg-shlibdeps``) plus what the backend loads by
name (``Shipping.debian_depends``). See docs/packaging.md.
"""

from __future__ import annotations

import email.utils
import gzip
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import textwrap
import time
import tomllib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import attrs

from ramparts import __version__
from ramparts.config import AppConfig, png_size
from ramparts.errors import MISSING, BuildError, ConfigError

__all__ = [
    "LINTIAN_OVERRIDES",
    "Compression",
    "DebPlan",
    "DebResult",
    "debian_version",
    "plan_deb",
    "write_deb",
]

#: Lintian tags the layout makes unavoidable, each overridden in the package with its
#: reason (``/usr/share/lintian/overrides/<package>``); docs/packaging.md explains them.
LINTIAN_OVERRIDES: dict[str, str] = {
    "dir-or-file-in-opt": "the app is an add-on package installed in /opt/<identifier> (FHS "
    "3.13), kept byte for byte as built so that its signed manifest verifies",
    "embedded-library": "PyInstaller bundles the libraries the app was built and tested "
    "with; the manifest pins them, so they cannot be swapped for the system's",
    "unstripped-binary-or-object": "the bundled binaries are shipped exactly as built and "
    "hashed into the manifest; stripping them would change every hash",
    "custom-library-search-path": "the bundled Python's modules keep the RUNPATH of the "
    "interpreter they were built with; the launcher sets the library path to the bundle "
    "first",
    "library-not-linked-against-libc": "bundled Python extension modules and plugins get "
    "libc through the process that loads them",
    "shared-library-lacks-prerequisites": "bundled libraries are loaded by the bundled "
    "interpreter, which provides their prerequisites",
    "undeclared-elf-prerequisites": "bundled libraries need other bundled libraries, which "
    "no package declares",
    "missing-depends-on-sensible-utils": "a bundled library (util-linux's) names sensible-pager "
    "in a string the app never uses",
    "hardening-no-pie": "PyInstaller's bootloader, the app's executable, is built without PIE",
}
#: PEP 440 versions (public and local), case-insensitive.
_PEP440 = re.compile(
    r"^(?:(?P<epoch>\d+)!)?(?P<release>\d+(?:\.\d+)*)"
    r"(?:[-_.]?(?P<pre>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>\d*))?"
    r"(?:(?:[-_.]?(?:post|rev|r)[-_.]?(?P<post_n>\d*))|-(?P<post_bare>\d+))?"
    r"(?:[-_.]?dev[-_.]?(?P<dev_n>\d*))?"
    r"(?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?$",
    re.IGNORECASE,
)
_PRE = {"alpha": "a", "a": "a", "beta": "b", "b": "b"} | dict.fromkeys(
    ("c", "rc", "pre", "preview"), "rc"
)
_ELF = b"\x7fELF"
#: How ``dpkg-deb`` compresses the package's files.
Compression = Literal["xz", "gzip"]
_COMPRESSION: dict[str, tuple[str, ...]] = {"xz": ("-Zxz",), "gzip": ("-Zgzip", "-z1")}
#: A shared library's file name: ``libfoo.so.1``, ``libfoo-1.2.so``, ``foo.so``.
_SHLIB = re.compile(r"\.so(\.|$)")


def debian_version(version: str) -> str:
    """A PEP 440 version as a Debian version that sorts the same way.

    ``1.2.0rc1`` -> ``1.2.0~rc1``, ``1.0.dev3`` -> ``1.0~~dev3``, ``1.0.post2`` ->
    ``1.0.post2``, ``2!1.0`` -> ``2:1.0``, ``1.0+local.7`` -> ``1.0+local.7``.

    :raises ValueError: not a PEP 440 version.
    """
    m = _PEP440.match(version.strip())
    if m is None:
        raise ValueError(version)
    out = (f"{int(m['epoch'])}:" if m["epoch"] else "") + m["release"]
    if m["pre"]:
        out += f"~{_PRE[m['pre'].lower()]}{int(m['pre_n'] or 0)}"
    post = m["post_n"] if m["post_bare"] is None else m["post_bare"]
    if post is not None:
        out += f".post{int(post or 0)}"
    if m["dev_n"] is not None:
        # Before any pre-release of the same version: "~~" sorts before "~".
        out += ("~" if m["pre"] or post is not None else "~~") + f"dev{int(m['dev_n'] or 0)}"
    if m["local"]:
        out += "+" + re.sub(r"[-_]", ".", m["local"].lower())
    return out


@attrs.frozen
class DebPlan:
    """What the package is, worked out before the build so a mistake costs no minutes."""

    config: AppConfig
    package: str
    version: str
    architecture: str
    maintainer: str
    synopsis: str
    license: str
    #: Packages the backend loads by name (``Shipping.debian_depends``).
    backend_depends: tuple[str, ...]

    @property
    def file_name(self) -> str:
        upstream = self.version.split(":", 1)[-1]  # dpkg leaves the epoch out of names
        return f"{self.package}_{upstream}_{self.architecture}.deb"


@attrs.frozen
class DebResult:
    path: Path
    package: str
    version: str
    #: The ``.deb`` file's size in bytes, and ``Installed-Size`` (KiB).
    size: int
    installed_kib: int
    depends: tuple[str, ...]
    seconds: float


def plan_deb(config: AppConfig, *, onefile: bool) -> DebPlan:
    """Check everything the package needs from the app and the machine.

    :raises BuildError: ``--onefile``, or Debian's tools are missing.
    :raises ConfigError: no maintainer, or a version Debian cannot order.
    """
    if onefile:
        raise BuildError("--deb packages the onedir layout: drop --onefile")
    missing = [t for t in ("dpkg-deb", "dpkg-shlibdeps", "dpkg") if shutil.which(t) is None]
    if missing:
        raise BuildError(
            f"--deb needs Debian's {', '.join(missing)} on PATH (apt install dpkg-dev)"
        )
    from ramparts.backends import get_backend

    project: dict[str, Any] = tomllib.loads(config.file.read_text("utf-8")).get("project", {})
    return DebPlan(
        config=config,
        # Lower-case reverse-DNS is always a valid package name (Debian Policy 5.6.1).
        package=config.identifier,
        version=_version(config, project),
        architecture=_run(["dpkg", "--print-architecture"]).strip(),
        maintainer=_maintainer(config, project),
        synopsis=_synopsis(config, project),
        license=_license(project),
        backend_depends=get_backend(config.backend).shipping.debian_depends,
    )


def _version(config: AppConfig, project: dict[str, Any]) -> str:
    try:
        return debian_version(config.version)
    except ValueError:
        key = "project.version" if "version" in project else "tool.ramparts.version"
        raise ConfigError(
            config.file, key, config.version, "a PEP 440 version like 1.2.0 or 1.2.0rc1 (--deb)"
        ) from None


def _maintainer(config: AppConfig, project: dict[str, Any]) -> str:
    """``Name <email>`` from ``project.maintainers``, else ``project.authors``."""
    for key in ("maintainers", "authors"):
        for person in project.get(key) or ():
            if isinstance(person, dict) and person.get("name") and person.get("email"):
                name = _one_line(str(person["name"])).replace("<", "").replace(">", "")
                return f"{name} <{_one_line(str(person['email']))}>"
    raise ConfigError(
        config.file,
        "project.authors",
        project.get("authors", MISSING),
        'a maintainer for the .deb: authors = [{ name = "...", email = "..." }] '
        "(or project.maintainers)",
    )


def _synopsis(config: AppConfig, project: dict[str, Any]) -> str:
    text = _one_line(str(project.get("description") or "")).rstrip(".")
    # Debian's style: a synopsis is a phrase, not a sentence.
    text = re.sub(r"^(?:an?|the)\s+(?=\S)", "", text, flags=re.IGNORECASE)
    if not text:
        text = f"{config.name}, a desktop app"
    return text if len(text) <= 79 else text[:78].rstrip() + "…"


def _license(project: dict[str, Any]) -> str:
    value = project.get("license")
    if isinstance(value, dict):
        value = value.get("text") or (f"see {value['file']}" if value.get("file") else None)
    return _one_line(str(value)) if value else "not stated by the app (project.license)"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def write_deb(
    plan: DebPlan,
    artifact: Path,
    out: Path,
    *,
    compression: Compression = "xz",
    say: Callable[[str], None] = print,
) -> DebResult:
    """Stage the package, compute its dependencies, build it with ``dpkg-deb``.

    The ``.deb`` is written under a temporary name in ``out`` and renamed into place:
    an interrupted build leaves no half-written package under the final name.

    :param compression: ``xz`` (the smallest) or ``gzip`` at level 1 (a third larger,
        many times faster: for tests and quick iterations).
    """
    started = time.monotonic()
    config = plan.config
    say(f"[deb] {plan.package} {plan.version} ({plan.architecture})")
    with tempfile.TemporaryDirectory(dir=out, prefix=".deb-") as tmp:
        root = Path(tmp) / "root"
        say(f"      staging /opt/{config.identifier}, /usr/bin/{artifact.name}, desktop entry")
        _stage(plan, artifact, root)
        elves = sorted(_elf_files(root / "opt" / config.identifier))
        say(f"      dependencies: dpkg-shlibdeps on {len(elves)} bundled binaries")
        depends = _merge(_shlibdeps(plan.package, elves, Path(tmp)), plan.backend_depends)
        installed = _installed_kib(root)
        _write_md5sums(root)
        _write_control(plan, root, depends, installed)
        target = out / plan.file_name
        partial = out / f".{plan.file_name}.{secrets.token_hex(4)}.partial"
        say(f"      dpkg-deb --build ({compression}): {target}")
        try:
            build = ["dpkg-deb", *_COMPRESSION[compression], "--root-owner-group", "--build"]
            _run([*build, str(root), str(partial)])
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return DebResult(
        path=target,
        package=plan.package,
        version=plan.version,
        size=target.stat().st_size,
        installed_kib=installed,
        depends=depends,
        seconds=time.monotonic() - started,
    )


def _stage(plan: DebPlan, artifact: Path, root: Path) -> None:
    """The package's files: the app as built, its launcher, desktop entry, icon, docs."""
    config = plan.config
    app = root / "opt" / config.identifier
    shutil.copytree(artifact, app, symlinks=True)
    _normalise_modes(app)
    bin_dir = root / "usr" / "bin"
    bin_dir.mkdir(parents=True)
    # Absolute: the link crosses top-level folders (Debian Policy 10.5).
    (bin_dir / artifact.name).symlink_to(f"/opt/{config.identifier}/{artifact.name}")
    share = root / "usr" / "share"
    _write(share / "applications" / f"{config.identifier}.desktop", _desktop_entry(plan, artifact))
    if config.icon is not None:
        size = png_size(config.icon) or (0, 0)
        icon = share / "icons" / "hicolor" / f"{size[0]}x{size[1]}" / "apps"
        _write(icon / f"{config.identifier}.png", config.icon.read_bytes())
    doc = share / "doc" / plan.package
    _write(doc / "copyright", _copyright(plan).encode())
    _write(doc / "changelog.gz", gzip.compress(_changelog(plan).encode(), 9, mtime=0))
    man = share / "man" / "man1" / f"{artifact.name}.1.gz"
    _write(man, gzip.compress(_manual_page(plan, artifact.name).encode(), 9, mtime=0))
    overrides = "".join(
        f"# {reason}\n{plan.package}: {tag}\n" for tag, reason in LINTIAN_OVERRIDES.items()
    )
    _write(share / "lintian" / "overrides" / plan.package, overrides.encode())
    for folder, _, _ in os.walk(root):
        os.chmod(folder, 0o755)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o644)


def _normalise_modes(app: Path) -> None:
    """0755 for programs, 0644 for everything else (shared libraries included: the loader
    maps them without the execute bit), whatever the build machine's umask made."""
    for folder, _, files in os.walk(app):
        for name in files:
            path = Path(folder) / name
            if path.is_symlink():
                continue
            program = path.stat().st_mode & 0o111 and not _SHLIB.search(name)
            path.chmod(0o755 if program else 0o644)


def _desktop_entry(plan: DebPlan, artifact: Path) -> bytes:
    """A freedesktop desktop entry (its keys are all in version 1.0 of the spec)."""
    config = plan.config
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.0",
        f"Name={_desktop_escape(config.name)}",
        f"Comment={_desktop_escape(plan.synopsis)}",
        f"Exec={artifact.name}",  # a plain word: nothing in it for Exec's quoting rules
        *([f"Icon={config.identifier}"] if config.icon is not None else []),
        "Terminal=false",
        "Categories=Utility;",
    ]
    return ("\n".join(lines) + "\n").encode()


def _desktop_escape(text: str) -> str:
    text = text.replace("\\", "\\\\")
    return text.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def _copyright(plan: DebPlan) -> str:
    config = plan.config
    return textwrap.dedent(f"""\
        {config.name} ({config.identifier}) {plan.version}

        Copyright {datetime.now(UTC).year} {plan.maintainer}
        License: {plan.license}

        /opt/{config.identifier} holds the app as PyInstaller built it: a Python
        interpreter, Ramparts, and the Python packages and shared libraries they use,
        each under its own license (see the *.dist-info folders in its _internal folder).
        """)


def _manual_page(plan: DebPlan, command: str) -> str:
    """The launcher's manual page: its options, exit codes and files."""
    config = plan.config

    def roff(text: str) -> str:
        text = text.replace("\\", "\\e").replace("-", "\\-").replace('"', "\\(dq")
        return "\\&" + text if text[:1] in (".", "'") else text

    return "\n".join(
        [
            f'.TH {command.upper()} 1 "" "{roff(plan.version)}" "{roff(config.name)}"',
            ".SH NAME",
            f"{roff(command)} \\- {roff(plan.synopsis)}",
            ".SH SYNOPSIS",
            f".B {roff(command)}",
            "[\\fB\\-\\-headless\\fR] [\\fB\\-\\-trace\\fR]",
            ".SH DESCRIPTION",
            f"{roff(config.name)} is a desktop app made with Ramparts. At each launch it checks",
            f"every file in /opt/{roff(config.identifier)} against its manifest first and",
            "refuses to start if one was changed, removed or added.",
            ".SH OPTIONS",
            ".TP\n.B \\-\\-headless\nRun headless (automation and tests).",
            ".TP\n.B \\-\\-trace\nPrint console messages and one line per bridge call.",
            ".SH EXIT STATUS",
            "0: normal; 1: the app failed; 3: verification failed, the app refused to start.",
            ".SH FILES",
            f"/opt/{roff(config.identifier)}: the app and its manifest.",
            "",
        ]
    )


def _changelog(plan: DebPlan) -> str:
    when = email.utils.format_datetime(datetime.now(UTC).replace(microsecond=0))
    return (
        f"{plan.package} ({plan.version}) unstable; urgency=medium\n\n"
        f"  * Built with Ramparts {__version__} (ramparts build --deb).\n\n"
        f" -- {plan.maintainer}  {when}\n"
    )


def _elf_files(app: Path) -> Iterator[Path]:
    for folder, _, files in os.walk(app):
        for name in files:
            path = Path(folder) / name
            if not path.is_symlink():
                with open(path, "rb") as f:
                    if f.read(4) == _ELF:
                        yield path


def _shlibdeps(package: str, elves: list[Path], tmp: Path) -> tuple[str, ...]:
    """The packages the bundled binaries need from the system.

    Libraries the bundle holds itself are listed in ``shlibs.local`` with no dependency,
    so only what the bundle lacks (libc, say) becomes one.
    """
    work = tmp / "shlibdeps"
    (work / "debian").mkdir(parents=True)
    control = f"Source: {package}\n\nPackage: {package}\nArchitecture: any\n"
    (work / "debian" / "control").write_text(control)
    bundled = sorted({line for p in elves if (line := _shlibs_line(p.name))})
    (work / "debian" / "shlibs.local").write_text("".join(f"{b}\n" for b in bundled))
    folders = sorted({str(p.parent) for p in elves if _SHLIB.search(p.name)})
    args = ["dpkg-shlibdeps", "-O", *(f"-l{f}" for f in folders), *map(str, elves)]
    text = _run(args, cwd=work)
    for line in text.splitlines():
        if line.startswith("shlibs:Depends="):
            return tuple(d.strip() for d in line.split("=", 1)[1].split(",") if d.strip())
    return ()


def _shlibs_line(name: str) -> str | None:
    """``libname version`` for a library file named by its soname, as dpkg splits it."""
    m = re.match(r"^(.+)\.so\.(.+)$", name) or re.match(r"^(.+)-(\d[^-]*)\.so$", name)
    return f"{m[1]} {m[2]}" if m else None


def _merge(*groups: tuple[str, ...]) -> tuple[str, ...]:
    """One entry per package name, the first kept (dpkg-shlibdeps' carry versions)."""
    seen: dict[str, str] = {}
    for dep in (d for g in groups for d in g):
        seen.setdefault(dep.split()[0], dep)
    return tuple(sorted(seen.values()))


def _installed_kib(root: Path) -> int:
    """``Installed-Size`` as dpkg-gencontrol counts it: each file's size rounded up to
    a KiB, and one KiB for every other entry (folders, symlinks)."""
    total = 0
    for folder, dirs, files in os.walk(root):
        total += len(dirs)
        for name in files:
            path = Path(folder) / name
            total += 1 if path.is_symlink() else -(-path.stat().st_size // 1024)
    return total


def _write_md5sums(root: Path) -> None:
    """``DEBIAN/md5sums``, which ``dpkg --verify`` (debsums) checks installed files by."""
    import hashlib

    lines = []
    for folder, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            path = Path(folder) / name
            if not path.is_symlink():
                digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
                lines.append(f"{digest}  {path.relative_to(root).as_posix()}\n")
    _write(root / "DEBIAN" / "md5sums", "".join(lines).encode())


def _write_control(plan: DebPlan, root: Path, depends: tuple[str, ...], kib: int) -> None:
    config = plan.config
    about = (
        f"{config.name} is a desktop app made with Ramparts, installed in "
        f"/opt/{config.identifier}. At each launch it checks every file there against "
        "its manifest and refuses to start if one differs."
    )
    fields = {
        "Package": plan.package,
        "Version": plan.version,
        "Architecture": plan.architecture,
        "Maintainer": plan.maintainer,
        "Installed-Size": str(kib),
        "Depends": ", ".join(depends),
        "Section": "misc",
        "Priority": "optional",
        "Description": plan.synopsis
        + "".join(f"\n {line}" for line in textwrap.wrap(_one_line(about), 78)),
    }
    text = "".join(f"{k}: {v}\n" for k, v in fields.items() if v)
    _write(root / "DEBIAN" / "control", text.encode())


def _run(args: list[str], cwd: Path | None = None) -> str:
    """A Debian tool's stdout; its failure as a :class:`BuildError` with its own words."""
    try:
        done = subprocess.run(
            args, cwd=cwd, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"}
        )
    except OSError as e:
        raise BuildError(f"{args[0]} did not start: {e.strerror or e}") from None
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise BuildError(f"{args[0]} failed (exit {done.returncode}):\n{tail}")
    return done.stdout
