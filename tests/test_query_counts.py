"""How many queries the busiest pages and API lists make: the same whether a study has one row or
many (no query per row), and no more than pinned here. A change that adds queries shows up as a
failing pin to look at, not as a slow page in production."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conftest import build_study
from exports.models import ExportJob
from surveys.models import Criterion, Site, StudyMembership, Wave

pytestmark = pytest.mark.django_db


def _queries(client, url: str, **kwargs) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **kwargs)
    assert response.status_code == 200, (url, response.status_code)
    return len(captured)


def test_the_staff_home_makes_no_query_per_study(client, personas, study):
    planner = personas["planner"]
    client.force_login(planner)
    one = _queries(client, reverse("staff-home"))
    for i in range(3):
        StudyMembership.objects.create(study=build_study(f"more-{i}"), user=planner, role="researcher")
    assert _queries(client, reverse("staff-home")) == one <= 4


def test_the_api_study_list_makes_no_query_per_study(client, personas, study):
    planner = personas["planner"]
    client.force_login(planner)
    url = reverse("api:study-list")
    one = _queries(client, url)
    for i in range(3):
        StudyMembership.objects.create(study=build_study(f"api-{i}"), user=planner, role="planner")
    assert _queries(client, url) == one <= 4


def test_the_api_site_and_criterion_lists_are_pinned(client, personas, study):
    client.force_login(personas["planner"])
    pinned = {"api:site-list": 6, "api:criterion-list": 8, "api:wave-list": 6}
    counts = {name: _queries(client, reverse(name, args=[study.slug])) for name in pinned}
    assert all(counts[name] <= pinned[name] for name in pinned), counts
    for i in range(3):
        Criterion.objects.create(study=study, name=f"extra {i}", kind="rating", label_en=f"Extra {i}", order=10 + i)
        Site.objects.create(study=study, code=f"extra-{i}", name=f"Extra {i}", order=10 + i)
        Wave.objects.create(study=study, name=f"extra {i}", order=10 + i)
    assert {name: _queries(client, reverse(name, args=[study.slug])) for name in pinned} == counts


def test_the_exports_list_makes_no_query_per_export(client, personas, study):
    researcher = personas["researcher"]
    client.force_login(researcher)
    url = reverse("exports:list", args=[study.slug])
    ExportJob.objects.create(study=study, requested_by=researcher)
    one = _queries(client, url)
    for _ in range(3):
        ExportJob.objects.create(study=study, requested_by=researcher)
    assert _queries(client, url) == one <= 7


def test_the_dashboard_is_pinned(client, personas, study):
    client.force_login(personas["planner"])
    assert _queries(client, reverse("analytics:dashboard", args=[study.slug])) <= 17


def test_a_survey_step_is_pinned(client, study, invitation_token):
    client.get(f"/i/{invitation_token}/")
    response = client.get(reverse("surveys:consent"))
    assert response.status_code == 200
    assert _queries(client, reverse("surveys:consent")) <= 11


def test_an_autosave_is_one_statement_and_a_survey_page_loads_its_resident_in_one(client, study, invitation_token):
    """The autosave of a rating reads no session row, no participant and no wave apart: one
    INSERT … SELECT … ON CONFLICT (core/sessions.py, services.answer_autosave)."""
    client.get(f"/i/{invitation_token}/")
    client.post(reverse("surveys:language"), {"language": "en"})
    client.post(reverse("surveys:consent"), {"consent": "yes"})
    data = {"kind": "rating", "site": "s1", "criterion": "accessibility", "value": "2"}
    with CaptureQueriesContext(connection) as captured:
        response = client.post(reverse("surveys:answer"), data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert len(captured) == 1 and "INSERT INTO" in captured[0]["sql"], captured.captured_queries
    with CaptureQueriesContext(connection) as captured:
        client.get(reverse("surveys:consent"))
    assert "django_session" not in " ".join(q["sql"] for q in captured)
    assert sum("surveys_participant" in q["sql"] and "surveys_wave" in q["sql"] for q in captured) == 1
