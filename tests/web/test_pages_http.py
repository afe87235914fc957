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
def test_bad_filter_values_get_the_page_with_a_message(company, client, lang: str) -> None:  # type: ignore[no-untyped-def]
    client, _ = _as(client, "hr", lang)
    for url, field, value in [("/agents?level=x", "Level", "x"), ("/agents?level=9", "Level", "9"),
                              ("/agents?page=abc", "Page", "abc"), ("/agents?track=fax", "Track", "fax")]:
        r = client.get(url)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), url
        message = _("{field}: “{value}” is not a valid choice; showing all.").format(field=_(field), value=value)
        assert message in html.unescape(r.text), url
        assert "A003" in r.text  # the whole list is shown


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_malformed_html_requests_never_answer_json(company, client, lang: str) -> None:  # type: ignore[no-untyped-def]
    client, _ = _as(client, "hr", lang)
    r = client.get("/hr?page=abc")
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert _("Request not understood") in r.text
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
