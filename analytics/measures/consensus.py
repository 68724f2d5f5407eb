"""Each group's distance from a consensus rating the study agreed on (per site), with its test.

consensus_distance(g) = mean over the sites where g's members rated and a consensus exists of
|mean rating of g's members at s − consensus at s|, in scale points. Where the consensus was
reached *after* discussion, the distance of the groups' ratings *before* it says whose
starting views the agreement sits farthest from. The p-value (one-sided, larger is more
extreme) relabels the raters as the divergence test does: exact over all C(N, n) member sets
when they are at most the permutations asked, Monte Carlo otherwise; groups (or the rest of the
raters) smaller than ``min_tested`` are not tested.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import active_rows
from .divergence import PERMUTATION_BATCH, TIE_TOLERANCE, member_sets, permutation_plan, random_permutations, same_tests


@dataclass(frozen=True)
class ConsensusResult:
    overall: float | None  # everybody's distance
    n_sites: int
    distance: np.ndarray
    p_value: np.ndarray
    min_p_value: np.ndarray
    too_small: np.ndarray
    same_test_as: np.ndarray


def _distance(sums: np.ndarray, counts: np.ndarray, consensus: np.ndarray) -> np.ndarray:
    """Mean |group mean − consensus| over sites with both; trailing axis sites."""
    ok = (counts > 0) & ~np.isnan(consensus)
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.where(ok, np.abs(sums / np.where(counts > 0, counts, 1.0) - np.nan_to_num(consensus)), 0.0)
        n_ok = ok.sum(axis=-1)
        return np.where(n_ok > 0, gap.sum(axis=-1) / n_ok, np.nan)


def consensus_tests(
    values: np.ndarray,
    memberships: np.ndarray,
    consensus: np.ndarray,
    n_permutations: int,
    rng: np.random.Generator,
    min_tested: int = 3,
) -> ConsensusResult:
    """Distances of everybody and of every group from ``consensus`` (one value per site, nan
    where none), with permutation p-values."""
    active = active_rows(values)
    x, m = values[active], memberships[active].astype(np.float64)
    n_people, n_groups = m.shape
    observed = (~np.isnan(x)).astype(np.float64)
    x0 = np.nan_to_num(x)
    n_sites = int(((observed.sum(axis=0) > 0) & ~np.isnan(consensus)).sum())
    overall = _distance(x0.sum(axis=0), observed.sum(axis=0), consensus) if n_people else np.nan
    counts = m.sum(axis=0).astype(int)
    distance = _distance(m.T @ x0, m.T @ observed, consensus)
    distance = np.where(counts >= 2, distance, np.nan)
    smaller = np.minimum(counts, n_people - counts)
    defined = ~np.isnan(distance)
    plan = permutation_plan(defined, smaller, n_people, n_permutations, min_tested)
    too_small, exact, min_p, tested = plan.too_small, plan.exact, plan.min_p, plan.tested
    p = np.full(n_groups, np.nan)
    monte_carlo = tested & ~exact
    if n_permutations > 0 and monte_carlo.any():
        exceed = np.zeros(int(monte_carlo.sum()))
        rows = m[:, monte_carlo]
        threshold = distance[monte_carlo]
        done = 0
        while done < n_permutations:
            batch = min(PERMUTATION_BATCH, n_permutations - done)
            permuted = rows[random_permutations(n_people, batch, rng)]  # batch × people × groups
            sums = np.einsum("bpg,ps->bgs", permuted, x0, optimize=True)
            cnts = np.einsum("bpg,ps->bgs", permuted, observed, optimize=True)
            d = np.nan_to_num(_distance(sums, cnts, consensus), nan=-1.0)
            exceed += (d >= threshold - TIE_TOLERANCE).sum(axis=0)
            done += batch
        p[monte_carlo] = (1.0 + exceed) / (1.0 + n_permutations)
    if n_permutations > 0:
        for g in np.flatnonzero(exact):
            indicator = member_sets(n_people, int(counts[g]))
            d = np.nan_to_num(_distance(indicator @ x0, indicator @ observed, consensus), nan=-1.0)
            p[g] = float((d >= distance[g] - TIE_TOLERANCE).mean())
    # A complement's distance is not the same statistic (the other side's means), so only twins
    # share a test here.
    twins = same_tests(m.astype(bool))
    twins = np.array([t if t >= 0 and np.array_equal(m[:, t], m[:, g]) else -1 for g, t in enumerate(twins)])
    return ConsensusResult(
        overall=None if np.isnan(overall) else float(overall),
        n_sites=n_sites,
        distance=distance,
        p_value=p,
        min_p_value=min_p,
        too_small=too_small,
        same_test_as=twins.astype(np.intp),
    )
