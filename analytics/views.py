"""Dashboard pages for a study's planners and researchers (and staff).

Every view fetches the study through `study_get_for_user`, which answers 404 to anyone
without a planner or researcher role on it, so outsiders cannot learn which studies exist.
"""

from __future__ import annotations

import csv

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.csv import csv_safe
from surveys.permissions import PLANNER, RESEARCHER, study_get_for_user

from .models import AnalysisRun
from .selectors import brief_build, dashboard_build, panel_for_csv
from .services import analysis_current, analysis_request

TEMPLATE = "analytics/dashboard.html"


def _progress_response(request: HttpRequest, study, run: AnalysisRun | None) -> HttpResponse:
    response = render(request, f"{TEMPLATE}#progress", {"study": study, "current": run})
    if request.htmx and run is not None and run.status == AnalysisRun.Status.DONE:
        # The run the page was waiting for has finished: reload to draw its charts.
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_GET
def dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_get_for_user(request.user, slug, PLANNER, RESEARCHER)
    if request.htmx:
        return _progress_response(request, study, analysis_current(study))
    return render(
        request,
        TEMPLATE,
        {
            "study": study,
            "dashboard": dashboard_build(study=study),
            "current": analysis_current(study),
        },
    )


@login_required
@require_POST
def analyse(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_get_for_user(request.user, slug, PLANNER, RESEARCHER)
    run = analysis_request(study=study, requested_by=request.user, reason="dashboard", reuse_active=True)
    if request.htmx:
        run.refresh_from_db()
        return _progress_response(request, study, run)
    return redirect("analytics:dashboard", slug=study.slug)


@login_required
@require_GET
def progress(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_get_for_user(request.user, slug, PLANNER, RESEARCHER)
    return _progress_response(request, study, analysis_current(study))


@login_required
@require_GET
def glossary(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_get_for_user(request.user, slug, PLANNER, RESEARCHER)
    return render(request, "analytics/glossary.html", {"study": study})


@login_required
@require_GET
def brief(request: HttpRequest, slug: str) -> HttpResponse:
    """The study on one page, printable for a council meeting (the print stylesheet does the rest)."""
    study = study_get_for_user(request.user, slug, PLANNER, RESEARCHER)
    return render(request, "analytics/brief.html", {"study": study, "brief": brief_build(study=study)})


@login_required
@require_GET
def chart_csv(request: HttpRequest, slug: str, key: str) -> HttpResponse:
    study = study_get_for_user(request.user, slug, PLANNER, RESEARCHER)
    panel = panel_for_csv(study=study, key=key)
    if panel is None:
        raise Http404("No such chart")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{study.slug}-{panel.key}.csv"'
    response["Cache-Control"] = "no-store"
    writer = csv.writer(response)
    writer.writerow([_cell(c) for c in panel.table.columns])
    writer.writerows([_cell(cell) for cell in row] for row in panel.table.rows)
    return response


def _cell(value):
    # Text goes through csv_safe against formula injection; numbers stay numbers, since a
    # negative divergence such as -0.4 is data, not a formula, and must not gain an apostrophe.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return csv_safe(value)
