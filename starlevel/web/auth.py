"""Sign-in, sessions and role guards.

Authorization lives on the server: each controller declares which roles may reach
it with a guard, and an agent's own pages never take an agent id from the request
(they read it from the signed-in user). A disabled user is looked up on every
request, so disabling takes effect at once.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from secrets import compare_digest
from typing import Any

from litestar import Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.csrf import generate_csrf_token
from litestar.types import Message, Scope
from litestar.utils.scope.state import ScopeState
from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session, sessionmaker

from starlevel.db.models import LoginThrottle, User, utcnow
from starlevel.services import audit
from starlevel.services import users as user_service
from starlevel.settings import IPNetwork

ROLES = ("inspector", "hr", "agent", "admin")
# Failed sign-ins allowed before waiting kicks in; the wait doubles after each further failure.
# Per username from one address a few; per client address many more, so that one person
# mistyping (or someone guessing) cannot lock a whole office behind one address out, and
# nobody guessing from elsewhere can lock the account's owner out.
FREE_ATTEMPTS = 3
FREE_ATTEMPTS_PER_ADDRESS = 20
MAX_WAIT = timedelta(minutes=15)
# Failures older than this are forgotten (and their rows deleted at the next sign-in).
FORGET_AFTER = timedelta(days=1)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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


_USER_BY_ID = select(
    User.id, User.username, User.role, User.agent_id, User.display_name, User.locale, User.disabled, User.password_hash,
).where(User.id == bindparam("user_id"))


async def retrieve_user(session_data: dict[str, Any], connection: ASGIConnection[Any, Any, Any, Any]) -> CurrentUser | None:
    user_id = session_data.get("user_id")
    if not isinstance(user_id, int):
        return None
    # One statement: no transaction needed (see make_autocommit_session_factory).
    with connection.app.state["autocommit_factory"]() as s:
        # Core, not the ORM: no identity map or instance for a row read once (half the time).
        row = s.connection().execute(_USER_BY_ID, {"user_id": user_id}).first()
        if (
            row is None or row.disabled or row.password_hash[-16:] != session_data.get("pw")
            or row.role != session_data.get("role") or not session_data.get("csrf")
        ):
            # Disabled, deleted, or the password or role changed since sign-in: the session is
            # dead (privileges change only through a new sign-in, under a new session id).
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


# ---- sessions: a fresh id and CSRF token at every sign-in ---------------------------------

def start_session(request: Request[Any, Any, Any], response: Response[Any], user: User) -> None:
    """Sign ``user`` in on this request: drop the old session (and its id) and start a new one
    under a new id, with a new CSRF token bound to it (set as the CSRF cookie on ``response``).

    Call this at sign-in and whenever the signed-in user's privileges change."""
    csrf = request.app.csrf_config
    assert csrf is not None
    token = generate_csrf_token(csrf.secret)
    request.clear_session()
    request.set_session({"user_id": user.id, "pw": user.password_hash[-16:], "role": user.role, "csrf": token})
    ScopeState.from_scope(request.scope).csrf_token = token  # for forms rendered in this response
    response.set_cookie(_csrf_cookie(csrf, token))


def _csrf_cookie(csrf: CSRFConfig, token: str) -> Cookie:
    return Cookie(
        key=csrf.cookie_name, value=token, path=csrf.cookie_path, secure=csrf.cookie_secure,
        httponly=csrf.cookie_httponly, samesite=csrf.cookie_samesite, domain=csrf.cookie_domain,
    )


def _session_token(scope: Any) -> str | None:
    session = scope.get("session")
    if not isinstance(scope.get("user"), CurrentUser) or not isinstance(session, dict):
        return None
    token = session.get("csrf")
    return token if isinstance(token, str) else None


def csrf_bound_to_session(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """App-wide guard: a signed-in request that changes state must carry the CSRF token issued
    with its own session (Litestar's CSRF check only compares the token with a cookie, which
    another session's token and cookie would pass). Pages of a signed-in user hand out that
    token."""
    bound = _session_token(connection.scope)
    if bound is None:
        return
    state = ScopeState.from_scope(connection.scope)
    if connection.scope.get("method", "GET") in SAFE_METHODS:
        state.csrf_token = bound
        return
    sent = state.csrf_token
    if not isinstance(sent, str) or not compare_digest(sent, bound):
        raise PermissionDeniedException("CSRF token verification failed")


async def keep_csrf_cookie_bound(message: Message, scope: Scope) -> None:
    """A ``before_send`` hook: when a signed-in browser's CSRF cookie is missing or stale, send
    the session's token again (instead of the random one Litestar would hand out)."""
    if message["type"] != "http.response.start":
        return
    token = _session_token(scope)
    csrf = scope["app"].csrf_config
    if token is None or csrf is None:
        return
    if ASGIConnection(scope).cookies.get(csrf.cookie_name) == token:
        return
    prefix = csrf.cookie_name.encode("latin-1") + b"="
    kept = [(k, v) for k, v in message.get("headers", []) if not (k.lower() == b"set-cookie" and v.startswith(prefix))]
    kept.append((b"set-cookie", _csrf_cookie(csrf, token).to_header(header="").encode("latin-1")))
    message["headers"] = kept


# ---- the client's address ------------------------------------------------------------------

def client_address(peer: str | None, forwarded_for: str | None, trusted: tuple[IPNetwork, ...]) -> str:
    """The address a request came from. ``X-Forwarded-For`` is believed only when the peer is a
    trusted proxy, and then only up to the first hop (from the right) that is not one: that
    hop was added by a trusted proxy; anything left of it the client may have written."""
    address = peer or "unknown"
    if not trusted or not forwarded_for:
        return address
    for hop in [peer or "", *reversed(forwarded_for.split(","))]:
        try:
            ip = ipaddress.ip_address(hop.strip())
        except ValueError:
            return address  # garbage: keep the last hop we could vouch for
        address = str(ip)
        if not any(ip in net for net in trusted):
            return address
    return address


def request_address(request: Request[Any, Any, Any]) -> str:
    settings = request.app.state["settings"]
    return client_address(request.client.host if request.client else None, request.headers.get("x-forwarded-for"),
                          settings.trusted_proxies)


# ---- sign-in with throttling -----------------------------------------------------------

@dataclass(frozen=True)
class SignIn:
    user: User | None
    wait_seconds: int = 0


def _address_key(address: str) -> str:
    # One IPv6 user easily holds a whole /64: budget the network, not each address.
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"addr:{address[:200]}"
    if ip.version == 6:
        return f"addr:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"addr:{ip}"


def throttle_keys(username: str, address: str) -> tuple[str, str]:
    """(per username-and-address key, per address key). Usernames are hashed (any length)."""
    addr = _address_key(address)
    name = hashlib.sha256(username.strip().lower().encode("utf-8")).hexdigest()[:32]
    return f"pair:{name}@{addr[5:]}"[:255], addr


def _wait_for(row: LoginThrottle | None, now: datetime) -> int:
    free = FREE_ATTEMPTS_PER_ADDRESS if row is not None and row.key.startswith("addr:") else FREE_ATTEMPTS
    if row is None or row.failures < free or row.last_failed_at is None:
        return 0
    wait = min(timedelta(seconds=2 ** min(row.failures - free, 30)), MAX_WAIT)
    remaining = (row.last_failed_at + wait - now).total_seconds()
    return max(0, math.ceil(remaining))


def attempt_sign_in(session: Session, username: str, password: str, client: str) -> SignIn:
    """Check a password, throttled per (username, address) pair and, more loosely, per address.

    Someone guessing from one address is slowed down there, but the account's owner signing in
    from elsewhere is not locked out. A good sign-in clears the pair's and the address's count.
    Unknown, disabled and known users all cost one password hash, so timing tells nothing.
    Failed and successful sign-ins go to the audit log (the username tried, never the password).
    """
    now = utcnow()
    keys = throttle_keys(username, client)
    rows = {k: session.get(LoginThrottle, k) for k in keys}
    wait = max(_wait_for(r, now) for r in rows.values())
    if wait:
        return SignIn(None, wait)
    name = username.strip()
    user = session.scalar(select(User).where(User.username == name)) if len(name) <= 150 else None
    ok = user_service.check_password(user, password) and user is not None and not user.disabled
    if ok:
        assert user is not None
        for r in rows.values():
            if r is not None:
                session.delete(r)
        session.execute(delete(LoginThrottle).where(LoginThrottle.last_failed_at < now - FORGET_AFTER))
        audit.record(session, user.username, "sign_in", "login", user.username, detail={"address": client})
        return SignIn(user)
    for k, r in rows.items():
        if r is None:
            r = LoginThrottle(key=k, failures=0)
            session.add(r)
        stale = r.last_failed_at is not None and now - r.last_failed_at > FORGET_AFTER
        r.failures = 1 if stale else (r.failures or 0) + 1
        r.last_failed_at = now
    audit.record(session, "anonymous", "sign_in_failed", "login", name[:200], detail={"address": client})
    return SignIn(None, 0)
