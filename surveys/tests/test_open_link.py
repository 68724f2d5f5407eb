from __future__ import annotations

import pytest
from django.urls import reverse

from surveys.models import Invitation, Participant

pytestmark = pytest.mark.django_db


@pytest.fixture
def open_study(study):
    study.open_signup = True
    study.save()
    return study


def test_an_open_link_gives_a_personal_link_that_starts_and_resumes_the_survey(client, open_study):
    assert client.get(reverse("surveys:join", args=[open_study.slug])).status_code == 200
    page = client.post(reverse("surveys:join", args=[open_study.slug]))
    assert page.status_code == 200
    path = page.context["path"]
    assert path.startswith("/i/") and path in page.content.decode()
    assert Participant.objects.filter(study=open_study).count() == 1
    # The personal link works from any device, like an invitation; its token is stored hashed only.
    other_device = client.__class__()
    assert other_device.get(path)["Location"] == reverse("surveys:resume")
    token = path.strip("/").split("/")[1]
    assert not Invitation.objects.filter(token_hash=token).exists()


def test_a_study_without_open_sign_up_refuses_the_link(client, study):
    assert client.get(reverse("surveys:join", args=[study.slug])).status_code == 404
    assert client.post(reverse("surveys:join", args=[study.slug])).status_code == 404
    assert not Participant.objects.exists()


def test_a_closed_study_refuses_new_participants(client, open_study):
    open_study.status = "closed"
    open_study.save()
    assert client.post(reverse("surveys:join", args=[open_study.slug])).status_code == 403
    assert not Participant.objects.exists()


def test_joins_are_capped_per_address_without_blocking_others(client, open_study, settings):
    limit = settings.THROTTLES["join"][0]
    url = reverse("surveys:join", args=[open_study.slug])
    statuses = [client.post(url, REMOTE_ADDR="203.0.113.20").status_code for _ in range(limit + 3)]
    assert statuses[:limit] == [200] * limit and set(statuses[limit:]) == {429}
    assert client.post(url, REMOTE_ADDR="198.51.100.20").status_code == 200
    assert Participant.objects.count() == limit + 1
