"""A study whose groups straddle the public page's k, analysed and negotiated."""

from __future__ import annotations

from negotiation.models import NegotiationSession, Outcome, Scenario
from surveys.models import Criterion, Group, Participant, Rating, Site, Wave

FAST = {"n_permutations": 99, "n_bootstrap": 99, "seed": 3}

# With k = 5 and 12 residents: seniors (6, and 6 others) are shown; disabled residents (3) are
# too few; LGBTQIA2+ residents (10) leave only 2 others, whose mean their difference would reveal.
SIZES = {"senior": range(0, 6), "disabled": range(6, 9), "lgbtqia2": range(0, 10)}


def study_answer(study, *, n_participants: int = 12, wave_name: str = "w1") -> None:
    wave = Wave.objects.get(study=study, name=wave_name)
    groups = {g.code: g for g in Group.objects.filter(study=study)}
    sites = list(Site.objects.filter(study=study))
    criteria = list(Criterion.objects.filter(study=study, kind="rating"))
    for i in range(n_participants):
        participant = Participant.objects.create(study=study, code=f"R{wave.pk}-{i:03d}")
        participant.groups.set([groups[code] for code, members in SIZES.items() if i in members])
        for s, site in enumerate(sites):
            for criterion in criteria:
                senior = i in SIZES["senior"]
                value = 1 if criterion.name == "accessibility" and senior else 2 + (i + s) % 3
                Rating.objects.create(participant=participant, wave=wave, site=site, criterion=criterion, value=value)


def analyse(study):
    from analytics.services import analysis_request, analysis_run

    run = analysis_request(study=study, enqueue=False, **FAST)
    return analysis_run(run_id=run.pk)


def negotiate(study) -> Outcome:
    """A finished session's outcome, shaped as the protocol writes it."""
    scenario = Scenario.objects.create(study=study, title="Rue Fleury Est", budget=100, currency="CAD")
    session = NegotiationSession.objects.create(
        scenario=scenario,
        status="done",
        snapshot={"budget": 100, "interventions": [{"code": "ramps", "name": "Curb ramps"}]},
    )

    def package(utilities, interventions, cost, **extra):
        return {
            "interventions": interventions,
            "cost": cost,
            "utilities": utilities,
            "metrics": {"total_utility": 9.0, "worst_group_utility": 2.1, "p20_satisfaction": 0.5, "gini": 0.04},
            **extra,
        }

    data = {
        "agreement": True,
        "rounds": [{"round": 1}, {"round": 2}],
        "package": package(
            {"Seniors": 3.4, "Disabled residents": 2.1, "LGBTQIA2+ residents": 3.2}, ["ramps", "benches"], 80
        ),
        "best_base_design": package(
            {"Seniors": 3.1, "Disabled residents": 1.9, "LGBTQIA2+ residents": 3.2}, ["benches"], 30, name="Benches"
        ),
        "references": {},
        "fairness": {"cannot_fall": ["total_utility"], "reference_better": []},
        "reservation_shift": 0,
        "scenario": {"budget": 100, "interventions": {"ramps": "Curb ramps", "benches": "Benches every 100 m"}},
    }
    return Outcome.objects.create(session=session, data=data)
