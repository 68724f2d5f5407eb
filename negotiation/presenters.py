"""Outcome documents turned into what the result and compare pages show, in the reader's
language: the side-by-side table, the per-group table, the result sentences, the utility chart
(a Plotly figure as plain JSON) and the transcript. Groups and interventions appear by their
names; numbers are formatted for the active language."""

from __future__ import annotations

from django.utils.formats import get_format, number_format
from django.utils.translation import get_language, gettext, ngettext
from django.utils.translation import gettext_lazy as _

RULES = [
    ("utilitarian", _("Utilitarian (largest total)")),
    ("egalitarian", _("Egalitarian (best worst-off group)")),
    ("nash", _("Nash bargaining")),
    ("maximin", _("Worst gain first, then Nash")),
    ("equal_shares", _("Method of Equal Shares")),
]
MEDIATOR_LABELS = {
    "nash": _("Nash product: the package that maximises the product of every group's gain over its reservation"),
    "maximin": _(
        "Inequality-aware: first the largest gain for the group that gains least over its reservation, "
        "then the Nash product"
    ),
}
METRIC_LABELS = {
    "total_utility": _("total utility"),
    "worst_group_utility": _("the worst-off group"),
    "p20_satisfaction": _("20th-percentile satisfaction"),
    "gini": _("inequality (Gini)"),
}
WORST_COLOUR = "#b3261e"
OTHER_COLOUR = "#1f5f99"
CURRENCY_SYMBOLS = {"CAD": "$", "USD": "US$", "EUR": "€", "GBP": "£", "CHF": "CHF"}


def scenario_problems(error) -> list[str]:
    """Every problem of a scenario (a ScenarioError) as "path: message" lines in the reader's
    language, numbers written their way (1,3 in French)."""
    return error.messages(gettext, get_format("DECIMAL_SEPARATOR"))


def scenario_problems_by_path(error) -> dict[str, list[str]]:
    """The same, each message under its field's path."""
    return error.by_path(gettext, get_format("DECIMAL_SEPARATOR"))


def num(value, digits: int = 3, *, grouping: bool = True) -> str:
    """A number for the active language (3,117 in French, 3.117 in English); a dash for none.
    Without ``grouping`` (for a form field) it is as the forms' number reader reads it back."""
    if value is None:
        return "—"
    return number_format(round(float(value), digits), digits, force_grouping=grouping)


def _compact(value: float) -> str:
    """A number with as many decimals as it needs (30, 0.03), for the active language."""
    text = f"{value:.6g}"
    return number_format(value, len(text.partition(".")[2]) if "." in text and "e" not in text else 0)


def signed(value, digits: int) -> str:
    """A number with its sign (+0.04 / −0.10), for the active language."""
    value = round(float(value), digits)
    text = number_format(abs(value), digits)
    return ("−" if value < 0 else "+") + text


def money(value, currency: str = "CAD") -> str:
    """An amount in the scenario's currency, written the way the active language writes it:
    $600,000 in English, 600 000 $ in French."""
    if value is None:
        return "—"
    amount = float(value)
    digits = 0 if amount == round(amount) else 2
    text = number_format(amount, digits, force_grouping=True)
    symbol = CURRENCY_SYMBOLS.get(currency, currency)
    if (get_language() or "en").startswith("fr"):
        return f"{text}\u00a0{symbol}"
    return f"{symbol}{text}" if len(symbol) <= 3 else f"{text} {symbol}"


class Names:
    """Display names: a group's label in the active language (from the study's groups, looked up
    by the name the outcome uses), a criterion's label likewise, an intervention's name for its
    code."""

    def __init__(self, outcome: dict, *, groups=(), criteria=(), interventions: dict[str, str] | None = None) -> None:
        self.groups = {}
        for g in groups:
            label = g.label
            self.groups[g.name] = label
            self.groups.setdefault(g.code, label)
        self.criteria = {}
        for c in criteria:
            self.criteria[c.name] = c.label
            self.criteria.setdefault(c.code, c.label)
        stored = (outcome or {}).get("scenario", {}).get("interventions") or {}
        self.interventions = {**(interventions or {}), **stored}

    def group(self, name: str) -> str:
        return self.groups.get(name, name)

    def criterion(self, name: str) -> str:
        return self.criteria.get(name, name)

    def intervention(self, code: str) -> str:
        return self.interventions.get(code, code)

    def package(self, codes) -> str:
        return ", ".join(self.intervention(c) for c in codes) if codes else gettext("nothing (the status quo)")


def _row(label: str, package: dict, names: Names, currency: str, *, highlight: bool = False) -> dict:
    m = package["metrics"]
    return {
        "label": label,
        "total": num(m["total_utility"]),
        "worst": num(m["worst_group_utility"]),
        "p20": num(m["p20_satisfaction"]),
        "gini": num(m["gini"]) if m["gini"] is not None else gettext("undefined"),
        "cost": money(package["cost"], currency),
        "interventions": names.package(package["interventions"]),
        "within_budget": package.get("within_budget", True),
        "highlight": highlight,
    }


def comparison_rows(outcome: dict, names: Names, currency: str = "CAD") -> list[dict]:
    """Negotiated package, best base design and every reference rule, side by side."""
    best = outcome["best_base_design"]
    live = "live" in outcome
    label = gettext("Live session (delegates and agents)") if live else gettext("Negotiated package")
    rows = [_row(label, outcome["package"], names, currency, highlight=True)]
    if "simulated" in outcome:
        rows.append(_row(gettext("Simulated session (agents only)"), outcome["simulated"]["package"], names, currency))
    rows.append(_row(gettext("Best base design: %(name)s") % {"name": best["name"]}, best, names, currency))
    rows += [
        _row(str(label), outcome["references"][key], names, currency)
        for key, label in RULES
        if key in outcome["references"]
    ]
    return rows


def group_table(outcome: dict, names: Names) -> dict:
    """Per group, its utility under each package side by side; the worst-off of each column
    marked."""
    columns = [("package", gettext("Live") if "live" in outcome else gettext("Negotiated"), outcome["package"])]
    if "simulated" in outcome:
        columns.append(("simulated", gettext("Simulated"), outcome["simulated"]["package"]))
    columns.append(("best", gettext("Best base design"), outcome["best_base_design"]))
    columns += [(k, str(label), outcome["references"][k]) for k, label in RULES if k in outcome["references"]]
    worst = {key: min(p["utilities"], key=p["utilities"].get) for key, _l, p in columns if p["utilities"]}
    rows = []
    for g in outcome["package"]["utilities"]:
        rows.append(
            {
                "group": names.group(g),
                "worst": worst.get("package") == g,
                "reservation": num(outcome.get("reservations", {}).get(g)),
                "cells": [
                    {"value": num(p["utilities"].get(g)), "worst": worst.get(key) == g} for key, _l, p in columns
                ],
            }
        )
    return {"columns": [label for _k, label, _p in columns], "rows": rows}


def group_rows(outcome: dict, names: Names | None = None) -> list[dict]:
    """Per group: negotiated utility, best base design's, change; the worst group flagged."""
    names = names or Names(outcome)
    package = outcome["package"]["utilities"]
    base = outcome["best_base_design"]["utilities"]
    worst = min(package, key=package.get) if package else None
    return [
        {
            "name": g,
            "group": names.group(g),
            "utility": u,
            "base": base.get(g),
            "gain": u - base.get(g, u),
            "worst": g == worst,
        }
        for g, u in package.items()
    ]


def _worst(utilities: dict) -> tuple[str | None, float | None]:
    if not utilities:
        return None, None
    name = min(utilities, key=utilities.get)
    return name, utilities[name]


def result_sentences(outcome: dict, names: Names, currency: str = "CAD") -> list[str]:
    """The result in plain sentences: what was agreed, how it compares with the best base
    design (each group named with its own figure), which metrics cannot fall by construction,
    and where a reference rule does better."""
    pkg, best = outcome["package"], outcome["best_base_design"]
    budget = outcome.get("scenario", {}).get("budget")
    n_rounds = len(outcome["rounds"])
    out: list[str] = []
    if not outcome["rounds"]:
        out.append(
            gettext(
                "The budget is below the cost of every available intervention, so the only affordable package "
                "is the status quo; there was nothing to negotiate."
            )
        )
        return out
    if outcome["agreement"]:
        out.append(
            ngettext(
                "The groups agreed after %(n)d round on %(package)s, costing %(cost)s of the %(budget)s budget.",
                "The groups agreed after %(n)d rounds on %(package)s, costing %(cost)s of the %(budget)s budget.",
                n_rounds,
            )
            % {
                "n": n_rounds,
                "package": names.package(pkg["interventions"]),
                "cost": money(pkg["cost"], currency),
                "budget": money(budget, currency),
            }
        )
    else:
        out.append(
            ngettext(
                "No agreement within %(n)d round; the outcome falls back to the best base design, %(name)s.",
                "No agreement within %(n)d rounds; the outcome falls back to the best base design, %(name)s.",
                n_rounds,
            )
            % {"n": n_rounds, "name": best["name"]}
        )
    m, b = pkg["metrics"], best["metrics"]
    b_name, b_worst = _worst(best["utilities"])
    p_name, p_worst = _worst(pkg["utilities"])
    out.append(
        gettext(
            "Compared with the best base design, %(best)s: total utility goes from %(t0)s to %(t1)s; the worst-off "
            "group from %(g0)s at %(w0)s to %(g1)s at %(w1)s; 20th-percentile satisfaction from %(p0)s to %(p1)s; "
            "and inequality (Gini) from %(i0)s to %(i1)s."
        )
        % {
            "best": best["name"],
            "t0": num(b["total_utility"]),
            "t1": num(m["total_utility"]),
            "g0": names.group(b_name),
            "w0": num(b_worst),
            "g1": names.group(p_name),
            "w1": num(p_worst),
            "p0": num(b["p20_satisfaction"]),
            "p1": num(m["p20_satisfaction"]),
            "i0": num(b["gini"]),
            "i1": num(m["gini"]),
        }
    )
    fair = outcome.get("fairness") or {}
    if fair.get("cannot_fall"):
        out.append(
            gettext(
                "By construction every group gets at least its utility under the best base design, so total "
                "utility, the worst-off group and 20th-percentile satisfaction cannot fall below it; only "
                "inequality (Gini) is a real test of the negotiation."
            )
        )
    elif outcome.get("reservation_shift", 0) > 0:
        out.append(
            gettext(
                "The pins and forbids leave no package that gives every group its utility under the best base "
                "design, so every reservation was lowered by %(shift)s and no metric is guaranteed."
            )
            % {"shift": num(outcome["reservation_shift"])}
        )
    better = fair.get("reference_better") or []
    labels = dict(RULES)
    if not better:
        out.append(gettext("No reference rule does better than the negotiated package on any of the four metrics."))
    for item in better:
        ref = outcome["references"][item["rule"]]["metrics"]
        details = ", ".join(
            gettext("%(metric)s %(theirs)s against %(ours)s")
            % {"metric": METRIC_LABELS[k], "theirs": num(ref[k]), "ours": num(m[k])}
            for k in item["metrics"]
        )
        if item.get("all"):
            text = gettext("%(rule)s does better on all four metrics: %(details)s.")
        else:
            text = gettext("%(rule)s does better on %(details)s.")
        out.append(text % {"rule": labels.get(item["rule"], item["rule"]), "details": details})
    return out


def utility_figure(outcome: dict, names: Names | None = None, *, scale_max: float | None = None) -> dict:
    """Grouped bars: each group's utility under the negotiated package and the best base
    design, the worst-off group's negotiated bar in a contrasting colour."""
    names = names or Names(outcome)
    rows = group_rows(outcome, names)
    groups = [r["group"] for r in rows]
    colours = [WORST_COLOUR if r["worst"] else OTHER_COLOUR for r in rows]
    layout = {
        "barmode": "group",
        "height": 360,
        "margin": {"l": 50, "r": 20, "t": 30, "b": 60},
        "yaxis": {"title": {"text": gettext("utility (rating scale)")}},
        "legend": {"orientation": "h", "y": -0.2},
        "font": {"family": "system-ui, sans-serif"},
        "separators": ", " if (get_language() or "en").startswith("fr") else ".,",
    }
    if scale_max is not None:
        layout["yaxis"]["range"] = [0, scale_max]
    return {
        "data": [
            {
                "type": "bar",
                "name": gettext("Negotiated package (worst-off group in red)"),
                "x": groups,
                "y": [r["utility"] for r in rows],
                "marker": {"color": colours},
            },
            {
                "type": "bar",
                "name": gettext("Best base design (%(name)s)") % {"name": outcome["best_base_design"]["name"]},
                "x": groups,
                "y": [r["base"] for r in rows],
                "marker": {"color": "#9aa5b1"},
            },
        ],
        "layout": layout,
    }


def defaults_note(source: dict) -> str:
    """Where a group's default weights and baseline came from, in the reader's language."""
    if "legacy" in source:  # Written before sources were kept as data: as it was stored.
        return source["legacy"]
    parts = []
    weights, baseline = source.get("weights") or {}, source.get("baseline") or {}
    if weights.get("kind") == "priorities":
        parts.append(gettext("weights: the members' mean priority tokens in wave “%(wave)s”") % weights)
    elif weights.get("kind") == "equal":
        parts.append(gettext("weights: equal (no priority tokens)"))
    if baseline.get("kind") == "ratings":
        parts.append(
            ngettext(
                "baseline: the members' mean rating of %(sites)s street in wave “%(wave)s”",
                "baseline: the members' mean rating over %(sites)s streets in wave “%(wave)s”",
                baseline["sites"],
            )
            % {"sites": num(baseline["sites"], 0), "wave": baseline["wave"]}
        )
    elif baseline.get("kind") == "midpoint":
        parts.append(gettext("baseline: the middle of the scale (no ratings)"))
    return "; ".join(parts)


def suggestion_note(source: dict, names: Names, criteria: list[str] = ()) -> list[str]:
    """How each suggested effect of an intervention was estimated, one line per criterion (in the
    order of ``criteria``, then any other), in the reader's language; empty when nothing was
    suggested."""
    if "legacy" in source:
        return [line for line in source["legacy"].splitlines() if line]
    if source.get("unmatched"):
        return [gettext("No audited street attribute matches this intervention, so nothing is suggested.")]
    lines = []
    found = source.get("criteria") or {}
    for criterion in [*(c for c in criteria if c in found), *(c for c in found if c not in criteria)]:
        src = found[criterion]
        attributes = ", ".join(
            gettext("%(attribute)s: coefficient %(coefficient)s × shortfall %(shortfall)s")
            % {
                "attribute": a["attribute"].replace("_", " "),
                "coefficient": signed(a["coefficient"], 3),
                "shortfall": num(a["shortfall"], 2),
            }
            for a in src.get("attributes", [])
        )
        lines.append(
            gettext(
                "%(criterion)s: %(effect)s points, from a ridge regression of the mean of %(ratings)s ratings "
                "of %(sites)s streets in wave “%(wave)s” on %(attributes)s audited attributes "
                "(λ = %(lambda)s, chosen by generalised cross-validation) — %(details)s"
            )
            % {
                "criterion": names.criterion(criterion),
                "effect": signed(src.get("effect", 0.0), 2),
                "ratings": num(src["n_ratings"], 0),
                "sites": num(src["n"], 0),
                "wave": source.get("wave", ""),
                "attributes": num(src["n_attributes"], 0),
                "lambda": _compact(float(src["lambda"])),
                "details": attributes,
            }
        )
    return lines


def _reason(response: dict, names: Names, *, still_open: bool = False) -> str:
    """An agent's answer in the reader's language, from its figures (older transcripts carry
    only the English sentence)."""
    if not response:
        # A live round's answers stay private until it closes (the table says who has answered).
        return gettext("shown when the round closes") if still_open else gettext("no answer")
    if "utility" not in response:
        return response.get("reason", "")
    values = {"u": num(response["utility"]), "a": num(response.get("aspiration"))}
    if response.get("accept"):
        return gettext("accepts: utility %(u)s reaches the aspiration %(a)s") % values
    text = gettext("rejects: utility %(u)s is below the aspiration %(a)s") % values
    loss = response.get("loss")
    if loss:
        text += gettext("; %(criterion)s stays at %(level)s against %(preferred)s in the group's own best package") % {
            "criterion": names.criterion(loss["criterion"]),
            "level": num(loss["level"]),
            "preferred": num(loss["preferred_level"]),
        }
    if response.get("concession"):
        text += gettext("; concedes %(c)s, to %(a)s") % {
            "c": num(response["concession"]),
            "a": num(response["aspiration"] - response["concession"]),
        }
    elif "concession" in response:
        text += gettext("; the round limit is reached")
    return text


def _mediator_note(d: dict) -> str:
    if "meets_aspirations" not in d:
        return d.get("mediator", "")
    if d["meets_aspirations"]:
        return gettext("proposes the package its rule prefers among those meeting every current aspiration")
    return gettext(
        "the current aspirations cannot all be met within the budget; proposes the package its rule prefers "
        "without them"
    )


def transcript(rounds, names: Names | None = None, currency: str = "CAD", open_round: int | None = None) -> list[dict]:
    """Rounds (model rows or outcome dicts) as rows the template can walk; ``open_round`` is the
    number of a live session's round still taking answers."""
    names = names or Names({})
    out = []
    for r in rounds:
        d = r if isinstance(r, dict) else r.as_document()
        out.append(
            {
                "round": d["round"],
                "proposal": names.package(d["proposal"]),
                "cost": money(d["cost"], currency),
                "mediator": _mediator_note(d),
                "groups": [
                    {
                        "group": names.group(g),
                        "utility": num(u),
                        "aspiration": num(d["aspirations"].get(g)),
                        "accept": d["responses"].get(g, {}).get("accept"),
                        "answered": g in d["responses"],
                        "reason": _reason(d["responses"].get(g, {}), names, still_open=d["round"] == open_round),
                        "by": live_by_label(d["responses"].get(g, {}).get("by")),
                        "note": d["responses"].get(g, {}).get("note", ""),
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


# --- live sessions ---------------------------------------------------------------------------


def _versus(a: float, b: float) -> str:
    if abs(a - b) < 0.0005:
        return gettext("the same as")
    if a > b:
        return gettext("%(d)s more than") % {"d": num(a - b, 2)}
    return gettext("%(d)s less than") % {"d": num(b - a, 2)}


def delegate_sentences(view: dict, criterion_labels: dict[str, str]) -> list[dict]:
    """The proposal for the delegate's group in plain words, one sentence per criterion (most
    weighted first), from ``bargaining.protocol.group_view``."""
    rows = sorted(view["criteria"], key=lambda c: -c["weight"])
    return [
        {
            "criterion": criterion_labels.get(c["criterion"], c["criterion"]),
            "weight": num(c["weight"] * 100, 0),
            "better": c["proposal"] > c["base"] + 0.0005,
            "worse": c["proposal"] < c["base"] - 0.0005,
            "text": gettext(
                "%(level)s with this proposal: %(vs_base)s the best base design (%(base)s), "
                "%(vs_own)s your group’s own best package (%(own)s)."
            )
            % {
                "level": num(c["proposal"], 2),
                "vs_base": _versus(c["proposal"], c["base"]),
                "base": num(c["base"], 2),
                "vs_own": _versus(c["proposal"], c["own"]),
                "own": num(c["own"], 2),
            },
        }
        for c in rows
    ]


def live_by_label(by: str | None) -> str:
    if by == "delegate":
        return gettext("delegate")
    if by == "agent":
        return gettext("agent")
    return ""
