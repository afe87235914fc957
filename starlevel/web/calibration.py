"""Calibration sessions: pages for HR and inspectors.

Who may do what: HR and inspectors reach ``/calibration`` (the guard); the service lets
a person see a session they lead or score in (HR: every session), score only as one of
its inspectors, and agree or apply only as its lead. A session someone may not see reads
as missing (404).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from starlevel.services import calibration as svc
from starlevel.services import inspections, rulebooks
from starlevel.web.auth import current_user, requires
from starlevel.web.background import defer_recompute
from starlevel.web.disputes import path_id
from starlevel.web.render import gettext, lang_of, render

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def _multi(data: Mapping[str, Any]) -> dict[str, list[str]]:
    return {k: [str(x) for x in v] if isinstance(v, list) else [str(v)] for k, v in data.items()}


def messages(request: Request[Any, Any, Any]) -> dict[str, str]:
    _ = gettext(request)
    return {
        "title.missing": _("Give the session a title."),
        "text.too_long": _("The text is too long (at most {limit} characters)."),
        "contacts.missing": _("List the inspection IDs of the contacts to score."),
        "contacts.too_many": _("At most {max} contacts per session."),
        "contact.unknown": _("There is no live inspection {value}."),
        "inspector.unknown": _("{value} is not an active inspector."),
        "inspectors.too_few": _("Choose at least two inspectors."),
        "inspectors.too_many": _("At most {max} inspectors per session."),
        "session.missing": _("There is no such calibration session: {value}."),
        "item.missing": _("There is no such contact in this session: {value}."),
        "score.not_member": _("Only the session's inspectors score its contacts."),
        "score.closed": _("Everyone has scored: the scores are final."),
        "code.unknown": _("{code} is not a defect code of the rulebook."),
        "code.count": _("The count of {code} must be a whole number from 1 to {max}."),
        "agree.not_lead": _("Only the session's lead settles the agreed score."),
        "agree.waiting": _("Wait until every inspector has scored every contact."),
        "apply.no_agreement": _("Record the agreed defects first."),
    }


def _texts(request: Request[Any, Any, Any], problems: list[svc.Problem]) -> list[str]:
    texts = messages(request)
    return [texts[p.key].format(**p.params) for p in problems]


def _raise_status(exc: svc.CalibrationError) -> None:
    if exc.status == 404:
        raise NotFoundException(exc.problems[0].key) from exc
    if exc.status == 403:
        raise PermissionDeniedException(exc.problems[0].key) from exc


def _index(request: Request[Any, Any, Any], db: Session, *, status_code: int = 200,
           errors: list[str] | None = None, form: Mapping[str, Any] | None = None) -> Template:
    user = current_user(request)
    return render(request, "calibration/index.html", status_code=status_code,
                  sessions=svc.sessions_for(db, viewer=user.username, role=user.role),
                  inspectors=svc.inspector_names(db), errors=errors or [], form=form or {})


def _show(request: Request[Any, Any, Any], db: Session, session_id: int, *, status_code: int = 200,
          errors: list[str] | None = None, item_id: int | None = None) -> Template:
    user = current_user(request)
    try:
        v = svc.view(db, session_id, viewer=user.username, role=user.role)
    except svc.CalibrationError as exc:
        _raise_status(exc)
        raise
    rb_groups = {it.item.id: inspections.catalog(rulebooks.current(db, it.inspection.month), lang_of(request))
                 for it in v.items}
    return render(request, "calibration/session.html", status_code=status_code, v=v, groups=rb_groups, counter=Counter,
                  errors=errors or [], error_item=item_id)


class CalibrationController(Controller):
    path = "/calibration"
    guards = [requires("inspector", "hr")]
    include_in_schema = False

    @get("/", name="calibration", sync_to_thread=True)
    def index(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session]) -> Template:
        return _index(request, db_session)

    @post("/", name="calibration_create", sync_to_thread=True, status_code=200)
    def create(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
               data: Form) -> Template | Redirect:
        form = _multi(data)
        try:
            row = svc.create(db_session, title=(form.get("title") or [""])[-1],
                             inspection_ids=" ".join(form.get("inspection_ids") or []),
                             inspectors=form.get("inspector") or [], actor=current_user(request).username)
            db_session.commit()
        except svc.CalibrationError as exc:
            db_session.rollback()
            return _index(request, db_session, status_code=422, errors=_texts(request, exc.problems), form=form)
        return Redirect(f"/calibration/{row.id}", status_code=303)

    @get("/{session_id:str}", name="calibration_session", sync_to_thread=True)
    def show(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
             session_id: FromPath[str]) -> Template:
        return _show(request, db_session, path_id(session_id))

    def _step(self, request: Request[Any, Any, Any], db: Session, session_id: str, item_id: str,
              change: Any) -> Template | Redirect:
        sid, iid = path_id(session_id), path_id(item_id)
        try:
            change(sid, iid)
            db.commit()
        except svc.CalibrationError as exc:
            db.rollback()
            _raise_status(exc)
            return _show(request, db, sid, status_code=422 if exc.status == 400 else exc.status,
                         errors=_texts(request, exc.problems), item_id=iid)
        return Redirect(f"/calibration/{sid}#item-{iid}", status_code=303)

    @post("/{session_id:str}/items/{item_id:str}/score", name="calibration_score", sync_to_thread=True,
          status_code=200)
    def score(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
              session_id: FromPath[str], item_id: FromPath[str], data: Form) -> Template | Redirect:
        user = current_user(request)
        return self._step(request, db_session, session_id, item_id, lambda sid, iid: svc.score(
            db_session, sid, iid, inspector=user.username, role=user.role, form=_multi(data)))

    @post("/{session_id:str}/items/{item_id:str}/agree", name="calibration_agree", sync_to_thread=True,
          status_code=200)
    def agree(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
              session_id: FromPath[str], item_id: FromPath[str], data: Form) -> Template | Redirect:
        user = current_user(request)
        return self._step(request, db_session, session_id, item_id, lambda sid, iid: svc.agree(
            db_session, sid, iid, actor=user.username, role=user.role, form=_multi(data)))

    @post("/{session_id:str}/items/{item_id:str}/apply", name="calibration_apply", sync_to_thread=True,
          status_code=200)
    def apply(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
              session_id: FromPath[str], item_id: FromPath[str]) -> Template | Redirect:
        user = current_user(request)
        return self._step(request, db_session, session_id, item_id, lambda sid, iid: svc.apply(
            db_session, sid, iid, actor=user.username, role=user.role, defer=defer_recompute(request)))


CONTROLLERS = [CalibrationController]
