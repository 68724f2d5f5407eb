"""Ratings with planted opinion groups, for the opinion-group tests and benchmark.

Each participant belongs to one hidden opinion group; a group rates a random half of the items
higher and the other half lower than the street's quality, so the groups disagree with one
another item by item. Declared groups are drawn independently of the opinion groups, so
identity explains nothing of opinion and the adjusted mutual information should be near 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PlantedOpinions:
    values: np.ndarray  # float, participants × items, nan = missing
    truth: np.ndarray  # int, the planted opinion group of each participant
    memberships: np.ndarray  # bool, participants × declared groups, independent of truth


def planted_opinions(
    n_participants: int,
    n_items: int,
    *,
    shares: tuple[float, ...] = (0.45, 0.35, 0.20),
    effect: float = 1.0,
    noise: float = 1.0,
    scale: tuple[int, int] = (1, 5),
    missing: float = 0.1,
    n_declared: int = 4,
    membership_prob: float = 0.3,
    votes: bool = False,
    seed: int = 0,
) -> PlantedOpinions:
    """Planted opinion groups of the given shares (sizes exact up to rounding).

    With ``votes=True`` the values are Pol.is votes: −1 (disagree), 0 (pass), +1 (agree), the
    latent opinion thresholded at ±0.5."""
    rng = np.random.default_rng(seed)
    counts = np.floor(np.asarray(shares) * n_participants).astype(int)
    counts[0] += n_participants - counts.sum()
    truth = rng.permutation(np.repeat(np.arange(len(shares)), counts))
    profiles = rng.choice([-effect, effect], size=(len(shares), n_items))
    if votes:
        latent = profiles[truth] + rng.normal(0.0, noise, size=(n_participants, n_items))
        values = np.where(latent > 0.5, 1.0, np.where(latent < -0.5, -1.0, 0.0))
    else:
        low, high = scale
        quality = (low + high) / 2 + rng.normal(0.0, 0.5, size=n_items)
        latent = quality + profiles[truth] + rng.normal(0.0, noise, size=(n_participants, n_items))
        values = np.clip(np.rint(latent), low, high)
    if missing > 0:
        values[rng.random(values.shape) < missing] = np.nan
    memberships = rng.random((n_participants, n_declared)) < membership_prob
    return PlantedOpinions(values=values, truth=truth, memberships=memberships)
