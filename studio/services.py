"""The study builder's writes: who may build, memberships, opening and closing, invitations.

The study itself (basics, criteria, waves, groups, sites, images, ranking sets) is written by
`surveys.packages`, the same service `import_study` uses; opening goes through
`surveys.readiness.study_open`, which refuses a study that is not ready.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.http import Http404
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from surveys.models import Completion, Invitation, Study, StudyMembership, Wave
from surveys.permissions import OWNER, study_get_for_user
from surveys.services import invitations_create
from surveys.tokens import token_generate, token_hash

from .jobs import KIND
from .models import Mailing, MailRecipient

logger = logging.getLogger(__name__)

MAX_ADDRESSES = 5000

NO_SUCH_USER = _("No account has the user name “%(name)s”.")
ALREADY_MEMBER = _("%(name)s already holds this role.")
LAST_OWNER = _("A study keeps at least one owner.")
NO_ADDRESSES = _("Give at least one e-mail address.")
BAD_ADDRESS = _("Line %(line)d: “%(address)s” is not an e-mail address.")
TOO_MANY_ADDRESSES = _("At most %(max)d addresses at a time.")
NOT_OPEN = _("Open the study before sending invitations: residents could not answer yet.")
REMINDER_SENT = _("This batch already had its reminder.")
REMINDER_TOO_EARLY = _("Wait until the invitations of this batch have been sent.")
ADDRESSES_GONE = _("The addresses of this batch were erased; no reminder can be sent.")


class StudioError(Exception):
    def __init__(self, message, **params):
        self.message = str(message) % params if params else str(message)
        super().__init__(self.message)


# --- who may build ---------------------------------------------------------------------------


def may_create_study(user) -> bool:
    """Staff, and people who already own a study. Creating a study shows no other study's data;
    the creator becomes its owner, and sees it through that membership."""
    if not user.is_authenticated:
        return False
    return user.is_staff or StudyMembership.objects.filter(user=user, role=OWNER).exists()


def studies_for_builder(user):
    if not user.is_authenticated:
        return Study.objects.none()
    if user.is_superuser:  # `is_staff` alone grants no study (surveys/permissions.py)
        return Study.objects.all()
    return Study.objects.filter(memberships__user=user, memberships__role=OWNER).distinct()


def study_get_for_builder(user, slug: str) -> Study:
    """The study if the user is an admin or one of its owners; 404 otherwise."""
    return study_get_for_user(user, slug, OWNER)


def wave_get_for_builder(user, slug: str, wave_id: int) -> Wave:
    study = study_get_for_builder(user, slug)
    wave = Wave.objects.filter(study=study, pk=wave_id).first()
    if wave is None:
        raise Http404("No such wave")
    return wave


# --- memberships -----------------------------------------------------------------------------


def _audit(*, actor, study: Study, user_id: int, details: dict) -> None:
    from exports.services import Action, audit_record

    audit_record(action=Action.ROLE_CHANGED, actor=actor, study=study, target=f"user:{user_id}", details=details)


def membership_grant(*, study: Study, username: str, role: str, actor) -> StudyMembership:
    user = get_user_model().objects.filter(username=username.strip()).first()
    if user is None:
        raise StudioError(NO_SUCH_USER, name=username.strip())
    with transaction.atomic():
        membership, created = StudyMembership.objects.get_or_create(study=study, user=user, role=role)
        if not created:
            raise StudioError(ALREADY_MEMBER, name=user.get_username())
        _audit(actor=actor, study=study, user_id=user.pk, details={"granted": role})
    return membership


def membership_revoke(*, study: Study, membership_id: int, actor) -> None:
    with transaction.atomic():
        membership = StudyMembership.objects.select_for_update().filter(study=study, pk=membership_id).first()
        if membership is None:
            raise Http404("No such membership")
        if membership.role == OWNER and study.memberships.filter(role=OWNER).count() == 1 and not actor.is_superuser:
            raise StudioError(LAST_OWNER)
        membership.delete()
        _audit(actor=actor, study=study, user_id=membership.user_id, details={"removed": membership.role})


# --- waves -----------------------------------------------------------------------------------


def wave_set_status(*, wave: Wave, status: str) -> Wave:
    Wave.objects.filter(pk=wave.pk).update(status=status)
    wave.status = status
    return wave


def analysis_now(*, study: Study, user):
    """Requests a fresh analysis of the whole study (joining one already on its way)."""
    from analytics.services import analysis_request

    return analysis_request(
        study=study, requested_by=user, reason="requested from the study builder", reuse_active=True
    )


# --- invitations by e-mail -------------------------------------------------------------------


def addresses_parse(text: str) -> list[str]:
    """One address a line (commas and semicolons also separate); duplicates are dropped.
    Raises StudioError naming the first line that is not an address."""
    addresses, seen = [], set()
    for number, line in enumerate((text or "").splitlines(), start=1):
        for part in line.replace(";", ",").split(","):
            address = part.strip()
            if not address:
                continue
            try:
                validate_email(address)
            except ValidationError:
                raise StudioError(BAD_ADDRESS, line=number, address=address[:80]) from None
            if address.lower() not in seen:
                seen.add(address.lower())
                addresses.append(address)
    if not addresses:
        raise StudioError(NO_ADDRESSES)
    if len(addresses) > MAX_ADDRESSES:
        raise StudioError(TOO_MANY_ADDRESSES, max=MAX_ADDRESSES)
    return addresses


def mailing_request(*, study: Study, addresses: list[str], base_url: str, user) -> Mailing:
    """Records a batch of invitations to send and publishes its task once the batch commits."""
    if not study.is_open:
        raise StudioError(NOT_OPEN)
    with transaction.atomic():
        mailing = Mailing.objects.create(
            study=study, requested_by=user, base_url=base_url.rstrip("/"), total=len(addresses)
        )
        MailRecipient.objects.bulk_create(MailRecipient(mailing=mailing, address=a) for a in addresses)
        transaction.on_commit(lambda: _enqueue(mailing.pk))
    return mailing


def _unfinished(mailing: Mailing):
    """Recipients of `mailing` whose participant has not finished the study's current wave."""
    wave = mailing.study.current_wave()
    recipients = mailing.recipients.filter(sent_at__isnull=False, invitation__isnull=False).exclude(address="")
    if wave is None:
        return recipients.none()
    done = Completion.objects.filter(wave=wave).values("participant_id")
    return recipients.exclude(invitation__participant_id__in=done).exclude(invitation__used_at__isnull=False)


def reminder_request(*, mailing: Mailing, user) -> Mailing:
    """The one reminder of a batch, to those who have not finished."""
    if mailing.kind != Mailing.Kind.INVITE or mailing.status != Mailing.Status.DONE:
        raise StudioError(REMINDER_TOO_EARLY)
    if mailing.addresses_erased_at is not None:
        raise StudioError(ADDRESSES_GONE)
    with transaction.atomic():
        locked = Mailing.objects.select_for_update().get(pk=mailing.pk)
        if Mailing.objects.filter(reminder_of=locked).exists():
            raise StudioError(REMINDER_SENT)
        reminder = Mailing.objects.create(
            study=mailing.study,
            kind=Mailing.Kind.REMIND,
            reminder_of=locked,
            requested_by=user,
            base_url=mailing.base_url,
            total=_unfinished(locked).count(),
        )
        transaction.on_commit(lambda: _enqueue(reminder.pk))
    return reminder


def mailing_forget(*, mailing: Mailing) -> None:
    MailRecipient.objects.filter(mailing=mailing).update(address="")
    Mailing.objects.filter(pk=mailing.pk).update(addresses_erased_at=timezone.now())


def _enqueue(mailing_id: int) -> bool:
    return KIND.publish(mailing_id)


def mailing_pending_sweep(*, now=None) -> int:
    """Publishes again the batches the broker never received, may have lost, or whose worker
    died (see core.jobs); the all-kinds sweep does the same."""
    return KIND.sweep(now=now)


def _issue(recipient: MailRecipient, study: Study) -> str:
    """A fresh token for the recipient's invitation (creating it the first time). A reminder,
    or a send retried after a crash, replaces the token: only the newest link works, and it
    resumes the same answers."""
    if recipient.invitation_id is None:
        issued = invitations_create(study=study, count=1, label=f"mailing {recipient.mailing_id}")[0]
        recipient.invitation = issued.invitation
        recipient.save(update_fields=["invitation"])
        return issued.token
    token = token_generate()
    Invitation.objects.filter(pk=recipient.invitation_id).update(
        token_hash=token_hash(token),
        expires_at=max(recipient.invitation.expires_at, timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS)),
    )
    return token


def _send(*, study: Study, address: str, link: str, reminder: bool) -> None:
    context = {"study": study, "link": link, "reminder": reminder}
    # The message is bilingual: nobody told us which language each resident reads.
    parts = []
    for language in ("fr", "en"):
        with translation.override(language):
            parts.append(render_to_string("studio/mail/invitation.txt", {**context, "language": language}))
    with translation.override("fr"):
        subject_fr = render_to_string("studio/mail/subject.txt", context).strip()
    with translation.override("en"):
        subject_en = render_to_string("studio/mail/subject.txt", context).strip()
    send_mail(f"{subject_fr} / {subject_en}", "\n\n----\n\n".join(parts), None, [address])


def mailing_send(*, mailing_id: int, take_over: bool = False) -> Mailing:
    """Sends one batch (invitations or their reminder), writing progress as it goes. Each
    recipient is marked once mailed, so a redelivered task carries on where it stopped."""

    def send() -> None:
        mailing = Mailing.objects.select_related("study", "reminder_of").get(pk=mailing_id)
        study = mailing.study
        reminder = mailing.kind == Mailing.Kind.REMIND
        if reminder:
            recipients = list(_unfinished(mailing.reminder_of).filter(reminded_at__isnull=True))
        else:
            recipients = list(mailing.recipients.filter(sent_at__isnull=True).select_related("invitation"))
        done = mailing.total - len(recipients)
        for recipient in recipients:
            token = _issue(recipient, study)
            _send(study=study, address=recipient.address, link=f"{mailing.base_url}/i/{token}/", reminder=reminder)
            now = timezone.now()
            if reminder:
                MailRecipient.objects.filter(pk=recipient.pk).update(reminded_at=now)
            else:
                MailRecipient.objects.filter(pk=recipient.pk).update(sent_at=now)
            done += 1
            Mailing.objects.filter(pk=mailing_id).update(sent=done, progress=int(100 * done / max(mailing.total, 1)))
        if reminder:
            mailing_forget(mailing=mailing.reminder_of)
        KIND.finish(mailing_id)

    return KIND.execute(mailing_id, send, take_over=take_over)


def membership_grant_owner(*, study: Study, user) -> None:
    """Whoever imports or creates a study owns it (admins too, so the study lists them)."""
    if user.is_authenticated:
        StudyMembership.objects.get_or_create(study=study, user=user, role=OWNER)
