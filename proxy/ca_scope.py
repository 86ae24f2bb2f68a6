"""Keep interception inside a name-constrained CA's names.

With ``proxylens certs init --permit example.com`` every client refuses a
certificate that names anything else (RFC 5280 §4.2.1.10). Two things follow:

- a TLS connection to a host the CA may not sign for is passed through,
  untouched, instead of being intercepted and broken: the browser keeps working
  everywhere and proxylens sees only the hosts it may see;
- the leaf certificates mitmproxy makes carry only permitted names. mitmproxy
  copies the upstream certificate's names and the server's IP address into
  each leaf, and a single name outside the constraints makes clients refuse
  the whole certificate. An IP address is never put in the common name either:
  OpenSSL checks a subject CN that looks like a host name against the dNSName
  constraints when there is no dNSName in the subjectAltName, and "10.0.0.1"
  looks like one. RFC 6125 §6.4.4 clients read the subjectAltName anyway.
"""

from __future__ import annotations

from cryptography import x509
from mitmproxy import certs, ctx, tls

from certs import NameRules

from .models import is_ip

MAX_REPORTED = 1000  # hosts named once each on stderr; bounded for proxies that run for days
CERTSTORE_OPTIONS = {"confdir", "certs", "key_size", "cert_passphrase"}  # those that make TlsConfig rebuild its store


class ConstrainedCertStore(certs.CertStore):
    rules: NameRules

    @classmethod
    def around(cls, store: certs.CertStore, rules: NameRules) -> ConstrainedCertStore:
        constrained = cls.__new__(cls)
        constrained.__dict__.update(store.__dict__)
        constrained.rules = rules
        return constrained

    def get_cert(self, commonname, sans, organization=None):
        # A name with a trailing dot ("api.example.com.", from an SNI) is the same host, but a
        # dNSName spelled that way is not "under" example.com for OpenSSL: write it without.
        names = (x509.DNSName(n.value.rstrip(".")) if isinstance(n, x509.DNSName) else n for n in sans)
        kept = list(dict.fromkeys(n for n in names if isinstance(n, x509.DNSName | x509.IPAddress)
                                  and self.rules.permits(str(n.value))))
        dns = [n.value for n in kept if isinstance(n, x509.DNSName)]
        if commonname is not None:
            commonname = commonname.rstrip(".")
            if is_ip(commonname) or not self.rules.permits(commonname):
                commonname = dns[0] if dns else None
        return super().get_cert(commonname, kept, organization)


class CaScope:
    def __init__(self, rules: NameRules, say=print) -> None:
        self.rules = rules
        self.say = say
        self.passed: set[str] = set()

    def running(self) -> None:
        self._constrain()

    def configure(self, updated: set[str]) -> None:
        if updated & CERTSTORE_OPTIONS:
            self._constrain()

    def _constrain(self) -> None:
        # Runs after mitmproxy's TlsConfig (a default addon, so configured first) has (re)built its store.
        tlsconfig = ctx.master.addons.get("tlsconfig")
        store = getattr(tlsconfig, "certstore", None)
        if store is not None and not isinstance(store, ConstrainedCertStore):
            tlsconfig.certstore = ConstrainedCertStore.around(store, self.rules)

    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        host = data.client_hello.sni or (data.context.server.address[0] if data.context.server.address else "")
        if not host or self.rules.permits(host):
            return
        data.ignore_connection = True
        if host not in self.passed and len(self.passed) < MAX_REPORTED:
            self.passed.add(host)
            self.say(f"passing {host} through without interception: the CA may only sign for "
                     f"{self.rules.describe()}")
