"""The stored rulebook versions are read once per transaction, and never stale across one."""

from __future__ import annotations

from sqlalchemy import event

from starlevel.domain.rulebook import default_rulebook_document
from starlevel.services import rulebooks


def _counting(engine):  # type: ignore[no-untyped-def]
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def count(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        if "FROM rulebook_versions" in statement:
            seen.append(statement)

    return seen


def test_versions_are_read_once_per_transaction_and_fresh_after_it(engine, session_factory):
    seen = _counting(engine)
    with session_factory() as s:
        first = rulebooks.load_all(s)
        assert rulebooks.load_all(s) == first and rulebooks.load_all(s) == first
        assert len(seen) == 1
        # A version stored in the same transaction is seen at once.
        added = rulebooks.add_version(s, default_rulebook_document(), effective_from="2031-01", actor="t")
        assert [rb.version for rb in rulebooks.load_all(s)] == [rb.version for rb in first] + [added.version]
        s.rollback()
        # After the transaction, the list is read again (the version above was rolled back).
        assert [rb.version for rb in rulebooks.load_all(s)] == [rb.version for rb in first]

    with session_factory() as other:  # another session stores a version and commits
        rulebooks.add_version(other, default_rulebook_document(), effective_from="2031-02", actor="t")
        other.commit()
    with session_factory() as s:
        assert rulebooks.load_all(s)[-1].effective_from == "2031-02"
