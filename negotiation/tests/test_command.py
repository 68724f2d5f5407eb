"""The negotiate command: outcome JSON on stdout, errors on stderr, no database unless --save."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from negotiation.bargaining import load_scenario, run_negotiation
from negotiation.models import NegotiationSession, Scenario

from .helpers import document

SMALL = Path(__file__).parent / "data" / "small_scenario.json"


@pytest.mark.django_db
def test_negotiate_json_prints_the_outcome_without_touching_the_database(django_assert_num_queries):
    out = io.StringIO()
    with django_assert_num_queries(0):
        call_command("negotiate", str(SMALL), "--json", stdout=out)
    expected = run_negotiation(load_scenario(SMALL.read_text()))
    assert json.loads(out.getvalue()) == json.loads(json.dumps(expected))


@pytest.mark.django_db
def test_negotiate_applies_pins_and_forbids(django_assert_num_queries):
    scenario = load_scenario(SMALL.read_text())
    first, second = scenario.codes[0], scenario.codes[1]
    out = io.StringIO()
    call_command("negotiate", str(SMALL), "--json", "--pin", first, "--forbid", second, stdout=out)
    expected = run_negotiation(scenario, pinned=[first], forbidden=[second])
    assert json.loads(out.getvalue()) == json.loads(json.dumps(expected))


def test_negotiate_writes_errors_to_stderr_and_fails(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**document(), "budget": -1}))
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match=r"invalid scenario \(1 problem\)$"):
        call_command("negotiate", str(path), "--json", stdout=out, stderr=err)
    assert out.getvalue() == ""
    assert "budget: must be ≥ 0 (got -1)" in err.getvalue()


def test_negotiate_reports_malformed_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"title": ')
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("negotiate", str(path), "--json", stdout=io.StringIO(), stderr=err)
    assert "invalid JSON at line 1" in err.getvalue()


@pytest.mark.django_db
def test_negotiate_save_records_scenario_session_rounds_and_outcome(study, tmp_path):
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(document()))
    out = io.StringIO()
    call_command("negotiate", str(path), "--json", "--save", study.slug, stdout=out, stderr=io.StringIO())
    scenario = Scenario.objects.get(study=study, title="Corner fixes")
    session = NegotiationSession.objects.get(scenario=scenario)
    outcome = json.loads(out.getvalue())
    assert session.outcome.data == outcome
    assert session.rounds.count() == len(outcome["rounds"]) > 0
