"""Import of responses from the long CSV format.

`participant,groups,wave,task,item,criterion,value` — one answer per row. The file is read twice,
one row at a time, never whole:

1. A validating pass checks every row on its own (columns, names, task, value, scale) and against
   what is known per participant and per name (a person's groups, a criterion's kind, a ranking's
   positions, a person's priority tokens). It writes nothing. It stops reading at the MAX_ERRORS-th
   bad row, or READ_ON rows after the first one, so a bad file is rejected on its first bad rows.
2. Only a file without an error so far is written, in one transaction: the groups, waves, sites,
   images, criteria and participants it names, then its ratings streamed into a temporary table
   (COPY on PostgreSQL) in which duplicates are found, then upserted into the ratings in batches.
   A duplicate rating rolls the whole transaction back: a bad file changes nothing.

Memory is independent of the number of rows: what is held is per participant (groups, rankings,
priorities) or per name (groups, waves, sites, images, criteria), never per row; ratings, the rows
that grow with a file, live only in the temporary table.

The `groups`, `wave`, `item` and `criterion` cells hold names as people wrote them ("Seniors 65+",
"Rue Fleury Est", "sécurité"): any printable text up to 120 characters. A cell matches an existing
group, site, image or criterion by its name, or else by its code (so an anonymised export, which
carries codes, imports back); anything new is created under that name with a derived code.
"""

from __future__ import annotations

import csv
import hashlib
import io
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import batched, islice
from pathlib import Path

from django.db import connection, transaction
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
MAX_ERRORS = 20  # a rejected file shows at most this many errors, then reading stops
READ_ON = 1000  # rows read past the first bad one (to show the errors near it) before reading stops
BATCH = 5000  # rows per INSERT / bulk_create
UPSERT_ROWS = 50_000  # staged ratings per INSERT … SELECT, so no statement runs unbounded
IN_CHUNK = 500  # values per SQL IN (…), under SQLite's limit on parameters
STAGE = "civic_import_rating"

# Each call returns a fresh iterator over the lines of the file (it is read twice).
Lines = Callable[[], Iterable[str]]


class ImportRejected(Exception):
    def __init__(self, errors: list[str], stopped_at: int | None = None):
        self.errors = errors
        # The row at which reading stopped, when it stopped before the end of the file.
        self.stopped_at = stopped_at
        super().__init__("\n".join(errors))


class ImportNotText(Exception):
    """The file is not UTF-8 text; `byte` is the offset of the first bad byte in the file."""

    def __init__(self, reason: str, byte: int):
        self.reason, self.byte = reason, byte
        super().__init__(f"not UTF-8 text ({reason} at byte {byte})")


@dataclass
class ImportReport:
    rows: int = 0
    created: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    answers: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def summary(self) -> str:
        made = ", ".join(f"{n} {k}" for k, n in sorted(self.created.items()) if n) or "nothing new"
        saved = ", ".join(f"{n} {k}" for k, n in sorted(self.answers.items()))
        return f"Imported {self.rows} rows: {saved}. Created {made}."


def text_lines(text: str) -> Lines:
    return lambda: io.StringIO(text)


def path_lines(path: str | Path) -> Lines:
    """The file's lines, decoded as UTF-8 (a leading byte order mark dropped) one at a time;
    a byte that is not UTF-8 raises ImportNotText with its offset in the file."""

    def lines() -> Iterator[str]:
        offset = 0
        with open(path, "rb") as binary:
            for raw in binary:
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise ImportNotText(exc.reason, offset + exc.start) from None
                if offset == 0:
                    line = line.removeprefix("\ufeff")
                offset += len(raw)
                yield line

    return lines


@dataclass
class _Plan:
    """What the validating pass learnt: per participant and per name, never per row."""

    rows: int = 0
    ratings: int = 0
    participants: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Ordered sets (dicts with None values), in order of first appearance.
    waves: dict[str, None] = field(default_factory=dict)
    groups: dict[str, None] = field(default_factory=dict)
    sites: dict[str, None] = field(default_factory=dict)
    rating_criteria: dict[str, None] = field(default_factory=dict)
    ranking_sets: dict[str, dict[str, None]] = field(default_factory=dict)
    ranking_first: dict[str, int] = field(default_factory=dict)
    # (participant, wave, criterion) → {image: (position, row)}
    rankings: dict[tuple[str, str, str], dict[str, tuple[int, int]]] = field(default_factory=dict)
    # (participant, wave, criterion) → (tokens, row)
    priorities: dict[tuple[str, str, str], tuple[int, int]] = field(default_factory=dict)
    digest: str = ""


class _Errors(list):
    def __init__(self):
        super().__init__()
        self.first_bad: int | None = None

    def add(self, line: int, message: str) -> None:
        if self.first_bad is None:
            self.first_bad = line
        if len(self) < MAX_ERRORS:
            self.append(f"row {line}: {message}")

    def enough(self, line: int) -> bool:
        """Whether to stop reading after this row."""
        return self.first_bad is not None and (len(self) >= MAX_ERRORS or line - self.first_bad >= READ_ON)


_name_problem = lru_cache(maxsize=4096)(name_problem)
_intern = sys.intern


def _int(value: str) -> int | None:
    try:
        return int(value.strip())
    except ValueError:
        return None


class _Hashed:
    """The lines of a file, hashed as they go by, so the writing pass can tell the file is the
    one that was validated."""

    def __init__(self, lines: Iterable[str]):
        self._lines = iter(lines)
        self._hash = hashlib.sha256()

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self._hash.update(line.encode("utf-8", "surrogatepass"))
        return line

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _rows(lines: _Hashed, errors: _Errors | None = None):
    """(row number, cells) for every non-blank row after the header, and the column map."""
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ImportRejected([f"row 1: {exc}; expected header " + ",".join(HEADER)]) from None
    if header is None:
        raise ImportRejected(["row 1: the file is empty; expected header " + ",".join(HEADER)])
    header = [h.strip().lstrip("\ufeff").lower() for h in header]
    missing = [h for h in HEADER if h not in header]
    if missing:
        raise ImportRejected([f"row 1: missing column(s) {', '.join(missing)}; expected {','.join(HEADER)}"])
    width = len(header)
    col = [header.index(name) for name in HEADER]

    def rows():
        line = 1
        while True:
            line += 1
            try:
                raw = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ImportRejected(
                    [*(errors or []), f"row {line}: {exc}; check the quotes of that row"], stopped_at=line
                ) from None
            yield line, raw

    return rows(), col, width


def _validate(lines: Iterable[str], study_scale: tuple[int, int], tokens_total: int, kinds: dict[str, str]) -> _Plan:
    """The validating pass: reads row by row, writes nothing, raises ImportRejected with the
    first bad rows (and stops reading there)."""
    errors = _Errors()
    plan = _Plan()
    hashed = _Hashed(lines)
    rows, col, width = _rows(hashed, errors)
    c_who, c_groups, c_wave, c_task, c_item, c_crit, c_value = col
    lo, hi = study_scale
    kinds = dict(kinds)
    participants, rankings, priorities = plan.participants, plan.rankings, plan.priorities
    group_sets: dict[str, tuple[str, ...]] = {}
    for line, raw in rows:
        if errors.enough(line - 1):
            raise ImportRejected(list(errors), stopped_at=line - 1)
        if not any(cell.strip() for cell in raw):
            continue
        if len(raw) < width:
            errors.add(
                line,
                f"expected {width} columns, found {len(raw)}; put a cell that holds a comma in double quotes",
            )
            continue
        who, wave, task_cell = raw[c_who].strip(), raw[c_wave].strip(), raw[c_task].strip()
        item, crit, value = raw[c_item].strip(), raw[c_crit].strip(), raw[c_value].strip()
        task = task_cell.lower()
        groups_cell = raw[c_groups].strip()
        groups = group_sets.get(groups_cell)
        if groups is None:
            groups = tuple(sorted({name_clean(g) for g in groups_cell.split(";") if g.strip()}))
            if len(group_sets) < 4096:
                group_sets[groups_cell] = groups
        row_ok = True
        for column, name in (("wave", wave), ("item", item), ("criterion", crit)):
            problem = name and _name_problem(name)
            if problem:
                errors.add(line, f"the {column} name {name[:40]!r} {problem}; write the name as people read it")
                row_ok = False
        for name in groups:
            problem = _name_problem(name)
            if problem:
                errors.add(line, f"the groups name {name[:40]!r} {problem}; write the name as people read it")
                row_ok = False
        if len(who) > PARTICIPANT_MAX_LENGTH or _name_problem(who or "x"):
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
                line, f"task {task_cell!r} must be one of {', '.join(TASKS)}; write one of them in the task column"
            )
            continue
        number = _int(value)
        if number is None:
            errors.add(line, f"value {value!r} is not a whole number; write the rating, position or tokens in digits")
            row_ok = False
        known = participants.get(who)
        if known is not None and known != groups:
            errors.add(
                line,
                f"participant {who} has groups {';'.join(groups) or '(none)'} here but "
                f"{';'.join(known) or '(none)'} on an earlier row; "
                "give a person the same groups on every row",
            )
            row_ok = False
        if task != "priority":
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
        if task == "rating":
            if not lo <= number <= hi:
                errors.add(
                    line,
                    f"rating {number} is outside the scale {lo}–{hi}; use a value from {lo} to {hi} "
                    "(a new study takes --scale-min and --scale-max)",
                )
                continue
            # Duplicate ratings are found in the writing pass (they are the rows a file grows by).
            plan.sites.setdefault(item)
            plan.rating_criteria.setdefault(crit)
            plan.ratings += 1
        elif task == "ranking":
            key = (_intern(who), _intern(wave), _intern(crit))
            positions = rankings.get(key)
            if positions is None:
                positions = rankings[key] = {}
            if item in positions:
                errors.add(line, _duplicate(positions[item][1]))
                continue
            if any(number == pos for pos, _ in positions.values()):
                errors.add(
                    line,
                    f"position {number} is given twice in the ranking of {crit} by {who} in {wave}; "
                    "give each image its own position",
                )
                continue
            positions[_intern(item)] = (number, line)
            plan.ranking_sets.setdefault(key[2], {}).setdefault(_intern(item))
            plan.ranking_first.setdefault(key[2], line)
        else:
            if number < 0:
                errors.add(line, f"priority tokens must be 0 or more, got {number}; write 0 for no tokens")
                continue
            key = (_intern(who), _intern(wave), _intern(crit))
            if key in priorities:
                errors.add(line, _duplicate(priorities[key][1]))
                continue
            priorities[key] = (number, line)
            plan.rating_criteria.setdefault(key[2])
        plan.rows += 1
        if known is None:
            participants[_intern(who)] = groups
        plan.waves.setdefault(wave)
        for g in groups:
            plan.groups.setdefault(g)
    if not errors:
        _check_rankings(plan, errors)
        _check_priorities(plan, errors, tokens_total)
    if errors:
        raise ImportRejected(sorted(errors, key=_row_number))
    plan.digest = hashed.hexdigest()
    return plan


def _row_number(error: str) -> int:
    return int(error.split(":", 1)[0].removeprefix("row "))


def _duplicate(first: int) -> str:
    return f"duplicate of row {first} (same participant, wave, task, item and criterion); keep one of the two rows"


def _check_rankings(plan: _Plan, errors: _Errors) -> None:
    for (who, wave, crit), positions in plan.rankings.items():
        expected = plan.ranking_sets[crit]
        m = len(expected)
        first = min(line for _, line in positions.values())
        if sorted(pos for pos, _ in positions.values()) != list(range(1, m + 1)) or len(positions) != m:
            errors.add(
                first,
                f"the ranking of {crit} by {who} in {wave} is not a permutation of its "
                f"{m} images (positions 1–{m}, each image once); rank every image of {crit} exactly once",
            )


def _check_priorities(plan: _Plan, errors: _Errors, total: int) -> None:
    sums: dict[tuple, int] = defaultdict(int)
    first: dict[tuple, int] = {}
    for (who, wave, _crit), (tokens, line) in plan.priorities.items():
        sums[(who, wave)] += tokens
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
    *,
    study_slug: str,
    text: str | None = None,
    path: str | Path | None = None,
    lines: Lines | None = None,
    create: bool = False,
    title: str = "",
    scale_min: int = 1,
    scale_max: int = 5,
) -> ImportReport:
    """Imports the file given as `text`, a `path` or `lines` (a function returning a fresh
    iterator over its lines): validates it row by row, then writes it in one transaction. Raises
    ImportRejected with row-numbered errors, and writes nothing, if any row is bad."""
    if sum(x is not None for x in (text, path, lines)) != 1:
        raise TypeError("give exactly one of text, path and lines")
    if text is not None:
        lines = text_lines(text)
    elif path is not None:
        lines = path_lines(path)
    study = Study.objects.filter(slug=study_slug).first()
    if study is None and not create:
        raise ImportRejected([f"no study {study_slug!r}; pass --create (with --title) to make it"])
    if study is None and scale_max <= scale_min:
        raise ImportRejected([f"--scale-max ({scale_max}) must be greater than --scale-min ({scale_min})"])
    scale = (study.scale_min, study.scale_max) if study else (scale_min, scale_max)
    tokens_total = study.priority_tokens if study else 10
    plan = _validate(lines(), scale, tokens_total, _criterion_kinds(study))
    report = ImportReport(rows=plan.rows)
    with transaction.atomic():
        if study is None:
            study = Study.objects.create(
                slug=study_slug, title_en=title or study_slug, scale_min=scale_min, scale_max=scale_max
            )
            report.created["studies"] += 1
        _write(study, plan, lines, report)
    return report


def _check_existing_sets(plan: _Plan, criteria: dict, images: dict) -> None:
    """A ranking criterion that already has its set of images must be ranked over that set."""
    problems = []
    for crit, cells in plan.ranking_sets.items():
        existing = set(criteria[crit].set_items.values_list("image_id", flat=True)) if criteria[crit].pk else set()
        given = {images[c].pk for c in cells}
        if existing and existing != given:
            names = sorted(str(img) for img in Image.objects.filter(pk__in=existing))
            problems.append(
                f"row {plan.ranking_first[crit]}: ranking criterion {crit} already ranks the images "
                f"{', '.join(names)}; the file ranks {', '.join(sorted(cells))}; rank exactly those images"
            )
    if problems:
        raise ImportRejected(problems)


def _chunks(values, size: int = IN_CHUNK):
    return batched(list(values), size)


def _participants(study: Study, plan: _Plan, report: ImportReport) -> dict[str, int]:
    """Participant ids by code, creating the new ones; memberships replaced by the file's."""
    people: dict[str, int] = {}
    for codes in _chunks(plan.participants):
        people.update(Participant.objects.filter(study=study, code__in=codes).values_list("code", "id"))
    new_people = [Participant(study=study, code=code) for code in plan.participants if code not in people]
    Participant.objects.bulk_create(new_people, batch_size=BATCH)
    report.created["participants"] += len(new_people)
    missing = [code for code in plan.participants if code not in people]
    for codes in _chunks(missing):
        people.update(Participant.objects.filter(study=study, code__in=codes).values_list("code", "id"))
    return people


def _memberships(people: dict[str, int], plan: _Plan, groups: dict, now) -> None:
    Membership = Participant.groups.through
    for ids in _chunks(people.values()):
        Membership.objects.filter(participant_id__in=ids).delete()
        Participant.objects.filter(pk__in=ids, groups_answered_at__isnull=True).update(
            groups_answered_at=now, consented_at=now
        )
    pairs = ((people[who], groups[g].id) for who, names in plan.participants.items() for g in names)
    # A name and its code may name the same group: each membership once.
    unique = dict.fromkeys(pairs)
    for batch in batched(unique, BATCH):
        Membership.objects.bulk_create([Membership(participant_id=pid, group_id=gid) for pid, gid in batch])


def _write(study: Study, plan: _Plan, lines: Lines, report: ImportReport) -> None:
    now = timezone.now()
    # Waves, in order of first appearance, after the study's existing waves.
    waves = {w.name: w for w in study.waves.all()}
    next_order = max((w.order for w in waves.values()), default=0) + 1
    for name in plan.waves:
        if name not in waves:
            waves[name] = Wave.objects.create(study=study, name=name, order=next_order, status=Wave.Status.CLOSED)
            next_order += 1
            report.created["waves"] += 1
    groups = _resolve(Group, study, plan.groups, "label_en", "groups", report, lambda c: {})
    sites = _resolve(Site, study, plan.sites, "name", "sites", report, lambda c: {})
    all_images = sorted({img for images in plan.ranking_sets.values() for img in images})
    images = _resolve(Image, study, all_images, "name", "images", report, lambda c: {"alt_text_en": c})
    criteria = {}
    existing = list(study.criteria.all())
    by_name = {c.name: c for c in existing}
    by_code = {c.code: c for c in existing}
    taken = set(by_code)
    cells = [(n, "rating") for n in plan.rating_criteria] + [(n, "ranking") for n in plan.ranking_sets]
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
    _check_existing_sets(plan, criteria, images)
    for name, cells in plan.ranking_sets.items():
        if not criteria[name].set_items.exists():
            RankingSetItem.objects.bulk_create(
                [RankingSetItem(criterion=criteria[name], image=images[c], position=i) for i, c in enumerate(cells)]
            )
    people = _participants(study, plan, report)
    _memberships(people, plan, groups, now)
    report.answers["ratings"] += _write_ratings(plan, lines, people, waves, sites, criteria, now)
    rows = (
        (
            (people[who], waves[wave].id, criteria[crit].id),
            [images[item].code for item, _ in sorted(positions.items(), key=lambda kv: kv[1][0])],
        )
        for (who, wave, crit), positions in plan.rankings.items()
    )
    report.answers["rankings"] += _upsert(Ranking, rows, "order", now)
    rows = (
        ((people[who], waves[wave].id, criteria[crit].id), tokens)
        for (who, wave, crit), (tokens, _) in plan.priorities.items()
    )
    report.answers["priorities"] += _upsert(Priority, rows, "tokens", now)


def _upsert(model, rows, value_field: str, now) -> int:
    """Upserts (participant, wave, criterion) → value rows (one per participant, wave and
    criterion: memory per participant) in batches; returns how many rows were given."""
    # Two cells naming the same thing (a name and its code) would give one row twice: the last wins.
    given = 0
    unique = {}
    for key, value in rows:
        unique[key] = value
        given += 1
    for batch in batched(unique.items(), BATCH):
        model.objects.bulk_create(
            [
                model(participant_id=p, wave_id=w, criterion_id=c, **{value_field: value}, updated_at=now)
                for (p, w, c), value in batch
            ],
            update_conflicts=True,
            unique_fields=["participant", "wave", "criterion"],
            update_fields=[value_field, "updated_at"],
        )
    return given


# --- ratings: streamed through a temporary table ----------------------------------------------

_STAGE_COLUMNS = (
    "line",
    "participant_id",
    "wave_id",
    "site_cell",
    "criterion_cell",
    "site_id",
    "criterion_id",
    "value",
)


def _staged_ratings(lines: Lines, plan: _Plan, people, waves, sites, criteria):
    """The writing pass over the file: one tuple per rating row, in file order. Raises
    ImportRejected if the file is not the one validated."""
    site_cells = {cell: (i, obj.pk) for i, (cell, obj) in enumerate(sites.items())}
    criterion_cells = {cell: (i, obj.pk) for i, (cell, obj) in enumerate(criteria.items())}
    wave_ids = {name: w.pk for name, w in waves.items()}
    hashed = _Hashed(lines())
    rows, col, width = _rows(hashed)
    c_who, _, c_wave, c_task, c_item, c_crit, c_value = col
    try:
        for line, raw in rows:
            if len(raw) < width or raw[c_task].strip().lower() != "rating":
                continue
            site_cell, site_id = site_cells[raw[c_item].strip()]
            criterion_cell, criterion_id = criterion_cells[raw[c_crit].strip()]
            yield (
                line,
                people[raw[c_who].strip()],
                wave_ids[raw[c_wave].strip()],
                site_cell,
                criterion_cell,
                site_id,
                criterion_id,
                int(raw[c_value]),
            )
    except (KeyError, ValueError, ImportRejected):
        raise _changed() from None
    if hashed.hexdigest() != plan.digest:
        raise _changed()


def _changed() -> ImportRejected:
    return ImportRejected(["the file changed while it was imported; nothing was imported, import it again"])


def _write_ratings(plan: _Plan, lines: Lines, people, waves, sites, criteria, now) -> int:
    if plan.ratings == 0:
        # Still read the file again, so a file changed in the meantime is refused.
        for _ in _staged_ratings(lines, plan, people, waves, sites, criteria):
            raise _changed()
        return 0
    postgres = connection.vendor == "postgresql"
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {STAGE} (line integer PRIMARY KEY, participant_id bigint NOT NULL, "
            "wave_id bigint NOT NULL, site_cell integer NOT NULL, criterion_cell integer NOT NULL, "
            "site_id bigint NOT NULL, criterion_id bigint NOT NULL, value integer NOT NULL)"
            + (" ON COMMIT DROP" if postgres else "")
        )
        staged = _staged_ratings(lines, plan, people, waves, sites, criteria)
        columns = ", ".join(_STAGE_COLUMNS)
        if postgres:
            # One COPY per UPSERT_ROWS rows: each statement ends well inside statement_timeout.
            for first in staged:
                with cursor.cursor.copy(f"COPY {STAGE} ({columns}) FROM STDIN") as copy:
                    copy.write_row(first)
                    for row in islice(staged, UPSERT_ROWS - 1):
                        copy.write_row(row)
        else:
            insert = f"INSERT INTO {STAGE} ({columns}) VALUES ({', '.join(['%s'] * len(_STAGE_COLUMNS))})"
            # One batch alive at a time: the one sent is dropped before the next is read.
            while batch := list(islice(staged, BATCH)):
                cursor.executemany(insert, batch)
                del batch
        if postgres:
            cursor.execute(f"ANALYZE {STAGE}")
        _reject_duplicate_ratings(cursor)
        # A name and its code can name the same site or criterion: then the last row wins.
        collapse = len({s.pk for s in sites.values()}) < len(sites) or len({c.pk for c in criteria.values()}) < len(
            criteria
        )
        latest = ""
        if collapse:
            cursor.execute(f"CREATE INDEX {STAGE}_ids ON {STAGE} (participant_id, wave_id, site_id, criterion_id)")
            latest = (
                f" AND NOT EXISTS (SELECT 1 FROM {STAGE} t WHERE t.participant_id = s.participant_id "
                "AND t.wave_id = s.wave_id AND t.site_id = s.site_id AND t.criterion_id = s.criterion_id "
                "AND t.line > s.line)"
            )
        updated_at = Rating._meta.get_field("updated_at").get_db_prep_value(now, connection)
        cursor.execute(f"SELECT MIN(line), MAX(line), COUNT(*) FROM {STAGE}")
        first, last, count = cursor.fetchone()
        table = q(Rating._meta.db_table)
        for start in range(first, last + 1, UPSERT_ROWS):
            cursor.execute(
                f"INSERT INTO {table} (participant_id, wave_id, site_id, criterion_id, value, client_seq, updated_at) "
                f"SELECT participant_id, wave_id, site_id, criterion_id, value, 0, %s FROM {STAGE} s "
                f"WHERE s.line >= %s AND s.line < %s{latest} "
                "ON CONFLICT (participant_id, wave_id, site_id, criterion_id) "
                "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                [updated_at, start, start + UPSERT_ROWS],
            )
        if not postgres:
            cursor.execute(f"DROP TABLE {STAGE}")
    return count


def _reject_duplicate_ratings(cursor) -> None:
    key = "participant_id, wave_id, site_cell, criterion_cell"
    joined = " AND ".join(f"s.{c} = f.{c}" for c in key.split(", "))
    cursor.execute(
        f"SELECT s.line, f.first FROM {STAGE} s JOIN (SELECT {key}, MIN(line) AS first FROM {STAGE} "
        f"GROUP BY {key} HAVING COUNT(*) > 1) f ON {joined} WHERE s.line > f.first ORDER BY s.line LIMIT %s",
        [MAX_ERRORS],
    )
    duplicates = cursor.fetchall()
    if duplicates:
        raise ImportRejected([f"row {line}: {_duplicate(first)}" for line, first in duplicates])
