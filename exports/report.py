"""The disagreement report inside an export, computed from the export's own rows.

The study's dashboards analyse every participant with every membership. Putting that report in
the zip would leak twice: it covers participants who did not consent to research use, and its
per-group figures (means per site, the worst-off group, series over waves) describe the true
memberships, so matching them against the pseudonymous rows tells which pseudonyms belong to a
group whose memberships the export withheld. The export's report is therefore computed again
on exactly what the zip releases — the consenting participants, with their released
memberships — so it adds no fact the rows do not already hold; then every figure of a cell
smaller than k (a group with fewer than k respondents in a wave) is blanked.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from analytics.loading import study_data_load
from analytics.measures import compute_report
from analytics.measures.data import StudyData, WaveData
from analytics.services import analysis_latest
from surveys.models import Group, Participant, Study

ERROR_CHANGED = "The study's participants changed while the export was read; request it again."


def released_report(*, study: Study, released: dict[int, frozenset[str]], k: int) -> dict | None:
    """The report of the released rows with the parameters of the study's latest analysis, or
    None when the study was never analysed. `released` maps participant id → released groups
    (consenting participants only)."""
    latest = analysis_latest(study)
    if latest is None:
        return None
    loaded = study_data_load(study=study)
    ids = list(Participant.objects.filter(study=study).order_by("id").values_list("id", flat=True))
    if len(ids) != loaded.data.n_participants:
        raise RuntimeError(ERROR_CHANGED)
    keep = np.array([pid in released for pid in ids], dtype=bool)
    kept_ids = [pid for pid in ids if pid in released]
    # Released memberships are group codes; the report names groups as written.
    name_of = Group.objects.filter(study=study).names_by_code()
    released = {pid: frozenset(name_of.get(code, code) for code in codes) for pid, codes in released.items()}
    groups = tuple(g for g in loaded.data.group_names if any(g in released[pid] for pid in kept_ids))
    memberships = np.array([[g in released[pid] for g in groups] for pid in kept_ids], dtype=bool).reshape(
        len(kept_ids), len(groups)
    )
    data = StudyData(
        slug=loaded.data.slug,
        scale_min=loaded.data.scale_min,
        scale_max=loaded.data.scale_max,
        group_names=groups,
        memberships=memberships,
        site_codes=loaded.data.site_codes,
        waves=tuple(_wave_rows(wave, keep) for wave in loaded.data.waves),
    )
    report = compute_report(data, **latest.parameters)
    report["labels"] = {
        "groups": {g: loaded.group_labels.get(g, g) for g in groups},
        "criteria": loaded.criterion_labels,
    }
    report["released_rows_only"] = True
    return small_cells_blank(report, k)


def _wave_rows(wave: WaveData, keep: np.ndarray) -> WaveData:
    ratings = tuple(replace(r, values=r.values[keep]) for r in wave.ratings)
    rankings = tuple(replace(r, ranks=r.ranks[keep]) for r in wave.rankings)
    ratings = tuple(r for r in ratings if not np.isnan(r.values).all())
    return WaveData(wave.name, ratings, rankings)


def small_cells_blank(report, k: int):
    """Blanks every per-group figure of a cell smaller than k, wherever it sits in the report:
    group entries (`{"group", "n", …}`) and opinion groups, per-site group means, the worst-off
    group and the most divergent group, and the per-wave series of a group; the opinion map's
    per-person points are left out."""
    small: set[tuple[str, str]] = set()  # (wave or "", group)

    def walk(value, wave: str = ""):
        if isinstance(value, list):
            return [walk(item, wave) for item in value]
        if not isinstance(value, dict):
            return value
        wave = value.get("wave", wave) if isinstance(value.get("wave"), str) else wave
        n = value.get("n")
        if ("group" in value or "representative" in value) and isinstance(n, int) and 0 < n < k:
            if "group" in value and "opinion_group" not in value:
                # A declared group with fewer than k respondents in the wave (an overlap cell
                # of a group with an opinion group is only that cell).
                small.add((wave, value["group"]))
            kept = {key: value[key] for key in ("group", "id", "opinion_group") if key in value}
            return {**kept, "suppressed": f"fewer than {k} respondents"}
        if "group" in value and "series" in value:
            entry = dict(value)
            entry["series"] = [
                s if s.get("n", 0) >= k else {"wave": s.get("wave"), "suppressed": f"fewer than {k} respondents"}
                for s in value["series"]
            ]
            if any("suppressed" in s for s in entry["series"]):
                entry["changes"] = [{"from": c["from"], "to": c["to"], "suppressed": True} for c in value["changes"]]
            return entry
        # The opinion map's per-person points stay on the dashboard.
        return {key: walk(item, wave) for key, item in value.items() if key != "points"}

    report = walk(report)

    def blank_named(value, wave: str = ""):
        # Second pass: group names outside group entries (site means, worst and most divergent
        # groups) of a group found small in the same wave.
        if isinstance(value, list):
            return [blank_named(item, wave) for item in value]
        if not isinstance(value, dict):
            return value
        wave = value.get("wave", wave) if isinstance(value.get("wave"), str) else wave
        out = {}
        for key, item in value.items():
            if key == "group_means" and isinstance(item, dict):
                item = {g: (None if (wave, g) in small else m) for g, m in item.items()}
            elif key in ("worst_group", "most_divergent_group") and (wave, item) in small:
                item = None
            elif key == "worst_group_mean" and (wave, value.get("worst_group")) in small:
                item = None
            out[key] = blank_named(item, wave)
        return out

    return blank_named(report)
