"""REST API v1. Each view fetches and authorises through `study_get_for_user`, makes one
service call and serialises. Residents use the same answer service as the survey pages."""

from __future__ import annotations

from django.db import transaction
from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, permissions, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView, get_view_description, get_view_name

from analytics import services as analytics_services
from analytics.models import AnalysisRun
from exports import download as export_download
from exports import services as export_services
from exports.models import ExportJob
from negotiation import live, presenters
from negotiation import services as negotiation_services
from negotiation.bargaining import ScenarioError
from negotiation.bargaining.scenario import MEDIATOR_CHOICES
from negotiation.models import NegotiationSession, Scenario, Seat
from surveys import selectors as survey_selectors
from surveys import services as survey_services
from surveys.models import Criterion, Invitation, Site, Study, Wave
from surveys.permissions import PLANNER, RESEARCHER, studies_for_user, study_get_for_user

from .authentication import ApiTokenAuthentication, DelegateAuthentication, InvitationAuthentication
from .parsers import ScenarioDocumentParser

# Token first so anonymous requests get 401 with WWW-Authenticate; sessions keep the browsable API
# working, with CSRF enforced for session-authenticated writes.
STAFF_AUTH = [ApiTokenAuthentication, SessionAuthentication]


class StaffView:
    authentication_classes = STAFF_AUTH
    permission_classes = [permissions.IsAuthenticated]
    roles: tuple[str, ...] = (PLANNER, RESEARCHER)

    def study(self) -> Study:
        return study_get_for_user(self.request.user, self.kwargs["slug"], *self.roles)


# --- studies and their structure -------------------------------------------------------------


class StudySerializer(serializers.ModelSerializer):
    scale = serializers.SerializerMethodField()

    class Meta:
        model = Study
        fields = ["slug", "title_en", "title_fr", "status", "scale", "priority_tokens", "min_group_size"]

    def get_scale(self, obj) -> dict:
        return {
            "min": obj.scale_min,
            "max": obj.scale_max,
            "labels_en": obj.scale_labels_en,
            "labels_fr": obj.scale_labels_fr,
        }


class StudyList(StaffView, generics.ListAPIView):
    page_title = _("Studies")
    page_summary = _("The studies you have a role in.")

    serializer_class = StudySerializer

    def get_queryset(self):
        return studies_for_user(self.request.user).order_by("slug")


class StudyDetail(StaffView, generics.RetrieveAPIView):
    page_title = _("Study")
    page_summary = _("One study: its titles, scale and status.")

    serializer_class = StudySerializer

    def get_object(self):
        return self.study()


class WaveSerializer(serializers.ModelSerializer):
    class Meta:
        model = Wave
        fields = ["id", "name", "order", "status"]


class SiteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Site
        fields = ["code", "name", "latitude", "longitude", "attributes"]


class CriterionSerializer(serializers.ModelSerializer):
    images = serializers.SerializerMethodField()

    class Meta:
        model = Criterion
        fields = ["name", "kind", "label_en", "label_fr", "description_en", "description_fr", "images"]

    def get_images(self, obj) -> list[str]:
        return [item.image.code for item in obj.set_items.all()] if obj.kind == Criterion.Kind.RANKING else []


class _StudyChildList(StaffView, generics.ListAPIView):
    model = None
    ordering: tuple[str, ...] = ()

    def get_queryset(self):
        return self.model.objects.filter(study=self.study()).order_by(*self.ordering)


class WaveList(_StudyChildList):
    page_title = _("Waves")
    page_summary = _("The study's survey waves, in order.")

    serializer_class, model, ordering = WaveSerializer, Wave, ("order", "id")


class SiteList(_StudyChildList):
    page_title = _("Sites")
    page_summary = _("The study's streets, with their coordinates and audited attributes.")

    serializer_class, model, ordering = SiteSerializer, Site, ("order", "code")


class CriterionList(_StudyChildList):
    page_title = _("Criteria")
    page_summary = _("The study's rating and ranking criteria.")

    serializer_class, model, ordering = CriterionSerializer, Criterion, ("kind", "order", "name")

    def get_queryset(self):
        return super().get_queryset().prefetch_related("set_items__image")


# --- resident answers ------------------------------------------------------------------------


class IsResident(permissions.BasePermission):
    message = "Give the invitation token as: Authorization: Invitation <token>."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, Invitation)


class Answers(APIView):
    """Read your own answers (GET) or save one (POST), exactly as the survey pages autosave."""

    page_title = _("Answers")
    page_summary = _("Read your own answers (GET) or save one (POST), exactly as the survey pages autosave.")

    authentication_classes = [InvitationAuthentication]
    permission_classes = [IsResident]

    class AnswerInputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=["rating", "ranking", "priority", "comment"])
        site = serializers.CharField(required=False, max_length=60)
        criterion = serializers.CharField(required=False, max_length=60)
        value = serializers.IntegerField(required=False)
        order = serializers.ListField(child=serializers.CharField(max_length=60), required=False, max_length=200)
        tokens = serializers.DictField(child=serializers.IntegerField(), required=False)
        text = serializers.CharField(required=False, allow_blank=True, max_length=5000)
        client_seq = serializers.IntegerField(required=False, min_value=0, max_value=2**62)

    class AnswerOutputSerializer(serializers.Serializer):
        saved = serializers.BooleanField()
        stale = serializers.BooleanField()

    def _resident(self):
        participant = self.request.auth.participant
        wave = survey_services.open_wave_get(study=participant.study)
        return participant, wave

    @extend_schema(
        responses=inline_serializer(
            "ResidentAnswers",
            {
                "wave": serializers.CharField(),
                "ratings": serializers.ListField(child=serializers.DictField()),
                "rankings": serializers.DictField(),
                "priorities": serializers.DictField(),
                "comment": serializers.CharField(),
            },
        )
    )
    def get(self, request):
        participant, wave = self._resident()
        answers = survey_selectors.participant_answers(participant=participant, wave=wave)
        sites = dict(Site.objects.filter(study=participant.study).values_list("id", "code"))
        criteria = dict(Criterion.objects.filter(study=participant.study).values_list("id", "name"))
        return Response(
            {
                "wave": wave.name,
                "ratings": [
                    {"site": sites[s], "criterion": criteria[c], "value": v}
                    for (s, c), v in sorted(answers["ratings"].items())
                ],
                "rankings": {criteria[c]: order for c, order in answers["rankings"].items()},
                "priorities": {criteria[c]: t for c, t in answers["priorities"].items()},
                "comment": answers["comment"],
            }
        )

    @extend_schema(request=AnswerInputSerializer, responses=AnswerOutputSerializer)
    def post(self, request):
        data = self.AnswerInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        participant, wave = self._resident()
        result = survey_services.answer_save(participant=participant, wave=wave, data=data.validated_data)
        return Response(self.AnswerOutputSerializer({"saved": result.saved, "stale": result.stale}).data)


# --- analysis runs -----------------------------------------------------------------------------


class AnalysisRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = AnalysisRun
        fields = ["id", "scope", "status", "progress", "parameters", "error", "created_at", "started_at", "finished_at"]


class AnalysisRunResultSerializer(AnalysisRunSerializer):
    class Meta(AnalysisRunSerializer.Meta):
        fields = [*AnalysisRunSerializer.Meta.fields, "result"]


class AnalysisRunList(StaffView, generics.ListCreateAPIView):
    page_title = _("Analysis runs")
    page_summary = _("The study's analyses; POST asks for a fresh one.")

    serializer_class = AnalysisRunSerializer

    def get_queryset(self):
        return AnalysisRun.objects.filter(study=self.study()).order_by("-created_at", "-id")

    @extend_schema(request=None, responses={202: AnalysisRunSerializer})
    def post(self, request, slug):
        study = self.study()
        with transaction.atomic():
            run = analytics_services.analysis_request(study=study, requested_by=request.user, reason="api")
        run.refresh_from_db()
        return Response(AnalysisRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class AnalysisRunDetail(StaffView, generics.RetrieveAPIView):
    page_title = _("Analysis run")
    page_summary = _("One analysis with its report.")

    serializer_class = AnalysisRunResultSerializer

    def get_object(self):
        return generics.get_object_or_404(AnalysisRun, study=self.study(), pk=self.kwargs["pk"])


# --- negotiation -------------------------------------------------------------------------------


class ScenarioSerializer(serializers.ModelSerializer):
    class Meta:
        model = Scenario
        fields = ["id", "title", "budget", "max_rounds", "version"]


class SessionSerializer(serializers.ModelSerializer):
    outcome = serializers.SerializerMethodField()

    class Meta:
        model = NegotiationSession
        fields = [
            "id",
            "scenario",
            "status",
            "progress",
            "pinned",
            "forbidden",
            "error",
            "created_at",
            "finished_at",
            "outcome",
        ]

    def get_outcome(self, obj) -> dict | None:
        outcome = getattr(obj, "outcome", None)
        return outcome.data if outcome else None


# The request body of a scenario import, for the schema only: the import service validates it
# (negotiation.bargaining.parse_scenario, with the limits of docs/negotiation.md).
SCENARIO_DOCUMENT = inline_serializer(
    "ScenarioDocument",
    {
        "title": serializers.CharField(),
        "budget": serializers.FloatField(),
        "scale": inline_serializer("ScenarioScale", {"min": serializers.FloatField(), "max": serializers.FloatField()}),
        "criteria": serializers.ListField(child=serializers.CharField()),
        "groups": inline_serializer(
            "ScenarioGroup",
            {
                "name": serializers.CharField(),
                "criterion_weights": serializers.DictField(child=serializers.FloatField()),
                "baseline": serializers.DictField(child=serializers.FloatField()),
            },
            many=True,
        ),
        "interventions": inline_serializer(
            "ScenarioIntervention",
            {
                "code": serializers.CharField(),
                "name": serializers.CharField(required=False),
                "cost": serializers.FloatField(),
                "effects": serializers.DictField(child=serializers.FloatField()),
                "excludes": serializers.ListField(child=serializers.CharField(), required=False),
                "group_effects": serializers.DictField(
                    child=serializers.DictField(child=serializers.FloatField()), required=False
                ),
            },
            many=True,
        ),
        "base_designs": inline_serializer(
            "ScenarioBaseDesign",
            {"name": serializers.CharField(), "interventions": serializers.ListField(child=serializers.CharField())},
            many=True,
            required=False,
        ),
        "max_rounds": serializers.IntegerField(required=False),
        "mediator": serializers.ChoiceField(choices=MEDIATOR_CHOICES, required=False),
        "currency": serializers.CharField(required=False),
    },
)

API_ERROR = inline_serializer(
    "ApiError",
    {
        "error": inline_serializer(
            "ApiErrorDetail",
            {
                "code": serializers.IntegerField(),
                "field": serializers.CharField(),
                "message": serializers.CharField(),
                "fields": serializers.DictField(
                    child=serializers.ListField(child=serializers.CharField()), required=False
                ),
            },
        )
    },
)


class ScenarioList(StaffView, generics.ListCreateAPIView):
    page_title = _("Scenarios")
    page_summary = _("The study's negotiation scenarios; POST imports one from its scenario JSON.")

    roles = (PLANNER,)
    serializer_class = ScenarioSerializer
    parser_classes = [ScenarioDocumentParser]

    def get_queryset(self):
        return Scenario.objects.filter(study=self.study()).order_by("id")

    @extend_schema(
        description="Import a scenario JSON document (docs/contracts.md), as the planner's import page does.",
        request=SCENARIO_DOCUMENT,
        responses={
            201: ScenarioSerializer,
            400: OpenApiResponse(API_ERROR, description="Every problem of the document, under its field's path."),
        },
        parameters=[
            OpenApiParameter(
                "Location",
                str,
                OpenApiParameter.HEADER,
                response=[201],
                description="The new scenario's page in the planner's editor.",
            )
        ],
    )
    def post(self, request, slug):
        study = self.study()
        try:
            # request.data decodes the body (ScenarioDocumentParser), so its problems land here too.
            scenario = negotiation_services.scenario_import(study=study, document=request.data, user=request.user)
        except ScenarioError as error:
            raise serializers.ValidationError(presenters.scenario_problems_by_path(error)) from None
        location = request.build_absolute_uri(reverse("negotiation:edit", args=[study.slug, scenario.pk]))
        return Response(
            ScenarioSerializer(scenario).data, status=status.HTTP_201_CREATED, headers={"Location": location}
        )


class SessionStart(StaffView, APIView):
    page_title = _("Start a negotiation session")
    page_summary = _("POST runs a session on this scenario, with pins and forbids.")

    roles = (PLANNER,)

    class SessionInputSerializer(serializers.Serializer):
        pinned = serializers.ListField(child=serializers.CharField(max_length=60), required=False, max_length=500)
        forbidden = serializers.ListField(child=serializers.CharField(max_length=60), required=False, max_length=500)

    @extend_schema(request=SessionInputSerializer, responses={202: SessionSerializer})
    def post(self, request, slug, pk):
        scenario = generics.get_object_or_404(Scenario, study=self.study(), pk=pk)
        data = self.SessionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            with transaction.atomic():
                session = negotiation_services.session_start(
                    scenario=scenario,
                    user=request.user,
                    pinned=data.validated_data.get("pinned", []),
                    forbidden=data.validated_data.get("forbidden", []),
                )
        except ScenarioError as error:
            raise serializers.ValidationError({"scenario": presenters.scenario_problems(error)}) from None
        session.refresh_from_db()
        return Response(SessionSerializer(session).data, status=status.HTTP_202_ACCEPTED)


class LiveSessionSerializer(SessionSerializer):
    """A session with its seats and rounds (DESIGN "Live sessions with delegates"): `round` and
    `proposal` are the open round's; each response says who decided it (`by`)."""

    live = serializers.BooleanField()
    phase = serializers.SerializerMethodField()
    round = serializers.SerializerMethodField()
    proposal = serializers.SerializerMethodField()
    seconds_left = serializers.SerializerMethodField()
    seats = serializers.SerializerMethodField()
    rounds = serializers.SerializerMethodField()

    class Meta(SessionSerializer.Meta):
        fields = [
            *SessionSerializer.Meta.fields,
            "live",
            "phase",
            "round",
            "proposal",
            "seconds_left",
            "seats",
            "rounds",
        ]

    def _table(self, obj) -> dict | None:
        if not obj.live:
            return None
        if not hasattr(self, "_tables"):
            self._tables = {}
        if obj.pk not in self._tables:
            self._tables[obj.pk] = live.live_table(obj)
        return self._tables[obj.pk]

    def get_phase(self, obj) -> str | None:
        table = self._table(obj)
        return table["state"].phase if table else None

    def get_round(self, obj) -> int | None:
        table = self._table(obj)
        return table["round"] if table and table["open"] else None

    def get_proposal(self, obj) -> list[str] | None:
        number = self.get_round(obj)
        if number is None:
            return None
        current = next((r for r in obj.rounds.all() if r.number == number), None)
        return list(current.proposal) if current else None

    def get_seconds_left(self, obj) -> int | None:
        table = self._table(obj)
        return table["seconds_left"] if table else None

    def get_seats(self, obj) -> list[dict]:
        table = self._table(obj)
        if not table:
            return []
        return [{"group": s["group"], "kind": s["kind"], "responded": s["responded"]} for s in table["seats"]]

    def get_rounds(self, obj) -> list[dict]:
        return [r.as_document() for r in obj.rounds.all()]


class SessionDetail(StaffView, generics.RetrieveAPIView):
    """A session for the planner of its study, or for a delegate of this very session."""

    page_title = _("Negotiation session")
    page_summary = _("A session for the planner of its study, or for a delegate of this very session.")

    authentication_classes = [*STAFF_AUTH, DelegateAuthentication]
    permission_classes = [permissions.AllowAny]
    roles = (PLANNER,)
    serializer_class = LiveSessionSerializer

    def get_object(self):
        sessions = NegotiationSession.objects.select_related("outcome").prefetch_related("rounds")
        seat = self.request.auth if isinstance(self.request.auth, Seat) else None
        if seat is not None:
            session = generics.get_object_or_404(
                sessions, pk=self.kwargs["pk"], scenario__study__slug=self.kwargs["slug"], seats=seat
            )
        elif self.request.user.is_authenticated:
            session = generics.get_object_or_404(sessions, scenario__study=self.study(), pk=self.kwargs["pk"])
        else:
            raise NotAuthenticated()
        if session.live and not session.is_finished:
            live.live_check(session=session)
        return session


class IsDelegate(permissions.BasePermission):
    message = "Give the delegate token as: Authorization: Delegate <token>."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, Seat)


class SessionResponses(APIView):
    """A delegate's answer for its group in the open round of its session."""

    page_title = _("Delegate answer")
    page_summary = _("A delegate's answer for its group in the open round of its session.")

    authentication_classes = [DelegateAuthentication]
    permission_classes = [IsDelegate]

    class ResponseInputSerializer(serializers.Serializer):
        round = serializers.IntegerField(min_value=1, max_value=10_000)
        accept = serializers.BooleanField()
        concession = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1e6)
        reason = serializers.CharField(required=False, allow_blank=True, max_length=live.REASON_MAX)

    class ResponseOutputSerializer(serializers.Serializer):
        round = serializers.IntegerField()
        group = serializers.CharField()
        by = serializers.CharField()
        response = serializers.DictField()

    @extend_schema(request=ResponseInputSerializer, responses=ResponseOutputSerializer)
    def post(self, request, slug, pk):
        seat = request.auth
        if seat.session_id != pk or seat.session.scenario.study.slug != slug:
            raise Http404
        data = self.ResponseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            response = live.live_respond(
                seat=seat,
                round_number=values["round"],
                accept=values["accept"],
                concession=values.get("concession"),
                reason=values.get("reason", ""),
            )
        except live.LiveError as error:
            return Response(
                {"error": {"code": error.status, "field": error.field, "message": str(error)}}, status=error.status
            )
        return Response(
            self.ResponseOutputSerializer(
                {"round": response.round, "group": response.group, "by": response.by, "response": response.data}
            ).data
        )


# --- exports -----------------------------------------------------------------------------------


class ExportSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExportJob
        fields = ["id", "status", "progress", "size", "created_at", "finished_at", "expires_at", "error"]


class ExportList(StaffView, generics.ListCreateAPIView):
    """A researcher's own exports of the study; POST requests a new one."""

    page_title = _("Exports")
    page_summary = _("A researcher's own exports of the study; POST requests a new one.")

    roles = (RESEARCHER,)
    serializer_class = ExportSerializer

    def get_queryset(self):
        return ExportJob.objects.for_requester(study=self.study(), user=self.request.user)

    @extend_schema(request=None, responses={202: ExportSerializer})
    def post(self, request, slug):
        study = self.study()
        with transaction.atomic():
            job = export_services.export_request(study=study, user=request.user, via="api")
        job.refresh_from_db()
        return Response(ExportSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ExportDetail(StaffView, generics.RetrieveAPIView):
    page_title = _("Export")
    page_summary = _("One of your exports and its status.")

    roles = (RESEARCHER,)
    serializer_class = ExportSerializer

    def get_object(self):
        return generics.get_object_or_404(
            ExportJob, study=self.study(), requested_by=self.request.user, pk=self.kwargs["pk"]
        )


class ExportDownload(StaffView, APIView):
    page_title = _("Export download")
    page_summary = _("The export's zip file, for the researcher who asked for it.")

    roles = (RESEARCHER,)

    @extend_schema(responses={(200, "application/zip"): bytes})
    def get(self, request, slug, pk):
        try:
            job = export_download.export_download_authorise(user=request.user, slug=slug, job_id=pk)
        except export_download.DownloadDenied as denied:
            if denied.status == 410:
                return Response(
                    {"error": {"code": 410, "field": "", "message": "This export has expired or was deleted."}},
                    status=410,
                )
            raise Http404 from None
        response = FileResponse(
            job.path.open("rb"),
            as_attachment=True,
            filename=export_download.export_download_name(job),
            content_type="application/zip",
        )
        response["Cache-Control"] = "no-store, private"
        return response


def view_name(view) -> str:
    """The browsable API's title of a view, in the reader's language (REST_FRAMEWORK
    VIEW_NAME_FUNCTION); DRF's default for views without one."""
    title = getattr(view, "page_title", None)
    return str(title) if title else get_view_name(view)


def view_description(view, html: bool = False) -> str:
    """The browsable API's description of a view, in the reader's language."""
    summary = getattr(view, "page_summary", None)
    if not summary:
        return get_view_description(view, html)
    return format_html("<p>{}</p>", summary) if html else str(summary)
