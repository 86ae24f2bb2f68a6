"""Turn captured body bytes into HAR ``content``/``postData`` text.

Runs in the analysis worker: content decoding (gzip, br, zstd, deflate) is
done here, never on the proxy's event loop.
"""

from __future__ import annotations

import base64
import io
import zlib
from dataclasses import dataclass

from mitmproxy.net import encoding

from .models import Body, Headers


@dataclass(frozen=True)
class BodyText:
    text: str | None  # None when not captured
    encoding: str | None  # "base64" for binary content
    size: int  # decoded size in bytes, best known
    cut: bool = False  # decoding stopped at the size limit


def charset_of(content_type: str | None) -> str | None:
    if not content_type:
        return None
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "charset" and value:
            return value.strip().strip('"')
    return None


def _decode(data: bytes, coding: str, limit: int | None) -> tuple[bytes, bool]:
    """Content-decode *data*, producing at most *limit* bytes (a 1 MB gzip
    body can inflate to 1 GB). Returns (bytes, cut)."""
    coding = coding.strip().lower()
    if coding in ("gzip", "x-gzip", "deflate"):
        wbits = 16 + zlib.MAX_WBITS if coding != "deflate" else zlib.MAX_WBITS
        try:
            d = zlib.decompressobj(wbits)
            out = d.decompress(data, limit or 0)
        except zlib.error:
            if coding != "deflate":
                raise ValueError("invalid gzip data") from None
            d = zlib.decompressobj(-zlib.MAX_WBITS)  # "deflate" sent raw, as some servers do
            try:
                out = d.decompress(data, limit or 0)
            except zlib.error as exc:
                raise ValueError(str(exc)) from None
        return out, bool(d.unconsumed_tail)
    if coding == "zstd":
        import zstandard

        try:
            with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)) as reader:
                out = reader.read(limit + 1 if limit else -1)
        except zstandard.ZstdError as exc:
            raise ValueError(str(exc)) from None
        return (out[:limit], True) if limit and len(out) > limit else (out, False)
    out = encoding.decode(data, coding)  # br and combinations: whole, then cut
    if not isinstance(out, bytes):
        # mitmproxy's decode also knows text codecs ("Content-Encoding: utf-8" gives a str): not a content coding
        raise ValueError(f"{coding!r} is not a content coding")
    return (out[:limit], True) if limit and len(out) > limit else (out, False)


def body_text(body: Body, headers: Headers, limit: int | None = None) -> BodyText:
    """HAR text for *body*; decoded content beyond *limit* bytes is cut."""
    if body.text is not None:  # read from a HAR file: already decoded
        size = body.decoded_size if body.decoded_size is not None else max(body.size, 0)
        return BodyText(body.text, body.text_encoding, size)
    if body.raw is None:
        return BodyText(None, None, body.decoded_size if body.decoded_size is not None else max(body.size, 0))
    data = body.raw
    cut = False
    coding = headers.get("content-encoding")
    if coding and coding.strip().lower() != "identity" and not body.truncated:
        try:
            data, cut = _decode(data, coding, limit)
        except (ValueError, NotImplementedError):
            pass  # keep the bytes as transferred; they are base64-encoded below
    size = len(data) if not (body.truncated or cut) else max(body.size, len(data))
    charset = charset_of(headers.get("content-type")) or "utf-8"
    try:
        text = data.decode(charset)
    except (ValueError, LookupError):  # undecodable, or a charset that is no text codec (idna, "undefined", NUL)
        if cut:  # the cut may have split a character
            try:
                return BodyText(data.decode(charset, "ignore"), None, size, cut)
            except (ValueError, LookupError):
                pass
        return BodyText(base64.b64encode(data).decode("ascii"), "base64", size, cut)
    return BodyText(text, None, size, cut)
