"""Property-based tests of a whole negotiation over random scenarios (hypothesis, no Django).

Every generated scenario is valid; the properties are the promises of the protocol: no exception,
the package is affordable and respects exclusions, nobody ends below their reservation, a round
where every agent accepts ends the session in agreement on that proposal, and the best base design
is an eligible one.

By default a few hundred examples run (CI); ``HYPOTHESIS_PROFILE=thorough`` runs thousands.
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from negotiation.bargaining import parse_scenario, run_negotiation
from negotiation.bargaining.solvers import Problem

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("thorough", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")

TOL = 1e-6


@st.composite
def scenarios(draw):
    n_c = draw(st.integers(1, 3))
    n_g = draw(st.integers(1, 5))
    n_i = draw(st.integers(1, 8))
    lo, hi = draw(st.sampled_from([(1, 4), (1, 5), (0, 10)]))
    criteria = [f"c{k}" for k in range(n_c)]
    top = st.just(float(hi))
    level = st.floats(lo, hi, allow_nan=False).map(lambda v: round(v, 3))
    groups = []
    for g in range(n_g):
        raw = draw(st.lists(st.integers(0, 10), min_size=n_c, max_size=n_c))
        raw = raw if sum(raw) else [1] * n_c
        w = np.round(np.array(raw, dtype=float) / sum(raw), 6)
        w[-1] = round(1.0 - float(w[:-1].sum()), 6)
        baseline = {c: draw(st.one_of(level, top)) for c in criteria}
        groups.append(
            {
                "name": f"Group {g} +é",
                "criterion_weights": dict(zip(criteria, map(float, w), strict=True)),
                "baseline": baseline,
            }
        )
    effect = st.one_of(st.just(0.0), st.floats(-1.0, 2.0, allow_nan=False).map(lambda v: round(v, 4)))
    interventions = []
    codes = [f"i{k}" for k in range(n_i)]
    for k, code in enumerate(codes):
        item = {
            "code": code,
            "name": f"Intervention {k}",
            "cost": draw(st.one_of(st.integers(0, 50).map(float), st.floats(0, 50).map(lambda v: round(v, 2)))),
            "effects": {c: e for c in criteria if (e := draw(effect))},
            "excludes": [other for other in codes[:k] if draw(st.booleans()) and draw(st.booleans())],
        }
        if draw(st.booleans()):
            g = draw(st.integers(0, n_g - 1))
            item["group_effects"] = {groups[g]["name"]: {c: draw(effect) for c in criteria}}
        interventions.append(item)
    designs = [
        {"name": f"Design {b}", "interventions": [c for c in codes if draw(st.booleans())]}
        for b in range(draw(st.integers(0, 3)))
    ]
    total = sum(i["cost"] for i in interventions)
    budget = round(draw(st.floats(0, 1)) * total, 2)
    return {
        "title": "random",
        "budget": budget,
        "scale": {"min": lo, "max": hi},
        "criteria": criteria,
        "groups": groups,
        "interventions": interventions,
        "base_designs": designs,
        "max_rounds": draw(st.integers(1, 6)),
        "mediator": draw(st.sampled_from(["nash", "maximin"])),
    }


@settings(settings.get_profile(PROFILE))
@given(doc=scenarios())
def test_every_random_scenario_negotiates_within_the_promises(doc):
    s = parse_scenario(doc)
    out = run_negotiation(s)
    prob = Problem(s)
    pkg = out["package"]
    x = s.mask(pkg["interventions"])
    assert pkg["within_budget"] and pkg["respects_exclusions"]
    assert s.costs[x].sum() <= s.budget * (1 + 1e-12) + 1e-9
    u = prob.u(x)
    reservation = np.array([out["reservations"][g] for g in s.group_names])
    if out["rounds"]:
        assert np.all(u >= reservation - TOL), (u, reservation)
    best = out["best_base_design"]
    assert best["within_budget"] and best["respects_exclusions"]
    assert len(out["rounds"]) <= s.max_rounds
    for k, r in enumerate(out["rounds"]):
        unanimous = all(resp["accept"] for resp in r["responses"].values())
        if unanimous:
            assert out["agreement"] and k == len(out["rounds"]) - 1
            assert pkg["interventions"] == r["proposal"]
    if out["rounds"] and s.max_rounds >= 2:
        # The schedule brings every blocking agent to its reservation by the last round.
        assert out["agreement"]
    if not out["agreement"] and out["rounds"]:
        assert pkg["interventions"] == best["interventions"]
    # The worst group's figure in the sentence is that group's own utility.
    name = min(pkg["utilities"], key=pkg["utilities"].get)
    assert pkg["metrics"]["worst_group_utility"] == pkg["utilities"][name]
