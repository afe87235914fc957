"""SQLAlchemy tables. The schema is created only by Alembic migrations.

Natural keys from the import contract (``agent_id``, ``inspection_id``,
``agent_id``+``month``) are the primary keys, so re-importing a file is an upsert
by the same keys the files use. Nothing is ever deleted: corrections void a row
with a reason, and every change lands in ``audit_log``.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    LargeBinary,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class ExactDecimal(TypeDecorator[Decimal]):
    """NUMERIC on PostgreSQL; text on SQLite, which has no exact decimal storage."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 12, scale: int = 2) -> None:
        super().__init__()
        self.precision = precision
        self.scale = scale

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        value = Decimal(value)
        if dialect.name == "sqlite":
            return str(value)
        return value

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)) if not isinstance(value, Decimal) else value


class InputValues(TypeDecorator[dict[str, str]]):
    """One agent-month's inputs: a JSON object of decimal strings keyed by input key.

    JSONB on PostgreSQL, JSON text on SQLite. Bulk readers cast the column to text and
    parse it with orjson themselves; this type serves ORM reads and writes."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        return {str(k): str(v) for k, v in value.items()}

    def process_result_value(self, value: Any, dialect: Any) -> dict[str, str] | None:
        if value is None:
            return None
        return {str(k): str(v) for k, v in value.items()}


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Agent(Base):
    __tablename__ = "agents"

    agent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    track: Mapped[str] = mapped_column(String(16))
    team: Mapped[str] = mapped_column(String(100), default="")
    hired_on: Mapped[date] = mapped_column(Date)
    left_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    initial_level: Mapped[int] = mapped_column(Integer, default=1)
    probation_months: Mapped[int] = mapped_column(Integer, default=3)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_agents_name", "name"), Index("ix_agents_hired_on", "hired_on"),
                      Index("ix_agents_team", "team"))


class DefectType(Base):
    """The defect catalog as last loaded from the rulebook (for look-ups and forms)."""

    __tablename__ = "defect_types"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    tier: Mapped[int] = mapped_column(Integer)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Inspection(Base):
    __tablename__ = "inspections"

    inspection_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.agent_id"))
    contact_on: Mapped[date] = mapped_column(Date)
    month: Mapped[str] = mapped_column(String(7))
    channel: Mapped[str] = mapped_column(String(16))
    contact_ref: Mapped[str] = mapped_column(String(200), default="")
    inspector: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    voided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    voided_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    void_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    defects: Mapped[list["InspectionDefect"]] = relationship(
        back_populates="inspection", order_by="InspectionDefect.position", lazy="selectin"
    )

    __table_args__ = (
        Index("ix_inspections_agent_month", "agent_id", "month"),
        Index("ix_inspections_month", "month"),
        Index("ix_inspections_inspector_month", "inspector", "month"),
        Index("ix_inspections_agent_ref", "agent_id", "contact_ref"),
    )


class InspectionDefect(Base):
    """One defect occurrence; the same code may occur several times in one inspection."""

    __tablename__ = "inspection_defects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    inspection_id: Mapped[str] = mapped_column(ForeignKey("inspections.inspection_id"))
    position: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(ForeignKey("defect_types.code"))
    note: Mapped[str] = mapped_column(Text, default="")
    voided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    voided_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    void_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    inspection: Mapped[Inspection] = relationship(back_populates="defects")

    __table_args__ = (
        UniqueConstraint("inspection_id", "position", name="uq_inspection_defects_position"),
        Index("ix_inspection_defects_inspection", "inspection_id"),
    )


class MonthlyMetrics(Base):
    __tablename__ = "monthly_metrics"

    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.agent_id"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    # Input key -> decimal string, as declared by the rulebook in force for the month.
    values: Mapped[dict[str, str]] = mapped_column("values", InputValues)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_monthly_metrics_month", "month"),)


class RulebookVersion(Base):
    """One effective-dated version of the rulebook; the document is the whole rule set."""

    __tablename__ = "rulebook_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    effective_from: Mapped[str] = mapped_column(String(7))
    label: Mapped[str] = mapped_column(String(200), default="")
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(Text, default="")


class MonthResultRow(Base):
    """Cached output of the ladder for one agent-month (recomputed, never edited)."""

    __tablename__ = "month_results"

    # No foreign key to agents (revision 0106): the engine writes rows only for agents it
    # read, and the key kept SQLite from emptying the table in one step.
    agent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    rulebook_version: Mapped[int] = mapped_column(Integer)
    track: Mapped[str] = mapped_column(String(16))
    team: Mapped[str] = mapped_column(String(100), default="")
    tenure: Mapped[int] = mapped_column(Integer)
    on_probation: Mapped[bool] = mapped_column(Boolean)
    complete: Mapped[bool] = mapped_column(Boolean)
    n_inspections: Mapped[int] = mapped_column(Integer)
    quality: Mapped[Decimal | None] = mapped_column(ExactDecimal(6, 2), nullable=True)
    dimensions: Mapped[dict[str, Any]] = mapped_column(JSON)
    composite: Mapped[Decimal | None] = mapped_column(ExactDecimal(6, 2), nullable=True)
    band: Mapped[str | None] = mapped_column(String(32), nullable=True)
    all_dimensions_pass: Mapped[bool] = mapped_column(Boolean)
    error_defects: Mapped[int] = mapped_column(Integer)
    complaints: Mapped[int] = mapped_column(Integer)
    red_line_codes: Mapped[str] = mapped_column(Text, default="")
    level: Mapped[int] = mapped_column(Integer)
    level_since: Mapped[str] = mapped_column(String(7))
    below_floor: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(16))
    next_level: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(40))
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON)
    pay_grade: Mapped[str | None] = mapped_column(String(16), nullable=True)
    fixed_pay: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 2), nullable=True)
    coefficient: Mapped[Decimal | None] = mapped_column(ExactDecimal(6, 2), nullable=True)
    performance_pay: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 2), nullable=True)
    allowance: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 2), nullable=True)
    total_pay: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 2), nullable=True)

    __table_args__ = (
        Index("ix_month_results_month_event_rule", "month", "event", "rule"),
        Index("ix_month_results_month_level", "month", "level"),
        Index("ix_month_results_event_month", "event", "month"),
    )


class HrDecisionRow(Base):
    """HR's approve/hold of a proposed promotion. Append-only: the newest live row wins."""

    __tablename__ = "hr_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.agent_id"))
    month: Mapped[str] = mapped_column(String(7))
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    decided_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    voided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    voided_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    void_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_hr_decisions_agent_month", "agent_id", "month"),)


class RecomputeRequest(Base):
    """A company-wide re-evaluation owed from ``from_month`` on, run after the response by
    the web app's background worker (see services.recompute.run_pending); or, with
    ``agent_id``, the record that one agent's results were rewritten from ``from_month``."""

    __tablename__ = "recompute_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    from_month: Mapped[str] = mapped_column(String(7))
    reason: Mapped[str] = mapped_column(String(200), default="")
    requested_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Set on the record a one-agent re-evaluation leaves (born done): whose rows it rewrote.
    agent_id: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (Index("ix_recompute_requests_done", "done_at"),)


class IdCounter(Base):
    """A named running number (``inspection``: the number in web-entered inspection ids).

    On SQLite it is advanced inside the saving transaction (SQLite has one writer at a
    time anyway); PostgreSQL uses the sequence ``inspection_number_seq`` instead, which
    never makes concurrent saves wait for each other. See services.inspections.
    """

    __tablename__ = "id_counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.agent_id"), nullable=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    locale: Mapped[str | None] = mapped_column(String(8), nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AuditEntry(Base):
    """Append-only log of every change: who, when, what, why."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)


class SessionRow(Base):
    """Server-side web sessions (so no Redis is needed)."""

    __tablename__ = "web_sessions"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class LoginThrottle(Base):
    """Failed sign-ins per username and per client address, for slowing down guessing."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class MonthClose(Base):
    """HR closed a month for payroll. A row stays after a reopen (``reopened_*`` set), so
    every close and reopen is kept; a month is closed while its newest row is not reopened."""

    __tablename__ = "month_closes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    month: Mapped[str] = mapped_column(String(7))
    closed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    closed_by: Mapped[str] = mapped_column(String(100), default="")
    incomplete_confirmed: Mapped[list[str]] = mapped_column(JSON, default=list)
    reopened_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    reopened_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reopen_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_month_closes_month", "month"),)


class PayrollSnapshotRow(Base):
    """One agent's payroll line as it was when the month was closed (as paid)."""

    __tablename__ = "payroll_snapshots"

    close_id: Mapped[int] = mapped_column(ForeignKey("month_closes.id"), primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    name: Mapped[str] = mapped_column(String(200), default="")
    team: Mapped[str] = mapped_column(String(100), default="")
    track: Mapped[str] = mapped_column(String(16), default="")
    level: Mapped[int] = mapped_column(Integer)
    pay_grade: Mapped[str | None] = mapped_column(String(16), nullable=True)
    on_probation: Mapped[bool] = mapped_column(Boolean)
    complete: Mapped[bool] = mapped_column(Boolean)
    composite: Mapped[Decimal | None] = mapped_column(ExactDecimal(6, 2), nullable=True)
    coefficient: Mapped[Decimal | None] = mapped_column(ExactDecimal(6, 2), nullable=True)
    probation_factor: Mapped[Decimal | None] = mapped_column(ExactDecimal(6, 4), nullable=True)
    fixed_pay: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 2), nullable=True)
    performance_pay: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 2), nullable=True)
    allowance: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 2), nullable=True)
    total_pay: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 2), nullable=True)

    __table_args__ = (Index("ix_payroll_snapshots_month", "month"),)


class ReviewOutcomeRow(Base):
    """HR's outcome of a review case (复核). Append-only: the newest live row wins."""

    __tablename__ = "review_outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.agent_id"))
    month: Mapped[str] = mapped_column(String(7))
    outcome: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    decided_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    voided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (Index("ix_review_outcomes_agent_month", "agent_id", "month"),)


class InspectionAck(Base):
    """An agent has seen an inspection of theirs (one row per inspection, first time only)."""

    __tablename__ = "inspection_acks"

    inspection_id: Mapped[str] = mapped_column(ForeignKey("inspections.inspection_id"), primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.agent_id"))
    seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    seen_by: Mapped[str] = mapped_column(String(100), default="")

    __table_args__ = (Index("ix_inspection_acks_agent", "agent_id"),)


class Dispute(Base):
    """An agent's dispute of one defect (``defect_id``) or a whole inspection.

    Status: open → upheld | rejected; rejected → escalated (once) → hr_upheld | hr_rejected.
    ``inspector`` and ``month`` are copied from the inspection for the queue's filters.
    """

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    inspection_id: Mapped[str] = mapped_column(ForeignKey("inspections.inspection_id"))
    defect_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_defects.id"), nullable=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.agent_id"))
    month: Mapped[str] = mapped_column(String(7))
    inspector: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    reason: Mapped[str] = mapped_column(Text)
    filed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    filed_by: Mapped[str] = mapped_column(String(100), default="")
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    review_note: Mapped[str] = mapped_column(Text, default="")
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    escalation_note: Mapped[str] = mapped_column(Text, default="")
    final_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    final_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    final_note: Mapped[str] = mapped_column(Text, default="")
    # The agent has a decision on this dispute not yet seen on their disputes page.
    agent_unread: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index("ix_disputes_status", "status"),
        Index("ix_disputes_agent", "agent_id", "status"),
        Index("ix_disputes_inspection", "inspection_id"),
        Index("ix_disputes_inspector_month", "inspector", "month"),
    )


class CalibrationSession(Base):
    """Inspectors score the same contacts blind; the lead (its creator) settles the agreed score."""

    __tablename__ = "calibration_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    inspectors: Mapped[list[str]] = mapped_column(JSON, default=list)


class CalibrationItem(Base):
    """One contact (an inspection already recorded) in a calibration session."""

    __tablename__ = "calibration_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("calibration_sessions.id"))
    inspection_id: Mapped[str] = mapped_column(ForeignKey("inspections.inspection_id"))
    agreed_codes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    agreed_score: Mapped[Decimal | None] = mapped_column(ExactDecimal(6, 2), nullable=True)
    agreed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    agreed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (
        UniqueConstraint("session_id", "inspection_id", name="uq_calibration_items_contact"),
        Index("ix_calibration_items_inspection", "inspection_id"),
    )


class CalibrationScore(Base):
    """One inspector's blind score of one calibration contact."""

    __tablename__ = "calibration_scores"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("calibration_items.id"))
    inspector: Mapped[str] = mapped_column(String(100))
    codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    score: Mapped[Decimal] = mapped_column(ExactDecimal(6, 2))
    scored_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("item_id", "inspector", name="uq_calibration_scores_item_inspector"),)
