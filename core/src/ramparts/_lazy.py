"""Internal: names a package exports but imports only on first use (PEP 562).

``ramparts`` and ``ramparts.toolkit`` use it so that ``import ramparts`` does not pay
for the bridge or the scopes before an app needs them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(
    package: str, where: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``name`` is imported from the module
    ``where[name]`` on first use and kept in ``namespace`` (the package's globals), so
    later look-ups do not come back here."""

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name]), name)
        namespace[name] = value
        return value

    return __getattr__
