"""A live negotiation in real browsers with a real Celery worker: the planner opens a session with
two delegates (one on a French phone, one on an English desktop) and the agent for the third
group; the delegates answer on their pages while the table fills in; the worker is killed and a
new one started between rounds; the session ends in agreement and the transcript says who
decided each answer."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from playwright.sync_api import expect

from negotiation.models import LiveResponse, LiveStep, NegotiationSession
from negotiation.tests.helpers import make_scenario
from surveys.models import StudyMembership
from tests.stack import conftest as stack

from .conftest import DESKTOP, PHONE
from .test_accessibility import _assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.stack]

# The real stack's fixtures (tests/stack/conftest.py): a private Redis, this process publishing to
# it, real worker processes on the test database; PostgreSQL required (skips locally, fails in CI).
_needs_postgresql = stack._needs_postgresql
private_redis = stack.private_redis
broker = stack.broker
start_worker = stack.start_worker

SLOW = 60_000  # ms: a worker starting on a busy machine, then a proposal solved on it


@pytest.fixture
def planner(study):
    user = get_user_model().objects.create_user("planner-live", password="pw-planner-live")
    StudyMembership.objects.create(study=study, user=user, role="planner")
    return user


def _login(page, live_server) -> None:
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", "planner-live")
    page.fill("#id_password", "pw-planner-live")
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state("load")


def _link_of(page, group: str) -> str:
    section = page.locator("section.delegate-link", has=page.get_by_role("heading", name=group, exact=True))
    return section.locator("a.delegate-url").get_attribute("href")


def _answer(page, *, accept: bool, submit: str) -> None:
    page.locator("#answer-accept" if accept else "#answer-reject").check()
    page.get_by_role("button", name=submit).click()
    page.wait_for_load_state("load")


def test_two_delegates_and_an_agent_reach_agreement_across_a_worker_restart(
    open_page, live_server, study, planner, start_worker, broker
):
    scenario = make_scenario(study)
    worker = start_worker("w1")

    # The planner opens the session: the agent for the seniors, delegates for the two others.
    desk, desk_problems = open_page(viewport=DESKTOP, locale="en-CA")
    _login(desk, live_server)
    desk.goto(live_server.url + reverse("negotiation:edit", args=[study.slug, scenario.pk]) + "#live")
    seats = desk.locator("form[action$='/live/']")
    seats.get_by_label("Disabled residents").select_option("delegate")
    seats.get_by_label("LGBTQIA2+ residents").select_option("delegate")
    desk.get_by_role("button", name="Open the live session").click()
    desk.wait_for_load_state("load")
    french_link, english_link = _link_of(desk, "Disabled residents"), _link_of(desk, "LGBTQIA2+ residents")
    assert french_link != english_link and desk.locator(".qr svg").count() == 2
    _assert_accessible(desk, desk_problems, "delegate links (en, desktop)")
    session = NegotiationSession.objects.get(live=True)

    # A French phone for the disabled residents' delegate, an English desktop for the other.
    phone, phone_problems = open_page(viewport=PHONE, locale="fr-CA")
    phone.goto(french_link)
    laptop, laptop_problems = open_page(viewport=DESKTOP, locale="en-CA")
    laptop.goto(english_link)
    expect(phone.get_by_role("heading", name="Proposition du tour 1")).to_be_visible(timeout=SLOW)
    expect(laptop.get_by_role("heading", name="Proposal of round 1")).to_be_visible(timeout=SLOW)
    # The agent has answered for its seat at once: one of three groups.
    expect(laptop.locator("#round-status")).to_contain_text("1 of 3 groups have answered")
    _assert_accessible(phone, phone_problems, "delegate page (fr, phone)")
    _assert_accessible(laptop, laptop_problems, "delegate page (en, desktop)")
    # The planner watches the same table, with the controls.
    desk.goto(live_server.url + reverse("negotiation:session", args=[study.slug, session.pk]))
    expect(desk.locator(".live-status")).to_contain_text("1 of 3 groups have answered")
    expect(desk.get_by_role("button", name="Hand Disabled residents to the agent")).to_be_visible()
    _assert_accessible(desk, desk_problems, "live session, planner (en, desktop)")
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]

    # Round 1: the French delegate accepts; the English one rejects with the agent's suggested
    # concession (pre-filled) and a reason. The table fills in live on the other page.
    _answer(phone, accept=True, submit="Envoyer ma réponse")
    expect(laptop.locator("#round-status")).to_contain_text("2 of 3 groups have answered", timeout=10_000)
    assert float(laptop.locator("#concession").input_value()) > 0
    laptop.fill("#reason", "Not enough for aesthetics yet")

    # The worker dies; the last answer closes round 1 and asks for round 2 while no worker runs.
    worker.stop()
    _answer(laptop, accept=False, submit="Send my answer")
    expect(laptop.locator("#round-status")).to_contain_text("preparing the next proposal", timeout=10_000)
    assert LiveStep.objects.get(session=session, number=2).status in ("pending", "queued")

    # A new worker picks the step up from PostgreSQL and Redis: nothing was lost.
    start_worker("w2")
    expect(laptop.get_by_role("heading", name="Proposal of round 2")).to_be_visible(timeout=SLOW)
    expect(phone.get_by_role("heading", name="Proposition du tour 2")).to_be_visible(timeout=SLOW)
    _answer(phone, accept=True, submit="Envoyer ma réponse")
    _answer(laptop, accept=True, submit="Send my answer")

    expect(laptop.locator("#round-status")).to_contain_text("ended in agreement", timeout=SLOW)
    expect(phone.locator("#round-status")).to_contain_text("s’est terminée par un accord", timeout=SLOW)
    session.refresh_from_db()
    outcome = session.outcome.data
    assert session.status == "done" and outcome["agreement"] is True and len(outcome["rounds"]) == 2
    by = [{g: r["by"] for g, r in rnd["responses"].items()} for rnd in outcome["rounds"]]
    assert by == [{"Seniors": "agent", "Disabled residents": "delegate", "LGBTQIA2+ residents": "delegate"}] * 2
    assert outcome["rounds"][0]["responses"]["LGBTQIA2+ residents"]["note"] == "Not enough for aesthetics yet"
    assert LiveResponse.objects.filter(session=session).count() == 6

    # The planner's result page: the live package beside the simulated one, and who decided what.
    desk.goto(live_server.url + reverse("negotiation:session", args=[study.slug, session.pk]))
    expect(desk.get_by_role("cell", name="Simulated session (agents only)")).to_have_count(0)
    expect(desk.get_by_role("rowheader", name="Live session (delegates and agents)")).to_be_visible()
    expect(desk.get_by_role("rowheader", name="Simulated session (agents only)")).to_be_visible()
    round_one = desk.locator("section.round", has=desk.get_by_role("heading", name="Round 1", exact=True))
    decided = round_one.locator("td.decided-by").all_inner_texts()
    assert decided == ["agent", "delegate", "delegate"], decided
    expect(round_one).to_contain_text("Not enough for aesthetics yet")
    assert re.search(r"rejects", round_one.inner_text())
    _assert_accessible(desk, desk_problems, "live session result (en, desktop)")
