"""The ClientHello parser and its JA3/JA4 fingerprints (addons/tls_hello.py).

Expected fingerprints are the ones published for real captures (tests/data/tls_fingerprints.json: FoxIO's
JA4 test data, Arkime, Suricata, the JA3 authors' baseline), the worked examples of the JA4 and JA3
specifications, and hand-built hellos for the edge cases the specifications spell out.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from addons.tls_hello import (
    JA4_VERSIONS,
    ClientHello,
    is_grease,
    ja3,
    ja3_string,
    ja4,
    ja4_r,
    parse_client_hello,
)
from tests.support.clienthello import (
    CHROME_CIPHERS,
    CHROME_SIGALGS,
    GREASE,
    alpn_ext,
    client_hello,
    ext,
    groups_ext,
    modern_hello,
    point_formats_ext,
    sigalgs_ext,
    sni_ext,
    u16,
    versions_ext,
)

DATA = json.loads((Path(__file__).parent / "data" / "tls_fingerprints.json").read_text())
VECTORS = DATA["vectors"]
BY_ID = {v["id"]: v for v in VECTORS}
DISPUTED = "chrome-non-ascii-alpn-DISPUTED"

JA4_RE = re.compile(r"^[tqd](13|12|11|10|s3|s2|d1|d2|d3|00)[di]\d\d\d\d[0-9A-Za-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$")
JA4_R_RE = re.compile(r"^[tqd](13|12|11|10|s3|s2|d1|d2|d3|00)[di]\d{4}[0-9A-Za-z]{2}"
                      r"_([0-9a-f]{4}(,[0-9a-f]{4})*)?_([0-9a-f]{4}(,[0-9a-f]{4})*)?(_[0-9a-f]{4}(,[0-9a-f]{4})*)?$")
JA3_STRING_RE = re.compile(r"^\d+(,(\d+(-\d+)*)?){4}$")
MD5_RE = re.compile(r"^[0-9a-f]{32}$")
EMPTY = "000000000000"


def parse_vector(vector: dict) -> ClientHello:
    hello = parse_client_hello(bytes.fromhex(vector["client_hello_hex"]))
    assert hello is not None, vector["id"]
    return hello


def parse(body: bytes) -> ClientHello:
    hello = parse_client_hello(body)
    assert hello is not None
    return hello


def vectors_with(*fields: str) -> list:
    return [pytest.param(v, id=v["id"]) for v in VECTORS if any(v[f] is not None for f in fields)]


def assert_well_formed(hello: ClientHello) -> None:
    string = ja3_string(hello)
    assert JA3_STRING_RE.match(string), string
    assert ja3(hello) == hashlib.md5(string.encode()).hexdigest()
    fingerprint, raw = ja4(hello), ja4_r(hello)
    assert JA4_RE.match(fingerprint), fingerprint
    assert JA4_R_RE.match(raw), raw
    assert raw.split("_")[0] == fingerprint.split("_")[0]


# -- the data file ---------------------------------------------------------------------------------------------

def test_the_data_file_holds_only_published_values_with_their_sources():
    assert len(VECTORS) == 15 and len(BY_ID) == len(VECTORS)
    for v in VECTORS:
        assert any(v[f] is not None for f in ("ja3", "ja3_hash", "ja4", "ja4_r")), v["id"]
        roles = {s["role"] for s in v["source"]}
        assert roles == {"capture", "published fingerprints"}, v["id"]
        for source in v["source"]:
            assert re.fullmatch(r"[0-9a-f]{40}", source["commit"]) and "/" in source["repo"], v["id"]
        assert "computed_unpublished" not in v
        # A published JA3 string and its published MD5 agree with each other.
        if v["ja3"] is not None and v["ja3_hash"] is not None:
            assert hashlib.md5(v["ja3"].encode()).hexdigest() == v["ja3_hash"], v["id"]
        if v["ja4"] is not None and v["ja4_r"] is not None:
            assert v["ja4"].split("_")[0] == v["ja4_r"].split("_")[0], v["id"]


# -- published fingerprints --------------------------------------------------------------------------------------

@pytest.mark.parametrize("vector", vectors_with("ja3", "ja3_hash"))
def test_published_ja3(vector):
    hello = parse_vector(vector)
    if vector["ja3"] is not None:
        assert ja3_string(hello) == vector["ja3"]
    if vector["ja3_hash"] is not None:
        assert ja3(hello) == vector["ja3_hash"]


@pytest.mark.parametrize("vector", [p for p in vectors_with("ja4", "ja4_r") if p.values[0]["id"] != DISPUTED])
def test_published_ja4(vector):
    hello = parse_vector(vector)
    if vector["ja4"] is not None:
        assert ja4(hello) == vector["ja4"]
    if vector["ja4_r"] is not None:
        assert ja4_r(hello) == vector["ja4_r"]


def test_non_ascii_alpn_follows_the_spec_not_foxios_published_99():
    # FoxIO's test data (made with python/ja4.py: `if ord(alpn[0]) > 127: alpn = '99'`) publishes "99" for a
    # first ALPN value of the bytes 0xba 0xad. The current spec text, technical_details/JA4.md (changed in
    # Aug 2024, FoxIO-LLC/ja4#156, which Arkime followed), says otherwise:
    #   "If the first or last byte of the first ALPN is not an ASCII alphanumeric character (meaning not
    #   `0x30-0x39`, `0x41-0x5A`, or `0x61-0x7A`), then we print the first and last characters of the hex
    #   representation of the first ALPN instead."
    # hex("baad") = "baad": first "b", last "d". proxylens follows the spec, so "bd".
    vector = BY_ID[DISPUTED]
    hello = parse_vector(vector)
    assert hello.alpn[0].encode("latin-1") == b"\xba\xad"
    disputed = vector["disputed"]
    assert (disputed["published"], disputed["spec"]) == ("99", "bd")
    assert ja4(hello) == disputed["spec_ja4"] == "t13d1516bd_8daaf6152771_e5627efa2ab1"
    assert ja4_r(hello) == disputed["spec_ja4_r"]
    # Everything but the ALPN marker is as published.
    assert ja4(hello).replace("1516bd_", "151699_") == vector["ja4"]
    assert ja4_r(hello).replace("1516bd_", "151699_") == vector["ja4_r"]


# -- parser facts per vector ------------------------------------------------------------------------------------

@pytest.mark.parametrize("vector", [pytest.param(v, id=v["id"]) for v in VECTORS])
def test_parser_facts(vector):
    hello = parse_vector(vector)
    facts = vector["facts"]
    assert not hello.truncated
    assert hello.legacy_version == int(facts["legacy_version"], 16)
    assert hello.sni == facts["sni"]
    assert hello.alpn == tuple(facts["alpn"])
    grease = [v for v in hello.cipher_suites + hello.extensions + hello.supported_groups + hello.supported_versions
              if is_grease(v)]
    assert bool(grease) is facts["has_grease"]
    assert not any(is_grease(v) for v in hello.versions)
    # JA3 drops GREASE from every list it prints.
    values = [int(n) for field in ja3_string(hello).split(",")[1:] for n in field.split("-") if n]
    assert not any(is_grease(v) for v in values)
    assert_well_formed(hello)


@pytest.mark.parametrize("vector", vectors_with("ja4"))
def test_parser_agrees_with_the_published_ja4_a(vector):
    """The published JA4's first part says what the parser must have found: version, SNI, counts, ALPN."""
    hello = parse_vector(vector)
    ja4_a = vector["ja4"].split("_")[0]
    version = max(hello.versions)
    assert ja4_a[1:3] == JA4_VERSIONS.get(version, "00")
    assert ja4_a[3] == ("d" if hello.sni else "i")
    assert int(ja4_a[4:6]) == min(99, len([c for c in hello.cipher_suites if not is_grease(c)]))
    assert int(ja4_a[6:8]) == min(99, len([e for e in hello.extensions if not is_grease(e)]))
    assert (ja4_a[8:] == "00") is (not hello.alpn)


@pytest.mark.parametrize("vector_id, highest", [
    ("salesforce-ja3-chrome-2018", 0x7F17),  # TLS 1.3 draft 23
    ("chrome-tls13-draft18-version-00", 0x7F12),  # draft 18
    ("tls13-draft28-localhost-nonbrowser", 0x7F1C),  # draft 28
    ("chrome-foxio-tls-sni-accounts.google.com", 0x0304),
    ("firefox-tls12pcap-contile", 0x0304),  # "tls12.pcap", but it offers TLS 1.3
    ("salesforce-ja3-curl-tls12", 0x0303),  # no supported_versions: the legacy version
    ("libressl-tls12-alpn-h2", 0x0303),
    ("tls10-sni-only-github", 0x0301),
])
def test_versions_offered(vector_id, highest):
    hello = parse_vector(BY_ID[vector_id])
    assert max(hello.versions) == highest
    if highest > 0x0304:  # a TLS 1.3 draft: unknown to JA4
        assert ja4(hello)[1:3] == "00"


# -- GREASE ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", GREASE, ids=[f"{v:#06x}" for v in GREASE])
def test_every_grease_value_is_grease(value):
    assert is_grease(value)


@pytest.mark.parametrize("value", [0x0000, 0x0A0B, 0x0B0A, 0x0A1A, 0x1A0A, 0xFAFB, 0x0B0B, 0x1301, 0xC02F, 0x00FF,
                                   0x5600, 0xFFFF, 0xAA0A, 0x0AAA])
def test_other_values_are_not_grease(value):
    assert not is_grease(value)


def test_grease_is_exactly_sixteen_values():
    assert [v for v in range(0x10000) if is_grease(v)] == list(GREASE)


def test_grease_anywhere_changes_no_fingerprint():
    plain = parse(modern_hello())
    greased = parse(modern_hello(ciphers=(0x3A3A, *CHROME_CIPHERS), groups=(0x5A5A, 0x001D, 0x0017, 0x0018),
                                 versions=(0x9A9A, 0x0304, 0x0303), sigalgs=(0xDADA, *CHROME_SIGALGS),
                                 extra=(ext(0x2A2A), ext(0xFAFA, b"\x00"))))
    assert len(greased.extensions) == len(plain.extensions) + 2
    assert (ja3_string(greased), ja4(greased), ja4_r(greased)) == (ja3_string(plain), ja4(plain), ja4_r(plain))
    assert greased.versions == (0x0304, 0x0303)


def test_grease_only_supported_versions_falls_back_to_the_legacy_version():
    hello = parse(modern_hello(versions=(0x1A1A,), legacy_version=0x0303))
    assert hello.versions == (0x0303,)
    assert ja4(hello).startswith("t12d")


# -- the specifications' worked examples --------------------------------------------------------------------------

# JA4.md: ciphers "002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9 = 8daaf6152771";
# extensions "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01" (plus SNI and ALPN) and
# signature algorithms "0403,0804,0401,0503,0805,0501,0806,0601" hash to e5627efa2ab1.
SPEC_EXTS = (0x0005, 0x0012, 0x0015, 0x0017, 0x001B, 0x0023, 0x002D, 0x0033, 0x4469, 0xFF01)


def spec_hello(sigalgs=CHROME_SIGALGS) -> bytes:
    exts = [sni_ext("a.test"), alpn_ext("h2", "http/1.1"), groups_ext(0x001D, 0x0017, 0x0018), point_formats_ext(0),
            sigalgs_ext(*sigalgs), versions_ext(0x0304, 0x0303)] + [ext(e) for e in SPEC_EXTS]
    return client_hello(ciphers=CHROME_CIPHERS, extensions=exts)


def test_ja4_spec_worked_example():
    hello = parse(spec_hello())
    assert ja4(hello) == "t13d1516h2_8daaf6152771_e5627efa2ab1"
    assert ja4_r(hello) == ("t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_"
                            "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_"
                            "0403,0804,0401,0503,0805,0501,0806,0601")


def test_ja4_without_signature_algorithms_ends_without_underscore():
    # JA4.md: "If there are no signature algorithms in the hello packet, then the string ends without an
    # underscore and is hashed. 0005,000a,...,4469,ff01 = 6d807ffa2a79"
    hello = parse(spec_hello(sigalgs=()))
    assert ja4(hello) == "t13d1516h2_8daaf6152771_6d807ffa2a79"
    assert ja4_r(hello).endswith("_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01")


def test_ja4_signature_algorithms_keep_their_order():
    a = parse(spec_hello(sigalgs=(0x0403, 0x0804)))
    b = parse(spec_hello(sigalgs=(0x0804, 0x0403)))
    assert ja4(a).split("_")[:2] == ja4(b).split("_")[:2]
    assert ja4(a) != ja4(b)
    assert ja4_r(a).endswith("_0403,0804") and ja4_r(b).endswith("_0804,0403")


def test_ja4_sorts_ciphers_and_extensions():
    a = parse(client_hello(ciphers=(0x1301, 0x002F), extensions=[ext(0x0017), ext(0x0005)]))
    b = parse(client_hello(ciphers=(0x002F, 0x1301), extensions=[ext(0x0005), ext(0x0017)]))
    assert ja4(a) == ja4(b) and ja4_r(a) == ja4_r(b) == "t12i020200_002f,1301_0005,0017"
    assert ja3(a) != ja3(b)  # JA3 keeps the order sent


@pytest.mark.parametrize("body, string, md5", [
    # salesforce/ja3 README.md
    (client_hello(legacy_version=769, ciphers=(47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4),
                  extensions=[sni_ext("a.test"), groups_ext(23, 24, 25), point_formats_ext(0)]),
     "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0", "ada70206e40642a3e4461f35503241d5"),
    # "If there are no SSL Extensions in the Client Hello, the fields are left empty."
    (client_hello(legacy_version=769, ciphers=(4, 5, 10, 9, 100, 98, 3, 6, 19, 18, 99), extensions=None),
     "769,4-5-10-9-100-98-3-6-19-18-99,,,", "de350869b8c85de67a350c8d186f11e6"),
], ids=["readme", "no-extensions"])
def test_ja3_spec_examples(body, string, md5):
    hello = parse(body)
    assert ja3_string(hello) == string
    assert ja3(hello) == md5


def test_ja3_uses_the_legacy_version_not_supported_versions():
    hello = parse(modern_hello())
    assert ja3_string(hello).startswith("771,")
    assert ja4(hello).startswith("t13")


# -- ALPN marker ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("protocols, marker", [
    ((b"h2", b"http/1.1"), "h2"),
    ((b"http/1.1",), "h1"),
    ((b"spdy/3.1", b"http/1.1"), "s1"),
    ((b"H2",), "H2"),  # case kept
    ((b"h",), "hh"),  # "If the first ALPN value is only a single character, then that character is treated as both"
    ((b"http/1.1", b"h2"), "h1"),  # only the first value counts
    # JA4.md's examples for a first or last byte that is not ASCII alphanumeric:
    ((b"\xab",), "ab"),
    ((b"\x20",), "20"),
    ((b"\xab\xcd",), "ad"),
    ((b"\x20\x61",), "21"),
    ((b"\x30\xab",), "3b"),
    ((b"\x61\x20",), "60"),
    ((b"\x30\x31\xab\xcd",), "3d"),
    ((b"\x30\xab\xcd\x31",), "01"),
    # "If there is no ALPN extension, no ALPN values, or the first ALPN value is empty, then we print "00""
    ((), "00"),
    ((b"", b"h2"), "00"),
    (None, "00"),
])
def test_alpn_marker(protocols, marker):
    extensions = [sni_ext("a.test")] + ([alpn_ext(*protocols)] if protocols is not None else [])
    hello = parse(client_hello(extensions=extensions))
    assert ja4(hello)[8:10] == marker
    assert hello.alpn == tuple(p.decode("latin-1") for p in protocols or ())


# -- hand-built edge cases --------------------------------------------------------------------------------------

def test_no_extensions_block_at_all():
    """TLS 1.0 style: the hello ends after the compression methods (RFC 5246 section 7.4.1.2)."""
    hello = parse(client_hello(legacy_version=0x0301, ciphers=(0x0005, 0x0004), extensions=None))
    assert hello.extensions == () and not hello.truncated
    assert hello.sni is None and hello.alpn == () and hello.versions == (0x0301,)
    assert ja3_string(hello) == "769,5-4,,,"
    assert ja4(hello) == f"t10i020000_{hashlib.sha256(b'0004,0005').hexdigest()[:12]}_{EMPTY}"
    assert ja4_r(hello) == "t10i020000_0004,0005_"


def test_empty_extensions_block():
    hello = parse(client_hello(extensions=()))
    assert hello.extensions == () and not hello.truncated
    assert ja4(hello) == f"t12i150000_8daaf6152771_{EMPTY}"


def test_no_sni_is_i_and_sni_is_d():
    assert ja4(parse(modern_hello(sni=None)))[3] == "i"
    assert ja4(parse(modern_hello(sni="a.test")))[3] == "d"
    assert parse(modern_hello(sni="a.test")).sni == "a.test"


def test_only_sni_and_alpn_gives_an_empty_ja4_c():
    hello = parse(client_hello(extensions=[sni_ext("a.test"), alpn_ext("h2")]))
    assert ja4(hello) == f"t12d1502h2_8daaf6152771_{EMPTY}"  # the spec example's 15 ciphers
    assert ja4_r(hello).endswith("_")


def test_no_ciphers_gives_an_empty_ja4_b():
    hello = parse(client_hello(ciphers=(), extensions=[sni_ext("a.test")]))
    assert ja4(hello).split("_")[1] == EMPTY
    assert ja4(hello)[4:6] == "00"


def test_grease_only_ciphers_count_as_none():
    hello = parse(client_hello(ciphers=(0x0A0A, 0x1A1A), extensions=[sni_ext("a.test")]))
    assert ja4(hello)[4:6] == "00" and ja4(hello).split("_")[1] == EMPTY
    assert ja3_string(hello).split(",")[1] == ""


def test_more_than_99_ciphers_and_extensions_are_capped_at_99():
    # "If there's > 99, which there should never be, then output "99"."
    ciphers = tuple(range(0x0100, 0x0100 + 120))
    exts = [ext(0x1000 + i) for i in range(105)]
    hello = parse(client_hello(ciphers=ciphers, extensions=exts))
    assert len(hello.cipher_suites) == 120 and len(hello.extensions) == 105
    assert ja4(hello)[:10] == "t12i999900"
    assert len(ja4_r(hello).split("_")[1].split(",")) == 120  # the raw form still lists them all
    assert JA4_RE.match(ja4(hello))


def test_scsv_and_reserved_values_count_as_ciphers():
    # "Do, however, count other non-cipher values such as SCSV (0x00FF, 0x5600) and Experimental/Reserved values"
    hello = parse(client_hello(ciphers=(0x1301, 0x00FF, 0x5600, 0xFE10), extensions=[sni_ext("a.test")]))
    assert ja4(hello)[4:6] == "04"
    assert ja4_r(hello).split("_")[1] == "00ff,1301,5600,fe10"


@pytest.mark.parametrize("versions, marker", [
    ((0x0304,), "13"), ((0x0304, 0x0303), "13"), ((0x0303, 0x0304), "13"), ((0x0303,), "12"), ((0x0302,), "11"),
    ((0x0301,), "10"), ((0x0300,), "s3"), ((0x0002,), "s2"), ((0x7F1C, 0x0303), "00"), ((0x0305,), "00"),
])
def test_ja4_version_is_the_highest_supported_version(versions, marker):
    # "If extension 0x002b exists (supported_versions), then the version is the highest value in the extension."
    assert ja4(parse(modern_hello(versions=versions)))[1:3] == marker


@pytest.mark.parametrize("legacy, marker", [(0x0303, "12"), (0x0302, "11"), (0x0301, "10"), (0x0300, "s3"),
                                            (0xFEFD, "d2"), (0xFEFF, "d1"), (0x1234, "00")])
def test_ja4_version_without_supported_versions_is_the_legacy_version(legacy, marker):
    assert ja4(parse(modern_hello(versions=None, legacy_version=legacy)))[1:3] == marker


def test_ja4_protocol_marker():
    hello = parse(modern_hello())
    assert ja4(hello, "q").startswith("q13d") and ja4(hello, "d")[0] == "d"


def test_ja4_sni_marker_follows_the_extension_not_its_content():
    # JA4.md: "If the SNI extension (0x0000) exists, then the destination of the connection is a domain, or "d"
    # in the fingerprint. If the SNI does not exist, then the destination is an IP address, or "i"."
    hello = parse(client_hello(extensions=[ext(0x0000, b""), alpn_ext("h2")]))
    assert hello.extensions == (0x0000, 0x0010)
    assert ja4(hello)[3] == "d"


# -- malformed input ---------------------------------------------------------------------------------------------

GOOD_BODY = modern_hello()


@pytest.mark.parametrize("body", [
    b"", b"\x03", b"\x03\x03", b"\x03\x03" + bytes(31),  # no room for the random
    b"\x03\x03" + bytes(32) + b"\x20" + bytes(5),  # session id longer than the rest
    b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x10\x13\x01",  # cipher list longer than the rest
    b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01",  # no compression methods
    b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01\x05\x00",  # compression methods cut
], ids=["empty", "1-byte", "version-only", "short-random", "session-id", "ciphers", "no-compression",
        "compression-cut"])
def test_unreadable_fixed_part_gives_none(body):
    assert parse_client_hello(body) is None


def test_every_truncation_of_a_real_hello_is_handled():
    body = bytes.fromhex(BY_ID["chrome-foxio-tls-sni-accounts.google.com"]["client_hello_hex"])
    full = parse(body)
    fixed = 2 + 32 + 1 + body[34] + 2 + int.from_bytes(body[35 + body[34]:37 + body[34]], "big") + 2
    for n in range(len(body)):
        hello = parse_client_hello(body[:n])
        if hello is None:
            assert n < fixed, n
            continue
        assert_well_formed(hello)
        if n > fixed:
            assert hello.truncated, n  # the extensions block is cut
    assert not full.truncated


def test_extensions_block_longer_than_the_message_is_truncated():
    body = client_hello(extensions=[sni_ext("a.test")])
    hello = parse(body[:-3] + body[-1:])  # drop bytes inside the extension data: the block length lies
    assert hello.truncated and hello.extensions == ()
    assert hello.cipher_suites == CHROME_CIPHERS


def test_a_cut_extension_list_keeps_the_extensions_before_the_cut():
    exts = [sni_ext("a.test"), alpn_ext("h2")]
    inner = b"".join(exts) + u16(0x0017) + u16(40) + b"\x00\x01"  # the last extension claims 40 bytes, has 2
    body = client_hello(extensions=None) + u16(len(inner)) + inner
    hello = parse(body)
    assert hello.truncated
    assert hello.extensions == (0x0000, 0x0010)
    assert hello.sni == "a.test" and hello.alpn == ("h2",)


def test_one_malformed_extension_does_not_hide_the_others():
    bad_alpn = ext(0x0010, u16(9) + b"\x05h2")  # protocol list claims 9 bytes, holds 3; the name claims 5
    bad_sni = ext(0x0000, u16(200))
    hello = parse(client_hello(extensions=[bad_sni, bad_alpn, groups_ext(0x001D), versions_ext(0x0304)]))
    assert not hello.truncated
    assert hello.extensions == (0x0000, 0x0010, 0x000A, 0x002B)
    assert hello.sni is None and hello.alpn == ()
    assert hello.supported_groups == (0x001D,) and hello.versions == (0x0304,)
    assert_well_formed(hello)


def test_odd_length_lists_drop_the_dangling_byte():
    hello = parse(client_hello(ciphers=(), extensions=[ext(0x000A, b"\x00\x03\x00\x1d\x00")]))
    assert hello.supported_groups == (0x001D,)


def test_non_ascii_sni_does_not_raise():
    hello = parse(client_hello(extensions=[sni_ext(b"caf\xc3\xa9.test")]))
    assert hello.sni is not None and hello.sni.startswith("caf")
    assert ja4(hello)[3] == "d"


# -- fuzzing -----------------------------------------------------------------------------------------------------

REAL_BODIES = [bytes.fromhex(v["client_hello_hex"]) for v in VECTORS]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(data):
    hello = parse_client_hello(data)
    assert hello is None or isinstance(hello, ClientHello)
    if hello is not None:
        assert_well_formed(hello)


@st.composite
def mutated_vectors(draw):
    body = bytearray(draw(st.sampled_from(REAL_BODIES)))
    for _ in range(draw(st.integers(0, 8))):
        position = draw(st.integers(0, len(body) - 1))
        body[position] ^= 1 << draw(st.integers(0, 7))
    if draw(st.booleans()):
        body = body[: draw(st.integers(0, len(body)))]
    return bytes(body)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_vectors())
def test_mutated_real_hellos_never_raise(body):
    hello = parse_client_hello(body)
    if hello is not None:
        assert_well_formed(hello)


@st.composite
def hello_fields(draw):
    not_grease = st.integers(0, 0xFFFF).filter(lambda v: not is_grease(v))
    ciphers = draw(st.lists(not_grease, max_size=120))
    sni = draw(st.none() | st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){0,3}", fullmatch=True))
    alpn = draw(st.none() | st.lists(st.binary(min_size=1, max_size=12), max_size=4))
    versions = draw(st.none() | st.lists(not_grease, min_size=1, max_size=5))
    groups = draw(st.lists(not_grease, max_size=8))
    sigalgs = draw(st.lists(not_grease, max_size=12))
    others = draw(st.lists(st.integers(0, 0xFFFF).filter(lambda v: v not in (0, 10, 11, 13, 16, 43)
                                                          and not is_grease(v)), max_size=110, unique=True))
    legacy = draw(st.sampled_from([0x0300, 0x0301, 0x0302, 0x0303]))
    return ciphers, sni, alpn, versions, groups, sigalgs, others, legacy


@settings(max_examples=200, deadline=None)
@given(hello_fields(), st.randoms(use_true_random=False))
def test_built_hellos_parse_back_and_fingerprint_consistently(fields, rnd):
    ciphers, sni, alpn, versions, groups, sigalgs, others, legacy = fields
    exts = [groups_ext(*groups), sigalgs_ext(*sigalgs)] + [ext(e) for e in others]
    if sni is not None:
        exts.append(sni_ext(sni))
    if alpn is not None:
        exts.append(alpn_ext(*alpn))
    if versions is not None:
        exts.append(versions_ext(*versions))
    rnd.shuffle(exts)
    hello = parse(client_hello(legacy_version=legacy, ciphers=ciphers, extensions=exts))
    assert not hello.truncated
    assert hello.cipher_suites == tuple(ciphers) and hello.sni == sni
    assert hello.alpn == tuple(a.decode("latin-1") for a in alpn or ())
    assert hello.supported_groups == tuple(groups) and hello.signature_algorithms == tuple(sigalgs)
    assert hello.versions == (tuple(versions) if versions else (legacy,))
    assert len(hello.extensions) == len(exts)
    assert_well_formed(hello)
    fingerprint = ja4(hello)
    assert int(fingerprint[4:6]) == min(99, len(ciphers)) and int(fingerprint[6:8]) == min(99, len(exts))
    assert fingerprint[3] == ("d" if sni is not None else "i")
    # Inserting GREASE values changes neither fingerprint.
    greased = parse(client_hello(legacy_version=legacy, ciphers=[0x7A7A, *ciphers],
                                 extensions=[ext(0xBABA), *exts, ext(0xCACA, b"\x00")]))
    assert (ja4(greased), ja4_r(greased), ja3_string(greased)) == (fingerprint, ja4_r(hello), ja3_string(hello))
