from __future__ import annotations

import json

import pytest
from django.urls import reverse

from surveys import selectors
from surveys.models import Completion, Participant, Rating, Wave
from surveys.services import invitations_create

pytestmark = pytest.mark.django_db


def _start(client, token, language="en"):
    response = client.get(f"/i/{token}/")
    assert response.status_code == 302
    client.post(reverse("surveys:language"), {"language": language})
    client.post(reverse("surveys:consent"), {"consent": "yes"})
    return Participant.objects.get(invitation__token_hash__isnull=False, language=language)


def test_an_invitation_link_starts_the_survey_at_the_language_step(client, invitation_token):
    response = client.get(f"/i/{invitation_token}/", follow=True)
    assert response.redirect_chain[-1][0] == reverse("surveys:language")
    assert "Choose your language" in response.content.decode()


def test_an_unknown_invitation_shows_a_clear_error(client, study):
    response = client.get("/i/guessed-token/")
    assert response.status_code == 404
    assert "This invitation link is not valid" in response.content.decode()


def test_survey_pages_need_an_invitation(client, study):
    response = client.get(reverse("surveys:rate", args=["s1"]))
    assert response.status_code == 403
    assert "invitation link" in response.content.decode()


def test_the_whole_flow_works_without_javascript_and_resumes_where_it_stopped(client, study, invitation_token):
    participant = _start(client, invitation_token)
    client.post(reverse("surveys:groups"), {"groups": ["senior", "disabled"]})
    assert set(participant.groups.values_list("code", flat=True)) == {"senior", "disabled"}
    # Streets come in this participant's own (stored, seeded) order.
    first, second = (s.code for s in selectors.participant_sites(participant))
    response = client.post(
        reverse("surveys:rate", args=[first]), {"rating-accessibility": "3", "rating-aesthetics": "2"}
    )
    assert response["Location"] == reverse("surveys:rate", args=[second])
    # Closing the tab and opening the link again resumes at the first unanswered step.
    resumed = client.get(reverse("surveys:resume"))
    assert resumed["Location"] == reverse("surveys:rate", args=[second])
    page = client.get(reverse("surveys:rate", args=[first])).content.decode()
    assert 'value="3" checked' in page.replace("\n", " ").replace("  ", " ") or 'value="3"  checked' in page
    client.post(reverse("surveys:rate", args=[second]), {"rating-accessibility": "4", "rating-aesthetics": "1"})
    client.post(reverse("surveys:rank", args=["beautiful"]), {"order": "s1,s2,s3", "move": "down:s1"})
    client.post(reverse("surveys:rank", args=["beautiful"]), {"order": "s2,s1,s3", "action": "continue"})
    client.post(reverse("surveys:priorities"), {"tokens-accessibility": "6", "tokens-aesthetics": "4"})
    client.post(reverse("surveys:comment"), {"text": "More benches please"})
    assert client.get(reverse("surveys:resume"))["Location"] == reverse("surveys:review")
    client.post(reverse("surveys:finish"))
    client.post(reverse("surveys:finish"))
    assert Completion.objects.filter(participant=participant).count() == 1
    assert Rating.objects.filter(participant=participant).count() == 4
    assert participant.ranking_set.get().order == ["s2", "s1", "s3"]
    assert client.get(reverse("surveys:resume"))["Location"] == reverse("surveys:done")


def test_autosave_returns_a_partial_for_htmx_and_json_for_api_calls(client, study, invitation_token):
    participant = _start(client, invitation_token)
    url = reverse("surveys:answer")
    data = {"kind": "rating", "site": "s1", "criterion": "accessibility", "value": "2"}
    partial = client.post(url, data, headers={"HX-Request": "true"})
    assert partial.status_code == 200 and "Saved" in partial.content.decode()
    api = client.post(
        url, json.dumps({**data, "value": 4}), content_type="application/json", headers={"Accept": "application/json"}
    )
    assert api.json() == {"saved": True, "stale": False}
    assert Rating.objects.get(participant=participant).value == 4


def test_bad_input_gets_a_message_in_the_residents_language_and_changes_nothing(client, study, invitation_token):
    _start(client, invitation_token, language="fr")
    url = reverse("surveys:answer")
    response = client.post(
        url,
        {"kind": "rating", "site": "s1", "criterion": "accessibility", "value": "9"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 400
    assert "Une note doit être un nombre entier de 1 à 4." in response.content.decode()
    api = client.post(
        url,
        json.dumps({"kind": "ranking", "criterion": "beautiful", "order": ["s1"]}),
        content_type="application/json",
        headers={"Accept": "application/json"},
    )
    assert api.status_code == 400
    assert api.json()["error"]["field"] == "order"
    assert "exactement une fois" in api.json()["error"]["message"]
    tokens = client.post(reverse("surveys:priorities"), {"tokens-accessibility": "3", "tokens-aesthetics": "3"})
    assert tokens.status_code == 400 and "Répartissez exactement 10 jetons" in tokens.content.decode()
    malformed = client.post(url, "{not json", content_type="application/json")
    assert malformed.status_code == 400
    assert not Rating.objects.exists()


def test_a_closed_study_refuses_answers(client, study, invitation_token):
    _start(client, invitation_token)
    study.status = "closed"
    study.save()
    response = client.post(
        reverse("surveys:answer"), {"kind": "rating", "site": "s1", "criterion": "accessibility", "value": "2"}
    )
    assert response.status_code == 403
    assert not Rating.objects.exists()


def test_one_resident_never_sees_or_changes_another_residents_answers(client, study):
    first, second = invitations_create(study=study, count=2)
    _start(client, first.token)
    client.post(reverse("surveys:answer"), {"kind": "comment", "text": "private note of A"})
    other = client.__class__()
    other.get(f"/i/{second.token}/")
    other.post(reverse("surveys:language"), {"language": "en"})
    other.post(reverse("surveys:consent"), {"consent": "yes"})
    review = other.get(reverse("surveys:review")).content.decode()
    assert "private note of A" not in review
    other.post(reverse("surveys:answer"), {"kind": "comment", "text": "B writes"})
    assert first.invitation.participant.comment_set.get().text == "private note of A"


def test_withdrawal_deletes_answers_and_the_link_stops_working(client, study, invitation_token):
    participant = _start(client, invitation_token)
    client.post(reverse("surveys:answer"), {"kind": "rating", "site": "s1", "criterion": "accessibility", "value": "2"})
    response = client.post(reverse("surveys:withdraw"))
    assert response.status_code == 200
    assert not Participant.objects.filter(pk=participant.pk).exists()
    assert not Rating.objects.exists()
    assert client.get(f"/i/{invitation_token}/").status_code == 410


def test_the_open_wave_is_the_one_answered(client, study, invitation_token):
    Wave.objects.filter(study=study).update(status="closed")
    Wave.objects.create(study=study, name="w2", order=2, status="open")
    participant = _start(client, invitation_token)
    client.post(reverse("surveys:answer"), {"kind": "rating", "site": "s1", "criterion": "accessibility", "value": "2"})
    assert Rating.objects.get(participant=participant).wave.name == "w2"
