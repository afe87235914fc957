"""Free-text search over agents, one rule for every search box.

% and _ are text, not wildcards (``autoescape``). A search longer than any agent's id (64),
team (100) or name (200 characters, the import's limits) cannot match anything, so it is
answered without a LIKE at all: SQLite refuses a pattern over 50,000 bytes with an error,
and a URL holding such a search used to answer 500.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import false

__all__ = ["MAX_SEARCH", "contains", "starts_with"]

#: Longer than every searchable agent field.
MAX_SEARCH = 200


def contains(column: Any, text: str) -> Any:
    """``column`` contains ``text`` (case-insensitive, literally)."""
    return false() if len(text) > MAX_SEARCH else column.icontains(text, autoescape=True)


def starts_with(column: Any, text: str) -> Any:
    """``column`` starts with ``text`` (case-insensitive, literally)."""
    return false() if len(text) > MAX_SEARCH else column.istartswith(text, autoescape=True)
