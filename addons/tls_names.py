"""Names for TLS code points, and what a cipher suite's name says about it.

IANA "TLS Parameters" registry names; OpenSSL's names beside them because
that is what a handshake reports (``SSL_get_cipher_name``) and what server
configurations use. Code points missing here are shown as ``0x....``.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSIONS = {0x0304: "TLSv1.3", 0x0303: "TLSv1.2", 0x0302: "TLSv1.1", 0x0301: "TLSv1", 0x0300: "SSLv3",
            0x0002: "SSLv2"}
OBSOLETE_VERSIONS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1")  # RFC 8996 deprecates TLS 1.0 and 1.1

# code, IANA name, OpenSSL name
_SUITES = """
1301 TLS_AES_128_GCM_SHA256 TLS_AES_128_GCM_SHA256
1302 TLS_AES_256_GCM_SHA384 TLS_AES_256_GCM_SHA384
1303 TLS_CHACHA20_POLY1305_SHA256 TLS_CHACHA20_POLY1305_SHA256
1304 TLS_AES_128_CCM_SHA256 TLS_AES_128_CCM_SHA256
1305 TLS_AES_128_CCM_8_SHA256 TLS_AES_128_CCM_8_SHA256
c02b TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 ECDHE-ECDSA-AES128-GCM-SHA256
c02f TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 ECDHE-RSA-AES128-GCM-SHA256
c02c TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 ECDHE-ECDSA-AES256-GCM-SHA384
c030 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 ECDHE-RSA-AES256-GCM-SHA384
cca9 TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 ECDHE-ECDSA-CHACHA20-POLY1305
cca8 TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 ECDHE-RSA-CHACHA20-POLY1305
ccaa TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256 DHE-RSA-CHACHA20-POLY1305
009e TLS_DHE_RSA_WITH_AES_128_GCM_SHA256 DHE-RSA-AES128-GCM-SHA256
009f TLS_DHE_RSA_WITH_AES_256_GCM_SHA384 DHE-RSA-AES256-GCM-SHA384
c0ac TLS_ECDHE_ECDSA_WITH_AES_128_CCM ECDHE-ECDSA-AES128-CCM
c0ad TLS_ECDHE_ECDSA_WITH_AES_256_CCM ECDHE-ECDSA-AES256-CCM
c023 TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 ECDHE-ECDSA-AES128-SHA256
c027 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 ECDHE-RSA-AES128-SHA256
c024 TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384 ECDHE-ECDSA-AES256-SHA384
c028 TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384 ECDHE-RSA-AES256-SHA384
c009 TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA ECDHE-ECDSA-AES128-SHA
c013 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA ECDHE-RSA-AES128-SHA
c00a TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA ECDHE-ECDSA-AES256-SHA
c014 TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA ECDHE-RSA-AES256-SHA
0067 TLS_DHE_RSA_WITH_AES_128_CBC_SHA256 DHE-RSA-AES128-SHA256
006b TLS_DHE_RSA_WITH_AES_256_CBC_SHA256 DHE-RSA-AES256-SHA256
0033 TLS_DHE_RSA_WITH_AES_128_CBC_SHA DHE-RSA-AES128-SHA
0039 TLS_DHE_RSA_WITH_AES_256_CBC_SHA DHE-RSA-AES256-SHA
009c TLS_RSA_WITH_AES_128_GCM_SHA256 AES128-GCM-SHA256
009d TLS_RSA_WITH_AES_256_GCM_SHA384 AES256-GCM-SHA384
003c TLS_RSA_WITH_AES_128_CBC_SHA256 AES128-SHA256
003d TLS_RSA_WITH_AES_256_CBC_SHA256 AES256-SHA256
002f TLS_RSA_WITH_AES_128_CBC_SHA AES128-SHA
0035 TLS_RSA_WITH_AES_256_CBC_SHA AES256-SHA
c012 TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA ECDHE-RSA-DES-CBC3-SHA
c008 TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA ECDHE-ECDSA-DES-CBC3-SHA
0016 TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA DHE-RSA-DES-CBC3-SHA
000a TLS_RSA_WITH_3DES_EDE_CBC_SHA DES-CBC3-SHA
c011 TLS_ECDHE_RSA_WITH_RC4_128_SHA ECDHE-RSA-RC4-SHA
c007 TLS_ECDHE_ECDSA_WITH_RC4_128_SHA ECDHE-ECDSA-RC4-SHA
0005 TLS_RSA_WITH_RC4_128_SHA RC4-SHA
0004 TLS_RSA_WITH_RC4_128_MD5 RC4-MD5
0001 TLS_RSA_WITH_NULL_MD5 NULL-MD5
0002 TLS_RSA_WITH_NULL_SHA NULL-SHA
003b TLS_RSA_WITH_NULL_SHA256 NULL-SHA256
0041 TLS_RSA_WITH_CAMELLIA_128_CBC_SHA CAMELLIA128-SHA
0084 TLS_RSA_WITH_CAMELLIA_256_CBC_SHA CAMELLIA256-SHA
00ff TLS_EMPTY_RENEGOTIATION_INFO_SCSV TLS_EMPTY_RENEGOTIATION_INFO_SCSV
5600 TLS_FALLBACK_SCSV TLS_FALLBACK_SCSV
"""

_ROWS = [line.split() for line in _SUITES.strip().splitlines()]
CIPHER_SUITES: dict[int, str] = {int(code, 16): iana for code, iana, _ in _ROWS}
IANA_BY_OPENSSL: dict[str, str] = {openssl: iana for _, iana, openssl in _ROWS}
OPENSSL_BY_IANA: dict[str, str] = {iana: openssl for _, iana, openssl in _ROWS}

GROUPS = {0x0017: "secp256r1", 0x0018: "secp384r1", 0x0019: "secp521r1", 0x001D: "x25519", 0x001E: "x448",
          0x0100: "ffdhe2048", 0x0101: "ffdhe3072", 0x0102: "ffdhe4096", 0x0103: "ffdhe6144",
          0x0104: "ffdhe8192", 0x0200: "MLKEM512", 0x0201: "MLKEM768", 0x0202: "MLKEM1024",
          0x11EB: "SecP256r1MLKEM768", 0x11EC: "X25519MLKEM768", 0x11ED: "SecP384r1MLKEM1024",
          0x6399: "X25519Kyber768Draft00"}

SIGNATURE_SCHEMES = {0x0201: "rsa_pkcs1_sha1", 0x0203: "ecdsa_sha1", 0x0401: "rsa_pkcs1_sha256",
                     0x0501: "rsa_pkcs1_sha384", 0x0601: "rsa_pkcs1_sha512", 0x0403: "ecdsa_secp256r1_sha256",
                     0x0503: "ecdsa_secp384r1_sha384", 0x0603: "ecdsa_secp521r1_sha512",
                     0x0804: "rsa_pss_rsae_sha256", 0x0805: "rsa_pss_rsae_sha384", 0x0806: "rsa_pss_rsae_sha512",
                     0x0807: "ed25519", 0x0808: "ed448", 0x0809: "rsa_pss_pss_sha256",
                     0x080A: "rsa_pss_pss_sha384", 0x080B: "rsa_pss_pss_sha512",
                     0x081A: "ecdsa_brainpoolP256r1tls13_sha256", 0x081B: "ecdsa_brainpoolP384r1tls13_sha384",
                     0x081C: "ecdsa_brainpoolP512r1tls13_sha512", 0x0301: "rsa_pkcs1_sha224",
                     0x0302: "dsa_sha224", 0x0303: "ecdsa_sha224", 0x0402: "dsa_sha256", 0x0202: "dsa_sha1"}


def name_of(table: dict[int, str], code: int) -> str:
    return table.get(code) or f"0x{code:04x}"


def iana_cipher(name: str | None) -> str | None:
    """The IANA name for a cipher suite reported under its OpenSSL name (TLS 1.3 names are the same)."""
    if name is None:
        return None
    return IANA_BY_OPENSSL.get(name, name)


@dataclass(frozen=True, slots=True)
class CipherTraits:
    forward_secret: bool  # ephemeral key exchange: a stolen server key does not decrypt recorded traffic
    weaknesses: tuple[str, ...]  # "NULL", "EXPORT", "RC4", "3DES", "DES", "IDEA", "ANON", "CBC"


# Broken beyond configuration: no encryption, export-grade, RC4 (RFC 7465), 64-bit blocks (3DES: Sweet32;
# IDEA), single DES (RFC 5469 deprecates DES and IDEA), no server authentication (anon).
_BROKEN = (("NULL", "_NULL"), ("EXPORT", "EXPORT"), ("RC4", "_RC4_"), ("3DES", "_3DES_"), ("DES", "_DES_CBC_"),
           ("DES", "_DES40_"), ("IDEA", "_IDEA_"), ("ANON", "_anon_"))


def cipher_traits(iana: str) -> CipherTraits | None:
    """Read the traits off an IANA name: ``TLS_<kx>_WITH_<cipher>_<mac>`` (TLS 1.2 and older)
    or ``TLS_<aead>_<hash>`` (TLS 1.3, always (EC)DHE per RFC 8446 section 2). None for a
    name that is neither (an OpenSSL name proxylens does not know): its traits are unknown."""
    if "_WITH_" not in iana:
        if iana.startswith("TLS_") and iana[4:].split("_")[0] in ("AES", "CHACHA20", "SM4"):
            return CipherTraits(forward_secret=True, weaknesses=())
        return None
    kx, _, rest = iana.partition("_WITH_")
    forward_secret = "DHE" in kx and "anon" not in kx  # DHE/ECDHE; static DH/ECDH and RSA transport are not
    weaknesses = tuple(dict.fromkeys(w for w, marker in _BROKEN if marker in f"{kx}_{rest}"))
    if "_CBC_" in f"_{rest}_" or rest.endswith("_CBC"):
        weaknesses += ("CBC",)
    return CipherTraits(forward_secret=forward_secret, weaknesses=weaknesses)
