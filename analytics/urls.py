from django.urls import path

from . import views

app_name = "analytics"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("analyse/", views.analyse, name="analyse"),
    path("progress/", views.progress, name="progress"),
    path("csv/<slug:key>.csv", views.chart_csv, name="csv"),
    path("glossary/", views.glossary, name="glossary"),
    path("brief/", views.brief, name="brief"),
]
