"""JSON values compared with their types: ``1 == 1.0`` and ``0.0 == -0.0`` in Python."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["typed"]


def typed(value: Any) -> Any:
    """``value`` with each leaf's type beside it: ``1 == 1.0`` and ``0.0 == -0.0`` in
    Python, but an int read as a float (orjson does so past 64 bits) is another value."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    if isinstance(value, float):
        return ("float", value, math.copysign(1.0, value))
    return (type(value).__name__, value)
