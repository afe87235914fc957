"""Security headers on every response (pages, partials, static files, errors)."""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

# Scripts, styles and everything else only from this site: no inline scripts, no eval (htmx
# is configured in base.html's <meta name="htmx-config">), and no framing by anyone.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
# The API reference at /schema is Litestar's page, which loads its viewer from a CDN with an
# inline script: it may not be framed, but keeps its own sources.
SCHEMA_POLICY = "frame-ancestors 'none'; object-src 'none'; base-uri 'none'"

COMMON = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


async def add_security_headers(message: Message, scope: Scope) -> None:
    """A ``before_send`` hook: runs for every response, including errors raised by middleware."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in COMMON.items():
        headers[name] = value
    path = scope.get("path", "")
    headers["Content-Security-Policy"] = SCHEMA_POLICY if path.startswith("/schema") else CONTENT_SECURITY_POLICY
