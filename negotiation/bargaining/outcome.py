"""Run a whole session and build the outcome JSON of DESIGN.md ("Command line").

Judgement calls, stated once here:

* Base designs are candidates exactly as given, even when they exceed the budget or combine
  mutually exclusive interventions; such designs are flagged ``"within_budget": false`` /
  ``"respects_exclusions": false``. The best base design is the one with the highest total
  (ties: higher worst group, then the earlier design). With no base designs at all, the status
  quo plays the best base design.
* The reservation point is the best base design's utilities. If no feasible package (budget,
  exclusions, pins, forbids) gives every group at least that much — possible when the best base
  design is over budget or clashes with the pins — every reservation is lowered by the same
  smallest amount that makes it attainable, and the explanation says so.
* Pins and forbids apply to the reference rules too, so that they are comparable with the
  negotiated package.
* The status quo is the empty package. When no intervention is affordable (and nothing is pinned)
  there is nothing to negotiate: the outcome is the status quo, with no rounds and
  ``"agreement": false``.
* Floats are rounded to 6 decimals (see ``utility.rounded``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import solvers
from .mes import equal_shares
from .protocol import Session, fmt, make_agents, negotiate
from .scenario import Scenario, check_pins
from .solvers import Problem
from .utility import metrics, package_cost, respects_exclusions, rounded, within_budget

STATUS_QUO = "status quo"


def _describe(prob: Problem, x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> dict:
    """The contract fields of one package."""
    u = prob.u(x)
    return {
        "interventions": prob.s.codes_of(x),
        "cost": package_cost(prob.s, x),
        "utilities": {n: float(u[g]) for g, n in enumerate(prob.s.group_names)},
        "metrics": metrics(u, lo, hi),
        "within_budget": within_budget(prob.s, x),
        "respects_exclusions": respects_exclusions(prob.s, x),
    }


def _best_base_design(prob: Problem) -> tuple[str, np.ndarray]:
    """Highest total, then higher worst group, then the earlier design."""
    s = prob.s
    if not s.base_designs:
        return STATUS_QUO, np.zeros(prob.n, dtype=bool)
    scored = []
    for k, b in enumerate(s.base_designs):
        x = s.mask(b.interventions)
        u = prob.u(x)
        scored.append((-u.sum(), -u.min(), k, b.name, x))
    scored.sort(key=lambda t: t[:3])
    return scored[0][3], scored[0][4]


def _nothing_affordable(prob: Problem) -> bool:
    free = (prob.x_ub > 0.5) & (prob.x_lb < 0.5)
    return not prob.x_lb.any() and bool(np.all(prob.s.costs[free] > prob.s.budget))


def _reservation(prob: Problem, d: np.ndarray) -> tuple[np.ndarray, float]:
    """The attainable reservation point and how far it had to be lowered (0 if not at all)."""
    t = solvers.max_min_gain(prob, d)
    shift = 0.0 if t is None or t >= -1e-9 else -t
    return d - shift, shift


def run_negotiation(
    scenario: Scenario,
    *,
    pinned: tuple[str, ...] | list[str] = (),
    forbidden: tuple[str, ...] | list[str] = (),
    on_round: Callable[[dict], None] | None = None,
) -> dict:
    """Negotiate a package for the scenario and return the full outcome JSON document.

    ``on_round(round_dict)`` is called after each round with the JSON-ready round record.
    Raises ScenarioError for unknown, conflicting or unaffordable pins/forbids.
    """
    pinned, forbidden = tuple(pinned), tuple(forbidden)
    check_pins(scenario, pinned, forbidden)
    prob = Problem(scenario, pinned, forbidden)
    best_name, best_x = _best_base_design(prob)
    reservation, shift = _reservation(prob, prob.u(best_x))
    refs = _references(prob, reservation)
    if _nothing_affordable(prob):
        session = Session([], False, None, {"kind": "none", "description": "no negotiation"})
    else:
        best = [solvers.best_for_group(prob, g) for g in range(prob.n_groups)]
        agents = make_agents(prob, reservation, best)
        session = negotiate(prob, agents, refs["nash"].x, on_round)
    return rounded(_assemble(prob, session, best_name, best_x, refs, reservation, shift))


def _references(prob: Problem, reservation: np.ndarray) -> dict:
    nash = solvers.nash(prob, reservation)
    assert nash is not None  # The reservation is attainable by construction.
    return {
        "utilitarian": solvers.utilitarian(prob),
        "egalitarian": solvers.egalitarian(prob),
        "nash": nash,
        "equal_shares": equal_shares(prob),
    }


def _assemble(prob, session, best_name, best_x, refs, reservation, shift) -> dict:
    s = prob.s
    status_quo = np.zeros(prob.n, dtype=bool)
    if session.agreement:
        package = session.x
    elif session.rounds:
        package = best_x
    else:
        package = status_quo
    ref_x = {k: (v.x if isinstance(v, solvers.NashResult) else v) for k, v in refs.items()}
    candidates = [status_quo, package, *ref_x.values()]
    candidates += [s.mask(b.interventions) for b in s.base_designs]
    U = np.array([prob.u(x) for x in candidates])
    lo, hi = U.min(axis=0), U.max(axis=0)
    best = {"name": best_name, **_describe(prob, best_x, lo, hi)}
    references = {k: _describe(prob, x, lo, hi) for k, x in ref_x.items()}
    references["nash"]["solver"] = refs["nash"].to_json(s.group_names)
    out = {
        "agreement": session.agreement,
        "rounds": session.rounds,
        "package": _describe(prob, package, lo, hi),
        "best_base_design": best,
        "references": references,
        "status_quo": _describe(prob, status_quo, lo, hi),
        "base_designs": [{"name": b.name, **_describe(prob, s.mask(b.interventions), lo, hi)} for b in s.base_designs],
        "concession_schedule": session.schedule,
        "reservations": {n: float(reservation[g]) for g, n in enumerate(s.group_names)},
        "pinned": list(prob.pinned),
        "forbidden": list(prob.forbidden),
        "scenario": {"title": s.title, "budget": s.budget},
    }
    out["explanation"] = explain(prob, out, shift)
    return out


def explain(prob: Problem, out: dict, shift: float) -> str:
    """A few sentences summarising the outcome for planners."""
    s = prob.s
    pkg, best = out["package"], out["best_base_design"]
    parts: list[str] = []
    if not out["rounds"]:
        cheapest = min(s.interventions, key=lambda i: i.cost, default=None)
        cheapest_text = f" (the cheapest, {cheapest.name}, costs {cheapest.cost:g})" if cheapest else ""
        parts.append(
            f"The budget of {s.budget:g} is below the cost of every available intervention"
            f"{cheapest_text}, so the only affordable package is the status quo; "
            "there was nothing to negotiate."
        )
        return " ".join(parts)
    n_rounds = len(out["rounds"])
    if out["agreement"]:
        parts.append(
            f"The {len(s.groups)} groups agreed after {n_rounds} round"
            f"{'s' if n_rounds != 1 else ''} on {len(pkg['interventions'])} interventions "
            f"costing {pkg['cost']:g} of the {s.budget:g} budget."
        )
    else:
        parts.append(
            f'No agreement within {n_rounds} rounds; the outcome falls back to the best base design "{best["name"]}".'
        )
        if not best["within_budget"]:
            parts.append("Note that this design exceeds the budget.")
    parts.append(_comparison(pkg, best))
    if shift > 0:
        parts.append(
            f'No affordable package gives every group its utility under "{best["name"]}", so '
            f"every reservation was lowered by {fmt(shift)}."
        )
    return " ".join(p for p in parts if p)


def _comparison(pkg: dict, best: dict) -> str:
    m, b = pkg["metrics"], best["metrics"]
    worst_group = min(pkg["utilities"], key=pkg["utilities"].get)
    return (
        f'Compared with the best base design "{best["name"]}", total utility goes from '
        f"{fmt(b['total_utility'])} to {fmt(m['total_utility'])}, the worst-off group "
        f"({worst_group}) from {fmt(b['worst_group_utility'])} to {fmt(m['worst_group_utility'])}, "
        f"20th-percentile satisfaction from {fmt(b['p20_satisfaction'])} to "
        f"{fmt(m['p20_satisfaction'])}, and the Gini coefficient from {_g(b['gini'])} to "
        f"{_g(m['gini'])}."
    )


def _g(v: float | None) -> str:
    return "undefined" if v is None else f"{v:.3f}"
