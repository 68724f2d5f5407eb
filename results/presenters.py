"""A snapshot turned into what the public page says, in the reader's language: one plain sentence
per finding and a table beside each list of groups. Numbers are formatted for the language
(2,5 in French); names are what people wrote, escaped by the templates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.utils.formats import number_format
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from negotiation.presenters import money, signed
from negotiation.presenters import num as _num

# A difference or change smaller than this many scale points (or disagreement units) reads as
# "about the same": the report keeps more digits than a resident can use.
_TINY = 0.005
# A group's difference that rounds to 0.0 on the page reads as "about the same".
_SAME = 0.05


def _lang() -> str:
    return "fr" if (get_language() or "en").startswith("fr") else "en"


def _text(value: dict | str | None) -> str:
    if isinstance(value, dict):
        return value.get(_lang()) or value.get("en") or ""
    return value or ""


def num(value, digits: int = 1) -> str:
    """A figure for the page: one decimal unless said otherwise (the negotiation's formatting)."""
    return _num(value, digits)


def percent(share) -> str:
    return _("%(value)s%%") % {"value": number_format(round(float(share) * 100), 0)}


def _chance(p) -> str:
    return _("unlikely to be chance") if p is not None and p <= 0.05 else _("could be chance")


@dataclass
class GroupRow:
    name: str
    mean: str
    difference: str


@dataclass
class Finding:
    criterion: str
    sentences: list[str]
    rows: list[GroupRow] = field(default_factory=list)
    withheld: bool = False


@dataclass
class WaveFindings:
    wave: str
    summary: str
    findings: list[Finding]


@dataclass
class PublicPage:
    title: str
    description: str
    k: int
    analysed_on: date | None
    scale: str
    waves: list[WaveFindings]
    changes: list[str]
    negotiation: dict | None


def _group_sentence(g: dict, criterion: str) -> str:
    d = g.get("divergence") or 0.0
    values = {
        "group": _text(g["group"]),
        "criterion": criterion,
        "points": num(abs(d)),
        "chance": _("unlikely to be chance") if g["significant"] else _("could be chance"),
    }
    if abs(d) < _SAME:
        return _("%(group)s rated %(criterion)s about the same as the other residents did.") % values
    # French writes "0,6 point" below 2 and "2 points" from 2 up; English "points" throughout.
    count = 1 if abs(d) < 2 else 2
    if d < 0:
        text = ngettext(
            "%(group)s rated %(criterion)s %(points)s points lower than the other residents did; %(chance)s.",
            "%(group)s rated %(criterion)s %(points)s points lower than the other residents did; %(chance)s.",
            count,
        )
    else:
        text = ngettext(
            "%(group)s rated %(criterion)s %(points)s points higher than the other residents did; %(chance)s.",
            "%(group)s rated %(criterion)s %(points)s points higher than the other residents did; %(chance)s.",
            count,
        )
    return text % values


def _difference(d) -> str:
    if d is None:
        return "—"
    if abs(d) < _SAME:
        return num(0.0)
    return signed(d, 1)


def _finding(c: dict, scale_max) -> Finding:
    criterion = _text(c["criterion"])
    sentences = [
        _("On %(criterion)s, residents gave %(mean)s out of %(max)s on average.")
        % {"criterion": criterion, "mean": num(c["mean"]), "max": num(scale_max, 0)}
    ]
    groups = c["groups"]
    sentences += [_group_sentence(g, criterion) for g in groups]
    if len(groups) > 1:
        lowest = min(groups, key=lambda g: g["mean"])
        sentences.append(
            _("The group that rated it lowest: %(group)s, at %(mean)s.")
            % {"group": _text(lowest["group"]), "mean": num(lowest["mean"])}
        )
    rows = [
        GroupRow(
            name=_text(g["group"]),
            mean=num(g["mean"]),
            difference=_difference(g.get("divergence")),
        )
        for g in groups
    ]
    return Finding(criterion=criterion, sentences=sentences, rows=rows, withheld=c["groups_withheld"])


def _wave(wave: dict, k: int, scale_max) -> WaveFindings:
    if wave["n_participants"] is None:
        summary = _("Fewer than %(k)s residents answered in this round, so nothing is shown for it.") % {"k": k}
        return WaveFindings(wave=wave["wave"], summary=summary, findings=[])
    n = wave["n_participants"]
    summary = ngettext("%(n)s resident answered in this round.", "%(n)s residents answered in this round.", n) % {
        "n": number_format(n, 0, force_grouping=True)
    }
    return WaveFindings(wave=wave["wave"], summary=summary, findings=[_finding(c, scale_max) for c in wave["criteria"]])


def _change(c: dict) -> str:
    values = {
        "criterion": _text(c["criterion"]),
        "from": c["from"],
        "to": c["to"],
        "before": num(c["before"], 2),
        "after": num(c["after"], 2),
        "chance": _chance(c.get("p_value")),
    }
    delta = c["after"] - c["before"]
    if abs(delta) < _TINY:
        text = _(
            "On %(criterion)s, residents disagreed about as much in “%(to)s” as in “%(from)s” "
            "(%(before)s, then %(after)s)."
        )
    elif delta < 0:
        text = _(
            "On %(criterion)s, residents disagreed less in “%(to)s” than in “%(from)s”: "
            "from %(before)s to %(after)s; %(chance)s."
        )
    else:
        text = _(
            "On %(criterion)s, residents disagreed more in “%(to)s” than in “%(from)s”: "
            "from %(before)s to %(after)s; %(chance)s."
        )
    sentence = text % values
    if c.get("between_before") is not None and c.get("between_after") is not None:
        sentence += " " + _(
            "Differences between groups made up %(b0)s of the disagreement before and %(b1)s after."
        ) % {"b0": percent(c["between_before"]), "b1": percent(c["between_after"])}
    return sentence


def _package_words(package: dict) -> str:
    return ", ".join(package["interventions"]) if package["interventions"] else _("nothing (things stay as they are)")


def _negotiation(n: dict | None, scale_max) -> dict | None:
    if n is None:
        return None
    currency = n.get("currency") or "CAD"
    package, best = n["package"], n["best_base_design"]
    sentences = []
    if n["agreement"]:
        sentences.append(
            ngettext(
                "The groups’ representatives agreed after %(n)s round on a package costing %(cost)s of the "
                "%(budget)s budget.",
                "The groups’ representatives agreed after %(n)s rounds on a package costing %(cost)s of the "
                "%(budget)s budget.",
                n["rounds"],
            )
            % {"n": n["rounds"], "cost": money(package["cost"], currency), "budget": money(n["budget"], currency)}
        )
    else:
        sentences.append(
            _(
                "The groups did not reach an agreement, so the best of the designs prepared beforehand is kept: "
                "%(name)s."
            )
            % {"name": best["name"]}
        )
    sentences.append(
        _("It is compared with the best of the designs prepared beforehand, “%(name)s”: %(package)s.")
        % {"name": best["name"], "package": _package_words(best)}
    )
    if n["no_group_worse_off"]:
        sentences.append(
            _(
                "The negotiation was set up so that no group ends up worse off than with “%(name)s”: each group "
                "could refuse any package that gave it less."
            )
            % {"name": best["name"]}
        )
    for g in n["groups"]:
        if g["base"] is None:
            continue
        gain = g["utility"] - g["base"]
        if abs(gain) < _TINY:
            text = _("For %(group)s, the package is as good as “%(name)s” (%(after)s out of %(max)s).")
        elif gain > 0:
            text = _(
                "For %(group)s, the package is better than “%(name)s”: %(after)s out of %(max)s against %(before)s."
            )
        else:
            text = _(
                "For %(group)s, the package is worse than “%(name)s”: %(after)s out of %(max)s against %(before)s."
            )
        sentences.append(
            text
            % {
                "group": _text(g["group"]),
                "name": best["name"],
                "after": num(g["utility"], 2),
                "before": num(g["base"], 2),
                "max": num(scale_max, 0),
            }
        )
    metrics = n.get("metrics")
    if metrics and metrics.get("package") and metrics.get("best"):
        sentences.append(
            _(
                "The worst-off group is at %(w1)s with the package, against %(w0)s with “%(name)s”; "
                "inequality between groups (Gini, 0 is perfect equality) goes from %(g0)s to %(g1)s."
            )
            % {
                "w0": num(metrics["best"]["worst_group_utility"], 2),
                "w1": num(metrics["package"]["worst_group_utility"], 2),
                "g0": num(metrics["best"]["gini"], 3),
                "g1": num(metrics["package"]["gini"], 3),
                "name": best["name"],
            }
        )
    rows = [
        {"group": _text(g["group"]), "base": num(g["base"], 2), "utility": num(g["utility"], 2)} for g in n["groups"]
    ]
    return {
        "scenario": n["scenario"],
        "interventions": package["interventions"],
        "cost": money(package["cost"], currency),
        "budget": money(n["budget"], currency),
        "best_name": best["name"],
        "sentences": sentences,
        "rows": rows,
        "withheld": n["groups_withheld"],
    }


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def public_page(snapshot: dict) -> PublicPage:
    scale = snapshot["scale"]
    k = snapshot["k"]
    return PublicPage(
        title=_text(snapshot["title"]),
        description=_text(snapshot["description"]),
        k=k,
        analysed_on=_date((snapshot.get("analysis") or {}).get("finished_at")),
        scale=_("Ratings go from %(low)s (lowest) to %(high)s (highest).")
        % {"low": num(scale["min"], 0), "high": num(scale["max"], 0)},
        waves=[_wave(w, k, scale["max"]) for w in snapshot["waves"]],
        changes=[_change(c) for c in snapshot["changes"]],
        negotiation=_negotiation(snapshot.get("negotiation"), scale["max"]),
    )
