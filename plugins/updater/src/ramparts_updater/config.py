"""``[tool.ramparts.capabilities.updater]``: the feed endpoint and the network timeout.

The keys an update is checked with are not configured here: they are the built app's
own (compiled into its launcher), so neither the config nor the page can change them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ramparts import ConfigContext
from ramparts.release.updates import UpdateError

from .client import check_url

__all__ = ["DEFAULT_TIMEOUT", "UpdaterState", "configure"]

DEFAULT_TIMEOUT = 60.0


@attrs.frozen
class UpdaterState:
    """The parsed table."""

    endpoint: str
    timeout: float = DEFAULT_TIMEOUT


def configure(table: Mapping[str, Any], ctx: ConfigContext) -> UpdaterState:
    ctx.check_keys(table, ("endpoint", "timeout"))
    endpoint = ctx.require(table, "endpoint", str, "the feed's URL (https://...)")
    try:
        check_url(endpoint, "the endpoint")
    except UpdateError as e:
        raise ctx.error(
            "endpoint", endpoint, "an https:// URL (http:// only for a loopback host)"
        ) from e
    timeout = ctx.seconds(table, "timeout", DEFAULT_TIMEOUT, maximum=600.0)
    return UpdaterState(endpoint, timeout)
