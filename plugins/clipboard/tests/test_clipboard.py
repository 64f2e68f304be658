"""The ``clipboard`` capability through the real bridge, without a window: the allow
list, the size limit, the arguments refused before the clipboard is reached, and the
config errors. The clipboard itself is reached in ``test_clipboard_webview.py``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ramparts.errors import CommandFailed, ConfigError, InvalidArgs, NotAllowed, TooLarge
from ramparts.testing import Bridge

BOTH = {"clipboard": {"allow": ["write_text", "read_text"], "max_bytes": 8}}
OpenBridge = Callable[..., Bridge]


def test_read_text_is_refused_unless_allowed(ramparts_bridge: OpenBridge) -> None:
    bridge = ramparts_bridge(capabilities={"clipboard": {"allow": ["write_text"]}})
    assert bridge.routes == ["clipboard.write_text"]
    with pytest.raises(NotAllowed):
        bridge.call("clipboard.read_text")


def test_not_declared_is_not_there(ramparts_bridge: OpenBridge) -> None:
    bridge = ramparts_bridge(capabilities={"clipboard": {"allow": []}})
    assert bridge.routes == []
    for command in ("clipboard.write_text", "clipboard.read_text"):
        with pytest.raises(NotAllowed):
            bridge.call(command, {"text": "x"} if "write" in command else {})


@pytest.mark.parametrize(
    ("text", "error", "says"),
    [
        ("123456789", TooLarge, "9 bytes; this app copies at most 8"),
        ("ééééé", TooLarge, "10 bytes"),  # UTF-8 bytes, not characters
        ("a\0b", InvalidArgs, "NUL"),
    ],
)
def test_text_refused_before_the_clipboard(
    ramparts_bridge: OpenBridge, text: str, error: type[Exception], says: str
) -> None:
    bridge = ramparts_bridge(capabilities=BOTH)
    with pytest.raises(error, match=says):
        bridge.call("clipboard.write_text", {"text": text})


def test_wrong_types_are_invalid_args(ramparts_bridge: OpenBridge) -> None:
    bridge = ramparts_bridge(capabilities=BOTH)
    for args in ({"text": 3}, {}, {"text": "a", "more": 1}):
        with pytest.raises(InvalidArgs):
            bridge.call("clipboard.write_text", args)
    with pytest.raises(InvalidArgs):
        bridge.call("clipboard.read_text", {"text": "a"})


def test_without_a_webview_the_call_fails_clearly(ramparts_bridge: OpenBridge) -> None:
    bridge = ramparts_bridge(capabilities=BOTH)
    with pytest.raises(CommandFailed, match="has no clipboard"):
        bridge.call("clipboard.write_text", {"text": "fits"})
    with pytest.raises(CommandFailed, match="has no clipboard"):
        bridge.call("clipboard.read_text")


@pytest.mark.parametrize(
    ("table", "key", "expected"),
    [
        ({"max_bytes": 0}, "max_bytes", "a whole number of bytes > 0"),
        ({"max_bytes": True}, "max_bytes", "a whole number of bytes"),
        ({"read": True}, "read", "no such key"),
    ],
)
def test_config_errors_name_the_key(
    ramparts_bridge: OpenBridge, table: dict[str, Any], key: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as e:
        ramparts_bridge(capabilities={"clipboard": {"allow": ["write_text"], **table}})
    assert f"tool.ramparts.capabilities.clipboard.{key}" in str(e.value)
    assert expected in str(e.value)
