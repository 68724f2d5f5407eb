"""Hardening: deployment checks, CSP, throttling, redirects, uploads, escaping."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image as PILImage

from surveys import images
from surveys.models import Criterion, Group, Image, Site
from surveys.services import invitations_create

ROOT = Path(__file__).resolve().parent.parent
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_check_deploy_passes_on_production_settings():
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "k" * 60 + "-production-like-secret",
        "ALLOWED_HOSTS": "civic.example.org",
    }
    for name in ("DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "SECURE_SSL_REDIRECT", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_pages_carry_a_content_security_policy(client, study):
    for url in ("/", reverse("login"), "/i/nothing/"):
        csp = client.get(url).headers.get("Content-Security-Policy", "")
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "object-src 'none'" in csp


@pytest.mark.django_db
def test_guessed_invitation_tokens_are_rejected_and_the_guesser_is_throttled(
    client, study, settings, django_user_model
):
    limit = settings.THROTTLES["invitation"][0]
    statuses = [client.get(f"/i/guess-{i:04d}-{'x' * 30}/", REMOTE_ADDR="203.0.113.9").status_code for i in range(1000)]
    assert statuses[:limit] == [404] * limit
    assert set(statuses[limit:]) == {429}
    # Only the guessing address is slowed: a resident elsewhere with a real link gets in ...
    token = invitations_create(study=study, count=1)[0].token
    assert client.get(f"/i/{token}/", REMOTE_ADDR="198.51.100.7").status_code == 302
    # ... and staff sign-in from the guessing address is unaffected.
    django_user_model.objects.create_user("staffer", password="a-long-password-1", is_staff=True)
    response = client.post(
        reverse("admin:login"), {"username": "staffer", "password": "a-long-password-1"}, REMOTE_ADDR="203.0.113.9"
    )
    assert response.status_code == 302


@pytest.mark.django_db
def test_failed_logins_throttle_only_the_failing_address(client, django_user_model, settings):
    django_user_model.objects.create_user("planner", password="right-password-123")
    limit = settings.THROTTLES["login"][0]
    for _ in range(limit):
        assert (
            client.post(
                reverse("login"), {"username": "planner", "password": "wrong"}, REMOTE_ADDR="203.0.113.5"
            ).status_code
            == 200
        )
    blocked = client.post(
        reverse("login"), {"username": "planner", "password": "right-password-123"}, REMOTE_ADDR="203.0.113.5"
    )
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers
    elsewhere = client.post(
        reverse("login"), {"username": "planner", "password": "right-password-123"}, REMOTE_ADDR="198.51.100.1"
    )
    assert elsewhere.status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "http://testserver.evil.example/",
    ],
)
def test_next_redirects_stay_on_our_host(client, django_user_model, target):
    django_user_model.objects.create_user("planner", password="right-password-123")
    response = client.post(
        f"{reverse('login')}?next={target}", {"username": "planner", "password": "right-password-123", "next": target}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("staff-home")


def _png(width=8, height=8) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def _with_declared_size(png: bytes, width: int, height: int) -> bytes:
    """A PNG whose header claims a huge size: what a decompression bomb looks like to a parser."""
    ihdr = png[12:29]
    body = ihdr[4:]
    body = struct.pack(">II", width, height) + body[8:]
    chunk = b"IHDR" + body
    return png[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk) & 0xFFFFFFFF) + png[33:]


def _jpeg_with_exif() -> bytes:
    out = io.BytesIO()
    exif = PILImage.Exif()
    exif[0x010F] = "SecretCameraMaker"
    PILImage.new("RGB", (20, 10), (10, 120, 30)).save(out, format="JPEG", exif=exif)
    return out.getvalue()


def _zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\0" * 20_000_000)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("huge.png", _with_declared_size(_png(), 30000, 30000), images.TOO_MANY_PIXELS),
        ("bomb.png", _zip_bomb(), images.NOT_AN_IMAGE),
        ("polyglot.jpg", _jpeg_with_exif() + b"<html><script>alert(1)</script></html>", images.MARKUP_FOUND),
        ("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', images.MARKUP_FOUND),
        ("shell.png", b"<?php system($_GET['c']); ?>", images.MARKUP_FOUND),
        ("big.png", b"\x89PNG" + b"0" * (images.MAX_BYTES + 10), images.TOO_LARGE),
        ("notes.png", b"just some text", images.NOT_AN_IMAGE),
    ],
)
def test_dangerous_uploads_are_refused(name, content, message):
    with pytest.raises(ValidationError) as refused:
        images.image_sanitize(SimpleUploadedFile(name, content))
    assert refused.value.messages == [message]


def test_accepted_images_are_re_encoded_without_exif_under_a_server_name():
    clean = images.image_sanitize(SimpleUploadedFile("../../etc/my holiday.jpg", _jpeg_with_exif()))
    assert clean.name.endswith(".jpg") and len(clean.name) == 36 and "/" not in clean.name
    with PILImage.open(io.BytesIO(clean.read())) as img:
        assert img.format == "JPEG" and not img.getexif()
    assert b"SecretCameraMaker" not in clean.open().read()


@pytest.mark.django_db
def test_admin_upload_goes_through_validation(client, study, django_user_model, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    django_user_model.objects.create_user("root", password="pw-root-123456", is_staff=True, is_superuser=True)
    client.login(username="root", password="pw-root-123456")
    svg = SimpleUploadedFile("x.png", b"<svg onload=alert(1)></svg>", content_type="image/png")
    response = client.post(
        reverse("admin:surveys_image_add"), {"study": study.pk, "name": "up 1", "file": svg, "alt_text_en": "An upload"}
    )
    assert response.status_code == 200 and not Image.objects.filter(name="up 1").exists()
    good = SimpleUploadedFile("holiday.jpg", _jpeg_with_exif(), content_type="image/jpeg")
    response = client.post(
        reverse("admin:surveys_image_add"),
        {"study": study.pk, "name": "up 2", "file": good, "alt_text_en": "An upload"},
    )
    assert response.status_code == 302
    stored = Image.objects.get(name="up 2")
    assert "holiday" not in stored.file.name and stored.file.name.endswith(".jpg")


@pytest.mark.django_db
def test_xss_payloads_in_every_text_field_render_escaped(client, study):
    study.title_en = study.description_en = XSS
    study.scale_labels_en = [XSS] * 4
    study.save()
    # Names are unique within a study, so each carries the payload plus its own number.
    for i, group in enumerate(Group.objects.filter(study=study)):
        Group.objects.filter(pk=group.pk).update(label_en=f"{XSS}{i}", description_en=XSS)
    Criterion.objects.filter(study=study).update(label_en=XSS, description_en=XSS)
    for i, site in enumerate(Site.objects.filter(study=study)):
        Site.objects.filter(pk=site.pk).update(name=f"{XSS}{i}")
    Image.objects.filter(study=study).update(alt_text_en=XSS)
    token = invitations_create(study=study, count=1)[0].token
    client.get(f"/i/{token}/")
    client.post(reverse("surveys:language"), {"language": "en"})
    client.post(reverse("surveys:consent"), {"consent": "yes"})
    client.post(reverse("surveys:answer"), {"kind": "comment", "text": XSS})
    pages = ["surveys:consent", "surveys:groups", "surveys:priorities", "surveys:comment", "surveys:review"]
    bodies = [client.get(reverse(name)).content.decode() for name in pages]
    bodies.append(client.get(reverse("surveys:rate", args=["s1"])).content.decode())
    bodies.append(client.get(reverse("surveys:rank", args=["beautiful"])).content.decode())
    for body in bodies:
        for raw in ("<script>alert", "<img src=x onerror"):
            assert raw not in body, body[max(0, body.find(raw) - 300) : body.find(raw) + 100]
        assert "&lt;script&gt;" in body


@pytest.mark.django_db
def test_role_changes_and_withdrawals_are_audited(client, study, personas):
    from exports.models import AuditLog
    from surveys.services import participant_withdraw

    client.force_login(personas["admin"])
    url = reverse("admin:surveys_study_change", args=[study.pk])
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {k: ("" if v is None else v) for k, v in form.initial.items() if not isinstance(v, list | dict)}
    data.update({"scale_labels_en": "[]", "scale_labels_fr": "[]"})
    for formset in page.context["inline_admin_formsets"]:
        fs = formset.formset
        data.update(
            {
                f"{fs.prefix}-TOTAL_FORMS": str(fs.total_form_count()),
                f"{fs.prefix}-INITIAL_FORMS": str(fs.initial_form_count()),
                f"{fs.prefix}-MIN_NUM_FORMS": "0",
                f"{fs.prefix}-MAX_NUM_FORMS": "1000",
            }
        )
        for i, f in enumerate(fs.initial_forms):
            for name, field in f.fields.items():
                value = f.initial.get(name, field.initial)
                data[f"{fs.prefix}-{i}-{name}"] = "" if value is None else getattr(value, "pk", value)
        if fs.model.__name__ == "StudyMembership":
            n = fs.initial_form_count()
            data[f"{fs.prefix}-TOTAL_FORMS"] = str(n + 1)
            data.update(
                {
                    f"{fs.prefix}-{n}-user": personas["outsider"].pk,
                    f"{fs.prefix}-{n}-role": "planner",
                    f"{fs.prefix}-{n}-study": study.pk,
                }
            )
    response = client.post(url, data)
    assert response.status_code == 302, response.context and response.context.get("errors")
    entry = AuditLog.objects.get(action="role.changed")
    assert entry.details == {"granted": "planner"} and entry.actor == personas["admin"]
    participant = invitations_create(study=study, count=1)[0].invitation.participant
    participant_withdraw(participant=participant)
    withdrawn = AuditLog.objects.get(action="participant.withdrawn")
    assert participant.code not in str(withdrawn.details) + withdrawn.target
