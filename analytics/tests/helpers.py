"""Answers for the small `study` fixture, so the analytics tests have something to measure."""

from __future__ import annotations

import numpy as np

from surveys.models import Criterion, Group, Participant, Ranking, Rating, Site, Wave

FAST = {"n_permutations": 99, "n_bootstrap": 99, "seed": 3}


def study_fill(study, *, n_participants: int = 12, seed: int = 0) -> None:
    """Gives the study participants in overlapping groups, ratings of every site and
    criterion in its wave (seniors rate accessibility lower) and rankings of its images."""
    rng = np.random.default_rng(seed)
    wave = Wave.objects.get(study=study, name="w1")
    groups = list(Group.objects.filter(study=study).order_by("order"))
    sites = list(Site.objects.filter(study=study).order_by("order"))
    rating_criteria = list(Criterion.objects.filter(study=study, kind="rating").order_by("order"))
    ranking = Criterion.objects.get(study=study, kind="ranking")
    codes = list(ranking.images.order_by("set_items__position").values_list("code", flat=True))
    for i in range(n_participants):
        participant = Participant.objects.create(study=study, code=f"T{i:03d}")
        member_of = [g for k, g in enumerate(groups) if (i + k) % 3 == 0]
        participant.groups.set(member_of)
        for site in sites:
            for criterion in rating_criteria:
                value = int(rng.integers(2, 5))
                if criterion.name == "accessibility" and groups[0] in member_of:
                    value = 1
                Rating.objects.create(participant=participant, wave=wave, site=site, criterion=criterion, value=value)
        Ranking.objects.create(
            participant=participant, wave=wave, criterion=ranking, order=[str(c) for c in rng.permutation(codes)]
        )
