"""Fixtures for export tests: a populated study with known memberships, and helpers to read
a built zip."""

from __future__ import annotations

import csv
import io
import random
import zipfile
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from surveys.models import (
    Comment,
    Criterion,
    Group,
    Image,
    Participant,
    Priority,
    Ranking,
    Rating,
    Site,
    Study,
    StudyMembership,
    Wave,
)
from surveys.services import invitations_create

# (groups, how many participants): with k = 5 this needs generalisation ({senior, disabled}
# and {lgbtqia2} are too small) and complementary suppression (too few with no group).
MEMBERSHIP_PLAN = [
    (("senior",), 6),
    (("disabled",), 5),
    (("senior", "disabled"), 2),
    (("lgbtqia2",), 1),
    ((), 1),
]


@dataclass
class Populated:
    study: Study
    participants: list[Participant]
    tokens: list[str]
    non_consented: Participant | None = None
    comments: list[str] = field(default_factory=list)


def populate(
    study: Study,
    *,
    seed: int = 1,
    plan=MEMBERSHIP_PLAN,
    non_consented: bool = False,
    comment: str = "The corner of Rue X needs a ramp.",
) -> Populated:
    """Adds a second wave and gives every participant ratings, rankings, priorities and a
    comment in both waves, through invitations so that tokens exist."""
    rng = random.Random(seed)
    w1 = study.waves.order_by("order").first()
    w2 = Wave.objects.create(study=study, name="w2", order=2)
    waves = [w1, w2]
    n = sum(count for _, count in plan)
    issued = invitations_create(study=study, count=n + (1 if non_consented else 0))
    groups = {g.code: g for g in Group.objects.filter(study=study)}
    sites = list(Site.objects.filter(study=study).order_by("code"))
    rating = list(Criterion.objects.filter(study=study, kind="rating").order_by("name"))
    ranking = Criterion.objects.get(study=study, kind="ranking")
    images = list(ranking.images.order_by("code").values_list("code", flat=True))
    people, i = [], 0
    for codes, count in plan:
        for _ in range(count):
            p = issued[i].invitation.participant
            p.consented_at = timezone.now() - timedelta(days=1, minutes=i)
            p.save()
            p.groups.set([groups[c] for c in codes])
            people.append(p)
            i += 1
    result = Populated(study=study, participants=people, tokens=[x.token for x in issued])
    if non_consented:
        result.non_consented = issued[n].invitation.participant
        people = [*people, result.non_consented]
    for p in people:
        for w in waves:
            for s in sites:
                for c in rating:
                    Rating.objects.create(
                        participant=p,
                        wave=w,
                        site=s,
                        criterion=c,
                        value=rng.randint(study.scale_min, study.scale_max),
                    )
            order = images[:]
            rng.shuffle(order)
            Ranking.objects.create(participant=p, wave=w, criterion=ranking, order=order)
            first = rng.randint(0, 10)
            Priority.objects.create(participant=p, wave=w, criterion=rating[0], tokens=first)
            Priority.objects.create(participant=p, wave=w, criterion=rating[1], tokens=10 - first)
            Comment.objects.create(participant=p, wave=w, text=f"{comment} ({w.name})")
    result.comments = [comment]
    return result


def researcher(study: Study, username: str):
    user = get_user_model().objects.create_user(username, email=f"{username}@example.org", password=f"pw-{username}-1")
    StudyMembership.objects.create(study=study, user=user, role="researcher")
    return user


@dataclass
class Unzipped:
    files: dict[str, bytes]

    def text(self, name: str) -> str:
        return self.files[name].decode("utf-8")

    def rows(self, name: str) -> list[list[str]]:
        return list(csv.reader(io.StringIO(self.text(name))))

    def dicts(self, name: str) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(self.text(name))))


def unzip(path) -> Unzipped:
    with zipfile.ZipFile(path) as zf:
        return Unzipped({name: zf.read(name) for name in zf.namelist()})


@pytest.fixture(autouse=True)
def _private_root(settings, tmp_path):
    settings.PRIVATE_ROOT = tmp_path / "private"


@pytest.fixture
def populated(study) -> Populated:
    return populate(study)


__all__ = ["Image", "Populated", "Unzipped", "populate", "researcher", "unzip"]
