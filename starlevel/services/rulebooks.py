"""Versioned, effective-dated rulebooks kept in the database."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from starlevel.db.models import DefectType, RulebookVersion
from starlevel.domain.ladder import rulebook_for
from starlevel.domain.rulebook import (
    Problem,
    Rulebook,
    RulebookError,
    default_rulebook_document,
    parse_rulebook,
    rulebook_to_document,
)
from starlevel.services import audit

DEFAULT_EFFECTIVE_FROM = "2000-01"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def ensure_default(session: Session, actor: str = "system") -> None:
    """Load the shipped default rulebook as version 1 when the database has none."""
    if session.scalar(select(RulebookVersion.version).limit(1)) is not None:
        return
    document = default_rulebook_document()
    rb = parse_rulebook(document, version=1, effective_from=DEFAULT_EFFECTIVE_FROM)
    session.add(
        RulebookVersion(
            version=1,
            effective_from=DEFAULT_EFFECTIVE_FROM,
            label="default",
            document=rulebook_to_document(rb),
            created_by=actor,
            note="shipped default rulebook (docs/ladder.md)",
        )
    )
    _forget(session)
    _sync_catalog(session, rb)
    audit.record(session, actor, "create", "rulebook", "1", reason="initial default rulebook")
    session.flush()


# Stored versions never change (a change is a new version), so each is parsed once per
# process. The key includes the creation time so that two databases holding different
# documents under the same version number never share an entry.
_parsed: dict[tuple[int, str, Any], Rulebook] = {}


_IN_TRANSACTION = "starlevel.rulebooks"  # session.info: (transaction, versions) read in it


def _forget(session: Session) -> None:
    session.info.pop(_IN_TRANSACTION, None)


def load_all(session: Session) -> list[Rulebook]:
    """Every stored version, oldest first. Within one transaction the list is read once (a
    save asks for it three times); a version stored through this module is seen at once."""
    tx = session.get_transaction()
    held = session.info.get(_IN_TRANSACTION)
    if tx is not None and held is not None and held[0] is tx:
        return list(held[1])
    books = _read_all(session)
    tx = session.get_transaction()  # the read above began one if none was open
    if tx is not None:
        session.info[_IN_TRANSACTION] = (tx, books)
    return list(books)


_HEADS = (select(RulebookVersion.version, RulebookVersion.effective_from, RulebookVersion.created_at)
          .order_by(RulebookVersion.effective_from, RulebookVersion.version))


def _read_all(session: Session) -> list[Rulebook]:
    heads = session.connection().execute(_HEADS).all()  # built once: every transaction reads it
    books = []
    for version, effective_from, created_at in heads:
        key = (version, effective_from, created_at)
        rb = _parsed.get(key)
        if rb is None:
            document = session.scalar(select(RulebookVersion.document).where(RulebookVersion.version == version))
            rb = _parsed[key] = parse_rulebook(document, version=version, effective_from=effective_from)
        books.append(rb)
    return books


def for_month(rulebooks: list[Rulebook], month: str) -> Rulebook:
    """The version in force in ``month`` (the domain's one rule: :func:`ladder.rulebook_for`)."""
    return rulebook_for(rulebooks, month)


def for_version(rulebooks: list[Rulebook], version: int, month: str) -> Rulebook:
    """The version that judged a stored month (``rulebook_version`` of its result), or the
    one in force in ``month`` when that version is gone."""
    for rb in rulebooks:
        if rb.version == version:
            return rb
    return for_month(rulebooks, month)


def current(session: Session, month: str | None = None) -> Rulebook:
    rbs = load_all(session)
    if not rbs:
        raise LookupError("no rulebook loaded: run `starlevel db upgrade` and import data")
    return for_month(rbs, month or "9999-12")


#: rulebook_versions.label (PostgreSQL refuses longer text; SQLite would keep it).
LABEL_LIMIT = 200


def check_label(label: str) -> None:
    """Raise RulebookError when a version's label is too long to store."""
    if len(label) > LABEL_LIMIT:
        raise RulebookError([Problem("Label: at most {limit} characters (this one has {length})",
                                     limit=LABEL_LIMIT, length=len(label))])


def add_version(
    session: Session,
    document: dict[str, Any],
    *,
    effective_from: str,
    actor: str,
    label: str = "",
    note: str = "",
) -> Rulebook:
    """Validate and store a new version. Raises RulebookError listing every problem."""
    check_label(label)
    if not _MONTH.match(effective_from or ""):
        raise RulebookError([f"effective_from: {effective_from!r} is not a month (YYYY-MM)"])
    from starlevel.services.months import ensure_open  # (months reads rulebooks)

    ensure_open(session, effective_from)  # a version never takes effect in a closed month
    latest = session.scalar(select(RulebookVersion.version).order_by(RulebookVersion.version.desc()).limit(1)) or 0
    version = latest + 1
    rb = parse_rulebook(document, version=version, effective_from=effective_from)
    session.add(
        RulebookVersion(
            version=version,
            effective_from=effective_from,
            label=label or f"v{version}",
            document=rulebook_to_document(rb),
            created_by=actor,
            note=note,
        )
    )
    _forget(session)
    _sync_catalog(session, rb)
    audit.record(
        session, actor, "create", "rulebook", str(version), reason=note,
        detail={"effective_from": effective_from, "label": label},
    )
    session.flush()
    return rb


def _sync_catalog(session: Session, rb: Rulebook) -> None:
    """Keep defect_types a superset of every catalog ever loaded (inspections refer to it)."""
    existing = {d.code: d for d in session.scalars(select(DefectType))}
    codes = set()
    for d in rb.defects:
        codes.add(d.code)
        row = existing.get(d.code)
        if row is None:
            session.add(DefectType(code=d.code, tier=d.tier, name_zh=d.zh, name_en=d.en, active=True))
        else:
            row.tier, row.name_zh, row.name_en, row.active = d.tier, d.zh, d.en, True
    stale = [c for c in existing if c not in codes]
    if stale:
        session.execute(update(DefectType).where(DefectType.code.in_(stale)).values(active=False))
