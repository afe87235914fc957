"""The rulebook page for any rulebook, the "how stars work" page, and HR's quarters, years
and awards, over HTTP in 中文 and English."""

from __future__ import annotations

import csv
import html
import io
import re
import tomllib

import pytest
from sqlalchemy import select, update

from starlevel.db.engine import session_scope
from starlevel.db.models import Agent, MonthResultRow
from starlevel.domain.templates import TEMPLATE_NAMES, template_text
from starlevel.services import rulebooks, users
from starlevel.services.recompute import recompute
from starlevel.web import i18n
from tests.conftest import csrf_token, sign_in
from tests.seed import PASSWORDS, seed_company

# A fact of each template that only its own rulebook page shows, per language.
FACTS: dict[str, dict[str, list[str]]] = {
    "default": {"en": ["Attitude rating", "rating", "1–5", "ladder, month to month"],
                "zh": ["态度评分", "评级", "1–5", "阶梯制，逐月评定"]},
    "scorecard-80-20": {"en": ["↳ Process completion", "Process completion % scored in bands: ≥ 90 → 100, ≥ 85 → 50, otherwise 0",
                               "(300 − 100 × Complaint standards missed) ÷ 3, never below 0"],
                        "zh": ["↳ 流程完成率", "流程完成率分档计分：≥ 90 → 100，≥ 85 → 50，其余 → 0"]},
    "ecommerce-kpi": {"en": ["Mean first response (s): ≤ 40 Excellent, ≤ 60 Good, otherwise Fail", "Commission: 10% of"],
                      "zh": ["≤ 40 优秀，≤ 60 良好，其余为不合格", "提成："]},
    "star-standard": {"en": ["every item at least 85", "down to the highest level whose floor"],
                      "zh": ["每项不低于85", "降到该月综合评分达到保级线的最高星级"]},
    "tenure-track": {"en": ["No star, 1★, 2★", "without a valid complaint", "Floors are off"],
                     "zh": ["无星, 1★, 2★", "无有效投诉", "不设保级线"]},
    "fee-collection": {"en": ["Collection rate % at least 110", "Extra tasks done well: yes", "from the month's figures (direct)",
                              "Coefficient by level"],
                       "zh": ["收费完成率不低于110", "领导交办任务完成良好：是", "按当月数据直接评定", "按星级的系数"]},
    "lowest-item": {"en": ["each of Staff quality, Service quality, Technical support and Performance at least 80"],
                    "zh": ["员工素质、服务质量、技术支持、绩效考核均不低于80"]},
    "mall-three-star": {"en": ["each of Loyal to the company, Follows the rules", "No star"],
                        "zh": ["热爱公司、维护公司形象、遵守规章制度、服从安排", "无星"]},
    "annual-july": {"en": ["Promotions are decided only in: July", "in the decision month: Enrolled: yes", "the mean of its complete months"],
                    "zh": ["只在以下月份评定晋升：7月", "评定当月：报名参评：是", "完整月份的平均"]},
    "reception-quarterly": {"en": ["Needs improvement ≥ 0", "mean of the quarter scores", "Satisfaction, less 10 per valid complaints"],
                            "zh": ["待改进 ≥ 0", "各季度评分的平均", "客户满意度，每有效投诉扣10分"]},
    "after-sales-deduction": {"en": ["any of Private job, Leaked company secrets or Disparaged the company: yes",
                                     "0 when Falsified repair record", "full 5 points (no deductions)"],
                              "zh": ["私自接活、泄露公司机密、诋毁公司任一为是", "维修记录弄虚作假时该项为0", "满分5分（无扣分项）"]},
}


def _text(response) -> str:  # type: ignore[no-untyped-def]
    """The page's visible text, tags removed and whitespace collapsed."""
    body = re.sub(r"<(script|style|textarea)\b.*?</\1>", " ", response.text, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def _as(client, role: str, lang: str):  # type: ignore[no-untyped-def]
    user, pw = PASSWORDS[role]
    assert sign_in(client, user, pw).status_code in (302, 303)
    client.cookies.set(i18n.COOKIE, lang)
    return client


def _store(session_factory, name: str, effective_from: str) -> int:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as s:
        return rulebooks.add_version(s, tomllib.loads(template_text(name)), effective_from=effective_from,
                                     actor="hr", label=name).version


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_rulebook_page_renders_every_template(client, session_factory, lang: str) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as s:
        rulebooks.ensure_default(s)
        users.create_user(s, "hr", role="hr", password=PASSWORDS["hr"][1])
    versions = {name: _store(session_factory, name, f"2030-{i + 1:02d}") for i, name in enumerate(TEMPLATE_NAMES)}
    _as(client, "hr", lang)
    seen = {}
    for name, version in versions.items():
        r = client.get(f"/hr/rulebook?version={version}")
        assert r.status_code == 200, name
        text = seen[name] = _text(r)
        for fact in FACTS[name][lang]:
            assert fact in text, f"{name} ({lang}): {fact!r} missing"
    # Each fact belongs to its template: the default's page shows none of the others'.
    for name, facts in FACTS.items():
        if name not in ("default", "mall-three-star", "tenure-track"):
            assert facts[lang][0] not in seen["default"], name
    assert FACTS["fee-collection"][lang][-1] not in seen["default"]  # no coefficient by level there


@pytest.mark.parametrize("role", ["agent", "inspector", "hr", "admin"])
def test_every_role_reads_how_stars_work(client, session_factory, role: str) -> None:  # type: ignore[no-untyped-def]
    seed_company(session_factory)
    assert client.get("/rules", follow_redirects=False).headers["location"].startswith("/login")
    _as(client, role, "en")
    r = client.get("/rules")
    assert r.status_code == 200
    text = _text(r)
    assert "How stars work" in text and "at least 36 months of service" in text
    assert "Monthly pay = fixed pay + bonus base × performance coefficient + star allowance." in text
    assert 'href="/rules"' in r.text  # the navigation links it for every role


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_how_stars_work_follows_the_rulebook_of_the_latest_ended_month(client, session_factory, lang: str) -> None:  # type: ignore[no-untyped-def]
    seed_company(session_factory)
    _store(session_factory, "fee-collection", "2025-07")
    _store(session_factory, "mall-three-star", "2099-01")  # scheduled: not in force yet
    _as(client, "agent", lang)
    me = client.get("/me")
    assert 'href="/rules"' in me.text
    text = _text(client.get("/rules"))
    if lang == "en":
        assert "Fee collection monthly stars" in text
        assert "Collection rate % at least 110" in text and "When no star's conditions hold: 1★." in text
        assert "Employee of the year" in text
        assert "Loyal to the company" not in text
    else:
        assert "客服部星级员工考核标准（收费）" in text
        assert "收费完成率不低于110" in text and "没有星级的条件满足时：1★。" in text
        assert "年度优秀员工" in text
        assert "热爱公司" not in text


def _quarterly_company(session_factory):  # type: ignore[no-untyped-def]
    """The seeded company scored by reception-quarterly from its first month; A003's name
    looks like a spreadsheet formula."""
    seed_company(session_factory)
    _store(session_factory, "reception-quarterly", "2023-06")
    with session_scope(session_factory) as s:
        recompute(s, start="2023-06")
        s.execute(update(Agent).where(Agent.agent_id == "A003").values(name='=HYPERLINK("http://x","陈静")'))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_hr_sees_quarters_and_years_and_downloads_them(client, session_factory, lang: str) -> None:  # type: ignore[no-untyped-def]
    _quarterly_company(session_factory)
    _as(client, "hr", lang)
    r = client.get("/hr/periods?year=2025")
    assert r.status_code == 200
    text = _text(r)
    # Every 2025 month of A001 has 3 inspections (98, 100, 100 → 99.33), satisfaction 95,
    # efficiency 92.5, attitude 4 (× 20), no complaint:
    # 0.40 × 99.33 + 0.25 × 92.5 + 0.20 × 95 + 0.15 × 80 = 93.857 → 93.86; A002 (98, 95, 100 → 97.67) 93.19.
    excellent = "优秀" if lang == "zh" else "Excellent"
    row = _text_of_row(r.text, "A001")
    assert row.count(f"93.86 {excellent}") == 3  # Q1, Q2 and the year; Q3 and Q4 have no month yet
    assert row.count("—") == 2
    assert _text_of_row(r.text, "A002").count(f"93.19 {excellent}") == 3
    assert ("第1季度" if lang == "zh" else "Quarter 1") in text
    csv_response = client.get("/hr/periods/csv?year=2025")
    assert csv_response.status_code == 200
    assert csv_response.headers["content-disposition"] == 'attachment; filename="periods-2025.csv"'
    rows = list(csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == (["工号", "姓名", "班组"] if lang == "zh" else ["Agent ID", "Name", "Team"])
    assert len(rows[0]) == 3 + 2 * 5
    by_id = {row[0]: row for row in rows[1:]}
    assert by_id["A001"][3:5] == ["93.86", excellent] and by_id["A001"][-2:] == ["93.86", excellent]
    assert by_id["A001"][7:11] == ["", "", "", ""]
    assert by_id["A003"][1] == '\'=HYPERLINK("http://x","陈静")'  # neutralised, not a formula
    # Another year: no results before 2023; an unknown year falls back to the latest.
    assert "2023" in _text(client.get("/hr/periods?year=2023"))
    assert client.get("/hr/periods/csv?year=1999").status_code == 404


def _text_of_row(page: str, agent_id: str) -> str:
    m = re.search(rf'<tr id="period-{agent_id}">(.*?)</tr>', page, flags=re.S)
    assert m, agent_id
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", m.group(1))))


def test_who_may_see_the_periods(client, session_factory) -> None:  # type: ignore[no-untyped-def]
    _quarterly_company(session_factory)
    _as(client, "admin", "en")
    page = client.get("/hr/periods")
    assert page.status_code == 200 and "/hr/periods/csv" not in page.text
    assert client.get("/hr/periods/csv?year=2025").status_code == 403
    client.post("/logout", data={"_csrf_token": csrf_token(client)})
    _as(client, "agent", "en")
    assert client.get("/hr/periods").status_code == 403
    assert client.get("/hr/periods/csv").status_code == 403


def test_the_default_rulebook_has_no_periods(client, session_factory) -> None:  # type: ignore[no-untyped-def]
    seed_company(session_factory)
    _as(client, "hr", "en")
    text = _text(client.get("/hr/periods"))
    assert "declares no quarterly or yearly reports and no awards" in text
    empty = client.get("/hr/periods/csv")  # the year's agents, no period columns
    assert empty.status_code == 200 and empty.content.decode("utf-8-sig").strip() == "Agent ID,Name,Team"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_years_award_winners(client, session_factory, lang: str) -> None:  # type: ignore[no-untyped-def]
    seed_company(session_factory)
    _store(session_factory, "fee-collection", "2025-01")
    five = {"A001": ["2025-01", "2025-02", "2025-03", "2025-04"], "A002": ["2025-02", "2025-03", "2025-04", "2025-05"],
            "A003": ["2025-06"]}
    with session_scope(session_factory) as s:
        for aid, months in five.items():
            s.execute(update(MonthResultRow).where(MonthResultRow.agent_id == aid, MonthResultRow.month.in_(months))
                      .values(level=5, complete=True))
        assert s.scalar(select(MonthResultRow.level).where(MonthResultRow.agent_id == "A003",
                                                           MonthResultRow.month == "2025-05")) != 5
    _as(client, "hr", lang)
    text = _text(client.get("/hr/periods?year=2025"))
    if lang == "en":
        assert "Awards of 2025" in text
        assert "Employee of the year : Ann Lee (A001), Bob Wu (A002) — 4 months at 5★" in text
    else:
        assert "2025年奖项" in text
        assert "年度优秀员工 : Ann Lee (A001), Bob Wu (A002) — 5★ 4个月" in text
    assert "陈静 (A003)" not in text

