"""API responses must carry Cache-Control.

Enforces: a successful (2xx) response to a GET or HEAD request for the API -- a path under ``/api/``, or
a JSON response (``application/json`` or any ``+json`` type) -- carries a non-empty ``Cache-Control``.

Why: without it, every cache on the way decides alone. RFC 9111 lets browsers and shared caches store
such a response and reuse it for a heuristic lifetime (section 4.2.2), so one user's data can be served
stale, or to another user behind a shared cache. The API knows which of ``no-store``, ``private`` or
``public, max-age=N`` is right; it should say so. Only GET and HEAD are judged: a POST response is
reusable only with explicit freshness and a matching Content-Location (RFC 9110 section 9.3.3), and
responses to the other methods are not reusable at all.

Load: ``proxylens proxy -s examples/api_cache_control.py`` or ``--check examples.api_cache_control``.
"""

from proxy import Severity, analyzer, rule

MISSING = rule(
    "api.cache-control-missing", Severity.WARNING,
    "API responses must say how they may be cached (Cache-Control).",
    reference="https://www.rfc-editor.org/rfc/rfc9111#section-5.2",
    detail="Without `Cache-Control`, browsers and shared caches may store the response and reuse it for a "
           "heuristic lifetime (RFC 9111 section 4.2.2): stale data, or one user's data served to another. "
           "Send `Cache-Control: no-store` for personal or sensitive data, `private, no-cache` for per-user "
           "data that may be revalidated, `public, max-age=N` for shared data.",
)
CACHEABLE_METHODS = ("GET", "HEAD")


def media_type(content_type: str | None) -> str:
    """``application/json; charset=utf-8`` -> ``application/json`` (media types are case-insensitive)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_api(exchange) -> bool:
    mtype = media_type(exchange.response.headers.get("content-type"))
    return (exchange.request.path.startswith("/api/") or mtype == "application/json"
            or (mtype.endswith("+json") and "/" in mtype))


@analyzer("api_cache_control")
def api_cache_control(exchange):
    response = exchange.response
    if response is None or not 200 <= response.status <= 299 or exchange.request.method not in CACHEABLE_METHODS:
        return
    if (response.headers.get("cache-control") or "").strip() or not is_api(exchange):
        return  # an empty field carries no directive: it counts as missing
    path = exchange.request.path.split("?", 1)[0]  # never the query: it may carry tokens
    yield MISSING.finding(
        f"{response.status} response to {exchange.request.method} {path} without Cache-Control",
        subject="response.header.cache-control",
        evidence={"status": response.status, "content_type": response.headers.get("content-type"),
                  "expires": response.headers.get("expires")},
    )
