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
    path("<int:pk>/live/", views.live_open_view, name="live-open"),
    path("sessions/<int:session_id>/", views.session_detail, name="session"),
    path("sessions/<int:session_id>/live/", views.live_control_view, name="live-control"),
    path("sessions/<int:session_id>/seats/<int:seat_id>/", views.live_seat_view, name="live-seat"),
]
