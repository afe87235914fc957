"""A metrics file in the columns of a template rulebook: optional inputs, kinds, the same
file twice, and a correction audited with the values before and after."""

from __future__ import annotations

import tomllib
from datetime import date

import pytest
from sqlalchemy import select

from starlevel.db.engine import session_scope
from starlevel.db.models import AuditEntry, MonthlyMetrics
from starlevel.domain.templates import template_text
from starlevel.services import rulebooks
from starlevel.services.importer import ImportRejected, import_table, metrics_columns

TODAY = date(2025, 6, 15)
HEADER = "agent_id,month,satisfaction,accuracy,first_response_s,conversion,basket_ratio,manager_rating,sales,shop_turnover"


@pytest.fixture
def shop(session_factory):  # type: ignore[no-untyped-def]
    """The e-commerce template in force from 2024-01 (the default before), one agent."""
    with session_scope(session_factory) as s:
        rulebooks.ensure_default(s)
        rulebooks.add_version(s, tomllib.loads(template_text("ecommerce-kpi")), effective_from="2024-01", actor="t")
        rb = rulebooks.current(s)
        import_table(s, "agents", b"agent_id,name,track,team,hired_on\nE1,Eli,online,T,2023-10-01\n",
                     filename="agents.csv", actor="t", rulebook=rb, today=TODAY)
    return session_factory


def load(factory, text: str, filename: str = "metrics.csv"):  # type: ignore[no-untyped-def]
    with session_scope(factory) as s:
        return import_table(s, "metrics", text.encode(), filename=filename, actor="t",
                             rulebook=rulebooks.current(s), today=TODAY)


def stored(factory) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    with session_scope(factory) as s:
        return {m: v for m, v in s.execute(select(MonthlyMetrics.month, MonthlyMetrics.values))}


def test_columns_of_the_loaded_rulebooks(shop):
    with session_scope(shop) as s:
        required, optional = metrics_columns(rulebooks.load_all(s))
    # Only satisfaction is required by both versions; the others are some version's inputs.
    assert required == ("agent_id", "month", "satisfaction")
    assert set(optional) == {"efficiency", "attitude", "complaints", "accuracy", "first_response_s", "conversion",
                             "basket_ratio", "manager_rating", "sales", "shop_turnover"}


def test_optional_inputs_may_be_empty_and_values_keep_their_places(shop):
    r = load(shop, HEADER + "\nE1,2024-01,91.5,99,35.25,3.1,1.25,5,,\nE1,2024-02,90,98.5,40,2.9,1.5,4,12000.5,800000\n")
    assert (r.inserted, r.first_affected_month) == (2, "2024-01")
    assert stored(shop) == {
        "2024-01": {"satisfaction": "91.50", "accuracy": "99.00", "first_response_s": "35.25", "conversion": "3.10",
                    "basket_ratio": "1.2500", "manager_rating": "5"},
        "2024-02": {"satisfaction": "90.00", "accuracy": "98.50", "first_response_s": "40.00", "conversion": "2.90",
                    "basket_ratio": "1.5000", "manager_rating": "4", "sales": "12000.50", "shop_turnover": "800000.00"},
    }
    # The same file again: nothing changes; "91.50" for "91.5" is the same value.
    again = load(shop, HEADER + "\nE1,2024-01,91.50,99.0,35.25,3.1,1.25,5,,\nE1,2024-02,90,98.5,40,2.9,1.5,4,12000.5,800000\n")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)


def test_a_correction_records_before_and_after_including_a_cleared_optional(shop):
    load(shop, HEADER + "\nE1,2024-02,90,98.5,40,2.9,1.5,4,12000.5,800000\n")
    r = load(shop, HEADER + "\nE1,2024-02,90,98.5,38,2.9,1.5,4,,\n", filename="fix.csv")
    assert (r.updated, r.first_affected_month) == (1, "2024-02")
    assert "sales" not in stored(shop)["2024-02"]
    with session_scope(shop) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "update", AuditEntry.entity == "metrics")).one()
        assert entry.entity_id == "E1/2024-02" and entry.reason == "import of fix.csv"
        assert entry.detail["before"] == {"first_response_s": "40.00", "sales": "12000.50", "shop_turnover": "800000.00"}
        assert entry.detail["after"] == {"first_response_s": "38.00"}


def test_every_bad_cell_is_named_and_nothing_is_written(shop):
    text = (HEADER + ",remark\n"
            "E1,2024-01,91.5,101,35.25,3.1,1.25,5,,,\n"      # accuracy above 100
            "E1,2024-02,90,98,-4,2.9,1.123456,4.5,,,\n"      # seconds negative, 5 places, rating fraction
            "E1,2024-03,,98,4,2.9,1,4,-1,,\n")               # required empty, money negative
    with pytest.raises(ImportRejected) as caught:
        load(shop, text)
    got = {(e.row, e.column): e.problem for e in caught.value.errors}
    assert got[(0, "remark")].startswith("is not a column of metrics files")
    # The header problem stops the import before the rows are read.
    assert len(got) == 1
    with pytest.raises(ImportRejected) as caught:
        load(shop, text.replace(",remark", "").replace(",,\n", ",\n"))
    got = {(e.row, e.column): e.problem for e in caught.value.errors}
    assert got == {
        (2, "accuracy"): "'101' is above 100 (allowed: 0 to 100)",
        (3, "first_response_s"): "'-4' is not a decimal number (0 or more)",
        (3, "basket_ratio"): "'1.123456' has more than 4 decimal places",
        (3, "manager_rating"): "'4.5' is not a whole number from 1 to 5",
        (4, "satisfaction"): "is empty; a value is required",
        (4, "sales"): "'-1' is not a decimal number (0 or more)",
    }
    assert stored(shop) == {}


def test_a_month_of_the_earlier_rulebook_is_read_with_its_columns(shop):
    text = ("agent_id,month,satisfaction,efficiency,attitude,complaints,accuracy\n"
            "E1,2023-12,90,85,4,0,\n"
            "E1,2023-11,90,85,4,0,99\n")
    with pytest.raises(ImportRejected) as caught:
        load(shop, text)
    assert [(e.row, e.column) for e in caught.value.errors] == [(3, "accuracy")]
    assert "is not an input of rulebook version 1, in force for 2023-11" in caught.value.errors[0].problem


def test_input_problems_carry_codes_and_read_in_chinese(shop):
    text = HEADER + "\nE1,2024-01,91.5,101,-4,3.1,1.25,4.5,,\n"
    with pytest.raises(ImportRejected) as caught:
        load(shop, text)
    by_column = {e.column: e for e in caught.value.errors}
    assert by_column["accuracy"].code == "input.range_above"
    assert by_column["accuracy"].text("zh").startswith("'101' 大于 100")
    assert by_column["first_response_s"].code == "input.not_number"
    assert by_column["manager_rating"].code == "input.not_whole"
    assert by_column["manager_rating"].text("zh").startswith("'4.5' 不是整数")
