"""The public "what we heard" page in a real browser: axe-clean in French and English on a phone
and a desktop, no group under k anywhere on it, the language switch works from the keyboard, and
the planner's publishing page is as clean."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from playwright.sync_api import expect

from results.services import results_publish
from results.tests.helpers import analyse, negotiate, study_answer
from surveys.models import StudyMembership

from .conftest import DESKTOP, PHONE
from .test_accessibility import _assert_accessible

pytestmark = pytest.mark.browser

# The fixture's disabled residents are 3, under the study's k of 5.
HIDDEN = {"en": "Disabled residents", "fr": "Personnes en situation de handicap"}
SHOWN = {"en": "Seniors", "fr": "Personnes aînées"}
HEADING = {"en": "What we heard", "fr": "Ce que nous avons entendu"}


@pytest.fixture
def published(study):
    study_answer(study)
    analyse(study)
    negotiate(study)
    planner = get_user_model().objects.create_user("planner-results", password="pw-planner-results")
    StudyMembership.objects.create(study=study, user=planner, role="planner")
    results_publish(study=study, user=planner)
    return study, planner


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_public_page_is_accessible_and_shows_no_group_under_k(open_page, live_server, published, language):
    study, _planner = published
    page, problems = open_page(viewport=PHONE, locale={"en": "en-CA", "fr": "fr-CA"}[language])
    page.goto(f"{live_server.url}/studies/{study.slug}/results/")
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.get_by_role("heading", level=1)).to_contain_text(HEADING[language])
    for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(viewport)
        _assert_accessible(page, problems, f"public results, {language} ({label})")
    text = page.locator("body").inner_text()
    assert SHOWN[language] in text
    for name in HIDDEN.values():
        assert name not in text
    # Every table sits in a named, focusable region (it scrolls sideways on a phone).
    for region in page.locator(".table-wrap").all():
        assert region.get_attribute("aria-label")
        assert region.get_attribute("tabindex") == "0"


def test_the_language_switch_works_from_the_keyboard(open_page, live_server, published):
    study, _planner = published
    page, problems = open_page(viewport=PHONE, locale="fr-CA")
    page.goto(f"{live_server.url}/studies/{study.slug}/results/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    switch = page.get_by_role("link", name="English")
    switch.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/results/?lang=en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_contain_text(HEADING["en"])
    # The choice sticks: the plain address now answers in English.
    page.goto(f"{live_server.url}/studies/{study.slug}/results/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert not problems.all(), problems.all()


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_publishing_page_is_accessible(open_page, live_server, published, language):
    study, planner = published
    client = Client()
    client.force_login(planner)
    page, problems = open_page(viewport=DESKTOP, locale={"en": "en-CA", "fr": "fr-CA"}[language])
    host = live_server.url.split("//", 1)[1].split(":")[0]
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "domain": host, "path": "/"}]
    )
    page.goto(f"{live_server.url}/studies/{study.slug}/results/manage/")
    expect(page.locator("html")).to_have_attribute("lang", language)
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        _assert_accessible(page, problems, f"results publishing, {language} ({label})")
    assert HIDDEN[language] not in page.locator("main").inner_text()
