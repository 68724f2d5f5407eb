"""The public results page: what its snapshot holds, who may publish it, what the public sees."""

from __future__ import annotations

import json
from datetime import UTC

import pytest
from django.test import Client

from exports.models import AuditLog
from results.models import ResultsPage
from results.services import (
    ACTION_PUBLISHED,
    ACTION_UNPUBLISHED,
    NOT_ANALYSED,
    STALE,
    PublishError,
    public_k,
    results_publish,
    results_snapshot_build,
    results_unpublish,
)
from results.views import ERROR_LANGUAGE
from surveys.models import Participant, Wave
from surveys.services import participant_withdraw

from .helpers import analyse, negotiate, study_answer

# The 3-member group. LGBTQIA2+ residents (10 members) are named in the package, not in the
# findings, where only 2 others would stand beside them.
HIDDEN = ("Disabled residents", "Personnes en situation de handicap")


@pytest.fixture
def answered(study):
    study_answer(study)
    analyse(study)
    negotiate(study)
    return study


def _url(study) -> str:
    return f"/studies/{study.slug}/results/"


def _planner(personas) -> Client:
    client = Client()
    client.force_login(personas["planner"])
    return client


def test_k_is_the_larger_of_the_export_k_and_the_dashboard_minimum(study):
    study.k_anonymity, study.min_group_size = 5, 3
    assert public_k(study) == 5
    study.k_anonymity, study.min_group_size = 4, 7
    assert public_k(study) == 7


def test_the_snapshot_shows_only_groups_of_at_least_k_with_at_least_k_others(answered):
    snapshot = results_snapshot_build(study=answered)
    assert snapshot["k"] == 5
    wave = snapshot["waves"][0]
    assert wave["n_participants"] == 12
    for criterion in wave["criteria"]:
        # Seniors: 6 members and 6 others. Disabled residents: 3 members. LGBTQIA2+: 10 members
        # but only 2 others, whose mean the difference would give away.
        assert [g["group"] for g in criterion["groups"]] == [{"en": "Seniors", "fr": "Personnes aînées"}]
        assert criterion["groups_withheld"] is True
    accessibility = next(c for c in wave["criteria"] if c["criterion"]["en"] == "Accessibility")
    assert accessibility["groups"][0]["mean"] == pytest.approx(1.0)
    assert accessibility["groups"][0]["divergence"] == pytest.approx(1.0 - 3.0)
    assert accessibility["mean"] == pytest.approx((6 * 1.0 + 6 * 3.0) / 12)


def test_no_small_group_appears_anywhere_in_the_snapshot(answered):
    text = json.dumps(results_snapshot_build(study=answered), ensure_ascii=False)
    # The only hidden group that may be named is none: not in findings, tables or the package.
    assert "Disabled residents" not in text
    assert "situation de handicap" not in text
    # A 3-member group's utility (2.1 and 1.9) is nowhere either.
    assert "1.9" not in text


def test_the_negotiation_names_the_package_and_only_large_stakeholder_groups(answered):
    negotiation = results_snapshot_build(study=answered)["negotiation"]
    assert negotiation["package"]["interventions"] == ["Curb ramps", "Benches every 100 m"]
    assert negotiation["best_base_design"] == {"name": "Benches", "interventions": ["Benches every 100 m"], "cost": 30}
    assert [g["group"]["en"] for g in negotiation["groups"]] == ["Seniors", "LGBTQIA2+ residents"]
    assert negotiation["groups_withheld"] is True
    # Totals and the worst-off group's figure would reveal the hidden group's utility.
    assert negotiation["metrics"] is None


def test_a_study_never_analysed_cannot_be_published(study, personas):
    with pytest.raises(PublishError) as caught:
        results_publish(study=study, user=personas["planner"])
    assert caught.value.code == NOT_ANALYSED
    response = _planner(personas).post(f"{_url(study)}publish/")
    assert response.status_code == 400
    assert "has not been analysed yet" in response.content.decode()
    assert not ResultsPage.objects.filter(study=study).exists()


def test_an_unpublished_page_is_not_found_and_a_published_one_is_public(answered, personas):
    assert Client().get(_url(answered)).status_code == 404
    results_publish(study=answered, user=personas["planner"])
    response = Client().get(_url(answered), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    text = response.content.decode()
    assert "What we heard" in text
    assert "Seniors rated Accessibility 2.0 points lower than the other residents did;" in text
    assert "Seniors rated Aesthetics about the same as the other residents did." in text
    assert "Curb ramps" in text
    for name in HIDDEN:
        assert name not in text
    results_unpublish(study=answered, user=personas["planner"])
    assert Client().get(_url(answered)).status_code == 404


def test_the_page_speaks_french_with_french_numbers(answered, personas):
    results_publish(study=answered, user=personas["planner"])
    text = Client().get(_url(answered), {"lang": "fr"}).content.decode()
    assert '<html lang="fr">' in text
    assert "Ce que nous avons entendu" in text
    assert "Personnes aînées" in text
    assert "2,0" in text
    for name in HIDDEN:
        assert name not in text


def test_an_unknown_language_is_refused_naming_the_field(answered, personas):
    results_publish(study=answered, user=personas["planner"])
    response = Client().get(_url(answered), {"lang": "de"})
    assert response.status_code == 400
    assert response.content.decode() == ERROR_LANGUAGE


def test_a_published_page_is_frozen_until_published_again(answered, personas):
    results_publish(study=answered, user=personas["planner"])
    # A name with spaces: "w2" alone turned up inside the page's random CSRF token once in a while.
    wave = Wave.objects.create(study=answered, name="Autumn wave", order=2)
    study_answer(answered, wave_name=wave.name, n_participants=14)
    analyse(answered)
    page = ResultsPage.objects.get(study=answered)
    assert [w["wave"] for w in page.snapshot["waves"]] == ["w1"]
    assert wave.name not in Client().get(_url(answered)).content.decode()
    results_publish(study=answered, user=personas["planner"])
    page.refresh_from_db()
    assert [w["wave"] for w in page.snapshot["waves"]] == ["w1", wave.name]


def test_publishing_and_unpublishing_are_in_the_audit_log(answered, personas):
    client = _planner(personas)
    assert client.post(f"{_url(answered)}publish/").status_code == 302
    assert client.post(f"{_url(answered)}publish/").status_code == 302
    assert client.post(f"{_url(answered)}unpublish/").status_code == 302
    entries = list(AuditLog.objects.filter(study=answered).order_by("id").values_list("action", "actor_name"))
    assert entries == [
        (ACTION_PUBLISHED, "planner1"),
        (ACTION_PUBLISHED, "planner1"),
        (ACTION_UNPUBLISHED, "planner1"),
    ]
    page = ResultsPage.objects.get(study=answered)
    assert page.published is False
    assert page.published_by == personas["planner"]


def test_a_researcher_cannot_publish(answered, personas):
    client = Client()
    client.force_login(personas["researcher"])
    assert client.post(f"{_url(answered)}publish/").status_code == 404
    assert not ResultsPage.objects.filter(study=answered).exists()


def test_the_thank_you_page_links_to_the_results_once_published(answered, personas, invitation_token):
    resident = Client()
    resident.get(f"/i/{invitation_token}/")
    resident.post("/survey/language/", {"language": "en"})
    resident.post("/survey/consent/", {"consent": "yes"})
    resident.post("/survey/answer/", {"kind": "rating", "site": "s1", "criterion": "accessibility", "value": "3"})
    assert resident.post("/survey/finish/").status_code in (200, 302)
    assert _url(answered) not in resident.get("/survey/done/").content.decode()
    results_publish(study=answered, user=personas["planner"])
    text = resident.get("/survey/done/").content.decode()
    assert f'href="{_url(answered)}"' in text
    assert "See what we heard" in text


def test_a_withdrawal_marks_the_published_page_stale_and_blocks_publishing_old_results(answered, personas):
    results_publish(study=answered, user=personas["planner"])
    participant_withdraw(participant=Participant.objects.filter(study=answered).first())
    page = ResultsPage.objects.get(study=answered)
    assert page.stale_since is not None
    text = _planner(personas).get(f"{_url(answered)}manage/").content.decode()
    assert "A resident withdrew after publication" in text
    # The analysis requested by the withdrawal ran in-process (eager tasks); were it still
    # waiting, the stale result could not be published.
    from analytics.models import AnalysisRun

    AnalysisRun.objects.update(stale_since=page.stale_since)
    with pytest.raises(PublishError) as caught:
        results_snapshot_build(study=answered)
    assert caught.value.code == STALE


def test_names_people_wrote_are_escaped_on_the_public_page(answered, personas):
    from surveys.models import Group

    Group.objects.filter(study=answered, code="senior").update(label_en="<script>alert('x')</script> & Aînés 65+")
    analyse(answered)
    results_publish(study=answered, user=personas["planner"])
    text = Client().get(_url(answered), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Aînés 65+" in text


def test_the_public_page_reads_the_database_once(answered, personas, django_assert_num_queries):
    results_publish(study=answered, user=personas["planner"])
    client = Client()
    with django_assert_num_queries(1):
        assert client.get(_url(answered)).status_code == 200


def test_an_owner_may_publish_too(answered, django_user_model):
    from surveys.models import StudyMembership

    owner = django_user_model.objects.create_user("owner1", password="pw-owner-1")
    StudyMembership.objects.create(study=answered, user=owner, role="owner")
    client = Client()
    client.force_login(owner)
    assert client.get(f"{_url(answered)}manage/").status_code == 200
    assert client.post(f"{_url(answered)}publish/").status_code == 302
    assert ResultsPage.objects.get(study=answered).published_by == owner


def test_a_published_page_is_the_same_for_everyone_signed_in_or_not(answered, personas):
    results_publish(study=answered, user=personas["planner"])
    for name in ("outsider", "researcher", "other_planner", "planner", "admin"):
        client = Client()
        client.force_login(personas[name])
        assert client.get(_url(answered)).status_code == 200, name
        # The staff pages stay closed to those without the role.
        expected = 200 if name in ("planner", "admin") else 404
        assert client.get(f"{_url(answered)}manage/").status_code == expected, name


def test_the_analysis_date_is_the_local_day_like_the_publication_date(answered, personas):
    from datetime import datetime

    from analytics.models import AnalysisRun

    # 02:00 UTC on 2 December is still 1 December in Montreal.
    AnalysisRun.objects.filter(study=answered).update(finished_at=datetime(2026, 12, 2, 2, 0, tzinfo=UTC))
    page = results_publish(study=answered, user=personas["planner"])
    assert page.snapshot["analysis"]["finished_at"] == "2026-12-01"
