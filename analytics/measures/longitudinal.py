"""Disagreement across waves: bootstrap intervals per wave, paired permutation tests of change."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .disagreement import (
    BOOTSTRAP_CHUNK,
    bootstrap_ci,
    disagreement_from_counts,
    histograms,
    pairwise_disagreement,
    rating_levels,
)

# A permuted change this close to the observed one counts as "at least as extreme" (rounding).
TIE_TOLERANCE = 1e-12


@dataclass(frozen=True)
class WavePoint:
    n: int
    pairwise_disagreement: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class Change:
    delta: float | None
    p_value: float | None
    n_paired: int


def wave_point(values: np.ndarray, k: float, n_boot: int, rng: np.random.Generator) -> WavePoint:
    """Pairwise disagreement of one wave with its percentile bootstrap interval."""
    n = int((~np.all(np.isnan(values), axis=1)).sum())
    low, high = bootstrap_ci(values, k, n_boot, rng)
    return WavePoint(n, pairwise_disagreement(values, k), low, high)


def paired_change(
    earlier: np.ndarray, later: np.ndarray, k: float, n_perm: int, rng: np.random.Generator
) -> Change:
    """delta = later − earlier disagreement, with a paired (swap) permutation p-value.

    Under the null that the waves are exchangeable for each person, swapping a participant's two
    rows between waves leaves the distribution unchanged. Only participants present in both waves
    can be swapped; everyone else stays in the wave they answered. A swap moves the person's
    one-hot histogram from one wave to the other, so all permutations are one matrix product.
    """
    in_a = ~np.all(np.isnan(earlier), axis=1)
    in_b = ~np.all(np.isnan(later), axis=1)
    levels = rating_levels(earlier, later)
    delta = _difference(pairwise_disagreement(later, k), pairwise_disagreement(earlier, k))
    both = in_a & in_b
    n_paired = int(both.sum())
    if delta is None or n_paired == 0 or n_perm <= 0:
        return Change(delta, None, n_paired)
    hist_a, hist_b = histograms(earlier, levels), histograms(later, levels)
    base_a = hist_a.onehot.sum(axis=0, dtype=np.float64)
    base_b = hist_b.onehot.sum(axis=0, dtype=np.float64)
    moved = hist_b.onehot[both] - hist_a.onehot[both]
    shape = (hist_a.n_sites, hist_a.n_levels)
    exceed = 0
    for start in range(0, n_perm, BOOTSTRAP_CHUNK):
        size = min(BOOTSTRAP_CHUNK, n_perm - start)
        swaps = rng.integers(0, 2, size=(size, n_paired)).astype(np.float32)
        shift = (swaps @ moved).astype(np.float64)
        perm_a = disagreement_from_counts((base_a + shift).reshape(size, *shape), levels, k)
        perm_b = disagreement_from_counts((base_b - shift).reshape(size, *shape), levels, k)
        diffs = np.nan_to_num(np.abs(perm_b - perm_a), nan=-1.0)
        exceed += int((diffs >= abs(delta) - TIE_TOLERANCE).sum())
    return Change(delta, (1.0 + exceed) / (1.0 + n_perm), n_paired)


def _difference(later: float | None, earlier: float | None) -> float | None:
    return None if later is None or earlier is None else later - earlier
