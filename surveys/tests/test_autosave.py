"""The autosave hot path (one statement for a rating or a comment) refuses exactly what the full
path refuses, and says why in the resident's language."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from surveys import errors, selectors, services
from surveys.models import Comment, Completion, Participant, Rating, Study, Wave
from surveys.services import invitations_create

pytestmark = pytest.mark.django_db

RATING = {"kind": "rating", "site": "s1", "criterion": "accessibility", "value": "2"}


def _start(client, token, language="en") -> Participant:
    assert client.get(f"/i/{token}/").status_code == 302
    client.post(reverse("surveys:language"), {"language": language})
    client.post(reverse("surveys:consent"), {"consent": "yes"})
    return Participant.objects.get(invitation__token_hash__isnull=False, language=language)


def _json(client, data):
    return client.post(
        reverse("surveys:answer"),
        json.dumps(data),
        content_type="application/json",
        headers={"Accept": "application/json"},
    )


def _statements(client, data, **kwargs) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as captured:
        response = client.post(reverse("surveys:answer"), data, **kwargs)
    return len(captured), response


def test_a_rating_and_a_comment_autosave_in_one_statement(client, study, invitation_token):
    participant = _start(client, invitation_token)
    for data in (RATING, {"kind": "comment", "text": "More benches"}):
        n, response = _statements(client, data, headers={"HX-Request": "true"})
        assert (n, response.status_code) == (1, 200)
        assert "Saved" in response.content.decode()
    n, response = _statements(
        client,
        json.dumps({**RATING, "value": 3}),
        content_type="application/json",
        headers={"Accept": "application/json"},
    )
    assert (n, response.json()) == (1, {"saved": True, "stale": False})
    assert Rating.objects.get(participant=participant).value == 3
    assert Comment.objects.get(participant=participant).text == "More benches"


def test_the_one_statement_answers_in_the_residents_language(client, study, invitation_token):
    _start(client, invitation_token, language="fr")
    n, response = _statements(client, RATING, headers={"HX-Request": "true"})
    assert n == 1 and "Enregistré" in response.content.decode()


def test_a_participant_who_never_consented_saves_nothing(client, study, invitation_token):
    client.get(f"/i/{invitation_token}/")
    client.post(reverse("surveys:language"), {"language": "en"})
    response = _json(client, RATING)
    assert response.status_code == 403 and response.json()["error"]["field"] == "consent"
    assert not Rating.objects.exists()


def test_a_finished_wave_refuses_answers_unless_the_study_keeps_them_editable(client, study, invitation_token):
    participant = _start(client, invitation_token)
    assert _json(client, RATING).json()["saved"]
    Completion.objects.create(participant=participant, wave=Wave.objects.get(study=study))
    response = _json(client, {**RATING, "value": 4})
    assert response.status_code == 409
    assert response.json()["error"]["message"] == str(errors.ANSWERS_CLOSED)
    assert Rating.objects.get().value == 2
    Study.objects.filter(pk=study.pk).update(answers_editable_until_wave_closes=True)
    assert _json(client, {**RATING, "value": 4}).json() == {"saved": True, "stale": False}
    assert Rating.objects.get().value == 4


def test_no_open_wave_refuses_answers(client, study, invitation_token):
    _start(client, invitation_token)
    Wave.objects.filter(study=study).update(status=Wave.Status.CLOSED)
    response = _json(client, RATING)
    assert response.status_code == 403 and response.json()["error"]["message"] == str(errors.NO_OPEN_WAVE)
    assert not Rating.objects.exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({**RATING, "value": "9"}, "value"),
        ({**RATING, "value": "two"}, "value"),
        ({**RATING, "site": "nowhere"}, "site"),
        ({**RATING, "criterion": "beautiful"}, "criterion"),  # a ranking criterion, not a rating one
        ({"kind": "comment", "text": "x" * (services.COMMENT_MAX_CHARS + 1)}, "text"),
        ({**RATING, "client_seq": "soon"}, "client_seq"),
    ],
)
def test_input_the_full_path_refuses_is_refused_with_the_field_named(client, study, invitation_token, data, field):
    _start(client, invitation_token)
    response = _json(client, data)
    assert response.status_code == 400 and response.json()["error"]["field"] == field
    assert not Rating.objects.exists() and not Comment.objects.exists()


def test_a_stale_save_keeps_the_newer_answer_and_says_so(client, study, invitation_token):
    _start(client, invitation_token)
    assert _json(client, {**RATING, "value": 3, "client_seq": 2000}).json()["saved"]
    assert _json(client, {**RATING, "value": 1, "client_seq": 1000}).json() == {"saved": False, "stale": True}
    assert Rating.objects.get().value == 3


def test_a_save_refused_as_stale_is_not_placed_afresh_by_the_full_path(client, study, invitation_token, monkeypatch):
    """Two edits milliseconds apart race (the page aborts the first request, the server still runs
    it): the older one, refused in one statement, must not win by being placed later on its way
    through the full path."""
    participant = _start(client, invitation_token)
    clock = iter(range(10**15, 10**15 + 10**9, 1000))  # µs: each reading of the clock is 1 ms later.
    monkeypatch.setattr(services.time, "time_ns", lambda: next(clock) * 1000)
    # The newer edit, placed 0.5 ms after the moment the older request will be placed at.
    wave = Wave.objects.get(study=study, name="w1")
    site, criterion = study.sites.get(code="s1"), study.criteria.get(name="accessibility")
    Rating.objects.create(
        participant=participant, wave=wave, site=site, criterion=criterion, value=3, client_seq=10**15 + 500
    )
    # The older edit, sent at the moment of the edit (as the page does): refused, and says so.
    response = _json(client, {**RATING, "value": 2, "client_seq": 1, "client_now": 1})
    assert response.json() == {"saved": False, "stale": True}
    assert Rating.objects.get(participant=participant).value == 3


def test_a_withdrawn_residents_old_cookie_saves_nothing(client, study, invitation_token):
    _start(client, invitation_token)
    cookie = client.cookies["sessionid"].value
    assert client.post(reverse("surveys:withdraw")).status_code == 200
    client.cookies["sessionid"] = cookie  # a copy of the cookie kept from before the withdrawal
    response = _json(client, RATING)
    assert response.status_code == 403 and response.json()["error"]["message"] == str(errors.NOT_INVITED)
    assert not Rating.objects.exists()


def test_the_session_language_follows_a_change_made_on_another_device(client, study):
    invitation = invitations_create(study=study, count=1)[0]
    participant = _start(client, invitation.token)
    Participant.objects.filter(pk=participant.pk).update(language="fr")  # chosen on a phone
    client.get(reverse("surveys:comment"))  # this browser loads a page: now in French
    _, response = _statements(client, RATING, headers={"HX-Request": "true"})
    assert "Enregistré" in response.content.decode()


def test_the_resident_query_agrees_with_the_current_wave_rule(study):
    participant = invitations_create(study=study, count=1)[0].invitation.participant
    first = Wave.objects.get(study=study)
    tie = Wave.objects.create(study=study, name="same order", order=first.order, status=Wave.Status.OPEN)
    assert study.current_wave() == tie
    found_participant, wave = selectors.resident_get(participant_id=participant.pk)
    assert (found_participant, wave) == (participant, tie)
    assert found_participant.study == study and found_participant.study.title_fr == study.title_fr
    assert found_participant.created_at == participant.created_at
    Wave.objects.filter(study=study).update(status=Wave.Status.CLOSED)
    assert selectors.resident_get(participant_id=participant.pk) == (participant, None)
    assert selectors.resident_get(participant_id=participant.pk + 1000) is None
    assert selectors.resident_get(participant_id="not a number") is None


def test_the_resident_query_reads_timestamps_as_the_orm_does(study):
    participant = invitations_create(study=study, count=1)[0].invitation.participant
    Participant.objects.filter(pk=participant.pk).update(consented_at=timezone.now())
    found, _ = selectors.resident_get(participant_id=participant.pk)
    assert found.consented_at == Participant.objects.get(pk=participant.pk).consented_at
    assert found.study.scale_labels_en == ["Poor", "Fair", "Good", "Excellent"]
