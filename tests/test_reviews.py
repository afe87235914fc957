"""Review cases (复核) as HR work items: service, HTTP and CLI."""

from __future__ import annotations

from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from starlevel.db.engine import session_scope
from starlevel.db.models import AuditEntry, ReviewOutcomeRow
from starlevel.services import reviews, rulebooks
from starlevel.services.importer import import_table
from starlevel.services.recompute import recompute
from tests.conftest import csrf_token
from tests.seed import seed_company
from tests.web.roles import as_role


def make_review_cases(session_factory) -> None:  # type: ignore[no-untyped-def]
    """Bob (A002, 1★) fails three months in a row: review cases in 2025-05 and 2025-06."""
    with session_scope(session_factory) as s:
        import_table(s, "metrics", b"agent_id,month,satisfaction,efficiency,attitude,complaints\n"
                     b"A002,2025-04,10,10,1,5\nA002,2025-05,10,10,1,5\nA002,2025-06,10,10,1,5\n",
                     filename="m.csv", actor="t", rulebook=rulebooks.current(s), today=date(2026, 11, 25))
        recompute(s, start="2025-04")


@pytest.fixture
def passwords(session_factory):  # type: ignore[no-untyped-def]
    pw = seed_company(session_factory)
    make_review_cases(session_factory)
    return pw


def test_cases_stay_open_until_an_outcome_with_a_note(passwords, session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as s:
        items, total = reviews.cases(s)
        assert total == 2 and [(c.agent_id, c.month) for c in items] == [("A002", "2025-06"), ("A002", "2025-05")]
        assert reviews.open_count(s) == 2 and reviews.open_count(s, month="2025-06") == 1
        for outcome, note, code in [("fire", "x", "bad_outcome"), ("dismissal", " ", "note_required"),
                                    ("keep", "", None)]:
            if code:
                with pytest.raises(reviews.ReviewError) as exc:
                    reviews.record_outcome(s, "A002", "2025-05", outcome=outcome, note=note, actor="hr")
                assert exc.value.code == code
        with pytest.raises(reviews.ReviewError) as exc:
            reviews.record_outcome(s, "A001", "2025-05", outcome="keep", note="", actor="hr")
        assert exc.value.code == "not_a_case"
        reviews.record_outcome(s, "A002", "2025-05", outcome="keep", note="", actor="hr")
        done = reviews.record_outcome(s, "A002", "2025-05", outcome="training", note="coaching 4 weeks", actor="hr")
        assert (done.outcome, done.note, done.decided_by) == ("training", "coaching 4 weeks", "hr")
    with session_scope(session_factory) as s:
        assert reviews.open_count(s) == 1
        assert [c.month for c in reviews.cases(s, status="done")[0]] == ["2025-05"]
        rows = s.scalars(select(ReviewOutcomeRow).order_by(ReviewOutcomeRow.id)).all()
        assert [(r.outcome, r.voided_at is None) for r in rows] == [("keep", False), ("training", True)]
        audit = s.scalars(select(AuditEntry).where(AuditEntry.entity == "review")).all()
        assert [a.detail["outcome"] for a in audit] == ["keep", "training"]


def test_http_reviews_page_and_outcome(client, passwords) -> None:  # type: ignore[no-untyped-def]
    as_role(client, passwords, "inspector")
    assert client.get("/hr/reviews").status_code == 403
    client.post("/logout", data={"_csrf_token": csrf_token(client)})
    as_role(client, passwords, "hr")
    page = client.get("/hr/reviews", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and 'id="case-A002-2025-06"' in page.text and 'id="open-cases">2<' in page.text
    bad = client.post("/hr/reviews", headers={"HX-Request": "true", "Accept-Language": "en"}, data={
        "_csrf_token": csrf_token(client), "agent_id": "A002", "month": "2025-06", "outcome": "transfer", "note": ""})
    assert bad.status_code == 422 and "This outcome needs a note" in bad.text and "<html" not in bad.text
    ok = client.post("/hr/reviews", headers={"HX-Request": "true", "Accept-Language": "zh-CN"}, data={
        "_csrf_token": csrf_token(client), "agent_id": "A002", "month": "2025-06", "outcome": "transfer",
        "note": "to back office"})
    assert ok.status_code == 200 and "调岗" in ok.text and "to back office" in ok.text
    assert 'id="open-cases">1<' in client.get("/hr/reviews").text


def test_cli_review_list_and_decide(passwords, db_url: str) -> None:  # type: ignore[no-untyped-def]
    from starlevel.cli import cli

    runner = CliRunner()
    env = {"DATABASE_URL": db_url}
    listing = runner.invoke(cli, ["review", "list"], env=env)
    assert listing.exit_code == 0 and "2 open review case(s)" in listing.output and "2025-06  A002" in listing.output
    refused = runner.invoke(cli, ["review", "decide", "A002", "2025-06", "--outcome", "dismissal"], env=env)
    assert refused.exit_code == 1 and "--note is required for dismissal" in refused.output
    ok = runner.invoke(cli, ["review", "decide", "A002", "2025-06", "--outcome", "keep"], env=env)
    assert ok.exit_code == 0
    assert "1 open review case(s)" in runner.invoke(cli, ["review", "list"], env=env).output
