"""Reading a capability's config table with errors that say where they are."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from ramparts.errors import MISSING, ConfigError

__all__ = ["ConfigContext"]


@attrs.frozen
class ConfigContext:
    """Where a capability's config came from, so its errors can say where they are.

    :ivar file: the app's ``pyproject.toml``.
    :ivar prefix: the dotted key of the capability's table, e.g.
        ``tool.ramparts.capabilities.fs``.
    :ivar app_dir: the app's folder.
    :ivar identifier: the app's identifier (keys per-app directories).
    """

    file: Path
    prefix: str
    app_dir: Path
    identifier: str

    def error(self, key: str, found: Any, expected: str) -> ConfigError:
        """A :class:`ConfigError` for ``key`` under this capability's table."""
        return ConfigError(self.file, f"{self.prefix}.{key}", found, expected)

    def require(
        self, table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], expected: str
    ) -> Any:
        """``table[key]`` if it is a ``kind`` (or one of a tuple of kinds), else a
        :class:`ConfigError` naming it. ``true``/``false`` pass only where ``bool`` is a kind
        (to Python a bool is an int)."""
        value = table.get(key, MISSING)
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if value is MISSING and (stray := _closest(key, set(table))):
            # A missing key beside a misspelt one: the typo is the fix, not the default.
            expected = f"{expected}; found {stray!r} instead: did you mean {key!r}?"
        if (
            value is MISSING
            or not isinstance(value, kind)
            or (isinstance(value, bool) and bool not in kinds)
        ):
            raise self.error(key, value, expected)
        return value

    def check_keys(
        self, table: Mapping[str, Any], allowed: Iterable[str], where: str | None = None
    ) -> None:
        """Refuse the first key of ``table`` (alphabetically) that ``allowed`` lacks.

        :param where: the key of ``table`` itself when it is a sub-table (``"scope"``),
            so the error names ``scope.alow``, not ``alow``.
        """
        known = tuple(allowed)
        unknown = sorted(set(table) - set(known))
        if unknown:
            key = unknown[0] if where is None else f"{where}.{unknown[0]}"
            close = _closest(unknown[0], set(known) - set(table))
            hint = f"did you mean {close!r}? " if close else ""
            raise self.error(
                key, table[unknown[0]], f"no such key ({hint}known: {', '.join(known)})"
            )

    def whole_number(
        self,
        table: Mapping[str, Any],
        key: str,
        default: int,
        *,
        minimum: int = 1,
        maximum: int | None = None,
        unit: str = "",
    ) -> int:
        """``table[key]`` (or ``default``) as an int in ``minimum..maximum``.

        :param unit: what is counted, for the message: ``"bytes"`` reads "a whole
            number of bytes > 0".
        """
        value = table.get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < minimum
            or (maximum is not None and value > maximum)
        ):
            what = f"a whole number of {unit}" if unit else "a whole number"
            raise self.error(key, value, _range(what, minimum, maximum, above=minimum - 1))
        return value

    def seconds(
        self,
        table: Mapping[str, Any],
        key: str,
        default: float,
        *,
        maximum: float | None = None,
        unlimited: bool = False,
    ) -> float:
        """``table[key]`` (or ``default``) as a finite number of seconds > 0.

        :param unlimited: also accept the string ``"none"``, meaning no limit
            (``math.inf``); only where a config may turn the limit off explicitly.
        """
        if key not in table:
            return float(default)  # the caller's (an inherited "none" is math.inf)
        value = table[key]
        if unlimited and value == "none":
            return math.inf
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value <= 0
            or (maximum is not None and value > maximum)
        ):
            expected = _range("a number of seconds", 0, maximum, above=0)
            raise self.error(key, value, expected + (', or "none"' if unlimited else ""))
        return float(value)

    def flag(self, table: Mapping[str, Any], key: str, default: bool) -> bool:
        """``table[key]`` (or ``default``) if it is ``true`` or ``false``."""
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, value, "true or false")
        return value


def _range(what: str, low: float, high: float | None, *, above: float) -> str:
    """``"a whole number > 0"`` or ``"a whole number, 0 to 50"`` for an error message."""
    if high is None:
        return f"{what} > {above:g}"
    if low > above:
        return f"{what}, {low:g} to {high:g}"
    return f"{what} > {above:g} and <= {high:g}"


def _closest(word: str, candidates: Iterable[str]) -> str | None:
    """The one of ``candidates`` that ``word`` is most likely a misspelling of, if any."""
    found = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.75)
    return found[0] if found else None
