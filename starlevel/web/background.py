"""The web app's background recompute worker.

A change to one agent's inputs normally re-evaluates just that agent inside the request
(services.recompute.recompute_agent). When a quota could be touched the company-wide
recompute is owed instead; with ``Settings.defer_recompute`` the request only records
that (a RecomputeRequest committed with the change) and this worker runs it right after,
so a save never waits for a whole-company evaluation.

Each server process runs one worker; :func:`~starlevel.services.recompute.run_pending`
makes sure that one run at a time, in one process on one machine, serves each request.
At startup the app looks for requests left pending by a crash (or by a server that
deferred while this one does not) and starts the worker for them in any case.

The evaluation itself is seconds of pure Python at 10,000 agents. Run in a thread of the
server process it would hold the interpreter lock against the requests that process
serves (and so hold the database's write lock of a save for longer), so it runs in a
child process of its own at a lower scheduling priority: requests go first. An in-memory
SQLite database cannot be shared with a child; it is evaluated in the thread.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any

from litestar import Litestar, Request
from sqlalchemy.orm import Session, sessionmaker

from starlevel.services.recompute import RecomputeStats, pending_from, run_pending

log = logging.getLogger("starlevel.recompute")
POLL_SECONDS = 0.5
CHILD_NICENESS = 10
# After a run of T seconds no worker (in any server process) starts the next for
# T x REST_FACTOR seconds, at most MAX_REST_SECONDS (see run_pending): under a steady
# stream of saves (a save near a quota leaves a request) the runs no longer follow each
# other back to back, so they take at most about half of one core, and each covers more
# requests. At 10,000 agents a run is about 2 s: figures settle within about 6 s of a
# change, and the pages say they are being updated meanwhile.
REST_FACTOR = 1.0
MAX_REST_SECONDS = 30.0

_child_factory: sessionmaker[Session] | None = None


def _child_start() -> None:
    os.nice(CHILD_NICENESS)


def _run_in_child(url: str) -> RecomputeStats | None:
    """Runs in the worker's child process, which keeps one engine for its lifetime."""
    global _child_factory
    if _child_factory is None:
        from starlevel.db.engine import make_engine, make_session_factory

        _child_factory = make_session_factory(make_engine(url))
    return run_pending(_child_factory, rest_factor=REST_FACTOR, max_rest=MAX_REST_SECONDS)


def _shareable_url(factory: sessionmaker[Session]) -> str | None:
    bind = factory.kw.get("bind")
    url = getattr(bind, "url", None)
    if url is None or (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")):
        return None
    return url.render_as_string(hide_password=False)


def defer_recompute(request: Request[Any, Any, Any]) -> bool:
    return bool(request.app.state["settings"].defer_recompute)


class RecomputeWorker:
    """``keep_polling`` False: run what is pending at startup, then stop."""

    def __init__(self, factory: sessionmaker[Session], *, keep_polling: bool = True) -> None:
        self._factory = factory
        self._keep_polling = keep_polling
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._url = _shareable_url(factory)
        self._pool: ProcessPoolExecutor | None = None

    def _run(self) -> RecomputeStats | None:
        if self._url is None:
            return run_pending(self._factory, rest_factor=REST_FACTOR, max_rest=MAX_REST_SECONDS)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"), initializer=_child_start)
        try:
            return self._pool.submit(_run_in_child, self._url).result()
        except BrokenProcessPool:  # the child died (killed, out of memory): a new one next time
            self._pool = None
            raise

    def start(self, app: Litestar) -> None:
        if not self._keep_polling:
            with self._factory() as session:
                if pending_from(session) is None:
                    return
        self._thread = threading.Thread(target=self._loop, name="starlevel-recompute", daemon=True)
        self._thread.start()

    def stop(self, app: Litestar) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                stats = self._run()
            except Exception:  # a failed run leaves its requests pending; try again later
                log.exception("deferred recompute failed")
                stats = None
            if stats is not None:
                log.info("deferred recompute from %s: %s results in %.2fs", stats.start, stats.results, stats.seconds)
                continue
            if not self._keep_polling:
                with self._factory() as session:
                    if pending_from(session) is None:
                        return
            self._stop.wait(POLL_SECONDS)
