"""Leaf certificates made the way ``proxylens proxy`` makes them, served by a loopback TLS server (tests only).

``mitmproxy_leaf(home, name, ...)`` asks mitmproxy's own ``CertStore`` (on the CA in *home*, as the proxy
loads it) for a leaf: wrapped in proxylens's ``ConstrainedCertStore`` when given name rules (what the proxy
does with a name-constrained CA), or bare (what mitmproxy alone would make). Like every mitmproxy leaf it
carries the CA's own key.

``SniOrigin`` serves several such leaves on one loopback port, choosing the certificate by the SNI the
client sends (the first one when there is none), and answers tests/support/origin.py's routes.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.support import tls_origin
from tests.support.origin import Running
from tests.support.tls_origin import TlsHTTPServer


@dataclass(frozen=True)
class Leaf:
    cert: x509.Certificate
    chain: Path  # PEM: the leaf alone (mitmproxy sends no chain for a CA file holding one certificate)
    key: Path


def mitmproxy_leaf(home: Path, out: Path, commonname: str | None, sans: list[x509.GeneralName],
                   rules=None) -> Leaf:
    """A leaf from mitmproxy's CertStore on the proxylens CA in *home*; through ConstrainedCertStore if *rules*."""
    from mitmproxy.certs import CertStore

    from proxy.ca_scope import ConstrainedCertStore

    store = CertStore.from_files(home / "mitmproxy-ca.pem", home / "mitmproxy-dhparam.pem")
    if rules is not None:
        store = ConstrainedCertStore.around(store, rules)
    entry = store.get_cert(commonname, sans)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{'constrained' if rules is not None else 'plain'}-{commonname or 'no-cn'}-{len(list(out.iterdir()))}"
    chain, key = out / f"{stem}.pem", out / f"{stem}.key"
    chain.write_bytes(entry.cert.to_pem())
    key.write_bytes(entry.privatekey.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
    return Leaf(x509.load_pem_x509_certificate(entry.cert.to_pem()), chain, key)


def _context(leaf: Leaf) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.load_cert_chain(str(leaf.chain), str(leaf.key))
    return ctx


class SniOrigin(Running):
    """One loopback HTTPS port serving ``leaves[sni]`` (the first leaf without SNI or for an unknown one)."""

    scheme = "https"

    def __init__(self, leaves: dict[str, Leaf]) -> None:
        contexts = {name: _context(leaf) for name, leaf in leaves.items()}
        default = next(iter(contexts.values()))

        def choose(sslobj: ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext) -> None:
            tls_origin._local.sni = server_name  # what TlsHTTPServer records in Handshake.sni
            sslobj.context = contexts.get(server_name or "", default)

        default.sni_callback = choose
        self.tls_server = TlsHTTPServer(default)
        super().__init__(self.tls_server)

    def url(self, path: str = "/", host: str = "localhost") -> str:
        return f"https://{host}:{self.port}{path}"
