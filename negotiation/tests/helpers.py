"""Scenario documents and rows shared by the negotiation tests (on the conftest `study`)."""

from __future__ import annotations

import copy

from negotiation.bargaining import parse_scenario, run_negotiation
from negotiation.services import scenario_import, session_save_outcome

DOCUMENT = {
    "title": "Corner fixes",
    "budget": 100,
    "scale": {"min": 1, "max": 4},
    "criteria": ["accessibility", "aesthetics"],
    "groups": [
        {
            "name": "Seniors",
            "criterion_weights": {"accessibility": 0.7, "aesthetics": 0.3},
            "baseline": {"accessibility": 2.0, "aesthetics": 2.5},
        },
        {
            "name": "Disabled residents",
            "criterion_weights": {"accessibility": 0.9, "aesthetics": 0.1},
            "baseline": {"accessibility": 1.5, "aesthetics": 2.5},
        },
        {
            "name": "LGBTQIA2+ residents",
            "criterion_weights": {"accessibility": 0.2, "aesthetics": 0.8},
            "baseline": {"accessibility": 2.5, "aesthetics": 2.0},
        },
    ],
    "interventions": [
        {
            "code": "ramps",
            "name": "Curb ramps",
            "cost": 40,
            "effects": {"accessibility": 0.6},
            "excludes": [],
        },
        {
            "code": "trees",
            "name": "Shade trees",
            "cost": 50,
            "effects": {"aesthetics": 0.7, "accessibility": 0.1},
            "excludes": ["murals"],
        },
        {
            "code": "murals",
            "name": "Murals",
            "cost": 30,
            "effects": {"aesthetics": 0.5},
            "excludes": ["trees"],
        },
        {
            "code": "benches",
            "name": "Benches",
            "cost": 20,
            "effects": {"accessibility": 0.2, "aesthetics": 0.1},
            "excludes": [],
        },
    ],
    "base_designs": [
        {"name": "Greening", "interventions": ["trees", "benches"]},
        {"name": "Access", "interventions": ["ramps", "benches"]},
    ],
    "max_rounds": 6,
}


def document(**changes) -> dict:
    doc = copy.deepcopy(DOCUMENT)
    doc.update(changes)
    return doc


def make_scenario(study, **changes):
    return scenario_import(study=study, document=document(**changes))


def make_done_session(scenario, **kwargs):
    from negotiation.services import scenario_to_document

    outcome = run_negotiation(parse_scenario(scenario_to_document(scenario)), **kwargs)
    return session_save_outcome(scenario=scenario, outcome=outcome, **kwargs)
