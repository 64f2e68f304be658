"""The toolkit for plugin authors: the shared mechanics every capability needs.

Everything a plugin may use is exported here (and typed); the submodules are where each
piece lives, not separate API: import from ``ramparts.toolkit`` itself::

    from ramparts.toolkit import ConfigContext, PathScope, atomic_write

* reading the capability's config table with errors that say where:
  :class:`ConfigContext`;
* path scopes (allow/deny globs over base directories, run-time grants, checked opens):
  :class:`PathScope`, :class:`Grants`, :func:`open_checked`, :func:`open_dir_checked`,
  :func:`os_bytes`, :func:`os_error`, ...;
* URL scopes checked per component and after DNS: :class:`UrlScope`, :func:`parse_url`,
  :class:`Target`; :data:`IPAddress` is the type of one resolved address (IPv4 or
  IPv6), :data:`Resolver` the type of a name resolver, and :data:`DEFAULT_PORTS` the
  port of each URL scheme when the URL names none;
* text: :func:`text_codec`, :func:`declared_charset` (:data:`FALLBACK_CHARSET`);
* files that are written whole or not at all: :func:`atomic_write`;
* the per-OS base directories (``$APPDATA``, ``$DOCUMENT``, ...): :func:`base_dirs`,
  :data:`BASE_DIRS`, and :func:`make_app_dir` to create one of the app's own;
* a token-bucket rate limit for what a page may ask for again and again: :class:`RateLimit`.

The submodules load on first use of a name (PEP 562), so importing :mod:`ramparts` stays
cheap for an app that uses no scope.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ramparts._lazy import lazy_getattr

if TYPE_CHECKING:
    from ramparts.toolkit.atomic import NotARegularFile, atomic_write
    from ramparts.toolkit.configtable import ConfigContext
    from ramparts.toolkit.dirs import BASE_DIRS, base_dirs, make_app_dir
    from ramparts.toolkit.rate import RateLimit
    from ramparts.toolkit.scope import (
        Grants,
        PathScope,
        check_path_syntax,
        compile_glob,
        escape_glob,
        fold_name,
        open_checked,
        open_dir_checked,
        os_bytes,
        os_error,
    )
    from ramparts.toolkit.text import (
        FALLBACK_CHARSET,
        declared_charset,
        encode_text,
        text_codec,
    )
    from ramparts.toolkit.urlscope import (
        DEFAULT_PORTS,
        IPAddress,
        Resolver,
        Target,
        UrlPattern,
        UrlScope,
        address_kind,
        join_url,
        parse_url,
    )

__all__ = [
    "BASE_DIRS",
    "DEFAULT_PORTS",
    "FALLBACK_CHARSET",
    "ConfigContext",
    "Grants",
    "IPAddress",
    "NotARegularFile",
    "PathScope",
    "RateLimit",
    "Resolver",
    "Target",
    "UrlPattern",
    "UrlScope",
    "address_kind",
    "atomic_write",
    "base_dirs",
    "check_path_syntax",
    "compile_glob",
    "declared_charset",
    "encode_text",
    "escape_glob",
    "fold_name",
    "join_url",
    "make_app_dir",
    "open_checked",
    "open_dir_checked",
    "os_bytes",
    "os_error",
    "parse_url",
    "text_codec",
]

_WHERE = {
    "BASE_DIRS": "ramparts.toolkit.dirs",
    "ConfigContext": "ramparts.toolkit.configtable",
    "DEFAULT_PORTS": "ramparts.toolkit.urlscope",
    "FALLBACK_CHARSET": "ramparts.toolkit.text",
    "Grants": "ramparts.toolkit.scope",
    "IPAddress": "ramparts.toolkit.urlscope",
    "NotARegularFile": "ramparts.toolkit.atomic",
    "PathScope": "ramparts.toolkit.scope",
    "RateLimit": "ramparts.toolkit.rate",
    "Resolver": "ramparts.toolkit.urlscope",
    "Target": "ramparts.toolkit.urlscope",
    "UrlPattern": "ramparts.toolkit.urlscope",
    "UrlScope": "ramparts.toolkit.urlscope",
    "address_kind": "ramparts.toolkit.urlscope",
    "atomic_write": "ramparts.toolkit.atomic",
    "base_dirs": "ramparts.toolkit.dirs",
    "check_path_syntax": "ramparts.toolkit.scope",
    "compile_glob": "ramparts.toolkit.scope",
    "declared_charset": "ramparts.toolkit.text",
    "encode_text": "ramparts.toolkit.text",
    "escape_glob": "ramparts.toolkit.scope",
    "fold_name": "ramparts.toolkit.scope",
    "join_url": "ramparts.toolkit.urlscope",
    "make_app_dir": "ramparts.toolkit.dirs",
    "open_checked": "ramparts.toolkit.scope",
    "open_dir_checked": "ramparts.toolkit.scope",
    "os_bytes": "ramparts.toolkit.scope",
    "os_error": "ramparts.toolkit.scope",
    "parse_url": "ramparts.toolkit.urlscope",
    "text_codec": "ramparts.toolkit.text",
}


__getattr__ = lazy_getattr(__name__, _WHERE, globals())


def __dir__() -> list[str]:
    return sorted(__all__)
