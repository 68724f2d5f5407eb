"""The study builder's pages: a guided sequence of steps, each saved at once as a draft.

Every view fetches the study with `study_get_for_builder` (admins and the study's owners; 404
for everyone else), makes one service call and responds.
"""

from __future__ import annotations

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.site import site_url
from surveys import packages
from surveys.invitation_links import invitation_links_csv
from surveys.models import Criterion, Image, Wave
from surveys.packages import PackageError
from surveys.readiness import StudyNotReady, image_has_file, study_close, study_open, study_readiness
from surveys.services import invitations_create

from . import forms, services
from .models import Mailing
from .services import StudioError, study_get_for_builder

# The guided sequence, in order: (step key, URL name, title).
STEPS = [
    ("basics", "studio:basics", "Basics"),
    ("criteria", "studio:criteria", "Criteria"),
    ("waves", "studio:waves", "Waves"),
    ("groups", "studio:groups", "Groups"),
    ("sites", "studio:sites", "Sites"),
    ("images", "studio:images", "Images"),
    ("ranking", "studio:ranking", "Ranking sets"),
    ("people", "studio:people", "People"),
]


def _step_titles() -> dict[str, str]:
    return {
        "basics": _("Basics"),
        "criteria": _("Criteria"),
        "waves": _("Waves"),
        "groups": _("Groups"),
        "sites": _("Sites"),
        "images": _("Images"),
        "ranking": _("Ranking sets"),
        "people": _("People"),
    }


def _context(study, current: str, **extra) -> dict:
    titles = _step_titles()
    missing = study_readiness(study)
    steps = []
    for number, (key, url_name, _title) in enumerate(STEPS, start=1):
        steps.append(
            {
                "key": key,
                "number": number,
                "title": titles[key],
                "url": reverse(url_name, args=[study.slug]),
                "missing": sum(1 for m in missing if m.step == key),
            }
        )
    position = next((i for i, s in enumerate(steps) if s["key"] == current), None)
    return {
        "study": study,
        "steps": steps,
        "current": current,
        "missing": missing,
        "next_step": steps[position + 1] if position is not None and position + 1 < len(steps) else None,
        **extra,
    }


def _problems_to_messages(request, problems) -> None:
    for problem in problems:
        messages.error(request, str(problem))


# --- the list of studies, a new study, an imported one ---------------------------------------


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    studies = services.studies_for_builder(request.user)
    return render(
        request,
        "studio/index.html",
        {"studies": studies, "may_create": services.may_create_study(request.user)},
    )


@login_required
def create(request: HttpRequest) -> HttpResponse:
    if not services.may_create_study(request.user):
        raise Http404("No such page")
    form = forms.CreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            study = packages.study_create(
                slug=d["slug"] or slugify(d["title_en"])[:50].strip("-"),
                title_en=d["title_en"],
                title_fr=d["title_fr"],
                owner=request.user,
            )
        except PackageError as exc:
            for problem in exc.problems:
                form.add_error("slug" if problem.field == "slug" else None, problem.message)
        else:
            messages.success(request, _("The draft study is saved. Continue with its basics."))
            return redirect("studio:basics", slug=study.slug)
    return render(request, "studio/create.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def import_package(request: HttpRequest) -> HttpResponse:
    if not services.may_create_study(request.user):
        raise Http404("No such page")
    form = forms.ImportForm(request.POST or None, request.FILES or None)
    problems = []
    if request.method == "POST" and form.is_valid():
        try:
            study = packages.study_package_import_zip(
                form.cleaned_data["package"], slug=form.cleaned_data["slug"] or None
            )
        except PackageError as exc:
            problems = [str(p) for p in exc.problems]
        else:
            services.membership_grant_owner(study=study, user=request.user)
            messages.success(request, _("The study was imported as a draft."))
            return redirect("studio:study", slug=study.slug)
    status = 400 if (form.errors or problems) else 200
    return render(request, "studio/import.html", {"form": form, "problems": problems}, status=status)


# --- the study page --------------------------------------------------------------------------


@login_required
@require_GET
def study_page(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_get_for_builder(request.user, slug)
    waves = list(Wave.objects.filter(study=study))
    return render(request, "studio/study.html", _context(study, "", waves=waves))


@login_required
@require_POST
def study_status(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_get_for_builder(request.user, slug)
    if request.POST.get("action") == "open":
        try:
            study_open(study=study)
        except StudyNotReady:
            messages.error(request, _("The study cannot open yet: the checklist below says what is missing."))
            return redirect("studio:study", slug=study.slug)
        messages.success(request, _("The study is open to residents."))
    elif request.POST.get("action") == "close":
        study_close(study=study)
        messages.success(request, _("The study is closed: residents can no longer answer."))
    return redirect("studio:study", slug=study.slug)


@login_required
@require_POST
def wave_status(request: HttpRequest, slug: str, wave_id: int) -> HttpResponse:
    wave = services.wave_get_for_builder(request.user, slug, wave_id)
    action = request.POST.get("action")
    if action == "open":
        services.wave_set_status(wave=wave, status=Wave.Status.OPEN)
        messages.success(request, _("The wave “%(name)s” is open.") % {"name": wave.name})
    elif action == "close":
        services.wave_set_status(wave=wave, status=Wave.Status.CLOSED)
        messages.success(
            request,
            _("The wave “%(name)s” is closed. You can analyse the answers now.") % {"name": wave.name},
        )
        return redirect(reverse("studio:study", args=[slug]) + "#analyse")
    return redirect("studio:study", slug=slug)


@login_required
@require_POST
def analyse(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_get_for_builder(request.user, slug)
    services.analysis_now(study=study, user=request.user)
    messages.success(request, _("The analysis is on its way; the dashboard shows its progress."))
    return redirect("analytics:dashboard", slug=study.slug)


@login_required
@require_GET
def export_package(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_get_for_builder(request.user, slug)
    response = HttpResponse(packages.study_package_bytes(study), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{study.slug}-study.zip"'
    return response


# --- the steps -------------------------------------------------------------------------------


@login_required
def basics(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_get_for_builder(request.user, slug)
    doc = packages.study_to_dict(study)
    form = forms.BasicsForm(request.POST or None, initial=forms.BasicsForm.initial_from(doc))
    if request.method == "POST" and form.is_valid():
        try:
            packages.study_part_save(study=study, part="basics", data=form.to_part())
        except PackageError as exc:
            for problem in exc.problems:
                form.add_error(forms.BasicsForm.FIELDS.get(problem.field), problem.message)
        else:
            return _saved(request, study, "basics")
    status = 400 if form.errors else 200
    return render(request, "studio/basics.html", _context(study, "basics", form=form), status=status)


def _saved(request, study, step: str) -> HttpResponse:
    messages.success(request, _("Saved."))
    if "next" in request.POST:
        context = _context(study, step)
        if context["next_step"]:
            return redirect(context["next_step"]["url"])
        return redirect("studio:study", slug=study.slug)
    return redirect(reverse(dict((k, u) for k, u, _t in STEPS)[step], args=[study.slug]))


# What each list step edits: (part of study.json, row form, template heading, intro).
LIST_STEPS = {
    "criteria": ("criteria", forms.CriterionRow),
    "waves": ("waves", forms.WaveRow),
    "groups": ("groups", forms.GroupRow),
    "sites": ("sites", forms.SiteRow),
}


def _rows_from(formset) -> tuple[list[dict], list]:
    """The items typed in, in order, and the form each came from (blank and deleted rows skipped)."""
    items, origin = [], []
    for form in formset.forms:
        if form.cleaned_data.get("DELETE") or form.is_blank():
            continue
        items.append(form.to_item())
        origin.append(form)
    return items, origin


def _attach(problems, origin, row_class, formset) -> None:
    for problem in problems:
        if problem.item is not None and 0 < problem.item <= len(origin):
            form = origin[problem.item - 1]
            form.add_error(row_class.FIELDS.get(problem.field), problem.message)
        else:
            formset._non_form_errors = formset.non_form_errors() + [problem.message]


def _list_step(request: HttpRequest, slug: str, step: str) -> HttpResponse:
    study = study_get_for_builder(request.user, slug)
    part, row_class = LIST_STEPS[step]
    formset_class = forms.row_formset(row_class)
    initial = [row_class.initial_from(item) for item in packages.study_to_dict(study)[part]]
    formset = formset_class(request.POST or None, initial=initial, prefix=part)
    if request.method == "POST" and formset.is_valid():
        items, origin = _rows_from(formset)
        try:
            packages.study_part_save(study=study, part=part, data=items)
        except PackageError as exc:
            _attach(exc.problems, origin, row_class, formset)
        else:
            return _saved(request, study, step)
    invalid = request.method == "POST"
    return render(
        request,
        f"studio/{step}.html",
        _context(study, step, formset=formset),
        status=400 if invalid else 200,
    )


@login_required
def criteria(request, slug):
    return _list_step(request, slug, "criteria")


@login_required
def waves(request, slug):
    return _list_step(request, slug, "waves")


@login_required
def groups(request, slug):
    return _list_step(request, slug, "groups")


@login_required
def sites(request, slug):
    return _list_step(request, slug, "sites")


@login_required
def images(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_get_for_builder(request.user, slug)
    doc = packages.study_to_dict(study)
    site_choices = [(s["code"], s["name"] or s["code"]) for s in doc["sites"]]
    formset_class = formset_factory_images()
    initial = [forms.ImageRow.initial_from(item) for item in doc["images"]]
    formset = formset_class(
        request.POST if request.POST.get("form") == "describe" else None,
        initial=initial,
        prefix="images",
        form_kwargs={"sites": site_choices},
    )
    upload_problems = []
    if request.method == "POST" and request.POST.get("form") == "upload":
        uploads = request.FILES.getlist("files")
        if not uploads:
            upload_problems = [_("Choose one or more image files.")]
        else:
            try:
                created = packages.images_upload(study=study, uploads=uploads)
            except PackageError as exc:
                upload_problems = [str(p) for p in exc.problems]
            else:
                matched = sum(1 for image in created if image.site_id)
                messages.success(
                    request,
                    _("%(n)d images added, %(m)d matched to a site by file name. Describe each one below.")
                    % {"n": len(created), "m": matched},
                )
                return redirect("studio:images", slug=study.slug)
    elif request.method == "POST" and formset.is_valid():
        items, origin = _rows_from(formset)
        try:
            packages.study_part_save(study=study, part="images", data=items)
        except PackageError as exc:
            _attach(exc.problems, origin, forms.ImageRow, formset)
        else:
            return _saved(request, study, "images")
    by_code = {image.code: image for image in Image.objects.filter(study=study)}
    rows = [(form, by_code.get(form.initial.get("code"))) for form in formset.forms]
    rows = [(form, image, image is not None and image_has_file(image)) for form, image in rows]
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "studio/images.html",
        _context(study, "images", formset=formset, rows=rows, upload_problems=upload_problems),
        status=status,
    )


def formset_factory_images():
    from django.forms import formset_factory

    return formset_factory(forms.ImageRow, extra=0, can_delete=True)


@login_required
def ranking(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_get_for_builder(request.user, slug)
    doc = packages.study_to_dict(study)
    criteria_rows = [c for c in doc["criteria"] if c["kind"] == Criterion.Kind.RANKING]
    chosen = {s["criterion"]: s["images"] for s in doc["ranking_sets"]}
    image_rows = list(Image.objects.filter(study=study).select_related("site").order_by("code"))
    problems = []
    if request.method == "POST":
        sets = []
        for index, criterion in enumerate(criteria_rows):
            picked = request.POST.getlist(f"set-{index}")
            order = [image.code for image in image_rows if image.code in picked]
            chosen[criterion["code"]] = order
            if order:
                sets.append({"criterion": criterion["code"], "images": order})
        try:
            packages.study_part_save(study=study, part="ranking_sets", data=sets)
        except PackageError as exc:
            labels = {c["code"]: c["label"]["en"] for c in criteria_rows}
            for problem in exc.problems:
                name = labels.get(sets[problem.item - 1]["criterion"], "") if problem.item else ""
                problems.append(f"{name}: {problem.message}" if name else problem.message)
        else:
            return _saved(request, study, "ranking")
    blocks = [
        {"index": i, "criterion": c, "chosen": set(chosen.get(c["code"], []))} for i, c in enumerate(criteria_rows)
    ]
    return render(
        request,
        "studio/ranking.html",
        _context(study, "ranking", blocks=blocks, images=image_rows, problems=problems),
        status=400 if problems else 200,
    )


@login_required
def people(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_get_for_builder(request.user, slug)
    form = forms.MembershipForm(request.POST if request.POST.get("form") == "grant" else None)
    if request.method == "POST":
        try:
            if request.POST.get("form") == "revoke":
                services.membership_revoke(
                    study=study, membership_id=_int(request.POST.get("membership")), actor=request.user
                )
                messages.success(request, _("The role was removed."))
                return redirect("studio:people", slug=study.slug)
            if form.is_valid():
                services.membership_grant(
                    study=study,
                    username=form.cleaned_data["username"],
                    role=form.cleaned_data["role"],
                    actor=request.user,
                )
                messages.success(request, _("The role was granted."))
                return redirect("studio:people", slug=study.slug)
        except StudioError as exc:
            form.add_error("username" if request.POST.get("form") == "grant" else None, exc.message)
    memberships = study.memberships.select_related("user").order_by("role", "user__username")
    return render(
        request,
        "studio/people.html",
        _context(study, "people", form=form, memberships=memberships),
        status=400 if request.method == "POST" else 200,
    )


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404("No such item") from None


# --- invitations -----------------------------------------------------------------------------


def _mailings(study):
    return list(Mailing.objects.filter(study=study).select_related("reminder")[:20])


@login_required
def invitations(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_get_for_builder(request.user, slug)
    mailings = _mailings(study)
    if request.htmx:
        return render(request, "studio/invitations.html#mailings", {"study": study, "mailings": mailings})
    return render(
        request,
        "studio/invitations.html",
        {
            "study": study,
            "links_form": forms.LinksForm(),
            "mail_form": forms.MailForm(),
            "mailings": mailings,
            "base_url": site_url(request),
        },
    )


@login_required
@require_POST
def links_csv(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_get_for_builder(request.user, slug)
    form = forms.LinksForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "studio/invitations.html",
            {"study": study, "links_form": form, "mail_form": forms.MailForm(), "mailings": _mailings(study)},
            status=400,
        )
    issued = invitations_create(study=study, count=form.cleaned_data["count"], label=form.cleaned_data["label"])
    response = HttpResponse(
        invitation_links_csv(issued, base_url=site_url(request)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{study.slug}-invitations.csv"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def send(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_get_for_builder(request.user, slug)
    form = forms.MailForm(request.POST)
    if form.is_valid():
        try:
            addresses = services.addresses_parse(form.cleaned_data["addresses"])
            services.mailing_request(study=study, addresses=addresses, base_url=site_url(request), user=request.user)
        except StudioError as exc:
            form.add_error("addresses", exc.message)
        else:
            messages.success(request, _("Sending %(n)d invitations.") % {"n": len(addresses)})
            return redirect("studio:invitations", slug=study.slug)
    return render(
        request,
        "studio/invitations.html",
        {"study": study, "links_form": forms.LinksForm(), "mail_form": form, "mailings": _mailings(study)},
        status=400,
    )


@login_required
@require_POST
def remind(request: HttpRequest, slug: str, mailing_id: int) -> HttpResponse:
    study = study_get_for_builder(request.user, slug)
    mailing = get_object_or_404(Mailing, study=study, pk=mailing_id)
    try:
        if request.POST.get("action") == "forget":
            services.mailing_forget(mailing=mailing)
            messages.success(request, _("The addresses of this batch are erased."))
        else:
            services.reminder_request(mailing=mailing, user=request.user)
            messages.success(request, _("Sending the reminder to those who have not finished."))
    except StudioError as exc:
        messages.error(request, exc.message)
    return redirect("studio:invitations", slug=study.slug)


@login_required
@require_GET
def poster(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_get_for_builder(request.user, slug)
    link = f"{site_url(request)}{reverse('surveys:join', args=[study.slug])}"
    # segno writes the SVG itself, escaping the link in its <title>; it is safe to inline.
    qr_svg = segno.make(link, error="m").svg_inline(scale=8, border=2, title=link)
    return render(request, "studio/poster.html", {"study": study, "link": link, "qr_svg": qr_svg})
