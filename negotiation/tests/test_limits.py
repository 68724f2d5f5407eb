"""Limits on scenario documents: every bad value is refused with its field named (never a 500),
by the one validation the editor, the import, the API and the command share."""

from __future__ import annotations

import copy
import json

import pytest

from negotiation.bargaining import ScenarioError, load_scenario, parse_scenario
from negotiation.bargaining.scenario import decode_document

from .helpers import DOCUMENT


def _errors(doc) -> list[str]:
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(doc)
    return exc.value.errors


def _doc(**changes):
    doc = copy.deepcopy(DOCUMENT)
    doc.update(changes)
    return doc


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"title": "t" * 201}, "title: must be at most 200 characters (got 201)"),
        ({"budget": 1e308}, "budget: must be ≤ 1e+12"),
        ({"budget": float("inf")}, "budget: must be a finite number"),
        ({"max_rounds": 40_000}, "max_rounds: must be a whole number from 1 to 200 (got 40000)"),
        ({"mediator": "dictator"}, "mediator: must be one of nash, maximin"),
        ({"title": "a\x00b"}, "title: must not contain control characters"),
    ],
)
def test_top_level_limits_name_the_field(change, expected):
    assert any(e.startswith(expected) for e in _errors(_doc(**change))), _errors(_doc(**change))


def test_names_codes_and_costs_have_limits():
    doc = _doc()
    doc["groups"][0]["name"] = "g" * 121
    doc["interventions"][0]["code"] = "c" * 61
    doc["interventions"][1]["cost"] = 1e308
    doc["interventions"][2]["effects"] = {"aesthetics": 50}
    errors = _errors(doc)
    assert "groups[0].name: must be at most 120 characters (got 121)" in errors
    assert "interventions[0].code: must be at most 60 characters (got 61)" in errors
    assert any(e.startswith("interventions[1].cost: must be ≤ 1e+12") for e in errors)
    assert any(e.startswith("interventions[2].effects.aesthetics: must lie between -3 and 3") for e in errors)


def test_counts_are_bounded():
    doc = _doc()
    doc["interventions"] = [
        {"code": f"i{k}", "name": f"I {k}", "cost": 1, "effects": {}, "excludes": []} for k in range(501)
    ]
    doc["base_designs"] = []
    assert "interventions: must list at most 500 items (got 501)" in _errors(doc)
    doc = _doc(groups=[copy.deepcopy(DOCUMENT["groups"][0]) | {"name": f"G{k}"} for k in range(51)])
    assert "groups: must list at most 50 items (got 51)" in _errors(doc)


def test_group_effects_must_name_known_groups_and_criteria():
    doc = _doc()
    doc["interventions"][0]["group_effects"] = {"Nobody": {"accessibility": 1}, "Seniors": {"colour": 1}}
    errors = _errors(doc)
    assert 'interventions[0].group_effects: unknown group "Nobody"' in errors
    assert 'interventions[0].group_effects.Seniors: unknown criterion "colour"' in errors


def test_group_effects_override_the_common_effect_for_that_group():
    doc = _doc()
    doc["interventions"][0]["group_effects"] = {"Disabled residents": {"accessibility": 1.2}}
    s = parse_scenario(doc)
    from negotiation.bargaining.utility import utilities

    x = s.mask(["ramps"])
    base = utilities(s, s.mask([]))
    gain = utilities(s, x) - base
    # Seniors see the common +0.6 on accessibility (weight 0.7); disabled residents +1.2 (weight 0.9).
    assert gain[0] == pytest.approx(0.7 * 0.6)
    assert gain[1] == pytest.approx(0.9 * 1.2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[" * 100_000 + "]" * 100_000, "(document): nested deeper than 20 levels"),
        ("{\x00}", "(document): must not contain NUL characters"),
        ("{", "(document): invalid JSON at line 1"),
    ],
)
def test_json_text_limits(text, expected):
    with pytest.raises(ScenarioError) as exc:
        load_scenario(text)
    assert exc.value.errors[0].startswith(expected)


def test_a_valid_document_decodes():
    assert decode_document(json.dumps(DOCUMENT)) == DOCUMENT


def test_an_escaped_nul_is_refused_in_its_field():
    doc = _doc(title="placeholder")
    text = json.dumps(doc).replace("placeholder", "a\\u0000b")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(text)
    assert "title: must not contain control characters such as NUL" in exc.value.errors
