"""Scenario documents, survey defaults and sessions, through the services."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.db import transaction
from numpy.testing import assert_allclose

from negotiation.bargaining import ScenarioError, parse_scenario, run_negotiation
from negotiation.models import NegotiationSession, Outcome, Round, Scenario
from negotiation.services import (
    ERROR_STALE,
    ScenarioConflict,
    scenario_create,
    scenario_import,
    scenario_to_document,
    scenario_update_from_document,
    session_pending_sweep,
    session_run,
    session_start,
    stakeholder_defaults,
)
from surveys.models import Criterion, Participant, Priority, Rating, Site, Wave

from .helpers import DOCUMENT, document, make_scenario

pytestmark = pytest.mark.django_db


def test_it_round_trips_the_scenario_json(study):
    scenario = make_scenario(study)
    exported = scenario_to_document(scenario)
    assert parse_scenario(exported) == parse_scenario(DOCUMENT)
    assert exported["groups"][1]["criterion_weights"] == {"accessibility": 0.9, "aesthetics": 0.1}
    assert exported["interventions"][1]["excludes"] == ["murals"]
    again = scenario_import(study=study, document={**exported, "title": "Copy"})
    assert scenario_to_document(again) == {**exported, "title": "Copy"}


def _bad(**changes):
    doc = document(**changes)
    return doc


BAD_INPUTS = [
    ("negative cost", lambda: _with_intervention(1, cost=-5), "interventions[1].cost"),
    (
        "unknown criterion",
        lambda: _with_intervention(0, effects={"noise": 0.3}),
        "interventions[0].effects",
    ),
    (
        "weights not summing to 1",
        lambda: _with_weights(0, {"accessibility": 0.5, "aesthetics": 0.4}),
        "groups[0].criterion_weights",
    ),
    (
        "unknown exclusion",
        lambda: _with_intervention(2, excludes=["fountain"]),
        "interventions[2].excludes",
    ),
    (
        "criterion not in the study",
        lambda: document(criteria=["accessibility", "aesthetics", "noise"]),
        "criteria[2]",
    ),
    ("group not in the study", lambda: _with_group_name(2, "cyclists"), "groups[2].name"),
]


def _with_intervention(k, **fields):
    doc = document()
    doc["interventions"][k].update(fields)
    return doc


def _with_weights(k, weights):
    doc = document()
    doc["groups"][k]["criterion_weights"] = weights
    return doc


def _with_group_name(k, name):
    doc = document()
    doc["groups"][k]["name"] = name
    return doc


@pytest.mark.parametrize("label,build,field", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_it_rejects_bad_input_naming_the_field_and_saves_nothing(study, label, build, field):
    with pytest.raises(ScenarioError) as exc:
        scenario_import(study=study, document=build())
    assert any(e.startswith(field) for e in exc.value.errors), exc.value.errors
    assert not Scenario.objects.exists()


def test_it_rejects_malformed_json_with_its_position(study, client, personas):
    client.force_login(personas["planner"])
    response = client.post(f"/studies/{study.slug}/negotiation/import/", {"document": '{"title": "x",\n "budget": }'})
    assert response.status_code == 400
    assert "invalid JSON at line 2" in response.content.decode()
    assert not Scenario.objects.exists()


def test_a_failed_update_leaves_the_scenario_untouched(study):
    scenario = make_scenario(study)
    before = scenario_to_document(scenario)
    bad = _with_intervention(1, cost=-5)
    bad["budget"] = 999
    with pytest.raises(ScenarioError):
        scenario_update_from_document(scenario=scenario, document=bad, version=scenario.version)
    scenario.refresh_from_db()
    assert scenario_to_document(scenario) == before
    assert scenario.version == 1


def test_a_stale_edit_is_refused(study):
    scenario = make_scenario(study)
    scenario_update_from_document(scenario=scenario, document=document(budget=120), version=1)
    stale = Scenario.objects.get(pk=scenario.pk)
    with pytest.raises(ScenarioConflict) as exc:
        scenario_update_from_document(scenario=stale, document=document(budget=80), version=1)
    assert str(exc.value) == ERROR_STALE
    stale.refresh_from_db()
    assert stale.budget == 120 and stale.version == 2


def test_a_budget_below_every_intervention_yields_the_explained_status_quo(study, django_capture_on_commit_callbacks):
    scenario = make_scenario(study, budget=10)
    with django_capture_on_commit_callbacks(execute=True):
        session = session_start(scenario=scenario)
    session.refresh_from_db()
    assert session.status == NegotiationSession.Status.DONE
    data = session.outcome.data
    assert data["package"]["interventions"] == [] and data["rounds"] == []
    assert "below the cost of every available intervention" in data["explanation"]


@pytest.fixture
def survey(study):
    """Two members with priorities and ratings in wave w1; a later wave w2 without data."""
    w1 = Wave.objects.get(study=study, name="w1")
    Wave.objects.create(study=study, name="w2", order=2)
    groups = {g.code: g for g in study.groups.all()}
    crit = {c.name: c for c in Criterion.objects.filter(study=study, kind="rating")}
    s1, s2 = Site.objects.filter(study=study).order_by("code")
    p1 = Participant.objects.create(study=study, code="p1")
    p1.groups.set([groups["senior"]])
    p2 = Participant.objects.create(study=study, code="p2")
    p2.groups.set([groups["senior"], groups["disabled"]])
    for p, tokens in (
        (p1, {"accessibility": 6, "aesthetics": 4}),
        (p2, {"accessibility": 2, "aesthetics": 8}),
    ):
        for c, t in tokens.items():
            Priority.objects.create(participant=p, wave=w1, criterion=crit[c], tokens=t)
    values = {
        p1: {
            (s1, "accessibility"): 2,
            (s2, "accessibility"): 4,
            (s1, "aesthetics"): 3,
            (s2, "aesthetics"): 1,
        },
        p2: {
            (s1, "accessibility"): 4,
            (s2, "accessibility"): 4,
            (s1, "aesthetics"): 1,
            (s2, "aesthetics"): 1,
        },
    }
    for p, rows in values.items():
        for (site, c), v in rows.items():
            Rating.objects.create(participant=p, wave=w1, site=site, criterion=crit[c], value=v)
    return groups, [s1, s2]


def test_defaults_come_from_priority_tokens_and_mean_ratings(study, survey):
    groups, sites = survey
    criteria = ["accessibility", "aesthetics"]
    senior = stakeholder_defaults(study=study, group=groups["senior"], criteria=criteria, sites=sites)
    # Mean tokens 4 and 6 of 10; mean ratings (2+4+4+4)/4 and (3+1+1+1)/4.
    assert_allclose([senior["criterion_weights"][c] for c in criteria], [0.4, 0.6])
    assert_allclose([senior["baseline"][c] for c in criteria], [3.5, 1.5])
    disabled = stakeholder_defaults(study=study, group=groups["disabled"], criteria=criteria, sites=sites)
    assert_allclose([disabled["criterion_weights"][c] for c in criteria], [0.2, 0.8])
    assert_allclose([disabled["baseline"][c] for c in criteria], [4.0, 1.0])
    # A group without tokens or ratings: equal weights, everyone's mean ratings.
    none = stakeholder_defaults(study=study, group=groups["lgbtqia2"], criteria=criteria, sites=sites)
    assert_allclose([none["criterion_weights"][c] for c in criteria], [0.5, 0.5])
    assert_allclose([none["baseline"][c] for c in criteria], [3.5, 1.5])


def test_a_new_scenario_is_filled_with_the_defaults(study, survey):
    scenario = scenario_create(study=study, title="From the survey", budget=50)
    senior = scenario.stakeholders.get(group__code="senior")
    assert_allclose(senior.criterion_weights["accessibility"], 0.4)
    assert senior.default_baseline == senior.baseline == {"accessibility": 3.5, "aesthetics": 1.5}
    assert senior.defaults_source["weights"] == {"kind": "priorities", "wave": "w1"}
    assert senior.defaults_source["baseline"]["kind"] == "ratings"


def test_a_session_run_saves_rounds_and_outcome_and_is_idempotent(study, django_capture_on_commit_callbacks):
    scenario = make_scenario(study)
    with mock.patch("negotiation.tasks.session_run_task.apply_async") as publish:
        with django_capture_on_commit_callbacks(execute=True):
            session = session_start(scenario=scenario, pinned=["benches"])
    publish.assert_called_once_with(kwargs={"session_id": session.pk}, retry=False, ignore_result=True)
    session.refresh_from_db()
    assert session.status == NegotiationSession.Status.QUEUED
    session = session_run(session_id=session.pk)
    assert session.status == NegotiationSession.Status.DONE and session.progress == 100
    expected = run_negotiation(parse_scenario(DOCUMENT), pinned=["benches"])
    assert session.outcome.data == json.loads(json.dumps(expected))
    assert [r.as_document() for r in session.rounds.all()] == expected["rounds"]
    assert "benches" in session.outcome.data["package"]["interventions"]
    finished = session.finished_at
    again = session_run(session_id=session.pk)
    assert again.finished_at == finished and again.attempts == 1
    assert Round.objects.filter(session=session).count() == len(expected["rounds"])


def test_a_crashed_session_is_rerun_from_the_start(study):
    scenario = make_scenario(study)
    session = NegotiationSession.objects.create(scenario=scenario, snapshot=scenario_to_document(scenario))
    Round.objects.create(session=session, number=7, cost=1, proposal=["ghost"])
    session_run(session_id=session.pk)
    assert not Round.objects.filter(session=session, number=7).exists()
    assert Outcome.objects.filter(session=session).count() == 1


def test_a_rolled_back_transaction_enqueues_nothing(study, django_capture_on_commit_callbacks):
    scenario = make_scenario(study)
    with mock.patch("negotiation.tasks.session_run_task.apply_async") as publish:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            with pytest.raises(RuntimeError), transaction.atomic():
                session_start(scenario=scenario)
                raise RuntimeError("rolled back")
    assert callbacks == []
    publish.assert_not_called()
    assert not NegotiationSession.objects.exists()


def test_a_session_stays_pending_when_the_broker_is_down_and_the_sweep_sends_it(
    study, django_capture_on_commit_callbacks
):
    scenario = make_scenario(study)
    with mock.patch("negotiation.tasks.session_run_task.apply_async", side_effect=OSError("down")):
        with django_capture_on_commit_callbacks(execute=True):
            session = session_start(scenario=scenario)
    session.refresh_from_db()
    assert session.status == NegotiationSession.Status.PENDING
    NegotiationSession.objects.filter(pk=session.pk).update(created_at=session.created_at.replace(year=2000))
    with mock.patch("negotiation.tasks.session_run_task.apply_async") as publish:
        assert session_pending_sweep() == 1
    publish.assert_called_once_with(kwargs={"session_id": session.pk}, retry=False, ignore_result=True)


def test_pins_over_budget_are_refused_before_anything_is_saved(study):
    scenario = make_scenario(study, budget=50)
    with pytest.raises(ScenarioError) as exc:
        session_start(scenario=scenario, pinned=["ramps", "benches"])
    assert exc.value.errors[0].startswith("pinned:")
    assert not NegotiationSession.objects.exists()
