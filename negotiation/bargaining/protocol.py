"""Mediated monotonic concession between stakeholder agents (one agent per group).

* Reservation r_g: the group's utility under the best base design (lowered uniformly if no feasible
  package reaches it, see ``outcome.py``).
* Opening aspiration a_g: the group's utility under its own best feasible package.
* Each round the mediator proposes, subject to the budget, exclusions, pins/forbids and u_g ≥ a_g
  for all g, the package its rule prefers: the **Nash** mediator maximises Π_g (u_g − r_g); the
  **maximin** (inequality-aware) mediator first maximises the smallest gain min_g (u_g − r_g),
  then the Nash product with that smallest gain held. If the aspirations are jointly infeasible
  it proposes its rule's package without aspiration constraints (still u_g ≥ r_g); the agents
  whose aspiration that proposal misses reject it — they are the ones blocking feasibility.
* Agents accept a proposal meeting their aspiration. Rejecting agents concede on the published
  linear schedule: a_g falls by (opening_g − r_g)/(max_rounds − 1) per round, never below r_g.
  So by the last round every blocking agent is at its reservation and the unconstrained package
  meets every aspiration: agreement is reached within max_rounds whenever max_rounds ≥ 2.
* The session ends in agreement as soon as every agent accepts a proposal, and the agreed package
  is that proposal. At the round limit without agreement the outcome falls back to the best base
  design.

The protocol runs step by step (:class:`Protocol`): ``propose`` gives the mediator's proposal for
the current aspirations, ``agent_responses`` what the automatic agents answer, and ``close_round``
applies a round's answers (which may come from people, with their own concessions) and says
whether the session is over. ``state()`` / ``Protocol.from_state`` carry everything between rounds
as JSON, so a round can be computed in one worker and the next in another without re-solving.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import solvers
from .solvers import NashResult, Problem
from .utility import criterion_levels, package_cost, rounded

#: An agent accepts when its utility is within this of its aspiration (solver tolerance).
ACCEPT_TOL = 1e-6

#: The mediators a scenario may choose, with what each maximises (published in the outcome).
MEDIATORS = {
    "nash": "the Nash product Π (u_g − reservation_g)",
    "maximin": (
        "first the smallest gain over the reservation, min_g (u_g − reservation_g), then the Nash "
        "product with that smallest gain held"
    ),
}
DEFAULT_MEDIATOR = "nash"


def fmt(v: float) -> str:
    """Numbers in the transcript: three decimals, so a utility just below an aspiration never
    reads as equal to it (3.170 vs 3.175); two significant digits for tiny amounts."""
    return f"{v:.3f}" if abs(v) >= 0.001 or v == 0 else f"{v:.2g}"


def mediator_package(prob: Problem, mediator: str, d: np.ndarray, u_min: np.ndarray | None = None):
    """The mediator's preferred package over feasible packages with u ≥ max(d, u_min)."""
    if mediator == "maximin":
        return solvers.maximin_then_nash(prob, d, u_min=u_min)
    return solvers.nash(prob, d, u_min=u_min)


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

    def suggested_concession(self) -> float:
        """The schedule's concession for this round: one step, never below the reservation."""
        return max(0.0, min(self.step, self.aspiration - self.reservation))

    def concede(self, amount: float | None = None) -> float:
        """Lower the aspiration by ``amount`` (one step by default), not below the reservation
        and never up; returns the amount actually conceded."""
        amount = self.suggested_concession() if amount is None else float(amount)
        new = max(self.reservation, self.aspiration - max(amount, 0.0))
        done = self.aspiration - new
        self.aspiration = new
        return done


@dataclass
class Proposal:
    """A mediator's proposal for one round."""

    x: np.ndarray
    meets_aspirations: bool  # Found under the aspiration constraints.
    note: str
    result: NashResult | None = None


@dataclass
class Session:
    rounds: list[dict]
    agreement: bool
    x: np.ndarray | None  # The agreed package, or None when falling back.
    schedule: dict
    final: NashResult | None = None


def best_package_calls(prob: Problem) -> list:
    """One solve per group: its best feasible package (the pins alone when none is found)."""

    def call(g: int):
        x = solvers.best_for_group(prob, g)
        return x if x is not None else prob.x_lb > 0.5

    return [lambda g=g: call(g) for g in range(prob.n_groups)]


def make_agents(prob: Problem, reservation: np.ndarray, best: list[np.ndarray]) -> list[Agent]:
    """One agent per group; ``best[g]`` is group g's best feasible package."""
    rounds = max(prob.s.max_rounds - 1, 1)
    agents = []
    for g, grp in enumerate(prob.s.groups):
        opening = float(max(prob.u(best[g])[g], reservation[g]))
        step = (opening - float(reservation[g])) / rounds
        agents.append(Agent(g, grp.name, float(reservation[g]), opening, best[g], step))
    return agents


def _loss(prob: Problem, agent: Agent, x: np.ndarray) -> dict | None:
    """The criterion where the proposal costs this group most against its preferred package."""
    here = criterion_levels(prob.s, x)[agent.index]
    there = criterion_levels(prob.s, agent.preferred)[agent.index]
    loss = prob.s.weights[agent.index] * (there - here)
    c = int(np.argmax(loss))
    if loss[c] <= 0:
        return None
    return {"criterion": prob.s.criteria[c], "level": float(here[c]), "preferred_level": float(there[c])}


class Protocol:
    """One negotiation, step by step. Build it with :meth:`open` (solves the opening positions)
    or :meth:`from_state` (restores them without solving)."""

    def __init__(
        self,
        prob: Problem,
        agents: list[Agent],
        fallback: np.ndarray,
        *,
        mediator: str = DEFAULT_MEDIATOR,
        known: list[np.ndarray] | None = None,
    ) -> None:
        self.prob = prob
        self.agents = agents
        self.fallback = np.asarray(fallback, dtype=bool)
        self.mediator = mediator if mediator in MEDIATORS else DEFAULT_MEDIATOR
        self.reservation = np.array([a.reservation for a in agents])
        # Packages known to be feasible: a round whose aspirations one of them meets is feasible
        # whatever the solver says (the direct check of a candidate).
        self.known = [self.fallback, *(a.preferred for a in agents), *(known or [])]
        self._n_base_known = 1 + len(agents)

    @classmethod
    def open(
        cls,
        prob: Problem,
        reservation: np.ndarray,
        *,
        best: list[np.ndarray],
        fallback,
        mediator: str = DEFAULT_MEDIATOR,
    ):
        """The agents, with each group's best feasible package as its opening aspiration
        (``best``, solved by :func:`best_package_calls`), and the mediator's package without
        aspiration constraints as ``fallback`` (the proposal while aspirations are jointly
        infeasible)."""
        return cls(prob, make_agents(prob, reservation, best), fallback, mediator=mediator)

    # --- state carried between rounds ------------------------------------------------------

    @property
    def max_rounds(self) -> int:
        return self.prob.s.max_rounds

    def aspirations(self) -> np.ndarray:
        return np.array([a.aspiration for a in self.agents])

    def state(self) -> dict:
        """Everything needed to continue, as JSON (packages as intervention codes)."""
        codes = self.prob.s.codes_of
        return rounded(
            {
                "mediator": self.mediator,
                "fallback": codes(self.fallback),
                # Proposals found so far, so a restored protocol proposes exactly what this one would.
                "known": [codes(x) for x in self.known[self._n_base_known :]],
                "agents": [
                    {
                        "group": a.name,
                        "reservation": a.reservation,
                        "opening": a.opening,
                        "preferred": codes(a.preferred),
                        "step": a.step,
                        "aspiration": a.aspiration,
                    }
                    for a in self.agents
                ],
            }
        )

    @classmethod
    def from_state(cls, prob: Problem, state: dict) -> Protocol:
        by_name = {a["group"]: a for a in state["agents"]}
        agents = []
        for g, grp in enumerate(prob.s.groups):
            a = by_name[grp.name]
            agent = Agent(g, grp.name, a["reservation"], a["opening"], prob.s.mask(a["preferred"]), a["step"])
            agent.aspiration = a["aspiration"]
            agents.append(agent)
        return cls(
            prob,
            agents,
            prob.s.mask(state["fallback"]),
            mediator=state.get("mediator", DEFAULT_MEDIATOR),
            known=[prob.s.mask(codes) for codes in state.get("known", [])],
        )

    def schedule(self) -> dict:
        """The concession schedule and the mediator's rule, as published in the outcome."""
        return {
            "kind": "linear",
            "description": (
                "An agent whose aspiration blocks agreement lowers it each round by "
                "(opening aspiration − reservation) / (max_rounds − 1), never below its reservation, "
                "so that it reaches its reservation by the last round."
            ),
            "max_rounds": self.max_rounds,
            "mediator": self.mediator,
            "mediator_maximises": MEDIATORS[self.mediator],
            "steps": {a.name: a.step for a in self.agents},
            "reservations": {a.name: a.reservation for a in self.agents},
            "opening_aspirations": {a.name: a.opening for a in self.agents},
        }

    # --- one round -------------------------------------------------------------------------

    def propose(self) -> Proposal:
        """The mediator's proposal for the current aspirations."""
        prob, aspirations = self.prob, self.aspirations()
        target = aspirations - ACCEPT_TOL
        meeting = [x for x in self.known if np.all(prob.u(x) >= target)]
        found = None
        # One LP proves most rounds infeasible before any MILP is tried.
        if meeting or not solvers.surely_infeasible(prob, np.maximum(target, self.reservation)):
            found = mediator_package(prob, self.mediator, self.reservation, u_min=target)
        if found is None and meeting:
            # The solver missed a package that a direct check shows meets every aspiration.
            x = _best_known(prob, self.reservation, meeting)
            return Proposal(x, True, "proposes the known package that meets every current aspiration")
        if found is not None:
            self.known.append(found.x)
            rule = "Nash-product" if self.mediator == "nash" else "maximin-then-Nash"
            return Proposal(found.x, True, f"proposes the {rule} package that meets every current aspiration", found)
        rule = "Nash-product" if self.mediator == "nash" else "maximin-then-Nash"
        note = (
            "current aspirations cannot all be met within the budget; proposes the "
            f"{rule} package without aspiration constraints"
        )
        return Proposal(self.fallback, False, note)

    def agent_responses(self, x: np.ndarray, *, last: bool) -> dict[str, dict]:
        """What every automatic agent answers to proposal ``x`` (nothing is applied yet)."""
        return {a.name: self.agent_response(a, x, last=last) for a in self.agents}

    def agent_response(self, a: Agent, x: np.ndarray, *, last: bool) -> dict:
        u = float(self.prob.u(x)[a.index])
        if u >= a.aspiration - ACCEPT_TOL:
            return {
                "accept": True,
                "utility": u,
                "aspiration": a.aspiration,
                "reason": f"accepts: utility {fmt(u)} ≥ aspiration {fmt(a.aspiration)}",
                "by": "agent",
            }
        loss = _loss(self.prob, a, x)
        reason = f"rejects: utility {fmt(u)} is below my aspiration {fmt(a.aspiration)}"
        if loss:
            reason += (
                f"; {loss['criterion']} stays at {fmt(loss['level'])} against "
                f"{fmt(loss['preferred_level'])} in my preferred package"
            )
        concession = 0.0 if last else a.suggested_concession()
        if last:
            reason += "; round limit reached"
        else:
            reason += f"; concedes {fmt(concession)} to {fmt(a.aspiration - concession)}"
        return {
            "accept": False,
            "utility": u,
            "aspiration": a.aspiration,
            "concession": concession,
            "loss": loss,
            "reason": reason,
            "by": "agent",
        }

    def agent(self, name: str) -> Agent:
        return next(a for a in self.agents if a.name == name)

    def concession_limit(self, name: str) -> float:
        """The most a group can concede this round: down to its reservation."""
        a = self.agent(name)
        return max(0.0, a.aspiration - a.reservation)

    def suggested_concession(self, name: str, *, last: bool) -> float:
        """What the automatic agent would concede this round (nothing in the last round)."""
        return 0.0 if last else self.agent(name).suggested_concession()

    def delegate_response(
        self, name: str, x: np.ndarray, *, accept: bool, concession: float | None = None, note: str = "", last: bool
    ) -> dict:
        """A person's answer for group ``name``, in the transcript's shape: the same figures as
        an agent's answer, their own concession (clamped to what the reservation allows; none
        in the last round, when nothing follows) and their own words in ``note``."""
        a = self.agent(name)
        u = float(self.prob.u(x)[a.index])
        out: dict = {"accept": bool(accept), "utility": u, "aspiration": a.aspiration, "by": "delegate"}
        if not accept:
            amount = self.suggested_concession(name, last=last) if concession is None else float(concession)
            out["concession"] = 0.0 if last else min(max(amount, 0.0), self.concession_limit(name))
            out["loss"] = _loss(self.prob, a, x)
        verb = "accepts" if accept else "rejects"
        out["reason"] = f"{verb} (delegate): utility {fmt(u)}, aspiration {fmt(a.aspiration)}"
        if note:
            out["note"] = note
        return out

    def close_round(self, responses: dict[str, dict]) -> bool:
        """Apply a round's answers: rejecting groups concede what they said (never below their
        reservation). Returns True when every group accepted — the session ends in agreement."""
        if all(r.get("accept") for r in responses.values()) and len(responses) == len(self.agents):
            return True
        for a in self.agents:
            r = responses.get(a.name, {})
            if not r.get("accept"):
                a.concede(r.get("concession", a.suggested_concession()))
        return False

    def record(self, number: int, proposal: Proposal, aspirations: np.ndarray, responses: dict) -> dict:
        """The round as in the outcome JSON."""
        prob, names = self.prob, self.prob.s.group_names
        u = prob.u(proposal.x)
        return rounded(
            {
                "round": number,
                "proposal": prob.s.codes_of(proposal.x),
                "cost": package_cost(prob.s, proposal.x),
                "utilities": {n: float(u[g]) for g, n in enumerate(names)},
                "aspirations": {n: float(aspirations[g]) for g, n in enumerate(names)},
                "responses": responses,
                "mediator": proposal.note,
                "mediator_rule": self.mediator,
                "meets_aspirations": proposal.meets_aspirations,
            }
        )

    def run(self, on_round: Callable[[dict], None] | None = None) -> Session:
        """Every round with the automatic agents, until unanimity or the round limit."""
        rounds: list[dict] = []
        for r in range(1, self.max_rounds + 1):
            aspirations = self.aspirations()
            proposal = self.propose()
            responses = self.agent_responses(proposal.x, last=r == self.max_rounds)
            record = self.record(r, proposal, aspirations, responses)
            rounds.append(record)
            if on_round is not None:
                on_round(record)
            if self.close_round(responses):
                return Session(rounds, True, proposal.x, self.schedule(), proposal.result)
        return Session(rounds, False, None, self.schedule())


def _best_known(prob: Problem, d: np.ndarray, packages: list[np.ndarray]) -> np.ndarray:
    """Of some feasible packages, the one with the largest Nash product over d (then total)."""

    def score(x):
        gain = prob.u(x) - d
        return (float(np.sum(np.log(np.maximum(gain, 1e-12)))), float(prob.u(x).sum()))

    return max(packages, key=score)


def group_view(prob: Problem, g: int, x: np.ndarray, base: np.ndarray, own: np.ndarray) -> dict:
    """What proposal ``x`` gives group ``g`` against the best base design and the group's own
    best package: its utility under each and, per criterion, the level it would reach."""
    levels = [criterion_levels(prob.s, p)[g] for p in (x, base, own)]
    utilities = [float(prob.u(p)[g]) for p in (x, base, own)]
    return {
        "utility": {"proposal": utilities[0], "base": utilities[1], "own": utilities[2]},
        "criteria": [
            {
                "criterion": c,
                "weight": float(prob.s.weights[g][k]),
                "proposal": float(levels[0][k]),
                "base": float(levels[1][k]),
                "own": float(levels[2][k]),
            }
            for k, c in enumerate(prob.s.criteria)
        ],
    }
