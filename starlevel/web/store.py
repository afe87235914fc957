"""Server-side web sessions kept in the application database (no Redis needed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.stores.base import NamespacedStore
from litestar.types import Empty, Message, ScopeSession
from litestar.utils.dataclass import extract_dataclass_items
from sqlalchemy import Engine, bindparam, delete, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.schema import CreateTable

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
    """Create the sessions table if the file lacks it. Several server processes start at
    once on a new database: a check followed by a create would let two of them both find no
    table and one fail on "already exists", so the check is the statement's own."""
    with engine.begin() as conn:
        conn.execute(CreateTable(SessionRow.__table__, if_not_exists=True))


_SESSION_BY_KEY = select(SessionRow.value, SessionRow.expires_at).where(SessionRow.key == bindparam("key"))


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
        full_key = self._key(key)
        with self._factory() as s:
            # Core, not the ORM: every signed-in request reads its session (half the time).
            row = s.connection().execute(_SESSION_BY_KEY, {"key": full_key}).first()
            if row is None:
                return None
            value, expires_at = row
            if expires_at is not None and expires_at <= _now():
                s.execute(delete(SessionRow).where(SessionRow.key == full_key))
                s.commit()
                return None
            if renew_for and expires_at is not None:
                if isinstance(renew_for, int):
                    renew_for = timedelta(seconds=renew_for)
                now = _now()
                # Like set(): a session not yet halfway to expiry is left as it is, so that a
                # signed-in page view is not a database write (at most one in half a lifetime).
                if expires_at - now <= renew_for / 2:
                    s.execute(update(SessionRow).where(SessionRow.key == full_key).values(expires_at=now + renew_for))
                    s.commit()
            return bytes(value)

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


# ---- session ids -----------------------------------------------------------------------

_HEX = frozenset("0123456789abcdef")
_LOADED = "starlevel.session_id"  # scope key: the id whose stored session this request loaded
_ASKED = "starlevel.session_id_asked"
_LOADED_DATA = "starlevel.session_data"  # scope key: the stored bytes of that session


class RotatingSessionBackend(ServerSideSessionBackend):
    """Litestar's server-side sessions, hardened against session fixation.

    - An id the client sends is used only if the store holds a live session under it; an
      unknown (invented, expired, ended) id is never adopted: a new random id is issued,
      and only once there is something to keep (an empty session stores nothing).
    - ``request.clear_session()`` followed by ``set_session(...)`` in the same request (see
      :func:`starlevel.web.auth.start_session`) gives the new data a fresh id and deletes
      the old one, so an id seen before sign-in or a privilege change is worthless after it.
    """

    def _issued_form(self, session_id: str) -> bool:
        """Whether ``session_id`` looks like an id this backend issues (``generate_session_id``:
        hexadecimal digits). Anything else, NUL characters included, which PostgreSQL refuses
        to compare (a 500 before any sign-in), is not even looked up."""
        return len(session_id) == 2 * self.config.session_id_bytes and all(c in _HEX for c in session_id)

    async def load_from_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
        session_id = connection.cookies.get(self.config.key)
        if session_id and self._issued_form(session_id):
            store = self.config.get_store_from_app(connection.scope["app"])
            data = await self.get(session_id, store=store)
            if data is not None:
                connection.scope[_LOADED] = session_id  # type: ignore[literal-required]
                connection.scope[_LOADED_DATA] = data  # type: ignore[literal-required]
                return self.deserialize_data(data)
        return {}

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        # The middleware asks once, before the handler runs: a live id stays, anything else
        # gets a new random id (which is stored only if the request creates a session).
        current = connection.get_session_id()
        if current:
            return current
        if not connection.scope.get(_ASKED):
            connection.scope[_ASKED] = True  # type: ignore[literal-required]
            loaded = connection.scope.get(_LOADED)
            if loaded:
                return loaded
        return self.generate_session_id()

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any],
    ) -> None:
        scope = connection.scope
        store = self.config.get_store_from_app(scope["app"])
        headers = MutableScopeHeaders.from_message(message)
        cookie_params = dict(extract_dataclass_items(self.config, exclude_none=True, include=Cookie.__dict__.keys()))
        loaded: str | None = scope.get(_LOADED)
        # The connection's id is gone after clear_session(): whatever is set next gets a new one.
        session_id = connection.get_session_id()
        if loaded and (scope_session is Empty or session_id != loaded):
            await self.delete(loaded, store=store)
        if scope_session is Empty or (not scope_session and session_id != loaded):
            # Nothing to keep: tell the browser to drop the session cookie it sent, if any.
            if self.config.key in connection.cookies:
                headers.add("Set-Cookie", Cookie(value="null", key=self.config.key, expires=0,
                                                 **cookie_params).to_header(header=""))
            return
        session_id = session_id or self.generate_session_id()
        data = self.serialize_data(scope_session, scope)
        # Unchanged under the same id: nothing to store (reading it renewed its expiry, see
        # renew_on_access), which spares every signed-in request a second database round trip.
        if not (session_id == loaded and data == scope.get(_LOADED_DATA)):
            await self.set(session_id=session_id, data=data, store=store)
        headers.add("Set-Cookie", Cookie(value=session_id, key=self.config.key, **cookie_params).to_header(header=""))


@dataclass
class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend
