"""Going offline mid-survey: answers wait on the device and sync on reconnect,
without a reload."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from surveys.models import Rating
from tests.e2e.test_ranking_and_finish import _consented_resident

pytestmark = pytest.mark.browser


def _wait_for(condition, timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_answers_given_offline_are_kept_and_sent_when_the_connection_returns(open_page, invitation_url, study):
    page, problems, participant = _consented_resident(open_page, invitation_url)
    page.goto(page.url.replace("/survey/about-you/", "/survey/rate/s1/"))
    page.context.set_offline(True)
    page.locator("input[name='rating-accessibility'][value='3']").check()
    status = page.locator("#s-accessibility")
    expect(status).to_contain_text("gardée sur cet appareil")
    page.locator("input[name='rating-aesthetics'][value='2']").check()
    expect(page.locator("#s-aesthetics")).to_contain_text("gardée sur cet appareil")
    assert not Rating.objects.filter(participant=participant).exists()

    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    assert _wait_for(lambda: Rating.objects.filter(participant=participant).count() == 2)
    saved = dict(Rating.objects.filter(participant=participant).values_list("criterion__name", "value"))
    assert saved == {"accessibility": 3, "aesthetics": 2}
    expect(status).to_contain_text("De retour en ligne")
    assert page.evaluate("window.localStorage.getItem('civic-pending-answers')") is None
    # The failed requests while offline are the only errors the browser may report.
    assert all(("ERR_INTERNET_DISCONNECTED" in e or "htmx:" in e) for e in problems.console_errors), (
        problems.console_errors
    )
