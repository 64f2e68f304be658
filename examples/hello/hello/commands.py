"""The demo app's own commands: each is callable from the page by its bare name."""

from __future__ import annotations

import hashlib
import logging

from ramparts import CallContext, command, on

log = logging.getLogger("hello")


@command
def greet(ctx: CallContext, name: str) -> str:
    """Greet someone, and tell the page about it with an event."""
    greeting = f"Hello, {name}! This answer came from Python."
    ctx.emit("greeting", {"name": name})
    return greeting


@command
def add(a: int, b: int) -> int:
    """Add two whole numbers (strings, floats and booleans are refused)."""
    return a + b


@command
def checksum(data: bytes) -> dict[str, str | int]:
    """SHA-256 of raw bytes sent from the page (they travel as bytes, not JSON)."""
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@on("greeted")
def greeted(payload: object) -> None:
    log.info("the page says it greeted: %r", payload)
