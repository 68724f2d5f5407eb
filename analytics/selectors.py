"""Reads for the dashboard that do not need a finished analysis."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Count

from surveys.models import Completion, Group, Participant, Ranking, Rating, Study, Wave

from .charts import Panel, report_panels, representation_panel, small_groups
from .models import AnalysisRun
from .services import analysis_current, analysis_latest


def representation_rows(*, study: Study) -> tuple[list[dict], list[str]]:
    """Per group: target, participants who identify with it, and per wave how many of them
    answered anything and how many finished. A fixed number of queries whatever the size."""
    waves = list(Wave.objects.filter(study=study).order_by("order", "id").values_list("id", "name"))
    wave_names = dict(waves)
    groups = list(
        Group.objects.filter(study=study)
        .order_by("order", "code")
        .annotate(n=Count("participants", distinct=True))
        .values_list("id", "code", "label_en", "target_count", "n")
    )
    completed: dict[int, dict[str, int]] = {g[0]: {} for g in groups}
    for group_id, wave_id, n in (
        Completion.objects.filter(wave__study=study, participant__groups__isnull=False)
        .values_list("participant__groups", "wave_id")
        .annotate(n=Count("participant", distinct=True))
    ):
        if group_id in completed:
            completed[group_id][wave_names[wave_id]] = n
    answered: dict[int, dict[str, int]] = {g[0]: {} for g in groups}
    pairs = set()
    for model in (Rating, Ranking):
        pairs |= set(model.objects.filter(wave__study=study).values_list("wave_id", "participant_id").distinct())
    member_of: dict[int, list[int]] = {}
    for participant_id, group_id in Participant.groups.through.objects.filter(participant__study=study).values_list(
        "participant_id", "group_id"
    ):
        member_of.setdefault(participant_id, []).append(group_id)
    for wave_id, participant_id in pairs:
        for group_id in member_of.get(participant_id, []):
            counts = answered[group_id]
            counts[wave_names[wave_id]] = counts.get(wave_names[wave_id], 0) + 1
    rows = [
        {
            "code": code,
            "label": label or code,
            "target": target,
            "participants": n,
            "completed": completed[gid],
            "answered": answered[gid],
        }
        for gid, code, label, target, n in groups
    ]
    return rows, [name for _, name in waves]


@dataclass(frozen=True)
class Dashboard:
    latest: AnalysisRun | None
    current: AnalysisRun | None
    panels: list[Panel]
    representation: Panel
    small_groups: dict[str, int]


def _report_panels(run: AnalysisRun, *, min_group_size: int) -> list[Panel]:
    """Panels of a finished run. A done run never changes, so they are cached by its id."""
    key = f"analytics:panels:{run.pk}:{run.inputs_fingerprint}:{min_group_size}"
    panels = cache.get(key)
    if panels is None:
        panels = report_panels(run.result, min_group_size=min_group_size)
        cache.set(key, panels, 60 * 60)
    return panels


def group_labels(*, study: Study) -> dict[str, str]:
    """Each group's name as written, in the active language, keyed by the code reports use."""
    return {g.code: g.label for g in Group.objects.filter(study=study)}


def dashboard_build(*, study: Study) -> Dashboard:
    latest = analysis_latest(study)
    rows, waves = representation_rows(study=study)
    report = latest.result if latest else None
    return Dashboard(
        latest=latest,
        current=analysis_current(study),
        panels=_report_panels(latest, min_group_size=study.min_group_size) if latest else [],
        representation=representation_panel(rows, waves=waves, min_group_size=study.min_group_size),
        small_groups=_named(small_groups(report, study.min_group_size), group_labels(study=study)) if report else {},
    )


def _named(counts: dict[str, int], labels: dict[str, str]) -> dict[str, int]:
    return {labels.get(code, code): n for code, n in counts.items()}


def panel_for_csv(*, study: Study, key: str) -> Panel | None:
    """The panel whose table a CSV download serves, or None for an unknown key."""
    if key == "representation":
        rows, waves = representation_rows(study=study)
        return representation_panel(rows, waves=waves, min_group_size=study.min_group_size)
    latest = analysis_latest(study)
    if latest is None:
        return None
    panels = _report_panels(latest, min_group_size=study.min_group_size)
    return next((p for p in panels if p.key == key), None)
