"""Planner pages for negotiation. Every view fetches the study through
``study_get_for_user(..., PLANNER)`` (staff pass; researchers and outsiders get 404), makes one
service call and responds."""

from __future__ import annotations

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.site import site_url
from surveys.permissions import PLANNER, study_get_for_user

from . import forms, live, presenters
from .bargaining import ScenarioError
from .bargaining.scenario import decode_document
from .models import NegotiationSession, Scenario, Seat
from .services import (
    ScenarioConflict,
    document_add_group,
    document_apply_suggestion,
    effects_suggest,
    group_name,
    scenario_create,
    scenario_import,
    scenario_to_document,
    scenario_update_from_document,
    session_start,
)

ERROR_BAD_BUDGET = _("budget: must be a number ≥ 0")
ERROR_NO_TITLE = _("title: give the scenario a title")
ERROR_NO_FILE = _("(document): upload a .json file or paste the scenario JSON")
ERROR_COMPARE = _("Choose two different sessions to compare.")
ERROR_ACTION = _("action: pause, resume, extend or close")


def _scenario(request, slug: str, pk: int):
    study = study_get_for_user(request.user, slug, PLANNER)
    return study, get_object_or_404(Scenario.objects.select_related("study"), pk=pk, study=study)


def _session(request, slug: str, session_id: int):
    study = study_get_for_user(request.user, slug, PLANNER)
    session = get_object_or_404(
        NegotiationSession.objects.select_related("scenario", "scenario__study"),
        pk=session_id,
        scenario__study=study,
    )
    return study, session


@login_required
@require_http_methods(["GET", "POST"])
def scenario_list(request, slug: str):
    study = study_get_for_user(request.user, slug, PLANNER)
    errors: list[str] = []
    if request.method == "POST":
        title = (request.POST.get("title") or "").strip()
        budget = forms._number(request.POST.get("budget"))
        if not title:
            errors.append(ERROR_NO_TITLE)
        if not isinstance(budget, int | float) or budget < 0:
            errors.append(ERROR_BAD_BUDGET)
        if not errors:
            try:
                scenario = scenario_create(study=study, title=title, budget=budget, user=request.user)
            except ScenarioError as exc:
                errors = presenters.scenario_problems(exc)
            else:
                messages.success(request, _("Scenario created with defaults from the survey."))
                return redirect("negotiation:edit", slug=slug, pk=scenario.pk)
    scenarios = study.scenarios.all()
    return render(
        request,
        "negotiation/scenario_list.html",
        {"study": study, "scenarios": scenarios, "errors": errors, "post": request.POST},
        status=400 if errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def scenario_import_view(request, slug: str):
    study = study_get_for_user(request.user, slug, PLANNER)
    errors: list[str] = []
    text = request.POST.get("document", "") if request.method == "POST" else ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is not None:
            text = upload.read().decode("utf-8", errors="replace")
        if not text.strip():
            errors = [ERROR_NO_FILE]
        else:
            try:
                document = _decode(text)
                scenario = scenario_import(study=study, document=document, user=request.user)
            except ScenarioError as exc:
                errors = presenters.scenario_problems(exc)
            else:
                messages.success(request, _("Imported “%(title)s”.") % {"title": scenario.title})
                return redirect("negotiation:edit", slug=slug, pk=scenario.pk)
    return render(
        request,
        "negotiation/import.html",
        {"study": study, "errors": errors, "text": text},
        status=400 if errors else 200,
    )


def _decode(text: str):
    return decode_document(text)


@login_required
@require_http_methods(["GET", "POST"])
def scenario_edit(request, slug: str, pk: int):
    study, scenario = _scenario(request, slug, pk)
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        document = forms.document_from_post(request.POST, scenario=scenario)
        version = forms._number(request.POST.get("version"), blank=0)
        try:
            if request.POST.get("add_group"):
                document_add_group(scenario=scenario, document=document, name=request.POST["add_group"])
            if request.POST.get("apply"):
                document_apply_suggestion(scenario=scenario, document=document, code=request.POST["apply"])
            scenario_update_from_document(scenario=scenario, document=document, version=version)
        except ScenarioError as exc:
            errors, status = presenters.scenario_problems(exc), 400
        except ScenarioConflict as exc:
            errors, status = [gettext(str(exc))], 409
        else:
            messages.success(request, _("Scenario saved."))
            return redirect("negotiation:edit", slug=slug, pk=scenario.pk)
    else:
        document = scenario_to_document(scenario)
    context = forms.edit_rows(scenario=scenario, document=document, errors=errors)
    run_rows = [
        {"code": i.code, "name": i.name, "cost": presenters.money(i.cost, scenario.currency)}
        for i in scenario.interventions.all()
    ]
    live_rows = [{"pk": st.pk, "label": st.group.label} for st in scenario.stakeholders.select_related("group")]
    context.update(
        study=study, scenario=scenario, sessions=scenario.sessions.all()[:5], run_rows=run_rows, live_rows=live_rows
    )
    return render(request, "negotiation/scenario_edit.html", context, status=status)


@login_required
@require_GET
def scenario_export(request, slug: str, pk: int):
    _, scenario = _scenario(request, slug, pk)
    response = JsonResponse(scenario_to_document(scenario), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="scenario-{scenario.pk}.json"'
    return response


@login_required
@require_POST
def scenario_suggest(request, slug: str, pk: int):
    _, scenario = _scenario(request, slug, pk)
    n = effects_suggest(scenario=scenario)
    messages.info(
        request,
        ngettext(
            "Suggested effects from the survey for %(n)d intervention.",
            "Suggested effects from the survey for %(n)d interventions.",
            n,
        )
        % {"n": n},
    )
    return redirect(reverse("negotiation:edit", args=[slug, scenario.pk]) + "#interventions")


@login_required
@require_POST
def session_start_view(request, slug: str, pk: int):
    _, scenario = _scenario(request, slug, pk)
    codes = list(scenario.interventions.values_list("code", flat=True))
    choice = {code: request.POST.get(f"x-{code}", "free") for code in codes}
    pinned = [c for c in codes if choice[c] == "pin"]
    forbidden = [c for c in codes if choice[c] == "forbid"]
    try:
        session = session_start(scenario=scenario, user=request.user, pinned=pinned, forbidden=forbidden)
    except ScenarioError as exc:
        for e in presenters.scenario_problems(exc):
            messages.error(request, e)
        return redirect(reverse("negotiation:edit", args=[slug, scenario.pk]) + "#run")
    return redirect("negotiation:session", slug=slug, session_id=session.pk)


def _names(study, outcome: dict | None, snapshot: dict) -> presenters.Names:
    interventions = {i.get("code"): i.get("name") for i in snapshot.get("interventions", []) if isinstance(i, dict)}
    return presenters.Names(
        outcome or {}, groups=study.groups.all(), criteria=study.criteria.all(), interventions=interventions
    )


@login_required
@require_GET
def session_detail(request, slug: str, session_id: int):
    study, session = _session(request, slug, session_id)
    if request.htmx and session.is_finished:
        # The live panel is done: reload the whole page to show the result.
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    outcome = getattr(session, "outcome", None) if session.status == "done" else None
    data = outcome.data if outcome is not None else None
    names = _names(study, data, session.snapshot)
    currency = session.snapshot.get("currency", "CAD")
    if session.live and not session.is_finished:
        live.live_check(session=session)
    table = live.live_table(session) if session.live else None
    open_round = table["round"] if table and table["open"] else None
    rounds = presenters.transcript(session.rounds.all(), names, currency, open_round=open_round)
    context = {
        "study": study,
        "session": session,
        "scenario": session.scenario,
        "rounds": rounds,
        "budget": presenters.money(session.snapshot.get("budget"), currency),
        "mediator": presenters.MEDIATOR_LABELS.get(session.snapshot.get("mediator", "nash")),
    }
    if table is not None:
        context["table"] = table
        for row in context["table"]["seats"]:
            row["label"] = names.group(row["group"])
            row["by_label"] = presenters.live_by_label(row["by"])
    if data is not None:
        context.update(
            outcome=data,
            sentences=presenters.result_sentences(data, names, currency),
            comparison=presenters.comparison_rows(data, names, currency),
            group_table=presenters.group_table(data, names),
            figure=presenters.utility_figure(data, names, scale_max=study.scale_max),
        )
    template = "negotiation/session.html#live" if request.htmx else "negotiation/session.html"
    return render(request, template, context)


@login_required
@require_GET
def session_list(request, slug: str, pk: int):
    study, scenario = _scenario(request, slug, pk)
    sessions = scenario.sessions.select_related("outcome", "started_by")
    summaries = [presenters.session_summary(s) for s in sessions]
    return render(
        request,
        "negotiation/session_list.html",
        {"study": study, "scenario": scenario, "summaries": summaries},
    )


@login_required
@require_GET
def session_compare(request, slug: str):
    study = study_get_for_user(request.user, slug, PLANNER)
    ids = [forms._number(request.GET.get(k)) for k in ("a", "b")]
    if not all(isinstance(i, int) for i in ids) or ids[0] == ids[1]:
        return render(
            request,
            "negotiation/compare.html",
            {"study": study, "error": ERROR_COMPARE},
            status=400,
        )
    found = {
        s.pk: s
        for s in NegotiationSession.objects.filter(
            pk__in=ids, scenario__study=study, status=NegotiationSession.Status.DONE
        ).select_related("outcome", "scenario")
    }
    if len(found) != 2:
        return render(
            request,
            "negotiation/compare.html",
            {"study": study, "error": ERROR_COMPARE},
            status=404,
        )
    a, b = (presenters.session_summary(found[i]) for i in ids)
    groups = list(a["package"]["utilities"])
    group_rows = [
        {"group": g, "a": a["package"]["utilities"].get(g), "b": b["package"]["utilities"].get(g)} for g in groups
    ]
    return render(
        request,
        "negotiation/compare.html",
        {"study": study, "a": a, "b": b, "group_rows": group_rows},
    )


# --- live sessions ---------------------------------------------------------------------------


def _links_page(request, study, session, issued, *, errors=(), status: int = 200):
    """The delegates' personal links and QR codes, shown this once: never cached."""
    base = site_url(request)
    links = [
        {
            "group": presenters.Names({}, groups=study.groups.all()).group(item.seat.group),
            "url": base + item.path,
            "expires": item.seat.expires_at,
            # segno writes the SVG itself, escaping the link in its <title>; safe to inline.
            "qr": segno.make(base + item.path, error="m").svg_inline(scale=5, border=2, title=base + item.path),
        }
        for item in issued
    ]
    response = render(
        request,
        "negotiation/live_links.html",
        {"study": study, "session": session, "links": links, "errors": errors},
        status=status,
    )
    add_never_cache_headers(response)
    response["Cache-Control"] = "no-store, private"
    return response


@login_required
@require_POST
def live_open_view(request, slug: str, pk: int):
    study, scenario = _scenario(request, slug, pk)
    stakeholders = list(scenario.stakeholders.select_related("group"))
    seats = {group_name(s.group): request.POST.get(f"seat-{s.pk}", "agent") or "agent" for s in stakeholders}
    try:
        session, issued = live.live_session_open(
            scenario=scenario, seats=seats, time_limit=request.POST.get("time_limit"), user=request.user
        )
    except ScenarioError as exc:
        errors = presenters.scenario_problems(exc)
    except live.LiveError as exc:
        errors = [str(exc)]
    else:
        return _links_page(request, study, session, issued)
    return _links_page(request, study, None, [], errors=errors, status=400)


def _live_session(request, slug: str, session_id: int):
    study, session = _session(request, slug, session_id)
    if not session.live:
        raise Http404
    return study, session


@login_required
@require_POST
def live_control_view(request, slug: str, session_id: int):
    _, session = _live_session(request, slug, session_id)
    action = request.POST.get("action", "")
    try:
        if action == "pause":
            live.live_pause(session=session)
        elif action == "resume":
            live.live_resume(session=session)
        elif action == "extend":
            live.live_extend(session=session, minutes=request.POST.get("minutes"))
        elif action == "close":
            live.live_close(session=session)
        else:
            raise live.LiveError(ERROR_ACTION)
    except live.LiveError as exc:
        messages.error(request, str(exc))
    return redirect("negotiation:session", slug=slug, session_id=session.pk)


@login_required
@require_POST
def live_seat_view(request, slug: str, session_id: int, seat_id: int):
    study, session = _live_session(request, slug, session_id)
    seat = get_object_or_404(Seat, pk=seat_id, session=session)
    try:
        issued = live.live_seat_change(session=session, seat=seat, kind=request.POST.get("kind", ""), user=request.user)
    except live.LiveError as exc:
        messages.error(request, str(exc))
        return redirect("negotiation:session", slug=slug, session_id=session.pk)
    if issued is not None:
        return _links_page(request, study, session, [issued])
    messages.success(request, _("The agent now answers for this group."))
    return redirect("negotiation:session", slug=slug, session_id=session.pk)
