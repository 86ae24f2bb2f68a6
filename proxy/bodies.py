"""Turn captured body bytes into HAR ``content``/``postData`` text.

Runs in the analysis worker: content decoding (gzip, br, zstd, deflate) is
done here, never on the proxy's event loop.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from mitmproxy.net import encoding

from .models import Body, Headers


@dataclass(frozen=True)
class BodyText:
    text: str | None  # None when not captured
    encoding: str | None  # "base64" for binary content
    size: int  # decoded size in bytes, best known


def charset_of(content_type: str | None) -> str | None:
    if not content_type:
        return None
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "charset" and value:
            return value.strip().strip('"')
    return None


def body_text(body: Body, headers: Headers) -> BodyText:
    if body.text is not None:  # read from a HAR file: already decoded
        size = body.decoded_size if body.decoded_size is not None else max(body.size, 0)
        return BodyText(body.text, body.text_encoding, size)
    if body.raw is None:
        return BodyText(None, None, body.decoded_size if body.decoded_size is not None else max(body.size, 0))
    data = body.raw
    coding = headers.get("content-encoding")
    if coding and not body.truncated:
        try:
            data = encoding.decode(data, coding.strip().lower())
        except (ValueError, NotImplementedError):
            pass  # keep the bytes as transferred; they are base64-encoded below
    size = len(data) if not body.truncated else max(body.size, len(data))
    charset = charset_of(headers.get("content-type")) or "utf-8"
    try:
        return BodyText(data.decode(charset), None, size)
    except (UnicodeDecodeError, LookupError):
        return BodyText(base64.b64encode(data).decode("ascii"), "base64", size)
