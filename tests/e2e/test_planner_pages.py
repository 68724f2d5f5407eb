"""A planner walks every staff page in English and in French, on a desktop and a phone:
each page is in the browser's language, names groups as people wrote them, and axe-core finds
no serious or critical violation (nor a console error or CSP violation)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from playwright.sync_api import expect

from analytics.services import analysis_request, analysis_run
from analytics.tests.helpers import FAST, study_fill
from negotiation.tests.helpers import make_done_session, make_scenario
from surveys.models import StudyMembership

from .conftest import DESKTOP, PHONE
from .test_accessibility import _assert_accessible

pytestmark = pytest.mark.browser

GROUPS = {
    "en": ["Seniors", "Disabled residents", "LGBTQIA2+ residents"],
    "fr": ["Personnes aînées", "Personnes en situation de handicap", "Personnes LGBTQIA2+"],
}
# Words that only show when a page (or part of it) was left in the other language.
FOREIGN = {
    "en": re.compile(r"\b(Tableau de bord|Négociation|Vos études|Télécharger|Comment c’est calculé)\b"),
    "fr": re.compile(
        r"\b(Your studies|Sign out|Download|How this is computed|Scenario|Sessions?|Budget:|Worst group|"
        r"Negotiation scenarios|Compare|Agreement|Total utility|Request export)\b"
    ),
}


@pytest.fixture
def planner_world(study):
    study_fill(study)
    run = analysis_request(study=study, enqueue=False, **FAST)
    analysis_run(run_id=run.pk)
    scenario = make_scenario(study)
    session = make_done_session(scenario)
    user = get_user_model().objects.create_user("planner-e2e", password="pw-planner-e2e")
    for role in ("planner", "researcher"):
        StudyMembership.objects.create(study=study, user=user, role=role)
    return study, scenario, session, user


def _signed_in(open_page, live_server, user, locale):
    client = Client()
    client.force_login(user)
    page, problems = open_page(viewport=DESKTOP, locale=locale)
    # Staff pages draw several charts; the machine running the tests may be busy.
    page.set_default_timeout(60000)
    host = live_server.url.split("//", 1)[1].split(":")[0]
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "domain": host, "path": "/"}]
    )
    return page, problems


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_planner_reads_every_staff_page_in_the_browsers_language(open_page, live_server, planner_world, language):
    study, scenario, session, user = planner_world
    page, problems = _signed_in(open_page, live_server, user, {"en": "en-CA", "fr": "fr-CA"}[language])
    base = f"{live_server.url}/studies/{study.slug}"
    pages = {
        "staff home": f"{live_server.url}/staff/",
        "dashboard": f"{base}/analytics/",
        "glossary": f"{base}/analytics/glossary/",
        "brief": f"{base}/analytics/brief/",
        "scenarios": f"{base}/negotiation/",
        "scenario": f"{base}/negotiation/{scenario.pk}/",
        "sessions": f"{base}/negotiation/{scenario.pk}/sessions/",
        "session result": f"{base}/negotiation/sessions/{session.pk}/",
        "exports": f"{base}/exports/",
    }
    scanned = []
    for name, url in pages.items():
        page.goto(url)
        expect(page.locator("html")).to_have_attribute("lang", language)
        if name == "dashboard":
            expect(page.locator(".chart .main-svg").first).to_be_attached()
        text = page.locator("body").inner_text()
        leftover = FOREIGN[language].findall(text)
        assert not leftover, f"the {name} page in {language} still shows {sorted(set(leftover))}"
        if name in ("dashboard", "brief"):
            assert any(g in text for g in GROUPS[language]), f"no group name on the {name} page"
            other = "fr" if language == "en" else "en"
            assert not any(g in text for g in GROUPS[other]), f"the {name} page shows names in {other}"
        for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(viewport)
            _assert_accessible(page, problems, f"{name} ({label}, {language})")
            scanned.append(name)
        page.set_viewport_size(DESKTOP)
    assert len(scanned) == 2 * len(pages)


def test_the_dashboard_sections_open_in_plain_words_with_the_method_one_click_away(
    open_page, live_server, planner_world
):
    study, _, _, user = planner_world
    page, problems = _signed_in(open_page, live_server, user, "fr-CA")
    page.goto(f"{live_server.url}/studies/{study.slug}/analytics/")
    findings = page.locator(".finding")
    assert findings.count() >= 8
    expect(findings.first).to_be_visible()
    method = page.locator("details.method").first
    expect(method.locator("p")).to_be_hidden()
    method.locator("summary").click()
    expect(method.locator("p")).to_be_visible()
    page.get_by_role("link", name="Glossaire :", exact=False).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Glossaire")
    assert not problems.all(), problems.all()
