"""``ramparts build``: a PyInstaller app holding the core and only the declared plugins.

Steps: load the app (which validates its config and imports exactly what it declares),
run PyInstaller with every undeclared capability plugin excluded, prove the exclusion
by scanning the result (:mod:`ramparts.release.audit`), then hash every shipped file into a
manifest and sign it (:mod:`ramparts.release.signing`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ramparts import __version__
from ramparts.config import AppConfig, command_words, load_config
from ramparts.errors import BuildError
from ramparts.plugins import InstalledPlugin
from ramparts.release.audit import find_undeclared, module_roots, scan_artifact
from ramparts.release.prune import Pruned, prune
from ramparts.release.pyinstaller import onefile_bundle, pyinstaller_missing
from ramparts.release.signing import (
    MANIFEST_FORMAT,
    artifact_files,
    canonical_json,
    escaping_links,
    expiry,
    file_digest,
    hash_tree,
    key_id,
    make_link,
    public_pem,
    sign,
    utc_stamp,
)
from ramparts.toolkit.atomic import atomic_write

if TYPE_CHECKING:
    from ramparts.app import App

__all__ = ["BuildResult", "Signer", "build"]

#: Developer tools that optional imports drag in; no shipped app needs them. The dev
#: loop (``ramparts dev --reload``) is reached from ``ramparts.run``, which apps share.
_DEV_ONLY = ("hypothesis", "mypy", "pytest", "_pytest", "watchfiles", "ramparts.dev.loop")
#: PyInstaller log lines that start a long phase, and how the progress line names it.
_PHASES = {
    "Analyzing modules for base_library": "analysing the standard library",
    "Analyzing hidden import": "analysing imports",
    "Processing module hooks": "running PyInstaller hooks",
    "Looking for dynamic libraries": "collecting shared libraries",
    "Building PYZ": "packing Python modules",
    "Building PKG": "packing the executable's archive",
    "Building EXE": "writing the executable",
    "Building COLLECT": "copying files into the app folder",
}


@attrs.frozen
class Signer:
    """How to sign: the key, and optionally the rotation to announce or continue.

    :ivar next_key: announce this key as the successor (``next_public_key``).
    :ivar chain: the rotation links that lead from a trusted key to ``key``, taken from
        the previous release's verified manifest (see ``--chain-from``).
    """

    key: Ed25519PrivateKey
    next_key: Ed25519PublicKey | None = None
    chain: tuple[Any, ...] = ()


@attrs.frozen
class BuildResult:
    artifact: Path
    size: int
    files: int
    capabilities: tuple[str, ...]
    excluded: Mapping[str, list[str]]
    #: What the backend's pruning removed, per rule (docs/build.md, "Size").
    pruned: tuple[Pruned, ...]
    signer: str | None
    expires: str
    seconds: float


def build(
    app_dir: Path,
    *,
    out: Path | None = None,
    work: Path | None = None,
    onefile: bool = False,
    signer: Signer | None = None,
    expires_in_days: float = 365.0,
    allow_eval: bool = False,
    sign_command: str | None = None,
    say: Callable[[str], None] = print,
) -> BuildResult:
    """Build the app in ``app_dir``; see ``docs/build.md``.

    :param sign_command: a platform code-signing command run on the built files before
        they are hashed; ``{executable}`` and ``{artifact}`` in it are replaced.
    :raises BuildError: PyInstaller is missing or failed, the sign command failed, or the
        artifact holds a module of an undeclared plugin.
    :raises ConfigError, PluginError: the app itself is wrong (as for ``ramparts check``).
    """
    if importlib.util.find_spec("PyInstaller") is None:
        raise BuildError(pyinstaller_missing("ramparts build"))
    started = time.monotonic()
    now = datetime.now(UTC)
    expires = expiry(now, expires_in_days)  # bad --expires-in fails before minutes of work

    say("[1/5] loading the app")
    the_app = _load(app_dir, say)
    config = the_app.config
    target = _Target.of(config, out, work, onefile)

    say("[2/5] choosing plugins")
    plan = _Plan.of(config)
    _say_plan(config, plan, say)

    say(f"[3/5] PyInstaller (its log: {target.log})")
    pruned = _freeze(config, plan, target, signer, allow_eval, sign_command, say)

    say("[4/5] proving undeclared plugins are absent")
    _prove_absent(target, plan, say)

    say("[5/5] hashing and " + ("signing" if signer else "writing (UNSIGNED)") + " the manifest")
    about = {"eval_allowed": allow_eval, "created": utc_stamp(now), "expires": expires}
    signing = _signing_fields(config.identifier, signer)
    files = _write_manifest(target, {**_describe(the_app, plan), **about, **signing}, signer)
    _write_sums(target.out, target.artifact, signer)
    return BuildResult(
        artifact=target.artifact,
        size=sum(e.get("size", 0) for e in files.values()),
        files=sum(1 for e in files.values() if "sha256" in e),
        capabilities=tuple(config.capabilities),
        excluded=plan.excluded,
        pruned=tuple(pruned),
        signer=signing["signer"],
        expires=expires,
        seconds=time.monotonic() - started,
    )


def _load(app_dir: Path, say: Callable[[str], None]) -> App:
    """The app as it will ship: after the build command its config names has run, with
    no dev server in its UI folder."""
    from ramparts.app import App

    _before_build(load_config(app_dir), say)
    the_app = App.load(app_dir)
    _refuse_dev_server(the_app.config)
    return the_app


def _before_build(config: AppConfig, say: Callable[[str], None]) -> None:
    """Run ``[tool.ramparts.dev] before_build_command`` (it writes the ``ui`` folder)."""
    command = config.dev.before_build_command
    if command is None:
        return
    say(f"      running the before_build_command `{command}` in {config.app_dir}")
    try:
        done = subprocess.run(command_words(command), cwd=config.app_dir, check=False)
    except OSError as e:
        raise BuildError(
            f"the before_build_command `{command}` did not start: {e.strerror or e}"
        ) from None
    if done.returncode != 0:
        raise BuildError(
            f"the before_build_command `{command}` failed (exit {done.returncode}); "
            "nothing was built"
        )


#: Text a page from a front-end dev server holds, and a built front end never does.
_DEV_MARKER = rb"/@vite/client"
_TEXT_SUFFIXES = {".html", ".htm", ".js", ".mjs", ".css", ".json", ".svg", ".map"}


def _refuse_dev_server(config: AppConfig) -> None:
    """Refuse a ``ui`` folder that would load from the dev server: a built app has none.

    :raises BuildError: naming the first file that mentions the dev URL's host and port
        (in any loopback spelling) or Vite's dev client.
    """
    pattern = _DEV_MARKER
    if config.dev.url is not None:
        port = config.dev.url.rsplit(":", 1)[1].encode()
        pattern += rb"|(?:127\.0\.0\.1|\[::1\]|localhost):" + port + rb"(?!\d)"
    markers = re.compile(pattern, re.IGNORECASE)
    for file in sorted(config.ui.rglob("*")):
        if file.suffix.lower() not in _TEXT_SUFFIXES or not file.is_file():
            continue
        found = markers.search(file.read_bytes())
        if found is not None:
            raise BuildError(
                f"{file} refers to the dev server ({found.group().decode()}): "
                f"tool.ramparts.ui ({config.ui}) must be the built front end, not the dev "
                "server's pages"
            )


@attrs.frozen
class _Target:
    """Where a build works and writes, and what it makes."""

    name: str
    out: Path
    work: Path
    onefile: bool

    @classmethod
    def of(cls, config: AppConfig, out: Path | None, work: Path | None, onefile: bool) -> _Target:
        name = config.identifier.rsplit(".", 1)[-1]
        return cls(
            name,
            (out or config.app_dir / "dist").resolve(),
            (work or config.app_dir / "build" / name).resolve(),
            onefile,
        )

    @property
    def layout(self) -> str:
        return "onefile" if self.onefile else "onedir"

    @property
    def exe(self) -> str:
        """The executable's file name."""
        return self.name + (".exe" if sys.platform == "win32" else "")

    @property
    def artifact(self) -> Path:
        """The built app: the executable (``onefile``) or its folder."""
        return self.out / (self.exe if self.onefile else self.name)

    @property
    def executable(self) -> Path:
        return self.artifact if self.onefile else self.artifact / self.exe

    @property
    def log(self) -> Path:
        return self.work / "pyinstaller.log"


def _freeze(
    config: AppConfig,
    plan: _Plan,
    target: _Target,
    signer: Signer | None,
    allow_eval: bool,
    sign_command: str | None,
    say: Callable[[str], None],
) -> list[Pruned]:
    """PyInstaller on a generated entry script, what it saw checked, what the app does
    without removed, then platform signing (these change the files, so they run before
    the files are hashed)."""
    from ramparts.backends import get_backend

    entry = _write_entry(config, target, signer, allow_eval)
    _pyinstaller([*_pyinstaller_args(config, plan, target), str(entry)], target.log, say)
    _check_undeclared_imports(target, plan)
    rules = get_backend(config.backend).shipping.prune
    if target.onefile:
        # PyInstaller has packed every file into the executable: only what was never
        # collected (the rules' modules) is left out.
        rules = tuple(attrs.evolve(r, paths=()) for r in rules)
        say("      onefile: files are packed, so only the modules below are left out")
    pruned = prune(target.artifact / "_internal", rules, config.build.keep, say)
    if sign_command:
        _platform_sign(sign_command, target.artifact, target.executable, say)
    return pruned


def _say_plan(config: AppConfig, plan: _Plan, say: Callable[[str], None]) -> None:
    for cap in config.capabilities:
        plugin = plan.installed[cap]
        say(f"      include {cap:12} {plugin.distribution} ({plugin.value})")
    for cap, roots in plan.excluded.items():
        say(f"      exclude {cap:12} {', '.join(roots)}")


def _write_entry(
    config: AppConfig, target: _Target, signer: Signer | None, allow_eval: bool
) -> Path:
    """The built app's entry script: verify the app, then run it."""
    public_key = public_pem(signer.key.public_key()).decode() if signer else None
    entry = target.work / "ramparts_main.py"
    target.work.mkdir(parents=True, exist_ok=True)
    atomic_write(
        entry,
        (
            f"# Generated by `ramparts build` for {config.identifier}: verify, then run.\n"
            "from ramparts.release.launcher import launch\n\n"
            f"launch(public_key={public_key!r}, layout={target.layout!r}, "
            f"allow_eval={allow_eval!r}, identifier={config.identifier!r}, "
            f"backend={config.backend!r})\n"
        ).encode(),
    )
    return entry


def _pyinstaller_args(config: AppConfig, plan: _Plan, target: _Target) -> list[str]:
    """PyInstaller's options: the app's files, the webview backend, the declared plugins
    in and the others out, the app's own commands module."""
    from ramparts.backends import get_backend

    args = [
        *("--noconfirm", "--log-level", "INFO", "--name", target.name),
        *("--distpath", str(target.out), "--workpath", str(target.work / "pyinstaller")),
        *("--specpath", str(target.work), f"--{target.layout}"),
        *("--add-data", f"{_stage(config, target.work)}{os.pathsep}app"),
        *("--collect-data", "ramparts"),
        # Debug symbols (libpython and cryptography's Rust module carry them): a crash's
        # native backtrace loses names, Python tracebacks do not.
        *(["--strip"] if sys.platform.startswith("linux") else []),
        *get_backend(config.backend).shipping.pyinstaller_args(),
        *plan.pyinstaller_args(),
    ]
    if config.commands:
        args += ["--hidden-import", config.commands]
        args += [a for p in (config.app_dir / "src", config.app_dir) for a in ("--paths", str(p))]
    return args


def _check_undeclared_imports(target: _Target, plan: _Plan) -> None:
    """Fail when the app's code imports a plugin its config does not declare."""
    warnings = target.work / "pyinstaller" / target.name / f"warn-{target.name}.txt"
    if not warnings.is_file():
        return
    imports = undeclared_imports(warnings.read_text(encoding="utf-8"), plan.excluded)
    if imports:
        raise BuildError(
            "the app imports capability plugins its config does not declare, so the "
            f"built app would fail when it reaches them: {'; '.join(imports)}. Declare "
            "the capability under [tool.ramparts.capabilities] or remove the import."
        )


def _prove_absent(target: _Target, plan: _Plan, say: Callable[[str], None]) -> None:
    """Scan the built app: no module of an undeclared plugin may be inside."""
    found = find_undeclared(scan_artifact(target.artifact, target.exe).modules, plan.excluded)
    if found:
        problems = "; ".join(f"{cap}: {', '.join(mods[:5])}" for cap, mods in found.items())
        raise BuildError(
            f"{target.artifact} contains modules of capability plugins the config does not "
            f"declare ({problems}). Does the app's code import them directly?"
        )
    others = ", ".join(plan.excluded) or "(no other plugins installed)"
    say(f"      none of {others} is inside")


def _write_manifest(
    target: _Target, fields: dict[str, Any], signer: Signer | None
) -> dict[str, Any]:
    """Hash every shipped file into the manifest, write it and its signature.

    :return: the manifest's ``files``.
    """
    artifact = target.artifact
    _, manifest_path, signature_path, _ = artifact_files(artifact)
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "layout": target.layout,
        "executable": target.exe,
        **fields,
        "files": (
            {target.exe: file_digest(artifact)}
            if target.onefile
            else hash_tree(artifact, skip=(manifest_path.name, signature_path.name))
        ),
    }
    if target.onefile:
        manifest["bundle"] = onefile_bundle(artifact)
    outside = escaping_links({**manifest["files"], **manifest.get("bundle", {})})
    if outside:
        raise BuildError(
            f"{artifact}: symlinks lead out of the app, so what they reach could not be "
            f"verified: {', '.join(f'{p} -> {t}' for p, t in outside)}"
        )
    data = canonical_json(manifest)
    atomic_write(manifest_path, data)
    signature_path.unlink(missing_ok=True)
    if signer:
        atomic_write(signature_path, sign(data, signer.key))
    files: dict[str, Any] = manifest["files"]
    return files


@attrs.frozen
class _Plan:
    """Which plugins go in, and which modules PyInstaller must leave out."""

    installed: Mapping[str, InstalledPlugin]
    #: Per undeclared capability, its module roots (see :func:`audit.module_roots`).
    excluded: Mapping[str, list[str]]
    #: Distributions whose metadata ships: the runtime finds capabilities through it.
    metadata: list[str]
    #: Entry-point modules of the declared capabilities, collected with their submodules.
    included: list[str]

    @classmethod
    def of(cls, config: AppConfig) -> _Plan:
        from ramparts.plugins import installed_plugins

        installed = installed_plugins()
        declared = [installed[c] for c in config.capabilities]
        return cls(
            installed,
            module_roots(config.capabilities, {n: p.value for n, p in installed.items()}),
            sorted({p.distribution for p in declared if p.distribution}),
            sorted({p.value.split(":")[0] for p in declared}),
        )

    def pyinstaller_args(self) -> list[str]:
        excludes = {m for roots in self.excluded.values() for m in roots} | set(_DEV_ONLY)
        return [
            *(a for d in self.metadata for a in ("--copy-metadata", d)),
            *(a for m in self.included for a in ("--collect-submodules", m)),
            *(a for m in sorted(excludes) for a in ("--exclude-module", m)),
        ]


def _describe(the_app: App, plan: _Plan) -> dict[str, Any]:
    """What the manifest says the app is and can reach."""
    config, registry = the_app.config, the_app.registry
    return {
        "app": {"name": config.name, "identifier": config.identifier, "version": config.version},
        "capabilities": {
            cap: {
                "allow": list(c.allow),
                "options": _jsonable(c.options),
                "module": plan.installed[cap].value,
                "distribution": plan.installed[cap].distribution,
                "version": plan.installed[cap].version,
            }
            for cap, c in config.capabilities.items()
        },
        "commands": sorted(registry.routes),
        "windows": {
            w.label: sorted(registry.for_window(w.capabilities, w.app_commands).routes)
            for w in config.windows
        },
        "csp": _csp(config),
        "excluded_plugins": dict(plan.excluded),
        "builder": {
            "ramparts": __version__,
            "python": platform.python_version(),
            "platform": f"{sys.platform}-{platform.machine()}",
        },
    }


def _signing_fields(identifier: str, signer: Signer | None) -> dict[str, Any]:
    if signer is None:
        return {"signer": None, "public_key": None, "next_public_key": None, "key_chain": []}
    public = signer.key.public_key()
    return {
        "signer": key_id(public),
        "public_key": public_pem(public).decode(),
        "next_public_key": (
            make_link(identifier, signer.next_key, signer.key) if signer.next_key else None
        ),
        "key_chain": list(signer.chain),
    }


def _stage(config: AppConfig, work: Path) -> Path:
    """Copy what the built app loads at run time: ``pyproject.toml``, the UI folder and
    the icon (its config names it, so loading the config checks it is there)."""
    try:
        ui_rel = config.ui.relative_to(config.app_dir)
    except ValueError:
        raise BuildError(
            f"{config.file}: tool.ramparts.ui: the UI folder {config.ui} is outside the app "
            "folder; a built app can only bundle a UI folder inside it"
        ) from None
    stage = work / "app"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    shutil.copy2(config.file, stage / "pyproject.toml")
    shutil.copytree(config.ui, stage / ui_rel)
    if config.icon is not None:
        icon = stage / config.icon.relative_to(config.app_dir)
        icon.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(config.icon, icon)
    return stage


def _csp(config: AppConfig) -> str:
    from ramparts.csp import merge_csp, render_csp

    return render_csp(merge_csp(dict(config.security.csp)))


def _jsonable(value: Any) -> Any:
    """TOML values as JSON (dates become ISO strings), so they can be signed."""
    return json.loads(json.dumps(value, default=str))


def undeclared_imports(warnings: str, excluded: Mapping[str, list[str]]) -> list[str]:
    """``"a imports b"`` for each module outside the excluded plugins importing one of them.

    ``warnings`` is PyInstaller's ``warn-<name>.txt``, which has a line per excluded
    module: ``excluded module named X - imported by A (top-level), B (optional)``.
    """
    roots = [r for rs in excluded.values() for r in rs]

    def inside(module: str) -> bool:
        return any(module == r or module.startswith(r + ".") for r in roots)

    found: list[str] = []
    for line in warnings.splitlines():
        head, sep, importers = line.partition(" - imported by ")
        module = head.removeprefix("excluded module named ")
        if not sep or module == head or not inside(module):
            continue
        for importer in importers.split(", "):
            name = importer.split(" (")[0].strip()
            if name and not inside(name):
                found.append(f"{name} imports {module}")
    return found


def _pyinstaller(args: list[str], log: Path, say: Callable[[str], None]) -> None:
    """Run PyInstaller in a child process; one progress line per long phase."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    seen: set[str] = set()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "PyInstaller", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            for marker, phase in _PHASES.items():
                if marker in line and phase not in seen:
                    seen.add(phase)
                    say(f"      {time.monotonic() - started:5.0f} s  {phase}")
        code = proc.wait()
    if code != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        raise BuildError(
            f"PyInstaller failed (exit {code}); the last lines of {log}:\n" + "\n".join(tail)
        )


def _platform_sign(
    command: str, artifact: Path, executable: Path, say: Callable[[str], None]
) -> None:
    """Run the OS code-signing command: it changes the executable, so it runs before hashing."""
    import shlex

    argv = [
        a.replace("{executable}", str(executable)).replace("{artifact}", str(artifact))
        for a in shlex.split(command)
    ]
    say(f"      platform signing: {shlex.join(argv)}")
    try:
        done = subprocess.run(argv, capture_output=True, text=True)
    except OSError as e:
        raise BuildError(f"--sign-command: cannot run {argv[0]!r}: {e.strerror}") from None
    if done.returncode != 0:
        raise BuildError(
            f"--sign-command failed (exit {done.returncode}): {shlex.join(argv)}\n"
            + (done.stderr or done.stdout).strip()[-2000:]
        )


def _write_sums(out: Path, artifact: Path, signer: Signer | None) -> None:
    """``SHA256SUMS`` (``sha256sum -c`` format) beside the artifact, and its signature."""
    paths = [artifact, *artifact_files(artifact)[1:3]] if artifact.is_file() else []
    if artifact.is_dir():
        paths = sorted(p for p in artifact.rglob("*") if p.is_file() and not p.is_symlink())
    lines = []
    for path in paths:
        if path.exists():
            digest = file_digest(path)["sha256"]
            lines.append(f"{digest}  {path.relative_to(out).as_posix()}\n")
    data = "".join(lines).encode()
    atomic_write(out / "SHA256SUMS", data)
    (out / "SHA256SUMS.sig").unlink(missing_ok=True)
    if signer:
        atomic_write(out / "SHA256SUMS.sig", sign(data, signer.key))
