"""Outcome documents turned into what the result and compare pages show: the comparison table,
the per-group utility chart (a Plotly figure as plain JSON) and the transcript."""

from __future__ import annotations

RULES = [
    ("utilitarian", "Utilitarian (max total)"),
    ("egalitarian", "Egalitarian (max worst group)"),
    ("nash", "Nash bargaining"),
    ("equal_shares", "Method of Equal Shares"),
]
WORST_COLOUR = "#b3261e"
OTHER_COLOUR = "#1f5f99"


def _row(label: str, package: dict, *, highlight: bool = False) -> dict:
    m = package["metrics"]
    return {
        "label": label,
        "total": m["total_utility"],
        "worst": m["worst_group_utility"],
        "p20": m["p20_satisfaction"],
        "gini": m["gini"],
        "cost": package["cost"],
        "interventions": package["interventions"],
        "within_budget": package.get("within_budget", True),
        "highlight": highlight,
    }


def comparison_rows(outcome: dict) -> list[dict]:
    """Negotiated package, best base design and each reference rule, in that order."""
    best = outcome["best_base_design"]
    rows = [
        _row("Negotiated package", outcome["package"], highlight=True),
        _row(f"Best base design: {best['name']}", best),
    ]
    rows += [_row(label, outcome["references"][key]) for key, label in RULES]
    return rows


def group_rows(outcome: dict) -> list[dict]:
    """Per group: negotiated utility, best base design's, reservation; the worst group flagged."""
    package = outcome["package"]["utilities"]
    base = outcome["best_base_design"]["utilities"]
    worst = min(package, key=package.get) if package else None
    return [
        {
            "group": g,
            "utility": u,
            "base": base.get(g),
            "gain": u - base.get(g, u),
            "worst": g == worst,
        }
        for g, u in package.items()
    ]


def utility_figure(outcome: dict, *, scale_max: float | None = None) -> dict:
    """Grouped bars: each group's utility under the negotiated package and the best base
    design, the worst-off group's negotiated bar in a contrasting colour."""
    rows = group_rows(outcome)
    groups = [r["group"] for r in rows]
    colours = [WORST_COLOUR if r["worst"] else OTHER_COLOUR for r in rows]
    layout = {
        "barmode": "group",
        "height": 360,
        "margin": {"l": 50, "r": 20, "t": 30, "b": 60},
        "yaxis": {"title": {"text": "utility (rating scale)"}},
        "legend": {"orientation": "h", "y": -0.2},
        "font": {"family": "system-ui, sans-serif"},
    }
    if scale_max is not None:
        layout["yaxis"]["range"] = [0, scale_max]
    return {
        "data": [
            {
                "type": "bar",
                "name": "Negotiated package (worst group in red)",
                "x": groups,
                "y": [r["utility"] for r in rows],
                "marker": {"color": colours},
            },
            {
                "type": "bar",
                "name": f"Best base design ({outcome['best_base_design']['name']})",
                "x": groups,
                "y": [r["base"] for r in rows],
                "marker": {"color": "#9aa5b1"},
            },
        ],
        "layout": layout,
    }


def transcript(rounds) -> list[dict]:
    """Rounds (model rows or outcome dicts) as rows the template can walk."""
    out = []
    for r in rounds:
        d = r if isinstance(r, dict) else r.as_document()
        out.append(
            {
                "round": d["round"],
                "proposal": d["proposal"],
                "cost": d["cost"],
                "mediator": d.get("mediator", ""),
                "groups": [
                    {
                        "group": g,
                        "utility": u,
                        "aspiration": d["aspirations"].get(g),
                        "accept": d["responses"].get(g, {}).get("accept"),
                        "reason": d["responses"].get(g, {}).get("reason", ""),
                    }
                    for g, u in d["utilities"].items()
                ],
            }
        )
    return out


def session_summary(session) -> dict:
    """One session's headline numbers for the list and compare pages."""
    outcome = getattr(session, "outcome", None)
    data = outcome.data if outcome is not None else None
    return {
        "session": session,
        "outcome": data,
        "package": data["package"] if data else None,
        "agreement": data["agreement"] if data else None,
        "n_rounds": len(data["rounds"]) if data else None,
    }
