"""Quarters, half-years, years and yearly awards for HR (docs/rulebooks.md ``[[periods]]``,
``[[awards]]``), computed on read from the stored month results of one calendar year."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from starlevel.db.models import Agent, MonthResultRow
from starlevel.db.queries import result_bounds
from starlevel.domain.periods import awards, period_scores
from starlevel.domain.rulebook import Period, Rulebook
from starlevel.services import rulebooks
from starlevel.services.hr import csv_stream
from starlevel.services.recompute import load_prior

__all__ = ["Column", "YearReport", "report_csv_stream", "year_report", "years_with_results"]


@dataclass(frozen=True)
class Column:
    period: str  # the period key of the rulebook
    label: str  # "2025-Q1", "2025-H2", "2025"
    title: str  # in the page language


@dataclass(frozen=True)
class Cell:
    score: Decimal | None
    grade: str  # the grade's name in the page language ("" without a score)


@dataclass(frozen=True)
class Row:
    agent_id: str
    name: str
    team: str
    cells: tuple[Cell, ...]  # one per column


@dataclass(frozen=True)
class AwardLine:
    name: str  # the award's name in the page language
    level: int
    level_label: str
    months: int
    winners: tuple[tuple[str, str], ...]  # (agent_id, name)


@dataclass(frozen=True)
class YearReport:
    year: int | None
    years: list[int]
    rulebook: Rulebook | None  # the version in force in the year's last evaluated month
    columns: list[Column]
    rows: list[Row]
    awards: list[AwardLine]

    @property
    def has_periods(self) -> bool:
        return bool(self.rulebook and self.rulebook.periods)

    @property
    def has_awards(self) -> bool:
        return bool(self.rulebook and self.rulebook.awards)


def years_with_results(session: Session) -> list[int]:
    first, last = result_bounds(session)
    if not first:
        return []
    return list(range(int(first[:4]), int(last[:4]) + 1))


def _columns(periods: tuple[Period, ...], year: int, lang: str) -> list[Column]:
    out = []
    for p in sorted(periods, key=lambda p: p.months):
        name = (p.name_zh if lang == "zh" else p.name_en) or p.key
        n = 12 // p.months
        for k in range(1, n + 1):
            label = str(year) if n == 1 else f"{year}-{'Q' if p.months == 3 else 'H'}{k}"
            title = name if n == 1 else (f"{name} {k}" if lang == "en" else f"第{k}{name}")
            out.append(Column(p.key, label, title))
    return out


def year_report(session: Session, year: int | None, lang: str) -> YearReport:
    """Every agent's period scores and grades in ``year`` (default: the latest year with
    results) and the year's award winners, by the rulebook in force at the year's end."""
    years = years_with_results(session)
    if not years:
        return YearReport(None, [], None, [], [], [])
    if year not in years:
        year = years[-1]
    last = session.scalar(select(func.max(MonthResultRow.month)).where(MonthResultRow.month.like(f"{year}-%")))
    books = rulebooks.load_all(session)
    rb = rulebooks.for_month(books, last) if books and last else None
    if rb is None or not (rb.periods or rb.awards):
        return YearReport(year, years, rb, [], [], [])
    # The year's stored results without explanations, item scores or pay (not needed here).
    by_agent = load_prior(session, f"{year + 1}-01", 12)
    results = [r for rows in by_agent.values() for r in rows]
    agent_names = dict(session.execute(select(Agent.agent_id, Agent.name)).tuples().all())
    names = {aid: (agent_names.get(aid, ""), rows[-1].team) for aid, rows in by_agent.items()}
    columns = _columns(rb.periods, year, lang)
    grades = {p.key: {b.key: (b.name_zh if lang == "zh" else b.name_en) or b.key for b in p.grades} for p in rb.periods}
    scores = {(s.agent_id, s.period, s.label): s for s in period_scores(rb, results)}
    table = []
    for aid in sorted(names):
        cells = []
        for c in columns:
            s = scores.get((aid, c.period, c.label))
            score = s.score if s else None
            cells.append(Cell(score, grades[c.period].get(s.grade or "", "") if s and s.grade else ""))
        table.append(Row(aid, names[aid][0], names[aid][1], tuple(cells)))
    lines = []
    for a in awards(rb, results):
        spec = next(x for x in rb.awards if x.key == a.key)
        lines.append(AwardLine((spec.name_zh if lang == "zh" else spec.name_en) or spec.key, a.level,
                               rb.level_label(a.level, lang), a.months,
                               tuple((w, names[w][0]) for w in a.agent_ids)))
    return YearReport(year, years, rb, columns if rb.periods else [], table if rb.periods else [], lines)


def report_csv_stream(report: YearReport, headers: dict[str, str]) -> Iterator[bytes]:
    """The report's table as CSV (UTF-8 with BOM, cells made spreadsheet-safe by the shared
    writer); ``headers`` names the fixed columns and
    the 'score'/'grade' suffixes in the page language."""
    head = [headers["agent_id"], headers["name"], headers["team"]]
    for c in report.columns:
        head += [f"{c.title} {c.label} · {headers['score']}", f"{c.title} {c.label} · {headers['grade']}"]

    def rows() -> Iterator[list[str]]:
        for r in report.rows:
            line = [r.agent_id, r.name, r.team]
            for cell in r.cells:
                line += ["" if cell.score is None else f"{cell.score:.2f}", cell.grade]
            yield line

    return csv_stream(head, rows())  # formula-like text cells get a leading quote there
