"""A private desktop for the notification tests: a D-Bus session bus of their own
(``dbus-daemon``, with no service activation), GNOME's reference notification server
(``notification-daemon``, under the tests' Xvfb display), and ``dbus-monitor`` to see
what reached the server.

The bus's config listens in a private folder and starts nothing by itself, so "a bus with
no notification server" is exactly that, whatever the machine has installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

__all__ = ["monitor", "notify_calls", "private_bus", "start_server", "wait_for_notify"]

SERVER = "/usr/lib/notification-daemon/notification-daemon"
NAME = "org.freedesktop.Notifications"

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={folder}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def _need(program: str) -> str:
    found = shutil.which(program) or (program if os.path.exists(program) else None)
    if found is None:
        pytest.fail(f"{program} is missing: scripts/setup.sh installs it")
    return found


@contextmanager
def private_bus() -> Iterator[str]:
    """A session bus of our own; yields its address."""
    folder = Path(tempfile.mkdtemp(prefix="ramparts-bus-"))
    (folder / "bus.conf").write_text(BUS_CONFIG.format(folder=folder))
    proc = subprocess.Popen(
        [_need("dbus-daemon"), f"--config-file={folder / 'bus.conf'}", "--nofork",
         "--print-address=1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().strip()  # printed once it accepts clients
        if not address:
            pytest.fail("dbus-daemon did not start")
        yield address
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def _owned(address: str) -> bool:
    with open_dbus_connection(address) as conn:
        reply = conn.send_and_get_reply(message_bus.NameHasOwner(NAME), timeout=10)
    return bool(reply.body[0])


def _wait_ready(
    proc: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    seconds: float,
    failed: Callable[[], str],
) -> None:
    """Poll ``ready`` until it is true; fail saying ``failed()`` if ``proc`` ends first or
    the ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(failed())
        time.sleep(0.05)


@contextmanager
def start_server(address: str, display: str) -> Iterator[subprocess.Popen[bytes]]:
    """notification-daemon on the bus at ``address``, once it owns the name."""
    env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": address, "DISPLAY": display}
    env.pop("WAYLAND_DISPLAY", None)
    proc = subprocess.Popen(
        [_need(SERVER)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        failed = f"notification-daemon did not take {NAME}"
        _wait_ready(proc, lambda: _owned(address), 60, lambda: f"{failed} (exit {proc.poll()})")
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def monitor(address: str, folder: Path) -> Iterator[Path]:
    """``dbus-monitor`` of every call to the notification interface; yields the file its
    output goes to, once it is monitoring."""
    out = folder / "dbus-monitor.txt"
    rule = f"type='method_call',interface='{NAME}'"
    with open(out, "wb") as f:
        proc = subprocess.Popen(
            [_need("dbus-monitor"), "--address", address, rule],
            stdout=f, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        # It becomes a monitor by giving up its own name: from then on it sees every call.
        def lost() -> bool:
            return "member=NameLost" in out.read_text(errors="replace")

        def failed() -> str:
            return f"dbus-monitor did not start: {out.read_text(errors='replace')}"

        _wait_ready(proc, lost, 30, failed)
        yield out
    finally:
        proc.terminate()
        proc.wait(10)


def notify_calls(text: str) -> list[list[str]]:
    """The string arguments of each whole ``Notify`` call in ``dbus-monitor`` output (one
    whose last argument, the ``int32`` expiry, has been written)."""
    calls: list[list[str]] = []
    current: list[str] | None = None
    lines = iter(text.splitlines())
    for line in lines:
        if line.startswith(("method call", "signal", "method return", "error")):
            current = [] if "member=Notify" in line else None
        elif current is not None and 'string "' in line:  # "variant string" too
            value = line.split('string "', 1)[1]
            while not value.endswith('"'):  # a string with newlines goes on
                value += "\n" + next(lines, '"')
            current.append(value[:-1])
        elif current is not None and line.strip().startswith("int32 "):
            calls.append(current)
            current = None
    return calls


def wait_for_notify(out: Path, count: int = 1) -> list[list[str]]:
    """The ``Notify`` calls ``dbus-monitor`` wrote to ``out``, once there are ``count``."""
    deadline = time.monotonic() + 30
    while True:
        calls = notify_calls(out.read_text(errors="replace"))
        if len(calls) >= count:
            return calls
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(calls)} Notify calls reached the bus, not {count}")
        time.sleep(0.05)
