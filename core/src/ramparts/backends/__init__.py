"""Webview backends: the only code that touches a concrete webview.

A backend carries out a :class:`~ramparts.host.WindowHost`'s decisions. It must:

* serve ``app://<identifier>/`` through the host (``host.serve``) with its headers, and
  pass POSTs to ``/.ramparts/ipc`` to ``host.binary_message`` with the origin the
  webview reports as the request's initiator; open no TCP port;
* ask ``host.allow_navigation(url, main_frame)`` before every navigation, and refuse
  new windows;
* inject ``host.bootstrap_script()`` into the main frame's main world and
  ``host.relay_script(...)`` into an isolated world, both at document creation, after
  every allowed main-frame navigation, and expose no native channel to the main world;
* pass channel messages from the relay to ``host.channel_message`` with the main
  frame's URL as the webview reports it, and deliver ``host.connect``'s texts back.

Only Qt WebEngine is implemented (``ramparts.backends.qt``). On any other pywebview
backend the app refuses to start rather than fall back to pywebview's ``js_api``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..host import WindowHost

__all__ = ["Backend", "get_backend"]


class Backend(Protocol):
    #: pywebview's renderer name this backend works with.
    renderer: str

    def prepare(self) -> None:
        """Called before the GUI toolkit starts (e.g. register URL schemes)."""

    def attach(self, window: Any, host: WindowHost) -> Any:
        """Called in the window's ``before_show``: wire ``host`` into ``window.native``."""

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the GUI thread after the calls already queued there (any thread)."""


def get_backend() -> Backend:
    from .qt import QtBackend

    return QtBackend()
