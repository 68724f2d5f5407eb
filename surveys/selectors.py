"""Reads for the resident survey: the ordered steps, what is answered, where to resume."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS, connections
from django.urls import reverse
from django.utils.translation import gettext as _

from core.db import fetchone

from .models import (
    Comment,
    Completion,
    Criterion,
    Participant,
    Priority,
    Ranking,
    Rating,
    Site,
    Study,
    Wave,
    current_wave_sql,
)
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


# --- the signed-in resident ----------------------------------------------------------------------


class _Columns:
    """Every column of a model in a hand-written SELECT, and the converters a QuerySet would apply
    to them, so a row becomes the same model instance a QuerySet would build."""

    def __init__(self, model, alias: str, db):
        qn = db.ops.quote_name
        self.model, self.db = model, db
        fields = model._meta.concrete_fields
        self.sql = ", ".join(f"{alias}.{qn(f.column)}" for f in fields)
        self.width = len(fields)
        self.converters = []
        for i, f in enumerate(fields):
            col = f.get_col(alias)
            found = db.ops.get_db_converters(col) + col.get_db_converters(db)
            if found:
                self.converters.append((i, found, col))

    def build(self, values):
        values = list(values)
        for i, found, col in self.converters:
            for convert in found:
                values[i] = convert(values[i], col, self.db)
        return self.model.from_db(self.db.alias, None, values)


# Built once per database connection (each thread has its own).
_resident_queries: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _resident_query(db) -> tuple[str, _Columns, _Columns, _Columns]:
    if (found := _resident_queries.get(db)) is not None:
        return found
    qn = db.ops.quote_name
    p, s, w = _Columns(Participant, "p", db), _Columns(Study, "s", db), _Columns(Wave, "w", db)
    study_id = f"p.{qn('study_id')}"
    sql = (
        f"SELECT {p.sql}, {s.sql}, {w.sql} FROM {qn(Participant._meta.db_table)} p "
        f"INNER JOIN {qn(Study._meta.db_table)} s ON s.{qn('id')} = {study_id} "
        f"LEFT OUTER JOIN {qn(Wave._meta.db_table)} w ON w.{qn('id')} = {current_wave_sql(qn, study_id)} "
        f"WHERE p.{qn('id')} = %s"
    )
    _resident_queries[db] = found = (sql, p, s, w)
    return found


def resident_get(*, participant_id) -> tuple[Participant, Wave | None] | None:
    """The participant a resident's session names, with their study and the study's open wave
    (Study.current_wave's rule), in one query: every survey request, an autosave above all,
    starts here. None when the session names no participant (withdrawn, or never invited)."""
    try:
        participant_id = int(participant_id)
    except (TypeError, ValueError):
        return None
    db = connections[DEFAULT_DB_ALIAS]
    sql, p, s, w = _resident_query(db)
    row = fetchone(sql, [Wave.Status.OPEN.value, participant_id])
    if row is None:
        return None
    participant = p.build(row[: p.width])
    participant.study = s.build(row[p.width : p.width + s.width])
    wave_row = row[p.width + s.width :]
    if wave_row[0] is None:
        return participant, None
    wave = w.build(wave_row)
    wave.study = participant.study
    return participant, wave
