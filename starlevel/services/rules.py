"""The rules in force, in plain language: the "how stars work" page of every role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from starlevel.domain import months as M
from starlevel.domain.describe import Description, Lang, describe
from starlevel.domain.rulebook import Rulebook, default_rulebook
from starlevel.services import rulebooks

__all__ = ["RulesPage", "latest_ended_month", "rulebook_in_force", "rules_page"]


@dataclass(frozen=True)
class RulesPage:
    month: str  # the latest ended month, whose rulebook is described
    rulebook: Rulebook
    text: Description


def latest_ended_month(today: date | None = None) -> str:
    """The last calendar month that has ended (the one before ``today``'s month)."""
    return M.add_months(M.month_of(today or date.today()), -1)


def rulebook_in_force(session: Session, month: str) -> Rulebook:
    """The stored version in force in ``month``; the shipped default when none is stored."""
    books = rulebooks.load_all(session)
    return rulebooks.for_month(books, month) if books else default_rulebook()


def rules_page(session: Session, lang: Lang, *, today: date | None = None) -> RulesPage:
    month = latest_ended_month(today)
    rb = rulebook_in_force(session, month)
    return RulesPage(month, rb, describe(rb, lang))
