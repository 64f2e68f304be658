"""``[tool.ramparts.capabilities.fs]``: the path scope and the read limit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ramparts import ConfigContext
from ramparts.toolkit import PathScope

__all__ = ["DEFAULT_MAX_READ", "FsState", "configure"]

DEFAULT_MAX_READ = 64 * 1024 * 1024


@attrs.frozen
class FsState:
    scope: PathScope
    max_read_bytes: int


def configure(table: Mapping[str, Any], ctx: ConfigContext) -> FsState:
    ctx.check_keys(table, ("scope", "max_read_bytes"))
    cap = ctx.whole_number(table, "max_read_bytes", DEFAULT_MAX_READ, unit="bytes")
    return FsState(PathScope.from_config(table, ctx), cap)
