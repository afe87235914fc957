"""Texts of the exported files (headers, totals, final/provisional), in one language;
the CLI and the pages pass them to services.payroll."""

from __future__ import annotations

from starlevel.web import i18n


def payroll_labels(lang: str) -> dict[str, str]:
    _ = i18n.gettext_for(lang)
    return {
        "line": _("Line"),
        "agent_id": _("Agent ID"),
        "name": _("Name"),
        "team": _("Team"),
        "track": _("Track"),
        "level": _("Level"),
        "pay_grade": _("Pay grade"),
        "fixed_pay": _("Fixed pay"),
        "composite": _("Composite"),
        "coefficient": _("Coefficient"),
        "performance_pay": _("Performance pay"),
        "allowance": _("Star allowance"),
        "probation_factor": _("Probation factor"),
        "total_pay": _("Total pay"),
        "status": _("Status"),
        "payroll": _("Payroll"),
        "line_agent": _("agent"),
        "line_subtotal": _("Subtotal {team}"),
        "line_total": _("Grand total"),
        "complete": _("complete"),
        "incomplete": _("incomplete"),
        "final": _("final"),
        "provisional": _("provisional"),
        "sheet": _("Payroll"),
        "title": _("Payroll {month}"),
        "final_note": _("FINAL: the month is closed; this is the payroll as paid."),
        "provisional_note": _("PROVISIONAL: the month is open; figures may still change."),
    }
