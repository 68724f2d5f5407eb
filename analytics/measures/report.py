"""compute_report: every measure for every wave, criterion and group, as one JSON-ready dict.

The key layout is the contract of docs/contracts.md ("Report JSON"); extra keys are additions only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from .agreement import alpha_cis, alphas
from .components import component_change, variance_components
from .consensus import ConsensusResult, consensus_tests
from .consistency import names_match, rating_ranking_consistencies
from .data import (
    RankingMatrix,
    RatingMatrix,
    StudyData,
    WaveData,
    active_rows,
    complete_rows,
    rng_for,
)
from .disagreement import bootstrap_cis, pairwise_disagreement
from .divergence import MIN_TESTED, DivergenceResult, benjamini_hochberg, divergence_tests
from .jsonify import to_json
from .longitudinal import Change, paired_changes
from .opinion import opinion_groups
from .rankings import (
    DistanceTest,
    distance_tests_shared,
    group_ranking,
    group_rankings,
    kendall_w,
    most_distant_significant,
)
from .sites import site_summaries
from .variance import variance_split

SIGNIFICANCE = 0.05

# Purpose codes for the per-cell random streams (see data.rng_for).
_DIVERGENCE, _BOOTSTRAP, _CHANGE, _ALPHA, _COMPONENTS, _RANKING, _CONSENSUS = 1, 2, 3, 4, 5, 6, 7

ProgressCallback = Callable[[float], None]


class _Progress:
    """Reports the fraction of work units done; a missing callback makes it a no-op."""

    def __init__(self, callback: ProgressCallback | None, total: int) -> None:
        self.callback, self.total, self.done = callback, max(total, 1), 0

    def step(self) -> None:
        self.done += 1
        if self.callback is not None:
            self.callback(min(self.done / self.total, 1.0))


def compute_report(
    data: StudyData,
    *,
    n_permutations: int = 999,
    n_bootstrap: int = 999,
    seed: int = 0,
    min_tested: int = MIN_TESTED,
    progress: ProgressCallback | None = None,
) -> dict:
    """All disagreement measures of a study. Same data and seed give an identical report.

    ``min_tested`` is the smallest group (and the smallest rest of the raters) that gets a
    permutation test; smaller groups are reported with their divergences, flagged too small
    to test, and left out of the multiple-testing correction.
    """
    # One BLAS thread: the worker shares a small machine, and BLAS threads that wait for a busy
    # core made the whole report about twice as slow there (bench/analyze.py prints the CPU time).
    with threadpool_limits(limits=1):
        return _compute_report(data, n_permutations, n_bootstrap, seed, min_tested, progress)


def _compute_report(
    data: StudyData,
    n_permutations: int,
    n_bootstrap: int,
    seed: int,
    min_tested: int,
    progress: ProgressCallback | None,
) -> dict:
    criteria = _criterion_names(data)
    units = sum(len(w.ratings) + len(w.rankings) + 1 for w in data.waves) + len(criteria)
    tracker = _Progress(progress, units)
    tests = _divergence_tests(data, n_permutations, seed, min_tested)
    resampling = _Resampling(n_bootstrap, seed, n_permutations, min_tested)
    waves = [_wave_report(data, w, wave, tests[w], tracker, resampling) for w, wave in enumerate(data.waves)]
    for entry, wave in zip(waves, data.waves, strict=True):
        entry["opinion_groups"] = _opinion_entry(data, wave, seed)
    resampled = _Resampled(data, criteria, n_permutations, n_bootstrap, seed)
    longitudinal = []
    for c, name in enumerate(criteria):
        longitudinal.append(_longitudinal_entry(data, c, name, waves, resampled))
        tracker.step()
    report = {
        "study": data.slug,
        "scale": {"min": data.scale_min, "max": data.scale_max},
        "parameters": {
            "n_permutations": n_permutations,
            "n_bootstrap": n_bootstrap,
            "seed": seed,
            "min_tested": min_tested,
        },
        "groups": list(data.group_names),
        "waves": waves,
        "longitudinal": longitudinal if data.waves else [],
    }
    if progress is not None:
        progress(1.0)
    return to_json(report)


def _criterion_names(data: StudyData) -> list[str]:
    """Rating criteria in order of first appearance across waves."""
    names: list[str] = []
    for wave in data.waves:
        names += [r.criterion for r in wave.ratings if r.criterion not in names]
    return names


def _wave_participants(wave: WaveData) -> int:
    """Participants who gave any rating or ranking in the wave."""
    matrices = [r.values for r in wave.ratings] + [r.ranks for r in wave.rankings]
    if not matrices:
        return 0
    answered = np.zeros(matrices[0].shape[0], bool)
    for matrix in matrices:
        answered |= ~np.all(np.isnan(matrix), axis=1)
    return int(answered.sum())


# --- one wave -----------------------------------------------------------------------------------


def _divergence_tests(data: StudyData, n_permutations: int, seed: int, min_tested: int) -> list[list]:
    """Divergence tests of every criterion of every wave, per wave.

    One stream for the study: all criteria of all waves share their permutations of the
    participants (see divergence_tests), so the draws and the permuted membership matrices are
    made once. Every p-value is still the permutation p-value of its own (wave, criterion) cell;
    only the Monte Carlo draws are common.
    """
    matrices = [r.values for wave in data.waves for r in wave.ratings]
    rng = rng_for(seed, _DIVERGENCE)
    results = divergence_tests(matrices, data.memberships, n_permutations, rng, min_tested=min_tested)
    per_wave, start = [], 0
    for wave in data.waves:
        per_wave.append(results[start : start + len(wave.ratings)])
        start += len(wave.ratings)
    return per_wave


def wave_q_values(tests: list[DivergenceResult], profile: bool = False) -> list[np.ndarray]:
    """Benjamini–Hochberg q-values over all (group, criterion) cells of a wave together.

    A group whose member set equals (or complements) an earlier group's among a criterion's
    raters shares that group's test: it is counted once in the correction and gets its q-value.
    """
    p_values = [t.profile_p_value if profile else t.p_value for t in tests]
    return _shared_q_values(p_values, [t.same_test_as for t in tests])


def _shared_q_values(p_values: list[np.ndarray], same_test_as: list[np.ndarray]) -> list[np.ndarray]:
    """Benjamini–Hochberg over the concatenated cells, each shared test counted once."""
    if not p_values:
        return []
    own = [np.where(same < 0, p, np.nan) for p, same in zip(p_values, same_test_as, strict=True)]
    q = np.split(benjamini_hochberg(np.concatenate(own)), len(p_values))
    for same, q_c in zip(same_test_as, q, strict=True):
        shared = np.flatnonzero(same >= 0)
        q_c[shared] = q_c[same[shared]]
    return q


class _Resampling(NamedTuple):
    n_bootstrap: int
    seed: int
    n_permutations: int
    min_tested: int


def _wave_report(
    data: StudyData,
    w: int,
    wave: WaveData,
    tests: list[DivergenceResult],
    tracker: _Progress,
    resampling: _Resampling,
) -> dict:
    q_values = wave_q_values(tests)
    profile_q_values = wave_q_values(tests, profile=True)
    agreed = dict(data.consensus)
    consensus = [
        consensus_tests(
            rating.values,
            data.memberships,
            agreed[rating.criterion],
            resampling.n_permutations,
            rng_for(resampling.seed, _CONSENSUS, w, c),
            resampling.min_tested,
        )
        if rating.criterion in agreed
        else None
        for c, rating in enumerate(wave.ratings)
    ]
    found = [r for r in consensus if r is not None]
    found_q = iter(_shared_q_values([r.p_value for r in found], [r.same_test_as for r in found]))
    consensus_q = [next(found_q) if r is not None else None for r in consensus]
    criteria = []
    for c, (rating, test, q_c, pq_c) in enumerate(zip(wave.ratings, tests, q_values, profile_q_values, strict=True)):
        alpha_points = alphas(rating.values, data.memberships, data.scale_min, data.scale_max)
        alpha_intervals = alpha_cis(
            rating.values,
            data.memberships,
            data.scale_min,
            data.scale_max,
            resampling.n_bootstrap,
            rng_for(resampling.seed, _ALPHA, w, c),
            points=alpha_points,
        )
        entry = _criterion_entry(data, rating, test, q_c, pq_c, alpha_points, alpha_intervals)
        if consensus[c] is not None:
            _add_consensus(entry, consensus[c], consensus_q[c])
        criteria.append(entry)
        tracker.step()
    completes = [complete_rows(ranking.ranks) for ranking in wave.rankings]
    # Criteria ranked by the same people share one set of random relabellings (drawn from the
    # stream of the first of them), as the rating criteria of a wave do.
    classes: dict[bytes, list[int]] = {}
    for r, complete in enumerate(completes):
        classes.setdefault(np.packbits(complete).tobytes(), []).append(r)
    distance_results: list = [None] * len(completes)
    for members in classes.values():
        complete = completes[members[0]]
        shared = distance_tests_shared(
            [wave.rankings[r].ranks[complete] for r in members],
            data.memberships[complete],
            resampling.n_permutations,
            rng_for(resampling.seed, _RANKING, w, members[0]),
            resampling.min_tested,
        )
        for r, result in zip(members, shared, strict=True):
            distance_results[r] = result
    ranking_q = _shared_q_values([t.p_value for t in distance_results], [t.same_test_as for t in distance_results])
    rankings = []
    for ranking, test, q_r in zip(wave.rankings, distance_results, ranking_q, strict=True):
        rankings.append(_ranking_entry(data, ranking, test, q_r))
        tracker.step()
    consistency = _consistency_entries(wave)
    tracker.step()
    return {
        "wave": wave.name,
        "n_participants": _wave_participants(wave),
        "criteria": criteria,
        "rankings": rankings,
        "consistency": consistency,
    }


def _significant(q: float) -> bool:
    return bool(not np.isnan(q) and q <= SIGNIFICANCE)


def _opinion_entry(data: StudyData, wave: WaveData, seed: int) -> dict:
    matrices = [(r.criterion, r.values) for r in wave.ratings]
    return opinion_groups(matrices, data.memberships, data.group_names, data.site_codes, seed=seed)


def _criterion_entry(
    data: StudyData,
    rating: RatingMatrix,
    test: DivergenceResult,
    q: np.ndarray,
    profile_q: np.ndarray,
    alpha_points: tuple[float | None, list[float | None]],
    alpha_intervals: list[tuple[float | None, float | None]],
) -> dict:
    values, members = rating.values, data.memberships
    split = variance_split(values, members)
    components = variance_components(values, members)
    shares = components.shares()
    overall_alpha, group_alpha = alpha_points
    groups = []
    for g, name in enumerate(data.group_names):
        same = int(test.same_test_as[g])
        groups.append(
            {
                "group": name,
                "n": int(test.n[g]),
                "mean": _mean(values[members[:, g]]),
                "divergence": test.divergence[g],
                "p_value": test.p_value[g],
                "q_value": q[g],
                "significant": _significant(q[g]),
                "profile_divergence": test.profile[g],
                "profile_p_value": test.profile_p_value[g],
                "profile_q_value": profile_q[g],
                "profile_significant": _significant(profile_q[g]),
                "min_p_value": test.min_p_value[g],
                "too_small_to_test": bool(test.too_small[g]),
                "exact_test": bool(test.exact[g]),
                "same_test_as": data.group_names[same] if same >= 0 else None,
                "alpha_ordinal": group_alpha[g],
                "alpha_ci_low": alpha_intervals[g + 1][0],
                "alpha_ci_high": alpha_intervals[g + 1][1],
            }
        )
    return {
        "criterion": rating.criterion,
        "n_participants": int((~np.all(np.isnan(values), axis=1)).sum()),
        "n_ratings": int((~np.isnan(values)).sum()),
        "mean": _mean(values),
        "alpha_ordinal": overall_alpha,
        "alpha_ci_low": alpha_intervals[0][0],
        "alpha_ci_high": alpha_intervals[0][1],
        "pairwise_disagreement": pairwise_disagreement(values, data.scale_range),
        "between_group_variance": split.between,
        "within_group_variance": split.within,
        "between_group_share": split.share,
        "group_variance": components.group,
        "group_site_variance": components.group_site,
        "rater_variance": components.rater,
        "residual_variance": components.residual,
        "group_variance_share": shares["group"],
        "group_site_variance_share": shares["group_site"],
        "rater_variance_share": shares["rater"],
        "residual_variance_share": shares["residual"],
        "most_divergent_group": _most_divergent(groups),
        "groups": groups,
        "sites": site_summaries(values, members, data.site_codes, data.group_names),
    }


def _add_consensus(entry: dict, result: ConsensusResult, q: np.ndarray) -> None:
    """Distances from the study's consensus rating, overall and per group, with their tests."""
    entry["consensus_distance"] = result.overall
    entry["consensus_n_sites"] = result.n_sites
    for g, group in enumerate(entry["groups"]):
        group["consensus_distance"] = result.distance[g]
        group["consensus_p_value"] = result.p_value[g]
        group["consensus_q_value"] = q[g]
        group["consensus_significant"] = _significant(q[g])


def _mean(values: np.ndarray) -> float | None:
    observed = values[~np.isnan(values)]
    return float(observed.mean()) if observed.size else None


def _most_divergent(groups: list[dict]) -> str | None:
    """The significant group with the largest |d| (first one on ties), or None."""
    significant = [g for g in groups if g["significant"]]
    if not significant:
        return None
    return max(significant, key=lambda g: abs(g["divergence"]))["group"]


def _ranking_entry(data: StudyData, ranking: RankingMatrix, test: DistanceTest, q: np.ndarray) -> dict:
    complete = complete_rows(ranking.ranks)
    ranks = ranking.ranks[complete]
    members = data.memberships[complete]
    results = group_rankings(ranks, members, ranking.item_codes)
    overall = group_ranking(ranks, np.ones(len(ranks), bool), ranking.item_codes)
    return {
        "criterion": ranking.criterion,
        "n": int(complete.sum()),
        "kendall_w": kendall_w(ranks),
        "consensus": overall.consensus,
        # Only a group whose distance its permutation test calls significant (q ≤ 0.05) is named.
        "most_divergent_group": most_distant_significant(
            list(data.group_names), results, [_significant(q_g) for q_g in q]
        ),
        "groups": [
            {
                "group": name,
                "n": r.n,
                "kendall_w": r.kendall_w,
                "consensus": r.consensus,
                "mean_ranks": r.mean_ranks,
                "distance": r.distance,
                "p_value": test.p_value[g],
                "q_value": q[g],
                "significant": _significant(q[g]),
                "min_p_value": test.min_p_value[g],
                "too_small_to_test": bool(test.too_small[g]),
                "same_test_as": data.group_names[test.same_test_as[g]] if test.same_test_as[g] >= 0 else None,
            }
            for g, (name, r) in enumerate(zip(data.group_names, results, strict=True))
        ],
    }


def _consistency_entries(wave: WaveData) -> list[dict]:
    """Every (ranking criterion, rating criterion) pair of the wave whose images map to sites.

    Each pair is reported; ``same_criterion`` flags pairs whose names match (equal, or sharing
    a stem such as accessible/accessibility), which are the ones a dashboard should lead with.
    """
    usable = [r for r in wave.rankings if sum(s is not None for s in r.item_sites) >= 2]
    # Rankings with the same item → site mapping share the rating-side work.
    by_mapping: dict[tuple[int | None, ...], list[RankingMatrix]] = {}
    for ranking in usable:
        by_mapping.setdefault(ranking.item_sites, []).append(ranking)
    values = [rating.values for rating in wave.ratings]
    found = {}
    for item_sites, rankings in by_mapping.items():
        results = rating_ranking_consistencies([r.ranks for r in rankings], item_sites, values)
        for ranking, per_rating in zip(rankings, results, strict=True):
            found[id(ranking)] = per_rating
    entries = []
    for ranking in usable:
        for rating, result in zip(wave.ratings, found[id(ranking)], strict=True):
            entries.append(
                {
                    "ranking_criterion": ranking.criterion,
                    "rating_criterion": rating.criterion,
                    "same_criterion": names_match(ranking.criterion, rating.criterion),
                    "discordance": result.discordance,
                    "tied_pairs_share": result.tied_pairs_share,
                    "n_participants": result.n_participants,
                    "n_item_pairs": result.n_item_pairs,
                }
            )
    return entries


# --- longitudinal -------------------------------------------------------------------------------


class _Resampled:
    """Bootstrap intervals and paired change tests of every criterion and wave.

    For each participant set ("rows": everybody, or one group's members) the (wave, criterion)
    cells share their bootstrap resamples (when they have the same raters) and the criteria of a
    pair of waves share their swap masks, so the random draws and the matrix products happen
    once per participant set, not per cell. Each interval and p-value keeps its own definition;
    only the Monte Carlo draws are common. Streams are keyed by purpose, waves and participant set.
    """

    def __init__(
        self,
        data: StudyData,
        criteria: list[str],
        n_permutations: int,
        n_bootstrap: int,
        seed: int,
    ) -> None:
        k = data.scale_range
        self.seed, self.n_permutations = seed, n_permutations
        rowsets = [np.ones(data.n_participants, bool)] + [data.memberships[:, g] for g in range(len(data.group_names))]
        self.ci: dict[tuple[int, int, str], tuple[float | None, float | None]] = {}
        self.change: dict[tuple[int, int, str], Change] = {}
        pairs: dict[tuple[int, int], list[str]] = {}
        for name in criteria:
            present = [w for w, wave in enumerate(data.waves) if _find_rating(wave, name)]
            for w0, w1 in zip(present, present[1:], strict=False):
                pairs.setdefault((w0, w1), []).append(name)
        cells = [(w, rating) for w, wave in enumerate(data.waves) for rating in wave.ratings]
        for r, rows in enumerate(rowsets):
            # Every (wave, criterion) of a participant set resamples the same participants, so
            # cells with the same raters share their resamples (see bootstrap_cis).
            rng = rng_for(seed, _BOOTSTRAP, r)
            matrices = [rating.values[rows] for _, rating in cells]
            intervals = bootstrap_cis(matrices, k, n_bootstrap, rng)
            for (w, rating), ci in zip(cells, intervals, strict=True):
                self.ci[(r, w, rating.criterion)] = ci
            for (w0, w1), names in pairs.items():
                rng = rng_for(seed, _CHANGE, w0, w1, r)
                matrices = [
                    (
                        _find_rating(data.waves[w0], name).values[rows],
                        _find_rating(data.waves[w1], name).values[rows],
                    )
                    for name in names
                ]
                for name, change in zip(names, paired_changes(matrices, k, n_permutations, rng), strict=True):
                    self.change[(r, w0, name)] = change


def _longitudinal_entry(data: StudyData, c: int, name: str, wave_reports: list[dict], resampled: _Resampled) -> dict:
    """Series and consecutive changes for one rating criterion, overall and per group."""
    present = [(w, wave, _find_rating(wave, name)) for w, wave in enumerate(data.waves)]
    present = [(w, wave, r) for w, wave, r in present if r is not None]
    shares = [_share_from_report(wave_reports[w], name) for w, _, _ in present]
    overall = _series_and_changes(data, present, shares, np.ones(data.n_participants, bool), 0, resampled)
    for change, (w0, _, r0), (w1, _, r1) in zip(overall["changes"], present, present[1:], strict=False):
        rng = rng_for(resampled.seed, _COMPONENTS, w0, w1, c)
        moved = component_change(r0.values, r1.values, data.memberships, resampled.n_permutations, rng)
        change.update(
            group_variance_delta=moved.group_delta,
            group_variance_p_value=moved.group_p_value,
            group_site_variance_delta=moved.group_site_delta,
            group_site_variance_p_value=moved.group_site_p_value,
        )
    groups = []
    for g, group in enumerate(data.group_names):
        in_group = data.memberships[:, g]
        members = data.memberships[in_group]
        group_shares = [variance_split(r.values[in_group], members).share for _, _, r in present]
        entry = _series_and_changes(data, present, group_shares, in_group, g + 1, resampled)
        groups.append({"group": group, **entry})
    return {"criterion": name, **overall, "groups": groups}


def _find_rating(wave: WaveData, name: str) -> RatingMatrix | None:
    return next((r for r in wave.ratings if r.criterion == name), None)


def _share_from_report(wave_report: dict, name: str) -> float | None:
    entry = next(c for c in wave_report["criteria"] if c["criterion"] == name)
    return entry["between_group_share"]


def _series_and_changes(
    data: StudyData,
    present: list[tuple[int, WaveData, RatingMatrix]],
    shares: list[float | None],
    rows: np.ndarray,
    r: int,
    resampled: _Resampled,
) -> dict:
    """Per-wave disagreement with bootstrap CI, and paired tests between consecutive waves.

    ``rows`` restricts everything to a subset of participants (all, or one group's members);
    ``r`` is its index in the resampled results (0 = everybody, g + 1 = group g).
    """
    k = data.scale_range
    series = []
    for (w, wave, rating), share in zip(present, shares, strict=True):
        values = rating.values[rows]
        ci_low, ci_high = resampled.ci[(r, w, rating.criterion)]
        series.append(
            {
                "wave": wave.name,
                "n": int(active_rows(values).sum()),
                "pairwise_disagreement": pairwise_disagreement(values, k),
                "ci_low": ci_low,
                "ci_high": ci_high,
                "between_group_share": share,
            }
        )
    changes = []
    for (w0, wave0, r0), (_, wave1, _) in zip(present, present[1:], strict=False):
        change = resampled.change[(r, w0, r0.criterion)]
        changes.append(
            {
                "from": wave0.name,
                "to": wave1.name,
                "delta": change.delta,
                "p_value": change.p_value,
                "n_paired": change.n_paired,
            }
        )
    return {"series": series, "changes": changes}
