"""The ``starlevel`` command. Its names and options are a contract other tools call.

The same commands are registered on Litestar's own CLI through
:class:`starlevel.plugins.StarLevelCLIPlugin`, so ``litestar --app
starlevel.app:create_app import …`` works too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from starlevel.settings import Settings


class Context:
    """Lazily opened database for one CLI invocation (migrated to head on first use)."""

    def __init__(self) -> None:
        self.settings = Settings.from_env()
        self._factory = None
        self._engine = None

    @property
    def factory(self):  # type: ignore[no-untyped-def]
        if self._factory is None:
            from starlevel.db.engine import make_engine, make_session_factory
            from starlevel.db.migrate import upgrade

            upgrade(self.settings.database_url)
            self._engine = make_engine(self.settings.database_url)
            self._factory = make_session_factory(self._engine)
        return self._factory

    def session(self):  # type: ignore[no-untyped-def]
        from starlevel.db.engine import session_scope

        return session_scope(self.factory)

    def catch_up(self) -> None:
        """Run the recomputes still owed by deferred changes (a server that crashed or is
        busy with them), so that what this command reads is current. Progress goes to stderr."""
        from starlevel.services.recompute import run_pending

        stats = run_pending(self.factory, wait=True)
        if stats is not None and stats.start:
            click.echo(f"applied pending changes first: re-evaluated from {stats.start} "
                       f"({stats.results} agent-months in {stats.seconds:.2f}s)", err=True)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def _month(ctx: click.Context | None, param: click.Parameter | None, value: str | None) -> str | None:
    import re

    if value is None:
        return None
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise click.BadParameter(f"{value!r} is not a month (YYYY-MM)")
    return value


class _Group(click.Group):
    """Turns a write refused because its month is closed (services.months.MonthClosed)
    into a plain error message and exit status 1, for every command."""

    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        from starlevel.services.months import MonthClosed

        try:
            return super().invoke(ctx)
        except MonthClosed as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Group, help="StarLevel (星级客服): star-rating ladder for customer-service teams.")
@click.pass_context
def cli(ctx: click.Context) -> None:
    ctx.obj = Context()
    ctx.call_on_close(ctx.obj.close)


# ------------------------------------------------------------------ db

@cli.group(help="Database schema.")
def db() -> None:
    pass


@db.command("upgrade", help="Bring the database to the newest schema.")
@pass_ctx
def db_upgrade(c: Context) -> None:
    from starlevel.db.migrate import current, upgrade

    upgrade(c.settings.database_url)
    click.echo(f"database at revision {current(c.settings.database_url)}")


# ------------------------------------------------------------------ import / recompute / export / explain

@cli.command("import", help="Import agents, inspections or metrics from a CSV (or XLSX) file; all or nothing.")
@click.argument("kind", type=click.Choice(["agents", "inspections", "metrics"]))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--actor", default="cli", show_default=True, help="Name recorded in the audit log.")
@click.option("--no-recompute", is_flag=True, help="Only store the rows; recompute later.")
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True,
              help="Language of the problems listed when the file is rejected.")
@pass_ctx
def import_cmd(c: Context, kind: str, file: Path, actor: str, no_recompute: bool, lang: str) -> None:
    from starlevel.services import rulebooks
    from starlevel.services.importer import ImportRejected, RowError, import_table
    from starlevel.services.tabular import BULK_LIMITS, TableError, check_size

    from starlevel.services.recompute import recompute

    try:
        check_size(file.stat().st_size, BULK_LIMITS)  # before reading it into memory
    except TableError as exc:
        rejected = ImportRejected([RowError(0, "", exc.problem, exc.code, exc.params)], filename=file.name)
        _print_rejected(file, rejected, lang)
        sys.exit(1)
    data = file.read_bytes()
    interactive = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        end = "\r" if interactive and done < total else "\n"
        click.echo(f"  {kind}: {done:,}/{total:,} rows checked", err=True, nl=False)
        click.echo(end, err=True, nl=False)

    try:
        with c.session() as session:
            rulebooks.ensure_default(session)
            result = import_table(
                session, kind, data, filename=file.name, actor=actor,
                rulebook=rulebooks.current(session), progress=progress, limits=BULK_LIMITS,
            )
            stats = None
            if result.first_affected_month and not no_recompute:
                stats = recompute(session, start=result.first_affected_month)
    except ImportRejected as rejected:
        _print_rejected(file, rejected, lang)
        sys.exit(1)
    click.echo(
        f"{file.name}: {result.rows} rows, {result.inserted} new, {result.updated} changed, "
        f"{result.unchanged} unchanged"
    )
    if stats is not None and stats.start:
        click.echo(f"recomputed from {stats.start}: {stats.results} agent-months in {stats.seconds:.2f}s")


def _print_rejected(file: Path, rejected: object, lang: str) -> None:
    from starlevel.services.importer import rejection_lines

    for line in rejection_lines(str(file), rejected.errors, lang):  # type: ignore[attr-defined]
        click.echo(line, err=True)


@cli.command(help="Re-evaluate the ladder (from a month on, or everything).")
@click.option("--from", "start", callback=_month, help="First month to re-evaluate (YYYY-MM).")
@pass_ctx
def recompute(c: Context, start: str | None) -> None:
    from starlevel.services.recompute import recompute as run

    with c.session() as session:
        stats = run(session, start=start)
    if stats.start is None:
        click.echo("nothing to evaluate: no agents yet")
        return
    click.echo(
        f"evaluated {stats.start}…{stats.end}: {stats.results} agent-months in {stats.seconds:.2f}s"
        + (f" ({stats.processes} processes)" if stats.processes > 1 else "")
    )


@cli.group(help="Export results.")
def export() -> None:
    pass


@export.command("ladder", help="One row per active agent per evaluated month (spec §7).")
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True)
@click.option("--month", callback=_month, help="Only this month (YYYY-MM).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE instead of stdout.")
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True, help="Language of the reason column.")
@pass_ctx
def export_ladder(c: Context, fmt: str, month: str | None, out: Path | None, lang: str) -> None:
    from starlevel.services.export import write_ladder_csv

    c.catch_up()
    with c.session() as session:
        if out is None:
            write_ladder_csv(session, sys.stdout, month=month, lang=lang)
            return
        with out.open("w", encoding="utf-8", newline="") as fh:
            n = write_ladder_csv(session, fh, month=month, lang=lang)
    click.echo(f"wrote {n} rows to {out}", err=True)


@export.command("metrics", help="The stored monthly inputs, in the import format (agent_id, month, one column per input).")
@click.option("--month", callback=_month, help="Only this month (YYYY-MM).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE instead of stdout.")
@pass_ctx
def export_metrics(c: Context, month: str | None, out: Path | None) -> None:
    from starlevel.services.export import write_metrics_csv

    with c.session() as session:
        if out is None:
            write_metrics_csv(session, sys.stdout, month=month)
            return
        with out.open("w", encoding="utf-8", newline="") as fh:
            n = write_metrics_csv(session, fh, month=month)
    click.echo(f"wrote {n} rows to {out}", err=True)


@export.command("payroll", help="One month's payroll: a row per agent, team subtotals and the grand total; "
                                "final for a closed month, provisional for an open one.")
@click.option("--month", required=True, callback=_month, help="The month (YYYY-MM).")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE instead of stdout (required for xlsx).")
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True, help="Language of the headers.")
@pass_ctx
def export_payroll(c: Context, month: str, fmt: str, out: Path | None, lang: str) -> None:
    from starlevel.services import payroll
    from starlevel.web.exports import payroll_labels

    if fmt == "xlsx" and out is None:
        raise click.UsageError("--format xlsx needs --out FILE")
    labels = payroll_labels(lang)
    with c.session() as session:
        if not payroll.exists(session, month):
            raise click.ClickException(f"{month} has not been evaluated")
        data = payroll.load(session, month)
    if fmt == "xlsx":
        assert out is not None
        out.write_bytes(payroll.xlsx_bytes(data, labels))
    elif out is None:
        for chunk in payroll.csv_bytes(data, labels):
            sys.stdout.buffer.write(chunk)
        sys.stdout.flush()
        return
    else:
        with out.open("wb") as fh:
            for chunk in payroll.csv_bytes(data, labels):
                fh.write(chunk)
    state = "final" if data.final else "provisional"
    click.echo(f"wrote the {state} payroll of {month} ({len(data.lines)} agents) to {out}", err=True)


@cli.command(help="Explain each month's decision for one agent.")
@click.argument("agent_id")
@click.option("--month", callback=_month, help="Only this month (YYYY-MM).")
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True)
@pass_ctx
def explain(c: Context, agent_id: str, month: str | None, lang: str) -> None:
    from starlevel.services.reports import explain_lines

    c.catch_up()
    with c.session() as session:
        lines = explain_lines(session, agent_id, month=month, lang=lang)
    if lines is None:
        click.echo(f"no agent {agent_id!r}", err=True)
        sys.exit(1)
    for line in lines:
        click.echo(line)


# ------------------------------------------------------------------ corrections and decisions

@cli.group(help="Void an inspection or a defect (with a reason); nothing is deleted.")
def void() -> None:
    pass


def _void(c: Context, kind: str, ident: str, reason: str, actor: str) -> None:
    from starlevel.db.models import Inspection, InspectionDefect
    from starlevel.services import corrections
    from starlevel.services.recompute import recompute_agent

    try:
        with c.session() as session:
            if kind == "inspection":
                month = corrections.void_inspection(session, ident, reason=reason, actor=actor)
                agent_id = session.get(Inspection, ident).agent_id  # type: ignore[union-attr]
            else:
                month = corrections.void_defect(session, int(ident), reason=reason, actor=actor)
                agent_id = session.get(InspectionDefect, int(ident)).inspection.agent_id  # type: ignore[union-attr]
            recompute_agent(session, agent_id, month)
    except corrections.CorrectionError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"voided {kind} {ident} of {agent_id}; re-evaluated from {month}")


@void.command("inspection")
@click.argument("inspection_id")
@click.option("--reason", required=True)
@click.option("--actor", default="cli", show_default=True)
@pass_ctx
def void_inspection(c: Context, inspection_id: str, reason: str, actor: str) -> None:
    _void(c, "inspection", inspection_id, reason, actor)


@void.command("defect")
@click.argument("defect_id", type=int)
@click.option("--reason", required=True)
@click.option("--actor", default="cli", show_default=True)
@pass_ctx
def void_defect(c: Context, defect_id: int, reason: str, actor: str) -> None:
    _void(c, "defect", str(defect_id), reason, actor)


@cli.command(help="HR decision on a proposed promotion: approve or hold (with a reason).")
@click.argument("action", type=click.Choice(["approve", "hold"]))
@click.argument("agent_id")
@click.argument("month", callback=_month)
@click.option("--reason", default="")
@click.option("--actor", default="cli", show_default=True)
@pass_ctx
def decide(c: Context, action: str, agent_id: str, month: str, reason: str, actor: str) -> None:
    from starlevel.services.corrections import CorrectionError, decide as run
    from starlevel.services.recompute import recompute as rc

    try:
        with c.session() as session:
            run(session, agent_id, month, action=action, reason=reason, actor=actor)
            rc(session, start=month)
    except CorrectionError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{action}: {agent_id} {month}")


# ------------------------------------------------------------------ rulebook

@cli.group(help="Versioned rulebooks.")
def rulebook() -> None:
    pass


@rulebook.command("list")
@pass_ctx
def rulebook_list(c: Context) -> None:
    from sqlalchemy import select

    from starlevel.db.models import RulebookVersion
    from starlevel.services import rulebooks as store

    with c.session() as session:
        store.ensure_default(session)
        for r in session.scalars(select(RulebookVersion).order_by(RulebookVersion.version)):
            click.echo(f"v{r.version}\tfrom {r.effective_from}\t{r.label}\t{r.created_by}\t{r.note}")


def _read_toml(file: Path) -> dict:  # type: ignore[type-arg]
    import tomllib

    from starlevel.domain.rulebook import loads_toml

    try:
        return loads_toml(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{file}: {exc}") from exc


def _rejected(file: Path | str, problems: list[str]) -> None:
    click.echo(f"{file}: rejected, {len(problems)} problem(s):", err=True)
    for p in problems:
        click.echo(f"  {p}", err=True)
    sys.exit(1)


@rulebook.command("templates", help="List the rulebook templates that ship with StarLevel.")
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True)
def rulebook_templates(lang: str) -> None:
    from starlevel.domain.templates import list_templates

    infos = list_templates()
    width = max(len(t.name) for t in infos)
    for t in infos:
        click.echo(f"{t.name:<{width}}  {t.source}  {t.summary(lang)}")


@rulebook.command(
    "load",
    help="Validate a rulebook and store it as a new version from a month on. SOURCE is the name of a "
         "template (see `rulebook templates`) or the path of a TOML file.",
)
@click.argument("source")
@click.option("--effective-from", required=True, callback=_month)
@click.option("--note", default="")
@click.option("--actor", default="cli", show_default=True)
@pass_ctx
def rulebook_load(c: Context, source: str, effective_from: str, note: str, actor: str) -> None:
    import tomllib

    from starlevel.domain.rulebook import RulebookError
    from starlevel.domain.templates import TEMPLATE_NAMES, is_template, template_text
    from starlevel.services import rulebooks as store
    from starlevel.services.recompute import recompute as rc

    file = Path(source)
    if file.is_file():
        label = file.stem
        document = _read_toml(file)
    elif is_template(source):
        label = source
        document = tomllib.loads(template_text(source))
    else:
        raise click.ClickException(
            f"{source!r} is neither a file nor a template; the templates are: {', '.join(TEMPLATE_NAMES)}"
        )
    try:
        with c.session() as session:
            store.ensure_default(session)
            rb = store.add_version(session, document, effective_from=effective_from, actor=actor, label=label, note=note)
            rc(session, start=effective_from)
    except RulebookError as exc:
        _rejected(source, exc.problems)
    click.echo(f"stored rulebook v{rb.version} ({label}) effective from {effective_from}; recomputed")


@rulebook.command("whatif", help="Run a draft rulebook (TOML) over a past period against the live results: "
                                  "who would differ, month by month, and what it would cost. Writes nothing.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--from", "start", required=True, callback=_month, help="First month (YYYY-MM).")
@click.option("--to", "end", required=True, callback=_month, help="Last month (YYYY-MM).")
@click.option("--format", "fmt", type=click.Choice(["text", "csv"]), default="text", show_default=True,
              help="csv: one row per agent-month that differs.")
@pass_ctx
def rulebook_whatif(c: Context, file: Path, start: str, end: str, fmt: str) -> None:
    import csv

    from starlevel.domain.rulebook import RulebookError
    from starlevel.services import whatif

    document = _read_toml(file)
    try:
        with c.session() as session:
            result = whatif.run(session, document, start=start, end=end)
            session.rollback()  # nothing to keep: a what-if never writes
    except RulebookError as exc:
        _rejected(file, exc.problems)
    except whatif.WhatIfError as exc:
        raise click.ClickException(str(exc)) from exc
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(whatif.CSV_COLUMNS)
        writer.writerows(whatif.csv_rows(result))
        return
    click.echo(f"what-if {result.start}..{result.end}: {result.agents} agents differ in {len(result.diffs)} agent-months")
    click.echo(f"{'month':<8} {'live pay':>14} {'draft pay':>14} {'difference':>12}  promote/demote/waitlist live → draft")
    for m in result.months:
        le, de = m.live_events, m.draft_events
        click.echo(f"{m.month:<8} {m.live:>14,.2f} {m.draft:>14,.2f} {m.difference:>+12,.2f}  "
                   f"{le['promote']}/{le['demote']}/{le['waitlist']} → {de['promote']}/{de['demote']}/{de['waitlist']}")
    click.echo(f"{'total':<8} {result.live_total:>14,.2f} {result.draft_total:>14,.2f} {result.difference:>+12,.2f}")
    for d in result.diffs[:50]:
        click.echo(f"  {d.month} {d.agent_id} {d.name}: level {d.level_live}→{d.level_draft}, "
                   f"next {d.next_level_live}→{d.next_level_draft}, pay {_money(d.total_pay_live)}→{_money(d.total_pay_draft)}")
    if len(result.diffs) > 50:
        click.echo(f"  … {len(result.diffs) - 50} more (use --format csv for all)")


# ------------------------------------------------------------------ month close

@cli.group(help="Close a month for payroll (its inputs and results freeze), reopen it, list months.")
def month() -> None:
    pass


def _money(value: object) -> str:
    return "—" if value is None else f"{value:,.2f}"


@month.command("list", help="Every evaluated month, newest first, with its close state.")
@pass_ctx
def month_list(c: Context) -> None:
    from starlevel.services import months

    with c.session() as session:
        rows = months.month_statuses(session)
    if not rows:
        click.echo("no evaluated months yet")
    for r in rows:
        line = f"{r.month}  {r.status:<11}"
        if r.closed_at is not None:
            line += f"  closed {r.closed_at:%Y-%m-%d %H:%M} by {r.closed_by}"
        if r.reopened:
            line += f"  reopened {r.reopened}x (last: {r.last_reopen_reason})"
        click.echo(line)


@month.command("close", help="Close MONTH (and every earlier open month) and keep its payroll as paid.")
@click.argument("month_", metavar="YYYY-MM", callback=_month)
@click.option("--confirm-incomplete", is_flag=True, help="Close although some agents' months are incomplete.")
@click.option("--confirm-changes", is_flag=True, help="Close although the payroll changed since the last close.")
@click.option("--actor", default="cli", show_default=True)
@pass_ctx
def month_close(c: Context, month_: str, confirm_incomplete: bool, confirm_changes: bool, actor: str) -> None:
    from starlevel.services import months

    try:
        with c.session() as session:
            result = months.close_month(session, month_, actor=actor, confirm_incomplete=confirm_incomplete,
                                        confirm_changes=confirm_changes)
    except months.CloseRefused as exc:
        _refused(exc)
        sys.exit(1)
    closed = ", ".join(result.months)
    click.echo(f"closed {closed}; payroll of {month_} kept for {result.agents} agents"
               + (f" ({len(result.incomplete_confirmed)} incomplete, confirmed)" if result.incomplete_confirmed else ""))


def _refused(exc: object) -> None:
    from starlevel.services.audit import REASON_LIMIT
    from starlevel.services.months import CloseRefused

    assert isinstance(exc, CloseRefused)
    texts = {
        "not_a_month": "is not a month (YYYY-MM)",
        "not_evaluated": "has not been evaluated",
        "in_progress": "has not ended yet",
        "already_closed": "is closed already",
        "not_closed": "is not closed",
        "reason_required": "a reopen needs a reason (--reason)",
        "reason_too_long": f"the reason is too long (at most {REASON_LIMIT} characters)",
        "incomplete": "some agents' months are incomplete; check them, then close with --confirm-incomplete",
        "changes": "the payroll changed since the last close; check the changes, then close with --confirm-changes",
    }
    click.echo(f"{exc.month}: {texts.get(exc.code, exc.code)}", err=True)
    plan = exc.plan
    if plan is None:
        return
    for a in plan.incomplete:
        who = ", ".join(a.inspectors) or "nobody"
        missing = [] if a.has_metrics else ["no metrics"]
        click.echo(f"  incomplete {a.month} {a.agent_id} {a.name} ({a.team}): {a.n_inspections} inspections"
                   f"{'; ' + ', '.join(missing) if missing else ''}; inspected by {who}", err=True)
    for ch in plan.changes:
        click.echo(f"  changed {ch.month} {ch.agent_id} {ch.name}: level {ch.level_before or '—'} → {ch.level_after or '—'}, "
                   f"pay {_money(ch.pay_before)} → {_money(ch.pay_after)} ({ch.difference:+,.2f})", err=True)
    if plan.total_difference is not None:
        click.echo(f"  payroll total {_money(plan.total_before)} → {_money(plan.total_after)} "
                   f"({plan.total_difference:+,.2f})", err=True)


@month.command("reopen", help="Reopen a closed MONTH (and every later closed month), with a reason.")
@click.argument("month_", metavar="YYYY-MM", callback=_month)
@click.option("--reason", required=True, help="Why (recorded in the audit log).")
@click.option("--actor", default="cli", show_default=True)
@pass_ctx
def month_reopen(c: Context, month_: str, reason: str, actor: str) -> None:
    from starlevel.services import months

    try:
        with c.session() as session:
            reopened = months.reopen_month(session, month_, reason=reason, actor=actor)
    except months.CloseRefused as exc:
        _refused(exc)
        sys.exit(1)
    click.echo(f"reopened {', '.join(reopened)}")


# ------------------------------------------------------------------ review cases

@cli.group(help="Review cases (复核): list them, record HR's outcome.")
def review() -> None:
    pass


@review.command("list")
@click.option("--status", type=click.Choice(["open", "done", "all"]), default="open", show_default=True)
@pass_ctx
def review_list(c: Context, status: str) -> None:
    from starlevel.services import reviews

    with c.session() as session:
        items, total = reviews.cases(session, status=status, per_page=10_000)
    click.echo(f"{total} {status} review case(s)")
    for x in items:
        done = f"  {x.outcome} by {x.decided_by}: {x.note}" if x.outcome else ""
        click.echo(f"{x.month}  {x.agent_id}  {x.name} ({x.team}) {x.level}★{done}")


@review.command("decide", help="Record the outcome of AGENT_ID's review case of YYYY-MM.")
@click.argument("agent_id")
@click.argument("month_", metavar="YYYY-MM", callback=_month)
@click.option("--outcome", required=True, type=click.Choice(["keep", "training", "transfer", "dismissal"]))
@click.option("--note", default="", help="What was decided and why (required unless keep).")
@click.option("--actor", default="cli", show_default=True)
@pass_ctx
def review_decide(c: Context, agent_id: str, month_: str, outcome: str, note: str, actor: str) -> None:
    from starlevel.services import reviews

    texts = {"not_a_case": f"{agent_id} has no review case in {month_}",
             "note_required": f"--note is required for {outcome}", "note_too_long": "--note is too long (2000 at most)"}
    try:
        with c.session() as session:
            reviews.record_outcome(session, agent_id, month_, outcome=outcome, note=note, actor=actor)
    except reviews.ReviewError as exc:
        raise click.ClickException(texts.get(exc.code, exc.code)) from exc
    click.echo(f"review {agent_id} {month_}: {outcome}")


# ------------------------------------------------------------------ users

@cli.group(help="Sign-in accounts.")
def users() -> None:
    pass


def _read_password() -> str:
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


@users.command("create")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["inspector", "hr", "agent", "admin"]))
@click.option("--agent", "agent_id", help="The agent record an agent login belongs to.")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
@pass_ctx
def users_create(c: Context, name: str, role: str, agent_id: str | None, password_stdin: bool) -> None:
    from starlevel.services.users import UserError, create_user

    password = _read_password()
    try:
        with c.session() as session:
            create_user(session, name, role=role, password=password, agent_id=agent_id, actor="cli")
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created {role} {name}")


@users.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, required=True)
@pass_ctx
def users_set_password(c: Context, name: str, password_stdin: bool) -> None:
    from starlevel.services.users import UserError, set_password

    password = _read_password()
    try:
        with c.session() as session:
            set_password(session, name, password, actor="cli")
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"password changed for {name}")


@users.command("disable")
@click.argument("name")
@click.option("--reason", default="")
@pass_ctx
def users_disable(c: Context, name: str, reason: str) -> None:
    from starlevel.services.users import UserError, set_disabled

    try:
        with c.session() as session:
            set_disabled(session, name, True, actor="cli", reason=reason)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"disabled {name}")


# ------------------------------------------------------------------ serve / demo

def _serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    import os

    import uvicorn

    from starlevel.db.migrate import upgrade
    from starlevel.web.serving import APP_FACTORY, http_protocol

    upgrade(settings.database_url)
    if workers > 1 and not os.environ.get("STARLEVEL_SECRET_KEY"):
        # Every worker process must sign CSRF tokens with the same key.
        os.environ["STARLEVEL_SECRET_KEY"] = settings.secret_key
    # proxy_headers off: the app itself believes X-Forwarded-For only from STARLEVEL_TRUSTED_PROXIES.
    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, log_level="info", workers=workers,
                proxy_headers=False, http=http_protocol())


@cli.command(help="Serve the web app on whatever DATABASE_URL holds.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes (one per CPU core is a good start).")
@pass_ctx
def serve(c: Context, host: str, port: int, workers: int) -> None:
    _serve(c.settings, host, port, workers)


@cli.command(help="Fill the database with a realistic demo company, print logins, then serve.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--agents", default=200, show_default=True, type=int)
@click.option("--months", default=24, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Only load the data.")
@pass_ctx
def demo(c: Context, host: str, port: int, agents: int, months: int, no_serve: bool) -> None:
    from starlevel.services.demo import load_demo

    with c.session() as session:
        summary, logins = load_demo(session, agents=agents, months=months, echo=lambda s: click.echo(s, err=True))
    click.echo(summary)
    click.echo("")
    click.echo("Demo logins (角色 / 用户名 / 密码):")
    for role, user, password, note in logins:
        click.echo(f"  {role:<9} {user:<8} {password:<17} {note}")
    if not no_serve:
        click.echo(f"\nOpen http://{host}:{port}/  (Ctrl+C to stop)")
        _serve(c.settings, host, port)


def main() -> None:
    cli(prog_name="starlevel")


if __name__ == "__main__":
    main()
