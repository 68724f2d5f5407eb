"""The results page's reactions to events the survey announces."""

from __future__ import annotations

from django.dispatch import receiver
from django.urls import reverse
from django.utils.translation import gettext as _

from surveys.signals import done_page_links, participant_withdrawn

from .models import ResultsPage
from .services import results_mark_stale


@receiver(participant_withdrawn, dispatch_uid="results.participant_withdrawn")
def _mark_stale_after_withdrawal(sender, *, study, had_answers: bool, **kwargs) -> None:
    if had_answers:
        results_mark_stale(study=study)


@receiver(done_page_links, dispatch_uid="results.done_page_links")
def _link_from_the_thank_you_page(sender, *, study, **kwargs) -> list[dict]:
    if not ResultsPage.objects.filter(study=study, published=True).exists():
        return []
    return [{"url": reverse("results:public", args=[study.slug]), "text": _("See what we heard: the study’s results")}]
