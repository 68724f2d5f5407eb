"""Import of responses from the long CSV format.

`participant,groups,wave,task,item,criterion,value` — one answer per row. The whole file is parsed
and validated first; only a file without a single error is written, in one transaction.

The `groups`, `wave`, `item` and `criterion` cells hold names as people wrote them ("Seniors 65+",
"Rue Fleury Est", "sécurité"): any printable text up to 120 characters. A cell matches an existing
group, site, image or criterion by its name, or else by its code (so an anonymised export, which
carries codes, imports back); anything new is created under that name with a derived code.
"""

from __future__ import annotations

import csv
import io
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
from .naming import code_derive, name_clean, name_problem

HEADER = ["participant", "groups", "wave", "task", "item", "criterion", "value"]
TASKS = ("rating", "ranking", "priority")
PARTICIPANT_MAX_LENGTH = 64
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
            errors.add(
                line,
                f"expected {len(header)} columns, found {len(raw)}; put a cell that holds a comma in double quotes",
            )
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
        groups = tuple(sorted({name_clean(g) for g in cell["groups"].split(";") if g.strip()}))
        row_ok = True
        named = [("wave", wave), ("item", item), ("criterion", crit), *[("groups", g) for g in groups]]
        for column, name in named:
            problem = name and name_problem(name)
            if problem:
                errors.add(line, f"the {column} name {name[:40]!r} {problem}; write the name as people read it")
                row_ok = False
        if len(who) > PARTICIPANT_MAX_LENGTH or name_problem(who or "x"):
            errors.add(
                line,
                f"participant {who[:40]!r} must be at most {PARTICIPANT_MAX_LENGTH} printable characters; "
                "use the same short identifier on every row of that person",
            )
            row_ok = False
        if not who:
            errors.add(line, "participant is empty; give every row the identifier of the person who answered")
            row_ok = False
        if not wave:
            errors.add(line, "wave is empty; write the name of the survey round, e.g. before discussion")
            row_ok = False
        if task not in TASKS:
            errors.add(
                line, f"task {cell['task']!r} must be one of {', '.join(TASKS)}; write one of them in the task column"
            )
            continue
        number = _int(value)
        if number is None:
            errors.add(line, f"value {value!r} is not a whole number; write the rating, position or tokens in digits")
            row_ok = False
        if who in parsed.participants and parsed.participants[who] != groups:
            errors.add(
                line,
                f"participant {who} has groups {';'.join(groups) or '(none)'} here but "
                f"{';'.join(parsed.participants[who]) or '(none)'} on an earlier row; "
                "give a person the same groups on every row",
            )
            row_ok = False
        if task in ("rating", "ranking"):
            if not item:
                errors.add(line, f"item is empty; write the name of the {'street' if task == 'rating' else 'image'}")
                row_ok = False
            if not crit:
                errors.add(line, "criterion is empty; write the name of the question answered")
                row_ok = False
            elif kinds.setdefault(crit, task) != task:
                errors.add(
                    line,
                    f"criterion {crit} is a {kinds[crit]} criterion, not a {task} criterion; "
                    f"use another criterion name for {task}s",
                )
                row_ok = False
        else:
            if item:
                errors.add(line, "item must be empty for a priority row; leave the item cell blank")
                row_ok = False
            if not crit:
                errors.add(line, "criterion is empty; write the name of the rating criterion the tokens go to")
                row_ok = False
            elif kinds.setdefault(crit, "rating") != "rating":
                errors.add(
                    line, f"priority tokens go to rating criteria; {crit} is a ranking criterion, name a rating one"
                )
                row_ok = False
        if not row_ok:
            continue
        if task == "rating" and not lo <= number <= hi:
            errors.add(
                line,
                f"rating {number} is outside the scale {lo}–{hi}; use a value from {lo} to {hi} "
                "(a new study takes --scale-min and --scale-max)",
            )
            continue
        if task == "priority" and number < 0:
            errors.add(line, f"priority tokens must be 0 or more, got {number}; write 0 for no tokens")
            continue
        key = (task, who, wave, item, crit)
        if key in parsed.lines:
            errors.add(
                line,
                f"duplicate of row {parsed.lines[key]} (same participant, wave, task, item and criterion); "
                "keep one of the two rows",
            )
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
                errors.add(
                    line,
                    f"position {number} is given twice in the ranking of {crit} by {who} in {wave}; "
                    "give each image its own position",
                )
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
                f"{m} images (positions 1–{m}, each image once); rank every image of {crit} exactly once",
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
            errors.add(
                first[key],
                f"priority tokens of {key[0]} in {key[1]} sum to {given}, not {total}; "
                f"spread exactly {total} tokens over that person's rows",
            )


def _resolve(model, study, cells, name_field, report_key, report, defaults_for):
    """Maps each cell to the study's object of that name, else of that code, creating the ones
    that match neither under the cell as their name, with a derived code."""
    existing = list(model.objects.filter(study=study))
    by_name = {getattr(obj, name_field): obj for obj in existing if getattr(obj, name_field)}
    by_code = {obj.code: obj for obj in existing}
    taken = set(by_code)
    found, new = {}, []
    for cell in cells:
        obj = by_name.get(cell) or by_code.get(cell)
        if obj is None:
            code = code_derive(cell, taken)
            taken.add(code)
            obj = model(study=study, code=code, **{name_field: cell}, **defaults_for(cell))
            new.append(obj)
        found[cell] = obj
    model.objects.bulk_create(new, batch_size=BATCH)
    report.created[report_key] += len(new)
    if new and not all(obj.pk for obj in new):  # backends that return no ids from bulk_create
        refreshed = {obj.code: obj for obj in model.objects.filter(study=study)}
        found = {cell: refreshed[obj.code] for cell, obj in found.items()}
    return found


def _criterion_kinds(study: Study | None) -> dict[str, str]:
    """Kinds of the study's criteria, by name and by code, as a cell may hold either."""
    if study is None:
        return {}
    kinds = {}
    for name, code, kind in study.criteria.values_list("name", "code", "kind"):
        kinds.setdefault(code, kind)
        kinds[name] = kind
    return kinds


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
    parsed = _parse(text, scale, tokens_total, _criterion_kinds(study))
    report = ImportReport(rows=len(parsed.lines))
    with transaction.atomic():
        if study is None:
            study = Study.objects.create(
                slug=study_slug, title_en=title or study_slug, scale_min=scale_min, scale_max=scale_max
            )
            report.created["studies"] += 1
        _write(study, parsed, report)
    return report


def _check_existing_sets(parsed: _Parsed, criteria: dict, images: dict) -> None:
    """A ranking criterion that already has its set of images must be ranked over that set."""
    problems = []
    for crit, cells in parsed.ranking_sets.items():
        existing = set(criteria[crit].set_items.values_list("image_id", flat=True)) if criteria[crit].pk else set()
        given = {images[c].pk for c in cells}
        if existing and existing != given:
            first = min(v for k, v in parsed.lines.items() if k[0] == "ranking" and k[4] == crit)
            names = sorted(str(img) for img in Image.objects.filter(pk__in=existing))
            problems.append(
                f"row {first}: ranking criterion {crit} already ranks the images {', '.join(names)}; "
                f"the file ranks {', '.join(sorted(cells))}; rank exactly those images"
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
    groups = _resolve(Group, study, parsed.groups, "label_en", "groups", report, lambda c: {})
    sites = _resolve(Site, study, parsed.sites, "name", "sites", report, lambda c: {})
    all_images = sorted({img for images in parsed.ranking_sets.values() for img in images})
    images = _resolve(Image, study, all_images, "name", "images", report, lambda c: {"alt_text_en": c})
    criteria = {}
    existing = list(study.criteria.all())
    by_name = {c.name: c for c in existing}
    by_code = {c.code: c for c in existing}
    taken = set(by_code)
    cells = [(n, "rating") for n in parsed.rating_criteria] + [(n, "ranking") for n in parsed.ranking_sets]
    for name, kind in cells:
        criterion = by_name.get(name) or by_code.get(name)
        if criterion is None:
            code = code_derive(name, taken)
            taken.add(code)
            criterion = Criterion.objects.create(
                study=study, name=name, code=code, kind=kind, label_en=name, order=len(existing) + len(criteria)
            )
            report.created["criteria"] += 1
        criteria[name] = criterion
    _check_existing_sets(parsed, criteria, images)
    for name, cells in parsed.ranking_sets.items():
        if not criteria[name].set_items.exists():
            RankingSetItem.objects.bulk_create(
                [RankingSetItem(criterion=criteria[name], image=images[c], position=i) for i, c in enumerate(cells)]
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
            Membership(participant_id=pid, group_id=gid)
            for pid, gid in {
                (people[who].id, groups[g].id) for who, names in parsed.participants.items() for g in names
            }
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
            order=[images[pos[k]].code for k in sorted(pos)],
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
    # Two cells naming the same thing (a name and its code) would give one row twice.
    rows = list({tuple(getattr(r, f"{f}_id") for f in unique_fields): r for r in rows}.values())
    model.objects.bulk_create(
        rows, batch_size=BATCH, update_conflicts=True, unique_fields=unique_fields, update_fields=update_fields
    )
