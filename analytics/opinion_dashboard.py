"""The dashboard's opinion-group section: what the report's ``opinion_groups`` of each wave
shows a planner, in plain words, with every cell smaller than the study's k suppressed.

Suppression rules, so nothing lets anyone single out a resident or a group smaller than k:
- an opinion group of fewer than k residents is neither drawn on the map nor described (its
  representative streets are its members' means);
- an overlap cell (declared group × opinion group) of 1..k−1 residents shows "fewer than k",
  and when a declared group's row has exactly one such cell, the next smallest non-zero cell
  of the row is suppressed too, so the hidden one cannot be recovered by subtraction;
- the map's declared-group filter offers only groups with at least k residents on the map,
  and filtered by a group it draws only the opinion groups whose overlap cell is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from surveys.models import Image, Study

from .charts import Table, chart_dom_id
from .measures.opinion import MIN_PARTICIPANTS, NO_VARIATION

_PALETTE = ["#1d4ed8", "#b91c1c", "#047857", "#7c3aed", "#b45309", "#0e7490"]


@dataclass
class Street:
    site: str
    criterion: str
    mean: float
    others_mean: float
    image_url: str | None
    image_alt: str

    @property
    def sentence(self) -> str:
        return _("%(site)s on %(criterion)s: %(mean)s on average, against %(others)s for everyone else.") % {
            "site": self.site,
            "criterion": self.criterion,
            "mean": _number(self.mean),
            "others": _number(self.others_mean),
        }


@dataclass
class OpinionGroup:
    id: int
    name: str
    n: int | None  # None when suppressed
    streets: list[Street] = field(default_factory=list)


@dataclass
class OpinionSection:
    key: str
    wave: str
    reason: str | None
    k: int | None = None
    silhouette: float | None = None
    strength: str = ""
    ami: float | None = None
    ami_words: str = ""
    n_participants: int = 0
    groups: list[OpinionGroup] = field(default_factory=list)
    map_table: Table | None = None
    overlap: Table | None = None
    figure: dict | None = None
    filters: list[tuple[int, str]] = field(default_factory=list)
    # For the map's filter: declared group index → the opinion group ids it may show.
    allowed: dict[str, list[int]] = field(default_factory=dict)
    sampled: bool = False

    @property
    def dom_id(self) -> str:
        return chart_dom_id(self.key)

    @property
    def data_id(self) -> str:
        return chart_dom_id(self.key, "data")

    @property
    def filter_data_id(self) -> str:
        return chart_dom_id(self.key, "filter")


def _number(value: float | None) -> str:
    from django.utils.formats import number_format

    return "—" if value is None else number_format(round(value, 2), 2)


def _strength(silhouette: float) -> str:
    """Plain words for the silhouette, after Kaufman and Rousseeuw's reading of it."""
    if silhouette > 0.70:
        return _("The groups are clearly apart.")
    if silhouette > 0.50:
        return _("The groups are reasonably apart.")
    if silhouette > 0.25:
        return _("The groups are only weakly apart: read them as tendencies, not camps.")
    return _("There is no real structure: the split is a convenience, not camps.")


def _ami_words(ami: float) -> str:
    if ami < 0.05:
        return _(
            "The groups people declared explain almost nothing of who thinks alike: "
            "each opinion group mixes residents of every declared group."
        )
    if ami < 0.20:
        return _("The groups people declared explain a little of who thinks alike.")
    if ami < 0.50:
        return _("The groups people declared explain part of who thinks alike.")
    return _("Opinion groups largely follow the groups people declared.")


def opinion_sections(*, study: Study, report: dict, names: dict[str, dict[str, str]]) -> list[OpinionSection]:
    """One section per wave of the report that has an ``opinion_groups`` entry; ``names`` are
    the display names of the study's groups, criteria and sites (selectors.display_names)."""
    waves = [w for w in report.get("waves", []) if "opinion_groups" in w]
    if not waves:
        return []
    k_min = study.min_group_size
    labels = _Names(study, report, waves, names)
    return [_section(w, wave, wave["opinion_groups"], k_min, labels) for w, wave in enumerate(waves)]


class _Names:
    """Labels as people wrote them, in the active language, and each representative street's
    first image (one query whatever the number of waves)."""

    def __init__(self, study: Study, report: dict, waves: list[dict], names: dict[str, dict[str, str]]) -> None:
        self.groups = names.get("groups", {})
        self.criteria = names.get("criteria", {})
        self.sites = names.get("sites", {})
        wanted = {item["site"] for w in waves for g in w["opinion_groups"]["groups"] for item in g["representative"]}
        self.images: dict[str, Image] = {}
        for image in Image.objects.filter(study=study, site__code__in=wanted).select_related("site").order_by("code"):
            if image.file and image.site.code not in self.images:
                self.images[image.site.code] = image
        self.declared = list(report.get("groups", []))

    def group(self, code: str) -> str:
        return self.groups.get(code, code)


def _section(w: int, wave: dict, entry: dict, k_min: int, names: _Names) -> OpinionSection:
    section = OpinionSection(
        key=f"opinion-{w + 1}", wave=wave["wave"], reason=None, n_participants=entry.get("n_participants", 0)
    )
    if entry.get("k") is None:
        if entry.get("reason") == NO_VARIATION:
            section.reason = _("No opinion groups: everyone rated the streets alike.")
        else:
            section.reason = _(
                "No opinion groups yet: too few residents rated enough streets (at least %(n)s are needed)."
            ) % {"n": MIN_PARTICIPANTS}
        return section
    section.k = entry["k"]
    section.silhouette = entry["silhouette"]
    section.strength = _strength(entry["silhouette"])
    section.ami = entry["adjusted_mutual_information"]
    section.ami_words = _ami_words(section.ami)
    shown = {g["id"] for g in entry["groups"] if g["n"] >= k_min}
    for g in entry["groups"]:
        name = _("Opinion group %(id)s") % {"id": g["id"]}
        group = OpinionGroup(id=g["id"], name=name, n=g["n"] if g["id"] in shown else None)
        if g["id"] in shown:
            group.streets = [_street(item, names) for item in g["representative"]]
        section.groups.append(group)
    section.overlap, allowed_cells = _overlap_table(entry, shown, k_min, names)
    points = entry.get("points") or {}
    section.map_table = _map_table(section, points, k_min)
    section.figure = _figure(section, points, shown)
    section.sampled = points.get("n", 0) < entry.get("n_participants", 0)
    counts = _declared_on_map(points, len(names.declared))
    for d, code in enumerate(names.declared):
        if counts[d] >= k_min:
            section.filters.append((d, names.group(code)))
            section.allowed[str(d)] = sorted(allowed_cells.get(code, set()))
    return section


def _street(item: dict, names: _Names) -> Street:
    image = names.images.get(item["site"])
    return Street(
        site=names.sites.get(item["site"], item["site"]),
        criterion=names.criteria.get(item["criterion"], item["criterion"]),
        mean=item["mean"],
        others_mean=item["others_mean"],
        image_url=image.file.url if image else None,
        image_alt=image.alt_text if image else "",
    )


def suppress_row(counts: list[int], k_min: int) -> list[bool]:
    """Which cells of one row to hide: every count of 1..k−1, and, when that hides exactly
    one cell, the smallest other non-zero cell as well (else the row total gives it away)."""
    hidden = [0 < n < k_min for n in counts]
    if sum(hidden) == 1:
        others = [(n, i) for i, n in enumerate(counts) if n > 0 and not hidden[i]]
        if others:
            hidden[min(others)[1]] = True
    return hidden


def _overlap_table(entry: dict, shown: set[int], k_min: int, names: _Names) -> tuple[Table, dict[str, set[int]]]:
    ids = [g["id"] for g in entry["groups"]]
    fewer = _("fewer than %(k)s") % {"k": k_min}
    table = Table(
        caption=_("Residents of each declared group in each opinion group"),
        columns=[_("declared group")] + [_("Opinion group %(id)s") % {"id": i} for i in ids],
    )
    cells: dict[str, dict[int, int]] = {}
    for cell in entry["declared_overlap"]:
        cells.setdefault(cell["group"], {})[cell["opinion_group"]] = cell["n"]
    allowed: dict[str, set[int]] = {}
    for code in names.declared:
        row = cells.get(code, {})
        counts = [row.get(i, 0) for i in ids]
        # A whole opinion group below k is hidden everywhere, so its column is too.
        counts_shown = [n if i in shown else 0 for n, i in zip(counts, ids, strict=True)]
        hidden = suppress_row(counts_shown, k_min)
        values = []
        for n, i, hide in zip(counts, ids, hidden, strict=True):
            if i not in shown:
                values.append("—")
            elif hide:
                values.append(fewer)
            else:
                values.append(n)
                allowed.setdefault(code, set()).add(i)
        table.rows.append([names.group(code)] + values)
    return table, allowed


def _declared_on_map(points: dict, n_declared: int) -> list[int]:
    counts = [0] * n_declared
    for declared in points.get("declared", []):
        for d in declared:
            if d < n_declared:
                counts[d] += 1
    return counts


def _map_table(section: OpinionSection, points: dict, k_min: int) -> Table:
    """The chart's table: where each shown opinion group sits on the map."""
    table = Table(
        caption=_("Where each opinion group sits on the opinion map (mean position of its residents)"),
        columns=[_("opinion group"), _("residents"), _("first axis"), _("second axis")],
    )
    sums: dict[int, list[float]] = {}
    for x, y, g in zip(points.get("x", []), points.get("y", []), points.get("opinion_group", []), strict=True):
        total = sums.setdefault(g, [0.0, 0.0, 0])
        total[0] += x
        total[1] += y
        total[2] += 1
    fewer = _("fewer than %(k)s") % {"k": k_min}
    for group in section.groups:
        if group.n is None:
            table.rows.append([group.name, fewer, None, None])
            continue
        sx, sy, count = sums.get(group.id, [0.0, 0.0, 0])
        table.rows.append(
            [group.name, group.n, round(sx / count, 2) if count else None, round(sy / count, 2) if count else None]
        )
    return table


def _figure(section: OpinionSection, points: dict, shown: set[int]) -> dict | None:
    """A Plotly figure (plain JSON) with one trace per shown opinion group; each point's
    customdata lists its declared groups, which the page's filter reads."""
    if not points.get("x"):
        return None
    traces = []
    for index, group in enumerate(section.groups):
        if group.id not in shown:
            continue
        members = [i for i, g in enumerate(points["opinion_group"]) if g == group.id]
        traces.append(
            {
                "type": "scattergl" if len(points["x"]) > 1000 else "scatter",
                "mode": "markers",
                "name": group.name,
                "meta": group.id,
                "x": [points["x"][i] for i in members],
                "y": [points["y"][i] for i in members],
                "customdata": [points["declared"][i] for i in members],
                "marker": {"color": _PALETTE[index % len(_PALETTE)], "size": 6, "opacity": 0.7},
                "hoverinfo": "name",
            }
        )
    return {
        "data": traces,
        "layout": {
            "height": 420,
            "margin": {"l": 50, "r": 20, "t": 20, "b": 50},
            "font": {"family": "system-ui, sans-serif", "size": 13},
            "paper_bgcolor": "#ffffff",
            "plot_bgcolor": "#ffffff",
            "legend": {"orientation": "h", "y": -0.18},
            "xaxis": {"title": {"text": _("first axis of disagreement")}, "zeroline": True},
            "yaxis": {"title": {"text": _("second axis of disagreement")}, "zeroline": True},
        },
    }
