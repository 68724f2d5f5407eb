"""A resident completes a whole survey in French, by keyboard only, closing and resuming midway."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from surveys.models import Comment, Completion, Invitation, Participant, Priority, Ranking, Rating

from .keyboard import is_focused, tab_to

pytestmark = pytest.mark.browser

COMMENT = "Plus d’arbres et de bancs, s’il vous plaît."


def _ratings(participant) -> dict[tuple[str, str], int]:
    return {
        (r.site.code, r.criterion.name): r.value
        for r in Rating.objects.filter(participant=participant).select_related("site", "criterion")
    }


def _wait_for_db(page: Page, read, expected, *, tries: int = 50):
    """Autosaves are asynchronous: poll the database until it holds `expected`."""
    for _ in range(tries):
        if read() == expected:
            return
        page.wait_for_timeout(100)
    assert read() == expected


def _priorities(participant) -> dict[str, int]:
    return {
        p.criterion.name: p.tokens for p in Priority.objects.filter(participant=participant).select_related("criterion")
    }


def _rank_order(page: Page) -> list[str]:
    return page.locator(".rank-item").evaluate_all("items => items.map(i => i.dataset.code)")


def _wait_for_rank_order(page: Page, codes: list[str]) -> None:
    page.wait_for_function(
        "codes => [...document.querySelectorAll('.rank-item')].map(i => i.dataset.code).join() === codes",
        arg=",".join(codes),
    )


def _submit(page: Page, name: str, url_glob: str) -> None:
    """Tabs to the button named `name` and presses Enter, then waits for the next page."""
    tab_to(page, page.get_by_role("button", name=name, exact=True))
    page.keyboard.press("Enter")
    page.wait_for_url(url_glob)


def _images_loaded(page: Page) -> None:
    widths = page.locator("main img").evaluate_all("imgs => imgs.map(i => i.complete && i.naturalWidth)")
    assert widths and all(widths), f"images did not load on {page.url}: {widths}"


def test_a_resident_completes_the_survey_in_french_by_keyboard_and_resumes_midway(open_page, invitation_url, study):
    link = invitation_url()
    participant = Participant.objects.get(invitation__isnull=False)
    # An English browser: the French comes from the resident's choice, not from the browser.
    page, _ = open_page(locale="en-US")

    # Language.
    page.goto(link)
    page.wait_for_url("**/survey/language/")
    english = page.get_by_role("radio", name="English")
    tab_to(page, english)
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("radio", name="Français")).to_be_checked()
    _submit(page, "Continue / Continuer", "**/survey/consent/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text("Consentement")

    # Consent: the refusal button comes first in tab order; the resident tabs past it.
    _submit(page, "J’accepte et je veux participer", "**/survey/about-you/")

    # Groups: tick the first and the third by Space.
    checkboxes = page.get_by_role("checkbox")
    tab_to(page, checkboxes.nth(0))
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert is_focused(checkboxes.nth(2))
    page.keyboard.press("Space")
    expect(checkboxes.nth(0)).to_be_checked()
    expect(checkboxes.nth(1)).not_to_be_checked()
    expect(checkboxes.nth(2)).to_be_checked()
    _submit(page, "Enregistrer et continuer", "**/survey/rate/s1/")

    # Rate the first street. Arrow keys in a radio group choose and fire `change`: autosave.
    _images_loaded(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Rue : Site 1")
    access = page.locator("#q-accessibility")
    tab_to(page, access.get_by_role("radio").first)
    page.keyboard.press("ArrowRight")  # 1 → 2
    expect(access.get_by_role("radio", name=re.compile("Passable"))).to_be_checked()
    expect(page.locator("#s-accessibility")).to_have_text("Enregistré")
    # Saved before any form was submitted.
    assert _ratings(participant) == {("s1", "accessibility"): 2}

    page.keyboard.press("Tab")  # into the next radio group, on its first point
    page.keyboard.press("Space")  # 1
    for _ in range(3):
        page.keyboard.press("ArrowRight")  # … → 4; each press autosaves, the last one must win
    excellent = page.locator("#q-aesthetics").get_by_role("radio", name=re.compile("Excellent"))
    expect(excellent).to_be_checked()
    expect(page.locator("#s-aesthetics")).to_have_text("Enregistré")
    _wait_for_db(page, lambda: _ratings(participant), {("s1", "accessibility"): 2, ("s1", "aesthetics"): 4})

    # The resident closes the tab and opens the link again on another device: no cookies.
    page.context.close()
    page, _ = open_page(locale="en-US")
    page.goto(link)
    page.wait_for_url("**/survey/rate/s2/")  # the first unanswered step
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text("Rue : Site 2")
    # Going back shows the earlier answers as chosen.
    tab_to(page, page.get_by_role("link", name="Retour"))
    page.keyboard.press("Enter")
    page.wait_for_url("**/survey/rate/s1/")
    expect(page.locator("#q-accessibility input[value='2']")).to_be_checked()
    expect(page.locator("#q-aesthetics input[value='4']")).to_be_checked()
    assert page.locator("input[type=radio]:checked").count() == 2
    _submit(page, "Enregistrer et continuer", "**/survey/rate/s2/")

    # Rate the second street and submit the form (answers also travel with the POST).
    tab_to(page, page.locator("#q-accessibility").get_by_role("radio").first)
    page.keyboard.press("Space")  # 1
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")  # 3
    _submit(page, "Enregistrer et continuer", "**/survey/rank/beautiful/")

    # Rank: move the third image to the top with "Monter", twice, then the old first one down.
    expect(page.get_by_role("heading", level=1)).to_have_text("Classez ces rues : Belle")
    _images_loaded(page)
    assert _rank_order(page) == ["s1", "s2", "s3"]
    tab_to(page, page.locator("[data-focus-key='up:s3']"))
    page.keyboard.press("Enter")
    _wait_for_rank_order(page, ["s1", "s3", "s2"])
    # Focus follows the moved image, so the resident can keep moving it.
    expect(page.locator("[data-focus-key='up:s3']")).to_be_focused()
    page.keyboard.press("Enter")
    _wait_for_rank_order(page, ["s3", "s1", "s2"])
    # At the top "Monter" is disabled, so focus moves to the same image's "Descendre".
    expect(page.locator("[data-focus-key='down:s3']")).to_be_focused()
    expect(page.locator("#rank-status")).to_contain_text("Position 1")
    ranking = Ranking.objects.get(participant=participant)
    assert ranking.order == ["s3", "s1", "s2"]

    tab_to(page, page.locator("[data-focus-key='down:s1']"))
    page.keyboard.press("Enter")
    _wait_for_rank_order(page, ["s3", "s2", "s1"])
    expect(page.locator("[data-focus-key='up:s1']")).to_be_focused()
    ranking.refresh_from_db()
    assert ranking.order == ["s3", "s2", "s1"]
    _submit(page, "Enregistrer et continuer", "**/survey/priorities/")

    # Priorities: 3 tokens on the second criterion, then Shift+Tab back and 7 on the first.
    expect(page.get_by_role("heading", level=1)).to_have_text("Vos priorités")
    tab_to(page, page.get_by_label("Esthétique"))
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type("3")
    tab_to(page, page.get_by_label("Accessibilité"), backwards=True)
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type("7")
    expect(page.locator("#tokens-left")).to_have_text(re.compile(r"Jetons placés\s*:\s*10 sur 10"))
    page.keyboard.press("Tab")  # leaving the field fires `change`: the whole allocation autosaves
    expect(page.locator("#tokens-status")).to_have_text("Enregistré")
    assert _priorities(participant) == {"accessibility": 7, "aesthetics": 3}
    _submit(page, "Enregistrer et continuer", "**/survey/comment/")

    # Comment.
    tab_to(page, page.get_by_label("Votre commentaire (facultatif)"))
    page.keyboard.type(COMMENT)
    _submit(page, "Enregistrer et continuer", "**/survey/review/")

    # Review shows the answers, in French.
    expect(page.get_by_role("heading", level=1)).to_have_text("Vérifiez vos réponses")
    main = page.locator("main")
    expect(main).to_contain_text(COMMENT)
    expect(main).to_contain_text("Personnes aînées, Personnes LGBTQIA2+")
    expect(main).to_contain_text("Accessibilité : 7")
    _submit(page, "Terminer et envoyer", "**/survey/done/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Merci !")
    expect(page.locator("html")).to_have_attribute("lang", "fr")

    # Everything is in the database, exactly.
    participant.refresh_from_db()
    assert participant.language == "fr"
    assert participant.consented_at is not None
    assert set(participant.groups.values_list("code", flat=True)) == {"senior", "lgbtqia2"}
    assert _ratings(participant) == {
        ("s1", "accessibility"): 2,
        ("s1", "aesthetics"): 4,
        ("s2", "accessibility"): 1,
        ("s2", "aesthetics"): 3,
    }
    rankings = Ranking.objects.filter(participant=participant)
    assert list(rankings.values_list("order", flat=True)) == [["s3", "s2", "s1"]]
    assert _priorities(participant) == {"accessibility": 7, "aesthetics": 3}
    comments = Comment.objects.filter(participant=participant)
    assert list(comments.values_list("text", flat=True)) == [COMMENT]
    assert Completion.objects.filter(participant=participant).count() == 1
    assert Invitation.objects.get(participant=participant).used_at is not None
