"""The "ready to open" checklist names what is missing, and an unready study does not open."""

from __future__ import annotations

import pytest

from surveys.models import Image, RankingSetItem, Study, Wave
from surveys.readiness import StudyNotReady, image_has_file, study_open, study_readiness


def _keys(study) -> set[str]:
    return {m.key.split(":")[0] for m in study_readiness(study)}


@pytest.mark.django_db
def test_the_fixture_study_is_ready(study):
    assert study_readiness(study) == []


@pytest.mark.django_db
def test_an_empty_draft_lists_everything_missing(db):
    study = Study.objects.create(slug="empty", title_en="Empty", scale_min=1, scale_max=4)
    assert _keys(study) == {"title_fr", "purpose_en", "purpose_fr", "criteria", "waves", "groups", "images"}
    with pytest.raises(StudyNotReady) as caught:
        study_open(study=study)
    assert "The study has no French title." in str(caught.value)
    study.refresh_from_db()
    assert study.status == Study.Status.DRAFT


@pytest.mark.django_db
def test_a_ranking_set_image_without_a_file_is_named(study):
    image = Image.objects.get(study=study, code="s3")
    image.file.storage.delete(image.file.name)
    assert not image_has_file(image)
    messages = [m.message for m in study_readiness(study)]
    assert "The image “s3” has no file." in messages
    assert "The ranking set of “Beautiful” holds the image “s3”, which has no file." in messages


@pytest.mark.django_db
def test_no_open_wave_no_french_alt_text_and_a_small_set_are_named(study):
    Wave.objects.filter(study=study).update(status=Wave.Status.CLOSED)
    Image.objects.filter(study=study, code="s1").update(alt_text_fr="")
    RankingSetItem.objects.filter(criterion__study=study).exclude(image__code="s1").delete()
    messages = [m.message for m in study_readiness(study)]
    assert "No wave is open: open the wave residents should answer." in messages
    assert "The image “Site 1” has no French alt text." in messages
    assert "The ranking criterion “Beautiful” needs at least 2 images in its set." in messages


@pytest.mark.django_db
def test_a_ready_study_opens(study):
    Study.objects.filter(pk=study.pk).update(status=Study.Status.DRAFT)
    assert study_open(study=study).status == Study.Status.OPEN
