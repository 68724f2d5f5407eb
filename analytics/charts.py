"""Dashboard panels: each one a Plotly figure built on the server plus the table behind it.

A panel's table is at once the accessible alternative to its chart and the content of its CSV
download, so the three never disagree. Figures are plain dicts (Plotly's JSON), embedded in
the page with `json_script` and drawn by static/js/charts.js.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field

import plotly.graph_objects as go
from django.utils.formats import number_format
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from plotly.subplots import make_subplots

CAUTION = "⚠"
_GREY, _WORST, _BETWEEN, _WITHIN = "#6b7280", "#b91c1c", "#1d4ed8", "#f59e0b"
_PALETTE = ["#1d4ed8", "#b91c1c", "#047857", "#7c3aed", "#b45309", "#0e7490", "#be185d"]


@dataclass
class Table:
    caption: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)


@dataclass
class Panel:
    key: str
    title: str
    table: Table
    figure: dict | None = None
    note: str = ""
    section: str = ""
    # One sentence a planner can repeat, generated from the figures, and the method behind it.
    summary: str = ""
    method: str = ""

    @property
    def dom_id(self) -> str:
        return chart_dom_id(self.key)

    @property
    def data_id(self) -> str:
        return chart_dom_id(self.key, "data")


def chart_dom_id(key: str, part: str = "") -> str:
    """The element id of a chart (`part` empty) and of its parts ("data", "filter") on a page."""
    return f"chart-{key}-{part}" if part else f"chart-{key}"


@dataclass
class _Labels:
    groups: dict[str, str]
    criteria: dict[str, str]
    small: set[str]
    sites: dict[str, str] = field(default_factory=dict)

    def group(self, code: str | None) -> str:
        if code is None:
            return "—"
        label = self.groups.get(code, code)
        return f"{label} {CAUTION}" if code in self.small else label

    def criterion(self, name: str) -> str:
        return self.criteria.get(name, name)

    def site(self, code: str) -> str:
        return self.sites.get(code) or code


def _num(value, digits: int = 2, *, sign: bool = False) -> str:
    """A number in the active language's format (decimal comma in French)."""
    if value is None:
        return "—"
    text = number_format(round(float(value), digits), digits)
    return f"+{text}" if sign and value > 0 else text.replace("-", "−")


def _percent(value) -> str:
    return "—" if value is None else _("%(n)s%%") % {"n": number_format(round(100 * float(value)), 0)}


def _yes_no(value: bool) -> str:
    return _("yes") if value else _("no")


def _too_few(cell: dict) -> str:
    """What a p-value cell says for a group too small to test (the study's smallest tested size)."""
    return _("too few participants to tell") if cell.get("too_small_to_test") else ""


def _chance(p) -> str:
    return _("unlikely to be chance") if p is not None and p <= 0.05 else _("could be chance")


def _figure(fig: go.Figure, *, height: int = 360) -> dict:
    fig.update_layout(
        # Plotly's decimal and thousands separators: "0,6" and "1 200" in French.
        separators=", " if (get_language() or "en").startswith("fr") else ".,",
        height=height,
        margin={"l": 60, "r": 20, "t": 30, "b": 60},
        font={"family": "system-ui, sans-serif", "size": 13},
        paper_bgcolor="#ffffff",
        plot_bgcolor="#ffffff",
        legend={"orientation": "h", "y": -0.2},
    )
    return _plain_text(json.loads(fig.to_json()))


def _plain_text(value, key: str = ""):
    """Every string of a figure escaped as HTML, so Plotly draws labels people wrote (groups,
    criteria, sites, waves) as plain text: its SVG text understands a few tags, links included,
    and turns entities back into the characters. Templates (hovertemplate, texttemplate) are ours
    and keep their markup; the values they insert are already escaped. Only <br> stays a tag."""
    if isinstance(value, str):
        # A line break is the one tag kept: axis labels we compose break lines, and it can
        # carry no link or style.
        return value if key.endswith("template") else html.escape(value).replace("&lt;br&gt;", "<br>")
    if isinstance(value, dict):
        return {k: _plain_text(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_text(v, key) for v in value]
    return value


def _round(value, digits: int = 3):
    return None if value is None else round(float(value), digits)


def small_groups(report: dict, min_size: int) -> dict[str, int]:
    """Groups whose largest rater count in any wave and criterion is below `min_size`."""
    sizes: dict[str, int] = {code: 0 for code in report.get("groups", [])}
    for wave in report["waves"]:
        for criterion in wave["criteria"]:
            for g in criterion["groups"]:
                sizes[g["group"]] = max(sizes.get(g["group"], 0), g["n"])
    return {code: n for code, n in sizes.items() if n < min_size}


def report_panels(report: dict, *, min_group_size: int, names: dict | None = None) -> list[Panel]:
    """Every chart of the dashboard, in page order.

    `names` maps codes to what people wrote, in the active language ({"groups", "criteria",
    "sites"}); without it the English labels stored with the report are used.
    """
    names = names or {}
    stored = report.get("labels", {})
    labels = _Labels(
        groups={**stored.get("groups", {}), **names.get("groups", {})},
        criteria={**stored.get("criteria", {}), **names.get("criteria", {})},
        small=set(small_groups(report, min_group_size)),
        sites=names.get("sites", {}),
    )
    scale = report.get("scale") or {}
    panels: list[Panel] = []
    for w, wave in enumerate(report["waves"]):
        if wave["criteria"]:
            panels.append(_divergence_panel(w, wave, labels))
            panels.append(_sites_panel(w, wave, labels, scale))
    panels.append(_agreement_panel(report, labels))
    panels.append(_rankings_panel(report, labels))
    panels.append(_consistency_panel(report, labels))
    panels.append(_variance_panel(report, labels))
    panels.append(_longitudinal_panel(report, labels))
    panels.append(_changes_panel(report, labels))
    return panels


def _worst_by_criterion(wave: dict) -> dict[str, dict]:
    """Per criterion, the group with the lowest mean rating (the worst-off group), if any."""
    worst = {}
    for c in wave["criteria"]:
        rated = [g for g in c["groups"] if g["mean"] is not None]
        if rated:
            worst[c["criterion"]] = min(rated, key=lambda g: g["mean"])
    return worst


def _gap_sentence(labels: _Labels, group: str, criterion: str, d: float, p) -> str:
    values = {
        "group": labels.group(group),
        "criterion": labels.criterion(criterion),
        "points": _num(abs(d), 1),
        "chance": _chance(p),
    }
    # English says "0.6 points" and "1.4 points"; French says "0,6 point" and "1,4 point" but "2 points":
    # the count picks the French form (below 2 singular), both English forms are the same.
    count = 1 if abs(d) < 2 else 2
    if d < 0:
        text = ngettext(
            "%(group)s rate %(criterion)s %(points)s points lower than others; %(chance)s.",
            "%(group)s rate %(criterion)s %(points)s points lower than others; %(chance)s.",
            count,
        )
    else:
        text = ngettext(
            "%(group)s rate %(criterion)s %(points)s points higher than others; %(chance)s.",
            "%(group)s rate %(criterion)s %(points)s points higher than others; %(chance)s.",
            count,
        )
    return text % values


# Light ends, so the value written in a cell stays readable (contrast) whatever its colour.
_DIVERGING = [[0, "#f4a582"], [0.5, "#f7f7f7"], [1, "#92c5de"]]
_SEQUENTIAL = [[0, "#fff5eb"], [1, "#fd8d3c"]]


def _grid(z, x, y, *, text, colorscale, zmin: float, zmax: float) -> go.Scatter:
    """A heat map drawn as a grid of square markers with their value written inside.

    plotly.js draws a real heatmap (and any colour bar) through inline style attributes, which the
    strict Content Security Policy blocks; markers are styled through the CSSOM, which it allows.
    The values are written in the cells, so no colour bar is needed.
    """
    cells = [(xi, yi, row[i], t_row[i]) for yi, row, t_row in zip(y, z, text, strict=True) for i, xi in enumerate(x)]
    cells = [c for c in cells if c[2] is not None]
    # A 1–2 point gap saturates the colour; the sign is kept, the extremes are clipped.
    return go.Scatter(
        x=[c[0] for c in cells],
        y=[c[1] for c in cells],
        mode="markers+text",
        text=[c[3] for c in cells],
        textfont={"color": "#111827"},
        marker={
            "symbol": "square",
            "size": 40,
            "color": [min(max(c[2], zmin), zmax) for c in cells],
            "colorscale": colorscale,
            "cmin": zmin,
            "cmax": zmax,
            "showscale": False,
            "line": {"width": 1, "color": "#ffffff"},
        },
        hovertemplate="%{y} · %{x}: %{text}<extra></extra>",
        showlegend=False,
    )


def _divergence_panel(w: int, wave: dict, labels: _Labels) -> Panel:
    criteria = [c["criterion"] for c in wave["criteria"]]
    groups = [g["group"] for g in wave["criteria"][0]["groups"]]
    by_cell = {(c["criterion"], g["group"]): g for c in wave["criteria"] for g in c["groups"]}
    worst = _worst_by_criterion(wave)
    z, text = [], []
    table = Table(
        caption=_("Group divergence by criterion, %(wave)s (* = unlikely to be chance, q ≤ 0.05)")
        % {"wave": wave["wave"]},
        columns=[
            _("group"),
            _("criterion"),
            _("n"),
            _("group mean"),
            _("divergence"),
            _("p-value"),
            _("q-value"),
            _("significant"),
            _("worst-off on this criterion"),
            _("profile divergence"),
            _("profile p-value"),
            _("smallest possible p-value"),
        ],
    )
    for group in groups:
        z_row, t_row = [], []
        for criterion in criteria:
            cell = by_cell[(criterion, group)]
            d = cell["divergence"]
            z_row.append(d)
            mark = "*" if cell["significant"] else ""
            t_row.append("" if d is None else f"{_num(d, 2, sign=True)}{mark}")
            table.rows.append(
                [
                    labels.group(group),
                    labels.criterion(criterion),
                    cell["n"],
                    _round(cell["mean"]),
                    _round(d),
                    _too_few(cell) or _round(cell["p_value"]),
                    _round(cell["q_value"]),
                    _yes_no(cell["significant"]),
                    _yes_no(worst.get(criterion, {}).get("group") == group),
                    _round(cell.get("profile_divergence")),
                    _too_few(cell) or _round(cell.get("profile_p_value")),
                    _round(cell.get("min_p_value"), 4),
                ]
            )
        z.append(z_row)
        text.append(t_row)
    # Each criterion's axis label names its worst-off group, so the chart says it, not only the table.
    x = [
        _("%(criterion)s<br>worst-off:<br>%(group)s")
        % {"criterion": labels.criterion(c), "group": labels.group(worst[c]["group"])}
        if c in worst
        else labels.criterion(c)
        for c in criteria
    ]
    fig = go.Figure(_grid(z, x, [labels.group(g) for g in groups], text=text, colorscale=_DIVERGING, zmin=-1, zmax=1))
    marks = [(x[i], labels.group(worst[c]["group"])) for i, c in enumerate(criteria) if c in worst]
    if marks:
        fig.add_trace(
            go.Scatter(
                x=[m[0] for m in marks],
                y=[m[1] for m in marks],
                mode="markers",
                marker={"symbol": "square-open", "size": 46, "color": "#111827", "line": {"width": 3}},
                name=_("worst-off group (lowest mean)"),
                hoverinfo="skip",
            )
        )
    fig.update_yaxes(autorange="reversed")
    # Horizontal criterion labels (two lines: the criterion, its worst-off group) above the grid and
    # the legend below it, so neither squeezes the rows.
    fig.update_xaxes(side="top", tickangle=0, automargin=True)
    cells = [g for c in wave["criteria"] for g in c["groups"] if g["divergence"] is not None]
    crit_of = {id(g): c["criterion"] for c in wave["criteria"] for g in c["groups"]}
    if cells:
        top = max(cells, key=lambda g: abs(g["divergence"]))
        summary = _gap_sentence(labels, top["group"], crit_of[id(top)], top["divergence"], top["q_value"])
    else:
        summary = _("Not enough answers yet to compare groups.")
    return Panel(
        key=f"divergence-{w + 1}",
        section=wave["wave"],
        title=_("Who rates differently, on what — %(wave)s") % {"wave": wave["wave"]},
        table=table,
        figure=_figure(fig, height=200 + 50 * len(groups)),
        note=_(
            "Each cell: how many scale points a group's ratings sit above (+) or below (−) everyone "
            "else's. Cells marked * are unlikely to be chance. A dark square marks each criterion's "
            "worst-off group."
        ),
        summary=summary,
        method=_(
            "Divergence is the mean difference, in scale points, between the group's members and all other "
            "participants. Its p-value comes from a permutation test that reshuffles which participants "
            "belong to the group; the q-value applies the Benjamini–Hochberg correction over every group and "
            "criterion of the wave, and q ≤ 0.05 counts as unlikely to be chance. The worst-off group of a "
            "criterion is the one with the lowest mean rating."
        ),
    )


def _sites_panel(w: int, wave: dict, labels: _Labels, scale: dict) -> Panel:
    criteria = wave["criteria"]
    fig = make_subplots(
        rows=len(criteria),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        subplot_titles=[labels.criterion(c["criterion"]) for c in criteria],
    )
    table = Table(
        caption=_("Mean rating per site and the worst-off group there, %(wave)s") % {"wave": wave["wave"]},
        columns=[_("criterion"), _("site"), _("n"), _("overall mean"), _("worst-off group"), _("worst group mean")],
    )
    lowest = None
    for row, criterion in enumerate(criteria, start=1):
        sites = criterion["sites"]
        x = [labels.site(s["site"]) for s in sites]
        fig.add_trace(
            go.Bar(
                x=x,
                y=[s["mean"] for s in sites],
                name=_("everyone's mean"),
                marker_color=_GREY,
                # The value is written on each bar: a mean at the bottom of the scale has no height.
                texttemplate="%{y:.1f}",
                textposition="outside",
                showlegend=row == 1,
                legendgroup="all",
            ),
            row=row,
            col=1,
        )
        fig.add_trace(
            go.Bar(
                x=x,
                y=[s["worst_group_mean"] for s in sites],
                name=_("worst-off group's mean"),
                marker_color=_WORST,
                customdata=[labels.group(s["worst_group"]) for s in sites],
                hovertemplate="%{x}: %{customdata} %{y:.2f}<extra></extra>",
                texttemplate="%{y:.1f}",
                textposition="outside",
                showlegend=row == 1,
                legendgroup="worst",
            ),
            row=row,
            col=1,
        )
        for s in sites:
            table.rows.append(
                [
                    labels.criterion(criterion["criterion"]),
                    labels.site(s["site"]),
                    s["n"],
                    _round(s["mean"]),
                    labels.group(s["worst_group"]),
                    _round(s["worst_group_mean"]),
                ]
            )
            if s["worst_group_mean"] is not None and (
                lowest is None or s["worst_group_mean"] < lowest[1]["worst_group_mean"]
            ):
                lowest = (criterion["criterion"], s)
    fig.update_layout(barmode="group")
    if scale.get("min") is not None and scale.get("max") is not None:
        # The axis is the study's own scale (a 1–4 scale is not drawn as 0–3).
        fig.update_yaxes(range=[scale["min"], scale["max"]], dtick=1)
    if lowest:
        criterion, s = lowest
        summary = _(
            "The lowest mark of any group: %(group)s give %(site)s %(mean)s for %(criterion)s, "
            "where everyone gives %(overall)s."
        ) % {
            "group": labels.group(s["worst_group"]),
            "site": labels.site(s["site"]),
            "mean": _num(s["worst_group_mean"], 1),
            "criterion": labels.criterion(criterion),
            "overall": _num(s["mean"], 1),
        }
    else:
        summary = _("No site has been rated yet.")
    return Panel(
        key=f"sites-{w + 1}",
        section=wave["wave"],
        title=_("Every site: everyone next to the worst-off group — %(wave)s") % {"wave": wave["wave"]},
        table=table,
        figure=_figure(fig, height=140 + 170 * len(criteria)),
        summary=summary,
        method=_(
            "For each site, the mean of every rating it received, and the mean of the group whose members "
            "rated it lowest (the worst-off group there). Groups with no rating at a site are left out there."
        ),
    )


def _agreement_panel(report: dict, labels: _Labels) -> Panel:
    table = Table(
        caption=_("Agreement (Krippendorff's alpha, ordinal) overall and within each group"),
        columns=[_("wave"), _("criterion"), _("who"), _("n"), _("alpha")],
    )
    fig = go.Figure()
    for wave in report["waves"]:
        for criterion in wave["criteria"]:
            table.rows.append(
                [
                    wave["wave"],
                    labels.criterion(criterion["criterion"]),
                    _("everyone"),
                    criterion["n_participants"],
                    _round(criterion["alpha_ordinal"]),
                ]
            )
            for g in criterion["groups"]:
                table.rows.append(
                    [
                        wave["wave"],
                        labels.criterion(criterion["criterion"]),
                        labels.group(g["group"]),
                        g["n"],
                        _round(g["alpha_ordinal"]),
                    ]
                )
    last = report["waves"][-1] if report["waves"] else {"criteria": [], "wave": ""}
    x = [labels.criterion(c["criterion"]) for c in last["criteria"]]
    fig.add_trace(
        go.Bar(
            x=x,
            y=[c["alpha_ordinal"] for c in last["criteria"]],
            name=_("everyone"),
            marker_color=_GREY,
        )
    )
    groups = [g["group"] for g in last["criteria"][0]["groups"]] if last["criteria"] else []
    for i, group in enumerate(groups):
        fig.add_trace(
            go.Bar(
                x=x,
                y=[c["groups"][i]["alpha_ordinal"] for c in last["criteria"]],
                name=labels.group(group),
                marker_color=_PALETTE[i % len(_PALETTE)],
            )
        )
    fig.update_layout(barmode="group", yaxis_title=_("agreement (1 = full, 0 = chance)"))
    rated = [c for c in last["criteria"] if c["alpha_ordinal"] is not None]
    if rated:
        least = min(rated, key=lambda c: c["alpha_ordinal"])
        summary = _(
            "Residents agree least on %(criterion)s: agreement %(alpha)s, where 1 is full agreement and 0 "
            "no more than chance."
        ) % {"criterion": labels.criterion(least["criterion"]), "alpha": _num(least["alpha_ordinal"], 2)}
    else:
        summary = _("Not enough answers yet to measure agreement.")
    return Panel(
        key="agreement",
        title=_("How much residents agree — %(wave)s") % {"wave": last["wave"]},
        table=table,
        figure=_figure(fig) if rated else None,
        note=_("1 = perfect agreement, 0 = no more than chance. The table covers every wave."),
        summary=summary,
        method=_(
            "Krippendorff's alpha for ordinal data, over the participants who rated each site: 1 when "
            "everyone gives a site the same rating, 0 when ratings agree no more than chance would, "
            "negative when they disagree systematically."
        ),
    )


def _rankings_panel(report: dict, labels: _Labels) -> Panel:
    table = Table(
        caption=_("Ranking concordance (Kendall's W) and each group's consensus order"),
        columns=[
            _("wave"),
            _("ranking criterion"),
            _("who"),
            _("n"),
            _("Kendall W"),
            _("consensus (best first)"),
            _("distance to the others"),
        ],
    )
    last = report["waves"][-1] if report["waves"] else {"rankings": [], "wave": ""}
    for wave in report["waves"]:
        for r in wave["rankings"]:
            table.rows.append(
                [
                    wave["wave"],
                    labels.criterion(r["criterion"]),
                    _("everyone"),
                    r["n"],
                    _round(r["kendall_w"]),
                    " > ".join(r["consensus"]),
                    None,
                ]
            )
            for g in r["groups"]:
                table.rows.append(
                    [
                        wave["wave"],
                        labels.criterion(r["criterion"]),
                        labels.group(g["group"]),
                        g["n"],
                        _round(g["kendall_w"]),
                        " > ".join(g["consensus"] or []),
                        _round(g["distance"]),
                    ]
                )
    rankings = last["rankings"]
    figure = None
    summary = _("No ranking answers yet.")
    if rankings:
        groups = [g["group"] for g in rankings[0]["groups"]]
        z = [[r["groups"][i]["distance"] for r in rankings] for i in range(len(groups))]
        fig = go.Figure(
            _grid(
                z,
                [labels.criterion(r["criterion"]) for r in rankings],
                [labels.group(g) for g in groups],
                text=[[_num(v, 2) for v in row] for row in z],
                colorscale=_SEQUENTIAL,
                zmin=0,
                zmax=1,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[labels.criterion(r["criterion"]) for r in rankings],
                y=[labels.group(r["most_divergent_group"]) if r["most_divergent_group"] else None for r in rankings],
                mode="markers",
                marker={"symbol": "star", "size": 12, "color": "#111827"},
                name=_("most divergent group"),
            )
        )
        fig.update_yaxes(autorange="reversed")
        figure = _figure(fig, height=140 + 45 * len(groups))
        first = next((r for r in rankings if r["most_divergent_group"]), None)
        if first:
            g = next(g for g in first["groups"] if g["group"] == first["most_divergent_group"])
            summary = _(
                "When asked to rank images on %(criterion)s, %(group)s order them most differently from "
                "everyone else (distance %(distance)s, where 0 is the same order and 1 the reverse)."
            ) % {
                "criterion": labels.criterion(first["criterion"]),
                "group": labels.group(g["group"]),
                "distance": _num(g["distance"], 2),
            }
    return Panel(
        key="rankings",
        title=_("How differently groups rank the images — %(wave)s") % {"wave": last["wave"]},
        table=table,
        figure=figure,
        note=_(
            "Heat: how far a group's order is from everyone else's (0 = same order, 1 = reversed). "
            "The star marks the most divergent group."
        ),
        summary=summary,
        method=_(
            "Each group's consensus order sorts images by their mean rank among its members. The distance is "
            "the normalised Kendall tau distance between that order and the order of everyone else; Kendall's "
            "W measures how much the members of a group agree with one another (1 = identical rankings)."
        ),
    )


def _consistency_panel(report: dict, labels: _Labels) -> Panel:
    table = Table(
        caption=_("Ratings vs rankings: share of image pairs ordered differently"),
        columns=[
            _("wave"),
            _("ranking criterion"),
            _("rating criterion"),
            _("same criterion"),
            _("discordance"),
            _("tied pairs share"),
            _("participants"),
        ],
    )
    fig = go.Figure()
    matched_all = []
    for i, wave in enumerate(report["waves"]):
        pairs = wave.get("consistency", [])
        for p in pairs:
            table.rows.append(
                [
                    wave["wave"],
                    labels.criterion(p["ranking_criterion"]),
                    labels.criterion(p["rating_criterion"]),
                    _yes_no(p["same_criterion"]),
                    _round(p["discordance"]),
                    _round(p["tied_pairs_share"]),
                    p["n_participants"],
                ]
            )
        matched = [p for p in pairs if p["same_criterion"]]
        matched_all += [p for p in matched if p["discordance"] is not None]
        fig.add_trace(
            go.Bar(
                x=[
                    f"{labels.criterion(p['ranking_criterion'])} / {labels.criterion(p['rating_criterion'])}"
                    for p in matched
                ],
                y=[p["discordance"] for p in matched],
                name=wave["wave"],
                marker_color=_PALETTE[i % len(_PALETTE)],
            )
        )
    fig.update_layout(barmode="group", yaxis_title=_("share of pairs ordered differently"), yaxis_range=[0, 1])
    if matched_all:
        p = matched_all[-1]
        summary = _(
            "On %(criterion)s, %(share)s of image pairs are put in a different order when people rank them "
            "than when they rate them."
        ) % {"criterion": labels.criterion(p["ranking_criterion"]), "share": _percent(p["discordance"])}
    else:
        summary = _("No criterion was both rated and ranked on the same images yet.")
    return Panel(
        key="consistency",
        title=_("Ratings vs rankings"),
        table=table,
        figure=_figure(fig) if matched_all else None,
        note=_(
            "Ratings carry intensity, rankings force trade-offs: a high share means people "
            "order images differently when forced to choose. The chart shows matching criteria; "
            "the table every pair."
        ),
        summary=summary,
        method=_(
            "For each participant who both rated and ranked, every pair of images is compared: discordant when "
            "the rating order and the ranking order disagree. Pairs with equal ratings are counted apart (tied "
            "pairs share)."
        ),
    )


def _variance_panel(report: dict, labels: _Labels) -> Panel:
    table = Table(
        caption=_("Disagreement within groups vs between groups, per wave"),
        columns=[
            _("criterion"),
            _("wave"),
            _("within-group variance"),
            _("between-group variance"),
            _("between-group share"),
        ],
    )
    criteria = list(dict.fromkeys(c["criterion"] for w in report["waves"] for c in w["criteria"]))
    fig = make_subplots(rows=1, cols=max(len(criteria), 1), subplot_titles=[labels.criterion(c) for c in criteria])
    latest = None
    for col, name in enumerate(criteria, start=1):
        waves, within, between = [], [], []
        for wave in report["waves"]:
            entry = next((c for c in wave["criteria"] if c["criterion"] == name), None)
            if entry is None:
                continue
            waves.append(wave["wave"])
            within.append(entry["within_group_variance"])
            between.append(entry["between_group_variance"])
            table.rows.append(
                [
                    labels.criterion(name),
                    wave["wave"],
                    _round(entry["within_group_variance"]),
                    _round(entry["between_group_variance"]),
                    _round(entry["between_group_share"]),
                ]
            )
            if entry["between_group_share"] is not None and (
                latest is None or entry["between_group_share"] > latest[2]["between_group_share"]
            ):
                latest = (name, wave["wave"], entry)
        fig.add_trace(
            go.Bar(
                x=waves,
                y=within,
                name=_("within groups (information gap)"),
                marker_color=_WITHIN,
                showlegend=col == 1,
            ),
            row=1,
            col=col,
        )
        fig.add_trace(
            go.Bar(
                x=waves,
                y=between,
                name=_("between groups (value conflict)"),
                marker_color=_BETWEEN,
                showlegend=col == 1,
            ),
            row=1,
            col=col,
        )
    fig.update_layout(barmode="group")
    if latest:
        name, wave, entry = latest
        summary = _(
            "On %(criterion)s (%(wave)s), %(share)s of the disagreement lies between groups, a value "
            "conflict; the rest is disagreement inside groups, which better information can narrow."
        ) % {"criterion": labels.criterion(name), "wave": wave, "share": _percent(entry["between_group_share"])}
    else:
        summary = _("Not enough answers yet to split disagreement within and between groups.")
    return Panel(
        key="variance",
        title=_("Information gap vs value conflict"),
        table=table,
        figure=_figure(fig, height=380) if latest else None,
        note=_(
            "Discussion that closes information gaps shrinks the within-group variance; a "
            "value conflict shows as between-group variance that holds across waves."
        ),
        summary=summary,
        method=_(
            "Each site's own mean is removed from its ratings first. The between-group part is how much of "
            "what remains a person's groups explain (the drop in residual variance when group indicators are "
            "added to a regression on sites alone); the within-group part is what is left. The between-group "
            "share is between ÷ (within + between)."
        ),
    )


def _lowest_group(report: dict, criterion: str) -> str | None:
    """The group with the lowest mean rating of `criterion` in the latest wave that rated it."""
    for wave in reversed(report["waves"]):
        entry = next((c for c in wave["criteria"] if c["criterion"] == criterion), None)
        if entry:
            worst = _worst_by_criterion({"criteria": [entry]})
            return worst[criterion]["group"] if worst else None
    return None


def _title_with_worst(labels: _Labels, criterion: str, worst: str | None) -> str:
    if worst is None:
        return labels.criterion(criterion)
    return _("%(criterion)s<br>worst-off:<br>%(group)s") % {
        "criterion": labels.criterion(criterion),
        "group": labels.group(worst),
    }


_DASHES = ["dot", "dash", "dashdot", "longdash", "longdashdot"]
_SYMBOLS = ["square", "diamond", "triangle-up", "cross", "x", "star"]


def _longitudinal_panel(report: dict, labels: _Labels) -> Panel:
    table = Table(
        caption=_("Disagreement per wave with its 95% bootstrap confidence interval, everyone and each group"),
        columns=[
            _("criterion"),
            _("who"),
            _("wave"),
            _("n"),
            _("pairwise disagreement"),
            _("ci low"),
            _("ci high"),
            _("between-group share"),
        ],
    )
    entries = report["longitudinal"]
    fig = make_subplots(
        rows=1,
        cols=max(len(entries), 1),
        shared_yaxes=True,
        subplot_titles=[
            _title_with_worst(labels, e["criterion"], _lowest_group(report, e["criterion"])) for e in entries
        ],
    )
    group_order = list(report.get("groups", []))
    for col, entry in enumerate(entries, start=1):
        name = labels.criterion(entry["criterion"])
        series = entry["series"]
        x = [s["wave"] for s in series]
        worst = _lowest_group(report, entry["criterion"])
        fig.add_trace(
            go.Scatter(
                x=x + x[::-1],
                y=[s["ci_high"] for s in series] + [s["ci_low"] for s in series][::-1],
                fill="toself",
                fillcolor=_GREY,
                opacity=0.15,
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
            ),
            row=1,
            col=col,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[s["pairwise_disagreement"] for s in series],
                mode="lines+markers",
                name=_("everyone"),
                line={"color": "#111827", "width": 3},
                marker={"size": 9},
                legendgroup="everyone",
                showlegend=col == 1,
            ),
            row=1,
            col=col,
        )
        for g in entry.get("groups", []):
            i = group_order.index(g["group"]) if g["group"] in group_order else 0
            is_worst = g["group"] == worst
            # Distinct dashes and markers keep overlapping lines apart, and colour is not the only cue.
            fig.add_trace(
                go.Scatter(
                    x=[s["wave"] for s in g["series"]],
                    y=[s["pairwise_disagreement"] for s in g["series"]],
                    mode="lines+markers",
                    name=labels.group(g["group"]),
                    line={
                        "color": _WORST if is_worst else _PALETTE[(i + 2) % len(_PALETTE)],
                        "width": 4 if is_worst else 1.5,
                        "dash": "solid" if is_worst else _DASHES[i % len(_DASHES)],
                    },
                    marker={"symbol": _SYMBOLS[i % len(_SYMBOLS)], "size": 8},
                    opacity=1 if is_worst else 0.8,
                    legendgroup=g["group"],
                    showlegend=col == 1,
                ),
                row=1,
                col=col,
            )
        for who, rows in [(_("everyone"), series)] + [
            (labels.group(g["group"]), g["series"]) for g in entry.get("groups", [])
        ]:
            for s in rows:
                table.rows.append(
                    [
                        name,
                        who,
                        s["wave"],
                        s.get("n"),
                        _round(s["pairwise_disagreement"]),
                        _round(s["ci_low"]),
                        _round(s["ci_high"]),
                        _round(s["between_group_share"]),
                    ]
                )
    fig.update_yaxes(title_text=_("disagreement (0–1)"), row=1, col=1)
    changes = [(e, c) for e in entries for c in e["changes"] if c["delta"] is not None]
    if changes:
        entry, c = max(changes, key=lambda ec: abs(ec[1]["delta"]))
        summary = _(
            "Disagreement on %(criterion)s went from %(before)s to %(after)s between %(from)s and %(to)s; %(chance)s."
        ) % {
            "criterion": labels.criterion(entry["criterion"]),
            "before": _num(next(s for s in entry["series"] if s["wave"] == c["from"])["pairwise_disagreement"], 2),
            "after": _num(next(s for s in entry["series"] if s["wave"] == c["to"])["pairwise_disagreement"], 2),
            "from": c["from"],
            "to": c["to"],
            "chance": _chance(c["p_value"]),
        }
    else:
        summary = _("A second wave is needed to see disagreement change.")
    return Panel(
        key="longitudinal",
        title=_("Disagreement across waves, everyone and each group"),
        table=table,
        figure=_figure(fig, height=400),
        note=_(
            "The thick red line is each criterion's worst-off group (lowest mean rating); the grey band is "
            "everyone's confidence interval (95%)."
        ),
        summary=summary,
        method=_(
            "Pairwise disagreement is the mean absolute difference between two participants' ratings of the "
            "same site, divided by the width of the scale (0 = everyone agrees, 1 = as far apart as possible). "
            "Bands are 95% bootstrap confidence intervals over participants; changes between waves are tested "
            "by a paired permutation test."
        ),
    )


def _changes_panel(report: dict, labels: _Labels) -> Panel:
    table = Table(
        caption=_("Change in disagreement between consecutive waves (permutation test)"),
        columns=[_("criterion"), _("who"), _("from"), _("to"), _("change"), _("p-value")],
    )
    total = sure = 0
    for entry in report["longitudinal"]:
        name = labels.criterion(entry["criterion"])
        for who, changes in [(_("everyone"), entry["changes"])] + [
            (labels.group(g["group"]), g["changes"]) for g in entry.get("groups", [])
        ]:
            for c in changes:
                table.rows.append([name, who, c["from"], c["to"], _round(c["delta"]), _round(c["p_value"])])
                total += 1
                sure += c["p_value"] is not None and c["p_value"] <= 0.05
    if total:
        summary = _("%(sure)s of the %(total)s changes between waves are unlikely to be chance.") % {
            "sure": sure,
            "total": total,
        }
    else:
        summary = _("A second wave is needed to see disagreement change.")
    return Panel(
        key="changes",
        title=_("Changes between waves"),
        table=table,
        summary=summary,
        method=_(
            "Each change is the later wave's pairwise disagreement minus the earlier one's. Its p-value comes "
            "from a permutation test that swaps, at random, the two waves' answers of each participant who "
            "answered both. A p-value of 0.05 or less counts as unlikely to be chance."
        ),
    )


def representation_panel(
    rows: list[dict], *, waves: list[str], min_group_size: int, open_wave: str | None = None
) -> Panel:
    """Participants and completions per group against the group's target, live.

    The chart counts the open wave (the one residents are answering now), else the latest one.
    """
    table = Table(
        caption=_("Participants and completions per group against the target"),
        columns=[_("group"), _("target"), _("participants"), _("share of target")]
        + [
            (_("answered %(wave)s") if what == "answered" else _("completed %(wave)s")) % {"wave": w}
            for w in waves
            for what in ("answered", "completed")
        ],
    )
    names = []
    for row in rows:
        label = row["label"] + (f" {CAUTION}" if row["participants"] < min_group_size else "")
        names.append(label)
        share = _percent(row["participants"] / row["target"]) if row["target"] else None
        table.rows.append(
            [label, row["target"], row["participants"], share]
            + [row[what].get(w, 0) for w in waves for what in ("answered", "completed")]
        )
    shown = open_wave if open_wave in waves else (waves[-1] if waves else None)
    fig = go.Figure()
    fig.add_trace(go.Bar(x=names, y=[r["participants"] for r in rows], name=_("participants"), marker_color=_BETWEEN))
    if shown:
        fig.add_trace(
            go.Bar(
                x=names,
                y=[r["answered"].get(shown, 0) for r in rows],
                name=_("answered %(wave)s") % {"wave": shown},
                marker_color="#047857",
            )
        )
        fig.add_trace(
            go.Bar(
                x=names,
                y=[r["completed"].get(shown, 0) for r in rows],
                name=_("completed %(wave)s") % {"wave": shown},
                marker_color="#7c3aed",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=names,
            y=[r["target"] for r in rows],
            mode="markers",
            name=_("target"),
            marker={"symbol": "line-ew-open", "size": 40, "color": _WORST, "line": {"width": 3}},
        )
    )
    fig.update_layout(barmode="group")
    short = [r for r in rows if r["participants"] < min_group_size]
    targeted = [r for r in rows if r["target"]]
    if not rows or not any(r["participants"] for r in rows):
        summary = _("Nobody has joined yet.")
    elif short:
        summary = " ".join(
            _("%(group)s: %(n)s of the %(needed)s participants needed for reliable figures.")
            % {"group": r["label"], "n": r["participants"], "needed": min_group_size}
            for r in short
        )
    elif targeted:
        r = min(targeted, key=lambda r: r["participants"] / r["target"])
        summary = _("Furthest from its target: %(group)s, with %(n)s of the %(target)s participants aimed for.") % {
            "group": r["label"],
            "n": r["participants"],
            "target": r["target"],
        }
    else:
        summary = _("Every group has at least %(needed)s participants.") % {"needed": min_group_size}
    return Panel(
        key="representation",
        title=_("Who is taking part"),
        table=table,
        figure=_figure(fig),
        note=_(
            "Counted live from the survey, so an under-represented group shows while the "
            "survey runs. Groups overlap: one person can count in several."
        ),
        summary=summary,
        method=_(
            "Participants are the people who joined and said they belong to the group; answered counts those "
            "who gave at least one answer in the wave, completed those who finished it. The target is the "
            "number the study aims for."
        ),
    )
