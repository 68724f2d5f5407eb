"""Disagreement measures: pure numpy/scipy/krippendorff math, no Django import.

The Django service builds a StudyData and calls compute_report; everything else is exported for
dashboards and tests that need a single measure.
"""

from __future__ import annotations

from .agreement import group_alphas, ordinal_alpha
from .consistency import Consistency, names_match, rating_ranking_consistency
from .data import RankingMatrix, RatingMatrix, StudyData, WaveData
from .disagreement import bootstrap_ci, pairwise_disagreement
from .divergence import DivergenceResult, benjamini_hochberg, divergence_test, group_divergence
from .longitudinal import Change, WavePoint, paired_change, wave_point
from .rankings import GroupRanking, consensus_order, group_ranking, kendall_w, tau_distance
from .report import compute_report
from .sites import site_summaries
from .synthetic import generate_study
from .variance import VarianceSplit, variance_split

__all__ = [
    "Change",
    "Consistency",
    "DivergenceResult",
    "GroupRanking",
    "RankingMatrix",
    "RatingMatrix",
    "StudyData",
    "VarianceSplit",
    "WaveData",
    "WavePoint",
    "benjamini_hochberg",
    "bootstrap_ci",
    "compute_report",
    "consensus_order",
    "divergence_test",
    "generate_study",
    "group_alphas",
    "group_divergence",
    "group_ranking",
    "kendall_w",
    "names_match",
    "ordinal_alpha",
    "paired_change",
    "pairwise_disagreement",
    "rating_ranking_consistency",
    "site_summaries",
    "tau_distance",
    "variance_split",
    "wave_point",
]
