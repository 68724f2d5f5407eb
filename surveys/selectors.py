"""Reads for the resident survey: the ordered steps, what is answered, where to resume."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import reverse
from django.utils.translation import gettext as _

from .models import Comment, Completion, Criterion, Participant, Priority, Ranking, Rating, Site, Wave
from .ordering import participant_shuffle


@dataclass
class Step:
    key: str  # "language", "consent", "groups", "rate:<site>", "rank:<criterion>", ...
    title: str
    url: str
    answered: bool
    index: int = 0


@dataclass
class SurveyState:
    participant: Participant
    wave: Wave
    steps: list[Step] = field(default_factory=list)
    completed: bool = False

    @property
    def total(self) -> int:
        return len(self.steps)

    def step(self, key: str) -> Step | None:
        return next((s for s in self.steps if s.key == key), None)

    def first_unanswered(self) -> Step:
        return next((s for s in self.steps if not s.answered), self.steps[-1])

    def next_after(self, key: str) -> Step | None:
        keys = [s.key for s in self.steps]
        i = keys.index(key)
        return self.steps[i + 1] if i + 1 < len(self.steps) else None

    def previous_before(self, key: str) -> Step | None:
        keys = [s.key for s in self.steps]
        i = keys.index(key)
        return self.steps[i - 1] if i > 0 else None

    @property
    def answered_count(self) -> int:
        return sum(1 for s in self.steps if s.answered)


def rating_criteria(study) -> list[Criterion]:
    return list(study.criteria.filter(kind=Criterion.Kind.RATING).order_by("order", "name"))


def ranking_criteria(study) -> list[Criterion]:
    return list(study.criteria.filter(kind=Criterion.Kind.RANKING).order_by("order", "name"))


def sites_for_survey(study) -> list[Site]:
    return list(study.sites.prefetch_related("images").order_by("order", "code"))


def participant_sites(participant: Participant) -> list[Site]:
    """The study's streets in the order this participant rates them."""
    sites = list(participant.study.sites.order_by("order", "code"))
    return participant_shuffle(sites, seed=participant.order_seed, key="sites")


def ranking_initial_order(*, participant: Participant, criterion: Criterion) -> list[str]:
    """The image codes of a ranking, in the order first shown to this participant."""
    codes = [item.image.code for item in criterion.set_items.select_related("image")]
    return participant_shuffle(codes, seed=participant.order_seed, key=f"rank:{criterion.pk}")


def survey_state(*, participant: Participant, wave: Wave) -> SurveyState:
    """Builds the ordered steps with their answered status in a handful of queries."""
    study = participant.study
    n_rating = study.criteria.filter(kind=Criterion.Kind.RATING).count()
    rated = {}
    for site_id in Rating.objects.filter(participant=participant, wave=wave).values_list("site_id", flat=True):
        rated[site_id] = rated.get(site_id, 0) + 1
    ranked = set(Ranking.objects.filter(participant=participant, wave=wave).values_list("criterion_id", flat=True))
    has_priorities = n_rating == 0 or Priority.objects.filter(participant=participant, wave=wave).exists()
    has_comment = Comment.objects.filter(participant=participant, wave=wave).exists()

    steps = [
        Step("language", _("Language"), reverse("surveys:language"), bool(participant.language)),
        Step("consent", _("Consent"), reverse("surveys:consent"), participant.consented_at is not None),
        Step("groups", _("About you"), reverse("surveys:groups"), participant.groups_answered_at is not None),
    ]
    if n_rating:
        for site in participant_sites(participant):
            steps.append(
                Step(
                    f"rate:{site.code}",
                    _("Rate street %(name)s") % {"name": str(site)},
                    reverse("surveys:rate", args=[site.code]),
                    rated.get(site.id, 0) >= n_rating,
                )
            )
    for criterion in ranking_criteria(study):
        steps.append(
            Step(
                f"rank:{criterion.code}",
                _("Rank: %(label)s") % {"label": criterion.label},
                reverse("surveys:rank", args=[criterion.code]),
                criterion.id in ranked,
            )
        )
    if n_rating:
        steps.append(Step("priorities", _("Priorities"), reverse("surveys:priorities"), has_priorities))
    steps.append(Step("comment", _("Comment"), reverse("surveys:comment"), has_comment))
    steps.append(Step("review", _("Review"), reverse("surveys:review"), False))
    for i, step in enumerate(steps, start=1):
        step.index = i
    completed = Completion.objects.filter(participant=participant, wave=wave).exists()
    return SurveyState(participant=participant, wave=wave, steps=steps, completed=completed)


def participant_ranking(*, participant: Participant, wave: Wave, criterion: Criterion) -> list[str] | None:
    return (
        Ranking.objects.filter(participant=participant, wave=wave, criterion=criterion)
        .values_list("order", flat=True)
        .first()
    )


def participant_answers(*, participant: Participant, wave: Wave) -> dict:
    """Every answer the participant gave in the wave, keyed for templates."""
    ratings = {(r.site_id, r.criterion_id): r.value for r in Rating.objects.filter(participant=participant, wave=wave)}
    rankings = {r.criterion_id: r.order for r in Ranking.objects.filter(participant=participant, wave=wave)}
    priorities = {p.criterion_id: p.tokens for p in Priority.objects.filter(participant=participant, wave=wave)}
    comment = Comment.objects.filter(participant=participant, wave=wave).first()
    return {
        "ratings": ratings,
        "rankings": rankings,
        "priorities": priorities,
        "comment": comment.text if comment else "",
    }
