"""``ramparts audit``: read a built app without running it and report what it can reach.

The report comes from the signed manifest (capabilities, commands, scopes, CSP) and from
the artifact itself: every Python module inside PyInstaller's archives and every file in
the tree, searched for modules of capability plugins the config does not declare. The
same search is the proof step of ``ramparts build``.
"""

from __future__ import annotations

import configparser
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ramparts.errors import BuildError, VerificationError
from ramparts.release.pyinstaller import UNPACKED_TYPES, pyinstaller_missing
from ramparts.release.signing import (
    artifact_files,
    load_manifest,
    own_key,
    verify_artifact,
)

__all__ = [
    "FIRST_PARTY",
    "Audit",
    "audit",
    "find_undeclared",
    "module_roots",
    "plugin_roots",
    "render_table",
    "scan_artifact",
]

_GROUP = "ramparts.capabilities"
#: The capability plugins Ramparts ships, known even where they are not installed: an
#: auditor's environment may lack them, and an artifact's metadata can be stripped.
FIRST_PARTY = {
    "fs": "ramparts_fs",
    "shell": "ramparts_shell",
    "http": "ramparts_http",
    "dialog": "ramparts_dialog",
    "clipboard": "ramparts_clipboard",
    "store": "ramparts_store",
    "notification": "ramparts_notification",
    "log": "ramparts_log",
    "updater": "ramparts_updater",
    "window": "ramparts.builtins.window",
}


def module_roots(declared: Iterable[str], entry_points: Mapping[str, str]) -> dict[str, list[str]]:
    """For each capability that is *not* declared, the module names that belong to it.

    That is its entry point's module, plus the module's top-level package unless the
    core or a declared capability lives in that package too (the built-in ``window``
    capability lives in ``ramparts``; one distribution may provide several).
    """
    wanted = set(declared)
    shared = {"ramparts"} | {
        _module(value).split(".")[0] for name, value in entry_points.items() if name in wanted
    }
    roots: dict[str, list[str]] = {}
    for name, value in sorted(entry_points.items()):
        if name in wanted:
            continue
        module = _module(value)
        top = module.split(".")[0]
        roots[name] = sorted({module} | ({top} if top not in shared else set()))
    return roots


def _module(entry_point_value: str) -> str:
    return entry_point_value.split(":")[0].strip()


def plugin_roots(declared: Iterable[str], *sources: Mapping[str, str]) -> dict[str, list[str]]:
    """:func:`module_roots` over several sources of entry points, merged.

    Each source (the first-party list, the auditing environment, the artifact's own
    metadata) is taken on its own, so one cannot hide another's modules by naming the
    same capability with a different module.
    """
    wanted = list(declared)
    merged: dict[str, set[str]] = {}
    for source in sources:
        for name, roots in module_roots(wanted, source).items():
            merged.setdefault(name, set()).update(roots)
    return {name: sorted(roots) for name, roots in sorted(merged.items())}


def _entry_modules(*sources: Mapping[str, str]) -> dict[str, list[str]]:
    """Each capability's entry-point modules, from every source."""
    found: dict[str, set[str]] = {}
    for source in sources:
        for name, value in source.items():
            found.setdefault(name, set()).add(_module(value))
    return {name: sorted(mods) for name, mods in found.items()}


def find_undeclared(modules: Iterable[str], roots: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """``{capability: [module found, ...]}`` for modules under any undeclared root."""
    found: dict[str, list[str]] = {}
    names = sorted(set(modules))
    for capability, prefixes in roots.items():
        hits = [m for m in names if any(m == p or m.startswith(p + ".") for p in prefixes)]
        if hits:
            found[capability] = hits
    return found


@attrs.frozen
class Scan:
    """What a built app holds: module names, and capability entry points in its metadata."""

    modules: frozenset[str]
    entry_points: Mapping[str, str]
    #: The web engine permissions each window grants, from the bundled app config.
    web: Mapping[str, list[str]] = attrs.field(factory=dict)
    #: ``single_instance`` in the bundled app config: the windows whose pages get a
    #: second instance's arguments; ``None`` when it is off.
    single_instance: list[str] | None = None
    #: Per window label, the menu item ids its page hears (``menu_events``).
    menu_events: Mapping[str, list[str]] = attrs.field(factory=dict)


def scan_artifact(artifact: Path, executable: str) -> Scan:
    """Every module name in the artifact: PyInstaller's archives and the file tree."""
    try:
        from PyInstaller.archive.readers import CArchiveReader
    except ImportError:
        raise BuildError(pyinstaller_missing("reading a built app")) from None
    root, _, _, layout = artifact_files(artifact)
    exe = artifact if layout == "onefile" else root / executable
    try:
        archive = CArchiveReader(str(exe))
    except Exception as e:  # PyInstaller raises bare exceptions for non-archives
        raise VerificationError(f"{exe}: not a PyInstaller executable ({e})") from None
    modules: set[str] = set()
    paths: list[str] = []
    for name, entry in archive.toc.items():
        typecode = entry[-1]
        if typecode in ("m", "M", "s"):
            modules.add(name)
        elif typecode in UNPACKED_TYPES:
            paths.append(name)
        elif typecode == "z":
            modules.update(archive.open_embedded_archive(name).toc)
    if layout == "onedir":
        for dirpath, dirnames, filenames in os.walk(root):
            rel = Path(dirpath).relative_to(root)
            paths.extend((rel / n).as_posix() for n in [*dirnames, *filenames])
    entry_points: dict[str, str] = {}
    web: dict[str, list[str]] = {}
    single: list[str] | None = None
    menus: dict[str, list[str]] = {}
    for path in paths:
        parts = path.split("/")
        if parts[0] == "_internal":  # PyInstaller 6's onedir contents folder
            parts = parts[1:]
        if not parts:
            continue
        if parts[0].endswith(".dist-info") and parts[-1] == "entry_points.txt" and len(parts) == 2:
            entry_points.update(_read_entry_points(root, path, archive, layout))
        if parts == ["app", "pyproject.toml"]:  # the config the built app runs with
            config = _read_text(root, path, archive, layout)
            web, single = _read_web(config), _read_single_instance(config)
            menus = _read_window_lists(config, "menu_events")
        modules.add(_path_module(parts))
    return Scan(frozenset(modules), entry_points, web, single, menus)


def _path_module(parts: list[str]) -> str:
    """``pkg/sub/mod.cpython-311-x86_64-linux-gnu.so`` -> ``pkg.sub.mod``.

    ``pkg/__init__.py`` -> ``pkg``.
    """
    *dirs, last = parts
    stem = last.split(".")[0]
    return ".".join(dirs if stem in ("", "__init__") else [*dirs, stem])


def _read_text(root: Path, path: str, archive: Any, layout: str) -> str:
    if layout == "onedir":
        return (root / path).read_text(encoding="utf-8")
    return str(archive.extract(path).decode("utf-8"))


def _read_web(pyproject: str) -> dict[str, list[str]]:
    """Per window label, the ``web`` permissions its config grants (the app was built
    from this config, so it was valid then; a value that is not a list reads as none)."""
    return _read_window_lists(pyproject, "web")


def _read_window_lists(pyproject: str, key: str) -> dict[str, list[str]]:
    """Per window label, the list ``key`` of its config (``web``, ``menu_events``)."""
    import tomllib

    tool = tomllib.loads(pyproject).get("tool", {}).get("ramparts", {})
    tables = tool.get("windows") or [{"label": "main", **tool.get("window", {})}]
    return {
        str(w.get("label")): list(w.get(key, [])) if isinstance(w.get(key), list) else []
        for w in tables
        if isinstance(w, dict)
    }


def _read_single_instance(pyproject: str) -> list[str] | None:
    """``single_instance``'s windows (whose pages get a second instance's arguments), or
    ``None`` when it is off."""
    import tomllib

    value = tomllib.loads(pyproject).get("tool", {}).get("ramparts", {}).get("single_instance")
    if isinstance(value, dict):
        windows = value.get("windows", [])
        return [str(w) for w in windows] if isinstance(windows, list) else []
    return [] if value is True else None


def _read_entry_points(root: Path, path: str, archive: Any, layout: str) -> dict[str, str]:
    text = _read_text(root, path, archive, layout)
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return dict(parser.items(_GROUP)) if parser.has_section(_GROUP) else {}


@attrs.frozen
class Audit:
    """The result of :func:`audit`. ``ok`` is false when the audit fails."""

    artifact: Path
    manifest: dict[str, Any]
    signature: str  # "valid", "unsigned", or "invalid: <why>"
    #: Where the trusted key came from: "pubkey" (given) or "manifest" (its own key,
    #: which shows the files are intact, not who built them).
    key_source: str
    undeclared: dict[str, list[str]]
    metadata_entry_points: Mapping[str, str]
    #: Every known capability plugin with modules inside, declared or not.
    plugins_inside: dict[str, list[str]] = attrs.field(factory=dict)
    #: Accept an unverified manifest (``--allow-unverified``): report, do not fail.
    allow_unverified: bool = False
    #: Per window label, the web engine permissions the bundled config grants.
    web: Mapping[str, list[str]] = attrs.field(factory=dict)
    #: Files that differ from a manifest whose signature checked out: an integrity
    #: failure (the files were changed), to be reported as such, not as a key problem.
    changed_files: tuple[str, ...] = ()
    #: ``single_instance`` in the bundled config: the windows whose pages get a second
    #: instance's arguments; ``None`` when it is off.
    single_instance: list[str] | None = None
    #: Per window label, the menu item ids its page hears (``menu_events``).
    menu_events: Mapping[str, list[str]] = attrs.field(factory=dict)

    @property
    def verified(self) -> bool:
        """Signed by a key the caller gave: only then is the manifest's report trusted.

        An unsigned manifest, or one checked against its own key, can be rewritten by
        whoever changed the files: declaring ``shell`` there would hide shell's modules.
        """
        return self.signature == "valid" and self.key_source == "pubkey"

    @property
    def ok(self) -> bool:
        return (
            not self.undeclared
            and not self.signature.startswith("invalid")
            and (self.verified or self.allow_unverified)
        )

    def to_json(self) -> dict[str, Any]:
        """The stable ``--json`` form (documented in docs/build.md)."""
        m = self.manifest
        return {
            "format": 1,
            "artifact": str(self.artifact),
            "ok": self.ok,
            "verified": self.verified,
            "app": m.get("app"),
            "layout": m.get("layout"),
            "signature": {
                "status": self.signature,
                "signer": m.get("signer"),
                "key_source": self.key_source,
            },
            "created": m.get("created"),
            "expires": m.get("expires"),
            "capabilities": m.get("capabilities", {}),
            "commands": m.get("commands", []),
            "windows": m.get("windows", {}),
            "web": dict(self.web),
            "single_instance": self.single_instance,
            "menu_events": dict(self.menu_events),
            "csp": m.get("csp"),
            "eval_allowed": m.get("eval_allowed", False),
            "undeclared_plugin_modules": self.undeclared,
            "plugins_inside": self.plugins_inside,
            "metadata_entry_points": dict(self.metadata_entry_points),
        }


def audit(
    artifact: Path,
    trusted: Iterable[Ed25519PublicKey] | None,
    installed: Mapping[str, str],
    *,
    allow_unverified: bool = False,
) -> Audit:
    """Audit a built app.

    :param trusted: keys to check the signature with; ``None``: the key the manifest
        names (which shows the files are intact, not who built them): the audit is then
        unverified, and fails unless ``allow_unverified``.
    :param installed: capability entry points of the auditing environment, by name;
        searched together with :data:`FIRST_PARTY` and the artifact's own metadata.
    """
    manifest = load_manifest(artifact)
    keys = list(trusted) if trusted is not None else own_key(manifest)
    changed: tuple[str, ...] = ()
    try:
        # Report what was verified, not the first read: the file may differ between reads.
        manifest = verify_artifact(artifact, keys)
        status = "valid" if keys else "unsigned"
    except VerificationError as e:
        status = f"invalid: {e}"
        # Only the file check, run after the signature and expiry passed, lists problems.
        changed = tuple(e.problems)
    scan = scan_artifact(artifact, str(manifest.get("executable", "")))
    sources = (FIRST_PARTY, installed, scan.entry_points)
    declared = list(manifest.get("capabilities", {}))
    return Audit(
        artifact,
        manifest,
        status,
        "pubkey" if trusted is not None else "manifest",
        find_undeclared(scan.modules, plugin_roots(declared, *sources)),
        scan.entry_points,
        find_undeclared(scan.modules, _entry_modules(*sources)),
        allow_unverified,
        scan.web,
        changed,
        scan.single_instance,
        scan.menu_events,
    )


def render_table(result: Audit) -> str:
    """The readable form of an audit."""
    m = result.manifest
    app = m.get("app", {})
    lines = [
        f"artifact:   {result.artifact} ({m.get('layout')})",
        f"app:        {app.get('name')} {app.get('version')} ({app.get('identifier')})",
        f"signature:  {_signature_line(result)}"
        + (f" (signer {m.get('signer')}, key from {result.key_source})" if m.get("signer") else ""),
        f"expires:    {m.get('expires')} (built {m.get('created')})",
        f"csp:        {m.get('csp')}",
        f"--eval:     {'accepted' if m.get('eval_allowed') else 'refused'}",
        "",
        f"{'capability':12} {'command':24} scope / options",
    ]
    for name, cap in sorted(m.get("capabilities", {}).items()):
        scope = json.dumps(cap.get("options", {}), sort_keys=True)
        allow = cap.get("allow") or ["(no commands)"]
        for i, cmd in enumerate(allow):
            lines.append(f"{name if i == 0 else '':12} {cmd:24} {scope if i == 0 else ''}")
    app_cmds = [c for c in m.get("commands", []) if "." not in c]
    lines.append(f"{'(app)':12} {', '.join(app_cmds) or '(none)'}")
    lines.append("")
    for label, routes in sorted(m.get("windows", {}).items()):
        lines.append(f"window {label}: {', '.join(routes) or '(no commands)'}")
    for label, web in sorted(result.web.items()):
        lines.append(f"window {label} web permissions: {', '.join(web) or 'none'}")
    for label, ids in sorted(result.menu_events.items()):
        lines.append(f"window {label} menu events: {', '.join(ids) or 'none'}")
    single = result.single_instance
    if single is not None:
        pages = ", ".join(single) or "none (Python only)"
        lines.append(f"single_instance: second instances' arguments reach pages: {pages}")
    if result.undeclared:
        lines.append("")
        lines.append("FAIL: modules of capability plugins the config does not declare:")
        for cap, mods in sorted(result.undeclared.items()):
            shown = ", ".join(mods[:8]) + (f" (+{len(mods) - 8})" if len(mods) > 8 else "")
            lines.append(f"  {cap}: {shown}")
    else:
        lines.append("undeclared plugin modules: none")
    inside = ", ".join(sorted(result.plugins_inside)) or "none"
    lines.append(f"plugins inside: {inside}")
    lines.extend(_verification_lines(result))
    lines.append("audit: " + ("PASSED" if result.ok else "FAILED"))
    return "\n".join(lines)


def _signature_line(result: Audit) -> str:
    if result.changed_files:  # the signature and expiry held; the files did not
        return "valid over the manifest, but the files do not match it (see FAIL below)"
    return result.signature.splitlines()[0]


def _verification_lines(result: Audit) -> list[str]:
    """What failed to verify, worded by its cause: changed files are an integrity
    failure, whatever key was used; only a missing or untrusted key is a key problem."""
    lines = []
    if result.changed_files:
        lines.append(
            f"FAIL: {len(result.changed_files)} file(s) changed since the build (integrity: "
            "they differ from the manifest; the signing key is not at fault):"
        )
        lines.extend(f"  {p}" for p in result.changed_files)
    else:
        lines.extend(result.signature.splitlines()[1:])
    if not result.verified and not (result.changed_files and result.key_source == "pubkey"):
        lines.append(
            "UNVERIFIED: no --pubkey signature check passed, so the manifest (capabilities,"
            " scopes, commands) is only the artifact's own claim"
            + (" (accepted: --allow-unverified)" if result.allow_unverified else "")
        )
    return lines
