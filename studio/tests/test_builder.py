"""The study builder end to end through the test client: a city employee builds, checks, opens
and invites; outsiders see nothing."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from studio.models import Mailing, MailRecipient
from surveys.models import Completion, Criterion, Image, Study, StudyMembership, Wave
from surveys.readiness import study_readiness


def _png(colour=(20, 120, 40)) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (12, 8), colour).save(out, format="PNG")
    return out.getvalue()


def _formset(prefix: str, rows: list[dict]) -> dict:
    data = {f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": "0"}
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"{prefix}-{i}-{key}"] = value
    return data


@pytest.fixture
def employee(db):
    return get_user_model().objects.create_user("employee", password="pw", is_staff=True)


def _build(client, settings, tmp_path) -> Study:
    settings.MEDIA_ROOT = tmp_path / "media"
    r = client.post("/staff/studies/new/", {"title_en": "Rue Fleury", "title_fr": "Rue Fleury", "slug": ""})
    assert r.status_code == 302 and r["Location"] == "/staff/studies/rue-fleury/basics/"
    study = Study.objects.get(slug="rue-fleury")
    r = client.post(
        "/staff/studies/rue-fleury/basics/",
        {
            "title_en": "Rue Fleury",
            "title_fr": "Rue Fleury",
            "description_en": "Tell us how this street feels.",
            "description_fr": "Dites-nous comment vous vivez cette rue.",
            "scale_min": "1",
            "scale_max": "3",
            "labels_en": "Bad\nOK\nGood",
            "labels_fr": "Mauvais\nCorrect\nBon",
            "priority_tokens": "10",
            "min_group_size": "5",
            "min_tested_group_size": "3",
            "k_anonymity": "5",
            "next": "1",
        },
    )
    assert r.status_code == 302 and r["Location"].endswith("/criteria/")
    r = client.post(
        "/staff/studies/rue-fleury/criteria/",
        _formset(
            "criteria",
            [
                {"label_en": "Safety at night", "label_fr": "Sécurité la nuit", "kind": "rating"},
                {"label_en": "Accessibility", "label_fr": "Accessibilité", "kind": "rating"},
                {"label_en": "Beautiful", "label_fr": "Belle", "kind": "ranking"},
            ],
        ),
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    client.post("/staff/studies/rue-fleury/waves/", _formset("waves", [{"name": "spring"}, {"name": "fall"}]))
    client.post(
        "/staff/studies/rue-fleury/groups/",
        _formset(
            "groups",
            [
                {"label_en": "Aînés 65+", "label_fr": "Aînés 65+", "target": "10"},
                {"label_en": "LGBTQIA2+", "label_fr": "LGBTQIA2+", "target": ""},
            ],
        ),
    )
    client.post(
        "/staff/studies/rue-fleury/sites/",
        _formset(
            "sites",
            [
                {"name": "Rue Fleury Est", "latitude": "45,56", "longitude": "-73.66", "attributes": "trees: many"},
                {"name": "Boulevard Saint-Laurent"},
            ],
        ),
    )
    files = [
        SimpleUploadedFile("Rue Fleury Est.png", _png(), content_type="image/png"),
        SimpleUploadedFile("boulevard-saint-laurent.png", _png((200, 10, 10)), content_type="image/png"),
    ]
    r = client.post("/staff/studies/rue-fleury/images/", {"form": "upload", "files": files})
    assert r.status_code == 302
    images = list(Image.objects.filter(study=study).order_by("code"))
    assert [i.site.name for i in images] == ["Boulevard Saint-Laurent", "Rue Fleury Est"]
    rows = [
        {"code": i.code, "alt_en": f"Photo of {i.site.name}", "alt_fr": f"Photo de {i.site.name}", "site": i.site.code}
        for i in images
    ]
    data = _formset("images", rows) | {"form": "describe", "images-INITIAL_FORMS": str(len(rows))}
    assert client.post("/staff/studies/rue-fleury/images/", data).status_code == 302
    r = client.post("/staff/studies/rue-fleury/ranking/", {"set-0": [i.code for i in images]})
    assert r.status_code == 302
    study.refresh_from_db()
    return study


@pytest.mark.django_db
def test_an_employee_builds_checks_opens_and_invites(
    client, employee, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.ALLOWED_HOSTS = ["testserver", "civic.example.org"]
    client.force_login(employee)
    study = _build(client, settings, tmp_path)
    site = study.sites.get(name="Rue Fleury Est")
    assert (site.latitude, site.attributes) == (45.56, {"trees": "many"})
    assert study.scale_labels_fr == ["Mauvais", "Correct", "Bon"]
    assert [g.label_en for g in study.groups.all()] == ["Aînés 65+", "LGBTQIA2+"]

    page = client.get("/staff/studies/rue-fleury/").content.decode()
    assert "No wave is open" in page
    r = client.post("/staff/studies/rue-fleury/status/", {"action": "open"})
    study.refresh_from_db()
    assert study.status == Study.Status.DRAFT
    spring = study.waves.get(name="spring")
    client.post(f"/staff/studies/rue-fleury/waves/{spring.pk}/status/", {"action": "open"})
    assert study_readiness(study) == []
    client.post("/staff/studies/rue-fleury/status/", {"action": "open"})
    study.refresh_from_db()
    assert study.status == Study.Status.OPEN

    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            "/staff/studies/rue-fleury/invitations/send/",
            {"addresses": "a@example.org\nb@example.org, a@example.org\nc@example.org"},
            HTTP_HOST="civic.example.org",
        )
    assert r.status_code == 302
    mailing = Mailing.objects.get()
    assert (mailing.status, mailing.sent, mailing.total) == ("done", 3, 3)
    assert len(mail.outbox) == 3
    link = re.search(r"http://civic\.example\.org/i/[\w-]+/", mail.outbox[0].body).group(0)
    assert "Rue Fleury" in mail.outbox[0].subject
    assert client.get(link.replace("http://civic.example.org", "")).status_code == 302

    # One resident finishes; the reminder goes to the two others, then the addresses are erased.
    finished = MailRecipient.objects.get(address="a@example.org").invitation.participant
    Completion.objects.create(participant=finished, wave=spring)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(f"/staff/studies/rue-fleury/invitations/{mailing.pk}/", {"action": "remind"})
    assert r.status_code == 302
    assert sorted(m.to[0] for m in mail.outbox) == ["b@example.org", "c@example.org"]
    assert not MailRecipient.objects.exclude(address="").exists()
    client.post(f"/staff/studies/rue-fleury/invitations/{mailing.pk}/", {"action": "remind"})
    assert Mailing.objects.count() == 2


@pytest.mark.django_db
def test_errors_name_the_field_and_nothing_is_saved(client, employee, settings, tmp_path):
    client.force_login(employee)
    _build(client, settings, tmp_path)
    r = client.post(
        "/staff/studies/rue-fleury/criteria/",
        _formset("criteria", [{"label_en": "Same", "kind": "rating"}, {"label_en": "Same", "kind": "rating"}]),
    )
    assert r.status_code == 400
    assert "“Same” appears twice." in r.content.decode()
    assert Criterion.objects.filter(study__slug="rue-fleury").count() == 3
    r = client.post(
        "/staff/studies/rue-fleury/images/",
        {"form": "upload", "files": [SimpleUploadedFile("x.png", b"<svg/>", content_type="image/png")]},
    )
    assert r.status_code == 400 and "x.png: The file contains markup" in r.content.decode()


@pytest.mark.django_db
def test_only_admins_and_owners_reach_the_builder(client, study, personas):
    owner = get_user_model().objects.create_user("owner1", password="pw")
    StudyMembership.objects.create(study=study, user=owner, role="owner")
    for name in ("planner", "researcher", "other_planner", "outsider"):
        client.force_login(personas[name])
        assert client.get("/staff/studies/small/").status_code == 404
        assert client.get("/staff/studies/new/").status_code == 404
    client.force_login(owner)
    assert client.get("/staff/studies/small/").status_code == 200
    assert client.get("/staff/studies/new/").status_code == 200
    client.logout()
    assert client.get("/staff/studies/small/").status_code == 302


@pytest.mark.django_db
def test_closing_a_wave_offers_analyse_now(client, study, personas):
    client.force_login(personas["admin"])
    wave = study.waves.get()
    r = client.post(f"/staff/studies/small/waves/{wave.pk}/status/", {"action": "close"})
    assert r["Location"].endswith("#analyse")
    assert Wave.objects.get(pk=wave.pk).status == "closed"
    r = client.post("/staff/studies/small/analyse/")
    assert r["Location"] == "/studies/small/analytics/"
    from analytics.models import AnalysisRun

    assert AnalysisRun.objects.filter(study=study).exists()


@pytest.mark.django_db
def test_the_poster_holds_a_qr_code_of_the_open_link(client, study, personas, settings):
    settings.SITE_URL = "https://civic.montreal.example"
    client.force_login(personas["admin"])
    page = client.get("/staff/studies/small/poster/").content.decode()
    assert "https://civic.montreal.example/s/small/" in page
    assert "<svg" in page


@pytest.mark.django_db
def test_the_builder_exports_a_package_that_imports_again(client, study, personas, tmp_path):
    client.force_login(personas["admin"])
    r = client.get("/staff/studies/small/package.zip")
    assert r["Content-Type"] == "application/zip"
    upload = SimpleUploadedFile("small.zip", r.content, content_type="application/zip")
    r = client.post("/staff/studies/import/", {"package": upload, "slug": "small-copy"})
    assert r.status_code == 302
    copy = Study.objects.get(slug="small-copy")
    assert copy.memberships.get().role == "owner"
    assert copy.images.count() == 3


@pytest.mark.django_db
def test_a_batch_the_broker_never_got_is_sent_by_the_sweep(study):
    from datetime import timedelta

    from django.utils import timezone

    from studio import services
    from studio.tasks import mailing_sweep_task

    # Without on_commit callbacks running, the batch stays pending, as when Redis was down.
    mailing = services.mailing_request(
        study=study, addresses=["r@example.org"], base_url="https://c.example", user=None
    )
    assert Mailing.objects.get(pk=mailing.pk).status == "pending" and not mail.outbox
    Mailing.objects.filter(pk=mailing.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    assert mailing_sweep_task() == 1
    assert Mailing.objects.get(pk=mailing.pk).status == "done"
    assert mail.outbox[0].to == ["r@example.org"] and "https://c.example/i/" in mail.outbox[0].body


def test_addresses_are_checked_line_by_line():
    from studio.services import StudioError, addresses_parse

    assert addresses_parse("a@x.org; b@x.org\nA@x.org") == ["a@x.org", "b@x.org"]
    with pytest.raises(StudioError, match="Line 2: “not-an-address” is not an e-mail address."):
        addresses_parse("a@x.org\nnot-an-address")
