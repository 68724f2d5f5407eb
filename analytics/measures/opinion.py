"""Opinion groups: clusters of residents found from their ratings alone, as Pol.is finds them
from votes, set beside the groups residents declared.

The pipeline is Pol.is's, on ratings instead of agree/disagree votes:

1. the participants × (site, criterion) matrix of one wave; a participant takes part when they
   gave at least ``MIN_RATINGS`` ratings (Pol.is's seven votes), or every column when there
   are fewer;
2. centred imputation: each column is centred on its observed mean and a missing rating
   becomes 0, the column mean;
3. PCA to two components; each participant's projection is scaled by
   sqrt(columns / ratings given), so that people who rated little do not bunch up in the
   centre only because their missing ratings were imputed;
4. k-means on the projections for every k in 2..6, keeping the k with the highest silhouette.
   Above ``FIT_SAMPLE`` participants the search runs on a seeded sample, and the chosen k's
   centroids then start k-means over everyone; the silhouette is estimated on a seeded
   sample of ``SILHOUETTE_SAMPLE`` (the exact score costs n² distances);
5. labels made canonical: groups numbered 1..k by size, largest first (ties by centroid), so
   the same data and seed always give the same numbering.

Representative items of an opinion group are the (site, criterion) cells where its members'
mean rating differs most from everyone else's, ranked by the Welch t statistic so that a cell
few people rated does not win on noise. The adjusted mutual information compares the opinion
groups with the declared identities: since declared groups overlap, each participant's
identity is the set of groups they declared ("wheelchair users + seniors"), one partition.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_mutual_info_score, silhouette_score
from threadpoolctl import threadpool_limits

MIN_RATINGS = 7
MIN_PARTICIPANTS = 10
K_RANGE = (2, 6)
FIT_SAMPLE = 5000
SILHOUETTE_SAMPLE = 2000
N_INIT = 4
N_REPRESENTATIVE = 3
MAP_POINTS = 2000

TOO_FEW = "too few participants"
NO_VARIATION = "no variation in the ratings"


@dataclass(frozen=True)
class OpinionClustering:
    """The clustering alone: who is in which opinion group, and where they sit on the map."""

    rows: np.ndarray  # int, indices of the clustered participants
    labels: np.ndarray  # int, 0..k-1 per clustered participant, canonical order
    projection: np.ndarray  # float, (n_rows, 2): scaled first two principal components
    k: int
    silhouette: float
    silhouettes: dict[int, float]
    explained_variance: tuple[float, float]


def participant_rows(values: np.ndarray, min_ratings: int = MIN_RATINGS) -> np.ndarray:
    """Indices of participants with enough ratings to be placed on the opinion map."""
    needed = min(min_ratings, values.shape[1])
    return np.flatnonzero((~np.isnan(values)).sum(axis=1) >= max(needed, 1))


def project(values: np.ndarray, *, seed: int = 0) -> tuple[np.ndarray, tuple[float, float]]:
    """Pol.is's projection of a participants × items matrix (nan = missing): centred
    imputation, the first two principal components, sparsity scaling.

    Returns the (n, 2) projection and the share of variance each component explains."""
    observed = ~np.isnan(values)
    counts = observed.sum(axis=0)
    means = np.divide(np.nansum(values, axis=0), counts, out=np.zeros(values.shape[1]), where=counts > 0)
    centred = np.where(observed, values - means, 0.0)
    n_components = min(2, *centred.shape)
    # covariance_eigh works on the items × items covariance: exact, deterministic and far
    # cheaper than an SVD of the whole matrix when participants outnumber items.
    pca = PCA(n_components=n_components, svd_solver="covariance_eigh", random_state=seed)
    with np.errstate(invalid="ignore", divide="ignore"):  # no variance at all: ratios are 0/0
        scores = pca.fit_transform(centred)
    if n_components < 2:
        scores = np.column_stack([scores, np.zeros((len(scores), 2 - n_components))])
    scale = np.sqrt(values.shape[1] / np.maximum(observed.sum(axis=1), 1))
    ratios = list(np.nan_to_num(pca.explained_variance_ratio_)) + [0.0] * (2 - n_components)
    return scores * scale[:, None], (float(ratios[0]), float(ratios[1]))


def cluster(values: np.ndarray, *, seed: int = 0, k_range: tuple[int, int] = K_RANGE) -> OpinionClustering | str:
    """Opinion groups of a participants × items matrix, or the reason there are none."""
    # One thread: these matrices are too small to gain from more, and BLAS and OpenMP threads
    # that spin while the worker's machine is busy make them several times slower.
    with threadpool_limits(limits=1):
        return _cluster(values, seed, k_range)


def _cluster(values: np.ndarray, seed: int, k_range: tuple[int, int]) -> OpinionClustering | str:
    rows = participant_rows(values)
    if len(rows) < MIN_PARTICIPANTS:
        return TOO_FEW
    projection, explained = project(values[rows], seed=seed)
    distinct = len(np.unique(np.round(projection, 9), axis=0))
    if distinct < 3 or not np.any(projection.std(axis=0) > 1e-9):
        return NO_VARIATION
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(17,)))
    fit_rows = _sample(rng, len(rows), FIT_SAMPLE)
    score_rows = fit_rows[_sample(rng, len(fit_rows), SILHOUETTE_SAMPLE)]
    best: tuple[float, int, np.ndarray] | None = None
    silhouettes: dict[int, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for k in range(k_range[0], min(k_range[1], distinct - 1, len(fit_rows) - 1) + 1):
            model = KMeans(n_clusters=k, n_init=N_INIT, random_state=seed).fit(projection[fit_rows])
            score = _silhouette(projection, model.predict(projection[score_rows]), score_rows, k)
            if score is None:
                continue
            silhouettes[k] = score
            if best is None or score > best[0]:
                best = (score, k, model.cluster_centers_)
        if best is None:
            return NO_VARIATION
        _, k, centres = best
        # The centroids found on the sample start Lloyd's iterations over everyone.
        model = KMeans(n_clusters=k, init=centres, n_init=1, random_state=seed).fit(projection)
    labels = model.labels_
    score = _silhouette(projection, labels[score_rows], score_rows, k)
    if score is None:
        return NO_VARIATION
    silhouettes[k] = score
    return OpinionClustering(
        rows=rows,
        labels=_canonical(labels, model.cluster_centers_),
        projection=projection,
        k=k,
        silhouette=score,
        silhouettes=silhouettes,
        explained_variance=explained,
    )


def _sample(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """Sorted indices of a seeded sample of ``size`` out of ``n`` (all of them when fewer)."""
    if n <= size:
        return np.arange(n)
    return np.sort(rng.choice(n, size, replace=False))


def _silhouette(projection: np.ndarray, labels: np.ndarray, rows: np.ndarray, k: int) -> float | None:
    """Silhouette of the sampled points, or None when they do not fill k clusters."""
    if len(np.unique(labels)) < k:
        return None
    return float(silhouette_score(projection[rows], labels))


def _canonical(labels: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Relabels clusters 0..k-1 by size, largest first; equal sizes by centroid x, then y."""
    sizes = np.bincount(labels, minlength=len(centres))
    order = np.lexsort((centres[:, 1], centres[:, 0], -sizes))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[labels]


def representative_items(values: np.ndarray, labels: np.ndarray, k: int, top: int = N_REPRESENTATIVE) -> list[list]:
    """Per opinion group, the ``top`` items where its mean rating differs most from the
    others', ranked by |Welch t|: (item index, group mean, others' mean, raters in the group,
    raters outside it). Items where either side has fewer than two raters are skipped."""
    observed = ~np.isnan(values)
    filled = np.where(observed, values, 0.0)
    n_in, sum_in, sq_in = (np.zeros((k, values.shape[1])) for _ in range(3))
    for g in range(k):
        mask = labels == g
        n_in[g] = observed[mask].sum(axis=0)
        sum_in[g] = filled[mask].sum(axis=0)
        sq_in[g] = np.square(filled[mask]).sum(axis=0)
    n_all, sum_all, sq_all = observed.sum(axis=0), filled.sum(axis=0), (filled * filled).sum(axis=0)
    n_out, sum_out, sq_out = n_all - n_in, sum_all - sum_in, sq_all - sq_in
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_in, mean_out = sum_in / n_in, sum_out / n_out
        var_in = (sq_in - n_in * mean_in**2) / (n_in - 1)
        var_out = (sq_out - n_out * mean_out**2) / (n_out - 1)
        se = np.sqrt(np.maximum(var_in, 0) / n_in + np.maximum(var_out, 0) / n_out)
        diff = mean_in - mean_out
        # A difference with no spread on either side is as clear as a difference can be.
        t = np.where(se > 0, diff / se, np.where(diff != 0, np.inf, 0.0))
    usable = (n_in >= 2) & (n_out >= 2)
    strength = np.where(usable, np.abs(t), -1.0)
    result = []
    for g in range(k):
        # Stable sort on (−|t|, −|diff|, index) so ties always resolve the same way.
        order = np.lexsort((np.arange(values.shape[1]), -np.abs(np.nan_to_num(diff[g])), -strength[g]))
        chosen = [j for j in order[:top] if strength[g, j] >= 0]
        result.append(
            [(int(j), float(mean_in[g, j]), float(mean_out[g, j]), int(n_in[g, j]), int(n_out[g, j])) for j in chosen]
        )
    return result


def identity_labels(memberships: np.ndarray) -> np.ndarray:
    """One label per participant for the exact set of groups they declared."""
    if memberships.shape[1] == 0:
        return np.zeros(len(memberships), dtype=np.int64)
    _, inverse = np.unique(memberships.astype(np.uint8), axis=0, return_inverse=True)
    return inverse.ravel()


def opinion_groups(
    matrices: list[tuple[str, np.ndarray]],
    memberships: np.ndarray,
    group_names: tuple[str, ...],
    site_codes: tuple[str, ...],
    *,
    seed: int = 0,
) -> dict:
    """The ``opinion_groups`` entry of one wave of the report.

    ``matrices`` are the wave's (criterion, participants × sites) rating matrices; their
    columns side by side are the items. Besides the keys of the report contract, ``points``
    holds a seeded sample of at most MAP_POINTS participants for the opinion map (their two
    coordinates, opinion group and declared groups), which is per-person data: dashboards
    show it to the study's staff, exports leave it out."""
    items = [(site, criterion) for criterion, m in matrices for site in site_codes[: m.shape[1]]]
    values = np.hstack([m for _, m in matrices]) if matrices else np.empty((len(memberships), 0))
    keep = ~np.all(np.isnan(values), axis=0)
    values, items = values[:, keep], [item for item, kept in zip(items, keep, strict=True) if kept]
    base = {
        "k": None,
        "silhouette": None,
        "groups": [],
        "declared_overlap": [],
        "adjusted_mutual_information": None,
        "n_participants": int(len(participant_rows(values))) if values.shape[1] else 0,
        "n_items": len(items),
        "reason": None,
    }
    with threadpool_limits(limits=1):  # as in cluster()
        return _opinion_groups(values, items, memberships, group_names, seed, base)


def _opinion_groups(values, items, memberships, group_names, seed, base) -> dict:
    found = cluster(values, seed=seed) if values.shape[1] else TOO_FEW
    if isinstance(found, str):
        return {**base, "reason": found}
    labels, k = found.labels, found.k
    in_rows = values[found.rows]
    representative = representative_items(in_rows, labels, k)
    members = memberships[found.rows]
    sizes = np.bincount(labels, minlength=k)
    overlap = members.T.astype(np.int64) @ np.eye(k, dtype=np.int64)[labels]
    groups = [
        {
            "id": g + 1,
            "n": int(sizes[g]),
            "representative": [
                {
                    "site": items[j][0],
                    "criterion": items[j][1],
                    "mean": mean,
                    "others_mean": others,
                    "n": n_in,
                    "others_n": n_out,
                }
                for j, mean, others, n_in, n_out in representative[g]
            ],
        }
        for g in range(k)
    ]
    declared_overlap = [
        {"group": name, "opinion_group": g + 1, "n": int(overlap[d, g])}
        for d, name in enumerate(group_names)
        for g in range(k)
    ]
    ami = adjusted_mutual_info_score(identity_labels(members), labels)
    return {
        **base,
        "k": k,
        "silhouette": found.silhouette,
        "silhouettes": [{"k": kk, "silhouette": s} for kk, s in sorted(found.silhouettes.items())],
        "explained_variance": list(found.explained_variance),
        "groups": groups,
        "declared_overlap": declared_overlap,
        "adjusted_mutual_information": float(ami),
        "points": _map_points(found, members, seed),
    }


def _map_points(found: OpinionClustering, members: np.ndarray, seed: int) -> dict:
    """A seeded sample of the clustered participants for the opinion map, coordinates rounded."""
    n = len(found.rows)
    chosen = np.arange(n)
    if n > MAP_POINTS:
        rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(17, 1)))
        chosen = np.sort(rng.choice(n, MAP_POINTS, replace=False))
    xy = np.round(found.projection[chosen], 3)
    return {
        "n": len(chosen),
        "x": xy[:, 0].tolist(),
        "y": xy[:, 1].tolist(),
        "opinion_group": (found.labels[chosen] + 1).tolist(),
        "declared": [np.flatnonzero(row).tolist() for row in members[chosen]],
    }
