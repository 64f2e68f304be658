# ruff: noqa: E501  (page JS and case tables in strings: wrapping them would only hurt reading)
"""``http.fetch`` through the real bridge: the app runs headless in a subprocess and page
JS calls ``ramparts.http.fetch`` with the page's own privileges. The servers are the
loopback ones from ``test_http.py``, running in this (the test) process."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from app_folders import write_app
from gtk_display import engine, gtk_display  # noqa: F401  # fixtures: both webview engines
from test_http import Server, Tripwire, make_tls, redirect

from ramparts.testing import eval_in_app

pytestmark = [pytest.mark.webview, pytest.mark.usefixtures("engine")]


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


@pytest.fixture
def trip() -> Iterator[Tripwire]:
    t = Tripwire()
    yield t
    t.close()


def http_app(root: Path, server: Server, **options: Any) -> Path:
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in options.items())
    return write_app(
        root / "app",
        capabilities=textwrap.dedent(
            f"""
            [tool.ramparts.capabilities.http]
            allow = ["fetch"]
            scope = ["{server.base}/**"]
            """
        )
        + extra,
    )


def test_fetch_from_the_page(tmp_path: Path, server: Server, trip: Tripwire) -> None:
    app = http_app(tmp_path, server, timeout=5, max_response_bytes=100_000)
    a, b = server.port, trip.port
    script = f"""
        const base = "{server.base}";
        const code = (p) => p.then(() => "ok", (e) => [e.code, e instanceof ramparts.Error]);
        const out = {{}};
        const info = await ramparts.http.fetch({{ url: base + "/info?q=1", response_type: "json" }});
        out.info = [info.status, info.url, info.redirected, info.body.headers.host, info.headers["content-type"]];
        out.text = (await ramparts.http.fetch({{ url: base + "/latin1" }})).body;

        const data = new Uint8Array(256 * 64);
        for (let i = 0; i < data.length; i++) data[i] = i % 256;
        const echo = await ramparts.http.fetch({{
          url: base + "/echo", method: "POST", body: data, response_type: "bytes" }});
        out.bytes = [echo.body instanceof Uint8Array, echo.body.length,
                     echo.body.every((v, i) => v === data[i])];
        const fromBuffer = await ramparts.http.fetch({{
          url: base + "/echo", method: "POST", body: data.buffer, response_type: "bytes" }});
        out.fromBuffer = fromBuffer.body.length;
        const sent = await ramparts.http.fetch({{
          url: base + "/echo", method: "POST", body: "héllo ✓", response_type: "bytes" }});
        out.utf8 = Array.from(sent.body);

        out.followed = (await ramparts.http.fetch({{
          url: {json.dumps(redirect(server, "/info"))}, response_type: "json" }})).url;

        const refused = {{
          userinfo: "http://allowed.example@127.0.0.1:{a}/info",
          fragmentTrick: "http://127.0.0.1:{b}#@127.0.0.1:{a}/",
          otherPort: "http://127.0.0.1:{b}/",
          decimal: "http://2130706433:{b}/",
          hex: "http://0x7f.0.0.1:{b}/",
          octal: "http://0177.0.0.1:{b}/",
          short: "http://127.1:{b}/",
          ipv6: "http://[::1]:{a}/",
          ipv6Long: "http://[0:0:0:0:0:0:0:1]:{a}/",
          mapped: "http://[::ffff:127.0.0.1]:{b}/",
          localhost: "http://localhost:{a}/",
          metadata: "http://169.254.169.254/latest/meta-data/",
          file: "file:///etc/passwd",
          escape: "{server.base}/../../etc/passwd",
          redirectOut: {json.dumps(redirect(server, f"http://127.0.0.1:{b}/"))},
          redirectName: {json.dumps(redirect(server, f"http://localhost:{a}/info", 307))},
        }};
        out.refused = {{}};
        for (const [k, url] of Object.entries(refused)) out.refused[k] = await code(ramparts.http.fetch({{ url }}));
        out.host = await code(ramparts.http.fetch({{ url: base + "/info", headers: {{ Host: "evil" }} }}));
        out.cookie = await code(ramparts.http.fetch({{ url: base + "/info", headers: {{ Cookie: "a=b" }} }}));
        out.te = await code(ramparts.http.fetch({{ url: base + "/info", headers: {{ "Transfer-Encoding": "chunked" }} }}));
        out.tooLarge = await code(ramparts.http.fetch({{ url: base + "/big?n=100001" }}));
        out.endless = await code(ramparts.http.fetch({{ url: base + "/forever" }}));
        const t0 = performance.now();
        out.timeout = await code(ramparts.http.fetch({{ url: base + "/sleep?s=30", timeout: 0.5 }}));
        out.timeoutMs = performance.now() - t0;
        out.tooLong = await code(ramparts.http.fetch({{ url: base + "/info", timeout: 60 }}));
        // The page's own fetch stays behind the CSP (connect-src 'self'): the capability
        // is the only way out, and only to the scope.
        out.pageFetch = await fetch(base + "/info").then(() => "reached", () => "blocked");
        out.stillWorks = (await ramparts.http.fetch({{ url: base + "/json", response_type: "json" }})).body.ok;
        return out;
    """
    before = len(server.requests)
    result = eval_in_app(app, script, timeout=60)
    assert result["info"] == [
        200,
        f"{server.base}/info?q=1",
        False,
        f"127.0.0.1:{a}",
        "application/json",
    ]
    assert result["text"] == "café"
    assert result["bytes"] == [True, 256 * 64, True]
    assert result["fromBuffer"] == 256 * 64
    assert result["utf8"] == list("héllo ✓".encode())
    assert result["followed"] == f"{server.base}/info"
    expected_invalid = {"userinfo", "file", "escape"}
    for name, outcome in result["refused"].items():
        want = "invalid_args" if name in expected_invalid else "out_of_scope"
        assert outcome == [want, True], (name, outcome)
    assert result["host"] == ["invalid_args", True]
    assert result["cookie"] == ["invalid_args", True]
    assert result["te"] == ["invalid_args", True]
    assert result["tooLarge"] == ["too_large", True]
    assert result["endless"] == ["too_large", True]
    assert result["timeout"] == ["timeout", True]
    assert 400 < result["timeoutMs"] < 3000
    assert result["tooLong"] == ["invalid_args", True]
    assert result["pageFetch"] == "blocked"
    assert result["stillWorks"] is True
    assert trip.accepted == 0
    # 13 requests reached the server: the 11 successful or size/time-limited calls (one
    # of them redirected, so two hops) and the first hop of each refused redirect. The
    # page's own fetch never arrived, and everything that did came from the capability.
    seen = server.requests[before:]
    assert len(seen) == 13, [r.path for r in seen]
    assert all((r.header("User-Agent") or "").startswith("ramparts-http/") for r in seen)


def test_fetch_exists_only_when_allowed(tmp_path: Path, server: Server) -> None:
    unlisted = write_app(
        tmp_path / "unlisted",
        capabilities=textwrap.dedent(
            f"""
            [tool.ramparts.capabilities.http]
            allow = []
            scope = ["{server.base}/**"]
            """
        ),
    )
    result = eval_in_app(
        unlisted,
        f"""
        const code = (p) => p.then(() => "ok", (e) => e.code);
        return {{
          ns: typeof ramparts.http,
          invoke: await code(ramparts.invoke("http.fetch", {{ url: "{server.base}/info" }})),
        }};
        """,
    )
    assert result == {"ns": "undefined", "invoke": "not_allowed"}
    assert server.requests == []


def test_the_environment_cannot_change_what_fetch_trusts(tmp_path: Path, trip: Tripwire) -> None:
    """``SSL_CERT_FILE`` names the CA of one server, the config's ``ca_file`` the other's:
    only the config counts. ``SSLKEYLOGFILE`` and proxy variables get nothing."""
    env_ca, env_tls = make_tls(["localhost"])
    config_ca, config_tls = make_tls(["localhost"])
    by_env, by_config = Server(tls=env_tls), Server(tls=config_tls)
    try:
        app = write_app(
            tmp_path / "app",
            capabilities=textwrap.dedent(
                f"""
                [tool.ramparts.capabilities.http]
                allow = ["fetch"]
                ca_file = "certs/ca.pem"
                scope = [
                  {{ url = "https://localhost:{by_env.port}/**", private = true }},
                  {{ url = "https://localhost:{by_config.port}/**", private = true }},
                ]
                """
            ),
        )
        (app / "certs").mkdir()
        (app / "certs" / "ca.pem").write_bytes(config_ca)
        (tmp_path / "env-ca.pem").write_bytes(env_ca)
        keylog = tmp_path / "keys.log"
        proxy = f"http://127.0.0.1:{trip.port}"
        env = {"SSL_CERT_FILE": str(tmp_path / "env-ca.pem"), "SSLKEYLOGFILE": str(keylog)}
        env.update({name: proxy for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY")})
        result = eval_in_app(
            app,
            f"""
            const code = (p) => p.then((r) => r.status, (e) => [e.code, e.data]);
            return {{
              byEnv: await code(ramparts.http.fetch({{ url: "https://localhost:{by_env.port}/info" }})),
              byConfig: await code(ramparts.http.fetch({{ url: "https://localhost:{by_config.port}/info" }})),
            }};
            """,
            env=env,
        )
        assert result == {"byEnv": ["failed", {"reason": "tls"}], "byConfig": 200}
        assert len(by_env.requests) == 0 and len(by_config.requests) == 1
        # Neither Python's ssl (the fetch's secrets) nor Chromium (which opens the file
        # at start-up to log the page's own TLS secrets) may see the variable.
        assert not keylog.exists()
        assert trip.accepted == 0
    finally:
        by_env.close()
        by_config.close()
