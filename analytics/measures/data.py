"""Input dataclasses for the disagreement measures.

The Django service builds these from database rows; the math below never sees a model instance.
Missing answers are ``np.nan`` so every measure can work on dense arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RatingMatrix:
    """Ratings of one criterion in one wave: participants × sites, ``nan`` where not rated."""

    criterion: str
    values: np.ndarray  # float64, shape (n_participants, n_sites)


@dataclass(frozen=True)
class RankingMatrix:
    """Rankings of one criterion in one wave: participants × items, position 1 = best."""

    criterion: str
    ranks: np.ndarray  # float64, shape (n_participants, n_items); whole row nan = did not rank
    item_sites: tuple[int | None, ...]  # index into StudyData.site_codes, or None
    item_codes: tuple[str, ...]


@dataclass(frozen=True)
class WaveData:
    """All answers of one survey wave."""

    name: str
    ratings: tuple[RatingMatrix, ...]
    rankings: tuple[RankingMatrix, ...] = ()


@dataclass(frozen=True)
class StudyData:
    """A whole study; the participant axis is shared by every wave and every matrix."""

    slug: str
    scale_min: int
    scale_max: int
    group_names: tuple[str, ...]
    memberships: np.ndarray  # bool, shape (n_participants, n_groups); groups overlap
    site_codes: tuple[str, ...]
    waves: tuple[WaveData, ...]
    # Ratings the study agreed on as a whole: (rating criterion, one value per site, nan = none).
    consensus: tuple[tuple[str, np.ndarray], ...] = ()

    @property
    def n_participants(self) -> int:
        return int(self.memberships.shape[0])

    @property
    def scale_range(self) -> int:
        """K = max − min, the largest possible distance between two ratings."""
        return int(self.scale_max - self.scale_min)


def active_rows(values: np.ndarray) -> np.ndarray:
    """Boolean mask of participants who gave at least one answer in a matrix."""
    return ~np.all(np.isnan(values), axis=1)


def classes_by_rows(masks: list[np.ndarray]) -> list[tuple[np.ndarray, list[int]]]:
    """Indices of row masks grouped by identical masks, in order of first appearance.

    Matrices of one wave usually share their raters; grouping them lets one random draw (a
    permutation, a bootstrap resample) serve every matrix of a group.
    """
    classes: list[tuple[np.ndarray, list[int]]] = []
    for i, mask in enumerate(masks):
        for existing, members in classes:
            if np.array_equal(existing, mask):
                members.append(i)
                break
        else:
            classes.append((mask, [i]))
    return classes


def complete_rows(ranks: np.ndarray) -> np.ndarray:
    """Boolean mask of participants whose ranking has no missing position."""
    return ~np.any(np.isnan(ranks), axis=1) if ranks.shape[1] else np.zeros(len(ranks), bool)


def rng_for(seed: int, *key: int) -> np.random.Generator:
    """A generator that depends only on the study seed and the key of the work it serves.

    compute_report keys its streams by purpose and participant set (and waves for change
    tests), not by criterion: the criteria and waves that share raters share their permutations,
    bootstrap resamples and swap masks, so the draws and matrix products are made once. Same
    data + same seed gives the same report; adding a criterion or wave may change the Monte Carlo
    draws other cells see (never their definitions).
    """
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=tuple(int(k) for k in key)))
