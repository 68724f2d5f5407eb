"""Hardening: deployment checks, CSP, throttling, redirects, uploads, escaping."""

from __future__ import annotations

import io
import json
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
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
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
    # Only guesses are slowed: a resident with a real link gets in, elsewhere and even from the
    # guessing address (a library, a shared connection) ...
    token = invitations_create(study=study, count=1)[0].token
    assert client.get(f"/i/{token}/", REMOTE_ADDR="198.51.100.7").status_code == 302
    token = invitations_create(study=study, count=1)[0].token
    assert client.get(f"/i/{token}/", REMOTE_ADDR="203.0.113.9").status_code == 302
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
    # Failures on one account do not lock another account's right password from that address.
    django_user_model.objects.create_user("colleague", password="colleague-password-1")
    from django.test import Client

    same_office = Client().post(
        reverse("login"), {"username": "colleague", "password": "colleague-password-1"}, REMOTE_ADDR="203.0.113.5"
    )
    assert same_office.status_code == 302


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


# --- withdrawal: results marked stale, never wiped --------------------------------------------

FAST_ANALYSIS = {"n_permutations": 19, "n_bootstrap": 19, "seed": 0}


def _study_with_a_done_analysis(study):
    """Three residents who rated every site, and a finished analysis of their answers."""
    from analytics.services import analysis_request, analysis_run
    from surveys.models import Wave
    from surveys.services import participant_consent, rating_save

    wave = Wave.objects.get(study=study)
    residents = []
    for i in range(3):
        participant = invitations_create(study=study, count=1)[0].invitation.participant
        participant_consent(participant=participant)
        for site in ("s1", "s2"):
            for criterion in ("accessibility", "aesthetics"):
                rating_save(participant=participant, wave=wave, site_code=site, criterion_name=criterion, value=1 + i)
        residents.append(participant)
    run = analysis_run(run_id=analysis_request(study=study, enqueue=False, **FAST_ANALYSIS).pk)
    assert run.status == "done", run.error
    return residents, run


@pytest.mark.django_db
def test_withdrawing_without_answers_changes_no_result(client, study, personas, monkeypatch):
    from analytics.models import AnalysisRun
    from exports.models import AuditLog
    from surveys.services import participant_withdraw

    monkeypatch.setattr("core.jobs.JobKind.publish", lambda *a, **k: True)
    _residents, run = _study_with_a_done_analysis(study)
    # What an attacker does with open sign-up: join, open the link, withdraw without answering.
    for _ in range(5):
        participant_withdraw(participant=invitations_create(study=study, count=1)[0].invitation.participant)
    assert list(AnalysisRun.objects.values_list("pk", "status", "stale_since")) == [(run.pk, "done", None)]
    assert AuditLog.objects.filter(action="participant.withdrawn", details={"answers_deleted": False}).count() == 5
    client.force_login(personas["planner"])
    page = client.get(reverse("analytics:dashboard", args=[study.slug])).content.decode()
    assert "Results of the analysis finished" in page and "has withdrawn" not in page


@pytest.mark.django_db
def test_withdrawing_with_answers_marks_results_stale_until_the_fresh_analysis_replaces_them(
    client, study, personas, monkeypatch
):
    from analytics.models import AnalysisRun
    from analytics.services import analysis_run
    from surveys.services import participant_withdraw

    queued = []
    monkeypatch.setattr("core.jobs.JobKind.publish", lambda kind, pk: queued.append(pk) or True)
    residents, run = _study_with_a_done_analysis(study)
    with django_capture_on_commit():
        participant_withdraw(participant=residents[0])
        participant_withdraw(participant=residents[1])
    run.refresh_from_db()
    assert run.status == "done" and run.stale_since is not None and run.result
    fresh = AnalysisRun.objects.exclude(pk=run.pk).get()
    assert fresh.status == "pending" and fresh.reason == "a participant withdrew"
    assert queued == [fresh.pk]  # two withdrawals, one fresh computation
    client.force_login(personas["planner"])
    url = reverse("analytics:dashboard", args=[study.slug])
    page = client.get(url).content.decode()
    assert "Results of the analysis finished" in page and "has withdrawn" in page
    AnalysisRun.objects.filter(pk=fresh.pk).update(parameters=FAST_ANALYSIS)
    assert analysis_run(run_id=fresh.pk).status == "done"
    assert list(AnalysisRun.objects.values_list("pk", "stale_since")) == [(fresh.pk, None)]
    page = client.get(url).content.decode()
    assert "Results of the analysis finished" in page and "has withdrawn" not in page


def django_capture_on_commit():
    """Runs on_commit callbacks at the end of the block, as a committed transaction would."""
    from django.test import TestCase

    return TestCase.captureOnCommitCallbacks(execute=True)


def test_the_survey_does_not_import_the_apps_built_on_it_to_withdraw():
    import ast

    for module in ("services.py", "views.py", "signals.py"):
        tree = ast.parse((ROOT / "surveys" / module).read_text())
        imported = {
            (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        assert not imported & {"analytics", "exports", "negotiation", "api"}, (module, imported)


# --- throttles per address and per target -------------------------------------------------------


@pytest.mark.django_db
def test_an_account_guessed_from_many_addresses_is_limited_but_its_known_browser_still_signs_in(
    django_user_model, settings
):
    from django.test import Client

    from core import throttle

    django_user_model.objects.create_user("planner", password="right-password-123")
    owner = Client()
    assert owner.post(reverse("login"), {"username": "planner", "password": "right-password-123"}).status_code == 302
    assert throttle.DEVICE_COOKIE in owner.cookies
    owner.post(reverse("logout"))
    limit = settings.THROTTLES["login_account"][0]
    attacker = Client()
    for i in range(limit):
        address = f"198.18.{i // 250}.{i % 250}"
        attacker.post(reverse("login"), {"username": "PLANNER ", "password": f"guess-{i}"}, REMOTE_ADDR=address)
    # The account is now refused to browsers it does not know, whatever their address ...
    fresh = Client().post(
        reverse("login"), {"username": "planner", "password": "right-password-123"}, REMOTE_ADDR="192.0.2.77"
    )
    assert fresh.status_code == 429 and "Retry-After" in fresh.headers
    # ... while the owner's browser, which signed in before, is not locked out by them.
    again = owner.post(reverse("login"), {"username": "planner", "password": "right-password-123"})
    assert again.status_code == 302
    # A forged or foreign device cookie is worth nothing.
    forged = Client()
    forged.cookies[throttle.DEVICE_COOKIE] = "forged"
    assert forged.post(reverse("login"), {"username": "planner", "password": "right-password-123"}).status_code == 429


@pytest.mark.django_db
def test_one_address_spraying_many_accounts_is_limited(client, settings):
    settings.THROTTLES = {**settings.THROTTLES, "login_address": (5, 900)}
    for i in range(5):
        client.post(reverse("login"), {"username": f"user{i}", "password": "Password1"}, REMOTE_ADDR="203.0.113.80")
    response = client.post(reverse("login"), {"username": "user9", "password": "x"}, REMOTE_ADDR="203.0.113.80")
    assert response.status_code == 429


@pytest.mark.django_db
def test_unknown_api_tokens_are_throttled_and_a_valid_one_is_not(client, settings, personas):
    from api.services import api_token_create

    limit = settings.THROTTLES["api_token"][0]
    statuses = [
        client.get("/api/v1/studies/", headers={"authorization": f"Token g{i}"}, REMOTE_ADDR="203.0.113.3").status_code
        for i in range(limit + 3)
    ]
    assert statuses[:limit] == [401] * limit and set(statuses[limit:]) == {429}
    key = api_token_create(user=personas["researcher"])[1]
    response = client.get("/api/v1/studies/", headers={"authorization": f"Token {key}"}, REMOTE_ADDR="203.0.113.3")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("num_proxies", "peer", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "1.2.3.4", "203.0.113.9"),  # no proxy: the header is ignored
        (1, "10.0.0.2", "1.2.3.4, 198.51.100.4", "198.51.100.4"),  # what our proxy appended
        (1, "10.0.0.2", "198.51.100.4", "198.51.100.4"),
        (2, "10.0.0.2", "9.9.9.9, 198.51.100.4, 10.0.0.9", "198.51.100.4"),
        # A client reaching the app server directly cannot pick its address.
        (1, "203.0.113.9", "1.2.3.4", "203.0.113.9"),
        (1, "10.0.0.2", "", "10.0.0.2"),
    ],
)
def test_the_client_address_cannot_be_spoofed_with_x_forwarded_for(settings, num_proxies, peer, forwarded, expected):
    from django.test import RequestFactory

    from core.throttle import client_ip

    settings.NUM_PROXIES = num_proxies
    request = RequestFactory().get("/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


@pytest.mark.django_db
def test_spoofed_forwarded_for_does_not_escape_the_throttle(client, study, settings):
    settings.NUM_PROXIES = 1
    limit = settings.THROTTLES["invitation"][0]
    statuses = [
        client.get(
            f"/i/guess-{i:04d}-{'y' * 30}/", REMOTE_ADDR="203.0.113.10", HTTP_X_FORWARDED_FOR=f"192.0.2.{i % 250}"
        ).status_code
        for i in range(limit + 5)
    ]
    assert set(statuses[limit:]) == {429}


def test_the_proxy_setting_is_documented_and_the_app_port_not_published():
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    web = compose["services"]["web"]
    for port in web.get("ports", []):
        assert str(port).startswith("127.0.0.1:"), f"port {port} is reachable around the proxy"
    example = (ROOT / ".env.example").read_text()
    assert "NUM_PROXIES=1" in example and "TRUSTED_PROXIES" in example
    assert "NUM_PROXIES" in str(compose)


# --- bad input answers 400 naming the field -----------------------------------------------------


@pytest.fixture
def resident_client(client, invitation_token):
    assert client.get(f"/i/{invitation_token}/").status_code == 302
    client.post(reverse("surveys:language"), {"language": "en"})
    client.post(reverse("surveys:consent"), {"consent": "yes"})
    return client


def _json_post(client, url, body: str | bytes, **headers):
    return client.post(url, body, content_type="application/json", headers={"accept": "application/json", **headers})


@pytest.mark.django_db
def test_a_nul_character_anywhere_is_refused_with_the_field_named(resident_client):
    from surveys.models import Comment

    response = resident_client.post(reverse("surveys:answer"), {"kind": "comment", "text": "hello\x00world"})
    assert response.status_code == 400 and "text" in response.content.decode()
    response = _json_post(resident_client, reverse("surveys:answer"), '{"kind": "comment", "text": "a\\u0000b"}')
    assert response.status_code == 400 and response.json()["error"]["field"] == "text"
    response = _json_post(resident_client, reverse("surveys:answer"), '{"kind": "priority", "tokens": {"a\\u0000": 1}}')
    assert response.status_code == 400 and response.json()["error"]["field"] == "tokens.a\x00"
    # Written as UTF-16 (which json reads as well), the escape is not the bytes b"\\u0000".
    body = '{"kind": "comment", "text": "a\\u0000b"}'.encode("utf-16")
    response = _json_post(resident_client, reverse("surveys:answer"), body)
    assert response.status_code == 400 and response.json()["error"]["field"] == "text"
    assert resident_client.get("/survey/rate/s%001/").status_code == 400
    assert resident_client.get("/survey/comment/?page=%00").status_code == 400
    assert not Comment.objects.exists()


@pytest.mark.django_db
def test_json_nested_100000_deep_is_refused_not_a_server_error(resident_client, invitation_token):
    deep = '{"kind": "comment", "text": ' + "[" * 100_000 + "]" * 100_000 + "}"
    for url, headers in (
        (reverse("surveys:answer"), {}),
        ("/api/v1/answers/", {"authorization": f"Invitation {invitation_token}"}),
    ):
        response = _json_post(resident_client, url, deep, **headers)
        assert response.status_code == 400, (url, response.content[:200])
        assert response.json()["error"]["field"] == "body"
    # Deep but legitimate-looking text inside a string is not nesting.
    response = _json_post(
        resident_client, reverse("surveys:answer"), '{"kind": "comment", "text": "' + "[" * 500 + '"}'
    )
    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("seq", ["Infinity", "-Infinity", "NaN", "1e400"])
def test_a_save_counter_that_is_not_a_finite_number_is_refused(resident_client, seq):
    body = f'{{"kind": "rating", "site": "s1", "criterion": "accessibility", "value": 2, "client_seq": {seq}}}'
    response = _json_post(resident_client, reverse("surveys:answer"), body)
    assert response.status_code == 400 and response.json()["error"]["field"] == "client_seq"


@pytest.mark.django_db
@pytest.mark.parametrize("order", ["7", '{"a": 1}', "null", "true"])
def test_a_ranking_order_that_is_not_a_list_is_refused(resident_client, order):
    body = f'{{"kind": "ranking", "criterion": "beautiful", "order": {order}}}'
    response = _json_post(resident_client, reverse("surveys:answer"), body)
    assert response.status_code == 400 and response.json()["error"]["field"] == "order"


def test_a_database_data_error_is_a_400_not_a_500():
    from django.db import DataError
    from django.test import RequestFactory

    from civic.middleware import BadInputMiddleware

    middleware = BadInputMiddleware(lambda request: None)
    response = middleware.process_exception(
        RequestFactory().post("/api/v1/x/", content_type="application/json"),
        DataError("value too long for type character varying(50)"),
    )
    assert response.status_code == 400 and json.loads(response.content)["error"]["code"] == 400


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["bad slug/x", "x" * 60, "", "Ünïcode"])
def test_import_refuses_a_study_slug_that_cannot_be_a_slug(tmp_path, slug):
    from django.core.management import CommandError, call_command

    from surveys.models import Study

    path = tmp_path / "r.csv"
    path.write_text("participant,groups,wave,task,item,criterion,value\nP1,,w1,rating,s1,safety,3\n")
    with pytest.raises(CommandError, match="--study"):
        call_command("import_responses", str(path), "--study", slug, "--create", "--title", "T")
    assert not Study.objects.exists()


# --- secrets ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_showing_a_personal_link_once_is_never_stored(client, study):
    study.open_signup = True
    study.save()
    response = client.post(reverse("surveys:join", args=[study.slug]))
    assert response.status_code == 200 and "/i/" in response.content.decode()
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_the_api_export_download_is_never_stored(client, personas, study, settings, tmp_path):
    from datetime import timedelta

    from django.utils import timezone

    from api.services import api_token_create
    from exports.models import ExportJob

    settings.PRIVATE_ROOT = tmp_path / "private"
    job = ExportJob.objects.create(
        study=study,
        requested_by=personas["researcher"],
        status="done",
        file_name="y" * 32 + ".zip",
        finished_at=timezone.now(),
        expires_at=timezone.now() + timedelta(hours=1),
    )
    job.path.parent.mkdir(parents=True, exist_ok=True)
    job.path.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    key = api_token_create(user=personas["researcher"])[1]
    response = client.get(
        f"/api/v1/studies/{study.slug}/exports/{job.pk}/download/", headers={"authorization": f"Token {key}"}
    )
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["TRACE", "TRACK", "CONNECT"])
def test_trace_is_refused(client, method):
    for path in ("/", "/i/anything/", "/api/v1/"):
        assert client.generic(method, path).status_code == 405


def test_token_paths_are_scrubbed_from_django_log_lines(caplog):
    import logging

    from civic.logs import TokenScrubFilter

    record = logging.LogRecord("django.request", logging.WARNING, "", 0, "Gone: %s", ("/i/SECRET-token-123/",), None)
    assert TokenScrubFilter().filter(record) and record.getMessage() == "Gone: /i/[redacted]/"
    record = logging.LogRecord("django.request", logging.WARNING, "", 0, "Not Found: %s", ("/d/Delegate-tok3n/",), None)
    assert TokenScrubFilter().filter(record) and record.getMessage() == "Not Found: /d/[redacted]/"


@pytest.mark.django_db
def test_chart_labels_are_plain_text_inside_the_chart(study):
    from analytics.charts import report_panels

    link = '<a href="https://evil.example/">click</a><b>bold</b> & co'
    # Names are unique per study: each row gets the same markup with its own suffix.
    for model, field in ((Group, "label_en"), (Criterion, "label_en"), (Site, "name")):
        for i, row in enumerate(model.objects.filter(study=study)):
            setattr(row, field, f"{link} {i}")
            row.save(update_fields=[field])
    _residents, run = _study_with_a_done_analysis(study)
    strings = []

    def walk(value, key=""):
        if isinstance(value, str):
            strings.append((key, value))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)

    for panel in report_panels(run.result, min_group_size=1):
        walk(panel.figure or {})
    shown = [value for key, value in strings if not key.endswith("template")]
    assert any("&lt;a href=" in value and "&amp; co" in value for value in shown), "labels belong in the chart"
    assert not any("<a" in value or "<b>" in value for value in shown)


def test_every_environment_variable_the_settings_read_is_documented():
    import re

    source = (ROOT / "civic" / "settings.py").read_text()
    read = set(re.findall(r"""(?:env\w*|os\.environ\.get)\(\s*["']([A-Z][A-Z0-9_]+)["']""", source))
    assert {"DATABASE_URL", "NUM_PROXIES", "TRUSTED_PROXIES", "DB_LOCK_TIMEOUT_MS"} <= read
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("| variable | default | meaning |") : readme.index("## Everyday commands")]
    missing = {name for name in read if f"`{name}`" not in table}
    assert not missing, f"document these in the README's configuration table: {sorted(missing)}"


@pytest.mark.django_db
def test_is_staff_alone_grants_no_study_data(client, study, personas, django_user_model):
    from surveys.permissions import studies_for_user, user_roles

    staff = django_user_model.objects.create_user("clerk", password="pw-clerk-1", is_staff=True)
    assert user_roles(staff, study) == set() and not studies_for_user(staff).exists()
    assert user_roles(personas["admin"], study) >= {"planner", "researcher"}
    client.force_login(staff)
    for url in ("/staff/", "/staff/studies/", "/api/v1/studies/"):
        response = client.get(url)
        assert response.status_code == 200 and study.title_en not in response.content.decode(), url
    for url in (
        f"/studies/{study.slug}/analytics/",
        f"/studies/{study.slug}/exports/",
        f"/staff/studies/{study.slug}/",
    ):
        assert client.get(url).status_code == 404, url
    client.force_login(personas["admin"])
    assert study.title_en in client.get("/staff/studies/").content.decode()
