"""Dashboard panels: each one a Plotly figure built on the server plus the table behind it.

A panel's table is at once the accessible alternative to its chart and the content of its CSV
download, so the three never disagree. Figures are plain dicts (Plotly's JSON), embedded in
the page with `json_script` and drawn by static/js/charts.js.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import plotly.graph_objects as go
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

    @property
    def dom_id(self) -> str:
        return f"chart-{self.key}"

    @property
    def data_id(self) -> str:
        return f"chart-{self.key}-data"


@dataclass
class _Labels:
    groups: dict[str, str]
    criteria: dict[str, str]
    small: set[str]

    def group(self, code: str | None) -> str:
        if code is None:
            return "—"
        label = self.groups.get(code, code)
        return f"{label} {CAUTION}" if code in self.small else label

    def criterion(self, name: str) -> str:
        return self.criteria.get(name, name)


def _figure(fig: go.Figure, *, height: int = 360) -> dict:
    fig.update_layout(
        height=height,
        margin={"l": 60, "r": 20, "t": 30, "b": 60},
        font={"family": "system-ui, sans-serif", "size": 13},
        paper_bgcolor="#ffffff",
        plot_bgcolor="#ffffff",
        legend={"orientation": "h", "y": -0.2},
    )
    return json.loads(fig.to_json())


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


def report_panels(report: dict, *, min_group_size: int) -> list[Panel]:
    """Every chart of the dashboard, in page order."""
    labels = _Labels(
        groups=report.get("labels", {}).get("groups", {}),
        criteria=report.get("labels", {}).get("criteria", {}),
        small=set(small_groups(report, min_group_size)),
    )
    panels: list[Panel] = []
    for w, wave in enumerate(report["waves"]):
        if wave["criteria"]:
            panels.append(_divergence_panel(w, wave, labels))
            panels.append(_sites_panel(w, wave, labels))
    panels.append(_agreement_panel(report, labels))
    panels.append(_rankings_panel(report, labels))
    panels.append(_consistency_panel(report, labels))
    panels.append(_variance_panel(report, labels))
    panels.append(_longitudinal_panel(report, labels))
    panels.append(_changes_panel(report, labels))
    return panels


def _divergence_panel(w: int, wave: dict, labels: _Labels) -> Panel:
    criteria = [c["criterion"] for c in wave["criteria"]]
    groups = [g["group"] for g in wave["criteria"][0]["groups"]]
    by_cell = {(c["criterion"], g["group"]): g for c in wave["criteria"] for g in c["groups"]}
    z, text = [], []
    table = Table(
        caption=f"Group divergence by criterion, {wave['wave']} (* = significant, q ≤ 0.05)",
        columns=[
            "group",
            "criterion",
            "n",
            "group mean",
            "divergence",
            "p-value",
            "q-value",
            "significant",
        ],
    )
    for group in groups:
        z_row, t_row = [], []
        for criterion in criteria:
            cell = by_cell[(criterion, group)]
            d = cell["divergence"]
            z_row.append(d)
            mark = "*" if cell["significant"] else ""
            t_row.append("" if d is None else f"{d:+.2f}{mark}")
            table.rows.append(
                [
                    labels.group(group),
                    labels.criterion(criterion),
                    cell["n"],
                    _round(cell["mean"]),
                    _round(d),
                    _round(cell["p_value"]),
                    _round(cell["q_value"]),
                    "yes" if cell["significant"] else "no",
                ]
            )
        z.append(z_row)
        text.append(t_row)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[labels.criterion(c) for c in criteria],
            y=[labels.group(g) for g in groups],
            text=text,
            texttemplate="%{text}",
            colorscale="RdBu",
            zmid=0,
            colorbar={"title": {"text": "divergence"}},
            hovertemplate="%{y} on %{x}: %{z:.2f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    return Panel(
        key=f"divergence-{w + 1}",
        section=wave["wave"],
        title=f"Who diverges on what — {wave['wave']}",
        table=table,
        figure=_figure(fig, height=120 + 45 * len(groups)),
        note="Mean difference between a group's ratings and everyone else's, in scale points. "
        "Cells marked * are significant after the Benjamini–Hochberg correction.",
    )


def _sites_panel(w: int, wave: dict, labels: _Labels) -> Panel:
    criteria = wave["criteria"]
    fig = make_subplots(
        rows=len(criteria),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        subplot_titles=[labels.criterion(c["criterion"]) for c in criteria],
    )
    table = Table(
        caption=f"Mean rating per site and the worst-off group there, {wave['wave']}",
        columns=["criterion", "site", "n", "overall mean", "worst group", "worst group mean"],
    )
    for row, criterion in enumerate(criteria, start=1):
        sites = criterion["sites"]
        x = [s["site"] for s in sites]
        fig.add_trace(
            go.Bar(
                x=x,
                y=[s["mean"] for s in sites],
                name="overall mean",
                marker_color=_GREY,
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
                name="worst group's mean",
                marker_color=_WORST,
                text=[labels.group(s["worst_group"]) for s in sites],
                hovertemplate="%{x}: %{text} %{y:.2f}<extra></extra>",
                textposition="none",
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
                    s["site"],
                    s["n"],
                    _round(s["mean"]),
                    labels.group(s["worst_group"]),
                    _round(s["worst_group_mean"]),
                ]
            )
    fig.update_layout(barmode="group")
    return Panel(
        key=f"sites-{w + 1}",
        section=wave["wave"],
        title=f"Every site: the total next to the worst-off group — {wave['wave']}",
        table=table,
        figure=_figure(fig, height=140 + 170 * len(criteria)),
    )


def _agreement_panel(report: dict, labels: _Labels) -> Panel:
    table = Table(
        caption="Agreement (Krippendorff's alpha, ordinal) overall and within each group",
        columns=["wave", "criterion", "who", "n", "alpha"],
    )
    fig = go.Figure()
    for wave in report["waves"]:
        for criterion in wave["criteria"]:
            table.rows.append(
                [
                    wave["wave"],
                    labels.criterion(criterion["criterion"]),
                    "everyone",
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
            name="everyone",
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
    fig.update_layout(barmode="group", yaxis_title="alpha")
    return Panel(
        key="agreement",
        title=f"Agreement — {last['wave']}",
        table=table,
        figure=_figure(fig),
        note="1 = perfect agreement, 0 = no more than chance. The table covers every wave.",
    )


def _rankings_panel(report: dict, labels: _Labels) -> Panel:
    table = Table(
        caption="Ranking concordance (Kendall's W) and each group's consensus order",
        columns=[
            "wave",
            "ranking criterion",
            "who",
            "n",
            "Kendall W",
            "consensus (best first)",
            "distance to the others",
        ],
    )
    last = report["waves"][-1] if report["waves"] else {"rankings": [], "wave": ""}
    for wave in report["waves"]:
        for r in wave["rankings"]:
            table.rows.append(
                [
                    wave["wave"],
                    labels.criterion(r["criterion"]),
                    "everyone",
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
    if rankings:
        groups = [g["group"] for g in rankings[0]["groups"]]
        z = [[r["groups"][i]["distance"] for r in rankings] for i in range(len(groups))]
        fig = go.Figure(
            go.Heatmap(
                z=z,
                x=[labels.criterion(r["criterion"]) for r in rankings],
                y=[labels.group(g) for g in groups],
                colorscale="Oranges",
                zmin=0,
                zmax=1,
                colorbar={"title": {"text": "distance"}},
                hovertemplate="%{y} on %{x}: %{z:.2f}<extra></extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[labels.criterion(r["criterion"]) for r in rankings],
                y=[labels.group(r["most_divergent_group"]) if r["most_divergent_group"] else None for r in rankings],
                mode="markers",
                marker={"symbol": "star", "size": 12, "color": "#111827"},
                name="most divergent group",
            )
        )
        fig.update_yaxes(autorange="reversed")
        figure = _figure(fig, height=140 + 45 * len(groups))
    return Panel(
        key="rankings",
        title=f"Ranking concordance — {last['wave']}",
        table=table,
        figure=figure,
        note="Heat: normalised Kendall tau distance between a group's consensus order and "
        "everyone else's (0 = same order). The star marks the most divergent group.",
    )


def _consistency_panel(report: dict, labels: _Labels) -> Panel:
    table = Table(
        caption="Ratings vs rankings: share of image pairs ordered differently",
        columns=[
            "wave",
            "ranking criterion",
            "rating criterion",
            "same criterion",
            "discordance",
            "tied pairs share",
            "participants",
        ],
    )
    fig = go.Figure()
    for i, wave in enumerate(report["waves"]):
        pairs = wave.get("consistency", [])
        for p in pairs:
            table.rows.append(
                [
                    wave["wave"],
                    labels.criterion(p["ranking_criterion"]),
                    labels.criterion(p["rating_criterion"]),
                    "yes" if p["same_criterion"] else "no",
                    _round(p["discordance"]),
                    _round(p["tied_pairs_share"]),
                    p["n_participants"],
                ]
            )
        matched = [p for p in pairs if p["same_criterion"]]
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
    fig.update_layout(barmode="group", yaxis_title="discordance", yaxis_range=[0, 1])
    return Panel(
        key="consistency",
        title="Ratings vs rankings",
        table=table,
        figure=_figure(fig),
        note="Ratings carry intensity, rankings force trade-offs: a high share means people "
        "order images differently when forced to choose. The chart shows matching criteria; "
        "the table every pair.",
    )


def _variance_panel(report: dict, labels: _Labels) -> Panel:
    table = Table(
        caption="Within-group vs between-group variance per wave",
        columns=[
            "criterion",
            "wave",
            "within-group variance",
            "between-group variance",
            "between-group share",
        ],
    )
    criteria = list(dict.fromkeys(c["criterion"] for w in report["waves"] for c in w["criteria"]))
    fig = make_subplots(rows=1, cols=max(len(criteria), 1), subplot_titles=[labels.criterion(c) for c in criteria])
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
        fig.add_trace(
            go.Bar(
                x=waves,
                y=within,
                name="within groups (information gap)",
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
                name="between groups (value conflict)",
                marker_color=_BETWEEN,
                showlegend=col == 1,
            ),
            row=1,
            col=col,
        )
    fig.update_layout(barmode="group")
    return Panel(
        key="variance",
        title="Information gap vs value conflict",
        table=table,
        figure=_figure(fig, height=380),
        note="Discussion that closes information gaps shrinks the within-group variance; a "
        "value conflict shows as between-group variance that holds across waves.",
    )


def _longitudinal_panel(report: dict, labels: _Labels) -> Panel:
    table = Table(
        caption="Pairwise disagreement per wave with 95% bootstrap confidence interval",
        columns=[
            "criterion",
            "who",
            "wave",
            "n",
            "pairwise disagreement",
            "ci low",
            "ci high",
            "between-group share",
        ],
    )
    fig = go.Figure()
    for i, entry in enumerate(report["longitudinal"]):
        color = _PALETTE[i % len(_PALETTE)]
        name = labels.criterion(entry["criterion"])
        series = entry["series"]
        x = [s["wave"] for s in series]
        fig.add_trace(
            go.Scatter(
                x=x + x[::-1],
                y=[s["ci_high"] for s in series] + [s["ci_low"] for s in series][::-1],
                fill="toself",
                fillcolor=color,
                opacity=0.15,
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
                legendgroup=name,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[s["pairwise_disagreement"] for s in series],
                mode="lines+markers",
                name=name,
                line={"color": color},
                legendgroup=name,
            )
        )
        for who, rows in [("everyone", series)] + [
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
    fig.update_layout(yaxis_title="pairwise disagreement (0–1)")
    return Panel(
        key="longitudinal",
        title="Disagreement across waves",
        table=table,
        figure=_figure(fig),
        note="Bands are 95% bootstrap confidence intervals over participants.",
    )


def _changes_panel(report: dict, labels: _Labels) -> Panel:
    table = Table(
        caption="Change in pairwise disagreement between consecutive waves (permutation test)",
        columns=["criterion", "who", "from", "to", "change", "p-value"],
    )
    for entry in report["longitudinal"]:
        name = labels.criterion(entry["criterion"])
        for who, changes in [("everyone", entry["changes"])] + [
            (labels.group(g["group"]), g["changes"]) for g in entry.get("groups", [])
        ]:
            for c in changes:
                table.rows.append([name, who, c["from"], c["to"], _round(c["delta"]), _round(c["p_value"])])
    return Panel(key="changes", title="Changes between waves", table=table)


def representation_panel(rows: list[dict], *, waves: list[str], min_group_size: int) -> Panel:
    """Participants and completions per group against the group's target, live."""
    table = Table(
        caption="Participants and completions per group against the target",
        columns=["group", "target", "participants", "share of target"]
        + [f"{what} {w}" for w in waves for what in ("answered", "completed")],
    )
    names = []
    for row in rows:
        label = row["label"] + (f" {CAUTION}" if row["participants"] < min_group_size else "")
        names.append(label)
        share = f"{row['participants'] / row['target']:.0%}" if row["target"] else None
        table.rows.append(
            [label, row["target"], row["participants"], share]
            + [row[what].get(w, 0) for w in waves for what in ("answered", "completed")]
        )
    fig = go.Figure()
    fig.add_trace(go.Bar(x=names, y=[r["participants"] for r in rows], name="participants", marker_color=_BETWEEN))
    if waves:
        fig.add_trace(
            go.Bar(
                x=names,
                y=[r["answered"].get(waves[-1], 0) for r in rows],
                name=f"answered {waves[-1]}",
                marker_color="#047857",
            )
        )
        fig.add_trace(
            go.Bar(
                x=names,
                y=[r["completed"].get(waves[-1], 0) for r in rows],
                name=f"completed {waves[-1]}",
                marker_color="#7c3aed",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=names,
            y=[r["target"] for r in rows],
            mode="markers",
            name="target",
            marker={"symbol": "line-ew-open", "size": 40, "color": _WORST, "line": {"width": 3}},
        )
    )
    fig.update_layout(barmode="group")
    return Panel(
        key="representation",
        title="Who is taking part",
        table=table,
        figure=_figure(fig),
        note="Counted live from the survey, so an under-represented group shows while the "
        "survey runs. Groups overlap: one person can count in several.",
    )
