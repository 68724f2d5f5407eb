"""Method of Equal Shares through pabutools, with groups as voters.

Each group's cardinal ballot scores intervention i by its marginal gain u_g(pins ∪ {i}) − u_g(pins)
(negative gains are scored 0, because MES only understands support). Utilities are not additive
under the scale cap, so MES sees an approximation; the reported utilities of its package are the
exact ones. MES does not know about mutual exclusions: after it runs, a project conflicting with
one selected earlier is dropped (selection order as returned by pabutools). MES is run without a
completion step, so it may leave budget unspent — that is the rule as published.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .solvers import Problem
from .utility import utilities


def _patch_pulp() -> None:
    # pabutools 1.2.3 imports names that PuLP 4 removed (PULP_CBC_CMD, LpStatusOptimal) at
    # module level, although the MES code path never calls them. Supplying stand-ins lets the
    # import succeed; pinning pulp<4 in pyproject.toml would make this unnecessary.
    import pulp

    if not hasattr(pulp, "LpStatusOptimal"):
        pulp.LpStatusOptimal = 1
    if not hasattr(pulp, "PULP_CBC_CMD"):

        def _missing(*args, **kwargs):
            raise RuntimeError("PULP_CBC_CMD is not available in this PuLP version")

        pulp.PULP_CBC_CMD = _missing


def _exact(value: float) -> Fraction:
    # Exact rationals keep pabutools' arithmetic (gmpy2 mpq) deterministic and free of rounding.
    return Fraction(value).limit_denominator(10**12)


def equal_shares(prob: Problem) -> np.ndarray:
    """The MES package (selection vector), pins included and forbidden projects left out."""
    _patch_pulp()
    from pabutools.election import (
        Additive_Cardinal_Sat,
        CardinalBallot,
        CardinalProfile,
        Instance,
        Project,
    )
    from pabutools.rules import method_of_equal_shares
    from pabutools.tiebreaking import lexico_tie_breaking

    s = prob.s
    pins = prob.x_lb > 0.5
    base_u = utilities(s, pins)
    blocked = _blocked_by_pins(prob, pins)
    candidates = [k for k in range(prob.n) if prob.x_ub[k] > 0.5 and not pins[k] and not blocked[k]]
    projects = {k: Project(s.codes[k], _exact(s.costs[k])) for k in candidates}
    remaining = max(s.budget - float(s.costs[pins].sum()), 0.0)
    instance = Instance(list(projects.values()), budget_limit=_exact(remaining))
    ballots = []
    for g in range(prob.n_groups):
        scores = {}
        for k in candidates:
            x = pins.copy()
            x[k] = True
            gain = float(utilities(s, x)[g] - base_u[g])
            if gain > 1e-12:
                scores[projects[k]] = _exact(gain)
        ballots.append(CardinalBallot(scores, name=s.groups[g].name))
    profile = CardinalProfile(ballots, instance=instance)
    chosen = method_of_equal_shares(
        instance, profile, sat_class=Additive_Cardinal_Sat, tie_breaking=lexico_tie_breaking
    )
    return _drop_conflicts(prob, pins, [s.index[p.name] for p in chosen])


def _blocked_by_pins(prob: Problem, pins: np.ndarray) -> np.ndarray:
    blocked = np.zeros(prob.n, dtype=bool)
    for i, j in prob.s.exclusion_pairs:
        if pins[i]:
            blocked[j] = True
        if pins[j]:
            blocked[i] = True
    return blocked


def _drop_conflicts(prob: Problem, pins: np.ndarray, order: list[int]) -> np.ndarray:
    """Keep projects in selection order, skipping any that conflicts with one already kept."""
    x = pins.copy()
    conflicts = {k: set() for k in range(prob.n)}
    for i, j in prob.s.exclusion_pairs:
        conflicts[i].add(j)
        conflicts[j].add(i)
    for k in order:
        if not any(x[j] for j in conflicts[k]):
            x[k] = True
    return x
