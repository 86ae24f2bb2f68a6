"""A loopback HTTPS origin whose TLS is configured on purpose (Python's ssl module).

``TlsOrigin(TlsSetup(cert, ...))`` serves tests/support/origin.py's routes over
HTTP/1.1 (``/echo`` and friends), or over HTTP/2 when the client and the
setup's ALPN list agree on ``h2`` (a small responder on the ``h2`` library:
every request gets a JSON echo). What can be set:

- ``min_version`` / ``max_version``: ``ssl.TLSVersion``;
- ``ciphers``: an OpenSSL cipher string for TLS 1.2 and older, given to
  ``set_ciphers`` *before* the certificate is loaded, so ``@SECLEVEL=0`` there
  also lets a 1024-bit or SHA-1 certificate, and TLS 1.0, be used;
- ``tls13_suites``: TLS 1.3 cipher suites (``SSL_CTX_set_ciphersuites``; Python
  has no API for it, so it is called through ctypes on the context's SSL_CTX
  and the result is checked with ``get_ciphers()``);
- ``alpn``: the protocols the server is willing to select, in its order of
  preference (``()`` answers no ALPN at all);
- ``cert``: any chain (tests/support/tls_chains.py), sent exactly as listed.

The handshake runs on the connection's own thread (not in ``accept``), so a
client that fails or stalls never blocks the listener. Every handshake is
recorded in ``handshakes``: what the server saw (SNI, version, cipher, ALPN)
or why it failed. Responses carry ``X-Origin-Connection``: the number of the
TLS connection they were served on.
"""

from __future__ import annotations

import ctypes
import itertools
import json
import re
import socket
import ssl
import subprocess
import threading
import warnings
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path

from tests.support.origin import Handler, Running
from tests.support.tls_chains import ServerCert

SOCKET_TIMEOUT = 30
_local = threading.local()


@dataclass(frozen=True)
class TlsSetup:
    cert: ServerCert
    min_version: ssl.TLSVersion | None = None
    max_version: ssl.TLSVersion | None = None
    ciphers: str | None = None  # None: Python's default server list (@SECLEVEL=2, ECDHE + AEAD)
    tls13_suites: str | None = None
    alpn: tuple[str, ...] = ("http/1.1",)


@dataclass
class Handshake:
    """One TLS handshake as the origin saw it."""

    connection: int
    sni: str | None = None
    version: str | None = None
    cipher: str | None = None
    alpn: str | None = None
    error: str | None = None
    requests: list[str] = field(default_factory=list)  # request paths served on this connection


def set_tls13_suites(ctx: ssl.SSLContext, suites: str) -> None:
    """SSL_CTX_set_ciphersuites on the context's SSL_CTX (the first field after the object header)."""
    libssl = ctypes.CDLL("libssl.so.3")
    libssl.SSL_CTX_set_ciphersuites.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    libssl.SSL_CTX_set_ciphersuites.restype = ctypes.c_int
    ssl_ctx = ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
    if not libssl.SSL_CTX_set_ciphersuites(ssl_ctx, suites.encode()):
        raise ValueError(f"OpenSSL refused the TLS 1.3 cipher suites {suites!r}")
    got = [c["name"] for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.3"]
    if got != suites.split(":"):
        raise RuntimeError(f"setting TLS 1.3 suites {suites!r} did not take: the context has {got}")


def server_context(setup: TlsSetup) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():  # ssl deprecates TLSv1 and TLSv1_1; serving them is the point here
        warnings.simplefilter("ignore", DeprecationWarning)
        if setup.min_version is not None:
            ctx.minimum_version = setup.min_version
        if setup.max_version is not None:
            ctx.maximum_version = setup.max_version
    if setup.ciphers is not None:
        ctx.set_ciphers(setup.ciphers)  # before the certificate: @SECLEVEL decides which keys may be loaded
    if setup.tls13_suites is not None:
        set_tls13_suites(ctx, setup.tls13_suites)
    if setup.alpn:
        ctx.set_alpn_protocols(list(setup.alpn))
    ctx.load_cert_chain(str(setup.cert.chain), str(setup.cert.key))

    def on_sni(sslobj, server_name, context) -> None:
        _local.sni = server_name

    ctx.sni_callback = on_sni
    return ctx


class _Http1(Handler):
    """origin.py's routes, plus which TLS connection served the request."""

    def end_headers(self) -> None:
        record: Handshake = _local.handshake
        record.requests.append(self.path)
        self.send_header("X-Origin-Connection", str(record.connection))
        super().end_headers()


def serve_h2(sock: ssl.SSLSocket, record: Handshake) -> None:
    """A minimal HTTP/2 server: each request gets 200 and a JSON echo of its pseudo-headers and headers."""
    import h2.config
    import h2.connection
    import h2.events

    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    requests: dict[int, dict[str, str]] = {}
    while True:
        try:
            data = sock.recv(65536)
        except OSError:
            return
        if not data:
            return
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                requests[event.stream_id] = dict(event.headers)
            elif isinstance(event, h2.events.DataReceived):
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                headers = requests.pop(event.stream_id, {})
                record.requests.append(headers.get(":path", ""))
                body = json.dumps({"method": headers.get(":method"), "path": headers.get(":path"),
                                   "protocol": "h2", "stream": event.stream_id,
                                   "headers": {k: v for k, v in headers.items() if not k.startswith(":")}}).encode()
                conn.send_headers(event.stream_id, [
                    (":status", "200"), ("content-type", "application/json"), ("content-length", str(len(body))),
                    ("x-origin-connection", str(record.connection))])
                conn.send_data(event.stream_id, body, end_stream=True)
            elif isinstance(event, h2.events.ConnectionTerminated):
                sock.sendall(conn.data_to_send())
                return
        sock.sendall(conn.data_to_send())


class TlsHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Http1)
        self.context = context
        self.handshakes: list[Handshake] = []
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def finish_request(self, request: socket.socket, client_address) -> None:  # on the connection's thread
        with self._lock:
            record = Handshake(next(self._numbers))
            self.handshakes.append(record)
        _local.sni = None
        request.settimeout(SOCKET_TIMEOUT)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            record.sni, record.error = _local.sni, str(exc)
            return
        try:
            cipher = tls.cipher()
            record.sni, record.version, record.alpn = _local.sni, tls.version(), tls.selected_alpn_protocol()
            record.cipher = cipher[0] if cipher else None
            _local.handshake = record
            if record.alpn == "h2":
                serve_h2(tls, record)
            else:
                self.RequestHandlerClass(tls, client_address, self)
        except OSError:
            pass  # the client went away
        finally:
            tls.close()


class TlsOrigin(Running):
    """A loopback HTTPS origin with the TLS of ``setup``; ``close()`` when done."""

    scheme = "https"

    def __init__(self, setup: TlsSetup) -> None:
        self.setup = setup
        self.tls_server = TlsHTTPServer(server_context(setup))
        super().__init__(self.tls_server)

    @property
    def handshakes(self) -> list[Handshake]:
        return list(self.tls_server.handshakes)

    def url(self, path: str = "/", host: str = "localhost") -> str:
        return f"https://{host}:{self.port}{path}"


# -- the reference client: openssl s_client ------------------------------------------------------------------------

# s_client's "a:" line names the signature like `openssl x509 -text` does not: map it to the X.509 name
SIGALGS = {"RSA-SHA256": "sha256WithRSAEncryption", "RSA-SHA1": "sha1WithRSAEncryption",
           "RSA-SHA384": "sha384WithRSAEncryption", "ecdsa-with-SHA256": "ecdsa-with-SHA256",
           "ecdsa-with-SHA384": "ecdsa-with-SHA384"}
KEY_TYPES = {"rsaEncryption": "RSA", "id-ecPublicKey": "EC"}


@dataclass
class ChainCert:
    subject_cn: str | None
    issuer_cn: str | None
    key_type: str | None
    key_bits: int | None
    signature_algorithm: str | None


@dataclass
class SClient:
    """What ``openssl s_client`` printed about one handshake."""

    returncode: int
    protocol: str | None  # "Protocol  :" of the SSL-Session block, else the "New, ..." line (TLS 1.3)
    cipher: str | None  # OpenSSL's name
    alpn: str | None
    errors: list[tuple[int, int, str]]  # every "verify error:num=N:message", with the depth printed before it
    verify_code: int | None  # "Verify return code: N (message)": the last error, 0 when there was none
    verify_message: str | None
    key_bits: int | None  # "Server public key is N bit"
    chain: list[ChainCert]
    output: str

    @property
    def established(self) -> bool:
        return self.cipher is not None


def _cn(dn: str) -> str | None:
    m = re.search(r"CN ?= ?([^,/]+)", dn)
    return m.group(1).strip() if m else None


def parse_s_client(returncode: int, stdout: str, stderr: str) -> SClient:
    errors: list[tuple[int, int, str]] = []
    depth = -1
    for line in stderr.splitlines():  # s_client's verify callback prints to stderr
        if m := re.match(r"depth=(\d+) ", line):
            depth = int(m.group(1))
        elif m := re.match(r"verify error:num=(\d+):(.*)$", line):
            errors.append((depth, int(m.group(1)), m.group(2).strip()))
    new = re.search(r"^New, (\S+), Cipher is (\S+)$", stdout, re.MULTILINE)
    session_protocol = re.search(r"^\s+Protocol\s+: (\S+)$", stdout, re.MULTILINE)
    protocol = session_protocol.group(1) if session_protocol else (new.group(1) if new else None)
    cipher = new.group(2) if new else None
    if cipher == "(NONE)":
        protocol = cipher = None
    alpn = re.search(r"^ALPN protocol: (\S+)$", stdout, re.MULTILINE)
    codes = re.findall(r"Verify return code: (\d+) \((.*)\)", stdout)
    bits = re.search(r"^Server public key is (\d+) bit", stdout, re.MULTILINE)
    chain = []
    certs = r"^\s*\d+ s:(.*)\n\s+i:(.*)\n(?:\s+a:PKEY: (\S+), (\d+) \(bit\); sigalg: (\S+))?"
    for m in re.finditer(certs, stdout, re.MULTILINE):
        chain.append(ChainCert(_cn(m.group(1)), _cn(m.group(2)), KEY_TYPES.get(m.group(3) or "", m.group(3)),
                               int(m.group(4)) if m.group(4) else None, SIGALGS.get(m.group(5) or "", m.group(5))))
    return SClient(returncode, protocol, cipher, alpn.group(1) if alpn else None, errors,
                   int(codes[-1][0]) if codes else None, codes[-1][1] if codes else None,
                   int(bits.group(1)) if bits else None, chain, stdout + stderr)


def s_client(port: int, cafile: Path | str, *, servername: str = "localhost", alpn: str | None = None,
             seclevel: int | None = None, timeout: float = 20) -> SClient:
    """``openssl s_client`` straight at a loopback origin, verifying like proxylens does: against *cafile*,
    with the host name checked (``-verify_hostname``; s_client does not check it otherwise).

    ``seclevel=0`` adds ``-cipher DEFAULT:@SECLEVEL=0``: the security level proxylens's upstream
    connections run at under ``--ssl-insecure`` (mitmproxy lowers it so TLS 1.0 can work).
    """
    argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", servername,
            "-verify_hostname", servername, "-CAfile", str(cafile)]
    if alpn:
        argv += ["-alpn", alpn]
    if seclevel is not None:
        argv += ["-cipher", f"DEFAULT:@SECLEVEL={seclevel}"]
    out = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                         check=False)
    return parse_s_client(out.returncode, out.stdout, out.stderr)
