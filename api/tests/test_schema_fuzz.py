"""Schemathesis against our own OpenAPI schema: no generated request may cause a server error."""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error

from api.services import api_token_create
from conftest import connection_kept
from negotiation.live import live_session_open
from negotiation.tests.helpers import make_scenario
from negotiation.tests.test_live import drain
from surveys.services import invitations_create, participant_consent

schema = schemathesis.openapi.from_dict(json.loads(json.dumps(SchemaGenerator().get_schema(public=True), default=str)))
# Not civic.wsgi: that entry point refuses the development SECRET_KEY the test settings use.
schema.app = get_wsgi_application()


@pytest.fixture
def credentials(study, personas):
    resident = invitations_create(study=study, count=1)[0]
    participant_consent(participant=resident.invitation.participant)
    # A live session with its first round open, so answers reach the code behind the checks.
    seats = {"Seniors": "delegate", "Disabled residents": "agent", "LGBTQIA2+ residents": "agent"}
    session, issued = live_session_open(scenario=make_scenario(study), seats=seats)
    drain(session)
    return {
        "staff": api_token_create(user=personas["admin"])[1],
        "resident": resident.token,
        "delegate": issued[0].token,
        "live": session.pk,
    }


@schema.parametrize()
@hypothesis_settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@pytest.mark.django_db
def test_no_generated_request_causes_a_server_error(case, credentials, monkeypatch):
    monkeypatch.setattr("core.jobs.JobKind.publish", lambda *a, **k: True)
    if case.path_parameters and "slug" in case.path_parameters:
        # Most requests target the real study so they reach the code behind the permission check.
        case.path_parameters["slug"] = "small"
    if case.path.startswith("/api/v1/answers"):
        token = f"Invitation {credentials['resident']}"
    elif case.path.endswith("/responses/"):
        token = f"Delegate {credentials['delegate']}"
        case.path_parameters["pk"] = credentials["live"]
    else:
        token = f"Token {credentials['staff']}"
    # The app's middleware was built at import, with the HTTPS redirect of DEBUG-off settings (the test
    # settings turn it off too late): each request says it came through the TLS proxy, or every one
    # would be a 301 that never reaches a view.
    headers = {"Authorization": token, "X-Forwarded-Proto": "https"}
    with connection_kept():
        response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
    assert response.status_code != 301, response.headers
