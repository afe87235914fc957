"""Signing the test client in as one of the seeded company's roles (tests/seed.py)."""

from __future__ import annotations

from typing import Any

from tests.conftest import csrf_token, sign_in


def as_role(client: Any, passwords: dict[str, tuple[str, str]], role: str) -> Any:
    user, pw = passwords[role]
    assert sign_in(client, user, pw).status_code in (302, 303)
    return client


def sign_out(client: Any) -> None:
    client.post("/logout", data={"_csrf_token": csrf_token(client)})
