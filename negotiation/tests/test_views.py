"""Planner pages: who may reach them, editing with errors and conflicts, a run end to end."""

from __future__ import annotations

import pytest
from django.urls import reverse

from negotiation.models import NegotiationSession, Scenario
from negotiation.services import ERROR_STALE

from .helpers import make_done_session, make_scenario

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(study, personas):
    scenario = make_scenario(study)
    a = make_done_session(scenario)
    b = make_done_session(scenario, forbidden=["ramps"])
    return study, scenario, a, b


def _urls(study, scenario, a, b):
    slug = study.slug
    return [
        ("get", reverse("negotiation:scenarios", args=[slug])),
        ("get", reverse("negotiation:import", args=[slug])),
        ("get", reverse("negotiation:edit", args=[slug, scenario.pk])),
        ("get", reverse("negotiation:export", args=[slug, scenario.pk])),
        ("get", reverse("negotiation:sessions", args=[slug, scenario.pk])),
        ("get", reverse("negotiation:session", args=[slug, a.pk])),
        ("get", reverse("negotiation:compare", args=[slug]) + f"?a={a.pk}&b={b.pk}"),
        ("post", reverse("negotiation:suggest", args=[slug, scenario.pk])),
        ("post", reverse("negotiation:run", args=[slug, scenario.pk])),
    ]


@pytest.mark.parametrize(
    "persona,allowed",
    [
        ("planner", True),
        ("admin", True),
        ("researcher", False),
        ("other_planner", False),
        ("outsider", False),
    ],
)
def test_every_negotiation_page_is_for_planners_of_the_study_and_staff(client, personas, world, persona, allowed):
    client.force_login(personas[persona])
    for method, url in _urls(*world):
        response = getattr(client, method)(url)
        if not allowed:
            assert response.status_code == 404, (persona, url)
        elif method == "get":
            assert response.status_code == 200, (persona, url)
        else:
            assert response.status_code == 302, (persona, url)


def test_anonymous_visitors_are_sent_to_sign_in(client, world):
    for method, url in _urls(*world):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


def test_another_studys_session_is_not_found_through_this_study(client, personas, world):
    study, scenario, a, b = world
    client.force_login(personas["other_planner"])
    assert client.get(reverse("negotiation:session", args=["other", a.pk])).status_code == 404


def _edit_post(client, scenario, **overrides):
    page = client.get(reverse("negotiation:edit", args=[scenario.study.slug, scenario.pk]))
    form = _form_values(page.content.decode())
    form.update(overrides)
    return client.post(reverse("negotiation:edit", args=[scenario.study.slug, scenario.pk]), form)


def _form_values(html: str) -> dict:
    """The scenario form's current input values (text and hidden inputs)."""
    import re

    form = html[html.index('id="scenario-form"') : html.index("</form>", html.index('id="scenario-form"'))]
    values = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and 'type="checkbox"' not in tag:
            values[name.group(1)] = value.group(1) if value else ""
    return values


def test_an_edit_is_saved_and_bumps_the_version(client, personas, world):
    _, scenario, *_ = world
    client.force_login(personas["planner"])
    response = _edit_post(client, scenario, budget="130", **{"i1-cost": "55"})
    assert response.status_code == 302
    scenario.refresh_from_db()
    assert scenario.budget == 130 and scenario.version == 2
    assert scenario.interventions.get(code="trees").cost == 55


def test_an_invalid_edit_shows_errors_by_field_and_saves_nothing(client, personas, world):
    _, scenario, *_ = world
    client.force_login(personas["planner"])
    response = _edit_post(client, scenario, budget="130", **{"i1-cost": "-5", "g0-w-accessibility": "0.2"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "interventions[1].cost: must be ≥ 0" in html
    assert "groups[0].criterion_weights: must sum to 1" in html
    scenario.refresh_from_db()
    assert scenario.budget == 100 and scenario.version == 1
    assert scenario.interventions.get(code="trees").cost == 50


def test_field_errors_are_in_the_planners_language(client, personas, world):
    _, scenario, *_ = world
    client.force_login(personas["planner"])
    page = client.get(reverse("negotiation:edit", args=[scenario.study.slug, scenario.pk]))
    form = {**_form_values(page.content.decode()), "i1-cost": "-5", "g0-w-accessibility": "0.2"}
    response = client.post(
        reverse("negotiation:edit", args=[scenario.study.slug, scenario.pk]), form, headers={"accept-language": "fr"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "interventions[1].cost: doit être ≥ 0 (reçu : -5)" in html
    assert "groups[0].criterion_weights: la somme doit valoir 1" in html
    assert "must be" not in html


def test_a_stale_edit_is_refused_with_a_clear_message(client, personas, world):
    _, scenario, *_ = world
    client.force_login(personas["planner"])
    page = client.get(reverse("negotiation:edit", args=[scenario.study.slug, scenario.pk]))
    stale_form = _form_values(page.content.decode())
    assert _edit_post(client, scenario, budget="120").status_code == 302
    stale_form["budget"] = "90"
    response = client.post(reverse("negotiation:edit", args=[scenario.study.slug, scenario.pk]), stale_form)
    assert response.status_code == 409
    assert ERROR_STALE in response.content.decode().replace("&#x27;", "'")
    scenario.refresh_from_db()
    assert scenario.budget == 120


def test_a_planner_runs_a_session_and_reads_the_result(client, personas, world, django_capture_on_commit_callbacks):
    study, scenario, *_ = world
    client.force_login(personas["planner"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("negotiation:run", args=[study.slug, scenario.pk]),
            {"x-benches": "pin", "x-murals": "forbid"},
        )
    session = NegotiationSession.objects.latest("pk")
    assert response["Location"] == reverse("negotiation:session", args=[study.slug, session.pk])
    assert session.status == "done" and session.pinned == ["benches"] and session.forbidden == ["murals"]
    page = client.get(response["Location"]).content.decode()
    for text in (
        "Negotiated package",
        "Best base design: ",
        "Utilitarian",
        "Egalitarian",
        "Nash bargaining",
        "Method of Equal Shares",
        "(worst off)",
        "Round 1",
        'id="utility-figure"',
        session.outcome.data["explanation"].split(" ")[1],
    ):
        assert text in page, text
    live = client.get(response["Location"], headers={"HX-Request": "true"})
    assert live.status_code == 204 and live["HX-Refresh"] == "true"


def test_a_running_session_polls_and_shows_its_rounds(client, personas, world):
    study, scenario, a, _ = world
    NegotiationSession.objects.filter(pk=a.pk).update(status="running", progress=40)
    client.force_login(personas["planner"])
    response = client.get(reverse("negotiation:session", args=[study.slug, a.pk]), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert 'hx-trigger="every 1s"' in html and 'value="40"' in html and "Round 1" in html
    assert "<html" not in html


def test_import_lists_errors_by_field_and_export_downloads_json(client, personas, world):
    study, scenario, *_ = world
    client.force_login(personas["planner"])
    response = client.post(
        reverse("negotiation:import", args=[study.slug]),
        {"document": '{"title": "Bad", "budget": -3}'},
    )
    assert response.status_code == 400
    assert "budget: must be ≥ 0 (got -3)" in response.content.decode()
    export = client.get(reverse("negotiation:export", args=[study.slug, scenario.pk]))
    assert export["Content-Disposition"].startswith("attachment")
    document = export.json()
    document["title"] = "Re-imported"
    response = client.post(
        reverse("negotiation:import", args=[study.slug]),
        {"document": __import__("json").dumps(document)},
    )
    assert response.status_code == 302
    assert Scenario.objects.filter(title="Re-imported").exists()


def test_a_new_scenario_is_created_from_the_study(client, personas, study):
    client.force_login(personas["planner"])
    response = client.post(reverse("negotiation:scenarios", args=[study.slug]), {"title": "Fresh", "budget": "75"})
    scenario = Scenario.objects.get(title="Fresh")
    assert response["Location"] == reverse("negotiation:edit", args=[study.slug, scenario.pk])
    assert scenario.stakeholders.count() == 3 and scenario.criteria == [
        "accessibility",
        "aesthetics",
    ]


def test_the_compare_page_shows_both_sessions(client, personas, world):
    study, scenario, a, b = world
    client.force_login(personas["planner"])
    html = client.get(reverse("negotiation:compare", args=[study.slug]) + f"?a={a.pk}&b={b.pk}").content.decode()
    assert f"Session {a.pk}" in html and f"Session {b.pk}" in html and "Utility of Seniors" in html


def test_staff_home_links_to_negotiation(client, personas, study):
    client.force_login(personas["planner"])
    assert reverse("negotiation:scenarios", args=[study.slug]) in client.get("/staff/").content.decode()
