"""Pairwise disagreement: mean |x_i − x_j| over pairs of raters of a site, averaged over sites, / K.

Ratings live on a small discrete scale, so every computation goes through per-site value
histograms: the sum of |x_i − x_j| over pairs is ½ cᵀ D c for counts c and level distances D.
Bootstrap resamples and paired swaps only change the counts, which are one matrix product away
(weights @ one-hot), so thousands of replicates cost a few BLAS calls instead of n² loops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Histograms:
    """One-hot encoding of a participants × sites matrix over its distinct rating levels."""

    onehot: np.ndarray  # float32, shape (n_participants, n_sites * n_levels)
    levels: np.ndarray  # float64, shape (n_levels,)
    n_sites: int

    @property
    def n_levels(self) -> int:
        return int(self.levels.size)


def rating_levels(*matrices: np.ndarray) -> np.ndarray:
    """Distinct observed values across matrices (so histograms of two waves line up)."""
    parts = [m[~np.isnan(m)] for m in matrices]
    return np.unique(np.concatenate(parts)) if parts else np.array([])


def histograms(values: np.ndarray, levels: np.ndarray | None = None) -> Histograms:
    """Encode each participant's ratings as one-hot (site, level) indicators.

    float32 is exact for integer counts below 2**24 and halves the cost of the matrix products.
    """
    if levels is None:
        levels = rating_levels(values)
    n_people, n_sites = values.shape
    onehot = np.zeros((n_people, n_sites, max(levels.size, 1)), dtype=np.float32)
    observed = ~np.isnan(values)
    if levels.size:
        idx = np.searchsorted(levels, np.where(observed, values, levels[0]))
        people, sites = np.nonzero(observed)
        onehot[people, sites, idx[people, sites]] = 1.0
    return Histograms(onehot.reshape(n_people, -1), levels, n_sites)


def disagreement_from_counts(counts: np.ndarray, levels: np.ndarray, k: float) -> np.ndarray:
    """Pairwise disagreement from counts shaped (..., n_sites, n_levels); nan if no site qualifies.

    Sites with fewer than two ratings have no pairs and are skipped.
    """
    counts = counts.astype(np.float64)
    distance = np.abs(levels[:, None] - levels[None, :])
    pair_sum = 0.5 * np.einsum("...l,lm,...m->...", counts, distance, counts)
    n = counts.sum(axis=-1)
    pairs = n * (n - 1) / 2.0
    ok = pairs > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        per_site = np.where(ok, pair_sum / np.where(ok, pairs, 1.0), 0.0)
        mean = per_site.sum(axis=-1) / ok.sum(axis=-1)
    return mean / k if k > 0 else mean * np.nan


def pairwise_disagreement(values: np.ndarray, k: float) -> float | None:
    """Pairwise disagreement of a participants × sites matrix (None when no site has two ratings).

    This point estimate uses the sorted-values identity Σ_{i<j}|x_i − x_j| = Σ_r x_(r)(2r − n − 1),
    which is exact for any real values, not only scale levels.
    """
    per_site = []
    for column in values.T:
        x = np.sort(column[~np.isnan(column)])
        n = x.size
        if n < 2:
            continue
        weights = 2.0 * np.arange(1, n + 1) - n - 1
        per_site.append(float(x @ weights) / (n * (n - 1) / 2.0))
    if not per_site or k <= 0:
        return None
    return float(np.mean(per_site) / k)


def weighted_disagreement(weights: np.ndarray, hist: Histograms, k: float) -> np.ndarray:
    """Disagreement for each row of participant weights (bootstrap counts, swap masks...)."""
    counts = (weights.astype(np.float32) @ hist.onehot).reshape(
        weights.shape[0], hist.n_sites, hist.n_levels
    )
    return disagreement_from_counts(counts, hist.levels, k)


def bootstrap_weights(n_people: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """How many times each participant is drawn in each bootstrap resample, shape (n_boot, n)."""
    # int32 halves memory traffic; the flat index stays far below 2**31 for chunked replicates.
    draws = rng.integers(0, n_people, size=(n_boot, n_people), dtype=np.int32)
    offsets = (np.arange(n_boot, dtype=np.int32) * np.int32(n_people))[:, None]
    flat = np.bincount((draws + offsets).ravel(), minlength=n_boot * n_people)
    return flat.reshape(n_boot, n_people)


# Replicates are processed in chunks so memory stays bounded for 5,000+ participants.
BOOTSTRAP_CHUNK = 256


def bootstrap_ci(
    values: np.ndarray,
    k: float,
    n_boot: int,
    rng: np.random.Generator,
    level: float = 0.95,
) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval over participants (rows resampled with replacement)."""
    rows = values[~np.all(np.isnan(values), axis=1)]
    if rows.shape[0] < 2 or n_boot <= 0:
        return None, None
    hist = histograms(rows)
    stats = []
    for start in range(0, n_boot, BOOTSTRAP_CHUNK):
        size = min(BOOTSTRAP_CHUNK, n_boot - start)
        stats.append(weighted_disagreement(bootstrap_weights(rows.shape[0], size, rng), hist, k))
    replicates = np.concatenate(stats)
    replicates = replicates[~np.isnan(replicates)]
    if replicates.size == 0:
        return None, None
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(replicates, [tail, 100.0 - tail])
    return float(low), float(high)
