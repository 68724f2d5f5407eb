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
