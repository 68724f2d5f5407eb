from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from surveys import errors, services
from surveys.errors import SurveyError
from surveys.models import Comment, Completion, Invitation, Participant, Priority, Ranking, Rating, Wave

pytestmark = pytest.mark.django_db


@pytest.fixture
def resident(study):
    issued = services.invitations_create(study=study, count=1)[0]
    participant = issued.invitation.participant
    services.participant_consent(participant=participant)
    return participant


@pytest.fixture
def wave(study):
    return Wave.objects.get(study=study, name="w1")


def test_invitation_tokens_are_long_random_and_stored_hashed(study):
    issued = services.invitations_create(study=study, count=5)
    tokens = {item.token for item in issued}
    assert len(tokens) == 5
    for item in issued:
        assert len(item.token) >= 43  # 32 random bytes, URL-safe base64
        stored = Invitation.objects.get(pk=item.invitation.pk)
        assert item.token not in stored.token_hash
        assert len(stored.token_hash) == 64
    assert not Invitation.objects.filter(token_hash__in=tokens).exists()


def test_it_resolves_a_valid_invitation_and_rejects_unknown_expired_and_used_ones(study):
    item = services.invitations_create(study=study, count=1)[0]
    assert services.invitation_resolve(token=item.token).pk == item.invitation.pk
    with pytest.raises(SurveyError) as unknown:
        services.invitation_resolve(token="not-a-token")
    assert unknown.value.message == errors.INVITATION_UNKNOWN and unknown.value.status == 404
    Invitation.objects.filter(pk=item.invitation.pk).update(expires_at=timezone.now() - timedelta(days=1))
    with pytest.raises(SurveyError) as expired:
        services.invitation_resolve(token=item.token)
    assert expired.value.message == errors.INVITATION_EXPIRED
    # A link that finished the survey still opens it (to see it was sent, or to withdraw) ...
    Invitation.objects.filter(pk=item.invitation.pk).update(
        expires_at=timezone.now() + timedelta(days=1), used_at=timezone.now()
    )
    assert services.invitation_resolve(token=item.token).participant_id == item.invitation.participant_id
    # ... and after a withdrawal it says the answers were deleted.
    services.participant_withdraw(participant=item.invitation.participant)
    with pytest.raises(SurveyError) as withdrawn:
        services.invitation_resolve(token=item.token)
    assert withdrawn.value.message == errors.INVITATION_WITHDRAWN and withdrawn.value.status == 410


def test_it_rejects_an_invitation_to_a_closed_study(study):
    item = services.invitations_create(study=study, count=1)[0]
    study.status = "closed"
    study.save()
    with pytest.raises(SurveyError) as closed:
        services.invitation_resolve(token=item.token)
    assert closed.value.message == errors.STUDY_CLOSED


def test_repeated_rating_saves_leave_one_row_with_the_latest_value(resident, wave):
    for value in (1, 4, 2, 3):
        services.rating_save(
            participant=resident, wave=wave, site_code="s1", criterion_name="accessibility", value=value
        )
    rows = Rating.objects.filter(participant=resident, wave=wave)
    assert rows.count() == 1
    assert rows.get().value == 3


def test_a_stale_client_seq_does_not_overwrite_a_newer_answer(resident, wave):
    result = services.rating_save(
        participant=resident, wave=wave, site_code="s1", criterion_name="accessibility", value=4, client_seq=200
    )
    assert result.saved
    stale = services.rating_save(
        participant=resident, wave=wave, site_code="s1", criterion_name="accessibility", value=1, client_seq=100
    )
    assert stale.stale
    assert Rating.objects.get(participant=resident).value == 4


@pytest.mark.parametrize("value", [0, 5, -1, "abc", "", None, "2.5"])
def test_it_rejects_a_rating_outside_the_scale_and_saves_nothing(resident, wave, value):
    with pytest.raises(SurveyError) as bad:
        services.rating_save(
            participant=resident, wave=wave, site_code="s1", criterion_name="accessibility", value=value
        )
    assert str(bad.value) == "A rating must be a whole number from 1 to 4."
    assert not Rating.objects.exists()


def test_it_rejects_unknown_sites_and_criteria(resident, wave):
    with pytest.raises(SurveyError, match="Unknown street: nowhere"):
        services.rating_save(
            participant=resident, wave=wave, site_code="nowhere", criterion_name="accessibility", value=2
        )
    with pytest.raises(SurveyError, match="Unknown question: beauty"):
        services.rating_save(participant=resident, wave=wave, site_code="s1", criterion_name="beauty", value=2)
    # A ranking criterion is not a rating criterion.
    with pytest.raises(SurveyError, match="Unknown question: beautiful"):
        services.rating_save(participant=resident, wave=wave, site_code="s1", criterion_name="beautiful", value=2)
    assert not Rating.objects.exists()


def test_it_refuses_answers_before_consent(study, wave):
    participant = services.invitations_create(study=study, count=1)[0].invitation.participant
    with pytest.raises(SurveyError) as refused:
        services.rating_save(
            participant=participant, wave=wave, site_code="s1", criterion_name="accessibility", value=2
        )
    assert refused.value.message == errors.CONSENT_REQUIRED


def test_it_saves_a_ranking_that_is_a_permutation(resident, wave):
    services.ranking_save(participant=resident, wave=wave, criterion_name="beautiful", order=["s3", "s1", "s2"])
    assert Ranking.objects.get(participant=resident).order == ["s3", "s1", "s2"]


@pytest.mark.parametrize("order", [["s1", "s2"], ["s1", "s1", "s2"], ["s1", "s2", "s3", "s4"], ["s1", "s2", "x"], []])
def test_it_rejects_a_ranking_that_is_not_a_permutation_of_its_images(resident, wave, order):
    with pytest.raises(SurveyError) as bad:
        services.ranking_save(participant=resident, wave=wave, criterion_name="beautiful", order=order)
    assert str(bad.value) == "A ranking must list each of the 3 images exactly once, from best to worst."
    assert not Ranking.objects.exists()


def test_it_saves_tokens_summing_to_ten_and_rejects_any_other_sum(resident, wave):
    with pytest.raises(SurveyError, match="Spread exactly 10 tokens: you have placed 9."):
        services.priorities_save(participant=resident, wave=wave, tokens={"accessibility": 4, "aesthetics": 5})
    with pytest.raises(SurveyError, match="whole numbers"):
        services.priorities_save(participant=resident, wave=wave, tokens={"accessibility": -1, "aesthetics": 11})
    with pytest.raises(SurveyError, match="Unknown question: nope"):
        services.priorities_save(participant=resident, wave=wave, tokens={"nope": 10})
    assert not Priority.objects.exists()
    services.priorities_save(participant=resident, wave=wave, tokens={"accessibility": 7, "aesthetics": 3})
    assert dict(Priority.objects.values_list("criterion__name", "tokens")) == {"accessibility": 7, "aesthetics": 3}


def test_finishing_twice_records_one_completion_and_uses_the_invitation(resident, wave):
    services.comment_save(participant=resident, wave=wave, text="Benches")
    services.wave_finish(participant=resident, wave=wave)
    services.wave_finish(participant=resident, wave=wave)
    assert Completion.objects.filter(participant=resident).count() == 1
    assert Invitation.objects.get(participant=resident).used_at is not None


def test_withdrawing_deletes_every_answer_and_kills_the_link(resident, wave):
    services.rating_save(participant=resident, wave=wave, site_code="s1", criterion_name="accessibility", value=2)
    services.comment_save(participant=resident, wave=wave, text="hello")
    invitation = Invitation.objects.get(participant=resident)
    services.participant_withdraw(participant=resident)
    assert not Participant.objects.filter(pk=resident.pk).exists()
    assert not Rating.objects.exists() and not Comment.objects.exists()
    invitation.refresh_from_db()
    assert invitation.used_at is not None and invitation.participant is None
    assert invitation.withdrawn_at is not None


def test_a_comment_longer_than_the_limit_is_rejected(resident, wave):
    with pytest.raises(SurveyError, match="too long"):
        services.comment_save(participant=resident, wave=wave, text="x" * (services.COMMENT_MAX_CHARS + 1))
    assert not Comment.objects.exists()


def test_withdrawing_marks_analysis_results_that_used_the_answers_stale_and_requests_fresh_ones(
    resident, wave, monkeypatch
):
    from analytics.models import AnalysisRun

    monkeypatch.setattr("core.jobs.JobKind.publish", lambda *a, **k: True)
    services.rating_save(participant=resident, wave=wave, site_code="s1", criterion_name="accessibility", value=2)
    old = AnalysisRun.objects.create(study=resident.study, status="done", result={"waves": []})
    services.participant_withdraw(participant=resident)
    old.refresh_from_db()
    assert old.stale_since is not None and old.result == {"waves": []}
    fresh = AnalysisRun.objects.exclude(pk=old.pk).get(study=resident.study)
    assert fresh.status in ("pending", "queued") and fresh.reason == "a participant withdrew"


@pytest.mark.parametrize(
    ("move", "expected"),
    [
        ("up:b", ["b", "a", "c"]),
        ("down:b", ["a", "c", "b"]),
        ("up:a", ["a", "b", "c"]),
        ("down:c", ["a", "b", "c"]),
        ("up:zz", ["a", "b", "c"]),
        ("sideways:b", ["a", "b", "c"]),
        ("", ["a", "b", "c"]),
    ],
)
def test_a_move_button_swaps_an_image_with_its_neighbour_and_nothing_else(move, expected):
    assert services.ranking_move(order=["a", "b", "c"], move=move) == expected
