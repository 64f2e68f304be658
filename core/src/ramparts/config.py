"""``[tool.ramparts]``: loaded from the app's ``pyproject.toml`` into frozen attrs classes.

Internal module: the config's meaning is documented in docs/config.md; code outside the
core reads it through ``App.config``.

Every problem raises :class:`~ramparts.errors.ConfigError` naming the file, the dotted
key, what was found and what was expected. Unknown keys are errors too: a typo in a
security setting must never silently fall back to a default.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from ramparts.csp import parse_csp
from ramparts.errors import MISSING, ConfigError
from ramparts.menuconfig import MENU_ID, Menus, check_unique, read_menu, read_menu_items
from ramparts.toolkit.configtable import ConfigContext

__all__ = [
    "BACKEND_ENV",
    "BACKEND_NAMES",
    "CAPABILITY_NAME",
    "ICON_SIZES",
    "RESERVED_NAMES",
    "WEB_PERMISSIONS",
    "AppConfig",
    "BuildConfig",
    "CapabilityConfig",
    "DevConfig",
    "SecurityConfig",
    "SingleInstanceConfig",
    "WindowConfig",
    "check_ui_folder",
    "command_words",
    "load_config",
    "png_size",
]

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$")
CAPABILITY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_EVENT = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

_LABEL = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
#: Names taken by the JS API object (``ramparts.invoke``, ``ramparts.events``, ...).
RESERVED_NAMES = frozenset({"invoke", "events", "stats", "error"})

HandleMode = Literal["per-session", "per-call"]

#: The webview backends an app can run on (``backend`` in ``[tool.ramparts]``), by the
#: names ``ramparts.backends.get_backend`` knows; the first is the default.
BACKEND_NAMES = ("qt", "gtk")
#: Chooses the backend for one run, over the app's ``backend`` (tests run both engines).
BACKEND_ENV = "RAMPARTS_BACKEND"

#: What a window's ``web`` list may grant: the web engine's own powers, which reach the
#: page without the bridge. Everything else the engine can be asked for (MIDI, storage
#: persistence, folder uploads, File System Access folders and writes, ...) is refused.
WEB_PERMISSIONS: Mapping[str, str] = {
    "microphone": "record audio (getUserMedia audio)",
    "camera": "record video (getUserMedia video)",
    "screen-capture": "capture the first screen, without asking (getDisplayMedia)",
    "notifications": "show notifications (Notification)",
    "geolocation": "read the position (navigator.geolocation)",
    "clipboard": "read and write the clipboard (navigator.clipboard)",
    "pointer-lock": "lock the mouse pointer (requestPointerLock)",
    "local-fonts": "list the installed fonts (queryLocalFonts)",
    "fullscreen": "make the window fullscreen (requestFullscreen)",
    "file-input": "read files the user picks in a chooser (<input type=file>, "
    "showOpenFilePicker); never folders",
    "file-drop": "files the user drops on, or pastes into, the window",
    "webrtc": "WebRTC connections over UDP to any host (Chromium sets this once per "
    "process: one window's grant is the whole app's)",
}


@attrs.frozen
class WindowConfig:
    """One window. Without ``[[tool.ramparts.windows]]`` the app has one, ``main``."""

    title: str
    width: int = 900
    height: int = 640
    resizable: bool = True
    label: str = "main"
    #: The page this window opens, inside the UI folder.
    entry: str = "index.html"
    #: The capabilities this window's page may use (a subset of the app's).
    capabilities: tuple[str, ...] = ()
    #: Whether this window's page may call the app's own commands.
    app_commands: bool = True
    #: Opened at launch (the first window always is).
    start: bool = True
    #: The web engine powers this window's page may use (names of WEB_PERMISSIONS).
    web: tuple[str, ...] = ()
    #: The smallest and largest size the user may give the window (``None``: no limit).
    min_size: tuple[int, int] | None = None
    max_size: tuple[int, int] | None = None
    #: The top-left corner on the screen, in pixels; ``None``: centred on the screen.
    position: tuple[int, int] | None = None
    fullscreen: bool = False
    maximized: bool = False
    #: No title bar or border (the desktop's decorations).
    frameless: bool = False
    always_on_top: bool = False
    #: Opened hidden: shown by ``App.window(label).show()`` or ``window.show``.
    hidden: bool = False
    #: The colour shown before the page paints (``#rrggbb``); ``None``: the engine's white.
    background: str | None = None
    #: Size, position and maximized are saved at close and restored at the next launch.
    remember_state: bool = False
    #: The menu item ids whose ``ramparts:menu`` event this window's page receives
    #: (docs/menus.md); Python's ``@on_menu`` handlers get every one.
    menu_events: tuple[str, ...] = ()


@attrs.frozen
class SecurityConfig:
    #: Extra CSP directives merged into the strict default (see :mod:`ramparts.csp`).
    csp: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    #: ``per-session``: one random handle per command per session; ``per-call``: each
    #: handle works once and every reply carries its replacement.
    handles: HandleMode = "per-session"
    #: Seconds a command may run before the call answers ``timeout``.
    command_timeout: float = 30.0


@attrs.frozen
class CapabilityConfig:
    name: str
    allow: tuple[str, ...]
    #: The capability's own keys (scopes and options), parsed by the plugin.
    options: Mapping[str, Any]


@attrs.frozen
class DevConfig:
    """``[tool.ramparts.dev]``: a front-end dev server for ``ramparts dev`` only.

    :ivar url: a loopback ``http://`` URL (a Vite server, say) whose pages ``ramparts
        dev`` serves under the app's own origin instead of the ``ui`` folder.
    :ivar before_dev_command: a command ``ramparts dev`` starts (in the app folder,
        with no shell: :func:`command_words`) before the window opens, and stops when
        the app exits.
    :ivar before_build_command: a command ``ramparts build`` runs first, the same way
        (it typically writes the ``ui`` folder).
    """

    url: str | None = None
    before_dev_command: str | None = None
    before_build_command: str | None = None


@attrs.frozen
class BuildConfig:
    """``[tool.ramparts.build]``: what ``ramparts build`` does beyond the defaults.

    :ivar keep: glob patterns under the built app's ``_internal`` folder: files the
        backend's pruning would remove that ship all the same (docs/build.md, "Size").
    """

    keep: tuple[str, ...] = ()


@attrs.frozen
class SingleInstanceConfig:
    """``single_instance``: one running instance per user; a second one hands its
    arguments to it and exits (docs/single-instance.md).

    :ivar windows: the labels of the windows whose pages receive the
        ``ramparts:second-instance`` event; Python's handlers get every one.
    """

    windows: tuple[str, ...] = ()


@attrs.frozen
class AppConfig:
    file: Path
    app_dir: Path
    name: str
    identifier: str
    version: str
    ui: Path
    entry: str
    commands: str | None
    windows: tuple[WindowConfig, ...]
    security: SecurityConfig
    capabilities: Mapping[str, CapabilityConfig]
    #: Event names the page may emit to Python (``ramparts.events.emit``).
    ui_events: frozenset[str]
    dev: DevConfig = DevConfig()
    build: BuildConfig = BuildConfig()
    #: The webview backend's name (one of :data:`BACKEND_NAMES`).
    backend: str = BACKEND_NAMES[0]
    #: ``None`` unless ``single_instance`` is on.
    single_instance: SingleInstanceConfig | None = None
    #: The app's icon: a square PNG of one of :data:`ICON_SIZES` (``None``: no icon).
    icon: Path | None = None
    #: ``[[tool.ramparts.menu]]`` and ``[tool.ramparts.context_menu] items``: the app
    #: menu, and what the page's context menu adds to its editing entries (docs/menus.md).
    menus: Menus = attrs.field(factory=Menus)

    @property
    def window(self) -> WindowConfig:
        """The first (main) window."""
        return self.windows[0]

    def window_named(self, label: str) -> WindowConfig | None:
        return next((w for w in self.windows if w.label == label), None)

    @property
    def origin(self) -> str:
        """The app's origin: the only one that gets answers from the bridge."""
        return f"app://{self.identifier}"


class _Reader:
    """Reads one table and remembers which keys were used, to report unknown ones.

    Values are checked and errors worded by a :class:`ConfigContext`, as a capability
    plugin's are, so every config error reads the same.
    """

    def __init__(self, ctx: ConfigContext, table: Any) -> None:
        if not isinstance(table, dict):
            raise ConfigError(ctx.file, ctx.prefix, table, "a table")
        self.ctx, self.table = ctx, table
        self.used: set[str] = set()

    def error(self, k: str, found: Any, expected: str) -> ConfigError:
        return self.ctx.error(k, found, expected)

    def get(
        self, k: str, kind: type | tuple[type, ...], expected: str, default: Any = MISSING
    ) -> Any:
        self.used.add(k)
        if default is not MISSING and k not in self.table:
            return default
        return self.ctx.require(self.table, k, kind, expected)

    def within(self, k: str, table: Any) -> _Reader:
        """A reader of ``table``, found at ``k`` in this one."""
        return _Reader(attrs.evolve(self.ctx, prefix=f"{self.ctx.prefix}.{k}"), table)

    def sub(self, k: str) -> _Reader:
        self.used.add(k)
        return self.within(k, self.table.get(k, {}))

    def str_list(self, k: str, expected: str, default: Any = MISSING) -> tuple[str, ...]:
        value = self.get(k, list, expected, default)
        if not all(isinstance(v, str) for v in value):
            raise self.error(k, value, expected)
        return tuple(value)

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            close = difflib.get_close_matches(
                unknown[0], sorted(self.used - set(self.table)), 1, 0.75
            )
            hint = f"did you mean {close[0]!r}?" if close else "check the spelling"
            raise self.error(unknown[0], self.table[unknown[0]], f"no such key ({hint})")


def load_config(app_dir: Path | str) -> AppConfig:
    """Load and validate ``[tool.ramparts]`` from ``APP_DIR/pyproject.toml``."""
    app_dir = Path(app_dir).resolve()
    file = app_dir / "pyproject.toml"
    raw = _read_toml(file)
    tool = raw.get("tool", {}).get("ramparts", MISSING)
    if tool is MISSING:
        raise ConfigError(file, "tool.ramparts", MISSING, "a [tool.ramparts] table")
    # The context's identifier is for plugins' per-app folders; the app's own tables are
    # read before it is known (it is one of their keys), so theirs is empty.
    r = _Reader(ConfigContext(file, "tool.ramparts", app_dir, identifier=""), tool)

    name = r.get("name", str, "the app's display name (a string)")
    identifier = r.get("identifier", str, "a reverse-DNS id like 'com.example.app'")
    if not _IDENTIFIER.match(identifier):
        raise r.error("identifier", identifier, "lower-case reverse-DNS like 'com.example.app'")
    dev = _dev(r.sub("dev"))
    build = _build(r.sub("build"))
    ui_rel = r.get("ui", str, "the UI folder, relative to the app folder", "ui")
    ui = (app_dir / ui_rel).resolve()
    entry = r.get("entry", str, "the entry page inside the UI folder", "index.html")
    if entry.startswith("/") or ".." in Path(entry).parts:
        raise r.error("entry", entry, f"a file inside {ui}")
    commands = r.get("commands", str, "a module path like 'myapp.commands'", None)
    if commands is not None and not _MODULE.match(commands):
        raise r.error("commands", commands, "a module path like 'myapp.commands'")
    project_version = str(raw.get("project", {}).get("version", "0.0.0"))
    version = r.get("version", str, "a version string", project_version)
    security, ui_events = _security(r.sub("security")), _ui_events(r.sub("events"))
    capabilities, menus = _capabilities(r.sub("capabilities")), _menus(r)
    windows = _windows(r, name, ui, entry, tuple(capabilities), frozenset(menus.ids()))
    backend, single_instance = _backend(r), _single_instance(r, windows)
    icon = _icon(r, app_dir)
    r.done()

    config = AppConfig(
        file=file,
        app_dir=app_dir,
        name=name,
        identifier=identifier,
        version=version,
        ui=ui,
        entry=entry,
        commands=commands,
        windows=windows,
        security=security,
        capabilities=capabilities,
        ui_events=frozenset(ui_events),
        dev=dev,
        build=build,
        backend=backend,
        single_instance=single_instance,
        icon=icon,
        menus=menus,
    )
    # With a dev server the UI folder is what its build writes: it may not exist yet.
    # Whoever serves from the folder (App.load without dev, build) checks it then.
    if dev.url is None:
        check_ui_folder(config)
    return config


def check_ui_folder(config: AppConfig) -> None:
    """Raise :class:`ConfigError` unless the ``ui`` folder and every window's page exist.

    :func:`load_config` checks this itself unless a dev server is configured.
    """
    build = config.dev.before_build_command
    hint = f"; run the before_build_command ({build}) first" if build else ""
    ui_rel = os.path.relpath(config.ui, config.app_dir)
    if not config.ui.is_dir():
        raise ConfigError(
            config.file,
            "tool.ramparts.ui",
            ui_rel,
            f"an existing folder (looked for {config.ui}{hint})",
        )
    for i, window in enumerate(config.windows):
        if not (config.ui / window.entry).is_file():
            key = (
                "tool.ramparts.entry"
                if len(config.windows) == 1
                else f"tool.ramparts.windows[{i}].entry"
            )
            raise ConfigError(config.file, key, window.entry, f"a file inside {config.ui}{hint}")


def _read_toml(file: Path) -> dict[str, Any]:
    import tomllib  # here, not at the top: importing ramparts need not cost a TOML parser

    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            file, "tool.ramparts", MISSING, "a pyproject.toml in the app folder"
        ) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(file, "(file)", str(e), "valid TOML") from None


def _build(b: _Reader) -> BuildConfig:
    expected = "a list of glob patterns relative to the built app's _internal folder"
    keep = b.str_list("keep", expected, [])
    for pattern in keep:
        if not pattern or pattern.startswith("/") or ".." in Path(pattern).parts:
            raise b.error("keep", pattern, expected)
    b.done()
    return BuildConfig(keep=keep)


def _security(s: _Reader) -> SecurityConfig:
    csp_raw = s.get("csp", (str, dict), "a CSP string or a table of directive = [sources]", {})
    try:
        csp = parse_csp(csp_raw)
    except ValueError as e:
        raise s.error("csp", csp_raw, str(e)) from None
    handles = s.get("handles", str, "'per-session' or 'per-call'", "per-session")
    if handles not in ("per-session", "per-call"):
        raise s.error("handles", handles, "'per-session' or 'per-call'")
    timeout = s.get("command_timeout", (int, float), "seconds, a number > 0", 30.0)
    if timeout <= 0:
        raise s.error("command_timeout", timeout, "seconds, a number > 0")
    security = SecurityConfig(csp=csp, handles=handles, command_timeout=float(timeout))
    s.done()
    return security


_LOOPBACK_HOSTS = ("127.0.0.1", "[::1]", "localhost")


def _backend(r: _Reader) -> str:
    """The backend's name: ``RAMPARTS_BACKEND`` if set, else ``backend``, else Qt."""
    expected = "one of " + ", ".join(repr(n) for n in BACKEND_NAMES)
    backend: str = r.get("backend", str, expected, BACKEND_NAMES[0])
    if backend not in BACKEND_NAMES:
        raise r.error("backend", backend, expected)
    chosen = os.environ.get(BACKEND_ENV)
    if chosen and chosen not in BACKEND_NAMES:
        raise ConfigError(r.ctx.file, BACKEND_ENV, chosen, expected + " (the environment)")
    return chosen or backend


def _dev(d: _Reader) -> DevConfig:
    url = d.get("url", str, "a loopback URL like 'http://127.0.0.1:5173'", None)
    if url is not None:
        url = _dev_url(d, url)
    commands = {
        k: d.get(k, str, "a command and its arguments, run in the app folder", None)
        for k in ("before_dev_command", "before_build_command")
    }
    for key, text in commands.items():
        if text is not None:
            try:
                command_words(text)
            except ValueError as e:
                raise d.error(key, text, str(e)) from None
    if commands["before_dev_command"] is not None and url is None:
        raise d.error("url", MISSING, "the URL the before_dev_command serves")
    d.done()
    return DevConfig(url=url, **commands)


#: Words a shell would read as operators: there is no shell to read them.
_SHELL_WORDS = re.compile(r"^(&&|\|\||[;&|<>]|[0-9]*[<>]{1,2}.*|.*[$`].*)$")


def command_words(text: str) -> list[str]:
    """A ``before_*_command`` as the program and its arguments, split as a shell splits
    words (quotes work). No shell runs it, so ``&&``, pipes, redirections and ``$VAR``
    are refused rather than passed on as arguments: put those in a script (an npm
    script, say) and name that.

    :raises ValueError: an empty command, an unclosed quote, or a shell operator.
    """
    import shlex

    try:
        words = shlex.split(text)
    except ValueError as e:
        raise ValueError(f"a command and its arguments ({e})") from None
    if not words:
        raise ValueError("a command and its arguments (it is empty)")
    shell = [w for w in words if _SHELL_WORDS.match(w)]
    if shell:
        raise ValueError(
            f"a command and its arguments, run with no shell: {shell[0]!r} would reach the "
            "program as an argument; put it in a script (an npm script, say)"
        )
    return words


def _dev_url(d: _Reader, url: str) -> str:
    """``http://<loopback>:<port>`` with no path, query, user or fragment.

    Only loopback: the dev server's pages get the bridge, and a server on another host
    is anyone on the network's to answer. https is refused too: a dev server's
    certificate is self-signed, and nothing crosses a network to need it.
    """
    from urllib.parse import urlsplit

    expected = "a loopback URL like 'http://127.0.0.1:5173' (http, a port, no path)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise d.error("url", url, expected) from None
    host = parts.netloc.rsplit(":", 1)[0] if port is not None else parts.netloc
    if (
        parts.scheme != "http"
        or host not in _LOOPBACK_HOSTS
        or port is None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise d.error("url", url, expected)
    return f"http://{host}:{port}"


def _ui_events(ev: _Reader) -> tuple[str, ...]:
    ui_events = ev.str_list("from_ui", "a list of event names", ())
    for event_name in ui_events:
        if not _EVENT.match(event_name):
            raise ev.error("from_ui", event_name, "names of letters, digits and _.:- (max 64)")
    ev.done()
    return ui_events


def _capabilities(c: _Reader) -> dict[str, CapabilityConfig]:
    capabilities: dict[str, CapabilityConfig] = {}
    for cap_name in c.table:
        c.used.add(cap_name)
        if not CAPABILITY_NAME.match(cap_name):
            raise c.error(cap_name, cap_name, "a capability name (lower-case letters, digits, _)")
        if cap_name in RESERVED_NAMES:
            raise c.error(
                cap_name,
                cap_name,
                f"a name other than {', '.join(sorted(RESERVED_NAMES))} (reserved by the JS API)",
            )
        t = c.sub(cap_name)
        allow = t.str_list("allow", "a list of command names (may be empty)")
        options = {k: v for k, v in t.table.items() if k != "allow"}
        capabilities[cap_name] = CapabilityConfig(name=cap_name, allow=allow, options=options)
    return capabilities


def _windows(
    r: _Reader,
    name: str,
    ui: Path,
    entry: str,
    declared: tuple[str, ...],
    ids: frozenset[str] = frozenset(),
) -> tuple[WindowConfig, ...]:
    remember = r.get("remember_window_state", bool, "true or false", False)
    if "windows" in r.table and "window" in r.table:
        raise r.error(
            "window",
            r.table["window"],
            "either [tool.ramparts.window] or [[tool.ramparts.windows]], not both",
        )
    if "windows" not in r.table:
        w = r.sub("window")
        window = WindowConfig(
            title=w.get("title", str, "a string", name),
            width=_positive(w, "width", 900),
            height=_positive(w, "height", 640),
            resizable=w.get("resizable", bool, "true or false", True),
            entry=entry,
            capabilities=declared,
            web=_web(w),
        )
        window = _window_options(w, window, remember, ids)
        w.done()
        return (window,)
    r.used.add("windows")
    raw = r.table["windows"]
    if not isinstance(raw, list) or not raw:
        raise r.error("windows", raw, "an array of tables: [[tool.ramparts.windows]]")
    windows: list[WindowConfig] = []
    for i, table in enumerate(raw):
        w = r.within(f"windows[{i}]", table)
        window = _listed_window(w, i, windows, name, ui, entry, declared)
        windows.append(_window_options(w, window, remember, ids))
        w.done()
    return tuple(windows)


def _listed_window(
    w: _Reader,
    i: int,
    earlier: list[WindowConfig],
    name: str,
    ui: Path,
    entry: str,
    declared: tuple[str, ...],
) -> WindowConfig:
    """Entry ``i`` of ``[[tool.ramparts.windows]]``; ``earlier`` are the ones before it."""
    label = w.get("label", str, "a label: lower-case letters, digits, - and _")
    if not _LABEL.match(label) or any(x.label == label for x in earlier):
        raise w.error("label", label, "a unique label of lower-case letters, digits, - and _")
    page = w.get("entry", str, "a page inside the UI folder", entry)
    if page.startswith("/") or ".." in Path(page).parts:
        raise w.error("entry", page, f"a file inside {ui}")
    caps = w.str_list("capabilities", "a list of the app's capability names", ())
    for cap in caps:
        if cap not in declared:
            raise w.error(
                "capabilities",
                cap,
                "one of the capabilities declared under "
                f"[tool.ramparts.capabilities]: {', '.join(declared) or 'none'}",
            )
    return WindowConfig(
        title=w.get("title", str, "a string", name),
        width=_positive(w, "width", 900),
        height=_positive(w, "height", 640),
        resizable=w.get("resizable", bool, "true or false", True),
        label=label,
        entry=page,
        capabilities=tuple(caps),
        app_commands=w.get("app_commands", bool, "true or false", True),
        start=w.get("start", bool, "true or false", False) or i == 0,
        web=_web(w),
    )


_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _window_options(
    w: _Reader, window: WindowConfig, remember: bool, ids: frozenset[str] = frozenset()
) -> WindowConfig:
    """The keys of a window's look and placement (docs/capabilities/window.md)."""
    flags = {
        k: w.get(k, bool, "true or false", False)
        for k in ("fullscreen", "maximized", "frameless", "always_on_top", "hidden")
    }
    background = w.get("background", str, "a colour like '#1e1e2e' (#rrggbb)", None)
    if background is not None and not _COLOUR.match(background):
        raise w.error("background", background, "a colour like '#1e1e2e' (#rrggbb)")
    min_size, max_size = _size_limit(w, "min", window), _size_limit(w, "max", window)
    if min_size is not None and max_size is not None:
        for i, k in enumerate(("width", "height")):
            if min_size[i] > max_size[i]:
                raise w.error(f"max_{k}", max_size[i], f"at least min_{k} ({min_size[i]})")
    return attrs.evolve(
        window,
        min_size=min_size,
        max_size=max_size,
        position=_position(w),
        background=background.lower() if background is not None else None,
        remember_state=w.get("remember_state", bool, "true or false", remember),
        menu_events=_menu_events(w, ids),
        **flags,
    )


def _menu_events(w: _Reader, ids: frozenset[str]) -> tuple[str, ...]:
    """``menu_events``: ids of the app's menu items (docs/menus.md). Without menus in
    the config, ``@build_menus`` may declare them: ``App.load`` checks the ids then."""
    expected = "ids of items of [[tool.ramparts.menu]] or [tool.ramparts.context_menu]"
    names = w.str_list("menu_events", f"a list of {expected}", ())
    for item_id in names:
        if not MENU_ID.match(item_id) or (ids and item_id not in ids):
            raise w.error(
                "menu_events", item_id, f"one of the {expected}: {', '.join(sorted(ids)) or 'none'}"
            )
    return tuple(dict.fromkeys(names))


def _menus(r: _Reader) -> Menus:
    """The app menu and the context menu's items; every item id once across both."""
    menu = read_menu(r.ctx, r.get("menu", list, "[[tool.ramparts.menu]] tables", []), "menu")
    c = r.sub("context_menu")
    context = read_menu_items(
        c.ctx, c.get("items", list, "a list of tables", []), "items", accelerators=False
    )
    c.done()
    check_unique(r.ctx, "menu", menu + context)
    return Menus(menu, context)


def _size_limit(w: _Reader, end: str, window: WindowConfig) -> tuple[int, int] | None:
    """``min_width``/``min_height`` or ``max_...``: both or neither; the window's own
    ``width``/``height`` must lie within them."""
    keys = (f"{end}_width", f"{end}_height")
    given = [k for k in keys if k in w.table]
    if not given:
        return None
    if len(given) == 1:
        missing = keys[1] if given[0] == keys[0] else keys[0]
        raise w.error(missing, MISSING, f"a whole number of pixels > 0 (with {given[0]})")
    width, height = (_positive(w, k, 0) for k in keys)
    for k, limit, size in ((keys[0], width, window.width), (keys[1], height, window.height)):
        if (end == "min" and limit > size) or (end == "max" and limit < size):
            side = "at most" if end == "min" else "at least"
            dimension = k.split("_")[1]
            raise w.error(k, limit, f"{side} the window's {dimension} ({size})")
    return width, height


def _position(w: _Reader) -> tuple[int, int] | None:
    """``x`` and ``y`` (both or neither), or ``center = true`` (the default)."""
    center = w.get("center", bool, "true or false", None)
    given = [k for k in ("x", "y") if k in w.table]
    if not given:
        return None
    if center:
        raise w.error("center", center, "false or absent when x and y are given")
    if len(given) == 1:
        missing = "y" if given[0] == "x" else "x"
        raise w.error(missing, MISSING, f"a whole number of pixels (with {given[0]})")
    x, y = (w.get(k, int, "a whole number of pixels") for k in ("x", "y"))
    return x, y


def _web(w: _Reader) -> tuple[str, ...]:
    names = w.str_list("web", "a list of web permission names", ())
    for web_name in names:
        if web_name not in WEB_PERMISSIONS:
            raise w.error("web", web_name, "one of " + ", ".join(WEB_PERMISSIONS))
    return tuple(dict.fromkeys(names))


def _single_instance(r: _Reader, windows: tuple[WindowConfig, ...]) -> SingleInstanceConfig | None:
    """``single_instance = true``, or a table whose ``windows`` grant pages the event."""
    expected = "true, false, or a table: { windows = [window labels] }"
    raw = r.get("single_instance", (bool, dict), expected, False)
    if isinstance(raw, bool):
        return SingleInstanceConfig() if raw else None
    s = r.within("single_instance", raw)
    labels = s.str_list("windows", "a list of window labels", ())
    known = [w.label for w in windows]
    for label in labels:
        if label not in known:
            raise s.error("windows", label, "labels of the app's windows: " + ", ".join(known))
    s.done()
    return SingleInstanceConfig(windows=tuple(dict.fromkeys(labels)))


#: The sizes of the freedesktop hicolor theme's ``apps`` folders: an icon of another
#: size would never be found there.
ICON_SIZES = (16, 22, 24, 32, 36, 48, 64, 72, 96, 128, 192, 256, 512)
_PNG = b"\x89PNG\r\n\x1a\n"


def png_size(file: Path) -> tuple[int, int] | None:
    """A PNG file's width and height from its header, or ``None`` if it is not a PNG."""
    with open(file, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or not head.startswith(_PNG) or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def _icon(r: _Reader, app_dir: Path) -> Path | None:
    """``icon``: a square PNG of a hicolor size, relative to the app folder."""
    sizes = ", ".join(map(str, ICON_SIZES))
    expected = f"a square PNG file of {sizes} pixels, relative to the app folder"
    value: str | None = r.get("icon", str, expected, None)
    if value is None:
        return None
    if not value or Path(value).is_absolute() or ".." in Path(value).parts:
        raise r.error("icon", value, f"{expected}, inside it")
    file = app_dir / value
    try:
        size = png_size(file)
    except OSError as e:
        raise r.error("icon", value, f"{expected} (cannot read {file}: {e.strerror})") from None
    if size is None:
        raise r.error("icon", value, f"{expected} ({file} is not a PNG file)")
    if size[0] != size[1] or size[0] not in ICON_SIZES:
        raise r.error("icon", value, f"{expected} ({file} is {size[0]}x{size[1]})")
    return file


def _positive(r: _Reader, k: str, default: int) -> int:
    value: int = r.get(k, int, "a whole number of pixels > 0", default)
    if value <= 0:
        raise r.error(k, value, "a whole number of pixels > 0")
    return value
