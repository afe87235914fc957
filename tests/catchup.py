"""Helpers for tests of deferred recomputes: wait for a background worker, and check
that the stored results equal what a full recompute gives."""

from __future__ import annotations

import time

from starlevel.db.engine import session_scope
from starlevel.services.recompute import pending_from, recompute
from tests.test_incremental import snapshot


def wait_until_caught_up(factory, seconds: float = 120) -> None:  # type: ignore[no-untyped-def]
    """Bounded wait until no recompute request is pending (a worker thread runs them)."""
    deadline = time.monotonic() + seconds
    while True:
        with session_scope(factory) as s:
            if pending_from(s) is None:
                return
        assert time.monotonic() < deadline, "the background worker never caught up"
        time.sleep(0.1)


def assert_equals_full_recompute(factory) -> None:  # type: ignore[no-untyped-def]
    with session_scope(factory) as s:
        assert pending_from(s) is None
        stored = snapshot(s)
        recompute(s)
        assert snapshot(s) == stored
