"""``[tool.ramparts.capabilities.http]``: the URL scope, limits, cookies and TLS trust."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ramparts import ConfigContext
from ramparts.toolkit import UrlScope

from .tls import Trust, configure_trust

__all__ = [
    "DEFAULT_MAX_REDIRECTS",
    "DEFAULT_MAX_RESPONSE",
    "DEFAULT_TIMEOUT",
    "MAX_RESPONSE",
    "MAX_TIMEOUT",
    "HttpState",
    "configure",
]

DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 600.0
DEFAULT_MAX_RESPONSE = 16 * 1024 * 1024
MAX_RESPONSE = 1024 * 1024 * 1024  # the bridge's own ceiling for a binary reply
DEFAULT_MAX_REDIRECTS = 10

_KEYS = (
    "scope",
    "timeout",
    "max_response_bytes",
    "max_redirects",
    "allow_cookies",
    "ca_file",
    "system_ca",
)


@attrs.frozen
class HttpState:
    """The parsed ``[tool.ramparts.capabilities.http]`` table."""

    scope: UrlScope
    timeout: float = DEFAULT_TIMEOUT
    max_response_bytes: int = DEFAULT_MAX_RESPONSE
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    allow_cookies: bool = False
    trust: Trust = attrs.field(factory=Trust)


def configure(table: Mapping[str, Any], ctx: ConfigContext) -> HttpState:
    """Parse the capability's table; every key is optional except a useful ``scope``."""
    ctx.check_keys(table, _KEYS)
    return HttpState(
        scope=UrlScope.from_config(table, ctx),
        timeout=ctx.seconds(table, "timeout", DEFAULT_TIMEOUT, maximum=MAX_TIMEOUT),
        max_response_bytes=ctx.whole_number(
            table,
            "max_response_bytes",
            DEFAULT_MAX_RESPONSE,
            minimum=0,
            maximum=MAX_RESPONSE,
            unit="bytes",
        ),
        max_redirects=ctx.whole_number(
            table, "max_redirects", DEFAULT_MAX_REDIRECTS, minimum=0, maximum=50
        ),
        allow_cookies=ctx.flag(table, "allow_cookies", False),
        trust=configure_trust(table, ctx),
    )
