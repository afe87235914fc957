"""Settings read from the environment (12-factor); nothing else reads os.environ."""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def normalise_database_url(url: str) -> str:
    """Map the URLs people type to the drivers StarLevel ships with.

    ``sqlite:///file.db`` stays on the standard-library driver; ``postgres://`` and
    ``postgresql://`` go to psycopg 3.
    """
    url = url.strip()
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite+aiosqlite://"):
        return "sqlite://" + url[len("sqlite+aiosqlite://") :]
    return url


def default_database_url() -> str:
    return "sqlite:///" + str(Path.cwd() / "starlevel.sqlite3")


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """``"10.0.0.1, 192.168.0.0/16 ::1"`` -> networks; a bad entry is an error, not ignored."""
    found: list[IPNetwork] = []
    for item in text.replace(",", " ").split():
        try:
            found.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(f"STARLEVEL_TRUSTED_PROXIES: {item!r} is not an IP address or network") from exc
    return tuple(found)


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=default_database_url)
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))
    debug: bool = False
    # Cookies marked Secure only when served over HTTPS in production.
    secure_cookies: bool = False
    # Run company-wide recomputes owed by a save after the response (background worker).
    defer_recompute: bool = False
    # Reverse proxies whose X-Forwarded-For is believed; nobody else's is.
    trusted_proxies: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_env(cls) -> "Settings":
        url = os.environ.get("DATABASE_URL") or default_database_url()
        return cls(
            database_url=normalise_database_url(url),
            secret_key=os.environ.get("STARLEVEL_SECRET_KEY") or secrets.token_hex(32),
            debug=os.environ.get("STARLEVEL_DEBUG", "") in {"1", "true", "yes"},
            secure_cookies=os.environ.get("STARLEVEL_SECURE_COOKIES", "") in {"1", "true", "yes"},
            defer_recompute=os.environ.get("STARLEVEL_DEFER_RECOMPUTE", "1") not in {"0", "false", "no"},
            trusted_proxies=parse_networks(os.environ.get("STARLEVEL_TRUSTED_PROXIES", "")),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
