"""HTTP behaviour of /me and /agents/{agent_id}: who may see what, partials, languages."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event

from tests.conftest import sign_in
from tests.seed import PASSWORDS
from tests.web.test_mystar_fixtures import DEFECT_VOID_REASON, INSPECTION_VOID_REASON, NOTE, seed_star_company

EN = {"accept-language": "en-GB,en;q=0.9"}
ZH = {"accept-language": "zh-CN,zh;q=0.9"}
HX = {"hx-request": "true"}


@pytest.fixture
def seeded(session_factory):  # type: ignore[no-untyped-def]
    seed_star_company(session_factory)


def login(client, role: str) -> None:  # type: ignore[no-untyped-def]
    user, pw = PASSWORDS[role]
    assert sign_in(client, user, pw).status_code == 302


def inspection_ids(html: str) -> set[str]:
    return set(re.findall(r'id="insp-([^"]+)"', html))


def test_anonymous_is_sent_to_sign_in(client):
    for path in ("/me", "/me/defects", "/agents/A001", "/agents/A001/defects"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code in (302, 303), path
        assert r.headers["location"].startswith("/login"), path


def test_agent_sees_only_their_own_page(client, seeded):
    """One signed-in agent (hashing passwords is slow, so one seed serves several checks)."""
    login(client, "agent")  # ann = A001
    _own_page(client)
    _never_another_agent(client)
    _earlier_month_and_a_bad_month(client)
    _both_languages(client)


def _own_page(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/me", headers=EN)
    assert r.status_code == 200
    html = r.text
    assert "My star" in html and "Ann Lee" in html
    assert "Bob Wu" not in html and "陈静" not in html
    # The latest month (2025-07) is incomplete: no pay figure, and it says what is missing.
    assert "Incomplete month: no composite and no pay figure yet." in html
    assert "Waiting for 2 more inspections (1 of 3 so far)." in html
    assert 'role="img"' in html and 'aria-labelledby="history-chart-title history-chart-desc"' in html
    assert inspection_ids(html) == {"J-A1-1"}


def _never_another_agent(client) -> None:  # type: ignore[no-untyped-def]
    for query in ("?agent_id=A002", "?agent=A002", "?id=A002&agent_id=A003", "?month=2025-07&agent_id=A002",
                  "?defects=2025-07&agent_id=A003"):
        html = client.get("/me" + query, headers=EN).text
        assert "Ann Lee" in html and "Bob Wu" not in html and "陈静" not in html, query
        assert all(i == "J-A1-1" or i.startswith("I") for i in inspection_ids(html)), query
        assert not inspection_ids(html) & {"J-A2-1", "J-A3-1", "J-A3-4"}, query
    part = client.get("/me/defects?defects=2025-07&agent_id=A003", headers={**EN, **HX}).text
    assert inspection_ids(part) == {"J-A1-1"}
    # Paths that name another agent are staff pages: forbidden to an agent, even for their own id.
    for path in ("/agents/A002", "/agents/A001", "/agents/A002/defects", "/me/../agents/A002"):
        r = client.get(path, headers=EN)
        assert r.status_code == 403, path
        assert "Bob Wu" not in r.text


def test_second_agent_gets_their_own_page(client, seeded):
    login(client, "agent2")  # bob = A002
    html = client.get("/me", headers=EN).text
    assert "Bob Wu" in html and "Ann Lee" not in html
    # 58.00 < 60: ×0, and one more month below the floor means a review at 1★.
    assert "composite 58.00 &lt; 60 → ×0" in html
    assert "One more month below 60.00 and your case goes to review" in html


def test_staff_can_open_any_agent(client, seeded):
    for role in ("inspector", "admin", "hr"):
        login(client, role)
        _staff_page(client, sees_pay=role == "hr")
        client.post("/logout", headers={"x-csrftoken": client.cookies.get("csrftoken")})
    login(client, "hr")
    _unknown_agent_is_a_404_page(client)
    _defects_partial_for_htmx_and_full_page_otherwise(client)


def _staff_page(client, *, sees_pay: bool) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/agents/A003", headers=EN)
    assert r.status_code == 200
    html = r.text
    assert "陈静" in html and "A003" in html
    assert "One more month below 65.00 and this agent drops to 1★." in html
    # Pay with the reason for the coefficient: 63.47 ≥ 60 → ×0.5 (HR only: pay is private).
    assert ("composite 63.47 ≥ 60 → ×0.5" in html) is sees_pay
    assert ("CNY 2,160.00" in html) is sees_pay
    # The defects of the month, voided ones struck through with their reason.
    assert NOTE in html and DEFECT_VOID_REASON in html and INSPECTION_VOID_REASON in html
    assert re.search(r'<li class="insp voided" id="insp-J-A3-4">', html)
    assert re.search(r"<del>\s*<code>T2-05</code>", html)
    assert client.get("/agents/A001", headers=EN).status_code == 200


def _unknown_agent_is_a_404_page(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/agents/NOPE", headers=EN)
    assert r.status_code == 404 and "Not found" in r.text
    assert client.get("/agents/NOPE/defects", headers=EN).status_code == 404


def _earlier_month_and_a_bad_month(client) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/me?month=2024-02", headers=EN).text
    # Probation: 80% of (1580 + 462), no allowance.
    assert "CNY 1,633.60" in html and "Probation month: paid at 80% of fixed and performance pay" in html
    assert "composite 93.86 ≥ 90 → ×1.1" in html
    assert "Tenure: 2 of 9 months" in html and "7 more months to go" in html
    assert "Window: 2 of 3 months qualifying" in html
    bad = client.get("/me?month=2024-13", headers=EN)
    assert bad.status_code == 200
    assert "there is no evaluation for “2024-13”" in bad.text


def _defects_partial_for_htmx_and_full_page_otherwise(client) -> None:  # type: ignore[no-untyped-def]
    part = client.get("/agents/A001/defects?defects=2024-05", headers={**EN, **HX})
    assert part.status_code == 200
    assert "<html" not in part.text and 'id="defects"' in part.text and 'data-month="2024-05"' in part.text
    assert len(inspection_ids(part.text)) == 3
    # The switch links: htmx to the partial, a plain link to the page as fallback.
    assert 'hx-get="/agents/A001/defects?defects=2024-04"' in part.text
    assert 'href="/agents/A001?defects=2024-04#defects"' in part.text
    full = client.get("/agents/A001/defects?defects=2024-05", headers=EN)
    assert "<html" in full.text and 'data-month="2024-05"' in full.text and "Back to the star page" in full.text
    page = client.get("/agents/A001?defects=2024-05", headers=EN)
    assert 'data-month="2024-05"' in page.text


def _both_languages(client) -> None:  # type: ignore[no-untyped-def]
    zh = client.get("/me", headers=ZH).text
    assert "我的星级" in zh and "晋升2★的进度" in zh and "本月数据不全：暂无综合评分和薪酬。" in zh
    assert "Progress to" not in zh
    en = client.get("/me", headers=EN).text
    assert "Progress to 2★" in en and "我的星级" not in en


def test_query_count_does_not_grow_with_history(app, client, seeded):
    """No N+1: the page costs the same number of statements for 18 or 26 months of history."""
    login(client, "hr")
    engine = app.state["engine"]
    counted: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        counted.append(statement)

    assert client.get("/agents/A002", headers=EN).status_code == 200  # warm the per-process caches
    event.listen(engine, "before_cursor_execute", count)
    try:
        sizes = {}
        for agent in ("A001", "A003"):  # 19 and 26 evaluated months
            counted.clear()
            assert client.get(f"/agents/{agent}", headers=EN).status_code == 200
            sizes[agent] = len(counted)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert sizes["A001"] == sizes["A003"], sizes
    assert sizes["A001"] <= 12, sizes


def test_older_months_are_explained_on_request(client, seeded):
    """The newest six months come explained; the older ones of the history on request
    (htmx takes #older-months from the same page with older=1; without script the link
    opens that page), as of the month picked, in either language, on either route."""
    login(client, "agent")  # ann = A001: 2024-01 .. 2025-07
    html = client.get("/me?month=2025-06", headers=EN).text
    assert 'id="month-2025-01"' in html and 'id="month-2024-12"' not in html  # six months: 2025-01..06
    link = re.search(r'<p class="older-months" id="older-months">\s*<a href="([^"]+)" hx-get="([^"]+)"', html)
    assert link is not None, html[html.find("months-h"):][:2000]
    assert link.group(1) == "/me?month=2025-06&amp;older=1#older-months"
    assert link.group(2) == "/me?month=2025-06&amp;older=1"
    assert "12 older months" in html
    older = client.get("/me?month=2025-06&older=1", headers={**EN, **HX}).text
    block = older[older.find('<details class="older-months" id="older-months" open>'):]
    assert block and block.find("</details>") > 0
    block = block[:block.find("</details>")]
    assert re.findall(r'id="month-(\d{4}-\d\d)"', block) == [f"2024-{m:02d}" for m in range(12, 0, -1)]
    assert all(why.strip() for why in re.findall(r'<td data-label="Why" class="explain">([^<]*)</td>', block))
    assert "data-focus-after-swap" in block
    zh = client.get("/me", headers=ZH).text
    assert "更早的 13 个月" in zh and "/me?older=1" in zh  # 2024-01..2025-07 less the newest six
    zh_older = client.get("/me?older=1", headers=ZH).text
    assert 'id="month-2024-01"' in zh_older and "更早的 13 个月" in zh_older
    client.post("/logout", headers={"x-csrftoken": client.cookies.get("csrftoken")})
    login(client, "hr")
    staff = client.get("/agents/A001?older=1", headers=EN).text
    assert '<details class="older-months" id="older-months" open>' in staff and 'id="month-2024-01"' in staff
    assert "/agents/A001?older=1" in client.get("/agents/A001", headers=EN).text
