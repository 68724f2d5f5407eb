"""The survey model: studies, waves, groups, participants, invitations, sites, images, criteria
and the answers residents give (ratings, rankings, priorities, comments)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from .naming import CODE_MAX_LENGTH, NAME_MAX_LENGTH, code_derive

code_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
    _("Use letters, digits, dots, dashes and underscores only."),
)


def _order_seed() -> int:
    return secrets.randbelow(2**31)


class Coded:
    """Models whose `code` is derived from their name (`code_source`) when left empty, unique
    within the study. A rename keeps the code, so links and exports stay stable."""

    code_source = "name"

    def save(self, *args, **kwargs):
        if not self.code:
            taken = type(self).objects.filter(study_id=self.study_id).exclude(pk=self.pk).values_list("code", flat=True)
            self.code = code_derive(getattr(self, self.code_source) or "", set(taken))
        super().save(*args, **kwargs)


class Localized:
    """Models with `<field>_en` / `<field>_fr` pairs pick the active language, falling back to
    English so a missing translation never shows an empty label."""

    def localized(self, field: str, language: str | None = None) -> str:
        lang = (language or get_language() or "en")[:2]
        value = getattr(self, f"{field}_{lang}", "") or ""
        return value or getattr(self, f"{field}_en", "") or ""


class Study(Localized, models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    slug = models.SlugField(unique=True, verbose_name=_("short name (in links)"))
    title_en = models.CharField(_("title (English)"), max_length=200)
    title_fr = models.CharField(_("title (French)"), max_length=200, blank=True)
    description_en = models.TextField(_("purpose (English)"), blank=True)
    description_fr = models.TextField(_("purpose (French)"), blank=True)
    scale_min = models.SmallIntegerField(default=1, verbose_name=_("bottom of the scale"))
    scale_max = models.SmallIntegerField(default=5, verbose_name=_("top of the scale"))
    scale_labels_en = models.JSONField(
        default=list,
        blank=True,
        help_text=_("One label per scale point, lowest first."),
        verbose_name=_("scale labels (English)"),
    )
    scale_labels_fr = models.JSONField(default=list, blank=True, verbose_name=_("scale labels (French)"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, verbose_name=_("status"))
    priority_tokens = models.PositiveSmallIntegerField(default=10, verbose_name=_("priority tokens"))
    open_signup = models.BooleanField(
        default=False,
        help_text=_("Anyone with the study's open link (/s/<slug>/) may take part; each gets a personal link."),
        verbose_name=_("open sign-up"),
    )
    min_group_size = models.PositiveSmallIntegerField(
        default=5,
        help_text=_("Groups smaller than this are shown with a caution."),
        verbose_name=_("smallest group shown"),
    )
    min_tested_group_size = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(2)],
        help_text=_(
            "Smallest group (and smallest rest of the raters) whose divergence gets a significance test; "
            "smaller groups are shown as too small to test."
        ),
        verbose_name=_("smallest group tested"),
    )
    k_anonymity = models.PositiveSmallIntegerField(
        default=5,
        help_text=_("Smallest group-membership cell allowed in anonymised exports."),
        verbose_name=_("k (smallest group released)"),
    )
    answers_editable_until_wave_closes = models.BooleanField(
        default=False,
        help_text=_(
            "Residents may change their answers after finishing, until the wave closes. "
            "Otherwise finishing closes their answers."
        ),
        verbose_name=_("answers editable until the wave closes"),
    )
    comments_reviewed = models.BooleanField(
        default=False,
        help_text=_("Free-text comments were reviewed and may be exported."),
        verbose_name=_("comments reviewed"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("study")
        verbose_name_plural = _("studies")
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(condition=models.Q(scale_max__gt=models.F("scale_min")), name="study_scale_ordered")
        ]

    def __str__(self) -> str:
        return self.title_en

    @property
    def title(self) -> str:
        return self.localized("title")

    @property
    def description(self) -> str:
        return self.localized("description")

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    @property
    def scale_values(self) -> list[int]:
        return list(range(self.scale_min, self.scale_max + 1))

    def scale_choices(self, language: str | None = None) -> list[tuple[int, str]]:
        lang = (language or get_language() or "en")[:2]
        labels = (self.scale_labels_fr if lang == "fr" else None) or self.scale_labels_en or []
        values = self.scale_values
        return [(v, labels[i] if i < len(labels) else str(v)) for i, v in enumerate(values)]

    def current_wave(self) -> Wave | None:
        """The wave residents answer now: the last open wave in order (`current_wave_sql` is the
        same rule inside a statement)."""
        return self.waves.filter(status=Wave.Status.OPEN).order_by("-order", "-id").first()

    def clean(self) -> None:
        if self.scale_min is not None and self.scale_max is not None:
            if self.scale_max <= self.scale_min:
                raise ValidationError({"scale_max": _("The scale maximum must exceed its minimum.")})
            n = self.scale_max - self.scale_min + 1
            for field in ("scale_labels_en", "scale_labels_fr"):
                labels = getattr(self, field) or []
                if labels and len(labels) != n:
                    raise ValidationError({field: _("Give one label per scale point (%(n)d).") % {"n": n}})


class StudyMembership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        PLANNER = "planner", _("Planner")
        RESEARCHER = "researcher", _("Researcher")

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("study"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="study_memberships", verbose_name=_("user")
    )
    role = models.CharField(max_length=12, choices=Role.choices, verbose_name=_("role"))

    class Meta:
        verbose_name = _("study role")
        verbose_name_plural = _("study roles")
        constraints = [models.UniqueConstraint(fields=["study", "user", "role"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} — {self.role} of {self.study.slug}"


class Wave(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="waves", verbose_name=_("study"))
    name = models.CharField(max_length=NAME_MAX_LENGTH, verbose_name=_("name"))
    order = models.PositiveIntegerField(default=0, verbose_name=_("order"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, verbose_name=_("status"))

    class Meta:
        verbose_name = _("wave")
        verbose_name_plural = _("waves")
        ordering = ["study", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["study", "name"], name="wave_unique_name")]

    def __str__(self) -> str:
        return f"{self.study.slug} / {self.name}"


def current_wave_sql(quote_name, study_id: str) -> str:
    """Study.current_wave as an SQL subquery giving the wave's id, for the study whose id is the
    SQL expression `study_id`; it takes one parameter, Wave.Status.OPEN."""
    qn = quote_name
    return (
        f"(SELECT o.{qn('id')} FROM {qn(Wave._meta.db_table)} o WHERE o.{qn('study_id')} = {study_id} "
        f"AND o.{qn('status')} = %s ORDER BY o.{qn('order')} DESC, o.{qn('id')} DESC LIMIT 1)"
    )


class GroupQuerySet(models.QuerySet):
    def names_by_code(self) -> dict[str, str]:
        """{code: name as written}: what reports, exports and scenarios call each group."""
        return {code: label or code for code, label in self.values_list("code", "label_en")}


class Group(Coded, Localized, models.Model):
    code_source = "label_en"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="groups", verbose_name=_("study"))
    code = models.CharField(
        max_length=CODE_MAX_LENGTH, blank=True, validators=[code_validator], editable=False, verbose_name=_("code")
    )
    label_en = models.CharField(_("name"), max_length=NAME_MAX_LENGTH, help_text=_("The group's name as written."))
    label_fr = models.CharField(max_length=120, blank=True, verbose_name=_("label (French)"))
    description_en = models.CharField(max_length=300, blank=True, verbose_name=_("description (English)"))
    description_fr = models.CharField(max_length=300, blank=True, verbose_name=_("description (French)"))
    target_count = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("How many participants the study aims for."),
        verbose_name=_("target count"),
    )
    order = models.PositiveIntegerField(default=0, verbose_name=_("order"))

    objects = GroupQuerySet.as_manager()

    class Meta:
        verbose_name = _("group")
        verbose_name_plural = _("groups")
        ordering = ["study", "order", "code"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="group_unique_code"),
            models.UniqueConstraint(fields=["study", "label_en"], name="group_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        """The group's name as written (its English label), which reports, exports and scenarios
        use; the code only for a group that has no name."""
        return self.label_en or self.code

    @property
    def label(self) -> str:
        return self.localized("label") or self.code

    @property
    def description(self) -> str:
        return self.localized("description")


def _participant_code() -> str:
    return "P" + secrets.token_hex(6).upper()


class Participant(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="participants", verbose_name=_("study"))
    code = models.CharField(max_length=64, default=_participant_code, verbose_name=_("code"))
    groups = models.ManyToManyField(Group, blank=True, related_name="participants", verbose_name=_("groups"))
    language = models.CharField(max_length=5, blank=True, verbose_name=_("language"))
    consented_at = models.DateTimeField(null=True, blank=True, verbose_name=_("consented at"))
    groups_answered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("groups answered at"))
    # Seeds the order in which this participant sees streets and ranking images, so order effects
    # average out over participants while each one sees the same order on every visit.
    order_seed = models.PositiveIntegerField(default=_order_seed, editable=False, verbose_name=_("order seed"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        ordering = ["study", "code"]
        constraints = [models.UniqueConstraint(fields=["study", "code"], name="participant_unique_code")]

    def __str__(self) -> str:
        return self.code


class Invitation(models.Model):
    """An invitation link. Only the SHA-256 of the token is stored; the token itself is shown once."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="invitations", verbose_name=_("study"))
    token_hash = models.CharField(max_length=64, unique=True, editable=False, verbose_name=_("token hash"))
    # SET_NULL keeps a withdrawn participant's invitation, marked used, so the link stays dead.
    participant = models.OneToOneField(
        Participant,
        on_delete=models.SET_NULL,
        related_name="invitation",
        null=True,
        blank=True,
        verbose_name=_("participant"),
    )
    label = models.CharField(
        max_length=100,
        blank=True,
        help_text=_("Internal note, e.g. a batch name. Never exported."),
        verbose_name=_("label"),
    )
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("used at"))
    withdrawn_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("The participant withdrew and their answers were deleted."),
        verbose_name=_("withdrawn at"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invitation {self.token_hash[:8]}… ({self.study.slug})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()


class Site(Coded, models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="sites", verbose_name=_("study"))
    code = models.CharField(
        max_length=CODE_MAX_LENGTH, blank=True, validators=[code_validator], editable=False, verbose_name=_("code")
    )
    name = models.CharField(
        _("name"), max_length=NAME_MAX_LENGTH, blank=True, help_text=_("The street's name as written.")
    )
    latitude = models.FloatField(null=True, blank=True, verbose_name=_("latitude"))
    longitude = models.FloatField(null=True, blank=True, verbose_name=_("longitude"))
    attributes = models.JSONField(default=dict, blank=True, verbose_name=_("attributes"))
    order = models.PositiveIntegerField(default=0, verbose_name=_("order"))

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        ordering = ["study", "order", "code"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="site_unique_code"),
            models.UniqueConstraint(fields=["study", "name"], condition=~models.Q(name=""), name="site_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name or self.code

    @property
    def primary_image(self) -> Image | None:
        images = list(self.images.all())
        return images[0] if images else None


class Image(Coded, Localized, models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="images", verbose_name=_("study"))
    code = models.CharField(
        max_length=CODE_MAX_LENGTH, blank=True, validators=[code_validator], editable=False, verbose_name=_("code")
    )
    name = models.CharField(
        _("name"), max_length=NAME_MAX_LENGTH, blank=True, help_text=_("The image's name as written.")
    )
    file = models.ImageField(upload_to="images/", blank=True, verbose_name=_("file"))
    alt_text_en = models.CharField(_("alt text (English)"), max_length=300)
    alt_text_fr = models.CharField(_("alt text (French)"), max_length=300, blank=True)
    site = models.ForeignKey(
        Site, on_delete=models.SET_NULL, null=True, blank=True, related_name="images", verbose_name=_("site")
    )

    class Meta:
        verbose_name = _("image")
        verbose_name_plural = _("images")
        ordering = ["study", "code"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="image_unique_code"),
            models.UniqueConstraint(fields=["study", "name"], condition=~models.Q(name=""), name="image_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name or self.code

    def save(self, *args, **kwargs):
        if not self.code and not self.name and self.site_id:
            self.code = code_derive(
                str(self.site), set(Image.objects.filter(study_id=self.study_id).values_list("code", flat=True))
            )
        super().save(*args, **kwargs)

    @property
    def title(self) -> str:
        """What a resident reads for this image: its name, else its street's name."""
        if self.name:
            return self.name
        if self.site_id:
            return str(self.site)
        return self.alt_text

    @property
    def alt_text(self) -> str:
        return self.localized("alt_text")

    def clean(self) -> None:
        if not (self.alt_text_en or "").strip():
            raise ValidationError({"alt_text_en": _("Every image needs alt text.")})


class Criterion(Coded, Localized, models.Model):
    class Kind(models.TextChoices):
        RATING = "rating", _("Rating")
        RANKING = "ranking", _("Ranking")

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="criteria", verbose_name=_("study"))
    name = models.CharField(_("name"), max_length=NAME_MAX_LENGTH, help_text=_("The criterion's name as written."))
    code = models.CharField(
        max_length=CODE_MAX_LENGTH, blank=True, validators=[code_validator], editable=False, verbose_name=_("code")
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.RATING, verbose_name=_("kind"))
    label_en = models.CharField(max_length=120, blank=True, verbose_name=_("label (English)"))
    label_fr = models.CharField(max_length=120, blank=True, verbose_name=_("label (French)"))
    description_en = models.CharField(max_length=500, blank=True, verbose_name=_("description (English)"))
    description_fr = models.CharField(max_length=500, blank=True, verbose_name=_("description (French)"))
    order = models.PositiveIntegerField(default=0, verbose_name=_("order"))
    images = models.ManyToManyField(
        Image, through="RankingSetItem", blank=True, related_name="ranking_criteria", verbose_name=_("images")
    )

    class Meta:
        verbose_name = _("criterion")
        verbose_name_plural = _("criteria")
        ordering = ["study", "kind", "order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["study", "name"], name="criterion_unique"),
            models.UniqueConstraint(fields=["study", "code"], name="criterion_unique_code"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def label(self) -> str:
        return self.localized("label") or self.name

    @property
    def description(self) -> str:
        return self.localized("description")


class RankingSetItem(models.Model):
    """One image of the set a ranking criterion asks residents to order."""

    criterion = models.ForeignKey(
        Criterion, on_delete=models.CASCADE, related_name="set_items", verbose_name=_("criterion")
    )
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="set_items", verbose_name=_("image"))
    position = models.PositiveIntegerField(default=0, verbose_name=_("position"))

    class Meta:
        verbose_name = _("image of a ranking set")
        verbose_name_plural = _("images of ranking sets")
        ordering = ["criterion", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["criterion", "image"], name="ranking_set_unique")]

    def __str__(self) -> str:
        return f"{self.image_id} at {self.position} for criterion {self.criterion_id}"


class Answer(models.Model):
    """Common columns of every resident answer. `client_seq` orders saves from the same
    participant so a stale tab cannot overwrite a newer answer."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, verbose_name=_("participant"))
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, verbose_name=_("wave"))
    client_seq = models.BigIntegerField(default=0, verbose_name=_("client sequence number"))
    updated_at = models.DateTimeField(default=timezone.now, verbose_name=_("updated at"))

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{type(self).__name__.lower()} of {self.participant_id} in wave {self.wave_id}"


class Rating(Answer):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, verbose_name=_("site"))
    criterion = models.ForeignKey(Criterion, on_delete=models.CASCADE, verbose_name=_("criterion"))
    value = models.SmallIntegerField(verbose_name=_("value"))

    class Meta:
        verbose_name = _("rating")
        verbose_name_plural = _("ratings")
        constraints = [
            models.UniqueConstraint(fields=["participant", "wave", "site", "criterion"], name="rating_unique")
        ]
        indexes = [models.Index(fields=["wave", "criterion"])]


class ConsensusRating(models.Model):
    """A rating a study agreed on as a whole for a site and criterion (e.g. the one a focus group
    reached after discussion). Analyses measure each group's distance from it."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="consensus_ratings", verbose_name=_("site"))
    criterion = models.ForeignKey(
        Criterion, on_delete=models.CASCADE, related_name="consensus_ratings", verbose_name=_("criterion")
    )
    value = models.FloatField(verbose_name=_("value"))
    source = models.CharField(
        max_length=200, blank=True, help_text=_("Where the consensus comes from."), verbose_name=_("source")
    )

    class Meta:
        verbose_name = _("consensus rating")
        verbose_name_plural = _("consensus ratings")
        constraints = [models.UniqueConstraint(fields=["site", "criterion"], name="consensus_rating_unique")]

    def __str__(self) -> str:
        return f"{self.site} {self.criterion}: {self.value}"

    def clean(self) -> None:
        """A consensus is a rating: on a rating criterion of the site's own study, on its scale."""
        if not (self.site_id and self.criterion_id and self.value is not None):
            return
        study = self.site.study
        if self.criterion.study_id != study.pk or self.criterion.kind != Criterion.Kind.RATING:
            raise ValidationError({"criterion": _("Choose a rating criterion of this site's study.")})
        if not study.scale_min <= self.value <= study.scale_max:
            raise ValidationError(
                {
                    "value": _("Must lie on the study's scale, %(low)s to %(high)s.")
                    % {"low": study.scale_min, "high": study.scale_max}
                }
            )


class Ranking(Answer):
    criterion = models.ForeignKey(Criterion, on_delete=models.CASCADE, verbose_name=_("criterion"))
    order = models.JSONField(help_text=_("Image codes, best first."), verbose_name=_("order"))

    class Meta:
        verbose_name = _("ranking")
        verbose_name_plural = _("rankings")
        constraints = [models.UniqueConstraint(fields=["participant", "wave", "criterion"], name="ranking_unique")]


class Priority(Answer):
    criterion = models.ForeignKey(Criterion, on_delete=models.CASCADE, verbose_name=_("criterion"))
    tokens = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(0), MaxValueValidator(100)], verbose_name=_("tokens")
    )

    class Meta:
        verbose_name = _("priority")
        verbose_name_plural = _("priorities")
        constraints = [models.UniqueConstraint(fields=["participant", "wave", "criterion"], name="priority_unique")]


class Comment(Answer):
    text = models.TextField(max_length=5000, verbose_name=_("text"))

    class Meta:
        verbose_name = _("comment")
        verbose_name_plural = _("comments")
        constraints = [models.UniqueConstraint(fields=["participant", "wave"], name="comment_unique")]


class Completion(models.Model):
    """A participant finished a wave. Unique, so finishing twice records one completion."""

    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="completions", verbose_name=_("participant")
    )
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="completions", verbose_name=_("wave"))
    completed_at = models.DateTimeField(default=timezone.now, verbose_name=_("completed at"))

    class Meta:
        verbose_name = _("completion")
        verbose_name_plural = _("completions")
        constraints = [models.UniqueConstraint(fields=["participant", "wave"], name="completion_unique")]

    def __str__(self) -> str:
        return f"completion of {self.participant_id} in wave {self.wave_id}"
