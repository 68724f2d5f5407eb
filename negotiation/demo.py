"""The demo negotiation scenario on the Montreal demo study (called by ``seed_demo``).

Interventions are tied to the audited street attributes of the 20 demo streets. Their effects are
the ones suggested from the survey (ridge regression of ratings on audited attributes, see
``bargaining.suggest``) wherever a suggestion exists for a criterion; elsewhere they are the
planner estimates below, which stay modest (a few tenths of a rating point). Costs are rough
orders of magnitude for a 20-street programme, in Canadian dollars. Where an intervention matters
far more to one group (curb ramps and accessible signals to disabled residents, benches to
seniors, lighting to women), that group's effect is set apart as a group effect.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Avg

from surveys.demo import WAVE_BEFORE
from surveys.models import Rating, Study

from .models import Scenario
from .services import (
    effects_suggest,
    group_name,
    scenario_create,
    scenario_to_document,
    scenario_update_from_document,
)

TITLE = "Montreal demo package"
BUDGET = 600_000.0
#: Costs below are in thousands of dollars, for readability.
THOUSAND = 1000
#: {code: {group code: {criterion: rating points}}}: the groups for whom an intervention matters more.
GROUP_EFFECTS = {
    "curb_ramps": {"disabled": {"accessibility": 0.8, "practicality": 0.3}},
    "crossing_signals": {"disabled": {"accessibility": 0.5}},
    "benches": {"senior": {"accessibility": 0.3, "inclusivity": 0.25}},
    "lighting": {"women": {"inclusivity": 0.45}},
}
MAX_ROUNDS = 12

# code, name, cost (k$), planner estimates {criterion: rating points}, excludes
INTERVENTIONS = [
    (
        "curb_ramps",
        "Curb ramps at every corner",
        120,
        {"accessibility": 0.30, "inclusivity": 0.10, "practicality": 0.10},
        [],
    ),
    (
        "sidewalk_repair",
        "Sidewalk repair and levelling",
        260,
        {"accessibility": 0.35, "practicality": 0.20, "aesthetics": 0.10},
        [],
    ),
    (
        "benches",
        "Benches every 100 m",
        60,
        {"inclusivity": 0.15, "practicality": 0.10, "accessibility": 0.10},
        [],
    ),
    (
        "shade_trees",
        "Shade trees and planting beds",
        220,
        {"aesthetics": 0.35, "inclusivity": 0.10},
        [],
    ),
    (
        "lighting",
        "Pedestrian-scale street lighting",
        150,
        {"inclusivity": 0.25, "practicality": 0.10},
        [],
    ),
    (
        "crossing_signals",
        "Accessible crossing signals",
        140,
        {"accessibility": 0.25, "practicality": 0.15},
        [],
    ),
    ("waste_bins", "Waste bins", 30, {"aesthetics": 0.10, "practicality": 0.05}, []),
    (
        "bike_lane",
        "Protected bike lane",
        300,
        {"practicality": 0.30, "aesthetics": 0.05},
        ["parking_kept"],
    ),
    ("parking_kept", "Keep on-street parking", 0, {"practicality": 0.05}, ["bike_lane"]),
    ("public_art", "Murals and public art", 80, {"aesthetics": 0.20, "inclusivity": 0.10}, []),
]

BASE_DESIGNS = [
    ("Green streets", ["shade_trees", "benches", "waste_bins", "public_art", "parking_kept"]),
    ("Mobility first", ["bike_lane", "crossing_signals", "waste_bins"]),
    ("Sidewalks and crossings", ["sidewalk_repair", "crossing_signals", "waste_bins"]),
]


def _group_effects(scenario: Scenario) -> dict[str, dict]:
    names = {g.code: group_name(g) for g in scenario.study.groups.all()}
    return {
        code: {
            names[g]: {c: v for c, v in e.items() if c in scenario.criteria} for g, e in by_group.items() if g in names
        }
        for code, by_group in GROUP_EFFECTS.items()
    }


def _interventions_document(scenario: Scenario) -> list[dict]:
    """Each intervention's effects: the survey's suggestion where there is one, else the
    planner estimate; plus the group effects above."""
    stored = {i.code: i for i in scenario.interventions.all()}
    by_group = _group_effects(scenario)
    out = []
    for code, name, cost, estimate, excludes in INTERVENTIONS:
        suggested = stored[code].suggested_effects if code in stored else {}
        effects = {c: suggested.get(c, estimate.get(c, 0.0)) for c in scenario.criteria}
        effects = {c: v for c, v in effects.items() if v}
        item = {"code": code, "name": name, "cost": cost * THOUSAND, "effects": effects, "excludes": excludes}
        if by_group.get(code):
            item["group_effects"] = by_group[code]
        out.append(item)
    return out


def _groups_with_real_baselines(scenario: Scenario, groups: list[dict]) -> list[dict]:
    """Baselines from the real ratings (the wave "before discussion"), not the illustrative
    second wave the defaults would read: each group's mean rating per criterion over all streets.
    Weights stay the defaults (the mean of the members' synthetic priority tokens)."""
    names = {group_name(s.group): s.group for s in scenario.stakeholders.select_related("group")}
    real = Rating.objects.filter(
        wave__study=scenario.study, wave__name=WAVE_BEFORE, criterion__name__in=scenario.criteria
    )
    out = []
    for entry in groups:
        means = dict(
            real.filter(participant__groups=names[entry["name"]])
            .values_list("criterion__name")
            .annotate(m=Avg("value"))
            .values_list("criterion__name", "m")
        )
        baseline = {
            c: round(float(means[c]), 4) if means.get(c) is not None else v for c, v in entry["baseline"].items()
        }
        out.append({**entry, "baseline": baseline})
    return out


def demo_scenario_seed(*, study: Study) -> list[str]:
    """Create or refresh the demo scenario; returns lines for ``seed_demo`` to print."""
    with transaction.atomic():
        scenario = Scenario.objects.filter(study=study, title=TITLE).first()
        if scenario is None:
            scenario = scenario_create(study=study, title=TITLE, budget=BUDGET, max_rounds=MAX_ROUNDS)
        # First the interventions with estimates, so suggestions can be computed for them...
        document = scenario_to_document(scenario)
        document.update(budget=BUDGET, max_rounds=MAX_ROUNDS)
        document["interventions"] = [
            {"code": c, "name": n, "cost": k * THOUSAND, "effects": e, "excludes": x} for c, n, k, e, x in INTERVENTIONS
        ]
        document["base_designs"] = []
        scenario = scenario_update_from_document(scenario=scenario, document=document, version=scenario.version)
        n_suggested = effects_suggest(scenario=scenario)
        # ...then the effects replaced by the suggestions, and the base designs.
        document["interventions"] = _interventions_document(scenario)
        document["base_designs"] = [{"name": name, "interventions": codes} for name, codes in BASE_DESIGNS]
        document["groups"] = _groups_with_real_baselines(scenario, document["groups"])
        scenario = scenario_update_from_document(scenario=scenario, document=document, version=scenario.version)
    return [
        f"Negotiation scenario '{TITLE}': {len(INTERVENTIONS)} interventions "
        f"({n_suggested} with effects suggested from the survey), "
        f"{len(BASE_DESIGNS)} base designs, "
        f"budget {BUDGET:,.0f} $ — /studies/{study.slug}/negotiation/{scenario.pk}/"
    ]
