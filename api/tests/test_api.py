from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from api.models import ApiToken
from api.services import api_token_create
from negotiation.models import NegotiationSession, Scenario
from surveys.models import Rating
from surveys.services import invitations_create, participant_consent

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(study, personas):
    tokens = {name: api_token_create(user=user)[1] for name, user in personas.items()}
    resident = invitations_create(study=study, count=1)[0]
    participant_consent(participant=resident.invitation.participant)
    scenario = Scenario.objects.create(study=study, title="S", budget=10, max_rounds=5)
    session = NegotiationSession.objects.create(scenario=scenario, snapshot={})
    return {"study": study, "tokens": tokens, "resident": resident.token, "scenario": scenario, "session": session}


def _client(world, persona):
    client = APIClient()
    if persona == "resident":
        client.credentials(HTTP_AUTHORIZATION=f"Invitation {world['resident']}")
    elif persona != "anonymous":
        client.credentials(HTTP_AUTHORIZATION=f"Token {world['tokens'][persona]}")
    return client


PERSONAS = ["anonymous", "resident", "planner", "researcher", "other_planner", "outsider", "admin"]
STUDY_READ = {
    "anonymous": 401,
    "resident": 401,
    "planner": 200,
    "researcher": 200,
    "other_planner": 404,
    "outsider": 404,
    "admin": 200,
}
PLANNER_ONLY = {**STUDY_READ, "researcher": 404}
RESEARCHER_ONLY = {**STUDY_READ, "planner": 404}
MATRIX = [
    ("get", "/api/v1/studies/", {**STUDY_READ, "other_planner": 200, "outsider": 200}),
    ("get", "/api/v1/studies/small/", STUDY_READ),
    ("get", "/api/v1/studies/small/waves/", STUDY_READ),
    ("get", "/api/v1/studies/small/sites/", STUDY_READ),
    ("get", "/api/v1/studies/small/criteria/", STUDY_READ),
    ("get", "/api/v1/studies/small/analysis-runs/", STUDY_READ),
    ("post", "/api/v1/studies/small/analysis-runs/", {**STUDY_READ, "planner": 202, "researcher": 202, "admin": 202}),
    ("get", "/api/v1/studies/small/scenarios/", PLANNER_ONLY),
    # An empty document is refused (400) — but only after the role check.
    ("post", "/api/v1/studies/small/scenarios/", {**PLANNER_ONLY, "planner": 400, "admin": 400}),
    ("get", "/api/v1/studies/small/sessions/{session}/", PLANNER_ONLY),
    # Only a delegate of that very session may answer (negotiation/tests/test_live_pages.py).
    ("post", "/api/v1/studies/small/sessions/{session}/responses/", {p: 401 for p in PERSONAS}),
    ("get", "/api/v1/studies/small/exports/", RESEARCHER_ONLY),
    ("get", "/api/v1/studies/small/exports/999999/download/", {**RESEARCHER_ONLY, "researcher": 404, "admin": 404}),
    ("get", "/api/v1/answers/", {p: 401 for p in PERSONAS} | {"resident": 200}),
    ("post", "/api/v1/answers/", {p: 401 for p in PERSONAS} | {"resident": 200}),
    (
        "get",
        "/api/v1/schema/",
        {p: 401 for p in PERSONAS}
        | {"planner": 200, "researcher": 200, "other_planner": 200, "outsider": 200, "admin": 200},
    ),
]


@pytest.mark.parametrize(("method", "url", "expected"), MATRIX, ids=[f"{m} {u}" for m, u, _ in MATRIX])
def test_every_endpoint_answers_each_persona_as_expected(world, method, url, expected, monkeypatch):
    monkeypatch.setattr("core.jobs.JobKind.publish", lambda *a, **k: True)
    url = url.format(session=world["session"].pk)
    body = {"kind": "rating", "site": "s1", "criterion": "accessibility", "value": 3} if "answers" in url else {}
    got = {p: getattr(_client(world, p), method)(url, body, format="json").status_code for p in PERSONAS}
    assert got == expected


def test_errors_share_one_json_shape(world):
    client = _client(world, "resident")
    bad = client.post(
        "/api/v1/answers/", {"kind": "rating", "site": "s1", "criterion": "accessibility", "value": 9}, format="json"
    )
    assert bad.status_code == 400
    assert bad.json() == {
        "error": {"code": 400, "field": "value", "message": "A rating must be a whole number from 1 to 4."}
    }
    invalid = client.post("/api/v1/answers/", {"kind": "dance"}, format="json")
    assert invalid.status_code == 400 and invalid.json()["error"]["field"] == "kind"
    missing = _client(world, "planner").get("/api/v1/studies/nope/")
    assert missing.status_code == 404 and set(missing.json()["error"]) >= {"code", "message"}
    anonymous = APIClient().get("/api/v1/studies/")
    assert anonymous.json()["error"]["code"] == 401
    assert not Rating.objects.exists()


def test_resident_answers_use_the_same_idempotent_service(world):
    client = _client(world, "resident")
    for value in (1, 2, 4):
        assert client.post(
            "/api/v1/answers/",
            {"kind": "rating", "site": "s1", "criterion": "accessibility", "value": value},
            format="json",
        ).json() == {"saved": True, "stale": False}
    stale = client.post(
        "/api/v1/answers/",
        {"kind": "rating", "site": "s1", "criterion": "accessibility", "value": 1, "client_seq": 1},
        format="json",
    )
    assert stale.json() == {"saved": False, "stale": True}
    assert Rating.objects.get().value == 4
    mine = client.get("/api/v1/answers/").json()
    assert mine["ratings"] == [{"site": "s1", "criterion": "accessibility", "value": 4}]


def test_a_resident_cannot_reach_another_residents_answers(world):
    other = invitations_create(study=world["study"], count=1)[0]
    participant_consent(participant=other.invitation.participant)
    _client(world, "resident").post("/api/v1/answers/", {"kind": "comment", "text": "mine"}, format="json")
    theirs = APIClient()
    theirs.credentials(HTTP_AUTHORIZATION=f"Invitation {other.token}")
    assert theirs.get("/api/v1/answers/").json()["comment"] == ""


def test_api_tokens_are_stored_hashed(personas):
    record, token = api_token_create(user=personas["planner"])
    assert len(token) >= 43
    assert not ApiToken.objects.filter(token_hash=token).exists()
    assert token not in record.token_hash


def test_unknown_query_parameters_cannot_filter_or_order(world):
    client = _client(world, "admin")
    plain = client.get("/api/v1/studies/").json()
    for query in ("?ordering=password", "?user__email__startswith=a", "?search=x&status=closed"):
        assert client.get("/api/v1/studies/" + query).json() == plain


def test_lists_are_paginated(world):
    page = _client(world, "planner").get("/api/v1/studies/small/sites/").json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert [s["code"] for s in page["results"]] == ["s1", "s2"]


def test_the_browsable_pages_speak_the_readers_language(client, personas, study):
    client.force_login(personas["planner"])
    url = f"/api/v1/studies/{study.slug}/scenarios/"
    html = client.get(url, headers={"accept": "text/html", "accept-language": "fr"}).content.decode()
    assert "<title>Scénarios – Django REST framework</title>" in html.replace("&ndash;", "–")
    assert "<p>Les scénarios de négociation de l’étude; POST en importe un depuis son JSON de scénario.</p>" in html
    html = client.get(url, headers={"accept": "text/html", "accept-language": "en"}).content.decode()
    assert "<p>The study&#x27;s negotiation scenarios; POST imports one from its scenario JSON.</p>" in html
