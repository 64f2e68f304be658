"""Content Security Policy: a strict default, merged with what the app adds.

The app's ``security.csp`` can only *add* sources to directives. A directive whose
default is ``'none'`` is replaced by the app's sources when the app names it. Sources
that would re-open script injection are refused at config time, not silently dropped.
The merged policy is sent as a response header by the scheme handler and injected as a
``<meta>`` tag into every HTML page served, in dev and in built apps alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["DEFAULT_CSP", "merge_csp", "parse_csp", "render_csp"]

DEFAULT_CSP: Mapping[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'",),
    "connect-src": ("'self'",),
    "object-src": ("'none'",),
    "base-uri": ("'none'",),
    "frame-ancestors": ("'none'",),
    "form-action": ("'none'",),
}

_DIRECTIVE = re.compile(r"^[a-z][a-z-]*$")
_SCRIPT_DIRECTIVES = {"default-src", "script-src", "script-src-elem", "script-src-attr"}
_REFUSED_FOR_SCRIPTS = {
    "'unsafe-inline'",
    "'unsafe-eval'",
    "'unsafe-hashes'",
    "*",
    "data:",
    "blob:",
}
_FIXED = {"frame-ancestors", "base-uri"}  # no app may loosen these
_VALUELESS = {"upgrade-insecure-requests", "block-all-mixed-content"}
_SCHEME_ONLY = re.compile(r"^[a-z][a-z0-9+.-]*:$")  # "https:" = any host of that scheme


def parse_csp(raw: str | Mapping[str, object]) -> dict[str, tuple[str, ...]]:
    """Read ``security.csp`` (a policy string or a table) into directive -> sources.

    :raises ValueError: with a message saying which directive or source is refused.
    """
    table: dict[str, tuple[str, ...]] = {}
    if isinstance(raw, str):
        for part in raw.split(";"):
            words = part.split()
            if words:
                table[words[0].lower()] = tuple(words[1:])
    else:
        for k, v in raw.items():
            if isinstance(v, str):
                v = v.split()
            if not isinstance(v, list | tuple) or not all(isinstance(s, str) for s in v):
                raise ValueError(f"directive {k!r}: a list of source strings")
            table[k.lower()] = tuple(v)
    for directive, sources in table.items():
        if not _DIRECTIVE.match(directive):
            raise ValueError(f"a CSP directive name, not {directive!r}")
        if directive in _FIXED:
            raise ValueError(f"no {directive!r}: it is fixed to 'none' by Ramparts")
        for s in sources:
            if any(c in s for c in ";,\r\n"):
                raise ValueError(f"a CSP source without ';' or ',' (in {directive})")
            if directive in _SCRIPT_DIRECTIVES and (
                s.lower() in _REFUSED_FOR_SCRIPTS or _SCHEME_ONLY.match(s.lower())
            ):
                raise ValueError(f"no {s} in {directive}: it would allow script injection")
        if directive in _VALUELESS and sources:
            raise ValueError(f"{directive} takes no sources")
    return table


def merge_csp(extra: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """The strict default with the app's sources added."""
    merged = {k: tuple(v) for k, v in DEFAULT_CSP.items()}
    for directive, sources in extra.items():
        if directive in _VALUELESS:
            merged[directive] = ()
            continue
        base = merged.get(directive, ())
        if base == ("'none'",) or not base:
            base = ()
        added = tuple(s for s in sources if s not in base)
        merged[directive] = base + added if (base or added) else ("'none'",)
    return merged


def render_csp(policy: Mapping[str, tuple[str, ...]]) -> str:
    return "; ".join(f"{d} {' '.join(s)}".strip() for d, s in policy.items())
