"""Sign-in, sign-out, the language switch and the role-aware home page."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlparse

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Response, Template
from msgspec import Struct

from starlevel.web import i18n
from starlevel.web.auth import CurrentUser, attempt_sign_in, request_address, session_factory_of, start_session
from starlevel.web.render import gettext, lang_of, render

HOME_BY_ROLE = {"agent": "/me", "inspector": "/inspections", "hr": "/hr", "admin": "/admin/users"}


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths: never redirect off-site after sign-in."""
    if not target:
        return None
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    # Browsers read "/\\evil" as "//evil" and drop tabs and newlines ("/\t/evil").
    if "\\" in target or any(ord(c) < 0x21 or ord(c) == 0x7F for c in target):
        return None
    return target


class LoginForm(Struct):
    username: str = ""
    password: str = ""
    next: str = ""


class AccountController(Controller):
    tags = ["account"]
    include_in_schema = False

    @get("/", name="home", sync_to_thread=False)
    def home(self, request: Request[Any, Any, Any]) -> Redirect:
        user = request.scope.get("user")
        if isinstance(user, CurrentUser):
            return Redirect(HOME_BY_ROLE.get(user.role, "/login"))
        return Redirect("/login")

    @get("/login", name="login", sync_to_thread=False)
    def login_page(self, request: Request[Any, Any, Any], next: FromQuery[str | None] = None) -> Template:
        return render(request, "account/login.html", next=_safe_next(next) or "", error=None, username="")

    @post("/login", name="login_submit", sync_to_thread=True)
    def login(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Template | Redirect:
        _ = gettext(request)
        client = request_address(request)
        with session_factory_of(request)() as s:
            outcome = attempt_sign_in(s, data.username, data.password, client)
            s.commit()
        if outcome.user is None:
            headers = {}
            if outcome.wait_seconds:
                wait = outcome.wait_seconds
                error = i18n.catalog(lang_of(request)).ngettext(
                    "Too many failed sign-ins. Try again in {n} second.",
                    "Too many failed sign-ins. Try again in {n} seconds.", wait).format(n=wait)
                status = 429
                headers["Retry-After"] = str(wait)  # RFC 9110: the seconds to wait
            else:
                error = _("Wrong username or password, or the account is disabled.")
                status = 401
            return render(request, "account/login.html", status_code=status, headers=headers,
                          next=_safe_next(data.next) or "", error=error, username=data.username)
        response = Redirect(_safe_next(data.next) or HOME_BY_ROLE.get(outcome.user.role, "/"))
        start_session(request, response, outcome.user)
        return response

    @post("/logout", name="logout", sync_to_thread=False)
    def logout(self, request: Request[Any, Any, Any]) -> Redirect:
        request.clear_session()
        return Redirect("/login")

    @get("/lang/{lang:str}", name="set_lang", sync_to_thread=False)
    def set_lang(self, request: Request[Any, Any, Any], lang: FromPath[str], next: FromQuery[str | None] = None) -> Response[Any]:
        if lang not in i18n.LANGS:
            lang = i18n.DEFAULT_LANG
        target = _safe_next(next) or _safe_next(urlparse(request.headers.get("referer", "")).path) or "/"
        response: Response[Any] = Redirect(target)
        response.set_cookie(i18n.COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
        return response

    @get("/health", name="health", sync_to_thread=False)
    def health(self) -> dict[str, str]:
        return {"status": "ok"}
