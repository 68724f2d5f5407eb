"""The anonymised zip: responses in long and wide form, SPSS and Stata files, the negotiation
scenarios as pabulib files, the codebook, the README and the disagreement report.

Rows are never all in memory for the long file: on PostgreSQL the ratings travel as COPY
(copy_sql), elsewhere a chunked `.iterator()` feeds a csv writer. The wide table (one row per
participant and wave) is held while it is written, which grows with participants × waves.
Every member obeys the small-cell rule: memberships are protected (anonymity), the report is
computed from the released rows (report), and scenario votes of small groups are withheld.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.db import connection
from django.db.models import CharField, Exists, OuterRef, Q, Value
from django.db.models.functions import MD5, Cast, Concat
from django.utils import timezone

from core.csv import csv_safe
from negotiation.models import Scenario
from negotiation.services import group_name, scenario_to_document
from surveys.models import (
    Comment,
    Criterion,
    Group,
    Image,
    Participant,
    Priority,
    Ranking,
    RankingSetItem,
    Rating,
    Site,
    Study,
    Wave,
)

from .anonymity import memberships_protect, pseudonyms_make
from .copy_sql import ratings_copy
from .documents import (
    COMMENTS_COLUMNS,
    RESPONSES_COLUMNS,
    StudyDescription,
    codebook_md,
    codebook_rows,
    csv_text,
    readme_md,
)
from .formats import WideTable, dta_write, pabulib_text, sav_write, wide_csv_write
from .report import released_report

CHUNK_SIZE = 5000
COPY_CHUNK = 1 << 20
# Level 1 deflate is several times faster than the default 6 and still shrinks the CSV ~5×.
COMPRESS_LEVEL = 1
# Every member carries this date, so the archive holds no time of day.
FIXED_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass
class _Lookups:
    """Small per-study tables, already neutralised for CSV."""

    waves: list[tuple[int, str]]
    sites: dict[int, str]
    rating_criteria: dict[int, str]
    ranking_criteria: dict[int, str]
    ranking_sets: dict[int, list[str]]
    image_codes: dict[str, str]


def export_write(*, study: Study, path: Path, progress: Callable[[int], Callable] | None = None) -> dict:
    """Writes the anonymised zip of `study` to `path` and returns its summary (what was
    exported, generalised and suppressed). `progress(total)` returns a callback that is
    given the number of rows written so far.

    Every row order is drawn for this export alone (`salt`), so two exports cannot be joined
    row by row; the pseudonyms are new too."""
    salt = secrets.token_hex(16)
    description, lookups = _describe(study)
    people, generalisation = _participants(study)
    total = _rows_estimate(len(people), lookups)
    report = progress(total) if progress else (lambda done: None)
    wide = WideTable(description=description, lookups=lookups, people=people, generalisation=generalisation)

    counts = {"rating": 0, "ranking": 0, "priority": 0, "comment": 0}
    skipped = {"ranking": 0, "priority": 0}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as zf:
        with _member(zf, "responses.csv") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow([csv_safe(name) for name, _ in RESPONSES_COLUMNS])
            for wave_id, wave_name in lookups.waves:
                done = sum(counts.values())
                counts["rating"] += _ratings_write(
                    raw, text, writer, wave_id, wave_name, people, lookups, lambda n, base=done: report(base + n), salt
                )
                counts["ranking"] += _rankings_write(writer, wave_id, wave_name, people, lookups, skipped, salt, wide)
                counts["priority"] += _priorities_write(
                    writer, wave_id, wave_name, people, lookups, study.priority_tokens, skipped, salt, wide
                )
                _wide_ratings(wide, wave_id)
                report(sum(counts.values()))
            text.flush()
            text.detach()
        if study.comments_reviewed:
            counts["comment"] = _comments_write(zf, lookups, people, salt)
        table = wide.table()
        with _member(zf, "responses_wide.csv") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            wide_csv_write(text, table)
            text.flush()
            text.detach()
        with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
            for name, write in (("responses.sav", sav_write), ("responses.dta", dta_write)):
                target = Path(scratch) / name
                write(table, target)
                _write_file(zf, name, target)
        scenarios = _scenarios_write(zf, study, generalisation)
        analysis = released_report(study=study, released=generalisation.memberships, k=generalisation.k)
        summary = _summary(study, description, generalisation, people, lookups, counts, skipped)
        summary["analysis_report"] = analysis is not None
        summary["scenarios"] = scenarios
        summary["wide_columns"] = len(table.columns)
        _write_member(zf, "codebook.csv", csv_text(codebook_rows(description, table)))
        _write_member(zf, "codebook.md", codebook_md(description, table))
        _write_member(zf, "README.md", readme_md(description, summary))
        _write_member(zf, "analysis_report.json", json.dumps(analysis, ensure_ascii=False, indent=1))
    return summary


def _member(zf: zipfile.ZipFile, name: str):
    """A streamed zip member with a fixed date, like every member: the archive carries no time."""
    info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    return zf.open(info, "w", force_zip64=True)


def _write_file(zf: zipfile.ZipFile, name: str, source: Path) -> None:
    with source.open("rb") as src, _member(zf, name) as dst:
        shutil.copyfileobj(src, dst, COPY_CHUNK)


def _scenarios_write(zf: zipfile.ZipFile, study: Study, generalisation) -> list[dict]:
    """Each negotiation scenario of the study as a pabulib file (see formats.pabulib_text)."""
    written = []
    for n, scenario in enumerate(Scenario.objects.filter(study=study).order_by("id"), start=1):
        document = scenario_to_document(scenario)
        text, votes, withheld = pabulib_text(
            document, study_slug=study.slug, number=n, sizes=_group_sizes(study, generalisation), k=generalisation.k
        )
        name = f"scenarios/scenario-{n}.pb"
        _write_member(zf, name, text)
        written.append({"file": name, "title": scenario.title, "votes": votes, "withheld_votes": withheld})
    return written


def _group_sizes(study: Study, generalisation) -> dict[str, int]:
    """Consenting participants per group, before protection (what a stakeholder stands for),
    by the group's name in scenario documents."""
    sizes: dict[str, int] = {}
    for groups in generalisation.original.values():
        for g in groups:
            sizes[g] = sizes.get(g, 0) + 1
    return {group_name(g): sizes.get(g.code, 0) for g in Group.objects.filter(study=study)}


def _write_member(zf: zipfile.ZipFile, name: str, text: str) -> None:
    """Writes a small file into the zip with a fixed date, like the streamed members: the
    archive itself then carries no time of day either."""
    info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, text)


def _rows_estimate(n_people: int, lookups: _Lookups) -> int:
    """The most rows responses.csv can hold (everyone answered everything), for the progress
    bar; counting the real rows would cost a scan of the ratings before the export starts."""
    per_wave = (
        len(lookups.sites) * len(lookups.rating_criteria)
        + sum(len(codes) for codes in lookups.ranking_sets.values())
        + len(lookups.rating_criteria)
    )
    return n_people * per_wave * len(lookups.waves)


def _describe(study: Study) -> tuple[StudyDescription, _Lookups]:
    waves = list(Wave.objects.filter(study=study).order_by("order", "id").values("id", "name", "order"))
    groups = list(
        Group.objects.filter(study=study)
        .order_by("order", "code")
        .values("code", "label_en", "label_fr", "description_en", "description_fr")
    )
    criteria = list(
        Criterion.objects.filter(study=study)
        .order_by("kind", "order", "name")
        .values("id", "name", "kind", "label_en", "label_fr", "description_en", "description_fr")
    )
    sites = list(Site.objects.filter(study=study).order_by("order", "code").values("id", "code", "name"))
    images = list(
        Image.objects.filter(study=study).order_by("code").values("code", "alt_text_en", "alt_text_fr", "site__code")
    )
    ranking_sets: dict[int, list[str]] = {}
    for criterion_id, code in (
        RankingSetItem.objects.filter(criterion__study=study)
        .order_by("criterion_id", "position", "id")
        .values_list("criterion_id", "image__code")
    ):
        ranking_sets.setdefault(criterion_id, []).append(code)
    description = StudyDescription(
        slug=study.slug,
        title_en=study.title_en,
        title_fr=study.title_fr,
        description_en=study.description_en,
        description_fr=study.description_fr,
        scale_min=study.scale_min,
        scale_max=study.scale_max,
        scale_labels_en=list(study.scale_labels_en or []),
        scale_labels_fr=list(study.scale_labels_fr or []),
        priority_tokens=study.priority_tokens,
        k=study.k_anonymity,
        comments_included=study.comments_reviewed,
        waves=[{"name": w["name"], "order": w["order"]} for w in waves],
        groups=groups,
        criteria=criteria,
        sites=sites,
        images=[
            {
                "code": i["code"],
                "alt_text_en": i["alt_text_en"],
                "alt_text_fr": i["alt_text_fr"],
                "site": i["site__code"],
            }
            for i in images
        ],
    )
    lookups = _Lookups(
        waves=[(w["id"], csv_safe(w["name"])) for w in waves],
        sites={s["id"]: csv_safe(s["code"]) for s in sites},
        rating_criteria={c["id"]: csv_safe(c["name"]) for c in criteria if c["kind"] == "rating"},
        ranking_criteria={c["id"]: csv_safe(c["name"]) for c in criteria if c["kind"] == "ranking"},
        ranking_sets=ranking_sets,
        image_codes={code: csv_safe(code) for codes in ranking_sets.values() for code in codes},
    )
    return description, lookups


def _participants(study: Study):
    """Consenting participants as {id: (pseudonym, groups cell)}, after small-cell protection.

    Withdrawn participants no longer exist; participants who never consented are left out."""
    codes, memberships = consenting_memberships(study)
    generalisation = memberships_protect(memberships, study.k_anonymity)
    pseudonyms = pseudonyms_make(codes.values())
    people = {
        pid: (pseudonyms[code], csv_safe(";".join(sorted(generalisation.memberships[pid]))))
        for pid, code in codes.items()
    }
    return people, generalisation


def _wide_ratings(wide: WideTable, wave_id: int) -> None:
    """The wave's ratings into the wide table, fetched in chunks as plain tuples."""
    sql = f"SELECT participant_id, site_id, criterion_id, value FROM {Rating._meta.db_table} WHERE wave_id = %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [wave_id])
        while chunk := cursor.fetchmany(CHUNK_SIZE * 4):
            wide.ratings_add(wave_id, np.array(chunk, dtype=np.float64))


def consenting_memberships(study: Study) -> tuple[dict[int, str], dict[int, set[str]]]:
    """The consenting participants ({id: code}) and their group codes ({id: codes})."""
    codes = dict(
        Participant.objects.filter(study=study, consented_at__isnull=False).order_by("id").values_list("id", "code")
    )
    memberships: dict[int, set[str]] = {pid: set() for pid in codes}
    for pid, group_code in Participant.groups.through.objects.filter(participant_id__in=list(codes)).values_list(
        "participant_id", "group__code"
    ):
        memberships[pid].add(group_code)
    return codes, memberships


def export_preview(study: Study) -> dict:
    """What an export of the study would release now, before anyone requests it: per group how
    many memberships it would keep. A group smaller than k shows no size (only "fewer than k"),
    so the page does not single it out either."""
    _codes, memberships = consenting_memberships(study)
    protection = memberships_protect(memberships, study.k_anonymity)
    k = protection.k
    members: dict[str, int] = {}
    for groups in memberships.values():
        for g in groups:
            members[g] = members.get(g, 0) + 1
    kept: dict[str, int] = {}
    for groups in protection.memberships.values():
        for g in groups:
            kept[g] = kept.get(g, 0) + 1
    rows = []
    for group in Group.objects.filter(study=study).order_by("order", "code"):
        n = members.get(group.code, 0)
        rows.append(
            {
                "group": group,
                "members": n if n >= k else None,
                "kept": kept.get(group.code, 0),
                "whole": group.code in protection.complete and n > 0,
            }
        )
    total = sum(members.values())
    return {
        "k": k,
        "participants": len(memberships),
        "groups": rows,
        "memberships": total,
        "kept": protection.kept,
        "cleared": total - protection.kept,
        "all_cleared": total > 0 and protection.kept == 0,
        "method": protection.method,
    }


def _shuffled(field: str, salt: str):
    """An order drawn for one export: the md5 of its salt and the row's `field`."""
    return MD5(Concat(Value(salt), Cast(field, CharField())))


def _ratings_write(raw, text, writer, wave_id, wave_name, people, lookups, report, salt) -> int:
    if connection.vendor == "postgresql":
        text.flush()
        return ratings_copy(raw, wave_id, wave_name, people, lookups, report, salt=salt)
    written = 0
    rows = (
        Rating.objects.filter(wave_id=wave_id, participant__consented_at__isnull=False)
        .order_by(_shuffled("id", salt))
        .values_list("participant_id", "site_id", "criterion_id", "value")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    for pid, site_id, criterion_id, value in rows:
        who = people.get(pid)
        site = lookups.sites.get(site_id)
        criterion = lookups.rating_criteria.get(criterion_id)
        if who is None or site is None or criterion is None:
            continue
        writer.writerow((who[0], who[1], wave_name, "rating", site, criterion, value))
        written += 1
        if written % CHUNK_SIZE == 0:
            report(written)
    return written


def _rankings_write(writer, wave_id, wave_name, people, lookups, skipped, salt, wide) -> int:
    written = 0
    rows = (
        Ranking.objects.filter(wave_id=wave_id, criterion_id__in=list(lookups.ranking_criteria))
        .order_by(_shuffled("participant_id", salt), "participant_id", "criterion_id")
        .values_list("participant_id", "criterion_id", "order")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    for pid, criterion_id, order in rows:
        who = people.get(pid)
        if who is None:
            continue
        expected = lookups.ranking_sets.get(criterion_id, [])
        if not isinstance(order, list) or len(order) != len(expected) or set(order) != set(expected):
            skipped["ranking"] += 1
            continue
        criterion = lookups.ranking_criteria[criterion_id]
        for position, code in enumerate(order, start=1):
            wide.set(pid, wave_id, ("ranking", criterion_id, code), position)
            writer.writerow(
                (
                    who[0],
                    who[1],
                    wave_name,
                    "ranking",
                    lookups.image_codes[code],
                    criterion,
                    position,
                )
            )
            written += 1
    return written


def _priorities_write(writer, wave_id, wave_name, people, lookups, tokens_total, skipped, salt, wide) -> int:
    """Writes each participant's allocation whole, and only if it adds up to the study's
    tokens, since the importer rejects any other (and so would refuse the file)."""
    written = 0
    rows = (
        Priority.objects.filter(wave_id=wave_id, criterion_id__in=list(lookups.rating_criteria))
        .order_by(_shuffled("participant_id", salt), "participant_id", "criterion_id")
        .values_list("participant_id", "criterion_id", "tokens")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    current, allocation = None, []

    def flush() -> int:
        who = people.get(current)
        if who is None or not allocation:
            return 0
        if sum(tokens for _, tokens in allocation) != tokens_total:
            skipped["priority"] += 1
            return 0
        for criterion_id, tokens in allocation:
            wide.set(current, wave_id, ("priority", criterion_id), tokens)
            writer.writerow(
                (
                    who[0],
                    who[1],
                    wave_name,
                    "priority",
                    "",
                    lookups.rating_criteria[criterion_id],
                    tokens,
                )
            )
        return len(allocation)

    for pid, criterion_id, tokens in rows:
        if pid != current:
            written += flush()
            current, allocation = pid, []
        allocation.append((criterion_id, tokens))
    written += flush()
    return written


def _comments_write(zf: zipfile.ZipFile, lookups: _Lookups, people, salt) -> int:
    written = 0
    with _member(zf, "comments.csv") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow([csv_safe(name) for name, _ in COMMENTS_COLUMNS])
        for wave_id, wave_name in lookups.waves:
            rows = (
                Comment.objects.filter(wave_id=wave_id)
                .exclude(text="")
                .order_by(_shuffled("id", salt))
                .values_list("participant_id", "text")
                .iterator(chunk_size=CHUNK_SIZE)
            )
            for pid, body in rows:
                who = people.get(pid)
                if who is not None:
                    writer.writerow((who[0], wave_name, csv_safe(body)))
                    written += 1
        text.flush()
        text.detach()
    return written


def _wave_participants(study: Study, wave_id: int) -> int:
    """How many exported participants answered in the wave: one index probe per participant
    rather than a scan of the wave's answers."""
    answered = Q()
    for model in (Rating, Ranking, Priority):
        answered |= Exists(model.objects.filter(participant=OuterRef("pk"), wave_id=wave_id))
    return Participant.objects.filter(answered, study=study, consented_at__isnull=False).count()


def _summary(study, description, generalisation, people, lookups, counts, skipped) -> dict:
    exported_groups: dict[str, int] = {}
    for groups in generalisation.memberships.values():
        for g in groups:
            exported_groups[g] = exported_groups.get(g, 0) + 1
    for g in description.groups:
        g["exported"] = exported_groups.get(g["code"], 0)
    for wave, (wave_id, _) in zip(description.waves, lookups.waves, strict=True):
        wave["participants"] = _wave_participants(study, wave_id)
    return {
        "study": study.slug,
        "exported_on": timezone.localdate().isoformat(),
        "participants": len(people),
        "rows": counts,
        "skipped": skipped,
        "comments_included": study.comments_reviewed,
        "waves": [{"wave": w["name"], "participants": w["participants"]} for w in description.waves],
        "protection": {
            "k": generalisation.k,
            "k_reachable": generalisation.k_reachable,
            "generalised": generalisation.generalised,
            "suppressed": generalisation.suppressed,
            "affected": generalisation.affected,
            "removed": generalisation.removed,
            "method": generalisation.method,
            "complete": list(generalisation.complete),
            "kept": generalisation.kept,
            "combinations": [
                {"groups": list(combo), "participants": n} for combo, n in generalisation.combinations().items()
            ],
        },
    }
