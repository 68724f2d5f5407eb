"""Scenario parsing and validation: every error names its field (no Django)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from negotiation.bargaining import (
    ScenarioError,
    load_scenario,
    parse_scenario,
    scenario_to_json,
)
from negotiation.bargaining.scenario import Issue

DATA = Path(__file__).parent / "data" / "small_scenario.json"


def _small() -> dict:
    return json.loads(DATA.read_text())


def _set(path: list, value):
    def mutate(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        if value is DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return mutate


DELETE = object()

CASES = [
    (_set(["interventions", 3, "cost"], -1), "interventions[3].cost: must be ≥ 0"),
    (_set(["interventions", 3, "cost"], "ten"), "interventions[3].cost: must be a finite number"),
    (_set(["interventions", 3, "cost"], True), "interventions[3].cost: must be a finite number"),
    (
        _set(["groups", 1, "criterion_weights", "accessibility"], 0.2),
        "groups[1].criterion_weights: must sum to 1 (got 0.9)",
    ),
    (
        _set(["interventions", 2, "effects", "foo"], 0.1),
        'interventions[2].effects: unknown criterion "foo"',
    ),
    (
        _set(["interventions", 0, "excludes"], ["X9"]),
        'interventions[0].excludes: unknown intervention "X9"',
    ),
    (_set(["interventions", 1, "code"], "RAMP"), "interventions[1].code: duplicate intervention"),
    (_set(["interventions", 1, "effects"], DELETE), "interventions[1].effects: missing"),
    (_set(["groups", 0, "baseline", "aesthetics"], 7), "groups[0].baseline.aesthetics: must lie"),
    (
        _set(["groups", 0, "baseline"], {"accessibility": 2}),
        "groups[0].baseline: missing criterion",
    ),
    (_set(["groups", 2, "name"], "seniors"), "groups[2].name: duplicate group name"),
    (_set(["base_designs", 1, "interventions"], ["RAMP", "ZZ"]), "base_designs[1].interventions"),
    (_set(["budget"], -5), "budget: must be ≥ 0"),
    (_set(["budget"], DELETE), "budget: missing"),
    (_set(["title"], DELETE), "title: missing"),
    (_set(["criteria"], "accessibility"), "criteria: must be a list"),
    (_set(["groups"], []), "groups: must list at least one group"),
    (_set(["scale"], {"min": 4, "max": 1}), "scale: min must be below max"),
    (_set(["max_rounds"], 0), "max_rounds: must be a whole number from 1 to 200"),
    (_set(["interventions", 4], "MURAL"), "interventions[4]: must be an object"),
]


@pytest.mark.parametrize(("mutate", "expected"), CASES)
def test_each_error_names_its_field(mutate, expected):
    doc = _small()
    mutate(doc)
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(doc)
    assert any(e.startswith(expected) for e in exc.value.errors), exc.value.errors


def test_all_errors_are_collected():
    doc = _small()
    doc["budget"] = -1
    doc["interventions"][0]["cost"] = -2
    doc["interventions"][1]["effects"]["nope"] = 1
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(doc)
    assert len(exc.value.errors) == 3
    assert "budget" in str(exc.value)


def test_malformed_json_reports_line_and_column():
    with pytest.raises(ScenarioError) as exc:
        load_scenario('{\n  "title": "x",\n  "budget": ,\n}')
    assert "line 3, column" in str(exc.value)


def test_round_trip():
    s = parse_scenario(_small())
    assert parse_scenario(scenario_to_json(s)) == s
    assert json.loads(json.dumps(scenario_to_json(s))) == scenario_to_json(s)


def test_exclusions_are_symmetric():
    s = parse_scenario(_small())
    pairs = {(s.codes[i], s.codes[j]) for i, j in s.exclusion_pairs}
    assert pairs == {("PAVE", "COBB"), ("PLAZA", "LANE")}


def test_no_django_import():
    root = Path(__file__).resolve().parents[1] / "bargaining"
    for path in root.glob("*.py"):
        text = path.read_text()
        assert "import django" not in text and "from django" not in text, path


def test_every_problem_carries_its_message_and_values_for_translation():
    from negotiation.bargaining.scenario import ScenarioError, parse_scenario

    with pytest.raises(ScenarioError) as exc:
        parse_scenario({"title": "", "budget": -1, "scale": {"min": 1, "max": 4}, "criteria": ["a"], "groups": []})
    issue = next(i for i in exc.value.issues if i.path == "budget")
    assert issue.message == "must be ≥ {minimum:g} (got {value:g})" and issue.params == {"minimum": 0, "value": -1}
    assert "budget: must be ≥ 0 (got -1)" in exc.value.errors
    french = {"must be ≥ {minimum:g} (got {value:g})": "doit être ≥ {minimum:g} (reçu : {value:g})"}
    translated = exc.value.messages(lambda m: french.get(m, m))  # The message is translated, then filled in.
    assert "budget: doit être ≥ 0 (reçu : -1)" in translated


def test_numbers_in_a_problem_are_written_with_the_readers_decimal_separator():
    error = ScenarioError(Issue("groups[0].criterion_weights", "must sum to 1 (got {value:g})", {"value": 1.3}))
    assert error.messages(lambda m: m.replace("got", "reçu :"), ",") == [
        "groups[0].criterion_weights: must sum to 1 (reçu : 1,3)"
    ]
    assert error.by_path(lambda m: m, ",") == {"groups[0].criterion_weights": ["must sum to 1 (got 1,3)"]}
    assert error.errors == ["groups[0].criterion_weights: must sum to 1 (got 1.3)"]  # the command's English
