"""``[tool.ramparts.capabilities.notification]``: text limits, the rate, critical, timeout."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any

import attrs

from ramparts.toolkit import ConfigContext, RateLimit

__all__ = ["NotificationState", "configure"]


@attrs.frozen
class NotificationState:
    """What the commands need.

    :ivar app_name: shown by the notification service as the sender (the app's ``name``).
    :ivar desktop_entry: the app's identifier, the name its desktop entry would have.
    :ivar critical: whether the page may ask for ``critical`` urgency (stays until dismissed).
    :ivar timeout: seconds to wait for the notification service's answer.
    """

    app_name: str
    desktop_entry: str
    max_title_chars: int
    max_body_chars: int
    critical: bool
    timeout: float
    limit: RateLimit


def configure(table: Mapping[str, Any], ctx: ConfigContext) -> NotificationState:
    keys = ("max_title_chars", "max_body_chars", "per_minute", "burst", "critical", "timeout")
    ctx.check_keys(table, keys)
    title = ctx.whole_number(table, "max_title_chars", 200, maximum=10_000, unit="characters")
    body = ctx.whole_number(table, "max_body_chars", 2000, maximum=100_000, unit="characters")
    per_minute = ctx.whole_number(table, "per_minute", 10, maximum=6000, unit="notifications")
    burst = ctx.whole_number(table, "burst", 5, maximum=1000, unit="notifications")
    critical = ctx.flag(table, "critical", False)
    timeout = ctx.seconds(table, "timeout", 5.0, maximum=60)
    limit = RateLimit(per_minute / 60, burst)
    return NotificationState(_app_name(ctx), ctx.identifier, title, body, critical, timeout, limit)


def _app_name(ctx: ConfigContext) -> str:
    """The app's ``name`` from its config (checked by the core already), else its identifier."""
    try:
        with open(ctx.file, "rb") as f:
            name = tomllib.load(f)["tool"]["ramparts"]["name"]
    except (OSError, KeyError, TypeError, tomllib.TOMLDecodeError):
        return ctx.identifier
    return name if isinstance(name, str) and name else ctx.identifier
