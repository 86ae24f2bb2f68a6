"""Tests for proxy.redact: secrets must not reach HAR files."""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.redact import (
    REDACTED,
    is_secret_name,
    redact_body,
    redact_cookie_pairs,
    redact_header,
    redact_jwts,
    redact_query_pairs,
    redact_text,
    redact_url,
)

# The example token from jwt.io (HS256, claims sub/name/iat).
JWT_HEAD = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
JWT_BODY = "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
JWT_SIG = "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
JWT = f"{JWT_HEAD}.{JWT_BODY}.{JWT_SIG}"
JWT_REDACTED = f"{JWT_HEAD}.{JWT_BODY}.{REDACTED}"

# ---------------------------------------------------------------------------
# is_secret_name
# ---------------------------------------------------------------------------

SECRET_NAMES = [
    "token", "access_token", "id_token", "refresh_token", "auth", "authorization",
    "api_key", "apikey", "api-key", "x-api-key", "X-API-Key", "key", "secret",
    "client_secret", "password", "passwd", "pwd", "pass", "session", "sessionid",
    "session_id", "sid", "jsessionid", "JSESSIONID", "PHPSESSID", "csrf", "xsrf",
    "csrf_token", "XSRF-TOKEN", "_csrf", "csrfmiddlewaretoken", "authenticity_token",
    "signature", "sig", "X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token",
    "X-Goog-Signature", "X-Goog-Credential", "credential", "credentials", "code",
    "otp", "private_key", "X-Auth-Token", "X-CSRF-Token", "Proxy-Authorization",
    # camelCase and glued forms
    "sessionToken", "accessToken", "APIKey", "apiKey", "clientSecret", "authToken",
    "accesstoken", "secret_access_key", "aws_secret_access_key", "ASP.NET_SessionId",
    "Ocp-Apim-Subscription-Key", "x-goog-api-key", "new_password", "password_confirmation",
    "device_code", "auth_code", "authorization_code", "oauth_signature", "tokens",
    "api_keys", "pass_word", "session_ids", "privateKeys",
]

NOT_SECRET_NAMES = [
    "author", "authors", "keyboard", "monkey", "passage", "passenger", "bypass",
    "tokenizer", "side", "sidebar", "signal", "sigma", "keyword", "codec",
    "country_code", "status_code", "zip_code", "state", "redirect_uri", "client_id",
    "response_type", "scope", "nonce", "grant_type", "token_type", "token_type_hint",
    "SignatureVersion", "SignatureMethod", "X-Amz-Algorithm", "X-Amz-Date",
    "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Goog-Date", "Content-Type",
    "User-Agent", "Accept", "WWW-Authenticate", "Proxy-Authenticate",
    "Access-Control-Allow-Credentials", "Sec-WebSocket-Key", "Idempotency-Key",
    "pageToken", "next_page_token", "limit", "q", "id", "user", "username", "email",
    "", "-", "__", "日本語",
]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", NOT_SECRET_NAMES)
def test_not_secret_names(name: str) -> None:
    assert not is_secret_name(name)


# ---------------------------------------------------------------------------
# redact_jwts
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (JWT, JWT_REDACTED),
        (f"Bearer {JWT}", f"Bearer {JWT_REDACTED}"),
        (f'{{"id_token":"{JWT}"}}', f'{{"id_token":"{JWT_REDACTED}"}}'),
        (f"a {JWT}, b {JWT}.", f"a {JWT_REDACTED}, b {JWT_REDACTED}."),
        (f"https://x.test/cb#id_token={JWT}&state=1", f"https://x.test/cb#id_token={JWT_REDACTED}&state=1"),
        # JWE (five segments; alg "dir" leaves the second one empty): everything
        # after the second dot goes.
        (
            "eyJhbGciOiJkaXIiLCJlbmMiOiJBMTI4R0NNIn0..48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6ji.XFBoMYUZodetZdvTiFvSkQ",
            f"eyJhbGciOiJkaXIiLCJlbmMiOiJBMTI4R0NNIn0..{REDACTED}",
        ),
    ],
)
def test_redact_jwts(text: str, expected: str) -> None:
    assert redact_jwts(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "1.2.3",
        "3.11.7",
        "192.168.0.1",
        "www.example.com",
        "api.v2.eu-west-1.amazonaws.com",
        "john.doe@example.com",
        "com.example.app.MainActivity",
        "a.b.c",
        "eyJ.eyJ.abc",  # prefix alone is not enough
        f"{JWT_HEAD}.{JWT_BODY}.short",  # signature too short to be one
        f"x{JWT}",  # "eyJ" in the middle of a longer token
        "eyJhbGciOiJIUzI1NiJ9 . payload . signature-signature",
        "",
    ],
)
def test_redact_jwts_leaves_non_jwts(text: str) -> None:
    assert redact_jwts(text) == text


# ---------------------------------------------------------------------------
# redact_url
# ---------------------------------------------------------------------------

URL_CASES = [
    # OAuth authorization-code callback (RFC 6749 section 4.1.2)
    (
        "https://client.example.com/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz",
        f"https://client.example.com/cb?code={REDACTED}&state=xyz",
    ),
    # Implicit flow puts the token in the fragment (RFC 6749 section 4.2.2)
    (
        "http://example.com/cb#access_token=2YotnFZFEjr1zCsicMWpAA&state=xyz&token_type=example&expires_in=3600",
        f"http://example.com/cb#access_token={REDACTED}&state=xyz&token_type=example&expires_in=3600",
    ),
    # ...also with SPA hash routing
    (
        "https://app.example.com/#/callback?access_token=abc&expires_in=3600",
        f"https://app.example.com/#/callback?access_token={REDACTED}&expires_in=3600",
    ),
    # AWS S3 presigned URL (from the AWS SigV4 documentation)
    (
        "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
        "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential={REDACTED}"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        f"&X-Amz-Signature={REDACTED}",
    ),
    # ...with temporary credentials
    (
        "https://b.s3.us-east-1.amazonaws.com/k?X-Amz-Security-Token=IQoJb3JpZ2luX2VjEJr%2F%2F%2F&X-Amz-Expires=60",
        f"https://b.s3.us-east-1.amazonaws.com/k?X-Amz-Security-Token={REDACTED}&X-Amz-Expires=60",
    ),
    # GCS V4 signed URL
    (
        "https://storage.googleapis.com/b/o.png?X-Goog-Algorithm=GOOG4-RSA-SHA256"
        "&X-Goog-Credential=svc%40proj.iam.gserviceaccount.com%2F20240101%2Fauto%2Fstorage%2Fgoog4_request"
        "&X-Goog-Date=20240101T000000Z&X-Goog-Expires=900&X-Goog-SignedHeaders=host&X-Goog-Signature=0a1b2c",
        "https://storage.googleapis.com/b/o.png?X-Goog-Algorithm=GOOG4-RSA-SHA256"
        f"&X-Goog-Credential={REDACTED}"
        f"&X-Goog-Date=20240101T000000Z&X-Goog-Expires=900&X-Goog-SignedHeaders=host&X-Goog-Signature={REDACTED}",
    ),
    # Azure SAS
    (
        "https://acct.blob.core.windows.net/c/f.txt?sv=2021-06-08&sp=r&se=2024-01-01T00:00:00Z&sig=abc%2Bdef%3D",
        f"https://acct.blob.core.windows.net/c/f.txt?sv=2021-06-08&sp=r&se=2024-01-01T00:00:00Z&sig={REDACTED}",
    ),
    # Stripe-style API key in the query, untouched params keep their encoding
    (
        "https://api.example.com/v1/charges?limit=3&api_key=sk_test_4eC39HqLyjWDarjtT1zdp7dc&q=a+b%20c",
        f"https://api.example.com/v1/charges?limit=3&api_key={REDACTED}&q=a+b%20c",
    ),
    # Percent-encoded and plus-encoded names are judged decoded
    ("https://x.test/?access%5Ftoken=abc&a=1", f"https://x.test/?access%5Ftoken={REDACTED}&a=1"),
    # Userinfo password
    ("https://user:pass@host.example/path?x=1", f"https://user:{REDACTED}@host.example/path?x=1"),
    ("ftp://anon:p@ss@ftp.example/", f"ftp://anon:{REDACTED}@ftp.example/"),
    ("https://user@host.example/", "https://user@host.example/"),
    ("https://user:@host.example/", "https://user:@host.example/"),
    # Java path parameters
    ("https://shop.test/cart;jsessionid=0AAB6C8DE415?item=1", f"https://shop.test/cart;jsessionid={REDACTED}?item=1"),
    # JWT anywhere (path, non-secret param)
    (f"https://x.test/verify/{JWT}", f"https://x.test/verify/{JWT_REDACTED}"),
    (f"https://x.test/?assertion={JWT}&id_token={JWT}", f"https://x.test/?assertion={JWT_REDACTED}&id_token={REDACTED}"),
    # Empty and valueless params are kept as they are
    ("https://x.test/?token=&password&a=1&&b", "https://x.test/?token=&password&a=1&&b"),
    # Relative URLs
    ("/login?password=hunter2&next=/home", f"/login?password={REDACTED}&next=/home"),
]


@pytest.mark.parametrize(("url", "expected"), URL_CASES)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com",
        "https://example.com/",
        "https://example.com:8443/a/b.c/1.2.3/index.html",
        "https://example.com/search?q=keyboard&author=me&country_code=de&page=2",
        "https://example.com/?token_type=bearer&state=xyz&redirect_uri=https%3A%2F%2Fa.test%2Fcb",
        "https://example.com/docs#section-2.1",
        "https://[::1]:8080/path?x=1",
        "http://host:8080/p@th?a=b@c",
        "",
    ],
)
def test_redact_url_leaves_non_secret_urls(url: str) -> None:
    assert redact_url(url) == url


# ---------------------------------------------------------------------------
# Pairs
# ---------------------------------------------------------------------------


def test_redact_query_pairs() -> None:
    pairs = [
        ("code", "SplxlOBeZQQYbYS6WxSbIA"),
        ("state", "xyz"),
        ("client_secret", "s3cr3t"),
        ("password", ""),
        ("assertion", JWT),
        ("q", "a b"),
        ("q", "a b"),
    ]
    assert redact_query_pairs(pairs) == [
        ("code", REDACTED),
        ("state", "xyz"),
        ("client_secret", REDACTED),
        ("password", ""),
        ("assertion", JWT_REDACTED),
        ("q", "a b"),
        ("q", "a b"),
    ]
    assert redact_query_pairs([]) == []


def test_redact_cookie_pairs() -> None:
    pairs = [("SID", "31d4d96e407aad42"), ("lang", "en-US"), ("empty", "")]
    assert redact_cookie_pairs(pairs) == [("SID", REDACTED), ("lang", REDACTED), ("empty", "")]


# ---------------------------------------------------------------------------
# redact_header
# ---------------------------------------------------------------------------

HEADER_CASES = [
    # Authorization keeps the scheme
    ("Authorization", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", f"Basic {REDACTED}"),
    ("authorization", f"Bearer {JWT}", f"Bearer {REDACTED}"),
    ("Authorization", "Bearer sk_test_4eC39HqLyjWDarjtT1zdp7dc", f"Bearer {REDACTED}"),
    ("Authorization", "token ghp_16C7e42F292c6912E7710c838347Ae178B4a", f"token {REDACTED}"),
    (
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
        f"AWS4-HMAC-SHA256 {REDACTED}",
    ),
    ("Authorization", 'Digest username="Mufasa", realm="x", response="6629fae4"', f"Digest {REDACTED}"),
    ("Authorization", "sk_live_no_scheme", REDACTED),
    ("Proxy-Authorization", "Basic dXNlcjpwYXNz", f"Basic {REDACTED}"),
    # Cookie keeps names
    ("Cookie", "SID=31d4d96e407aad42; lang=en-US", f"SID={REDACTED}; lang={REDACTED}"),
    ("cookie", "a=1;b=2; c=", f"a={REDACTED};b={REDACTED}; c="),
    ("Cookie", "nameless", REDACTED),
    # Set-Cookie keeps name and attributes
    (
        "Set-Cookie",
        "SID=31d4d96e407aad42; Path=/; Domain=example.com; Expires=Wed, 09 Jun 2021 10:18:14 GMT; "
        "Max-Age=3600; Secure; HttpOnly; SameSite=Lax",
        f"SID={REDACTED}; Path=/; Domain=example.com; Expires=Wed, 09 Jun 2021 10:18:14 GMT; "
        "Max-Age=3600; Secure; HttpOnly; SameSite=Lax",
    ),
    ("Set-Cookie", "__Host-session=abc", f"__Host-session={REDACTED}"),
    ("Set-Cookie", "SID=; Max-Age=0; Path=/", "SID=; Max-Age=0; Path=/"),  # a deletion stays visible
    # Secret-named headers
    ("X-Api-Key", "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe", REDACTED),
    ("X-Auth-Token", "abc", REDACTED),
    ("X-CSRF-Token", "i8XNjC4b8KVok4uw5RftR38Wgp2BFwql", REDACTED),
    ("X-Amz-Security-Token", "IQoJb3JpZ2luX2VjEJr", REDACTED),
    ("Ocp-Apim-Subscription-Key", "0123456789abcdef", REDACTED),
    # URL-valued headers
    ("Location", "https://client.example.com/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz",
     f"https://client.example.com/cb?code={REDACTED}&state=xyz"),
    ("Referer", "https://app.test/reset?token=abc", f"https://app.test/reset?token={REDACTED}"),
    (":path", "/api?key=AIzaSy&q=1", f"/api?key={REDACTED}&q=1"),
    # Everything else: JWT signatures only
    ("X-Id-Token-Hint", "plain", "plain"),
    ("X-Forwarded-User-Jwt", JWT, JWT_REDACTED),
    ("Content-Type", "application/json; charset=utf-8", "application/json; charset=utf-8"),
    ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0.6099.109", "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0.6099.109"),
    ("Host", "api.v2.example.com", "api.v2.example.com"),
    ("Access-Control-Allow-Credentials", "true", "true"),
    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("WWW-Authenticate", 'Bearer realm="example", error="invalid_token"', 'Bearer realm="example", error="invalid_token"'),
    # Empty values stay empty
    ("Authorization", "", ""),
    ("X-Api-Key", "", ""),
]


@pytest.mark.parametrize(("name", "value", "expected"), HEADER_CASES)
def test_redact_header(name: str, value: str, expected: str) -> None:
    assert redact_header(name, value) == expected


# ---------------------------------------------------------------------------
# redact_body
# ---------------------------------------------------------------------------


def test_form_body() -> None:
    body = "grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA&redirect_uri=https%3A%2F%2Fclient%2Eexample%2Ecom%2Fcb&client_secret=abc+def"
    assert redact_body(body, "application/x-www-form-urlencoded; charset=UTF-8") == (
        f"grant_type=authorization_code&code={REDACTED}"
        f"&redirect_uri=https%3A%2F%2Fclient%2Eexample%2Ecom%2Fcb&client_secret={REDACTED}"
    )
    login = "username=bob&password=hunter2&remember=on"
    assert redact_body(login, "application/x-www-form-urlencoded") == f"username=bob&password={REDACTED}&remember=on"
    plain = "q=keyboard&author=me&page=2"
    assert redact_body(plain, "application/x-www-form-urlencoded") == plain


def test_json_body() -> None:
    body = json.dumps(
        {
            "access_token": "2YotnFZFEjr1zCsicMWpAA",
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": "tGzv3JOkF0XG5Qx2TlKWIA",
            "id_token": JWT,
            "user": {"name": "bob", "pin": 1234, "credentials": {"password": "x", "otp": 123456}},
            "api_keys": ["k1", "k2"],
            "mfa_enabled": True,
            "session": None,
            "note": f"see {JWT}",
        }
    )
    out = json.loads(redact_body(body, "application/json"))
    assert out == {
        "access_token": REDACTED,
        "token_type": "Bearer",
        "expires_in": 3600,
        "refresh_token": REDACTED,
        "id_token": REDACTED,
        "user": {"name": "bob", "pin": 1234, "credentials": {"password": REDACTED, "otp": REDACTED}},
        "api_keys": [REDACTED, REDACTED],
        "mfa_enabled": True,
        "session": None,
        "note": f"see {JWT_REDACTED}",
    }


@pytest.mark.parametrize(
    "mime",
    ["application/json", "application/json; charset=utf-8", "application/vnd.api+json", "application/problem+json", "text/json"],
)
def test_json_mime_types(mime: str) -> None:
    assert json.loads(redact_body('[{"client_secret": "s"}]', mime)) == [{"client_secret": REDACTED}]


def test_json_unchanged_keeps_formatting() -> None:
    body = '{\n  "a": 1,\n  "author": "me",\n  "keyboard": "us"\n}\n'
    assert redact_body(body, "application/json") == body


def test_json_escaped_jwt() -> None:
    escaped = "\\u0065" + JWT[1:]  # "\u0065yJ..." decodes to the JWT
    assert json.loads(redact_body(f'{{"t": "{escaped}"}}', "application/json")) == {"t": JWT_REDACTED}


def test_broken_json_still_loses_recognizable_secrets() -> None:
    body = f'{{"password": "hunter2", "t": "{JWT}", "access_token": "abc'  # cut at the capture limit
    assert redact_body(body, "application/json") == (
        f'{{"password": "[redacted]", "t": "{JWT_REDACTED}", "access_token": "[redacted]"'
    )


def test_redact_text_finds_urls_and_jwts_anywhere() -> None:


    text = f"loop at https://a.test/cb?code=SEKRIT&state=ok (token {JWT}) and http://b.test/?page=2"
    assert redact_text(text) == (
        f"loop at https://a.test/cb?code=[redacted]&state=ok (token {JWT_REDACTED}) and http://b.test/?page=2"
    )


def test_deep_json_never_raises() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    assert redact_body(deep, "application/json") == deep
    nested = '{"a":' * 500 + '{"password": "hunter2"}' + "}" * 500
    out = redact_body(nested, "application/json")
    assert "hunter2" not in out and REDACTED in out


def test_multipart_body() -> None:
    body = (
        "--XyZ\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nbob\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nhunter2\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"key.png\"\r\n"
        "Content-Type: image/png\r\n\r\nPNG...\r\n--XyZ--\r\n"
    )
    assert redact_body(body, 'multipart/form-data; boundary="XyZ"') == body.replace("hunter2", REDACTED)


@pytest.mark.parametrize("mime", ["text/plain", "text/html", "", "application/octet-stream"])
def test_other_bodies_only_lose_jwt_signatures(mime: str) -> None:
    body = f"password=hunter2 <script>var t = '{JWT}';</script> v1.2.3"
    assert redact_body(body, mime) == f"password=hunter2 <script>var t = '{JWT_REDACTED}';</script> v1.2.3"


def test_huge_body() -> None:
    body = "a." * 1_000_000 + "eyJ" * 100_000
    assert redact_body(body, "text/plain") == body
    assert redact_body(body, "application/json") == body
    assert redact_body(body, "application/x-www-form-urlencoded") == body


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

MIME_TYPES = st.sampled_from(
    [
        "application/json",
        "application/ld+json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=b",
        "multipart/form-data",
        "text/plain",
        "",
    ]
) | st.text()

# Text rich in the characters the redactors care about, plus anything at all.
INTERESTING = (
    st.lists(
        st.sampled_from(
            list("=&?#;:@/.,\"'{}[] \r\n%+-_eyJ\ud800")
            + ["token", "password", "code", "Bearer ", JWT, JWT_HEAD + ".", "--b", 'name="pwd"', "\r\n\r\n"]
        )
    ).map("".join)
    | st.text()
)

pairs = st.lists(st.tuples(st.text(), st.text()))


@settings(max_examples=300)
@given(INTERESTING, INTERESTING, MIME_TYPES)
def test_total_and_idempotent(a: str, b: str, mime: str) -> None:
    for f in (is_secret_name, redact_jwts, redact_url):
        f(a)
    once = [redact_jwts(a), redact_url(a), redact_header(a, b), redact_body(a, mime)]
    twice = [redact_jwts(once[0]), redact_url(once[1]), redact_header(a, once[2]), redact_body(once[3], mime)]
    assert once == twice


@given(INTERESTING)
def test_json_bodies_idempotent(text: str) -> None:
    body = json.dumps({text: text, "password": text, "x": [text, {"token": text}]})
    once = redact_body(body, "application/json")
    assert redact_body(once, "application/json") == once


@given(pairs)
def test_pairs_total_and_idempotent(ps: list[tuple[str, str]]) -> None:
    once = redact_query_pairs(ps)
    assert redact_query_pairs(once) == once
    assert [n for n, _ in once] == [n for n, _ in ps]
    assert redact_cookie_pairs(redact_cookie_pairs(ps)) == redact_cookie_pairs(ps)


# Ordinary names and values: lowercase words that are not secret names, values
# that cannot contain a JWT (no uppercase "J").
plain_name = st.text(alphabet=string.ascii_lowercase + "_-.", min_size=1, max_size=12).filter(
    lambda n: not is_secret_name(n)
)
plain_value = st.text(alphabet=string.ascii_lowercase + string.digits + "%+-._~/:", max_size=20)
plain_query = st.lists(
    st.tuples(plain_name, st.sampled_from(["=", ""]), plain_value).map(lambda t: "".join(t)), max_size=6
).map("&".join)
host = st.from_regex(r"[a-z][a-z0-9]{0,10}(\.[a-z][a-z0-9]{0,10}){0,3}", fullmatch=True)
path = st.from_regex(r"(/[a-z0-9._~-]{0,8}){0,4}", fullmatch=True)


@given(host, path, plain_query, plain_query)
def test_non_secret_urls_unchanged(h: str, p: str, q: str, frag: str) -> None:
    url = f"https://{h}{p}?{q}#{frag}"
    assert redact_url(url) == url
    assert redact_body(q, "application/x-www-form-urlencoded") == q


# Secrets use an alphabet (uppercase) that nothing else in the URL uses, so
# "the secret is not in the output" is a precise check.
secret_value = st.text(alphabet=string.ascii_uppercase, min_size=1, max_size=20)
secret_name = st.sampled_from([n.lower() for n in SECRET_NAMES])


@given(
    host,
    path,
    plain_query,
    st.lists(st.tuples(secret_name, secret_value), min_size=1, max_size=4),
    st.randoms(use_true_random=False),
    secret_value,
)
def test_secret_values_never_survive(h, p, q, secrets, rnd, password) -> None:
    pieces = [s for s in q.split("&") if s] + [f"{n}={v}" for n, v in secrets]
    rnd.shuffle(pieces)
    query = "&".join(pieces)
    url = f"https://user:{password}@{h}{p};jsessionid={password}?{query}#{query}"
    out = redact_url(url)
    for _, value in secrets:
        assert value not in out
    assert password not in out
    assert not any(c.isupper() for c in out)
    assert not any(c.isupper() for c in redact_body(query, "application/x-www-form-urlencoded"))
    body = json.dumps({"data": [{n: v} for n, v in secrets], "q": q})
    assert not any(c.isupper() for c in redact_body(body, "application/json"))


b64 = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1, max_size=40)


@given(b64, st.text(alphabet=string.ascii_letters + string.digits + "-_", max_size=40), b64, b64)
def test_any_jwt_signature_is_removed(h: str, payload: str, s1: str, s2: str) -> None:
    header = "eyJ" + h.ljust(5, "A")
    signature = (s1 + s2).ljust(16, "x")
    text = f'Bearer {header}.{payload}.{signature} and "{header}.{payload}.{signature}"'
    assert redact_jwts(text) == f'Bearer {header}.{payload}.{REDACTED} and "{header}.{payload}.{REDACTED}"'


# Letters that none of the fixed parts below contain.
header_secret = st.text(alphabet="QXZ", min_size=1, max_size=20)


@given(header_secret, header_secret, st.sampled_from(["Basic", "Bearer", "Digest", "token"]))
def test_secret_header_values_never_survive(a: str, b: str, scheme: str) -> None:
    outs = [
        redact_header("Authorization", f"{scheme} {a}"),
        redact_header("proxy-authorization", a),
        redact_header("Cookie", f"sid={a}; theme={b}"),
        redact_header("Set-Cookie", f"sid={a}; Path=/; Max-Age=60; HttpOnly"),
        redact_header("x-api-key", a),
        redact_header("location", f"https://x.test/cb?code={a}&state=s"),
    ]
    for out in outs:
        assert a not in out and b not in out, out


@pytest.mark.parametrize("text, expected", [
    ("/callback?access_token=abc123&x=1", "/callback?access_token=[redacted]&x=1"),
    ("Location /cb?code=1&token=sekrit is relative", "Location /cb?code=[redacted]&token=[redacted] is relative"),
    ('redirect to "?id_token=zzz"', 'redirect to "?id_token=[redacted]"'),
    ("#access_token=abc", "#access_token=[redacted]"),
    ("../x?password=p", "../x?password=[redacted]"),
    ("ratio=1?no", "ratio=1?no"),
    ("plain text a=b", "plain text a=b"),
])
def test_relative_references_in_free_text_lose_their_secrets(text, expected):
    """A relative Location quoted in a finding's summary or evidence leaked its token."""
    assert redact_text(text) == expected
    assert redact_text(expected) == expected  # idempotent
