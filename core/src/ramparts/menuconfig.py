"""``[[tool.ramparts.menu]]`` and ``[tool.ramparts.context_menu]``: the menus an app
declares, read into frozen attrs classes (docs/menus.md).

Internal module: ``config.py`` reads these tables with it; apps get the result as
``AppConfig.menu`` and ``AppConfig.context_menu``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

from ramparts.errors import MISSING
from ramparts.toolkit.configtable import ConfigContext

__all__ = [
    "MENU_ID",
    "MenuItem",
    "Menus",
    "accelerator",
    "check_menus",
    "check_unique",
    "menu_ids",
    "read_menu",
    "read_menu_items",
    "walk",
]

#: An item's ``id``: what the event names (``@on_menu``, ``ramparts:menu``).
MENU_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$")
_ID_EXPECTED = "an id of letters, digits and _.:- (max 64), unique among the app's menus"
_MODIFIERS = {"ctrl": "Ctrl", "shift": "Shift", "alt": "Alt", "super": "Super"}
#: The keys an accelerator may name besides letters, digits and F1-F24, as both
#: toolkits spell them.
_KEYS = (
    "Enter", "Escape", "Tab", "Space", "Backspace", "Delete", "Insert", "Home", "End",
    "PageUp", "PageDown", "Up", "Down", "Left", "Right", "Plus", "Minus", "Comma", "Period",
)  # fmt: skip
_KEY_NAMES = {k.lower(): k for k in _KEYS}
_ACCELERATOR_EXPECTED = (
    "modifiers and one key joined by '+', like 'Ctrl+Shift+O' (modifiers: Ctrl, Shift, "
    "Alt, Super; keys: A-Z, 0-9, F1-F24, " + ", ".join(_KEYS) + ")"
)
_ITEM_KEYS = ("id", "label", "accelerator", "enabled", "items", "separator")


@attrs.frozen
class MenuItem:
    """One entry of a menu: an item (``id``), a submenu (``items``) or a separator.

    :ivar id: what choosing the item raises (``None`` for a submenu or a separator).
    :ivar label: the text shown (empty for a separator).
    :ivar accelerator: the key that chooses it in its window, as ``'Ctrl+Shift+O'``
        (app menu only; ``None``: none).
    :ivar enabled: a disabled item is shown greyed and raises nothing.
    :ivar items: a submenu's entries (``None`` for an item or a separator).
    """

    id: str | None = None
    label: str = ""
    accelerator: str | None = None
    enabled: bool = True
    items: tuple[MenuItem, ...] | None = None

    @property
    def is_separator(self) -> bool:
        return self.id is None and self.items is None

    @classmethod
    def item(
        cls, id: str, label: str, *, accelerator: str | None = None, enabled: bool = True
    ) -> MenuItem:
        """An item: choosing it raises a menu event with ``id``."""
        return cls(id=id, label=label, accelerator=accelerator, enabled=enabled)

    @classmethod
    def submenu(cls, label: str, items: Sequence[MenuItem], *, enabled: bool = True) -> MenuItem:
        return cls(label=label, enabled=enabled, items=tuple(items))

    @classmethod
    def separator(cls) -> MenuItem:
        return cls()

    def to_table(self) -> dict[str, Any]:
        """The config table this entry stands for (what :func:`check_menus` reads)."""
        if self.is_separator:
            return {"separator": True}
        table: dict[str, Any] = {"label": self.label, "enabled": self.enabled}
        if self.items is not None:
            return {**table, "items": [i.to_table() for i in self.items]}
        if self.accelerator is not None:
            table["accelerator"] = self.accelerator
        return {**table, "id": self.id}


def _entries(items: Sequence[MenuItem]) -> tuple[MenuItem, ...]:
    return tuple(items)


@attrs.frozen
class Menus:
    """An app's menus, as ``@build_menus`` returns them (docs/menus.md).

    :ivar menu: the app menu's submenus, in menu bar order.
    :ivar context_menu: the items the page's context menu adds to the editing entries.
    """

    menu: tuple[MenuItem, ...] = attrs.field(default=(), converter=_entries)
    context_menu: tuple[MenuItem, ...] = attrs.field(default=(), converter=_entries)

    def ids(self) -> list[str]:
        """Every item id, in order."""
        return menu_ids(self.menu + self.context_menu)


def check_menus(menus: Menus, ctx: ConfigContext) -> Menus:
    """``menus`` checked as the config's tables are (errors name ``ctx``'s keys), with
    the accelerators in their one spelling."""
    menu = read_menu(ctx, [m.to_table() for m in menus.menu], "menu")
    context = read_menu_items(
        ctx, [m.to_table() for m in menus.context_menu], "context_menu", accelerators=False
    )
    check_unique(ctx, "menu", menu + context)
    return Menus(menu, context)


def check_unique(ctx: ConfigContext, key: str, items: tuple[MenuItem, ...]) -> None:
    """Every item id once among ``items`` (submenus' included)."""
    seen: set[str] = set()
    for item_id in menu_ids(items):
        if item_id in seen:
            raise ctx.error(key, item_id, f"unique item ids ({item_id!r} is used twice)")
        seen.add(item_id)


def accelerator(text: str) -> str | None:
    """``text`` in its one spelling (``'ctrl+o'`` is ``'Ctrl+O'``), or ``None`` if it is
    not an accelerator: modifiers, each once, then one key."""
    parts = text.split("+")
    if text.endswith("++"):  # 'Ctrl++': the plus key
        parts = [*parts[:-2], "Plus"]
    *mods, key = [p.strip() for p in parts]
    names = [_MODIFIERS.get(m.lower()) for m in mods]
    if None in names or len(set(names)) != len(names):
        return None
    lower = key.lower()
    if len(key) == 1 and key.isascii() and key.isalnum():
        key = key.upper()
    elif re.fullmatch(r"f([1-9]|1[0-9]|2[0-4])", lower):
        key = lower.upper()
    elif lower in _KEY_NAMES:
        key = _KEY_NAMES[lower]
    else:
        return None
    order = list(_MODIFIERS.values())
    return "+".join([*sorted((n for n in names if n), key=order.index), key])


def read_menu(ctx: ConfigContext, raw: Any, key: str) -> tuple[MenuItem, ...]:
    """``[[tool.ramparts.menu]]``: the app menu, a list of submenus (``label`` and
    ``items``) in the order the menu bar shows them."""
    if not isinstance(raw, list):
        raise ctx.error(key, raw, "an array of tables: [[tool.ramparts.menu]]")
    for i, table in enumerate(raw):
        if isinstance(table, Mapping) and "items" not in table:
            raise ctx.error(f"{key}[{i}].items", MISSING, "the menu's items (a list of tables)")
    return read_menu_items(ctx, raw, key, accelerators=True)


def read_menu_items(
    ctx: ConfigContext, raw: Any, key: str, *, accelerators: bool
) -> tuple[MenuItem, ...]:
    """A list of menu entries at ``key`` (each a table with ``_ITEM_KEYS``)."""
    if not isinstance(raw, list):
        raise ctx.error(key, raw, "a list of tables: { id = ..., label = ... }")
    return tuple(_item(ctx, table, f"{key}[{i}]", accelerators) for i, table in enumerate(raw))


def _item(ctx: ConfigContext, table: Any, key: str, accelerators: bool) -> MenuItem:
    if not isinstance(table, Mapping):
        raise ctx.error(key, table, "a table: { id = ..., label = ... } or { separator = true }")
    at = attrs.evolve(ctx, prefix=f"{ctx.prefix}.{key}")
    at.check_keys(table, _ITEM_KEYS)
    if table.get("separator", False) is not False:
        if table["separator"] is not True or set(table) != {"separator"}:
            raise at.error("separator", table, "{ separator = true } and no other key")
        return MenuItem()
    label = at.require(table, "label", str, "the text shown (a non-empty string)")
    if not label.strip():
        raise at.error("label", label, "the text shown (a non-empty string)")
    enabled = at.require(table, "enabled", bool, "true or false") if "enabled" in table else True
    if "items" in table:
        for k in ("id", "accelerator"):
            if k in table:
                raise at.error(k, table[k], f"no {k} on a submenu (it has items)")
        items = read_menu_items(ctx, table["items"], f"{key}.items", accelerators=accelerators)
        return MenuItem(label=label, enabled=enabled, items=items)
    item_id = table.get("id", MISSING)
    if not isinstance(item_id, str) or not MENU_ID.match(item_id):
        raise at.error("id", item_id, _ID_EXPECTED)
    shortcut = _accelerator(at, table.get("accelerator"), accelerators)
    return MenuItem(id=item_id, label=label, accelerator=shortcut, enabled=enabled)


def _accelerator(at: ConfigContext, raw: Any, allowed: bool) -> str | None:
    if raw is None:
        return None
    if not allowed:
        raise at.error("accelerator", raw, "no accelerator (only the app menu has them)")
    spelled = accelerator(raw) if isinstance(raw, str) else None
    if spelled is None:
        raise at.error("accelerator", raw, _ACCELERATOR_EXPECTED)
    return spelled


def walk(items: tuple[MenuItem, ...]) -> Iterator[MenuItem]:
    """Every entry of ``items``, submenus' entries included, depth first."""
    for item in items:
        yield item
        if item.items is not None:
            yield from walk(item.items)


def menu_ids(items: tuple[MenuItem, ...]) -> list[str]:
    """The ids of ``items``' items, in order, repeats included."""
    return [item.id for item in walk(items) if item.id is not None]
