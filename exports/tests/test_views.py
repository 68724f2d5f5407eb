"""Researcher pages and the download URL: who gets the file, who gets nothing, what is audited."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from conftest import build_study
from exports.models import AuditLog, ExportJob
from exports.services import export_build, export_request

from .conftest import populate, researcher, unzip


def _download_url(job):
    return reverse("exports:download", args=[job.study.slug, job.pk])


@pytest.fixture
def built(populated, personas, client, django_capture_on_commit_callbacks):
    """An export requested through the page by the study's researcher and built eagerly."""
    client.force_login(personas["researcher"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("exports:request", args=[populated.study.slug]))
    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.DONE, job.error
    client.logout()
    return job


def _denials(reason: str) -> int:
    return AuditLog.objects.filter(action="export.denied", details__reason=reason).count()


def test_the_requester_downloads_the_zip_and_it_is_audited(built, personas, client):
    client.force_login(personas["researcher"])
    response = client.get(_download_url(built))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "no-store" in response["Cache-Control"]
    body = b"".join(response.streaming_content)
    assert body[:2] == b"PK" and len(body) == built.size
    assert (
        AuditLog.objects.filter(
            action="export.downloaded", actor=personas["researcher"], target=f"export:{built.pk}"
        ).count()
        == 1
    )
    assert AuditLog.objects.filter(action="export.requested").count() == 1


def test_without_a_session_the_download_redirects_to_login_and_is_audited(built, client):
    response = client.get(_download_url(built))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert _denials("no session") == 1


@pytest.mark.parametrize("who", ["other_researcher", "planner", "admin", "outsider", "other_planner"])
def test_anyone_but_the_requester_gets_404_and_is_audited(built, personas, client, who):
    user = researcher(built.study, "researcher2") if who == "other_researcher" else personas[who]
    client.force_login(user)
    response = client.get(_download_url(built))
    assert response.status_code == 404
    assert b"PK" not in response.content[:2]
    entry = AuditLog.objects.get(action="export.denied")
    assert entry.actor_id == user.pk and entry.target == f"export:{built.pk}"


def test_after_expiry_the_download_is_gone_and_audited(built, personas, client):
    ExportJob.objects.filter(pk=built.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    client.force_login(personas["researcher"])
    assert client.get(_download_url(built)).status_code == 410
    assert _denials("expired") == 1


def test_after_deletion_the_download_is_gone_the_file_removed_and_both_audited(built, personas, client):
    client.force_login(personas["researcher"])
    response = client.post(reverse("exports:delete", args=[built.study.slug, built.pk]))
    assert response.status_code == 302
    built.refresh_from_db()
    assert built.deleted_at is not None and not built.path.exists()
    assert client.get(_download_url(built)).status_code == 410
    assert _denials("deleted") == 1
    assert AuditLog.objects.filter(action="export.deleted", actor=personas["researcher"]).count() == 1


def test_another_researcher_cannot_delete_someone_elses_export(built, client):
    client.force_login(researcher(built.study, "researcher2"))
    response = client.post(reverse("exports:delete", args=[built.study.slug, built.pk]))
    assert response.status_code == 404
    built.refresh_from_db()
    assert built.deleted_at is None and built.path.exists()


def test_the_page_lists_only_ones_own_exports_with_a_download_link(built, personas, client):
    client.force_login(personas["researcher"])
    response = client.get(reverse("exports:list", args=[built.study.slug]))
    assert response.status_code == 200
    assert _download_url(built).encode() in response.content
    assert b"Request export" in response.content
    client.force_login(researcher(built.study, "researcher2"))
    response = client.get(reverse("exports:list", args=[built.study.slug]))
    assert _download_url(built).encode() not in response.content


def test_the_htmx_poll_returns_the_partial_with_the_progress_bar(populated, personas, client):
    job = export_request(study=populated.study, user=personas["researcher"], enqueue=False)
    ExportJob.objects.filter(pk=job.pk).update(status="running", progress=42)
    client.force_login(personas["researcher"])
    response = client.get(reverse("exports:list", args=[populated.study.slug]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert b'id="export-jobs"' in response.content and b"<html" not in response.content
    assert b'value="42"' in response.content and b'hx-trigger="every 1s"' in response.content


@pytest.mark.parametrize("who", ["planner", "outsider", "other_planner"])
def test_planners_and_outsiders_cannot_see_or_request_exports(populated, personas, client, who):
    client.force_login(personas[who])
    slug = populated.study.slug
    assert client.get(reverse("exports:list", args=[slug])).status_code == 404
    assert client.post(reverse("exports:request", args=[slug])).status_code == 404
    assert not ExportJob.objects.exists()


def test_a_double_click_on_request_export_makes_one_job(populated, personas, client):
    client.force_login(personas["researcher"])
    for _ in range(2):
        client.post(reverse("exports:request", args=[populated.study.slug]))
    assert ExportJob.objects.count() == 1


def test_a_rolled_back_request_enqueues_nothing_and_a_committed_one_enqueues_once(
    populated, personas, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        export_request(study=populated.study, user=personas["researcher"])
    assert len(callbacks) == 1


def test_non_staff_cannot_read_the_audit_log_in_the_admin_and_staff_cannot_change_it(built, personas, client):
    url = reverse("admin:exports_auditlog_changelist")
    client.force_login(personas["researcher"])
    assert client.get(url).status_code == 302
    client.force_login(personas["admin"])
    assert client.get(url).status_code == 200
    entry = AuditLog.objects.first()
    assert client.post(reverse("admin:exports_auditlog_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:exports_auditlog_add")).status_code == 403
    assert AuditLog.objects.filter(pk=entry.pk).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="SQLite's in-memory test database locks its shared cache under threads; CI runs PostgreSQL",
)
def test_concurrent_exports_by_two_users_do_not_cross_contaminate(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    first, second = build_study("first"), build_study("second", n_sites=3)
    populate(first)
    populate(second, plan=[(("senior",), 7)], comment="second study")
    alice, bob = researcher(first, "alice"), researcher(second, "bob")
    jobs = [
        export_request(study=first, user=alice, enqueue=False),
        export_request(study=second, user=bob, enqueue=False),
    ]
    errors = []

    def run(job_id):
        try:
            export_build(job_id=job_id)
        except Exception as exc:  # noqa: BLE001 — reported by the assertion below.
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(job.pk,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    a, b = (ExportJob.objects.get(pk=job.pk) for job in jobs)
    assert a.status == b.status == "done" and a.file_name != b.file_name
    rows_a = unzip(a.path).dicts("responses.csv")
    rows_b = unzip(b.path).dicts("responses.csv")
    assert {r["item"] for r in rows_a if r["task"] == "rating"} == {"s1", "s2"}
    assert {r["item"] for r in rows_b if r["task"] == "rating"} == {"s1", "s2", "s3"}
    assert len({r["participant"] for r in rows_a}) == 15
    assert len({r["participant"] for r in rows_b}) == 7
    assert {r["groups"] for r in rows_b} == {"senior"}
    assert not {r["participant"] for r in rows_a} & {r["participant"] for r in rows_b}
    assert "Study first" in unzip(a.path).text("README.md")
    assert "Study second" in unzip(b.path).text("README.md")
    from django.test import Client

    client = Client()
    client.force_login(alice)
    assert client.get(_download_url(b)).status_code == 404
    assert client.get(_download_url(a)).status_code == 200


def test_the_staff_home_links_researchers_but_not_planners_to_exports(populated, personas, client):
    url = reverse("exports:list", args=[populated.study.slug]).encode()
    client.force_login(personas["researcher"])
    assert url in client.get(reverse("staff-home")).content
    client.force_login(personas["planner"])
    assert url not in client.get(reverse("staff-home")).content
