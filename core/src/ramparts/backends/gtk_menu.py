"""Internal. A window's menu bar and its page's context menu on GTK (docs/menus.md).

WebKitGTK builds its context menu in the ``context-menu`` signal's menu: back,
forward, stop, reload, "open link in new window", "download", spelling guesses,
"inspect element" and more. Ramparts keeps only the editing entries (and the
inspector with ``--devtools``), then adds the app's declared items.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("WebKit2", "4.1")
from gi.repository import Gio, GObject, Gtk, WebKit2  # noqa: E402

from ramparts.backends import WindowMenus  # noqa: E402

if TYPE_CHECKING:
    from ramparts.menuconfig import MenuItem

__all__ = ["install_menus", "keep_entries"]

_S = WebKit2.ContextMenuAction
#: The engine's entries a page's context menu keeps: editing only.
_EDITING = frozenset({_S.CUT, _S.COPY, _S.PASTE, _S.PASTE_AS_PLAIN_TEXT, _S.DELETE, _S.SELECT_ALL})
#: The config's modifier and key names (ramparts.menuconfig) as GTK spells them.
_GTK_MODIFIERS = {"Ctrl": "<Control>", "Shift": "<Shift>", "Alt": "<Alt>", "Super": "<Super>"}
_GTK_KEYS = {
    "Enter": "Return", "Space": "space", "Backspace": "BackSpace", "PageUp": "Page_Up",
    "PageDown": "Page_Down", "Plus": "plus", "Minus": "minus", "Comma": "comma",
    "Period": "period",
}  # fmt: skip


def accelerator(text: str) -> tuple[int, Any]:
    """``'Ctrl+Shift+O'`` (the config's spelling) as GTK's key and modifiers."""
    *mods, key = text.split("+")
    key = _GTK_KEYS.get(key, key.lower() if len(key) == 1 else key)
    keyval, modifiers = Gtk.accelerator_parse("".join(_GTK_MODIFIERS[m] for m in mods) + key)
    return keyval, modifiers


def install_menus(window: Gtk.Window, view: Any, menus: WindowMenus, inspect: bool) -> None:
    """Give ``window`` the app menu and ``view`` Ramparts' context menu (GUI thread).

    :param inspect: the context menu also keeps the inspector's entry (``--devtools``).
    """
    # pywebview's own handler hides every context menu (and would stop ours): replace it.
    signal = GObject.signal_lookup("context-menu", type(view))
    # (g_signal_handlers_disconnect_matched ignores a match by signal alone.)
    while handler := GObject.signal_handler_find(
        view, GObject.SignalMatchType.ID, signal, 0, None, None, None
    ):
        GObject.signal_handler_disconnect(view, handler)
    view.connect("context-menu", _context_menu(menus, inspect))
    if menus.bar:
        _menu_bar(window, menus)


def keep_entries(menu: Any, inspect: bool) -> None:
    """Remove every entry of WebKit's ``menu`` but the editing ones (and the inspector's
    when ``inspect``)."""
    keep = _EDITING | ({_S.INSPECT_ELEMENT} if inspect else set())
    kept = [i for i in menu.get_items() if not i.is_separator() and i.get_stock_action() in keep]
    menu.remove_all()
    for item in kept:
        menu.append(item)


def _context_menu(menus: WindowMenus, inspect: bool) -> Callable[..., bool]:
    def context_menu(_view: Any, menu: Any, _event: Any, _hit: Any) -> bool:
        keep_entries(menu, inspect)
        if menus.context:
            if menu.get_n_items():
                menu.append(WebKit2.ContextMenuItem.new_separator())
            for item in menus.context:
                menu.append(_context_item(item, menus.chosen))
        empty: bool = menu.get_n_items() == 0
        return empty  # True: nothing to show, no menu

    return context_menu


def _context_item(item: MenuItem, chosen: Callable[[str, str], None] | None) -> Any:
    if item.items is not None:
        sub = WebKit2.ContextMenu.new()
        for child in item.items:
            sub.append(_context_item(child, chosen))
        return WebKit2.ContextMenuItem.new_with_submenu(item.label, sub)
    if item.id is None:
        return WebKit2.ContextMenuItem.new_separator()
    action = Gio.SimpleAction.new(f"ramparts-menu-{item.id}", None)
    action.set_enabled(item.enabled)
    if chosen is not None:
        item_id = item.id
        action.connect("activate", lambda *_: chosen(item_id, "context"))
    return WebKit2.ContextMenuItem.new_from_gaction(action, item.label, None)


def _menu_bar(window: Gtk.Window, menus: WindowMenus) -> None:
    """A menu bar above pywebview's content, with the accelerators on the window."""
    content = window.get_child()
    box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL)
    accels = Gtk.AccelGroup()
    window.add_accel_group(accels)
    bar = Gtk.MenuBar()
    for item in menus.bar:
        bar.append(_gtk_item(item, menus.chosen, accels))
    if content is not None:
        window.remove(content)
    box.pack_start(bar, False, False, 0)
    if content is not None:
        box.pack_start(content, True, True, 0)
    window.add(box)
    box.show_all()


def _gtk_item(
    item: MenuItem, chosen: Callable[[str, str], None] | None, accels: Gtk.AccelGroup
) -> Gtk.MenuItem:
    if item.id is None and item.items is None:
        return Gtk.SeparatorMenuItem()
    entry = Gtk.MenuItem(label=item.label, use_underline=False)
    entry.set_sensitive(item.enabled)
    if item.items is not None:
        sub = Gtk.Menu()
        sub.set_accel_group(accels)
        for child in item.items:
            sub.append(_gtk_item(child, chosen, accels))
        entry.set_submenu(sub)
        return entry
    item_id = item.id or ""  # an item (not a submenu or separator) always has one
    entry.ramparts_id = item_id  # what tests read back
    if item.accelerator is not None:
        key, mods = accelerator(item.accelerator)
        entry.add_accelerator("activate", accels, key, mods, Gtk.AccelFlags.VISIBLE)
    if chosen is not None:
        # activate() fires on an insensitive item too: a disabled item raises nothing.
        entry.connect("activate", lambda e: e.get_sensitive() and chosen(item_id, "app"))
    return entry
