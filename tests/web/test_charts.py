"""The server-side SVG history chart: valid XML, accessible, one point per complete month."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal

from starlevel.web.charts import MonthPoint, history_svg, runs

NS = {"s": "http://www.w3.org/2000/svg"}
D = Decimal


def _points() -> list[MonthPoint]:
    # 6 months: 2 complete at 1★, an incomplete one, then 3 complete; promoted to 2★ for the last two.
    data = [
        ("2024-01", 1, D("88.90"), D("80"), D("60")),
        ("2024-02", 1, D("91.25"), D("80"), D("60")),
        ("2024-03", 1, None, D("80"), D("60")),
        ("2024-04", 1, D("85.00"), D("80"), D("60")),
        ("2024-05", 2, D("66.50"), D("85"), D("65")),
        ("2024-06", 2, D("92.93"), D("85"), D("65")),
    ]
    return [
        MonthPoint(month=m, label=m[2:], level=lv, composite=c, threshold=t, floor=f, note=f"{m}: {c or 'incomplete'}")
        for m, lv, c, t, f in data
    ]


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_valid_xml_with_accessible_title_and_desc():
    svg = history_svg(_points(), chart_id="hist", title="Composite <by> month", desc="Six months & a gap")
    root = _parse(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "hist-title hist-desc"
    title = root.find("s:title", NS)
    desc = root.find("s:desc", NS)
    assert title is not None and title.get("id") == "hist-title" and title.text == "Composite <by> month"
    assert desc is not None and desc.get("id") == "hist-desc" and desc.text == "Six months & a gap"
    # The title and desc come first, so assistive technology finds them.
    assert list(root)[0] is title and list(root)[1] is desc


def test_one_point_per_complete_month_with_a_tooltip():
    root = _parse(history_svg(_points(), chart_id="h", title="t", desc="d"))
    pts = root.findall(".//s:circle[@class='pt']", NS)
    assert [p.get("data-month") for p in pts] == ["2024-01", "2024-02", "2024-04", "2024-05", "2024-06"]
    assert [p.find("s:title", NS).text for p in pts][0] == "2024-01: 88.90"  # type: ignore[union-attr]
    # Higher composite → higher on screen (smaller y).
    ys = {p.get("data-month"): float(p.get("cy")) for p in pts}  # type: ignore[arg-type]
    assert ys["2024-06"] < ys["2024-04"] < ys["2024-05"]


def test_incomplete_months_are_gaps_in_the_line():
    root = _parse(history_svg(_points(), chart_id="h", title="t", desc="d"))
    lines = root.findall(".//s:polyline[@class='composite']", NS)
    # Runs: 01–02 and 04–06; the incomplete 03 breaks the line.
    assert len(lines) == 2
    assert [len(line.get("points", "").split()) for line in lines] == [2, 3]
    gaps = root.findall(".//s:rect[@class='gap']", NS)
    assert len(gaps) == 1 and gaps[0].find("s:title", NS).text == "2024-03: incomplete"  # type: ignore[union-attr]


def test_threshold_floor_and_level_steps_are_drawn():
    root = _parse(history_svg(_points(), chart_id="h", title="t", desc="d"))
    thr = root.findall(".//s:path[@class='threshold']", NS)
    floor = root.findall(".//s:path[@class='floor']", NS)
    level = root.findall(".//s:path[@class='level']", NS)
    assert len(thr) == 1 and len(floor) == 1 and len(level) == 1
    # Each steps once (at the promotion): exactly one vertical move.
    for path in (thr[0], floor[0], level[0]):
        assert path.get("d", "").count("V") == 1
    # The threshold (80 then 85) lies above the floor (60 then 65) on screen.
    first_y = lambda p: float(re.match(r"M[\d.]+ ([\d.]+)", p.get("d", "")).group(1))  # type: ignore[union-attr]  # noqa: E731
    assert first_y(thr[0]) < first_y(floor[0])


def test_no_threshold_at_the_top_level_leaves_a_gap():
    pts = [
        MonthPoint("2025-01", "25-01", 4, D("96"), D("95"), D("80")),
        MonthPoint("2025-02", "25-02", 5, D("97"), None, D("90")),
    ]
    root = _parse(history_svg(pts, chart_id="h", title="t", desc="d"))
    (thr,) = root.findall(".//s:path[@class='threshold']", NS)
    assert thr.get("d", "").count("H") == 1  # only across the first month


def test_decimal_values_are_not_rounded_through_float_arithmetic_in_labels():
    # Coordinates are display only; the caller's notes carry the exact figures.
    pts = [MonthPoint("2025-01", "25-01", 1, D("93.645"), D("80"), D("60"), note="93.65")]
    root = _parse(history_svg(pts, chart_id="h", title="t", desc="d"))
    (pt,) = root.findall(".//s:circle[@class='pt']", NS)
    assert pt.find("s:title", NS).text == "93.65"  # type: ignore[union-attr]


def test_month_labels_are_thinned_and_include_the_latest():
    pts = [MonthPoint(f"{2023 + (i // 12)}-{i % 12 + 1:02d}", f"L{i}", 1, D("90")) for i in range(36)]
    root = _parse(history_svg(pts, chart_id="h", title="t", desc="d"))
    labels = [t.text for t in root.findall(".//s:g[@class='x-labels']/s:text", NS)]
    assert len(labels) <= 6 and labels[-1] == "L35"
    for t in root.findall(".//s:text", NS):
        assert 0 <= float(t.get("x", "0")) <= 400


def test_empty_history_is_still_a_valid_labelled_picture():
    root = _parse(history_svg([], chart_id="h", title="No data", desc="Nothing evaluated yet"))
    assert root.find("s:title", NS).text == "No data"  # type: ignore[union-attr]
    assert root.findall(".//s:circle", NS) == []


def test_runs():
    assert runs([1, None, 2, 3, None]) == [(0, 0), (2, 3)]
    assert runs([None, None]) == []
    assert runs([]) == []
