"""Internal. A window's menu bar and its page's context menu on Qt (docs/menus.md).

Qt WebEngine's own context menu (``createStandardContextMenu``) offers back, forward,
reload, "view source", "save page", "open link in new window" and, with a DevTools
page, the inspector. None of it is shown: the view's context menu is Ramparts' own,
built on each request from the editing entries and the app's declared items.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWebEngineCore import QWebEnginePage
from PyQt6.QtWebEngineWidgets import QWebEngineView
from PyQt6.QtWidgets import QMainWindow, QMenu, QMenuBar

from ramparts.backends import WindowMenus

if TYPE_CHECKING:
    from ramparts.menuconfig import MenuItem

__all__ = ["install_menus", "shortcut"]

_A = QWebEnginePage.WebAction
#: What a click on editable content offers, and on a selection elsewhere.
_EDITING = ((_A.Cut, "Cut"), (_A.Copy, "Copy"), (_A.Paste, "Paste"), (_A.SelectAll, "Select All"))
_SELECTION = ((_A.Copy, "Copy"),)
#: The config's key names (ramparts.menuconfig) as Qt's portable text spells them.
_QT_KEYS = {
    "Super": "Meta", "Enter": "Return", "Escape": "Esc", "Delete": "Del", "Insert": "Ins",
    "PageUp": "PgUp", "PageDown": "PgDown", "Plus": "+", "Minus": "-", "Comma": ",",
    "Period": ".",
}  # fmt: skip


def shortcut(accelerator: str) -> QKeySequence:
    """``'Ctrl+Shift+O'`` (the config's spelling) as a Qt key sequence."""
    *mods, key = accelerator.split("+")
    words = [_QT_KEYS.get(w, w) for w in (*mods, key)]
    return QKeySequence.fromString("+".join(words), QKeySequence.SequenceFormat.PortableText)


def install_menus(
    window: QMainWindow, view: QWebEngineView, page: QWebEnginePage, menus: WindowMenus,
    inspect: bool,
) -> None:  # fmt: skip
    """Give ``window`` the app menu and ``view`` Ramparts' context menu (GUI thread).

    :param inspect: the context menu also offers the inspector (``--devtools``).
    """
    if menus.bar:
        bar = window.menuBar()
        assert bar is not None
        bar.setNativeMenuBar(False)  # in the window, as on Linux and Windows
        for item in menus.bar:
            _add(bar, item, menus.chosen, "app")
    view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def requested(pos: QPoint) -> None:
        menu = context_menu(view, page, menus, inspect)
        if menu.isEmpty():
            menu.deleteLater()
            return
        menu.popup(view.mapToGlobal(pos))

    view.customContextMenuRequested.connect(requested)


def context_menu(
    view: QWebEngineView, page: QWebEnginePage, menus: WindowMenus, inspect: bool
) -> QMenu:
    """The context menu for what the engine says was clicked: the editing entries it
    enables there, then the app's items. Deleted once closed."""
    menu = QMenu(view)
    menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    request = view.lastContextMenuRequest()
    editable = request is not None and request.isContentEditable()
    selected = request is not None and bool(request.selectedText())
    for action, label in _EDITING if editable else _SELECTION if selected else ():
        engine = page.action(action)
        entry = menu.addAction(label)
        assert entry is not None
        entry.setEnabled(engine is not None and engine.isEnabled())
        # Through the page's triggerAction, which keeps pasted files from the page
        # unless the window grants file-drop.
        entry.triggered.connect(lambda _=False, a=action: page.triggerAction(a))
    if menus.context:
        if not menu.isEmpty():
            menu.addSeparator()
        for item in menus.context:
            _add(menu, item, menus.chosen, "context")
    if inspect:
        if not menu.isEmpty():
            menu.addSeparator()
        entry = menu.addAction("Inspect")
        assert entry is not None
        entry.triggered.connect(lambda: page.triggerAction(_A.InspectElement))
    return menu


def _add(
    parent: QMenu | QMenuBar,
    item: MenuItem,
    chosen: Callable[[str, str], None] | None,
    kind: str,
) -> None:
    label = item.label.replace("&", "&&")  # no mnemonic: the label is shown as written
    if item.items is not None:
        sub = parent.addMenu(label)
        assert sub is not None
        sub.setEnabled(item.enabled)
        for child in item.items:
            _add(sub, child, chosen, kind)
        return
    if item.id is None:
        parent.addSeparator()
        return
    action = QAction(label, parent)
    action.setData(item.id)
    action.setEnabled(item.enabled)
    if item.accelerator is not None:
        action.setShortcut(shortcut(item.accelerator))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    if chosen is not None:
        item_id = item.id
        action.triggered.connect(lambda _=False: chosen(item_id, kind))
    parent.addAction(action)
