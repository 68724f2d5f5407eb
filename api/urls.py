from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from . import views

app_name = "api"

study = "studies/<slug:slug>/"
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("studies/", views.StudyList.as_view(), name="study-list"),
    path(study, views.StudyDetail.as_view(), name="study-detail"),
    path(study + "waves/", views.WaveList.as_view(), name="wave-list"),
    path(study + "sites/", views.SiteList.as_view(), name="site-list"),
    path(study + "criteria/", views.CriterionList.as_view(), name="criterion-list"),
    path(study + "analysis-runs/", views.AnalysisRunList.as_view(), name="analysis-run-list"),
    path(study + "analysis-runs/<int:pk>/", views.AnalysisRunDetail.as_view(), name="analysis-run-detail"),
    path(study + "scenarios/", views.ScenarioList.as_view(), name="scenario-list"),
    path(study + "scenarios/<int:pk>/sessions/", views.SessionStart.as_view(), name="session-start"),
    path(study + "sessions/<int:pk>/", views.SessionDetail.as_view(), name="session-detail"),
    path(study + "sessions/<int:pk>/responses/", views.SessionResponses.as_view(), name="session-responses"),
    path(study + "exports/", views.ExportList.as_view(), name="export-list"),
    path(study + "exports/<int:pk>/", views.ExportDetail.as_view(), name="export-detail"),
    path(study + "exports/<int:pk>/download/", views.ExportDownload.as_view(), name="export-download"),
    path("answers/", views.Answers.as_view(), name="answers"),
]
