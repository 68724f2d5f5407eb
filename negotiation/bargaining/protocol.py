"""Mediated monotonic concession between stakeholder agents (one agent per group).

* Reservation r_g: the group's utility under the best base design (lowered uniformly if no feasible
  package reaches it, see ``outcome.py``).
* Opening aspiration a_g: the group's utility under its own best feasible package.
* Each round the mediator proposes the package maximising Π_g (u_g − r_g) subject to the budget,
  exclusions, pins/forbids and u_g ≥ a_g for all g. If the aspirations are jointly infeasible it
  proposes the Nash package without aspiration constraints (still u_g ≥ r_g); the agents whose
  aspiration that proposal misses reject it — they are the ones blocking feasibility.
* Agents accept a proposal meeting their aspiration. Blocking agents concede on the published
  linear schedule: a_g falls by (opening_g − r_g)/(max_rounds − 1) per round, never below r_g.
  So by the last round every blocking agent is at its reservation and the unconstrained Nash
  package meets every aspiration: agreement is reached within max_rounds whenever max_rounds ≥ 2.
* Agreement when all accept; at the round limit without agreement the outcome falls back to the
  best base design.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .solvers import NashResult, Problem, nash
from .utility import criterion_levels, package_cost, rounded

#: An agent accepts when its utility is within this of its aspiration (solver tolerance).
ACCEPT_TOL = 1e-6


def fmt(v: float) -> str:
    """Numbers in the transcript: three decimals, so a utility just below an aspiration never
    reads as equal to it (3.170 vs 3.175); two significant digits for tiny amounts."""
    return f"{v:.3f}" if abs(v) >= 0.001 or v == 0 else f"{v:.2g}"


@dataclass
class Agent:
    """A stakeholder group's negotiating position."""

    index: int
    name: str
    reservation: float
    opening: float
    preferred: np.ndarray  # The package that gives the opening aspiration.
    step: float  # Concession per round from the published schedule.
    aspiration: float = field(init=False)

    def __post_init__(self) -> None:
        self.aspiration = self.opening

    def concede(self) -> float:
        """Lower the aspiration by one step (not below the reservation); returns the amount."""
        new = max(self.reservation, self.aspiration - self.step)
        amount = self.aspiration - new
        self.aspiration = new
        return amount


@dataclass
class Session:
    rounds: list[dict]
    agreement: bool
    x: np.ndarray | None  # The agreed package, or None when falling back.
    schedule: dict
    final_nash: NashResult | None = None


def schedule(agents: list[Agent], max_rounds: int) -> dict:
    """The concession schedule as published in the outcome."""
    return {
        "kind": "linear",
        "description": (
            "An agent whose aspiration blocks agreement lowers it each round by "
            "(opening aspiration − reservation) / (max_rounds − 1), never below its reservation, "
            "so that it reaches its reservation by the last round."
        ),
        "max_rounds": max_rounds,
        "steps": {a.name: a.step for a in agents},
        "reservations": {a.name: a.reservation for a in agents},
        "opening_aspirations": {a.name: a.opening for a in agents},
    }


def make_agents(prob: Problem, reservation: np.ndarray, best: list[np.ndarray]) -> list[Agent]:
    """One agent per group; ``best[g]`` is group g's best feasible package."""
    rounds = max(prob.s.max_rounds - 1, 1)
    agents = []
    for g, grp in enumerate(prob.s.groups):
        opening = float(max(prob.u(best[g])[g], reservation[g]))
        step = (opening - float(reservation[g])) / rounds
        agents.append(Agent(g, grp.name, float(reservation[g]), opening, best[g], step))
    return agents


def _loss_phrase(prob: Problem, agent: Agent, x: np.ndarray) -> str:
    """Name the criterion where the proposal costs this group most against its preferred package."""
    here = criterion_levels(prob.s, x)[agent.index]
    there = criterion_levels(prob.s, agent.preferred)[agent.index]
    loss = prob.s.weights[agent.index] * (there - here)
    c = int(np.argmax(loss))
    if loss[c] <= 0:
        return ""
    name = prob.s.criteria[c]
    return f"; {name} stays at {fmt(here[c])} against {fmt(there[c])} in my preferred package"


def _respond(prob: Problem, agents: list[Agent], x: np.ndarray, last: bool) -> dict[str, dict]:
    """Every agent's response; rejecting agents concede unless this is the last round."""
    u = prob.u(x)
    out: dict[str, dict] = {}
    for a in agents:
        if u[a.index] >= a.aspiration - ACCEPT_TOL:
            reason = f"accepts: utility {fmt(u[a.index])} ≥ aspiration {fmt(a.aspiration)}"
            out[a.name] = {"accept": True, "reason": reason}
            continue
        reason = f"rejects: utility {fmt(u[a.index])} is below my aspiration {fmt(a.aspiration)}" + _loss_phrase(
            prob, a, x
        )
        if last:
            reason += "; round limit reached"
        else:
            amount = a.concede()
            reason += f"; concedes {fmt(amount)} to {fmt(a.aspiration)}"
        out[a.name] = {"accept": False, "reason": reason}
    return out


def _round_record(prob, r, x, aspirations, responses, note) -> dict:
    names = prob.s.group_names
    u = prob.u(x)
    return rounded(
        {
            "round": r,
            "proposal": prob.s.codes_of(x),
            "cost": package_cost(prob.s, x),
            "utilities": {n: float(u[g]) for g, n in enumerate(names)},
            "aspirations": {n: float(aspirations[g]) for g, n in enumerate(names)},
            "responses": responses,
            "mediator": note,
        }
    )


def negotiate(
    prob: Problem,
    agents: list[Agent],
    fallback_proposal: np.ndarray,
    on_round: Callable[[dict], None] | None = None,
) -> Session:
    """Run the rounds. ``fallback_proposal`` is the Nash package without aspiration constraints."""
    reservation = np.array([a.reservation for a in agents])
    rounds: list[dict] = []
    max_rounds = prob.s.max_rounds
    for r in range(1, max_rounds + 1):
        aspirations = np.array([a.aspiration for a in agents])
        found = nash(prob, reservation, u_min=aspirations - ACCEPT_TOL)
        if found is not None:
            note = "proposes the Nash-product package that meets every current aspiration"
            responses = _respond(prob, agents, found.x, last=True)
            record = _round_record(prob, r, found.x, aspirations, responses, note)
            _emit(rounds, record, on_round)
            return Session(rounds, True, found.x, schedule(agents, max_rounds), found)
        note = (
            "current aspirations cannot all be met within the budget; proposes the Nash-product "
            "package without aspiration constraints"
        )
        responses = _respond(prob, agents, fallback_proposal, last=r == max_rounds)
        record = _round_record(prob, r, fallback_proposal, aspirations, responses, note)
        _emit(rounds, record, on_round)
    return Session(rounds, False, None, schedule(agents, max_rounds))


def _emit(rounds: list[dict], record: dict, on_round: Callable[[dict], None] | None) -> None:
    rounds.append(record)
    if on_round is not None:
        on_round(record)
