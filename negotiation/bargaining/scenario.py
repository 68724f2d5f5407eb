"""Scenario dataclasses, parsing and validation of the scenario JSON document.

The JSON format is the contract in docs/contracts.md ("Command line"). Parsing collects every problem it
finds, so a planner fixing a hand-written file sees all of them at once; each message starts with
the path of the offending field, e.g. ``interventions[3].cost: must be ≥ 0``.
"""

from __future__ import annotations

import json
import math
import re
import string
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

#: Tolerance on the sum of a group's criterion weights; generous enough for hand-written files.
WEIGHT_SUM_TOL = 1e-6
#: Round limit used when the document does not say.
DEFAULT_MAX_ROUNDS = 20

# Limits. Every writer (the web editor, the JSON import, the API and the command) goes through
# ``parse_scenario``, so these hold for every stored scenario and every session. They keep one
# request from tying up a worker for minutes and keep every value storable.
#: Longest title, in characters.
TITLE_MAX = 200
#: Longest name of a group, criterion, intervention or base design (names are what people wrote).
NAME_MAX = 120
#: Longest intervention code.
CODE_MAX = 60
#: Largest budget or cost accepted (in the study's currency): far above any city budget, and far
#: below the range where float sums of costs lose whole units.
AMOUNT_MAX = 1e12
#: Largest round limit.
MAX_ROUNDS_LIMIT = 200
#: Most interventions, groups, criteria and base designs in one scenario.
MAX_INTERVENTIONS = 500
MAX_GROUPS = 50
MAX_CRITERIA = 50
MAX_BASE_DESIGNS = 100
#: The mediator rules a scenario may choose (see ``protocol.MEDIATORS``); the first is the default.
MEDIATOR_CHOICES = ("nash", "maximin")
#: Currency of budgets and costs when the document does not say.
DEFAULT_CURRENCY = "CAD"
#: Deepest nesting of a scenario document (a valid one needs 4) and the longest JSON text.
MAX_DEPTH = 20
MAX_DOCUMENT_CHARS = 5_000_000


def gettext_noop(message: str) -> str:
    """Marks a message for the translation catalogue (``makemessages`` extracts it) and returns it
    unchanged: this package has no Django, so messages are translated where they are shown."""
    return message


@dataclass(frozen=True)
class Issue:
    """One problem: the field's path, an English message with ``{name}`` fields, and their values."""

    path: str
    message: str
    params: dict = field(default_factory=dict)

    @classmethod
    def of(cls, text: str) -> Issue:
        """An issue from a finished "path: message" line."""
        path, sep, message = text.partition(": ")
        if not sep:
            path, message = "(document)", text
        return cls(path, message.replace("{", "{{").replace("}", "}}"))

    def text(self, translate=lambda message: message, decimal: str = ".") -> str:
        """The "path: message" line, its message put through ``translate`` (e.g. Django's gettext)."""
        return f"{self.path}: {self.message_text(translate, decimal)}"

    def message_text(self, translate=lambda message: message, decimal: str = ".") -> str:
        """The message alone, put through ``translate``, its values filled in, numbers with the
        reader's ``decimal`` separator (1,3 in French)."""
        return _NumberFormatter(decimal).format(translate(self.message), **self.params)


class _NumberFormatter(string.Formatter):
    def __init__(self, decimal: str) -> None:
        self.decimal = decimal

    def format_field(self, value, format_spec):
        text = super().format_field(value, format_spec)
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        return text.replace(".", self.decimal) if numeric else text


class ScenarioError(ValueError):
    """A scenario document (or a pin/forbid request) is invalid; ``issues`` lists every problem and
    ``errors`` the same as English "path: message" lines."""

    def __init__(self, errors: list[str | Issue] | str | Issue):
        items = [errors] if isinstance(errors, str | Issue) else list(errors)
        self.issues: list[Issue] = [e if isinstance(e, Issue) else Issue.of(e) for e in items]
        self.errors: list[str] = [i.text() for i in self.issues]
        super().__init__("; ".join(self.errors))

    def messages(self, translate, decimal: str = ".") -> list[str]:
        """Every problem as a "path: message" line in the reader's language."""
        return [i.text(translate, decimal) for i in self.issues]

    def by_path(self, translate, decimal: str = ".") -> dict[str, list[str]]:
        """Every problem's message in the reader's language under its field's path, in order."""
        out: dict[str, list[str]] = {}
        for issue in self.issues:
            out.setdefault(issue.path, []).append(issue.message_text(translate, decimal))
        return out


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
    #: {group name: {criterion: delta}}: for those groups these replace ``effects`` (a curb ramp
    #: matters more to wheelchair users than to others); a criterion a group's entry does not
    #: name keeps the common effect.
    group_effects: dict[str, dict[str, float]] = field(default_factory=dict)


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
    mediator: str = MEDIATOR_CHOICES[0]
    #: ISO 4217 code of the currency of the budget and costs (only used to display amounts).
    currency: str = DEFAULT_CURRENCY

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
    def group_effects(self) -> np.ndarray:
        """Effects each group sees, groups × interventions × criteria (``group_effects`` applied)."""
        out = np.repeat(self.effects[None, :, :], len(self.groups), axis=0)
        col = {c: k for k, c in enumerate(self.criteria)}
        row = {g.name: k for k, g in enumerate(self.groups)}
        for i, item in enumerate(self.interventions):
            for name, by_criterion in item.group_effects.items():
                for c, v in by_criterion.items():
                    out[row[name], i, col[c]] = v
        return out

    @cached_property
    def has_group_effects(self) -> bool:
        return any(i.group_effects for i in self.interventions)

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


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _shown(value: Any) -> str:
    """A value quoted for an error message, cut short so a huge value never floods the reply."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = type(value).__name__
    return text if len(text) <= 60 else text[:57] + "…"


def _is_number(value: Any) -> bool:
    # JSON booleans are ints in Python, but a weight of "true" is a mistake, not 1.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(float(value))


class _Parser:
    """Walks the document once, recording every error with its field path."""

    def __init__(self) -> None:
        self.errors: list[Issue] = []

    def error(self, path: str, message: str, **params) -> None:
        self.errors.append(Issue(path, message, params))

    def number(
        self,
        obj: dict,
        key: str,
        path: str,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float:
        if key not in obj:
            self.error(path, gettext_noop("missing"))
            return 0.0
        value = obj[key]
        if not _is_number(value):
            self.error(path, gettext_noop("must be a finite number (got {value})"), value=_shown(value))
            return 0.0
        if minimum is not None and value < minimum:
            self.error(path, gettext_noop("must be ≥ {minimum:g} (got {value:g})"), minimum=minimum, value=value)
        if maximum is not None and value > maximum:
            self.error(path, gettext_noop("must be ≤ {maximum:g} (got {value:g})"), maximum=maximum, value=value)
        return float(value)

    def text(self, value: Any, path: str, *, limit: int) -> str:
        """A non-empty string of printable text up to ``limit`` characters, or "" after an error."""
        if not isinstance(value, str) or not value.strip():
            self.error(path, gettext_noop("must be a non-empty string (got {value})"), value=_shown(value))
            return ""
        if len(value) > limit:
            self.error(
                path, gettext_noop("must be at most {limit} characters (got {length})"), limit=limit, length=len(value)
            )
            return ""
        if _CONTROL.search(value):
            self.error(path, gettext_noop("must not contain control characters such as NUL"))
            return ""
        return value

    def string(self, obj: dict, key: str, path: str, *, default: str | None = None, limit: int = NAME_MAX) -> str:
        if key not in obj:
            if default is not None:
                return default
            self.error(path, gettext_noop("missing"))
            return ""
        return self.text(obj[key], path, limit=limit)

    def listing(self, obj: dict, key: str, path: str, *, required: bool = True, limit: int | None = None) -> list:
        if key not in obj:
            if required:
                self.error(path, gettext_noop("missing"))
            return []
        value = obj[key]
        if not isinstance(value, list):
            self.error(path, gettext_noop("must be a list (got {kind})"), kind=type(value).__name__)
            return []
        if limit is not None and len(value) > limit:
            self.error(
                path, gettext_noop("must list at most {limit} items (got {count})"), limit=limit, count=len(value)
            )
            return []
        return value

    def mapping(self, obj: dict, key: str, path: str) -> dict:
        if key not in obj:
            self.error(path, gettext_noop("missing"))
            return {}
        value = obj[key]
        if not isinstance(value, dict):
            self.error(path, gettext_noop("must be an object (got {kind})"), kind=type(value).__name__)
            return {}
        return value

    def criterion_map(
        self, raw: dict, path: str, criteria: tuple[str, ...], *, bound: float | None = None
    ) -> dict[str, float]:
        """A {criterion: number} object; unknown criteria, non-numbers and numbers beyond
        ±``bound`` are errors."""
        out: dict[str, float] = {}
        for key, value in raw.items():
            if key not in criteria:
                self.error(path, gettext_noop("unknown criterion {name}"), name=_shown(key))
            elif not _is_number(value):
                self.error(f"{path}.{key}", gettext_noop("must be a finite number (got {value})"), value=_shown(value))
            elif bound is not None and abs(value) > bound:
                self.error(
                    f"{path}.{key}",
                    gettext_noop("must lie between {low:g} and {high:g} (got {value:g})"),
                    low=-bound,
                    high=bound,
                    value=value,
                )
            else:
                out[key] = float(value)
        return out


def _parse_groups(p: _Parser, doc: dict, criteria: tuple[str, ...], lo: float, hi: float):
    groups: list[Group] = []
    seen: set[str] = set()
    raw_groups = p.listing(doc, "groups", "groups", limit=MAX_GROUPS)
    if "groups" in doc and isinstance(doc["groups"], list) and not raw_groups:
        p.error("groups", gettext_noop("must list at least one group"))
    for k, raw in enumerate(raw_groups):
        path = f"groups[{k}]"
        if not isinstance(raw, dict):
            p.error(path, gettext_noop("must be an object"))
            continue
        name = p.string(raw, "name", f"{path}.name")
        if name and name in seen:
            p.error(f"{path}.name", gettext_noop("duplicate group name {name}"), name=_shown(name))
        seen.add(name)
        weights = p.criterion_map(
            p.mapping(raw, "criterion_weights", f"{path}.criterion_weights"),
            f"{path}.criterion_weights",
            criteria,
        )
        for c, w in weights.items():
            if not 0 <= w <= 1:
                p.error(
                    f"{path}.criterion_weights.{c}", gettext_noop("must lie between 0 and 1 (got {value:g})"), value=w
                )
        total = sum(weights.values())
        if "criterion_weights" in raw and abs(total - 1.0) > WEIGHT_SUM_TOL:
            p.error(f"{path}.criterion_weights", gettext_noop("must sum to 1 (got {total:.6g})"), total=total)
        baseline = p.criterion_map(p.mapping(raw, "baseline", f"{path}.baseline"), f"{path}.baseline", criteria)
        raw_baseline = raw.get("baseline")
        for c in criteria if isinstance(raw_baseline, dict) else ():
            if c not in raw_baseline:
                p.error(f"{path}.baseline", gettext_noop("missing criterion {name}"), name=_shown(c))
            elif c in baseline and not lo <= baseline[c] <= hi:
                p.error(
                    f"{path}.baseline.{c}",
                    gettext_noop("must lie on the scale {low:g}..{high:g} (got {value:g})"),
                    low=lo,
                    high=hi,
                    value=baseline[c],
                )
        groups.append(Group(name, weights, baseline))
    return tuple(groups)


def _parse_interventions(p: _Parser, doc: dict, criteria: tuple[str, ...], groups: tuple[Group, ...], span: float):
    raw_list = p.listing(doc, "interventions", "interventions", limit=MAX_INTERVENTIONS)
    codes = [r.get("code") for r in raw_list if isinstance(r, dict)]
    known = {c for c in codes if isinstance(c, str)}
    group_names = {g.name for g in groups}
    seen: set[str] = set()
    out: list[Intervention] = []
    for k, raw in enumerate(raw_list):
        path = f"interventions[{k}]"
        if not isinstance(raw, dict):
            p.error(path, gettext_noop("must be an object"))
            continue
        code = p.string(raw, "code", f"{path}.code", limit=CODE_MAX)
        if code and code in seen:
            p.error(f"{path}.code", gettext_noop("duplicate intervention code {code}"), code=_shown(code))
        seen.add(code)
        name = p.string(raw, "name", f"{path}.name", default=code)
        cost = p.number(raw, "cost", f"{path}.cost", minimum=0, maximum=AMOUNT_MAX)
        # An effect is a change in rating points: never more than the whole scale.
        effects = p.criterion_map(p.mapping(raw, "effects", f"{path}.effects"), f"{path}.effects", criteria, bound=span)
        excludes: list[str] = []
        for j, other in enumerate(
            p.listing(raw, "excludes", f"{path}.excludes", required=False, limit=MAX_INTERVENTIONS)
        ):
            if not isinstance(other, str):
                p.error(
                    f"{path}.excludes[{j}]", gettext_noop("must be a code string (got {value})"), value=_shown(other)
                )
            elif other not in known:
                p.error(f"{path}.excludes", gettext_noop("unknown intervention {code}"), code=_shown(other))
            elif other == code:
                p.error(f"{path}.excludes", gettext_noop("an intervention cannot exclude itself"))
            elif other not in excludes:
                excludes.append(other)
        by_group: dict[str, dict[str, float]] = {}
        raw_by_group = raw.get("group_effects", {})
        if not isinstance(raw_by_group, dict):
            p.error(
                f"{path}.group_effects",
                gettext_noop("must be an object (got {kind})"),
                kind=type(raw_by_group).__name__,
            )
            raw_by_group = {}
        for group_name, raw_effects in raw_by_group.items():
            gpath = f"{path}.group_effects.{group_name}"
            if group_name not in group_names:
                p.error(f"{path}.group_effects", gettext_noop("unknown group {name}"), name=_shown(group_name))
            elif not isinstance(raw_effects, dict):
                p.error(gpath, gettext_noop("must be an object (got {kind})"), kind=type(raw_effects).__name__)
            else:
                by_group[group_name] = p.criterion_map(raw_effects, gpath, criteria, bound=span)
        out.append(Intervention(code, name, cost, effects, tuple(excludes), by_group))
    return tuple(out)


def _parse_base_designs(p: _Parser, doc: dict, known: set[str]):
    out: list[BaseDesign] = []
    seen: set[str] = set()
    for k, raw in enumerate(p.listing(doc, "base_designs", "base_designs", required=False, limit=MAX_BASE_DESIGNS)):
        path = f"base_designs[{k}]"
        if not isinstance(raw, dict):
            p.error(path, gettext_noop("must be an object"))
            continue
        name = p.string(raw, "name", f"{path}.name")
        if name and name in seen:
            p.error(f"{path}.name", gettext_noop("duplicate base design name {name}"), name=_shown(name))
        seen.add(name)
        codes: list[str] = []
        for j, code in enumerate(p.listing(raw, "interventions", f"{path}.interventions", limit=MAX_INTERVENTIONS)):
            if not isinstance(code, str):
                p.error(
                    f"{path}.interventions[{j}]",
                    gettext_noop("must be a code string (got {value})"),
                    value=_shown(code),
                )
            elif code not in known:
                p.error(f"{path}.interventions", gettext_noop("unknown intervention {code}"), code=_shown(code))
            elif code in codes:
                p.error(f"{path}.interventions", gettext_noop("lists {code} twice"), code=_shown(code))
            else:
                codes.append(code)
        out.append(BaseDesign(name, tuple(codes)))
    return tuple(out)


def _parse_scale(p: _Parser, doc: dict) -> tuple[float, float]:
    scale = p.mapping(doc, "scale", "scale")
    lo = p.number(scale, "min", "scale.min", minimum=-1000, maximum=1000) if scale else 0.0
    hi = p.number(scale, "max", "scale.max", minimum=-1000, maximum=1000) if scale else 1.0
    if scale and lo >= hi and "min" in scale and "max" in scale:
        p.error("scale", gettext_noop("min must be below max (got {low:g}..{high:g})"), low=lo, high=hi)
    return lo, hi


def _parse_criteria(p: _Parser, doc: dict) -> tuple[str, ...]:
    out: list[str] = []
    raw = p.listing(doc, "criteria", "criteria", limit=MAX_CRITERIA)
    if "criteria" in doc and isinstance(doc["criteria"], list) and not raw:
        p.error("criteria", gettext_noop("must list at least one criterion"))
    for k, raw_name in enumerate(raw):
        name = p.text(raw_name, f"criteria[{k}]", limit=NAME_MAX)
        if not name:
            continue
        if name in out:
            p.error(f"criteria[{k}]", gettext_noop("duplicate criterion {name}"), name=_shown(name))
        else:
            out.append(name)
    return tuple(out)


def parse_scenario(doc: dict) -> Scenario:
    """Validate a scenario JSON document and build a :class:`Scenario`.

    Raises :class:`ScenarioError` listing every problem, each prefixed by its field path.
    """
    if not isinstance(doc, dict):
        raise ScenarioError(
            Issue("(document)", gettext_noop("must be a JSON object (got {kind})"), {"kind": type(doc).__name__})
        )
    check_depth(doc)
    p = _Parser()
    title = p.string(doc, "title", "title", limit=TITLE_MAX)
    budget = p.number(doc, "budget", "budget", minimum=0, maximum=AMOUNT_MAX)
    lo, hi = _parse_scale(p, doc)
    criteria = _parse_criteria(p, doc)
    groups = _parse_groups(p, doc, criteria, lo, hi)
    interventions = _parse_interventions(p, doc, criteria, groups, max(hi - lo, 0.0))
    base_designs = _parse_base_designs(p, doc, {i.code for i in interventions})
    max_rounds = doc.get("max_rounds", DEFAULT_MAX_ROUNDS)
    if not isinstance(max_rounds, int) or isinstance(max_rounds, bool) or not 1 <= max_rounds <= MAX_ROUNDS_LIMIT:
        p.error(
            "max_rounds",
            gettext_noop("must be a whole number from 1 to {limit} (got {value})"),
            limit=MAX_ROUNDS_LIMIT,
            value=_shown(max_rounds),
        )
        max_rounds = DEFAULT_MAX_ROUNDS
    mediator = doc.get("mediator", MEDIATOR_CHOICES[0])
    if mediator not in MEDIATOR_CHOICES:
        p.error(
            "mediator",
            gettext_noop("must be one of {choices} (got {value})"),
            choices=", ".join(MEDIATOR_CHOICES),
            value=_shown(mediator),
        )
        mediator = MEDIATOR_CHOICES[0]
    currency = doc.get("currency", DEFAULT_CURRENCY)
    if not (isinstance(currency, str) and re.fullmatch(r"[A-Z]{3}", currency)):
        p.error(
            "currency",
            gettext_noop("must be a three-letter ISO 4217 code such as CAD or EUR (got {value})"),
            value=_shown(currency),
        )
        currency = DEFAULT_CURRENCY
    if p.errors:
        raise ScenarioError(p.errors)
    return Scenario(
        title, budget, lo, hi, criteria, groups, interventions, base_designs, max_rounds, mediator, currency
    )


def check_depth(doc: Any, limit: int = MAX_DEPTH) -> None:
    """Refuse a decoded document nested deeper than ``limit`` (walked without recursion).
    Control characters such as NUL are refused field by field (see ``_Parser.text``)."""
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            raise ScenarioError(
                Issue("(document)", gettext_noop("nested deeper than {limit} levels"), {"limit": limit})
            )
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _text_depth(text: str) -> int:
    """Deepest bracket nesting of JSON text outside strings, without decoding it."""
    raw = np.frombuffer(_JSON_STRING.sub("", text).encode("utf-8", errors="replace"), dtype=np.uint8)
    steps = np.zeros(len(raw), dtype=np.int64)
    steps[(raw == ord("[")) | (raw == ord("{"))] = 1
    steps[(raw == ord("]")) | (raw == ord("}"))] = -1
    return int(np.cumsum(steps).max(initial=0))


def decode_document(text: str) -> Any:
    """Decode scenario JSON text with the limits above; every problem becomes a ScenarioError.

    The depth is checked before decoding, because Python's decoder recurses and a document
    nested 100,000 deep would otherwise end in a RecursionError. NUL characters (which
    PostgreSQL cannot store) are refused wherever they are.
    """
    if len(text) > MAX_DOCUMENT_CHARS:
        raise ScenarioError(
            Issue("(document)", gettext_noop("longer than {limit:,} characters"), {"limit": MAX_DOCUMENT_CHARS})
        )
    if "\x00" in text:
        raise ScenarioError(Issue("(document)", gettext_noop("must not contain NUL characters")))
    if _text_depth(text) > MAX_DEPTH:
        raise ScenarioError(
            Issue("(document)", gettext_noop("nested deeper than {limit} levels"), {"limit": MAX_DEPTH})
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        message = gettext_noop("invalid JSON at line {line}, column {column}: {reason}")
        raise ScenarioError(
            Issue("(document)", message, {"line": exc.lineno, "column": exc.colno, "reason": exc.msg})
        ) from exc
    except (RecursionError, ValueError) as exc:
        raise ScenarioError(
            Issue("(document)", gettext_noop("cannot be decoded ({kind})"), {"kind": type(exc).__name__})
        ) from exc


def load_scenario(text: str) -> Scenario:
    """Parse scenario JSON text (see :func:`decode_document`) into a :class:`Scenario`."""
    return parse_scenario(decode_document(text))


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
                **({"group_effects": {g: dict(e) for g, e in i.group_effects.items()}} if i.group_effects else {}),
            }
            for i in s.interventions
        ],
        "base_designs": [{"name": b.name, "interventions": list(b.interventions)} for b in s.base_designs],
        "max_rounds": s.max_rounds,
        "mediator": s.mediator,
        "currency": s.currency,
    }


def check_pins(s: Scenario, pinned: tuple[str, ...], forbidden: tuple[str, ...]) -> None:
    """Reject pin/forbid requests that name unknown codes or leave no feasible package."""
    errors: list[Issue] = []
    for field_name, codes in (("pinned", pinned), ("forbidden", forbidden)):
        for code in codes:
            if code not in s.index:
                errors.append(Issue(field_name, gettext_noop("unknown intervention {code}"), {"code": _shown(code)}))
    for code in sorted(set(pinned) & set(forbidden)):
        errors.append(Issue("pinned", gettext_noop("{code} is also forbidden"), {"code": _shown(code)}))
    if errors:
        raise ScenarioError(errors)
    x = s.mask(pinned)
    cost = float(s.costs[x].sum())
    if cost > s.budget:
        errors.append(
            Issue(
                "pinned",
                gettext_noop("cost {cost:g} exceeds the budget {budget:g}"),
                {"cost": cost, "budget": s.budget},
            )
        )
    for i, j in s.exclusion_pairs:
        if x[i] and x[j]:
            errors.append(
                Issue("pinned", gettext_noop("{a} and {b} exclude each other"), {"a": s.codes[i], "b": s.codes[j]})
            )
    if errors:
        raise ScenarioError(errors)
