"""WindowHost's own checks, without a webview: the origin of every incoming message, and
what ``serve()`` refuses. Messages are signed with the real session key, so a message
that got past an origin check would be answered: no answer means it never reached the
dispatcher."""

from __future__ import annotations

import json
import math
import queue
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ramparts.bridge.dispatch import Dispatcher
from ramparts.bridge.host import WindowHost
from ramparts.bridge.protocol import decode_binary_reply, sign_binary, sign_channel
from ramparts.bridge.session import Registry, Route
from ramparts.commands import as_command, command

ID = "dev.ramparts.test"


@command
def ping() -> str:
    return "pong"


@pytest.fixture
def dispatcher() -> Iterator[Dispatcher]:
    d = Dispatcher(command_timeout=5)
    yield d
    d.close()


def make_host(ui: Path, dispatcher: Dispatcher | None = None) -> WindowHost:
    reg = Registry()
    cmd = as_command(ping)
    assert cmd is not None
    reg.add(Route(cmd.name, None, cmd, None))
    return WindowHost(
        label="main",
        identifier=ID,
        ui=ui,
        entry="index.html",
        csp={},
        registry=reg,
        dispatcher=dispatcher,  # type: ignore[arg-type]
        handle_mode="per-session",
    )


def _header(host: WindowHost, seq: int) -> dict[str, Any]:
    assert host.session is not None
    return {"s": seq, "h": host.session.initial_handles["ping"][0], "c": f"c{seq}", "a": {}}


@pytest.mark.parametrize(
    "frame_url",
    [
        "https://evil.example/",
        f"https://{ID}/index.html",  # the right host under another scheme
        "app://other.example/index.html",
        f"app://{ID}.evil.example/index.html",
        f"app://{ID}:8080/index.html",
        f"app://user@{ID}/index.html",
        "about:blank",
        "",
    ],
)
def test_channel_messages_from_a_foreign_main_frame_are_dropped(
    tmp_path: Path, dispatcher: Dispatcher, frame_url: str
) -> None:
    host = make_host(tmp_path, dispatcher)
    replies: queue.Queue[dict[str, Any]] = queue.Queue()
    host.connect(lambda text: replies.put(json.loads(text)))
    session = host.new_session()
    text = sign_channel(session.key, json.dumps(_header(host, 1)))
    host.channel_message(frame_url, text)
    assert dispatcher.wait_idle()
    assert replies.empty() and not session.stats  # the dispatcher never saw it
    # The same message from the app's own main frame is answered (so the check above
    # is what stopped it, not the message).
    host.channel_message(f"app://{ID}/index.html", text)
    assert replies.get(timeout=5) == {"c": "c1", "ok": True, "r": "pong"}


@pytest.mark.parametrize(
    "initiator",
    [
        "https://evil.example",
        "app://other.example",
        f"https://{ID}",
        f"app://{ID}/",
        f"app://{ID}:8080",
        "null",
        "",
    ],
)
def test_binary_messages_from_a_foreign_initiator_get_403(
    tmp_path: Path, dispatcher: Dispatcher, initiator: str
) -> None:
    host = make_host(tmp_path, dispatcher)
    session = host.new_session()
    body = sign_binary(session.key, _header(host, 1))
    got: queue.Queue[tuple[int, list[bytes]]] = queue.Queue()
    host.binary_message(
        f"app://{ID}/", initiator, body, lambda status, chunks: got.put((status, chunks))
    )
    assert got.get(timeout=5) == (403, [b'{"rejected":"origin"}'])
    assert dispatcher.wait_idle()
    assert not session.stats and session._replay.highest == 0  # never verified
    host.binary_message(
        f"app://{ID}/", f"app://{ID}", body, lambda status, chunks: got.put((status, chunks))
    )
    status, chunks = got.get(timeout=5)
    assert status == 200 and decode_binary_reply(b"".join(chunks))["r"] == "pong"


def test_binary_messages_while_the_main_frame_is_not_an_app_page_get_403(
    tmp_path: Path, dispatcher: Dispatcher
) -> None:
    """about:blank inherits the app's origin: the initiator passes, the frame URL not."""
    host = make_host(tmp_path, dispatcher)
    session = host.new_session()
    body = sign_binary(session.key, _header(host, 1))
    got: queue.Queue[tuple[int, list[bytes]]] = queue.Queue()
    host.binary_message("about:blank", f"app://{ID}", body, lambda s, c: got.put((s, c)))
    assert got.get(timeout=5) == (403, [b'{"rejected":"main-frame"}'])
    assert dispatcher.wait_idle()
    assert not session.stats and session._replay.highest == 0  # never verified


def test_no_session_no_bridge(tmp_path: Path, dispatcher: Dispatcher) -> None:
    host = make_host(tmp_path, dispatcher)
    got: queue.Queue[int] = queue.Queue()
    host.binary_message(
        f"app://{ID}/", f"app://{ID}", b"x" * 40, lambda status, chunks: got.put(status)
    )
    assert got.get(timeout=5) == 403
    host.channel_message(f"app://{ID}/", "x")  # dropped: nothing to answer, nothing raised
    assert dispatcher.wait_idle()


def test_leaving_the_app_ends_the_session(tmp_path: Path, dispatcher: Dispatcher) -> None:
    """A main frame sent to about:blank (no navigation request) takes its session along."""
    ended: list[Any] = []
    host = make_host(tmp_path, dispatcher)
    host.on_session = lambda old, new: ended.append(old) if new is None else None
    session = host.new_session()
    body = sign_binary(session.key, _header(host, 1))
    host.main_frame_changed(f"app://{ID}/index.html#top")  # still the app: nothing ends
    assert host.session is session and not ended
    host.main_frame_changed("about:blank")
    assert host.session is None and ended == [session]
    got: queue.Queue[int] = queue.Queue()
    host.binary_message(f"app://{ID}/", f"app://{ID}", body, lambda status, chunks: got.put(status))
    assert got.get(timeout=5) == 403  # the old key answers nothing
    host.main_frame_changed("about:blank")  # no session: nothing to end twice
    assert ended == [session]


@pytest.fixture
def ui(tmp_path: Path) -> Path:
    ui = tmp_path / "ui"
    (ui / "sub").mkdir(parents=True)
    (ui / "index.html").write_text("<!doctype html><html><head></head><body>app</body></html>")
    (ui / "sub" / "page.html").write_text("<p>sub</p>")
    (ui / "app.js").write_text("1;")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (tmp_path / "secret.txt").write_text("secret")
    (ui / "link.txt").symlink_to(tmp_path / "secret.txt")
    (ui / "out").symlink_to(outside, target_is_directory=True)
    (ui / "inner.txt").symlink_to(ui / "app.js")  # a symlink that stays inside is fine
    return ui


@pytest.mark.parametrize(
    "url",
    [
        f"app://{ID}/%2e%2e/secret.txt",
        f"app://{ID}/%2E%2E/secret.txt",
        f"app://{ID}/sub/%2e%2e/index.html",  # resolves inside ui, still refused
        f"app://{ID}/%2e/index.html",
        f"app://{ID}/..%2fsecret.txt",
        f"app://{ID}/sub%2fpage.html",  # encoded slash, even to a file inside ui
        f"app://{ID}/sub%2Fpage.html",
        f"app://{ID}/sub%5cpage.html",  # encoded backslash
        f"app://{ID}/sub\\page.html",
        f"app://{ID}/index.html%00.png",
        f"app://{ID}/link.txt",  # a symlink out of ui
        f"app://{ID}/out/secret.txt",  # through a symlinked folder
        f"app://{ID}/sub",  # a folder
        f"app://{ID}/missing.html",
        "app://other.example/index.html",  # a foreign host
        f"app://{ID}.evil/index.html",
        f"https://{ID}/index.html",
    ],
)
def test_serve_refuses(ui: Path, url: str) -> None:
    resp = make_host(ui).serve("GET", url)
    assert (resp.status, resp.body) == (404, b"not found")


def test_serve_serves_the_ui_with_its_headers(ui: Path) -> None:
    host = make_host(ui)
    root = host.serve("GET", f"app://{ID}/")
    assert root.status == 200 and root.mime == "text/html; charset=utf-8"
    assert root.headers["Content-Security-Policy"] == host.csp
    assert b'<meta http-equiv="Content-Security-Policy"' in root.body
    assert host.serve("GET", f"app://{ID}/sub/page.html").status == 200
    assert host.serve("GET", f"app://{ID}/inner.txt").body == b"1;"
    assert host.serve("POST", f"app://{ID}/index.html").status == 405


@command(timeout=math.inf)
def ask() -> None: ...


@command(timeout=10**9)
def glacial() -> None: ...


@command(timeout=0.5)
def stuck_half() -> None: ...


def test_page_deadlines_follow_command_timeouts(tmp_path: Path, dispatcher: Dispatcher) -> None:
    """The page's deadline: timeout * 1.5 + 1 s (the app default is 5 s here); none for
    untimed commands, and none past what setTimeout can wait (it would fire at once)."""
    host = make_host(tmp_path, dispatcher)
    for f in (stuck_half, ask, glacial):
        cmd = as_command(f)
        assert cmd is not None
        host.registry.add(Route(cmd.name, None, cmd, None))
    assert host.deadlines() == {"ping": 8_500, "stuck_half": 1_750, "ask": None, "glacial": None}
    host.new_session()
    assert '"deadlines": {"ping": 8500, "stuck_half": 1750' in host.bootstrap_script()
