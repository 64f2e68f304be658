"""The CSP: strict by default; an app can add sources, never re-open script injection."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ramparts.csp import DEFAULT_CSP, merge_csp, parse_csp, render_csp


def test_default_is_strict() -> None:
    policy = render_csp(merge_csp({}))
    for part in (
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'none'",
        "script-src 'self'",
    ):
        assert part in policy
    assert "unsafe" not in policy


def test_app_sources_are_added_and_none_is_replaced() -> None:
    merged = merge_csp(parse_csp("img-src data: https://img.example.com; form-action 'self'"))
    assert merged["img-src"] == ("'self'", "data:", "https://img.example.com")
    assert merged["form-action"] == ("'self'",)
    assert merged["script-src"] == DEFAULT_CSP["script-src"]


@pytest.mark.parametrize(
    "raw",
    [
        "script-src 'unsafe-inline'",
        "script-src 'unsafe-eval'",
        "default-src *",
        {"script-src": ["data:"]},
        "frame-ancestors *",
        "base-uri https://x",
        {"img-src": "a;b"},
        "Bad_Directive x",
    ],
)
def test_refused(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_csp(raw)  # type: ignore[arg-type]


def test_style_may_be_loosened() -> None:
    assert merge_csp(parse_csp({"style-src": ["'unsafe-inline'"]}))["style-src"] == (
        "'self'",
        "'unsafe-inline'",
    )


def test_valueless_directives_and_scheme_only_script_sources() -> None:
    policy = render_csp(merge_csp(parse_csp("upgrade-insecure-requests")))
    assert "upgrade-insecure-requests;" in policy or policy.endswith("upgrade-insecure-requests")
    assert "upgrade-insecure-requests 'none'" not in policy
    for raw in ("script-src https:", "script-src http:", "upgrade-insecure-requests x"):
        with pytest.raises(ValueError):
            parse_csp(raw)
    assert merge_csp(parse_csp("script-src https://cdn.example.com"))["script-src"] == (
        "'self'",
        "https://cdn.example.com",
    )


@pytest.mark.parametrize("directive", ["default-src", "script-src", "script-src-elem"])
@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("'nonce-r4nd0m'", "fixed nonce"),
        ("'NONCE-abc'", "fixed nonce"),
        ("'strict-dynamic'", "load more scripts"),
        ("https://*", "wildcard"),
        ("https://*.example.com", "wildcard"),
        ("https://cdn.example.com:*", "wildcard"),
        ("http://localhost:*", "wildcard"),
        ("http://localhost:8080", "local process"),
        ("localhost", "local process"),
        ("http://app.localhost", "local process"),
        ("http://127.0.0.1:3000/x.js", "local process"),
        ("http://127.8.9.10", "local process"),
        ("http://[::1]:5173", "local process"),
        ("http://[::ffff:127.0.0.1]", "local process"),
        ("http://0.0.0.0:80", "local process"),
        ("http://cdn.example.com", "cleartext"),
        ("HTTP://cdn.example.com:8080/lib/", "cleartext"),
    ],
)
def test_script_sources_that_widen_script_origins_are_refused(
    directive: str, source: str, why: str
) -> None:
    with pytest.raises(ValueError, match=f"no {re.escape(source)} in {directive}: .*{why}"):
        parse_csp({directive: ["'self'", source]})


def test_named_script_hosts_hashes_and_other_directives_stay_allowed() -> None:
    sources = ["https://cdn.example.com", "https://cdn.example.com:8443/lib/", "'sha256-AbC='"]
    assert parse_csp({"script-src": sources})["script-src"] == tuple(sources)
    # Only script directives are restricted: a dev server may be a connect-src.
    assert parse_csp("connect-src http://localhost:* https://*.example.com") == {
        "connect-src": ("http://localhost:*", "https://*.example.com")
    }


def test_a_refused_script_source_is_a_config_error_naming_key_and_value(tmp_path: Path) -> None:
    from ramparts.config import load_config
    from ramparts.errors import ConfigError

    (tmp_path / "ui").mkdir()
    (tmp_path / "ui" / "index.html").write_text("<!doctype html>")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nversion = "1.0.0"\n[tool.ramparts]\nname = "X"\n'
        'identifier = "com.example.x"\n[tool.ramparts.security]\n'
        "csp = { script-src = [\"'nonce-abc'\"] }\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert err.value.key == "tool.ramparts.security.csp"
    assert "no 'nonce-abc' in script-src" in str(err.value)


@pytest.mark.parametrize(
    ("html", "before"),
    [
        (b"<!doctype html><html><head><title>t</title></head></html>", b"<head>"),
        (b"<!DOCTYPE html><html lang='en'><body>x</body></html>", b"<html lang='en'>"),
        (b"<!doctype html><p>no html or head</p>", b"<!doctype html>"),
        (b"<p>fragment</p>", b""),
    ],
)
def test_meta_goes_first_but_never_before_the_doctype(
    tmp_path: Path, html: bytes, before: bytes
) -> None:
    from ramparts.bridge.host import WindowHost
    from ramparts.bridge.session import Registry

    host = WindowHost(
        label="main",
        identifier="com.example.x",
        ui=tmp_path,
        entry="index.html",
        csp={},
        registry=Registry(),
        dispatcher=None,
        handle_mode="per-session",  # type: ignore[arg-type]
    )
    out = host.inject_csp_meta(html)
    meta = b'<meta http-equiv="Content-Security-Policy" content="default-src'
    assert out.index(meta) == (html.index(before) + len(before) if before else 0)
    assert "frame-ancestors" not in out.decode()  # header-only directive
