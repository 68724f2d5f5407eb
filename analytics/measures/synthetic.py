"""Synthetic studies with planted group effects, for tests and benchmarks.

Latent rating = site quality + person bias + Σ_g member(g) · effect(g, criterion) + noise, then
rounded and clipped to the scale. Later waves shrink the noise (discussion closes information
gaps) while the planted group effects stay (value conflicts remain), so between-group variance
should hold while within-group variance falls.
"""

from __future__ import annotations

import numpy as np

from .data import RankingMatrix, RatingMatrix, StudyData, WaveData


def generate_study(
    n_participants: int,
    n_sites: int,
    n_criteria: int,
    n_groups: int,
    n_waves: int = 1,
    effects: dict[tuple[int, int], float] | None = None,
    noise: float = 0.8,
    scale: tuple[int, int] = (1, 5),
    missing: float = 0.0,
    n_ranking_criteria: int = 0,
    n_items: int = 7,
    seed: int = 0,
    *,
    membership_prob: float = 0.2,
    person_sd: float = 0.3,
    site_sd: float = 0.6,
    noise_factor: float = 0.5,
    ranking_effects: dict[tuple[int, int], float] | None = None,
) -> StudyData:
    """A StudyData with integer ratings on ``scale`` and the given planted group shifts.

    effects maps (group index, criterion index) to a shift in scale points for members;
    ranking_effects maps (group index, ranking criterion index) to a preference shift that
    favours late items for members, so their consensus order moves away from the others'.
    Wave w uses noise × noise_factor**w. Each participant joins each group with probability
    membership_prob independently, so groups overlap and some people are in none.
    """
    rng = np.random.default_rng(seed)
    low, high = scale
    members = rng.random((n_participants, n_groups)) < membership_prob
    centre = (low + high) / 2.0
    quality = centre + rng.normal(0.0, site_sd, size=(n_criteria, n_sites))
    bias = rng.normal(0.0, person_sd, size=n_participants)
    shift = _group_shift(members, effects or {}, n_criteria)
    item_sites = tuple(i % n_sites for i in range(n_items)) if n_sites else (None,) * n_items
    waves = []
    for w in range(n_waves):
        sd = noise * noise_factor**w
        ratings = tuple(
            RatingMatrix(
                f"criterion {c + 1}",
                _ratings(rng, quality[c], bias, shift[:, c], sd, scale, missing),
            )
            for c in range(n_criteria)
        )
        rankings = tuple(
            _ranking(rng, r, quality, members, ranking_effects or {}, sd, item_sites, n_items)
            for r in range(n_ranking_criteria)
        )
        waves.append(WaveData(f"wave {w + 1}", ratings, rankings))
    return StudyData(
        slug="synthetic",
        scale_min=low,
        scale_max=high,
        group_names=tuple(f"group {g + 1}" for g in range(n_groups)),
        memberships=members,
        site_codes=tuple(f"s{s + 1:03d}" for s in range(n_sites)),
        waves=tuple(waves),
    )


def _group_shift(members: np.ndarray, effects: dict[tuple[int, int], float], n_criteria: int) -> np.ndarray:
    """Per-participant shift per criterion from the planted (group, criterion) effects."""
    table = np.zeros((members.shape[1], n_criteria))
    for (g, c), size in effects.items():
        table[g, c] = size
    return members.astype(float) @ table


def _ratings(
    rng: np.random.Generator,
    quality: np.ndarray,
    bias: np.ndarray,
    shift: np.ndarray,
    sd: float,
    scale: tuple[int, int],
    missing: float,
) -> np.ndarray:
    latent = quality[None, :] + (bias + shift)[:, None]
    latent = latent + rng.normal(0.0, sd, size=latent.shape)
    values = np.clip(np.rint(latent), scale[0], scale[1]).astype(float)
    if missing > 0:
        values[rng.random(values.shape) < missing] = np.nan
    return values


def _ranking(
    rng: np.random.Generator,
    r: int,
    quality: np.ndarray,
    members: np.ndarray,
    ranking_effects: dict[tuple[int, int], float],
    sd: float,
    item_sites: tuple[int | None, ...],
    n_items: int,
) -> RankingMatrix:
    """Rank items by a noisy utility: the quality of the shown site on a related criterion."""
    n_people = members.shape[0]
    criterion = r % quality.shape[0]
    base = np.array([quality[criterion, s] if s is not None else 0.0 for s in item_sites])
    tilt = np.linspace(-1.0, 1.0, n_items)  # favours late items when the effect is positive
    utility = np.broadcast_to(base, (n_people, n_items)).copy()
    for (g, rr), size in ranking_effects.items():
        if rr == r:
            utility += np.outer(members[:, g], size * tilt)
    utility += rng.normal(0.0, sd, size=utility.shape)
    order = np.argsort(-utility, axis=1)
    ranks = np.empty_like(utility)
    np.put_along_axis(ranks, order, np.arange(1, n_items + 1, dtype=float)[None, :], axis=1)
    return RankingMatrix(
        criterion=f"ranking {r + 1}",
        ranks=ranks,
        item_sites=item_sites,
        item_codes=tuple(f"img{i + 1:02d}" for i in range(n_items)),
    )


def benchmark_study(n_participants: int = 5000, *, seed: int = 1) -> StudyData:
    """The analysis benchmark's study: 20 sites × 4 rating criteria × 2 waves, 6 overlapping
    groups with three planted effects, 10% missing, 12 ranking criteria of 7 images. Both
    bench/analyze.py (through PostgreSQL) and bench/analyze_math.py (math only) measure this one."""
    return generate_study(
        n_participants,
        20,
        4,
        6,
        n_waves=2,
        effects={(0, 0): 0.4, (1, 1): -0.3, (2, 2): 0.2},
        missing=0.1,
        n_ranking_criteria=12,
        n_items=7,
        seed=seed,
    )
