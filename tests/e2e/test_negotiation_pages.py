"""The planner's negotiation pages in a real browser: the scenario editor fits a 1366 px screen,
and is axe-clean in English and French."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from negotiation.tests.helpers import make_done_session, make_scenario
from surveys.models import StudyMembership

from .test_accessibility import _assert_accessible

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1366, "height": 768}


@pytest.fixture
def planner_world(study):
    user = get_user_model().objects.create_user("planner-e2e", password="pw-planner-e2e")
    StudyMembership.objects.create(study=study, user=user, role="planner")
    scenario = make_scenario(study)
    session = make_done_session(scenario)
    return scenario, session


def _login(page, live_server) -> None:
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", "planner-e2e")
    page.fill("#id_password", "pw-planner-e2e")
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state("load")


@pytest.mark.parametrize("locale, heading", [("en-CA", "Interventions"), ("fr-CA", "Interventions")])
def test_the_editor_fits_a_laptop_screen_and_is_accessible(
    open_page, live_server, study, planner_world, locale, heading
):
    scenario, _ = planner_world
    page, problems = open_page(viewport=LAPTOP, locale=locale)
    _login(page, live_server)
    page.goto(live_server.url + reverse("negotiation:edit", args=[study.slug, scenario.pk]))
    assert page.get_by_text(heading).first.is_visible()
    overflow = page.evaluate(
        """() => [...document.querySelectorAll('.table-wrap')].map(w => w.scrollWidth - w.clientWidth)"""
    )
    assert max(overflow) <= 1, overflow  # No table needs sideways scrolling at 1366 px.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= LAPTOP["width"]
    _assert_accessible(page, problems, f"scenario editor ({locale})")
