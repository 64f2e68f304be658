"""{{ cookiecutter.description }}

``example`` is the template's example command (the size and first lines of a text file
inside a declared scope): replace it with this capability's own commands, keeping what
it shows. Its parts are the ones every command needs: typed arguments and result, a
config key checked by the core's :class:`ramparts.toolkit.ConfigContext`, a path scope,
and the error codes the page sees.

Every path goes through the core's scope engine (:class:`ramparts.toolkit.PathScope`: no
``..``, symlinks resolved, deny wins, nothing allowed by default, plus the session's
run-time grants), and every open proves the descriptor is the file that was checked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, TypedDict

import attrs
import ramparts
from ramparts import CallContext, Capability, InvalidArgs, TooLarge, command
from ramparts.toolkit import ConfigContext, PathScope, open_checked

__all__ = ["Example", "State", "configure", "example", "ramparts_capability"]

DEFAULT_MAX_BYTES = 1024 * 1024


@attrs.frozen
class State:
    """The parsed config: what every command receives as ``ctx.state``."""

    scope: PathScope
    max_bytes: int


def configure(table: Mapping[str, Any], ctx: ConfigContext) -> State:
    """Parse ``[tool.ramparts.capabilities.{{ cookiecutter.capability }}]`` (all but ``allow``).

    Errors go through ``ctx`` so they name the file and the exact key.
    """
    ctx.check_keys(table, ("scope", "max_bytes"))
    max_bytes = ctx.whole_number(table, "max_bytes", DEFAULT_MAX_BYTES, unit="bytes")
    return State(PathScope.from_config(table, ctx), max_bytes)


class Example(TypedDict):
    """What ``example`` returns: a TypedDict reaches the page as a JSON object."""

    size: int
    lines: list[str]


@command
def example(ctx: CallContext[State], path: str, count: int = 10) -> Example:
    """The size and first ``count`` lines of a text file inside the scope.

    The bridge has already checked the argument types (``count`` is an integer, never
    ``"3"`` or ``true``); a value the types allow but the command does not is
    ``InvalidArgs``. The scope check happens here, before the file is opened.
    """
    if count < 1:
        raise InvalidArgs(f"count: expected 1 or more lines, found {count}")
    state = ctx.state
    canonical = state.scope.resolve(path, ctx.grants)
    fd = open_checked(canonical, os.O_RDONLY)
    with os.fdopen(fd, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > state.max_bytes:
            raise TooLarge(f"{path} is {size} bytes; this app reads at most {state.max_bytes}")
        # Never past the limit, even if the file has grown since the fstat.
        text = f.read(state.max_bytes).decode("utf-8", errors="replace")
    return {"size": size, "lines": text.splitlines()[:count]}


@ramparts.hookimpl
def ramparts_capability() -> Capability:
    """Called once when an app that declares this capability starts."""
    return Capability(
        name="{{ cookiecutter.capability }}",
        commands=[example],
        configure=configure,
        description={{ cookiecutter.description | tojson }},
    )
