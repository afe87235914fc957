"""Calibration sessions: blind scoring, the spread, the agreed score and correcting the original."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from starlevel.db.engine import session_scope
from starlevel.db.models import Inspection, InspectionDefect
from starlevel.services import calibration as svc
from starlevel.services import users
from tests.seed import seed_company


@pytest.fixture
def company(session_factory):  # type: ignore[no-untyped-def]
    seed_company(session_factory)
    with session_scope(session_factory) as s:
        users.create_user(s, "qa2", role="inspector", password="qa2-pass-12")
        users.create_user(s, "qa3", role="inspector", password="qa3-pass-12")
        iid = s.scalar(select(Inspection.inspection_id).join(InspectionDefect).where(
            Inspection.agent_id == "A002", Inspection.month == "2025-06", InspectionDefect.code == "T2-05"))
    return session_factory, iid


def test_blind_scores_spread_agreement_and_correction(company) -> None:  # type: ignore[no-untyped-def]
    factory, iid = company
    with session_scope(factory) as s:
        with pytest.raises(svc.CalibrationError) as bad:
            svc.create(s, title=" ", inspection_ids="NOPE", inspectors=["ghost"], actor="hr")
        assert {p.key for p in bad.value.problems} == {"title.missing", "contact.unknown", "inspector.unknown",
                                                        "inspectors.too_few"}
        row = svc.create(s, title="June", inspection_ids=iid, inspectors=["qa", "qa2", "qa3"], actor="hr")
        sid = row.id
        item = svc.view(s, sid, viewer="hr", role="hr").items[0].item.id
    with session_scope(factory) as s:
        with pytest.raises(svc.CalibrationError) as outsider:
            svc.view(s, sid, viewer="bob", role="inspector")
        assert outsider.value.status == 404
        svc.score(s, sid, item, inspector="qa", role="inspector", form={"code": ["T2-05"]})
        svc.score(s, sid, item, inspector="qa2", role="inspector", form={"code": ["T2-05", "T1-01"]})
        blind = svc.view(s, sid, viewer="qa2", role="inspector")
        assert not blind.complete and blind.items[0].scores == [] and blind.items[0].original_score is None
        assert blind.items[0].mine.score == Decimal("93")
        with pytest.raises(svc.CalibrationError) as early:
            svc.agree(s, sid, item, actor="hr", role="hr", form={})
        assert early.value.problems[0].key == "agree.waiting"
        svc.score(s, sid, item, inspector="qa3", role="inspector", form={})
    with session_scope(factory) as s:
        done = svc.view(s, sid, viewer="qa3", role="inspector")
        v = done.items[0]
        assert done.complete and [x.score for x in v.scores] == [Decimal("95"), Decimal("93"), Decimal("100")]
        assert v.spread == Decimal("7") and v.proposed == ["T2-05"] and v.original_codes == ["T2-05"]
        with pytest.raises(svc.CalibrationError) as late:
            svc.score(s, sid, item, inspector="qa3", role="inspector", form={"code": ["T1-01"]})
        assert late.value.problems[0].key == "score.closed"
        with pytest.raises(svc.CalibrationError) as not_lead:
            svc.agree(s, sid, item, actor="qa", role="inspector", form={})
        assert not_lead.value.status == 403
        svc.agree(s, sid, item, actor="hr", role="hr", form={})  # the lead agrees: no defect
        assert svc.deviations(s) == {"qa": (Decimal("5.00"), 1), "qa2": (Decimal("7.00"), 1), "qa3": (Decimal("0.00"), 1)}
        assert s.get(Inspection, iid).defects[0].voided_at is None  # the original stays
        assert svc.apply(s, sid, item, actor="hr", role="hr") == 1
    with session_scope(factory) as s:
        d = s.get(Inspection, iid).defects[0]
        assert d.voided_by == "hr" and d.void_reason.startswith(f"calibration session #{sid}")


def test_majority() -> None:
    assert svc.majority([["A", "A", "B"], ["A"], ["A", "A"]]) == ["A", "A"]
    assert svc.majority([["A"], ["B"], []]) == []
