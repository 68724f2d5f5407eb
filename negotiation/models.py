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
    study = models.ForeignKey(
        "surveys.Study", on_delete=models.CASCADE, related_name="scenarios", verbose_name=_("study")
    )
    title = models.CharField(max_length=200, verbose_name=_("title"))
    budget = models.FloatField(verbose_name=_("budget"))
    criteria = models.JSONField(
        default=list, help_text=_("Names of the study's rating criteria."), verbose_name=_("criteria")
    )
    max_rounds = models.PositiveSmallIntegerField(default=20, verbose_name=_("round limit"))
    mediator = models.CharField(
        max_length=20,
        choices=[("nash", _("Nash product (default)")), ("maximin", _("Worst gain first, then Nash product"))],
        default="nash",
        verbose_name=_("mediator"),
    )
    # The currency of the budget and costs (ISO 4217), used to display amounts.
    currency = models.CharField(max_length=3, default="CAD", verbose_name=_("currency"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(default=timezone.now, verbose_name=_("updated at"))
    # Optimistic locking: every edit must name the version it started from and bumps it.
    version = models.PositiveIntegerField(default=1, verbose_name=_("version"))

    class Meta:
        verbose_name = _("scenario")
        verbose_name_plural = _("scenarios")
        ordering = ["study", "title", "id"]
        constraints = [
            models.UniqueConstraint(fields=["study", "title"], name="scenario_unique_title"),
            models.CheckConstraint(condition=models.Q(budget__gte=0), name="scenario_budget_nonneg"),
        ]

    def __str__(self) -> str:
        return self.title


class Stakeholder(models.Model):
    scenario = models.ForeignKey(
        Scenario, on_delete=models.CASCADE, related_name="stakeholders", verbose_name=_("scenario")
    )
    group = models.ForeignKey("surveys.Group", on_delete=models.CASCADE, related_name="+", verbose_name=_("group"))
    criterion_weights = models.JSONField(default=dict, verbose_name=_("criterion weights"))
    baseline = models.JSONField(default=dict, verbose_name=_("baseline"))
    # The values computed from the survey, kept so the page can show "default: …" beside edits.
    default_weights = models.JSONField(default=dict, blank=True, verbose_name=_("default weights"))
    default_baseline = models.JSONField(default=dict, blank=True, verbose_name=_("default baseline"))
    # Where the defaults came from, as data (shown in the reader's language, see presenters):
    # {"weights": {"kind": "priorities", "wave": name} | {"kind": "equal"},
    #  "baseline": {"kind": "ratings", "wave": name, "sites": n} | {"kind": "midpoint"}}.
    defaults_source = models.JSONField(default=dict, blank=True, verbose_name=_("source of the defaults"))
    order = models.PositiveIntegerField(default=0, verbose_name=_("order"))

    class Meta:
        verbose_name = _("stakeholder group")
        verbose_name_plural = _("stakeholder groups")
        ordering = ["scenario", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["scenario", "group"], name="stakeholder_unique_group")]

    def __str__(self) -> str:
        return f"{self.scenario} / {self.group.code}"


class Intervention(models.Model):
    scenario = models.ForeignKey(
        Scenario, on_delete=models.CASCADE, related_name="interventions", verbose_name=_("scenario")
    )
    code = models.CharField(max_length=60, verbose_name=_("code"))
    name = models.CharField(max_length=200, verbose_name=_("name"))
    cost = models.FloatField(verbose_name=_("cost"))
    effects = models.JSONField(default=dict, help_text=_("{criterion: rating-scale points}"), verbose_name=_("effects"))
    excludes = models.JSONField(
        default=list, blank=True, help_text=_("Codes of excluded interventions."), verbose_name=_("excludes")
    )
    group_effects = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("{group name: {criterion: points}}, replacing effects for those groups."),
        verbose_name=_("group effects"),
    )
    suggested_effects = models.JSONField(default=dict, blank=True, verbose_name=_("suggested effects"))
    suggested_group_effects = models.JSONField(default=dict, blank=True, verbose_name=_("suggested group effects"))
    # Where each suggestion came from, as data (shown in the reader's language, see presenters):
    # {"wave": name, "criteria": {criterion: {"effect", "n_ratings", "n", "n_attributes", "lambda",
    #  "attributes": [{"attribute", "coefficient", "shortfall"}]}}} or {"unmatched": true}.
    suggestion_source = models.JSONField(default=dict, blank=True, verbose_name=_("source of the suggestion"))
    order = models.PositiveIntegerField(default=0, verbose_name=_("order"))

    class Meta:
        verbose_name = _("intervention")
        verbose_name_plural = _("interventions")
        ordering = ["scenario", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["scenario", "code"], name="intervention_unique_code")]

    def __str__(self) -> str:
        return self.code


class BaseDesign(models.Model):
    scenario = models.ForeignKey(
        Scenario, on_delete=models.CASCADE, related_name="base_designs", verbose_name=_("scenario")
    )
    name = models.CharField(max_length=200, verbose_name=_("name"))
    interventions = models.JSONField(default=list, help_text=_("Intervention codes."), verbose_name=_("interventions"))
    order = models.PositiveIntegerField(default=0, verbose_name=_("order"))

    class Meta:
        verbose_name = _("base design")
        verbose_name_plural = _("base designs")
        ordering = ["scenario", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["scenario", "name"], name="base_design_unique_name")]

    def __str__(self) -> str:
        return self.name


class NegotiationSession(Job):
    scenario = models.ForeignKey(
        Scenario, on_delete=models.CASCADE, related_name="sessions", verbose_name=_("scenario")
    )
    # The scenario document as it stood at the start, so later edits never change a result.
    snapshot = models.JSONField(verbose_name=_("snapshot"))
    pinned = models.JSONField(default=list, blank=True, verbose_name=_("pinned"))
    forbidden = models.JSONField(default=list, blank=True, verbose_name=_("forbidden"))
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("started by"),
    )
    # A live session: people answer for the groups with a delegate seat (see negotiation/live.py).
    # Its rounds are stepped by LiveStep jobs; the session row itself is never run as a job.
    live = models.BooleanField(default=False, verbose_name=_("live"))

    class Meta:
        verbose_name = _("negotiation session")
        verbose_name_plural = _("negotiation sessions")
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

    session = models.OneToOneField(
        NegotiationSession, on_delete=models.CASCADE, related_name="live_state", verbose_name=_("session")
    )
    phase = models.CharField(max_length=10, choices=Phase.choices, default=Phase.WAITING, verbose_name=_("phase"))
    round = models.PositiveIntegerField(
        default=0, help_text=_("The round open or last opened."), verbose_name=_("round")
    )
    protocol = models.JSONField(default=dict, blank=True, verbose_name=_("protocol state"))
    # The best base design and each group's own best package ({name, interventions}), for the
    # delegates' comparison.
    references = models.JSONField(default=dict, blank=True, verbose_name=_("reference packages"))
    time_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Seconds per round; empty = none."), verbose_name=_("time limit (seconds)")
    )
    deadline = models.DateTimeField(null=True, blank=True, verbose_name=_("deadline"))
    # Seconds left on the clock when the planner paused the round.
    paused_remaining = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("seconds left when paused"))
    end = models.CharField(max_length=12, choices=End.choices, blank=True, verbose_name=_("how it ended"))
    updated_at = models.DateTimeField(default=timezone.now, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("live session state")
        verbose_name_plural = _("live session states")

    def __str__(self) -> str:
        return f"live state of session {self.session_id}"


class Seat(models.Model):
    """A group's place at the table: a delegate (a person with a personal link, stored hashed)
    or the automatic agent."""

    class Kind(models.TextChoices):
        DELEGATE = "delegate", _("Delegate")
        AGENT = "agent", _("Agent")

    session = models.ForeignKey(
        NegotiationSession, on_delete=models.CASCADE, related_name="seats", verbose_name=_("session")
    )
    group = models.CharField(
        max_length=120, help_text=_("The group's name as written in the snapshot."), verbose_name=_("group")
    )
    order = models.PositiveIntegerField(default=0, verbose_name=_("order"))
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.AGENT, verbose_name=_("kind"))
    token_hash = models.CharField(
        max_length=64, unique=True, null=True, blank=True, editable=False, verbose_name=_("token hash")
    )
    expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expires at"))
    # The round from which a new holder answers (a seat changing hands mid-round keeps the
    # answer already given for that round).
    since_round = models.PositiveIntegerField(default=1, verbose_name=_("since round"))

    class Meta:
        verbose_name = _("seat")
        verbose_name_plural = _("seats")
        ordering = ["session", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["session", "group"], name="seat_unique_group")]

    def __str__(self) -> str:
        return f"{self.group} ({self.kind}) in session {self.session_id}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


class SeatChange(models.Model):
    """A seat changing hands, recorded: who changed it, when, from what to what."""

    seat = models.ForeignKey(Seat, on_delete=models.CASCADE, related_name="changes", verbose_name=_("seat"))
    round = models.PositiveIntegerField(verbose_name=_("round"))
    from_kind = models.CharField(max_length=8, blank=True, verbose_name=_("from"))
    to_kind = models.CharField(max_length=8, verbose_name=_("to"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    at = models.DateTimeField(default=timezone.now, verbose_name=_("at"))

    class Meta:
        verbose_name = _("seat change")
        verbose_name_plural = _("seat changes")
        ordering = ["seat", "at", "id"]

    def __str__(self) -> str:
        return f"{self.seat.group}: {self.from_kind or '—'} → {self.to_kind} in round {self.round}"


class LiveResponse(models.Model):
    """One group's answer in one round of a live session; a delegate's second answer replaces
    the first until the round closes."""

    session = models.ForeignKey(
        NegotiationSession, on_delete=models.CASCADE, related_name="live_responses", verbose_name=_("session")
    )
    round = models.PositiveIntegerField(verbose_name=_("round"))
    group = models.CharField(max_length=120, verbose_name=_("group"))
    by = models.CharField(max_length=8, choices=Seat.Kind.choices, verbose_name=_("decided by"))
    data = models.JSONField(
        help_text=_("The response as in the transcript (accept, concession, reason, by, …)."), verbose_name=_("data")
    )
    at = models.DateTimeField(default=timezone.now, verbose_name=_("at"))

    class Meta:
        verbose_name = _("live response")
        verbose_name_plural = _("live responses")
        ordering = ["session", "round", "id"]
        constraints = [models.UniqueConstraint(fields=["session", "round", "group"], name="live_response_unique_group")]

    def __str__(self) -> str:
        return f"{self.group} in round {self.round} of session {self.session_id}"


class LiveStep(Job):
    """The mediator's work after a round of a live session closes (or at the start): propose
    round ``number``, or, once the session has ended, build its outcome. One row per
    (session, number), so a step runs once however often its message is delivered."""

    session = models.ForeignKey(
        NegotiationSession, on_delete=models.CASCADE, related_name="live_steps", verbose_name=_("session")
    )
    number = models.PositiveIntegerField(verbose_name=_("number"))

    class Meta:
        verbose_name = _("mediator step")
        verbose_name_plural = _("mediator steps")
        ordering = ["session", "number"]
        constraints = [models.UniqueConstraint(fields=["session", "number"], name="live_step_unique_number")]

    def __str__(self) -> str:
        return f"step {self.number} of session {self.session_id}"


class Round(models.Model):
    session = models.ForeignKey(
        NegotiationSession, on_delete=models.CASCADE, related_name="rounds", verbose_name=_("session")
    )
    number = models.PositiveIntegerField(verbose_name=_("number"))
    proposal = models.JSONField(default=list, verbose_name=_("proposal"))
    cost = models.FloatField(verbose_name=_("cost"))
    utilities = models.JSONField(default=dict, verbose_name=_("utilities"))
    aspirations = models.JSONField(default=dict, verbose_name=_("aspirations"))
    responses = models.JSONField(default=dict, verbose_name=_("responses"))
    mediator = models.TextField(blank=True, verbose_name=_("mediator"))
    # The round's other keys of the outcome JSON (the mediator's rule, whether the proposal
    # meets every aspiration), kept as they came.
    extra = models.JSONField(default=dict, blank=True, verbose_name=_("extra"))

    class Meta:
        verbose_name = _("round")
        verbose_name_plural = _("rounds")
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
    session = models.OneToOneField(
        NegotiationSession, on_delete=models.CASCADE, related_name="outcome", verbose_name=_("session")
    )
    data = models.JSONField(help_text=_("The outcome JSON of docs/contracts.md."), verbose_name=_("data"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("outcome")
        verbose_name_plural = _("outcomes")

    def __str__(self) -> str:
        return f"outcome of session {self.session_id}"
