"""The scenario editor's form: posted fields to a scenario document, and a document (with the
survey defaults and suggestions stored beside it) to the rows the template shows.

Validation is not done here: ``parse_scenario`` checks the document and names each bad field by
its path (``interventions[2].cost``), which ``edit_rows`` puts next to the matching row.
"""

from __future__ import annotations

import re

from .models import Scenario
from .presenters import Names, defaults_note, suggestion_note
from .services import group_name

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
        "mediator": post.get("mediator") or "nash",
        "currency": (post.get("currency") or "CAD").strip().upper(),
        "groups": [],
        "interventions": [],
        "base_designs": [],
    }
    removed: set[str] = set()
    for k in range(_count(post, "groups-count")):
        p = f"g{k}-"
        if post.get(f"{p}delete"):
            removed.add(post.get(f"{p}name", ""))
            continue
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
        item = {
            "code": code,
            "name": (post.get(f"{p}name") or "").strip() or code,
            "cost": _number(post.get(f"{p}cost")),
            "effects": {c: v for c, v in effects.items() if v != 0},
            "excludes": _codes(post.get(f"{p}excludes")),
        }
        by_group = parse_group_effects(post.get(f"{p}group_effects"))
        if isinstance(by_group, dict):
            by_group = {g: e for g, e in by_group.items() if g not in removed}
        if by_group:
            item["group_effects"] = by_group
        document["interventions"].append(item)
    for k in range(_count(post, "base_designs-count")):
        p = f"b{k}-"
        name = (post.get(f"{p}name") or "").strip()
        codes = _codes(post.get(f"{p}interventions"))
        if post.get(f"{p}delete") or (not name and not codes):
            continue
        document["base_designs"].append({"name": name, "interventions": codes})
    return document


def parse_group_effects(raw: str | None):
    """Group effects as the editor writes them, one group a line:
    ``Wheelchair users: accessibility=0.8, practicality=0.3``. A line that does not read
    that way is passed on as text, so ``parse_scenario`` names the field."""
    out: dict = {}
    for line in (raw or "").splitlines():
        if not line.strip():
            continue
        name, sep, rest = line.rpartition(":")
        if not sep or not name.strip():
            return line.strip()
        effects = {}
        for part in re.split(r"[;,]\s*(?=[^=]+=)", rest.strip()):
            criterion, eq, value = part.partition("=")
            if not eq:
                return line.strip()
            effects[criterion.strip()] = _number(value)
        out[name.strip()] = effects
    return out


def format_group_effects(by_group: dict | None) -> str:
    """The inverse of :func:`parse_group_effects`."""
    return "\n".join(
        f"{name}: " + ", ".join(f"{c}={v:g}" if isinstance(v, int | float) else f"{c}={v}" for c, v in e.items())
        for name, e in (by_group or {}).items()
        if isinstance(e, dict)
    )


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
        elif e.split(":")[0] in ("title", "budget", "max_rounds", "mediator", "currency"):
            rows.setdefault(e.split(":")[0], []).append(e)
        else:
            general.append(e)
    return rows, general


def edit_rows(*, scenario: Scenario, document: dict, errors: list[str] = ()) -> dict:
    """Everything the editor template needs: one row per stakeholder, intervention and base
    design, with its values, its survey default or suggestion, and its errors."""
    by_row, general = _errors_by_row(list(errors))
    criteria = list(scenario.criteria)
    names = Names({}, criteria=scenario.study.criteria.all())
    stakeholders = {}
    for s in scenario.stakeholders.select_related("group"):
        stakeholders[s.group.code] = stakeholders[group_name(s.group)] = s
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
                "note": defaults_note(s.defaults_source) if s else "",
                "weights": [
                    (c, names.criterion(c), g.get("criterion_weights", {}).get(c, ""), dw.get(c)) for c in criteria
                ],
                "baseline": [(c, names.criterion(c), g.get("baseline", {}).get(c, ""), db.get(c)) for c in criteria],
                "errors": by_row.get(("groups", k), []),
            }
        )
    interventions = []
    for k, i in enumerate([*document.get("interventions", []), None]):
        i = i or {"code": "", "name": "", "cost": "", "effects": {}, "excludes": []}
        known = stored.get(i["code"])
        suggested = known.suggested_effects if known else {}
        suggested_groups = known.suggested_group_effects if known else {}
        interventions.append(
            {
                "code": i["code"],
                "name": i["name"] if i["name"] != i["code"] else i["name"],
                "cost": i["cost"],
                "effects": [(c, names.criterion(c), i["effects"].get(c, ""), suggested.get(c)) for c in criteria],
                "excludes": ", ".join(str(x) for x in i.get("excludes", [])),
                "source": suggestion_note(known.suggestion_source, names, criteria) if known else [],
                "group_effects": format_group_effects(i.get("group_effects")),
                "suggested_group_effects": format_group_effects(suggested_groups),
                "has_suggestion": bool(suggested),
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
    present = {g.get("name") for g in document.get("groups", [])}
    available = [
        {"name": group_name(g), "label": g.label}
        for g in scenario.study.groups.all()
        if group_name(g) not in present and g.code not in present
    ]
    return {
        "criteria": [names.criterion(c) for c in criteria],
        "available_groups": available,
        "doc": document,
        "groups": groups,
        "interventions": interventions,
        "base_designs": designs,
        "field_errors": {k: v for k, v in by_row.items() if isinstance(k, str)},
        "general_errors": general,
        "row_errors": bool(by_row),
    }
