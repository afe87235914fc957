"""Who may see whose pay.

Pay figures (amounts, coefficients, totals) are personal: HR sees everyone's, an agent
sees their own, and nobody else (inspectors, admins) sees any. Every read that can carry
pay asks this one guard, so pages, partials, the API and exports agree.
"""

from __future__ import annotations

from typing import Protocol


class Viewer(Protocol):
    role: str
    agent_id: str | None


def may_see_pay(viewer: Viewer, agent_id: str | None = None) -> bool:
    """HR always; an agent only for their own ``agent_id``; any other role never."""
    if viewer.role == "hr":
        return True
    return viewer.role == "agent" and agent_id is not None and viewer.agent_id == agent_id
