"""User accounts: argon2 password hashes, roles, disabling."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from starlevel.db.models import Agent, User
from starlevel.services import audit

ROLES = ("inspector", "hr", "agent", "admin")
MIN_PASSWORD = 8
_hasher = PasswordHasher()


class UserError(ValueError):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password too short: at least {MIN_PASSWORD} characters")


def create_user(
    session: Session, username: str, *, role: str, password: str, agent_id: str | None = None,
    display_name: str = "", actor: str = "system",
) -> User:
    username = username.strip()
    if not username:
        raise UserError("username is empty")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if role == "agent" and not agent_id:
        raise UserError("an agent login needs --agent AGENT_ID")
    if role != "agent" and agent_id:
        raise UserError("only agent logins are linked to an agent record")
    if agent_id and session.get(Agent, agent_id) is None:
        raise UserError(f"unknown agent {agent_id!r}")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise UserError(f"user {username!r} exists already")
    _validate_password(password)
    user = User(
        username=username, role=role, agent_id=agent_id, password_hash=hash_password(password),
        display_name=display_name or username,
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, "create", "user", username, detail={"role": role, "agent_id": agent_id})
    return user


def get(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise UserError(f"no user {username!r}")
    return user


def set_password(session: Session, username: str, password: str, *, actor: str = "system") -> None:
    user = get(session, username)
    _validate_password(password)
    user.password_hash = hash_password(password)
    audit.record(session, actor, "set_password", "user", username)


def set_disabled(session: Session, username: str, disabled: bool = True, *, actor: str = "system", reason: str = "") -> None:
    user = get(session, username)
    user.disabled = disabled
    audit.record(session, actor, "disable" if disabled else "enable", "user", username, reason=reason)
