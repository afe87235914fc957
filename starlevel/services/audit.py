"""The audit log: who changed what, when and why. Append-only; nothing here updates or deletes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from starlevel.db.models import AuditEntry, utcnow

__all__ = ["REASON_LIMIT", "Entry", "record", "record_many"]

#: The longest reason a person may give for a change (a void, a hold, a reopened month):
#: every reason is stored with its change and in this log, and shown and exported with it.
REASON_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class Entry:
    """One audit entry for :func:`record_many`. ``detail`` must be JSON-ready."""

    actor: str
    action: str
    entity: str
    entity_id: str
    reason: str = ""
    detail: Mapping[str, Any] | None = field(default=None)


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def record(
    session: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    reason: str = "",
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add one audit entry to the session (written with the caller's transaction)."""
    entry = AuditEntry(
        at=utcnow(),
        actor=_clip(actor, 100),
        action=_clip(action, 40),
        entity=_clip(entity, 40),
        entity_id=_clip(str(entity_id), 200),
        reason=reason or "",
        detail=dict(detail or {}),
    )
    session.add(entry)
    return entry


def record_many(session: Session, entries: Iterable[Entry], *, at: datetime | None = None) -> int:
    """Insert many entries with one executemany (imports log one entry per changed row).

    All entries share one timestamp, ``at`` (default: now). Returns how many were written.
    """
    when = at or utcnow()
    rows = [
        {
            "at": when,
            "actor": _clip(e.actor, 100),
            "action": _clip(e.action, 40),
            "entity": _clip(e.entity, 40),
            "entity_id": _clip(str(e.entity_id), 200),
            "reason": e.reason or "",
            "detail": dict(e.detail or {}),
        }
        for e in entries
    ]
    if rows:
        session.execute(insert(AuditEntry.__table__), rows)
    return len(rows)
