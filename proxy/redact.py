"""Secret redaction for HAR export.

HAR files get attached to bug reports and pasted into chats, so by default
they must not carry credentials. The HAR writer calls these functions on plain
strings just before writing; nothing here knows about mitmproxy or HAR
objects, and nothing here may raise: a redactor that crashes on odd input
would either break the export or tempt a caller into skipping redaction.

What is kept and what goes:

* a value is replaced by ``REDACTED`` when its *name* (query parameter, form
  field, JSON key, header, cookie) says it holds a secret -- see
  ``is_secret_name``. Names, ordering and everything else stay as they were,
  so the HAR is still useful for debugging;
* JWTs anywhere in text keep their header and payload (the claims are what
  one debugs) and lose their signature, which is what makes them replayable;
* empty values stay empty: there is nothing to hide, and "the password was
  blank" or "the cookie was deleted" is worth seeing.

Public API: ``REDACTED``, ``is_secret_name``, ``redact_header``,
``redact_jwts``, ``redact_url``, ``redact_query_pairs``,
``redact_cookie_pairs``, ``redact_body``.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from urllib.parse import unquote_plus

__all__ = [
    "REDACTED",
    "is_secret_name",
    "redact_body",
    "redact_cookie_pairs",
    "redact_header",
    "redact_jwts",
    "redact_query_pairs",
    "redact_text",
    "redact_url",
]

REDACTED = "[redacted]"

# --------------------------------------------------------------------------
# Secret names
#
# A name is split into lowercase parts at "-", "_", ".", any other
# non-alphanumeric character, camelCase humps and digit runs:
# "X-Amz-Security-Token" -> x amz security token, "sessionToken" -> session
# token, "APIKey" -> api key, "csrfmiddlewaretoken" -> one part.
#
# It is secret when a part is:
#   * one of the short words below, as the *whole* part: "key" matches in
#     "api_key" but not in "monkey" or "keyboard", "auth" not in "author",
#     "pass" not in "passage", "sid" not in "side";
#   * or ends with one of the long words below (plural allowed), which are
#     specific enough to match inside glued names: "accesstoken",
#     "clientsecret", "jsessionid", "phpsessid", "csrfmiddlewaretoken"
#     ("tokenizer" does not end with one); two neighbouring parts are also
#     tried glued, for "api_keys" and "pass_word".
# except that
#   * a last part that only *describes* a secret wins: "token_type",
#     "SignatureVersion", "signature_method", "token_type_hint";
#   * a few well-known names are not secrets although they look like them
#     (CORS, WebSocket handshake, idempotency and pagination keys).
# "code" alone is OAuth's authorization code; as a part it would hit
# "country_code" and "status_code", so only the whole name counts.
# --------------------------------------------------------------------------

_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")

_SHORT_SECRET = re.compile(
    r"auth|authorization|key|pass|pwd|session|sid|sig|csrf|xsrf|otp|totp"
)
_LONG_SECRET = re.compile(
    r"""[a-z0-9]*(?:
        token | secret | password | passwd | passphrase | passcode
        | signature | credential | sessionid | sessid
        | apikey | accesskey | secretkey | privatekey | authkey
    )s?""",
    re.VERBOSE,
)

_DESCRIBES_SECRET = {"type", "version", "method", "algorithm", "alg", "hint"}

# "cookie": a JSON echo of request headers ({"Cookie": "sid=..."}) carries cookie values.
_WHOLE_NAME_SECRETS = {"code", "devicecode", "cookie", "cookies", "setcookie"}

_NOT_SECRET = {
    "accesscontrolallowcredentials",
    "secwebsocketkey",
    "idempotencykey",
    "pagetoken",
    "nextpagetoken",
    "nexttoken",
    "continuationtoken",
}


@lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """True when a parameter, field, header or cookie named *name* holds a secret."""
    parts = [p.lower() for p in _PART.findall(name)]
    joined = "".join(parts)
    if joined in _WHOLE_NAME_SECRETS:
        return True
    if not parts or joined in _NOT_SECRET:
        return False
    if len(parts) > 1 and parts[-1] in _DESCRIBES_SECRET:
        return False
    return (
        any(_SHORT_SECRET.fullmatch(p) or _LONG_SECRET.fullmatch(p) for p in parts)
        # neighbours glued: "api_keys" -> "apikeys", "pass_word" -> "password"
        or any(_LONG_SECRET.fullmatch(a + b) for a, b in zip(parts, parts[1:]))
    )


# --------------------------------------------------------------------------
# JWTs
#
# A JWS is base64url(header).base64url(payload).base64url(signature), and a
# JSON header always encodes to "eyJ" ('{"'). Requiring that prefix, a
# header of at least 8 characters and a signature of at least 16 keeps
# version numbers and host names out. A JWE has five segments (with an empty
# second one for alg "dir"), so the payload may be empty and everything from
# the third segment on is dropped: it is a bearer credential too.
# --------------------------------------------------------------------------

_B64 = r"[A-Za-z0-9_-]"
_JWT = re.compile(
    rf"(?<!{_B64})(eyJ{_B64}{{5,}}\.{_B64}*\.){_B64}{{16,}}(?:\.{_B64}+)*(?!{_B64})"
)


def redact_jwts(text: str) -> str:
    """Replace the signature of every JWT in *text*, keeping header and claims."""
    if "eyJ" not in text:  # every JWT starts so (base64url of '{"'): most text is spared the regex scan
        return text
    return _JWT.sub(lambda m: m.group(1) + REDACTED, text)


# --------------------------------------------------------------------------
# Query strings, form bodies, URLs
# --------------------------------------------------------------------------


def _decoded(name: str) -> str:
    # unquote_plus raises on lone surrogates ("%41\ud800"); the raw name is
    # good enough to judge then.
    try:
        return unquote_plus(name)
    except (UnicodeError, ValueError):
        return name


def _redact_form(query: str) -> str:
    """Redact secret fields of an "a=1&b=2" string, leaving every other byte alone.

    Splitting by hand instead of parse_qsl/urlencode is what keeps untouched
    parameters byte-for-byte (no re-encoding, no reordering, no lost "&&").
    """
    pieces = query.split("&")
    for i, piece in enumerate(pieces):
        name, eq, value = piece.partition("=")
        if eq and value and is_secret_name(_decoded(name)):
            pieces[i] = name + "=" + REDACTED
    return "&".join(pieces)


# RFC 3986 section 3.2.1: userinfo = user ":" password, ended by the last "@"
# of the authority (the authority ends at the first "/", "?" or "#").
_USERINFO_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/?#@:]*:)([^/?#]*)@")

# Path parameters such as Java's ";jsessionid=..." (/cart;jsessionid=ABC).
_PATH_PARAM = re.compile(r";([^;/?#=]+)=([^;/?#]*)")


def redact_url(url: str) -> str:
    """Redact secret query (and fragment) parameters, the userinfo password and JWTs."""
    # JWTs first: the structural passes below then judge names exactly as a
    # second run would, which keeps redaction idempotent.
    url = _USERINFO_PASSWORD.sub(
        lambda m: m.group(1) + (REDACTED if m.group(2) else "") + "@", redact_jwts(url)
    )
    base, hash_, fragment = url.partition("#")
    path, qmark, query = base.partition("?")
    path = _PATH_PARAM.sub(
        lambda m: f";{m.group(1)}={REDACTED}"
        if m.group(2) and is_secret_name(_decoded(m.group(1)))
        else m.group(0),
        path,
    )
    # The OAuth implicit flow puts access_token in the fragment
    # ("#access_token=...", or "#/callback?access_token=..." with hash routing).
    # Only "name=value" pieces with secret names change, so this is a no-op on
    # ordinary fragments.
    fragment = "?".join(_redact_form(piece) for piece in fragment.split("?"))
    return path + qmark + _redact_form(query) + hash_ + fragment


def redact_query_pairs(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Redact decoded (name, value) pairs: HAR queryString and postData.params."""
    return [
        (name, REDACTED if value and is_secret_name(name) else redact_jwts(value))
        for name, value in pairs
    ]


# --------------------------------------------------------------------------
# Cookies and headers
# --------------------------------------------------------------------------


def redact_cookie_pairs(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Redact every cookie value: cookies are sessions until proven otherwise."""
    return [(name, REDACTED if value else value) for name, value in pairs]


def _redact_cookie_pair(piece: str) -> str:
    name, eq, value = piece.partition("=")
    if eq:
        return name + "=" + (REDACTED if value.strip() else value)
    # A nameless cookie ("Cookie: abc"): the whole piece is the value.
    if not piece.strip():
        return piece
    return piece[: len(piece) - len(piece.lstrip())] + REDACTED


# Credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]  (RFC 9110 11.4)
_AUTH_SCHEME = re.compile(r"\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)\s+\S")

# Headers whose value is a URL that may carry tokens (an OAuth redirect's
# Location holds ?code=..., a Referer the page's own query, HTTP/2's :path
# the request's).
_URL_HEADERS = {"location", "content-location", "referer", ":path"}


def redact_header(name: str, value: str) -> str:
    """The value of header *name* with its secrets redacted."""
    lname = name.strip().lower()
    if not value.strip():
        return value
    if lname in ("authorization", "proxy-authorization"):
        # Keep the scheme: "Bearer" vs "Basic" vs "AWS4-HMAC-SHA256" matters
        # when debugging; the credentials after it do not.
        m = _AUTH_SCHEME.match(value)
        return f"{m.group(1)} {REDACTED}" if m else REDACTED
    if lname == "cookie":
        return ";".join(_redact_cookie_pair(p) for p in value.split(";"))
    if lname == "set-cookie":
        # Only the first pair is the cookie; Path, Domain, Expires, Max-Age,
        # Secure, HttpOnly, SameSite... are attributes worth keeping.
        pair, semi, attributes = value.partition(";")
        return _redact_cookie_pair(pair) + semi + attributes
    if is_secret_name(name):
        return REDACTED
    if lname in _URL_HEADERS:
        return redact_url(value)
    return redact_jwts(value)


# --------------------------------------------------------------------------
# Bodies
# --------------------------------------------------------------------------


def _redact_json(data: object) -> bool:
    """Redact, in place, values of secret keys at any depth and JWTs in strings.

    Iterative, because a parsed document can be nested as deep as the
    recursion limit allowed json.loads to go. Returns whether anything changed.
    """
    changed = False
    # (container, whether it sits under a secret key)
    stack: list[tuple[object, bool]] = [(data, False)]
    while stack:
        container, secret = stack.pop()
        if isinstance(container, dict):
            # JWTs in keys too, and before the keys are judged, so that a
            # second run judges the same keys.
            if any(redact_jwts(k) != k for k in container):
                renamed = {redact_jwts(k): v for k, v in container.items()}
                container.clear()
                container.update(renamed)
                changed = True
            items = [(k, v, is_secret_name(k)) for k, v in container.items()]
        elif isinstance(container, list):
            # A list under a secret key ("api_keys": [...]) holds secrets too.
            items = [(i, v, secret) for i, v in enumerate(container)]
        else:
            continue
        for key, value, secret_value in items:
            if isinstance(value, (dict, list)):
                stack.append((value, secret_value))
                continue
            if secret_value and isinstance(value, (str, int, float)) and not isinstance(value, bool):
                # Numbers too: PINs and OTPs are often sent as numbers.
                new = value if value in ("", REDACTED) else REDACTED
            elif isinstance(value, str):
                # Decoded strings also catch JWTs hidden behind \u escapes;
                # URLs and paths with a query ("next": "/cb?code=...") keep
                # their names but lose secret values.
                new = redact_url(value) if "?" in value and "=" in value else redact_jwts(value)
            else:
                continue  # true/false/null, and numbers under ordinary keys
            if new != value:
                container[key] = new  # type: ignore[index]
                changed = True
    return changed


# "key": "string" or "key": number, for JSON that does not parse (cut at the
# capture limit, or not quite JSON): the members we can still recognize.
_JSON_MEMBER = re.compile(r'"((?:[^"\\]|\\.){1,200})"(\s*:\s*)("(?:[^"\\]|\\.)*"?|-?\d[\d.eE+-]*)')


def _redact_json_members(text: str) -> str:
    def member(m: re.Match[str]) -> str:
        if not is_secret_name(m.group(1)) or m.group(3) in ('""', f'"{REDACTED}"'):
            return m.group(0)
        return f'"{m.group(1)}"{m.group(2)}"{REDACTED}"'

    return _JSON_MEMBER.sub(member, text)


class _DuplicateKeys(ValueError):
    pass


def _without_duplicates(pairs: list[tuple[str, object]]) -> dict:
    # json.loads keeps only the last of duplicate keys (RFC 8259 section 4 leaves them undefined):
    # the document could not be written back without losing, or leaking, the others.
    if len({k for k, _ in pairs}) != len(pairs):
        raise _DuplicateKeys
    return dict(pairs)


def _redact_json_text(text: str) -> str:
    try:
        data = json.loads(text, object_pairs_hook=_without_duplicates)
        changed = _redact_json(data)
    except (ValueError, RecursionError):
        # Not JSON after all (or truncated at the capture limit): redact the
        # members that are still recognizable.
        return _redact_json_members(text)
    if not changed:
        return text  # keep the original formatting byte-for-byte
    try:
        return json.dumps(data, ensure_ascii=False)
    except (ValueError, RecursionError):
        # We know a secret is in there and cannot write the document without it.
        return REDACTED


_BOUNDARY = re.compile(r"""boundary=(?:"([^"]+)"|([^\s;]+))""", re.IGNORECASE)
_PART_HEADERS_END = re.compile(r"\r?\n\r?\n")
_FIELD_NAME = re.compile(r"""\bname="([^"]*)"|\bname=([^\s;]+)""", re.IGNORECASE)


def _redact_multipart(text: str, boundary: str) -> str:
    # Each part: "\r\n" headers "\r\n\r\n" value "\r\n" before the next
    # "--boundary". Only the value of a part whose field name is secret changes.
    delimiter = "--" + boundary
    parts = text.split(delimiter)
    for i, part in enumerate(parts[1:], start=1):
        end = _PART_HEADERS_END.search(part)
        if not end:
            continue
        field = _FIELD_NAME.search(part, 0, end.start())
        if not field or not is_secret_name(field.group(1) or field.group(2) or ""):
            continue
        body = part[end.end():]
        value = body.rstrip("\r\n")
        if value:
            parts[i] = part[: end.end()] + REDACTED + body[len(value):]
    return delimiter.join(parts)


_URL_IN_TEXT = re.compile(r"""\b(?:https?|wss?)://[^\s"'<>]+""", re.IGNORECASE)
# A relative reference with a query or fragment ("/callback?access_token=...", "?code=..." or
# "#access_token=..." in a Location header), where it starts a value or follows a space or quote.
_RELATIVE_IN_TEXT = re.compile(r"""(?:(?<=^)|(?<=[\s"'(=]))(?:/|\.\.?/)?[^\s"'<>:]*[?#][^\s"'<>]*=[^\s"'<>]*""")


def redact_text(text: str) -> str:
    """Free text (summaries, error messages, log lines): URLs anywhere in it, absolute or
    relative, lose their secret parameters, JWTs their signatures."""
    if "://" in text:
        text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    if "=" in text and ("?" in text or "#" in text):
        text = _RELATIVE_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    return redact_jwts(text)


def redact_body(text: str, mime_type: str) -> str:
    """Redact a request or response body of type *mime_type* (parameters allowed)."""
    mime = (mime_type or "").split(";", 1)[0].strip().lower()
    if mime.endswith("/json") or mime.endswith("+json"):
        # JWTs last here: re-serializing may turn "\u0065yJ..." into "eyJ...".
        return redact_jwts(_redact_json_text(text))
    # JWTs first elsewhere: field names are then judged as a second run would.
    text = redact_jwts(text)
    if mime == "application/x-www-form-urlencoded":
        return _redact_form(text)
    if mime == "multipart/form-data":
        m = _BOUNDARY.search(mime_type)
        if m:
            return _redact_multipart(text, m.group(1) or m.group(2))
    return text
