"""Mozilla's server-side TLS recommendations, as data, and a judge for one handshake.

Source: https://ssl-config.mozilla.org/guidelines/5.8.json (mozilla/ssl-config-generator,
2026-04-06), the newest version that still defines all three configurations:
modern, intermediate and old (6.0 drops "old"; its modern and intermediate
match 5.8's in everything judged here). A proxy sees one negotiated
handshake, not everything the server would accept, so only what was
negotiated and the certificate are judged; a scanner (testssl.sh, SSL Labs)
is the tool for the whole server configuration.
"""

from __future__ import annotations

from dataclasses import dataclass

GUIDELINES = "https://ssl-config.mozilla.org/guidelines/5.8.json"
DOCS = "https://wiki.mozilla.org/Security/Server_Side_TLS"

TLS13_SUITES = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
_INTERMEDIATE_12 = (
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
)
_OLD_12 = _INTERMEDIATE_12 + (
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_AES_128_CBC_SHA256", "TLS_RSA_WITH_AES_256_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
)
_ECDSA_SIGNATURES = ("ecdsa-with-SHA256", "ecdsa-with-SHA384", "ecdsa-with-SHA512")


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    versions: tuple[str, ...]
    ciphers: tuple[str, ...]  # TLS 1.2 and older, IANA names
    certificate_types: tuple[str, ...]  # "ecdsa", "rsa"
    certificate_signatures: tuple[str, ...]
    certificate_curves: tuple[str, ...] = ("secp256r1", "secp384r1")  # Mozilla: prime256v1, secp384r1
    rsa_key_size: int | None = None
    maximum_certificate_lifespan: int = 366  # days


PROFILES = {
    "modern": Profile("modern", ("TLSv1.3",), (), ("ecdsa",), _ECDSA_SIGNATURES, maximum_certificate_lifespan=90),
    "intermediate": Profile("intermediate", ("TLSv1.2", "TLSv1.3"), _INTERMEDIATE_12, ("ecdsa", "rsa"),
                            ("sha256WithRSAEncryption", *_ECDSA_SIGNATURES), rsa_key_size=2048),
    "old": Profile("old", ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"), _OLD_12, ("rsa",),
                   ("sha256WithRSAEncryption",), rsa_key_size=2048),
}


@dataclass(frozen=True, slots=True)
class Breach:
    rule: str  # version, cipher, certificate-type, key-size, curve, signature, lifespan
    actual: str
    expected: str


def judge(profile: Profile, *, version: str | None, cipher: str | None, key_type: str | None,
          key_bits: int | None, curve: str | None, signature: str | None,
          lifespan_days: float | None) -> list[Breach]:
    """The rules of *profile* this handshake and certificate break (empty: it conforms).
    *cipher* is the IANA name; unknown inputs (None) are not judged."""
    out: list[Breach] = []
    if version is not None and version not in profile.versions:
        out.append(Breach("version", version, ", ".join(profile.versions)))
    if cipher is not None and version is not None:
        allowed = TLS13_SUITES if version == "TLSv1.3" else profile.ciphers
        if cipher not in allowed:
            out.append(Breach("cipher", cipher, ", ".join(allowed) or "none below TLS 1.3"))
    cert_type = {"RSA": "rsa", "EC": "ecdsa"}.get(key_type or "", (key_type or "").lower())
    if key_type is not None:
        if cert_type not in profile.certificate_types:
            out.append(Breach("certificate-type", cert_type, ", ".join(profile.certificate_types)))
        elif cert_type == "rsa" and profile.rsa_key_size and (key_bits or 0) < profile.rsa_key_size:
            out.append(Breach("key-size", f"RSA {key_bits} bits", f"RSA {profile.rsa_key_size} bits"))
        elif cert_type == "ecdsa" and curve is not None and curve not in profile.certificate_curves:
            out.append(Breach("curve", curve, ", ".join(profile.certificate_curves)))
    if signature is not None and signature not in profile.certificate_signatures:
        out.append(Breach("signature", signature, ", ".join(profile.certificate_signatures)))
    if lifespan_days is not None and lifespan_days > profile.maximum_certificate_lifespan:
        out.append(Breach("lifespan", f"{lifespan_days:.0f} days", f"at most {profile.maximum_certificate_lifespan} days"))
    return out
