"""POST /api/v1/studies/{slug}/scenarios/: the web import's service, limits and messages over the API."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from api.services import api_token_create
from negotiation.bargaining.scenario import MAX_DEPTH, MAX_DOCUMENT_CHARS
from negotiation.models import Intervention, NegotiationSession, Scenario, Stakeholder
from negotiation.tests.helpers import document

pytestmark = pytest.mark.django_db

URL = "/api/v1/studies/small/scenarios/"


@pytest.fixture
def clients(study, personas):
    out = {"anonymous": APIClient()}
    for name, user in personas.items():
        out[name] = APIClient()
        out[name].credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user)[1]}")
    return out


def _post(client, body, **headers):
    text = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(URL, text, content_type="application/json", headers=headers)


def _nothing_saved():
    return not (Scenario.objects.exists() or Stakeholder.objects.exists() or Intervention.objects.exists())


def test_a_planner_imports_a_scenario_and_starts_a_session_on_it(clients, study, monkeypatch):
    monkeypatch.setattr("core.jobs.JobKind.publish", lambda *a, **k: True)
    doc = document(mediator="maximin")
    doc["interventions"][0]["group_effects"] = {"Disabled residents": {"accessibility": 1.2}}
    response = _post(clients["planner"], doc)
    assert response.status_code == 201, response.content
    scenario = Scenario.objects.get()
    assert response.json() == {
        "id": scenario.pk,
        "title": "Corner fixes",
        "budget": 100.0,
        "max_rounds": 6,
        "version": scenario.version,
    }
    assert response["Location"] == f"http://testserver/studies/small/negotiation/{scenario.pk}/"
    assert clients["planner"].get(URL).json()["results"] == [response.json()]
    assert scenario.mediator == "maximin" and scenario.created_by.username == "planner1"
    assert scenario.stakeholders.count() == 3
    ramps = scenario.interventions.get(code="ramps")
    assert ramps.group_effects == {"Disabled residents": {"accessibility": 1.2}}

    started = clients["planner"].post(f"{URL}{scenario.pk}/sessions/", {"pinned": ["ramps"]}, format="json")
    assert started.status_code == 202, started.content
    assert NegotiationSession.objects.get().scenario == scenario


def test_a_bad_scenario_is_refused_in_french_naming_every_problem_and_nothing_is_saved(clients):
    doc = document(budget=-5.5)
    doc["groups"][1]["name"] = "Cyclists"
    del doc["interventions"][2]["cost"]
    response = _post(clients["planner"], doc, **{"accept-language": "fr"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 400 and error["field"] == "budget"
    assert error["message"] == "budget: doit être ≥ 0 (reçu : -5,5)"
    assert error["fields"] == {
        "budget": ["doit être ≥ 0 (reçu : -5,5)"],
        "interventions[2].cost": ["manquant"],
        "groups[1].name": ["« Cyclists » n’est pas un groupe de l’étude"],
    }
    assert _nothing_saved()


def test_a_title_already_taken_is_refused(clients, study):
    assert _post(clients["planner"], document()).status_code == 201
    again = _post(clients["planner"], document())
    assert again.status_code == 400
    assert again.json()["error"]["fields"] == {"title": ["a scenario with this title already exists in the study"]}
    assert Scenario.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ('{"title": "x",\n "budget": }', "body", "body : JSON mal formé."),
        ("", "title", "manquant"),
        ("[1, 2]", "(document)", "doit être un objet JSON (reçu : list)"),
        ('"a scenario"', "(document)", "doit être un objet JSON (reçu : str)"),
        ("[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5), "(document)", f"imbriqué sur plus de {MAX_DEPTH} niveaux"),
        (
            '{"title": "' + "t" * MAX_DOCUMENT_CHARS + '"}',
            "(document)",
            f"plus long que {MAX_DOCUMENT_CHARS:,} caractères",
        ),
        (
            '{"title": "' + "t" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + '"}',
            "body",
            f"body : plus de {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} octets.",
        ),
    ],
    ids=["malformed", "empty", "list", "string", "too-deep", "too-long", "too-large"],
)
def test_a_body_that_is_no_scenario_document_is_a_400_in_the_readers_language(clients, body, field, message):
    response = _post(clients["planner"], body, **{"accept-language": "fr"})
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert error["field"] == field
    assert message in (error["fields"][field] if "fields" in error else [error["message"]])
    assert _nothing_saved()


def test_another_content_type_is_refused(clients):
    response = clients["planner"].post(URL, json.dumps(document()), content_type="text/plain")
    assert response.status_code == 415 and response.json()["error"]["code"] == 415
    assert _nothing_saved()


@pytest.mark.parametrize(
    ("persona", "status"),
    [("anonymous", 401), ("researcher", 404), ("other_planner", 404), ("outsider", 404), ("admin", 201)],
)
def test_only_the_studys_planners_may_import(clients, persona, status):
    # A valid document, so a refusal can only come from the role check (malformed bodies: test above).
    assert _post(clients[persona], document()).status_code == status
    assert Scenario.objects.exists() == (status == 201)


def test_a_refused_persona_learns_nothing_from_a_bad_document(clients):
    for persona, status in (("researcher", 404), ("other_planner", 404), ("anonymous", 401)):
        assert _post(clients[persona], "[1]").status_code == status
    assert _nothing_saved()


def test_a_signed_in_planner_needs_the_csrf_token(personas, study):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(personas["planner"])
    response = _post(client, document())
    assert response.status_code == 403
    assert _nothing_saved()


def test_the_schema_documents_the_import(study):
    schema = json.loads(json.dumps(SchemaGenerator().get_schema(public=True), default=str))
    post = schema["paths"]["/api/v1/studies/{slug}/scenarios/"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ScenarioDocument"}
    fields = schema["components"]["schemas"]["ScenarioDocument"]
    assert {"group_effects", "excludes"} <= set(schema["components"]["schemas"]["ScenarioIntervention"]["properties"])
    assert set(fields["required"]) == {"title", "budget", "scale", "criteria", "groups", "interventions"}
    assert {"mediator", "max_rounds", "base_designs", "currency"} <= set(fields["properties"])
    assert set(post["responses"]) >= {"201", "400"}
    assert "Location" in post["responses"]["201"]["headers"]
    assert post["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Scenario"
    }
