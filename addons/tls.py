"""TLS on both sides of the proxy: the client's connection to proxylens and
proxylens's connection to the origin. Facts and findings keep them apart:
``tls.client`` is what the client offered (its ClientHello, JA3, JA4),
``tls.server`` is what the origin negotiated and the certificate chain it sent.

Verification is OpenSSL's, done by proxylens on the upstream connection
(proxy/tls_capture.py) and reported error by error in OpenSSL's words, the
ones ``openssl s_client`` prints. The checks on dates, host name, keys and
signatures are proxylens's own, read off the chain, so they are complete even
when OpenSSL stopped at its first error.

``--tls-profile`` judges the negotiated parameters and the certificate against
Mozilla's server-side TLS configurations (modern, intermediate, old).
"""

from __future__ import annotations

import datetime as dt
import functools

from addons.tls_hello import is_grease, ja3, ja3_string, ja4, ja4_r, parse_client_hello
from addons.tls_names import (
    CIPHER_SUITES,
    GROUPS,
    OBSOLETE_VERSIONS,
    SIGNATURE_SCHEMES,
    VERSIONS,
    cipher_traits,
    iana_cipher,
    name_of,
)
from addons.tls_profiles import DOCS as PROFILE_DOCS
from addons.tls_profiles import PROFILES, judge
from certs.chain import ChainInfo, describe_chain
from proxy import (
    Analysis,
    Analyzer,
    ClientTLS,
    Exchange,
    Finding,
    InProcess,
    ServerTLS,
    Session,
    Severity,
    catalog,
    is_ip,
)

TLS_PROFILES = tuple(PROFILES)
DEFAULT_EXPIRY_DAYS = 30
RFC5280 = "https://www.rfc-editor.org/rfc/rfc5280"
RFC6125 = "https://www.rfc-editor.org/rfc/rfc6125#section-6.4"
RFC8446 = "https://www.rfc-editor.org/rfc/rfc8446"
RFC8996 = "https://www.rfc-editor.org/rfc/rfc8996"
RFC7301 = "https://www.rfc-editor.org/rfc/rfc7301#section-3.2"
RFC6066 = "https://www.rfc-editor.org/rfc/rfc6066#section-3"
OPENSSL_VERIFY = "https://docs.openssl.org/3.0/man1/openssl-verify/#diagnostics"

# OpenSSL X509_V_ERR_* codes with a dedicated finding (openssl-verify(1), DIAGNOSTICS).
NOT_YET_VALID, EXPIRED = 9, 10
SELF_SIGNED_LEAF, SELF_SIGNED_IN_CHAIN = 18, 19
NO_ISSUER = (2, 20, 21)  # unable to get (local) issuer certificate, unable to verify the first certificate
HOSTNAME_MISMATCH = (62, 64)  # hostname mismatch, IP address mismatch
KEY_TOO_SMALL = (66, 67)  # EE / CA certificate key too weak
MD_TOO_WEAK = 68  # CA signature digest algorithm too weak
OWN_CHECKS = {NOT_YET_VALID, EXPIRED, *HOSTNAME_MISMATCH, *KEY_TOO_SMALL, MD_TOO_WEAK}

_rule = catalog.family("tls")

# --- the client's side --------------------------------------------------------
R_NO_SNI = _rule("client-no-sni", Severity.WARNING, "The client sent no SNI for a host name.", RFC6066,
                 "Without server_name the server cannot tell which site is wanted: it may answer with its "
                 "default certificate, and proxylens has to guess the host from the CONNECT request. Every "
                 "browser sends SNI for host names (RFC 6066 forbids it only for IP literals).")
R_SNI_MISMATCH = _rule("sni-host-mismatch", Severity.WARNING,
                       "The request's host differs from the SNI of the TLS connection it travels on.",
                       "https://www.rfc-editor.org/rfc/rfc9110#section-7.4",
                       "A request for one host inside a TLS connection opened for another is how domain fronting "
                       "works, and most servers answer it with 421 Misdirected Request (RFC 9110 section 15.5.20). "
                       "HTTP/2 connection reuse is the legitimate case: a browser may send requests for another "
                       "host on a connection whose certificate covers that host too (RFC 9113 section 9.1.1).")
R_CLIENT_OBSOLETE = _rule("client-obsolete-only", Severity.WARNING,
                          "The client offers nothing newer than TLS 1.1.", RFC8996,
                          "RFC 8996 deprecates TLS 1.0 and 1.1; current servers and browsers refuse them. Update "
                          "the client's TLS library or its minimum-version setting.")

R_CLIENT_HANDSHAKE = _rule("client-handshake-failed", Severity.ERROR,
                           "The client's TLS handshake with proxylens failed; it sent no request.", RFC8446,
                           "Usually the client does not trust proxylens's CA, so it rejects the certificate "
                           "proxylens presents for the site. Trust the CA certificate proxylens prints at start-up: "
                           "`proxylens certs trust-help` gives the exact steps for each OS, browser and tool, and "
                           "`eval \"$(proxylens certs env)\"` sets SSL_CERT_FILE, REQUESTS_CA_BUNDLE, "
                           "CURL_CA_BUNDLE and NODE_EXTRA_CA_CERTS for one shell. Certificate-pinning clients cannot "
                           "be intercepted at all.")

# --- the server's side: the handshake -------------------------------------------
R_OK = _rule("verified", Severity.GOOD, "The upstream certificate verified and the handshake is sound.", RFC8446)
R_NO_COMMON_VERSION = _rule("no-common-version", Severity.ERROR,
                            "The upstream server and proxylens share no TLS version.", RFC8996,
                            "proxylens, like browsers, refuses TLS below 1.2 by default. If the server only speaks "
                            "TLS 1.0 or 1.1 it must be upgraded; to inspect it anyway, run proxylens with "
                            "--ssl-insecure (it then connects down to TLS 1.0 and flags it).")
R_OBSOLETE = _rule("obsolete-version", Severity.ERROR, "The upstream connection negotiated TLS 1.1 or older.",
                   RFC8996, "RFC 8996: TLS 1.0 and 1.1 MUST NOT be used. Browsers refuse them (Chrome since "
                   "version 98, Firefox since 78). Enable TLS 1.2 and 1.3 on the server.")
R_NO_FS = _rule("no-forward-secrecy", Severity.WARNING,
                "The negotiated cipher suite has no forward secrecy (RSA key transport).",
                f"{RFC8446}#appendix-E.1",
                "With RSA key exchange, anyone who later obtains the server's private key can decrypt recorded "
                "traffic. Prefer ECDHE suites (all TLS 1.3 suites have forward secrecy).")
R_BROKEN_CIPHER = _rule("broken-cipher", Severity.ERROR,
                        "The negotiated cipher suite is broken: RC4, DES, 3DES, IDEA, NULL, export-grade or "
                        "anonymous.", "https://www.rfc-editor.org/rfc/rfc9325#section-4.1",
                        "RC4 is prohibited (RFC 7465); DES and IDEA are deprecated (RFC 5469); 3DES and IDEA have "
                        "64-bit blocks (Sweet32); NULL does not encrypt, export suites are breakable, anonymous "
                        "suites do not authenticate the server. Remove them from the server's cipher list.")
R_CBC = _rule("cbc-cipher", Severity.WARNING, "The negotiated cipher suite uses CBC mode.",
              "https://www.rfc-editor.org/rfc/rfc9325#section-4.2",
              "CBC suites in TLS 1.2 (MAC-then-encrypt) were the root of Lucky13 and POODLE-style padding "
              "oracles; RFC 9325 recommends AEAD suites (AES-GCM, ChaCha20-Poly1305).")
R_ALPN_NOT_OFFERED = _rule("alpn-not-offered", Severity.ERROR,
                           "The upstream server selected an ALPN protocol that was not offered.", RFC7301,
                           "RFC 7301 section 3.2: the server's choice MUST be one of the client's offers. Clients "
                           "abort such handshakes with no_application_protocol.")
R_ALPN_DIFFERS = _rule("alpn-differs", Severity.INFO,
                       "The client and the upstream server speak different HTTP versions through proxylens.",
                       RFC7301, "proxylens translates between them, so the browser does not see the protocol the "
                       "origin really speaks (for example h2 to the browser, HTTP/1.1 to the origin).")

# --- the server's side: the certificate chain ----------------------------------------
R_EXPIRED = _rule("certificate-expired", Severity.ERROR, "A certificate in the upstream chain has expired.",
                  f"{RFC5280}#section-4.1.2.5", "Browsers refuse the connection (NET::ERR_CERT_DATE_INVALID). "
                  "Renew the certificate and install the new chain on the server.")
R_NOT_YET_VALID = _rule("certificate-not-yet-valid", Severity.ERROR,
                        "A certificate in the upstream chain is not valid yet.", f"{RFC5280}#section-4.1.2.5",
                        "Either the certificate's notBefore is in the future or a clock is wrong (the server's "
                        "when it issued, or this machine's). Browsers refuse it like an expired one.")
R_EXPIRING = _rule("certificate-expiring", Severity.WARNING, "The upstream certificate expires soon.",
                   f"{RFC5280}#section-4.1.2.5", "Renew it before it expires; automate renewal (ACME) if you can.")
R_HOSTNAME = _rule("hostname-mismatch", Severity.ERROR,
                   "The upstream certificate does not cover the host name.", RFC6125,
                   "Browsers match the host only against subjectAltName entries (the CN is ignored since Chrome "
                   "58 and Firefox 48); a wildcard covers exactly one label. Issue a certificate whose SANs "
                   "include this host (NET::ERR_CERT_COMMON_NAME_INVALID otherwise).")
R_SELF_SIGNED = _rule("self-signed", Severity.ERROR, "The upstream certificate is self-signed and not trusted.",
                      OPENSSL_VERIFY, "No browser trusts it unless it is installed as a trust anchor. Use a "
                      "certificate from a public CA, or for a private origin pass its CA with --upstream-ca.")
R_UNKNOWN_ISSUER = _rule("unknown-issuer", Severity.ERROR,
                         "The upstream chain ends in a root that is not trusted.", OPENSSL_VERIFY,
                         "The chain leads to a CA that is not in the trust store (certifi's Mozilla roots, or the "
                         "bundle given with --upstream-ca). Use a publicly trusted CA, or trust this one "
                         "explicitly.")
R_INCOMPLETE = _rule("chain-incomplete", Severity.ERROR,
                     "The upstream server does not send the intermediate certificate(s) needed to verify it.",
                     f"{RFC8446}#section-4.4.2",
                     "The server must send its certificate followed by every intermediate up to (not including) "
                     "the root. Chrome may hide this by fetching missing intermediates (AIA) and Firefox by its "
                     "intermediate cache, but curl, Python, Go, Java and mobile apps fail. Configure the full "
                     "chain (for example fullchain.pem).")
R_CHAIN_ORDER = _rule("chain-order", Severity.WARNING, "The upstream chain is not in issuing order.",
                      f"{RFC8446}#section-4.4.2",
                      "RFC 8446 section 4.4.2: each following certificate SHOULD directly certify the one "
                      "before it (TLS 1.2, RFC 5246 section 7.4.2, made it a MUST). Some clients fail to build "
                      "the path. Send leaf, then its issuer, then that one's issuer.")
R_VERIFY = _rule("verify-failed", Severity.ERROR, "The upstream certificate failed verification.", OPENSSL_VERIFY)
R_WEAK_SIGNATURE = _rule("weak-signature", Severity.ERROR,
                         "A certificate in the upstream chain is signed with SHA-1 or weaker.",
                         "https://www.rfc-editor.org/rfc/rfc9155",
                         "SHA-1 collisions are practical (SHAttered, 2017); browsers reject SHA-1 signed "
                         "certificates. Reissue with SHA-256 or better.")
R_WEAK_KEY = _rule("weak-key", Severity.ERROR, "A certificate in the upstream chain has a weak key.",
                   "https://csrc.nist.gov/pubs/sp/800/131/a/r2/final",
                   "RSA and DSA keys need at least 2048 bits, EC keys at least 224 (NIST SP 800-131A, CA/Browser "
                   "Forum Baseline Requirements 6.1.5). Generate a new key (ECDSA P-256 or RSA 2048+).")
R_PROFILE = {name: _rule(f"profile-{name}", Severity.WARNING, summary, PROFILE_DOCS, detail) for name, summary, detail in (
    ("version", "The negotiated TLS version is outside the selected Mozilla profile.",
     "Mozilla's configurations: modern is TLS 1.3 only, intermediate TLS 1.2 and 1.3, old TLS 1.0 to 1.3."),
    ("cipher", "The negotiated cipher suite is not in the selected Mozilla profile.",
     "Configure the server's cipher list from https://ssl-config.mozilla.org/ for the chosen profile."),
    ("certificate-type", "The certificate's key type is not the selected Mozilla profile's.",
     "modern wants ECDSA certificates, old RSA (for old clients), intermediate accepts both."),
    ("key-size", "The certificate's RSA key is smaller than the selected Mozilla profile wants.",
     "intermediate and old want RSA keys of at least 2048 bits."),
    ("curve", "The certificate's curve is not one the selected Mozilla profile lists.",
     "Mozilla lists P-256 (prime256v1) and P-384 (secp384r1) for certificates."),
    ("signature", "The certificate's signature algorithm is not in the selected Mozilla profile.",
     "modern wants ECDSA signatures; intermediate also sha256WithRSAEncryption; old sha256WithRSAEncryption."),
    ("lifespan", "The certificate's validity period is longer than the selected Mozilla profile allows.",
     "modern allows 90 days, intermediate and old 366."),
)}


class TlsAnalyzer(Analyzer):
    name = "tls"

    def __init__(self, profile: str = "intermediate", expiry_days: int = DEFAULT_EXPIRY_DAYS) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown TLS profile {profile!r}: use one of {', '.join(PROFILES)}")
        if expiry_days < 0:
            raise ValueError("expiry_days must not be negative")
        self.profile = PROFILES[profile]
        self.expiry_days = expiry_days

    def analyze(self, exchange: Exchange, session: Session) -> Analysis | None:
        client, server = exchange.client_tls, exchange.server_tls
        if client is None and server is None:
            failed = _client_handshake_failure(exchange)  # a HAR entry keeps the error, not the ClientHello
            return Analysis(facts={"client": None, "server": None}, findings=failed) if failed else None
        when = exchange.request.timestamp_start or session.now
        chain = describe_chain(server.certificate_chain) if server and server.certificate_chain else None
        facts = {"client": client_facts(client) if client else None,
                 "server": self._server_facts(exchange, server, chain, when) if server else None}
        findings: list[Finding] = []
        if client is not None:
            findings += self._client_findings(exchange, client, chain)
        if server is not None:
            findings += self._server_findings(exchange, server, chain, facts["server"], when)
        return Analysis(facts=facts, findings=findings)

    # --- client ---------------------------------------------------------------------
    def _client_findings(self, exchange: Exchange, client: ClientTLS, chain: ChainInfo | None) -> list[Finding]:
        out: list[Finding] = []
        host = exchange.request.requested_host  # the Host header: inside a tunnel the URL has the CONNECT target
        hello = parse_client_hello(client.client_hello) if client.client_hello else None
        sni = client.sni if client.sni is not None else (hello.sni if hello else None)
        if (exchange.proxy_mode or "").startswith("reverse"):
            host = ""  # the client addressed proxylens itself; the request goes to the reverse target
        if sni is None and host and not is_ip(host) and (hello is not None or client.version is not None):
            out.append(R_NO_SNI.finding(f"The client's TLS connection for {host} carries no SNI",
                                        subject="tls.client.sni", evidence={"host": host}))
        elif sni is not None and host and sni.rstrip(".").lower() != host.rstrip("."):
            # Connection reuse is legitimate only if the certificate covers both names (RFC 9113 section 9.1.1)
            covered = bool(chain and chain.covers(host) and chain.covers(sni))
            out.append(R_SNI_MISMATCH.finding(
                f"Request for {host} on a TLS connection opened for {sni}"
                + (" (the certificate covers both: HTTP/2 connection reuse)" if covered else " (domain fronting?)"),
                subject="tls.client.sni", severity=Severity.INFO if covered else None,
                evidence={"sni": sni, "host": host, "certificate_covers_host": covered}))
        out += _client_handshake_failure(exchange)
        if hello is not None:
            offered = [VERSIONS.get(v) for v in hello.versions]
            if offered and all(v in OBSOLETE_VERSIONS for v in offered):
                out.append(R_CLIENT_OBSOLETE.finding(
                    f"The client offers only {', '.join(v or '?' for v in offered)}",
                    subject="tls.client.versions_offered", evidence={"offered": ", ".join(v or "?" for v in offered)}))
        return out

    # --- server ---------------------------------------------------------------------
    def _server_facts(self, exchange: Exchange, server: ServerTLS, chain: ChainInfo | None, when: float) -> dict:
        cipher = iana_cipher(server.cipher)
        traits = cipher_traits(cipher) if cipher else None
        leaf = chain.leaf if chain else None
        host = server.sni or exchange.request.host
        facts = {
            "sni": server.sni, "version": server.version, "cipher": cipher, "cipher_openssl": server.cipher,
            "alpn": server.alpn, "alpn_offered": list(server.alpn_offers),
            "forward_secrecy": traits.forward_secret if traits else None,
            "verified": server.verified, "verify_error": server.verify_error,
            "verify_errors": [{"depth": d, "code": c, "message": m} for d, c, m in server.verify_errors],
            "verify_enforced": server.verify_enforced, "handshake_error": server.handshake_error,
            "certificate": leaf.facts() if leaf else _details_facts(server.security_details),
            "chain": [c.facts() for c in chain.certs] if chain else [],
            "chain_in_order": chain.in_order if chain else None,
            "hostname_covered": chain.covers(host) if leaf and host else None,
            "expires_in_days": None,
        }
        not_after = leaf.not_after if leaf else _details_validity(server.security_details)[1]
        if not_after is not None:
            facts["expires_in_days"] = round((not_after.timestamp() - when) / 86400, 1)
        if server.version or leaf:
            breaches = self._breaches(server, cipher, chain)
            facts["profile"] = {"name": self.profile.name, "meets": not breaches,
                                "breaches": [{"rule": b.rule, "actual": b.actual, "expected": b.expected}
                                             for b in breaches]}
        return facts

    def _breaches(self, server: ServerTLS, cipher: str | None, chain: ChainInfo | None):
        leaf = chain.leaf if chain else None
        return judge(self.profile, version=server.version, cipher=cipher,
                     key_type=leaf.key_type if leaf else None, key_bits=leaf.key_bits if leaf else None,
                     curve=leaf.curve if leaf else None, signature=leaf.signature_algorithm if leaf else None,
                     lifespan_days=leaf.lifespan_days if leaf else None)

    def _server_findings(self, exchange: Exchange, server: ServerTLS, chain: ChainInfo | None, facts: dict,
                         when: float) -> list[Finding]:
        out: list[Finding] = []
        # Under --ssl-insecure OpenSSL also runs at security level 0, so weak keys and SHA-1 may not
        # be among its errors at all: every problem found on such a connection was let through.
        let_through = server.verify_enforced is False
        suffix = " (let through by --ssl-insecure; a browser would refuse it)" if let_through else ""
        # Other handshake failures are the status analyzer's (status.upstream-tls-failed), verbatim.
        if server.handshake_error and "cannot agree on a TLS version" in server.handshake_error:
            out.append(R_NO_COMMON_VERSION.finding(subject="tls.server.version",
                                                   evidence={"error": server.handshake_error[:300]}))
        out += self._verification(server, chain, suffix)
        if chain is not None:
            out += self._chain_checks(exchange, server, chain, when, suffix)
        elif server.security_details:  # HAR input: no DER, but the leaf's validity
            not_before, not_after = _details_validity(server.security_details)
            name = str(server.security_details.get("subjectName") or "?")[:200]
            out += self._dates(name, not_before, not_after, dt.datetime.fromtimestamp(when, dt.UTC), 0)
        out += self._negotiated(exchange, server, facts)
        if not any(f.severity in (Severity.WARNING, Severity.ERROR) for f in out) and server.verified \
                and server.version and chain and chain.leaf:
            leaf = chain.leaf
            out.append(R_OK.finding(
                f"{server.version} {facts['cipher']}; certificate for {leaf.subject_cn or leaf.subject} from "
                f"{leaf.issuer_cn or leaf.issuer}, valid {facts['expires_in_days']:.0f} more days",
                subject="tls.server", evidence={"version": server.version, "cipher": facts["cipher"]}))
        return out

    def _verification(self, server: ServerTLS, chain: ChainInfo | None, suffix: str) -> list[Finding]:
        """Trust findings come from OpenSSL's verification; date, host, key and digest
        errors are left to the chain checks, which see every certificate."""
        out: list[Finding] = []
        codes = {code for _, code, _ in server.verify_errors}
        leaf = chain.leaf if chain else None
        evidence = {"openssl_errors": "; ".join(f"depth {d}: {m} ({c})" for d, c, m in server.verify_errors)[:300]}
        if SELF_SIGNED_LEAF in codes:
            out.append(R_SELF_SIGNED.finding(f"Self-signed certificate for {leaf.subject_cn if leaf else '?'}"
                                             + suffix, subject="tls.server.certificate", evidence=evidence))
        elif SELF_SIGNED_IN_CHAIN in codes:
            top = chain.certs[-1] if chain and chain.certs else None
            out.append(R_UNKNOWN_ISSUER.finding(
                f"The chain ends in an untrusted root: {top.subject_cn if top else '?'}" + suffix,
                subject="tls.server.certificate", evidence=evidence))
        elif codes & set(NO_ISSUER):
            top = chain.certs[-1] if chain and chain.certs else None
            missing = (top.issuer_cn or top.issuer) if top else "?"
            if top is not None and not top.is_ca:  # the server sent its certificate alone
                out.append(R_INCOMPLETE.finding(
                    f"No issuer certificate for {top.subject_cn or top.subject}: {missing} is neither sent nor "
                    f"trusted" + suffix, subject="tls.server.certificate", evidence=evidence))
            else:  # a missing second intermediate, or a private root: the issuer is named either way
                out.append(R_UNKNOWN_ISSUER.finding(
                    f"The chain cannot be verified: its issuer {missing} is neither sent nor trusted (an "
                    f"intermediate the server must send, or a root to trust with --upstream-ca)" + suffix,
                    subject="tls.server.certificate", evidence=evidence))
        for depth, code, message in server.verify_errors:
            if code in OWN_CHECKS and chain is not None and depth < len(chain.certs):
                continue  # the chain checks report it (a deeper depth is a trust anchor the server did not send)
            if code in (SELF_SIGNED_LEAF, SELF_SIGNED_IN_CHAIN, *NO_ISSUER):
                continue
            out.append(R_VERIFY.finding(f"Certificate verification failed at depth {depth}: {message}" + suffix,
                                        subject="tls.server.certificate",
                                        evidence={"depth": depth, "code": code, "message": message}))
        return out

    def _chain_checks(self, exchange: Exchange, server: ServerTLS, chain: ChainInfo, when: float,
                      suffix: str) -> list[Finding]:
        out: list[Finding] = []
        now = dt.datetime.fromtimestamp(when, dt.UTC)
        leaf = chain.leaf
        if chain.error:
            out.append(R_VERIFY.finding(f"Unparseable certificate: {chain.error}", subject="tls.server.certificate"))
        for depth, cert in enumerate(chain.certs):
            where = {"depth": depth, "subject": cert.subject[:200]}
            out += self._dates(cert.subject_cn or cert.subject, cert.not_before, cert.not_after, now, depth, suffix)
            root = depth == len(chain.certs) - 1 and cert.self_signed and depth > 0
            if not root and (cert.signature_hash in ("sha1", "md5") or cert.signature_algorithm.lower().startswith(
                    ("sha1", "md5", "md2", "dsawithsha1", "ecdsa-with-sha1"))):
                out.append(R_WEAK_SIGNATURE.finding(
                    f"Certificate {cert.subject_cn or cert.subject} is signed with {cert.signature_algorithm}"
                    + suffix, subject="tls.server.certificate",
                    evidence={**where, "signature_algorithm": cert.signature_algorithm}))
            weak = _weak_key(cert.key_type, cert.key_bits)
            if weak:
                out.append(R_WEAK_KEY.finding(f"Certificate {cert.subject_cn or cert.subject} has {weak}" + suffix,
                                              subject="tls.server.certificate",
                                              evidence={**where, "key_type": cert.key_type, "key_bits": cert.key_bits}))
        host = server.sni or exchange.request.host
        if leaf is not None and host and not chain.covers(host):
            out.append(R_HOSTNAME.finding(
                f"The certificate covers {', '.join(leaf.sans[:5]) or 'no names (no subjectAltName)'}"
                + (" ..." if len(leaf.sans) > 5 else "") + f", not {host}" + suffix,
                subject="tls.server.certificate", evidence={"host": host, "sans": ", ".join(leaf.sans)[:300],
                                                            "cn": leaf.subject_cn}))
        if not chain.in_order:
            out.append(R_CHAIN_ORDER.finding(
                "Chain order: " + " -> ".join(f"{c.subject_cn or c.subject} (by {c.issuer_cn or c.issuer})"
                                               for c in chain.certs)[:250], subject="tls.server.certificate"))
        return out

    def _dates(self, name: str, not_before: dt.datetime | None, not_after: dt.datetime | None, now: dt.datetime,
               depth: int, suffix: str = "") -> list[Finding]:
        """Validity at the time of the exchange (RFC 5280 section 4.1.2.5); "expiring" is about the leaf."""
        where = {"depth": depth, "subject": name[:200]}
        if not_after is not None and not_after < now:
            return [R_EXPIRED.finding(
                f"Certificate {name} expired on {not_after:%Y-%m-%d}" + (f" (depth {depth})" if depth else "") + suffix,
                subject="tls.server.certificate", evidence={**where, "not_after": not_after.isoformat()})]
        if not_before is not None and not_before > now:
            return [R_NOT_YET_VALID.finding(
                f"Certificate {name} is valid only from {not_before:%Y-%m-%d}" + suffix,
                subject="tls.server.certificate", evidence={**where, "not_before": not_before.isoformat()})]
        if depth == 0 and not_after is not None and (not_after - now).total_seconds() <= self.expiry_days * 86400:
            days = (not_after - now).total_seconds() / 86400
            return [R_EXPIRING.finding(
                f"Certificate {name} expires in {days:.1f} days ({not_after:%Y-%m-%d})",
                subject="tls.server.certificate",
                evidence={**where, "days_left": round(days, 1), "threshold_days": self.expiry_days})]
        return []

    def _negotiated(self, exchange: Exchange, server: ServerTLS, facts: dict) -> list[Finding]:
        out: list[Finding] = []
        if server.version in OBSOLETE_VERSIONS:
            out.append(R_OBSOLETE.finding(f"The upstream connection uses {server.version}",
                                          subject="tls.server.version", evidence={"version": server.version}))
        cipher = facts["cipher"]
        traits = cipher_traits(cipher) if cipher else None
        if traits is not None:
            evidence = {"cipher": cipher, "openssl": server.cipher}
            if not traits.forward_secret and server.version != "TLSv1.3":
                out.append(R_NO_FS.finding(f"{cipher} has no forward secrecy", subject="tls.server.cipher",
                                           evidence=evidence))
            broken = [w for w in traits.weaknesses if w != "CBC"]
            if broken:
                out.append(R_BROKEN_CIPHER.finding(f"{cipher} uses {', '.join(broken)}", subject="tls.server.cipher",
                                                   evidence=evidence))
            elif "CBC" in traits.weaknesses:
                out.append(R_CBC.finding(f"{cipher} uses CBC mode", subject="tls.server.cipher", evidence=evidence))
        if server.alpn and server.alpn_offers and server.alpn not in server.alpn_offers:
            out.append(R_ALPN_NOT_OFFERED.finding(
                f"The server selected {server.alpn!r}; offered were {', '.join(server.alpn_offers)}",
                subject="tls.server.alpn", evidence={"selected": server.alpn, "offered": ", ".join(server.alpn_offers)}))
        client = exchange.client_tls
        if client is not None and client.version and server.version and (client.alpn or None) != (server.alpn or None):
            out.append(R_ALPN_DIFFERS.finding(
                f"The client negotiated {client.alpn or 'no ALPN (HTTP/1.1)'}, the upstream server "
                f"{server.alpn or 'no ALPN (HTTP/1.1)'}", subject="tls.server.alpn",
                evidence={"client": client.alpn, "server": server.alpn}))
        for breach in facts.get("profile", {}).get("breaches", []):
            out.append(R_PROFILE[breach["rule"]].finding(
                f"Mozilla {self.profile.name} profile, rule {breach['rule']}: {breach['actual']} "
                f"(expected {breach['expected']})", subject=f"tls.server.{breach['rule']}",
                evidence={"profile": self.profile.name, "rule": breach["rule"], "actual": breach["actual"][:200],
                          "expected": breach["expected"][:300]}))
        return out


def _client_handshake_failure(exchange: Exchange) -> list[Finding]:
    error = exchange.error
    if error is None or error.kind != "client-tls":
        return []
    return [R_CLIENT_HANDSHAKE.finding(f"The client's TLS handshake failed: {error.message[:200]}",
                                       subject="tls.client", evidence={"error": error.message[:300]})]


@functools.lru_cache(maxsize=512)
def _hello_facts(hello_bytes: bytes) -> dict:
    hello = parse_client_hello(hello_bytes)
    if hello is None:
        return {"client_hello_error": "the ClientHello could not be parsed"}
    return {
        "versions_offered": [name_of(VERSIONS, v) for v in hello.versions],
        "ciphers_offered": [name_of(CIPHER_SUITES, c) for c in hello.cipher_suites if not is_grease(c)],
        "groups_offered": [name_of(GROUPS, g) for g in hello.supported_groups if not is_grease(g)],
        "signature_algorithms": [name_of(SIGNATURE_SCHEMES, s) for s in hello.signature_algorithms if not is_grease(s)],
        "extensions": [e for e in hello.extensions if not is_grease(e)],
        "ja3": ja3(hello), "ja3_string": ja3_string(hello), "ja4": ja4(hello), "ja4_r": ja4_r(hello),
    }


def client_facts(client: ClientTLS) -> dict:
    facts = {"sni": client.sni, "alpn_offers": list(client.alpn_offers), "version": client.version,
             "cipher": iana_cipher(client.cipher), "alpn": client.alpn,
             "versions_offered": [], "ciphers_offered": []}
    if client.client_hello:
        facts.update(_hello_facts(client.client_hello))
    return facts


def _epoch(value: object) -> dt.datetime | None:
    """Playwright's validFrom/validTo are Unix seconds; other producers' values are taken only if sane."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return dt.datetime.fromtimestamp(value, dt.UTC)
    except (ValueError, OverflowError, OSError):  # milliseconds, or garbage: not a date we can use
        return None


def _details_validity(details: dict | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    if not details:
        return None, None
    return _epoch(details.get("validFrom")), _epoch(details.get("validTo"))


def _details_facts(details: dict | None) -> dict | None:
    """The certificate as far as a HAR's ``_securityDetails`` tells (no DER there)."""
    if not details:
        return None
    not_before, not_after = _details_validity(details)
    sans = details.get("sanList")

    def text(value: object) -> str | None:
        return value if isinstance(value, str) else None

    return {"subject": text(details.get("subjectName")), "issuer": text(details.get("issuer")),
            "sans": [s for s in sans if isinstance(s, str)] if isinstance(sans, list) else [],
            "not_before": not_before.strftime("%Y-%m-%dT%H:%M:%SZ") if not_before else None,
            "not_after": not_after.strftime("%Y-%m-%dT%H:%M:%SZ") if not_after else None}


def _weak_key(key_type: str, bits: int | None) -> str | None:
    if bits is None:
        return None
    if key_type in ("RSA", "DSA") and bits < 2048:
        return f"a {bits}-bit {key_type} key"
    if key_type == "EC" and bits < 224:
        return f"a {bits}-bit EC key"
    return None




# `mitmdump -s addons/tls.py` (or mitmweb) runs this analyzer in-process.
addons = [InProcess([TlsAnalyzer()])]
