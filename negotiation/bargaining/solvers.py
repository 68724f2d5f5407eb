"""Exact package optimisation by mixed-integer programming (scipy.optimize.milp, HiGHS).

Decision variables: x_i ∈ {0,1} per intervention, y_{g,c} continuous per group and criterion with
y_{g,c} ≤ b_{g,c} + Σ_i effect_{i,c} x_i and y_{g,c} ≤ max, so u_g = Σ_c w_{g,c} y_{g,c}. This
models the cap min(max, ·) exactly because every objective used here is non-decreasing in each u_g
and the weights are non-negative: at an optimum each y sits at the smaller of its two upper bounds.
Constraints: budget Σ cost_i x_i ≤ B, exclusions x_i + x_j ≤ 1, pins (x_i = 1), forbids (x_i = 0).

Utilities of a chosen package are always recomputed from the rounded x with numpy, never read back
from the solver's y, so solver tolerances never leak into reported figures.

Brute-force enumeration of every affordable package lives here too, for tests and the benchmark.
"""

from __future__ import annotations

import math
import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from .scenario import Scenario
from .utility import respects_exclusions, utilities, utilities_many, within_budget

#: A group counts as "strictly better than its disagreement utility" when ahead by this much.
DELTA = 1e-5
#: Relative stopping tolerance of the Nash cutting-plane loop (upper bound − true log objective).
NASH_GAP_TOL = 1e-9
#: Tolerance when re-imposing an optimum found in a first lexicographic stage.
LEX_TOL = 1e-7
#: HiGHS relative MIP gap; the default 1e-4 is too loose for exact comparisons.
MIP_OPTIONS = {"mip_rel_gap": 1e-9, "presolve": True}


@dataclass
class Problem:
    """A scenario plus session constraints (pins and forbids), with the static MILP rows cached."""

    s: Scenario
    pinned: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        return len(self.s.interventions)

    @property
    def n_groups(self) -> int:
        return len(self.s.groups)

    @cached_property
    def x_lb(self) -> np.ndarray:
        return self.s.mask(self.pinned).astype(float)

    @cached_property
    def x_ub(self) -> np.ndarray:
        return 1.0 - self.s.mask(self.forbidden).astype(float)

    @cached_property
    def u_map(self) -> np.ndarray:
        """Rows mapping the y block to u: u_g = u_map[g] · y (groups × groups·criteria)."""
        G, C = self.s.weights.shape
        m = np.zeros((G, G * C))
        for g in range(G):
            m[g, g * C : (g + 1) * C] = self.s.weights[g]
        return m

    @cached_property
    def static_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Budget, exclusion and cap-link rows over [x, y] as (A, lower, upper)."""
        s, n = self.s, self.n
        G, C = s.weights.shape
        rows = [np.concatenate([s.costs, np.zeros(G * C)])]
        lo, hi = [-np.inf], [s.budget]
        for i, j in s.exclusion_pairs:
            r = np.zeros(n + G * C)
            r[i] = r[j] = 1.0
            rows.append(r)
            lo.append(-np.inf)
            hi.append(1.0)
        link = np.zeros((G * C, n + G * C))
        for g in range(G):
            for c in range(C):
                link[g * C + c, :n] = -s.group_effects[g, :, c]
                link[g * C + c, n + g * C + c] = 1.0
        A = np.vstack([np.array(rows), link])
        return A, np.array(lo + [-np.inf] * (G * C)), np.concatenate([hi, s.baseline.reshape(-1)])

    @cached_property
    def u_upper(self) -> np.ndarray:
        """An upper bound on each u_g: every positive effect applied, capped."""
        gain = np.clip(self.s.group_effects * self.x_ub[None, :, None], 0, None).sum(axis=1)
        return (self.s.weights * np.minimum(self.s.scale_max, self.s.baseline + gain)).sum(axis=1)

    def u(self, x: np.ndarray) -> np.ndarray:
        return utilities(self.s, x)


@dataclass
class Extra:
    """Extra variables for one MILP: bounds, integrality and objective coefficients."""

    lb: list[float] = field(default_factory=list)
    ub: list[float] = field(default_factory=list)
    integer: list[int] = field(default_factory=list)
    c: list[float] = field(default_factory=list)

    def add(self, lb: float, ub: float, *, integer: bool = False, c: float = 0.0) -> int:
        self.lb.append(lb)
        self.ub.append(ub)
        self.integer.append(int(integer))
        self.c.append(c)
        return len(self.lb) - 1


@dataclass
class Row:
    """A linear row lo ≤ a_u·u + a_extra·extra ≤ hi (dense; a_extra may be shorter than extras)."""

    a_u: np.ndarray
    a_extra: dict[int, float]
    lo: float
    hi: float


@dataclass
class Solution:
    x: np.ndarray
    objective: float
    dual_bound: float
    extra: np.ndarray


class SolverError(RuntimeError):
    """HiGHS stopped without a usable answer (not infeasibility, which is ``None``)."""


#: Margin by which lower bounds on utilities are relaxed when HiGHS calls a problem infeasible;
#: the candidate it then finds is checked directly against the unrelaxed bounds.
RELAX_MARGIN = 1e-5
#: Slack of that direct check (float sums of utilities).
CHECK_TOL = 1e-9
#: Wall-clock limit of one MILP, so a pathological scenario cannot hold a worker for long.
TIME_LIMIT = 60.0

_redirect_lock = threading.Lock()
_redirect = {"depth": 0, "saved": None}


@contextmanager
def solver_output_to_stderr():
    """Send whatever is written to file descriptor 1 meanwhile to standard error instead.

    HiGHS prints some diagnostics (``HighsMipSolverData::transformNewIntegerFeasibleSolution``)
    with C's printf whatever its options say, so redirecting ``sys.stdout`` is not enough: the
    descriptor itself is swapped. Commands that promise JSON on standard output rely on this.

    The descriptor belongs to the process, not to a thread: solves running side by side
    (:func:`in_parallel`) share one redirection, made by the first to start and undone by the
    last to finish.
    """
    with _redirect_lock:
        if _redirect["depth"] == 0:
            try:
                sys.stdout.flush()
                _redirect["saved"] = os.dup(1)
                os.dup2(2, 1)
            except (OSError, ValueError):  # No descriptor 1 (some embedded runners): nothing to guard.
                _redirect["saved"] = None
        _redirect["depth"] += 1
    try:
        yield
    finally:
        with _redirect_lock:
            _redirect["depth"] -= 1
            saved = _redirect["saved"]
            if _redirect["depth"] == 0 and saved is not None:
                try:
                    sys.stdout.flush()
                except (OSError, ValueError):
                    pass
                os.dup2(saved, 1)
                os.close(saved)
                _redirect["saved"] = None


#: Solves run side by side on at most this many threads (HiGHS releases the GIL while it works).
SOLVER_THREADS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1))


def in_parallel[T](calls: list[Callable[[], T]]) -> list[T]:
    """The results of independent solves, in the order given, computed on up to SOLVER_THREADS
    threads. Each MILP is deterministic and shares nothing with the others, so the results are
    those of calling them one after the other; the first exception raised is raised here."""
    if SOLVER_THREADS == 1 or len(calls) < 2:
        return [call() for call in calls]
    with solver_output_to_stderr(), ThreadPoolExecutor(min(SOLVER_THREADS, len(calls))) as pool:
        futures = [pool.submit(call) for call in calls]
        return [f.result() for f in futures]


def _milp(c, integrality, bounds, constraints, *, presolve: bool = True):
    options = {**MIP_OPTIONS, "presolve": presolve, "time_limit": TIME_LIMIT}
    with solver_output_to_stderr():
        return milp(-c, integrality=integrality, bounds=bounds, constraints=constraints, options=options)


def _meets(prob: Problem, x: np.ndarray, u_min: np.ndarray | None, rows, extra_x) -> bool:
    """Direct check of a candidate: budget, exclusions, pins, forbids and every row, from numpy."""
    s = prob.s
    if not (within_budget(s, x) and respects_exclusions(s, x)):
        return False
    if np.any(x < prob.x_lb - 0.5) or np.any(x > prob.x_ub + 0.5):
        return False
    u = prob.u(x)
    if u_min is not None and np.any(u < np.asarray(u_min) - CHECK_TOL):
        return False
    for row in rows:
        value = float(row.a_u @ u) + sum(v * float(extra_x[j]) for j, v in row.a_extra.items())
        if value < row.lo - CHECK_TOL or value > row.hi + CHECK_TOL:
            return False
    return True


def solve(
    prob: Problem,
    *,
    c_u: np.ndarray | None = None,
    extra: Extra | None = None,
    rows: list[Row] | tuple[Row, ...] = (),
    u_min: np.ndarray | None = None,
    relaxation: bool = False,
) -> Solution | None:
    """Maximise c_u·u + c_extra·extra over feasible packages; None when infeasible.

    Infeasibility is verified before it is believed: HiGHS sometimes calls a feasible problem
    infeasible when a bound is tight (feasible with a margin of 1e-5, "infeasible" at 1e-6,
    feasible at 0). So an "infeasible" answer is tried again without presolve, then with the
    lower bounds on utilities relaxed by RELAX_MARGIN, and a package found that way counts only if it passes
    a direct check of the unrelaxed constraints (:func:`_meets`).

    ``relaxation=True`` solves the linear relaxation (x between 0 and 1) instead, with the
    utility bounds relaxed by RELAX_MARGIN: when even that is infeasible, so is the MILP.
    """
    s, n = prob.s, prob.n
    G, C = s.weights.shape
    extra = extra or Extra()
    k = len(extra.lb)
    A0, lo0, hi0 = prob.static_rows
    blocks = [np.hstack([A0, np.zeros((A0.shape[0], k))])]
    lo, hi = [lo0], [hi0]
    relaxable = [np.zeros(len(lo0), dtype=bool)]
    if u_min is not None:
        blocks.append(np.hstack([np.zeros((G, n)), prob.u_map, np.zeros((G, k))]))
        lo.append(np.asarray(u_min, dtype=float))
        hi.append(np.full(G, np.inf))
        relaxable.append(np.ones(G, dtype=bool))
    for row in rows:
        r = np.zeros(n + G * C + k)
        r[n : n + G * C] = row.a_u @ prob.u_map
        for j, v in row.a_extra.items():
            r[n + G * C + j] = v
        blocks.append(r[None, :])
        lo.append([row.lo])
        hi.append([row.hi])
        relaxable.append(np.ones(1, dtype=bool))
    c = np.zeros(n + G * C + k)
    if c_u is not None:
        c[n : n + G * C] = np.asarray(c_u, dtype=float) @ prob.u_map
    c[n + G * C :] = extra.c
    y_lb = (s.baseline + np.clip(s.group_effects, None, 0).sum(axis=1)).reshape(-1)
    bounds = Bounds(
        np.concatenate([prob.x_lb, y_lb, extra.lb]),
        np.concatenate([prob.x_ub, np.full(G * C, s.scale_max), extra.ub]),
    )
    integrality = np.concatenate([np.ones(n), np.zeros(G * C), extra.integer])
    A = np.vstack(blocks)
    lo_all, hi_all = np.concatenate(lo), np.concatenate(hi)
    if relaxation:
        mask = np.concatenate(relaxable) & np.isfinite(lo_all)
        lo_relaxed = np.where(mask, lo_all - RELAX_MARGIN * np.maximum(1.0, np.abs(lo_all)), lo_all)
        res = _milp(c, np.zeros_like(integrality), bounds, LinearConstraint(A, lo_relaxed, hi_all))
        if res.x is None:
            return None
        return Solution(x=res.x[:n], objective=-float(res.fun), dual_bound=-float(res.fun), extra=res.x[n + G * C :])
    res = _milp(c, integrality, bounds, LinearConstraint(A, lo_all, hi_all))
    if res.status in (2, 4):
        # Infeasible (2) or unbounded/other (4): the original model without presolve avoids
        # the postsolve round-off that produces most false verdicts.
        res = _milp(c, integrality, bounds, LinearConstraint(A, lo_all, hi_all), presolve=False)
    verify = False
    if res.status == 2 or (res.x is None and res.status == 4):
        mask = np.concatenate(relaxable)
        if not mask.any():
            return None
        margin = RELAX_MARGIN * np.maximum(1.0, np.abs(lo_all))
        relaxed_lo = np.where(mask & np.isfinite(lo_all), lo_all - margin, lo_all)
        res = _milp(c, integrality, bounds, LinearConstraint(A, relaxed_lo, hi_all))
        if res.status == 2 or res.x is None:
            return None
        verify = True
    if res.x is None:
        raise SolverError(f"the MILP solver stopped without a solution: {res.message}")
    x = res.x[:n] > 0.5
    extra_x = res.x[n + G * C :]
    if verify and not _meets(prob, x, u_min, rows, extra_x):
        return None
    dual = getattr(res, "mip_dual_bound", None)
    return Solution(
        x=x,
        objective=-float(res.fun),
        dual_bound=-float(dual) if dual is not None and np.isfinite(dual) else -float(res.fun),
        extra=extra_x,
    )


def _unit(G: int, g: int) -> np.ndarray:
    e = np.zeros(G)
    e[g] = 1.0
    return e


def utilitarian(prob: Problem, u_min: np.ndarray | None = None) -> np.ndarray | None:
    """Maximise the total utility Σ_g u_g."""
    sol = solve(prob, c_u=np.ones(prob.n_groups), u_min=u_min)
    return None if sol is None else sol.x


def best_for_group(prob: Problem, g: int, u_min: np.ndarray | None = None) -> np.ndarray | None:
    """Maximise one group's utility alone (its aspiration package); ties broken by HiGHS."""
    sol = solve(prob, c_u=_unit(prob.n_groups, g), u_min=u_min)
    return None if sol is None else sol.x


def max_min_gain(
    prob: Problem, d: np.ndarray, groups: list[int] | None = None, u_min: np.ndarray | None = None
) -> float | None:
    """max over feasible packages (with u ≥ u_min) of min_{g∈groups} (u_g − d_g) — epigraph
    variable t. None when no feasible package has u ≥ u_min."""
    G = prob.n_groups
    groups = list(range(G)) if groups is None else groups
    extra = Extra()
    t = extra.add(-np.inf, float(np.max(prob.u_upper - d)), c=1.0)
    rows = [Row(_unit(G, g), {t: -1.0}, float(d[g]), np.inf) for g in groups]
    sol = solve(prob, extra=extra, rows=rows, u_min=u_min)
    return None if sol is None else float(np.min(prob.u(sol.x)[groups] - d[groups]))


def maximin_then_nash(prob: Problem, d: np.ndarray, u_min: np.ndarray | None = None) -> NashResult | None:
    """The inequality-aware mediator: first maximise the smallest gain over d, min_g (u_g − d_g);
    then, with every gain held at that optimum (less LEX_TOL), maximise the Nash product.
    None when no feasible package has u ≥ max(d, u_min)."""
    lower = d.copy() if u_min is None else np.maximum(d, u_min)
    t = max_min_gain(prob, d, u_min=lower)
    if t is None:
        return None
    held = np.maximum(lower, d + t - LEX_TOL)
    found = nash(prob, d, u_min=held)
    return found if found is not None else nash(prob, d, u_min=lower)


def egalitarian(prob: Problem) -> np.ndarray:
    """Maximise the worst group's utility, then the total with the worst held at its optimum."""
    G = prob.n_groups
    extra = Extra()
    t = extra.add(-np.inf, float(prob.u_upper.max()), c=1.0)
    rows = [Row(_unit(G, g), {t: -1.0}, 0.0, np.inf) for g in range(G)]
    first = solve(prob, extra=extra, rows=rows)
    if first is None:  # Cannot happen (the pins alone are feasible, checked upstream); be safe.
        return prob.x_lb > 0.5
    worst = float(prob.u(first.x).min())
    second = utilitarian(prob, u_min=np.full(G, worst - LEX_TOL))
    if second is None or prob.u(second).min() < worst - LEX_TOL:
        return first.x
    return second


def pareto_improve(prob: Problem, x: np.ndarray) -> np.ndarray:
    """Replace x by a package that maximises the total among those giving nobody less.

    The result is Pareto-optimal among feasible packages: anything dominating it would also
    dominate x and have a larger total.
    """
    base = prob.u(x)
    better = utilitarian(prob, u_min=base - 1e-9)
    if better is None:
        return x
    ub = prob.u(better)
    if np.all(ub >= base - 1e-9) and ub.sum() > base.sum() + 1e-9:
        return better
    return x


def feasible(prob: Problem, u_min: np.ndarray) -> bool:
    """Is there a feasible package with u_g ≥ u_min_g for every group?"""
    return solve(prob, u_min=u_min) is not None


def surely_infeasible(prob: Problem, u_min: np.ndarray) -> bool:
    """True when even the linear relaxation cannot give every group u_min (minus a margin): a
    cheap proof, one LP, that no package can. False means "maybe"."""
    return solve(prob, u_min=u_min, relaxation=True) is None


@dataclass
class NashResult:
    """The Nash-product package and how it was certified."""

    x: np.ndarray
    disagreement: np.ndarray
    included: list[int]  # Groups in the product.
    excluded: list[int]  # Groups that cannot gain (kept at u_g ≥ d_g instead).
    iterations: int
    gap: float  # MILP upper bound on Σ log − true Σ log at the returned package.
    solver_gap: float  # HiGHS dual bound − primal objective of the last MILP.
    log_product: float

    def to_json(self, names: list[str]) -> dict:
        return {
            "method": "outer approximation of Σ log(u_g − d_g) by tangent cuts, MILP (HiGHS)",
            "iterations": self.iterations,
            "gap": self.gap,
            "solver_gap": self.solver_gap,
            "log_product": self.log_product,
            "groups_in_product": [names[g] for g in self.included],
            "groups_held_at_disagreement": [names[g] for g in self.excluded],
        }


def _largest_joint_set(prob: Problem, d: np.ndarray, lower: np.ndarray) -> tuple[list[int], np.ndarray] | None:
    """The largest set of groups one feasible package (with u ≥ lower) puts DELTA above d, and
    that package; None when no feasible package has u ≥ lower. One MILP with a binary z_g per
    group: maximise Σ z_g subject to u_g ≥ d_g + DELTA·z_g."""
    G = prob.n_groups
    extra = Extra()
    z = {g: extra.add(0.0, 1.0, integer=True, c=1.0) for g in range(G)}
    rows = [Row(_unit(G, g), {z[g]: -DELTA}, float(d[g]), np.inf) for g in range(G)]
    sol = solve(prob, extra=extra, rows=rows, u_min=lower)
    if sol is None:
        return None
    gain = prob.u(sol.x) - d
    return [g for g in range(G) if gain[g] >= DELTA * (1 - 1e-6)], sol.x


def nash(prob: Problem, d: np.ndarray, u_min: np.ndarray | None = None) -> NashResult | None:
    """Maximise Π_g (u_g − d_g) over feasible packages with u ≥ d (and u ≥ u_min if given).

    Method: maximise Σ_{g∈S} φ_g with φ_g ≤ log v + (u_g − d_g − v)/v for a growing set of
    tangent points v (outer approximation: log is concave, so every tangent over-estimates it and
    the MILP optimum is an upper bound on the true optimum). After each MILP the true objective
    Σ log(u_g(x) − d_g) of its package is computed; tangents at that package's gains are added
    until the MILP bound exceeds the best true objective found by at most 1e-9 relative. The
    returned ``gap`` is that measured difference and ``solver_gap`` HiGHS's own MIP gap (HiGHS
    keeps a default absolute gap of 1e-6 that scipy does not expose). Typical runs converge in a
    handful of iterations with gap ≈ 0 (the final package is a tangent point).

    Saturated groups: a group that no feasible package puts at least DELTA above d_g (it may
    already be at the top of the scale) would force the product to zero, so it is left out of the
    product and only held at u_g ≥ d_g. The product runs over the largest set of groups that one
    package can all lift (one MILP, which also tells whether u ≥ max(d, u_min) is feasible at
    all); the others are held at d. Finally the package is post-improved to be Pareto-optimal
    (see :func:`pareto_improve`). Returns None when no feasible package satisfies u ≥ max(d, u_min).
    """
    G = prob.n_groups
    lower = d.copy() if u_min is None else np.maximum(d, u_min)
    found = _largest_joint_set(prob, d, lower)
    if found is None:
        return None
    included, x0 = found
    excluded = [g for g in range(G) if g not in included]
    if not included:
        x = utilitarian(prob, u_min=lower)
        return NashResult(x if x is not None else x0, d, [], excluded, 0, 0.0, 0.0, 0.0)
    lower_s = lower.copy()
    lower_s[included] = np.maximum(lower_s[included], d[included] + DELTA)
    return _cutting_planes(prob, d, lower_s, included, excluded, x0)


def _cutting_planes(prob, d, lower, included, excluded, x0) -> NashResult:
    span = np.maximum(prob.u_upper - d, 2 * DELTA)
    extra = Extra()
    phi = {g: extra.add(-np.inf, math.log(span[g]), c=1.0) for g in included}
    points = {g: list(np.geomspace(max(DELTA, 1e-3 * span[g]), span[g], 8)) for g in included}
    # Tangents at a known feasible package's gains too: the loop then often converges at once.
    start = prob.u(x0)[included] - d[included]
    for g, v in zip(included, start, strict=True):
        points[g].append(max(float(v), DELTA))
    rows = [_tangent(prob, g, phi[g], v, d) for g in included for v in points[g]]
    best_x = x0
    best_f = float(np.sum(np.log(np.maximum(start, 1e-300))))
    iterations, gap, solver_gap = 0, 0.0, 0.0
    while iterations < 100:
        iterations += 1
        sol = solve(prob, extra=extra, rows=rows, u_min=lower)
        if sol is None:  # Cannot happen (x0 is feasible); keep the best package found.
            break
        gains = prob.u(sol.x)[included] - d[included]
        f = float(np.sum(np.log(np.maximum(gains, 1e-300))))
        if f > best_f:
            best_x, best_f = sol.x, f
        gap = max(sol.objective - best_f, 0.0)
        solver_gap = max(sol.dual_bound - sol.objective, 0.0)
        if gap <= NASH_GAP_TOL * max(1.0, abs(best_f)):
            break
        for g, v in zip(included, gains, strict=True):
            v = max(float(v), DELTA)
            if all(abs(v - p) > 1e-12 * v for p in points[g]):
                points[g].append(v)
                rows.append(_tangent(prob, g, phi[g], v, d))
    x = pareto_improve(prob, best_x)
    log_product = float(np.sum(np.log(np.maximum(prob.u(x)[included] - d[included], 1e-300))))
    return NashResult(x, d, included, excluded, iterations, gap, solver_gap, log_product)


def _tangent(prob: Problem, g: int, phi: int, v: float, d: np.ndarray) -> Row:
    # φ ≤ log v − 1 + (u_g − d_g)/v  ⇔  φ − u_g/v ≤ log v − 1 − d_g/v.
    return Row(-_unit(prob.n_groups, g) / v, {phi: 1.0}, -np.inf, math.log(v) - 1 - d[g] / v)


# --- Brute force -------------------------------------------------------------------------------


def enumerate_feasible(prob: Problem, chunk: int = 1 << 16) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (packages × interventions, packages × groups utilities) for every feasible package.

    Vectorised in chunks of 2^16 packages; only for small scenarios (2^free packages).
    """
    free = np.flatnonzero((prob.x_ub > 0.5) & (prob.x_lb < 0.5))
    pins = prob.x_lb > 0.5
    total = 1 << len(free)
    shifts = np.arange(len(free), dtype=np.int64)
    pairs = np.array(prob.s.exclusion_pairs, dtype=int).reshape(-1, 2)
    for start in range(0, total, chunk):
        ints = np.arange(start, min(total, start + chunk), dtype=np.int64)
        X = np.zeros((len(ints), prob.n), dtype=bool)
        X[:, pins] = True
        X[:, free] = ((ints[:, None] >> shifts) & 1).astype(bool)
        ok = X.astype(float) @ prob.s.costs <= prob.s.budget * (1 + 1e-12) + 1e-9
        if len(pairs):
            ok &= ~(X[:, pairs[:, 0]] & X[:, pairs[:, 1]]).any(axis=1)
        X = X[ok]
        if len(X):
            yield X, utilities_many(prob.s, X)


def all_feasible(prob: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Every feasible package and its utilities (small scenarios only)."""
    parts = list(enumerate_feasible(prob))
    return np.vstack([p[0] for p in parts]), np.vstack([p[1] for p in parts])
