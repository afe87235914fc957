"""Sign-in, sessions and role guards.

Authorization lives on the server: each controller declares which roles may reach
it with a guard, and an agent's own pages never take an agent id from the request
(they read it from the signed-in user). A disabled user is looked up on every
request, so disabling takes effect at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from starlevel.db.models import LoginThrottle, User, utcnow
from starlevel.services import users as user_service

ROLES = ("inspector", "hr", "agent", "admin")
# Failed sign-ins allowed before waiting kicks in; the wait doubles after each further failure.
# Per username a few; per client address many more, so that one person mistyping (or
# someone guessing) cannot lock a whole office behind one address out.
FREE_ATTEMPTS = 3
FREE_ATTEMPTS_PER_ADDRESS = 20
MAX_WAIT = timedelta(minutes=15)


@dataclass(frozen=True)
class CurrentUser:
    id: int
    username: str
    role: str
    agent_id: str | None
    display_name: str
    locale: str | None


def session_factory_of(connection: ASGIConnection[Any, Any, Any, Any]) -> sessionmaker[Session]:
    return connection.app.state["session_factory"]


async def retrieve_user(session_data: dict[str, Any], connection: ASGIConnection[Any, Any, Any, Any]) -> CurrentUser | None:
    user_id = session_data.get("user_id")
    if not isinstance(user_id, int):
        return None
    with session_factory_of(connection)() as s:
        row = s.get(User, user_id)
        if row is None or row.disabled or row.password_hash[-16:] != session_data.get("pw"):
            # Disabled, deleted, or the password changed since sign-in: the session is dead.
            return None
        return CurrentUser(row.id, row.username, row.role, row.agent_id, row.display_name or row.username, row.locale)


def requires(*roles: str):  # type: ignore[no-untyped-def]
    """A guard letting only the given roles through."""
    allowed = frozenset(roles)
    unknown = allowed - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = connection.scope.get("user")
        if not isinstance(user, CurrentUser):
            raise NotAuthorizedException("sign in first")
        if user.role not in allowed:
            raise PermissionDeniedException("your role may not use this page")

    guard.__name__ = "requires_" + "_".join(sorted(allowed))
    guard.roles = allowed  # type: ignore[attr-defined]
    return guard


def current_user(request: Request[Any, Any, Any]) -> CurrentUser:
    user = request.scope.get("user")
    if not isinstance(user, CurrentUser):
        raise NotAuthorizedException("sign in first")
    return user


# ---- sign-in with throttling ---------------------------------------------------------

@dataclass(frozen=True)
class SignIn:
    user: User | None
    wait_seconds: int = 0


def _wait_for(row: LoginThrottle | None, now: datetime) -> int:
    free = FREE_ATTEMPTS_PER_ADDRESS if row is not None and row.key.startswith("addr:") else FREE_ATTEMPTS
    if row is None or row.failures < free or row.last_failed_at is None:
        return 0
    wait = min(timedelta(seconds=2 ** (row.failures - free)), MAX_WAIT)
    remaining = (row.last_failed_at + wait - now).total_seconds()
    return max(0, math.ceil(remaining))


def attempt_sign_in(session: Session, username: str, password: str, client: str) -> SignIn:
    """Check a password; throttled per username and per client address."""
    now = utcnow()
    keys = [f"user:{username.strip().lower()}", f"addr:{client}"]
    rows = {k: session.get(LoginThrottle, k) for k in keys}
    wait = max(_wait_for(r, now) for r in rows.values())
    if wait:
        return SignIn(None, wait)
    user = session.scalar(select(User).where(User.username == username.strip()))
    ok = user is not None and not user.disabled and user_service.check_password(user, password)
    if ok:
        for k, r in rows.items():
            if r is not None and k.startswith("user:"):
                r.failures = 0
        return SignIn(user)
    for k, r in rows.items():
        if r is None:
            r = LoginThrottle(key=k, failures=0)
            session.add(r)
        r.failures = (r.failures or 0) + 1
        r.last_failed_at = now
    return SignIn(None, 0)
