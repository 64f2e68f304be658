"""Signed builds small enough to make by the dozen, and a loopback HTTP server that can
misbehave (cut the connection, send more than it announced).

A build here is what ``ramparts build`` makes, less PyInstaller: a folder with an
executable, a data file and a manifest signed the same way. Its executable is a Python
script that prints what it is (version, arguments, the base it was started from) as
JSON, so a launcher that hands over to it can be seen doing so.
"""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ramparts.release.signing import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    canonical_json,
    hash_tree,
    key_id,
    load_manifest,
    load_private_key,
    public_pem,
    sign,
    utc_stamp,
)
from ramparts.release.updates import RunningBuild

APP = "dev.ramparts.updatertest"

_SCRIPT = """#!{python}
import json, os, sys
CHECK_EXIT = {check_exit}
if "--launch-check" in sys.argv:
    sys.exit(CHECK_EXIT)
print(json.dumps({{"version": {version!r}, "argv": sys.argv[1:],
                  "base": os.environ.get("RAMPARTS_BASE_EXECUTABLE")}}))
"""


def make_build(
    folder: Path,
    version: str,
    key: Ed25519PrivateKey | None,
    *,
    identifier: str = APP,
    chain: tuple[Any, ...] = (),
    next_link: Any = None,
    launch_check_exit: int = 0,
    expires: datetime | None = None,
) -> Path:
    """A signed (or, ``key=None``, unsigned) onedir build of ``version`` in ``folder``."""
    folder.mkdir(parents=True)
    exe = folder / "app"
    exe.write_text(
        _SCRIPT.format(python=sys.executable, version=version, check_exit=launch_check_exit)
    )
    exe.chmod(0o755)
    (folder / "_internal").mkdir()
    (folder / "_internal" / "data.txt").write_text(f"build {version}\n" * 2000)
    os.symlink("data.txt", folder / "_internal" / "link.txt")
    public = key.public_key() if key else None
    manifest = {
        "format": 1,
        "app": {"name": "Updater test", "identifier": identifier, "version": version},
        "layout": "onedir",
        "executable": "app",
        "created": utc_stamp(datetime.now(UTC)),
        "expires": utc_stamp(expires or datetime.now(UTC) + timedelta(days=30)),
        "files": hash_tree(folder),
        "signer": key_id(public) if public else None,
        "public_key": public_pem(public).decode() if public else None,
        "next_public_key": next_link,
        "key_chain": list(chain),
    }
    data = canonical_json(manifest)
    (folder / MANIFEST_NAME).write_bytes(data)
    if key is not None:
        (folder / SIGNATURE_NAME).write_bytes(sign(data, key))
    return folder


def resign(
    build: Path, folder: Path, key_file: Path, passphrase: str, version: str, page: str
) -> Path:
    """A copy of the real build ``build`` in ``folder`` with version ``version`` and
    ``page`` as its ``ui/index.html``, re-hashed and re-signed with ``key_file``: what a
    rebuild of the changed app gives, less a second PyInstaller run."""
    shutil.copytree(build, folder, symlinks=True)
    manifest = load_manifest(folder)
    bundled = folder / "_internal" / "app"
    config = bundled / "pyproject.toml"
    old = f'version = "{manifest["app"]["version"]}"'
    assert old in config.read_text(), f"{config} does not say {old}"
    config.write_text(config.read_text().replace(old, f'version = "{version}"'))
    (bundled / "ui" / "index.html").write_text(page)
    manifest["app"]["version"] = version
    manifest["files"] = hash_tree(folder, skip=(MANIFEST_NAME, SIGNATURE_NAME))
    data = canonical_json(manifest)
    (folder / MANIFEST_NAME).write_bytes(data)
    key = load_private_key(key_file.read_bytes(), passphrase.encode(), "test key")
    (folder / SIGNATURE_NAME).write_bytes(sign(data, key))
    return folder


def running(folder: Path, version: str, key: Ed25519PrivateKey) -> RunningBuild:
    """What a launcher records once it has verified the build in ``folder``."""
    return RunningBuild(
        identifier=APP,
        name="Updater test",
        version=version,
        keys=(public_pem(key.public_key()).decode(),),
        executable=folder / "app",
        base=folder / "app",
    )


@attrs.define
class Route:
    """What the server answers for one path.

    :ivar cut_after: close the connection after this many body bytes (a Content-Length
        of the whole body is still announced).
    :ivar extra: bytes sent after the body (an archive larger than announced); with
        ``length=None`` no Content-Length is sent.
    """

    body: bytes
    cut_after: int | None = None
    extra: int = 0
    length: int | None = -1
    status: int = 200
    location: str | None = None
    sent: int = 0


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        self.send_response(route.status)
        if route.location:
            self.send_header("Location", route.location)
        if route.length == -1:
            self.send_header("Content-Length", str(len(route.body)))
        elif route.length is not None:
            self.send_header("Content-Length", str(route.length))
        self.end_headers()
        end = len(route.body) if route.cut_after is None else route.cut_after
        try:
            self._send(route, route.body[:end])
            if route.cut_after is not None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            block = b"\0" * 65536
            for _ in range(route.extra // len(block)):
                self._send(route, block)
        except OSError:  # the client stopped reading: what the test wants to see
            self.close_connection = True

    def _send(self, route: Route, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()
        route.sent += len(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    routes: dict[str, Route]


@contextmanager
def loopback_server() -> Iterator[tuple[str, dict[str, Route]]]:
    """``(base URL, routes)``: an HTTP server on 127.0.0.1 in a thread."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.routes = {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.routes
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
