"""Loading capability plugins: only the ones the config names, through entry points.

Internal: plugin authors implement the hooks in :mod:`ramparts.hookspecs`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import pluggy

from ramparts.bridge.session import Registry, Route
from ramparts.capability import Capability
from ramparts.commands import EVENT_MARK, commands_in
from ramparts.config import AppConfig
from ramparts.errors import ConfigError, PluginError
from ramparts.toolkit.configtable import ConfigContext

from . import hookspecs

__all__ = [
    "ENTRY_POINT_GROUP",
    "InstalledPlugin",
    "build_registry",
    "installed_plugins",
    "load_capabilities",
    "load_capability",
    "make_plugin_manager",
    "suggested_package",
]

ENTRY_POINT_GROUP = "ramparts.capabilities"


@attrs.frozen
class InstalledPlugin:
    """An installed capability plugin, found without importing it."""

    name: str
    value: str  # "module:attr" of the entry point
    distribution: str | None
    version: str | None


def installed_plugins() -> dict[str, InstalledPlugin]:
    """Every capability plugin installed in this environment, by capability name."""
    import importlib.metadata as md  # imported when needed: it costs ~20 ms at start-up

    found: dict[str, InstalledPlugin] = {}
    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        found[ep.name] = InstalledPlugin(
            ep.name,
            ep.value,
            dist.metadata["Name"] if dist else None,
            dist.version if dist else None,
        )
    return found


def suggested_package(capability: str) -> str:
    return f"ramparts-{capability.replace('_', '-')}"


def make_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def load_capabilities(config: AppConfig, pm: pluggy.PluginManager) -> dict[str, Capability]:
    """Import and register exactly the capability plugins the config declares."""
    if not config.capabilities:
        return {}  # nothing to find: skip the entry-point scan (~12-20 ms at start-up)
    import importlib.metadata as md

    eps = {ep.name: ep for ep in md.entry_points(group=ENTRY_POINT_GROUP)}
    caps: dict[str, Capability] = {}
    for name in config.capabilities:
        ep = eps.get(name)
        if ep is None:
            raise PluginError(
                f"{config.file}: tool.ramparts.capabilities.{name} is declared but no installed "
                f"package provides the '{name}' capability; install it with "
                f"`pip install {suggested_package(name)}` (or `uv add {suggested_package(name)}`)"
            )
        caps[name] = _load(name, ep, pm)
    for cap in caps.values():
        if cap.hookspecs is not None:
            pm.add_hookspecs(cap.hookspecs)
    return caps


def load_capability(name: str) -> Capability:
    """Import one installed capability plugin, outside any app, and describe it."""
    import importlib.metadata as md

    for ep in md.entry_points(group=ENTRY_POINT_GROUP, name=name):
        return _load(name, ep, make_plugin_manager())
    raise PluginError(f"no installed package provides the '{name}' capability")


def _load(name: str, ep: Any, pm: pluggy.PluginManager) -> Capability:
    try:
        plugin = ep.load()
    except Exception as e:
        raise PluginError(f"capability '{name}' ({ep.value}) failed to import: {e!r}") from e
    pm.register(plugin, name=f"capability:{name}")
    impls = [impl for impl in pm.hook.ramparts_capability.get_hookimpls() if impl.plugin is plugin]
    if len(impls) != 1:
        raise PluginError(
            f"capability '{name}' ({ep.value}) implements no ramparts_capability hook"
        )
    cap = impls[0].function()
    if not isinstance(cap, Capability) or cap.name != name:
        raise PluginError(
            f"capability plugin {ep.value} is installed as '{name}' but describes "
            f"{getattr(cap, 'name', cap)!r}"
        )
    return cap


def import_app_module(config: AppConfig) -> Any:
    """Import the app's commands module, from the app folder (or its ``src/``) first.

    A module of that name that this process imported from another folder (another app
    loaded before, as in a test session) is imported again from this app's folder: it
    would otherwise serve this app the other app's commands.
    """
    assert config.commands is not None
    roots = [d for d in (config.app_dir / "src", config.app_dir) if d.is_dir()]
    for root in reversed(roots):  # src/ ends up first
        if str(root) in sys.path:
            sys.path.remove(str(root))
        sys.path.insert(0, str(root))
    top = config.commands.split(".")[0]
    if top in sys.modules and not _loaded_from(sys.modules[top], roots):
        for name in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
            del sys.modules[name]
        importlib.invalidate_caches()
    try:
        return importlib.import_module(config.commands)
    except ImportError as e:
        raise ConfigError(
            config.file, "tool.ramparts.commands", config.commands, f"an importable module ({e})"
        ) from None


def _loaded_from(module: Any, roots: list[Path]) -> bool:
    """Whether ``module`` (or package) was imported from a file under one of ``roots``."""
    files = [getattr(module, "__file__", None), *getattr(module, "__path__", [])]
    paths = [Path(f).resolve() for f in files if f]
    return any(p.is_relative_to(r.resolve()) for p in paths for r in roots)


def build_registry(config: AppConfig, capabilities: Mapping[str, Capability]) -> Registry:
    """Routes for the app's own commands and every allowed capability command."""
    registry = Registry(ui_events=config.ui_events)
    handlers: dict[str, list[Callable[..., Any]]] = {}
    if config.commands is not None:
        module = import_app_module(config)
        for name, cmd in commands_in(module).items():
            registry.add(Route(name, None, cmd, None))
        for value in vars(module).values():
            event = getattr(value, EVENT_MARK, None)
            if isinstance(event, str):
                if event not in config.ui_events:
                    raise ConfigError(
                        config.file,
                        "tool.ramparts.events.from_ui",
                        sorted(config.ui_events),
                        f"a list that includes {event!r} "
                        f"(a handler in {config.commands} listens for it)",
                    )
                handlers.setdefault(event, []).append(value)
    registry.event_handlers = {k: tuple(v) for k, v in handlers.items()}
    for name, cap in capabilities.items():
        cap_config = config.capabilities[name]
        table = cap.command_table()
        for cmd_name in cap_config.allow:
            if cmd_name not in table:
                raise ConfigError(
                    config.file,
                    f"tool.ramparts.capabilities.{name}.allow",
                    cmd_name,
                    f"a command of '{name}': one of {', '.join(sorted(table))}",
                )
        ctx = ConfigContext(
            config.file, f"tool.ramparts.capabilities.{name}", config.app_dir, config.identifier
        )
        state = cap.configure(cap_config.options, ctx)
        for cmd_name in cap_config.allow:
            registry.add(Route(f"{name}.{cmd_name}", name, table[cmd_name], state))
    return registry
