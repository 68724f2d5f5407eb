from django.contrib import admin

from .models import (
    BaseDesign,
    Intervention,
    NegotiationSession,
    Outcome,
    Round,
    Scenario,
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


@admin.register(NegotiationSession)
class NegotiationSessionAdmin(admin.ModelAdmin):
    list_display = ["id", "scenario", "status", "progress", "created_at", "finished_at"]
    list_filter = ["status"]
    inlines = [RoundInline]


admin.site.register(Outcome)
