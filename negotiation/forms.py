"""The scenario editor's form: posted fields to a scenario document, and a document (with the
survey defaults and suggestions stored beside it) to the rows the template shows.

Validation is not done here: ``parse_scenario`` checks the document and names each bad field by
its path (``interventions[2].cost``), which ``edit_rows`` puts next to the matching row.
"""

from __future__ import annotations

import re

from .models import Scenario

_PATH = re.compile(r"^(groups|interventions|base_designs)\[(\d+)\]")


def _number(raw: str | None, *, blank=None):
    """A posted number as a float; text that is not a number is passed on unchanged so that
    ``parse_scenario`` reports it with its field path."""
    text = (raw or "").strip().replace(",", ".")
    if text == "":
        return blank
    try:
        return int(text) if re.fullmatch(r"-?\d+", text) else float(text)
    except ValueError:
        return text


def _codes(raw: str | None) -> list[str]:
    return [c for c in re.split(r"[\s,;]+", raw or "") if c]


def document_from_post(post, *, scenario: Scenario) -> dict:
    """The scenario document the editor's form describes."""
    criteria = list(scenario.criteria)
    study = scenario.study
    document = {
        "title": (post.get("title") or "").strip(),
        "budget": _number(post.get("budget")),
        "scale": {"min": study.scale_min, "max": study.scale_max},
        "criteria": criteria,
        "max_rounds": _number(post.get("max_rounds")),
        "groups": [],
        "interventions": [],
        "base_designs": [],
    }
    for k in range(_count(post, "groups-count")):
        p = f"g{k}-"
        weights = {c: _number(post.get(f"{p}w-{c}"), blank=0) for c in criteria}
        baseline = {c: _number(post.get(f"{p}b-{c}")) for c in criteria}
        document["groups"].append(
            {
                "name": post.get(f"{p}name", ""),
                "criterion_weights": weights,
                "baseline": {c: v for c, v in baseline.items() if v is not None},
            }
        )
    for k in range(_count(post, "interventions-count")):
        p = f"i{k}-"
        code = (post.get(f"{p}code") or "").strip()
        if post.get(f"{p}delete") or (not code and not (post.get(f"{p}cost") or "").strip()):
            continue
        effects = {c: _number(post.get(f"{p}e-{c}"), blank=0) for c in criteria}
        document["interventions"].append(
            {
                "code": code,
                "name": (post.get(f"{p}name") or "").strip() or code,
                "cost": _number(post.get(f"{p}cost")),
                "effects": {c: v for c, v in effects.items() if v != 0},
                "excludes": _codes(post.get(f"{p}excludes")),
            }
        )
    for k in range(_count(post, "base_designs-count")):
        p = f"b{k}-"
        name = (post.get(f"{p}name") or "").strip()
        codes = _codes(post.get(f"{p}interventions"))
        if post.get(f"{p}delete") or (not name and not codes):
            continue
        document["base_designs"].append({"name": name, "interventions": codes})
    return document


def _count(post, key: str) -> int:
    value = _number(post.get(key), blank=0)
    return min(value, 500) if isinstance(value, int) and value > 0 else 0


def _errors_by_row(errors: list[str]) -> tuple[dict, list[str]]:
    """Errors grouped by (section, index) or by top-level field; the rest are general."""
    rows: dict = {}
    general: list[str] = []
    for e in errors:
        m = _PATH.match(e)
        if m:
            rows.setdefault((m.group(1), int(m.group(2))), []).append(e)
        elif e.split(":")[0] in ("title", "budget", "max_rounds"):
            rows.setdefault(e.split(":")[0], []).append(e)
        else:
            general.append(e)
    return rows, general


def edit_rows(*, scenario: Scenario, document: dict, errors: list[str] = ()) -> dict:
    """Everything the editor template needs: one row per stakeholder, intervention and base
    design, with its values, its survey default or suggestion, and its errors."""
    by_row, general = _errors_by_row(list(errors))
    criteria = list(scenario.criteria)
    stakeholders = {s.group.code: s for s in scenario.stakeholders.select_related("group")}
    stored = {i.code: i for i in scenario.interventions.all()}
    groups = []
    for k, g in enumerate(document.get("groups", [])):
        s = stakeholders.get(g.get("name"))
        dw = s.default_weights if s else {}
        db = s.default_baseline if s else {}
        groups.append(
            {
                "name": g.get("name"),
                "label": s.group.label if s else g.get("name"),
                "note": s.defaults_note if s else "",
                "weights": [(c, g.get("criterion_weights", {}).get(c, ""), dw.get(c)) for c in criteria],
                "baseline": [(c, g.get("baseline", {}).get(c, ""), db.get(c)) for c in criteria],
                "errors": by_row.get(("groups", k), []),
            }
        )
    interventions = []
    for k, i in enumerate([*document.get("interventions", []), None]):
        i = i or {"code": "", "name": "", "cost": "", "effects": {}, "excludes": []}
        known = stored.get(i["code"])
        suggested = known.suggested_effects if known else {}
        interventions.append(
            {
                "code": i["code"],
                "name": i["name"] if i["name"] != i["code"] else i["name"],
                "cost": i["cost"],
                "effects": [(c, i["effects"].get(c, ""), suggested.get(c)) for c in criteria],
                "excludes": ", ".join(str(x) for x in i.get("excludes", [])),
                "source": known.suggestion_source if known else "",
                "errors": by_row.get(("interventions", k), []),
                "is_new": not i["code"],
            }
        )
    designs = [
        {
            "name": b["name"],
            "interventions": ", ".join(str(x) for x in b["interventions"]),
            "errors": by_row.get(("base_designs", k), []),
        }
        for k, b in enumerate([*document.get("base_designs", []), {"name": "", "interventions": []}])
    ]
    return {
        "criteria": criteria,
        "doc": document,
        "groups": groups,
        "interventions": interventions,
        "base_designs": designs,
        "field_errors": {k: v for k, v in by_row.items() if isinstance(k, str)},
        "general_errors": general,
        "row_errors": bool(by_row),
    }
