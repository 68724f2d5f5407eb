"""The Django admin an admin runs a study from."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.site import site_url

from . import services, signals
from .images import image_sanitize
from .invitation_links import invitation_links_csv
from .models import (
    Completion,
    ConsensusRating,
    Criterion,
    Group,
    Image,
    Invitation,
    Participant,
    RankingSetItem,
    Site,
    Study,
    StudyMembership,
    Wave,
)


class CriterionInline(admin.TabularInline):
    model = Criterion
    extra = 0
    fields = ("name", "kind", "label_en", "label_fr", "description_en", "description_fr", "order")
    show_change_link = True


class WaveInline(admin.TabularInline):
    model = Wave
    extra = 0
    fields = ("name", "order", "status")


class GroupInline(admin.TabularInline):
    model = Group
    extra = 0
    fields = ("label_en", "label_fr", "target_count", "order")


class SiteInline(admin.TabularInline):
    model = Site
    extra = 0
    fields = ("name", "latitude", "longitude", "order")
    show_change_link = True


class MembershipInline(admin.TabularInline):
    model = StudyMembership
    extra = 0
    autocomplete_fields = ("user",)


class InvitationCountForm(forms.Form):
    count = forms.IntegerField(min_value=1, max_value=10_000, initial=20, label=_("How many links?"))
    ttl_days = forms.IntegerField(
        min_value=1, max_value=3650, initial=settings.INVITATION_TTL_DAYS, label=_("Valid for (days)")
    )
    label = forms.CharField(max_length=100, required=False, label=_("Batch"), help_text=_("An internal batch name."))


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ("slug", "title_en", "status", "scale_min", "scale_max", "participant_count")
    list_filter = ("status",)
    search_fields = ("slug", "title_en", "title_fr")
    prepopulated_fields = {"slug": ("title_en",)}
    inlines = [WaveInline, GroupInline, CriterionInline, SiteInline, MembershipInline]
    actions = ["create_invitations", "open_studies", "close_studies"]

    def save_formset(self, request, form, formset, change):
        """Role grants and removals are announced (the audit log records them)."""
        instances = formset.save(commit=False)
        if formset.model is not StudyMembership:
            formset.save()
            return
        for membership in formset.deleted_objects:
            membership.delete()
            signals.study_role_changed.send(
                sender=StudyMembership,
                study=membership.study,
                actor=request.user,
                user_id=membership.user_id,
                removed=membership.role,
            )
        for membership in instances:
            membership.save()
            signals.study_role_changed.send(
                sender=StudyMembership,
                study=membership.study,
                actor=request.user,
                user_id=membership.user_id,
                granted=membership.role,
            )
        formset.save_m2m()

    @admin.display(description=_("participants"))
    def participant_count(self, obj: Study) -> int:
        return obj.participants.count()

    @admin.action(description=_("Generate invitation links (CSV download)"))
    def create_invitations(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, gettext("Choose exactly one study."), messages.ERROR)
            return None
        study = queryset.get()
        form = InvitationCountForm(request.POST if "count" in request.POST else None)
        if form.is_valid():
            issued = services.invitations_create(
                study=study,
                count=form.cleaned_data["count"],
                ttl_days=form.cleaned_data["ttl_days"],
                label=form.cleaned_data["label"],
            )
            response = HttpResponse(
                invitation_links_csv(issued, base_url=site_url(request)),
                content_type="text/csv; charset=utf-8",
            )
            response["Content-Disposition"] = f'attachment; filename="{study.slug}-invitations.csv"'
            response["Cache-Control"] = "no-store"
            return response
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Invitation links for %(study)s") % {"study": study},
            "form": form,
            "study": study,
            "queryset": queryset,
            "action": "create_invitations",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/surveys/invitation_form.html", context)

    @admin.action(description=_("Open for answers"))
    def open_studies(self, request, queryset):
        from .readiness import StudyNotReady, study_open

        for study in queryset:
            try:
                study_open(study=study)
            except StudyNotReady as exc:
                self.message_user(request, f"{study.slug}: {exc}", messages.ERROR)

    @admin.action(description=_("Close"))
    def close_studies(self, request, queryset):
        queryset.update(status=Study.Status.CLOSED)


class RankingSetItemInline(admin.TabularInline):
    model = RankingSetItem
    extra = 0
    autocomplete_fields = ("image",)


@admin.register(Criterion)
class CriterionAdmin(admin.ModelAdmin):
    list_display = ("name", "study", "kind", "label_en", "label_fr", "order")
    list_filter = ("study", "kind")
    search_fields = ("name", "label_en")
    inlines = [RankingSetItemInline]


class ImageForm(forms.ModelForm):
    """Uploads are validated and re-encoded (surveys/images.py) before they are stored."""

    class Meta:
        model = Image
        fields = ("study", "name", "site", "file", "alt_text_en", "alt_text_fr")

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload and upload is not getattr(self.instance, "file", None) and hasattr(upload, "content_type"):
            return image_sanitize(upload)
        return upload


class ImageInline(admin.TabularInline):
    model = Image
    form = ImageForm
    extra = 0
    fields = ("name", "file", "alt_text_en", "alt_text_fr")


class ConsensusRatingInline(admin.TabularInline):
    """The rating a study agreed on for this street (e.g. a focus group's after discussion)."""

    model = ConsensusRating
    extra = 0

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "criterion":
            site_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            rating = Criterion.objects.filter(kind=Criterion.Kind.RATING)
            kwargs["queryset"] = rating.filter(study__sites=site_id) if site_id else rating.none()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("name", "study")
    list_filter = ("study",)
    search_fields = ("name",)
    inlines = [ImageInline, ConsensusRatingInline]


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    form = ImageForm
    list_display = ("__str__", "study", "site", "alt_text_en")
    list_filter = ("study",)
    search_fields = ("name", "site__name", "alt_text_en")


@admin.register(Wave)
class WaveAdmin(admin.ModelAdmin):
    list_display = ("name", "study", "order", "status")
    list_filter = ("study", "status")


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ("label_en", "label_fr", "study", "target_count")
    search_fields = ("label_en", "label_fr")
    list_filter = ("study",)


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ("code", "study", "language", "consented_at")
    list_filter = ("study", "language")
    search_fields = ("code",)
    filter_horizontal = ("groups",)
    readonly_fields = ("code", "created_at")


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("__str__", "study", "label", "expires_at", "used_at", "withdrawn_at")
    list_filter = ("study", "label")
    readonly_fields = ("token_hash", "participant", "created_at")

    def has_add_permission(self, request) -> bool:
        # Invitations are created by the study action or the command so the raw token can be
        # shown once; an empty admin form could not show it.
        return False


@admin.register(Completion)
class CompletionAdmin(admin.ModelAdmin):
    list_display = ("participant", "wave", "completed_at")
    list_filter = ("wave__study",)
