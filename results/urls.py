from django.urls import path

from . import views

app_name = "results"

urlpatterns = [
    path("", views.public, name="public"),
    path("manage/", views.manage, name="manage"),
    path("publish/", views.publish, name="publish"),
    path("unpublish/", views.unpublish, name="unpublish"),
]
