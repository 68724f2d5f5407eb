"""The public "what we heard" page, and the staff page where a planner publishes it.

The public page needs no account: it answers 404 until the study's page is published, so it
tells nobody which studies exist. The staff pages fetch the study with `study_get_for_user` for
its owners and planners (404 for everyone else).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from surveys.permissions import OWNER, PLANNER, study_get_for_user

from .models import ResultsPage
from .presenters import public_page
from .services import NOT_ANALYSED, STALE, PublishError, results_publish, results_snapshot_build, results_unpublish

ERROR_LANGUAGE = "lang: choose en or fr."


def _publish_error(error: PublishError) -> str:
    if error.code == STALE:
        return _(
            "A resident withdrew since the last analysis, so it still counts their answers. "
            "Publish once the fresh analysis is done."
        )
    if error.code == NOT_ANALYSED:
        return _("The study has not been analysed yet: analyse it from the dashboard, then publish.")
    return str(error)


@require_GET
def public(request: HttpRequest, slug: str) -> HttpResponse:
    page = ResultsPage.objects.filter(study__slug=slug, published=True).select_related("study").first()
    if page is None:
        raise Http404("No published results")
    lang = request.GET.get("lang")
    if lang is not None and lang not in dict(settings.LANGUAGES):
        return HttpResponse(ERROR_LANGUAGE, status=400, content_type="text/plain; charset=utf-8")
    if lang:
        translation.activate(lang)
    context = {"study": page.study, "page": public_page(page.snapshot), "published_at": page.published_at}
    response = render(request, "results/public.html", context)
    if lang:
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, lang, samesite="Lax")
    return response


def _manage_context(study) -> dict:
    page = ResultsPage.objects.filter(study=study).select_related("published_by").first()
    try:
        preview, problem = public_page(results_snapshot_build(study=study)), None
    except PublishError as error:
        preview, problem = None, _publish_error(error)
    return {"study": study, "results_page": page, "preview": preview, "problem": problem}


@login_required
@require_GET
def manage(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_get_for_user(request.user, slug, OWNER, PLANNER)
    return render(request, "results/manage.html", _manage_context(study))


@login_required
@require_POST
def publish(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_get_for_user(request.user, slug, OWNER, PLANNER)
    try:
        results_publish(study=study, user=request.user)
    except PublishError as error:
        context = {**_manage_context(study), "error": _publish_error(error)}
        return render(request, "results/manage.html", context, status=400)
    messages.success(request, _("The results page is published."))
    return redirect("results:manage", slug=study.slug)


@login_required
@require_POST
def unpublish(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_get_for_user(request.user, slug, OWNER, PLANNER)
    if results_unpublish(study=study, user=request.user) is not None:
        messages.success(request, _("The results page is no longer public."))
    return redirect("results:manage", slug=study.slug)
