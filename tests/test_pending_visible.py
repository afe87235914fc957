"""Pending work is never invisible (issue 6 item 8). With a deferred recompute still
pending (a server crashed before running it, or is running it now): the CLI's export and
explain run it first, web downloads too, pages say that figures are being updated, and a
server starting up runs what a crash left."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient
from sqlalchemy import select

from starlevel.app import create_app
from starlevel.cli import cli
from starlevel.db.engine import session_scope
from starlevel.db.models import MonthResultRow
from starlevel.services import inspections, synth, users
from starlevel.services.recompute import pending_from, recompute, run_pending
from starlevel.settings import Settings
from tests.conftest import sign_in
from tests.catchup import assert_equals_full_recompute, wait_until_caught_up
from tests.test_incremental import _load

LAST = "2026-02"
BANNER_EN = "Figures are being updated"
BANNER_ZH = "数据正在更新"
HR_PASSWORD = "ladder-review-Qx7-pending"


@pytest.fixture
def company(session_factory):  # type: ignore[no-untyped-def]
    _load(session_factory, synth.generate(40, 14, last_month=LAST, seed=8))
    with session_scope(session_factory) as s:
        users.create_user(s, "hr1", role="hr", password=HR_PASSWORD)
    return session_factory


def leave_pending(factory, ref: str) -> str:  # type: ignore[no-untyped-def]
    """A red-line defect for an agent near a quota, saved with the company-wide recompute
    deferred and never run (as if the server died right after the save)."""
    with session_scope(factory) as s:
        agent_id = s.scalar(select(MonthResultRow.agent_id).where(
            MonthResultRow.month == LAST, MonthResultRow.event.in_(("promote", "waitlist"))).order_by(MonthResultRow.agent_id))
        assert agent_id
        inspections.create(s, inspections.Draft(agent_id=agent_id, contact_on=f"{LAST}-20", channel="chat",
                                                contact_ref=ref, picks={"T3-01": inspections.Pick("T3-01", "1", "")}),
                           actor="qa", today=date(2026, 11, 25), defer=True)
    with session_scope(factory) as s:
        assert pending_from(s) == LAST
    return agent_id


def full_recompute(factory) -> None:  # type: ignore[no-untyped-def]
    with session_scope(factory) as s:
        recompute(s)


@pytest.fixture
def run(db_url, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", db_url)

    def invoke(*args: str) -> str:
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    return invoke


def test_cli_export_and_explain_run_pending_requests_first(company, run, tmp_path: Path):
    leave_pending(company, "crash-1")
    out = tmp_path / "ladder.csv"
    run("export", "ladder", "--out", str(out))
    exported = out.read_text(encoding="utf-8")
    full_recompute(company)
    run("export", "ladder", "--out", str(out))
    assert exported == out.read_text(encoding="utf-8")
    with session_scope(company) as s:
        assert pending_from(s) is None

    agent_id = leave_pending(company, "crash-2")
    explained = run("explain", agent_id, "--month", LAST)
    full_recompute(company)
    assert explained == run("explain", agent_id, "--month", LAST)


def _client(db_url: str) -> TestClient:  # type: ignore[type-arg]
    # Recomputes not deferred: no polling worker, so a request left pending stays pending.
    return TestClient(app=create_app(Settings(database_url=db_url, secret_key="t")))


def test_pages_say_figures_are_being_updated_while_requests_are_pending(company, db_url):
    with _client(db_url) as client:
        assert sign_in(client, "hr1", HR_PASSWORD).status_code in (302, 303)
        assert BANNER_EN not in client.get("/hr").text
        leave_pending(company, "pending-page")
        page = client.get("/hr", headers={"Accept-Language": "en-GB"})
        assert page.status_code == 200 and BANNER_EN in page.text
        client.get("/lang/zh")
        assert BANNER_ZH in client.get("/hr/payroll").text
        assert run_pending(company) is not None
        assert BANNER_ZH not in client.get("/hr/payroll").text


def test_web_downloads_run_pending_requests_first(company, db_url):
    with _client(db_url) as client:
        assert sign_in(client, "hr1", HR_PASSWORD).status_code in (302, 303)
        leave_pending(company, "pending-download")
        first = client.get("/hr/ladder.csv")
        assert first.status_code == 200
        with session_scope(company) as s:
            assert pending_from(s) is None
        full_recompute(company)
        assert first.content == client.get("/hr/ladder.csv").content


def test_a_starting_server_runs_what_a_crash_left_pending(company, db_url):
    leave_pending(company, "left-by-a-crash")
    with _client(db_url):
        wait_until_caught_up(company)
    assert_equals_full_recompute(company)
