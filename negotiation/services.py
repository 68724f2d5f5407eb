"""Negotiation services: scenarios to and from the JSON document, defaults from the survey,
suggested effects, and sessions run by a Celery worker with a live transcript.

Every write validates with ``negotiation.bargaining.parse_scenario`` first and then writes in one
transaction, so a bad document never leaves half a scenario behind.
"""

from __future__ import annotations

import json
import logging

from django.db import IntegrityError, transaction
from django.db.models import Avg, F
from django.utils import timezone

from surveys.models import Criterion, Group, Priority, Rating, Site, Study, Wave

from .bargaining import ScenarioError, parse_scenario, run_negotiation
from .bargaining.scenario import Issue, gettext_noop
from .bargaining.suggest import attributes_for, suggest_effects
from .jobs import KIND
from .models import (
    BaseDesign,
    Intervention,
    NegotiationSession,
    Outcome,
    Round,
    Scenario,
    Stakeholder,
)

logger = logging.getLogger(__name__)

# Messages are English here and translated where they are shown (``ScenarioError.messages``).
ERROR_STALE = gettext_noop(
    "Someone else saved this scenario while you were editing it. Your changes were not saved; "
    "reload the page to see the current version and apply your changes again."
)
ERROR_TITLE_TAKEN = Issue("title", gettext_noop("a scenario with this title already exists in the study"))
ERROR_NO_GROUPS = Issue("groups", gettext_noop("the study has no groups to negotiate between"))
ERROR_NOT_A_GROUP = gettext_noop("“{name}” is not a group of the study")
ERROR_NO_SUGGESTION = Issue(
    "interventions", gettext_noop("this intervention has no suggested effects; ask for suggestions first")
)


class ScenarioConflict(Exception):
    """The scenario changed since the editor loaded it (optimistic locking)."""


# ---------------------------------------------------------------------------------------------
# The scenario document


def scenario_to_document(scenario: Scenario) -> dict:
    """The scenario as the scenario JSON of docs/contracts.md."""
    study = scenario.study
    return {
        "title": scenario.title,
        "budget": scenario.budget,
        "scale": {"min": study.scale_min, "max": study.scale_max},
        "criteria": list(scenario.criteria),
        "groups": [
            {
                "name": group_name(s.group),
                "criterion_weights": dict(s.criterion_weights),
                "baseline": dict(s.baseline),
            }
            for s in scenario.stakeholders.select_related("group")
        ],
        "interventions": [
            {
                "code": i.code,
                "name": i.name,
                "cost": i.cost,
                "effects": dict(i.effects),
                "excludes": list(i.excludes),
                **({"group_effects": dict(i.group_effects)} if i.group_effects else {}),
            }
            for i in scenario.interventions.all()
        ],
        "base_designs": [{"name": b.name, "interventions": list(b.interventions)} for b in scenario.base_designs.all()],
        "max_rounds": scenario.max_rounds,
        "mediator": scenario.mediator,
        "currency": scenario.currency,
    }


def group_name(group: Group) -> str:
    """A group's name in scenario documents and outcomes: the name as written (its English
    label, which the import keeps verbatim), never the derived code."""
    return group.name


def study_groups_by_name(study: Study) -> dict[str, Group]:
    """The study's groups under every name a scenario document may use for them: the name as
    written first, then (for files written before names were used) the derived code."""
    groups = list(study.groups.all())
    out = {g.code: g for g in groups}
    out.update({group_name(g): g for g in groups})
    return out


def _validate_for_study(*, study: Study, document, exclude_pk: int | None = None):
    """Parse the document and check it against the study; raises ScenarioError listing both
    kinds of problem together, so the planner sees every one at once."""
    errors: list[Issue] = []
    parsed = None
    try:
        parsed = parse_scenario(document)
    except ScenarioError as exc:
        errors.extend(exc.issues)
    if not isinstance(document, dict):
        raise ScenarioError(errors)
    scale = document.get("scale")
    if parsed is not None and (parsed.scale_min, parsed.scale_max) != (
        study.scale_min,
        study.scale_max,
    ):
        errors.append(
            Issue(
                "scale",
                gettext_noop("must be the study's rating scale {low}..{high} (got {got_low}..{got_high})"),
                {
                    "low": study.scale_min,
                    "high": study.scale_max,
                    "got_low": scale.get("min"),
                    "got_high": scale.get("max"),
                },
            )
        )
    rating = set(study.criteria.filter(kind=Criterion.Kind.RATING).values_list("name", flat=True))
    criteria = document.get("criteria")
    for k, name in enumerate(criteria if isinstance(criteria, list) else []):
        if isinstance(name, str) and name not in rating:
            errors.append(
                Issue(f"criteria[{k}]", gettext_noop("“{name}” is not a rating criterion of the study"), {"name": name})
            )
    known = study_groups_by_name(study)
    groups = document.get("groups")
    seen: dict[int, int] = {}
    for k, g in enumerate(groups if isinstance(groups, list) else []):
        name = g.get("name") if isinstance(g, dict) else None
        if not isinstance(name, str):
            continue
        if name not in known:
            errors.append(Issue(f"groups[{k}].name", ERROR_NOT_A_GROUP, {"name": name}))
        elif known[name].pk in seen:
            errors.append(
                Issue(
                    f"groups[{k}].name",
                    gettext_noop("“{name}” is the same group as groups[{other}]"),
                    {"name": name, "other": seen[known[name].pk]},
                )
            )
        else:
            seen[known[name].pk] = k
    title = document.get("title")
    taken = Scenario.objects.filter(study=study, title=title if isinstance(title, str) else "")
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        errors.append(ERROR_TITLE_TAKEN)
    if errors:
        raise ScenarioError(errors)
    return parsed


def _write_children(*, scenario: Scenario, parsed, keep_existing: bool) -> None:
    """Replace the stakeholders, interventions and base designs by the parsed document's,
    keeping the survey defaults and suggestions already stored for the same group or code."""
    groups = study_groups_by_name(scenario.study)
    old_stake = {s.group_id: s for s in scenario.stakeholders.all()} if keep_existing else {}
    old_int = {i.code: i for i in scenario.interventions.all()} if keep_existing else {}
    scenario.stakeholders.all().delete()
    scenario.interventions.all().delete()
    scenario.base_designs.all().delete()
    sites = list(Site.objects.filter(study=scenario.study))
    stakeholders = []
    for k, g in enumerate(parsed.groups):
        previous = old_stake.get(groups[g.name].pk)
        if previous is not None:
            defaults = {
                "criterion_weights": previous.default_weights,
                "baseline": previous.default_baseline,
                "source": previous.defaults_source,
            }
        else:
            defaults = stakeholder_defaults(
                study=scenario.study,
                group=groups[g.name],
                criteria=list(parsed.criteria),
                sites=sites,
            )
        stakeholders.append(
            Stakeholder(
                scenario=scenario,
                group=groups[g.name],
                criterion_weights=dict(g.criterion_weights),
                baseline=dict(g.baseline),
                default_weights=defaults["criterion_weights"],
                default_baseline=defaults["baseline"],
                defaults_source=defaults["source"],
                order=k,
            )
        )
    Stakeholder.objects.bulk_create(stakeholders)
    Intervention.objects.bulk_create(
        Intervention(
            scenario=scenario,
            code=i.code,
            name=i.name,
            cost=i.cost,
            effects=dict(i.effects),
            excludes=list(i.excludes),
            group_effects={group_name(groups[g]): dict(e) for g, e in i.group_effects.items()},
            suggested_effects=old_int[i.code].suggested_effects if i.code in old_int else {},
            suggested_group_effects=old_int[i.code].suggested_group_effects if i.code in old_int else {},
            suggestion_source=old_int[i.code].suggestion_source if i.code in old_int else {},
            order=k,
        )
        for k, i in enumerate(parsed.interventions)
    )
    BaseDesign.objects.bulk_create(
        BaseDesign(scenario=scenario, name=b.name, interventions=list(b.interventions), order=k)
        for k, b in enumerate(parsed.base_designs)
    )


def scenario_import(*, study: Study, document, user=None) -> Scenario:
    """Create a scenario from a JSON document (already decoded). Raises ScenarioError listing
    every problem by field; nothing is saved then."""
    parsed = _validate_for_study(study=study, document=document)
    try:
        with transaction.atomic():
            scenario = Scenario.objects.create(
                study=study,
                title=parsed.title,
                budget=parsed.budget,
                criteria=list(parsed.criteria),
                max_rounds=parsed.max_rounds,
                mediator=parsed.mediator,
                currency=parsed.currency,
                created_by=user if user is not None and user.is_authenticated else None,
            )
            _write_children(scenario=scenario, parsed=parsed, keep_existing=False)
    except IntegrityError as exc:
        # Two imports of the same title at once: the unique constraint decides.
        raise ScenarioError(ERROR_TITLE_TAKEN) from exc
    return scenario


def scenario_update_from_document(*, scenario: Scenario, document, version: int) -> Scenario:
    """Replace the scenario's contents by the document, if nobody saved since ``version``.

    Raises ScenarioError for an invalid document and ScenarioConflict for a stale version;
    in both cases nothing is written."""
    parsed = _validate_for_study(study=scenario.study, document=document, exclude_pk=scenario.pk)
    with transaction.atomic():
        updated = Scenario.objects.filter(pk=scenario.pk, version=version).update(
            version=F("version") + 1,
            title=parsed.title,
            budget=parsed.budget,
            criteria=list(parsed.criteria),
            max_rounds=parsed.max_rounds,
            mediator=parsed.mediator,
            currency=parsed.currency,
            updated_at=timezone.now(),
        )
        if not updated:
            raise ScenarioConflict(ERROR_STALE)
        scenario.refresh_from_db()
        _write_children(scenario=scenario, parsed=parsed, keep_existing=True)
    return scenario


def scenario_create(*, study: Study, title: str, budget: float, user=None, max_rounds: int = 20) -> Scenario:
    """A new scenario on every rating criterion and group of the study, with survey defaults."""
    criteria = list(
        study.criteria.filter(kind=Criterion.Kind.RATING).order_by("order", "name").values_list("name", flat=True)
    )
    groups = list(study.groups.all())
    if not groups:
        raise ScenarioError(ERROR_NO_GROUPS)
    sites = list(Site.objects.filter(study=study))
    document = {
        "title": title,
        "budget": budget,
        "scale": {"min": study.scale_min, "max": study.scale_max},
        "criteria": criteria,
        "groups": [
            {
                "name": group_name(g),
                **_strip_note(stakeholder_defaults(study=study, group=g, criteria=criteria, sites=sites)),
            }
            for g in groups
        ],
        "interventions": [],
        "base_designs": [],
        "max_rounds": max_rounds,
    }
    return scenario_import(study=study, document=document, user=user)


def _strip_note(defaults: dict) -> dict:
    return {"criterion_weights": defaults["criterion_weights"], "baseline": defaults["baseline"]}


# ---------------------------------------------------------------------------------------------
# Defaults from the survey


def _latest_wave_with(model, *, study: Study, **filters) -> Wave | None:
    wave_ids = model.objects.filter(wave__study=study, **filters).values("wave_id")
    return Wave.objects.filter(pk__in=wave_ids).order_by("-order", "-id").first()


def stakeholder_defaults(*, study: Study, group: Group, criteria: list[str], sites) -> dict:
    """A group's default weights and baseline from the survey.

    Weights: the mean of the members' priority tokens per criterion (latest wave with priorities),
    normalised to sum to 1; equal weights when no member gave tokens. Baseline: the group's mean
    rating per criterion over ``sites`` (latest wave with ratings on them); a criterion the group
    did not rate falls back to everyone's mean, then to the middle of the scale.

    Returns {"criterion_weights", "baseline", "source"} (see ``Stakeholder.defaults_source``)."""
    source: dict = {}
    weights: dict[str, float] = {}
    wave = _latest_wave_with(Priority, study=study, criterion__name__in=criteria)
    if wave is not None:
        means = dict(
            Priority.objects.filter(wave=wave, participant__groups=group, criterion__name__in=criteria)
            .values_list("criterion__name")
            .annotate(m=Avg("tokens"))
            .values_list("criterion__name", "m")
        )
        total = sum(float(means.get(c) or 0.0) for c in criteria)
        if total > 0:
            weights = {c: round(float(means.get(c) or 0.0) / total, 6) for c in criteria}
            source["weights"] = {"kind": "priorities", "wave": wave.name}
    if not weights:
        weights = {c: round(1.0 / len(criteria), 6) for c in criteria} if criteria else {}
        source["weights"] = {"kind": "equal"}
    if weights:
        # Rounding must not break the sum-to-one rule, so the last weight takes the remainder.
        last = criteria[-1]
        weights[last] = round(1.0 - sum(v for c, v in weights.items() if c != last), 6)
    site_ids = [s.pk for s in sites]
    wave = _latest_wave_with(Rating, study=study, site_id__in=site_ids, criterion__name__in=criteria)
    midpoint = (study.scale_min + study.scale_max) / 2
    baseline = {c: midpoint for c in criteria}
    if wave is not None:
        base = Rating.objects.filter(wave=wave, site_id__in=site_ids, criterion__name__in=criteria)
        everyone = dict(
            base.values_list("criterion__name").annotate(m=Avg("value")).values_list("criterion__name", "m")
        )
        # Filtering on the group joins each rating to that one membership, so no rating counts
        # twice for a member of several groups.
        mine = dict(
            base.filter(participant__groups=group)
            .values_list("criterion__name")
            .annotate(m=Avg("value"))
            .values_list("criterion__name", "m")
        )
        for c in criteria:
            value = mine.get(c) if mine.get(c) is not None else everyone.get(c)
            if value is not None:
                baseline[c] = round(float(value), 4)
        source["baseline"] = {"kind": "ratings", "wave": wave.name, "sites": len(site_ids)}
    else:
        source["baseline"] = {"kind": "midpoint"}
    return {"criterion_weights": weights, "baseline": baseline, "source": source}


#: A group's own suggestion is kept as a group effect only where it differs from the common one
#: by at least this many rating points (smaller differences are noise at survey sample sizes).
GROUP_SUGGESTION_MIN_DIFFERENCE = 0.05


def effects_suggest(*, scenario: Scenario) -> int:
    """Suggest each intervention's effects from the audited site attributes and the ratings
    (ridge regression, see ``bargaining.suggest``): once over everyone's ratings, and once per
    stakeholder group over its members' ratings, giving that group's own effects where they
    differ from the common ones. Stores the suggestions and their source.

    Effects themselves are not changed (see :func:`suggestion_apply`): the planner decides.
    Returns how many interventions received a suggestion."""
    study = scenario.study
    sites = list(Site.objects.filter(study=study).exclude(attributes={}))
    if not sites:
        return 0
    criteria = list(scenario.criteria)
    wave = _latest_wave_with(Rating, study=study, site__in=sites, criterion__name__in=criteria)
    if wave is None:
        return 0
    by_pk = {s.pk: s.code for s in sites}
    rows = Rating.objects.filter(wave=wave, site_id__in=by_pk, criterion__name__in=criteria)
    interventions = list(scenario.interventions.all())
    mapping = {i.code: attributes_for(i.code, i.name) for i in interventions}
    kwargs = {
        "site_attributes": {s.code: s.attributes for s in sites},
        "criteria": criteria,
        "interventions": {code: attrs for code, attrs in mapping.items() if attrs},
    }

    def ratings(queryset):
        return [
            (by_pk[site_id], name, value)
            for site_id, name, value in queryset.values_list("site_id", "criterion__name", "value")
        ]

    suggestions = suggest_effects(ratings=ratings(rows), **kwargs)
    per_group = {
        group_name(st.group): suggest_effects(ratings=ratings(rows.filter(participant__groups=st.group)), **kwargs)
        for st in scenario.stakeholders.select_related("group")
    }
    with transaction.atomic():
        for i in interventions:
            found = suggestions.get(i.code)
            i.suggested_effects = found.effects if found else {}
            i.suggested_group_effects = {}
            for name, by_code in per_group.items():
                own = by_code.get(i.code)
                if found is None or own is None:
                    continue
                differs = {
                    c: v
                    for c, v in own.effects.items()
                    if abs(v - found.effects.get(c, 0.0)) >= GROUP_SUGGESTION_MIN_DIFFERENCE
                }
                if differs:
                    i.suggested_group_effects[name] = differs
            i.suggestion_source = (
                {
                    "wave": wave.name,
                    "criteria": {c: {"effect": found.effects.get(c, 0.0), **src} for c, src in found.sources.items()},
                }
                if found
                else {"unmatched": True}
            )
            i.save(update_fields=["suggested_effects", "suggested_group_effects", "suggestion_source"])
    return len(suggestions)


def document_apply_suggestion(*, scenario: Scenario, document: dict, code: str) -> dict:
    """The document with one intervention's effects (and group effects) replaced by its stored
    suggestion. Raises ScenarioError when the intervention has none."""
    stored = scenario.interventions.filter(code=code).first()
    if stored is None or not stored.suggested_effects:
        raise ScenarioError(ERROR_NO_SUGGESTION)
    for item in document.get("interventions", []):
        if item.get("code") == code:
            item["effects"] = {c: v for c, v in stored.suggested_effects.items() if v}
            present = {g.get("name") for g in document.get("groups", [])}
            own = {g: e for g, e in (stored.suggested_group_effects or {}).items() if g in present}
            if own:
                item["group_effects"] = own
            else:
                item.pop("group_effects", None)
    return document


def document_add_group(*, scenario: Scenario, document: dict, name: str) -> dict:
    """The document with one more of the study's groups as a stakeholder, with the survey's
    defaults. Raises ScenarioError for a name that is not a group of the study."""
    group = study_groups_by_name(scenario.study).get(name)
    if group is None:
        raise ScenarioError(Issue("groups", ERROR_NOT_A_GROUP, {"name": name}))
    defaults = stakeholder_defaults(
        study=scenario.study,
        group=group,
        criteria=list(document.get("criteria", [])),
        sites=list(Site.objects.filter(study=scenario.study)),
    )
    document.setdefault("groups", []).append({"name": group_name(group), **_strip_note(defaults)})
    return document


# ---------------------------------------------------------------------------------------------
# Sessions


def session_start(*, scenario: Scenario, user=None, pinned=(), forbidden=()) -> NegotiationSession:
    """Snapshot the scenario, create a pending session and publish its task after commit.

    Pins and forbids are checked here, so a planner sees a bad request at once. Parallel
    starts of the same scenario version with the same pins get one session (the one already
    waiting or running, see JobKind.request)."""
    document = scenario_to_document(scenario)
    parsed = parse_scenario(document)
    from .bargaining.scenario import check_pins

    check_pins(parsed, tuple(pinned), tuple(forbidden))
    pinned, forbidden = list(pinned), list(forbidden)

    def find():
        candidates = NegotiationSession.objects.filter(
            KIND.joinable(), live=False, scenario=scenario, pinned=pinned, forbidden=forbidden
        )
        return next((s for s in candidates if s.snapshot == document), None)

    def create():
        return NegotiationSession.objects.create(
            scenario=scenario,
            snapshot=document,
            pinned=pinned,
            forbidden=forbidden,
            started_by=user if user is not None and user.is_authenticated else None,
        )

    key = f"{scenario.pk}:{json.dumps([pinned, forbidden])}"
    session, _created = KIND.request(key=key, find=find, create=create)
    return session


def session_pending_sweep(*, now=None) -> int:
    """Publish again the sessions the broker never received, may have lost, or whose worker
    died (see core.jobs). Publishing twice is harmless: ``session_run`` claims once."""
    return KIND.sweep(now=now)


def session_run(*, session_id: int, take_over: bool = False) -> NegotiationSession:
    """Run a session's negotiation, saving each round as it happens and then the outcome.

    Does nothing to a session that is already done or being run by a live worker. A session
    whose worker died is re-run from the start, replacing the rounds it had saved. A failure is
    recorded on the row rather than raised, so an eager task never breaks a web request."""

    def run() -> None:
        session = NegotiationSession.objects.get(pk=session_id)
        Round.objects.filter(session=session).delete()
        Outcome.objects.filter(session=session).delete()
        try:
            parsed = parse_scenario(session.snapshot)
        except ScenarioError as exc:
            exc.job_message = "; ".join(exc.errors)
            raise
        max_rounds = max(parsed.max_rounds, 1)

        def on_round(record: dict) -> None:
            # Each round is written at once, so the polling page shows it live.
            Round.objects.update_or_create(
                session=session,
                number=record["round"],
                defaults={
                    "proposal": record["proposal"],
                    "cost": record["cost"],
                    "utilities": record["utilities"],
                    "aspirations": record["aspirations"],
                    "responses": record["responses"],
                    "mediator": record.get("mediator", ""),
                    "extra": _round_extra(record),
                },
            )
            KIND.progress(session.pk, 10 + int(85 * min(record["round"] / max_rounds, 1.0)))

        KIND.progress(session.pk, 5)
        outcome = run_negotiation(parsed, pinned=session.pinned, forbidden=session.forbidden, on_round=on_round)
        with transaction.atomic():
            Outcome.objects.update_or_create(session=session, defaults={"data": outcome})
            KIND.finish(session.pk)

    return KIND.execute(session_id, run, take_over=take_over)


_ROUND_FIELDS = {"round", "proposal", "cost", "utilities", "aspirations", "responses", "mediator"}


def _round_extra(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in _ROUND_FIELDS}


def session_save_outcome(
    *, scenario: Scenario, outcome: dict, user=None, pinned=(), forbidden=()
) -> NegotiationSession:
    """Record a session computed outside a worker (``negotiate --save``), with its rounds."""
    with transaction.atomic():
        session = NegotiationSession.objects.create(
            scenario=scenario,
            snapshot=scenario_to_document(scenario),
            pinned=list(pinned),
            forbidden=list(forbidden),
            status=NegotiationSession.Status.DONE,
            progress=100,
            started_by=user,
            started_at=timezone.now(),
            finished_at=timezone.now(),
        )
        Round.objects.bulk_create(
            Round(
                session=session,
                number=r["round"],
                proposal=r["proposal"],
                cost=r["cost"],
                utilities=r["utilities"],
                aspirations=r["aspirations"],
                responses=r["responses"],
                mediator=r.get("mediator", ""),
                extra=_round_extra(r),
            )
            for r in outcome["rounds"]
        )
        Outcome.objects.create(session=session, data=outcome)
    return session
