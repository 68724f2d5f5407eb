"""Import of responses from the long CSV format of DESIGN.md.

`participant,groups,wave,task,item,criterion,value` — one answer per row. The whole file is parsed
and validated first; only a file without a single error is written, in one transaction.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from .models import (
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

HEADER = ["participant", "groups", "wave", "task", "item", "criterion", "value"]
TASKS = ("rating", "ranking", "priority")
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
MAX_ERRORS = 50
BATCH = 5000


class ImportRejected(Exception):
    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("\n".join(errors))


@dataclass
class ImportReport:
    rows: int = 0
    created: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    answers: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def summary(self) -> str:
        made = ", ".join(f"{n} {k}" for k, n in sorted(self.created.items()) if n) or "nothing new"
        saved = ", ".join(f"{n} {k}" for k, n in sorted(self.answers.items()))
        return f"Imported {self.rows} rows: {saved}. Created {made}."


@dataclass
class _Parsed:
    participants: dict[str, tuple[str, ...]] = field(default_factory=dict)
    waves: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    sites: list[str] = field(default_factory=list)
    rating_criteria: list[str] = field(default_factory=list)
    ranking_sets: dict[str, list[str]] = field(default_factory=dict)
    ratings: dict[tuple, int] = field(default_factory=dict)
    rankings: dict[tuple, dict[int, str]] = field(default_factory=dict)
    priorities: dict[tuple, int] = field(default_factory=dict)
    lines: dict[tuple, int] = field(default_factory=dict)


class _Errors(list):
    def add(self, line: int, message: str) -> None:
        if len(self) < MAX_ERRORS:
            self.append(f"row {line}: {message}")


def _add_once(seq: list[str], value: str) -> None:
    if value not in seq:
        seq.append(value)


def _int(value: str) -> int | None:
    try:
        return int(value.strip())
    except ValueError:
        return None


def _parse(text: str, study_scale: tuple[int, int], tokens_total: int, existing_kinds: dict[str, str]):
    errors = _Errors()
    parsed = _Parsed()
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise ImportRejected(["row 1: the file is empty; expected header " + ",".join(HEADER)])
    header = [h.strip().lstrip("\ufeff").lower() for h in header]
    missing = [h for h in HEADER if h not in header]
    if missing:
        raise ImportRejected([f"row 1: missing column(s) {', '.join(missing)}; expected {','.join(HEADER)}"])
    col = {name: header.index(name) for name in HEADER}
    lo, hi = study_scale
    kinds = dict(existing_kinds)
    for line, raw in enumerate(reader, start=2):
        if not any(cell.strip() for cell in raw):
            continue
        if len(raw) < len(header):
            errors.add(line, f"expected {len(header)} columns, found {len(raw)}")
            continue
        cell = {name: raw[i].strip() for name, i in col.items()}
        who, wave, task, item, crit, value = (
            cell["participant"],
            cell["wave"],
            cell["task"].lower(),
            cell["item"],
            cell["criterion"],
            cell["value"],
        )
        groups = tuple(sorted({g.strip() for g in cell["groups"].split(";") if g.strip()}))
        row_ok = True
        for name, code in (("participant", who), ("item", item), ("criterion", crit), *[("groups", g) for g in groups]):
            if code and not CODE_RE.match(code):
                errors.add(line, f"{name} {code!r} may only hold letters, digits, dots, dashes and underscores")
                row_ok = False
        if not who:
            errors.add(line, "participant is empty")
            row_ok = False
        if not wave:
            errors.add(line, "wave is empty")
            row_ok = False
        if task not in TASKS:
            errors.add(line, f"task {cell['task']!r} must be one of {', '.join(TASKS)}")
            continue
        number = _int(value)
        if number is None:
            errors.add(line, f"value {value!r} is not a whole number")
            row_ok = False
        if who in parsed.participants and parsed.participants[who] != groups:
            errors.add(
                line,
                f"participant {who} has groups {';'.join(groups) or '(none)'} here but "
                f"{';'.join(parsed.participants[who]) or '(none)'} on an earlier row",
            )
            row_ok = False
        if task in ("rating", "ranking"):
            if not item:
                errors.add(line, f"item is empty; a {task} needs the {'site' if task == 'rating' else 'image'} code")
                row_ok = False
            if not crit:
                errors.add(line, "criterion is empty")
                row_ok = False
            elif kinds.setdefault(crit, task) != task:
                errors.add(line, f"criterion {crit} is a {kinds[crit]} criterion, not a {task} criterion")
                row_ok = False
        else:
            if item:
                errors.add(line, "item must be empty for a priority row")
                row_ok = False
            if not crit:
                errors.add(line, "criterion is empty")
                row_ok = False
            elif kinds.setdefault(crit, "rating") != "rating":
                errors.add(line, f"priority tokens go to rating criteria; {crit} is a ranking criterion")
                row_ok = False
        if not row_ok:
            continue
        if task == "rating" and not lo <= number <= hi:
            errors.add(line, f"rating {number} is outside the scale {lo}–{hi}")
            continue
        if task == "priority" and number < 0:
            errors.add(line, f"priority tokens must be 0 or more, got {number}")
            continue
        key = (task, who, wave, item, crit)
        if key in parsed.lines:
            errors.add(line, f"duplicate of row {parsed.lines[key]} (same participant, wave, task, item and criterion)")
            continue
        parsed.lines[key] = line
        parsed.participants.setdefault(who, groups)
        _add_once(parsed.waves, wave)
        for g in groups:
            _add_once(parsed.groups, g)
        if task == "rating":
            _add_once(parsed.sites, item)
            _add_once(parsed.rating_criteria, crit)
            parsed.ratings[(who, wave, item, crit)] = number
        elif task == "ranking":
            _add_once(parsed.ranking_sets.setdefault(crit, []), item)
            positions = parsed.rankings.setdefault((who, wave, crit), {})
            if number in positions:
                errors.add(line, f"position {number} is given twice in the ranking of {crit} by {who} in {wave}")
                continue
            positions[number] = item
        else:
            _add_once(parsed.rating_criteria, crit)
            parsed.priorities[(who, wave, crit)] = number
    _check_rankings(parsed, errors)
    _check_priorities(parsed, errors, tokens_total)
    if errors:
        raise ImportRejected(list(errors))
    return parsed


def _check_rankings(parsed: _Parsed, errors: _Errors) -> None:
    for (who, wave, crit), positions in parsed.rankings.items():
        expected = set(parsed.ranking_sets[crit])
        m = len(expected)
        first = min(parsed.lines[("ranking", who, wave, item, crit)] for item in positions.values())
        if sorted(positions) != list(range(1, m + 1)) or set(positions.values()) != expected:
            errors.add(
                first,
                f"the ranking of {crit} by {who} in {wave} is not a permutation of its "
                f"{m} images (positions 1–{m}, each image once)",
            )


def _check_priorities(parsed: _Parsed, errors: _Errors, total: int) -> None:
    sums: dict[tuple, int] = defaultdict(int)
    first: dict[tuple, int] = {}
    for (who, wave, crit), tokens in parsed.priorities.items():
        sums[(who, wave)] += tokens
        line = parsed.lines[("priority", who, wave, "", crit)]
        first[(who, wave)] = min(first.get((who, wave), line), line)
    for key, given in sums.items():
        if given != total:
            errors.add(first[key], f"priority tokens of {key[0]} in {key[1]} sum to {given}, not {total}")


def _get_or_create_codes(model, study, codes, report_key, report, defaults_for):
    existing = {obj.code: obj for obj in model.objects.filter(study=study, code__in=codes)}
    new = [model(study=study, code=code, **defaults_for(code)) for code in codes if code not in existing]
    model.objects.bulk_create(new, batch_size=BATCH)
    report.created[report_key] += len(new)
    return {obj.code: obj for obj in model.objects.filter(study=study, code__in=codes)}


def responses_import(
    *, text: str, study_slug: str, create: bool = False, title: str = "", scale_min: int = 1, scale_max: int = 5
) -> ImportReport:
    """Validates the whole file, then writes it in one transaction. Raises ImportRejected with
    row-numbered errors and writes nothing if any row is bad."""
    study = Study.objects.filter(slug=study_slug).first()
    if study is None and not create:
        raise ImportRejected([f"no study {study_slug!r}; pass --create (with --title) to make it"])
    if study is None and scale_max <= scale_min:
        raise ImportRejected([f"--scale-max ({scale_max}) must be greater than --scale-min ({scale_min})"])
    scale = (study.scale_min, study.scale_max) if study else (scale_min, scale_max)
    tokens_total = study.priority_tokens if study else 10
    kinds = dict(study.criteria.values_list("name", "kind")) if study else {}
    parsed = _parse(text, scale, tokens_total, kinds)
    if study:
        _check_existing_sets(study, parsed)
    report = ImportReport(rows=len(parsed.lines))
    with transaction.atomic():
        if study is None:
            study = Study.objects.create(
                slug=study_slug, title_en=title or study_slug, scale_min=scale_min, scale_max=scale_max
            )
            report.created["studies"] += 1
        _write(study, parsed, report)
    return report


def _check_existing_sets(study: Study, parsed: _Parsed) -> None:
    problems = []
    for crit, images in parsed.ranking_sets.items():
        existing = set(
            RankingSetItem.objects.filter(criterion__study=study, criterion__name=crit).values_list(
                "image__code", flat=True
            )
        )
        if existing and existing != set(images):
            first = min(v for k, v in parsed.lines.items() if k[0] == "ranking" and k[4] == crit)
            problems.append(
                f"row {first}: ranking criterion {crit} already ranks images "
                f"{', '.join(sorted(existing))}; the file ranks {', '.join(sorted(images))}"
            )
    if problems:
        raise ImportRejected(problems)


def _write(study: Study, parsed: _Parsed, report: ImportReport) -> None:
    now = timezone.now()
    # Waves, in order of first appearance, after the study's existing waves.
    waves = {w.name: w for w in study.waves.all()}
    next_order = max((w.order for w in waves.values()), default=0) + 1
    for name in parsed.waves:
        if name not in waves:
            waves[name] = Wave.objects.create(study=study, name=name, order=next_order, status=Wave.Status.CLOSED)
            next_order += 1
            report.created["waves"] += 1
    groups = _get_or_create_codes(Group, study, parsed.groups, "groups", report, lambda c: {"label_en": c})
    sites = _get_or_create_codes(Site, study, parsed.sites, "sites", report, lambda c: {"name": c})
    all_images = sorted({img for images in parsed.ranking_sets.values() for img in images})
    images = _get_or_create_codes(Image, study, all_images, "images", report, lambda c: {"alt_text_en": f"Image {c}"})
    criteria = {c.name: c for c in study.criteria.all()}
    for name, kind in [(n, "rating") for n in parsed.rating_criteria] + [(n, "ranking") for n in parsed.ranking_sets]:
        if name not in criteria:
            criteria[name] = Criterion.objects.create(
                study=study, name=name, kind=kind, label_en=name.capitalize(), order=len(criteria)
            )
            report.created["criteria"] += 1
    for name, codes in parsed.ranking_sets.items():
        if not criteria[name].set_items.exists():
            RankingSetItem.objects.bulk_create(
                [RankingSetItem(criterion=criteria[name], image=images[c], position=i) for i, c in enumerate(codes)]
            )
    people = {p.code: p for p in Participant.objects.filter(study=study, code__in=list(parsed.participants))}
    new_people = [Participant(study=study, code=code) for code in parsed.participants if code not in people]
    Participant.objects.bulk_create(new_people, batch_size=BATCH)
    report.created["participants"] += len(new_people)
    people = {p.code: p for p in Participant.objects.filter(study=study, code__in=list(parsed.participants))}
    Membership = Participant.groups.through
    Membership.objects.filter(participant__in=list(people.values())).delete()
    Membership.objects.bulk_create(
        [
            Membership(participant_id=people[who].id, group_id=groups[g].id)
            for who, codes in parsed.participants.items()
            for g in codes
        ],
        batch_size=BATCH,
    )
    Participant.objects.filter(pk__in=[p.pk for p in people.values()], groups_answered_at__isnull=True).update(
        groups_answered_at=now, consented_at=now
    )
    rows = [
        Rating(
            participant=people[who],
            wave=waves[wave],
            site=sites[site],
            criterion=criteria[crit],
            value=v,
            updated_at=now,
        )
        for (who, wave, site, crit), v in parsed.ratings.items()
    ]
    _upsert(Rating, rows, ["participant", "wave", "site", "criterion"], ["value", "updated_at"])
    report.answers["ratings"] += len(rows)
    rows = [
        Ranking(
            participant=people[who],
            wave=waves[wave],
            criterion=criteria[crit],
            order=[pos[k] for k in sorted(pos)],
            updated_at=now,
        )
        for (who, wave, crit), pos in parsed.rankings.items()
    ]
    _upsert(Ranking, rows, ["participant", "wave", "criterion"], ["order", "updated_at"])
    report.answers["rankings"] += len(rows)
    rows = [
        Priority(participant=people[who], wave=waves[wave], criterion=criteria[crit], tokens=v, updated_at=now)
        for (who, wave, crit), v in parsed.priorities.items()
    ]
    _upsert(Priority, rows, ["participant", "wave", "criterion"], ["tokens", "updated_at"])
    report.answers["priorities"] += len(rows)


def _upsert(model, rows, unique_fields, update_fields) -> None:
    model.objects.bulk_create(
        rows, batch_size=BATCH, update_conflicts=True, unique_fields=unique_fields, update_fields=update_fields
    )
