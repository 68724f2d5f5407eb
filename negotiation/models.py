"""Negotiation scenarios, their stakeholders, interventions and base designs, and the sessions
run on them with their transcript (rounds) and outcome.

A scenario is edited as a whole and validated by ``negotiation.bargaining.parse_scenario``, so the
models hold plain values and JSON; the rules live in services and the pure bargaining package.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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
    defaults_note = models.CharField(max_length=300, blank=True)
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
    # Where each suggestion came from: {criterion: {attribute, coefficient, n, lambda, ...}}.
    suggestion_source = models.TextField(blank=True)
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
    # A live session: people answer for the groups with a delegate seat (see negotiation/live.py).
    # Its rounds are stepped by LiveStep jobs; the session row itself is never run as a job.
    live = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"session {self.pk} of {self.scenario}"


class LiveState(models.Model):
    """Where a live session stands: its phase, its open round and the protocol carried between
    rounds (``Protocol.state()``), all in PostgreSQL so no worker or Redis restart loses it."""

    class Phase(models.TextChoices):
        WAITING = "waiting", _("The mediator is preparing the next proposal")
        OPEN = "open", _("Round open")
        PAUSED = "paused", _("Paused")
        FINISHING = "finishing", _("Finishing")
        CLOSED = "closed", _("Closed")

    class End(models.TextChoices):
        AGREEMENT = "agreement", _("Agreement")
        ROUND_LIMIT = "round_limit", _("Round limit reached")
        CLOSED = "closed", _("Closed by the planner")
        NOTHING = "nothing", _("Nothing to negotiate")

    session = models.OneToOneField(NegotiationSession, on_delete=models.CASCADE, related_name="live_state")
    phase = models.CharField(max_length=10, choices=Phase.choices, default=Phase.WAITING)
    round = models.PositiveIntegerField(default=0, help_text="The round open or last opened.")
    protocol = models.JSONField(default=dict, blank=True)
    # The best base design and each group's own best package ({name, interventions}), for the
    # delegates' comparison.
    references = models.JSONField(default=dict, blank=True)
    time_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Seconds per round; empty = none.")
    deadline = models.DateTimeField(null=True, blank=True)
    # Seconds left on the clock when the planner paused the round.
    paused_remaining = models.PositiveIntegerField(null=True, blank=True)
    end = models.CharField(max_length=12, choices=End.choices, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"live state of session {self.session_id}"


class Seat(models.Model):
    """A group's place at the table: a delegate (a person with a personal link, stored hashed)
    or the automatic agent."""

    class Kind(models.TextChoices):
        DELEGATE = "delegate", _("Delegate")
        AGENT = "agent", _("Agent")

    session = models.ForeignKey(NegotiationSession, on_delete=models.CASCADE, related_name="seats")
    group = models.CharField(max_length=120, help_text="The group's name as written in the snapshot.")
    order = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.AGENT)
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    # The round from which a new holder answers (a seat changing hands mid-round keeps the
    # answer already given for that round).
    since_round = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["session", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["session", "group"], name="seat_unique_group")]

    def __str__(self) -> str:
        return f"{self.group} ({self.kind}) in session {self.session_id}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


class SeatChange(models.Model):
    """A seat changing hands, recorded: who changed it, when, from what to what."""

    seat = models.ForeignKey(Seat, on_delete=models.CASCADE, related_name="changes")
    round = models.PositiveIntegerField()
    from_kind = models.CharField(max_length=8, blank=True)
    to_kind = models.CharField(max_length=8)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["seat", "at", "id"]

    def __str__(self) -> str:
        return f"{self.seat.group}: {self.from_kind or '—'} → {self.to_kind} in round {self.round}"


class LiveResponse(models.Model):
    """One group's answer in one round of a live session; a delegate's second answer replaces
    the first until the round closes."""

    session = models.ForeignKey(NegotiationSession, on_delete=models.CASCADE, related_name="live_responses")
    round = models.PositiveIntegerField()
    group = models.CharField(max_length=120)
    by = models.CharField(max_length=8, choices=Seat.Kind.choices)
    data = models.JSONField(help_text="The response as in the transcript (accept, concession, reason, by, …).")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["session", "round", "id"]
        constraints = [models.UniqueConstraint(fields=["session", "round", "group"], name="live_response_unique_group")]

    def __str__(self) -> str:
        return f"{self.group} in round {self.round} of session {self.session_id}"


class LiveStep(Job):
    """The mediator's work after a round of a live session closes (or at the start): propose
    round ``number``, or, once the session has ended, build its outcome. One row per
    (session, number), so a step runs once however often its message is delivered."""

    session = models.ForeignKey(NegotiationSession, on_delete=models.CASCADE, related_name="live_steps")
    number = models.PositiveIntegerField()

    class Meta:
        ordering = ["session", "number"]
        constraints = [models.UniqueConstraint(fields=["session", "number"], name="live_step_unique_number")]

    def __str__(self) -> str:
        return f"step {self.number} of session {self.session_id}"


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
