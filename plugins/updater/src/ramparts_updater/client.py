"""The Python API: :class:`Updater` checks the feed, downloads the archive and installs it
into the user's update root, for the page's commands and for apps with no UI.

The keys come from the running build (what its launcher verified it with), never from
the page or the feed. Every refusal is an :class:`UpdateError` whose ``code`` says why.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import ssl
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, NoReturn
from urllib.parse import urljoin, urlsplit

import httpx

from ramparts.release.signing import load_public_key
from ramparts.release.updates import (
    Feed,
    RunningBuild,
    UpdateError,
    install,
    newer,
    read_feed,
    running_build,
    update_root,
)

__all__ = ["MAX_FEED_BYTES", "Progress", "Updater", "check_url"]

#: A feed is a few hundred bytes of JSON (plus release notes); more is not a feed.
MAX_FEED_BYTES = 1 << 20
_CHUNK = 64 * 1024
_MAX_REDIRECTS = 5
#: ``progress(phase, done, total)``: phase ``download`` (bytes), then ``install`` steps.
Progress = Callable[[str, int, int], None]


def _ignore(phase: str, done: int, total: int) -> None:
    pass


def check_url(url: str, where: str = "the URL") -> str:
    """``url`` if updates may come from it: HTTPS, or plain HTTP to a loopback host
    (tests). No user name or password in it.

    :raises UpdateError: ``insecure_url``.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.username is not None or parts.password is not None or not host:
        raise UpdateError("insecure_url", f"{where} {url!r} must name a host and no credentials")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and _loopback(host):
        return url
    raise UpdateError(
        "insecure_url", f"{where} {url!r} is not HTTPS (plain HTTP only for a loopback host)"
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Updater:
    """Updates of the running build from a signed feed at ``endpoint``.

    :param build: the build to update (default: the running one, as its launcher
        recorded it; under ``ramparts dev`` there is none, and this is ``not_built``).
    :param root: the update root (default: :func:`ramparts.release.updates.update_root`).
    :param timeout: seconds without progress on a connection before it is given up.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        build: RunningBuild | None = None,
        root: Path | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.endpoint = check_url(endpoint, "the feed endpoint")
        found = build or running_build()
        if found is None or not found.keys:
            raise UpdateError(
                "not_built",
                "updates apply to a signed built app (under `ramparts dev`, or in an unsigned "
                "build, there is no key to check them with)",
            )
        self.build = found
        self.root = root or update_root(found.identifier)
        self.timeout = timeout
        self._keys = [load_public_key(k, "the built-in key") for k in found.keys]

    def feed(self) -> tuple[Feed, str]:
        """The feed, verified (signature, app, platform, expiry), and its final URL."""
        with self._get(self.endpoint) as (response, url):
            data = bytearray()
            for chunk in response.iter_raw(_CHUNK):
                data += chunk
                if len(data) > MAX_FEED_BYTES:
                    raise UpdateError(
                        "too_large", f"{url}: the feed is larger than {MAX_FEED_BYTES} bytes"
                    )
        return read_feed(bytes(data), self._keys, self.build.identifier, where=url), url

    def check(self) -> Feed | None:
        """The newer version the feed offers, or ``None`` when it offers this one.

        :raises UpdateError: ``not_newer`` when it offers an older one (a replayed or
            rolled-back feed), and every refusal of :meth:`feed`.
        """
        return self.compare(*self.feed())

    def compare(self, feed: Feed, url: str) -> Feed | None:
        """:meth:`check` for a feed already fetched (with its URL, for messages)."""
        if newer(feed.version, self.build.version):
            return feed
        if feed.version == self.build.version:
            return None
        raise UpdateError(
            "not_newer",
            f"{url} offers {feed.version}, older than the running {self.build.version}: "
            "a replayed or rolled-back feed",
        )

    def install(
        self, progress: Progress = _ignore, cancelled: Callable[[], bool] = lambda: False
    ) -> tuple[Feed, Path]:
        """Fetch the feed again, download its archive, verify it and the build in it,
        and make it current in the update root; return the feed and the new executable.

        Nothing of the installed app, or of the build the update root runs now, is
        changed unless every check passes. Relaunch to run it (:meth:`relaunch`).
        """
        feed, url = self.feed()
        if not newer(feed.version, self.build.version):
            raise UpdateError(
                "not_newer",
                f"{url} offers {feed.version}, which is not newer than the running "
                f"{self.build.version}",
            )
        archive_url = check_url(urljoin(url, feed.url), "the archive URL")
        self.root.mkdir(parents=True, exist_ok=True)
        with self._locked():
            archive = self._download(feed, archive_url, progress, cancelled)
            try:
                steps = iter(range(1, 6))

                def step(name: str) -> None:
                    progress(f"install:{name}", next(steps), 5)

                executable = install(
                    archive, feed.version, self._keys, self.build.identifier, self.root, step=step
                )
            finally:
                archive.unlink(missing_ok=True)
        return feed, executable

    def relaunch(self) -> NoReturn:
        """Replace this process with the installed app's launcher, which verifies the
        update with its own key and runs it. Same arguments; nothing here runs after."""
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        base = self.build.base
        os.execv(base, [str(base), *sys.argv[1:]])

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One install at a time per user and app (two windows, two processes)."""
        try:
            import fcntl
        except ImportError:  # Windows: the update root is not written there
            raise UpdateError("unsupported", "updates are not supported on this OS") from None
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UpdateError("busy", "another install of this app is running") from None
            yield
        finally:
            os.close(fd)

    def _download(
        self, feed: Feed, url: str, progress: Progress, cancelled: Callable[[], bool]
    ) -> Path:
        fd, name = tempfile.mkstemp(dir=self.root, prefix=".download-")
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out, self._get(url) as (response, final):
                length = response.headers.get("content-length", "")
                if length.isdigit() and int(length) > feed.size:
                    raise UpdateError(
                        "too_large", f"{final}: {length} bytes announced, the feed says {feed.size}"
                    )
                digest = self._stream(response, out, feed, final, progress, cancelled)
            if digest != feed.sha256:
                raise UpdateError(
                    "hash_mismatch",
                    f"{final}: the archive's SHA-256 is not the one the feed signed",
                )
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path

    def _stream(
        self,
        response: httpx.Response,
        out: IO[bytes],
        feed: Feed,
        url: str,
        progress: Progress,
        cancelled: Callable[[], bool],
    ) -> str:
        """Copy the body to ``out``, hashing; stop at the first chunk past the size."""
        h = hashlib.sha256()
        received = 0
        shown = -1
        for chunk in response.iter_raw(_CHUNK):
            received += len(chunk)
            if received > feed.size:
                raise UpdateError(
                    "too_large", f"{url}: the archive is larger than the {feed.size} bytes signed"
                )
            if cancelled():
                raise UpdateError("cancelled", "the download was cancelled (the page went away)")
            h.update(chunk)
            out.write(chunk)
            if received * 100 // feed.size != shown or received == feed.size:
                shown = received * 100 // feed.size
                progress("download", received, feed.size)
        if received != feed.size:
            raise UpdateError(
                "size_mismatch",
                f"{url}: the archive is {received} bytes, the feed says {feed.size}",
            )
        return h.hexdigest()

    @contextlib.contextmanager
    def _get(self, url: str) -> Iterator[tuple[httpx.Response, str]]:
        """A streamed GET; each redirect is checked like the first URL."""
        context = ssl.create_default_context()  # the system's CAs
        timeout = httpx.Timeout(self.timeout)
        try:
            with httpx.Client(verify=context, trust_env=False, timeout=timeout) as client:
                for _ in range(_MAX_REDIRECTS + 1):
                    headers = {"Accept-Encoding": "identity"}
                    with client.stream("GET", url, headers=headers) as response:
                        if response.is_redirect and "location" in response.headers:
                            url = check_url(
                                urljoin(url, response.headers["location"]), "a redirect"
                            )
                            continue
                        if response.status_code != 200:
                            raise UpdateError("network", f"{url}: HTTP {response.status_code}")
                        yield response, url
                        return
        except httpx.HTTPError as e:
            raise UpdateError("network", f"{url}: {type(e).__name__}: {e}") from None
        raise UpdateError("network", f"{url}: more than {_MAX_REDIRECTS} redirects")
