from django.urls import path

from . import views

app_name = "studio"

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.create, name="create"),
    path("import/", views.import_package, name="import"),
    path("<slug:slug>/", views.study_page, name="study"),
    path("<slug:slug>/status/", views.study_status, name="status"),
    path("<slug:slug>/analyse/", views.analyse, name="analyse"),
    path("<slug:slug>/package.zip", views.export_package, name="export"),
    path("<slug:slug>/basics/", views.basics, name="basics"),
    path("<slug:slug>/criteria/", views.criteria, name="criteria"),
    path("<slug:slug>/waves/", views.waves, name="waves"),
    path("<slug:slug>/waves/<int:wave_id>/status/", views.wave_status, name="wave-status"),
    path("<slug:slug>/groups/", views.groups, name="groups"),
    path("<slug:slug>/sites/", views.sites, name="sites"),
    path("<slug:slug>/images/", views.images, name="images"),
    path("<slug:slug>/ranking/", views.ranking, name="ranking"),
    path("<slug:slug>/people/", views.people, name="people"),
    path("<slug:slug>/invitations/", views.invitations, name="invitations"),
    path("<slug:slug>/invitations/links.csv", views.links_csv, name="links"),
    path("<slug:slug>/invitations/send/", views.send, name="send"),
    path("<slug:slug>/invitations/<int:mailing_id>/", views.remind, name="remind"),
    path("<slug:slug>/poster/", views.poster, name="poster"),
]
