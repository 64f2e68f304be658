"""What the http capability's TLS trusts: the config decides, the environment never does.

``ssl.create_default_context()`` takes its trust anchors and key logging from the
process environment: ``load_default_certs`` asks OpenSSL for ``SSL_CERT_FILE`` and
``SSL_CERT_DIR``, and ``create_default_context`` sets ``keylog_filename`` from
``SSLKEYLOGFILE``. A variable left in a user's shell (for Wireshark, a corporate CA, a
debugging proxy) would then silently widen what the app trusts or hand its TLS secrets
to a file. So the context here is built from parts that read no variable:

* a bare ``SSLContext(PROTOCOL_TLS_CLIENT)``: certificate and host name checks on, no
  key log;
* the system's CA certificates from fixed places: where this OpenSSL was built to look
  (``openssl_cafile``/``openssl_capath``, compiled in, not the ``*_env`` overrides), else
  the first bundle of :data:`SYSTEM_BUNDLES` that exists (a built app's OpenSSL may have
  been compiled for another distribution's layout); on Windows the ``ROOT`` and ``CA``
  system stores;
* the certificates of the config's ``ca_file``.
"""

from __future__ import annotations

import functools
import os
import ssl
import sys
from collections.abc import Mapping
from typing import Any

import attrs

from ramparts import ConfigContext

__all__ = ["SYSTEM_BUNDLES", "Trust", "configure_trust", "tls_context"]

#: Where Linux distributions and macOS keep their CA bundle, in the order Go's
#: ``crypto/x509`` tries them. Root-owned system files, not settings.
SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Gentoo, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL 6
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/pki/tls/cacert.pem",  # OpenELEC
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # CentOS, RHEL 7
    "/etc/ssl/cert.pem",  # Alpine, macOS
)
_SERVER_AUTH = "1.3.6.1.5.5.7.3.1"  # the TLS server authentication purpose


@attrs.frozen
class Trust:
    """The trust anchors the config chose.

    :ivar system: the system's CA certificates (``system_ca``, default ``true``).
    :ivar ca_pem: the certificates of ``ca_file`` (PEM), read when the config loads.
    """

    system: bool = True
    ca_pem: str | None = None


def configure_trust(table: Mapping[str, Any], ctx: ConfigContext) -> Trust:
    """``system_ca`` and ``ca_file`` from the capability's table.

    ``ca_file`` is read here, once: the certificates are fixed when the app starts, and a
    missing or unreadable file is a ``ConfigError`` naming the key, not a failed call.
    """
    system = ctx.flag(table, "system_ca", True)
    ca_pem = None
    if "ca_file" in table:
        name = ctx.require(table, "ca_file", str, "a path to a PEM file of CA certificates")
        path = ctx.app_dir / name  # an absolute path stays as it is; no "~" (that is $HOME)
        try:
            ca_pem = path.read_text(encoding="ascii")
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=ca_pem)
        except OSError as e:
            raise ctx.error("ca_file", name, f"a readable file ({e.strerror})") from None
        except (ssl.SSLError, UnicodeDecodeError, ValueError):
            raise ctx.error("ca_file", name, "a PEM file of CA certificates") from None
    if not system and ca_pem is None:
        raise ctx.error("system_ca", False, "true, unless ca_file names the CAs to trust")
    return Trust(system=system, ca_pem=ca_pem)


@functools.cache
def tls_context(trust: Trust) -> ssl.SSLContext:
    """The client context for ``trust``: made once per config, shared by every call."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificate and name
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if trust.system:
        _load_system_cas(context)
    if trust.ca_pem is not None:
        context.load_verify_locations(cadata=trust.ca_pem)
    return context


def _load_system_cas(context: ssl.SSLContext) -> None:
    if sys.platform == "win32":
        _load_windows_stores(context)
        return
    paths = ssl.get_default_verify_paths()
    bundles = [paths.openssl_cafile, *SYSTEM_BUNDLES]
    bundle = next((b for b in bundles if b and os.path.isfile(b)), None)
    if bundle is not None:
        context.load_verify_locations(cafile=bundle)
    if paths.openssl_capath and os.path.isdir(paths.openssl_capath):
        context.load_verify_locations(capath=paths.openssl_capath)


def _load_windows_stores(context: ssl.SSLContext) -> None:
    """What ``load_default_certs`` reads on Windows, without its environment half."""
    der = bytearray()
    for store in ("CA", "ROOT"):
        for cert, encoding, purpose in ssl.enum_certificates(store):  # type: ignore[attr-defined]
            if encoding == "x509_asn" and (purpose is True or _SERVER_AUTH in purpose):
                der += cert
    if der:
        context.load_verify_locations(cadata=bytes(der))
