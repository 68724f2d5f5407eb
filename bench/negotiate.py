"""Benchmark of the negotiation maths (prints figures; no assertions).

    .venv/bin/python bench/negotiate.py

1. A large session: 12 groups × 200 interventions, max 20 rounds — the first round (opening
   aspirations and the first proposal), the last round, the whole session (with every reference
   rule), in wall-clock and CPU seconds, against the targets (≤ 1 s per round, ≤ 3 s per session)
   and as multiples of one utilitarian MILP on the same scenario measured in the same run (the
   baseline: what one exact solve costs on this machine right now).
2. 20 interventions: exact MILP rules vs brute-force enumeration of all 2^20 packages (numpy,
   chunked) vs pabutools' Method of Equal Shares, in the same run, as ratios to the MILP time.

On a machine shared with other work, wall-clock times grow with the load while CPU times do not:
both are printed. Independent solves (each group's best package beside the mediator's, the
reference rules) run side by side on up to `solvers.SOLVER_THREADS` threads, so CPU time can
exceed wall time.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from negotiation.bargaining import parse_scenario, run_negotiation  # noqa: E402
from negotiation.bargaining import solvers as sv  # noqa: E402
from negotiation.bargaining.mes import equal_shares  # noqa: E402
from negotiation.bargaining.outcome import _reservation, best_base_design  # noqa: E402
from negotiation.bargaining.testing import random_scenario_dict  # noqa: E402


def _conflicted(doc: dict, scale: float) -> dict:
    """Shrink effects so caps rarely bind and groups keep competing for a tight budget."""
    for i in doc["interventions"]:
        i["effects"] = {c: round(v * scale, 4) for c, v in i["effects"].items()}
    return doc


def large_session(seed: int = 1) -> None:
    doc = _conflicted(
        random_scenario_dict(
            seed,
            n_interventions=200,
            n_groups=12,
            n_criteria=4,
            budget_share=0.05,
            max_rounds=20,
            exclusion_rate=0.001,
        ),
        0.1,
    )
    # The best base design is the egalitarian package: it is Pareto-optimal, so no package meets
    # every aspiration until the blocking agents have conceded all the way — the worst case,
    # a full 20 rounds.
    s = parse_scenario(doc)
    egal = s.codes_of(sv.egalitarian(sv.Problem(s)))
    doc["base_designs"] = [{"name": "egalitarian design", "interventions": egal}]
    s = parse_scenario(doc)
    # Baseline: one utilitarian MILP on this very scenario, in this run.
    start = (time.perf_counter(), time.process_time())
    sv.utilitarian(sv.Problem(s))
    base_wall, base_cpu = time.perf_counter() - start[0], time.process_time() - start[1]
    stamps: list[tuple[float, float]] = []
    start = (time.perf_counter(), time.process_time())
    out = run_negotiation(s, on_round=lambda r: stamps.append((time.perf_counter(), time.process_time())))
    end = (time.perf_counter(), time.process_time())
    marks = [start, *stamps]
    print("== 12 groups × 200 interventions, max 20 rounds ==")
    print(f"rounds played: {len(out['rounds'])}, agreement: {out['agreement']}")
    print(f"baseline, one utilitarian MILP: wall {base_wall:.3f} s, CPU {base_cpu:.3f} s")

    def show(label: str, a, b, target: float) -> None:
        wall, cpu = b[0] - a[0], b[1] - a[1]
        print(
            f"{label:<42} wall {wall:6.3f} s ({wall / base_wall:5.1f}× baseline), "
            f"CPU {cpu:6.3f} s ({cpu / base_cpu:5.1f}× baseline); target ≤ {target:g} s"
        )

    show("first round (opening aspirations, proposal)", marks[0], marks[1], 1.0)
    if len(marks) > 2:
        show("last round", marks[-2], marks[-1], 1.0)
        later = [marks[k + 1][0] - marks[k][0] for k in range(1, len(marks) - 1)]
        print(f"{'rounds 2..n':<42} wall mean {np.mean(later):.3f} s, max {np.max(later):.3f} s")
    show("reference rules after the rounds", marks[-1], end, 3.0)
    show("whole session", start, end, 3.0)
    solver = out["references"]["nash"]["solver"]
    print(
        f"Nash cutting planes: {solver['iterations']} iterations, gap {solver['gap']:.2e}, "
        f"solver gap {solver['solver_gap']:.2e}"
    )


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def _brute(prob: sv.Problem, d: np.ndarray, included: list[int]) -> dict[str, float]:
    """All rule optima in one streaming pass over every feasible package."""
    best = {"utilitarian": -np.inf, "egalitarian": -np.inf, "nash": -np.inf, "count": 0}
    for _, U in sv.enumerate_feasible(prob, chunk=1 << 17):
        best["count"] += len(U)
        best["utilitarian"] = max(best["utilitarian"], float(U.sum(axis=1).max()))
        best["egalitarian"] = max(best["egalitarian"], float(U.min(axis=1).max()))
        gains = U[:, included] - d[included]
        ok = (U >= d - 1e-9).all(axis=1) & (gains >= sv.DELTA).all(axis=1)
        if ok.any():
            best["nash"] = max(best["nash"], float(np.log(gains[ok]).sum(axis=1).max()))
    return best


def exact_vs_brute(seed: int = 2) -> None:
    doc = random_scenario_dict(seed, n_interventions=20, n_groups=6, n_criteria=4, budget_share=0.4)
    prob = sv.Problem(parse_scenario(doc))
    _, best_x = best_base_design(prob)
    d, _ = _reservation(prob, best_x=best_x)

    def milp_rules():
        return sv.utilitarian(prob), sv.egalitarian(prob), sv.nash(prob, d)

    (x_ut, x_eg, nash), t_milp = _timed(milp_rules)
    brute, t_brute = _timed(lambda: _brute(prob, d, nash.included))
    _, t_mes = _timed(lambda: equal_shares(prob))
    print("\n== 20 interventions, 6 groups: exact MILP vs brute force vs MES ==")
    print(f"feasible packages enumerated: {brute['count']} of {2**20}")
    print(f"MILP (utilitarian + egalitarian + Nash): {t_milp:.3f} s  (1.0×, the baseline)")
    print(f"brute force, same three rules:          {t_brute:.3f} s  ({t_brute / t_milp:.1f}×)")
    print(f"pabutools MES:                          {t_mes:.3f} s  ({t_mes / t_milp:.2f}×)")
    agree = (
        abs(prob.u(x_ut).sum() - brute["utilitarian"]) < 1e-6
        and abs(prob.u(x_eg).min() - brute["egalitarian"]) < 1e-6
        and abs(nash.log_product - brute["nash"]) < 1e-6
    )
    print(
        f"MILP optima equal brute-force optima: {agree} "
        f"(Nash gap {nash.gap:.2e}, {nash.iterations} cutting-plane iterations)"
    )


if __name__ == "__main__":
    large_session()
    exact_vs_brute()
