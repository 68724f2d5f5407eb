"""A study with enough answers that its analysis takes a few seconds, written with bulk_create."""

from __future__ import annotations

import json

import numpy as np

from conftest import build_study
from surveys.models import Criterion, Group, Participant, Ranking, Rating, Site, Study, Wave

# The bootstrap dominates the cost; these make one analysis of `study_with_answers` take a few
# seconds on an idle two-core machine, so a test can kill the worker in the middle of it.
SLOW = {"n_permutations": 20000, "n_bootstrap": 20000, "seed": 0}
FAST = {"n_permutations": 99, "n_bootstrap": 99, "seed": 0}


def study_with_answers(slug: str, *, n_participants: int = 60, n_sites: int = 8, seed: int = 0) -> Study:
    study = build_study(slug, n_sites=n_sites, n_images=3)
    rng = np.random.default_rng(seed)
    wave = Wave.objects.get(study=study)
    groups = list(Group.objects.filter(study=study).order_by("order"))
    sites = list(Site.objects.filter(study=study).order_by("order"))
    criteria = list(Criterion.objects.filter(study=study, kind="rating").order_by("order"))
    ranking = Criterion.objects.get(study=study, kind="ranking")
    codes = list(ranking.images.order_by("set_items__position").values_list("code", flat=True))
    participants = Participant.objects.bulk_create(
        Participant(study=study, code=f"P{i:04d}") for i in range(n_participants)
    )
    Participant.groups.through.objects.bulk_create(
        Participant.groups.through(participant=p, group=g)
        for i, p in enumerate(participants)
        for k, g in enumerate(groups)
        if (i + k) % 3 == 0
    )
    Rating.objects.bulk_create(
        Rating(participant=p, wave=wave, site=s, criterion=c, value=int(rng.integers(1, 5)))
        for p in participants
        for s in sites
        for c in criteria
    )
    Ranking.objects.bulk_create(
        Ranking(participant=p, wave=wave, criterion=ranking, order=[str(c) for c in rng.permutation(codes)])
        for p in participants
    )
    return study


def canonical(result: dict) -> str:
    """A report as comparable text (JSON keys sorted)."""
    return json.dumps(result, sort_keys=True)
