"""Study packages: export → import gives an equal study; bad packages are refused whole."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image as PILImage

from surveys import packages
from surveys.demo import demo_seed
from surveys.models import Criterion, Image, Rating, Study
from surveys.packages import PackageError, study_package_export, study_package_import_zip, study_to_dict
from surveys.readiness import study_readiness


def _pixels(image: Image) -> bytes:
    with image.file.open("rb") as fh, PILImage.open(fh) as picture:
        return picture.convert("RGB").tobytes()


def _comparable(study: Study) -> dict:
    document = study_to_dict(study)
    document.pop("slug")
    return document


def _zip(document: dict, files: dict[str, bytes] | None = None) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("study.json", json.dumps(document))
        for name, data in (files or {}).items():
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


def _png() -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (8, 6), (10, 120, 30)).save(out, format="PNG")
    return out.getvalue()


MINIMAL = {
    "format": "civic-study/1",
    "slug": "fleury",
    "title": {"en": "Rue Fleury", "fr": "Rue Fleury"},
    "scale": {"min": 1, "max": 3, "labels": {"en": ["Bad", "OK", "Good"], "fr": ["Mauvais", "Correct", "Bon"]}},
    "criteria": [
        {"kind": "rating", "label": {"en": "Safety at night", "fr": "Sécurité la nuit"}},
        {"kind": "ranking", "label": {"en": "Beautiful", "fr": "Belle"}},
    ],
    "waves": [{"name": "2027-spring"}],
    "groups": [{"label": {"en": "LGBTQIA2+", "fr": "LGBTQIA2+"}, "target": 8}, {"label": {"en": "Aînés 65+"}}],
    "sites": [{"name": "Rue Fleury Est", "latitude": 45.56, "longitude": -73.66, "attributes": {"trees": "many"}}],
    "images": [
        {"file": "images/rue-fleury-est.png", "alt": {"en": "A street", "fr": "Une rue"}, "site": "rue-fleury-est"},
        {"file": "images/b.png", "alt": {"en": "Another street"}},
    ],
    "ranking_sets": [{"criterion": "beautiful", "images": ["rue-fleury-est", "b"]}],
}


@pytest.mark.django_db
def test_a_package_exported_from_the_demo_reimports_to_an_equal_study(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    demo = demo_seed(invitations=1).study
    path = tmp_path / "demo.zip"
    call_command("export_study", demo.slug, "--out", str(path))

    call_command("import_study", str(path), "--slug", "demo-copy")

    copy = Study.objects.get(slug="demo-copy")
    assert copy.status == Study.Status.DRAFT
    assert _comparable(copy) == _comparable(demo)
    assert not Rating.objects.filter(participant__study=copy).exists()
    assert copy.participants.count() == 0 and copy.memberships.count() == 0
    originals = {i.code: _pixels(i) for i in Image.objects.filter(study=demo)}
    copies = {i.code: _pixels(i) for i in Image.objects.filter(study=copy)}
    assert copies == originals and len(copies) == 20
    # The demo is ready to open; its copy lacks only an open wave (imported waves are drafts).
    assert study_readiness(demo) == []
    assert [m.key for m in study_readiness(copy)] == ["open_wave"]


@pytest.mark.django_db
def test_export_is_the_same_bytes_every_time(study):
    first, second = io.BytesIO(), io.BytesIO()
    study_package_export(study=study, out=first)
    study_package_export(study=study, out=second)
    assert first.getvalue() == second.getvalue()


@pytest.mark.django_db
def test_it_imports_names_people_wrote_and_derives_codes(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    study = study_package_import_zip(_zip(MINIMAL, {"images/rue-fleury-est.png": _png(), "images/b.png": _png()}))
    assert [g.label_en for g in study.groups.all()] == ["LGBTQIA2+", "Aînés 65+"]
    assert [g.code for g in study.groups.all()] == ["lgbtqia2-plus", "aines-65-plus"]  # the one rule, surveys.naming
    assert study.groups.get(code="lgbtqia2-plus").target_count == 8
    site = study.sites.get()
    assert (site.name, site.code, site.attributes) == ("Rue Fleury Est", "rue-fleury-est", {"trees": "many"})
    assert site.images.get().alt_text_fr == "Une rue"
    ranking = Criterion.objects.get(study=study, kind="ranking")
    assert [i.image.code for i in ranking.set_items.all()] == ["rue-fleury-est", "b"]
    assert study.waves.get().name == "2027-spring"
    assert study.scale_labels_fr == ["Mauvais", "Correct", "Bon"]


@pytest.mark.django_db
def test_a_bad_package_writes_nothing_and_names_each_problem(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    bad = {
        **MINIMAL,
        "scale": {"min": 1, "max": 3, "labels": {"en": ["Bad", "Good"]}},
        "criteria": [{"kind": "vote", "label": {"en": "X"}}, {"kind": "ranking", "label": {"en": "Beautiful"}}],
        "images": [{"file": "images/missing.png", "alt": {"en": "A"}}, {"file": "images/b.png", "alt": {"en": "B"}}],
        "ranking_sets": [{"criterion": "beautiful", "images": ["nope", "b"]}],
    }
    with pytest.raises(PackageError) as caught:
        study_package_import_zip(_zip(bad, {"images/b.png": _png()}))
    text = str(caught.value)
    assert "basics: scale.labels.en: Give one label per scale point (3)" in text
    assert "criteria 1: kind: Must be “rating” or “ranking”." in text
    assert "images 1: file: The package has no file images/missing.png." in text
    assert "ranking_sets 1: images: No image has the code “nope”." in text
    assert not Study.objects.filter(slug="fleury").exists()


@pytest.mark.django_db
def test_a_file_that_is_not_an_image_is_named_and_nothing_is_written(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    with pytest.raises(PackageError) as caught:
        study_package_import_zip(
            _zip(MINIMAL, {"images/rue-fleury-est.png": _png(), "images/b.png": b"<svg onload=alert(1)>"})
        )
    assert str(caught.value).startswith("images/b.png: The file contains markup")
    assert not Study.objects.filter(slug="fleury").exists()
    assert not list((tmp_path / "media").rglob("*.png"))


@pytest.mark.django_db
def test_import_study_command_exits_non_zero_naming_the_problem(tmp_path, capsys):
    path = tmp_path / "p.zip"
    path.write_bytes(_zip({**MINIMAL, "title": {"fr": "Sans anglais"}, "images": [], "ranking_sets": []}).getvalue())
    with pytest.raises(CommandError):
        call_command("import_study", str(path))
    assert "basics: title.en: This field is required." in capsys.readouterr().err


@pytest.mark.django_db
def test_it_refuses_an_existing_slug_and_unsafe_members(study):
    with pytest.raises(PackageError, match="already exists: small"):
        study_package_import_zip(_zip({**MINIMAL, "slug": "small", "images": [], "ranking_sets": []}))
    with pytest.raises(PackageError, match="unsafe name"):
        study_package_import_zip(_zip(MINIMAL, {"images/../../etc.png": _png()}))
    with pytest.raises(PackageError, match="not a zip"):
        study_package_import_zip(io.BytesIO(b"not a zip"))


@pytest.mark.django_db
def test_the_builder_cannot_remove_a_criterion_residents_answered(study):
    participant = study.participants.create()
    Rating.objects.create(
        participant=participant,
        wave=study.waves.get(),
        site=study.sites.first(),
        criterion=study.criteria.get(name="accessibility"),
        value=2,
    )
    rows = [c for c in study_to_dict(study)["criteria"] if c["code"] != "accessibility"]
    with pytest.raises(PackageError, match="already has answers"):
        packages.study_part_save(study=study, part="criteria", data=rows)
    assert study.criteria.filter(name="accessibility").exists()


@pytest.mark.django_db
def test_an_image_may_name_its_site_as_written(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    document = json.loads(json.dumps(MINIMAL))
    document["images"][0]["site"] = "Rue Fleury Est"  # the name people wrote, not the derived code
    study = study_package_import_zip(_zip(document, {"images/rue-fleury-est.png": _png(), "images/b.png": _png()}))
    assert study.sites.get().images.get().code == "rue-fleury-est"


@pytest.mark.django_db
def test_an_image_naming_no_site_is_refused_with_the_name_given(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    document = json.loads(json.dumps(MINIMAL))
    document["images"][0]["site"] = "Rue Inconnue"
    with pytest.raises(PackageError) as caught:
        study_package_import_zip(_zip(document, {"images/rue-fleury-est.png": _png(), "images/b.png": _png()}))
    assert "images 1: site: No site has the name or code “Rue Inconnue”." in str(caught.value)
