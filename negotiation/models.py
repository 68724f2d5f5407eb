"""Negotiation scenarios, their stakeholders, interventions and base designs, and the sessions
run on them with their transcript (rounds) and outcome.

A scenario is edited as a whole and validated by ``negotiation.bargaining.parse_scenario``, so the
models hold plain values and JSON; the rules live in services and the pure bargaining package.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.jobs import Job


class Scenario(models.Model):
    study = models.ForeignKey("surveys.Study", on_delete=models.CASCADE, related_name="scenarios")
    title = models.CharField(max_length=200)
    budget = models.FloatField()
    criteria = models.JSONField(default=list, help_text="Names of the study's rating criteria.")
    max_rounds = models.PositiveSmallIntegerField(default=20)
    mediator = models.CharField(
        max_length=20,
        choices=[("nash", "Nash product"), ("maximin", "Worst gain first, then Nash product")],
        default="nash",
    )
    # The currency of the budget and costs (ISO 4217), used to display amounts.
    currency = models.CharField(max_length=3, default="CAD")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Optimistic locking: every edit must name the version it started from and bumps it.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["study", "title", "id"]
        constraints = [
            models.UniqueConstraint(fields=["study", "title"], name="scenario_unique_title"),
            models.CheckConstraint(condition=models.Q(budget__gte=0), name="scenario_budget_nonneg"),
        ]

    def __str__(self) -> str:
        return self.title


class Stakeholder(models.Model):
    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="stakeholders")
    group = models.ForeignKey("surveys.Group", on_delete=models.CASCADE, related_name="+")
    criterion_weights = models.JSONField(default=dict)
    baseline = models.JSONField(default=dict)
    # The values computed from the survey, kept so the page can show "default: …" beside edits.
    default_weights = models.JSONField(default=dict, blank=True)
    default_baseline = models.JSONField(default=dict, blank=True)
    # Where the defaults came from, as data (shown in the reader's language, see presenters):
    # {"weights": {"kind": "priorities", "wave": name} | {"kind": "equal"},
    #  "baseline": {"kind": "ratings", "wave": name, "sites": n} | {"kind": "midpoint"}}.
    defaults_source = models.JSONField(default=dict, blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["scenario", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["scenario", "group"], name="stakeholder_unique_group")]

    def __str__(self) -> str:
        return f"{self.scenario} / {self.group.code}"


class Intervention(models.Model):
    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="interventions")
    code = models.CharField(max_length=60)
    name = models.CharField(max_length=200)
    cost = models.FloatField()
    effects = models.JSONField(default=dict, help_text="{criterion: rating-scale points}")
    excludes = models.JSONField(default=list, blank=True, help_text="Codes of excluded interventions.")
    group_effects = models.JSONField(
        default=dict, blank=True, help_text="{group name: {criterion: points}}, replacing effects for those groups."
    )
    suggested_effects = models.JSONField(default=dict, blank=True)
    suggested_group_effects = models.JSONField(default=dict, blank=True)
    # Where each suggestion came from, as data (shown in the reader's language, see presenters):
    # {"wave": name, "criteria": {criterion: {"effect", "n_ratings", "n", "n_attributes", "lambda",
    #  "attributes": [{"attribute", "coefficient", "shortfall"}]}}} or {"unmatched": true}.
    suggestion_source = models.JSONField(default=dict, blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["scenario", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["scenario", "code"], name="intervention_unique_code")]

    def __str__(self) -> str:
        return self.code


class BaseDesign(models.Model):
    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="base_designs")
    name = models.CharField(max_length=200)
    interventions = models.JSONField(default=list, help_text="Intervention codes.")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["scenario", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["scenario", "name"], name="base_design_unique_name")]

    def __str__(self) -> str:
        return self.name


class NegotiationSession(Job):
    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="sessions")
    # The scenario document as it stood at the start, so later edits never change a result.
    snapshot = models.JSONField()
    pinned = models.JSONField(default=list, blank=True)
    forbidden = models.JSONField(default=list, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"session {self.pk} of {self.scenario}"


class Round(models.Model):
    session = models.ForeignKey(NegotiationSession, on_delete=models.CASCADE, related_name="rounds")
    number = models.PositiveIntegerField()
    proposal = models.JSONField(default=list)
    cost = models.FloatField()
    utilities = models.JSONField(default=dict)
    aspirations = models.JSONField(default=dict)
    responses = models.JSONField(default=dict)
    mediator = models.TextField(blank=True)
    # The round's other keys of the outcome JSON (the mediator's rule, whether the proposal
    # meets every aspiration), kept as they came.
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["session", "number"]
        constraints = [models.UniqueConstraint(fields=["session", "number"], name="round_unique_number")]

    def __str__(self) -> str:
        return f"round {self.number} of session {self.session_id}"

    def as_document(self) -> dict:
        """The round as in the outcome JSON."""
        return {
            "round": self.number,
            "proposal": self.proposal,
            "cost": self.cost,
            "utilities": self.utilities,
            "aspirations": self.aspirations,
            "responses": self.responses,
            "mediator": self.mediator,
            **self.extra,
        }


class Outcome(models.Model):
    session = models.OneToOneField(NegotiationSession, on_delete=models.CASCADE, related_name="outcome")
    data = models.JSONField(help_text="The outcome JSON of docs/contracts.md.")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"outcome of session {self.session_id}"
