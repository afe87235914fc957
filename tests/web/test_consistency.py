"""The inspector consistency table: figures per inspector against the team, disputes and calibration."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from starlevel.db.engine import session_scope
from starlevel.db.models import Inspection, InspectionDefect
from starlevel.services import calibration, consistency, disputes, inspections, users
from tests.conftest import sign_in
from tests.seed import PASSWORDS, seed_company


@pytest.fixture
def company(session_factory):  # type: ignore[no-untyped-def]
    seed_company(session_factory)
    with session_scope(session_factory) as s:
        users.create_user(s, "qa2", role="inspector", password="qa2-pass-12")
        # qa2 is harsh: one June inspection at 90 (a red line).
        inspections.create(s, inspections.Draft(agent_id="A001", contact_on="2025-06-21", channel="chat",
                                                contact_ref="HARSH-1", picks={"T3-01": inspections.Pick("T3-01")}),
                           actor="qa2")
        d = s.scalars(select(InspectionDefect).join(Inspection).where(
            Inspection.agent_id == "A002", Inspection.month == "2025-06", Inspection.inspector == "qa")
            .order_by(InspectionDefect.id)).first()
        row = disputes.file(s, agent_id="A002", actor="bob", reason="no", defect_id=d.id)
        disputes.decide(s, row.id, outcome="upheld", note="ok", actor="qa2", role="inspector")
        cal = calibration.create(s, title="c", inspection_ids=[d.inspection_id], inspectors=["qa", "qa2"], actor="hr")
        item = calibration.view(s, cal.id, viewer="hr", role="hr").items[0].item.id
        calibration.score(s, cal.id, item, inspector="qa", role="inspector", form={"code": ["T1-01"]})
        calibration.score(s, cal.id, item, inspector="qa2", role="inspector", form={})
        calibration.agree(s, cal.id, item, actor="hr", role="hr", form={})
    return session_factory


def test_table(company) -> None:  # type: ignore[no-untyped-def]
    with company() as s:
        t = consistency.table(s, "2025-06")
    rows = {r.inspector: r for r in t.rows}
    assert rows["qa"].inspections == 9 and rows["qa2"].inspections == 1
    assert rows["qa2"].mean_score == Decimal("90.00") and rows["qa2"].per_tier[3] == Decimal("1.00")
    assert rows["qa"].disputes == 1 and rows["qa"].upheld == 1 and rows["qa"].upheld_rate == Decimal("100.00")
    assert rows["qa"].calibration == Decimal("2.00") and rows["qa2"].calibration == Decimal("0.00")
    assert t.team is not None and t.team.inspections == 10 and t.team.disputes == 1
    assert rows["qa2"].flagged and not rows["qa"].flagged and t.rows[0].inspector == "qa2"
    assert rows["qa2"].gap == rows["qa2"].mean_score - t.team.mean_score


def test_page_hr_sees_all_an_inspector_only_themselves(client, company) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, *PASSWORDS["hr"])
    client.cookies.set("lang", "en")
    page = client.get("/consistency?month=2025-06")
    assert page.status_code == 200 and 'data-inspector="qa"' in page.text and 'data-inspector="qa2"' in page.text
    assert "deviates most" in page.text
    client.cookies.clear()
    sign_in(client, *PASSWORDS["inspector"])
    page = client.get("/consistency?month=2025-06")
    assert 'data-inspector="qa"' in page.text and 'data-inspector="qa2"' not in page.text
    assert 'class="team"' in page.text
