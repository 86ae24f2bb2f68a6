"""TLS on both sides of the proxy, captured once per connection.

A mitmproxy addon that keeps, per connection:

- the client's raw ClientHello (``tls_clienthello``), so the analyzer can
  read every offer and compute JA3/JA4 without mitmproxy's parsed subset;
- OpenSSL's verdict on the upstream certificate chain, error by error
  (``tls_start_server``): a verify callback on the upstream connection
  records each error with its depth, and the chain as the server sent it,
  even when the handshake then fails. With ``ssl_insecure`` the callback
  accepts the chain anyway, so the traffic flows and is still flagged.

The ClientTLS/ServerTLS built from these are cached per open connection
and reused for every exchange on it (HTTP/1 keep-alive, HTTP/2 streams).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.serialization import Encoding
from mitmproxy import connection, tls
from mitmproxy.proxy import server_hooks
from OpenSSL import SSL

from .models import ClientTLS, ServerTLS

logger = logging.getLogger(__name__)

# Per-connection caches are dropped on disconnect; this bounds them anyway.
MAX_CONNECTIONS_TRACKED = 10_000
# A connection may close before its last exchange is recorded (a failed handshake,
# a server that sends Connection: close): its verification is kept a little
# longer, in a smaller cache.
MAX_CLOSED_KEPT = 1_000


def remember(cache: dict, key: str, value: object) -> None:
    cache[key] = value
    if len(cache) > MAX_CONNECTIONS_TRACKED:
        del cache[next(iter(cache))]


@dataclass
class Verification:
    """What OpenSSL's chain verification said about one upstream connection."""

    enforced: bool  # False under ssl_insecure: errors were recorded, not acted on
    errors: list[tuple[int, int, str]] = field(default_factory=list)  # (depth, X509_V_ERR code, message)
    chain: tuple[bytes, ...] = ()  # DER, as the server sent it
    ran: bool = False

    def callback(self, conn: SSL.Connection, cert, errno: int, depth: int, ok: int) -> bool:
        self.ran = True
        if not self.chain:
            sent = conn.get_peer_cert_chain() or []
            self.chain = tuple(c.to_cryptography().public_bytes(Encoding.DER) for c in sent)
        if not ok:
            message = SSL._ffi.string(SSL._lib.X509_verify_cert_error_string(errno)).decode()
            self.errors.append((depth, errno, message))
        return bool(ok) or not self.enforced


# One store per process, shared by every TlsCapture instance: several
# `mitmdump -s addons/...` modules may each carry one, and only the first to
# see a connection installs the callback (a second would replace it).
_verifications: dict[str, Verification] = {}
_closed: dict[str, Verification] = {}


def _text(value: bytes | None) -> str | None:
    return value.decode("ascii", "replace") if value else None


class TlsCapture:
    def __init__(self) -> None:
        self._hellos: dict[str, bytes] = {}
        self._client_tls: dict[str, ClientTLS | None] = {}
        self._server_tls: dict[str, ServerTLS | None] = {}

    # Hooks -------------------------------------------------------------
    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        remember(self._hellos, data.context.client.id, data.client_hello.raw_bytes(wrap_in_record=False))

    def tls_start_server(self, data: tls.TlsData) -> None:
        # Runs after mitmproxy's TlsConfig has built the connection (addons added later run later).
        from mitmproxy import ctx

        if data.is_dtls or data.conn.id in _verifications:
            return
        if data.ssl_conn is None:
            # Loaded as a script (mitmdump -s), this hook runs before mitmproxy's TlsConfig:
            # let it build the connection now (it skips connections that already have one).
            tlsconfig = ctx.master.addons.get("tlsconfig")
            if tlsconfig is not None:
                tlsconfig.tls_start_server(data)
        if data.ssl_conn is None:
            return
        check = Verification(enforced=not ctx.options.ssl_insecure)
        # VERIFY_PEER even under ssl_insecure (where mitmproxy sets VERIFY_NONE): the
        # callback then records every error and accepts the chain anyway. mitmproxy
        # has already set the expected host name (X509_VERIFY_PARAM_set1_host).
        data.ssl_conn.set_verify(SSL.VERIFY_PEER, check.callback)
        remember(_verifications, data.conn.id, check)

    def client_disconnected(self, client: connection.Client) -> None:
        self._hellos.pop(client.id, None)
        self._client_tls.pop(client.id, None)

    def server_disconnected(self, data: server_hooks.ServerConnectionHookData) -> None:
        self._server_tls.pop(data.server.id, None)
        check = _verifications.pop(data.server.id, None)
        if check is not None:
            _closed[data.server.id] = check
            if len(_closed) > MAX_CLOSED_KEPT:
                del _closed[next(iter(_closed))]

    # Snapshots -----------------------------------------------------------
    def client(self, conn: connection.Client) -> ClientTLS | None:
        cached = self._client_tls.get(conn.id)
        if cached is None:
            cached = client_tls(conn, self._hellos.get(conn.id))
            if conn.tls_established and conn.timestamp_end is None:  # never cache a closed connection
                remember(self._client_tls, conn.id, cached)
        return cached

    def server(self, conn: connection.Server) -> ServerTLS | None:
        cached = self._server_tls.get(conn.id)
        if cached is None:
            cached = server_tls(conn, _verifications.get(conn.id) or _closed.get(conn.id))
            if conn.tls_established and conn.timestamp_end is None:
                remember(self._server_tls, conn.id, cached)
        return cached


def client_tls(conn: connection.Client, hello: bytes | None) -> ClientTLS | None:
    if not conn.tls:
        return None
    return ClientTLS(
        sni=conn.sni,
        alpn_offers=tuple(_text(a) or "" for a in conn.alpn_offers),
        version=conn.tls_version,
        cipher=conn.cipher,
        alpn=_text(conn.alpn),
        client_hello=hello,
    )


def server_tls(conn: connection.Server, check: Verification | None) -> ServerTLS | None:
    if not conn.tls:
        return None
    failed = conn.error if conn.error and not conn.tls_established else None
    errors = tuple(check.errors) if check else ()
    if check is not None and check.ran:
        verified = not errors
    elif conn.tls_established:
        verified = None  # not checked by proxylens (mitmproxy alone, or a resumed session)
    else:
        verified = False if failed and "certificate" in failed.lower() else None
    verify_error = errors[0][2] if errors else (failed if verified is False else None)
    chain = tuple(c._cert.public_bytes(Encoding.DER) for c in conn.certificate_list)
    return ServerTLS(
        sni=conn.sni,
        version=conn.tls_version,
        cipher=conn.cipher,
        alpn=_text(conn.alpn),
        alpn_offers=tuple(_text(a) or "" for a in conn.alpn_offers),
        verified=verified,
        verify_error=verify_error,
        verify_errors=errors,
        verify_enforced=check.enforced if check else None,
        handshake_error=failed,
        certificate_chain=chain or (check.chain if check else ()),
    )
