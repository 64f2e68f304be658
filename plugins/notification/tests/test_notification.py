"""The ``notification`` capability through the real bridge (``ramparts.testing``) and a
real desktop service: a private session bus with GNOME's notification-daemon on it,
watched with dbus-monitor. Also: no session bus at all, a bus with no server, the
limits of the config, and refusal without a grant."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from desktop_bus import monitor, private_bus, start_server, wait_for_notify
from gtk_display import gtk_display  # noqa: F401  # fixture: the Xvfb display the server needs

from ramparts import CommandFailed, ConfigError, NotAllowed, OutOfScope, TooLarge
from ramparts.testing import Bridge, open_bridge

ALLOW = ["send", "server"]


@pytest.fixture(scope="module")
def desktop(gtk_display: str) -> Iterator[str]:  # noqa: F811
    """The address of a private session bus that a notification server serves."""
    with private_bus() as address, start_server(address, gtk_display):
        yield address


@pytest.fixture
def on_desktop(desktop: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", desktop)
    return desktop


def bridge(**options: Any) -> Bridge:
    return open_bridge(capabilities={"notification": {"allow": ALLOW, **options}})


def test_a_notification_reaches_the_desktop_service(on_desktop: str, tmp_path: Path) -> None:
    with monitor(on_desktop, tmp_path) as out, bridge() as b:
        ident = b.call("notification.send", {"title": "Saved", "body": "3 notes", "urgency": "low"})
        (call,) = wait_for_notify(out)
    assert isinstance(ident, int) and ident > 0
    # app_name, app_icon, summary, body, then the desktop-entry hint's key and value
    assert call == ["Ramparts test", "", "Saved", "3 notes", "urgency", "desktop-entry",
                    "dev.ramparts.test"]  # fmt: skip
    assert "variant             byte 0" in out.read_text()  # urgency low


def test_page_text_cannot_become_markup_or_control_codes(on_desktop: str, tmp_path: Path) -> None:
    body = 'see <a href="https://evil.example/">this</a> & <img src="file:///etc/passwd"/>\x1b[2J'
    with monitor(on_desktop, tmp_path) as out, bridge() as b:
        b.call("notification.send", {"title": "two\nlines\x07", "body": body + "\nend"})
        (call,) = wait_for_notify(out)
    assert call[2] == "two lines"
    # notification-daemon reads body markup: the page's tags arrive as literal text
    assert call[3] == (
        'see &lt;a href="https://evil.example/"&gt;this&lt;/a&gt; &amp; '
        '&lt;img src="file:///etc/passwd"/&gt;[2J\nend'
    )


def test_server_describes_the_desktop_service(on_desktop: str) -> None:
    with bridge() as b:
        info = b.call("notification.server")
    assert info["name"] == "Notification Daemon" and info["vendor"] == "GNOME"
    assert "body-markup" in info["capabilities"] and info["spec_version"]


def _no_service(reason: str, message: str) -> None:
    """``send`` fails saying ``message``, with ``reason`` in its data; ``server`` is None."""
    with bridge() as b:
        with pytest.raises(CommandFailed) as e:
            b.call("notification.send", {"title": "hello"})
        assert b.call("notification.server") is None
    assert e.value.data == {"reason": reason}
    assert message in str(e.value)


def test_no_session_bus_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # and no systemd user bus there
    _no_service("no_bus", "no desktop notification service: there is no D-Bus session bus")


def test_a_bus_address_that_answers_nothing_is_no_bus(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'gone'}")
    with bridge() as b, pytest.raises(CommandFailed) as e:
        b.call("notification.send", {"title": "hello"})
    assert e.value.data == {"reason": "no_bus"}
    assert "the D-Bus session bus does not answer" in str(e.value)


def test_a_bus_with_no_notification_server_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with private_bus() as address:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        _no_service("no_service", "nothing on the session bus serves org.freedesktop.Notifications")


def test_over_the_rate_nothing_reaches_the_desktop(on_desktop: str, tmp_path: Path) -> None:
    with monitor(on_desktop, tmp_path) as out, bridge(per_minute=1, burst=2) as b:
        b.call("notification.send", {"title": "one"})
        b.call("notification.send", {"title": "two"})
        with pytest.raises(CommandFailed) as e:
            b.call("notification.send", {"title": "three"})
        b.call("notification.server")  # a call after the refused one, seen by the monitor
        wait_for_notify(out, 2)
        text = out.read_text()
    assert e.value.data == {"reason": "rate_limited"}
    assert "at most 1 a minute (bursts of 2)" in str(e.value)
    assert "GetServerInformation" in text and '"three"' not in text


def test_limits_of_the_config(on_desktop: str, tmp_path: Path) -> None:
    with bridge(max_title_chars=5, max_body_chars=10) as b:
        with pytest.raises(TooLarge) as e:
            b.call("notification.send", {"title": "123456"})
        assert e.value.data == {"path": "title"}
        with pytest.raises(TooLarge):
            b.call("notification.send", {"title": "ok", "body": "x" * 11})
        with pytest.raises(OutOfScope) as scope:
            b.call("notification.send", {"title": "ok", "urgency": "critical"})
        assert "critical = true" in str(scope.value)
    with monitor(on_desktop, tmp_path) as out, bridge(critical=True) as b:
        b.call("notification.send", {"title": "disk full", "urgency": "critical"})
        wait_for_notify(out)
    assert "variant             byte 2" in out.read_text()


def test_not_allowed_without_a_grant(on_desktop: str) -> None:
    with open_bridge(capabilities={"notification": {"allow": ["server"]}}) as b:
        assert b.call("notification.server") is not None
        with pytest.raises(NotAllowed):
            b.call("notification.send", {"title": "hello"})


@pytest.mark.parametrize(
    ("options", "key", "expected"),
    [
        ({"per_minute": 0}, "per_minute", "notifications"),
        ({"critical": "yes"}, "critical", "true or false"),
        ({"timeout": 0}, "timeout", "seconds"),
        ({"rate": 1}, "rate", "no such key"),
    ],
)
def test_config_errors_name_the_key(options: dict[str, Any], key: str, expected: str) -> None:
    with pytest.raises(ConfigError) as e:
        bridge(**options)
    assert e.value.key == f"tool.ramparts.capabilities.notification.{key}"
    assert expected in e.value.expected
