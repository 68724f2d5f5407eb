"""Site-wide pages: the landing page, the staff home and health checks."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from surveys.permissions import PLANNER, RESEARCHER, roles_by_study, studies_for_user


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


@login_required
def staff_home(request: HttpRequest) -> HttpResponse:
    studies = list(studies_for_user(request.user))
    roles = roles_by_study(request.user, studies)
    rows = [
        {"study": study, "planner": PLANNER in roles[study.pk], "researcher": RESEARCHER in roles[study.pk]}
        for study in studies
    ]
    return render(request, "staff_home.html", {"rows": rows})


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability, for load balancers and the benchmark's baseline."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})


def ping(request: HttpRequest) -> HttpResponse:
    """A trivial view: the baseline the autosave benchmark compares against."""
    return HttpResponse("pong", content_type="text/plain")
