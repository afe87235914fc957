"""Rendering helpers: every page gets the language, its gettext and formatters.

A handler passes both its full page and its partial; an htmx request receives the
partial, any other request the page (which ``include``s the same partial).
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Template
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from starlevel.services import clock
from starlevel.web import i18n


def lang_of(request: Request[Any, Any, Any]) -> str:
    cached = request.scope.get("_starlevel_lang")
    if cached:
        return cached
    lang = i18n.negotiate(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language"))
    request.scope["_starlevel_lang"] = lang  # type: ignore[typeddict-unknown-key]
    return lang


def gettext(request: Request[Any, Any, Any]):  # type: ignore[no-untyped-def]
    return i18n.gettext_for(lang_of(request))


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


def _notices(request: Request[Any, Any, Any]) -> Any:
    """What waits for the signed-in user (counts in the navigation), computed on first use."""
    from starlevel.web.disputes import notices

    return notices(request)


def _pending_and_notices(request: Request[Any, Any, Any], session: Session) -> bool:
    from starlevel.web.disputes import figures_pending_with_notices

    return figures_pending_with_notices(request, session)


def figures_updating(request: Request[Any, Any, Any]) -> bool:
    """A signed-in page tells when deferred recomputes are still pending (figures may lag)."""
    alchemy = request.app.state.get("alchemy")
    if alchemy is None or request.scope.get("user") is None:
        return False
    # The request's own database session (the handler's, or a new one that the SQLAlchemy
    # plugin closes when the response starts): a page costs one connection, not two.
    session = alchemy.provide_session(request.app.state, request.scope)
    if session.is_active:
        try:
            return _pending_and_notices(request, session)
        except DBAPIError:
            pass  # the handler's transaction failed on the server; it is rolled back later
    with request.app.state["session_factory"]() as fresh:
        return _pending_and_notices(request, fresh)


def render(
    request: Request[Any, Any, Any],
    template: str,
    *,
    partial: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Template:
    lang = lang_of(request)
    ctx = i18n.template_globals(lang)
    ctx["user"] = request.scope.get("user")
    ctx["path"] = request.url.path
    ctx["query"] = str(request.url.query or "")
    ctx["current_month"] = clock.current_month()  # months from this one on are "in progress"
    ctx["nav_notices"] = lambda: _notices(request)
    ctx.update(context)
    name = partial if (partial and is_htmx(request)) else template
    if name == template:
        ctx["figures_updating"] = figures_updating(request)
    return Template(template_name=name, context=ctx, status_code=status_code, headers=headers or {})
