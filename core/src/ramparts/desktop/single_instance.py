"""Single instance: one running instance of an app per user; a second instance hands its
arguments to the running one and exits (``single_instance`` in ``[tool.ramparts]``).

The running instance (the *primary*) holds an ``flock`` on a lock file and listens on a
Unix socket, both in a folder only its user can enter (:func:`runtime_dir`). A second
instance that finds the lock taken connects, sends one message (its arguments and
working folder as JSON on one line) and reads one reply. No TCP port is opened.

Why a lock beside the socket: the kernel drops the lock when its holder dies, even by
``kill -9``, so whoever takes it knows that a socket file left in place is stale and
may replace it; two instances started at once cannot both take it.

Everything a second instance sends is untrusted input: any process of the same user can
connect. The primary checks the peer's user (``SO_PEERCRED``), reads at most
:data:`MAX_MESSAGE` bytes within :data:`READ_TIMEOUT` seconds, serves at most
:data:`MAX_CONNECTIONS` connections at once, and refuses anything but the message's one
shape. See docs/single-instance.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import queue
import socket
import stat
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ramparts.errors import RampartsError

if TYPE_CHECKING:
    from ramparts.commands import RunningApp

__all__ = [
    "EVENT",
    "MAX_MESSAGE",
    "Primary",
    "SecondInstance",
    "SecondInstanceHandler",
    "claim",
    "handlers_in",
    "on_second_instance",
    "parse_message",
    "runtime_dir",
]

log = logging.getLogger("ramparts.desktop.single_instance")

#: The event the pages of the windows granted it receive (``ramparts.events.on``).
EVENT = "ramparts:second-instance"
#: Bytes a second instance may send (its arguments and working folder, as JSON).
MAX_MESSAGE = 1 << 20
#: Seconds a connection may take to send its message before it is closed.
READ_TIMEOUT = 5.0
#: Connections served at once; more are closed unread.
MAX_CONNECTIONS = 8
#: Second instances queued for the handlers; more are refused (the sender is told).
MAX_QUEUED = 64
#: Seconds a second instance waits for the primary (it may still be starting).
CONNECT_TIMEOUT = 20.0
_MARK = "__ramparts_second_instance__"
_REPLY_MAX = 4096
_SUN_PATH_MAX = 107  # sockaddr_un's 108 bytes, less the terminating NUL


@attrs.frozen
class SecondInstance:
    """A second start of the app, handed to the running one.

    Any process of the same user can send one: treat both fields as untrusted input
    (validate a path before opening it, a URL before following it).

    :ivar args: the command-line arguments the second instance was given for the app
        (``ramparts dev APP -- ARGS``; a built app's arguments after its own options).
    :ivar cwd: the working folder the second instance was started in, as it said.
    """

    args: tuple[str, ...]
    cwd: str

    def to_json(self) -> dict[str, Any]:
        """What the pages granted it receive as the event's payload."""
        return {"args": list(self.args), "cwd": self.cwd}


#: The type of an ``@on_second_instance`` function: it gets the running app and what
#: the second instance sent; what it returns is ignored.
SecondInstanceHandler = Callable[["RunningApp", SecondInstance], object]
H = TypeVar("H", bound=SecondInstanceHandler)


def on_second_instance(func: H) -> H:
    """Mark a function in the app's commands module as a handler of second instances.

    With ``single_instance`` on in the config, each time the app is started again (same
    identifier, same user) the running app calls ``func(app, instance)`` on a thread of
    its own, one second instance after another; the new start then exits. ``app`` is the
    running app (``app.open_window("main")`` shows and raises the main window);
    ``instance`` is a :class:`SecondInstance`. Exceptions go to the Python log.
    """
    setattr(func, _MARK, True)
    return func


def handlers_in(module: object) -> tuple[SecondInstanceHandler, ...]:
    """The ``@on_second_instance`` functions among ``module``'s names."""
    return tuple(v for v in vars(module).values() if callable(v) and getattr(v, _MARK, False))


def runtime_dir() -> Path:
    """The folder the app's socket and lock live in, made if needed; only its user can
    enter it.

    ``$XDG_RUNTIME_DIR/ramparts`` when ``$XDG_RUNTIME_DIR`` is a folder of this user's
    that nobody else can enter (the desktop session's own, on most Linux systems);
    otherwise ``ramparts-<uid>`` in the temporary folder (``$TMPDIR``, else ``/tmp``).

    :raises RampartsError: the folder is not this user's, is not a folder, or others
        can enter it (someone else made it first: nothing in it can be trusted).
    """
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        try:
            _check_private(Path(xdg), os.stat(xdg))
        except (OSError, RampartsError) as e:
            log.warning("XDG_RUNTIME_DIR is not used for single_instance: %s", e)
        else:
            return _private_dir(Path(xdg) / "ramparts")
    return _private_dir(Path(tempfile.gettempdir()) / f"ramparts-{os.getuid()}")


def _private_dir(path: Path) -> Path:
    try:
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
        st = os.lstat(path)  # lstat: a symlink put there by someone else is refused
    except OSError as e:
        raise RampartsError(f"single_instance: cannot use {path}: {e.strerror or e}") from None
    _check_private(path, st)
    return path


def _check_private(path: Path, st: os.stat_result) -> None:
    problem = (
        "is not a folder"
        if not stat.S_ISDIR(st.st_mode)
        else f"belongs to uid {st.st_uid}, not to this user ({os.getuid()})"
        if st.st_uid != os.getuid()
        else f"has mode {stat.S_IMODE(st.st_mode):o}: others can enter it (0700 is needed)"
        if st.st_mode & 0o077
        else None
    )
    if problem:
        raise RampartsError(f"single_instance: {path} {problem}; remove it or fix it")


def _stem(folder: Path, identifier: str) -> str:
    """The socket's and lock's name: the identifier, or its hash when a socket path
    (with the temporary name it is made under) would not fit in ``sockaddr_un``."""
    longest = folder / f".{identifier}.sock.{os.getpid()}.new"
    if len(os.fsencode(longest)) <= _SUN_PATH_MAX:
        return identifier
    return hashlib.sha256(identifier.encode()).hexdigest()[:24]


def claim(identifier: str, instance: SecondInstance, folder: Path | None = None) -> Primary | None:
    """Become the running instance of the app ``identifier``, or hand ``instance`` to it.

    :return: a :class:`Primary` (listening; call :meth:`Primary.serve`, then
        :meth:`Primary.close`) when no instance was running; ``None`` once the running
        instance has accepted ``instance``.
    :raises RampartsError: the folder is not private, the running instance refused the
        message or did not answer within :data:`CONNECT_TIMEOUT` seconds.
    """
    if not hasattr(socket, "SO_PEERCRED"):
        raise RampartsError("single_instance needs Linux: SO_PEERCRED is missing here")
    folder = runtime_dir() if folder is None else folder
    stem = _stem(folder, identifier)
    line = json.dumps(instance.to_json()).encode() + b"\n"  # ASCII: surrogates escaped
    if len(line) > MAX_MESSAGE:
        raise RampartsError(
            f"single_instance: the arguments take {len(line)} bytes; at most {MAX_MESSAGE} "
            "can be handed to the running instance"
        )
    try:
        return _claim(folder, stem, line)
    except OSError as e:
        raise RampartsError(f"single_instance: {folder / stem}: {e.strerror or e}") from None


def _claim(folder: Path, stem: str, line: bytes) -> Primary | None:
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    lock = os.open(folder / f"{stem}.lock", flags, 0o600)
    try:
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while not _try_lock(lock):
            if _hand_over(folder / f"{stem}.sock", line):
                os.close(lock)
                return None
            if time.monotonic() > deadline:
                raise RampartsError(
                    f"single_instance: another instance holds {folder / stem}.lock "
                    f"but does not answer on {stem}.sock"
                )
            # It holds the lock but does not listen yet, or is just exiting: again.
            time.sleep(0.05)
        return Primary(lock, folder / f"{stem}.sock")
    except BaseException:
        os.close(lock)
        raise


def _try_lock(fd: int) -> bool:
    import fcntl  # POSIX only: importing this module must work everywhere

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def _hand_over(path: Path, line: bytes) -> bool:
    """Send ``line`` to the primary at ``path``: ``True`` once it accepted it, ``False``
    when nobody answered there (not listening yet, or gone). Raises
    :class:`RampartsError` when the primary refuses it."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect(os.fsencode(path))
            if _peer_uid(sock) != os.getuid():  # only root could have put it there
                raise RampartsError(f"single_instance: {path} is served by another user")
            sock.sendall(line)
        except (FileNotFoundError, ConnectionError):
            return False
        reply = _read_line(sock, _REPLY_MAX, time.monotonic() + CONNECT_TIMEOUT)
    if reply is None:
        return False  # closed unread: it was exiting, or serving too many at once
    try:
        answer = json.loads(reply)
        ok, error = answer.get("ok") is True, answer.get("error")
    except (ValueError, AttributeError):
        raise RampartsError(f"single_instance: {path} answered {reply!r}") from None
    if not ok:
        raise RampartsError(f"single_instance: the running instance refused: {error}")
    return True


def _read_line(sock: socket.socket, limit: int, deadline: float) -> bytes | None:
    """Bytes up to the first newline; ``None`` when more than ``limit`` came first, or
    the peer closed or went quiet past ``deadline`` before a newline."""
    data = bytearray()
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0 or len(data) > limit:
            return None
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except OSError:  # timed out, or reset
            return None
        if not chunk:
            return None
        data += chunk
    line = bytes(data[: data.index(b"\n")])
    return line if len(line) <= limit else None


class Primary:
    """The running instance: holds the lock, listens on the socket, hands what second
    instances send to a ``deliver`` function (:meth:`serve`) until :meth:`close`."""

    def __init__(self, lock: int, path: Path) -> None:
        self.path = path
        self._lock = lock
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._queue: queue.Queue[SecondInstance | None] = queue.Queue(MAX_QUEUED)
        self._closed = threading.Event()
        self._full = False
        self._listener = self._listen()

    def _listen(self) -> socket.socket:
        """A socket bound under a temporary name, made 0600 and listening, then renamed
        over ``path``: a second instance finds either nothing, a stale socket (which
        refuses it, and it tries again) or this one, ready to accept."""
        new = self.path.with_name(f".{self.path.name}.{os.getpid()}.new")
        with contextlib.suppress(FileNotFoundError):
            new.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(os.fsencode(new))
            os.chmod(new, 0o600)
            sock.listen(MAX_CONNECTIONS)
            os.replace(new, self.path)
        except OSError as e:
            sock.close()
            raise RampartsError(f"single_instance: cannot listen on {self.path}: {e}") from None
        self._inode = os.stat(self.path).st_ino
        return sock

    def serve(self, deliver: Callable[[SecondInstance], None]) -> None:
        """Accept second instances on a thread; call ``deliver`` for each on another,
        one at a time, in the order they came. Returns at once."""
        threading.Thread(target=self._accept, name="ramparts-single-instance", daemon=True).start()
        threading.Thread(
            target=self._deliver, args=(deliver,), name="ramparts-second-instance", daemon=True
        ).start()

    def close(self) -> None:
        """Stop listening, remove the socket (if it is still this one's) and the lock."""
        if self._closed.is_set():
            return
        self._closed.set()
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self._inode:
                self.path.unlink()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept (close would not)
        self._listener.close()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        os.close(self._lock)  # released last: nobody replaces the socket before this

    def __enter__(self) -> Primary:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed
            if not self._slots.acquire(blocking=False):
                if not self._full:  # once per busy spell: a retrying client connects often
                    log.warning(
                        "single_instance: %d connections at once; more are closed unread",
                        MAX_CONNECTIONS,
                    )
                self._full = True
                conn.close()
                continue
            self._full = False
            threading.Thread(target=self._serve_one, args=(conn,), daemon=True).start()

    def _serve_one(self, conn: socket.socket) -> None:
        try:
            with conn:
                uid = _peer_uid(conn)
                if uid != os.getuid():
                    log.warning("single_instance: refused a connection from uid %d", uid)
                    return
                error = self._receive(conn)
                reply = {"ok": True} if error is None else {"ok": False, "error": error}
                if error is not None:
                    log.warning("single_instance: refused a second instance: %s", error)
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps(reply).encode() + b"\n")
        finally:
            self._slots.release()

    def _receive(self, conn: socket.socket) -> str | None:
        """Read, check and queue one message: ``None``, or what was wrong with it."""
        line = _read_line(conn, MAX_MESSAGE, time.monotonic() + READ_TIMEOUT)
        if line is None:
            return f"no line of at most {MAX_MESSAGE} bytes within {READ_TIMEOUT:g} s"
        instance = parse_message(line)
        if instance is None:
            return 'not {"args": [strings], "cwd": string} as JSON'
        try:
            self._queue.put_nowait(instance)
        except queue.Full:
            return f"{MAX_QUEUED} second instances are already waiting"
        return None

    def _deliver(self, deliver: Callable[[SecondInstance], None]) -> None:
        while (instance := self._queue.get()) is not None:
            try:
                deliver(instance)
            except Exception:
                log.exception("single_instance: delivering a second instance failed")


def parse_message(line: bytes) -> SecondInstance | None:
    """A second instance's message, or ``None`` unless it is exactly
    ``{"args": [str, ...], "cwd": str}``."""
    from ramparts.bridge.protocol import strict_loads

    try:
        value = strict_loads(line)
    except (ValueError, RecursionError):  # ValueError: json's, bad UTF-8, NotJson
        return None
    if not isinstance(value, dict) or set(value) != {"args", "cwd"}:
        return None
    args, cwd = value["args"], value["cwd"]
    if not isinstance(cwd, str) or not isinstance(args, list):
        return None
    if not all(isinstance(a, str) for a in args):
        return None
    return SecondInstance(args=tuple(args), cwd=cwd)
