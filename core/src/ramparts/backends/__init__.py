"""Webview backends: the only code that touches a concrete webview.

A backend carries out a :class:`~ramparts.bridge.host.WindowHost`'s decisions. It must:

* serve ``app://<identifier>/`` through the host (``host.serve``) with its headers, and
  pass POSTs to ``/.ramparts/ipc`` to ``host.binary_message`` with the origin the
  webview reports as the request's initiator; open no TCP port;
* ask ``host.allow_navigation(url, main_frame)`` before every navigation, and refuse
  new windows;
* inject ``host.bootstrap_script()`` into the main frame's main world and
  ``host.relay_script(...)`` into an isolated world, both at document creation, after
  every allowed main-frame navigation, and expose no native channel to the main world;
* pass channel messages from the relay to ``host.channel_message`` with the main
  frame's URL as the webview reports it, and deliver ``host.connect``'s texts back;
* answer every permission request the engine raises (media, screen capture,
  notifications, clipboard, file system access, ...) with ``host.allow_web`` (given
  the origin and main-frame URL the engine reports), refuse folder uploads, and refuse
  file choosers, file drops and file pastes unless ``host.allow_web`` grants
  ``file-input`` / ``file-drop``; start the engine before anything (pywebview
  included) can add a switch that approves requests.

Only Qt WebEngine is implemented (``ramparts.backends.qt``). On any other pywebview
backend the app refuses to start rather than fall back to pywebview's ``js_api``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ramparts.bridge.host import WindowHost

__all__ = ["Backend", "get_backend"]


class Backend(Protocol):
    #: pywebview's renderer name this backend works with.
    renderer: str

    def prepare(self) -> None:
        """Called before the GUI toolkit starts (e.g. register URL schemes)."""

    def start_engine(self) -> None:
        """Start the web engine with the switches in effect now (GUI toolkit loaded, no
        window built yet); later changes to its switches must have no effect."""

    def attach(self, window: Any, host: WindowHost) -> Any:
        """Called in the window's ``before_show``: wire ``host`` into ``window.native``."""

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the GUI thread after the calls already queued there (any thread)."""


def get_backend() -> Backend:
    from ramparts.backends.qt import QtBackend

    return QtBackend()
