"""Server-side web sessions kept in the application database (no Redis needed)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from litestar.stores.base import NamespacedStore
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, sessionmaker

from starlevel.db.models import SessionRow


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def sessions_engine_url(database_url: str) -> str | None:
    """On SQLite, sessions live in a sibling file so that storing one never waits for the
    main file's write lock (held by the request's own transaction until it commits)."""
    if not database_url.startswith("sqlite"):
        return None
    head, _, path = database_url.partition(":///")
    if not path or path == ":memory:":
        return None
    return f"{head}:///{path}-sessions"


def prepare_sessions_database(engine: Engine) -> None:
    SessionRow.__table__.create(engine, checkfirst=True)


class DatabaseStore(NamespacedStore):
    """A Litestar store on the ``web_sessions`` table. Keys are namespaced by prefix."""

    def __init__(self, factory: sessionmaker[Session], namespace: str = "session") -> None:
        self._factory = factory
        self.namespace = namespace

    def with_namespace(self, namespace: str) -> "DatabaseStore":
        return DatabaseStore(self._factory, f"{self.namespace}:{namespace}")

    def _key(self, key: str) -> str:
        return f"{self.namespace}:{key}"

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        if isinstance(value, str):
            value = value.encode("utf-8")
        if isinstance(expires_in, int):
            expires_in = timedelta(seconds=expires_in)
        now = _now()
        expires = now + expires_in if expires_in else None
        with self._factory() as s:
            row = s.get(SessionRow, self._key(key))
            if (
                row is not None and bytes(row.value) == value and expires_in is not None
                and row.expires_at is not None and row.expires_at - now > expires_in / 2
            ):
                # The session middleware stores on every response; an unchanged session that
                # is not yet halfway to expiry needs no write.
                return
            if row is None:
                s.add(SessionRow(key=self._key(key), value=value, expires_at=expires))
            else:
                row.value, row.expires_at = value, expires
            s.commit()

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        with self._factory() as s:
            row = s.get(SessionRow, self._key(key))
            if row is None:
                return None
            if row.expires_at is not None and row.expires_at <= _now():
                s.delete(row)
                s.commit()
                return None
            if renew_for and row.expires_at is not None:
                if isinstance(renew_for, int):
                    renew_for = timedelta(seconds=renew_for)
                row.expires_at = _now() + renew_for
                s.commit()
            return bytes(row.value)

    async def delete(self, key: str) -> None:
        with self._factory() as s:
            s.execute(delete(SessionRow).where(SessionRow.key == self._key(key)))
            s.commit()

    async def delete_all(self) -> None:
        with self._factory() as s:
            s.execute(delete(SessionRow).where(SessionRow.key.startswith(self.namespace + ":")))
            s.commit()

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        with self._factory() as s:
            exp = s.scalar(select(SessionRow.expires_at).where(SessionRow.key == self._key(key)))
        if exp is None:
            return None
        return max(0, int((exp - _now()).total_seconds()))

    async def delete_expired(self) -> None:
        with self._factory() as s:
            s.execute(delete(SessionRow).where(SessionRow.expires_at < _now()))
            s.commit()
