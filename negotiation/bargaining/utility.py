"""Group utilities of packages and the package metrics of docs/negotiation.md.

u_g(P) = Σ_c w_{g,c} · min(max, b_{g,c} + Σ_{i∈P} effect_{i,c}) — on the rating scale.
"""

from __future__ import annotations

import numpy as np

from .scenario import Scenario


def criterion_levels(s: Scenario, x: np.ndarray) -> np.ndarray:
    """Capped criterion levels groups × criteria under selection ``x`` (each group sees its own
    effects, ``group_effects`` applied)."""
    xf = np.asarray(x, dtype=float)
    delta = np.einsum("i,gic->gc", xf, s.group_effects) if s.has_group_effects else (xf @ s.effects)[None, :]
    return np.minimum(s.scale_max, s.baseline + delta)


def utilities(s: Scenario, x: np.ndarray) -> np.ndarray:
    """Utility of every group under selection ``x`` (a 0/1 or boolean vector)."""
    return (s.weights * criterion_levels(s, x)).sum(axis=1)


def utilities_many(s: Scenario, xs: np.ndarray) -> np.ndarray:
    """Utilities packages × groups for a packages × interventions 0/1 matrix (vectorised)."""
    xs = np.asarray(xs, dtype=float)
    out = np.empty((xs.shape[0], len(s.groups)))
    common = None if s.has_group_effects else xs @ s.effects  # packages × criteria
    for g in range(len(s.groups)):
        delta = common if common is not None else xs @ s.group_effects[g]
        out[:, g] = np.minimum(s.scale_max, s.baseline[g] + delta) @ s.weights[g]
    return out


def package_cost(s: Scenario, x: np.ndarray) -> float:
    return float(s.costs @ np.asarray(x, dtype=float))


def within_budget(s: Scenario, x: np.ndarray) -> bool:
    # A relative tolerance keeps float sums of costs from flipping the verdict.
    return package_cost(s, x) <= s.budget * (1 + 1e-12) + 1e-9


def respects_exclusions(s: Scenario, x: np.ndarray) -> bool:
    xb = np.asarray(x) > 0.5
    return not any(xb[i] and xb[j] for i, j in s.exclusion_pairs)


def gini(u: np.ndarray) -> float | None:
    """Σ_i Σ_j |u_i − u_j| / (2 n² mean); None where the mean is not positive (undefined)."""
    u = np.asarray(u, dtype=float)
    mean = u.mean()
    if mean <= 0:
        return None
    return float(np.abs(u[:, None] - u[None, :]).sum() / (2 * len(u) ** 2 * mean))


def satisfaction(u: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """s_g = (u_g − min_Q u_g) / (max_Q u_g − min_Q u_g), and 1 where max = min."""
    span = hi - lo
    flat = span <= 1e-12
    s = np.where(flat, 1.0, (u - lo) / np.where(flat, 1.0, span))
    return np.clip(s, 0.0, 1.0)


def p20(u: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """20th percentile (numpy's linear interpolation) of the groups' satisfaction."""
    return float(np.percentile(satisfaction(u, lo, hi), 20))


def metrics(u: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> dict[str, float | None]:
    """The four contract metrics of one package; lo/hi are per-group min/max over candidates."""
    return {
        "total_utility": float(u.sum()),
        "worst_group_utility": float(u.min()),
        "p20_satisfaction": p20(u, lo, hi),
        "gini": gini(u),
    }


#: Decimal places kept in the outcome JSON; deterministic and far below any meaningful difference.
DECIMALS = 6


def rounded(obj):
    """Round every float inside a JSON-like structure (dicts, lists) to DECIMALS places."""
    if isinstance(obj, float):
        value = round(obj, DECIMALS)
        return 0.0 if value == 0 else value  # Avoid "-0.0" in the JSON.
    if isinstance(obj, dict):
        return {k: rounded(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [rounded(v) for v in obj]
    return obj
