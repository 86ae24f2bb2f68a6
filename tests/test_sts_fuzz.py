"""Hypothesis over parse_sts (addons/sts_header.py): total on any text, and exact on well-formed
Strict-Transport-Security values written every way RFC 6797 section 6.1 allows."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from addons.sts_header import StsPolicy, parse_sts

KNOWN = {"max-age", "includesubdomains", "preload"}
TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# qdtext without '"' and '\' (those come escaped) and without ';' (see test_semicolon_in_a_quoted_value)
QDTEXT = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in '"\\;') + "\t"

ows = st.text(alphabet=" \t", max_size=2)
token = st.text(alphabet=TCHAR, min_size=1, max_size=12)
quoted = st.lists(st.one_of(st.sampled_from(QDTEXT), st.sampled_from(['\\"', "\\\\", "\\a"])), max_size=10).map(
    lambda parts: '"' + "".join(parts) + '"')


def check_invariants(policy: StsPolicy) -> None:
    if policy.valid:
        assert isinstance(policy.max_age, int) and policy.max_age >= 0
        assert policy.errors == ()
    else:
        assert policy.max_age is None
        assert policy.errors and all(isinstance(e, str) and e for e in policy.errors)
        assert not policy.include_subdomains and not policy.preload


@st.composite
def any_case(draw, name: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return "".join(c.upper() if flip else c.lower() for c, flip in zip(name, flips))


@st.composite
def directive(draw, name: str, value: str | None = None) -> str:
    written = draw(any_case(name))
    if value is None:
        return written
    return f"{written}{draw(ows)}={draw(ows)}{value}"


@st.composite
def unknown_directive(draw) -> str:
    name = draw(token.filter(lambda n: n.lower() not in KNOWN))
    value = draw(st.one_of(st.none(), token, quoted))
    return name if value is None else f"{name}{draw(ows)}={draw(ows)}{value}"


@st.composite
def well_formed(draw, age_value: str | None = None) -> tuple[str, int, bool, bool]:
    """A header browsers accept, with the max-age, includeSubDomains and preload it says
    (or, given *age_value*, the same header with that written as the max-age value)."""
    max_age = draw(st.integers(min_value=0, max_value=10**12))
    include_subdomains, preload = draw(st.booleans()), draw(st.booleans())
    if age_value is None:
        age_value = f'"{max_age}"' if draw(st.booleans()) else str(max_age)
    parts = [draw(directive("max-age", age_value))]
    if include_subdomains:
        parts.append(draw(directive("includeSubDomains")))
    if preload:
        parts.append(draw(directive("preload")))
    parts += draw(st.lists(unknown_directive(), max_size=3))
    parts += [""] * draw(st.integers(min_value=0, max_value=2))  # "[ directive ] *( ";" [ directive ] )"
    parts = draw(st.permutations(parts))
    text = ";".join(f"{draw(ows)}{p}{draw(ows)}" for p in parts)
    return text, max_age, include_subdomains, preload


# -- totality ---------------------------------------------------------------------------

@settings(max_examples=300)
@given(st.text(st.characters(blacklist_categories=["Cs"]), max_size=200))
def test_never_raises_on_arbitrary_text(value):
    check_invariants(parse_sts(value))


FRAGMENTS = ["max-age", "MAX-AGE", "includeSubDomains", "preload", "=", ";", ",", '"', "\\", " ", "\t", "0", "12",
             "-1", "x", "\u00e9", "=\"", "\";"]


@settings(max_examples=300)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=20).map("".join))
def test_never_raises_on_near_misses(value):
    check_invariants(parse_sts(value))


# -- well-formed headers ------------------------------------------------------------------

@settings(max_examples=300)
@given(well_formed())
def test_well_formed_headers_are_read_exactly(case):
    text, max_age, include_subdomains, preload = case
    policy = parse_sts(text)
    assert policy.valid, (text, policy.errors)
    assert (policy.max_age, policy.include_subdomains, policy.preload) == (max_age, include_subdomains, preload)
    check_invariants(policy)


@settings(max_examples=200)
@given(well_formed(), st.sampled_from(["max-age", "includeSubDomains"]), st.data())
def test_a_repeated_max_age_or_include_subdomains_is_invalid(case, name, data):
    text, max_age, include_subdomains, _ = case
    extra = data.draw(directive(name, str(max_age) if name == "max-age" else None))
    if name == "includeSubDomains" and not include_subdomains:
        text = f"{text}; {data.draw(directive(name))}"  # make sure the repeat is a repeat
    at_start = data.draw(st.booleans())
    policy = parse_sts(f"{extra}; {text}" if at_start else f"{text}; {extra}")
    assert not policy.valid
    assert any("more than once" in e for e in policy.errors), policy.errors
    check_invariants(policy)


BAD_MAX_AGES = ["-1", "+5", "1.5", "0x10", "", '""', '" 5"', "1e3", "ten", '"5', "5 6", "\u0663", '"\u0663"']


@settings(max_examples=200)
@given(st.sampled_from(BAD_MAX_AGES).flatmap(well_formed))
def test_a_bad_max_age_value_is_invalid(case):
    text = case[0]
    policy = parse_sts(text)
    assert not policy.valid, text
    check_invariants(policy)


# -- examples ------------------------------------------------------------------------------

@pytest.mark.parametrize("value, max_age, include_subdomains, preload", [
    ("max-age=31536000; includeSubDomains; preload", 31536000, True, True),
    ('  MAX-AGE = "0" ;; INCLUDESUBDOMAINS ;', 0, True, False),
    ('preload; ext="x\\"y"; max-age=10', 10, False, True),
])
def test_examples(value, max_age, include_subdomains, preload):
    policy = parse_sts(value)
    assert (policy.valid, policy.max_age, policy.include_subdomains, policy.preload) == (
        True, max_age, include_subdomains, preload)


def test_a_max_age_of_5000_digits_does_not_raise():
    policy = parse_sts("max-age=" + "9" * 5000)
    assert policy.valid and policy.max_age is not None and policy.max_age > 10**9


@pytest.mark.parametrize("value", ['max-age=5; ext="a;b"', 'ext=";"; max-age=5', 'max-age=5; ext="\\;"'])
def test_semicolon_in_a_quoted_value(value):
    policy = parse_sts(value)
    assert policy.valid and policy.max_age == 5 and policy.unknown == ("ext",)


@pytest.mark.parametrize("value", ["max-age=5\u00a0", "max-age=5\x0b", "\x1cmax-age=5", "max-age=5;\u2003preload"])
def test_only_space_and_tab_are_whitespace(value):
    assert not parse_sts(value).valid
