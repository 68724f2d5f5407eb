"""Who may see what. One helper fetches a study *and* authorises it; every staff view uses it.

Study roles come only from study memberships. `is_staff` only opens the admin site (where the
model permissions decide what can be done); it grants no study data. A superuser holds every
role on every study."""

from __future__ import annotations

from django.http import Http404

from .models import Study, StudyMembership

OWNER = StudyMembership.Role.OWNER
PLANNER = StudyMembership.Role.PLANNER
RESEARCHER = StudyMembership.Role.RESEARCHER


def studies_for_user(user):
    if not user.is_authenticated:
        return Study.objects.none()
    if user.is_superuser:
        return Study.objects.all()
    return Study.objects.filter(memberships__user=user).distinct()


def user_roles(user, study: Study | None) -> set[str]:
    if not user.is_authenticated:
        return set()
    if user.is_superuser:
        return {OWNER, PLANNER, RESEARCHER, "admin"}
    return set(StudyMembership.objects.filter(user=user, study=study).values_list("role", flat=True))


def roles_by_study(user, studies) -> dict[int, set[str]]:
    """user_roles for many studies in one query: {study id: roles}."""
    ids = [study.pk for study in studies]
    if not user.is_authenticated:
        return {pk: set() for pk in ids}
    if user.is_superuser:
        return {pk: user_roles(user, None) for pk in ids}
    roles: dict[int, set[str]] = {pk: set() for pk in ids}
    for study_id, role in StudyMembership.objects.filter(user=user, study_id__in=ids).values_list("study_id", "role"):
        roles[study_id].add(role)
    return roles


def study_get_for_user(user, slug: str, *roles: str) -> Study:
    """Returns the study if the user holds one of `roles` on it (superusers hold every role).

    Raises Http404 rather than 403 so that outsiders cannot learn which studies exist."""
    study = Study.objects.filter(slug=slug).first()
    if study is None or not (user_roles(user, study) & set(roles or (PLANNER, RESEARCHER))):
        raise Http404("No such study")
    return study
