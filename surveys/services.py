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
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from core.batching import Coalescer
from core.db import fetchall, fetchone

from . import errors, signals
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
    current_wave_sql,
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
    if invitation.withdrawn_at is not None or (invitation.used_at is not None and invitation.participant is None):
        raise SurveyError(errors.INVITATION_WITHDRAWN, status=410)
    if invitation.is_expired:
        raise SurveyError(errors.INVITATION_EXPIRED, status=410)
    # A link that finished the survey still opens it: the resident sees that their answers were
    # sent and may withdraw, from any device.
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


def open_wave_check(*, study: Study, wave: Wave | None) -> Wave:
    """The wave residents answer now (`study.current_wave()`), or a SurveyError saying why none."""
    if not study.is_open:
        raise SurveyError(errors.STUDY_CLOSED, status=403)
    if wave is None:
        raise SurveyError(errors.NO_OPEN_WAVE, status=403)
    return wave


def open_wave_get(*, study: Study) -> Wave:
    return open_wave_check(study=study, wave=study.current_wave())


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


CLIENT_SEQ_MAX = 2**53  # the largest whole number a browser's JavaScript counts exactly


def _whole_number(value, field: str) -> int:
    """A non-negative whole number a real device can send; anything else (text, fractions,
    infinity, NaN, true/false, absurdly large) is refused with a 400."""
    if isinstance(value, bool):
        raise SurveyError(errors.CLIENT_SEQ_INVALID, field=field)
    if isinstance(value, float):
        if not value.is_integer():  # also NaN and infinities
            raise SurveyError(errors.CLIENT_SEQ_INVALID, field=field)
        value = int(value)
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except (TypeError, ValueError, OverflowError):
        raise SurveyError(errors.CLIENT_SEQ_INVALID, field=field) from None
    if not 0 <= number <= CLIENT_SEQ_MAX:
        raise SurveyError(errors.CLIENT_SEQ_INVALID, field=field)
    return number


def _client_seq(value, client_now=None) -> int:
    """Orders saves of one question, in microseconds of the server's clock.

    Without a client counter, arrival time makes the latest request win. A client sends the
    moment of the edit (`client_seq`) and, when it sends a save later (offline replay), the moment
    of sending (`client_now`), both on its own clock: the difference places the edit on the
    server's clock whatever the device's clock says. Nothing is ever placed in the future, so a
    device with a fast clock cannot make its answer outrank every later correction."""
    now = time.time_ns() // 1000
    if value in (None, ""):
        return now
    seq = _whole_number(value, "client_seq")
    if client_now not in (None, ""):
        seq = now - max(0, _whole_number(client_now, "client_now") - seq)
    return max(0, min(seq, now))


def answer_on_server_clock(data: Mapping[str, object]) -> dict:
    """The posted answer with its place among saves of the same question fixed once, on the
    server's clock (`client_seq`, without `client_now`). A request tried first in one statement
    and then through the full path must compete with the same place in both: placed afresh, a
    save refused as stale would come back later and overwrite the newer answer. Input that is not
    a whole number is left for the full path to refuse."""
    try:
        seq = _client_seq(data.get("client_seq"), data.get("client_now"))
    except SurveyError:
        return dict(data)
    resolved = {k: v for k, v in data.items() if k != "client_now"}
    resolved["client_seq"] = seq
    return resolved


def _answer_upsert(
    model,
    *,
    keys: Mapping[str, object],
    values: Mapping[str, object],
    seq: int,
    lookups: Mapping[str, tuple[type, Mapping[str, object]]] | None = None,
    unless_finished: bool = True,
) -> bool:
    """INSERT … SELECT … ON CONFLICT (keys) DO UPDATE … WHERE the stored client_seq is not newer.

    Both PostgreSQL and SQLite run this as one atomic statement, so concurrent identical saves
    collapse into one row and the highest client_seq wins. `lookups` resolves key columns inside the
    same statement (e.g. a site by study and code), which saves a query per answer on the hot path.
    With `unless_finished`, nothing is written once the participant finished the wave (checked in
    the same statement). Returns False when nothing was written: a stale save, a lookup that
    matched nothing, or a finished wave."""
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
    if unless_finished:
        where.append(
            f"NOT EXISTS (SELECT 1 FROM {qn(Completion._meta.db_table)} done "
            f"WHERE done.{qn('participant_id')} = %s AND done.{qn('wave_id')} = %s)"
        )
        where_params += [keys["participant"], keys["wave"]]
    key_columns = [qn(meta.get_field(k).column) for k in [*keys, *(lookups or {})]]
    updates = [c for c in columns if c not in key_columns]
    table = qn(meta.db_table)
    source = f" FROM {', '.join(tables)}" if tables else ""
    source += f" WHERE {' AND '.join(where)}" if where else ""
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


def answers_closed(*, participant: Participant, wave: Wave) -> bool:
    """Finishing a wave closes its answers, unless the study lets residents edit until the wave
    closes."""
    if participant.study.answers_editable_until_wave_closes:
        return False
    return Completion.objects.filter(participant=participant, wave=wave).exists()


def answers_open_check(*, participant: Participant, wave: Wave) -> None:
    if answers_closed(participant=participant, wave=wave):
        raise SurveyError(errors.ANSWERS_CLOSED, status=409)


def _guard(participant: Participant) -> bool:
    return not participant.study.answers_editable_until_wave_closes


def _criterion_get(*, study: Study, name: str, kind: str) -> Criterion:
    criterion = Criterion.objects.filter(study=study, name=name or "", kind=kind).first()
    if criterion is None:
        raise SurveyError(errors.UNKNOWN_CRITERION, field="criterion", code=name or "")
    return criterion


def rating_save(
    *,
    participant: Participant,
    wave: Wave,
    site_code: str,
    criterion_name: str,
    value,
    client_seq=None,
    client_now=None,
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
        seq=_client_seq(client_seq, client_now),
        lookups={
            "site": (Site, {"study_id": study.pk, "code": site_code}),
            "criterion": (Criterion, {"study_id": study.pk, "name": criterion_name, "kind": Criterion.Kind.RATING}),
        },
        unless_finished=_guard(participant),
    )
    if not saved:
        answers_open_check(participant=participant, wave=wave)
        if not Site.objects.filter(study=study, code=site_code).exists():
            raise SurveyError(errors.UNKNOWN_SITE, field="site", code=site_code)
        _criterion_get(study=study, name=criterion_name, kind=Criterion.Kind.RATING)
    return SaveResult(saved=saved)


def ranking_validate(*, criterion: Criterion, order: list[str]) -> list[str]:
    expected = list(criterion.images.values_list("code", flat=True))
    if len(order) != len(expected) or set(order) != set(expected):
        raise SurveyError(errors.RANKING_NOT_PERMUTATION, field="order", n=len(expected))
    return order


RANKING_MOVES = ("up", "down", "top", "bottom")


def ranking_move(*, order: list[str], move: str) -> list[str]:
    """Applies one move button ("up:CODE", "down:CODE", "top:CODE" or "bottom:CODE") to an order;
    anything else leaves it."""
    direction, _, code = (move or "").partition(":")
    order = list(order)
    if direction not in RANKING_MOVES or code not in order:
        return order
    i = order.index(code)
    if direction in ("top", "bottom"):
        order.pop(i)
        order.insert(0 if direction == "top" else len(order), code)
        return order
    j = i - 1 if direction == "up" else i + 1
    if 0 <= j < len(order):
        order[i], order[j] = order[j], order[i]
    return order


def ranking_save(
    *,
    participant: Participant,
    wave: Wave,
    criterion_name: str,
    order: list[str],
    client_seq=None,
    client_now=None,
) -> SaveResult:
    """Saves a ranking the resident gave: an order they made, or the shown order they chose to
    keep. Showing the images is never an answer by itself."""
    consent_check(participant=participant)
    criterion = _criterion_get(study=participant.study, name=criterion_name, kind=Criterion.Kind.RANKING)
    order = ranking_validate(criterion=criterion, order=[str(code) for code in order])
    saved = _answer_upsert(
        Ranking,
        keys={"participant": participant.pk, "wave": wave.pk, "criterion": criterion.pk},
        values={"order": order},
        seq=_client_seq(client_seq, client_now),
        unless_finished=_guard(participant),
    )
    if not saved:
        answers_open_check(participant=participant, wave=wave)
    return SaveResult(saved=saved)


def priorities_save(
    *, participant: Participant, wave: Wave, tokens: Mapping[str, object], client_seq=None, client_now=None
) -> SaveResult:
    """Saves a whole allocation of priority tokens over the rating criteria, or nothing."""
    consent_check(participant=participant)
    study = participant.study
    criteria = {c.name: c for c in study.criteria.filter(kind=Criterion.Kind.RATING)}
    # A key is a criterion's name, or its code (the survey form's field names).
    names = {c.code: name for name, c in criteria.items()} | {name: name for name in criteria}
    unknown = set(tokens) - set(names)
    if unknown:
        raise SurveyError(errors.UNKNOWN_CRITERION, field="tokens", code=sorted(unknown)[0])
    tokens = {names[key]: value for key, value in tokens.items()}
    counts = {}
    for name in criteria:
        raw = tokens.get(name, 0)
        try:
            counts[name] = int(str(raw).strip() or 0)
        except (TypeError, ValueError):
            raise SurveyError(errors.TOKENS_NOT_NUMBERS, field=f"tokens.{name}", total=study.priority_tokens) from None
        if not 0 <= counts[name] <= study.priority_tokens:
            raise SurveyError(errors.TOKENS_NOT_NUMBERS, field=f"tokens.{name}", total=study.priority_tokens)
    given = sum(counts.values())
    if given != study.priority_tokens:
        raise SurveyError(errors.TOKENS_WRONG_SUM, field="tokens", total=study.priority_tokens, given=given)
    seq = _client_seq(client_seq, client_now)
    saved = True
    with transaction.atomic():
        for name, count in counts.items():
            saved &= _answer_upsert(
                Priority,
                keys={"participant": participant.pk, "wave": wave.pk, "criterion": criteria[name].pk},
                values={"tokens": count},
                seq=seq,
                unless_finished=_guard(participant),
            )
    if not saved:
        answers_open_check(participant=participant, wave=wave)
    return SaveResult(saved=saved)


def comment_save(*, participant: Participant, wave: Wave, text: str, client_seq=None, client_now=None) -> SaveResult:
    consent_check(participant=participant)
    text = (text or "").strip()
    if len(text) > COMMENT_MAX_CHARS:
        raise SurveyError(errors.COMMENT_TOO_LONG, field="text", max=COMMENT_MAX_CHARS)
    saved = _answer_upsert(
        Comment,
        keys={"participant": participant.pk, "wave": wave.pk},
        values={"text": text},
        seq=_client_seq(client_seq, client_now),
        unless_finished=_guard(participant),
    )
    if not saved:
        answers_open_check(participant=participant, wave=wave)
    return SaveResult(saved=saved)


def answer_save(*, participant: Participant, wave: Wave, data: Mapping[str, object]) -> SaveResult:
    """One entry point for autosave: dispatches on `kind` (rating, ranking, priority, comment)."""
    kind = str(data.get("kind", ""))
    seq = data.get("client_seq")
    now = data.get("client_now")
    if kind == "rating":
        return rating_save(
            participant=participant,
            wave=wave,
            site_code=str(data.get("site", "")),
            criterion_name=str(data.get("criterion", "")),
            value=data.get("value"),
            client_seq=seq,
            client_now=now,
        )
    if kind == "ranking":
        order = data.get("order") or []
        if isinstance(order, str):
            order = [code for code in order.split(",") if code]
        elif not isinstance(order, list | tuple):
            order = []  # not a list of image codes: refused below as not a permutation
        return ranking_save(
            participant=participant,
            wave=wave,
            criterion_name=str(data.get("criterion", "")),
            order=list(order),
            client_seq=seq,
            client_now=now,
        )
    if kind == "priority":
        tokens = data.get("tokens") or {}
        if not isinstance(tokens, Mapping):
            raise SurveyError(errors.TOKENS_NOT_NUMBERS, field="tokens", total=participant.study.priority_tokens)
        return priorities_save(participant=participant, wave=wave, tokens=tokens, client_seq=seq, client_now=now)
    if kind == "comment":
        return comment_save(
            participant=participant, wave=wave, text=str(data.get("text", "")), client_seq=seq, client_now=now
        )
    raise SurveyError(errors.UNKNOWN_KIND, field="kind", code=kind)


# --- the autosave hot path ---------------------------------------------------------------------
#
# An autosave arrives several times a minute from every resident. The path above costs a query for
# the participant and wave, then the upsert, then lookups when nothing was written. Here a rating or
# a comment costs one statement: the upsert also finds the participant and their study's open
# wave, and checks in its WHERE clause everything the path above checks against the database. When
# it writes nothing, the caller takes the path above, which tries again and says why.

# The checks of consent_check, open_wave_check and answers_closed, on the statement's aliases.
# `{resident}` is where the participant's id comes from.
_RESIDENT_SOURCE = (
    "{participant} p INNER JOIN {study} s ON s.{id} = p.{study_id} INNER JOIN {wave} w ON w.{id} = {current_wave}"
)
_RESIDENT_WHERE = (
    "p.{id} = {resident} AND p.{consented_at} IS NOT NULL AND s.{status} = %s AND (s.{editable} OR NOT EXISTS "
    "(SELECT 1 FROM {completion} done WHERE done.{participant_id} = p.{id} AND done.{wave_id} = w.{id}))"
)
_RATING_KEYS = ["participant_id", "wave_id", "site_id", "criterion_id"]
_fast_sql: dict[tuple[str, str], str] = {}


def _sql_names() -> dict[str, str]:
    qn = connection.ops.quote_name
    return {
        "participant": qn(Participant._meta.db_table),
        "study": qn(Study._meta.db_table),
        "wave": qn(Wave._meta.db_table),
        "completion": qn(Completion._meta.db_table),
        "site": qn(Site._meta.db_table),
        "criterion": qn(Criterion._meta.db_table),
        "current_wave": current_wave_sql(qn, f"p.{qn('study_id')}"),
        **{
            name: qn(name)
            for name in (
                *("id", "study_id", "consented_at", "status", "participant_id", "wave_id", "code", "name", "kind"),
                *("scale_min", "scale_max"),
            )
        },
        "editable": qn("answers_editable_until_wave_closes"),
    }


# A rating's site and criterion, found by code and name in the participant's study, and its value
# checked against the study's scale; `{site_code}`, `{criterion_name}` and `{value}` are where
# each comes from.
_RATING_SOURCE = (
    " INNER JOIN {site} site ON site.{study_id} = p.{study_id} AND site.{code} = {site_code}"
    " INNER JOIN {criterion} criterion ON criterion.{study_id} = p.{study_id}"
    " AND criterion.{name} = {criterion_name} AND criterion.{kind} = %s"
)
_RATING_CHECK = " AND {value} BETWEEN s.{scale_min} AND s.{scale_max}"


def _upsert_tail(table: str, keys: list[str], updates: list[str], returning: str) -> str:
    qn = connection.ops.quote_name
    return (
        f" ON CONFLICT ({', '.join(qn(c) for c in keys)}) DO UPDATE SET "
        + ", ".join(f"{qn(c)} = EXCLUDED.{qn(c)}" for c in updates)
        + f" WHERE {qn(table)}.{qn('client_seq')} <= EXCLUDED.{qn('client_seq')} RETURNING {returning}"
    )


def _fast_statement(kind: str) -> str:
    if (sql := _fast_sql.get((connection.vendor, kind))) is not None:
        return sql
    qn = connection.ops.quote_name
    names = _sql_names()
    source = "FROM " + _RESIDENT_SOURCE.format(**names)
    where = _RESIDENT_WHERE.format(**names, resident="%s")
    if kind == "rating":
        table, keys, values = Rating._meta.db_table, _RATING_KEYS, ["value"]
        selects = "p.{id}, w.{id}, site.{id}, criterion.{id}, %s".format(**names)
        source += _RATING_SOURCE.format(**names, site_code="%s", criterion_name="%s")
        where += _RATING_CHECK.format(**names, value="%s")
    else:
        table, keys, values = Comment._meta.db_table, ["participant_id", "wave_id"], ["text"]
        selects = "p.{id}, w.{id}, %s".format(**names)
    updates = [*values, "client_seq", "updated_at"]
    sql = (
        f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in [*keys, *updates])}) "
        f"SELECT {selects}, %s, %s {source} WHERE {where}"
    ) + _upsert_tail(table, keys, updates, "1")
    _fast_sql[(connection.vendor, kind)] = sql
    return sql


def _ratings_statement() -> str:
    """The rating upsert for several ratings at once (PostgreSQL): they come in as arrays, one
    element per rating, and the statement returns the position of each rating it wrote."""
    if (sql := _fast_sql.get((connection.vendor, "ratings"))) is not None:
        return sql
    qn = connection.ops.quote_name
    names = _sql_names()
    table, updates = Rating._meta.db_table, ["value", "client_seq", "updated_at"]
    given = (
        "unnest(%s::int[], %s::bigint[], %s::int[], %s::bigint[], %s::text[], %s::text[])"
        " AS given(position, participant, value, seq, site, criterion)"
    )
    source = f"FROM {given} CROSS JOIN " + _RESIDENT_SOURCE.format(**names)  # joined on by the WHERE
    source += _RATING_SOURCE.format(**names, site_code="given.site", criterion_name="given.criterion")
    where = _RESIDENT_WHERE.format(**names, resident="given.participant")
    where += _RATING_CHECK.format(**names, value="given.value")
    key_list = ", ".join(qn(c) for c in _RATING_KEYS)
    sql = (
        "WITH found AS (SELECT given.position, p.{id} AS participant_id, w.{id} AS wave_id, site.{id} AS site_id, "
        "criterion.{id} AS criterion_id, given.value, given.seq ".format(**names)
        + f"{source} WHERE {where}), "
        f"written AS (INSERT INTO {qn(table)} ({key_list}, {', '.join(qn(c) for c in updates)}) "
        f"SELECT {key_list}, value, seq, %s FROM found"
        + _upsert_tail(table, _RATING_KEYS, updates, key_list)
        + f") SELECT found.position FROM found INNER JOIN written USING ({key_list})"
    )
    _fast_sql[(connection.vendor, "ratings")] = sql
    return sql


#: PostgreSQL's integer column: a value outside it is left to the full path, which refuses it.
_INT_RANGE = range(-(2**31), 2**31)


def _ratings_save(ratings) -> list[bool | BaseException]:
    """Saves (participant_id, value, seq, site, criterion) ratings, each under every check of
    answer_save; True for each one written. Several go in one statement on PostgreSQL. Should
    that statement fail, each is tried alone, so a rating can only fail by itself."""
    wave_open, study_open, kind = Wave.Status.OPEN.value, Study.Status.OPEN.value, Criterion.Kind.RATING.value
    updated_at = connection.ops.adapt_datetimefield_value(timezone.now())

    def alone(participant_id, value, seq, site, criterion) -> bool | BaseException:
        params = [value, seq, updated_at, wave_open, site, criterion, kind, participant_id, study_open, value]
        try:
            # Running it twice is harmless (the same row, the same client_seq), so it may skip
            # the separate health check.
            return fetchone(_fast_statement("rating"), params) is not None
        except Exception as error:  # noqa: BLE001 — raised in this rating's caller (core.batching)
            return error

    if len(ratings) == 1 or connection.vendor != "postgresql":
        return [alone(*rating) for rating in ratings]
    columns = [list(column) for column in zip(*ratings, strict=True)]
    params = [list(range(len(ratings))), *columns, wave_open, kind, study_open, updated_at]
    try:
        written = {position for (position,) in fetchall(_ratings_statement(), params)}
    except DatabaseError:
        return [alone(*rating) for rating in ratings]
    return [position in written for position in range(len(ratings))]


#: Ratings saved at the same moment by the threads of this process share one statement.
_ratings = Coalescer(_ratings_save)


def answer_autosave(*, participant_id: int, data: Mapping[str, object]) -> bool:
    """Saves a rating or a comment in one statement, for the participant a resident's session
    names, with every check `answer_save` makes. True when it was written; False when nothing was
    (another kind of answer, input to refuse, a newer answer kept, answers closed...): then
    `answer_save` must run, to save it or say why not. Ratings given at the same moment by
    several residents are written together (core.batching)."""
    kind = data.get("kind")
    if kind not in ("rating", "comment") or isinstance(participant_id, bool) or not isinstance(participant_id, int):
        return False
    try:
        seq = _client_seq(data.get("client_seq"), data.get("client_now"))
    except SurveyError:
        return False
    if kind == "rating":
        try:
            value = int(str(data.get("value")).strip())
        except ValueError:
            return False
        site, criterion = str(data.get("site", "")), str(data.get("criterion", ""))
        if value not in _INT_RANGE or "\x00" in site or "\x00" in criterion:
            return False
        # Only callers outside a transaction share a statement: it commits at once, for all of them.
        saved = _ratings.submit(
            (participant_id, value, seq, site, criterion),
            key=(participant_id, site, criterion),
            share=not connection.in_atomic_block,
        )
        return saved is True
    text = str(data.get("text", "")).strip()
    if len(text) > COMMENT_MAX_CHARS:
        return False
    updated_at = connection.ops.adapt_datetimefield_value(timezone.now())
    params = [text, seq, updated_at, Wave.Status.OPEN.value, participant_id, Study.Status.OPEN.value]
    return fetchone(_fast_statement(kind), params) is not None


def answered_anything(*, participant: Participant, wave: Wave) -> bool:
    """Whether the participant gave at least one answer in the wave (a comment counts)."""
    answers = (Rating, Ranking, Priority)
    return any(m.objects.filter(participant=participant, wave=wave).exists() for m in answers) or (
        Comment.objects.filter(participant=participant, wave=wave).exclude(text="").exists()
    )


def wave_finish(*, participant: Participant, wave: Wave) -> Completion:
    """Records that the participant finished the wave. Finishing twice is harmless; finishing
    without a single answer is refused, as it would count a completion that says nothing."""
    consent_check(participant=participant)
    existing = Completion.objects.filter(participant=participant, wave=wave).first()
    if existing is not None:
        return existing
    if not answered_anything(participant=participant, wave=wave):
        raise SurveyError(errors.NOTHING_ANSWERED, field="finish")
    with transaction.atomic():
        completion, _ = Completion.objects.get_or_create(participant=participant, wave=wave)
        Invitation.objects.filter(participant=participant, used_at__isnull=True).update(used_at=timezone.now())
    return completion


def participant_withdraw(*, participant: Participant) -> None:
    """Deletes the participant and, by cascade, every answer and completion they gave. The
    invitation is kept, marked used, so the link cannot start a new participant.

    Then `participant_withdrawn` announces it (same transaction), so the apps that keep results
    computed from answers (analyses, the audit log) react without the survey knowing them.
    Pseudonym keys are never stored, so there are none to delete."""
    with transaction.atomic():
        study = participant.study
        had_answers = any(
            model.objects.filter(participant=participant).exists() for model in (Rating, Ranking, Priority)
        )
        Invitation.objects.filter(participant=participant).update(used_at=timezone.now(), withdrawn_at=timezone.now())
        participant.delete()
        signals.participant_withdrawn.send(sender=Participant, study=study, had_answers=had_answers)
