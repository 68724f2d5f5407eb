from django.urls import path

from . import views

app_name = "negotiation"

urlpatterns = [
    path("", views.scenario_list, name="scenarios"),
    path("import/", views.scenario_import_view, name="import"),
    path("compare/", views.session_compare, name="compare"),
    path("<int:pk>/", views.scenario_edit, name="edit"),
    path("<int:pk>/export.json", views.scenario_export, name="export"),
    path("<int:pk>/suggest/", views.scenario_suggest, name="suggest"),
    path("<int:pk>/run/", views.session_start_view, name="run"),
    path("<int:pk>/sessions/", views.session_list, name="sessions"),
    path("sessions/<int:session_id>/", views.session_detail, name="session"),
]
