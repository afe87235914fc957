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
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from litestar import Litestar, Request
from sqlalchemy.orm import Session, sessionmaker

from starlevel.services.recompute import pending_from, run_pending

log = logging.getLogger("starlevel.recompute")
POLL_SECONDS = 0.5


def defer_recompute(request: Request[Any, Any, Any]) -> bool:
    return bool(request.app.state["settings"].defer_recompute)


class RecomputeWorker:
    """``keep_polling`` False: run what is pending at startup, then stop."""

    def __init__(self, factory: sessionmaker[Session], *, keep_polling: bool = True) -> None:
        self._factory = factory
        self._keep_polling = keep_polling
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

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

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                stats = run_pending(self._factory)
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
