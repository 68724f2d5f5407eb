"""Consensus ratings are entered beside their street in the admin, checked like any rating; a
street image's file leaves storage with its row."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from surveys.models import ConsensusRating, Criterion, Site

pytestmark = pytest.mark.django_db


def test_a_consensus_rating_must_be_a_rating_of_the_sites_study_on_its_scale(study):
    site = Site.objects.filter(study=study).first()
    rating = Criterion.objects.get(study=study, name="accessibility")
    ranking = Criterion.objects.get(study=study, kind="ranking")
    ConsensusRating(site=site, criterion=rating, value=study.scale_max).full_clean()
    with pytest.raises(ValidationError) as off_scale:
        ConsensusRating(site=site, criterion=rating, value=study.scale_max + 1).full_clean()
    assert "value" in off_scale.value.message_dict
    with pytest.raises(ValidationError) as not_a_rating:
        ConsensusRating(site=site, criterion=ranking, value=study.scale_min).full_clean()
    assert "criterion" in not_a_rating.value.message_dict


def test_the_site_page_offers_only_its_studys_rating_criteria(client, personas, study):
    site = Site.objects.filter(study=study).first()
    client.force_login(personas["admin"])
    html = client.get(reverse("admin:surveys_site_change", args=[site.pk])).content.decode()
    assert "consensus_ratings-TOTAL_FORMS" in html
    options = html.split('name="consensus_ratings-__prefix__-criterion"')[1].split("</select>")[0]
    assert "Accessibility" in options or "accessibility" in options
    assert "beautiful" not in options.lower()


def test_an_images_file_leaves_storage_with_it_once_the_delete_commits(study, django_capture_on_commit_callbacks):
    from django.core.files.base import ContentFile

    from surveys.models import Image

    image = Image.objects.filter(study=study).exclude(file="").first()
    storage, first = image.file.storage, image.file.name
    assert storage.exists(first)
    # Replacing the file removes the old one.
    with django_capture_on_commit_callbacks(execute=True):
        image.file.save("replacement.png", ContentFile(storage.open(first).read()), save=True)
    second = image.file.name
    assert second != first and storage.exists(second) and not storage.exists(first)
    # Deleting the row (here through the study, as a cascade) removes its file.
    with django_capture_on_commit_callbacks(execute=True):
        study.delete()
    assert not storage.exists(second)


def test_a_rolled_back_delete_keeps_the_file(study, django_capture_on_commit_callbacks):
    from django.db import transaction

    from surveys.models import Image

    image = Image.objects.filter(study=study).exclude(file="").first()
    name = image.file.name
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                image.delete()
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
    assert callbacks == [] and image.file.storage.exists(name)
