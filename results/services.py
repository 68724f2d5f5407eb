"""Publishing a study's public results page: build the snapshot, publish, unpublish.

What a snapshot may hold (the page shows exactly this, and nothing else is stored):
- per wave with at least k residents, per rating criterion: everyone's mean and, for each group
  shown, its mean and its difference from the other residents;
- per rating criterion, how disagreement changed from one wave to the next, over everyone;
- the latest negotiated package: its interventions, cost and budget, the best base design it is
  compared with, and the utilities of the stakeholder groups shown.

A group is shown only where it has at least k members *and* the rest of the residents it is
compared with number at least k: a group's difference from "the others" is the others' mean
too, so a group of 9 out of 12 would reveal what the other 3 said. The small-cell rule itself is
the export's (`exports.report.small_cells_blank`): the report is blanked with it first, then the
complementary cells are dropped. k is the study's export k or its dashboard minimum group size,
whichever is larger: a public page is a release like an export and is read like a dashboard.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from analytics.services import analysis_latest
from exports.audit import audit_record
from exports.models import AuditLog
from exports.report import small_cells_blank
from negotiation.selectors import outcome_latest
from surveys.models import Criterion, Group, Study

from .models import ResultsPage

SNAPSHOT_FORMAT = 1
ACTION_PUBLISHED = AuditLog.Action.RESULTS_PUBLISHED
ACTION_UNPUBLISHED = AuditLog.Action.RESULTS_UNPUBLISHED

NOT_ANALYSED = "not_analysed"
STALE = "stale"


class PublishError(Exception):
    """A page that cannot be published now; `code` says why (the view words it)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def public_k(study: Study) -> int:
    """The smallest group the public page shows anything about."""
    return max(int(study.k_anonymity), int(study.min_group_size), 1)


def _bilingual(obj, field: str) -> dict[str, str]:
    return {"en": obj.localized(field, "en"), "fr": obj.localized(field, "fr")}


class _Names:
    """What people wrote for the study's groups and criteria, in both languages, looked up by the
    keys reports and outcomes use (a group's name as written, or its code in older results)."""

    def __init__(self, study: Study) -> None:
        groups = list(Group.objects.filter(study=study).annotate(members=Count("participants", distinct=True)))
        self.groups = {key: g for g in groups for key in (g.code, g.label_en) if key}
        self.criteria = {c.name: c for c in Criterion.objects.filter(study=study)}

    def group(self, key: str) -> dict[str, str]:
        group = self.groups.get(key)
        return _bilingual(group, "label") if group else {"en": key, "fr": key}

    def members(self, key: str) -> int:
        group = self.groups.get(key)
        return group.members if group else 0

    def criterion(self, key: str) -> dict[str, str]:
        criterion = self.criteria.get(key)
        return _bilingual(criterion, "label") if criterion else {"en": key, "fr": key}


def _shown_groups(criterion: dict, k: int, names: _Names) -> list[dict]:
    raters = criterion.get("n_participants") or 0
    shown = []
    for g in criterion["groups"]:
        if "suppressed" in g or g.get("n") is None or g.get("mean") is None:
            continue
        if g["n"] < k or raters - g["n"] < k:
            continue
        shown.append(
            {
                "group": names.group(g["group"]),
                "mean": g["mean"],
                "divergence": g.get("divergence"),
                "significant": bool(g.get("significant")),
            }
        )
    return shown


def _waves(report: dict, k: int, names: _Names) -> list[dict]:
    waves = []
    for wave in report.get("waves", []):
        if (wave.get("n_participants") or 0) < k:
            waves.append({"wave": wave["wave"], "n_participants": None, "criteria": []})
            continue
        criteria = []
        for c in wave.get("criteria", []):
            if (c.get("n_participants") or 0) < k or c.get("mean") is None:
                continue
            groups = _shown_groups(c, k, names)
            criteria.append(
                {
                    "criterion": names.criterion(c["criterion"]),
                    "mean": c["mean"],
                    "groups": groups,
                    "groups_withheld": len(groups) < len(c["groups"]),
                }
            )
        waves.append({"wave": wave["wave"], "n_participants": wave["n_participants"], "criteria": criteria})
    return waves


def _changes(report: dict, k: int, names: _Names) -> list[dict]:
    """Everyone's disagreement per criterion from one wave to the next (no group series)."""
    out = []
    for entry in report.get("longitudinal", []):
        series = {s["wave"]: s for s in entry.get("series", []) if "suppressed" not in s}
        for change in entry.get("changes", []):
            before, after = series.get(change.get("from")), series.get(change.get("to"))
            if before is None or after is None or "suppressed" in change:
                continue
            if min(before.get("n", 0), after.get("n", 0)) < k or change.get("n_paired", k) < k:
                continue
            if before.get("pairwise_disagreement") is None or after.get("pairwise_disagreement") is None:
                continue
            out.append(
                {
                    "criterion": names.criterion(entry["criterion"]),
                    "from": change["from"],
                    "to": change["to"],
                    "before": before["pairwise_disagreement"],
                    "after": after["pairwise_disagreement"],
                    "p_value": change.get("p_value"),
                    "between_before": before.get("between_group_share"),
                    "between_after": after.get("between_group_share"),
                }
            )
    return out


def _package(package: dict, interventions: dict[str, str]) -> dict:
    return {
        "name": package.get("name", ""),
        "interventions": [interventions.get(code, code) for code in package.get("interventions", [])],
        "cost": package.get("cost"),
    }


def _negotiation(study: Study, k: int, names: _Names) -> dict | None:
    outcome = outcome_latest(study)
    if outcome is None:
        return None
    data = outcome.data
    session = outcome.session
    interventions = {
        **{i["code"]: i.get("name") or i["code"] for i in (session.snapshot or {}).get("interventions", [])},
        **((data.get("scenario") or {}).get("interventions") or {}),
    }
    package, best = data["package"], data["best_base_design"]
    utilities, base = package.get("utilities") or {}, best.get("utilities") or {}
    every_group_large = all(names.members(g) >= k for g in utilities)
    groups = [
        {"group": names.group(g), "utility": u, "base": base.get(g)}
        for g, u in utilities.items()
        if names.members(g) >= k
    ]
    fairness = data.get("fairness") or {}
    return {
        "scenario": session.scenario.title,
        "agreement": bool(data.get("agreement")),
        "rounds": len(data.get("rounds") or []),
        "budget": (data.get("scenario") or {}).get("budget", (session.snapshot or {}).get("budget")),
        "currency": session.scenario.currency,
        "package": _package(package, interventions),
        "best_base_design": _package(best, interventions),
        "no_group_worse_off": bool(fairness.get("cannot_fall")) and not data.get("reservation_shift"),
        "groups": groups,
        "groups_withheld": len(groups) < len(utilities),
        # The metrics sum or compare every group, so they would give away a hidden group's
        # utility next to the shown ones: only when every group is shown.
        "metrics": (
            {"package": package.get("metrics"), "best": best.get("metrics")} if every_group_large and groups else None
        ),
    }


def results_snapshot_build(*, study: Study) -> dict:
    """What the public page would show now, from the latest finished analysis and negotiation.

    Raises PublishError when the study has no analysis yet, or its latest analysis still
    counts answers a resident withdrew (a fresh one is on its way)."""
    run = analysis_latest(study)
    if run is None or not run.result:
        raise PublishError(NOT_ANALYSED)
    if run.stale_since is not None:
        raise PublishError(STALE)
    k = public_k(study)
    names = _Names(study)
    report = small_cells_blank(run.result, k)
    scale = report.get("scale") or {}
    return {
        "format": SNAPSHOT_FORMAT,
        "k": k,
        "title": _bilingual(study, "title"),
        "description": _bilingual(study, "description"),
        "scale": {"min": scale.get("min", study.scale_min), "max": scale.get("max", study.scale_max)},
        "analysis": {
            "id": run.pk,
            "finished_at": timezone.localdate(run.finished_at).isoformat() if run.finished_at else None,
        },
        "waves": _waves(report, k, names),
        "changes": _changes(report, k, names),
        "negotiation": _negotiation(study, k, names),
    }


def results_publish(*, study: Study, user) -> ResultsPage:
    """Publishes the page (or publishes it again) with a fresh snapshot, and logs who did."""
    snapshot = results_snapshot_build(study=study)
    with transaction.atomic():
        page, _created = ResultsPage.objects.select_for_update().get_or_create(study=study)
        republished = page.published
        page.snapshot = snapshot
        page.published = True
        page.published_at = timezone.now()
        page.published_by = user if user is not None and user.is_authenticated else None
        page.stale_since = None
        page.save()
        audit_record(
            action=ACTION_PUBLISHED,
            actor=user,
            study=study,
            target=f"results:{study.slug}",
            details={"analysis": snapshot["analysis"]["id"], "k": snapshot["k"], "republished": republished},
        )
    return page


def results_unpublish(*, study: Study, user) -> ResultsPage | None:
    """Takes the page down (the public address answers 404 again). Nothing published: nothing to do."""
    with transaction.atomic():
        page = ResultsPage.objects.select_for_update().filter(study=study, published=True).first()
        if page is None:
            return None
        page.published = False
        page.save(update_fields=["published"])
        audit_record(action=ACTION_UNPUBLISHED, actor=user, study=study, target=f"results:{study.slug}")
    return page


def results_mark_stale(*, study: Study) -> int:
    """A resident withdrew: a published page still counts their answers until it is published again."""
    return ResultsPage.objects.filter(study=study, published=True, stale_since__isnull=True).update(
        stale_since=timezone.now()
    )
