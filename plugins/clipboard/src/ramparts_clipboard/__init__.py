"""The ``clipboard`` capability: the desktop clipboard, as text.

``write_text`` replaces the clipboard's contents; ``read_text`` returns them, and is a
separate command so that an app can let its page copy without letting it read what the
person copied elsewhere (passwords, from a password manager). Both go through the
webview backend (``ctx.native_clipboard()``, on the GUI thread): this plugin imports no
toolkit. ``max_bytes`` bounds the text either way, in UTF-8 bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

import ramparts
from ramparts import (
    CallContext,
    Capability,
    CommandFailed,
    ConfigContext,
    InvalidArgs,
    TooLarge,
    command,
)
from ramparts.toolkit import encode_text

if TYPE_CHECKING:
    from ramparts.backends import NativeClipboard

__all__ = ["DEFAULT_MAX_BYTES", "ClipboardState", "configure", "ramparts_capability"]

DEFAULT_MAX_BYTES = 1024 * 1024


@attrs.frozen
class ClipboardState:
    max_bytes: int


def configure(table: Mapping[str, Any], ctx: ConfigContext) -> ClipboardState:
    ctx.check_keys(table, ("max_bytes",))
    return ClipboardState(ctx.whole_number(table, "max_bytes", DEFAULT_MAX_BYTES, unit="bytes"))


def _clipboard(ctx: CallContext) -> NativeClipboard:
    clipboard = ctx.native_clipboard()
    if clipboard is None:
        raise CommandFailed("this window has no clipboard (it has no webview)")
    return clipboard


@command
def write_text(ctx: CallContext[ClipboardState], text: str) -> None:
    """Put ``text`` on the clipboard in place of whatever it held."""
    size = len(encode_text(text, "utf-8", where="text"))
    if size > ctx.state.max_bytes:
        raise TooLarge(f"text: {size} bytes; this app copies at most {ctx.state.max_bytes}")
    if "\0" in text:
        # GTK's clipboard ends text at the first NUL: refused everywhere, not cut short.
        raise InvalidArgs("text: contains a NUL character (U+0000)", data={"path": "text"})
    _clipboard(ctx).write_text(text)


@command
def read_text(ctx: CallContext[ClipboardState]) -> str | None:
    """The clipboard's text, or ``null`` when it holds none."""
    text = _clipboard(ctx).read_text()
    if text is None:
        return None
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > ctx.state.max_bytes:
        raise TooLarge(
            f"the clipboard holds {size} bytes of text; this app reads at most"
            f" {ctx.state.max_bytes}"
        )
    return text


@ramparts.hookimpl
def ramparts_capability() -> Capability:
    return Capability(
        name="clipboard",
        commands=[write_text, read_text],
        configure=configure,
        description="write text to the desktop clipboard; read it only when allowed",
    )
