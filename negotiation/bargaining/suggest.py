"""Suggested intervention effects from audited street attributes and residents' ratings.

Pure numpy, no Django. For each rating criterion we fit a ridge regression of each site's mean
rating on indicators of its audited attributes (binary attributes 0/1, ordinal ones scaled to
0..1), with the intercept unpenalised and the penalty chosen by generalised cross-validation.
An intervention that brings an attribute to its best level on every site is then expected to move
the mean rating by ``coefficient × shortfall``, where the shortfall is how far the scenario's sites
are, on average, from that best level. Negative coefficients are not turned into negative effects
(adding benches does not make a street worse); the raw coefficient is still reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

#: Ordinal levels, worst first; any attribute not listed here is read as Absent/Present.
ORDINAL_LEVELS: dict[str, tuple[str, ...]] = {
    "sidewalk_condition": ("Absent", "Fair", "Excellent"),
    "sidewalk_accessibility": ("Absent", "Limited", "Basic", "Excellent"),
    "greenery_presence": ("Absent", "Basic", "Medium", "High"),
    "crossing_safety": ("Absent", "Basic", "High"),
    "sidewalk_width": ("Absent", "Narrow", "Variable", "Wide"),
}
BINARY_PRESENT = {"present", "partly present", "yes"}
BINARY_ABSENT = {"absent", "no"}

#: Which audited attributes an intervention changes, matched on words in its code or name.
INTERVENTION_ATTRIBUTES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("curb", "ramp"), ("sidewalk_accessibility",)),
    (("sidewalk", "pavement"), ("sidewalk_condition", "sidewalk_accessibility")),
    (("bench", "seating"), ("seating_availability",)),
    (("tree", "shade", "green", "planting"), ("greenery_presence", "shade_availability")),
    (("light",), ("street_lighting",)),
    (("crossing", "signal", "crosswalk"), ("crossing_signals", "pedestrian_crossings")),
    (("waste", "bin", "litter"), ("waste_bins",)),
    (("bike", "cycle"), ("bike_lane_presence",)),
)

#: Penalties tried; generalised cross-validation picks one.
LAMBDAS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)


def attributes_for(code: str, name: str = "") -> tuple[str, ...]:
    """The audited attributes an intervention changes, from keywords in its code and name."""
    # Whole words matched by their beginning: "trees" matches "tree", "street" does not.
    words = re.findall(r"[a-z]+", f"{code} {name}".lower().replace("_", " "))
    for keywords, attributes in INTERVENTION_ATTRIBUTES:
        if any(w.startswith(k) for w in words for k in keywords):
            return attributes
    return ()


def indicator(attribute: str, value: str | None) -> float | None:
    """An attribute value on 0..1 (best level 1), or None when it cannot be read."""
    if value is None:
        return None
    v = str(value).strip()
    levels = ORDINAL_LEVELS.get(attribute)
    if levels is not None:
        lowered = [lv.lower() for lv in levels]
        if v.lower() not in lowered:
            return None
        return lowered.index(v.lower()) / (len(levels) - 1)
    if v.lower() in BINARY_PRESENT:
        return 1.0
    if v.lower() in BINARY_ABSENT:
        return 0.0
    return None


def ridge(X: np.ndarray, y: np.ndarray, lambdas: Iterable[float] = LAMBDAS) -> tuple[np.ndarray, float]:
    """Ridge coefficients (closed form, centred so the intercept is not penalised) and the
    penalty with the lowest generalised cross-validation error."""
    Xc = X - X.mean(axis=0)
    yc = y - y.mean()
    n, p = Xc.shape
    best: tuple[float, np.ndarray, float] | None = None
    gram, xty = Xc.T @ Xc, Xc.T @ yc
    for lam in lambdas:
        inv = np.linalg.inv(gram + lam * np.eye(p))
        beta = inv @ xty
        dof = float(np.trace(Xc @ inv @ Xc.T)) if n <= 2000 else float(np.trace(gram @ inv))
        resid = yc - Xc @ beta
        gcv = float(resid @ resid) / n / max(1e-12, (1 - dof / n) ** 2)
        if best is None or gcv < best[0]:
            best = (gcv, beta, float(lam))
    assert best is not None
    return best[1], best[2]


@dataclass(frozen=True)
class Suggestion:
    effects: dict[str, float]
    sources: dict[str, dict]  # criterion -> {attribute, coefficient, shortfall, n, lambda}


def suggest_effects(
    *,
    site_attributes: Mapping[str, Mapping[str, str]],
    ratings: Iterable[tuple[str, str, float]],
    criteria: Iterable[str],
    interventions: Mapping[str, tuple[str, ...]],
) -> dict[str, Suggestion]:
    """Suggested effects per intervention code.

    ``site_attributes``: {site: {attribute: value}}; ``ratings``: (site, criterion, value) rows;
    ``interventions``: {code: attributes it changes}. Interventions tied to no readable attribute
    get no suggestion.
    """
    attrs = sorted({a for group in interventions.values() for a in group})
    sites = sorted(site_attributes)
    # Columns whose value is unreadable on any site are left out rather than imputed.
    table = {s: [indicator(a, site_attributes[s].get(a)) for a in attrs] for s in sites}
    usable = [k for k, a in enumerate(attrs) if all(table[s][k] is not None for s in sites)]
    if not sites or not usable:
        return {}
    cols = [attrs[k] for k in usable]
    site_x = {s: np.array([table[s][k] for k in usable], dtype=float) for s in sites}
    shortfall = 1.0 - np.mean([site_x[s] for s in sites], axis=0)
    by_criterion: dict[str, dict[str, list[float]]] = {}
    for site, criterion, value in ratings:
        if site in site_x:
            by_criterion.setdefault(criterion, {}).setdefault(site, []).append(float(value))
    fits: dict[str, tuple[np.ndarray, float, int, int]] = {}
    for c in criteria:
        per_site = by_criterion.get(c, {})
        # Raters see a site as a whole, so the site is the unit: individual ratings of one site
        # share its attributes and would overstate the evidence (and let GCV pick no penalty).
        rated = sorted(per_site)
        if len(rated) < 3:
            continue
        X = np.array([site_x[s] for s in rated])
        y = np.array([np.mean(per_site[s]) for s in rated])
        beta, lam = ridge(X, y)
        fits[c] = (beta, lam, len(rated), sum(len(v) for v in per_site.values()))
    out: dict[str, Suggestion] = {}
    for code, changed in interventions.items():
        idx = [cols.index(a) for a in changed if a in cols]
        if not idx or not fits:
            continue
        effects, sources = {}, {}
        for c, (beta, lam, n, n_ratings) in fits.items():
            effects[c] = round(float(sum(max(beta[k], 0.0) * shortfall[k] for k in idx)), 2)
            sources[c] = {
                "n": n,
                "n_ratings": n_ratings,
                "lambda": lam,
                "n_attributes": len(cols),
                "attributes": [
                    {
                        "attribute": cols[k],
                        "coefficient": round(float(beta[k]), 4),
                        "shortfall": round(float(shortfall[k]), 4),
                    }
                    for k in idx
                ],
            }
        out[code] = Suggestion(effects, sources)
    return out
