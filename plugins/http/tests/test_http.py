"""The ``http`` capability without a window, against REAL servers on 127.0.0.1.

Each command is called the way the bridge calls it (arguments bound against the
signature, a real ``CallContext`` and ``WindowSession``). The servers (defined here and
reused by ``test_http_webview.py``) listen on loopback only, and the test configs allow
them explicitly by IP and port. Nothing here touches any other address: names that must
not resolve are checked not to be looked up at all, and names that must resolve use a
fake ``getaddrinfo`` answering with loopback addresses.

For every refusal the test proves it happened before any connection: the transport
was never called, the :class:`Tripwire` port got no connection, and names out of
scope were never resolved.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import http.server
import json
import socket
import ssl
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import attrs
import httpx
import pytest

import ramparts_http
from ramparts import CallContext, ConfigContext
from ramparts.bridge.session import Registry, WindowSession
from ramparts.commands import as_command
from ramparts.errors import CommandError, ConfigError

CHUNK = 64 * 1024

# -- real loopback servers ---------------------------------------------------------


@attrs.frozen
class Seen:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        found = [v for k, v in self.headers if k.lower() == name.lower()]
        return found[0] if found else None


def _bomb(size: int) -> bytes:
    """``size`` zero bytes, gzip-compressed (about 1000:1), made without holding them."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(CHUNK)
    parts = [comp.compress(zeros) for _ in range(size // CHUNK)]
    return b"".join(parts) + comp.flush()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        owner = self.server.owner
        seen = Seen(self.command, self.path, list(self.headers.items()), body)
        owner.requests.append(seen)
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        route = getattr(self, "route_" + url.path.strip("/").replace("-", "_"), None)
        try:
            if route is None:
                self.reply(404, b"no such route", "text/plain")
            else:
                route(q, seen)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass  # the client hung up (too_large, timeout): expected

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _handle

    def do_HEAD(self) -> None:
        self._handle()

    def do_PROPFIND(self) -> None:
        self._handle()

    def reply(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/octet-stream",
        headers: dict[str, str] | None = None,
        length: bool = True,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length:
            self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # -- routes ---------------------------------------------------------------------

    def route_info(self, q: dict[str, str], seen: Seen) -> None:
        info = {
            "method": seen.method,
            "path": seen.path,
            "headers": {k.lower(): v for k, v in seen.headers},
            "body": seen.body.decode("latin-1"),
        }
        self.reply(200, json.dumps(info).encode(), "application/json")

    def route_echo(self, q: dict[str, str], seen: Seen) -> None:
        self.reply(200, seen.body, "application/octet-stream")

    def route_bytes(self, q: dict[str, str], seen: Seen) -> None:
        self.reply(200, bytes(range(256)) * 4)

    def route_json(self, q: dict[str, str], seen: Seen) -> None:
        self.reply(
            200, q.get("v", '{"ok": true, "n": [1, 2.5, null]}').encode(), "application/json"
        )

    def route_latin1(self, q: dict[str, str], seen: Seen) -> None:
        self.reply(200, "café".encode("latin-1"), "text/plain; charset=ISO-8859-1")

    def route_charset(self, q: dict[str, str], seen: Seen) -> None:
        self.reply(200, "café \xff".encode("latin-1"), f"text/plain; charset={q['cs']}")

    def route_status(self, q: dict[str, str], seen: Seen) -> None:
        self.reply(int(q["code"]), b"status body", "text/plain")

    def route_redirect(self, q: dict[str, str], seen: Seen) -> None:
        status = int(q.get("status", "302"))
        self.reply(status, b"", "text/plain", {"Location": q["to"]})

    def route_loop(self, q: dict[str, str], seen: Seen) -> None:
        self.reply(302, b"", "text/plain", {"Location": "/loop"})

    def route_cookie(self, q: dict[str, str], seen: Seen) -> None:
        self.reply(200, b"ok", "text/plain", {"Set-Cookie": "session=secret; HttpOnly"})

    def route_big(self, q: dict[str, str], seen: Seen) -> None:
        self.reply(200, b"x" * int(q["n"]))

    def route_nolength(self, q: dict[str, str], seen: Seen) -> None:
        self.reply(200, b"x" * int(q["n"]), length=False)

    def route_forever(self, q: dict[str, str], seen: Seen) -> None:
        self.reply(200, b"", length=False)
        chunk = b"y" * CHUNK
        while not self.server.owner.stopping.is_set():
            self.wfile.write(chunk)
            self.server.owner.streamed += len(chunk)

    def route_drip(self, q: dict[str, str], seen: Seen) -> None:
        self.reply(200, b"", length=False)
        while not self.server.owner.stopping.wait(0.05):
            self.wfile.write(b".")
            self.wfile.flush()

    def route_sleep(self, q: dict[str, str], seen: Seen) -> None:
        self.server.owner.stopping.wait(float(q["s"]))
        self.reply(200, b"late", "text/plain")

    def route_gzip(self, q: dict[str, str], seen: Seen) -> None:
        self.reply(
            200,
            gzip.compress(q.get("text", "hello").encode()),
            "text/plain",
            {"Content-Encoding": "gzip"},
        )

    def route_deflate(self, q: dict[str, str], seen: Seen) -> None:
        comp = zlib.compressobj(wbits=-zlib.MAX_WBITS)  # raw deflate, as some servers send
        data = comp.compress(b"raw deflate") + comp.flush()
        self.reply(200, data, "text/plain", {"Content-Encoding": "deflate"})

    def route_bomb(self, q: dict[str, str], seen: Seen) -> None:
        self.reply(200, self.server.owner.bomb, "text/plain", {"Content-Encoding": "gzip"})

    def route_brotli(self, q: dict[str, str], seen: Seen) -> None:
        self.reply(200, b"\x0b\x02\x80hi\x03", "text/plain", {"Content-Encoding": "br"})

    def route_garbage(self, q: dict[str, str], seen: Seen) -> None:
        self.wfile.write(b"THIS IS NOT HTTP\r\n\r\n")


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: Server

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        self.owner.connections += 1
        if self.owner.tls is not None:
            sock = self.owner.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr


class Server:
    """An HTTP (or HTTPS, with ``tls``) server on 127.0.0.1 in a thread."""

    def __init__(self, tls: ssl.SSLContext | None = None, bomb_size: int = 0) -> None:
        self.tls = tls
        self.requests: list[Seen] = []
        self.connections = 0
        self.streamed = 0
        self.sni: list[str | None] = []
        self.stopping = threading.Event()
        self.bomb = _bomb(bomb_size) if bomb_size else b""
        if tls is not None:
            tls.sni_callback = lambda _obj, name, _ctx: self.sni.append(name)  # type: ignore[assignment,misc]
        self.httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.owner = self
        self.port: int = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def base(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


class Tripwire:
    """A loopback port that counts the connections it gets and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        for conn in self._held:
            conn.close()
        self.sock.close()


def free_port() -> int:
    """A loopback port with nothing listening on it (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_tls(names: list[str]) -> tuple[bytes, ssl.SSLContext]:
    """A throwaway CA and a server context whose certificate names ``names``.

    :return: the CA certificate (PEM, for the client to trust) and the server context.
    """
    import tempfile

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def build(subject: str, key: Any, issuer: str, signer: Any, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = build("ramparts test CA", ca_key, "ramparts test CA", ca_key, True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = build(names[0], leaf_key, "ramparts test CA", ca_key, False)
    pem = serialization.Encoding.PEM
    key_pem = leaf_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.NamedTemporaryFile("wb", suffix=".pem") as f:
        f.write(leaf.public_bytes(pem) + key_pem)
        f.flush()
        ctx.load_cert_chain(f.name)
    return ca.public_bytes(pem), ctx


def wait_until(predicate: Any, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


# -- harness --------------------------------------------------------------------------

CTX = ConfigContext(
    Path("/app/pyproject.toml"), "tool.ramparts.capabilities.http", Path("/app"), "dev.test"
)


def _is_ip(text: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
    except OSError:
        return False
    return True


class Net:
    """Spies on DNS and on the transport. No real DNS: names not in ``fake`` fail."""

    def __init__(self) -> None:
        self.lookups: list[str] = []
        self.sent: list[str] = []  # URLs handed to the transport: connection attempts
        self.fake: dict[str, list[list[str]]] = {}  # name -> successive answers

    def names(self) -> list[str]:
        return [n for n in self.lookups if not _is_ip(n)]


@pytest.fixture
def net(monkeypatch: pytest.MonkeyPatch) -> Net:
    spy = Net()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        spy.lookups.append(name)
        if name in spy.fake:
            answers = spy.fake[name]
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
            return [
                (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0))
                if ":" in a
                else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in answer
            ]
        if name != "localhost" and not _is_ip(name):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    original = httpx.AsyncHTTPTransport.handle_async_request

    async def handle(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        spy.sent.append(str(request.url))
        return await original(self, request)

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", handle)
    return spy


class Http:
    """A configured http capability and one real window session."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.state = ramparts_http.configure(table, CTX)
        self.session = WindowSession("main", Registry(), "per-session", lambda _m: None)

    def __call__(self, **args: Any) -> ramparts_http.HttpResponse:
        """Call ``fetch`` as the bridge does: validate the page's arguments, then run."""
        cmd = as_command(ramparts_http.fetch)
        assert cmd is not None and cmd.wants_context and cmd.is_async
        kwargs = cmd.bind(args)
        ctx = CallContext("http", "fetch", self.session.window, self.state, self.session)
        result: ramparts_http.HttpResponse = asyncio.run(ramparts_http.fetch(ctx, **kwargs))
        return result

    def error(self, **args: Any) -> CommandError:
        with pytest.raises(CommandError) as info:
            self(**args)
        return info.value

    def code(self, **args: Any) -> str:
        try:
            self(**args)
        except CommandError as e:
            return e.code
        return "ok"


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


@pytest.fixture
def other() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


@pytest.fixture
def trip() -> Iterator[Tripwire]:
    t = Tripwire()
    yield t
    t.close()


def allow(*servers: Server, **options: Any) -> Http:
    return Http({"scope": [f"{s.base}/**" for s in servers], **options})


# -- the command and its config ----------------------------------------------------------


def test_the_plugin_is_registered_and_binary() -> None:
    names = {ep.name: ep.value for ep in entry_points(group="ramparts.capabilities")}
    assert names["http"] == "ramparts_http"
    cap = ramparts_http.ramparts_capability()
    assert cap.name == "http" and set(cap.command_table()) == {"fetch"}
    cmd = as_command(ramparts_http.fetch)
    assert cmd is not None and cmd.binary  # bytes travel raw, both ways


def test_config_defaults_and_errors() -> None:
    state = ramparts_http.configure({}, CTX)
    assert state.timeout == 30 and state.max_response_bytes == 16 * 1024 * 1024
    assert state.max_redirects == 10 and state.allow_cookies is False
    assert state.scope.patterns == ()
    bad: list[tuple[str, Any]] = [
        ("timeout", 0),
        ("timeout", -1),
        ("timeout", "30"),
        ("timeout", True),
        ("timeout", 601),
        ("max_response_bytes", 1.5),
        ("max_response_bytes", -1),
        ("max_response_bytes", 2**31),
        ("max_redirects", 51),
        ("max_redirects", "3"),
        ("allow_cookies", "yes"),
        ("scope", "https://a.example/**"),
        ("proxy", "http://p.example"),
    ]
    for key, value in bad:
        with pytest.raises(ConfigError) as info:
            ramparts_http.configure({key: value}, CTX)
        assert info.value.key == f"tool.ramparts.capabilities.http.{key}", key
    with pytest.raises(ConfigError) as info:
        ramparts_http.configure({"scope": ["https://a.example/**", "https://b@c/"]}, CTX)
    assert info.value.key.endswith("http.scope[1]")


# -- requests that work ---------------------------------------------------------------


def test_get_text_json_and_headers(server: Server, net: Net) -> None:
    http = allow(server)
    r = http(url=f"{server.base}/info?x=1#fragment", response_type="json")
    assert r.status == 200 and r.status_text == "OK" and r.redirected is False
    assert r.url == f"{server.base}/info?x=1"
    assert r.headers["content-type"] == "application/json"
    assert r.body["method"] == "GET" and r.body["path"] == "/info?x=1"
    sent = r.body["headers"]
    assert sent["host"] == f"127.0.0.1:{server.port}"
    assert sent["user-agent"].startswith("ramparts-http/")
    assert sent["accept-encoding"] == "gzip, deflate"
    assert "cookie" not in sent and "authorization" not in sent
    assert http(url=f"{server.base}/json", response_type="json").body == {
        "ok": True,
        "n": [1, 2.5, None],
    }
    text = http(url=f"{server.base}/json").body
    assert isinstance(text, str) and json.loads(text)["ok"] is True
    latin1 = http(url=f"{server.base}/latin1")
    assert latin1.body == "café" and latin1.charset == "iso8859-1"
    assert http(url=f"{server.base}/gzip?text=zipped").body == "zipped"
    assert http(url=f"{server.base}/deflate").body == "raw deflate"
    assert http(url=f"{server.base}/status?code=404").status == 404
    head = http(url=f"{server.base}/bytes", method="head", response_type="bytes")
    assert head.body == b"" and head.headers["content-length"] == "1024"
    assert server.requests[-1].method == "HEAD"


@pytest.mark.parametrize("charset", ["undefined", "idna", "punycode", "base64", "no-such", '""'])
def test_a_charset_that_is_no_text_encoding_falls_back_to_utf8(
    server: Server, net: Net, charset: str
) -> None:
    # The server's mistake, not the page's: the body still arrives, decoded as UTF-8
    # with U+FFFD for what does not decode, and ``charset`` says so.
    http = allow(server)
    r = http(url=f"{server.base}/charset?cs={charset}")
    assert r.status == 200 and r.headers["content-type"].endswith(charset)
    assert r.body == "caf\ufffd \ufffd" and r.charset == "utf-8"
    assert http(url=f"{server.base}/charset?cs={charset}", response_type="bytes").charset is None


def test_custom_headers_methods_and_paths(server: Server, net: Net) -> None:
    http = allow(server)
    r = http(
        url=f"{server.base}/x/../info",
        method="PROPFIND",
        headers={"X-Custom": " v1 ", "Authorization": "Bearer t", "User-Agent": "mine/1"},
        response_type="json",
    )
    assert r.body["method"] == "PROPFIND" and r.body["path"] == "/info"
    assert r.body["headers"]["x-custom"] == "v1"
    assert r.body["headers"]["authorization"] == "Bearer t"
    assert r.body["headers"]["user-agent"] == "mine/1"
    for m in ("delete", "put", "patch", "options"):
        assert (
            http(url=f"{server.base}/info", method=m, response_type="json").body["method"]
            == m.upper()
        )


def test_binary_bodies_both_ways(server: Server, net: Net) -> None:
    http = allow(server)
    data = bytes(range(256)) * 64
    r = http(url=f"{server.base}/echo", method="POST", body=data, response_type="bytes")
    assert isinstance(r.body, bytes) and r.body == data
    assert server.requests[-1].body == data
    assert server.requests[-1].header("Content-Type") is None  # raw bytes: no type invented
    assert http(url=f"{server.base}/bytes", response_type="bytes").body == bytes(range(256)) * 4
    # A memoryview/bytearray from the bridge is bytes too; text is sent as UTF-8.
    r = http(url=f"{server.base}/echo", method="PUT", body="héllo ✓", response_type="bytes")
    assert r.body == "héllo ✓".encode()
    assert server.requests[-1].header("Content-Type") == "text/plain;charset=UTF-8"
    r = http(
        url=f"{server.base}/echo",
        method="POST",
        body='{"a":1}',
        headers={"Content-Type": "application/json"},
        response_type="json",
    )
    assert r.body == {"a": 1}
    empty = http(url=f"{server.base}/echo", method="POST", body=b"", response_type="bytes")
    assert empty.body == b""


def test_response_type_errors(server: Server, net: Net) -> None:
    http = allow(server)
    assert http(url=f"{server.base}/echo", method="POST", response_type="json").body is None
    # The bridge's own strict loader: a number beyond a double (1e400 is inf in Python,
    # Infinity in JS) is no more JSON than NaN is.
    for v in ("not json", "NaN", "[1, Infinity]", "{", '{"a": [1e400]}', "-1E+309", "9" * 400):
        e = http.error(url=f"{server.base}/json?v={quote(v)}", response_type="json")
        assert e.code == "failed" and e.data == {"reason": "json"}, v
    # Underflow is 0.0, as in JS; a long but finite integer stays exact.
    r = http(
        url=f"{server.base}/json?v={quote('[1e-400, 12345678901234567890123]')}",
        response_type="json",
    )
    assert r.body == [0.0, 12345678901234567890123]
    assert http.code(url=f"{server.base}/info", response_type="xml") == "invalid_args"


# -- arguments refused before any connection -----------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Host",
        "hOsT",
        "Cookie",
        "Cookie2",
        "Connection",
        "Keep-Alive",
        "Proxy-Authorization",
        "Proxy-Connection",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Content-Length",
        "Accept-Encoding",
        "Expect",
    ],
)
def test_refused_headers(server: Server, net: Net, name: str) -> None:
    e = allow(server).error(url=f"{server.base}/info", headers={name: "x"})
    assert e.code == "invalid_args" and e.data == {"path": f"headers.{name}"}
    assert net.sent == [] and server.connections == 0


def test_malformed_headers_methods_and_limits(server: Server, net: Net) -> None:
    http = allow(server, timeout=5, max_response_bytes=1000)
    url = f"{server.base}/info"
    for headers in (
        {"X-A": "b\r\nHost: evil.example"},
        {"X-A": "b\nc"},
        {"X-A": "nul\x00"},
        {"X A": "b"},
        {"": "b"},
        {"X-A:": "b"},
        {"X-A": "snowman ☃"},
        {"X-A": 1},
        {"X-Big": "x" * 70_000},
    ):
        assert http.code(url=url, headers=headers) == "invalid_args", headers
    for method in ("TRACE", "connect", "Track", "GE T", "", "GET\r\n"):
        assert http.code(url=url, method=method) == "invalid_args", method
    assert http.code(url=url, body="x") == "invalid_args"  # GET has no body
    assert http.code(url=url, method="HEAD", body=b"x") == "invalid_args"
    assert http.code(url=url, body=[1, 2]) == "invalid_args"
    for t in (0, -1, 5.01, 60, "1", True):
        assert http.code(url=url, timeout=t) == "invalid_args", t
    for n in (-1, 1001, 1.5):
        assert http.code(url=url, max_response_bytes=n) == "invalid_args", n
    assert http.code(url=url, nope=1) == "invalid_args"
    assert http.code(url=7) == "invalid_args"
    assert net.sent == [] and server.connections == 0


# -- the SSRF corpus: the page's URL -------------------------------------------------------


def test_ssrf_corpus_refused_before_any_connection(
    server: Server, trip: Tripwire, net: Net
) -> None:
    """Only ``127.0.0.1:<server>`` is in scope. Everything else that could reach this
    machine is refused, with no DNS lookup of the names involved and no connection."""
    http = allow(server)
    a, b = server.port, trip.port
    refused = {
        "out_of_scope": [
            f"http://127.0.0.1:{b}/",
            f"http://127.0.0.1:{b}#@127.0.0.1:{a}/",
            f"http://127.0.0.1:{b}?@127.0.0.1:{a}/",
            f"http://127.0.0.1:{b}/@127.0.0.1:{a}/",
            f"http://2130706433:{b}/",
            f"http://0x7f.0.0.1:{b}/",
            f"http://0x7f000001:{b}/",
            f"http://0177.0.0.1:{b}/",
            f"http://017700000001:{b}/",
            f"http://127.1:{b}/",
            f"http://127.0.1:{b}/",
            f"http://[::ffff:127.0.0.1]:{b}/",
            f"http://[::ffff:7f00:1]:{b}/",
            f"http://127.0.0.2:{a}/",
            f"http://2130706434:{a}/",
            f"http://0:{a}/",
            f"http://0.0.0.0:{a}/",
            f"http://[::1]:{a}/",
            f"http://[0:0:0:0:0:0:0:1]:{a}/",
            f"http://[::]:{a}/",
            f"http://[::ffff:7f00:2]:{a}/",
            f"http://[::127.0.0.1]:{a}/",
            f"https://127.0.0.1:{a}/",
            f"http://localhost:{a}/",
            f"http://localhost.:{a}/",
            f"http://127.0.0.1.nip.io:{a}/",
            f"http://localtest.me:{a}/",
            "http://169.254.169.254/latest/meta-data/",
            "http://metadata.google.internal/",
            "http://evil.example/",
        ],
        "invalid_args": [
            f"http://allowed.example@127.0.0.1:{a}/",
            f"http://127.0.0.1:{a}@127.0.0.1:{b}/",
            f"http://user:pw@127.0.0.1:{a}/",
            f"http://@127.0.0.1:{a}/",
            f"http://127.0.0.1:{b}\\@127.0.0.1:{a}/",
            f"http://127.0.0.1:{a}\\@127.0.0.1:{b}/",
            f"http://127.0.0.1%3A{b}/",
            f"http://127.0.0.1:{a}:{b}/",
            f"http://127.0.0.1:{a}/../../etc/passwd",
            f"http://127.0.0.1:{a}/%2e%2e/x",
            f"http://127.0.0.1:{a}/a%2F..%2F..%2Fx",
            f"http://127.0.0.1:{a}/..;/x",
            f"http://127.0.0.1:{a}/\r\nX-Injected: 1",
            f"http://127.0.0.1:{a} /",
            f"http://1.2.3.4.5:{a}/",
            f"http://0x7f.0.0.1.2:{a}/",
            f"http://[fe80::1%25lo]:{a}/",
            f"gopher://127.0.0.1:{a}/_GET",
            "file:///etc/passwd",
            "ftp://127.0.0.1/",
            "javascript:alert(1)",
            f"//127.0.0.1:{a}/",
            "/info",
            "",
        ],
    }
    for expected, urls in refused.items():
        for url in urls:
            assert http.code(url=url) == expected, url
    assert net.sent == [], "a refused URL reached the transport"
    assert trip.accepted == 0 and server.connections == 0
    assert net.names() == [], "a refused URL's host was resolved"


def test_other_spellings_of_the_allowed_address_are_that_address(server: Server, net: Net) -> None:
    """Numeric and IPv4-mapped forms are understood as the address they mean: here that
    address is the one the scope names, so they reach it (and nothing else)."""
    http = allow(server)
    for host in ("2130706433", "0x7f.0.0.1", "0177.0.0.1", "127.1", "[::ffff:127.0.0.1]"):
        r = http(url=f"http://{host}:{server.port}/info", response_type="json")
        assert r.url == f"{server.base}/info"
        assert r.body["headers"]["host"] == f"127.0.0.1:{server.port}"
    assert net.sent == [f"{server.base}/info"] * 5


# -- address rules after DNS ------------------------------------------------------------


def test_a_name_that_resolves_to_loopback_is_refused_unless_private(
    server: Server, net: Net
) -> None:
    """``localhost`` (the system's real answer: loopback) is in scope by name only: it is
    refused after resolving, before connecting. ``private = true`` on that exact host
    lets it through; an IP pattern for 127.0.0.1 never makes a name acceptable."""
    both = Http({"scope": [f"{server.base}/**", f"http://localhost:{server.port}/**"]})
    e = both.error(url=f"http://localhost:{server.port}/info")
    assert e.code == "out_of_scope" and e.data["kind"] == "loopback"
    assert "localhost" in net.lookups and net.sent == [] and server.connections == 0

    private = Http({"scope": [{"url": f"http://localhost:{server.port}/**", "private": True}]})
    r = private(url=f"http://localhost:{server.port}/info", response_type="json")
    assert r.status == 200 and r.url == f"http://localhost:{server.port}/info"
    assert r.body["headers"]["host"] == f"localhost:{server.port}"  # the name, not the IP
    assert all(u.startswith(("http://127.0.0.1:", "http://[::1]:")) for u in net.sent)


def test_names_with_internal_answers(server: Server, net: Net) -> None:
    net.fake = {
        "internal.test": [["127.0.0.1"]],
        "mixed.test": [["93.184.216.34", "127.0.0.1"]],
        "mapped.test": [["::ffff:10.0.0.1"]],
        "meta.test": [["169.254.169.254"]],
        "six.test": [["::1"]],
        "zero.test": [["0.0.0.0"]],
    }
    http = Http({"scope": [f"http://{n}:{server.port}/**" for n in net.fake]})
    kinds = {}
    for name in net.fake:
        e = http.error(url=f"http://{name}:{server.port}/info")
        assert e.code == "out_of_scope", name
        kinds[name] = e.data["kind"]
    assert kinds == {
        "internal.test": "loopback",
        "mixed.test": "loopback",
        "mapped.test": "private",
        "meta.test": "link-local",
        "six.test": "loopback",
        "zero.test": "unspecified",
    }
    assert net.sent == [] and server.connections == 0


def test_the_connection_goes_to_the_checked_address(server: Server, net: Net) -> None:
    """DNS rebinding: the name is resolved once per hop, checked, and that address is
    the one connected to (a second lookup would have answered differently)."""
    net.fake = {"rebind.test": [["127.0.0.1"], ["169.254.169.254"]]}
    http = Http({"scope": [{"url": f"http://rebind.test:{server.port}/**", "private": True}]})
    r = http(url=f"http://rebind.test:{server.port}/info", response_type="json", timeout=5)
    assert r.body["headers"]["host"] == f"rebind.test:{server.port}"
    assert net.names() == ["rebind.test"]
    assert net.sent == [f"{server.base}/info"]


def test_dns_failure_and_unreachable_ports(net: Net) -> None:
    port = free_port()
    http = Http({"scope": ["http://nx.test/**", f"http://127.0.0.1:{port}/**"]})
    e = http.error(url="http://nx.test/")
    assert e.code == "failed" and e.data == {"reason": "dns"}
    e = http.error(url=f"http://127.0.0.1:{port}/")
    assert e.code == "failed" and e.data == {"reason": "connect"}


def test_a_broken_server_is_a_failure(server: Server, net: Net) -> None:
    http = allow(server)
    e = http.error(url=f"{server.base}/garbage")
    assert e.code == "failed" and e.data == {"reason": "protocol"}
    e = http.error(url=f"{server.base}/brotli")
    assert e.code == "failed" and e.data == {"reason": "encoding"}


# -- redirects ------------------------------------------------------------------------


def redirect(s: Server, to: str, status: int = 302) -> str:
    return f"{s.base}/redirect?status={status}&to={quote(to, safe='')}"


def test_redirects_inside_the_scope_are_followed(server: Server, net: Net) -> None:
    http = allow(server)
    r = http(url=redirect(server, "/info?hop=1"), response_type="json")
    assert r.redirected and r.url == f"{server.base}/info?hop=1" and r.status == 200
    r = http(url=redirect(server, f"http://2130706433:{server.port}/info"), response_type="json")
    assert r.url == f"{server.base}/info"
    r = http(url=redirect(server, redirect(server, "info")), response_type="json")
    assert r.body["path"] == "/info"
    r = http(url=redirect(server, "/info"), follow_redirects=False)
    assert r.status == 302 and r.headers["location"] == "/info" and not r.redirected


@pytest.mark.parametrize(
    ("status", "method", "after"),
    [
        (301, "POST", "GET"),
        (302, "POST", "GET"),
        (303, "POST", "GET"),
        (303, "PUT", "GET"),
        (307, "POST", "POST"),
        (308, "PUT", "PUT"),
        (301, "PUT", "PUT"),
    ],
)
def test_redirect_methods_like_a_browser(
    server: Server, net: Net, status: int, method: str, after: str
) -> None:
    http = allow(server)
    r = http(
        url=redirect(server, "/info", status), method=method, body="data", response_type="json"
    )
    assert r.body["method"] == after
    if after == "GET":
        assert r.body["body"] == "" and "content-type" not in r.body["headers"]
    else:
        assert r.body["body"] == "data"


def test_credentials_do_not_follow_a_redirect_to_another_origin(
    server: Server, other: Server, net: Net
) -> None:
    http = allow(server, other, allow_cookies=True)
    creds = {"Authorization": "Bearer secret", "Cookie": "a=b", "X-Other": "kept"}
    same = http(url=redirect(server, "/info"), headers=creds, response_type="json")
    assert same.body["headers"]["authorization"] == "Bearer secret"
    assert same.body["headers"]["cookie"] == "a=b"
    cross = http(url=redirect(server, f"{other.base}/info"), headers=creds, response_type="json")
    assert "authorization" not in cross.body["headers"]
    assert "cookie" not in cross.body["headers"]
    assert cross.body["headers"]["x-other"] == "kept"


def test_ssrf_corpus_of_redirects(server: Server, trip: Tripwire, net: Net) -> None:
    """Every hop is checked again: scope first (no DNS, no connection), then addresses."""
    net.fake = {"sneaky.test": [["127.0.0.1"]]}
    http = Http({"scope": [f"{server.base}/**", f"http://sneaky.test:{server.port}/**"]})
    a, b = server.port, trip.port
    cases = {
        f"http://127.0.0.1:{b}/": "out_of_scope",
        f"http://2130706433:{b}/": "out_of_scope",
        f"http://[::ffff:127.0.0.1]:{b}/": "out_of_scope",
        f"http://[::1]:{a}/": "out_of_scope",
        f"http://localhost:{a}/info": "out_of_scope",
        "http://169.254.169.254/latest/meta-data/": "out_of_scope",
        "http://evil.example/": "out_of_scope",
        f"https://127.0.0.1:{a}/info": "out_of_scope",
        f"http://127.0.0.1:{b}#@127.0.0.1:{a}/": "out_of_scope",
        f"//127.0.0.1:{b}/": "out_of_scope",
        f"http://sneaky.test:{a}/info": "out_of_scope",  # in scope by name; loopback answer
        f"http://allowed@127.0.0.1:{a}/info": "invalid_args",
        f"http://127.0.0.1:{b}\\@127.0.0.1:{a}/": "invalid_args",
        "/../../etc/passwd": "ok",  # joined like a browser: /etc/passwd on the same host
        "file:///etc/passwd": "invalid_args",
        f"gopher://127.0.0.1:{b}/": "invalid_args",
        "javascript:alert(1)": "invalid_args",
    }
    for to, expected in cases.items():
        for status in (302, 307):
            before = len(server.requests)
            assert http.code(url=redirect(server, to, status)) == expected, (to, status)
            assert len(server.requests) == before + 1 + (expected == "ok"), to
    assert trip.accepted == 0
    assert not any(u.startswith("http://[") or f":{b}/" in u for u in net.sent)
    assert net.names() == ["sneaky.test", "sneaky.test"]  # resolved, then refused


def test_too_many_redirects(server: Server, net: Net) -> None:
    http = allow(server, max_redirects=3)
    e = http.error(url=f"{server.base}/loop")
    assert e.code == "failed" and e.data == {"reason": "redirects"}
    assert len(server.requests) == 4
    assert allow(server, max_redirects=0).code(url=redirect(server, "/info")) == "failed"


# -- size and time limits ----------------------------------------------------------------


def test_size_limits(server: Server, net: Net) -> None:
    http = allow(server, max_response_bytes=1000)
    assert len(http(url=f"{server.base}/big?n=1000", response_type="bytes").body) == 1000
    for path in ("/big?n=1001", "/nolength?n=1001", "/nolength?n=5000000"):
        e = http.error(url=server.base + path)
        assert e.code == "too_large" and e.data == {"limit": 1000}, path
    assert http.code(url=f"{server.base}/big?n=11", max_response_bytes=10) == "too_large"
    assert http.code(url=f"{server.base}/big?n=10", max_response_bytes=10) == "ok"
    assert http.code(url=f"{server.base}/big?n=1", max_response_bytes=0) == "too_large"


def test_an_endless_stream_stops_at_the_limit(server: Server, net: Net) -> None:
    http = allow(server, max_response_bytes=256 * 1024)
    started = time.monotonic()
    assert http.code(url=f"{server.base}/forever") == "too_large"
    assert time.monotonic() - started < 5
    # The connection was closed: the server's writes start failing soon after.
    sent = server.streamed
    time.sleep(0.3)
    assert server.streamed - sent < 16 * 1024 * 1024


def test_a_compression_bomb_is_stopped_without_inflating_it(net: Net) -> None:
    bomb = Server(bomb_size=256 * 1024 * 1024)  # 256 MiB of zeros in ~256 KiB
    try:
        assert len(bomb.bomb) < 1024 * 1024
        http = allow(bomb, max_response_bytes=1024 * 1024)
        tracemalloc.start()
        try:
            e = http.error(url=f"{bomb.base}/bomb")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert e.code == "too_large"
        assert peak < 24 * 1024 * 1024, peak
    finally:
        bomb.close()


def test_time_limits(server: Server, net: Net) -> None:
    http = allow(server, timeout=5)
    for path in ("/sleep?s=30", "/drip"):
        started = time.monotonic()
        e = http.error(url=server.base + path, timeout=0.5)
        elapsed = time.monotonic() - started
        assert e.code == "timeout", path
        assert 0.4 < elapsed < 3, (path, elapsed)
    started = time.monotonic()
    assert allow(server, timeout=0.5).code(url=f"{server.base}/sleep?s=30") == "timeout"
    assert time.monotonic() - started < 3
    # The deadline covers the whole call, redirects included.
    slow = redirect(server, "/sleep?s=30")
    assert http.code(url=slow, timeout=0.5) == "timeout"


# -- cookies ---------------------------------------------------------------------------


def test_cookies_only_when_the_config_says_so(server: Server, net: Net) -> None:
    closed = allow(server)
    assert "set-cookie" not in closed(url=f"{server.base}/cookie").headers
    assert closed.code(url=f"{server.base}/info", headers={"cookie": "a=b"}) == "invalid_args"
    opened = allow(server, allow_cookies=True)
    assert opened(url=f"{server.base}/cookie").headers["set-cookie"].startswith("session=")
    r = opened(url=f"{server.base}/info", headers={"Cookie": "a=b"}, response_type="json")
    assert r.body["headers"]["cookie"] == "a=b"
    # No cookie jar: a cookie set by one response is never sent by the next request.
    opened(url=f"{server.base}/cookie")
    r = opened(url=redirect(server, "/info"), response_type="json")
    assert "cookie" not in r.body["headers"]


# -- TLS: SNI and the certificate check use the name, the socket uses the checked IP ------


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    """An HTTPS server for ``localhost`` whose CA (written to ``ca.pem``) nothing trusts."""
    ca, tls = make_tls(["localhost"])
    (tmp_path / "ca.pem").write_bytes(ca)
    s = Server(tls=tls)
    yield s, tmp_path / "ca.pem"
    s.close()


@pytest.fixture
def fresh_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    """No TLS context made before the test: each is built under the test's environment."""
    ramparts_http.tls.tls_context.cache_clear()
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)


def tls_http(s: Server, **options: Any) -> Http:
    return Http({"scope": [{"url": f"https://localhost:{s.port}/**", "private": True}], **options})


def test_tls_checks_the_name_while_connecting_to_the_checked_address(
    net: Net, tls_server: tuple[Server, Path]
) -> None:
    s, ca_file = tls_server
    url = f"https://localhost:{s.port}/info"
    # The system's trust store does not know this CA: refused.
    e = tls_http(s).error(url=url)
    assert e.code == "failed" and e.data == {"reason": "tls"}
    r = tls_http(s, ca_file=str(ca_file))(url=url, response_type="json")
    assert r.status == 200 and r.body["headers"]["host"] == f"localhost:{s.port}"
    assert s.sni[-1] == "localhost"
    assert all(u.startswith(("https://127.0.0.1:", "https://[::1]:")) for u in net.sent)


def test_tls_refuses_a_certificate_for_another_name(net: Net, tmp_path: Path) -> None:
    ca, tls = make_tls(["other.test"])
    (tmp_path / "ca.pem").write_bytes(ca)
    s = Server(tls=tls)
    try:
        http = Http(
            {
                "scope": [
                    {"url": f"https://localhost:{s.port}/**", "private": True},
                    f"https://127.0.0.1:{s.port}/**",
                ],
                "ca_file": str(tmp_path / "ca.pem"),
            }
        )
        for url in (f"https://localhost:{s.port}/info", f"https://127.0.0.1:{s.port}/info"):
            e = http.error(url=url)
            assert e.code == "failed" and e.data == {"reason": "tls"}, url
        assert len(s.requests) == 0
    finally:
        s.close()


# -- the environment cannot change what the capability trusts --------------------------


def _hashed_ca_dir(ca_file: Path) -> Path | None:
    """``ca_file`` in a folder as OpenSSL's ``SSL_CERT_DIR`` lookup wants it (by hash)."""
    import shutil
    import subprocess

    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    name = subprocess.run(
        [openssl, "x509", "-hash", "-noout", "-in", str(ca_file)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    folder = ca_file.parent / "hashed"
    folder.mkdir()
    (folder / f"{name}.0").write_bytes(ca_file.read_bytes())
    return folder


def test_ca_variables_in_the_environment_are_not_trusted(
    net: Net, tls_server: tuple[Server, Path], fresh_tls: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    s, ca_file = tls_server
    hashed = _hashed_ca_dir(ca_file)
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(name, str(ca_file))
    if hashed is not None:
        monkeypatch.setenv("SSL_CERT_DIR", str(hashed))
    e = tls_http(s).error(url=f"https://localhost:{s.port}/info")
    assert e.code == "failed" and e.data == {"reason": "tls"}
    assert len(s.requests) == 0
    context = ramparts_http.tls.tls_context(tls_http(s).state.trust)
    assert all(
        c["subject"] != ((("commonName", "ramparts test CA"),),) for c in context.get_ca_certs()
    )
    # Named by the config, the same CA is trusted (and the environment still adds nothing).
    assert tls_http(s, ca_file=str(ca_file))(url=f"https://localhost:{s.port}/info").status == 200


def test_sslkeylogfile_gets_no_secrets(
    net: Net, tls_server: tuple[Server, Path], fresh_tls: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    s, ca_file = tls_server
    keylog = ca_file.parent / "keys.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(keylog))
    http = tls_http(s, ca_file=str(ca_file))
    assert http(url=f"https://localhost:{s.port}/info").status == 200
    assert ramparts_http.tls.tls_context(http.state.trust).keylog_filename is None
    assert not keylog.exists()


PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


def test_proxy_variables_and_netrc_are_not_used(
    net: Net,
    server: Server,
    tls_server: tuple[Server, Path],
    trip: Tripwire,
    fresh_tls: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    s, ca_file = tls_server
    proxy = f"http://127.0.0.1:{trip.port}"
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, proxy)
        monkeypatch.setenv(name.lower(), proxy)
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("no_proxy", "")
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login user password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".netrc").write_bytes(netrc.read_bytes())
    (tmp_path / ".netrc").chmod(0o600)
    assert allow(server)(url=f"{server.base}/info").status == 200
    assert tls_http(s, ca_file=str(ca_file))(url=f"https://localhost:{s.port}/info").status == 200
    assert trip.accepted == 0
    assert server.requests[-1].header("Authorization") is None
    assert server.requests[-1].header("Proxy-Authorization") is None


def test_trust_config(tmp_path: Path, tls_server: tuple[Server, Path]) -> None:
    _, ca_file = tls_server
    default = ramparts_http.configure({}, CTX).trust
    assert default.system and default.ca_pem is None
    # On this machine the system bundle exists: the default context holds its CAs.
    assert ramparts_http.tls.tls_context(default).cert_store_stats()["x509_ca"] > 0
    only = ramparts_http.configure({"ca_file": str(ca_file), "system_ca": False}, CTX).trust
    assert ramparts_http.tls.tls_context(only).cert_store_stats()["x509_ca"] == 1
    # Relative to the app folder.
    relative = ConfigContext(CTX.file, CTX.prefix, tmp_path, CTX.identifier)
    assert ramparts_http.configure({"ca_file": "ca.pem"}, relative).trust.ca_pem == (
        ca_file.read_text()
    )
    (tmp_path / "junk.pem").write_text("not a certificate")
    bad: list[tuple[dict[str, Any], str]] = [
        ({"ca_file": str(tmp_path / "missing.pem")}, "ca_file"),
        ({"ca_file": str(tmp_path / "junk.pem")}, "ca_file"),
        ({"ca_file": 1}, "ca_file"),
        ({"system_ca": "no"}, "system_ca"),
        ({"system_ca": False}, "system_ca"),  # would trust nothing
    ]
    for table, key in bad:
        with pytest.raises(ConfigError) as info:
            ramparts_http.configure(table, CTX)
        assert info.value.key == f"tool.ramparts.capabilities.http.{key}", table


def test_system_cas_come_from_fixed_places(
    tls_server: tuple[Server, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where this OpenSSL was built to look, else the first distribution bundle that
    exists (a built app's OpenSSL may be compiled for another layout); on Windows, the
    system stores' server-auth certificates."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    _, ca_file = tls_server
    tls = ramparts_http.tls
    missing = str(ca_file.parent / "no-such")
    compiled = ssl.DefaultVerifyPaths(missing, missing, "SSL_CERT_FILE", missing, "", missing)
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: compiled)
    monkeypatch.setattr(tls, "SYSTEM_BUNDLES", (missing, str(ca_file), "/etc/ssl/cert.pem"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls._load_system_cas(context)
    assert [c["subject"] for c in context.get_ca_certs()] == [
        ((("commonName", "ramparts test CA"),),)
    ]
    der = x509.load_pem_x509_certificate(ca_file.read_bytes()).public_bytes(Encoding.DER)
    stores = {
        "ROOT": [(der, "x509_asn", True), (b"crl", "pkcs_7_asn", True)],
        "CA": [(b"not for servers", "x509_asn", {"1.3.6.1.5.5.7.3.3"})],  # code signing only
    }
    monkeypatch.setattr(ssl, "enum_certificates", stores.__getitem__, raising=False)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls._load_windows_stores(context)
    assert context.cert_store_stats()["x509_ca"] == 1
