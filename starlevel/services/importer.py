"""Import agents, inspections and monthly metrics from CSV or XLSX (spec §7).

An import is all or nothing. Every row is checked first, against the rulebook, against
the other rows of the file and against the database; if anything is wrong the import
raises :class:`ImportRejected` listing every bad row (row number, column, problem) and
writes nothing. Otherwise the rows are written in the caller's session (the caller
commits), keyed by ``agent_id`` / ``inspection_id`` / ``agent_id``+``month``:

- a row identical to the stored one changes nothing (re-importing a file is a no-op:
  no writes, no audit entries);
- a changed agent or metrics row is updated, with one audit entry per row holding the
  values before and after (corrections are never silent);
- an inspection is never changed by an import: one that exists with other content is
  an error, because inspections are corrected by voiding them in the app;
- new rows are inserted with bulk executemany, and logged by one summary audit entry.

Speed matters (the benchmark imports 1.8 million inspections): the checks run over plain
tuples with per-value caches, existing keys are looked up in chunks only when the table
already holds rows, and inserts go straight to the driver's ``executemany``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from sqlite3 import SQLITE_LIMIT_VARIABLE_NUMBER
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, Table, Text, bindparam, cast, func, insert, select, tuple_, update
from sqlalchemy.orm import Session

from starlevel.db.engine import refresh_statistics
from starlevel.db.models import Agent, DefectType, Inspection, InspectionDefect, MonthlyMetrics, utcnow
from starlevel.domain.inputs import InputProblem, format_decimal, parse_input
from starlevel.domain.model import CHANNELS
from starlevel.services import audit, file_problems
from starlevel.services import months as months_service
from starlevel.services import rulebooks as rulebook_store
from starlevel.services.tabular import EXTRA, UPLOAD_LIMITS, Limits, TableError, read_table
from starlevel.services.tabular import Table as TabularTable

__all__ = [
    "COLUMNS",
    "KINDS",
    "MAX_ERRORS",
    "ImportRejected",
    "ImportResult",
    "RowError",
    "import_table",
    "metrics_columns",
]

Kind = Literal["agents", "inspections", "metrics"]
KINDS: tuple[str, ...] = ("agents", "inspections", "metrics")

#: kind -> (required columns, optional columns), in the order of spec §7.
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "agents": (("agent_id", "name", "track", "team", "hired_on"), ("left_on", "initial_level", "probation_months")),
    "inspections": (("inspection_id", "agent_id", "contact_on", "channel", "contact_ref", "inspector", "defect_codes"), ()),
    "metrics": (("agent_id", "month", "satisfaction", "efficiency", "attitude", "complaints"), ()),
}
# (The metrics columns above are those of the default rulebook; the columns of a file are
# those of the rulebooks loaded, see metrics_columns.)

#: Bounds of whole-number cells (the columns are 32-bit integers; beyond these a value is a typo).
MAX_COMPLAINTS = 100_000
MAX_PROBATION_MONTHS = 120

#: At most this many problems are listed; one more entry says how many were left out.
MAX_ERRORS = 1000
#: Call ``progress`` about every this many rows.
PROGRESS_EVERY = 50_000
#: Inserting at least this many inspections (and no fewer than are stored) rebuilds
#: the SQLite indexes once at the end instead of updating them row by row.
BULK_LOAD_ROWS = 100_000
#: Rows per executemany call.
WRITE_CHUNK = 20_000
#: Keys per ``IN (...)`` look-up (fewer where SQLite allows fewer bound parameters).
LOOKUP_CHUNK = 5000

# Column sizes of the schema: PostgreSQL enforces them, so they are checked up front.
_LIMITS = {
    "agent_id": 64, "name": 200, "team": 100, "inspection_id": 64, "contact_ref": 200, "inspector": 100,
}

_IF_NOT_EXISTS = re.compile(r"^(CREATE\s+(?:UNIQUE\s+)?INDEX)\s+(?!IF\s)", re.IGNORECASE)
_INT_RE = re.compile(r"^[0-9]+\Z")
#: Agent IDs: letters, digits, '-', '_' and '.', starting with a letter or digit, so that an
#: ID is never a spreadsheet formula (=, +, -, @) nor needs quoting anywhere.
_AGENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\Z")


# ------------------------------------------------------------------------------ results


@dataclass(frozen=True, slots=True)
class Msg:
    """A problem as a code of :mod:`starlevel.services.file_problems` and its parameters."""

    code: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, code: str, **params: Any) -> Msg:
        return cls(code, tuple(params.items()))


_EMPTY = Msg.of("cell.empty")


@dataclass
class RowError:
    """One problem. ``row`` is the row number in the file (header = 1); 0 means the file
    as a whole or its header. ``column`` is empty when the problem is not about one column.
    ``code`` and ``params`` name the problem (rendered in any language by :meth:`text`);
    ``problem`` is its English sentence."""

    row: int
    column: str
    problem: str
    code: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, row: int, column: str, code: str, params: dict[str, Any] | None = None) -> RowError:
        params = params or {}
        return cls(row, column, file_problems.render(code, params), code, params)

    def where(self, lang: str = "en") -> str:
        r = file_problems.render_for(lang)
        if self.row > 0:
            return r("where.row_column" if self.column else "where.row", {"row": self.row, "column": self.column})
        return r("where.header_column" if self.column else "where.file", {"column": self.column})

    def text(self, lang: str = "en") -> str:
        """The problem alone, in ``lang``."""
        if not self.code or lang == "en":
            return self.problem
        return file_problems.render_for(lang)(self.code, self.params)

    def line(self, lang: str = "en") -> str:
        return file_problems.render_for(lang)("where.line", {"where": self.where(lang), "problem": self.text(lang)})

    def __str__(self) -> str:
        return self.line("en")


def rejection_lines(name: str, errors: list[RowError], lang: str = "en") -> list[str]:
    """A rejected file's problems as lines of text in ``lang`` (the command line prints them)."""
    r = file_problems.render_for(lang)
    return [r("rejected.head", {"file": name, "count": len(errors)})] + [f"  {e.line(lang)}" for e in errors]


class ImportRejected(Exception):
    """The file was rejected and nothing was written. ``errors`` lists every problem
    (at most :data:`MAX_ERRORS`, then one entry counting the rest)."""

    def __init__(self, errors: list[RowError], *, filename: str = "", kind: str = "") -> None:
        self.errors = errors
        self.filename = filename
        self.kind = kind
        shown = "\n".join(f"  {e}" for e in errors[:20])
        more = f"\n  … ({len(errors) - 20} more listed)" if len(errors) > 20 else ""
        super().__init__(f"{filename or kind or 'import'}: rejected, nothing was written:\n{shown}{more}")


@dataclass
class ImportResult:
    kind: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    first_affected_month: str | None


class _Errors:
    def __init__(self, cap: int = MAX_ERRORS) -> None:
        self.items: list[RowError] = []
        self.count = 0
        self.cap = cap

    def add(self, row: int, column: str, msg: Msg) -> None:
        self.count += 1
        if len(self.items) < self.cap:
            self.items.append(RowError.of(row, column, msg.code, dict(msg.params)))

    def __bool__(self) -> bool:
        return self.count > 0

    def listing(self) -> list[RowError]:
        items = sorted(self.items, key=lambda e: (e.row, e.column))
        if self.count > len(items):
            items.append(RowError.of(0, "", "errors.more", {"count": self.count - len(items)}))
        return items


# ------------------------------------------------------------------------ value parsing


def _month_text(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def _parse_date(text: str) -> date | Msg:
    """A ``YYYY-MM-DD`` date, or the problem."""
    digits = text[:4] + text[5:7] + text[8:]
    if len(text) != 10 or text[4] != "-" or text[7] != "-" or not (digits.isascii() and digits.isdigit()):
        return Msg.of("date.invalid", value=repr(text))
    try:
        return date.fromisoformat(text)
    except ValueError:
        return Msg.of("date.unreal", value=repr(text))


def _parse_month(text: str) -> Msg | None:
    """None when ``text`` is a real ``YYYY-MM`` month, else the problem."""
    digits = text[:4] + text[5:]
    if len(text) == 7 and text[4] == "-" and digits.isascii() and digits.isdigit():
        if 1 <= int(text[5:]) <= 12 and int(text[:4]) >= 1:
            return None
        return Msg.of("month.unreal", value=repr(text))
    if isinstance(_parse_date(text), date):
        return Msg.of("month.invalid_date_like", value=repr(text))
    return Msg.of("month.invalid", value=repr(text))


def _employment_problem(what: Any, month: str, info: _AgentInfo) -> Msg | None:
    """``what``: text, or a ``(code, params)`` message of its own."""
    if month < info.hire_month:
        return Msg.of("employment.before_hire", what=what, agent_id=info.agent_id, hire_month=info.hire_month,
                      hired_on=str(info.hired_on))
    if info.left_on is not None and month > info.leave_month:
        return Msg.of("employment.after_leave", what=what, agent_id=info.agent_id, leave_month=info.leave_month,
                      left_on=str(info.left_on))
    return None


def _whole_number_problem(text: str, limit: int, code: str) -> Msg:
    """Why ``text`` is not a whole number from 0 to ``limit``."""
    if not text:
        return _EMPTY
    if _INT_RE.match(text):
        return Msg.of("number.too_big", value=repr(text), limit=limit)
    return Msg.of(code, value=repr(text))


def _input_msg(problem: InputProblem) -> Msg:
    """A monthly input's problem (domain.inputs) as a file problem of the same code."""
    code = problem.code
    if code == "input.range":
        code = "input.range_below" if " is below " in problem.template else "input.range_above"
    return Msg.of(code, **problem.params)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _iso(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


# ------------------------------------------------------------------------- db helpers


@dataclass(frozen=True, slots=True)
class _AgentInfo:
    agent_id: str
    hired_on: date
    left_on: date | None
    hire_month: str
    leave_month: str  # "9999-12" while still employed


def _agent_info(agent_id: str, hired_on: date, left_on: date | None) -> _AgentInfo:
    return _AgentInfo(
        agent_id, hired_on, left_on, _month_text(hired_on), _month_text(left_on) if left_on else "9999-12"
    )


class _Db:
    """The caller's connection plus the dialect-specific bits of bulk writing."""

    def __init__(self, session: Session) -> None:
        session.flush()
        self.session = session
        self.conn: Connection = session.connection()
        self.dialect = self.conn.dialect
        self.id_chunk = LOOKUP_CHUNK
        if self.dialect.name == "sqlite":
            raw = self.conn.connection.driver_connection
            limit = raw.getlimit(SQLITE_LIMIT_VARIABLE_NUMBER) if hasattr(raw, "getlimit") else 999
            self.id_chunk = max(1, min(LOOKUP_CHUNK, limit - 1))
        self.pair_chunk = max(1, self.id_chunk // 2)
        self.write_chunk = WRITE_CHUNK
        style = self.dialect.paramstyle
        self.placeholder = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(style)

    def binder(self, column: Any) -> Callable[[Any], Any]:
        """The driver-level value of ``column``'s type (e.g. dates as text on SQLite)."""
        proc = column.type.dialect_impl(self.dialect).bind_processor(self.dialect)
        return proc if proc is not None else (lambda v: v)

    def is_empty(self, table: Table) -> bool:
        return self.conn.execute(select(1).select_from(table).limit(1)).first() is None

    def count(self, table: Table) -> int:
        return int(self.conn.execute(select(func.count()).select_from(table)).scalar_one())

    @contextmanager
    def indexes_built_after(self, tables: Sequence[Table]) -> Iterator[None]:
        """On SQLite, drop the tables' secondary indexes for the block and build them again
        after it: one sort per index instead of a B-tree insert per row (measured on 1.4
        million inspections: 11–29 s of inserting with the indexes, 8–10 s without them
        plus the rebuild). The indexes are
        re-created from their stored SQL, in the same transaction, so the schema never
        changes as seen from outside. A no-op where that cannot be done safely: on other
        databases, or when no transaction is open (SQLite DDL would then autocommit)."""
        raw = self.conn.connection.driver_connection
        if self.dialect.name != "sqlite" or not getattr(raw, "in_transaction", False):
            yield
            return
        names = [t.name for t in tables]
        marks = ", ".join("?" * len(names))
        indexes = self.conn.exec_driver_sql(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({marks}) ORDER BY name",
            tuple(names),
        ).all()
        q = self.dialect.identifier_preparer.quote
        for name, _sql in indexes:
            self.conn.exec_driver_sql(f"DROP INDEX {q(name)}")
        try:
            yield
        finally:
            # If SQLite itself rolled the transaction back (it does on some errors), the
            # drops were undone with it and there is nothing to rebuild.
            if raw.in_transaction:
                for _name, sql in indexes:
                    self.conn.exec_driver_sql(_IF_NOT_EXISTS.sub(r"\1 IF NOT EXISTS ", sql, count=1))

    def insert_many(
        self,
        table: Table,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        *,
        constants: dict[str, str] | None = None,
    ) -> int:
        """executemany of driver-ready tuples (call it with chunks of a few 10,000 rows).
        ``constants`` are text values shared by every row, written into the statement."""
        if not rows:
            return 0
        q = self.dialect.identifier_preparer.quote
        names = list(columns) + list(constants or ())
        raw = self.conn.connection.driver_connection
        if self.dialect.name == "postgresql" and type(raw).__module__.startswith("psycopg."):
            # psycopg 3: COPY is several times faster than executemany on PostgreSQL.
            tail = tuple((constants or {}).values())
            sql = f"COPY {q(table.name)} ({', '.join(q(c) for c in names)}) FROM STDIN"
            with raw.cursor() as cursor, cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row + tail if tail else row)
            return len(rows)
        if self.placeholder is None:  # pragma: no cover - every supported driver has one
            extra = dict(constants or {})
            self.conn.execute(insert(table), [dict(zip(columns, r)) | extra for r in rows])
            return len(rows)
        marks = [self.placeholder] * len(columns)
        for v in (constants or {}).values():
            literal = "'" + v.replace("'", "''") + "'"
            marks.append(literal.replace("%", "%%") if self.placeholder == "%s" else literal)
        sql = f"INSERT INTO {q(table.name)} ({', '.join(q(c) for c in names)}) VALUES ({', '.join(marks)})"
        total = 0
        for chunk in _chunks(rows, self.write_chunk):
            self.conn.exec_driver_sql(sql, chunk if isinstance(chunk, list) else list(chunk))
            total += len(chunk)
        return total

    def load_agents(self) -> dict[str, _AgentInfo]:
        t = Agent.__table__
        return {
            a: _agent_info(a, h, l)
            for a, h, l in self.conn.execute(select(t.c.agent_id, t.c.hired_on, t.c.left_on))
        }

    def ensure_defect_types(self, codes: set[str], rulebook: Any) -> None:
        """inspection_defects.code refers to defect_types: add catalog entries it lacks."""
        if not codes:
            return
        t = DefectType.__table__
        have = set(self.conn.execute(select(t.c.code)).scalars())
        missing = sorted(codes - have)
        if missing:
            rows = []
            for code in missing:
                d = rulebook.defect(code)
                rows.append({"code": d.code, "tier": d.tier, "name_zh": d.zh, "name_en": d.en, "active": True})
            self.conn.execute(insert(t), rows)


# ---------------------------------------------------------------------------- the API


def import_table(
    session: Session,
    kind: Kind,
    data: bytes,
    *,
    filename: str,
    actor: str,
    rulebook: Any,
    today: date | None = None,
    progress: Callable[[int, int], None] | None = None,
    limits: Limits = UPLOAD_LIMITS,
    own_inspector: str | None = None,
) -> ImportResult:
    """Check and import one file of ``kind`` (``agents``, ``inspections`` or ``metrics``).

    Raises :class:`ImportRejected` with every problem and writes nothing when any row is
    bad; otherwise writes in ``session`` without committing. ``progress(done, total)`` is
    called about every 50,000 checked rows and once when all rows are checked
    (``total`` is an estimate until that last call). ``limits`` bound what reading the
    file may cost (size, rows, columns, time; see :mod:`starlevel.services.tabular`).
    ``own_inspector``: when given, every inspection's ``inspector`` must be this name (an
    inspector uploads only their own findings; the uploader is recorded as ``created_by``).
    """
    if kind not in COLUMNS:
        raise ValueError(f"unknown import kind {kind!r}; expected one of {', '.join(KINDS)}")
    today = today or date.today()
    try:
        table = read_table(data, filename=filename, limits=limits)
    except TableError as exc:
        raise ImportRejected([RowError(exc.row, exc.column, exc.problem, exc.code, exc.params)],
                             filename=filename, kind=kind) from None

    errors = _Errors()
    books: list[Any] = [rulebook]
    columns = COLUMNS[kind]
    if kind == "metrics":
        books = rulebook_store.load_all(session) or books
        columns = metrics_columns(books)
    _check_header(kind, columns, table.header, errors)
    if errors:
        raise ImportRejected(errors.listing(), filename=filename, kind=kind)

    ctx = _Context(
        session=session, db=_Db(session), kind=kind, filename=filename, actor=actor, rulebook=rulebook,
        today=today, errors=errors, progress=progress, estimated=table.estimated_rows,
        own_inspector=own_inspector, rulebooks=books,
    )
    runner = {"agents": _AgentsImport, "inspections": _InspectionsImport, "metrics": _MetricsImport}[kind](ctx)
    try:
        runner.check(_without_nul(table, errors))
    except TableError as exc:
        errors.add(exc.row, exc.column, Msg(exc.code, tuple(exc.params.items())))
    # The rows that passed are also checked against the database, so that one rejection
    # lists every problem of the file.
    runner.check_database()
    _check_closed_months(session, runner, errors)
    if errors:
        raise ImportRejected(errors.listing(), filename=filename, kind=kind)
    result = runner.write()
    refresh_statistics(session)
    return result


def _check_closed_months(session: Session, runner: Any, errors: _Errors) -> None:
    """A file that would change a month closed for payroll is refused as a whole, naming
    each such row (rows already stored identically change nothing and pass)."""
    through = months_service.closed_through(session)
    if through is None:
        return
    for row, column, month in runner.changed_rows():
        if month <= through:
            errors.add(row, column, Msg.of("month.closed", month=month))


def _check_header(
    kind: str, columns: tuple[tuple[str, ...], tuple[str, ...]], header: list[str], errors: _Errors,
) -> None:
    required, optional = columns
    known = set(required) | set(optional)
    seen: set[str] = set()
    for i, name in enumerate(header, start=1):
        if not name:
            errors.add(0, "", Msg.of("header.unnamed", index=i))
        elif name in seen:
            errors.add(0, name, Msg.of("header.duplicate"))
        elif name not in known:
            errors.add(0, name, Msg.of("header.unknown", kind=kind, columns=", ".join(required + optional)))
        seen.add(name)
    for name in required:
        if name not in seen:
            errors.add(0, name, Msg.of("header.missing"))


@dataclass
class _Context:
    session: Session
    db: _Db
    kind: str
    filename: str
    actor: str
    rulebook: Any
    today: date
    errors: _Errors
    progress: Callable[[int, int], None] | None
    estimated: int
    own_inspector: str | None = None
    rulebooks: list[Any] = field(default_factory=list)
    rows: int = 0
    reason: str = field(init=False)

    def __post_init__(self) -> None:
        self.reason = f"import of {self.filename}"

    def tick(self, done: int) -> None:
        if self.progress is not None:
            self.progress(done, max(done, self.estimated))

    def finish_checking(self, done: int) -> None:
        self.rows = done
        if self.progress is not None:
            self.progress(done, done)

    def summary(self, inserted: int, updated: int, unchanged: int) -> None:
        if inserted or updated:
            audit.record_many(self.session, [audit.Entry(
                self.actor, "import", self.kind, self.filename, reason=self.reason,
                detail={"filename": self.filename, "rows": self.rows, "inserted": inserted,
                        "updated": updated, "unchanged": unchanged},
            )])


def _without_nul(table: TabularTable, errors: _Errors) -> TabularTable:
    """``table`` without its rows that hold the NUL character (U+0000) in a cell, each such
    cell reported. PostgreSQL refuses NUL in any text it compares or stores, so these values
    may not reach the checks that look rows up (a 500 there); the file is rejected anyway."""
    header = table.header

    def records() -> Iterator[tuple[int, list[str]]]:
        for number, cells in table.records:
            if any("\x00" in c for c in cells):
                for i, c in enumerate(cells):
                    if "\x00" in c:
                        errors.add(number, header[i] if i < len(header) else "", Msg.of("cell.nul"))
                continue
            yield number, cells

    return replace(table, records=records())


def _text(rec: dict[Any, Any], column: str) -> str:
    value = rec.get(column)
    return value.strip() if value else ""


def _required(ctx: _Context, row: int, rec: dict[Any, Any], column: str) -> str | None:
    """The trimmed value of ``rec[column]``, or None after recording that it is empty or
    too long."""
    value = rec[column].strip()
    if not value:
        ctx.errors.add(row, column, _EMPTY)
        return None
    limit = _LIMITS.get(column)
    if limit is not None and len(value) > limit:
        ctx.errors.add(row, column, Msg.of("cell.too_long", length=len(value), limit=limit))
        return None
    return value


def _extra_cells(ctx: _Context, row: int, extra: list[str] | None) -> bool:
    if extra:
        ctx.errors.add(row, "", Msg.of("cell.extra", count=len(extra), values=", ".join(repr(v) for v in extra[:3])))
        return True
    return False


# ------------------------------------------------------------------------------ agents

# Stored values of one agent, in this order (compared as a whole, written as a row).
_AGENT_FIELDS = ("name", "track", "team", "hired_on", "left_on", "initial_level", "probation_months")


class _AgentsImport:
    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx
        self.rows: dict[str, tuple[int, tuple[Any, ...]]] = {}  # agent_id -> (row, values)
        self.new: list[str] = []
        self.changed: list[tuple[str, tuple[Any, ...]]] = []  # (agent_id, old values)
        self.unchanged = 0

    def changed_rows(self) -> Iterator[tuple[int, str, str]]:
        """Agent records carry no month's inputs; results of closed months stay frozen
        by the recompute (services.months)."""
        return iter(())

    def check(self, table: TabularTable) -> None:
        rows = table.rows
        ctx = self.ctx
        rb = ctx.rulebook
        tracks = tuple(rb.tracks)
        levels = tuple(rb.levels)
        default_level = rb.min_level
        default_probation = getattr(rb, "probation_months", 3)
        err = ctx.errors.add
        n = 0
        for row, rec in rows:
            n += 1
            if n % PROGRESS_EVERY == 0:
                ctx.tick(n)
            bad = _extra_cells(ctx, row, rec.get(EXTRA))
            agent_id = _required(ctx, row, rec, "agent_id")
            if agent_id is not None and not _AGENT_ID_RE.match(agent_id):
                err(row, "agent_id", Msg.of("cell.unsafe_id", value=repr(agent_id)))
                agent_id = None
            name = _required(ctx, row, rec, "name")
            team = _required(ctx, row, rec, "team")
            track = rec["track"].strip()
            if not track:
                err(row, "track", _EMPTY)
                bad = True
            elif track not in tracks:
                err(row, "track", Msg.of("track.unknown", value=repr(track), tracks=", ".join(tracks)))
                bad = True
            hired_text = rec["hired_on"].strip()
            hired_on: date | None = None
            if not hired_text:
                err(row, "hired_on", _EMPTY)
            else:
                parsed = _parse_date(hired_text)
                if isinstance(parsed, Msg):
                    err(row, "hired_on", parsed)
                else:
                    hired_on = parsed
            left_text = _text(rec, "left_on")
            left_on: date | None = None
            if left_text:
                parsed = _parse_date(left_text)
                if isinstance(parsed, Msg):
                    err(row, "left_on", parsed)
                    bad = True
                else:
                    left_on = parsed
                    if hired_on is not None and left_on < hired_on:
                        err(row, "left_on", Msg.of("date.before_hired", value=left_text, hired_on=hired_on.isoformat()))
                        bad = True
            level_text = _text(rec, "initial_level")
            level = default_level
            if level_text:
                if _INT_RE.match(level_text) and int(level_text) in levels:
                    level = int(level_text)
                else:
                    err(row, "initial_level", Msg.of("level.unknown", value=repr(level_text),
                                                     levels=", ".join(str(x) for x in levels)))
                    bad = True
            probation_text = _text(rec, "probation_months")
            probation = default_probation
            if probation_text:
                if _INT_RE.match(probation_text) and int(probation_text) <= MAX_PROBATION_MONTHS:
                    probation = int(probation_text)
                else:
                    err(row, "probation_months",
                        _whole_number_problem(probation_text, MAX_PROBATION_MONTHS, "probation.invalid"))
                    bad = True
            if bad or agent_id is None or name is None or team is None or hired_on is None:
                continue
            values = (name, track, team, hired_on, left_on, level, probation)
            first = self.rows.get(agent_id)
            if first is None:
                self.rows[agent_id] = (row, values)
            elif first[1] != values:
                column = _AGENT_FIELDS[next(i for i, (a, b) in enumerate(zip(first[1], values)) if a != b)]
                err(row, column, Msg.of("agent.repeat", agent_id=agent_id, column=column, first=first[0]))
            else:
                self.unchanged += 1  # an identical repeat
        ctx.finish_checking(n)

    def check_database(self) -> None:
        ctx = self.ctx
        t = Agent.__table__
        existing: dict[str, tuple[Any, ...]] = {}
        cols = [t.c[f] for f in _AGENT_FIELDS]
        ids = list(self.rows)
        if ids and not ctx.db.is_empty(t):
            for chunk in _chunks(ids, ctx.db.id_chunk):
                for r in ctx.db.conn.execute(select(t.c.agent_id, *cols).where(t.c.agent_id.in_(chunk))):
                    existing[r[0]] = tuple(r[1:])
        for agent_id, (row, values) in self.rows.items():
            old = existing.get(agent_id)
            if old is None:
                self.new.append(agent_id)
            elif old == values:
                self.unchanged += 1
            else:
                self.changed.append((agent_id, old))
        # Moving hired_on / left_on must not strand the agent's existing data.
        moved = [
            (a, old) for a, old in self.changed
            if (old[3], old[4]) != (self.rows[a][1][3], self.rows[a][1][4])
        ]
        if not moved:
            return
        spans: dict[str, list[tuple[str, str, str]]] = {}
        it, mt = Inspection.__table__, MonthlyMetrics.__table__
        for chunk in _chunks([a for a, _ in moved], ctx.db.id_chunk):
            q1 = (select(it.c.agent_id, func.min(it.c.month), func.max(it.c.month))
                  .where(it.c.agent_id.in_(chunk), it.c.voided_at.is_(None)).group_by(it.c.agent_id))
            q2 = (select(mt.c.agent_id, func.min(mt.c.month), func.max(mt.c.month))
                  .where(mt.c.agent_id.in_(chunk)).group_by(mt.c.agent_id))
            for label, q in (("what.inspections", q1), ("what.metrics", q2)):
                for a, lo, hi in ctx.db.conn.execute(q):
                    spans.setdefault(a, []).append((label, lo, hi))
        for agent_id, _old in moved:
            row, values = self.rows[agent_id]
            info = _agent_info(agent_id, values[3], values[4])
            for label, lo, hi in spans.get(agent_id, ()):
                if lo < info.hire_month:
                    ctx.errors.add(row, "hired_on", Msg.of(
                        "agent.moves_data_before", hired_on=str(info.hired_on), agent_id=agent_id, what=(label, {}),
                        month=lo, hire_month=info.hire_month))
                if info.left_on is not None and hi > info.leave_month:
                    ctx.errors.add(row, "left_on", Msg.of(
                        "agent.moves_data_after", left_on=str(info.left_on), agent_id=agent_id, what=(label, {}),
                        month=hi, leave_month=info.leave_month))

    def write(self) -> ImportResult:
        ctx = self.ctx
        db = ctx.db
        t = Agent.__table__
        now = utcnow()
        b_date = db.binder(t.c.hired_on)
        b_now = db.binder(t.c.created_at)(now)
        months: list[str] = []
        if self.new:
            batch = []
            for agent_id in self.new:
                name, track, team, hired_on, left_on, level, probation = self.rows[agent_id][1]
                months.append(_month_text(hired_on))
                batch.append((agent_id, name, track, team, b_date(hired_on),
                              b_date(left_on) if left_on else None, level, probation, b_now, b_now))
            db.insert_many(t, ("agent_id", "name", "track", "team", "hired_on", "left_on", "initial_level",
                               "probation_months", "created_at", "updated_at"), batch)
        if self.changed:
            stmt = (update(t).where(t.c.agent_id == bindparam("k_agent_id"))
                    .values({f: bindparam(f"v_{f}") for f in _AGENT_FIELDS} | {"updated_at": now}))
            params = []
            entries = []
            for agent_id, old in self.changed:
                values = self.rows[agent_id][1]
                params.append({"k_agent_id": agent_id} | {f"v_{f}": v for f, v in zip(_AGENT_FIELDS, values)})
                months.append(min(_month_text(old[3]), _month_text(values[3])))
                before = {f: _iso(o) for f, o, v in zip(_AGENT_FIELDS, old, values) if o != v}
                after = {f: _iso(v) for f, o, v in zip(_AGENT_FIELDS, old, values) if o != v}
                entries.append(audit.Entry(ctx.actor, "update", "agent", agent_id, reason=ctx.reason,
                                           detail={"before": before, "after": after, "filename": ctx.filename}))
            db.conn.execute(stmt, params)
            audit.record_many(ctx.session, entries, at=now)
        ctx.summary(len(self.new), len(self.changed), self.unchanged)
        return ImportResult("agents", ctx.rows, len(self.new), len(self.changed), self.unchanged,
                            min(months) if months else None)


# ------------------------------------------------------------------------- inspections


class _InspectionsImport:
    """Rows are kept as the tuples the INSERT takes, in file order; the row numbers and
    defect lists sit in parallel lists (1.8 million rows must fit in memory comfortably)."""

    COLUMNS = ("inspection_id", "agent_id", "contact_on", "month", "channel", "contact_ref", "inspector")

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx
        self.values: list[tuple[Any, ...]] = []  # COLUMNS, contact_on as the driver takes it
        self.rownums: list[int] = []
        self.codes: list[tuple[str, ...]] = []
        self.index: dict[str, int] = {}  # inspection_id -> position in the lists
        self.existing: set[int] = set()  # positions of rows already stored identically
        self.unchanged = 0
        self.table_empty = True
        self.months: set[str] = set()
        self.used_codes: set[str] = set()

    def check(self, table: TabularTable) -> None:
        ctx = self.ctx
        err = ctx.errors.add
        rb = ctx.rulebook
        agents = ctx.db.load_agents()
        today = ctx.today
        bind_date = ctx.db.binder(Inspection.__table__.c.contact_on)
        limits = _LIMITS
        channels = {c: c for c in CHANNELS}
        channel_list = ", ".join(CHANNELS)
        # Caches: a file has few distinct dates, defect lists and inspectors.
        date_cache: dict[str, tuple[Any, str] | Msg] = {}  # text -> (driver value, month) | problem
        codes_cache: dict[str, tuple[str, ...] | Msg] = {"": ()}
        inspectors: dict[str, str] = {}
        refs: dict[str, dict[str, str]] = {}  # agent_id -> contact_ref -> inspection_id
        own = ctx.own_inspector
        index = self.index
        values_list = self.values
        rownums = self.rownums
        codes_list = self.codes
        add_values = values_list.append
        add_row = rownums.append
        add_codes = codes_list.append
        unchanged = 0
        n = 0
        width = len(table.header)
        at_id, at_agent, at_on, at_channel, at_ref, at_inspector, at_codes = (
            table.header.index(c) for c in COLUMNS["inspections"][0])
        every = PROGRESS_EVERY
        for row, cells in table.records:
            n += 1
            if n % every == 0:
                ctx.tick(n)
            bad = len(cells) != width and _extra_cells(ctx, row, cells[width:])
            iid = cells[at_id].strip()
            agent_id = cells[at_agent].strip()
            contact_on = cells[at_on].strip()
            channel = cells[at_channel].strip()
            ref = cells[at_ref].strip()
            inspector = cells[at_inspector].strip()
            codes_text = cells[at_codes]

            if not iid or len(iid) > 64:
                _required(ctx, row, {"inspection_id": iid}, "inspection_id")
                bad = True
            info = agents.get(agent_id)
            if info is None:
                if not agent_id:
                    err(row, "agent_id", _EMPTY)
                else:
                    err(row, "agent_id", Msg.of("agent.unknown", value=repr(agent_id)))
                bad = True
            else:
                agent_id = info.agent_id  # one shared string per agent
            parsed = date_cache.get(contact_on)
            if parsed is None:
                if not contact_on:
                    parsed = _EMPTY
                else:
                    d = _parse_date(contact_on)
                    if isinstance(d, Msg):
                        parsed = d
                    elif d > today:
                        parsed = Msg.of("date.future", value=contact_on, today=today.isoformat())
                    else:
                        bound = bind_date(d)
                        parsed = (bound, _month_text(d))
                date_cache[contact_on] = parsed
            if parsed.__class__ is Msg:
                err(row, "contact_on", parsed)  # type: ignore[arg-type]
                bad = True
            else:
                bound, month = parsed  # type: ignore[misc]
                if info is not None and (month < info.hire_month or month > info.leave_month):
                    what = ("employment.contact", {"value": contact_on, "month": month})
                    err(row, "contact_on", _employment_problem(what, month, info))  # type: ignore[arg-type]
                    bad = True
            ch = channels.get(channel)
            if ch is None:
                if not channel:
                    err(row, "channel", _EMPTY)
                else:
                    err(row, "channel", Msg.of("channel.unknown", value=repr(channel), channels=channel_list))
                bad = True
            if not ref or len(ref) > limits["contact_ref"]:
                _required(ctx, row, {"contact_ref": ref}, "contact_ref")
                bad = True
            insp = inspectors.get(inspector)
            if insp is None:
                if not inspector or len(inspector) > limits["inspector"]:
                    _required(ctx, row, {"inspector": inspector}, "inspector")
                    bad = True
                elif own is not None and inspector != own:
                    err(row, "inspector", Msg.of("inspection.not_yours", value=repr(inspector), you=repr(own)))
                    bad = True
                else:
                    insp = inspectors[inspector] = inspector
            codes = codes_cache.get(codes_text)
            if codes is None:
                codes = codes_cache[codes_text] = self._codes(codes_text, rb)
            if codes.__class__ is Msg:
                err(row, "defect_codes", codes)  # type: ignore[arg-type]
                bad = True
            if bad:
                continue
            values = (iid, agent_id, bound, month, ch, ref, insp)
            at = index.get(iid)
            if at is not None:
                first = values_list[at]
                if first == values and codes_list[at] == codes:
                    unchanged += 1  # an identical repeat
                else:
                    column = "defect_codes" if first == values else \
                        self.COLUMNS[next(i for i in range(1, 7) if first[i] != values[i])]
                    err(row, column, Msg.of("inspection.repeat", inspection_id=iid, column=column, first=rownums[at]))
                continue
            agent_refs = refs.get(agent_id)
            if agent_refs is None:
                refs[agent_id] = {ref: iid}
            else:
                other = agent_refs.get(ref)
                if other is not None:
                    err(row, "contact_ref", Msg.of("inspection.contact_repeat", agent_id=agent_id, other=other,
                                                   ref=repr(ref), first=rownums[index[other]]))
                    continue
                agent_refs[ref] = iid
            index[iid] = len(values_list)
            add_values(values)
            add_row(row)
            add_codes(codes)
        self.unchanged = unchanged
        # Over all valid rows (the rows that are stored already are dealt with in write()).
        self.months = {p[1] for p in date_cache.values() if p.__class__ is tuple}
        self.used_codes = {c for p in codes_cache.values() if p.__class__ is tuple for c in p}
        ctx.finish_checking(n)

    @staticmethod
    def _codes(text: str, rb: Any) -> tuple[str, ...] | Msg:
        codes = tuple(c for c in (p.strip() for p in text.split(";")) if c)
        unknown = [c for c in codes if not rb.has_defect(c)]
        if unknown:
            listed = ", ".join(dict.fromkeys(unknown))
            return Msg.of("codes.unknown_many" if len(set(unknown)) > 1 else "codes.unknown", codes=listed)
        return codes

    def changed_rows(self) -> Iterator[tuple[int, str, str]]:
        """(row, column, month) of every row the import would write."""
        for at, v in enumerate(self.values):
            if at not in self.existing:
                yield self.rownums[at], "contact_on", v[3]

    def check_database(self) -> None:
        ctx = self.ctx
        db = ctx.db
        t = Inspection.__table__
        if not self.values:
            return
        self.table_empty = db.is_empty(t)
        if self.table_empty:
            return
        dt = InspectionDefect.__table__
        err = ctx.errors.add
        bind_date = db.binder(t.c.contact_on)
        cols = [t.c[c] for c in self.COLUMNS if c != "month"]
        names = [c for c in self.COLUMNS if c != "month"]
        index = self.index
        for chunk in _chunks(list(index), db.id_chunk):
            found = {r[0]: r for r in db.conn.execute(select(*cols).where(t.c.inspection_id.in_(chunk)))}
            if not found:
                continue
            stored_codes: dict[str, list[str]] = {k: [] for k in found}
            q = (select(dt.c.inspection_id, dt.c.code).where(dt.c.inspection_id.in_(list(found)))
                 .order_by(dt.c.inspection_id, dt.c.position))
            for iid, code in db.conn.execute(q):
                stored_codes[iid].append(code)
            for iid, r in found.items():
                at = index[iid]
                v = self.values[at]
                old = (r[1], bind_date(r[2]), r[3], r[4], r[5])
                new = (v[1], v[2], v[4], v[5], v[6])
                if old == new and tuple(stored_codes[iid]) == self.codes[at]:
                    self.existing.add(at)
                    continue
                if old != new:
                    i = next(i for i in range(5) if old[i] != new[i])
                    column = names[i + 1]
                    was = r[i + 1].isoformat() if column == "contact_on" else r[i + 1]
                else:
                    column, was = "defect_codes", ";".join(stored_codes[iid])
                err(self.rownums[at], column,
                    Msg.of("inspection.stored_differs", inspection_id=iid, column=column, was=repr(was)))
        self.unchanged += len(self.existing)
        # A contact is inspected once: no second live inspection of the same agent and contact_ref.
        fresh = {(v[1], v[5]): at for at, v in enumerate(self.values) if at not in self.existing}
        for chunk in _chunks(list(fresh), db.pair_chunk):
            q = select(t.c.inspection_id, t.c.agent_id, t.c.contact_ref).where(
                tuple_(t.c.agent_id, t.c.contact_ref).in_(list(chunk)), t.c.voided_at.is_(None)
            )
            for other, agent_id, ref in db.conn.execute(q):
                at = fresh[(agent_id, ref)]
                if other != self.values[at][0]:
                    err(self.rownums[at], "contact_ref",
                        Msg.of("inspection.contact_stored", agent_id=agent_id, other=other, ref=repr(ref)))

    def write(self) -> ImportResult:
        ctx = self.ctx
        db = ctx.db
        t = Inspection.__table__
        dt = InspectionDefect.__table__
        existing = self.existing
        values, codes = self.values, self.codes
        if existing:
            keep = [at for at in range(len(values)) if at not in existing]
            values = [values[at] for at in keep]
            codes = [codes[at] for at in keep]
            self.months = {v[3] for v in values}
            self.used_codes = {c for cs in set(codes) for c in cs}
        total = len(values)
        first = None
        if total:
            db.ensure_defect_types(self.used_codes, ctx.rulebook)
            now = utcnow()
            b_now = db.binder(t.c.created_at)(now)
            constants = {"created_at": b_now if isinstance(b_now, str) else now.isoformat(sep=" "),
                         "created_by": ctx.actor[:100]}
            step = db.write_chunk
            # A bulk load at least as big as what is stored builds the indexes afterwards.
            rebuild = total >= BULK_LOAD_ROWS and (self.table_empty or total >= db.count(t))
            with ExitStack() as stack:
                for start in range(0, total, step):
                    if rebuild and start == step:  # the first chunk has opened the transaction
                        stack.enter_context(db.indexes_built_after((t, dt)))
                    end = start + step
                    db.insert_many(t, self.COLUMNS, values[start:end], constants=constants)
                    defects = [(v[0], pos, code, "") for v, cs in zip(values[start:end], codes[start:end]) if cs
                               for pos, code in enumerate(cs)]
                    if defects:
                        db.insert_many(dt, ("inspection_id", "position", "code", "note"), defects)
            first = min(self.months)
        ctx.summary(total, 0, self.unchanged)
        return ImportResult("inspections", ctx.rows, total, 0, self.unchanged, first)


# ----------------------------------------------------------------------------- metrics
#
# A metrics file has agent_id, month and one column per input declared by the rulebook in
# force for each row's month. Values are checked by parse_input (as in the app's entry
# form) and kept as the decimal strings that are stored.


def metrics_columns(rulebooks: Sequence[Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(required, optional) columns of a metrics file under ``rulebooks``: an input is a
    required column when every version requires it, optional when only some declare it."""
    keys: dict[str, None] = {}
    required: set[str] | None = None
    for rb in rulebooks:
        specs = rb.inputs
        keys.update(dict.fromkeys(s.key for s in specs))
        mine = {s.key for s in specs if s.required}
        required = mine if required is None else required & mine
    req = tuple(k for k in keys if k in (required or set()))
    return ("agent_id", "month", *req), tuple(k for k in keys if k not in req)


@dataclass
class _InputPlan:
    """How the rows of one rulebook version are read: (key, spec, cell position, cache) per
    input whose column is in the file, the required inputs whose column is not, and the
    file's input columns (name, position) this version does not declare."""

    version: int
    present: list[tuple[str, Any, int, dict[str, Any]]]
    absent_required: list[str]
    foreign: list[tuple[str, int]]


class _MetricsImport:
    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx
        # (agent_id, month) -> (row, {input key: decimal string})
        self.rows: dict[tuple[str, str], tuple[int, dict[str, str]]] = {}
        self.new: list[tuple[str, str, dict[str, str]]] = []
        self.changed: list[tuple[tuple[str, str], dict[str, str]]] = []
        self.unchanged = 0

    def _planner(self, header: list[str]) -> Callable[[str], _InputPlan]:
        """month -> how to read its rows (one plan per rulebook version)."""
        books = self.ctx.rulebooks
        position = {name: i for i, name in enumerate(header)}
        columns = [c for c in header if c not in ("agent_id", "month")]
        plans: dict[int, _InputPlan] = {}

        def plan_for(month: str) -> _InputPlan:
            rb = rulebook_store.for_month(books, month)
            plan = plans.get(rb.version)
            if plan is None:
                keys = {s.key for s in rb.inputs}
                plan = plans[rb.version] = _InputPlan(
                    rb.version,
                    [(s.key, s, position[s.key], {}) for s in rb.inputs if s.key in position],
                    [s.key for s in rb.inputs if s.required and s.key not in position],
                    [(c, position[c]) for c in columns if c not in keys],
                )
            return plan

        return plan_for

    def check(self, table: TabularTable) -> None:
        ctx = self.ctx
        err = ctx.errors.add
        agents = ctx.db.load_agents()
        current = _month_text(ctx.today)
        header = table.header
        width = len(header)
        i_agent, i_month = header.index("agent_id"), header.index("month")
        month_cache: dict[str, Msg | None] = {}
        plan_for = self._planner(header)
        plans: dict[str, _InputPlan] = {}
        reported: set[tuple[int, str]] = set()
        by_key = self.rows
        n = 0
        for row, cells in table.records:
            n += 1
            if n % PROGRESS_EVERY == 0:
                ctx.tick(n)
            bad = _extra_cells(ctx, row, cells[width:]) if len(cells) > width else False
            agent_id = cells[i_agent].strip()
            month = cells[i_month].strip()
            info = agents.get(agent_id)
            if info is None:
                if not agent_id:
                    err(row, "agent_id", _EMPTY)
                else:
                    err(row, "agent_id", Msg.of("agent.unknown", value=repr(agent_id)))
                bad = True
            else:
                agent_id = info.agent_id
            if month in month_cache:
                problem = month_cache[month]
            else:
                if not month:
                    problem = _EMPTY
                else:
                    problem = _parse_month(month)
                    if problem is None and month > current:
                        problem = Msg.of("month.future", value=month, current=current)
                month_cache[month] = problem
                plans[month] = plan_for(month if problem is None else "9999-12")
            plan = plans[month]
            if problem is not None:
                # The values are still checked, against the newest rulebook.
                err(row, "month", problem)
                bad = True
            elif info is not None:
                problem = _employment_problem(month, month, info)
                if problem is not None:
                    err(row, "month", problem)
                    bad = True
            if plan.absent_required:
                bad = True
                for column in plan.absent_required:
                    if (plan.version, column) not in reported:
                        reported.add((plan.version, column))
                        err(row, column, Msg.of("metrics.column_missing", version=plan.version, month=month))
            for column, i in plan.foreign:
                text = cells[i].strip()
                if text:
                    err(row, column, Msg.of("metrics.foreign_input", value=repr(text), column=column,
                                            version=plan.version, month=month))
                    bad = True
            values: dict[str, str] = {}
            for key, spec, i, cache in plan.present:
                text = cells[i]
                v = cache.get(text)
                if v is None:
                    stripped = text.strip()
                    if not stripped and not spec.required:
                        v = cache[text] = ""
                    else:
                        parsed = parse_input(spec, stripped)
                        v = cache[text] = parsed if parsed.__class__ is InputProblem else format_decimal(parsed)
                if v.__class__ is str:
                    if v:
                        values[key] = v
                else:
                    err(row, key, _input_msg(v))  # type: ignore[arg-type]
                    bad = True
            if bad:
                continue
            key = (agent_id, month)
            first = by_key.get(key)
            if first is None:
                by_key[key] = (row, values)
            elif first[1] == values:
                self.unchanged += 1
            else:
                old = first[1]
                column = next(k for k in dict.fromkeys([*old, *values]) if old.get(k) != values.get(k))
                err(row, column, Msg.of("metrics.repeat", agent_id=agent_id, month=month, column=column, first=first[0]))
        ctx.finish_checking(n)

    def changed_rows(self) -> Iterator[tuple[int, str, str]]:
        """(row, column, month) of every new or changed agent-month."""
        for key in [*((a, m) for a, m, _values in self.new), *(k for k, _ in self.changed)]:
            yield self.rows[key][0], "month", key[1]

    def check_database(self) -> None:
        ctx = self.ctx
        db = ctx.db
        t = MonthlyMetrics.__table__
        existing: dict[tuple[str, str], dict[str, str]] = {}
        if self.rows and not db.is_empty(t):
            months = sorted({m for _, m in self.rows})
            loads = orjson.loads
            for chunk in _chunks(months, db.id_chunk):
                q = select(t.c.agent_id, t.c.month, cast(t.c["values"], Text)).where(t.c.month.in_(chunk))
                for a, m, text in db.conn.execute(q):
                    if (a, m) in self.rows:
                        existing[(a, m)] = loads(text)
        for key, (_row, values) in self.rows.items():
            old = existing.get(key)
            if old is None:
                self.new.append((*key, values))
            elif old == values:
                self.unchanged += 1
            else:
                self.changed.append((key, old))

    def write(self) -> ImportResult:
        ctx = self.ctx
        db = ctx.db
        t = MonthlyMetrics.__table__
        now = utcnow()
        b_now = db.binder(t.c.updated_at)(now)
        rows = self.rows
        months: list[str] = []
        if self.new:
            dumps = orjson.dumps
            db.insert_many(
                t, ("agent_id", "month", "values", "updated_at"),
                [(a, m, dumps(values).decode(), b_now) for a, m, values in self.new],
            )
            months.append(min(m for _, m, _v in self.new))
        if self.changed:
            stmt = (update(t).where(t.c.agent_id == bindparam("k_agent_id"), t.c.month == bindparam("k_month"))
                    .values({"values": bindparam("v_values", type_=t.c["values"].type), "updated_at": now}))
            params = []
            entries = []
            for (agent_id, month), old in self.changed:
                values = rows[(agent_id, month)][1]
                params.append({"k_agent_id": agent_id, "k_month": month, "v_values": values})
                months.append(month)
                keys = [k for k in dict.fromkeys([*old, *values]) if old.get(k) != values.get(k)]
                before = {k: old[k] for k in keys if k in old}
                after = {k: values[k] for k in keys if k in values}
                entries.append(audit.Entry(ctx.actor, "update", "metrics", f"{agent_id}/{month}", reason=ctx.reason,
                                           detail={"before": before, "after": after, "filename": ctx.filename}))
            db.conn.execute(stmt, params)
            audit.record_many(ctx.session, entries, at=now)
        ctx.summary(len(self.new), len(self.changed), self.unchanged)
        return ImportResult("metrics", ctx.rows, len(self.new), len(self.changed), self.unchanged,
                            min(months) if months else None)
