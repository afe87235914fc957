"""The database aggregation of inspections equals the pure domain arithmetic
(scoring.evidence_of), voids, repeats and the clamp at zero included."""

from __future__ import annotations

import random
from datetime import date

from starlevel.db.engine import session_scope
from starlevel.db.models import Agent, Inspection, InspectionDefect, utcnow
from starlevel.domain.scoring import evidence_of
from starlevel.services import rulebooks
from starlevel.services.recompute import load_evidence

CODES = ["T1-01", "T1-02", "T2-05", "T2-08", "T3-01", "T3-03"]


def test_sql_evidence_equals_domain_evidence(session_factory):
    rng = random.Random(12)
    expected_codes: dict[tuple[str, str], list[list[str]]] = {}
    with session_scope(session_factory) as s:
        rulebooks.ensure_default(s)
        for a in range(6):
            s.add(Agent(agent_id=f"E{a}", name=f"E{a}", track="phone", team="T", hired_on=date(2024, 1, 1)))
        s.flush()
        n = 0
        for a in range(6):
            for month in ("2024-03", "2024-04", "2024-05"):
                for _ in range(rng.randint(0, 6)):
                    n += 1
                    if rng.random() < 0.1:
                        codes = ["T3-01"] * rng.randint(10, 13)  # deductions past 100: the score stops at 0
                    else:
                        codes = [rng.choice(CODES) for _ in range(rng.randint(0, 4))]
                    voided = rng.random() < 0.1
                    insp = Inspection(inspection_id=f"I{n}", agent_id=f"E{a}", contact_on=date(2024, int(month[5:]), 3),
                                      month=month, channel="chat", contact_ref=f"r{n}", inspector="qa",
                                      voided_at=utcnow() if voided else None, void_reason="x" if voided else None)
                    kept = []
                    defects = []
                    for pos, code in enumerate(codes):
                        dv = rng.random() < 0.1
                        defects.append(InspectionDefect(position=pos, code=code, voided_at=utcnow() if dv else None,
                                                        void_reason="x" if dv else None))
                        if not dv:
                            kept.append(code)
                    insp.defects = defects
                    s.add(insp)
                    if not voided:
                        expected_codes.setdefault((f"E{a}", month), []).append(kept)
        s.flush()
        rb = rulebooks.current(s)
        for whole in (True, False):
            got = load_evidence(s, [rb], "2024-01", "2024-12", whole=whole)
            want = {key: evidence_of(lists, rb) for key, lists in expected_codes.items()}
            assert {k: (v.n_inspections, v.score_sum, v.error_defects, sorted(v.red_line_codes)) for k, v in got.items()} == \
                   {k: (v.n_inspections, v.score_sum, v.error_defects, sorted(v.red_line_codes)) for k, v in want.items()}
        one = load_evidence(s, [rb], "2024-04", "2024-04", agent_id="E2")
        assert set(one) <= {("E2", "2024-04")}
        if ("E2", "2024-04") in expected_codes:
            assert one[("E2", "2024-04")].score_sum == evidence_of(expected_codes[("E2", "2024-04")], rb).score_sum
