"""The Litestar application factory."""

from __future__ import annotations

from functools import partial
from typing import Any

from litestar import Litestar, Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.exceptions import (
    NotAuthorizedException, NotFoundException, PermissionDeniedException, ValidationException,
)
from litestar.openapi.config import OpenAPIConfig
from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin, SQLAlchemySyncConfig, SyncSessionConfig
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.security.session_auth import SessionAuth
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from starlevel.db.engine import make_autocommit_session_factory, make_engine, make_session_factory
from starlevel.paths import static_dir, templates_dir
from starlevel.plugins import StarLevelCLIPlugin
from starlevel.settings import Settings
from starlevel.web import routes
from starlevel.web.auth import csrf_bound_to_session, keep_csrf_cookie_bound, retrieve_user
from starlevel.web.background import RecomputeWorker
from starlevel.web.headers import add_security_headers
from starlevel.web.render import is_htmx, render
from starlevel.web.request import StarLevelRequest, refuse_nul_characters
from starlevel.web.store import (
    DatabaseStore, RotatingSessionBackend, RotatingSessionConfig, prepare_sessions_database, sessions_engine_url,
)

SESSION_MAX_AGE = 12 * 3600
# Paths reachable without signing in.
PUBLIC = ["^/login", "^/lang/", "^/static/", "^/health", "^/schema", "^/favicon"]


def _wants_html(request: Request[Any, Any, Any]) -> bool:
    return not request.url.path.startswith("/api")


def _not_signed_in(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if not _wants_html(request):
        return Response({"status_code": 401, "detail": "sign in first"}, status_code=401)
    target = "/login?next=" + request.url.path
    if is_htmx(request):
        return Response("", status_code=401, headers={"HX-Redirect": target})
    return Redirect(target)


def _forbidden(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if not _wants_html(request):
        return Response({"status_code": 403, "detail": str(getattr(exc, "detail", "forbidden"))}, status_code=403)
    return render(request, "errors/403.html", status_code=403)  # type: ignore[return-value]


def _not_found(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if not _wants_html(request):
        return Response({"status_code": 404, "detail": str(getattr(exc, "detail", "not found"))}, status_code=404)
    return render(request, "errors/404.html", status_code=404)  # type: ignore[return-value]


def _bad_request(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A malformed query or form on an HTML route gets a page in the user's language, never JSON."""
    if not _wants_html(request):
        return Response({"status_code": 400, "detail": str(getattr(exc, "detail", "bad request"))}, status_code=400)
    return render(request, "errors/400.html", status_code=400)  # type: ignore[return-value]


def _template_reload(debug: bool, engine: JinjaTemplateEngine) -> None:
    """Jinja checks each template file's time on every render unless told not to."""
    engine.engine.auto_reload = debug


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    sessions_url = sessions_engine_url(settings.database_url)
    sessions_engine = make_engine(sessions_url) if sessions_url else engine
    if sessions_url:
        prepare_sessions_database(sessions_engine)
    store = DatabaseStore(make_autocommit_session_factory(sessions_engine))
    # Handlers receive a request-scoped ``db_session`` (committed when the response is 2xx/3xx).
    alchemy = SQLAlchemySyncConfig(
        engine_instance=engine,
        session_config=SyncSessionConfig(expire_on_commit=False),
        session_dependency_key="db_session",
        before_send_handler="autocommit",
        create_all=False,
        # The models keep their own times (``onupdate=utcnow``, naive UTC like every other
        # time here) and store no file objects: neither listener has work, and each ran on
        # every flush and commit of every request.
        enable_touch_updated_timestamp_listener=False,
        enable_file_object_listener=False,
    )

    session_config = RotatingSessionConfig(
        max_age=SESSION_MAX_AGE, samesite="lax", secure=settings.secure_cookies, renew_on_access=True,
    )
    auth = SessionAuth[Any, RotatingSessionBackend](
        retrieve_user_handler=retrieve_user,
        session_backend_config=session_config,
        exclude=PUBLIC,
    )

    # Deferring servers poll for requests; the others still run any left by a crash.
    worker = RecomputeWorker(factory, keep_polling=settings.defer_recompute)

    def on_shutdown(app: Litestar) -> None:
        engine.dispose()
        sessions_engine.dispose()

    return Litestar(
        route_handlers=[
            *routes.handlers(),
            create_static_files_router(path="/static", directories=[static_dir()], name="static"),
        ],
        state=State({
            "session_factory": factory, "autocommit_factory": make_autocommit_session_factory(engine),
            "settings": settings, "engine": engine, "alchemy": alchemy,
        }),
        stores={"sessions": store},
        on_app_init=[auth.on_app_init],
        guards=[csrf_bound_to_session],
        before_send=[keep_csrf_cookie_bound, add_security_headers],
        before_request=refuse_nul_characters,
        on_startup=[worker.start],
        on_shutdown=[worker.stop, on_shutdown],
        plugins=[SQLAlchemyPlugin(config=alchemy), HTMXPlugin(), StarLevelCLIPlugin()],
        # Templates change only with a new release: no file checks per render outside debug.
        template_config=TemplateConfig(directory=templates_dir(), engine=JinjaTemplateEngine,
                                       engine_callback=partial(_template_reload, settings.debug)),
        csrf_config=CSRFConfig(
            secret=settings.secret_key, cookie_secure=settings.secure_cookies, cookie_samesite="lax",
            exclude=["^/health"],
        ),
        openapi_config=OpenAPIConfig(title="StarLevel API", version="1", path="/schema"),
        exception_handlers={
            NotAuthorizedException: _not_signed_in,
            PermissionDeniedException: _forbidden,
            NotFoundException: _not_found,
            ValidationException: _bad_request,
        },
        request_class=StarLevelRequest,
        debug=settings.debug,
    )
