"""The freedesktop notification service (``org.freedesktop.Notifications``) on the
session D-Bus, reached with jeepney: a pure-Python D-Bus client, no GUI toolkit.

Each call opens its own connection and closes it: nothing is held between notifications,
and a bus or service that restarts is found again by the next one. Servers keep a
notification after its sender disconnects (``notify-send`` works the same way).
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any, TypedDict

from jeepney import DBusAddress, MessageType, new_method_call
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from jeepney.wrappers import DBusErrorResponse

from ramparts import CommandFailed

__all__ = [
    "NOTIFICATIONS",
    "ServerInfo",
    "Unavailable",
    "escape_markup",
    "notify",
    "plain",
    "server_info",
    "session_bus",
]

log = logging.getLogger("ramparts.notification")

NOTIFICATIONS = DBusAddress(
    "/org/freedesktop/Notifications",
    bus_name="org.freedesktop.Notifications",
    interface="org.freedesktop.Notifications",
)
URGENCY = {"low": 0, "normal": 1, "critical": 2}
#: D-Bus errors that mean nobody serves org.freedesktop.Notifications on this bus.
_NO_SERVICE = (
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
    "org.freedesktop.DBus.Error.Spawn.ServiceNotFound",
    "org.freedesktop.DBus.Error.Spawn.ChildExited",
    "org.freedesktop.DBus.Error.Spawn.Failed",
)


class ServerInfo(TypedDict):
    """The notification service, as it describes itself (``GetServerInformation``)."""

    name: str
    vendor: str
    version: str
    spec_version: str
    capabilities: list[str]


class Unavailable(CommandFailed):
    """No notification was shown: ``data.reason`` says why (``no_bus``, ``no_service``,
    ``no_answer``, ``refused``, or ``rate_limited`` from the ``send`` command)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, data={"reason": reason})
        self.reason = reason


def session_bus() -> str:
    """The session bus's address: ``DBUS_SESSION_BUS_ADDRESS``, else the per-user bus
    at ``$XDG_RUNTIME_DIR/bus`` that systemd starts (where GLib looks too)."""
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS", "")
    if address:
        return address
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.exists(os.path.join(runtime, "bus")):
        return "unix:path=" + os.path.join(runtime, "bus")
    raise Unavailable(
        "no_bus",
        "no desktop notification service: there is no D-Bus session bus "
        "(DBUS_SESSION_BUS_ADDRESS is not set and $XDG_RUNTIME_DIR/bus does not exist)",
    )


def _connect() -> DBusConnection:
    address = session_bus()
    try:
        conn: DBusConnection = open_dbus_connection(address)
    except (OSError, ValueError, RuntimeError) as e:
        log.warning("cannot connect to the session bus at %s: %s", address, e)
        raise Unavailable(
            "no_bus", "no desktop notification service: the D-Bus session bus does not answer"
        ) from None
    return conn


def _call(
    conn: DBusConnection, method: str, signature: str | None, body: tuple[Any, ...], timeout: float
) -> tuple[Any, ...]:
    msg = new_method_call(NOTIFICATIONS, method, signature, body)
    try:
        reply = conn.send_and_get_reply(msg, timeout=timeout)
    except TimeoutError:
        raise Unavailable(
            "no_answer",
            f"the desktop notification service did not answer {method} within {timeout:g} s",
        ) from None
    if reply.header.message_type == MessageType.error:
        name = str(DBusErrorResponse(reply).name)
        if name in _NO_SERVICE:
            raise Unavailable(
                "no_service",
                "no desktop notification service: nothing on the session bus serves "
                f"org.freedesktop.Notifications ({name})",
            )
        log.warning("%s: the notification service answered %s %s", method, name, reply.body)
        raise Unavailable("refused", f"the desktop notification service refused it ({name})")
    result: tuple[Any, ...] = reply.body
    return result


def server_info(timeout: float) -> ServerInfo:
    """What serves notifications on the session bus; :class:`Unavailable` if nothing."""
    with _connect() as conn:
        name, vendor, version, spec = _call(conn, "GetServerInformation", None, (), timeout)
        (caps,) = _call(conn, "GetCapabilities", None, (), timeout)
    return ServerInfo(
        name=name, vendor=vendor, version=version, spec_version=spec, capabilities=list(caps)
    )


def escape_markup(text: str) -> str:
    """``text`` as literal text for a server that reads body markup (``<b>``, ``<a>``,
    ``<img src>``): the page's text cannot make links or load images."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(text: str, *, one_line: bool) -> str:
    """``text`` without control characters; with ``one_line``, line breaks become spaces."""
    if one_line:
        text = re.sub("[\n\t\u2028\u2029]", " ", text)
    return _CONTROLS.sub("", text)


def notify(
    title: str,
    body: str,
    *,
    urgency: str,
    app_name: str,
    desktop_entry: str,
    timeout: float,
) -> int:
    """Show a notification; its id from the service. :class:`Unavailable` if none showed.

    Control characters are removed (the title is one line); the body is escaped when the
    service reads markup in it.
    """
    title = plain(title, one_line=True)
    body = plain(body, one_line=False)
    with _connect() as conn:
        (caps,) = _call(conn, "GetCapabilities", None, (), timeout)
        if "body-markup" in caps:
            body = escape_markup(body)
        hints = {"urgency": ("y", URGENCY[urgency]), "desktop-entry": ("s", desktop_entry)}
        args: tuple[Any, ...] = (app_name, 0, "", title, body, [], hints, -1)
        (ident,) = _call(conn, "Notify", "susssasa{sv}i", args, timeout)
    return int(ident)
