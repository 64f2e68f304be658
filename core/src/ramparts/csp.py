"""Content Security Policy: a strict default, merged with what the app adds.

Internal: apps set ``[tool.ramparts.security] csp``.

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
            if directive in _SCRIPT_DIRECTIVES:
                why = _script_source_refusal(s.lower())
                if why:
                    raise ValueError(f"no {s} in {directive}: {why}")
        if directive in _VALUELESS and sources:
            raise ValueError(f"{directive} takes no sources")
    return table


def _script_source_refusal(source: str) -> str | None:
    """Why ``source`` (lower case) may not be a script source, or ``None`` if it may."""
    if source in _REFUSED_FOR_SCRIPTS or _SCHEME_ONLY.match(source):
        return "it would allow script injection"
    if source.startswith("'nonce-"):
        # A nonce written in the config is the same in every response, and readable in
        # the page: any injected <script nonce=...> carries it. As good as unsafe-inline.
        return "a fixed nonce lets any injected inline script run"
    if source == "'strict-dynamic'":
        return "it lets any loaded script load more scripts from anywhere"
    host = _HOST_SOURCE.match(source)
    if host is None:
        return None
    name, port = host.group("host"), host.group("port")
    if "*" in name or port == "*":
        return "a wildcard host or port allows scripts from places nobody named"
    if _is_loopback(name):
        return "any local process that listens there could serve the app script"
    if source.startswith(("http://", "ws://")):
        # Checked after loopback so that a local dev server gets the more precise reason.
        return "a script fetched in cleartext can be swapped by anyone on the network path"
    return None


_HOST_SOURCE = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://)?(?P<host>\[[^\]]*\]|[^/:'\[\]]+)(?::(?P<port>[0-9]+|\*))?(?:/.*)?$"
)


def _is_loopback(host: str) -> bool:
    import ipaddress  # rare path (a CSP that names a host); ~1.3 ms at import

    host = host.rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


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
