"""Reads for the dashboard that do not need a finished analysis."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from django.db.models import Count
from django.utils.translation import get_language

from core.cache import cache_get, cache_set
from surveys.models import Completion, Criterion, Group, Participant, Ranking, Rating, Site, Study, Wave

from .charts import Panel, report_panels, representation_panel, small_groups
from .models import AnalysisRun
from .opinion_dashboard import OpinionSection, opinion_sections
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
        .values_list("id", "code", "label_en", "label_fr", "target_count", "n")
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
    french = (get_language() or "en").startswith("fr")
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
            "label": (label_fr if french else "") or label_en or code,
            "target": target,
            "participants": n,
            "completed": completed[gid],
            "answered": answered[gid],
        }
        for gid, code, label_en, label_fr, target, n in groups
    ]
    return rows, [name for _, name in waves]


@dataclass(frozen=True)
class Dashboard:
    latest: AnalysisRun | None
    current: AnalysisRun | None
    panels: list[Panel]
    representation: Panel
    small_groups: dict[str, int]
    opinion: list[OpinionSection] = field(default_factory=list)


def display_names(*, study: Study) -> dict[str, dict[str, str]]:
    """What people wrote for the study's groups, criteria and sites, in the active language,
    keyed by the codes a report uses."""
    return {
        # Reports key groups by their name as written (the English name); older results by code.
        "groups": {key: g.label for g in Group.objects.filter(study=study) for key in (g.label_en, g.code) if key},
        "criteria": {c.name: c.label for c in Criterion.objects.filter(study=study)},
        "sites": {code: name for code, name in Site.objects.filter(study=study).values_list("code", "name") if name},
    }


def _report_panels(run: AnalysisRun, *, min_group_size: int, names: dict) -> list[Panel]:
    """Panels of a finished run. A done run never changes, so they are cached by its id, the
    language they are written in and the names they show (a renamed group shows at once). The
    cache is best-effort: with Redis down they are drawn again."""
    digest = hashlib.sha256(json.dumps(names, sort_keys=True).encode()).hexdigest()[:16]
    key = f"analytics:panels:{run.pk}:{run.inputs_fingerprint}:{min_group_size}:{get_language()}:{digest}"
    panels = cache_get(key)
    if panels is None:
        panels = report_panels(run.result, min_group_size=min_group_size, names=names)
        cache_set(key, panels, 60 * 60)
    return panels


def _open_wave(study: Study) -> str | None:
    return (
        Wave.objects.filter(study=study, status=Wave.Status.OPEN)
        .order_by("order", "id")
        .values_list("name", flat=True)
        .first()
    )


def _representation(study: Study) -> Panel:
    rows, waves = representation_rows(study=study)
    return representation_panel(rows, waves=waves, min_group_size=study.min_group_size, open_wave=_open_wave(study))


def dashboard_build(*, study: Study) -> Dashboard:
    latest = analysis_latest(study)
    report = latest.result if latest else None
    names = display_names(study=study)
    return Dashboard(
        latest=latest,
        current=analysis_current(study),
        panels=_report_panels(latest, min_group_size=study.min_group_size, names=names) if latest else [],
        representation=_representation(study),
        small_groups=_named(small_groups(report, study.min_group_size), names["groups"]) if report else {},
        opinion=opinion_sections(study=study, report=report, names=names) if report else [],
    )


def _named(counts: dict[str, int], labels: dict[str, str]) -> dict[str, int]:
    return {labels.get(code, code): n for code, n in counts.items()}


def panel_for_csv(*, study: Study, key: str) -> Panel | None:
    """The panel whose table a CSV download serves, or None for an unknown key."""
    if key == "representation":
        return _representation(study)
    latest = analysis_latest(study)
    if latest is None:
        return None
    panels = _report_panels(latest, min_group_size=study.min_group_size, names=display_names(study=study))
    return next((p for p in panels if p.key == key), None)


@dataclass(frozen=True)
class Brief:
    """A study on one page for a council meeting: findings, worst-off groups, the negotiation."""

    dashboard: Dashboard
    findings: list[str]
    worst_off: list[dict]
    negotiation: dict | None


_FINDING_KEYS = ("representation", "divergence", "sites", "agreement", "variance", "longitudinal")


def brief_build(*, study: Study) -> Brief:
    dashboard = dashboard_build(study=study)
    by_key = {p.key: p for p in [dashboard.representation, *dashboard.panels]}
    last = len([p for p in dashboard.panels if p.key.startswith("divergence-")])
    findings = []
    for key in _FINDING_KEYS:
        panel = by_key.get(f"{key}-{last}") or by_key.get(key)
        if panel is not None and panel.summary:
            findings.append(panel.summary)
    names = display_names(study=study)
    return Brief(
        dashboard=dashboard,
        findings=findings,
        worst_off=worst_off_rows(dashboard.latest.result, names) if dashboard.latest else [],
        negotiation=_latest_negotiation(study, names["groups"]),
    )


def worst_off_rows(report: dict, names: dict) -> list[dict]:
    """Per rating criterion of the latest wave: everyone's mean next to the worst-off group's."""
    if not report["waves"]:
        return []
    wave = report["waves"][-1]
    rows = []
    for criterion in wave["criteria"]:
        rated = [g for g in criterion["groups"] if g["mean"] is not None]
        if not rated:
            continue
        worst = min(rated, key=lambda g: g["mean"])
        rows.append(
            {
                "wave": wave["wave"],
                "criterion": names["criteria"].get(criterion["criterion"], criterion["criterion"]),
                "mean": criterion["mean"],
                "group": names["groups"].get(worst["group"], worst["group"]),
                "group_mean": worst["mean"],
                "n": worst["n"],
                "sure": bool(worst["significant"]),
            }
        )
    return rows


def _latest_negotiation(study: Study, group_names: dict[str, str]) -> dict | None:
    """The latest finished negotiation of the study: its package against the best base design and
    the reference rules, and what the worst-off group gets under each."""
    from negotiation.selectors import outcome_latest

    outcome = outcome_latest(study)
    if outcome is None:
        return None
    data = outcome.data
    rows = [("package", data["package"]), ("best_base_design", data["best_base_design"])]
    rows += [
        (key, data.get("references", {}).get(key)) for key in ("utilitarian", "egalitarian", "nash", "equal_shares")
    ]

    def worst_group(package: dict) -> str:
        utilities = package.get("utilities") or {}
        code = min(utilities, key=utilities.get) if utilities else None
        return group_names.get(code, code) if code else "—"

    snapshot = outcome.session.snapshot or {}
    intervention_names = {i["code"]: i.get("name") or i["code"] for i in snapshot.get("interventions", [])}
    return {
        "scenario": outcome.session.scenario,
        "budget": snapshot.get("budget"),
        "session": outcome.session,
        "agreement": data["agreement"],
        "best_name": data["best_base_design"].get("name", ""),
        "rows": [
            {
                "key": key,
                "interventions": [intervention_names.get(code, code) for code in package["interventions"]],
                "cost": package["cost"],
                "worst_group": worst_group(package),
                **package["metrics"],
            }
            for key, package in rows
            if package
        ],
    }
