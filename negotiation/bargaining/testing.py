"""Seeded random scenarios for tests and the benchmark (plain numpy, no hypothesis)."""

from __future__ import annotations

import numpy as np


def random_scenario_dict(
    seed: int,
    *,
    n_interventions: int | None = None,
    n_groups: int | None = None,
    n_criteria: int | None = None,
    budget_share: float | None = None,
    saturated_group: bool = False,
    max_rounds: int | None = None,
    exclusion_rate: float = 0.1,
) -> dict:
    """A valid scenario document with random costs, effects, exclusions and caps.

    Baselines are drawn close to the top of the 1..5 scale often enough that the cap binds;
    ``saturated_group`` makes the first group sit at the maximum on every criterion.
    """
    rng = np.random.default_rng(seed)
    n = n_interventions or int(rng.integers(4, 11))
    G = n_groups or int(rng.integers(3, 6))
    C = n_criteria or int(rng.integers(2, 5))
    criteria = [f"c{k}" for k in range(C)]
    codes = [f"I{k}" for k in range(n)]
    groups = []
    for g in range(G):
        w = rng.dirichlet(np.ones(C))
        w = np.round(w, 6)
        w[-1] = round(1.0 - float(w[:-1].sum()), 6)
        base = rng.uniform(1.0, 5.0, C).round(3)
        if saturated_group and g == 0:
            base[:] = 5.0
        groups.append(
            {
                "name": f"group {g}",
                "criterion_weights": dict(zip(criteria, map(float, w), strict=True)),
                "baseline": dict(zip(criteria, map(float, base), strict=True)),
            }
        )
    costs = rng.integers(1, 21, n).astype(float)
    interventions = []
    for k in range(n):
        touched = rng.random(C) < 0.6
        effects = rng.uniform(-0.3, 1.5, C).round(3) * touched
        interventions.append(
            {
                "code": codes[k],
                "name": f"intervention {k}",
                "cost": float(costs[k]),
                "effects": {c: float(e) for c, e in zip(criteria, effects, strict=True) if e},
                "excludes": [codes[j] for j in range(k) if rng.random() < exclusion_rate],
            }
        )
    share = budget_share if budget_share is not None else float(rng.uniform(0.25, 0.6))
    base_designs = []
    for b in range(int(rng.integers(2, 4))):
        chosen = [codes[k] for k in range(n) if rng.random() < 0.35]
        base_designs.append({"name": f"design {b}", "interventions": chosen})
    return {
        "title": f"random scenario {seed}",
        "budget": float(round(share * costs.sum(), 2)),
        "scale": {"min": 1, "max": 5},
        "criteria": criteria,
        "groups": groups,
        "interventions": interventions,
        "base_designs": base_designs,
        "max_rounds": max_rounds or int(rng.integers(3, 11)),
    }


#: The Montreal-style scenario that seeded perturbations start from: six overlapping groups, twelve
#: street interventions on a 1..4 scale, a 900 (k$) budget and three base designs.
MONTREAL_GROUPS = {
    # name: (weights over accessibility, inclusivity, aesthetics, practicality; baseline)
    "Wheelchair users": ((0.45, 0.2, 0.1, 0.25), (1.9, 2.6, 2.7, 2.1)),
    "Aînés 65+": ((0.35, 0.25, 0.15, 0.25), (2.3, 2.8, 2.9, 2.5)),
    "LGBTQIA2+": ((0.15, 0.45, 0.25, 0.15), (2.9, 2.2, 2.8, 2.9)),
    "Immigrants": ((0.2, 0.35, 0.2, 0.25), (2.8, 2.5, 2.9, 2.6)),
    "Women": ((0.25, 0.3, 0.2, 0.25), (2.7, 2.6, 3.0, 2.7)),
    "Men": ((0.2, 0.2, 0.3, 0.3), (3.0, 2.9, 2.8, 2.9)),
}
MONTREAL_CRITERIA = ("accessibility", "inclusivity", "aesthetics", "practicality")
MONTREAL_INTERVENTIONS = (
    # code, name, cost (k$), effects, group_effects, excludes
    (
        "curb_ramps",
        "Curb ramps at every corner",
        120,
        {"accessibility": 0.3, "practicality": 0.1},
        {"Wheelchair users": {"accessibility": 0.8, "practicality": 0.3}},
        (),
    ),
    ("sidewalk_repair", "Sidewalk repair and levelling", 260, {"accessibility": 0.35, "practicality": 0.2}, {}, ()),
    (
        "benches",
        "Benches every 100 m",
        60,
        {"inclusivity": 0.15, "accessibility": 0.1},
        {"Aînés 65+": {"accessibility": 0.3, "inclusivity": 0.25}},
        (),
    ),
    (
        "lighting",
        "Pedestrian-scale lighting",
        150,
        {"inclusivity": 0.25, "practicality": 0.1},
        {"Women": {"inclusivity": 0.45}},
        (),
    ),
    ("greenery", "Shade trees and planting beds", 220, {"aesthetics": 0.4, "inclusivity": 0.1}, {}, ()),
    (
        "rainbow_crosswalk",
        "Rainbow crosswalk",
        40,
        {"aesthetics": 0.1},
        {"LGBTQIA2+": {"inclusivity": 0.6, "aesthetics": 0.3}},
        (),
    ),
    ("bike_lane", "Protected bike lane", 300, {"practicality": 0.3, "aesthetics": 0.05}, {}, ("parking_kept",)),
    ("parking_kept", "Keep on-street parking", 0, {"practicality": 0.05}, {}, ("bike_lane",)),
    ("crossing_signals", "Accessible crossing signals", 140, {"accessibility": 0.25, "practicality": 0.15}, {}, ()),
    ("waste_bins", "Waste bins", 30, {"aesthetics": 0.1, "practicality": 0.05}, {}, ()),
    ("public_art", "Murals and public art", 80, {"aesthetics": 0.2, "inclusivity": 0.1}, {}, ()),
    (
        "multilingual_signs",
        "Multilingual wayfinding",
        50,
        {"practicality": 0.05},
        {"Immigrants": {"inclusivity": 0.35, "practicality": 0.2}},
        (),
    ),
)
MONTREAL_BASE_DESIGNS = (
    ("Green streets", ("greenery", "benches", "waste_bins", "public_art", "parking_kept")),
    ("Mobility first", ("bike_lane", "crossing_signals", "waste_bins", "curb_ramps")),
    ("Sidewalks and crossings", ("sidewalk_repair", "crossing_signals", "curb_ramps", "benches", "lighting")),
)


def montreal_scenario_dict(seed: int | None = None, *, group_effects: bool = True) -> dict:
    """The Montreal-style scenario; with a seed, costs, effects, weights, baselines and the round
    limit are perturbed (so base designs sometimes exceed the budget and caps sometimes bind)."""
    rng = np.random.default_rng(seed) if seed is not None else None
    C = len(MONTREAL_CRITERIA)
    groups = []
    for name, (w, b) in MONTREAL_GROUPS.items():
        w, b = np.array(w, dtype=float), np.array(b, dtype=float)
        if rng is not None:
            w = rng.dirichlet(w * 40)
            b = np.clip(b + rng.normal(0, 0.35, C), 1.0, 4.0)
        w = np.round(w, 6)
        w[-1] = round(1.0 - float(w[:-1].sum()), 6)
        groups.append(
            {
                "name": name,
                "criterion_weights": dict(zip(MONTREAL_CRITERIA, map(float, w), strict=True)),
                "baseline": dict(zip(MONTREAL_CRITERIA, map(float, np.round(b, 3)), strict=True)),
            }
        )

    def jitter(v: float) -> float:
        return float(round(v * rng.uniform(0.4, 1.6), 3)) if rng is not None else v

    interventions = []
    for code, name, cost, effects, by_group, excludes in MONTREAL_INTERVENTIONS:
        item = {
            "code": code,
            "name": name,
            "cost": float(round(cost * rng.lognormal(0, 0.3))) if rng is not None and cost else float(cost),
            "effects": {c: jitter(v) for c, v in effects.items()},
            "excludes": list(excludes),
        }
        if group_effects and by_group:
            item["group_effects"] = {g: {c: jitter(v) for c, v in e.items()} for g, e in by_group.items()}
        interventions.append(item)
    return {
        "title": "Montreal streets" + (f" (perturbation {seed})" if seed is not None else ""),
        "budget": 900.0,
        "scale": {"min": 1, "max": 4},
        "criteria": list(MONTREAL_CRITERIA),
        "groups": groups,
        "interventions": interventions,
        "base_designs": [{"name": n, "interventions": list(codes)} for n, codes in MONTREAL_BASE_DESIGNS],
        "max_rounds": int(rng.integers(3, 21)) if rng is not None else 12,
    }
