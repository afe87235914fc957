"""HTTP behaviour of the pages a new user trips over first (issue 9): the agents list's
filters, the default month, wording, downloads — each in 中文 and English."""

from __future__ import annotations

import html

import pytest

from starlevel.services import users
from starlevel.web import i18n
from tests.conftest import sign_in
from tests.seed import PASSWORDS, seed_company

HX = {"HX-Request": "true"}
LANGS = {"zh": "zh-CN,zh;q=0.9", "en": "en-GB,en;q=0.9"}


@pytest.fixture
def company(session_factory, monkeypatch):  # type: ignore[no-untyped-def]
    from argon2 import PasswordHasher

    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    return seed_company(session_factory)


def _as(client, role: str, lang: str):  # type: ignore[no-untyped-def]
    client.headers["Accept-Language"] = LANGS[lang]
    user, pw = PASSWORDS[role]
    assert sign_in(client, user, pw).status_code in (302, 303)
    return client, i18n.gettext_for(lang)


# ------------------------------------------------------------------ item 1: agents list filters

@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("htmx", [False, True])
def test_empty_filters_mean_all(company, client, lang: str, htmx: bool) -> None:  # type: ignore[no-untyped-def]
    client, _ = _as(client, "inspector", lang)
    for url in ["/agents?q=&track=&level=", "/agents?q=&track=&level=&page=", "/agents?level=&page=1",
                "/agents?q=bob&track=&level="]:
        r = client.get(url, headers=HX if htmx else {})
        assert r.status_code == 200, (url, r.text[:300])
        assert r.headers["content-type"].startswith("text/html")
    body = client.get("/agents?q=&track=&level=").text
    assert "A001" in body and "A002" in body and "A003" in body
    assert "A002" in client.get("/agents?q=bob&track=&level=").text
    assert "A001" not in client.get("/agents?q=bob&track=&level=").text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_bad_filter_values_get_a_page_with_a_message(company, client, lang: str) -> None:  # type: ignore[no-untyped-def]
    client, _ = _as(client, "hr", lang)
    r = client.get("/agents?track=fax")  # an unknown track: every track, and a word about it
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    message = _("{field}: “{value}” is not a valid choice; showing all.").format(field=_("Track"), value="fax")
    assert message in html.unescape(r.text) and "A003" in r.text and "A002" in r.text
    for url in ("/agents?level=x", "/agents?page=abc"):  # not a number: a page saying so, never JSON
        r = client.get(url)
        assert r.status_code == 400 and r.headers["content-type"].startswith("text/html"), url
        assert 'role="alert"' in r.text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_malformed_html_requests_never_answer_json(company, client, lang: str) -> None:  # type: ignore[no-untyped-def]
    client, _ = _as(client, "hr", lang)
    for url in ("/hr?page=abc", "/hr?month=2025-06&page=x"):
        r = client.get(url)
        assert r.status_code == 400 and r.headers["content-type"].startswith("text/html"), url
    assert client.get("/api/agents?page=x").headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pager_links_keep_filters_and_work_opened_directly(company, client, lang: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from starlevel.web import agents

    monkeypatch.setattr(agents, "PER_PAGE", 2)
    client, _ = _as(client, "admin", lang)
    first = client.get("/agents?q=&track=&level=")
    assert _("Page {p} of {n}").format(p=1, n=2) in first.text
    assert 'href="/agents?q=&amp;page=2"' in first.text or 'href="/agents?q=&page=2"' in first.text
    second = client.get("/agents?q=&page=2")
    assert second.status_code == 200 and "A003" in second.text and "A001" not in second.text
    one = client.get("/agents?q=bob").text
    assert ("1 agent<" if lang == "en" else "共 1 名客服") in one and "1 agents" not in one


# ------------------------------------------------------------------ item 2: the month in progress

def _strong_month(text: str) -> str:
    import re

    m = re.search(r'class="review-summary">\s*<strong>([^<]+)</strong>', text)
    assert m, text[:500]
    return m.group(1)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_default_month_is_the_latest_ended_one(company, client, lang: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The seed's data reach June 2025; on 15 June June is in progress and every default view
    shows May; June is shown only when picked, labelled as in progress."""
    monkeypatch.setenv("STARLEVEL_TODAY", "2025-06-15")
    may, june = i18n.fmt_month("2025-05", lang), i18n.fmt_month("2025-06", lang)
    client, _ = _as(client, "hr", lang)
    review = client.get("/hr").text
    assert _strong_month(review) == may
    assert f'value="2025-06" >{june} · {_("in progress")}' in review or f'{june} · {_("in progress")}</option>' in review
    picked = client.get("/hr?month=2025-06").text
    assert _strong_month(picked) == june and f'({_("in progress")})' in picked
    assert "<small>· " + may in client.get("/hr/payroll").text
    assert may in client.get("/agents").text and june not in client.get("/agents").text.split("</h1>")[0]
    client.post("/logout", headers={"x-csrftoken": client.cookies.get("csrftoken")})

    client, _ = _as(client, "agent", lang)
    me = html.unescape(client.get("/me").text)
    assert f'<option value="2025-05" selected>{may}</option>' in me
    assert 'id="so-far"' in me and _("So far this month") in me and june in me.split('id="so-far"')[1]
    in_progress = html.unescape(client.get("/me?month=2025-06").text)
    assert 'id="in-progress-note"' in in_progress and 'id="so-far"' not in in_progress
    assert _("{month} is in progress: these figures are so far this month and will change until it ends.").format(
        month=june) in in_progress


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_once_the_month_ends_it_is_the_default(company, client, lang: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("STARLEVEL_TODAY", "2025-07-01")
    june = i18n.fmt_month("2025-06", lang)
    client, _ = _as(client, "agent", lang)
    me = html.unescape(client.get("/me").text)
    assert f'<option value="2025-06" selected>{june}</option>' in me and 'id="so-far"' not in me
    assert 'id="in-progress-note"' not in me


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_inspector_list_defaults_to_the_current_month(company, client, lang: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("STARLEVEL_TODAY", "2025-07-03")  # nothing inspected in July yet
    client, _ = _as(client, "inspector", lang)
    page = client.get("/inspections").text
    assert 'value="2025-07"' in page and 'class="insp-row' not in page
    assert 'name="contact_on" value="2025-07-03"' in page


# ------------------------------------------------------------------ item 4: the audit log in the reader's language

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_audit_log_reads_in_the_users_language(company, client, session_factory, lang: str) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from starlevel.db.engine import session_scope
    from starlevel.services import corrections
    from starlevel.services import inspections as svc

    with session_scope(session_factory) as s:
        insp = svc.create(s, svc.Draft(agent_id="A001", contact_on="2025-06-20", channel="phone", contact_ref="AUD-1",
                                       picks={"T1-01": svc.Pick("T1-01", "2", ""), "T2-05": svc.Pick("T2-05", "1", "")}),
                          actor="qa", today=date(2026, 11, 25))
        corrections.void_inspection(s, insp.inspection_id, reason="sampled twice", actor="qa")
    client, _ = _as(client, "admin", lang)
    page = html.unescape(client.get("/admin/audit").text)
    table = page.split('id="audit-table"')[1].split("</table>")[0]
    assert "['" not in table and "codes: [" not in table and "agent_id" not in table
    colon = "：" if lang == "zh" else ": "
    sep = "、" if lang == "zh" else ", "
    assert f"{_('audit.field.codes')}{colon}T1-01{sep}T1-01{sep}T2-05" in table or \
        f"{_('audit.field.codes')}{colon}T1-01{sep}T2-05" in table
    assert f"{_('audit.field.month')}{colon}{i18n.fmt_month('2025-06', lang)}" in table
    for key in ("audit.action.void", "audit.action.create", "audit.entity.inspection", "audit.entity.user",
                "audit.action.import"):
        assert f">{_(key)}<" in table, key
    assert f"{_('audit.field.role')}{colon}{_('inspector')}" in table
    assert _("The default rulebook, loaded on first start.") in html.unescape(
        client.get("/admin/audit?entity=rulebook").text)
    # The filter names record kinds, not stored identifiers.
    assert f'<option value="inspection" >{_("audit.entity.inspection")}</option>' in page or \
        f'>{_("audit.entity.inspection")}</option>' in page


# ------------------------------------------------------------------ item 5: words

def test_phone_channel_full_width_punctuation_and_plurals(company, client, session_factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from starlevel.db.engine import session_scope
    from starlevel.services import inspections as svc

    monkeypatch.setenv("STARLEVEL_TODAY", "2025-07-03")
    with session_scope(session_factory) as s:
        svc.create(s, svc.Draft(agent_id="A001", contact_on="2025-07-02", channel="phone", contact_ref="PH-1"),
                   actor="qa", today=date(2025, 7, 3))
    zh, _ = _as(client, "inspector", "zh")
    page = html.unescape(zh.get("/inspections").text)
    assert '<option value="phone" >电话</option>' in page or '>电话</option>' in page
    assert "<td>电话</td>" in page and "话务员" not in page.split('id="inspection-rows"')[1]
    assert "位不足，共还差" in page and "不足," not in page
    en = client
    en.headers["Accept-Language"] = LANGS["en"]
    en.cookies.set("lang", "en")
    page = html.unescape(en.get("/inspections").text)
    assert "1 inspection in Jul 2025" in page and "1 inspections" not in page
    assert "<td>phone call</td>" in page


# ------------------------------------------------------------------ item 6: HR review wording

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_hr_review_says_what_is_meant(company, client, session_factory, lang: str) -> None:  # type: ignore[no-untyped-def]
    import re

    from tests.web.test_hr_service import add_approval_version

    add_approval_version(session_factory)
    client, _ = _as(client, "hr", lang)
    page = html.unescape(client.get("/hr?month=2024-09").text)
    row = page.split('id="row-A001"')[1].split("</tr>")[0]
    cell = row.split('class="level-change">')[1].split("</td>")[0].strip()
    assert cell == _("proposed {old}★ → {new}★, waiting for approval").format(old=1, new=2)
    assert "places taken" not in page


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_full_quota_is_called_full(lang: str) -> None:
    """A waitlisted row whose level is over-full: "quota full: 23 hold 5★, cap 19"."""
    from types import SimpleNamespace

    import jinja2

    from starlevel.paths import templates_dir

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), autoescape=True)
    item = SimpleNamespace(agent_id="A9", name="N", team="T", track="phone", section="waitlist", level=4, next_level=4,
                           target=5, composite=None, average=None, rank=24, cap=19, holding=23, event="waitlist",
                           explanation="", decision=None, decidable=False, month="2025-05")
    ctx = i18n.template_globals(lang) | {"item": item, "user": None, "csrf_token": lambda: "x"}
    out = html.unescape(env.get_template("hr/_row.html").render(**ctx))
    _ = i18n.gettext_for(lang)
    assert _("quota full: {holding} hold {level}★, cap {cap}").format(holding=23, level=5, cap=19) in out
    assert _("qualifies for {new}★, waitlisted: stays {old}★").format(new=5, old=4) in out


# ------------------------------------------------------------------ item 7: sources cited inside the repository

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_default_rulebook_cites_a_file_of_this_repository(company, client, lang: str) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    toml = (root / "starlevel" / "rulebooks" / "default.toml").read_text(encoding="utf-8")
    assert "shared/" not in toml and "docs/ladder.md" in toml and (root / "docs" / "ladder.md").is_file()
    client, _ = _as(client, "hr", lang)
    page = client.get("/hr/rulebook").text
    assert "docs/ladder.md" in page and "shared/spec" not in page


# ------------------------------------------------------------------ item 9: a defect ticked three times

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_defect_ticked_three_times_is_one_line(company, client, session_factory, lang: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import re
    from datetime import date

    from sqlalchemy import select

    from starlevel.db.engine import session_scope
    from starlevel.db.models import InspectionDefect
    from starlevel.services import inspections as svc

    monkeypatch.setenv("STARLEVEL_TODAY", "2025-06-28")
    with session_scope(session_factory) as s:
        iid = svc.create(s, svc.Draft(agent_id="A002", contact_on="2025-06-21", channel="chat", contact_ref="X3",
                                      picks={"T1-01": svc.Pick("T1-01", "3", "")}), actor="qa",
                         today=date(2025, 6, 28)).inspection_id
        ids = list(s.scalars(select(InspectionDefect.id).where(InspectionDefect.inspection_id == iid)
                             .order_by(InspectionDefect.id)))
    assert len(ids) == 3
    client, _ = _as(client, "inspector", lang)

    def row() -> str:
        page = html.unescape(client.get("/inspections?month=2025-06").text)
        return page.split(f'data-inspection-id="{iid}"')[1].split("</tr>")[0]

    r = row()
    assert r.count(">T1-01</span>") == 1 and "×3" in r
    assert _("Void all {n}").format(n=3) in r and _("Void one occurrence") in r
    all_form = r.split(_("Void all {n}").format(n=3))[1]  # from its summary to its button
    assert sorted(int(x) for x in re.findall(r'name="defect_id" value="(\d+)"', all_form)) == ids

    token = client.cookies.get("csrftoken")
    one = client.post("/inspections/defects/void", data={"defect_id": str(ids[-1]), "reason": "double tick",
                                                          "_csrf_token": token}, headers=HX)
    assert one.status_code == 200
    r = row()
    assert "×2" in r and r.count(">T1-01</span>") == 2  # two live on one line, the voided one apart
    rest = client.post("/inspections/defects/void", data={"defect_id": [str(ids[0]), str(ids[1])], "reason": "not a defect",
                                                           "_csrf_token": token}, headers=HX)
    assert rest.status_code == 200
    r = row()
    assert "×" not in r and r.count("defect-chip tier-1 voided") == 3
    with session_scope(session_factory) as s:
        assert all(s.get(InspectionDefect, i).voided_at is not None for i in ids)


# ------------------------------------------------------------------ item 10: a saved inspection of another month

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_inspection_of_another_month_is_not_inserted_into_the_list(company, client, lang: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("STARLEVEL_TODAY", "2025-07-03")
    client, _ = _as(client, "inspector", lang)
    token = client.cookies.get("csrftoken")
    base = {"_csrf_token": token, "agent_id": "A001", "channel": "chat", "view_month": "2025-07", "view_agent": "",
            "view_tier": "", "view_mine": "1"}
    june = client.post("/inspections", data={**base, "contact_on": "2025-06-30", "contact_ref": "LATE-1"}, headers=HX)
    assert june.status_code == 200
    body = html.unescape(june.text)
    assert "afterbegin:#inspection-rows" not in body and 'id="insp-count"' not in body
    assert _("It belongs to {month}, not to the list shown.").format(month=i18n.fmt_month("2025-06", lang)) in body
    assert 'href="/inspections?month=2025-06&saved=' in body
    july = client.post("/inspections", data={**base, "contact_on": "2025-07-02", "contact_ref": "NOW-1"}, headers=HX)
    body = html.unescape(july.text)
    assert "afterbegin:#inspection-rows" in body
    count = body.split('id="insp-count" hx-swap-oob="true">')[1].split("</p>")[0]
    assert count == ngettext_for(lang)("{n} inspection in {month}", "{n} inspections in {month}", 1).format(
        n=1, month=i18n.fmt_month("2025-07", lang))


def ngettext_for(lang: str):  # type: ignore[no-untyped-def]
    return i18n.catalog(lang).ngettext


# ------------------------------------------------------------------ item 11: favicon, CSV headers

def test_favicon_is_served_to_anyone(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml") and b"<svg" in r.content


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_csv_downloads_name_their_charset_once(company, client, lang: str) -> None:  # type: ignore[no-untyped-def]
    client, _ = _as(client, "hr", lang)
    for url in ("/hr/payroll.csv?month=2025-06", "/hr/ladder.csv", "/uploads/templates/inspections"):
        ctype = client.get(url).headers["content-type"]
        assert ctype.lower().count("charset") == 1 and "utf-8" in ctype.lower(), (url, ctype)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_payroll_csv_speaks_the_language_of_the_page(company, client, lang: str) -> None:  # type: ignore[no-untyped-def]
    import csv
    import io

    client, _ = _as(client, "hr", lang)
    client.cookies.set("lang", lang)
    text = client.get("/hr/payroll.csv?month=2025-06").content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    from starlevel.services.payroll import COLUMNS
    from starlevel.web.exports import payroll_labels

    header = next(r for r in rows if len(r) == len(COLUMNS))
    assert header == [payroll_labels(lang)[c] for c in COLUMNS]
    if lang == "zh":
        assert header != [payroll_labels("en")[c] for c in COLUMNS] and "工号" in header and "姓名" in header
    else:
        assert "Agent ID" in header and "Name" in header


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_rulebook_form_defaults_to_a_month_the_change_affects(company, client, lang: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import re

    client, _ = _as(client, "hr", lang)
    monkeypatch.setenv("STARLEVEL_TODAY", "2026-11-25")  # data end in June 2025
    page = client.get("/hr/rulebook").text
    assert re.search(r'name="effective_from"[^>]*value="2025-06"', page), "the latest evaluated month"
    monkeypatch.setenv("STARLEVEL_TODAY", "2025-06-15")  # June is in progress and has data
    page = client.get("/hr/rulebook").text
    assert re.search(r'name="effective_from"[^>]*value="2025-06"', page)
    monkeypatch.setenv("STARLEVEL_TODAY", "2025-05-15")
    assert re.search(r'name="effective_from"[^>]*value="2025-05"', client.get("/hr/rulebook").text)
    assert "approval_required" in client.get("/hr/rulebook").text  # the rulebook text is still in the form


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_second_login_for_an_agent_is_warned_about(company, client, lang: str) -> None:  # type: ignore[no-untyped-def]
    client, _ = _as(client, "admin", lang)
    token = client.cookies.get("csrftoken")
    form = {"_csrf_token": token, "username": "ann2", "role": "agent", "agent_id": "A001", "password": "ann2-pass-123"}
    r = client.post("/admin/users", data=form)
    body = html.unescape(r.text)
    assert r.status_code == 422
    assert _("Agent {agent} already has a login ({logins}). Tick the box to create a second one, or link another agent.").format(
        agent="A001", logins="ann") in body
    assert 'name="second_login" value="1"' in body and 'id="user-ann2"' not in body
    r = client.post("/admin/users", data={**form, "second_login": "1"})
    assert r.status_code == 200 and 'id="user-ann2"' in r.text
    # A login for an agent without one needs no confirmation.
    r = client.post("/admin/users", data={**form, "username": "chen", "agent_id": "A003"})
    assert r.status_code == 200 and 'id="user-chen"' in r.text


# ------------------------------------------------------------------ item 11: templates with an example row

def test_each_template_has_an_example_row_that_imports(session_factory) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from starlevel.db.engine import session_scope
    from starlevel.services import inspections as svc
    from starlevel.services import rulebooks
    from starlevel.services.importer import import_table

    with session_scope(session_factory) as s:
        rulebooks.ensure_default(s)
        for kind in ("agents", "inspections", "metrics"):
            text = svc.template_csv(s, kind, "2025-01")
            lines = text.splitlines()
            assert len(lines) == 2 and lines[1].count(",") == lines[0].count(",")
            result = import_table(s, kind, text.encode(), filename=f"{kind}.csv", actor="t",
                                  rulebook=rulebooks.current(s), today=date(2026, 11, 25))
            assert result.inserted == 1, kind


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_uploads_page_lists_allowed_values(company, client, lang: str) -> None:  # type: ignore[no-untyped-def]
    client, _ = _as(client, "inspector", lang)
    page = html.unescape(client.get("/uploads").text)
    section = page.split('id="allowed-values"')[1].split("</details>")[0]
    assert _("Allowed values") in section and "<code>T1-01</code>" in section and "<code>T3-01</code>" in section
    assert f"phone ({_('channel.phone')})" in section and _("a month, YYYY-MM") in section
