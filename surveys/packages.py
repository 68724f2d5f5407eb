"""Study packages: a whole study without its answers, as a zip of `study.json` and `images/`.

One set of rules validates every part of a study (basics, criteria, waves, groups, sites, images,
ranking sets) and one set of writers stores it. `import_study` validates a whole package and then
writes it in one transaction; the in-app builder validates and writes one part at a time through
the same functions (`study_part_save`). Either way nothing is written unless everything is valid,
and every problem names the part, the item and the field (or the file) it concerns.

Names are what people wrote (any printable text up to 120 characters); the code each item needs
as a stable identifier is taken from the package when it carries one, or derived from the name.

study.json::

    {"format": "civic-study/1", "slug", "title": {"en", "fr"}, "description": {"en", "fr"},
     "scale": {"min", "max", "labels": {"en": [...], "fr": [...]}}, "priority_tokens",
     "open_signup", "min_group_size", "min_tested_group_size", "k_anonymity",
     "criteria": [{"code"?, "kind": "rating"|"ranking", "label": {"en", "fr"}, "description": {...}}],
     "waves": [{"name"}],
     "groups": [{"code"?, "label": {"en", "fr"}, "description": {...}, "target": int|null}],
     "sites": [{"code"?, "name", "latitude", "longitude", "attributes": {name: value}}],
     "images": [{"code"?, "file": "images/…"|null, "alt": {"en", "fr"}, "site": site code or name|null}],
     "ranking_sets": [{"criterion": criterion code, "images": [image codes, in order]}]}
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.validators import validate_slug
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from .images import image_sanitize
from .models import (
    Comment,
    Criterion,
    Group,
    Image,
    Priority,
    Ranking,
    RankingSetItem,
    Rating,
    Site,
    Study,
    Wave,
)
from .naming import CODE_MAX_LENGTH as CODE_MAX
from .naming import code_derive

FORMAT = "civic-study/1"
STUDY_JSON = "study.json"
MAX_STUDY_JSON_BYTES = 5 * 1024 * 1024
MAX_PACKAGE_BYTES = 500 * 1024 * 1024
MAX_ITEMS = 2000
NAME_MAX = 120
TEXT_MAX = 500
MAX_SCALE_POINTS = 11
PARTS = ("basics", "criteria", "waves", "groups", "sites", "images", "ranking_sets")
# A zip member's date is fixed so the same study always gives the same bytes.
ZIP_DATE = (2024, 1, 1, 0, 0, 0)

REQUIRED = _("This field is required.")
NOT_TEXT = _("Must be text.")
TOO_LONG = _("At most %(max)d characters.")
NOT_A_NUMBER = _("Must be a whole number.")
NOT_A_COORDINATE = _("Must be a number from %(min)d to %(max)d.")
OUT_OF_RANGE = _("Must be from %(min)d to %(max)d.")
NOT_A_LIST = _("Must be a list.")
NOT_AN_OBJECT = _("Must be an object with named fields.")
NOT_YES_NO = _("Must be true or false.")
SCALE_ORDER = _("The scale maximum must exceed its minimum.")
SCALE_POINTS = _("A scale has at most %(max)d points.")
SCALE_LABELS = _("Give one label per scale point (%(n)d), lowest first, or none.")
BAD_SLUG = _("Use lowercase letters, digits and dashes only.")
SLUG_TAKEN = _("A study with this address already exists: %(slug)s.")
BAD_KIND = _("Must be “rating” or “ranking”.")
DUPLICATE = _("“%(name)s” appears twice.")
UNKNOWN_SITE = _("No site has the name or code “%(code)s”.")
UNKNOWN_IMAGE = _("No image has the code “%(code)s”.")
UNKNOWN_CRITERION = _("No criterion has the code “%(code)s”.")
NOT_RANKING = _("“%(code)s” is not a ranking criterion.")
SET_TOO_SMALL = _("A ranking set needs at least 2 images.")
FILE_MISSING = _("The package has no file %(file)s.")
HAS_ANSWERS = _("“%(name)s” already has answers from residents and cannot be removed.")
TOO_MANY = _("At most %(max)d items.")
NOT_A_ZIP = _("The file is not a zip archive.")
NO_STUDY_JSON = _("The package has no study.json.")
BAD_JSON = _("study.json is not valid JSON: %(error)s.")
BAD_FORMAT = _("Unknown package format %(format)s; this version reads %(expected)s.")
UNSAFE_MEMBER = _("The package holds a file with an unsafe name: %(file)s.")
PACKAGE_TOO_LARGE = _("The package is too large once unpacked (at most 500 MB).")


# --- problems ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong: where (`part`, 1-based `item`, `field`, or a package `file`) and what."""

    message: str
    part: str = ""
    item: int | None = None
    field: str = ""
    file: str = ""

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.part:
            where.append(self.part if self.item is None else f"{self.part} {self.item}")
        if self.field:
            where.append(self.field)
        return f"{': '.join(where)}: {self.message}" if where else str(self.message)


class PackageError(Exception):
    """Raised with every problem found; nothing has been written."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class _Check:
    part: str
    problems: list[Problem] = field(default_factory=list)
    item: int | None = None

    def add(self, field_name: str, message, **params) -> None:
        text = str(message) % params if params else str(message)
        self.problems.append(Problem(text, part=self.part, item=self.item, field=field_name))

    # Field readers: each returns a clean value, or records a problem and returns a fallback.

    def text(
        self, data: dict, key: str, *, required: bool = False, max_length: int = NAME_MAX, report: str = ""
    ) -> str:
        value = data.get(key)
        report = report or key
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.add(report, NOT_TEXT)
            return ""
        value = value.strip()
        if required and not value:
            self.add(report, REQUIRED)
        elif len(value) > max_length:
            self.add(report, TOO_LONG, max=max_length)
        return value

    def languages(self, data: dict, key: str, *, required_en: bool = False, max_length: int = NAME_MAX) -> dict:
        value = data.get(key)
        if value is None:
            value = {}
        if isinstance(value, str):
            value = {"en": value}
        if not isinstance(value, dict):
            self.add(key, NOT_AN_OBJECT)
            return {"en": "", "fr": ""}
        return {
            "en": self.text(value, "en", required=required_en, max_length=max_length, report=f"{key}.en"),
            "fr": self.text(value, "fr", max_length=max_length, report=f"{key}.fr"),
        }

    def integer(self, data: dict, key: str, *, default=None, low: int, high: int, nullable: bool = False):
        value = data.get(key, default)
        if value is None or value == "":
            if nullable:
                return None
            if default is None:
                self.add(key, REQUIRED)
                return low
            value = default
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                value = int(value)
            elif isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                self.add(key, NOT_A_NUMBER)
                return default if default is not None else low
        if not low <= value <= high:
            self.add(key, OUT_OF_RANGE, min=low, max=high)
        return value

    def coordinate(self, data: dict, key: str, limit: int) -> float | None:
        value = data.get(key)
        if value is None or value == "":
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = None
        if isinstance(value, bool) or number is None or not -limit <= number <= limit or number != number:
            self.add(key, NOT_A_COORDINATE, min=-limit, max=limit)
            return None
        return number

    def boolean(self, data: dict, key: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.add(key, NOT_YES_NO)
            return default
        return value

    def items(self, data, *, max_items: int = MAX_ITEMS) -> list[dict]:
        if data is None:
            return []
        if not isinstance(data, list):
            self.problems.append(Problem(str(NOT_A_LIST), part=self.part))
            return []
        if len(data) > max_items:
            self.problems.append(Problem(str(TOO_MANY) % {"max": max_items}, part=self.part))
            return []
        return data

    def rows(self, data, *, max_items: int = MAX_ITEMS, text_key: str = ""):
        """The part's rows that are objects, with `item` set to each one's 1-based place; any
        other row is reported. With `text_key`, a plain string stands for {text_key: string}."""
        for i, row in enumerate(self.items(data, max_items=max_items)):
            self.item = i + 1
            if text_key and isinstance(row, str):
                row = {text_key: row}
            if not isinstance(row, dict):
                self.add("", NOT_AN_OBJECT)
                continue
            yield row


def _assign_codes(check: _Check, rows: list[dict], names: list[str]) -> None:
    """Given codes are kept (and must be unique); the others are derived from the names."""
    given = [row["code"] for row in rows]
    taken: set[str] = set()
    for i, code in enumerate(given):
        if not code:
            continue
        check.item = i + 1
        if code in taken:
            check.add("code", DUPLICATE, name=code)
        taken.add(code)
    for row, name in zip(rows, names, strict=True):
        if not row["code"]:
            row["code"] = code_derive(name, taken)
            taken.add(row["code"])
    check.item = None


def _unique_names(check: _Check, names: list[str], field_name: str) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        key = name.casefold()
        if name and key in seen:
            check.item = i + 1
            check.add(field_name, DUPLICATE, name=name)
        seen.add(key)
    check.item = None


# --- validation of each part ---------------------------------------------------------------


def _basics(data: dict, problems: list[Problem]) -> dict:
    check = _Check("basics", problems)
    slug = check.text(data, "slug", required=True, max_length=50)
    if slug:
        try:
            validate_slug(slug)
        except ValidationError:
            check.add("slug", BAD_SLUG)
    scale = data.get("scale") or {}
    if not isinstance(scale, dict):
        check.add("scale", NOT_AN_OBJECT)
        scale = {}
    low = check.integer(scale, "min", default=1, low=-100, high=100)
    high = check.integer(scale, "max", default=5, low=-100, high=100)
    labels = {"en": [], "fr": []}
    if high <= low:
        check.add("scale.max", SCALE_ORDER)
    elif high - low + 1 > MAX_SCALE_POINTS:
        check.add("scale.max", SCALE_POINTS, max=MAX_SCALE_POINTS)
    else:
        given = scale.get("labels") or {}
        if not isinstance(given, dict):
            check.add("scale.labels", NOT_AN_OBJECT)
            given = {}
        for lang in ("en", "fr"):
            values = given.get(lang) or []
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                check.add(f"scale.labels.{lang}", NOT_A_LIST)
                continue
            values = [v.strip() for v in values]
            if values and (len(values) != high - low + 1 or not all(values)):
                check.add(f"scale.labels.{lang}", SCALE_LABELS, n=high - low + 1)
            elif any(len(v) > 60 for v in values):
                check.add(f"scale.labels.{lang}", TOO_LONG, max=60)
            else:
                labels[lang] = values
    return {
        "slug": slug,
        "title": check.languages(data, "title", required_en=True, max_length=200),
        "description": check.languages(data, "description", max_length=5000),
        "scale": {"min": low, "max": high, "labels": labels},
        "priority_tokens": check.integer(data, "priority_tokens", default=10, low=1, high=100),
        "open_signup": check.boolean(data, "open_signup", False),
        "min_group_size": check.integer(data, "min_group_size", default=5, low=1, high=1000),
        "min_tested_group_size": check.integer(data, "min_tested_group_size", default=3, low=2, high=1000),
        "k_anonymity": check.integer(data, "k_anonymity", default=5, low=1, high=1000),
    }


def _criteria(rows, problems: list[Problem]) -> list[dict]:
    check = _Check("criteria", problems)
    out = []
    for row in check.rows(rows):
        kind = row.get("kind", "rating")
        if kind not in (Criterion.Kind.RATING, Criterion.Kind.RANKING):
            check.add("kind", BAD_KIND)
        out.append(
            {
                "code": check.text(row, "code", max_length=CODE_MAX),
                "kind": kind,
                "label": check.languages(row, "label", required_en=True),
                "description": check.languages(row, "description", max_length=TEXT_MAX),
            }
        )
    _unique_names(check, [r["label"]["en"] for r in out], "label.en")
    _assign_codes(check, out, [r["label"]["en"] for r in out])
    return out


def _waves(rows, problems: list[Problem]) -> list[dict]:
    check = _Check("waves", problems)
    out = []
    for row in check.rows(rows, max_items=100, text_key="name"):
        out.append({"name": check.text(row, "name", required=True, max_length=100)})
    _unique_names(check, [r["name"] for r in out], "name")
    return out


def _groups(rows, problems: list[Problem]) -> list[dict]:
    check = _Check("groups", problems)
    out = []
    for row in check.rows(rows):
        out.append(
            {
                "code": check.text(row, "code", max_length=CODE_MAX),
                "label": check.languages(row, "label", required_en=True),
                "description": check.languages(row, "description", max_length=300),
                "target": check.integer(row, "target", low=0, high=1_000_000, nullable=True),
            }
        )
    _unique_names(check, [r["label"]["en"] for r in out], "label.en")
    _assign_codes(check, out, [r["label"]["en"] for r in out])
    return out


def _attributes(check: _Check, value) -> dict:
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        check.add("attributes", NOT_AN_OBJECT)
        return {}
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip() or len(key) > NAME_MAX:
            check.add("attributes", TOO_LONG, max=NAME_MAX)
            continue
        if item is not None and not isinstance(item, (str, int, float, bool)):
            check.add(f"attributes.{key}", NOT_TEXT)
            continue
        if isinstance(item, str) and len(item) > TEXT_MAX:
            check.add(f"attributes.{key}", TOO_LONG, max=TEXT_MAX)
            continue
        out[key.strip()] = item
    return out


def _sites(rows, problems: list[Problem]) -> list[dict]:
    check = _Check("sites", problems)
    out = []
    for row in check.rows(rows):
        code = check.text(row, "code", max_length=CODE_MAX)
        out.append(
            {
                "code": code,
                "name": check.text(row, "name", required=not code, max_length=NAME_MAX),
                "latitude": check.coordinate(row, "latitude", 90),
                "longitude": check.coordinate(row, "longitude", 180),
                "attributes": _attributes(check, row.get("attributes")),
            }
        )
    _unique_names(check, [r["name"] for r in out], "name")
    _assign_codes(check, out, [r["name"] for r in out])
    return out


def _site_refs(sites: list[dict]) -> dict[str, str]:
    """What an image may name its site by: the site's code or its name as written → its code."""
    refs = {s["name"]: s["code"] for s in sites if s.get("name")}
    refs.update({s["code"]: s["code"] for s in sites})
    return refs


def _images(rows, problems: list[Problem], *, sites: dict[str, str], files: set[str] | None) -> list[dict]:
    """`files` is the set of package members (None in the builder, where files are uploaded
    separately and an image row keeps the file it has); `sites` maps each site's code and name to
    its code (_site_refs)."""
    check = _Check("images", problems)
    out = []
    for row in check.rows(rows):
        file_name = check.text(row, "file", max_length=300) if files is not None else ""
        if file_name and file_name not in files:
            check.add("file", FILE_MISSING, file=file_name)
        site = check.text(row, "site", max_length=NAME_MAX) or None
        if site and site not in sites:
            check.add("site", UNKNOWN_SITE, code=site)
        site = sites.get(site) if site else None
        out.append(
            {
                "code": check.text(row, "code", max_length=CODE_MAX),
                "file": file_name or None,
                "alt": check.languages(row, "alt", max_length=300),
                "site": site,
            }
        )
    stems = [PurePosixPath(r["file"] or "").stem or (r["site"] or "") for r in out]
    _assign_codes(check, out, stems)
    return out


def _ranking_sets(rows, problems: list[Problem], *, ranking_codes: set[str], image_codes: set[str]) -> list[dict]:
    check = _Check("ranking_sets", problems)
    out = []
    seen: set[str] = set()
    for row in check.rows(rows):
        criterion = check.text(row, "criterion", required=True, max_length=CODE_MAX)
        if criterion and criterion not in ranking_codes:
            check.add("criterion", NOT_RANKING, code=criterion)
        if criterion in seen:
            check.add("criterion", DUPLICATE, name=criterion)
        seen.add(criterion)
        images = row.get("images") or []
        if not isinstance(images, list) or not all(isinstance(c, str) for c in images):
            check.add("images", NOT_A_LIST)
            continue
        for code in images:
            if code not in image_codes:
                check.add("images", UNKNOWN_IMAGE, code=code)
        if len(set(images)) != len(images):
            check.add("images", DUPLICATE, name=next(c for c in images if images.count(c) > 1))
        if len(images) < 2:
            check.add("images", SET_TOO_SMALL)
        out.append({"criterion": criterion, "images": list(images)})
    return out


def package_validate(data, *, files: set[str]) -> dict:
    """Checks a whole study.json against the package's `files`; returns the clean document or
    raises PackageError with every problem found."""
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise PackageError([Problem(str(NOT_AN_OBJECT), file=STUDY_JSON)])
    fmt = data.get("format", FORMAT)
    if fmt != FORMAT:
        raise PackageError([Problem(str(BAD_FORMAT) % {"format": fmt, "expected": FORMAT}, file=STUDY_JSON)])
    clean = _basics(data, problems)
    clean["criteria"] = _criteria(data.get("criteria"), problems)
    clean["waves"] = _waves(data.get("waves"), problems)
    clean["groups"] = _groups(data.get("groups"), problems)
    clean["sites"] = _sites(data.get("sites"), problems)
    clean["images"] = _images(data.get("images"), problems, sites=_site_refs(clean["sites"]), files=files)
    clean["ranking_sets"] = _ranking_sets(
        data.get("ranking_sets"),
        problems,
        ranking_codes={c["code"] for c in clean["criteria"] if c["kind"] == Criterion.Kind.RANKING},
        image_codes={i["code"] for i in clean["images"]},
    )
    if clean["slug"] and Study.objects.filter(slug=clean["slug"]).exists():
        problems.append(Problem(str(SLUG_TAKEN) % {"slug": clean["slug"]}, part="basics", field="slug"))
    if problems:
        raise PackageError(problems)
    return clean


# --- writing -------------------------------------------------------------------------------


# What residents may have answered about each kind of item.
_ANSWERS_OF = {
    "criterion": (Rating, Ranking, Priority),
    "wave": (Rating, Ranking, Priority, Comment),
    "site": (Rating,),
}


def _answered(key: str, obj) -> bool:
    return any(model.objects.filter(**{key: obj}).exists() for model in _ANSWERS_OF[key])


def _refuse_removal(problems: list[Problem], part: str, removed, label, key: str) -> None:
    for obj in removed:
        if _answered(key, obj):
            problems.append(Problem(str(HAS_ANSWERS) % {"name": label(obj)}, part=part))


def _write_basics(study: Study, clean: dict) -> Study:
    study.title_en, study.title_fr = clean["title"]["en"], clean["title"]["fr"]
    study.description_en, study.description_fr = clean["description"]["en"], clean["description"]["fr"]
    study.scale_min, study.scale_max = clean["scale"]["min"], clean["scale"]["max"]
    study.scale_labels_en, study.scale_labels_fr = clean["scale"]["labels"]["en"], clean["scale"]["labels"]["fr"]
    for key in ("priority_tokens", "open_signup", "min_group_size", "min_tested_group_size", "k_anonymity"):
        setattr(study, key, clean[key])
    study.save()
    return study


def _write_rows(model, study: Study, rows: list[dict], key: str, values) -> dict[str, object]:
    """Upserts one row per item, matched on its code (the model's `key` column) within the
    study, deletes the others, and returns the rows by code."""
    existing = {getattr(obj, key): obj for obj in model.objects.filter(study=study)}
    kept = {}
    for i, row in enumerate(rows):
        obj = existing.get(row["code"]) or model(study=study)
        setattr(obj, key, row["code"])
        for attr, value in values(row).items():
            setattr(obj, attr, value)
        obj.order = i + 1
        obj.save()
        kept[getattr(obj, key)] = obj
    model.objects.filter(study=study).exclude(pk__in=[o.pk for o in kept.values()]).delete()
    return kept


def _write_criteria(study: Study, rows: list[dict]) -> None:
    _write_rows(
        Criterion,
        study,
        rows,
        "name",
        lambda r: {
            "kind": r["kind"],
            "label_en": r["label"]["en"],
            "label_fr": r["label"]["fr"],
            "description_en": r["description"]["en"],
            "description_fr": r["description"]["fr"],
        },
    )


def _write_waves(study: Study, rows: list[dict]) -> None:
    existing = {w.name: w for w in Wave.objects.filter(study=study)}
    kept = []
    for i, row in enumerate(rows):
        wave = existing.get(row["name"]) or Wave(study=study, name=row["name"], status=Wave.Status.DRAFT)
        wave.order = i + 1
        wave.save()
        kept.append(wave.pk)
    Wave.objects.filter(study=study).exclude(pk__in=kept).delete()


def _write_groups(study: Study, rows: list[dict]) -> None:
    _write_rows(
        Group,
        study,
        rows,
        "code",
        lambda r: {
            "label_en": r["label"]["en"],
            "label_fr": r["label"]["fr"],
            "description_en": r["description"]["en"],
            "description_fr": r["description"]["fr"],
            "target_count": r["target"],
        },
    )


def _write_sites(study: Study, rows: list[dict]) -> None:
    _write_rows(
        Site,
        study,
        rows,
        "code",
        lambda r: {
            "name": r["name"],
            "latitude": r["latitude"],
            "longitude": r["longitude"],
            "attributes": r["attributes"],
        },
    )


def _write_images(study: Study, rows: list[dict], files: dict[str, ContentFile] | None) -> list[str]:
    """Returns the storage names of the files it saved, so a failed transaction can remove them."""
    sites = {s.code: s for s in Site.objects.filter(study=study)}
    existing = {i.code: i for i in Image.objects.filter(study=study)}
    saved, kept = [], []
    for row in rows:
        image = existing.get(row["code"]) or Image(study=study, code=row["code"])
        image.alt_text_en, image.alt_text_fr = row["alt"]["en"], row["alt"]["fr"]
        image.site = sites.get(row["site"]) if row["site"] else None
        if files is not None and row["file"]:
            image.file.save(files[row["file"]].name, files[row["file"]], save=False)
            saved.append(image.file.name)
        image.save()
        kept.append(image.pk)
    Image.objects.filter(study=study).exclude(pk__in=kept).delete()
    return saved


def _write_ranking_sets(study: Study, rows: list[dict]) -> None:
    criteria = {c.name: c for c in Criterion.objects.filter(study=study, kind=Criterion.Kind.RANKING)}
    images = {i.code: i for i in Image.objects.filter(study=study)}
    RankingSetItem.objects.filter(criterion__study=study).delete()
    RankingSetItem.objects.bulk_create(
        RankingSetItem(criterion=criteria[row["criterion"]], image=images[code], position=pos)
        for row in rows
        for pos, code in enumerate(row["images"])
    )


def study_package_import(*, data, files: dict[str, bytes], slug: str | None = None) -> Study:
    """Creates a whole study from a parsed study.json and the package's files, or raises
    PackageError naming every problem. Nothing is written unless everything is valid."""
    if isinstance(data, dict) and slug:
        data = {**data, "slug": slug}
    clean = package_validate(data, files=set(files))
    problems: list[Problem] = []
    images: dict[str, ContentFile] = {}
    for row in clean["images"]:
        if row["file"]:
            try:
                images[row["file"]] = image_sanitize(ContentFile(files[row["file"]], name=row["file"]))
            except ValidationError as exc:
                problems.append(Problem(" ".join(str(m) for m in exc.messages), file=row["file"]))
    if problems:
        raise PackageError(problems)
    saved: list[str] = []
    try:
        with transaction.atomic():
            study = _write_basics(Study(slug=clean["slug"], status=Study.Status.DRAFT), clean)
            _write_criteria(study, clean["criteria"])
            _write_waves(study, clean["waves"])
            _write_groups(study, clean["groups"])
            _write_sites(study, clean["sites"])
            saved = _write_images(study, clean["images"], images)
            _write_ranking_sets(study, clean["ranking_sets"])
    except Exception:
        _remove_files(saved)
        raise
    return study


def _remove_files(names: list[str]) -> None:
    storage = Image._meta.get_field("file").storage
    for name in names:
        try:
            storage.delete(name)
        except OSError:
            pass


def study_package_read(source) -> tuple[dict, dict[str, bytes]]:
    """Reads a package zip (a path or a file object) into (study.json, {member: bytes})."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise PackageError([Problem(str(NOT_A_ZIP))]) from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if sum(m.file_size for m in members) > MAX_PACKAGE_BYTES or len(members) > MAX_ITEMS + 1:
            raise PackageError([Problem(str(PACKAGE_TOO_LARGE))])
        for member in members:
            path = PurePosixPath(member.filename)
            if path.is_absolute() or ".." in path.parts or "\\" in member.filename:
                raise PackageError([Problem(str(UNSAFE_MEMBER) % {"file": member.filename})])
        names = {m.filename for m in members}
        if STUDY_JSON not in names:
            raise PackageError([Problem(str(NO_STUDY_JSON))])
        raw = archive.read(STUDY_JSON)
        if len(raw) > MAX_STUDY_JSON_BYTES:
            raise PackageError([Problem(str(PACKAGE_TOO_LARGE), file=STUDY_JSON)])
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PackageError([Problem(str(BAD_JSON) % {"error": exc}, file=STUDY_JSON)]) from None
        files = {m.filename: archive.read(m) for m in members if m.filename.startswith("images/")}
    return data, files


def study_package_import_zip(source, *, slug: str | None = None) -> Study:
    data, files = study_package_read(source)
    return study_package_import(data=data, files=files, slug=slug)


# --- the builder: one part at a time ----------------------------------------------------------


def study_create(*, slug: str, title_en: str, title_fr: str = "", owner=None) -> Study:
    """A new, empty draft study (the builder's first step); the creator becomes its owner."""
    from .models import StudyMembership

    problems: list[Problem] = []
    clean = _basics({"slug": slug, "title": {"en": title_en, "fr": title_fr}}, problems)
    if clean["slug"] and Study.objects.filter(slug=clean["slug"]).exists():
        problems.append(Problem(str(SLUG_TAKEN) % {"slug": clean["slug"]}, part="basics", field="slug"))
    if problems:
        raise PackageError(problems)
    with transaction.atomic():
        study = _write_basics(Study(slug=clean["slug"], status=Study.Status.DRAFT), clean)
        if owner is not None and owner.is_authenticated:
            StudyMembership.objects.create(study=study, user=owner, role=StudyMembership.Role.OWNER)
    return study


def study_part_save(*, study: Study, part: str, data) -> Study:
    """Validates one part of a study with the package's rules and replaces it in one transaction.

    `data` has the shape of that part in study.json (for "basics", the top-level fields).
    Items that residents have already answered cannot be removed."""
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}")
    problems: list[Problem] = []
    current = study_to_dict(study)
    if part == "basics":
        clean = _basics({**data, "slug": study.slug}, problems)
    elif part == "criteria":
        clean = _criteria(data, problems)
    elif part == "waves":
        clean = _waves(data, problems)
    elif part == "groups":
        clean = _groups(data, problems)
    elif part == "sites":
        clean = _sites(data, problems)
    elif part == "images":
        clean = _images(data, problems, sites=_site_refs(current["sites"]), files=None)
    else:
        clean = _ranking_sets(
            data,
            problems,
            ranking_codes={c["code"] for c in current["criteria"] if c["kind"] == Criterion.Kind.RANKING},
            image_codes={i["code"] for i in current["images"]},
        )
    if part != "basics" and not problems:
        _check_removals(study, part, clean, problems)
    if part == "basics" and not problems and study.participants.exists():
        if (clean["scale"]["min"], clean["scale"]["max"]) != (study.scale_min, study.scale_max):
            problems.append(Problem(str(HAS_ANSWERS) % {"name": _("the rating scale")}, part=part, field="scale"))
    if problems:
        raise PackageError(problems)
    with transaction.atomic():
        if part == "basics":
            _write_basics(study, clean)
        elif part == "criteria":
            _write_criteria(study, clean)
            # A criterion that became a rating criterion keeps no ranking set.
            RankingSetItem.objects.filter(criterion__study=study, criterion__kind=Criterion.Kind.RATING).delete()
        elif part == "waves":
            _write_waves(study, clean)
        elif part == "groups":
            _write_groups(study, clean)
        elif part == "sites":
            _write_sites(study, clean)
        elif part == "images":
            _write_images(study, clean, None)
        else:
            _write_ranking_sets(study, clean)
    study.refresh_from_db()
    return study


def _check_removals(study: Study, part: str, clean: list[dict], problems: list[Problem]) -> None:
    if part == "criteria":
        keep = {r["code"] for r in clean}
        removed = Criterion.objects.filter(study=study).exclude(name__in=keep)
        _refuse_removal(problems, part, removed, lambda c: c.label, "criterion")
    elif part == "waves":
        removed = Wave.objects.filter(study=study).exclude(name__in={r["name"] for r in clean})
        _refuse_removal(problems, part, removed, lambda w: w.name, "wave")
    elif part == "sites":
        removed = Site.objects.filter(study=study).exclude(code__in={r["code"] for r in clean})
        _refuse_removal(problems, part, removed, lambda s: s.name or s.code, "site")
    elif part == "groups":
        removed = Group.objects.filter(study=study, participants__isnull=False).exclude(
            code__in={r["code"] for r in clean}
        )
        for group in removed.distinct():
            problems.append(Problem(str(HAS_ANSWERS) % {"name": group.label}, part=part))


def images_upload(*, study: Study, uploads) -> list[Image]:
    """Adds many images at once. Each is matched to the site whose code or name gives the same
    slug as its file name ("rue-fleury-est.jpg" → the site "Rue Fleury Est"). All or nothing:
    any file that is not a clean image rejects the batch, naming the file."""
    problems: list[Problem] = []
    cleaned = []
    for upload in uploads:
        try:
            cleaned.append((upload.name, image_sanitize(upload)))
        except ValidationError as exc:
            problems.append(Problem(" ".join(str(m) for m in exc.messages), file=upload.name))
    if problems:
        raise PackageError(problems)
    sites = {}
    for site in Site.objects.filter(study=study):
        sites.setdefault(slugify(site.code), site)
        sites.setdefault(slugify(site.name), site)
    created, saved = [], []
    try:
        with transaction.atomic():
            taken = set(Image.objects.filter(study=study).values_list("code", flat=True))
            for name, content in cleaned:
                stem = os.path.splitext(os.path.basename(name))[0]
                code = code_derive(stem, taken)
                taken.add(code)
                image = Image(study=study, code=code, site=sites.get(slugify(stem)))
                image.file.save(content.name, content, save=False)
                saved.append(image.file.name)
                image.save()
                created.append(image)
    except Exception:
        _remove_files(saved)
        raise
    return created


# --- export ----------------------------------------------------------------------------------


def _member_name(image: Image, used: set[str]) -> str:
    extension = os.path.splitext(image.file.name)[1].lower() or ".png"
    base = slugify(image.code) or "image"
    name, n = f"images/{base}{extension}", 2
    while name in used:
        name, n = f"images/{base}-{n}{extension}", n + 1
    used.add(name)
    return name


def study_to_dict(study: Study, *, file_names: dict[int, str] | None = None) -> dict:
    """The study as a study.json document (no answers, no participants, no people)."""
    images = list(Image.objects.filter(study=study).select_related("site").order_by("code"))
    sets = {}
    for item in (
        RankingSetItem.objects.filter(criterion__study=study)
        .select_related("image")
        .order_by("criterion__order", "position", "id")
    ):
        sets.setdefault(item.criterion_id, []).append(item.image.code)
    criteria = list(Criterion.objects.filter(study=study).order_by("order", "kind", "name"))
    return {
        "format": FORMAT,
        "slug": study.slug,
        "title": {"en": study.title_en, "fr": study.title_fr},
        "description": {"en": study.description_en, "fr": study.description_fr},
        "scale": {
            "min": study.scale_min,
            "max": study.scale_max,
            "labels": {"en": list(study.scale_labels_en or []), "fr": list(study.scale_labels_fr or [])},
        },
        "priority_tokens": study.priority_tokens,
        "open_signup": study.open_signup,
        "min_group_size": study.min_group_size,
        "min_tested_group_size": study.min_tested_group_size,
        "k_anonymity": study.k_anonymity,
        "criteria": [
            {
                "code": c.name,
                "kind": c.kind,
                "label": {"en": c.label_en or c.name, "fr": c.label_fr},
                "description": {"en": c.description_en, "fr": c.description_fr},
            }
            for c in criteria
        ],
        "waves": [{"name": w.name} for w in Wave.objects.filter(study=study).order_by("order", "id")],
        "groups": [
            {
                "code": g.code,
                "label": {"en": g.name, "fr": g.label_fr},
                "description": {"en": g.description_en, "fr": g.description_fr},
                "target": g.target_count,
            }
            for g in Group.objects.filter(study=study).order_by("order", "code")
        ],
        "sites": [
            {
                "code": s.code,
                "name": s.name,
                "latitude": s.latitude,
                "longitude": s.longitude,
                "attributes": s.attributes or {},
            }
            for s in Site.objects.filter(study=study).order_by("order", "code")
        ],
        "images": [
            {
                "code": i.code,
                "file": (file_names or {}).get(i.pk),
                "alt": {"en": i.alt_text_en, "fr": i.alt_text_fr},
                "site": i.site.code if i.site else None,
            }
            for i in images
        ],
        "ranking_sets": [
            {"criterion": c.name, "images": sets[c.pk]}
            for c in criteria
            if c.kind == Criterion.Kind.RANKING and c.pk in sets
        ],
    }


def study_package_export(*, study: Study, out) -> dict:
    """Writes the study as a package zip to `out` (a path or a binary file object) and returns
    the study.json it wrote. Images whose file is missing are listed without a file."""
    used: set[str] = set()
    file_names, contents = {}, {}
    for image in Image.objects.filter(study=study).order_by("code"):
        if not image.file or not image.file.storage.exists(image.file.name):
            continue
        with image.file.open("rb") as fh:
            contents[image.pk] = fh.read()
        file_names[image.pk] = _member_name(image, used)
    document = study_to_dict(study, file_names=file_names)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        _write_member(archive, STUDY_JSON, json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8"))
        for pk, name in sorted(file_names.items(), key=lambda kv: kv[1]):
            _write_member(archive, name, contents[pk], compress=zipfile.ZIP_STORED)
    return document


def _write_member(archive: zipfile.ZipFile, name: str, data: bytes, compress=zipfile.ZIP_DEFLATED) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = compress
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def study_package_bytes(study: Study) -> bytes:
    buffer = io.BytesIO()
    study_package_export(study=study, out=buffer)
    return buffer.getvalue()


__all__ = [
    "FORMAT",
    "PARTS",
    "PackageError",
    "Problem",
    "code_derive",
    "images_upload",
    "package_validate",
    "study_create",
    "study_package_bytes",
    "study_package_export",
    "study_package_import",
    "study_package_import_zip",
    "study_package_read",
    "study_part_save",
    "study_to_dict",
]
