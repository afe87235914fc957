"""HR dashboard: default month, filters, counts, levels against quotas, trend, open
review cases; the month review's counts refresh after a decision (HX-Trigger)."""

from __future__ import annotations

from datetime import date

import pytest

from starlevel.db.engine import session_scope
from starlevel.services import dashboard
from tests.conftest import csrf_token
from tests.seed import seed_company
from tests.test_reviews import make_review_cases
from tests.web.roles import as_role
from tests.web.test_hr_service import add_approval_version


@pytest.fixture
def passwords(session_factory):  # type: ignore[no-untyped-def]
    pw = seed_company(session_factory)
    make_review_cases(session_factory)
    return pw


def test_default_month_is_the_latest_that_has_ended(passwords, session_factory) -> None:  # type: ignore[no-untyped-def]
    assert dashboard.default_month("2023-06", "2025-06", date(2025, 6, 10)) == "2025-05"
    assert dashboard.default_month("2023-06", "2025-06", date(2026, 1, 1)) == "2025-06"
    with session_scope(session_factory) as s:
        in_june = dashboard.build(s, today=date(2025, 6, 10))
        assert in_june.month == "2025-05" and not in_june.in_progress
        assert in_june.options[0].month == "2025-06" and in_june.options[0].in_progress
        picked = dashboard.build(s, "2025-06", today=date(2025, 6, 10))
        assert picked.month == "2025-06" and picked.in_progress


def test_counts_levels_trend_and_filters(passwords, session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as s:
        d = dashboard.build(s, "2025-06", today=date(2026, 11, 25))
        assert d.headcount == 3 and d.counts["review"] == 1 and d.open_reviews == 2
        assert [(ln.level, ln.count) for ln in d.levels][:2] == [(1, 2), (2, 1)]
        two = next(ln for ln in d.levels if ln.level == 2)
        assert two.quota == 50 and two.cap == 1 and two.company == 1
        assert len(d.trend) == 12 and d.trend[-1][0] == "2025-06" and sum(d.trend[-1][1].values()) == 3
        team2 = dashboard.build(s, "2025-06", team="Team 2", today=date(2026, 11, 25))
        assert team2.headcount == 1 and team2.open_reviews == 2
        assert next(ln for ln in team2.levels if ln.level == 2).cap == 1  # caps stay company-wide
        phone = dashboard.build(s, "2025-06", track="phone", today=date(2026, 11, 25))
        assert phone.headcount == 2 and phone.open_reviews == 0
        ignored = dashboard.build(s, "2025-06", team="<script>", track="fax", today=date(2026, 11, 25))
        assert (ignored.team, ignored.track, ignored.headcount) == ("", "", 3)


def test_http_dashboard_page_partial_and_roles(client, passwords) -> None:  # type: ignore[no-untyped-def]
    as_role(client, passwords, "inspector")
    assert client.get("/hr/dashboard").status_code == 403
    client.post("/logout", data={"_csrf_token": csrf_token(client)})
    as_role(client, passwords, "hr")
    page = client.get("/hr/dashboard?month=2025-06", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and 'id="quota-chart"' in page.text and 'id="trend-table"' in page.text
    assert 'id="dashboard-open-reviews">2<' in page.text and "<title" in page.text
    part = client.get("/hr/dashboard?month=2025-06&team=Team%201", headers={"HX-Request": "true", "Accept-Language": "en"})
    assert part.status_code == 200 and "<html" not in part.text and "Headcount 2" in part.text
    assert "CNY" not in page.text  # no pay figure on the dashboard


def test_a_decision_triggers_the_review_summary_refresh(client, session_factory) -> None:  # type: ignore[no-untyped-def]
    passwords = seed_company(session_factory)
    add_approval_version(session_factory)
    as_role(client, passwords, "hr")
    review = client.get("/hr?month=2024-09").text
    assert 'id="review-live"' in review and 'hx-trigger="decided from:body"' in review
    r = client.post("/hr/decisions", headers={"HX-Request": "true"}, data={
        "_csrf_token": csrf_token(client), "agent_id": "A001", "month": "2024-09", "action": "approve"})
    assert r.status_code == 200 and r.headers.get("hx-trigger") == "decided"
    summary = client.get("/hr/summary?month=2024-09")
    assert summary.status_code == 200 and 'id="review-live"' in summary.text and "quota-table" in summary.text


def test_company_trend_kept_in_memory_equals_a_fresh_count(passwords, session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as s:
        for month in ("2024-09", "2025-01", "2025-06"):
            for team, track in (("", ""), ("Team 2", ""), ("", "phone")):
                for _ in range(2):  # the second build reads the company-wide trend from memory
                    d = dashboard.build(s, month, team=team, track=track, today=date(2026, 11, 25))
                    start = d.trend[0][0]
                    assert d.trend == list(dashboard.count_levels(s, start, month, _filters(team, track)).items())
                    company = dashboard.count_levels(s, start, month)[month]
                    assert [ln.company for ln in d.levels] == [company.get(ln.level, 0) for ln in d.levels]


def _filters(team: str, track: str) -> list[object]:
    from starlevel.db.models import MonthResultRow as R

    return [c for c in (team and R.team == team, track and R.track == track) if c is not False and c != ""]


def test_trend_is_counted_again_after_another_process_recomputes(session_factory, db_url) -> None:  # type: ignore[no-untyped-def]
    """The trend kept in memory is keyed by the results stamp in the database, so a change
    committed through another engine (another server process) shows at once."""
    from starlevel.db.engine import make_engine, make_session_factory
    from starlevel.services import rulebooks
    from starlevel.services.importer import import_table
    from starlevel.services.recompute import recompute

    seed_company(session_factory)
    with session_scope(session_factory) as s:
        before = dashboard.build(s, "2025-06", today=date(2026, 11, 25))
        assert dashboard.build(s, "2025-06", today=date(2026, 11, 25)).trend == before.trend  # now kept
    other = make_engine(db_url)
    try:
        with session_scope(make_session_factory(other)) as s:
            hired = "agent_id,name,track,team,hired_on,left_on,initial_level,probation_months\n" \
                    "A004,Dee Ma,phone,Team 2,2023-06-01,,3,\n"
            import_table(s, "agents", hired.encode(), filename="agents.csv", actor="hr",
                         rulebook=rulebooks.current(s), today=date(2026, 11, 25))
            recompute(s)
    finally:
        other.dispose()
    with session_scope(session_factory) as s:
        after = dashboard.build(s, "2025-06", today=date(2026, 11, 25))
        assert after.trend == list(dashboard.count_levels(s, after.trend[0][0], "2025-06").items())
    assert after.trend != before.trend and sum(after.trend[-1][1].values()) == 4  # the new agent counts
