"""The delegate's pages: a personal link opens a browser session bound to one seat (like a
resident's invitation link), then one phone-friendly page shows the open round, polls for the
table filling in, and takes the delegate's answer."""

from __future__ import annotations

import functools

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from core import throttle
from surveys.models import Criterion

from . import forms, live, presenters
from .models import Seat

SESSION_KEY = "civic_delegate"
LANGUAGE_KEY = "civic_delegate_language"
LANGUAGES = ("en", "fr")


def _activate(request: HttpRequest) -> None:
    wanted = request.GET.get("lang")
    if wanted in LANGUAGES:
        request.session[LANGUAGE_KEY] = wanted
    language = request.session.get(LANGUAGE_KEY)
    if language in LANGUAGES:
        translation.activate(language)
        request.LANGUAGE_CODE = language


def _message(request, text: str, status: int) -> HttpResponse:
    response = render(request, "negotiation/delegate_message.html", {"message": text}, status=status)
    response["Cache-Control"] = "no-store, private"
    return response


def delegate_view(view):
    """Loads the seat this browser session is bound to; the seat must still be a delegate seat
    with the same link (a replaced or renewed link ends the old browser's access)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        _activate(request)
        bound = request.session.get(SESSION_KEY) or {}
        seat = (
            Seat.objects.select_related("session", "session__scenario", "session__scenario__study")
            .filter(pk=bound.get("seat") or 0, token_hash=bound.get("hash") or "-", kind=Seat.Kind.DELEGATE)
            .first()
        )
        if seat is None or seat.is_expired:
            return _message(request, str(live.ERROR_DELEGATE_UNKNOWN), 403)
        return view(request, seat, *args, **kwargs)

    return wrapper


@never_cache
@require_GET
def delegate_open(request: HttpRequest, token: str) -> HttpResponse:
    _activate(request)
    if throttle.is_throttled(request, throttle.INVITATION_SCOPE):
        response = _message(request, str(live.ERROR_DELEGATE_UNKNOWN), 429)
        response["Retry-After"] = str(throttle.retry_after(throttle.INVITATION_SCOPE))
        return response
    try:
        seat = live.delegate_resolve(token=token)
    except live.LiveError as error:
        if error.status == 404:
            throttle.record_attempt(request, throttle.INVITATION_SCOPE)
        return _message(request, str(error), error.status)
    language = request.session.get(LANGUAGE_KEY)
    request.session.cycle_key()
    request.session[SESSION_KEY] = {"seat": seat.pk, "hash": seat.token_hash}
    if language:
        request.session[LANGUAGE_KEY] = language
    return redirect("delegate:page")


def _context(seat: Seat, *, error: str = "", posted=None) -> dict:
    session = seat.session
    live.live_check(session=session)
    study = session.scenario.study
    names = presenters.Names({}, groups=study.groups.all())
    table = live.live_table(session)
    for row in table["seats"]:
        row["label"] = names.group(row["group"])
    view = live.live_delegate_view(seat)
    labels = {c.name: c.label for c in Criterion.objects.filter(study=study, kind=Criterion.Kind.RATING)}
    interventions = {i["code"]: i["name"] for i in session.snapshot.get("interventions", [])}
    context = {
        "seat": seat,
        "group": names.group(seat.group),
        "study": study,
        "table": table,
        "view": view,
        "error": error,
        "posted": posted or {},
        "finished": session.is_finished,
        # What the page shows: when the phase or round moves on, the poll reloads the page.
        "seen": f"{table['state'].phase}-{table['round'] or 0}",
    }
    if view.get("view"):
        u = view["view"]["utility"]
        context.update(
            sentences=presenters.delegate_sentences(view["view"], labels),
            proposal=presenters.Names({}, interventions=interventions).package(view["proposal"]),
            utility={k: presenters.num(v, 2) for k, v in u.items()},
            aspiration=presenters.num(view["aspiration"], 2),
            reservation=presenters.num(view["reservation"], 2),
            suggested=presenters.num(view["suggested"], grouping=False),
            limit=presenters.num(view["limit"], grouping=False),
            answer_label=(
                None
                if view["answer"] is None
                else gettext("You accepted this proposal.")
                if view["answer"]["accept"]
                else gettext("You rejected this proposal.")
            ),
        )
        answer = view["answer"] or {}
        posted = posted or {}
        context["prefill"] = {
            "answer": posted.get("answer") or ({True: "accept", False: "reject"}.get(answer.get("accept"), "")),
            "concession": posted.get("concession") or context["suggested"],
            "reason": posted.get("reason") or answer.get("note", ""),
        }
    if session.is_finished and hasattr(session, "outcome"):
        package = session.outcome.data["package"]
        context["final"] = presenters.Names({}, interventions=interventions).package(package["interventions"])
        context["agreement"] = session.outcome.data["agreement"]
    return context


@never_cache
@require_GET
@delegate_view
def delegate_page(request: HttpRequest, seat: Seat) -> HttpResponse:
    context = _context(seat)
    if request.htmx:
        if request.GET.get("seen") != context["seen"]:
            # A new proposal, a pause or the end: the whole page changes, not only the table.
            response = HttpResponse(status=204)
            response["HX-Refresh"] = "true"
            return response
        return render(request, "negotiation/delegate.html#table", context)
    return render(request, "negotiation/delegate.html", context)


@never_cache
@require_POST
@delegate_view
def delegate_answer(request: HttpRequest, seat: Seat) -> HttpResponse:
    choice = request.POST.get("answer")
    accept = {"accept": True, "reject": False}.get(choice, choice)
    concession = forms._number(request.POST.get("concession")) if accept is False else None
    try:
        round_number = int(request.POST.get("round", ""))
    except ValueError:
        round_number = None
    try:
        live.live_respond(
            seat=seat,
            round_number=round_number,
            accept=accept,
            concession=concession,
            reason=request.POST.get("reason", ""),
        )
    except live.LiveError as error:
        return render(
            request,
            "negotiation/delegate.html",
            _context(seat, error=str(error), posted=request.POST),
            status=error.status,
        )
    return redirect(reverse("delegate:page") + "#answer")
