"""The notification commands: ``send`` one, and ask which ``server`` shows them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

from ramparts import CallContext, OutOfScope, TooLarge, command

from .config import NotificationState
from .desktop import ServerInfo, Unavailable, notify, server_info

__all__ = ["COMMANDS"]

log = logging.getLogger("ramparts.notification")


def _check_size(where: str, text: str, limit: int) -> None:
    if len(text) > limit:
        raise TooLarge(
            f"{where}: {len(text)} characters; this app shows at most {limit}",
            data={"path": where},
        )


@command
def send(
    ctx: CallContext[NotificationState],
    title: str,
    body: str = "",
    urgency: Literal["low", "normal", "critical"] = "normal",
) -> int:
    """Show a desktop notification; returns the id the notification service gave it."""
    state = ctx.state
    _check_size("title", title, state.max_title_chars)
    _check_size("body", body, state.max_body_chars)
    if urgency == "critical" and not state.critical:
        raise OutOfScope(
            "urgency 'critical' (a notification that stays until dismissed) is not "
            "allowed: the app's config does not set critical = true",
            data={"path": "urgency"},
        )
    if not state.limit.take():
        raise Unavailable(
            "rate_limited",
            f"too many notifications: this app shows at most {state.limit.per_second * 60:g} "
            f"a minute (bursts of {state.limit.burst})",
        )
    return notify(
        title,
        body,
        urgency=urgency,
        app_name=state.app_name,
        desktop_entry=state.desktop_entry,
        timeout=state.timeout,
    )


@command
def server(ctx: CallContext[NotificationState]) -> ServerInfo | None:
    """The desktop's notification service, or ``null`` when there is none."""
    try:
        return server_info(ctx.state.timeout)
    except Unavailable as e:
        log.info("notification.server: %s", e)
        return None


COMMANDS: list[Callable[..., Any]] = [send, server]
