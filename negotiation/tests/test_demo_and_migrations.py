"""The demo scenario delivers what the issue promises; no model change lacks its migration."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from negotiation.demo import TITLE, demo_scenario_seed
from negotiation.models import Scenario
from negotiation.services import session_run, session_start
from surveys.demo import demo_seed


@pytest.mark.django_db
def test_the_demo_package_beats_the_best_base_design(settings, tmp_path, django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path / "media"
    study = demo_seed(invitations=1).study
    lines = demo_scenario_seed(study=study)
    assert demo_scenario_seed(study=study)[0] == lines[0]  # Idempotent.
    scenario = Scenario.objects.get(study=study, title=TITLE)
    assert Scenario.objects.filter(study=study).count() == 1
    assert scenario.stakeholders.count() == study.groups.count()
    assert scenario.base_designs.count() == 3
    assert sum(1 for i in scenario.interventions.all() if i.suggested_effects) >= 5
    # Where each suggestion came from is kept as data, one entry per criterion with its figures.
    sourced = [i.suggestion_source for i in scenario.interventions.all() if i.suggested_effects]
    assert all(set(src["criteria"]) == set(scenario.criteria) for src in sourced)
    assert all(src["wave"] and src["criteria"][c]["n_ratings"] > 0 for src in sourced for c in src["criteria"])
    assert any(i.suggestion_source == {"unmatched": True} for i in scenario.interventions.all())
    assert all(s.defaults_source["weights"]["kind"] == "priorities" for s in scenario.stakeholders.all())
    assert sum(i.cost for i in scenario.interventions.all()) > 2 * scenario.budget
    with django_capture_on_commit_callbacks(execute=True):
        session = session_start(scenario=scenario)
    session = session_run(session_id=session.pk)
    data = session.outcome.data
    package, best = data["package"]["metrics"], data["best_base_design"]["metrics"]
    assert data["agreement"] is True
    assert package["worst_group_utility"] >= best["worst_group_utility"]
    assert package["total_utility"] >= best["total_utility"]


@pytest.mark.django_db
def test_no_migration_is_missing():
    out = io.StringIO()
    call_command("makemigrations", "negotiation", "--check", "--dry-run", stdout=out)
