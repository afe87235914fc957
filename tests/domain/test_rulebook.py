"""Rulebook documents: the default, round trips, and every validation rule."""

from decimal import Decimal
import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from starlevel.domain.rulebook import (
    RulebookError,
    default_rulebook,
    default_rulebook_document,
    load_rulebook_file,
    parse_rulebook,
    parse_rulebook_toml,
    rulebook_to_document,
)


def test_default_rulebook_matches_spec() -> None:
    rb = default_rulebook()
    assert rb.levels == (1, 2, 3, 4, 5) and rb.min_level == 1 and rb.max_level == 5
    assert rb.pass_mark == 60 and rb.min_inspections == 3 and rb.probation_months == 3
    assert [(t.tier, t.deduction, t.red_line) for t in rb.tiers] == [(1, 2, False), (2, 5, False), (3, 10, True)]
    assert len(rb.defects) == 18 and rb.tier_of("T2-05") == 2 and rb.deduction("T3-03") == 10
    assert rb.defect("T1-01").en.startswith("Typo")
    assert [(d.key, d.weight) for d in rb.dimensions] == [
        ("quality", D("0.40")), ("efficiency", D("0.25")), ("satisfaction", D("0.20")), ("attitude", D("0.15")),
    ]  # fmt: skip
    assert [(p.to, p.min_tenure, p.window, p.threshold["phone"], p.threshold["online"]) for p in rb.promotions] == [
        (2, 9, 3, 80, 90), (3, 12, 3, 85, 94), (4, 24, 4, 90, 96), (5, 36, 6, 95, 98),
    ]  # fmt: skip
    assert rb.promotion_to(3).max_error_rate == D("0.10")  # type: ignore[union-attr]
    assert rb.promotion_to(4).zero_errors and rb.promotion_to(5).zero_errors  # type: ignore[union-attr]
    assert rb.promotion_to(1) is None and rb.promotion_to(6) is None
    assert [rb.floor(lvl) for lvl in rb.levels] == [60, 65, 70, 80, 90]
    assert rb.after_months == 2 and rb.demotion_enabled and rb.red_line_demotes
    assert rb.quotas == {2: D("0.50"), 3: D("0.30"), 4: D("0.20"), 5: D("0.10")}
    assert [rb.pay_grade(lvl).grade for lvl in rb.levels] == ["A05", "A06", "A07", "A09", "A11"]
    assert rb.max_window == 6
    assert rb.version == 0 and rb.effective_from == "0000-01"
    assert not rb.approval_required and rb.cadence_months == 1


def test_document_round_trip_through_json() -> None:
    rb = default_rulebook()
    doc = rulebook_to_document(rb)
    again = parse_rulebook(json.loads(json.dumps(doc)), version=3, effective_from="2025-01")
    assert again.version == 3 and again.effective_from == "2025-01"
    assert parse_rulebook(json.loads(json.dumps(doc))) == rb
    assert rulebook_to_document(again) == doc


def test_default_document_is_a_fresh_copy() -> None:
    doc = default_rulebook_document()
    doc["rulebook"]["pass_mark"] = "0"
    assert default_rulebook_document()["rulebook"]["pass_mark"] == "60"


def test_load_file_and_toml(tmp_path: Path) -> None:
    from importlib import resources

    text = resources.files("starlevel").joinpath("rulebooks", "default.toml").read_text(encoding="utf-8")
    path = tmp_path / "rb.toml"
    path.write_text(text.replace('pass_mark = "60"', 'pass_mark = "55"'), encoding="utf-8")
    rb = load_rulebook_file(path, version=2, effective_from="2025-03")
    assert rb.pass_mark == 55 and rb.version == 2
    with pytest.raises(RulebookError) as err:
        parse_rulebook_toml("this is = = not toml")
    assert "not valid TOML" in err.value.problems[0]


def _doc(**changes: Any) -> dict[str, Any]:
    doc = default_rulebook_document()
    for path, value in changes.items():
        parts = path.split(".")
        node: Any = doc
        for p in parts[:-1]:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if value is _DELETE:
            if isinstance(node, list):
                del node[int(parts[-1])]
            else:
                del node[parts[-1]]
        elif isinstance(node, list):
            node[int(parts[-1])] = value
        else:
            node[parts[-1]] = value
    return doc


_DELETE = object()

BAD_CASES = [
    ("weights do not total 1", {"dimensions.0.weight": "0.45"}, "dimensions: weights must total exactly 1, got 1.05"),
    ("float decimal", {"pay.grades.2.fixed": 1580.5}, "pay.grades[2].fixed: write decimals as strings, got float 1580.5"),
    ("float integer", {"promotions.0.window": 3.0}, "promotions[0].window: write whole numbers as integers, got float 3.0"),
    ("unknown top key", {"extra": 1}, "extra: unknown key"),
    ("unknown nested key", {"promotions.1.treshold": {}}, "promotions[1].treshold: unknown key"),
    ("unknown rulebook key", {"rulebook.pass_mrk": "60"}, "rulebook.pass_mrk: unknown key"),
    ("cadence", {"rulebook.cadence_months": 3}, "rulebook.cadence_months: 3 is not implemented by this engine version"),
    ("quota share above 1", {"quotas.3": "1.5"}, "quotas.3: must be at most 1, got 1.5"),
    ("quota share negative", {"quotas.3": "-0.1"}, "quotas.3: must be at least 0, got -0.1"),
    ("quota for unknown level", {"quotas.7": "0.1"}, "quotas.7: no such level 7"),
    ("threshold above 100", {"promotions.0.threshold": {"phone": "101", "online": "90"}}, "promotions[0].threshold.phone: must be at most 100"),
    ("threshold missing track", {"promotions.0.threshold": {"phone": "80"}}, "promotions[0].threshold: no threshold for track 'online'"),
    ("threshold unknown track", {"promotions.0.threshold": {"phone": "80", "online": "90", "mail": "70"}}, "promotions[0].threshold.mail: unknown track 'mail'"),
    ("floor above 100", {"demotion.floors.3": "170"}, "demotion.floors.3: must be at most 100, got 170"),
    ("floor missing", {"demotion.floors": {"1": "60", "2": "65", "3": "70", "4": "80"}}, "demotion.floors: no floor for level 5"),
    ("pass mark above 100", {"rulebook.pass_mark": "100.5"}, "rulebook.pass_mark: must be at most 100"),
    ("not a decimal", {"rulebook.pass_mark": "sixty"}, "rulebook.pass_mark: not a decimal: 'sixty'"),
    ("duplicate code", {"defects.1.code": "T1-01"}, "defects[1].code: duplicate code 'T1-01'"),
    ("malformed code", {"defects.1.code": "T1 02;x"}, "defects[1].code: malformed code 'T1 02;x'"),
    ("defect tier missing", {"defects.0.tier": 4}, "defects[0].tier: no such tier 4"),
    ("error tier missing", {"rulebook.error_tier": 9}, "rulebook.error_tier: no such tier 9"),
    ("pay grade missing", {"pay.grades.4": _DELETE}, "pay.grades: no pay grade for level 5"),
    ("pay grade twice", {"pay.grades.4.level": 4}, "pay.grades[4].level: level 4 has more than one pay grade"),
    ("promotion missing", {"promotions.2": _DELETE}, "promotions: no promotion to level 4"),
    ("promotion to level 1", {"promotions.0.to": 1}, "promotions[0].to: must be a level from 2 to 5, got 1"),
    ("promotion twice", {"promotions.1.to": 2}, "promotions[1].to: duplicate promotion to level 2"),
    ("window not positive", {"promotions.0.window": 0}, "promotions[0].window: must be at least 1, got 0"),
    ("tenure negative", {"promotions.0.min_tenure": -1}, "promotions[0].min_tenure: must be at least 0, got -1"),
    ("error rate above 1", {"promotions.1.max_error_rate": "2"}, "promotions[1].max_error_rate: must be at most 1"),
    ("bands not descending", {"bands.1.min": "95"}, "bands: min values must strictly descend"),
    ("bands not ending at 0", {"bands.3.min": "10"}, "bands: the last entry must have min 0, got 10"),
    ("coefficients not descending", {"pay.coefficients.2.min": "75"}, "pay.coefficients: min values must strictly descend"),
    ("coefficients not ending at 0", {"pay.coefficients.3": _DELETE}, "pay.coefficients: the last entry must have min 0, got 60"),
    ("levels not consecutive", {"rulebook.levels": [1, 2, 4]}, "rulebook.levels: must be consecutive levels starting at 1"),
    ("missing section", {"pay": _DELETE}, "pay: missing"),
    ("missing key", {"rulebook.min_inspections": _DELETE}, "rulebook.min_inspections: missing"),
    ("wrong type", {"rulebook.approval_required": "yes"}, "rulebook.approval_required: expected true or false"),
    ("bool as number", {"rulebook.pass_mark": True}, "rulebook.pass_mark: expected a decimal"),
    ("unknown metric", {"dimensions.1.metric": "speed"}, "dimensions[1].metric: unknown input 'speed'"),
    ("bad source", {"dimensions.1.source": "survey"}, "dimensions[1].source: must be one of quality, metric"),
    ("duplicate dimension", {"dimensions.2.key": "efficiency"}, "dimensions[2].key: duplicate dimension 'efficiency'"),
    ("scale on quality", {"dimensions.0.scale": "2"}, "dimensions[0].scale: not allowed for a quality dimension"),
    ("bands without direction", {"dimensions.3.bands": [{"score": "100"}], "dimensions.3.scale": _DELETE}, "dimensions[3].direction: bands need direction"),
    ("band limits out of order", {
        "dimensions.3.bands": [{"limit": "60", "score": "100"}, {"limit": "40", "score": "80"}, {"score": "50"}],
        "dimensions.3.direction": "lower", "dimensions.3.scale": _DELETE,
    }, "dimensions[3].bands: limits must rise band by band when lower is better"),
    ("min inspections negative", {"rulebook.min_inspections": -1}, "rulebook.min_inspections: must be at least 0, got -1"),
    ("quality without inspections", {"rulebook.min_inspections": 0}, "dimensions[0].source: a quality dimension needs rulebook.min_inspections of at least 1"),
    ("levels from 2", {"rulebook.levels": [2, 3, 4, 5]}, "rulebook.levels: must be consecutive levels starting at 1"),
    ("unknown input kind", {"inputs": [{"key": "x", "kind": "colour"}]}, "inputs[0].kind: unknown kind 'colour'"),
    ("optional input scored", {"inputs": [
        {"key": "satisfaction", "kind": "score"}, {"key": "efficiency", "kind": "score", "required": False},
        {"key": "attitude", "kind": "rating"}]}, "dimensions.efficiency: reads the optional input 'efficiency'"),
    ("direct star unknown figure", {"policy": {"kind": "direct", "stars": [{"level": 2, "when": [{"of": "speed", "at_least": "1"}]}], "otherwise": 1}},
     "policy.stars[0].when[0].of: unknown figure 'speed'"),
    ("condition without operator", {"veto": {"any_of": [{"of": "complaints"}]}}, "veto.any_of[0]: needs exactly one of"),
    ("window test", {"policy": {"window_test": "median"}}, "policy.window_test: must be 'every' or 'mean'"),
    ("period months", {"periods": [{"key": "q", "months": 4, "grades": [{"key": "a", "min": "0"}]}]}, "periods[0].months: must be 3, 6 or 12, got 4"),
    ("probation factor above 1", {"pay.probation_factor": "1.2"}, "pay.probation_factor: must be at most 1"),
    ("after months zero", {"demotion.after_months": 0}, "demotion.after_months: must be at least 1, got 0"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "changes", "problem"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_invalid_rulebook(name: str, changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(RulebookError) as err:
        parse_rulebook(_doc(**changes))
    assert any(p.startswith(problem) for p in err.value.problems), err.value.problems


def test_every_problem_is_listed() -> None:
    doc = _doc(
        **{
            "dimensions.0.weight": "0.5",
            "pay.grades.2.fixed": 1580.5,
            "quotas.2": "2",
            "defects.3.tier": 7,
            "rulebook.cadence_months": 2,
            "surprise": True,
        }
    )
    with pytest.raises(RulebookError) as err:
        parse_rulebook(doc)
    problems = err.value.problems
    assert len(problems) == 6, problems
    assert "pay.grades[2].fixed: write decimals as strings, got float 1580.5" in problems
    assert "pay.grades[2].fixed" in str(err.value)


def test_bad_version_arguments() -> None:
    with pytest.raises(RulebookError) as err:
        parse_rulebook(default_rulebook_document(), version=-1, effective_from="2025-13")
    assert len(err.value.problems) == 2


def test_banded_dimension_round_trips() -> None:
    doc = _doc(
        **{
            "dimensions.3.scale": _DELETE,
            "dimensions.3.direction": "higher",
            "dimensions.3.bands": [{"limit": "4", "score": "100"}, {"limit": "3", "score": "70"}, {"score": "40"}],
        }
    )
    rb = parse_rulebook(doc)
    assert rb.dimension("attitude").bands[0].limit == 4
    assert parse_rulebook(json.loads(json.dumps(rulebook_to_document(rb)))) == rb


def test_problems_carry_templates_for_translation() -> None:
    with pytest.raises(RulebookError) as err:
        parse_rulebook(_doc(**{"quotas.3": "1.5"}))
    (p,) = err.value.problems
    assert p.template == "{path}: must be at most {hi}, got {value}"
    assert p.params == {"path": "quotas.3", "hi": 1, "value": Decimal("1.5")}
    zh = {"{path}: must be at most {hi}, got {value}": "{path}：不得超过 {hi}，实为 {value}"}
    assert p.render(lambda t: zh.get(t, t)) == "quotas.3：不得超过 1，实为 1.5"


def test_every_problem_template_has_a_chinese_translation() -> None:
    import ast

    from starlevel.web import i18n

    src = Path(__file__).resolve().parents[2] / "starlevel" / "domain" / "rulebook.py"
    templates = set()
    for node in ast.walk(ast.parse(src.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute) and f.attr == "bad" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
                templates.add("{path}: " + node.args[1].value)
            if isinstance(f, ast.Name) and f.id == "Problem" and node.args and isinstance(node.args[0], ast.Constant):
                templates.add(node.args[0].value)
    assert len(templates) > 80
    zh = i18n.catalog("zh")
    missing = sorted(t for t in templates if t != "{text}" and zh.gettext(t) == t)
    assert not missing, missing
