"""Is a study ready to open to residents? A checklist that names what is missing.

`study_readiness` lists every problem, each with the builder step that fixes it; a study opens
(`study_open`) only when the list is empty. `image_has_file` is the one rule for "this image can
be shown", used wherever a page would otherwise point a resident at a missing file.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from .models import Criterion, Image, Site, Study, Wave

NO_TITLE_EN = _("The study has no English title.")
NO_TITLE_FR = _("The study has no French title.")
NO_PURPOSE_EN = _("The consent page has no English text: write the study’s purpose.")
NO_PURPOSE_FR = _("The consent page has no French text: write the study’s purpose in French.")
SCALE_LABELS_FR = _("The rating scale has English labels but no French ones.")
NO_CRITERIA = _("The study has no criteria.")
CRITERION_NO_FR = _("The criterion “%(name)s” has no French name.")
NO_GROUPS = _("The study has no groups for residents to choose from.")
GROUP_NO_FR = _("The group “%(name)s” has no French name.")
NO_SITES = _("The study has rating criteria but no sites to rate.")
NO_IMAGES = _("The study has no images.")
SITE_NO_IMAGE = _("The site “%(name)s” has no image.")
IMAGE_NO_FILE = _("The image “%(name)s” has no file.")
IMAGE_NO_ALT_EN = _("The image “%(name)s” has no English alt text.")
IMAGE_NO_ALT_FR = _("The image “%(name)s” has no French alt text.")
SET_TOO_SMALL = _("The ranking criterion “%(name)s” needs at least 2 images in its set.")
SET_IMAGE_NO_FILE = _("The ranking set of “%(name)s” holds the image “%(image)s”, which has no file.")
NO_WAVES = _("The study has no waves.")
NO_OPEN_WAVE = _("No wave is open: open the wave residents should answer.")
NOT_READY = _("The study cannot open yet: %(missing)s")


@dataclass(frozen=True)
class Missing:
    """One thing the study lacks, and the builder step where it is fixed."""

    key: str
    message: str
    step: str


def image_has_file(image: Image) -> bool:
    """True when the image has a file that storage still holds."""
    if not image.file or not image.file.name:
        return False
    try:
        return image.file.storage.exists(image.file.name)
    except (OSError, ValueError):
        return False


def study_readiness(study: Study) -> list[Missing]:
    """Everything that keeps `study` from opening, in the builder's order of steps."""
    missing: list[Missing] = []

    def add(key: str, message, step: str, **params) -> None:
        missing.append(Missing(key, str(message) % params if params else str(message), step))

    if not study.title_en.strip():
        add("title_en", NO_TITLE_EN, "basics")
    if not study.title_fr.strip():
        add("title_fr", NO_TITLE_FR, "basics")
    if not study.description_en.strip():
        add("purpose_en", NO_PURPOSE_EN, "basics")
    if not study.description_fr.strip():
        add("purpose_fr", NO_PURPOSE_FR, "basics")
    if study.scale_labels_en and not study.scale_labels_fr:
        add("scale_labels_fr", SCALE_LABELS_FR, "basics")

    criteria = list(Criterion.objects.filter(study=study).prefetch_related("set_items__image"))
    if not criteria:
        add("criteria", NO_CRITERIA, "criteria")
    for criterion in criteria:
        if not criterion.label_fr.strip():
            add(f"criterion_fr:{criterion.pk}", CRITERION_NO_FR, "criteria", name=criterion.label)

    waves = list(Wave.objects.filter(study=study))
    if not waves:
        add("waves", NO_WAVES, "waves")
    elif not any(w.status == Wave.Status.OPEN for w in waves):
        add("open_wave", NO_OPEN_WAVE, "waves")

    groups = list(study.groups.all())
    if not groups:
        add("groups", NO_GROUPS, "groups")
    for group in groups:
        if not group.label_fr.strip():
            add(f"group_fr:{group.pk}", GROUP_NO_FR, "groups", name=group.label)

    sites = list(Site.objects.filter(study=study).prefetch_related("images"))
    if any(c.kind == Criterion.Kind.RATING for c in criteria) and not sites:
        add("sites", NO_SITES, "sites")
    images = list(Image.objects.filter(study=study).select_related("site").prefetch_related("set_items"))
    with_file = {image.pk: image_has_file(image) for image in images}
    if not any(with_file.values()):
        add("images", NO_IMAGES, "images")
    for site in sites:
        if not any(with_file.get(image.pk) for image in site.images.all()):
            add(f"site_image:{site.pk}", SITE_NO_IMAGE, "images", name=site.name or site.code)
    for image in images:
        name = image.site.name if image.site_id and image.site.name else image.code
        if not with_file[image.pk] and (image.site_id or image.set_items.all()):
            add(f"image_file:{image.pk}", IMAGE_NO_FILE, "images", name=name)
        if not image.alt_text_en.strip():
            add(f"image_alt_en:{image.pk}", IMAGE_NO_ALT_EN, "images", name=name)
        if not image.alt_text_fr.strip():
            add(f"image_alt_fr:{image.pk}", IMAGE_NO_ALT_FR, "images", name=name)

    for criterion in criteria:
        if criterion.kind != Criterion.Kind.RANKING:
            continue
        items = list(criterion.set_items.all())
        if len(items) < 2:
            add(f"set:{criterion.pk}", SET_TOO_SMALL, "ranking", name=criterion.label)
        for item in items:
            if not with_file.get(item.image_id, False):
                add(
                    f"set_file:{criterion.pk}:{item.image_id}",
                    SET_IMAGE_NO_FILE,
                    "ranking",
                    name=criterion.label,
                    image=item.image.code,
                )
    return missing


class StudyNotReady(Exception):
    def __init__(self, missing: list[Missing]):
        self.missing = missing
        super().__init__(str(NOT_READY) % {"missing": " ".join(m.message for m in missing)})


def study_open(*, study: Study) -> Study:
    """Opens the study to residents, or raises StudyNotReady naming everything missing."""
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=study.pk)
        missing = study_readiness(study)
        if missing:
            raise StudyNotReady(missing)
        study.status = Study.Status.OPEN
        study.save(update_fields=["status"])
    return study


def study_close(*, study: Study) -> Study:
    Study.objects.filter(pk=study.pk).update(status=Study.Status.CLOSED)
    study.status = Study.Status.CLOSED
    return study
