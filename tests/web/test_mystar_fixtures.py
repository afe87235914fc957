"""The seeded company plus one more month (2025-07) that exercises the star page:

- A001 (phone, 1★): one inspection and no metrics → an incomplete month;
- A002 (online, 1★): composite 58.00, below the 1★ floor 60 → one month from a review;
- A003 (phone, 2★): composite 63.47, below the 2★ floor 65 → one month from 1★; a voided
  defect, a voided inspection holding a red line, and an inspector's note.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from starlevel.db.engine import session_scope
from starlevel.db.models import InspectionDefect
from starlevel.services import corrections, rulebooks
from starlevel.services.importer import import_table
from starlevel.services.recompute import recompute
from tests.seed import AGENTS_CSV, PASSWORDS, inspections_csv, metrics_csv, months, seed_company

MONTH = "2025-07"

INSPECTIONS = """inspection_id,agent_id,contact_on,channel,contact_ref,inspector,defect_codes
J-A1-1,A001,2025-07-03,chat,R-1,qa,
J-A2-1,A002,2025-07-03,message,R-2,qa,T2-05;T2-05;T2-05
J-A2-2,A002,2025-07-04,message,R-3,qa,T2-05;T2-05;T2-05
J-A2-3,A002,2025-07-05,complaint,R-4,qa,T2-05;T2-05;T2-05
J-A3-1,A003,2025-07-03,phone,R-5,qa,T1-01
J-A3-2,A003,2025-07-04,chat,R-6,qa,T2-05;T1-03
J-A3-3,A003,2025-07-05,chat,R-7,qa,
J-A3-4,A003,2025-07-06,chat,R-8,qa,T3-01
"""

METRICS = """agent_id,month,satisfaction,efficiency,attitude,complaints
A002,2025-07,40,40,2,0
A003,2025-07,40,40,2,0
"""

NOTE = "Typo in the order number"
DEFECT_VOID_REASON = "Tagged on the wrong reply"
INSPECTION_VOID_REASON = "Duplicate of R-5"


def _seed_data_only(session_factory) -> None:  # type: ignore[no-untyped-def]
    """The data of :func:`tests.seed.seed_company` without its logins (hashing their
    passwords is what makes that seed slow; the read-model tests need no sign-in)."""
    ms = [m for m in months("2023-06", 40) if m <= "2025-06"]
    with session_scope(session_factory) as s:
        rulebooks.ensure_default(s)
        rb = rulebooks.current(s)
        today = date(2026, 11, 25)
        for kind, data in (("agents", AGENTS_CSV), ("inspections", inspections_csv(ms)), ("metrics", metrics_csv(ms))):
            import_table(s, kind, data.encode(), filename=f"{kind}.csv", actor="seed", rulebook=rb, today=today)
        recompute(s)


def seed_star_company(session_factory, *, logins: bool = True) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    if logins:
        seed_company(session_factory)
    else:
        _seed_data_only(session_factory)
    with session_scope(session_factory) as s:
        rb = rulebooks.current(s)
        today = date(2026, 11, 25)
        import_table(s, "inspections", INSPECTIONS.encode(), filename="i.csv", actor="qa", rulebook=rb, today=today)
        import_table(s, "metrics", METRICS.encode(), filename="m.csv", actor="qa", rulebook=rb, today=today)
        s.flush()
        typo = s.scalar(select(InspectionDefect).where(InspectionDefect.inspection_id == "J-A3-1"))
        assert typo is not None
        typo.note = NOTE
        wrong = s.scalar(
            select(InspectionDefect).where(InspectionDefect.inspection_id == "J-A3-2", InspectionDefect.code == "T2-05")
        )
        assert wrong is not None
        corrections.void_defect(s, wrong.id, reason=DEFECT_VOID_REASON, actor="qa")
        corrections.void_inspection(s, "J-A3-4", reason=INSPECTION_VOID_REASON, actor="qa")
        s.flush()
        recompute(s, start=MONTH)
    return PASSWORDS
