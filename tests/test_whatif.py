"""What-if (services.whatif): a draft rulebook over a past period against the live
results, with cost; writes nothing; service, HTTP and CLI."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from starlevel.db.engine import session_scope
from starlevel.db.models import MonthResultRow, RulebookVersion
from starlevel.domain.rulebook import default_rulebook_document
from starlevel.services import hr, months, whatif
from tests.conftest import csrf_token
from tests.seed import seed_company
from tests.web.roles import as_role


def no_quota_document() -> dict:  # type: ignore[type-arg]
    doc = default_rulebook_document()
    doc["quotas"] = {}
    return doc


@pytest.fixture
def passwords(session_factory):  # type: ignore[no-untyped-def]
    return seed_company(session_factory)


def _snapshot(s) -> list[tuple]:  # type: ignore[no-untyped-def]
    return [tuple(r) for r in s.execute(select(MonthResultRow.agent_id, MonthResultRow.month, MonthResultRow.level,
                                               MonthResultRow.next_level, MonthResultRow.total_pay)
                                        .order_by(MonthResultRow.agent_id, MonthResultRow.month))]


def test_the_live_rulebook_as_draft_changes_nothing(passwords, session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as s:
        result = whatif.run(s, default_rulebook_document(), start="2024-07", end="2025-06")
        assert result.diffs == [] and result.difference == 0 and len(result.months) == 12
        stored = s.scalars(select(MonthResultRow.total_pay).where(MonthResultRow.month >= "2024-07")).all()
        assert result.live_total == sum(stored, Decimal(0)) == result.draft_total


def test_a_draft_without_quotas_promotes_and_costs_more(passwords, session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as s:
        before = _snapshot(s)
        result = whatif.run(s, no_quota_document(), start="2024-07", end="2025-06")
        assert _snapshot(s) == before  # live results untouched
        assert s.scalar(select(func.count()).select_from(RulebookVersion)) == 1
    assert result.events("draft")["promote"] > result.events("live")["promote"] == 0
    assert result.events("live")["waitlist"] > result.events("draft")["waitlist"]
    assert result.difference > 0 and result.draft_total == sum(m.draft for m in result.months)
    assert result.difference == sum(d.pay_difference for d in result.diffs)
    assert {d.agent_id for d in result.diffs} <= {"A001", "A002", "A003"} and result.agents >= 2
    first = result.diffs[0]
    assert first.level_live is not None and (first.level_live, first.next_level_live, first.total_pay_live) != (
        first.level_draft, first.next_level_draft, first.total_pay_draft)
    assert sum(m.changed for m in result.months) == len(result.diffs)


@pytest.mark.parametrize(("start", "end"), [("2025-06", "2025-01"), ("2025-13", "2025-14"), ("2020-01", "2025-06")])
def test_bad_periods(passwords, session_factory, start: str, end: str) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as s, pytest.raises(whatif.WhatIfError):
        whatif.run(s, no_quota_document(), start=start, end=end)


def test_cli_whatif_csv_and_text(passwords, db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from starlevel.cli import cli

    draft = tmp_path / "draft.toml"
    draft.write_text(hr.to_toml(no_quota_document()), encoding="utf-8")
    runner = CliRunner()
    r = runner.invoke(cli, ["rulebook", "whatif", str(draft), "--from", "2024-07", "--to", "2025-06", "--format", "csv"],
                      env={"DATABASE_URL": db_url})
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.output)))
    assert rows and list(rows[0])[:6] == ["agent_id", "month", "level_live", "level_draft", "next_level_live",
                                         "next_level_draft"]
    assert {"total_pay_live", "total_pay_draft"} <= set(rows[0])
    assert all("2024-07" <= x["month"] <= "2025-06" for x in rows)
    text = runner.invoke(cli, ["rulebook", "whatif", str(draft), "--from", "2024-07", "--to", "2025-06"],
                         env={"DATABASE_URL": db_url})
    assert text.exit_code == 0 and "what-if 2024-07..2025-06" in text.output and "total" in text.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[rulebook]\nname = 1\n", encoding="utf-8")
    assert runner.invoke(cli, ["rulebook", "whatif", str(bad), "--from", "2024-07", "--to", "2025-06"],
                         env={"DATABASE_URL": db_url}).exit_code == 1


def test_http_whatif_then_publish_outside_closed_months(client, passwords, session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as s:
        months.close_month(s, "2025-03", actor="hr")
    as_role(client, passwords, "admin")
    assert client.get("/hr/whatif").status_code == 403
    client.post("/logout", data={"_csrf_token": csrf_token(client)})
    as_role(client, passwords, "hr")
    page = client.get("/hr/whatif", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and 'value="2024-07"' in page.text and "[rulebook]" in page.text
    toml = hr.to_toml(no_quota_document())
    r = client.post("/hr/whatif", headers={"Accept-Language": "en"}, data={
        "_csrf_token": csrf_token(client), "toml": toml, "start": "2024-07", "end": "2025-06"})
    assert r.status_code == 200 and 'id="whatif-result"' in r.text and "agents would differ" in r.text
    assert r'value="2025-04" required pattern="\d{4}-\d{2}" id="publish-from"' in r.text  # the first open month
    bad = client.post("/hr/whatif", headers={"Accept-Language": "en"}, data={
        "_csrf_token": csrf_token(client), "toml": toml, "start": "2025-06", "end": "2024-07"})
    assert bad.status_code == 422 and "Give the period as two months" in bad.text
    closed = client.post("/hr/rulebook", headers={"Accept-Language": "en"}, data={
        "_csrf_token": csrf_token(client), "toml": toml, "effective_from": "2025-03", "label": "no quotas"})
    assert closed.status_code == 422 and "closed for payroll" in closed.text
    ok = client.post("/hr/rulebook", follow_redirects=False, data={
        "_csrf_token": csrf_token(client), "toml": toml, "effective_from": "2025-04", "label": "no quotas"})
    assert ok.status_code in (302, 303)
    with session_scope(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(RulebookVersion)) == 2
