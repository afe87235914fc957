import pytest
from axe_playwright_python.base import AXE_SCRIPT
from tests.conftest import browser_sign_in
from tests.seed import PASSWORDS
from tests.web.test_rules_http import _quarterly_company, _store

RUN = """async () => { const r = await axe.run(document, {resultTypes: ['violations']});
 return r.violations.map(v => ({id: v.id, help: v.help, nodes: v.nodes.slice(0,3).map(n => n.target.join(' ') + ' :: ' + n.failureSummary)})); }"""

def axe(page):
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SCRIPT)
    return page.evaluate(RUN)

@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_axe(live_server, new_page, session_factory, lang, width):
    _quarterly_company(session_factory)
    v_fee = _store(session_factory, "fee-collection", "2099-01")
    v_after = _store(session_factory, "after-sales-deduction", "2099-02")
    v_card = _store(session_factory, "scorecard-80-20", "2099-03")
    v_ec = _store(session_factory, "ecommerce-kpi", "2099-04")
    probs = []
    for role, paths in {"agent": ["/rules", "/me"], "hr": ["/hr/periods", "/hr/periods?year=2024", "/hr/rulebook", f"/hr/rulebook?version={v_fee}", f"/hr/rulebook?version={v_after}", f"/hr/rulebook?version={v_card}", f"/hr/rulebook?version={v_ec}", "/rules"]}.items():
        page = new_page(lang=lang, width=width)
        browser_sign_in(page, live_server, *PASSWORDS[role])
        for p in paths:
            page.goto(live_server + p)
            page.add_style_tag(content=".stars{color:#8a5a00}"); v = axe(page)
            if v: probs.append((p, role, v))
    assert not probs, "\n".join(map(str, probs))
