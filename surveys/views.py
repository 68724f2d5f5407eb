"""The resident survey: server-rendered pages that HTMX improves with autosave.

Every page works without JavaScript (each form posts and moves on); with HTMX each answer is
saved the moment it changes. A resident is identified only by the participant id that the
invitation link put in their session; no URL carries another resident's ids.
"""

from __future__ import annotations

import functools
import json
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.crypto import salted_hmac
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from core import throttle

from . import errors, selectors, services
from .errors import SurveyError
from .models import Criterion, Participant, Site
from .readiness import image_has_file
from .signals import done_page_links

SESSION_KEY = "civic_participant_id"
# The language of the resident's pages, which resident_view keeps in step with the participant's,
# so the one-statement autosave can answer in it without reading the participant.
LANGUAGE_KEY = "civic_language"


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.META.get("HTTP_ACCEPT", "") or (request.content_type == "application/json")


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
    """Loads the session's participant and the study's open wave (one query), activates the
    resident's language and turns SurveyError into a clear page (or JSON) in that language."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        participant_id = request.session.get(SESSION_KEY)
        found = selectors.resident_get(participant_id=participant_id) if participant_id else None
        if found is None:
            return _error_response(request, SurveyError(errors.NOT_INVITED, status=403))
        participant, wave = found
        if participant.language:
            _activate(request, participant.language)
        try:
            services.open_wave_check(study=participant.study, wave=wave)
            return view(request, participant, wave, *args, **kwargs)
        except SurveyError as error:
            return _error_response(request, error)
        finally:
            if participant.language and request.session.get(LANGUAGE_KEY) != participant.language:
                request.session[LANGUAGE_KEY] = participant.language

    return wrapper


def resident_tag(participant: Participant) -> str:
    """An opaque tag of the signed-in participant for this browser's offline queue: answers
    queued under one participant are never replayed under another (or under a staff user)."""
    return salted_hmac("civic.offline-queue", str(participant.pk), algorithm="sha256").hexdigest()[:32]


def _page(request, template, participant, wave, step_key, *, status: int = 200, **context) -> HttpResponse:
    state = selectors.survey_state(participant=participant, wave=wave)
    step = state.step(step_key)
    closed = state.completed and not participant.study.answers_editable_until_wave_closes
    context.update(
        {
            "study": participant.study,
            "participant": participant,
            "wave": wave,
            "state": state,
            "step": step,
            "answers_closed": closed,
            "resident_tag": resident_tag(participant),
            "previous": state.previous_before(step_key) if step else None,
            "next": state.next_after(step_key) if step else None,
        }
    )
    return render(request, template, context, status=status)


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
        try:
            services.participant_set_language(participant=participant, language=request.POST.get("language", ""))
        except SurveyError as error:
            return _page(
                request,
                "surveys/language.html",
                participant,
                wave,
                "language",
                languages=settings.LANGUAGES,
                error=error,
                status=error.status,
            )
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
    error = None
    if request.method == "POST":
        chosen = set(request.POST.getlist("groups"))
        try:
            services.participant_set_groups(participant=participant, group_codes=chosen)
            return _go_next(participant, wave, "groups")
        except SurveyError as exc:
            error = exc
    else:
        chosen = set(participant.groups.values_list("code", flat=True))
    return _page(
        request,
        "surveys/groups.html",
        participant,
        wave,
        "groups",
        groups=participant.study.groups.all(),
        chosen=chosen,
        error=error,
        status=error.status if error else 200,
    )


def _rating_errors(study, criteria, posted: dict) -> dict[int, SurveyError]:
    """Checks every posted rating against the scale before anything is written."""
    problems = {}
    for criterion in criteria:
        value = posted.get(criterion.pk)
        if value in (None, ""):
            continue
        try:
            number = int(str(value).strip())
        except ValueError:
            number = None
        if number is None or not study.scale_min <= number <= study.scale_max:
            problems[criterion.pk] = SurveyError(
                errors.RATING_OUT_OF_SCALE, field=f"rating-{criterion.code}", min=study.scale_min, max=study.scale_max
            )
    return problems


@require_http_methods(["GET", "POST"])
@resident_view
def rate(request, participant, wave, site_code):
    study = participant.study
    site = Site.objects.filter(study=study, code=site_code).prefetch_related("images").first()
    if site is None:
        raise SurveyError(errors.UNKNOWN_SITE, status=404, code=site_code)
    criteria = selectors.rating_criteria(study)
    problems, error = {}, None
    if request.method == "POST":
        posted = {c.pk: request.POST.get(f"rating-{c.code}") for c in criteria}
        problems = _rating_errors(study, criteria, posted)
        if not problems:
            try:
                with transaction.atomic():
                    for criterion in criteria:
                        if posted[criterion.pk]:
                            services.rating_save(
                                participant=participant,
                                wave=wave,
                                site_code=site.code,
                                criterion_name=criterion.name,
                                value=posted[criterion.pk],
                            )
                return _go_next(participant, wave, f"rate:{site.code}")
            except SurveyError as exc:
                error = exc
        values = {pk: v for pk, v in posted.items()}
    else:
        answers = selectors.participant_answers(participant=participant, wave=wave)["ratings"]
        values = {c.pk: answers.get((site.id, c.id)) for c in criteria}

    def as_int(value):
        try:
            return int(value)
        except (TypeError, ValueError):
            return None

    questions = [(c, as_int(values.get(c.pk)), problems.get(c.pk)) for c in criteria]
    image = site.primary_image
    if image is not None:
        image.shown = image_has_file(image)
    failed = error or next(iter(problems.values()), None)
    return _page(
        request,
        "surveys/rate.html",
        participant,
        wave,
        f"rate:{site.code}",
        site=site,
        image=image,
        questions=questions,
        scale=study.scale_choices(),
        error=error,
        status=failed.status if failed else 200,
    )


@require_http_methods(["GET", "POST"])
@resident_view
def rank(request, participant, wave, criterion_code):
    criterion = Criterion.objects.filter(
        study=participant.study, code=criterion_code, kind=Criterion.Kind.RANKING
    ).first()
    if criterion is None:
        raise SurveyError(errors.UNKNOWN_CRITERION, status=404, code=criterion_code)
    initial = selectors.ranking_initial_order(participant=participant, criterion=criterion)
    stored = selectors.participant_ranking(participant=participant, wave=wave, criterion=criterion)
    stale, error = False, None
    shown = stored or initial
    step_key = f"rank:{criterion.code}"
    if request.method == "POST":
        action = request.POST.get("action", "")
        posted = [c for c in request.POST.get("order", "").split(",") if c] or shown
        move = request.POST.get("move", "")
        # Only what the resident did is an answer: a move, a drag, or "Keep this order". Going on
        # without either leaves the ranking unanswered, however the images were shown.
        if action == "continue" and not move:
            return _go_next(participant, wave, step_key)
        try:
            result = services.ranking_save(
                participant=participant,
                wave=wave,
                criterion_name=criterion.name,
                order=services.ranking_move(order=posted, move=move),
                client_seq=request.POST.get("client_seq"),
                client_now=request.POST.get("client_now"),
            )
        except SurveyError as exc:
            error = exc
        else:
            if action in ("continue", "keep"):
                return _go_next(participant, wave, step_key)
            if not request.htmx:
                return redirect(f"{request.path}#item-{move.partition(':')[2]}" if move else request.path)
            stale = result.stale
        # After a stale save this is the newer order another tab stored, which is what to show.
        stored = selectors.participant_ranking(participant=participant, wave=wave, criterion=criterion)
        shown = stored or initial
    images = {img.code: img for img in criterion.images.select_related("site")}
    for img in images.values():
        img.shown = image_has_file(img)  # a missing file shows its alt text, never a 500
    context = {
        "criterion": criterion,
        "items": [images[c] for c in shown if c in images],
        "order": ",".join(shown),
        "stale": stale,
        "is_saved": stored is not None,
        "error": error,
    }
    status = error.status if error else 200
    if request.htmx:
        state = selectors.survey_state(participant=participant, wave=wave)
        context["previous"] = state.previous_before(step_key)
        return render(request, "surveys/_ranking_list.html", context, status=status)
    return _page(request, "surveys/rank.html", participant, wave, step_key, status=status, **context)


@require_http_methods(["GET", "POST"])
@resident_view
def priorities(request, participant, wave):
    criteria = selectors.rating_criteria(participant.study)
    error = None
    if request.method == "POST":
        tokens = {c.name: request.POST.get(f"tokens-{c.code}", "0") for c in criteria}
        try:
            services.priorities_save(participant=participant, wave=wave, tokens=tokens)
            return _go_next(participant, wave, "priorities")
        except SurveyError as exc:
            error = exc
        rows = [(c, tokens[c.name]) for c in criteria]
    else:
        saved = selectors.participant_answers(participant=participant, wave=wave)["priorities"]
        rows = [(c, saved.get(c.id, 0)) for c in criteria]

    def count(value) -> int:
        try:
            return max(0, int(str(value).strip() or 0))
        except ValueError:
            return 0

    return _page(
        request,
        "surveys/priorities.html",
        participant,
        wave,
        "priorities",
        rows=rows,
        total=participant.study.priority_tokens,
        given=sum(count(v) for _, v in rows),
        error=error,
        status=error.status if error else 200,
    )


@require_http_methods(["GET", "POST"])
@resident_view
def comment(request, participant, wave):
    error = None
    if request.method == "POST":
        text = request.POST.get("text", "")
        try:
            services.comment_save(participant=participant, wave=wave, text=text)
            return _go_next(participant, wave, "comment")
        except SurveyError as exc:
            error = exc
    else:
        text = selectors.participant_answers(participant=participant, wave=wave)["comment"]
    return _page(
        request,
        "surveys/comment.html",
        participant,
        wave,
        "comment",
        text=text,
        max_chars=services.COMMENT_MAX_CHARS,
        error=error,
        status=error.status if error else 200,
    )


def _review(request, participant, wave, *, error: SurveyError | None = None) -> HttpResponse:
    study = participant.study
    answers = selectors.participant_answers(participant=participant, wave=wave)
    criteria = selectors.rating_criteria(study)
    scale = dict(study.scale_choices())
    sites = [
        (site, [(c, answers["ratings"].get((site.id, c.id))) for c in criteria])
        for site in selectors.participant_sites(participant)
    ]
    ranking_criteria = selectors.ranking_criteria(study)
    images = {img.code: img for img in participant.study.images.select_related("site")}
    rankings = [
        (
            c,
            [images[code] for code in answers["rankings"][c.id] if code in images]
            if c.id in answers["rankings"]
            else None,
        )
        for c in ranking_criteria
    ]
    tokens = [(c, answers["priorities"].get(c.id)) for c in criteria]
    state = selectors.survey_state(participant=participant, wave=wave)
    skipped = [s for s in state.steps if not s.answered and s.key.partition(":")[0] in ("rate", "rank", "priorities")]
    return _page(
        request,
        "surveys/review.html",
        participant,
        wave,
        "review",
        sites=sites,
        scale=scale,
        rankings=rankings,
        tokens=tokens,
        comment=answers["comment"],
        groups=participant.groups.all(),
        skipped=skipped,
        error=error,
        status=error.status if error else 200,
    )


@resident_view
def review(request, participant, wave):
    return _review(request, participant, wave)


@require_POST
@resident_view
def finish(request, participant, wave):
    try:
        services.wave_finish(participant=participant, wave=wave)
    except SurveyError as error:
        return _review(request, participant, wave, error=error)
    return redirect("surveys:done")


@resident_view
def done(request, participant, wave):
    state = selectors.survey_state(participant=participant, wave=wave)
    if not state.completed:
        return redirect(state.first_unanswered().url)
    return render(
        request,
        "surveys/done.html",
        {
            "study": participant.study,
            "participant": participant,
            "editable": participant.study.answers_editable_until_wave_closes,
            "resident_tag": resident_tag(participant),
            "links": _done_links(participant.study),
        },
    )


def _done_links(study) -> list[dict]:
    """Links other apps offer on the thank-you page (the published results), in their order."""
    links = []
    for _receiver, found in done_page_links.send(sender=type(study), study=study):
        links.extend(found or [])
    return links


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


def _answer_data(request: HttpRequest) -> dict | JsonResponse:
    """The answer posted: form fields or a JSON object (or the 400 saying why not)."""
    if request.content_type == "application/json":
        # The project's BadInputMiddleware has parsed and checked it already (`json_body`).
        data = getattr(request, "json_body", None)
        if data is None:
            try:
                data = json.loads(request.body or b"{}")
            except ValueError:
                return JsonResponse({"error": {"code": 400, "field": "", "message": "Malformed JSON."}}, status=400)
        if not isinstance(data, dict):
            return JsonResponse({"error": {"code": 400, "field": "", "message": "Expected an object."}}, status=400)
        return data
    data = request.POST.dict()
    tokens = {k.removeprefix("tokens-"): v for k, v in request.POST.items() if k.startswith("tokens-")}
    if tokens:
        data["tokens"] = tokens
    return data


def _saved_response(request: HttpRequest, result: services.SaveResult) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"saved": result.saved, "stale": result.stale})
    return render(request, "surveys/_status.html", {"saved": result.saved, "stale_message": errors.STALE_ANSWER})


# The autosave's lane (civic.lanes) marks what its handler should do with a response: send it
# (the answer was saved) or pass the request on to the full application, with the body it gives.
LANE_HEADER = "X-Civic-Lane"
LANE_SAVED = "saved"
LANE_FORWARD = "forward"
#: Set in the WSGI environ of a request the lane has tried already. Only the server can set it:
#: a header a client sends arrives as HTTP_<NAME>, never under this key.
LANE_TRIED = "civic.autosave_lane_tried"


def _one_statement(request) -> tuple[object, bool]:
    """The posted answer, its place among saves of the same question fixed (or the 400 saying
    why it cannot be read, or None without a session), and whether the one statement saved it
    (services.answer_autosave; not tried again on a request the autosave's lane has tried)."""
    participant_id = request.session.get(SESSION_KEY)
    data = _answer_data(request) if participant_id else None
    if not isinstance(data, dict):
        return data, False
    data = services.answer_on_server_clock(data)
    tried = request.META.get(LANE_TRIED)
    return data, not tried and services.answer_autosave(participant_id=participant_id, data=data)


def _saved(request) -> HttpResponse:
    """The reply to an answer the one statement saved: JSON, or the status line in the
    resident's language."""
    if not _wants_json(request) and (language := request.session.get(LANGUAGE_KEY)):
        _activate(request, language)
    return _saved_response(request, services.SaveResult(saved=True))


def _as_posted(request, data: dict) -> str:
    """The answer as the request posted it (JSON or form fields), with its place fixed."""
    if request.content_type == "application/json":
        return json.dumps(data)
    tokens = data.get("tokens") if isinstance(data.get("tokens"), dict) else {}
    fields = [(k, v) for k, v in data.items() if k != "tokens"]
    return urlencode(fields + [(f"tokens-{k}", v) for k, v in tokens.items()])


@require_POST
def answer_lane(request):
    """The autosave's lane: a rating or comment saved in the one statement, and nothing else.
    What it does not save goes on to `answer` through the full middleware, with its place among
    saves of the same question already fixed."""
    data, saved = _one_statement(request)
    if saved:
        response = _saved(request)
        response[LANE_HEADER] = LANE_SAVED
        return response
    if not isinstance(data, dict):
        return HttpResponse(status=204)  # no marker: the request goes on as it came
    response = HttpResponse(_as_posted(request, data), content_type="text/plain")
    response[LANE_HEADER] = LANE_FORWARD
    return response


@require_POST
def answer(request):
    """Autosave endpoint for one answer. Accepts form fields or a JSON body.

    A rating or a comment is first tried in one statement that also authenticates the session's
    participant, unless the autosave's lane has tried it already; anything it does not write
    takes the full path, which loads the participant and wave, saves or says why not."""
    data, saved = _one_statement(request)
    return _saved(request) if saved else _answer_checked(request, data)


@resident_view
def _answer_checked(request, participant, wave, data):
    if data is None:
        data = _answer_data(request)
    if isinstance(data, HttpResponse):
        return data
    return _saved_response(request, services.answer_save(participant=participant, wave=wave, data=data))
