"""A synthetic but realistic customer-service company, as the three import files.

Used by ``starlevel demo`` (about 200 agents × 24 months) and by the benchmark
(10,000 agents × 36 months). Deterministic for a given seed. Each agent has a
latent skill that drifts month to month; a few go through a bad patch, a few
cross a red line, some leave, and senior staff come in at higher levels (the
company's ladder as it stood before StarLevel), so that quotas bite.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from starlevel.domain import months as M

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕彬鹏辉宇浩凯晨欣怡佳琪雪婷倩颖琳雯露瑶璐晶慧"
TEAMS_PHONE = ["话务一组", "话务二组", "话务三组"]
TEAMS_ONLINE = ["在线一组", "在线二组", "售后组"]
CHANNELS_PHONE = ["phone", "phone", "phone", "complaint"]
CHANNELS_ONLINE = ["chat", "chat", "message", "complaint"]
T1 = ["T1-01", "T1-02", "T1-03", "T1-04", "T1-05", "T1-06", "T1-07"]
T2 = ["T2-01", "T2-02", "T2-03", "T2-04", "T2-05", "T2-06", "T2-07", "T2-08"]
T3 = ["T3-01", "T3-02", "T3-03"]
INSPECTORS = ["qa.lin", "qa.zhou", "qa.chen", "qa.huang", "qa.sun", "qa.he"]


@dataclass
class SynthData:
    agents_csv: bytes
    inspections_csv: bytes
    metrics_csv: bytes
    first_month: str
    last_month: str
    n_agents: int
    n_inspections: int
    n_metrics: int

    def write(self, folder: Path) -> dict[str, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for kind in ("agents", "inspections", "metrics"):
            p = folder / f"{kind}.csv"
            p.write_bytes(getattr(self, f"{kind}_csv"))
            paths[kind] = p
        return paths


def _name(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def generate(n_agents: int = 200, n_months: int = 24, *, last_month: str | None = None, seed: int = 7) -> SynthData:
    rng = random.Random(seed)
    if last_month is None:
        last_month = M.add_months(M.month_of(date.today()), -1)
    first_month = M.add_months(last_month, -(n_months - 1))
    months = M.months_between(first_month, last_month)
    width = max(4, len(str(n_agents)))

    agents = io.StringIO()
    wa = csv.writer(agents, lineterminator="\n")
    wa.writerow(["agent_id", "name", "track", "team", "hired_on", "left_on", "initial_level", "probation_months"])
    insp = io.StringIO()
    wi = csv.writer(insp, lineterminator="\n")
    wi.writerow(["inspection_id", "agent_id", "contact_on", "channel", "contact_ref", "inspector", "defect_codes"])
    met = io.StringIO()
    wm = csv.writer(met, lineterminator="\n")
    wm.writerow(["agent_id", "month", "satisfaction", "efficiency", "attitude", "complaints"])

    n_insp = n_met = 0
    seq = 0
    for i in range(1, n_agents + 1):
        agent_id = f"A{i:0{width}d}"
        track = "phone" if rng.random() < 0.55 else "online"
        team = rng.choice(TEAMS_PHONE if track == "phone" else TEAMS_ONLINE)
        roll = rng.random()
        if roll < 0.45:
            # Staff who were there before the system: hired up to six years earlier.
            hire_month = M.add_months(first_month, -rng.randint(1, 72))
            tenure0 = M.month_index(first_month) - M.month_index(hire_month) + 1
            level = 1
            for lvl, need in ((2, 9), (3, 12), (4, 24), (5, 36)):
                if tenure0 >= need and rng.random() < 0.55:
                    level = lvl
            initial = level
        else:
            hire_month = months[min(len(months) - 1, int(rng.random() ** 1.6 * len(months)))]
            initial = 2 if rng.random() < 0.12 else 1
        hired_on = date(int(hire_month[:4]), int(hire_month[5:]), rng.randint(1, 28))
        left_on = None
        if rng.random() < 0.08:
            leave_month = months[rng.randint(0, len(months) - 1)]
            if leave_month >= hire_month:
                left_on = date(int(leave_month[:4]), int(leave_month[5:]), rng.randint(1, 28))
                if left_on < hired_on:
                    left_on = hired_on
        wa.writerow([agent_id, _name(rng), track, team, hired_on.isoformat(),
                     left_on.isoformat() if left_on else "", initial if initial != 1 else "", ""])

        # Latent skill: online agents work to higher thresholds, seniors tend to be better.
        base = 80 + 4 * (initial - 1) + (4 if track == "online" else 0)
        skill = min(99.5, max(55.0, rng.gauss(base, 5.5)))
        slump_start = rng.randrange(len(months)) if rng.random() < 0.07 else -1
        careless = rng.random() < 0.03
        end_month = M.month_of(left_on) if left_on else last_month
        for mi, month in enumerate(months):
            if month < hire_month or month > end_month:
                continue
            skill = min(99.5, max(50.0, skill + rng.gauss(0.15, 1.2)))
            s = skill
            if 0 <= slump_start <= mi < slump_start + 3:
                s = rng.uniform(50, 66)
            y, mo = int(month[:4]), int(month[5:])
            last_day = 28
            if left_on and month == end_month:
                last_day = min(28, left_on.day)
            k = rng.choices((0, 1, 2, 3, 4, 5, 6, 7), weights=(1, 1, 2, 8, 22, 35, 20, 11))[0]
            for _ in range(k):
                seq += 1
                codes: list[str] = []
                miss = (100 - s) / 100
                for _ in range(3):
                    r = rng.random()
                    if r < miss * 0.55:
                        codes.append(rng.choice(T1))
                    elif r < miss * 0.55 + miss * 0.12:
                        codes.append(rng.choice(T2))
                if rng.random() < (0.02 if careless else 0.0012) * (1.5 if s < 75 else 1):
                    codes.append(rng.choice(T3))
                channel = rng.choice(CHANNELS_PHONE if track == "phone" else CHANNELS_ONLINE)
                wi.writerow([
                    f"Q{seq:08d}", agent_id, date(y, mo, rng.randint(1, last_day)).isoformat(), channel,
                    f"{channel[:2].upper()}-{y}{mo:02d}-{seq:07d}", rng.choice(INSPECTORS), ";".join(codes),
                ])
                n_insp += 1
            if rng.random() < 0.97:
                sat = min(100.0, max(40.0, rng.gauss(s + 1.5, 2.5)))
                eff = min(100.0, max(40.0, rng.gauss(s, 3.0)))
                att = 5 if s > 92 and rng.random() < 0.8 else (4 if s > 72 or rng.random() < 0.6 else 3)
                if s < 58 and rng.random() < 0.5:
                    att = 2
                complaints = 0 if rng.random() < (0.93 if s > 85 else 0.75) else rng.choice((1, 1, 2))
                wm.writerow([agent_id, month, f"{sat:.2f}", f"{eff:.1f}", att, complaints])
                n_met += 1

    return SynthData(
        agents_csv=agents.getvalue().encode("utf-8"),
        inspections_csv=insp.getvalue().encode("utf-8"),
        metrics_csv=met.getvalue().encode("utf-8"),
        first_month=first_month,
        last_month=last_month,
        n_agents=n_agents,
        n_inspections=n_insp,
        n_metrics=n_met,
    )
