"""User accounts: argon2 password hashes, roles, disabling."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from zxcvbn import zxcvbn
from sqlalchemy.orm import Session

from starlevel.db.models import Agent, User
from starlevel.services import audit

ROLES = ("inspector", "hr", "agent", "admin")
MIN_PASSWORD = 8
# Passwords ranked within this many of the most common (zxcvbn's list of leaked passwords,
# also matched with capitals, l33t substitutions and reversed) are refused.
COMMON_RANK = 10_000
_hasher = PasswordHasher()

# Problem code -> the message for the command line (中文 / English).
PASSWORD_PROBLEMS = {
    "too_short": f"密码太短：至少 {MIN_PASSWORD} 个字符 / password too short: at least {MIN_PASSWORD} characters",
    "blank": "密码不能只有空格 / the password cannot be only spaces",
    "too_common": "密码太常见或太容易猜到，请换一个 / the password is too common or too easy to guess; choose another",
}


class UserError(ValueError):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@cache
def _dummy_hash() -> str:
    return _hasher.hash("starlevel: no such user")


def check_password(user: User | None, password: str) -> bool:
    """True if ``password`` is the user's. The hash runs even without a user (against a
    dummy hash), so that the answer takes as long for an unknown name as for a known one."""
    try:
        return _hasher.verify(user.password_hash if user is not None else _dummy_hash(), password) and user is not None
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str) -> str | None:
    """A problem code (a key of PASSWORD_PROBLEMS) if the password may not be used, else None."""
    password = password or ""
    if not password.strip():
        return "blank"
    if len(password) < MIN_PASSWORD:
        return "too_short"
    # zxcvbn's work grows fast with length; no common password is anywhere near 72 characters.
    result = zxcvbn(password[:72])
    whole = result["sequence"][0] if len(result["sequence"]) == 1 else None
    if whole is not None and whole.get("dictionary_name") == "passwords" and whole["rank"] <= COMMON_RANK:
        return "too_common"
    if result["score"] == 0:  # e.g. "aaaaaaaa", "12345678", "abcdefgh"
        return "too_common"
    return None


#: Far above any real login name, below the column's 100 (PostgreSQL refuses longer text).
MAX_USERNAME = 64
USERNAME_PUNCTUATION = "._-@"


def username_problem(username: str) -> str | None:
    """A problem code if ``username`` (stripped) may not name a login, else None.

    Letters of any script and digits, with ``. _ - @`` after the first character: a login
    name is shown on pages and written into exports, so it never starts like a formula
    (``=``, ``+``, ``-``, ``@``) and holds no spaces or control characters."""
    if not username:
        return "required"
    if len(username) > MAX_USERNAME:
        return "too_long"
    if not username[0].isalnum() or not all(ch.isalnum() or ch in USERNAME_PUNCTUATION for ch in username):
        return "characters"
    return None


_USERNAME_ERRORS = {
    "required": "username is empty",
    "too_long": f"username is longer than {MAX_USERNAME} characters",
    "characters": f"a username is letters and digits, with {' '.join(USERNAME_PUNCTUATION)} after the first character",
}


def _validate_password(password: str) -> None:
    if (problem := password_problem(password)) is not None:
        raise UserError(PASSWORD_PROBLEMS[problem])


def create_user(
    session: Session, username: str, *, role: str, password: str, agent_id: str | None = None,
    display_name: str = "", actor: str = "system",
) -> User:
    username = username.strip()
    if (problem := username_problem(username)) is not None:
        raise UserError(_USERNAME_ERRORS[problem])
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
