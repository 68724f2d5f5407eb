"""Run a whole session and build the outcome JSON document (keys beyond the contract welcome).

Rules, stated once here:

* Only base designs within the budget and respecting the exclusions are candidates for the
  **best base design**: the one with the highest total (ties: higher worst group, then the earlier
  design). Every base design is still listed, flagged ``"within_budget"`` /
  ``"respects_exclusions"``. With no eligible base design, the status quo plays the best base
  design.
* The **reservation** point is the best base design's utilities. If no feasible package (budget,
  exclusions, pins, forbids) gives every group at least that much — possible only when pins or
  forbids clash with the best base design — every reservation is lowered by the same smallest
  amount that makes it attainable, and the explanation says so.
* Pins and forbids apply to the reference rules too, so that they are comparable with the
  negotiated package.
* The status quo is the empty package. When no intervention is affordable (and nothing is pinned)
  there is nothing to negotiate: the outcome is the status quo, with no rounds and
  ``"agreement": false``.
* **P20 satisfaction** normalises each group's utility between the lowest and highest it gets over
  a fixed candidate set Q: the status quo, the eligible base designs, the reference packages
  (utilitarian, egalitarian, Nash, Method of Equal Shares) and each group's own best feasible
  package. The negotiated package is not in Q, so its figure never moves Q; it lies inside Q's
  range anyway (at least the reservation, at most each group's best). ``p20_candidates`` names Q.
* Floats are rounded to 6 decimals (see ``utility.rounded``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import solvers
from .mes import equal_shares
from .protocol import Protocol, Session, best_package_calls, fmt, mediator_package
from .scenario import Scenario, check_pins
from .solvers import Problem
from .utility import metrics, package_cost, respects_exclusions, rounded, within_budget

STATUS_QUO = "status quo"
#: Reference rules in the order they are shown.
REFERENCE_RULES = ("utilitarian", "egalitarian", "nash", "equal_shares")
#: Metrics where more is better; Gini is the one where less is.
HIGHER_IS_BETTER = ("total_utility", "worst_group_utility", "p20_satisfaction")
#: Differences smaller than this are treated as ties when comparing packages.
COMPARE_TOL = 1e-6


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


def eligible(prob: Problem, x: np.ndarray) -> bool:
    """A base design may be the best one only within the budget and respecting exclusions."""
    return within_budget(prob.s, x) and respects_exclusions(prob.s, x)


def best_base_design(prob: Problem) -> tuple[str, np.ndarray]:
    """Highest total, then higher worst group, then the earlier design, among eligible ones."""
    s = prob.s
    scored = []
    for k, b in enumerate(s.base_designs):
        x = s.mask(b.interventions)
        if not eligible(prob, x):
            continue
        u = prob.u(x)
        scored.append((-u.sum(), -u.min(), k, b.name, x))
    if not scored:
        return STATUS_QUO, np.zeros(prob.n, dtype=bool)
    scored.sort(key=lambda t: t[:3])
    return scored[0][3], scored[0][4]


_best_base_design = best_base_design  # The benchmark's older name.


def _nothing_affordable(prob: Problem) -> bool:
    free = (prob.x_ub > 0.5) & (prob.x_lb < 0.5)
    return not prob.x_lb.any() and bool(np.all(prob.s.costs[free] > prob.s.budget))


def _respects_session(prob: Problem, x: np.ndarray) -> bool:
    return bool(np.all(x >= (prob.x_lb > 0.5)) and np.all(x <= (prob.x_ub > 0.5)))


def _reservation(prob: Problem, d: np.ndarray | None = None, best_x: np.ndarray | None = None):
    """The attainable reservation point and how far it had to be lowered (0 if not at all).

    When the best base design itself is allowed by the pins and forbids it attains d, and no
    solver is needed."""
    if best_x is not None:
        d = prob.u(best_x)
        if eligible(prob, best_x) and _respects_session(prob, best_x):
            return d, 0.0
    t = solvers.max_min_gain(prob, d)
    shift = 0.0 if t is None or t >= -1e-9 else -t
    return d - shift, shift


@dataclass
class Opening:
    """What a session starts from: the problem, the best base design, the (attainable)
    reservation, the references solved before the rounds and the protocol (None when nothing
    is affordable and there is nothing to negotiate)."""

    prob: Problem
    best_name: str
    best_x: np.ndarray
    reservation: np.ndarray
    shift: float
    mediator: str
    refs: dict
    protocol: Protocol | None


def negotiation_open(
    scenario: Scenario,
    *,
    pinned: tuple[str, ...] | list[str] = (),
    forbidden: tuple[str, ...] | list[str] = (),
    mediator: str | None = None,
) -> Opening:
    """Solve the opening positions of a session (simulated or live). Raises ScenarioError for
    unknown, conflicting or unaffordable pins/forbids."""
    pinned, forbidden = tuple(pinned), tuple(forbidden)
    check_pins(scenario, pinned, forbidden)
    mediator = mediator or scenario.mediator
    prob = Problem(scenario, pinned, forbidden)
    best_name, best_x = best_base_design(prob)
    reservation, shift = _reservation(prob, best_x=best_x)
    refs: dict = {"nash": None}
    negotiable = not _nothing_affordable(prob)
    # The mediator's package and every group's best package are independent solves.
    chosen, *best = solvers.in_parallel(
        [lambda: mediator_package(prob, mediator, reservation), *(best_package_calls(prob) if negotiable else [])]
    )
    refs[mediator] = chosen
    protocol = None
    if negotiable:
        protocol = Protocol.open(
            prob, reservation, best=best, fallback=chosen.x if chosen is not None else best_x, mediator=mediator
        )
    return Opening(prob, best_name, best_x, reservation, shift, mediator, refs, protocol)


def negotiation_outcome(opening: Opening, session: Session, preferred: list[np.ndarray]) -> dict:
    """The outcome JSON document of a finished session (its rounds, agreement and package),
    with the reference rules solved on the same problem."""
    prob, refs = opening.prob, dict(opening.refs)
    calls = {
        "utilitarian": lambda: solvers.utilitarian(prob),
        "egalitarian": lambda: solvers.egalitarian(prob),
        "equal_shares": lambda: equal_shares(prob),
    }
    if refs["nash"] is None:
        calls["nash"] = lambda: solvers.nash(prob, opening.reservation)
    refs.update(zip(calls, solvers.in_parallel(list(calls.values())), strict=True))
    return rounded(
        _assemble(
            prob,
            session,
            opening.best_name,
            opening.best_x,
            refs,
            opening.reservation,
            opening.shift,
            preferred,
            opening.mediator,
        )
    )


def run_negotiation(
    scenario: Scenario,
    *,
    pinned: tuple[str, ...] | list[str] = (),
    forbidden: tuple[str, ...] | list[str] = (),
    on_round: Callable[[dict], None] | None = None,
    mediator: str | None = None,
) -> dict:
    """Negotiate a package for the scenario with the automatic agents and return the full
    outcome JSON document.

    ``on_round(round_dict)`` is called after each round with the JSON-ready round record.
    ``mediator`` overrides the scenario's mediator rule ("nash" or "maximin").
    Raises ScenarioError for unknown, conflicting or unaffordable pins/forbids.
    """
    opening = negotiation_open(scenario, pinned=pinned, forbidden=forbidden, mediator=mediator)
    protocol = opening.protocol
    if protocol is None:
        session = Session(
            [], False, None, {"kind": "none", "description": "no negotiation", "mediator": opening.mediator}
        )
        preferred = []
    else:
        # Rounds first, reference rules after: the first round is not kept waiting for them.
        session = protocol.run(on_round)
        preferred = [a.preferred for a in protocol.agents]
    return negotiation_outcome(opening, session, preferred)


def _package_of(value, fallback: np.ndarray) -> np.ndarray:
    if isinstance(value, solvers.NashResult):
        return value.x
    return fallback if value is None else value


def _assemble(prob, session, best_name, best_x, refs, reservation, shift, preferred, mediator) -> dict:
    s = prob.s
    status_quo = np.zeros(prob.n, dtype=bool)
    if session.agreement:
        package = session.x
    elif session.rounds:
        package = best_x
    else:
        package = status_quo
    rules = (*REFERENCE_RULES, *(["maximin"] if "maximin" in refs else []))
    ref_x = {k: _package_of(refs.get(k), best_x) for k in rules}
    designs = [(b.name, s.mask(b.interventions)) for b in s.base_designs]
    q = [(STATUS_QUO, status_quo), *((n, x) for n, x in designs if eligible(prob, x)), *ref_x.items()]
    q += [(f"best package of {name}", x) for name, x in zip(s.group_names, preferred, strict=False)]
    U = np.array([prob.u(x) for _, x in q])
    lo, hi = U.min(axis=0), U.max(axis=0)
    best = {"name": best_name, **_describe(prob, best_x, lo, hi)}
    references = {k: _describe(prob, x, lo, hi) for k, x in ref_x.items()}
    nash = refs["nash"]
    if isinstance(nash, solvers.NashResult):
        references["nash"]["solver"] = nash.to_json(s.group_names)
    out = {
        "agreement": session.agreement,
        "rounds": session.rounds,
        "package": _describe(prob, package, lo, hi),
        "best_base_design": best,
        "references": references,
        "status_quo": _describe(prob, status_quo, lo, hi),
        "base_designs": [{"name": n, **_describe(prob, x, lo, hi), "eligible": eligible(prob, x)} for n, x in designs],
        "mediator": mediator,
        "concession_schedule": session.schedule,
        "reservations": {n: float(reservation[g]) for g, n in enumerate(s.group_names)},
        "reservation_shift": shift,
        "pinned": list(prob.pinned),
        "forbidden": list(prob.forbidden),
        "p20_candidates": [name for name, _ in q],
        "scenario": {
            "title": s.title,
            "budget": s.budget,
            "currency": s.currency,
            "groups": s.group_names,
            "interventions": {i.code: i.name for i in s.interventions},
        },
    }
    out["fairness"] = fairness(out)
    out["explanation"] = explain(prob, out, shift)
    return out


def fairness(out: dict) -> dict:
    """Which metrics cannot fall by construction, and where a reference rule does better.

    Every agreement gives each group at least its reservation, and the fallback is the best base
    design itself. So when the reservation is the best base design's utilities (not lowered),
    the total, the worst group and P20 satisfaction (monotone in each group's utility over a
    fixed candidate set) cannot fall below the best base design's; only the Gini coefficient is
    a real test of the negotiation against it."""
    guaranteed = list(HIGHER_IS_BETTER) if out["reservation_shift"] <= 0 else []
    pkg = out["package"]["metrics"]
    better = []
    for rule, ref in out["references"].items():
        metrics_better = [m for m in (*HIGHER_IS_BETTER, "gini") if _beats(ref["metrics"], pkg, m)]
        if metrics_better:
            better.append({"rule": rule, "metrics": metrics_better, "all": len(metrics_better) == 4})
    return {"cannot_fall": guaranteed, "tested": ["gini"] if guaranteed else [], "reference_better": better}


def _beats(a: dict, b: dict, metric: str) -> bool:
    x, y = a.get(metric), b.get(metric)
    if x is None or y is None:
        return False
    return x < y - COMPARE_TOL if metric == "gini" else x > y + COMPARE_TOL


def worst_group(utilities: dict[str, float]) -> tuple[str | None, float | None]:
    """The worst-off group and its own utility (the first such group on ties)."""
    if not utilities:
        return None, None
    name = min(utilities, key=utilities.get)
    return name, utilities[name]


def explain(prob: Problem, out: dict, shift: float) -> str:
    """A few sentences summarising the outcome for planners (English; the result page
    renders the same facts in the reader's language)."""
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
    names = out["scenario"]["interventions"]
    if out["agreement"]:
        listed = ", ".join(names[c] for c in pkg["interventions"]) or "nothing"
        parts.append(
            f"The {len(s.groups)} groups agreed after {n_rounds} round"
            f"{'s' if n_rounds != 1 else ''} on {len(pkg['interventions'])} interventions "
            f"({listed}) costing {pkg['cost']:g} of the {s.budget:g} budget."
        )
    else:
        parts.append(
            f'No agreement within {n_rounds} rounds; the outcome falls back to the best base design "{best["name"]}".'
        )
    parts.append(_comparison(pkg, best))
    if shift > 0:
        parts.append(
            f'No package allowed by the pins and forbids gives every group its utility under "{best["name"]}", so '
            f"every reservation was lowered by {fmt(shift)}."
        )
    return " ".join(p for p in parts if p)


def _comparison(pkg: dict, best: dict) -> str:
    m, b = pkg["metrics"], best["metrics"]
    b_name, b_worst = worst_group(best["utilities"])
    p_name, p_worst = worst_group(pkg["utilities"])
    return (
        f'Compared with the best base design "{best["name"]}", total utility goes from '
        f"{fmt(b['total_utility'])} to {fmt(m['total_utility'])}, the worst-off group from "
        f"{b_name} at {fmt(b_worst)} to {p_name} at {fmt(p_worst)}, "
        f"20th-percentile satisfaction from {fmt(b['p20_satisfaction'])} to "
        f"{fmt(m['p20_satisfaction'])}, and the Gini coefficient from {_g(b['gini'])} to "
        f"{_g(m['gini'])}."
    )


def _g(v: float | None) -> str:
    return "undefined" if v is None else f"{v:.3f}"
