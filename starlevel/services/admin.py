"""User administration and the audit log view (the admin area).

Validation returns problem *codes* per form field (``{"username": "taken"}``) so the web
layer can show a translated message beside the field; the writes go through
:mod:`starlevel.services.users`, which audits them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from starlevel.db.models import Agent, AuditEntry, User
from starlevel.services import users

__all__ = ["AdminError", "audit_page", "create_user", "list_users", "reset_password", "set_disabled"]


class AdminError(ValueError):
    """``problems`` maps a form field to a problem code."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


@dataclass(frozen=True)
class UserLine:
    username: str
    role: str
    agent_id: str | None
    agent_name: str | None
    disabled: bool
    created_at: object


def list_users(session: Session) -> list[UserLine]:
    rows = session.execute(
        select(User.username, User.role, User.agent_id, Agent.name, User.disabled, User.created_at)
        .outerjoin(Agent, Agent.agent_id == User.agent_id)
        .order_by(User.username)
    ).all()
    return [UserLine(*r) for r in rows]


def logins_of_agent(session: Session, agent_id: str) -> list[str]:
    """Usernames of the enabled logins already linked to ``agent_id``."""
    return list(session.scalars(
        select(User.username).where(User.agent_id == agent_id.strip(), User.disabled.is_(False)).order_by(User.username)
    ))


def create_user(session: Session, *, username: str, role: str, agent_id: str, password: str, actor: str) -> User:
    """Create a login; raises AdminError naming every bad field (nothing is written then)."""
    username = (username or "").strip()
    agent_id = (agent_id or "").strip()
    problems: dict[str, str] = {}
    if (problem := users.username_problem(username)) is not None:
        problems["username"] = problem
    elif session.scalar(select(User.id).where(User.username == username)) is not None:
        problems["username"] = "taken"
    if role not in users.ROLES:
        problems["role"] = "unknown"
    elif role == "agent" and not agent_id:
        problems["agent_id"] = "required"
    elif role != "agent" and agent_id:
        problems["agent_id"] = "not_agent_role"
    if agent_id and "agent_id" not in problems and session.get(Agent, agent_id) is None:
        problems["agent_id"] = "unknown"
    if (p := users.password_problem(password)) is not None:
        problems["password"] = p
    if problems:
        raise AdminError(problems)
    return users.create_user(session, username, role=role, password=password, agent_id=agent_id or None, actor=actor)


def _existing(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise AdminError({"username": "unknown"})
    return user


def reset_password(session: Session, username: str, password: str, *, actor: str) -> None:
    _existing(session, username)
    if (p := users.password_problem(password)) is not None:
        raise AdminError({"password": p})
    users.set_password(session, username, password, actor=actor)


def set_disabled(session: Session, username: str, disabled: bool, *, reason: str, actor: str) -> None:
    """Disable or enable a login, with a reason. Nobody disables their own login."""
    user = _existing(session, username)
    reason = (reason or "").strip()
    if disabled and user.username == actor:
        raise AdminError({"reason": "self"})
    if not reason:
        raise AdminError({"reason": "required"})
    if user.disabled == disabled:
        raise AdminError({"reason": "already_disabled" if disabled else "already_enabled"})
    users.set_disabled(session, username, disabled, actor=actor, reason=reason)


def audit_page(
    session: Session, *, entity: str = "", actor: str = "", page: int = 1, per_page: int = 50,
) -> tuple[list[AuditEntry], int, list[str]]:
    """Audit entries newest first, filtered by entity and actor; also every entity name."""
    where = []
    if entity:
        where.append(AuditEntry.entity == entity)
    if actor:
        where.append(AuditEntry.actor == actor.strip())
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0
    rows = session.scalars(
        select(AuditEntry).where(*where).order_by(AuditEntry.id.desc())
        .limit(per_page).offset((max(1, page) - 1) * per_page)
    ).all()
    entities = [e for (e,) in session.execute(select(AuditEntry.entity).distinct().order_by(AuditEntry.entity))]
    return list(rows), total, entities
