from django.urls import path

from . import delegate_views

app_name = "delegate"

urlpatterns = [
    path("d/<str:token>/", delegate_views.delegate_open, name="open"),
    path("delegate/", delegate_views.delegate_page, name="page"),
    path("delegate/answer/", delegate_views.delegate_answer, name="answer"),
]
