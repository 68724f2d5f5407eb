"""Researcher pages: the list of one's own exports, requesting one, downloading, deleting.

Only researchers of the study (and staff) reach these pages; planners and outsiders get 404
from `study_get_for_user`. A download is handed only to the user who asked for it.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from surveys.permissions import RESEARCHER, study_get_for_user

from .download import ERROR_GONE, DownloadDenied, export_download_authorise, export_download_name
from .models import ExportJob
from .services import export_delete, export_request
from .writer import export_preview

TEMPLATE = "exports/list.html"


def _jobs_response(request: HttpRequest, study) -> HttpResponse:
    jobs = ExportJob.objects.for_requester(study=study, user=request.user).defer("summary")[:20]
    template = f"{TEMPLATE}#jobs" if request.htmx else TEMPLATE
    return render(request, template, {"study": study, "jobs": jobs})


@login_required
@require_GET
def export_list(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_get_for_user(request.user, slug, RESEARCHER)
    if request.htmx:
        return _jobs_response(request, study)
    jobs = ExportJob.objects.for_requester(study=study, user=request.user).defer("summary")[:20]
    return render(request, TEMPLATE, {"study": study, "jobs": jobs, "preview": export_preview(study)})


@login_required
@require_POST
def export_request_view(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_get_for_user(request.user, slug, RESEARCHER)
    export_request(study=study, user=request.user)
    if request.htmx:
        return _jobs_response(request, study)
    return redirect("exports:list", slug=study.slug)


@require_GET
def download(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    # No login_required: the service audits anonymous attempts before we send them to log in.
    try:
        job = export_download_authorise(user=request.user, slug=slug, job_id=pk)
    except DownloadDenied as denied:
        if denied.status == 401:
            return redirect_to_login(request.get_full_path())
        if denied.status == 410:
            return HttpResponse(ERROR_GONE, status=410, content_type="text/plain; charset=utf-8")
        raise Http404("No such export") from None
    response = FileResponse(
        job.path.open("rb"),
        as_attachment=True,
        filename=export_download_name(job),
        content_type="application/zip",
    )
    response["Cache-Control"] = "no-store, private"
    return response


@login_required
@require_POST
def delete(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    study = study_get_for_user(request.user, slug, RESEARCHER)
    job = get_object_or_404(ExportJob, pk=pk, study=study, requested_by=request.user)
    if job.deleted_at is None:
        export_delete(job=job, actor=request.user, reason="by requester")
    if request.htmx:
        return _jobs_response(request, study)
    return redirect("exports:list", slug=study.slug)
