"""A stamp that names the current company-wide state of ``month_results``, for caches.

Every company-wide write of results (a recompute, or the deferred run that writes only
the rows that changed: both advance the results generation in services.recompute, the
only writers that can change which level an agent holds in a month) stores a fresh
random number under the ``id_counters`` name ``results_stamp``, in its own transaction. A reader that reads the
stamp *before* reading the results may keep what it derives from the per-month level
counts under that stamp, in memory: another process that changes the levels commits a new
stamp together with the new rows, so no later reader looks the old entry up again. The
number is random rather than counted (unlike the generation) so that two databases (a test database cloned from
a template, a copied benchmark file) never share a stamp unless they share the results.

A one-agent re-evaluation (``recompute_agent``) does not renew the stamp: it writes only
when the agent's level and next level stay the same in every month (otherwise it hands
over to a company-wide recompute), so level counts per month cannot change through it.
"""

from __future__ import annotations

import secrets

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from starlevel.db.models import IdCounter

NAME = "results_stamp"


def renew(session: Session) -> int:
    """Store a fresh stamp (in the caller's transaction) and return it."""
    value = secrets.randbits(62) + 1
    done = session.execute(update(IdCounter).where(IdCounter.name == NAME).values(value=value)).rowcount
    if not done:
        session.execute(insert(IdCounter).values(name=NAME, value=value))
    return value


def current(session: Session) -> int | None:
    """The stamp, or None when no company-wide recompute has stored one yet (then cache nothing)."""
    return session.scalar(select(IdCounter.value).where(IdCounter.name == NAME))
