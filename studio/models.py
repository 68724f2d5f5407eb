"""Invitation mailings: a background job per batch of e-mails (and one reminder per batch).

Addresses are the only personal data Civic ever holds about residents, so they are kept only as
long as the one reminder needs them: sending the reminder erases them, and so does "Forget the
addresses". They are never exported and never shown back except as a count.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.jobs import Job
from surveys.models import Invitation, Study


class Mailing(Job):
    class Kind(models.TextChoices):
        INVITE = "invite", _("Invitations")
        REMIND = "remind", _("Reminder")

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="mailings", verbose_name=_("study"))
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.INVITE, verbose_name=_("kind"))
    reminder_of = models.OneToOneField(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="reminder", verbose_name=_("reminder of")
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    base_url = models.CharField(max_length=200, verbose_name=_("base URL"))
    total = models.PositiveIntegerField(default=0, verbose_name=_("total"))
    sent = models.PositiveIntegerField(default=0, verbose_name=_("sent"))
    addresses_erased_at = models.DateTimeField(null=True, blank=True, verbose_name=_("addresses erased at"))

    class Meta:
        verbose_name = _("mailing")
        verbose_name_plural = _("mailings")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} mailing {self.pk} of {self.study.slug}"


class MailRecipient(models.Model):
    mailing = models.ForeignKey(Mailing, on_delete=models.CASCADE, related_name="recipients", verbose_name=_("mailing"))
    address = models.EmailField(blank=True, verbose_name=_("address"))
    invitation = models.OneToOneField(
        Invitation,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="mail_recipient",
        verbose_name=_("invitation"),
    )
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))
    reminded_at = models.DateTimeField(null=True, blank=True, verbose_name=_("reminded at"))

    class Meta:
        verbose_name = _("mail recipient")
        verbose_name_plural = _("mail recipients")
        ordering = ["mailing", "id"]

    def __str__(self) -> str:
        return f"recipient {self.pk} of mailing {self.mailing_id}"
