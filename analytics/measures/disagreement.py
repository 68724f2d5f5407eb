"""Pairwise disagreement: mean |x_i − x_j| over pairs of raters of a site, averaged over sites, / K.

Ratings live on a small discrete scale, so every computation goes through per-site value
histograms: the sum of |x_i − x_j| over pairs is ½ cᵀ D c for counts c and level distances D.
Bootstrap resamples and paired swaps only change the counts, which are one matrix product away
(weights @ one-hot), so thousands of replicates cost a few BLAS calls instead of n² loops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import active_rows, classes_by_rows


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
    if not parts:
        return np.array([])
    observed = np.concatenate(parts)
    if observed.size:
        low, high = float(observed.min()), float(observed.max())
        # Ratings are small integers: marking the values present beats sorting them all.
        if high - low < 4096 and np.all(observed == np.rint(observed)):
            present = np.bincount((observed - low).astype(np.intp), minlength=1)
            return np.flatnonzero(present).astype(np.float64) + low
    return np.unique(observed)


def histograms(values: np.ndarray, levels: np.ndarray | None = None) -> Histograms:
    """Encode each participant's ratings as one-hot (site, level) indicators.

    float32 is exact for integer counts below 2**24 and halves the cost of the matrix products.
    """
    if levels is None:
        levels = rating_levels(values)
    n_people, n_sites = values.shape
    width = max(levels.size, 1)
    onehot = np.zeros((n_people, n_sites * width), dtype=np.float32)
    if levels.size:
        idx, observed = _level_index(values, levels)
        # Column of (site, level) for every cell; unobserved cells write a 0 where a 0 already is.
        idx += np.arange(n_sites) * width
        np.put_along_axis(onehot, idx, observed.astype(np.float32), axis=1)
    return Histograms(onehot, levels, n_sites)


def _consecutive_integers(levels: np.ndarray) -> bool:
    return bool(np.all(levels == np.rint(levels)) and np.all(np.diff(levels) == 1))


def _level_index(values: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index into ``levels`` of every cell (0 where missing), and the observed mask."""
    observed = ~np.isnan(values)
    filled = np.where(observed, values, levels[0])
    if _consecutive_integers(levels):
        return (filled - levels[0]).astype(np.intp), observed
    return np.searchsorted(levels, filled), observed


def cumulative_onehot(values: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Cumulative level indicators, level-major: shape (n_people, n_levels · n_sites), float32.

    Column t · n_sites + s is 1 when the participant rated site s at or below level t; the last
    block (t = n_levels − 1) therefore marks every rating. Summed with weights this gives, per
    site, the cumulative counts C_t and the number of ratings N that disagreement_from_cumulative
    needs, with no cumulative sum and with each level a contiguous block.
    """
    n_people, n_sites = values.shape
    n_levels = max(levels.size, 1)
    if not levels.size:
        return np.zeros((n_people, n_levels * n_sites), dtype=np.float32)
    idx, observed = _level_index(values, levels)
    steps = np.arange(n_levels)[None, :, None]
    out = (idx[:, None, :] <= steps) & observed[:, None, :]
    return out.reshape(n_people, -1).astype(np.float32)


def side_by_side(matrices: list[np.ndarray], levels: np.ndarray) -> np.ndarray:
    """Cumulative one-hots of matrices over the same people: people × levels × matrices × sites.

    Flattened to people × (levels · matrices · sites) it is one operand of a weights product
    whose result reshapes to the (batch, levels, matrices, sites) disagreement_from_cumulative
    takes, so all matrices are evaluated together.
    """
    n_levels, n_sites = max(levels.size, 1), matrices[0].shape[1]
    blocks = [cumulative_onehot(m, levels).reshape(len(m), n_levels, n_sites) for m in matrices]
    return np.stack(blocks, axis=2)


def disagreement_from_cumulative(
    cumulative: np.ndarray, levels: np.ndarray, k: float, squared_weights: np.ndarray | None = None
) -> np.ndarray:
    """Pairwise disagreement from cumulative counts shaped (batch, n_levels, ..., n_sites).

    Same definition as disagreement_from_counts, for counts summed from cumulative_onehot.
    ``squared_weights`` (batch, ..., n_sites), when given, is Σ_i w_i² over the raters of each
    site for weighted (bootstrap) counts: pairs are then counted between *distinct* participants
    only, Σ_{i<j} w_i w_j = (N² − Σ w_i²) / 2. A participant drawn twice is never paired with
    themself, so resampling does not invent zero-distance pairs (the distance sum needs no change:
    such pairs are at distance 0 anyway).
    """
    cumulative = np.asarray(cumulative, dtype=np.float64)
    n = cumulative[:, -1]
    pair_sum = np.zeros(n.shape)
    for t, gap in enumerate(np.diff(levels)):
        below = cumulative[:, t]
        pair_sum += float(gap) * below * (n - below)
    if squared_weights is None:
        return _mean_over_sites(pair_sum, n, k)
    pairs = (n * n - np.asarray(squared_weights, dtype=np.float64)) / 2.0
    return _mean_over_sites(pair_sum, n, k, pairs=pairs)


def _mean_over_sites(pair_sum: np.ndarray, n: np.ndarray, k: float, pairs: np.ndarray | None = None) -> np.ndarray:
    """Mean over sites with a pair of (sum of pairwise distances / pairs), divided by K."""
    if pairs is None:
        pairs = n * (n - 1) / 2.0
    ok = pairs > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        per_site = np.where(ok, pair_sum / np.where(ok, pairs, 1.0), 0.0)
        mean = per_site.sum(axis=-1) / ok.sum(axis=-1)
    return mean / k if k > 0 else mean * np.nan


def disagreement_from_counts(counts: np.ndarray, levels: np.ndarray, k: float) -> np.ndarray:
    """Pairwise disagreement from counts shaped (..., n_sites, n_levels); nan if no site qualifies.

    Sites with fewer than two ratings have no pairs and are skipped. With sorted levels and C_t
    the number of ratings at or below level t, Σ_{i<j}|x_i − x_j| = Σ_t (l_{t+1} − l_t) C_t (N − C_t)
    (each pair is split by every gap between its two values), which equals ½ cᵀ D c exactly but
    needs no level × level product.
    """
    counts = np.asarray(counts, dtype=np.float64)
    n = counts.sum(axis=-1)
    if levels.size > 1:
        below = np.cumsum(counts[..., :-1], axis=-1)
        pair_sum = (below * (n[..., None] - below)) @ np.diff(levels).astype(np.float64)
    else:
        pair_sum = np.zeros_like(n)
    return _mean_over_sites(pair_sum, n, k)


def pairwise_disagreement(values: np.ndarray, k: float) -> float | None:
    """Pairwise disagreement of a participants × sites matrix (None when no site has two ratings).

    This point estimate uses the sorted-values identity Σ_{i<j}|x_i − x_j| = Σ_r x_(r)(2r − n − 1),
    which is exact for any real values, not only scale levels. All sites are sorted at once (nan
    sorts last, so the observed values of a site are its first n_s entries).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] < 2 or k <= 0:
        return None
    n = (~np.isnan(values)).sum(axis=0)
    ranks = np.arange(1, values.shape[0] + 1, dtype=np.float64)[:, None]
    weights = np.where(ranks <= n, 2.0 * ranks - n - 1, 0.0)
    sums = (np.nan_to_num(np.sort(values, axis=0)) * weights).sum(axis=0)
    ok = n >= 2
    if not ok.any():
        return None
    per_site = sums[ok] / (n[ok] * (n[ok] - 1) / 2.0)
    return float(per_site.mean() / k)


def weighted_disagreement(weights: np.ndarray, hist: Histograms, k: float) -> np.ndarray:
    """Disagreement for each row of participant weights (bootstrap counts, swap masks...)."""
    counts = (np.asarray(weights, dtype=np.float32) @ hist.onehot).reshape(
        weights.shape[0], hist.n_sites, hist.n_levels
    )
    return disagreement_from_counts(counts, hist.levels, k)


def bootstrap_weights(n_people: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """How many times each participant is drawn in each bootstrap resample, shape (n_boot, n).

    Counts are returned as float32 (exact for any count below 2**24), ready for the products.
    Draws are 16-bit when the participants fit (cheaper than 64-bit draws), and each replicate
    is counted on its own: a per-row bincount stays in cache, unlike one bincount over
    n_boot × n offset bins.
    """
    dtype = np.uint16 if n_people <= np.iinfo(np.uint16).max else np.int64
    draws = rng.integers(0, n_people, size=(n_boot, n_people), dtype=dtype)
    weights = np.empty((n_boot, n_people), dtype=np.float32)
    for row, out in zip(draws, weights, strict=True):
        out[:] = np.bincount(row, minlength=n_people)
    return weights


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
    return bootstrap_cis([values], k, n_boot, rng, level)[0]


def bootstrap_cis(
    matrices: list[np.ndarray],
    k: float,
    n_boot: int,
    rng: np.random.Generator,
    level: float = 0.95,
) -> list[tuple[float | None, float | None]]:
    """Percentile bootstrap intervals of several matrices over the same participant rows.

    Each matrix is resampled over its own raters (rows with any rating), exactly as on its own.
    Within a resample only pairs of distinct participants count (see disagreement_from_cumulative):
    pairing a drawn participant with their own copy would add zero distances that the point
    estimate never has, and pull the interval below it.
    Matrices with the same raters (every criterion of a wave, usually) share one set of resamples:
    the weights are drawn once and one product against their side-by-side one-hot histograms gives
    the counts of all of them. Classes of matrices draw in order of first appearance.
    """
    results: list[tuple[float | None, float | None]] = [(None, None)] * len(matrices)
    if n_boot <= 0:
        return results
    for mask, members in classes_by_rows([active_rows(m) for m in matrices]):
        n_rows = int(mask.sum())
        if n_rows < 2:
            continue
        # Matrices of a class are laid side by side; a class needs one site count to reshape.
        by_sites: dict[int, list[int]] = {}
        for i in members:
            by_sites.setdefault(matrices[i].shape[1], []).append(i)
        for n_sites, indices in by_sites.items():
            rows = [matrices[i][mask] for i in indices]
            levels = rating_levels(*rows)
            # Level-major columns: (level, matrix, site), so every level is one contiguous block.
            onehot = side_by_side(rows, levels).reshape(n_rows, -1)
            shape = (max(levels.size, 1), len(rows), n_sites)
            # The last level block marks every rating: the raters of each (matrix, site).
            rated = np.ascontiguousarray(onehot[:, -len(rows) * n_sites :])
            replicates = []
            for start in range(0, n_boot, BOOTSTRAP_CHUNK):
                size = min(BOOTSTRAP_CHUNK, n_boot - start)
                weights = bootstrap_weights(n_rows, size, rng)
                counts = (weights @ onehot).reshape(size, *shape)
                squared = ((weights * weights) @ rated).reshape(size, len(rows), n_sites)
                replicates.append(disagreement_from_cumulative(counts, levels, k, squared))
            replicates_all = np.concatenate(replicates)  # n_boot × matrices
            if not np.isnan(replicates_all).any():
                # One percentile call for every matrix when no replicate is undefined.
                tail = (1.0 - level) / 2.0 * 100.0
                bounds = np.percentile(replicates_all, [tail, 100.0 - tail], axis=0)
                for j, i in enumerate(indices):
                    results[i] = (float(bounds[0, j]), float(bounds[1, j]))
                continue
            for j, i in enumerate(indices):
                results[i] = _percentile_interval(replicates_all[:, j], level)
    return results


def _percentile_interval(replicates: np.ndarray, level: float) -> tuple[float | None, float | None]:
    replicates = replicates[~np.isnan(replicates)]
    if replicates.size == 0:
        return None, None
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(replicates, [tail, 100.0 - tail])
    return float(low), float(high)
