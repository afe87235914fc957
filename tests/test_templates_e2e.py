"""A new user's whole path with each shipped template, through the CLI only.

On a fresh database: ``rulebook load NAME --effective-from M``, ``import agents``, ``import
metrics`` with a small file in exactly the template's declared columns (and ``import
inspections`` where the template scores QA), then read what a user reads: the ladder export
(star, pay, the explanation in 中文 and English), the payroll export, for HR's periods the
quarters-and-years report, and the agent's own star page (logins made with the CLI). Every expected figure is worked out by hand from docs/schemes.md,
docs/ladder.md and the template's TOML in the comment above it.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
import pytest
from click.testing import CliRunner

from starlevel.cli import cli
from starlevel.domain.templates import TEMPLATE_NAMES

Row = dict[str, str]


class NewUser:
    """What a new user types, one command at a time, and what they read back."""

    def __init__(self, runner: CliRunner, tmp_path: Path) -> None:
        self.runner = runner
        self.tmp = tmp_path
        self._n = 0

    def run(self, *args: str, stdin: str | None = None) -> str:
        result = self.runner.invoke(cli, list(args), input=stdin, catch_exceptions=False)
        assert result.exit_code == 0, f"{' '.join(args)}: {result.output}"
        return result.output

    def _file(self, stem: str, text: str) -> str:
        self._n += 1
        path = self.tmp / f"{self._n:02d}-{stem}.csv"
        path.write_text(text, encoding="utf-8")
        return str(path)

    def load(self, name: str, month: str) -> None:
        assert f"({name}) effective from {month}" in self.run("rulebook", "load", name, "--effective-from", month)

    def agents(self, *lines: str) -> None:
        body = "agent_id,name,track,team,hired_on\n" + "".join(f"{line}\n" for line in lines)
        self.run("import", "agents", self._file("agents", body))

    def metrics(self, columns: str, *lines: str) -> None:
        """``columns``: the template's declared inputs, in the order a user would type them."""
        body = f"agent_id,month,{columns}\n" + "".join(f"{line}\n" for line in lines)
        self.run("import", "metrics", self._file("metrics", body))

    def inspections(self, rows: Sequence[tuple[str, str, Sequence[str]]]) -> None:
        """``rows``: (agent, month, [the defect codes of one inspection]) each."""
        out = ["inspection_id,agent_id,contact_on,channel,contact_ref,inspector,defect_codes"]
        for i, (agent, month, codes) in enumerate(rows, start=1):
            out.append(f"Q{i:04d},{agent},{month}-{i % 27 + 1:02d},phone,REF-{i},qa.lin,{';'.join(codes)}")
        self.run("import", "inspections", self._file("inspections", "\n".join(out) + "\n"))

    def ladder(self) -> dict[tuple[str, str], Row]:
        """The ladder export, one row per agent-month, with the reason in both languages."""
        rows: dict[tuple[str, str], Row] = {}
        for lang in ("en", "zh"):
            for r in csv.DictReader(io.StringIO(self.run("export", "ladder", "--lang", lang))):
                rows.setdefault((r["agent_id"], r["month"]), r)[f"reason_{lang}"] = r["reason"]
        return rows

    def payroll(self, month: str) -> dict[str, Row]:
        text = self.run("export", "payroll", "--month", month).lstrip("\ufeff")
        return {r["Agent ID"]: r for r in csv.DictReader(io.StringIO(text)) if r["Line"] == "agent"}


class Web:
    """The app on the same database, for what a user reads on a page; logins made with the CLI."""

    PASSWORD = "a long passphrase 7"

    def __init__(self, user: NewUser, client: Any) -> None:
        self.user = user
        self.client = client
        self.created: set[str] = set()

    def sign_in(self, user: str, role: str, *extra: str) -> None:
        from tests.conftest import sign_in

        if user not in self.created:
            self.user.run("users", "create", user, "--role", role, *extra, "--password-stdin", stdin=self.PASSWORD + "\n")
            self.created.add(user)
        self.client.cookies.clear()
        assert sign_in(self.client, user, self.PASSWORD).status_code in (302, 303)

    def get(self, path: str, lang: str) -> str:
        from starlevel.web import i18n

        self.client.cookies.set(i18n.COOKIE, lang)
        r = self.client.get(path)
        assert r.status_code == 200, (path, r.text[:2000])
        return r.text

    def hr_get(self, path: str, lang: str) -> str:
        if "hr" not in self.created:
            self.sign_in("hr", "hr")
        return self.get(path, lang)


def qa(agent: str, months: Sequence[str], *inspections: Sequence[str]) -> list[tuple[str, str, Sequence[str]]]:
    """The same inspections (each a list of defect codes) for ``agent`` in every month."""
    return [(agent, m, codes) for m in months for codes in inspections]


def months(year: int, first: int, last: int) -> list[str]:
    return [f"{year}-{m:02d}" for m in range(first, last + 1)]


def star(row: Row, level: int, next_level: int, composite: str, total: str) -> None:
    assert (row["level"], row["next_level"], row["composite"], row["total_pay"]) == (
        str(level), str(next_level), composite, total), row


# --------------------------------------------------------------------------- the cases


def case_default(u: NewUser) -> None:
    u.load("default", "2024-02")
    # A1 on probation in 2024-02 (hired 2024-01, tenure 2 of 3); A3 past it at 1★ since 2023-06.
    u.agents("A1,王伟,phone,话务一组,2024-01-05", "A3,张敏,phone,话务二组,2023-06-01")
    # ladder.md §8: inspections T1-01 (−2); none; T1-02 + T2-05 (−2 −5) → 98, 100, 93 → quality 97.00.
    u.inspections(qa("A1", ["2024-02"], ["T1-01"], [], ["T1-02", "T2-05"])
                  + qa("A3", ["2024-02"], ["T1-01"], [], ["T1-02", "T2-05"]))
    u.metrics("satisfaction,efficiency,attitude,complaints", "A1,2024-02,95,92.5,4,0", "A3,2024-02,95,92.5,4,0")
    rows = u.ladder()
    # 0.40×97 + 0.25×92.5 + 0.20×95 + 0.15×(4×20) = 38.8 + 23.125 + 19 + 12 = 92.925 → 92.93 (≥90: × 1.1)
    # A3 at 1★: 1580 + 420×1.1 + 100 = 2142.00; A1 on probation: 0.80 × (1580 + 462) = 1633.60.
    star(rows["A3", "2024-02"], 1, 1, "92.93", "2142.00")
    star(rows["A1", "2024-02"], 1, 1, "92.93", "1633.60")
    assert rows["A1", "2024-02"]["reason_en"] == "On probation (month 2 of 3): no promotion during probation."
    assert rows["A1", "2024-02"]["reason_zh"] == "试用期（第2/3个月）：试用期内不晋升。"
    # A3: tenure 9 (2023-06…2024-02) meets 2★'s 9, but the window 2023-12…2024-02 has only
    # 2024-02 complete.
    a3 = rows["A3", "2024-02"]
    assert a3["reason_en"].startswith("Not yet eligible for 2★: window 2023-12–2024-02 (1 of 3 months qualifying): ")
    assert "2023-12–2024-01 incomplete" in a3["reason_en"]
    assert a3["reason_zh"].startswith("暂未达到2星晋升条件：考核窗口2023-12–2024-02（连续达标1/3个月）：")
    assert "2023-12–2024-01 数据不完整" in a3["reason_zh"]
    pay = u.payroll("2024-02")
    assert (pay["A1"]["Total pay"], pay["A3"]["Total pay"]) == ("1633.60", "2142.00")


SCORECARD = ("process_completion,info_utilisation,referrals,key_account_visits,satisfaction,complaint_misses,"
             "orphan_losses,customer_focus,attentiveness,command,responsibility,professionalism")


def case_scorecard(u: NewUser) -> None:
    u.load("scorecard-80-20", "2024-05")
    u.agents("A1,Ann,phone,T,2024-01-02", "B1,Bo,phone,T,2024-04-01")  # B1 on probation in May
    # No inspections: the scorecard's month is complete on the metrics row alone.
    u.metrics(SCORECARD, "A1,2024-05,92,86,0,95,83,1,0,4,5,3,4,4", "B1,2024-05,95,95,2,100,95,0,0,5,5,5,5,5")
    rows = u.ladder()
    # A1 performance = 100 × (0.2×1 [92≥90] + 0.2×½ [86≥85] + 0.1×0 [no referral] + 0.1×½ [95≥90]
    #   + 0.2×¼ [83≥80] + 0.1×(3−1)/3 + 0.1×1 [no orphan loss]) = 56.666…
    # behaviour = (4+5+3+4+4) × 4 = 80; composite = 0.8 × 56.666… + 0.2 × 80 = 61.333… → 61.33
    # 1★, 60 ≤ 61.33 < 70 → × 0.5: 1580 + 210 + 100 = 1890.00
    star(rows["A1", "2024-05"], 1, 1, "61.33", "1890.00")
    # B1: every item full → 100 and 100 → 100.00; probation: 0.80 × (1580 + 420×1.1) = 1633.60
    star(rows["B1", "2024-05"], 1, 1, "100.00", "1633.60")
    a1 = rows["A1", "2024-05"]
    # 2★ needs tenure 9 (A1 has 5) and three months ≥ 80 (May has 61.33)
    assert a1["reason_en"].startswith("Not yet eligible for 2★: tenure 5 of 9 months; window 2024-03–2024-05")
    assert "2024-05 below 80 (61.33)" in a1["reason_en"]
    assert a1["reason_zh"].startswith("暂未达到2星晋升条件：工龄5/9个月；考核窗口2024-03–2024-05")
    assert "2024-05 低于80分（61.33）" in a1["reason_zh"]
    assert rows["B1", "2024-05"]["reason_en"] == "On probation (month 2 of 3): no promotion during probation."


def case_ecommerce(u: NewUser) -> None:
    u.load("ecommerce-kpi", "2024-05")
    u.agents("A1,Ann,phone,T,2024-01-02", "B1,Bo,phone,T,2024-01-02", "C1,Cy,phone,T,2024-01-02")
    u.inspections(qa("A1", ["2024-05"], ["T1-01"], [], []) + qa("B1", ["2024-05"], ["T1-01"], [], [])
                  + qa("C1", ["2024-05", "2024-06"], ["T2-01"], ["T2-01"], []))
    u.metrics("satisfaction,accuracy,first_response_s,conversion,basket_ratio,manager_rating,sales,shop_turnover",
              "A1,2024-05,85,92,45,70,1.5,4,60000,400000",
              "B1,2024-05,85,92,45,70,1.5,4,,",
              "C1,2024-05,40,50,90,20,0.5,2,,",
              "C1,2024-06,40,50,90,20,0.5,2,,")
    rows = u.ladder()
    # A1: quality (98 + 100 + 100) / 3 = 99.33; 0.30×70 + 0.20×99.33 + 0.15×85 + 0.15×70 [45 s ≤ 60 s]
    # + 0.10×92 + 0.05×75 [1.5 × 50] + 0.05×80 [4 × 20] = 81.066 → 81.07 (× 1.0)
    # commission 10% × (60000 − 10% × 400000) = 2000: 1580 + 420 + 100 + 2000 = 4100.00
    star(rows["A1", "2024-05"], 1, 1, "81.07", "4100.00")
    star(rows["B1", "2024-05"], 1, 1, "81.07", "2100.00")  # no sales entered: no commission
    # C1: quality (95 + 95 + 100) / 3 = 96.67; 0.30×20 + 0.20×96.67 + 0.15×40 + 0.15×0 [90 s]
    # + 0.10×50 + 0.05×25 + 0.05×40 = 39.584 → 39.58 (< 60: × 0, 不合格): 1580 + 0 + 100 = 1680.00
    star(rows["C1", "2024-05"], 1, 1, "39.58", "1680.00")
    june = rows["C1", "2024-06"]
    star(june, 1, 1, "39.58", "1680.00")
    # two 不合格 months in a row at 1★ → review (辞退或调岗)
    assert (june["event"], june["rule"]) == ("review", "review_floor")
    assert june["reason_en"] == ("Composite below the 1★ floor 60 for 2 months in a row (2024-05 39.58, 2024-06 39.58) "
                                 "at the lowest level: review (dismissal or transfer).")
    assert june["reason_zh"] == ("连续2个月综合评分低于1星保级线60分（2024-05 39.58，2024-06 39.58），"
                                 "已是最低星级：提交审查（辞退或调岗）。")
    pay = u.payroll("2024-05")
    assert pay["A1"]["Total pay"] == "4100.00"


def case_star_standard(u: NewUser) -> None:
    u.load("star-standard", "2024-01")
    # Headcount 4: the 3★ quota is floor(30% × 4) = 1.
    u.agents("A1,Ann,phone,T,2023-01-02", "F1,F1,phone,T,2023-01-02", "F2,F2,phone,T,2023-01-02",
             "F3,F3,phone,T,2023-01-02")
    good, poor = months(2024, 1, 3), months(2024, 4, 5)
    u.inspections(qa("A1", good, *[["T1-01"] * 12] * 3) + qa("A1", poor, *[["T1-01"] * 19] * 3))
    u.metrics("satisfaction,efficiency,attitude,complaints",
              *[f"A1,{m},76,76,4,0" for m in good], *[f"A1,{m},62,62,3,0" for m in poor])
    rows = u.ladder()
    # 2024-01…03: quality 100 − 12×2 = 76; 0.4×76 + 0.25×76 + 0.2×76 + 0.15×80 = 76.60, every item ≥ 75,
    # no errors: 3★ (70–79 held 3 months) holds, so 1★ → 3★ at once. March at 1★ (× 1.0): 2100.00.
    march = rows["A1", "2024-03"]
    star(march, 1, 3, "76.60", "2100.00")
    assert march["reason_en"].startswith(
        "Promoted to 3★ from 2024-04: every month of 2024-01–2024-03 scored at least 70 (average 76.60)")
    assert march["reason_zh"].startswith("晋升为3星，自2024-04起生效：2024-01–2024-03连续3个月综合评分均不低于70分，平均76.60分")
    # 2024-04…05: quality 100 − 19×2 = 62; 0.4×62 + 0.25×62 + 0.2×62 + 0.15×60 = 61.70 < 3★'s 70
    # twice → down to the band of 61.70: 1★ (2★ needs 65). At 3★ × 0.5: 1860 + 270 + 300 = 2430.00
    star(rows["A1", "2024-04"], 3, 3, "61.70", "2430.00")
    may = rows["A1", "2024-05"]
    star(may, 3, 1, "61.70", "2430.00")
    assert may["reason_en"] == ("Composite below the 3★ floor 70 for 2 months in a row (2024-04 61.70, 2024-05 61.70): "
                                "demoted to 1★ from 2024-06.")
    assert may["reason_zh"] == "连续2个月综合评分低于3星保级线70分（2024-04 61.70，2024-05 61.70）：自2024-06起降为1星。"


def case_tenure_track(u: NewUser) -> None:
    u.load("tenure-track", "2024-01")
    u.agents("A1,Ann,phone,T,2024-01-08", "B1,Bo,online,T,2024-01-08")
    year = months(2024, 1, 8)
    # quality 100 − 10×2 = 80 every month (QA only), for both
    u.inspections(qa("A1", year, *[["T1-01"] * 10] * 3) + qa("B1", year, *[["T1-01"] * 10] * 3))
    u.metrics("complaints", "A1,2024-05,1")  # metrics are optional; one complaint in May
    rows = u.ladder()
    # Hires start at level 0 (无星), with no pay.
    star(rows["A1", "2024-01"], 0, 0, "80.00", "0.00")
    # 1★: tenure ≥ 6 (June) and 3 months ≥ 75 on the phone (04–06 at 80) → 1★ from July
    june = rows["A1", "2024-06"]
    star(june, 0, 1, "80.00", "0.00")
    assert june["reason_en"].startswith("Promoted to 1★ from 2024-07: every month of 2024-04–2024-06 scored at least 75 "
                                        "(average 80.00)")
    assert june["reason_zh"].startswith("晋升为1星，自2024-07起生效：2024-04–2024-06连续3个月综合评分均不低于75分，平均80.00分")
    # Smile allowance 100 at 1★ only after 3 months without complaints: May's complaint withholds
    # it in July (May–July), August (June–August) pays it.
    star(rows["A1", "2024-07"], 1, 1, "80.00", "0.00")
    star(rows["A1", "2024-08"], 1, 1, "80.00", "100.00")
    # online needs 85: 80 never qualifies
    b = rows["B1", "2024-06"]
    star(b, 0, 0, "80.00", "0.00")
    assert b["reason_en"].startswith("Not yet eligible for 1★: window 2024-04–2024-06 (0 of 3 months qualifying): ")
    assert "2024-06 below 85 (80.00)" in b["reason_en"]
    assert "2024-06 低于85分（80.00）" in b["reason_zh"]
    assert u.payroll("2024-08")["A1"]["Total pay"] == "100.00"


def case_fee_collection(u: NewUser, web: Web) -> None:
    u.load("fee-collection", "2025-01")
    u.agents("A1,Ann,phone,T,2024-12-02", "B1,Bo,phone,T,2024-12-02")  # on probation: no factor here
    u.metrics("collection_rate,complaints,extra_tasks",
              "A1,2025-01,112,0,1", "A1,2025-02,112,1,1", "B1,2025-01,90,0,0", "B1,2025-02,80,0,1")
    rows = u.ladder()
    # Pay = 2000 + 1000 × (1, 1, 1, 0.5, 0 for 5★…1★) + award (500, 200, 0, 0, 0); no QA needed.
    # A1 Jan: 112 ≥ 110, no complaint, extra tasks → 5★: 2000 + 1000 + 500 = 3500.00
    star(rows["A1", "2025-01"], 5, 5, "112.00", "3500.00")
    assert rows["A1", "2025-01"]["reason_en"] == "This month's figures earn 5★."
    assert rows["A1", "2025-01"]["reason_zh"] == "本月数据评定为5星。"
    # A1 Feb: a complaint rules out 5★ and 4★; 112 ≥ 100 → 3★: 2000 + 1000 = 3000.00
    feb = rows["A1", "2025-02"]
    star(feb, 3, 3, "112.00", "3000.00")
    assert feb["reason_en"] == "This month's figures earn 3★. Not 4★: valid complaints 1 (needs = 0)."
    assert feb["reason_zh"] == "本月数据评定为3星。未达4星：有效投诉为1（要求=0）。"
    # B1 Jan: 85 ≤ 90 < 100 → 2★, half the bonus withheld: 2000 + 500 = 2500.00
    jan = rows["B1", "2025-01"]
    star(jan, 2, 2, "90.00", "2500.00")
    assert jan["reason_en"] == "This month's figures earn 2★. Not 3★: Collection rate % 90.00 (needs ≥ 100)."
    assert jan["reason_zh"] == "本月数据评定为2星。未达3星：收费完成率为90.00（要求≥100）。"
    # B1 Feb: 80 < 85 → 1★, the whole bonus withheld: 2000.00
    star(rows["B1", "2025-02"], 1, 1, "80.00", "2000.00")
    pay = u.payroll("2025-02")
    assert (pay["A1"]["Total pay"], pay["B1"]["Total pay"]) == ("3000.00", "2000.00")
    # The most 5★ months of 2025 (A1 one, B1 none) names the year's 优秀员工, on HR's page.
    for lang, award in (("en", "Employee of the year"), ("zh", "年度优秀员工")):
        page = html.unescape(web.hr_get("/hr/periods?year=2025", lang))
        awards = page[page.index('id="awards"'):]
        awards = awards[:awards.index("</section>")]
        assert f"<strong>{award}</strong>: Ann (A1)" in awards and "B1" not in awards, awards


def case_lowest_item(u: NewUser) -> None:
    u.load("lowest-item", "2024-05")
    u.agents("A1,Ann,phone,T,2024-01-02", "P1,Pat,phone,T,2024-04-01", "C1,Cy,phone,T,2024-01-02")
    u.metrics("staff_quality,service_quality,tech_support,performance",
              "A1,2024-05,85,92,78,88", "P1,2024-05,85,92,78,88", "C1,2024-05,85,92,49.5,88")
    rows = u.ladder()
    # lowest item 78: ≥ 70 but not ≥ 80 → 4★; mean (85+92+78+88)/4 = 85.75 (× 1.0):
    # 2130 + 670 + 400 = 3200.00, the same on probation (no probation factor)
    star(rows["A1", "2024-05"], 4, 4, "85.75", "3200.00")
    star(rows["P1", "2024-05"], 4, 4, "85.75", "3200.00")
    assert rows["A1", "2024-05"]["reason_en"] == "This month's figures earn 4★. Not 5★: Technical support 78.00 (needs ≥ 80)."
    assert rows["A1", "2024-05"]["reason_zh"] == "本月数据评定为4星。未达5星：技术支持为78.00（要求≥80）。"
    # an item below 50 → 1★ whatever the rest; mean 314.5/4 = 78.625 → 78.63 (× 1.0): 1580 + 420 + 100
    c1 = rows["C1", "2024-05"]
    star(c1, 1, 1, "78.63", "2100.00")
    assert c1["reason_en"] == "This month's figures earn 1★. Not 2★: Technical support 49.50 (needs ≥ 50)."
    assert c1["reason_zh"] == "本月数据评定为1星。未达2星：技术支持为49.50（要求≥50）。"


MALL = ("cond_loyalty,cond_rules,cond_no_complaint,cond_competent,cond_activities,cond_service,cond_attendance,"
        "work_tasks,work_quality,work_skills,conduct,complaints")


def case_mall_three_star(u: NewUser) -> None:
    u.load("mall-three-star", "2024-05")
    u.agents("A1,Ann,phone,T,2024-01-02", "B1,Bo,phone,T,2024-01-02")
    u.metrics(MALL, "A1,2024-05,1,1,1,1,1,1,1,92,88,95,90,0", "B1,2024-05,1,1,1,1,1,1,0,92,88,95,90,0")
    rows = u.ladder()
    # mean (92+88+95+90)/4 = 91.25 ≥ 90, every condition met, no complaint → 3★ earned; the general
    # manager approves each month's star, so until then the month counts at level 0 (award 0).
    a1 = rows["A1", "2024-05"]
    star(a1, 0, 0, "91.25", "0.00")
    assert a1["reason_en"] == "This month's figures earn 3★, waiting for approval; until then the month counts at 0★."
    assert a1["reason_zh"] == "本月数据评定为3星，待审定；审定前按0星计。"
    # one condition not met (attendance): no star, whatever the scores
    b1 = rows["B1", "2024-05"]
    star(b1, 0, 0, "91.25", "0.00")
    assert b1["reason_en"] == "This month's figures earn 0★. Not 1★: No lateness or absence: no (needs yes)."
    assert b1["reason_zh"] == "本月数据评定为0星。未达1星：无迟到早退旷工为否（要求为是）。"
    u.run("decide", "approve", "A1", "2024-05", "--reason", "总经理批准")
    # approved: 3★ and its award, 300.00
    a1 = u.ladder()["A1", "2024-05"]
    star(a1, 3, 3, "91.25", "300.00")
    assert a1["reason_en"] == "This month's figures earn 3★ (approved)."
    assert a1["reason_zh"] == "本月数据评定为3星（已审定）。"


def case_annual_july(u: NewUser) -> None:
    u.load("annual-july", "2025-01")
    u.agents("A1,Ann,phone,T,2024-01-02", "B1,Bo,phone,T,2024-01-02")  # headcount 2: 2★ quota 1
    half = months(2025, 1, 7)
    u.inspections(qa("A1", half, [], [], []) + qa("B1", half, [], [], []))
    u.metrics("satisfaction,efficiency,attitude,complaints,enrolled",
              *[f"{a},{m},80,80,4,0," for a in ("A1", "B1") for m in half[:-1] if (a, m) != ("A1", "2025-03")],
              "A1,2025-03,60,60,4,0,", "A1,2025-07,80,80,4,0,1", "B1,2025-07,80,80,4,0,")
    rows = u.ladder()
    # a month of 80s: 0.40×100 + 0.25×80 + 0.20×80 + 0.15×80 = 88.00 (× 1.0 at 1★: 2100.00);
    # A1's March: 40 + 0.25×60 + 0.20×60 + 12 = 79.00, below 2★'s 80 (still × 1.0)
    star(rows["A1", "2025-02"], 1, 1, "88.00", "2100.00")
    march = rows["A1", "2025-03"]
    star(march, 1, 1, "79.00", "2100.00")  # nothing is decided before July
    assert "promotions are decided only at the end of July" in march["reason_en"]
    assert "晋升只在每年7月底评定" in march["reason_zh"]
    # End of July, enrolled, no complaint: the January–June mean (5 × 88 + 79) / 6 = 86.50 ≥ 80
    # (one month below 80 does not matter: the source judges the half-year's mean) → 2★ from August
    july = rows["A1", "2025-07"]
    star(july, 1, 2, "88.00", "2100.00")
    assert july["reason_en"] == ("Promoted to 2★ from 2025-08: the mean composite of 2025-01–2025-06 is 86.50, "
                                 "at least 80; ranked 1 for a quota of 1 (0 already held).")
    assert july["reason_zh"] == "晋升为2星，自2025-08起生效：2025-01–2025-06平均综合评分86.50分，不低于80分；排名第1，名额1人（已占0人）。"
    # B1 did not sign up: no promotion
    b1 = rows["B1", "2025-07"]
    star(b1, 1, 1, "88.00", "2100.00")
    assert b1["reason_en"] == "Not yet eligible for 2★: Enrolled: — (needs yes)."
    assert b1["reason_zh"] == "暂未达到2星晋升条件：报名参评为—（要求为是）。"


def case_reception_quarterly(u: NewUser, web: Web) -> None:
    u.load("reception-quarterly", "2025-01")
    u.agents("A1,Ann,phone,T,2024-01-02", "B1,Bo,phone,T,2024-01-02")  # headcount 2: 2★ quota 1
    five = months(2025, 1, 5)
    u.inspections(qa("A1", five, [], [], []))
    u.metrics("satisfaction,efficiency,attitude,complaints",
              "A1,2025-01,90,80,4,2", "A1,2025-02,90,80,4,0", "A1,2025-03,95,100,4,0",
              "A1,2025-04,50,50,3,0", "A1,2025-05,70,70,4,0")
    rows = u.ladder()
    # 40% × quality 100 + 25% efficiency + 20% (satisfaction − 10 per complaint) + 15% attitude × 20:
    # Jan 40 + 20 + 0.2×(90−20) + 12 = 86.00 (× 1.0: 2100.00); Feb 40 + 20 + 18 + 12 = 90.00 (× 1.1: 2142.00)
    # Mar 40 + 25 + 19 + 12 = 96.00; Apr 40 + 12.5 + 10 + 9 = 71.50; May 40 + 17.5 + 14 + 12 = 83.50
    star(rows["A1", "2025-01"], 1, 1, "86.00", "2100.00")
    star(rows["A1", "2025-02"], 1, 1, "90.00", "2142.00")
    # the ladder is default's: Jan–Mar all ≥ 80, tenure 15 ≥ 9 → 2★ from April
    march = rows["A1", "2025-03"]
    star(march, 1, 2, "96.00", "2142.00")
    assert march["reason_en"].startswith("Promoted to 2★ from 2025-04: every month of 2025-01–2025-03 scored at least 80 "
                                         "(average 90.67)")
    assert march["reason_zh"].startswith("晋升为2星，自2025-04起生效：2025-01–2025-03连续3个月综合评分均不低于80分，平均90.67分")
    # April at 2★ (71.50, × 1.0): 1720 + 480 + 200 = 2400.00
    star(rows["A1", "2025-04"], 2, 2, "71.50", "2400.00")
    # Q1 (86 + 90 + 96)/3 = 90.67 优秀; Q2 (71.50 + 83.50)/2 = 77.50 合格; the year = mean of the
    # quarters so far (90.67 + 77.50)/2 = 84.085 → 84.09 良好
    for lang, grades in (("en", ("Excellent", "Pass", "Good")), ("zh", ("优秀", "合格", "良好"))):
        table = list(csv.reader(io.StringIO(web.hr_get("/hr/periods/csv?year=2025", lang).lstrip("\ufeff"))))
        a1 = next(r for r in table[1:] if r[0] == "A1")
        cells = dict(zip(table[0], a1, strict=True))
        got = [cells[h] for part in ("2025-Q1 ·", "2025-Q2 ·", " 2025 ·") for h in table[0] if part in h]
        assert got == ["90.67", grades[0], "77.50", grades[1], "84.09", grades[2]], (lang, cells)


AFTER_SALES = ("phone_misses,fees_days_late,records_incomplete,records_falsified,tools_damaged,accounts_unclear,"
               "transit_damage,attitude_complaints,onsite_tidy,wrong_checks,false_reports,repair_complaints,"
               "promotion_points,information_points,ethics_private_job,ethics_leak,ethics_disparage")


def case_after_sales(u: NewUser) -> None:
    u.load("after-sales-deduction", "2024-05")
    u.agents("A1,Ann,phone,T,2024-01-02", "B1,Bo,phone,T,2024-01-02", "C1,Cy,phone,T,2024-01-02")
    u.metrics(AFTER_SALES,
              "A1,2024-05,2,0,3,0,0,1,2,6,4,1,1,1,3,6,0,0,0",
              "B1,2024-05,2,0,3,1,0,1,2,6,4,1,1,1,3,6,0,0,0",
              "C1,2024-05,2,0,3,0,0,1,2,6,4,1,1,1,3,6,0,1,0")
    rows = u.ladder()
    # A1: phone 5−2 = 3; fees 5; records 5 − 3×0.5 = 3.5; tools 5; accounts 10 − 5 − 2×1 = 3;
    # attitude 5 − 6 → 0 (capped at the item's points); tidy 4; diagnosis 10 − 1 − 5 = 4;
    # repair 20 − 5 = 15; promotion 3; information 6; ethics 5 → 56.5 of 90 = 62.777… → 62.78
    # 1★ × 0.5 (60–70): 1580 + 210 + 100 = 1890.00
    star(rows["A1", "2024-05"], 1, 1, "62.78", "1890.00")
    # B1: a falsified record zeroes the records item: 53 of 90 = 58.888… → 58.89 (< 60: × 0) → 1680.00
    star(rows["B1", "2024-05"], 1, 1, "58.89", "1680.00")
    # C1: leaked secrets → ethics veto: score 0, no bonus, no allowance: 1580.00
    c1 = rows["C1", "2024-05"]
    star(c1, 1, 1, "0.00", "1580.00")
    assert c1["reason_en"].startswith("Veto this month (Leaked company secrets): the appraisal counts as 0, "
                                      "with no bonus and no star allowance.")
    assert c1["reason_zh"].startswith("本月触发一票否决（泄露公司机密）：考核成绩为0，绩效奖金和星级奖励为0。")


CASES: dict[str, Callable[..., None]] = {
    "default": case_default,
    "scorecard-80-20": case_scorecard,
    "ecommerce-kpi": case_ecommerce,
    "star-standard": case_star_standard,
    "tenure-track": case_tenure_track,
    "fee-collection": case_fee_collection,
    "lowest-item": case_lowest_item,
    "mall-three-star": case_mall_three_star,
    "annual-july": case_annual_july,
    "reception-quarterly": case_reception_quarterly,
    "after-sales-deduction": case_after_sales,
}


def test_every_template_has_a_case() -> None:
    assert sorted(CASES) == sorted(TEMPLATE_NAMES)


@pytest.fixture
def new_user(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> NewUser:
    monkeypatch.setenv("DATABASE_URL", db_url)
    return NewUser(CliRunner(), tmp_path)


WEB_CASES = {"fee-collection", "reception-quarterly"}


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_a_new_user_runs_the_template_end_to_end(name: str, new_user: NewUser, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("cheap_hashes")
    web = Web(new_user, request.getfixturevalue("client"))
    if name in WEB_CASES:
        CASES[name](new_user, web)
    else:
        CASES[name](new_user)
    # Agent A1 opens their star page: it shows the latest month's explanation, the same words
    # (checked above by hand) as the export, in either language.
    rows = new_user.ladder()
    last = max(m for (a, m), r in rows.items() if a == "A1" and r["complete"] == "yes")
    web.sign_in("a1", "agent", "--agent", "A1")
    for lang in ("en", "zh"):
        page = html.unescape(web.get(f"/me?month={last}", lang))
        assert rows["A1", last][f"reason_{lang}"] in page, (lang, rows["A1", last][f"reason_{lang}"])


def test_direct_star_progress_speaks_of_conditions(new_user: NewUser, request: pytest.FixtureRequest) -> None:
    """A direct scheme's progress card: a yes/no condition reads yes/no (not "= 1"), and the
    top star is kept by meeting its conditions (not by a composite floor)."""
    request.getfixturevalue("cheap_hashes")
    web = Web(new_user, request.getfixturevalue("client"))
    case_mall_three_star(new_user)  # A1 approved at 3★, the top; B1 at 0★ for want of attendance

    web.sign_in("b1", "agent", "--agent", "B1")
    en = html.unescape(web.get("/me?month=2024-05", "en"))
    assert "No lateness or absence: yes needed, now no" in en and "No lateness or absence ≥ 1" not in en
    assert "无迟到早退旷工：须为是，目前为否" in html.unescape(web.get("/me?month=2024-05", "zh"))

    web.sign_in("a1", "agent", "--agent", "A1")
    en = html.unescape(web.get("/me?month=2024-05", "en"))
    assert "This is the top level. The star is read off each month's own figures" in en
    assert "A composite of at least" not in en
    assert "已是最高星级。星级按每月自身的数据评定" in html.unescape(web.get("/me?month=2024-05", "zh"))
