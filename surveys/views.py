"""The resident survey: server-rendered pages that HTMX improves with autosave.

Every page works without JavaScript (each form posts and moves on); with HTMX each answer is
saved the moment it changes. A resident is identified only by the participant id that the
invitation link put in their session; no URL carries another resident's ids.
"""

from __future__ import annotations

import functools
import json

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from civic import throttle

from . import errors, selectors, services
from .errors import SurveyError
from .models import Criterion, Participant, Site

SESSION_KEY = "civic_participant_id"


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "") or (request.content_type == "application/json")


def _error_response(request: HttpRequest, error: SurveyError) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(
            {"error": {"code": error.status, "field": error.field, "message": str(error)}},
            status=error.status,
        )
    if request.htmx:
        return render(request, "surveys/_status.html", {"error": str(error)}, status=error.status)
    return render(request, "surveys/message.html", {"message": str(error)}, status=error.status)


def _activate(request: HttpRequest, language: str) -> None:
    translation.activate(language)
    request.LANGUAGE_CODE = language


def resident_view(view):
    """Loads the session's participant and the study's open wave, activates the resident's
    language and turns SurveyError into a clear page (or JSON) in that language."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        participant_id = request.session.get(SESSION_KEY)
        participant = (
            Participant.objects.select_related("study").filter(pk=participant_id).first() if participant_id else None
        )
        if participant is None:
            return _error_response(request, SurveyError(errors.NOT_INVITED, status=403))
        if participant.language:
            _activate(request, participant.language)
        try:
            wave = services.open_wave_get(study=participant.study)
            return view(request, participant, wave, *args, **kwargs)
        except SurveyError as error:
            return _error_response(request, error)

    return wrapper


def _page(request, template, participant, wave, step_key, **context) -> HttpResponse:
    state = selectors.survey_state(participant=participant, wave=wave)
    step = state.step(step_key)
    context.update(
        {
            "study": participant.study,
            "participant": participant,
            "wave": wave,
            "state": state,
            "step": step,
            "previous": state.previous_before(step_key) if step else None,
            "next": state.next_after(step_key) if step else None,
        }
    )
    return render(request, template, context)


def _go_next(participant, wave, step_key: str) -> HttpResponse:
    state = selectors.survey_state(participant=participant, wave=wave)
    nxt = state.next_after(step_key)
    return redirect(nxt.url if nxt else reverse("surveys:review"))


# --- entry -----------------------------------------------------------------------------------


def _throttled(request: HttpRequest, scope: str) -> HttpResponse | None:
    """A 429 page in the resident's language when this client has used up `scope`."""
    if not throttle.is_throttled(request, scope):
        return None
    response = _error_response(request, SurveyError(errors.TOO_MANY_ATTEMPTS, status=429))
    response["Retry-After"] = str(throttle.retry_after(scope))
    return response


def invitation_open(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = services.invitation_resolve(token=token)
    except SurveyError as error:
        # Only unknown tokens are guesses; a valid link is never refused for others' guesses.
        if error.message is errors.INVITATION_UNKNOWN:
            if refused := _throttled(request, throttle.INVITATION_SCOPE):
                return refused
            throttle.record_attempt(request, throttle.INVITATION_SCOPE)
        return _error_response(request, error)
    request.session.cycle_key()
    request.session[SESSION_KEY] = invitation.participant_id
    return redirect("surveys:resume")


@never_cache  # the POST answer shows a personal link once: no browser or proxy may keep it
@require_http_methods(["GET", "POST"])
def open_link(request: HttpRequest, slug: str) -> HttpResponse:
    """GET explains the study; POST creates a participant and shows their personal link once
    (it is never stored in clear, so this page is the only place it appears)."""
    if request.method == "POST" and (refused := _throttled(request, throttle.JOIN_SCOPE)):
        return refused
    try:
        if request.method == "GET":
            return render(request, "surveys/join.html", {"study": services.open_study_get(slug=slug)})
        issued = services.open_link_join(study_slug=slug)
    except SurveyError as error:
        return _error_response(request, error)
    throttle.record_attempt(request, throttle.JOIN_SCOPE)  # every join counts toward the per-address cap
    link = request.build_absolute_uri(issued.path)
    return render(request, "surveys/joined.html", {"study": issued.invitation.study, "link": link, "path": issued.path})


@resident_view
def resume(request, participant, wave):
    state = selectors.survey_state(participant=participant, wave=wave)
    if state.completed:
        return redirect("surveys:done")
    return redirect(state.first_unanswered().url)


@require_http_methods(["GET", "POST"])
@resident_view
def language(request, participant, wave):
    if request.method == "POST":
        services.participant_set_language(participant=participant, language=request.POST.get("language", ""))
        _activate(request, participant.language)
        response = _go_next(participant, wave, "language")
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, participant.language, samesite="Lax")
        return response
    return _page(request, "surveys/language.html", participant, wave, "language", languages=settings.LANGUAGES)


@require_http_methods(["GET", "POST"])
@resident_view
def consent(request, participant, wave):
    if request.method == "POST":
        if request.POST.get("consent") != "yes":
            return redirect("surveys:withdraw")
        services.participant_consent(participant=participant)
        return _go_next(participant, wave, "consent")
    return _page(request, "surveys/consent.html", participant, wave, "consent")


@require_http_methods(["GET", "POST"])
@resident_view
def groups(request, participant, wave):
    if request.method == "POST":
        services.participant_set_groups(participant=participant, group_codes=request.POST.getlist("groups"))
        return _go_next(participant, wave, "groups")
    chosen = set(participant.groups.values_list("code", flat=True))
    return _page(
        request,
        "surveys/groups.html",
        participant,
        wave,
        "groups",
        groups=participant.study.groups.all(),
        chosen=chosen,
    )


@require_http_methods(["GET", "POST"])
@resident_view
def rate(request, participant, wave, site_code):
    study = participant.study
    site = Site.objects.filter(study=study, code=site_code).prefetch_related("images").first()
    if site is None:
        raise SurveyError(errors.UNKNOWN_SITE, status=404, code=site_code)
    criteria = selectors.rating_criteria(study)
    if request.method == "POST":
        services.consent_check(participant=participant)
        with transaction.atomic():
            for criterion in criteria:
                value = request.POST.get(f"rating-{criterion.name}")
                if value:
                    services.rating_save(
                        participant=participant,
                        wave=wave,
                        site_code=site.code,
                        criterion_name=criterion.name,
                        value=value,
                    )
        return _go_next(participant, wave, f"rate:{site.code}")
    answers = selectors.participant_answers(participant=participant, wave=wave)["ratings"]
    questions = [(c, answers.get((site.id, c.id))) for c in criteria]
    return _page(
        request,
        "surveys/rate.html",
        participant,
        wave,
        f"rate:{site.code}",
        site=site,
        image=site.primary_image,
        questions=questions,
        scale=study.scale_choices(),
    )


@require_http_methods(["GET", "POST"])
@resident_view
def rank(request, participant, wave, criterion_name):
    criterion = Criterion.objects.filter(
        study=participant.study, name=criterion_name, kind=Criterion.Kind.RANKING
    ).first()
    if criterion is None:
        raise SurveyError(errors.UNKNOWN_CRITERION, status=404, code=criterion_name)
    default = [item.image.code for item in criterion.set_items.select_related("image")]
    stored = selectors.participant_ranking(participant=participant, wave=wave, criterion=criterion)
    stale = False
    if request.method == "POST":
        shown = [c for c in request.POST.get("order", "").split(",") if c] or stored or default
        move = request.POST.get("move", "")
        result = services.ranking_save(
            participant=participant,
            wave=wave,
            criterion_name=criterion.name,
            order=services.ranking_move(order=shown, move=move),
            client_seq=request.POST.get("client_seq"),
        )
        if request.POST.get("action") == "continue":
            return _go_next(participant, wave, f"rank:{criterion.name}")
        if not request.htmx:
            return redirect(f"{request.path}#item-{move.partition(':')[2]}" if move else request.path)
        # After a stale save this is the newer order another tab stored, which is what to show.
        stored = selectors.participant_ranking(participant=participant, wave=wave, criterion=criterion)
        stale = result.stale
    order = stored or default
    images = {img.code: img for img in criterion.images.select_related("site")}
    context = {
        "criterion": criterion,
        "items": [images[c] for c in order if c in images],
        "order": ",".join(order),
        "stale": stale,
        "is_saved": stored is not None,
    }
    if request.htmx:
        return render(request, "surveys/_ranking_list.html", context)
    return _page(request, "surveys/rank.html", participant, wave, f"rank:{criterion.name}", **context)


@require_http_methods(["GET", "POST"])
@resident_view
def priorities(request, participant, wave):
    criteria = selectors.rating_criteria(participant.study)
    if request.method == "POST":
        tokens = {c.name: request.POST.get(f"tokens-{c.name}", "0") for c in criteria}
        services.priorities_save(participant=participant, wave=wave, tokens=tokens)
        return _go_next(participant, wave, "priorities")
    saved = selectors.participant_answers(participant=participant, wave=wave)["priorities"]
    rows = [(c, saved.get(c.id, 0)) for c in criteria]
    return _page(
        request,
        "surveys/priorities.html",
        participant,
        wave,
        "priorities",
        rows=rows,
        total=participant.study.priority_tokens,
        given=sum(v for _, v in rows),
    )


@require_http_methods(["GET", "POST"])
@resident_view
def comment(request, participant, wave):
    if request.method == "POST":
        services.comment_save(participant=participant, wave=wave, text=request.POST.get("text", ""))
        return _go_next(participant, wave, "comment")
    text = selectors.participant_answers(participant=participant, wave=wave)["comment"]
    return _page(
        request, "surveys/comment.html", participant, wave, "comment", text=text, max_chars=services.COMMENT_MAX_CHARS
    )


@resident_view
def review(request, participant, wave):
    study = participant.study
    answers = selectors.participant_answers(participant=participant, wave=wave)
    criteria = selectors.rating_criteria(study)
    sites = [
        (site, [(c, answers["ratings"].get((site.id, c.id))) for c in criteria])
        for site in study.sites.order_by("order", "code")
    ]
    rankings = [(c, answers["rankings"].get(c.id)) for c in selectors.ranking_criteria(study)]
    tokens = [(c, answers["priorities"].get(c.id)) for c in criteria]
    return _page(
        request,
        "surveys/review.html",
        participant,
        wave,
        "review",
        sites=sites,
        rankings=rankings,
        tokens=tokens,
        comment=answers["comment"],
        groups=participant.groups.all(),
    )


@require_POST
@resident_view
def finish(request, participant, wave):
    services.wave_finish(participant=participant, wave=wave)
    return redirect("surveys:done")


@resident_view
def done(request, participant, wave):
    return render(request, "surveys/done.html", {"study": participant.study, "participant": participant})


@require_http_methods(["GET", "POST"])
def withdraw(request):
    participant = Participant.objects.filter(pk=request.session.get(SESSION_KEY) or 0).first()
    if participant is None:
        return _error_response(request, SurveyError(errors.NOT_INVITED, status=403))
    if participant.language:
        _activate(request, participant.language)
    if request.method == "POST":
        services.participant_withdraw(participant=participant)
        request.session.flush()
        return render(request, "surveys/withdrawn.html")
    return render(request, "surveys/withdraw.html", {"study": participant.study})


@require_POST
@resident_view
def answer(request, participant, wave):
    """Autosave endpoint for one answer. Accepts form fields or a JSON body."""
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return JsonResponse({"error": {"code": 400, "field": "", "message": "Malformed JSON."}}, status=400)
        if not isinstance(data, dict):
            return JsonResponse({"error": {"code": 400, "field": "", "message": "Expected an object."}}, status=400)
    else:
        data = request.POST.dict()
        tokens = {k.removeprefix("tokens-"): v for k, v in request.POST.items() if k.startswith("tokens-")}
        if tokens:
            data["tokens"] = tokens
    result = services.answer_save(participant=participant, wave=wave, data=data)
    if _wants_json(request):
        return JsonResponse({"saved": result.saved, "stale": result.stale})
    return render(request, "surveys/_status.html", {"saved": result.saved, "stale_message": errors.STALE_ANSWER})
