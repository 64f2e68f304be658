"""The CSP: strict by default; an app can add sources, never re-open script injection."""

from __future__ import annotations

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
