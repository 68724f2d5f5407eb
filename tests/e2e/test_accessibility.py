"""axe-core scans of every resident page, in English and French, on a phone and a desktop.

Each scan also checks that the page logged no console error and no Content Security Policy
violation, and that nothing failed to load."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from .conftest import DESKTOP, PHONE

pytestmark = pytest.mark.browser

BLOCKING_IMPACTS = {"serious", "critical"}
# WCAG 2.2 A/AA and axe's best practices; experimental rules are left out as they change often.
AXE_OPTIONS = {
    "resultTypes": ["violations"],
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
}
AXE = Axe()


def _assert_accessible(page: Page, problems, name: str) -> None:
    page.wait_for_load_state("load")
    results = AXE.run(page, options=AXE_OPTIONS)
    blocking = [v for v in results.response["violations"] if v["impact"] in BLOCKING_IMPACTS]
    report = "\n".join(
        f"  {v['id']} ({v['impact']}): {v['help']} — " + "; ".join(" ".join(node["target"]) for node in v["nodes"])
        for v in blocking
    )
    assert not blocking, f"axe found serious/critical violations on the {name} page:\n{report}"
    assert not problems.all(), f"problems on the {name} page: {problems.all()}"


def _press(page: Page, name: str, url_glob: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()
    page.wait_for_url(url_glob)


@pytest.mark.parametrize(
    "language, texts",
    [
        (
            "en",
            {
                "agree": "I agree and want to take part",
                "next": "Save and continue",
                "finish": "Finish and send",
                "delete": "Delete my answers and withdraw",
            },
        ),
        (
            "fr",
            {
                "agree": "J’accepte et je veux participer",
                "next": "Enregistrer et continuer",
                "finish": "Terminer et envoyer",
                "delete": "Supprimer mes réponses et me retirer",
            },
        ),
    ],
    ids=["en", "fr"],
)
def test_every_resident_page_has_no_serious_accessibility_violations(
    open_page, invitation_url, live_server, language, texts
):
    """Walks the survey once and scans each page at a phone's and a desktop's width."""
    page, problems = open_page(viewport=PHONE, locale={"en": "en-CA", "fr": "fr-CA"}[language])
    scanned = []

    def scan(name: str) -> None:
        expect(page.locator("html")).to_have_attribute("lang", language)
        for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(viewport)
            _assert_accessible(page, problems, f"{name} ({label})")
            scanned.append(f"{name} ({label})")

    # A bad link: the error page, in the browser's language.
    page.goto(live_server.url + "/i/not-a-real-token/")
    expect(page.locator(".notice")).to_be_visible()
    # The error page answers 404 by design; the browser logs that as a failed resource.
    problems.console_errors.clear()
    scan("invitation error")

    page.goto(invitation_url())
    page.wait_for_url("**/survey/language/")
    scan("language")
    page.get_by_role("radio", name={"en": "English", "fr": "Français"}[language]).check()
    _press(page, "Continue / Continuer", "**/survey/consent/")
    scan("consent")
    _press(page, texts["agree"], "**/survey/about-you/")
    scan("groups")
    page.get_by_role("checkbox").first.check()
    _press(page, texts["next"], "**/survey/rate/s1/")
    scan("rate")
    # A rating shows the autosave status; scan the page in that state too.
    page.locator("#q-accessibility input[value='3']").check()
    expect(page.locator("#s-accessibility .status")).to_be_visible()
    scan("rate, after an autosave")

    page.goto(live_server.url + "/survey/rank/beautiful/")
    scan("rank")
    page.locator("[data-focus-key='up:s2']").click()
    expect(page.locator(".rank-item").first).to_have_attribute("data-code", "s2")
    scan("rank, after a move")

    page.goto(live_server.url + "/survey/priorities/")
    scan("priorities")
    page.goto(live_server.url + "/survey/comment/")
    scan("comment")
    page.goto(live_server.url + "/survey/review/")
    scan("review")
    _press(page, texts["finish"], "**/survey/done/")
    scan("done")
    page.locator("main").get_by_role("link").click()
    page.wait_for_url("**/survey/withdraw/")
    scan("withdraw")
    _press(page, texts["delete"], "**/survey/withdraw/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    scan("withdrawn")
    assert len(scanned) == 28


def test_the_scan_fails_on_a_page_with_a_serious_violation(open_page, live_server):
    """Guards the guard: an unlabelled image and unreadable text must fail the scan."""
    page, problems = open_page()
    page.goto(live_server.url + "/survey/")  # "please open your invitation link", 403
    problems.console_errors.clear()
    # Styled through the CSSOM: the CSP (rightly) blocks inline style attributes.
    page.locator("main").evaluate(
        """main => {
            const faint = document.createElement("p");
            faint.textContent = "Faint text";
            faint.style.color = "#ccc";
            main.append(faint, document.createElement("input"));
        }"""
    )
    with pytest.raises(AssertionError, match=r"(?s)color-contrast \(serious\).*label \(critical\)"):
        _assert_accessible(page, problems, "tampered")


def test_a_content_security_policy_violation_is_reported(open_page, live_server):
    """Guards the guard: the console watcher sees what the CSP blocks."""
    page, problems = open_page()
    page.goto(live_server.url + "/i/not-a-real-token/")
    page.locator("main").evaluate(
        """main => {
            const img = document.createElement("img");
            img.alt = "";
            img.src = "https://example.invalid/tracker.png";
            main.append(img);
        }"""
    )
    page.wait_for_function("() => document.querySelector('main img').complete")
    page.wait_for_timeout(200)  # console messages arrive asynchronously
    assert any("img-src" in v for v in problems.csp_violations), problems


@pytest.mark.parametrize(
    ("locale", "take_part", "start"),
    [("en-CA", "Take part", "Start the survey"), ("fr-CA", "Participer", "Commencer le questionnaire")],
)
def test_the_open_link_pages_are_accessible_and_lead_into_the_survey(
    open_page, live_server, study, locale, take_part, start
):
    study.open_signup = True
    study.save()
    page, problems = open_page(viewport=PHONE, locale=locale)
    page.goto(f"{live_server.url}/s/{study.slug}/")
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        _assert_accessible(page, problems, f"open link ({label})")
    page.get_by_role("button", name=take_part).click()
    link = page.get_by_label({"en-CA": "Personal link", "fr-CA": "Lien personnel"}[locale]).input_value()
    assert f"{live_server.url}/i/" in link
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        _assert_accessible(page, problems, f"personal link ({label})")
    page.get_by_role("link", name=start).click()
    page.wait_for_url("**/survey/language/")
