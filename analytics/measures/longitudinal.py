"""Disagreement across waves: bootstrap intervals per wave, paired permutation tests of change."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import active_rows
from .disagreement import (
    BOOTSTRAP_CHUNK,
    bootstrap_ci,
    disagreement_from_cumulative,
    pairwise_disagreement,
    rating_levels,
    side_by_side,
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


def paired_change(earlier: np.ndarray, later: np.ndarray, k: float, n_perm: int, rng: np.random.Generator) -> Change:
    """delta = later − earlier disagreement, with a paired (swap) permutation p-value.

    Under the null that the waves are exchangeable for each person, swapping a participant's two
    rows between waves leaves the distribution unchanged. Only participants present in both waves
    can be swapped; everyone else stays in the wave they answered. A swap moves the person's
    one-hot histogram from one wave to the other, so all permutations are one matrix product.
    """
    return paired_changes([(earlier, later)], k, n_perm, rng)[0]


def paired_changes(
    pairs: list[tuple[np.ndarray, np.ndarray]], k: float, n_perm: int, rng: np.random.Generator
) -> list[Change]:
    """paired_change for several (earlier, later) matrix pairs over the same participant rows.

    One random swap mask per permutation serves every pair: each participant gets one fair coin,
    and a pair only looks at the coins of its own paired participants (the moved histograms of
    everyone else are zero), so each pair sees exactly its own swap distribution while the coins
    and the product are shared.
    """
    results: list[Change] = []
    testable: list[int] = []
    for i, (earlier, later) in enumerate(pairs):
        both = active_rows(earlier) & active_rows(later)
        delta = _difference(pairwise_disagreement(later, k), pairwise_disagreement(earlier, k))
        results.append(Change(delta, None, int(both.sum())))
        if delta is not None and both.any() and n_perm > 0:
            testable.append(i)
    if not testable:
        return results
    both = [active_rows(pairs[i][0]) & active_rows(pairs[i][1]) for i in testable]
    swappable = np.logical_or.reduce(both)
    n_swappable = int(swappable.sum())
    # Pairs are laid side by side on shared levels; a layout needs one site count to reshape.
    by_sites: dict[int, list[int]] = {}
    for j, i in enumerate(testable):
        by_sites.setdefault(pairs[i][0].shape[1], []).append(j)
    layouts = []
    for n_sites, js in by_sites.items():
        levels = rating_levels(*[m for j in js for m in pairs[testable[j]]])
        n_levels = max(levels.size, 1)
        cum_a = side_by_side([pairs[testable[j]][0] for j in js], levels)
        cum_b = side_by_side([pairs[testable[j]][1] for j in js], levels)
        # Only a pair's own paired participants move; everyone else's coin is ignored.
        paired = np.stack([both[j] for j in js], axis=1)[swappable][:, None, :, None]
        moved = ((cum_b[swappable] - cum_a[swappable]) * paired).reshape(n_swappable, -1)
        base_a = cum_a.sum(axis=0, dtype=np.float64).reshape(-1)
        base_b = cum_b.sum(axis=0, dtype=np.float64).reshape(-1)
        shape = (n_levels, len(js), n_sites)
        observed = np.array([abs(results[testable[j]].delta) for j in js])
        layouts.append((js, levels, shape, base_a, base_b, observed, moved))
    moved_all = np.hstack([layout[-1] for layout in layouts])
    exceed = np.zeros(len(testable))
    for start in range(0, n_perm, BOOTSTRAP_CHUNK):
        size = min(BOOTSTRAP_CHUNK, n_perm - start)
        shift_all = (swap_masks(n_swappable, size, rng) @ moved_all).astype(np.float64)
        offset = 0
        for js, levels, shape, base_a, base_b, observed, moved in layouts:
            shift = shift_all[:, offset : offset + moved.shape[1]]
            offset += moved.shape[1]
            perm_a = disagreement_from_cumulative((base_a + shift).reshape(size, *shape), levels, k)
            perm_b = disagreement_from_cumulative((base_b - shift).reshape(size, *shape), levels, k)
            diffs = np.nan_to_num(np.abs(perm_b - perm_a), nan=-1.0)
            exceed[js] += (diffs >= observed - TIE_TOLERANCE).sum(axis=0)
    for j, i in enumerate(testable):
        p_value = (1.0 + exceed[j]) / (1.0 + n_perm)
        results[i] = Change(results[i].delta, float(p_value), results[i].n_paired)
    return results


def swap_masks(n_people: int, n_perm: int, rng: np.random.Generator) -> np.ndarray:
    """n_perm rows of independent fair coins (0/1 as float32), one per participant.

    Random bytes unpacked to bits: eight coins per random byte instead of one integer each.
    """
    packed = rng.integers(0, 256, size=(n_perm, (n_people + 7) // 8), dtype=np.uint8)
    return np.unpackbits(packed, axis=1, count=n_people).astype(np.float32)


def _difference(later: float | None, earlier: float | None) -> float | None:
    return None if later is None or earlier is None else later - earlier
