"""Seeded perturbations of the Montreal-style scenario, run as ``negotiate --json`` would.

    .venv/bin/python -m negotiation.tests.perturbations [N] [--no-group-effects]

prints, over N seeds (default 200), how many runs crashed, printed anything on standard output
besides the outcome, fell back to the best base design after every agent had accepted, or had an
over-budget best base design. Every count must be 0; the tests run a subset of the seeds.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections import Counter

from negotiation.bargaining import parse_scenario, run_negotiation
from negotiation.bargaining.testing import montreal_scenario_dict


def stdout_bytes(fn):
    """Run fn and return (its result, whatever reached file descriptor 1 meanwhile)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 1)
        try:
            result = fn()
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
        tmp.seek(0)
        return result, tmp.read()


def check(seed: int, *, group_effects: bool = True) -> list[str]:
    """The problems of one perturbed run (empty when it keeps every promise)."""
    s = parse_scenario(montreal_scenario_dict(seed, group_effects=group_effects))
    try:
        out, printed = stdout_bytes(lambda: run_negotiation(s))
    except Exception as exc:  # noqa: BLE001 - counting crashes is the point.
        return [f"crash: {type(exc).__name__}: {exc}"]
    problems = []
    if printed:
        problems.append(f"stdout: {printed[:80]!r}")
    if any(all(v["accept"] for v in r["responses"].values()) for r in out["rounds"]) and not out["agreement"]:
        problems.append("fell back after every agent accepted")
    if not (out["best_base_design"]["within_budget"] and out["best_base_design"]["respects_exclusions"]):
        problems.append("ineligible best base design")
    return problems


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv and argv[0].isdigit() else 200
    group_effects = "--no-group-effects" not in argv
    counts: Counter = Counter()
    for seed in range(n):
        problems = check(seed, group_effects=group_effects)
        for p in problems:
            counts[p.split(":")[0]] += 1
            print(f"seed {seed}: {p}", file=sys.stderr)
        counts["runs"] += 1
    print(dict(counts))
    return 1 if set(counts) - {"runs"} else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
