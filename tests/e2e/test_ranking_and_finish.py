"""Pointer paths of the survey: drag-and-drop ranking, and an impatient double-click on Finish."""

from __future__ import annotations

import pytest
from django.db import connection
from playwright.sync_api import expect

from surveys.models import Completion, Participant, Ranking, Wave
from surveys.services import comment_save, participant_consent, participant_set_language

pytestmark = pytest.mark.browser


def _consented_resident(open_page, invitation_url):
    link = invitation_url()
    participant = Participant.objects.get(invitation__isnull=False)
    participant_set_language(participant=participant, language="fr")
    participant_consent(participant=participant)
    page, problems = open_page()
    page.goto(link)
    page.wait_for_url("**/survey/about-you/")
    return page, problems, participant


def _ranking_post(response) -> bool:
    return response.request.method == "POST" and response.url.endswith("/survey/rank/beautiful/")


def test_dragging_an_image_reorders_the_ranking_and_saves_it(open_page, invitation_url, study):
    page, problems, participant = _consented_resident(open_page, invitation_url)
    page.goto(page.url.replace("/survey/about-you/", "/survey/rank/beautiful/"))
    items = page.locator(".rank-item")
    expect(items).to_have_count(3)
    assert not Ranking.objects.filter(participant=participant).exists()

    with page.expect_response(_ranking_post) as response:
        page.drag_and_drop("#item-s3", "#item-s1")  # the last image onto the first
    assert response.value.status == 200, response.value.text()

    expect(items.first).to_have_attribute("data-code", "s3")
    expect(page.locator("#ranking-list input[name=order]")).to_have_value("s3,s1,s2")
    assert Ranking.objects.get(participant=participant).order == ["s3", "s1", "s2"]

    with page.expect_response(_ranking_post):
        page.drag_and_drop("#item-s3", "#item-s2")  # and back to the bottom
    expect(items.last).to_have_attribute("data-code", "s3")
    assert Ranking.objects.get(participant=participant).order == ["s1", "s2", "s3"]

    page.reload()  # the saved order is what the page shows
    expect(items.first).to_have_attribute("data-code", "s1")
    expect(items.last).to_have_attribute("data-code", "s3")
    assert not problems.all(), problems.all()


def test_a_double_clicked_finish_records_one_completion_and_no_error(open_page, invitation_url, study):
    page, problems, participant = _consented_resident(open_page, invitation_url)
    comment_save(participant=participant, wave=Wave.objects.get(study=study), text="Des bancs")
    finish_posts = []
    page.on(
        "request",
        lambda r: r.method == "POST" and r.url.endswith("/survey/finish/") and finish_posts.append(r),
    )
    page.goto(page.url.replace("/survey/about-you/", "/survey/review/"))

    page.get_by_role("button", name="Terminer et envoyer").dblclick()

    page.wait_for_url("**/survey/done/")
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1)).to_have_text("Merci !")
    assert finish_posts, "the Finish button sent nothing"
    assert Completion.objects.filter(participant=participant).count() == 1
    assert not problems.all(), problems.all()
    print(f"finish POSTs sent by the double-click: {len(finish_posts)}")


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="the in-memory SQLite test database locks whole tables instead of waiting",
)
def test_two_finish_requests_at_once_record_one_completion(open_page, invitation_url, study):
    """Without the page's double-submit guard (another tab, a flaky network retry) two finishes
    race on the server; both succeed and one completion is recorded."""
    page, problems, participant = _consented_resident(open_page, invitation_url)
    comment_save(participant=participant, wave=Wave.objects.get(study=study), text="Des bancs")
    page.goto(page.url.replace("/survey/about-you/", "/survey/review/"))
    statuses = page.evaluate(
        """async () => {
            const form = document.querySelector("form.finish-form");
            const send = () => fetch(form.action, {method: "POST", body: new FormData(form)});
            const responses = await Promise.all([send(), send(), send()]);
            return responses.map(r => r.status);
        }"""
    )
    assert statuses == [200, 200, 200]  # each followed the redirect to the "done" page
    assert Completion.objects.filter(participant=participant).count() == 1
    assert not problems.all(), problems.all()
