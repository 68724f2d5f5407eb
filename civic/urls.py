import re

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.static import serve

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    # First: the resident's pages, above all the autosave, are the requests that come most often,
    # and Django tries these patterns in order. None of them overlaps another app's.
    path("", include("surveys.urls")),
    path("staff/", views.staff_home, name="staff-home"),
    path("staff/studies/", include("studio.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("ping", views.ping, name="ping"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("studies/<slug:slug>/analytics/", include("analytics.urls")),
    path("studies/<slug:slug>/negotiation/", include("negotiation.urls")),
    path("studies/<slug:slug>/exports/", include("exports.urls")),
    path("studies/<slug:slug>/results/", include("results.urls")),
    path("", include("negotiation.delegate_urls")),
    # Survey images are public by design (residents see them without an account), so Django serves
    # the media folder itself; a deployment may put a web server in front of it instead.
    re_path(
        rf"^{re.escape(settings.MEDIA_URL.lstrip('/'))}(?P<path>images/.*)$",
        serve,
        {"document_root": settings.MEDIA_ROOT},
    ),
]
