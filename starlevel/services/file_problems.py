"""Problems found in an imported file, as codes with parameters.

A problem is recorded as a code (``date.invalid``) and the values it names
(``{"value": "'2024-13-01'"}``); the sentence is made only when it is shown, in the reader's
language. The English sentences below are the message ids of the gettext catalogs
(``starlevel/locale/zh/LC_MESSAGES/importer.po`` holds the Chinese ones), so the English
rendering needs no catalog and the Chinese one is an ordinary catalog look-up.

Parameters are already text (a value quoted the way the English sentence shows it), so a
translation only moves them around.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["MESSAGES", "render", "render_for"]

#: code -> English sentence with ``{name}`` placeholders.
MESSAGES: dict[str, str] = {
    # ---- the file as a whole (tabular)
    "file.xls": "this is an old Excel .xls workbook; save it as .xlsx or as \"CSV UTF-8\" and try again",
    "file.not_utf8": (
        "the file is not UTF-8 text: byte 0x{byte} at row {line}, byte {at} of that row (byte {offset} "
        "of the file) is not valid UTF-8; save the file as \"CSV UTF-8\" and try again"
    ),
    "file.csv_header": "the header row cannot be read as CSV: {detail}",
    "file.csv_broken": "the file cannot be read as CSV here: {detail}",
    "file.empty": "the file is empty: no header row",
    "file.xlsx_broken": "the file cannot be read as an XLSX workbook: {detail}",
    "file.no_sheet": "the workbook has no sheet",
    "file.too_big": "the file is {size} MB; at most {limit} MB can be imported at once: split it into smaller files",
    "file.xlsx_unpacked_too_big": (
        "the workbook unpacks to {size} MB; at most {limit} MB can be read: split it into smaller files "
        "or save it as \"CSV UTF-8\""
    ),
    "file.xlsx_member_too_big": (
        "the workbook part {member} unpacks to {size} MB; at most {limit} MB can be read: split the sheet "
        "into smaller files or save it as \"CSV UTF-8\""
    ),
    "file.xlsx_ratio": (
        "the workbook part {member} is compressed {ratio} times; at most {limit} times is accepted "
        "(a file built to exhaust the server looks like this): save it again from your spreadsheet program"
    ),
    "file.xlsx_too_many_parts": "the workbook has {count} parts; at most {limit} are accepted",
    "file.too_many_rows": "the file has more than {limit} rows; split it into smaller files",
    "file.too_many_columns": "row {line} has a value in column {count}; at most {limit} columns are read",
    "file.too_slow": "reading the file took longer than {limit} seconds; split it into smaller files",
    "file.xlsx_too_complex": (
        "the workbook's sheet is spread over too large an area to be read (are there values far below or "
        "to the right of the table?): copy the table into a new workbook, or save it as \"CSV UTF-8\""
    ),
    # ---- header
    "header.unnamed": "column {index} of the header has no name",
    "header.duplicate": "appears more than once in the header",
    "header.unknown": "is not a column of {kind} files (the columns are: {columns})",
    "header.missing": "required column is missing from the header",
    # ---- cells
    "cell.empty": "is empty; a value is required",
    "cell.too_long": "is {length} characters long; at most {limit} are allowed",
    "cell.nul": "contains the NUL character (U+0000), which is not text: remove it",
    "cell.extra": "has {count} value(s) beyond the last column of the header: {values}",
    "cell.unsafe_id": (
        "{value} is not a safe agent ID: use letters, digits, '-', '_' and '.', starting with a letter or digit"
    ),
    "date.invalid": "{value} is not a date in the form YYYY-MM-DD",
    "date.unreal": "{value} is not a real date (YYYY-MM-DD)",
    "date.future": "{value} is in the future (today is {today})",
    "date.before_hired": "{value} is before hired_on {hired_on}",
    "month.unreal": "{value} is not a real month (YYYY-MM)",
    "month.invalid": "{value} is not a month in the form YYYY-MM",
    "month.invalid_date_like": (
        "{value} is not a month in the form YYYY-MM (a spreadsheet may have turned the month into a date: "
        "format the column as text)"
    ),
    "month.future": "{value} is after the current month {current}",
    "employment.before_hire": "{what} is before agent {agent_id}'s hire month {hire_month} (hired_on {hired_on})",
    "employment.after_leave": "{what} is after agent {agent_id}'s last month {leave_month} (left_on {left_on})",
    "employment.contact": "{value} (month {month})",
    "percent.invalid": "{value} is not a decimal number from 0 to 100",
    "percent.above": "{value} is above 100 (allowed: 0 to 100)",
    "percent.places": "{value} has more than 2 decimal places",
    "attitude.invalid": "{value} is not a whole number from 1 to 5",
    "count.invalid": "{value} is not a whole number (0 or more)",
    "number.too_big": "{value} is too large (at most {limit})",
    "probation.invalid": "{value} is not a whole number of months (0 or more)",
    "track.unknown": "{value} is not a track of the rulebook ({tracks})",
    "level.unknown": "{value} is not a level of the rulebook ({levels})",
    "channel.unknown": "{value} is not a channel ({channels})",
    "agent.unknown": "agent {value} does not exist; import it with the agents file first",
    "agent.repeat": (
        "agent {agent_id} appears again with a different {column} (first at row {first}); "
        "each agent may appear only once"
    ),
    "agent.moves_data_before": (
        "changing hired_on to {hired_on} would put agent {agent_id}'s existing {what} of {month} before the "
        "hire month {hire_month}; void them in the app first"
    ),
    "agent.moves_data_after": (
        "changing left_on to {left_on} would put agent {agent_id}'s existing {what} of {month} after the "
        "last month {leave_month}; void them in the app first"
    ),
    "what.inspections": "inspections",
    "what.metrics": "monthly metrics",
    "codes.unknown": "unknown defect code {codes} (not in the rulebook's catalog)",
    "codes.unknown_many": "unknown defect codes {codes} (not in the rulebook's catalog)",
    "inspection.repeat": (
        "inspection {inspection_id} appears again with a different {column} (first at row {first}); "
        "each inspection may appear only once"
    ),
    "inspection.contact_repeat": (
        "agent {agent_id} already has inspection {other} of contact_ref {ref} (row {first}); "
        "one contact is inspected once"
    ),
    "inspection.stored_differs": (
        "inspection {inspection_id} is already stored with {column} {was}; an import never changes an "
        "inspection: void it in the app (with a reason) and import the correction under a new inspection_id"
    ),
    "inspection.contact_stored": (
        "agent {agent_id} already has live inspection {other} of contact_ref {ref} in the database; "
        "one contact is inspected once"
    ),
    "inspection.not_yours": (
        "{value} is not you: inspectors upload only their own inspections (sign in as {value}, "
        "or write your own name {you})"
    ),
    "month.closed": "{month} is closed for payroll; HR must reopen the month before it can change",
    "metrics.column_missing": (
        "required column is missing from the header (rulebook version {version}, in force for {month}, "
        "declares this input)"
    ),
    "metrics.foreign_input": (
        "{value}: {column} is not an input of rulebook version {version}, in force for {month}; leave the cell empty"
    ),
    # ---- monthly inputs (the checks of starlevel.domain.inputs.parse_input)
    "input.empty": "is empty; a value is required",
    "input.not_whole": "{value!r} is not a whole number{range}",
    "input.not_number": "{value!r} is not a decimal number{range}",
    "input.decimals": "{value!r} has more than {places} decimal places",
    "input.range_below": "{value!r} is below {bound} (allowed: {range})",
    "input.range_above": "{value!r} is above {bound} (allowed: {range})",
    "input.allowed": "{value!r} is not one of the allowed values ({allowed})",
    "input.too_long": "{value!r} has too many digits (at most 15 before and 15 after the point)",
    "metrics.repeat": (
        "agent {agent_id} month {month} appears again with a different {column} (first at row {first}); "
        "each agent-month may appear only once"
    ),
    "errors.more": "… and {count} more problems not listed",
    # ---- where a problem is, and the listing's first line
    "where.row": "row {row}",
    "where.row_column": "row {row}, column {column}",
    "where.header_column": "header, column {column}",
    "where.file": "file",
    "where.line": "{where}: {problem}",
    "rejected.head": "{file}: rejected, nothing was written. {count} problem(s):",
}



def render(code: str, params: Mapping[str, Any] | None = None,
           gettext: Callable[[str], str] | None = None) -> str:
    """The sentence for ``code``; in English without ``gettext``, else through it."""
    template = MESSAGES[code]
    values = dict(params or {})
    for name, value in values.items():
        # A parameter can be a message of its own: ``(code, params)``, rendered in the same language.
        if isinstance(value, tuple) and len(value) == 2 and value[0] in MESSAGES:
            values[name] = render(value[0], value[1], gettext)
    text = gettext(template) if gettext is not None else template
    return text.format(**values)


def render_for(lang: str) -> Callable[[str, Mapping[str, Any] | None], str]:
    """``render`` bound to the catalog of ``lang`` (``en`` renders the ids themselves)."""
    if lang == "en":
        return lambda code, params=None: render(code, params)
    from starlevel.web.i18n import gettext_for  # the catalogs live with the UI

    _ = gettext_for(lang)
    return lambda code, params=None: render(code, params, _)
