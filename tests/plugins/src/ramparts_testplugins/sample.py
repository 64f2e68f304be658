"""A small capability with a scope-like option, used by the bridge tests."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from typing import Any

import attrs

import ramparts
from ramparts import CallContext, Capability, ConfigContext, OutOfScope, command


@attrs.frozen
class SampleState:
    words: frozenset[str]


def configure(table: Mapping[str, Any], ctx: ConfigContext) -> SampleState:
    words = table.get("words", [])
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise ctx.error("words", words, "a list of strings")
    extra = set(table) - {"words"}
    if extra:
        key = sorted(extra)[0]
        raise ctx.error(key, table[key], "no such key")
    return SampleState(frozenset(words))


@command
def echo(value: Any) -> Any:
    """Return what it was given."""
    return value


@command
def echo_bytes(data: bytes) -> bytes:
    """Return the same bytes."""
    return data


@command
def say(ctx: CallContext, word: str) -> str:
    """Return the word if the scope allows it."""
    if word not in ctx.state.words:
        raise OutOfScope(f"the word {word!r} is not in this app's scope")
    return word


CALLS = {"secret": 0}
_lock = threading.Lock()


@command
def secret() -> str:
    """Never in an allow list in the tests: must be unreachable."""
    with _lock:
        CALLS["secret"] += 1
    return "leaked"


@command
def boom() -> None:
    """Raise an unexpected exception."""
    raise RuntimeError("internal detail that must not reach the page")


@command(timeout=0.5)
def hang() -> None:
    """Take longer than its timeout."""
    time.sleep(3)


@command
async def slow_async(ms: int) -> int:
    await asyncio.sleep(ms / 1000)
    return ms


@command
def unsendable() -> Any:
    return {1, 2, 3}


@command
def grant(ctx: CallContext, path: str) -> str:
    """Grant one path to the calling session, as the dialog capability does."""
    return ctx.grants.add_path(path)


@ramparts.hookimpl
def ramparts_capability() -> Capability:
    return Capability(
        name="sample",
        commands=[echo, echo_bytes, say, secret, boom, hang, slow_async, unsendable, grant],
        configure=configure,
        description="test capability",
    )
