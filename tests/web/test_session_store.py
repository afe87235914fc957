"""The server-side session store: reading a session renews its expiry only once it is past
halfway, so that signed-in page views are not database writes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from starlevel.db.models import SessionRow
from starlevel.web.store import DatabaseStore, _now


def _run(call: Callable[[], Awaitable[Any]]) -> Any:
    """Run one store call on an event loop of its own (the browser tests leave one running
    in this thread)."""
    async def main() -> Any:
        return await call()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


def _expiry(factory, key: str):  # type: ignore[no-untyped-def]
    with factory() as s:
        return s.scalar(select(SessionRow.expires_at).where(SessionRow.key == f"session:{key}"))


def test_reading_renews_only_past_halfway(session_factory):
    store = DatabaseStore(session_factory)
    hour = timedelta(hours=1)
    _run(lambda: store.set("k", b"v", expires_in=hour))
    first = _expiry(session_factory, "k")
    assert _run(lambda: store.get("k", renew_for=hour)) == b"v"
    assert _expiry(session_factory, "k") == first  # more than half an hour left: no write

    with session_factory() as s:  # 20 minutes left
        s.get(SessionRow, "session:k").expires_at = _now() + timedelta(minutes=20)
        s.commit()
    assert _run(lambda: store.get("k", renew_for=hour)) == b"v"
    renewed = _expiry(session_factory, "k")
    assert renewed - _now() > timedelta(minutes=59)

    with session_factory() as s:  # expired: gone
        s.get(SessionRow, "session:k").expires_at = _now() - timedelta(seconds=1)
        s.commit()
    assert _run(lambda: store.get("k", renew_for=hour)) is None
    assert _expiry(session_factory, "k") is None


def test_a_signed_in_page_view_stores_nothing(client, session_factory, monkeypatch):  # type: ignore[no-untyped-def]
    """An unchanged session is not written back after every response; a changed one is."""
    from starlevel.web.store import DatabaseStore
    from tests.conftest import sign_in
    from tests.seed import seed_company

    seed_company(session_factory)
    assert sign_in(client, "ann", "ann-pass-12").status_code == 302
    stored: list[str] = []
    real_set = DatabaseStore.set

    async def counting_set(self, key, value, expires_in=None):  # type: ignore[no-untyped-def]
        stored.append(key)
        await real_set(self, key, value, expires_in)

    monkeypatch.setattr(DatabaseStore, "set", counting_set)
    assert client.get("/me").status_code == 200
    assert client.get("/api/me").status_code == 200
    assert stored == []
    assert client.get("/api/me").json()["username"] == "ann"  # still signed in

    # A sign-out ends the session; a new sign-in stores one under a new id.
    client.post("/logout", data={"_csrf_token": client.cookies["csrftoken"]})
    assert sign_in(client, "ann", "ann-pass-12").status_code == 302
    assert len(stored) == 1


def test_server_processes_starting_together_all_prepare_the_sessions_file(tmp_path):
    """`serve --workers N` on a new database: every process prepares the sessions file at
    once. None may fail because another created the table between its check and its
    create (it did: "table web_sessions already exists" in one worker of two)."""
    import threading

    from sqlalchemy import create_engine, inspect

    from starlevel.web.store import prepare_sessions_database

    for round_ in range(15):
        url = f"sqlite:///{tmp_path / f'r{round_}.sqlite3'}-sessions"
        engines = [create_engine(url) for _ in range(4)]
        gate = threading.Barrier(len(engines))
        failures: list[BaseException] = []

        def start(engine) -> None:  # type: ignore[no-untyped-def]
            gate.wait()
            try:
                prepare_sessions_database(engine)
            except BaseException as e:  # noqa: BLE001 - collected and asserted below
                failures.append(e)

        threads = [threading.Thread(target=start, args=(e,)) for e in engines]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == [], f"round {round_}: {failures[0]!r}"
        assert inspect(engines[0]).has_table("web_sessions")
        for e in engines:
            e.dispose()
