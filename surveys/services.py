"""Writes to the survey: invitations, the resident's journey and every answer.

Every answer goes through `_answer_upsert`, one INSERT … ON CONFLICT statement, so repeated and
concurrent saves of the same question leave exactly one row holding the latest value. Answers are
written in the request, never through a task queue.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from . import errors
from .errors import SurveyError
from .models import (
    Comment,
    Completion,
    Criterion,
    Group,
    Invitation,
    Participant,
    Priority,
    Ranking,
    Rating,
    Site,
    Study,
    Wave,
)
from .tokens import token_generate, token_hash

COMMENT_MAX_CHARS = 5000


# --- invitations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    token: str

    @property
    def path(self) -> str:
        return f"/i/{self.token}/"


def invitations_create(
    *, study: Study, count: int, ttl_days: int | None = None, label: str = ""
) -> list[IssuedInvitation]:
    """Creates `count` invitations, each with its own participant. The raw tokens are returned
    once and never stored."""
    if count < 1 or count > 100_000:
        raise ValueError("count must be between 1 and 100000")
    ttl = timedelta(days=ttl_days or settings.INVITATION_TTL_DAYS)
    issued = []
    with transaction.atomic():
        for _ in range(count):
            token = token_generate()
            participant = Participant.objects.create(study=study)
            invitation = Invitation.objects.create(
                study=study,
                participant=participant,
                token_hash=token_hash(token),
                expires_at=timezone.now() + ttl,
                label=label,
            )
            issued.append(IssuedInvitation(invitation=invitation, token=token))
    return issued


def open_study_get(*, slug: str) -> Study:
    """The study behind an open link, if it takes open sign-ups."""
    study = Study.objects.filter(slug=slug, open_signup=True).first()
    if study is None:
        raise SurveyError(errors.OPEN_LINK_UNKNOWN, status=404)
    return study


def open_link_join(*, study_slug: str) -> IssuedInvitation:
    """A resident joins through a study's open link: a fresh participant with a personal
    invitation, so they can come back from any device exactly like an invited resident."""
    study = open_study_get(slug=study_slug)
    if not study.is_open:
        raise SurveyError(errors.STUDY_CLOSED, status=403)
    return invitations_create(study=study, count=1, label="open link")[0]


def invitation_resolve(*, token: str) -> Invitation:
    """Finds the invitation behind a raw token, or raises a SurveyError saying why not."""
    invitation = (
        Invitation.objects.select_related("study", "participant").filter(token_hash=token_hash(token or "")).first()
    )
    if invitation is None:
        raise SurveyError(errors.INVITATION_UNKNOWN, status=404)
    if invitation.is_expired:
        raise SurveyError(errors.INVITATION_EXPIRED, status=410)
    if invitation.used_at is not None:
        raise SurveyError(errors.INVITATION_USED, status=410)
    if not invitation.study.is_open:
        raise SurveyError(errors.STUDY_CLOSED, status=403)
    if invitation.participant is None:
        with transaction.atomic():
            invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
            if invitation.participant is None:
                invitation.participant = Participant.objects.create(study=invitation.study)
                invitation.save(update_fields=["participant"])
    return invitation


# --- the resident's journey ------------------------------------------------------------------


def open_wave_get(*, study: Study) -> Wave:
    if not study.is_open:
        raise SurveyError(errors.STUDY_CLOSED, status=403)
    wave = study.current_wave()
    if wave is None:
        raise SurveyError(errors.NO_OPEN_WAVE, status=403)
    return wave


def participant_set_language(*, participant: Participant, language: str) -> Participant:
    if language not in {code for code, _ in settings.LANGUAGES}:
        raise SurveyError(errors.UNKNOWN_LANGUAGE, field="language")
    participant.language = language
    participant.save(update_fields=["language"])
    return participant


def participant_consent(*, participant: Participant) -> Participant:
    if participant.consented_at is None:
        participant.consented_at = timezone.now()
        participant.save(update_fields=["consented_at"])
    return participant


def participant_set_groups(*, participant: Participant, group_codes: Iterable[str]) -> Participant:
    """Sets the groups a resident identifies with. Several are allowed and none is required."""
    codes = {c for c in group_codes if c}
    groups = list(Group.objects.filter(study_id=participant.study_id, code__in=codes))
    unknown = codes - {g.code for g in groups}
    if unknown:
        raise SurveyError(errors.UNKNOWN_GROUP, field="groups", code=sorted(unknown)[0])
    with transaction.atomic():
        participant.groups.set(groups)
        participant.groups_answered_at = timezone.now()
        participant.save(update_fields=["groups_answered_at"])
    return participant


# --- answers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SaveResult:
    saved: bool  # False when a newer answer (higher client_seq) was already stored

    @property
    def stale(self) -> bool:
        return not self.saved


def _client_seq(value) -> int:
    """Orders saves of one question. Without a client counter, arrival time in microseconds
    makes the latest request win."""
    if value in (None, ""):
        return time.time_ns() // 1000
    try:
        seq = int(value)
    except (TypeError, ValueError):
        raise SurveyError(errors.CLIENT_SEQ_INVALID, field="client_seq") from None
    if seq < 0 or seq > 2**62:
        raise SurveyError(errors.CLIENT_SEQ_INVALID, field="client_seq")
    return seq


def _answer_upsert(
    model,
    *,
    keys: Mapping[str, object],
    values: Mapping[str, object],
    seq: int,
    lookups: Mapping[str, tuple[type, Mapping[str, object]]] | None = None,
) -> bool:
    """INSERT … SELECT … ON CONFLICT (keys) DO UPDATE … WHERE the stored client_seq is not newer.

    Both PostgreSQL and SQLite run this as one atomic statement, so concurrent identical saves
    collapse into one row and the highest client_seq wins. `lookups` resolves key columns inside the
    same statement (e.g. a site by study and code), which saves a query per answer on the hot path.
    Returns False when nothing was written: a stale save, or a lookup that matched nothing."""
    meta = model._meta
    qn = connection.ops.quote_name
    row = {**keys, **values, "client_seq": seq, "updated_at": timezone.now()}
    columns, selects, params = [], [], []
    for name, value in row.items():
        field = meta.get_field(name)
        columns.append(qn(field.column))
        selects.append("%s")
        params.append(field.get_db_prep_save(value, connection))
    tables, where, where_params = [], [], []
    for i, (name, (target, filters)) in enumerate((lookups or {}).items()):
        alias = f"l{i}"
        columns.append(qn(meta.get_field(name).column))
        selects.append(f"{alias}.{qn('id')}")
        tables.append(f"{qn(target._meta.db_table)} {alias}")
        for column, value in filters.items():
            where.append(f"{alias}.{qn(column)} = %s")
            where_params.append(value)
    key_columns = [qn(meta.get_field(k).column) for k in [*keys, *(lookups or {})]]
    updates = [c for c in columns if c not in key_columns]
    table = qn(meta.db_table)
    source = f" FROM {', '.join(tables)} WHERE {' AND '.join(where)}" if tables else ""
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(selects)}{source} "
        f"ON CONFLICT ({', '.join(key_columns)}) DO UPDATE SET "
        + ", ".join(f"{c} = EXCLUDED.{c}" for c in updates)
        + f" WHERE {table}.{qn('client_seq')} <= EXCLUDED.{qn('client_seq')} RETURNING 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params + where_params)
        return cursor.fetchone() is not None


def consent_check(*, participant: Participant) -> None:
    if participant.consented_at is None:
        raise SurveyError(errors.CONSENT_REQUIRED, field="consent", status=403)


def _criterion_get(*, study: Study, name: str, kind: str) -> Criterion:
    criterion = Criterion.objects.filter(study=study, name=name or "", kind=kind).first()
    if criterion is None:
        raise SurveyError(errors.UNKNOWN_CRITERION, field="criterion", code=name or "")
    return criterion


def rating_save(
    *, participant: Participant, wave: Wave, site_code: str, criterion_name: str, value, client_seq=None
) -> SaveResult:
    study = participant.study
    consent_check(participant=participant)
    scale = {"min": study.scale_min, "max": study.scale_max}
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise SurveyError(errors.RATING_NOT_A_NUMBER, field="value", **scale) from None
    if not study.scale_min <= number <= study.scale_max:
        raise SurveyError(errors.RATING_OUT_OF_SCALE, field="value", **scale)
    site_code, criterion_name = str(site_code or ""), str(criterion_name or "")
    # The site and criterion are resolved inside the upsert; only when nothing was written do we
    # look them up one by one, to say which was unknown or that the save was stale.
    saved = _answer_upsert(
        Rating,
        keys={"participant": participant.pk, "wave": wave.pk},
        values={"value": number},
        seq=_client_seq(client_seq),
        lookups={
            "site": (Site, {"study_id": study.pk, "code": site_code}),
            "criterion": (Criterion, {"study_id": study.pk, "name": criterion_name, "kind": Criterion.Kind.RATING}),
        },
    )
    if not saved:
        if not Site.objects.filter(study=study, code=site_code).exists():
            raise SurveyError(errors.UNKNOWN_SITE, field="site", code=site_code)
        _criterion_get(study=study, name=criterion_name, kind=Criterion.Kind.RATING)
    return SaveResult(saved=saved)


def ranking_validate(*, criterion: Criterion, order: list[str]) -> list[str]:
    expected = list(criterion.images.values_list("code", flat=True))
    if len(order) != len(expected) or set(order) != set(expected):
        raise SurveyError(errors.RANKING_NOT_PERMUTATION, field="order", n=len(expected))
    return order


def ranking_move(*, order: list[str], move: str) -> list[str]:
    """Applies one Up/Down button ("up:CODE" or "down:CODE") to an order; anything else leaves it."""
    direction, _, code = (move or "").partition(":")
    order = list(order)
    if direction not in ("up", "down") or code not in order:
        return order
    i = order.index(code)
    j = i - 1 if direction == "up" else i + 1
    if 0 <= j < len(order):
        order[i], order[j] = order[j], order[i]
    return order


def ranking_save(
    *, participant: Participant, wave: Wave, criterion_name: str, order: list[str], client_seq=None
) -> SaveResult:
    consent_check(participant=participant)
    criterion = _criterion_get(study=participant.study, name=criterion_name, kind=Criterion.Kind.RANKING)
    order = ranking_validate(criterion=criterion, order=[str(code) for code in order])
    saved = _answer_upsert(
        Ranking,
        keys={"participant": participant.pk, "wave": wave.pk, "criterion": criterion.pk},
        values={"order": order},
        seq=_client_seq(client_seq),
    )
    return SaveResult(saved=saved)


def priorities_save(
    *, participant: Participant, wave: Wave, tokens: Mapping[str, object], client_seq=None
) -> SaveResult:
    """Saves a whole allocation of priority tokens over the rating criteria, or nothing."""
    consent_check(participant=participant)
    study = participant.study
    criteria = {c.name: c for c in study.criteria.filter(kind=Criterion.Kind.RATING)}
    unknown = set(tokens) - set(criteria)
    if unknown:
        raise SurveyError(errors.UNKNOWN_CRITERION, field="tokens", code=sorted(unknown)[0])
    counts = {}
    for name in criteria:
        raw = tokens.get(name, 0)
        try:
            counts[name] = int(str(raw).strip() or 0)
        except (TypeError, ValueError):
            raise SurveyError(errors.TOKENS_NOT_NUMBERS, field=f"tokens.{name}") from None
        if counts[name] < 0:
            raise SurveyError(errors.TOKENS_NOT_NUMBERS, field=f"tokens.{name}")
    given = sum(counts.values())
    if given != study.priority_tokens:
        raise SurveyError(errors.TOKENS_WRONG_SUM, field="tokens", total=study.priority_tokens, given=given)
    seq = _client_seq(client_seq)
    saved = True
    with transaction.atomic():
        for name, count in counts.items():
            saved &= _answer_upsert(
                Priority,
                keys={"participant": participant.pk, "wave": wave.pk, "criterion": criteria[name].pk},
                values={"tokens": count},
                seq=seq,
            )
    return SaveResult(saved=saved)


def comment_save(*, participant: Participant, wave: Wave, text: str, client_seq=None) -> SaveResult:
    consent_check(participant=participant)
    text = (text or "").strip()
    if len(text) > COMMENT_MAX_CHARS:
        raise SurveyError(errors.COMMENT_TOO_LONG, field="text", max=COMMENT_MAX_CHARS)
    saved = _answer_upsert(
        Comment,
        keys={"participant": participant.pk, "wave": wave.pk},
        values={"text": text},
        seq=_client_seq(client_seq),
    )
    return SaveResult(saved=saved)


def answer_save(*, participant: Participant, wave: Wave, data: Mapping[str, object]) -> SaveResult:
    """One entry point for autosave: dispatches on `kind` (rating, ranking, priority, comment)."""
    kind = str(data.get("kind", ""))
    seq = data.get("client_seq")
    if kind == "rating":
        return rating_save(
            participant=participant,
            wave=wave,
            site_code=str(data.get("site", "")),
            criterion_name=str(data.get("criterion", "")),
            value=data.get("value"),
            client_seq=seq,
        )
    if kind == "ranking":
        order = data.get("order") or []
        if isinstance(order, str):
            order = [code for code in order.split(",") if code]
        return ranking_save(
            participant=participant,
            wave=wave,
            criterion_name=str(data.get("criterion", "")),
            order=list(order),
            client_seq=seq,
        )
    if kind == "priority":
        tokens = data.get("tokens") or {}
        if not isinstance(tokens, Mapping):
            raise SurveyError(errors.TOKENS_NOT_NUMBERS, field="tokens")
        return priorities_save(participant=participant, wave=wave, tokens=tokens, client_seq=seq)
    if kind == "comment":
        return comment_save(participant=participant, wave=wave, text=str(data.get("text", "")), client_seq=seq)
    raise SurveyError(errors.UNKNOWN_KIND, field="kind", code=kind)


def wave_finish(*, participant: Participant, wave: Wave) -> Completion:
    """Records that the participant finished the wave. Finishing twice is harmless."""
    consent_check(participant=participant)
    with transaction.atomic():
        completion, _ = Completion.objects.get_or_create(participant=participant, wave=wave)
        Invitation.objects.filter(participant=participant, used_at__isnull=True).update(used_at=timezone.now())
    return completion


def participant_withdraw(*, participant: Participant) -> None:
    """Deletes the participant and, by cascade, every answer and completion they gave. The
    invitation is kept, marked used, so the link cannot start a new participant.

    Stored analysis results were computed with their answers, so they are deleted too and a
    fresh analysis is requested; the next export leaves them out because they no longer exist.
    Pseudonym keys are never stored, so there are none to delete."""
    # Imported here: the audit log and analyses build on the survey, not the other way round.
    from analytics.models import AnalysisRun
    from analytics.services import analysis_request
    from exports.audit import Action, audit_record

    with transaction.atomic():
        Invitation.objects.filter(participant=participant).update(used_at=timezone.now())
        study = participant.study
        participant.delete()
        removed, _ = AnalysisRun.objects.filter(study=study, status=AnalysisRun.Status.DONE).delete()
        # No identifier is kept: the entry says that a participant withdrew, not who.
        audit_record(
            action=Action.PARTICIPANT_WITHDRAWN,
            study=study,
            details={"answers_deleted": True, "analysis_results_deleted": removed},
        )
        if removed:
            analysis_request(study=study, reason="a participant withdrew")
