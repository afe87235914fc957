"""The HR area: month review with approve/hold, payroll, exports and the rulebook.

Who may do what (enforced by guards here, not by hiding buttons):
- ``hr`` uses everything;
- ``admin`` may *view* the month review and the rulebook, but not decide, upload rules,
  or download pay data (payroll and ladder exports hold personal pay figures);
- inspectors and agents get 403 everywhere under ``/hr``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromQuery
from litestar.response import Redirect, Stream, Template
from msgspec import Struct
from sqlalchemy.orm import Session

from starlevel.domain import months as M
from starlevel.domain.describe import Phrases, num
from starlevel.domain.rulebook import Problem, RulebookError
from starlevel.services import audit, clock
from starlevel.services import hr as hr_service
from starlevel.services import months
from starlevel.services import rulebooks as rulebook_store
from starlevel.services import payroll as payroll_service
from starlevel.services.recompute import run_pending
from starlevel.web.exports import payroll_labels
from starlevel.web.i18n import fmt_month
from starlevel.web.auth import current_user, requires, session_factory_of
from starlevel.web.params import MAX_ID, BadParam, bad_param_page, int_param
from starlevel.web.render import gettext, is_htmx, lang_of, render

PER_PAGE = 50


def status_for(request: Request[Any, Any, Any], ok: bool) -> int:
    """422 for a form with problems (base.html tells htmx to swap 422 responses too)."""
    return 200 if ok else 422


def commit_now(session: Session) -> None:
    """Commit a change before rendering: the page then shows what is stored, and a failing
    commit is an error here instead of after the response has started (the autocommit's time)."""
    session.commit()


def decision_messages(request: Request[Any, Any, Any]) -> dict[str, str]:
    _ = gettext(request)
    return {
        "reason_required": _("A hold needs a reason: write why in the reason field."),
        "reason_too_long": _("The reason is too long (at most {limit} characters).").format(limit=audit.REASON_LIMIT),
        "approval_off": _("This month's rulebook does not ask for HR approval; promotions take effect at once."),
        "not_found": _("There is no evaluated month like this for the agent."),
        "not_a_proposal": _("There is no promotion proposal to decide here any more."),
        "bad_action": _("Choose approve or hold."),
        "month_closed": _("This month is closed for payroll; reopen it before changing a decision."),
    }


def _streamed(request: Request[Any, Any, Any], make: Callable[[Session], Iterator[bytes]]) -> Iterator[bytes]:
    """Stream from a session of its own (the request's session closes before the body is sent),
    after running any recompute still owed by deferred changes, so a download is never stale."""
    factory = session_factory_of(request)
    run_pending(factory, wait=True)
    session = factory()
    try:
        yield from make(session)
    finally:
        session.close()


def _csv(request: Request[Any, Any, Any], filename: str, make: Callable[[Session], Iterator[bytes]]) -> Stream:
    return Stream(
        _streamed(request, make),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def closed_rulebook_text(request: Request[Any, Any, Any], form: RulebookConfirm) -> str:
    _ = gettext(request)
    text = _("{month} is closed for payroll: a rulebook version cannot take effect in a closed month. Choose a later month.")
    return text.format(month=fmt_month(form.effective_from, lang_of(request)))


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _payroll_month(session: Session, month: str) -> str:
    chosen, options = hr_service.pick_month(session, month or None)
    if chosen is None or (month and month not in options):
        raise NotFoundException(f"month {month!r} has not been evaluated")
    return chosen


class DecisionForm(Struct):
    agent_id: str = ""
    month: str = ""
    action: str = ""
    reason: str = ""


@dataclass
class RulebookUpload:
    effective_from: str = ""
    label: str = ""
    note: str = ""
    toml: str = ""
    file: UploadFile | None = None


class RulebookConfirm(Struct):
    effective_from: str = ""
    label: str = ""
    note: str = ""
    toml: str = ""


def _render_problem(problem: str, _: Any) -> str:
    """A rulebook problem in the request's language (its template through the catalogs)."""
    return problem.render(_) if isinstance(problem, Problem) else problem


class HrController(Controller):
    exception_handlers = {BadParam: bad_param_page}  # type: ignore[dict-item]
    path = "/hr"
    guards = [requires("hr", "admin")]
    include_in_schema = False

    # ---------------------------------------------------------------- month review

    @get("/", name="hr_review", sync_to_thread=True)
    def review(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
        month: FromQuery[str] = "", team: FromQuery[str] = "", track: FromQuery[str] = "", section: FromQuery[str] = "",
        page: FromQuery[str] = "",
    ) -> Template:
        wanted = section if section in hr_service.SECTIONS else None
        review = hr_service.month_review(
            db_session, month or None, team=team, track=track, section=wanted, page=int_param("page", page) or 1,
            per_page=PER_PAGE,
            lang=lang_of(request), only=is_htmx(request),
        )
        return render(
            request, "hr/review.html", partial="hr/_section.html" if wanted else "hr/_review.html",
            review=review, sections=hr_service.SECTIONS, s=wanted, errors={},
        )

    @post("/decisions", name="hr_decide", guards=[requires("hr")], sync_to_thread=True)
    def decide(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
        data: Annotated[DecisionForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Template | Redirect:
        error = None
        try:
            hr_service.decide_and_recompute(
                db_session, data.agent_id, data.month, action=data.action, reason=data.reason,
                actor=current_user(request).username,
            )
            commit_now(db_session)
        except hr_service.DecisionError as exc:
            db_session.rollback()
            error = decision_messages(request)[exc.code]
        if is_htmx(request):
            item = hr_service.review_item(db_session, data.agent_id, data.month, lang_of(request))
            if item is None:
                raise NotFoundException("no such agent-month")
            return render(request, "hr/_row.html", item=item, error=error, reason=data.reason if error else "",
                          status_code=status_for(request, error is None),
                          headers=None if error else {"HX-Trigger": "decided"})
        if error is None:
            return Redirect(f"/hr?month={data.month}#row-{data.agent_id}")
        review = hr_service.month_review(db_session, data.month or None, per_page=PER_PAGE, lang=lang_of(request))
        return render(request, "hr/review.html", review=review, sections=hr_service.SECTIONS, s=None,
                      errors={data.agent_id: error}, status_code=422)

    # ---------------------------------------------------------------- payroll and exports

    @get("/payroll", name="hr_payroll", guards=[requires("hr")], sync_to_thread=True)
    def payroll(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
                month: FromQuery[str] = "") -> Template:
        chosen, options = hr_service.pick_month(db_session, month or None)
        teams, grand = hr_service.payroll_summary(db_session, chosen) if chosen else ([], None)
        return render(request, "hr/payroll.html", month=chosen, months=options, teams=teams, grand=grand,
                      asked=month if month and month != chosen else "",
                      final=bool(chosen) and months.is_closed(db_session, chosen))

    @get("/payroll.csv", name="hr_payroll_csv", guards=[requires("hr")], sync_to_thread=True)
    def payroll_csv(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
                    month: FromQuery[str] = "") -> Stream:
        chosen = _payroll_month(db_session, month)
        labels = payroll_labels(lang_of(request))
        # Pay figures leave the system: who took which month's payroll, and when.
        audit.record(db_session, current_user(request).username, "download", "payroll", chosen)
        commit_now(db_session)
        return _csv(request, f"payroll-{chosen}.csv",
                    lambda s: payroll_service.csv_bytes(payroll_service.load(s, chosen), labels))

    @get("/payroll.xlsx", name="hr_payroll_xlsx", guards=[requires("hr")], sync_to_thread=True)
    def payroll_xlsx(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
                     month: FromQuery[str] = "") -> Response[bytes]:
        chosen = _payroll_month(db_session, month)
        data = payroll_service.xlsx_bytes(payroll_service.load(db_session, chosen), payroll_labels(lang_of(request)))
        audit.record(db_session, current_user(request).username, "download", "payroll", chosen)
        commit_now(db_session)
        return Response(data, media_type=XLSX, headers={
            "Content-Disposition": f'attachment; filename="payroll-{chosen}.xlsx"', "Cache-Control": "no-store"})

    @get("/ladder.csv", name="hr_ladder_csv", guards=[requires("hr")], sync_to_thread=False)
    def ladder_csv(self, request: Request[Any, Any, Any]) -> Stream:
        lang = lang_of(request)
        return _csv(request, "ladder.csv", lambda s: hr_service.ladder_csv_stream(s, lang=lang))

    # ---------------------------------------------------------------- rulebook

    def _rulebook_page(
        self, request: Request[Any, Any, Any], session: Session, *, version: int | None = None,
        problems: list[str] | None = None, form: RulebookConfirm | None = None, saved: int | None = None,
    ) -> Template:
        _first, last = hr_service.month_range(session)
        versions = hr_service.rulebook_versions(session, last)
        in_force = next((v for v in versions if v.status == "in_force"), versions[-1])
        shown = next((v for v in versions if v.version == version), in_force)
        found = hr_service.version_document(session, shown.version)
        assert found is not None
        rb, document = found
        commit_now(session)  # rulebook_versions() stores the default version 1 in an empty database
        if form is None:
            form = RulebookConfirm(
                # The default effective month is one the change affects (not the empty month after the data).
                effective_from=min(last, clock.current_month()) if last else "", toml=hr_service.to_toml(document),
            )
        return render(
            request, "hr/rulebook.html", versions=versions, shown=shown, rb=rb, form=form,
            problems=[_render_problem(p, gettext(request)) for p in problems or []], saved=saved, latest_month=last,
            rbt=Phrases(rb, lang_of(request)), rbt_num=num,  # type: ignore[arg-type]
            status_code=status_for(request, not problems),
        )

    @get("/rulebook", name="hr_rulebook", sync_to_thread=True)
    def rulebook(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
        version: FromQuery[str] = "", saved: FromQuery[str] = "",
    ) -> Template:
        return self._rulebook_page(request, db_session, version=int_param("version", version, hi=MAX_ID),
                                   saved=int_param("saved", saved, hi=MAX_ID))

    @post("/rulebook/preview", name="hr_rulebook_preview", guards=[requires("hr")], sync_to_thread=True)
    def rulebook_preview(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
        data: Annotated[RulebookUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Template:
        _ = gettext(request)
        text = data.toml
        if data.file is not None:
            raw = data.file.file.read()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                form = RulebookConfirm(data.effective_from.strip(), data.label, data.note, data.toml)
                return self._rulebook_page(request, db_session, form=form,
                                           problems=[_("The uploaded file is not UTF-8 text.")])
        form = RulebookConfirm(data.effective_from.strip(), data.label, data.note, text)
        try:
            document = hr_service.parse_candidate(text, form.effective_from)
            rulebook_store.check_label(form.label.strip())
            months.ensure_open(db_session, form.effective_from)
        except RulebookError as exc:
            return self._rulebook_page(request, db_session, form=form, problems=exc.problems)
        except months.MonthClosed:
            return self._rulebook_page(request, db_session, form=form, problems=[closed_rulebook_text(request, form)])
        preview = hr_service.preview_rulebook(db_session, document, form.effective_from)
        commit_now(db_session)
        return render(request, "hr/preview.html", preview=preview, form=form)

    @post("/rulebook", name="hr_rulebook_store", guards=[requires("hr")], sync_to_thread=True)
    def rulebook_store(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
        data: Annotated[RulebookConfirm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Template | Redirect:
        form = RulebookConfirm(data.effective_from.strip(), data.label, data.note, data.toml)
        try:
            document = hr_service.parse_candidate(form.toml, form.effective_from)
            rb = hr_service.store_rulebook(db_session, document, effective_from=form.effective_from,
                                           actor=current_user(request).username, label=form.label, note=form.note)
            commit_now(db_session)
        except RulebookError as exc:
            db_session.rollback()
            return self._rulebook_page(request, db_session, form=form, problems=exc.problems)
        except months.MonthClosed:
            db_session.rollback()
            return self._rulebook_page(request, db_session, form=form, problems=[closed_rulebook_text(request, form)])
        return Redirect(f"/hr/rulebook?saved={rb.version}")
