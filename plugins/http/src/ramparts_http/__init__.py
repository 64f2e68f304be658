"""The ``http`` capability: HTTP requests from the page to the URLs the app's scope allows.

The page's own ``fetch`` is held to ``connect-src 'self'`` by the CSP; this command is
the one way out, so it is checked like one (Tauri's http API was a CSP bypass, TRI-008):

* every URL, the first and each redirect hop, goes through the core's
  :class:`ramparts.toolkit.UrlScope` (per-component matching, no userinfo) and its
  address rules, before any connection;
* the connection goes to the address that was checked: the request URL given to the
  transport carries the resolved IP, while the ``Host`` header and TLS (SNI and the
  certificate's name check, through httpcore's ``sni_hostname`` extension) carry the
  host name. Nothing resolves the name a second time, so DNS rebinding cannot swap it;
* each hop gets a new transport: no connection (and so no TLS session checked for
  another name) is reused, no proxy or ``.netrc`` from the environment is used, no
  cookie jar exists;
* TLS trusts what the config says (the system's CAs, ``ca_file``) and logs no keys,
  whatever ``SSL_CERT_FILE``, ``SSL_CERT_DIR`` or ``SSLKEYLOGFILE`` say (see :mod:`.tls`);
* sizes and time are bounded: the body is read in chunks (decompressed with a bound)
  and reading stops past the limit; one deadline covers DNS, connects, redirects and
  the body.

The modules: :mod:`.config` (the table), :mod:`.commands` (``fetch`` and its argument
checks), :mod:`.exchange` (one request and its redirects), :mod:`.transport` (one
connection to a checked address), :mod:`.body` (reading and decoding the body) and
:mod:`.tls` (what TLS trusts).
"""

from __future__ import annotations

import ramparts
from ramparts import Capability

from .commands import fetch
from .config import HttpState, configure
from .exchange import HttpResponse

__all__ = ["HttpResponse", "HttpState", "configure", "fetch", "ramparts_capability"]


@ramparts.hookimpl
def ramparts_capability() -> Capability:
    return Capability(
        name="http",
        commands=[fetch],
        configure=configure,
        description="HTTP requests to the URLs in the scope; SSRF-checked, redirects re-checked",
    )
