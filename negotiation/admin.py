from django.contrib import admin

from core.admin import ReadOnlyAdmin

from .models import (
    BaseDesign,
    Intervention,
    LiveResponse,
    LiveState,
    NegotiationSession,
    Outcome,
    Round,
    Scenario,
    Seat,
    SeatChange,
    Stakeholder,
)


class StakeholderInline(admin.TabularInline):
    model = Stakeholder
    extra = 0


class InterventionInline(admin.TabularInline):
    model = Intervention
    extra = 0


class BaseDesignInline(admin.TabularInline):
    model = BaseDesign
    extra = 0


@admin.register(Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    list_display = ["title", "study", "budget", "max_rounds", "version", "updated_at"]
    list_filter = ["study"]
    inlines = [StakeholderInline, InterventionInline, BaseDesignInline]


class RoundInline(admin.TabularInline):
    model = Round
    extra = 0
    readonly_fields = ["number", "proposal", "cost", "utilities", "aspirations", "responses"]


class ReadOnlyInline(ReadOnlyAdmin, admin.TabularInline):
    """What a live session recorded: shown, never edited here (the planner's pages act on it)."""

    extra = 0


class LiveStateInline(ReadOnlyInline):
    model = LiveState
    exclude = ["protocol", "references"]


class SeatInline(ReadOnlyInline):
    model = Seat
    exclude = ["token_hash"]


class LiveResponseInline(ReadOnlyInline):
    model = LiveResponse


@admin.register(NegotiationSession)
class NegotiationSessionAdmin(admin.ModelAdmin):
    list_display = ["id", "scenario", "live", "status", "progress", "created_at", "finished_at"]
    list_filter = ["status", "live"]
    inlines = [LiveStateInline, SeatInline, LiveResponseInline, RoundInline]


@admin.register(SeatChange)
class SeatChangeAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Who handed which seat to whom, and when: the record, read-only."""

    list_display = ["seat", "round", "from_kind", "to_kind", "by", "at"]
    list_filter = ["to_kind"]


admin.site.register(Outcome)
