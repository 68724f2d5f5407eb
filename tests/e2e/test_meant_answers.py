"""Every answer means what the resident meant, driven in Chromium: French, a phone, keyboard only,
axe-core clean."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from surveys import selectors
from surveys.models import Completion, Participant, Priority, Ranking
from surveys.services import participant_consent, participant_set_language

from .conftest import PHONE
from .keyboard import tab_to
from .test_accessibility import _assert_accessible

pytestmark = pytest.mark.browser

NARROW = {"width": 320, "height": 640}


def _resident(open_page, invitation_url, *, viewport=PHONE, shuffled=True):
    link = invitation_url(shuffled=shuffled)
    participant = Participant.objects.filter(invitation__isnull=False).order_by("-id").first()
    participant_set_language(participant=participant, language="fr")
    participant_consent(participant=participant)
    page, problems = open_page(viewport=viewport)
    page.goto(link)
    page.wait_for_url("**/survey/about-you/")
    return page, problems, participant, link


def _press(page: Page, name: str, url_glob: str | None = None) -> None:
    tab_to(page, page.get_by_role("button", name=name, exact=True))
    page.keyboard.press("Enter")
    if url_glob:
        page.wait_for_url(url_glob)


def _no_sideways_scroll(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"


def test_an_untouched_ranking_is_skipped_and_moves_to_the_top_by_keyboard(open_page, invitation_url, live_server):
    page, problems, participant, _ = _resident(open_page, invitation_url)
    page.goto(live_server.url + reverse("surveys:rank", args=["beautiful"]))
    shown = page.locator(".rank-item").evaluate_all("items => items.map(i => i.dataset.code)")
    criterion = participant.study.criteria.get(code="beautiful")
    assert shown == selectors.ranking_initial_order(participant=participant, criterion=criterion)
    expect(page.locator("#rank-status")).to_contain_text("Pas encore de réponse")
    _assert_accessible(page, problems, "rank, untouched")
    _no_sideways_scroll(page)

    # "Passer cette question" leaves no ranking behind.
    _press(page, "Passer cette question", "**/survey/priorities/")
    assert not Ranking.objects.filter(participant=participant).exists()

    # Back on the page, the last image goes to the top in one press.
    page.goto(live_server.url + reverse("surveys:rank", args=["beautiful"]))
    last = shown[-1]
    tab_to(page, page.locator(f"[data-focus-key='top:{last}']"))
    page.keyboard.press("Enter")
    page.wait_for_function("code => document.querySelector('.rank-item').dataset.code === code", arg=last)
    expect(page.locator(f"[data-focus-key='down:{last}']")).to_be_focused()
    expected = [last, *shown[:-1]]
    assert Ranking.objects.get(participant=participant).order == expected
    # Now the order is an answer: the page says so and offers to go on.
    expect(page.get_by_role("button", name="Enregistrer et continuer", exact=True)).to_be_visible()
    _assert_accessible(page, problems, "rank, after a move to the top")
    # An image opens large in a new tab.
    link = page.locator(".rank-item a.enlarge").first
    expect(link).to_have_attribute("target", "_blank")
    _press(page, "Enregistrer et continuer", "**/survey/priorities/")
    assert Ranking.objects.get(participant=participant).order == expected


def test_keep_this_order_is_an_explicit_answer(open_page, invitation_url, live_server):
    page, problems, participant, _ = _resident(open_page, invitation_url)
    page.goto(live_server.url + reverse("surveys:rank", args=["beautiful"]))
    shown = page.locator(".rank-item").evaluate_all("items => items.map(i => i.dataset.code)")
    _press(page, "Garder cet ordre et continuer", "**/survey/priorities/")
    assert Ranking.objects.get(participant=participant).order == shown
    assert not problems.all(), problems.all()


@pytest.mark.parametrize("points", [4, 5, 7])
@pytest.mark.parametrize("viewport", [NARROW, PHONE], ids=["320", "390"])
def test_on_a_phone_the_street_stays_in_view_and_labels_fit(
    open_page, invitation_url, live_server, study, points, viewport
):
    labels = ["Très mauvais", "Mauvais", "Plutôt mauvais", "Passable", "Plutôt bon", "Bon", "Excellent"]
    study.scale_max = points
    study.scale_labels_fr = (
        labels[:points] if points == 7 else (["Mauvais", "Passable", "Bon", "Excellent"] + ["Exceptionnel"])[:points]
    )
    study.scale_labels_en = [f"Level {i}" for i in range(1, points + 1)]
    study.save()
    page, problems, participant, _ = _resident(open_page, invitation_url, viewport=viewport)
    site = selectors.participant_sites(participant)[0]
    page.goto(live_server.url + reverse("surveys:rate", args=[site.code]))
    _no_sideways_scroll(page)
    spill = page.locator(".scale-point").evaluate_all(
        "els => els.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent.trim())"
    )
    assert not spill, f"labels overflow their buttons at {viewport['width']}px: {spill}"
    # Scanned at the top: further down, the sticky street image covers what has scrolled under it.
    _assert_accessible(page, problems, f"rate, {points}-point scale at {viewport['width']}px")
    # Keyboard to the last question: the street image is still on screen.
    # A radio group is one Tab stop, entered on its first point.
    last = page.locator(".question").last.get_by_role("radio").first
    tab_to(page, last)
    page.keyboard.press("Space")
    expect(last).to_be_checked()
    box = page.locator(".site-image img").bounding_box()
    assert box and box["y"] >= -1 and box["y"] + box["height"] <= viewport["height"], box
    focused = page.evaluate("document.activeElement.getBoundingClientRect().top")
    assert focused >= box["y"] + box["height"] - 1, "the focused answer is hidden under the image"
    assert not problems.all(), problems.all()


def test_errors_stay_on_the_page_next_to_the_field(open_page, invitation_url, live_server):
    page, problems, participant, _ = _resident(open_page, invitation_url)
    page.goto(live_server.url + reverse("surveys:priorities"))
    for field, value in (("Accessibilité", "6"), ("Esthétique", "6")):
        tab_to(page, page.get_by_label(field))
        page.keyboard.press("ControlOrMeta+A")
        page.keyboard.type(value)
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/survey/priorities/")):
        _press(page, "Enregistrer et continuer")
    expect(page).to_have_url(re.compile(r"/survey/priorities/$"))
    error = page.locator("#e-tokens")
    expect(error).to_contain_text("Répartissez exactement 10 jetons")
    expect(page.get_by_label("Accessibilité")).to_have_value("6")
    expect(page.get_by_label("Esthétique")).to_have_value("6")
    assert not Priority.objects.filter(participant=participant).exists()
    # The page answered 400 on purpose; the browser logs that as a failed resource.
    problems.console_errors.clear()
    _assert_accessible(page, problems, "priorities, with an error")
    # Fixing it moves on.
    tab_to(page, page.get_by_label("Esthétique"))
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type("4")
    page.keyboard.press("Tab")  # leaving the field autosaves the allocation, now right
    expect(page.locator("#tokens-status")).to_have_text("Enregistré")
    _press(page, "Enregistrer et continuer", "**/survey/comment/")
    assert dict(Priority.objects.filter(participant=participant).values_list("criterion__name", "tokens")) == {
        "accessibility": 6,
        "aesthetics": 4,
    }


def test_finishing_refusals_review_and_withdrawal_after_finishing_on_another_device(
    open_page, invitation_url, live_server
):
    page, problems, participant, link = _resident(open_page, invitation_url)
    page.goto(live_server.url + reverse("surveys:review"))
    _no_sideways_scroll(page)
    with page.expect_response(lambda r: r.url.endswith("/survey/finish/")):
        _press(page, "Terminer et envoyer")
    expect(page.locator("#finish-error")).to_contain_text("Vous n’avez encore répondu à aucune question")
    assert not Completion.objects.filter(participant=participant).exists()
    problems.console_errors.clear()
    _assert_accessible(page, problems, "review, finish refused")

    # One rating, then the review lists the rest as skipped and finishing works.
    site = selectors.participant_sites(participant)[0]
    page.goto(live_server.url + reverse("surveys:rate", args=[site.code]))
    tab_to(page, page.locator("#q-accessibility").get_by_role("radio").first)
    page.keyboard.press("Space")
    expect(page.locator("#s-accessibility")).to_have_text("Enregistré")
    page.goto(live_server.url + reverse("surveys:review"))
    expect(page.locator("#rev-skipped")).to_contain_text("sans réponse")
    _no_sideways_scroll(page)
    _press(page, "Terminer et envoyer", "**/survey/done/")
    expect(page.locator("main")).to_contain_text("ne peuvent plus être modifiées")

    # A tab left open on a rating page cannot change the finished answers.
    page.goto(live_server.url + reverse("surveys:rate", args=[site.code]))
    expect(page.locator(".notice")).to_contain_text("Vous avez déjà terminé")
    page.locator("#q-accessibility input[value='4']").check()
    expect(page.locator("#s-accessibility")).to_contain_text("Vous avez déjà terminé")
    assert participant.rating_set.get().value == 1

    # Another device, later: the link opens the thank-you page, which offers withdrawal.
    phone, phone_problems = open_page(viewport=NARROW, locale="fr-CA")
    phone.goto(link)
    phone.wait_for_url("**/survey/done/")
    tab_to(phone, phone.get_by_role("link", name="Me retirer de l’étude et supprimer mes réponses"))
    phone.keyboard.press("Enter")
    phone.wait_for_url("**/survey/withdraw/")
    with phone.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/survey/withdraw/")):
        _press(phone, "Supprimer mes réponses et me retirer")
    # The POST's answer is a page: let it finish loading before the next navigation.
    expect(phone.get_by_role("heading", level=1)).to_have_text("Vous vous êtes retiré·e")
    phone.wait_for_load_state("load")
    assert not Participant.objects.filter(pk=participant.pk).exists()
    phone.goto(link)
    expect(phone.locator(".notice")).to_contain_text("vos réponses ont été supprimées")
    phone_problems.console_errors.clear()  # the dead link answers 410 by design
    _assert_accessible(phone, phone_problems, "link after withdrawal")


def test_the_offline_queue_never_replays_under_someone_else(open_page, invitation_url, live_server):
    page, problems, participant, _ = _resident(open_page, invitation_url)
    site = selectors.participant_sites(participant)[0]
    foreign = [
        {"path": "/survey/answer/", "resident": "someone-else", "pairs": [["kind", "comment"], ["text", "not mine"]]},
        {"path": "/planner/delete/", "resident": page.evaluate("document.body.dataset.resident"), "pairs": []},
    ]
    posts = []
    page.on("request", lambda r: r.method == "POST" and posts.append(r.url))
    page.evaluate("q => localStorage.setItem('civic-pending-answers', JSON.stringify(q))", foreign)
    page.goto(live_server.url + reverse("surveys:rate", args=[site.code]))
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)
    assert posts == [] and page.evaluate("localStorage.getItem('civic-pending-answers')") is None
    assert not participant.comment_set.exists()

    # A page nobody is signed in to (or a staff page) drops a resident's queued answers.
    mine = [{"path": "/survey/answer/", "resident": page.evaluate("document.body.dataset.resident"), "pairs": []}]
    page.evaluate("q => localStorage.setItem('civic-pending-answers', JSON.stringify(q))", mine)
    page.goto(live_server.url + "/")
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)
    assert page.evaluate("localStorage.getItem('civic-pending-answers')") is None
    assert json.dumps(posts) == "[]"
    assert not problems.all(), problems.all()
