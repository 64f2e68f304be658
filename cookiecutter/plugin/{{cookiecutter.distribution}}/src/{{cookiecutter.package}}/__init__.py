"""{{ cookiecutter.description }}

``digest`` is the template's example command, the checksum of a file inside a declared
scope: replace it with this capability's own commands (see README.md).

Every path goes through the core's scope engine (:class:`ramparts.toolkit.PathScope`: no
``..``, symlinks resolved, deny wins, nothing allowed by default, plus the session's
run-time grants), and every open proves the descriptor is the file that was checked.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any, Literal, TypedDict

import attrs
import ramparts
from ramparts import CallContext, Capability, TooLarge, command
from ramparts.toolkit import ConfigContext, PathScope, open_checked

__all__ = ["Digest", "State", "configure", "digest", "ramparts_capability"]

DEFAULT_MAX_BYTES = 256 * 1024 * 1024


@attrs.frozen
class State:
    """The parsed config: what every command receives as ``ctx.state``."""

    scope: PathScope
    max_bytes: int


def configure(table: Mapping[str, Any], ctx: ConfigContext) -> State:
    """Parse ``[tool.ramparts.capabilities.{{ cookiecutter.capability }}]`` (all but ``allow``).

    Errors go through ``ctx.error`` so they name the file and the exact key.
    """
    ctx.check_keys(table, ("scope", "max_bytes"))
    max_bytes = ctx.whole_number(table, "max_bytes", DEFAULT_MAX_BYTES, unit="bytes")
    return State(PathScope.from_config(table, ctx), max_bytes)


class Digest(TypedDict):
    """What ``digest`` returns: a TypedDict reaches the page as a JSON object."""

    algorithm: str
    hexdigest: str
    size: int


@command
def digest(
    ctx: CallContext[State], path: str, algorithm: Literal["sha256", "blake2b"] = "sha256"
) -> Digest:
    """The checksum of a file inside the scope.

    The bridge has already checked the argument types (``algorithm`` can only be one of
    the two names); the scope check happens here, before the file is opened.
    """
    state = ctx.state
    canonical = state.scope.resolve(path, ctx.grants)
    fd = open_checked(canonical, os.O_RDONLY)
    with os.fdopen(fd, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > state.max_bytes:
            raise TooLarge(f"{path} is {size} bytes; this app hashes at most {state.max_bytes}")
        h = hashlib.new(algorithm)
        while chunk := f.read(1024 * 1024):
            h.update(chunk)
    return {"algorithm": algorithm, "hexdigest": h.hexdigest(), "size": size}


@ramparts.hookimpl
def ramparts_capability() -> Capability:
    """Called once when an app that declares this capability starts."""
    return Capability(
        name="{{ cookiecutter.capability }}",
        commands=[digest],
        configure=configure,
        # The example command's; say what {{ cookiecutter.capability }} does once it is replaced.
        description="checksums of files inside the declared scope",
    )
