from django.urls import path

from . import views

app_name = "surveys"

urlpatterns = [
    # The autosave first: it comes several times a minute from every resident.
    path("survey/answer/", views.answer, name="answer"),
    path("i/<str:token>/", views.invitation_open, name="invitation"),
    path("s/<slug:slug>/", views.open_link, name="join"),
    path("survey/", views.resume, name="resume"),
    path("survey/language/", views.language, name="language"),
    path("survey/consent/", views.consent, name="consent"),
    path("survey/about-you/", views.groups, name="groups"),
    path("survey/rate/<str:site_code>/", views.rate, name="rate"),
    path("survey/rank/<str:criterion_code>/", views.rank, name="rank"),
    path("survey/priorities/", views.priorities, name="priorities"),
    path("survey/comment/", views.comment, name="comment"),
    path("survey/review/", views.review, name="review"),
    path("survey/finish/", views.finish, name="finish"),
    path("survey/done/", views.done, name="done"),
    path("survey/withdraw/", views.withdraw, name="withdraw"),
]
