"""The admin area: logins (create, reset password, disable/enable) and the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.plugins.htmx import ClientRedirect
from litestar.response import Redirect, Template
from msgspec import Struct
from sqlalchemy.orm import Session

from starlevel.services import admin as admin_service
from starlevel.services import users as user_service
from starlevel.services.users import MAX_USERNAME, MIN_PASSWORD, ROLES
from starlevel.web.auth import current_user, requires, start_session
from starlevel.web.hr import commit_now, status_for
from starlevel.web.audit_view import audit_text
from starlevel.web.params import BadParam, bad_param_page, int_param
from starlevel.web.render import gettext, is_htmx, lang_of, render

PER_PAGE = 50


def problem_messages(request: Request[Any, Any, Any]) -> dict[tuple[str, str], str]:
    """(field, problem code) -> the message shown beside the field."""
    _ = gettext(request)
    return {
        ("username", "required"): _("Username: enter a username."),
        ("username", "taken"): _("Username: this username is taken already."),
        ("username", "too_long"): _("Username: at most {n} characters.").format(n=MAX_USERNAME),
        ("username", "characters"): _("Username: letters and digits, with . _ - @ after the first character."),
        ("username", "unknown"): _("There is no such user."),
        ("role", "unknown"): _("Role: choose one of the roles."),
        ("agent_id", "required"): _("Agent ID: an agent login must be linked to an agent record."),
        ("agent_id", "not_agent_role"): _("Agent ID: only agent logins are linked to an agent record; leave it empty."),
        ("agent_id", "unknown"): _("Agent ID: there is no agent with this ID."),
        ("password", "too_short"): _("Password: at least {n} characters.").format(n=MIN_PASSWORD),
        ("password", "blank"): _("Password: it cannot be only spaces."),
        ("password", "too_common"): _("Password: too common or too easy to guess; choose another."),
        ("reason", "required"): _("Reason: say why."),
        ("reason", "self"): _("You cannot disable your own login."),
        ("reason", "already_disabled"): _("This login is disabled already."),
        ("reason", "already_enabled"): _("This login is enabled already."),
    }


def _messages(request: Request[Any, Any, Any], problems: dict[str, str]) -> dict[str, str]:
    table = problem_messages(request)
    return {field: table.get((field, code), code) for field, code in problems.items()}


class NewUserForm(Struct):
    username: str = ""
    role: str = ""
    agent_id: str = ""
    password: str = ""
    second_login: str = ""  # "1": the admin confirmed a second login for the same agent


class PasswordForm(Struct):
    password: str = ""


class DisableForm(Struct):
    reason: str = ""


class AdminController(Controller):
    exception_handlers = {BadParam: bad_param_page}  # type: ignore[dict-item]
    path = "/admin"
    guards = [requires("admin")]
    include_in_schema = False

    def _users_page(
        self, request: Request[Any, Any, Any], session: Session, *, form: NewUserForm | None = None,
        errors: dict[str, str] | None = None, row_errors: dict[str, dict[str, str]] | None = None,
        done: str = "",
    ) -> Template:
        ok = not errors and not row_errors
        return render(
            request, "admin/users.html", partial="admin/_users.html",
            users=admin_service.list_users(session), roles=ROLES, form=form or NewUserForm(role="agent"),
            errors=errors or {}, row_errors=row_errors or {}, done=done, me=current_user(request).username,
            status_code=status_for(request, ok),
        )

    @get("/users", name="admin_users", sync_to_thread=True)
    def users(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session]) -> Template:
        return self._users_page(request, db_session)

    @post("/users", name="admin_create_user", sync_to_thread=True)
    def create(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
        data: Annotated[NewUserForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Template:
        _ = gettext(request)
        existing = admin_service.logins_of_agent(db_session, data.agent_id) if data.role == "agent" and data.agent_id else []
        if existing and data.second_login != "1":
            kept = NewUserForm(data.username, data.role, data.agent_id, "", second_login="ask")
            warning = _("Agent {agent} already has a login ({logins}). Tick the box to create a second one, or link another agent.")
            return self._users_page(request, db_session, form=kept, errors={
                "agent_id": warning.format(agent=data.agent_id.strip(), logins=", ".join(existing))})
        try:
            admin_service.create_user(db_session, username=data.username, role=data.role, agent_id=data.agent_id,
                                      password=data.password, actor=current_user(request).username)
            commit_now(db_session)
        except admin_service.AdminError as exc:
            kept = NewUserForm(data.username, data.role, data.agent_id, "")
            return self._users_page(request, db_session, form=kept, errors=_messages(request, exc.problems))
        return self._users_page(request, db_session, done=_("Login {name} created.").format(name=data.username.strip()))

    @post("/users/{username:str}/password", name="admin_reset_password", sync_to_thread=True)
    def reset_password(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session], username: FromPath[str],
        data: Annotated[PasswordForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Template | Redirect | ClientRedirect:
        _ = gettext(request)
        me = current_user(request)
        try:
            admin_service.reset_password(db_session, username, data.password, actor=me.username)
            commit_now(db_session)
        except admin_service.AdminError as exc:
            return self._users_page(request, db_session, row_errors={username: _messages(request, exc.problems)})
        if username == me.username:
            # A new password of one's own: carry on under a new session id (and CSRF token),
            # on a freshly loaded page so that every form holds the new token.
            response: Redirect | ClientRedirect = ClientRedirect("/admin/users") if is_htmx(request) else Redirect("/admin/users")
            start_session(request, response, user_service.get(db_session, username))
            return response
        return self._users_page(request, db_session, done=_("Password of {name} reset.").format(name=username))

    def _set_disabled(
        self, request: Request[Any, Any, Any], session: Session, username: str, reason: str, disabled: bool,
    ) -> Template:
        _ = gettext(request)
        try:
            admin_service.set_disabled(session, username, disabled, reason=reason, actor=current_user(request).username)
            commit_now(session)
        except admin_service.AdminError as exc:
            return self._users_page(request, session, row_errors={username: _messages(request, exc.problems)})
        done = _("Login {name} disabled.") if disabled else _("Login {name} enabled.")
        return self._users_page(request, session, done=done.format(name=username))

    @post("/users/{username:str}/disable", name="admin_disable_user", sync_to_thread=True)
    def disable(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session], username: FromPath[str],
        data: Annotated[DisableForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Template:
        return self._set_disabled(request, db_session, username, data.reason, True)

    @post("/users/{username:str}/enable", name="admin_enable_user", sync_to_thread=True)
    def enable(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session], username: FromPath[str],
        data: Annotated[DisableForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Template:
        return self._set_disabled(request, db_session, username, data.reason, False)

    @get("/audit", name="admin_audit", sync_to_thread=True)
    def audit(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
        entity: FromQuery[str] = "", actor: FromQuery[str] = "", page: FromQuery[str] = "",
    ) -> Template:
        page_n = int_param("page", page) or 1
        entries, total, entities = admin_service.audit_page(db_session, entity=entity, actor=actor, page=page_n,
                                                            per_page=PER_PAGE)
        pages = max(1, -(-total // PER_PAGE))
        return render(request, "admin/audit.html", partial="admin/_audit_table.html", entries=entries, total=total,
                      entities=entities, entity=entity, actor=actor, page=page_n, pages=pages,
                      audit=audit_text(lang_of(request)))
