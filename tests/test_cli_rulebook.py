"""`starlevel rulebook templates` and `rulebook load NAME|FILE`, and a metrics file in the
columns of whichever rulebook is in force for each row's month."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from starlevel.cli import cli
from starlevel.db.models import AuditEntry, MonthlyMetrics
from starlevel.domain.templates import TEMPLATE_NAMES, list_templates, template_text


@pytest.fixture
def run(db_url, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", db_url)
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True):  # type: ignore[no-untyped-def]
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def test_templates_are_listed_with_source_and_summary_in_either_language(run):
    en = run("rulebook", "templates").output.splitlines()
    zh = run("rulebook", "templates", "--lang", "zh").output.splitlines()
    assert [line.split()[0] for line in en] == list(TEMPLATE_NAMES)
    assert [line.split()[0] for line in zh] == list(TEMPLATE_NAMES)
    info = {t.name: t for t in list_templates()}["fee-collection"]
    assert info.summary_en != info.summary_zh
    fee_en = next(line for line in en if line.startswith("fee-collection "))
    fee_zh = next(line for line in zh if line.startswith("fee-collection "))
    assert fee_en.endswith(f"  {info.source}  {info.summary_en}")
    assert fee_zh.endswith(f"  {info.source}  {info.summary_zh}")


def test_load_by_template_name_then_import_each_months_columns(run, tmp_path, session_factory):
    out = run("rulebook", "load", "fee-collection", "--effective-from", "2024-03").output
    assert "stored rulebook v2 (fee-collection) effective from 2024-03" in out
    assert "v2\tfrom 2024-03\tfee-collection" in run("rulebook", "list").output

    agents = tmp_path / "agents.csv"
    agents.write_text("agent_id,name,track,team,hired_on\nF1,Fay,phone,T,2024-01-02\n", encoding="utf-8")
    run("import", "agents", str(agents))
    # February is under the default rulebook, March under fee-collection: one file holds both,
    # each row filling its own month's columns (the other's left empty).
    metrics = tmp_path / "metrics.csv"
    metrics.write_text(
        "agent_id,month,satisfaction,efficiency,attitude,complaints,collection_rate,extra_tasks\n"
        "F1,2024-02,90,85.5,4,0,,\n"
        "F1,2024-03,,,,1,97.5,是\n", encoding="utf-8")
    run("import", "metrics", str(metrics))
    with session_factory() as s:
        stored = {m: v for m, v in s.execute(select(MonthlyMetrics.month, MonthlyMetrics.values))}
    assert stored == {
        "2024-02": {"satisfaction": "90.00", "efficiency": "85.50", "attitude": "4", "complaints": "0"},
        "2024-03": {"collection_rate": "97.50", "complaints": "1", "extra_tasks": "1"},
    }

    # A March row that fills a default column, or lacks a required input, is refused.
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "agent_id,month,satisfaction,complaints,collection_rate,extra_tasks\n"
        "F1,2024-04,90,0,95,1\n"
        "F1,2024-05,,0,,1\n", encoding="utf-8")
    result = run("import", "metrics", str(bad), ok=False)
    assert result.exit_code == 1
    assert "row 2, column satisfaction: '90': satisfaction is not an input of rulebook version 2" in result.output
    assert "row 3, column collection_rate: is empty; a value is required" in result.output
    with session_factory() as s:
        assert s.scalar(select(MonthlyMetrics.month).where(MonthlyMetrics.month >= "2024-04")) is None


def test_default_columns_missing_for_a_default_month_are_named(run, tmp_path):
    run("rulebook", "load", "fee-collection", "--effective-from", "2024-03")
    agents = tmp_path / "agents.csv"
    agents.write_text("agent_id,name,track,team,hired_on\nF1,Fay,phone,T,2024-01-02\n", encoding="utf-8")
    run("import", "agents", str(agents))
    metrics = tmp_path / "metrics.csv"
    metrics.write_text("agent_id,month,complaints,collection_rate,extra_tasks\n"
                       "F1,2024-02,0,90,1\nF1,2024-01,0,90,1\n", encoding="utf-8")
    result = run("import", "metrics", str(metrics), ok=False)
    assert ("row 2, column satisfaction: required column is missing from the header "
            "(rulebook version 1, in force for 2024-02, declares this input)") in result.output
    assert "row 3, column satisfaction" not in result.output  # named once per column


def test_load_from_a_file_still_works(run, tmp_path, session_factory):
    path = tmp_path / "lowest.toml"
    path.write_text(template_text("lowest-item"), encoding="utf-8")
    out = run("rulebook", "load", str(path), "--effective-from", "2025-01", "--note", "pilot").output
    assert "stored rulebook v2 (lowest) effective from 2025-01" in out
    with session_factory() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.entity == "rulebook", AuditEntry.entity_id == "2")).one()
    assert entry.reason == "pilot"


def test_unknown_template_is_refused_listing_the_names(run):
    result = run("rulebook", "load", "no-such-scheme", "--effective-from", "2025-01", ok=False)
    assert result.exit_code != 0
    assert "'no-such-scheme' is neither a file nor a template" in result.output
    assert "fee-collection" in result.output
    assert "v2" not in run("rulebook", "list").output


def test_metrics_export_round_trips_through_the_importer(run, tmp_path, session_factory):
    run("rulebook", "load", "fee-collection", "--effective-from", "2024-03")
    agents = tmp_path / "agents.csv"
    agents.write_text("agent_id,name,track,team,hired_on\nF1,Fay,phone,T,2024-01-02\nF2,Gus,online,T,2024-02-01\n",
                      encoding="utf-8")
    run("import", "agents", str(agents))
    metrics = tmp_path / "metrics.csv"
    metrics.write_text(
        "agent_id,month,satisfaction,efficiency,attitude,complaints,collection_rate,extra_tasks\n"
        "F1,2024-02,90,85.5,4,0,,\n"
        "F2,2024-02,70.25,60,2,3,,\n"
        "F1,2024-03,,,,1,97.5,是\n", encoding="utf-8")
    run("import", "metrics", str(metrics))
    out = tmp_path / "export.csv"
    run("export", "metrics", "--out", str(out))
    assert out.read_text(encoding="utf-8") == (
        "agent_id,month,satisfaction,efficiency,attitude,complaints,collection_rate,extra_tasks\n"
        "F1,2024-02,90.00,85.50,4,0,,\n"
        "F2,2024-02,70.25,60.00,2,3,,\n"
        "F1,2024-03,,,,1,97.50,1\n")
    assert run("export", "metrics", "--month", "2024-03").output.splitlines()[1:] == ["F1,2024-03,,,,1,97.50,1"]
    with session_factory() as s:
        audits = s.scalar(select(func.count()).select_from(AuditEntry))
    result = run("import", "metrics", str(out))
    assert "3 rows, 0 new, 0 changed, 3 unchanged" in result.output
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == audits


def test_a_file_nested_too_deeply_is_refused_as_malformed_toml(run, tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 3000 + "]" * 3000 + "\n", encoding="utf-8")
    result = run("rulebook", "load", str(path), "--effective-from", "2025-01", ok=False)
    assert result.exit_code == 1
    assert f"{path}: arrays or inline tables nested too deeply" in result.output
    assert "v2" not in run("rulebook", "list").output
