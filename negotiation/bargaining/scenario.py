"""Scenario dataclasses, parsing and validation of the scenario JSON document.

The JSON format is the contract in DESIGN.md ("Command line"). Parsing collects every problem it
finds, so a planner fixing a hand-written file sees all of them at once; each message starts with
the path of the offending field, e.g. ``interventions[3].cost: must be ≥ 0``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

#: Tolerance on the sum of a group's criterion weights; generous enough for hand-written files.
WEIGHT_SUM_TOL = 1e-6
#: Round limit used when the document does not say.
DEFAULT_MAX_ROUNDS = 20


class ScenarioError(ValueError):
    """A scenario document (or a pin/forbid request) is invalid; ``errors`` lists every problem."""

    def __init__(self, errors: list[str] | str):
        self.errors: list[str] = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("; ".join(self.errors))


@dataclass(frozen=True)
class Group:
    name: str
    criterion_weights: dict[str, float]
    baseline: dict[str, float]


@dataclass(frozen=True)
class Intervention:
    code: str
    name: str
    cost: float
    effects: dict[str, float]
    excludes: tuple[str, ...] = ()


@dataclass(frozen=True)
class BaseDesign:
    name: str
    interventions: tuple[str, ...]


@dataclass(frozen=True)
class Scenario:
    title: str
    budget: float
    scale_min: float
    scale_max: float
    criteria: tuple[str, ...]
    groups: tuple[Group, ...]
    interventions: tuple[Intervention, ...]
    base_designs: tuple[BaseDesign, ...] = field(default_factory=tuple)
    max_rounds: int = DEFAULT_MAX_ROUNDS

    # The arrays below are derived once and cached: solvers work on arrays, not dataclasses.
    @cached_property
    def weights(self) -> np.ndarray:
        """Criterion weights, groups × criteria."""
        return np.array(
            [[g.criterion_weights.get(c, 0.0) for c in self.criteria] for g in self.groups],
            dtype=float,
        ).reshape(len(self.groups), len(self.criteria))

    @cached_property
    def baseline(self) -> np.ndarray:
        """Baseline scores, groups × criteria."""
        return np.array([[g.baseline[c] for c in self.criteria] for g in self.groups], dtype=float).reshape(
            len(self.groups), len(self.criteria)
        )

    @cached_property
    def effects(self) -> np.ndarray:
        """Effects in rating points, interventions × criteria (missing criteria are 0)."""
        return np.array(
            [[i.effects.get(c, 0.0) for c in self.criteria] for i in self.interventions],
            dtype=float,
        ).reshape(len(self.interventions), len(self.criteria))

    @cached_property
    def costs(self) -> np.ndarray:
        return np.array([i.cost for i in self.interventions], dtype=float)

    @cached_property
    def codes(self) -> tuple[str, ...]:
        return tuple(i.code for i in self.interventions)

    @cached_property
    def index(self) -> dict[str, int]:
        """Position of each intervention code."""
        return {code: k for k, code in enumerate(self.codes)}

    @cached_property
    def exclusion_pairs(self) -> tuple[tuple[int, int], ...]:
        """Mutually exclusive pairs (i < j); exclusion is symmetric whichever side declares it."""
        pairs = {
            tuple(sorted((self.index[i.code], self.index[other]))) for i in self.interventions for other in i.excludes
        }
        return tuple(sorted(pairs))

    @property
    def group_names(self) -> list[str]:
        return [g.name for g in self.groups]

    def mask(self, codes: list[str] | tuple[str, ...]) -> np.ndarray:
        """Boolean selection vector for a list of intervention codes."""
        x = np.zeros(len(self.interventions), dtype=bool)
        for code in codes:
            x[self.index[code]] = True
        return x

    def codes_of(self, x: np.ndarray) -> list[str]:
        """Intervention codes of a selection vector, in scenario order."""
        return [self.codes[k] for k in np.flatnonzero(np.asarray(x) > 0.5)]


def _is_number(value: Any) -> bool:
    # JSON booleans are ints in Python, but a weight of "true" is a mistake, not 1.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(float(value))


class _Parser:
    """Walks the document once, recording every error with its field path."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    def number(self, obj: dict, key: str, path: str, *, minimum: float | None = None) -> float:
        if key not in obj:
            self.error(path, "missing")
            return 0.0
        value = obj[key]
        if not _is_number(value):
            self.error(path, f"must be a number (got {json.dumps(value)})")
            return 0.0
        if minimum is not None and value < minimum:
            self.error(path, f"must be ≥ {minimum:g} (got {value})")
        return float(value)

    def string(self, obj: dict, key: str, path: str, *, default: str | None = None) -> str:
        if key not in obj:
            if default is not None:
                return default
            self.error(path, "missing")
            return ""
        value = obj[key]
        if not isinstance(value, str) or not value.strip():
            self.error(path, f"must be a non-empty string (got {json.dumps(value)})")
            return ""
        return value

    def listing(self, obj: dict, key: str, path: str, *, required: bool = True) -> list:
        if key not in obj:
            if required:
                self.error(path, "missing")
            return []
        value = obj[key]
        if not isinstance(value, list):
            self.error(path, f"must be a list (got {type(value).__name__})")
            return []
        return value

    def mapping(self, obj: dict, key: str, path: str) -> dict:
        if key not in obj:
            self.error(path, "missing")
            return {}
        value = obj[key]
        if not isinstance(value, dict):
            self.error(path, f"must be an object (got {type(value).__name__})")
            return {}
        return value

    def criterion_map(self, raw: dict, path: str, criteria: tuple[str, ...]) -> dict[str, float]:
        """A {criterion: number} object; unknown criteria and non-numbers are errors."""
        out: dict[str, float] = {}
        for key, value in raw.items():
            if key not in criteria:
                self.error(path, f"unknown criterion {json.dumps(key)}")
            elif not _is_number(value):
                self.error(f"{path}.{key}", f"must be a number (got {json.dumps(value)})")
            else:
                out[key] = float(value)
        return out


def _parse_groups(p: _Parser, doc: dict, criteria: tuple[str, ...], lo: float, hi: float):
    groups: list[Group] = []
    seen: set[str] = set()
    raw_groups = p.listing(doc, "groups", "groups")
    if "groups" in doc and isinstance(doc["groups"], list) and not raw_groups:
        p.error("groups", "must list at least one group")
    for k, raw in enumerate(raw_groups):
        path = f"groups[{k}]"
        if not isinstance(raw, dict):
            p.error(path, "must be an object")
            continue
        name = p.string(raw, "name", f"{path}.name")
        if name and name in seen:
            p.error(f"{path}.name", f"duplicate group name {json.dumps(name)}")
        seen.add(name)
        weights = p.criterion_map(
            p.mapping(raw, "criterion_weights", f"{path}.criterion_weights"),
            f"{path}.criterion_weights",
            criteria,
        )
        for c, w in weights.items():
            if w < 0:
                p.error(f"{path}.criterion_weights.{c}", f"must be ≥ 0 (got {w})")
        total = sum(weights.values())
        if "criterion_weights" in raw and abs(total - 1.0) > WEIGHT_SUM_TOL:
            p.error(f"{path}.criterion_weights", f"must sum to 1 (got {total:.6g})")
        baseline = p.criterion_map(p.mapping(raw, "baseline", f"{path}.baseline"), f"{path}.baseline", criteria)
        raw_baseline = raw.get("baseline")
        for c in criteria if isinstance(raw_baseline, dict) else ():
            if c not in raw_baseline:
                p.error(f"{path}.baseline", f"missing criterion {json.dumps(c)}")
            elif c in baseline and not lo <= baseline[c] <= hi:
                p.error(
                    f"{path}.baseline.{c}",
                    f"must lie on the scale {lo:g}..{hi:g} (got {baseline[c]})",
                )
        groups.append(Group(name, weights, baseline))
    return tuple(groups)


def _parse_interventions(p: _Parser, doc: dict, criteria: tuple[str, ...]):
    raw_list = p.listing(doc, "interventions", "interventions")
    codes = [r.get("code") for r in raw_list if isinstance(r, dict)]
    known = {c for c in codes if isinstance(c, str)}
    seen: set[str] = set()
    out: list[Intervention] = []
    for k, raw in enumerate(raw_list):
        path = f"interventions[{k}]"
        if not isinstance(raw, dict):
            p.error(path, "must be an object")
            continue
        code = p.string(raw, "code", f"{path}.code")
        if code and code in seen:
            p.error(f"{path}.code", f"duplicate intervention code {json.dumps(code)}")
        seen.add(code)
        name = p.string(raw, "name", f"{path}.name", default=code)
        cost = p.number(raw, "cost", f"{path}.cost", minimum=0)
        effects = p.criterion_map(p.mapping(raw, "effects", f"{path}.effects"), f"{path}.effects", criteria)
        excludes: list[str] = []
        for j, other in enumerate(p.listing(raw, "excludes", f"{path}.excludes", required=False)):
            if not isinstance(other, str):
                p.error(f"{path}.excludes[{j}]", f"must be a code string (got {json.dumps(other)})")
            elif other not in known:
                p.error(f"{path}.excludes", f"unknown intervention {json.dumps(other)}")
            elif other == code:
                p.error(f"{path}.excludes", "an intervention cannot exclude itself")
            else:
                excludes.append(other)
        out.append(Intervention(code, name, cost, effects, tuple(excludes)))
    return tuple(out)


def _parse_base_designs(p: _Parser, doc: dict, known: set[str]):
    out: list[BaseDesign] = []
    seen: set[str] = set()
    for k, raw in enumerate(p.listing(doc, "base_designs", "base_designs", required=False)):
        path = f"base_designs[{k}]"
        if not isinstance(raw, dict):
            p.error(path, "must be an object")
            continue
        name = p.string(raw, "name", f"{path}.name")
        if name and name in seen:
            p.error(f"{path}.name", f"duplicate base design name {json.dumps(name)}")
        seen.add(name)
        codes: list[str] = []
        for j, code in enumerate(p.listing(raw, "interventions", f"{path}.interventions")):
            if not isinstance(code, str):
                p.error(f"{path}.interventions[{j}]", f"must be a code string (got {json.dumps(code)})")
            elif code not in known:
                p.error(f"{path}.interventions", f"unknown intervention {json.dumps(code)}")
            elif code in codes:
                p.error(f"{path}.interventions", f"lists {json.dumps(code)} twice")
            else:
                codes.append(code)
        out.append(BaseDesign(name, tuple(codes)))
    return tuple(out)


def _parse_scale(p: _Parser, doc: dict) -> tuple[float, float]:
    scale = p.mapping(doc, "scale", "scale")
    lo = p.number(scale, "min", "scale.min") if scale else 0.0
    hi = p.number(scale, "max", "scale.max") if scale else 1.0
    if scale and lo >= hi and "min" in scale and "max" in scale:
        p.error("scale", f"min must be below max (got {lo:g}..{hi:g})")
    return lo, hi


def _parse_criteria(p: _Parser, doc: dict) -> tuple[str, ...]:
    out: list[str] = []
    raw = p.listing(doc, "criteria", "criteria")
    if "criteria" in doc and isinstance(doc["criteria"], list) and not raw:
        p.error("criteria", "must list at least one criterion")
    for k, name in enumerate(raw):
        if not isinstance(name, str) or not name.strip():
            p.error(f"criteria[{k}]", f"must be a non-empty string (got {json.dumps(name)})")
        elif name in out:
            p.error(f"criteria[{k}]", f"duplicate criterion {json.dumps(name)}")
        else:
            out.append(name)
    return tuple(out)


def parse_scenario(doc: dict) -> Scenario:
    """Validate a scenario JSON document and build a :class:`Scenario`.

    Raises :class:`ScenarioError` listing every problem, each prefixed by its field path.
    """
    if not isinstance(doc, dict):
        raise ScenarioError(f"(document): must be a JSON object (got {type(doc).__name__})")
    p = _Parser()
    title = p.string(doc, "title", "title")
    budget = p.number(doc, "budget", "budget", minimum=0)
    lo, hi = _parse_scale(p, doc)
    criteria = _parse_criteria(p, doc)
    groups = _parse_groups(p, doc, criteria, lo, hi)
    interventions = _parse_interventions(p, doc, criteria)
    base_designs = _parse_base_designs(p, doc, {i.code for i in interventions})
    max_rounds = doc.get("max_rounds", DEFAULT_MAX_ROUNDS)
    if not isinstance(max_rounds, int) or isinstance(max_rounds, bool) or max_rounds < 1:
        p.error("max_rounds", f"must be an integer ≥ 1 (got {json.dumps(max_rounds)})")
        max_rounds = DEFAULT_MAX_ROUNDS
    if p.errors:
        raise ScenarioError(p.errors)
    return Scenario(title, budget, lo, hi, criteria, groups, interventions, base_designs, max_rounds)


def load_scenario(text: str) -> Scenario:
    """Parse scenario JSON text; malformed JSON becomes a ScenarioError with line and column."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"(document): invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
    return parse_scenario(doc)


def scenario_to_json(s: Scenario) -> dict:
    """The scenario as a JSON document that :func:`parse_scenario` reads back unchanged."""
    return {
        "title": s.title,
        "budget": s.budget,
        "scale": {"min": s.scale_min, "max": s.scale_max},
        "criteria": list(s.criteria),
        "groups": [
            {
                "name": g.name,
                "criterion_weights": dict(g.criterion_weights),
                "baseline": dict(g.baseline),
            }
            for g in s.groups
        ],
        "interventions": [
            {
                "code": i.code,
                "name": i.name,
                "cost": i.cost,
                "effects": dict(i.effects),
                "excludes": list(i.excludes),
            }
            for i in s.interventions
        ],
        "base_designs": [{"name": b.name, "interventions": list(b.interventions)} for b in s.base_designs],
        "max_rounds": s.max_rounds,
    }


def check_pins(s: Scenario, pinned: tuple[str, ...], forbidden: tuple[str, ...]) -> None:
    """Reject pin/forbid requests that name unknown codes or leave no feasible package."""
    errors: list[str] = []
    for field_name, codes in (("pinned", pinned), ("forbidden", forbidden)):
        for code in codes:
            if code not in s.index:
                errors.append(f"{field_name}: unknown intervention {json.dumps(code)}")
    for code in sorted(set(pinned) & set(forbidden)):
        errors.append(f"pinned: {json.dumps(code)} is also forbidden")
    if errors:
        raise ScenarioError(errors)
    x = s.mask(pinned)
    cost = float(s.costs[x].sum())
    if cost > s.budget:
        errors.append(f"pinned: cost {cost:g} exceeds the budget {s.budget:g}")
    for i, j in s.exclusion_pairs:
        if x[i] and x[j]:
            errors.append(f"pinned: {s.codes[i]} and {s.codes[j]} exclude each other")
    if errors:
        raise ScenarioError(errors)
