"""The ``notification`` capability from page JS in the real webview, on both engines,
against a real desktop service (a private session bus, notification-daemon, watched by
dbus-monitor): ``send`` reaches it; ``server``, which the config does not allow, is
refused; the engine's own ``Notification`` reaches nothing. One app launch per engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from app_folders import write_app
from desktop_bus import monitor, private_bus, start_server, wait_for_notify
from gtk_display import engine, gtk_display  # noqa: F401  # fixtures: both webview engines

from ramparts.testing import eval_in_app

pytestmark = [pytest.mark.webview, pytest.mark.usefixtures("engine")]

CAPABILITIES = """
[tool.ramparts.capabilities.notification]
allow = ["send"]
"""

SCRIPT = """
const out = { namespace: Object.keys(ramparts.notification) };
out.web = typeof Notification === "undefined" ? "absent" : Notification.permission;
try {
  new Notification("web title", { body: "from the engine" });
} catch (e) {
  out.webError = String(e);
}
out.id = await ramparts.notification.send({ title: "From the page", body: "it <b>works</b>" });
try {
  await ramparts.invoke("notification.server");
  out.server = "answered";
} catch (e) {
  out.server = e.code;
}
return out;
"""


@pytest.fixture(scope="module")
def desktop(gtk_display: str) -> Iterator[str]:  # noqa: F811
    with private_bus() as address, start_server(address, gtk_display):
        yield address


def test_page_sends_a_notification(
    desktop: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = write_app(tmp_path / "app", capabilities=CAPABILITIES)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", desktop)
    with monitor(desktop, tmp_path) as seen:
        out = eval_in_app(app, SCRIPT, timeout=60)
        (call,) = wait_for_notify(seen)
        text = seen.read_text()
    assert out["namespace"] == ["send"]
    assert out["server"] == "not_allowed"
    assert isinstance(out["id"], int) and out["id"] > 0
    assert call[:4] == ["Test App", "", "From the page", "it &lt;b&gt;works&lt;/b&gt;"]
    # The window has no "notifications" web permission: the engine shows nothing.
    assert out["web"] in ("denied", "default", "absent")
    assert "web title" not in text
