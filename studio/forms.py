"""Django forms of the builder's steps: plain fields only (never JSON). Each form turns what was
typed into the shape of its part of study.json, which `surveys.packages` validates and writes."""

from __future__ import annotations

from django import forms
from django.forms import formset_factory
from django.utils.translation import gettext_lazy as _

from surveys.models import Criterion, StudyMembership

ATTRIBUTE_LINE = _("Line %(line)d: write “name: value”.")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class CreateForm(forms.Form):
    title_en = forms.CharField(label=_("Title in English"), max_length=200)
    title_fr = forms.CharField(label=_("Title in French"), max_length=200, required=False)
    slug = forms.SlugField(
        label=_("Web address"),
        max_length=50,
        required=False,
        help_text=_("Lowercase letters, digits and dashes; taken from the English title if left empty."),
    )


class ImportForm(forms.Form):
    package = forms.FileField(label=_("Study package (.zip)"))
    slug = forms.SlugField(label=_("Web address"), max_length=50, required=False)


class BasicsForm(forms.Form):
    title_en = forms.CharField(label=_("Title in English"), max_length=200)
    title_fr = forms.CharField(label=_("Title in French"), max_length=200, required=False)
    description_en = forms.CharField(
        label=_("Purpose in English"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Shown to residents on the consent page: why the study asks and what it is for."),
    )
    description_fr = forms.CharField(
        label=_("Purpose in French"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    scale_min = forms.IntegerField(label=_("Lowest rating"), min_value=-100, max_value=100)
    scale_max = forms.IntegerField(label=_("Highest rating"), min_value=-100, max_value=100)
    labels_en = forms.CharField(
        label=_("Scale labels in English"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("One label a line, lowest rating first, e.g. Poor, Fair, Good, Excellent."),
    )
    labels_fr = forms.CharField(
        label=_("Scale labels in French"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("One label a line, lowest rating first, e.g. Mauvais, Passable, Bon, Excellent."),
    )
    priority_tokens = forms.IntegerField(
        label=_("Priority tokens"),
        min_value=1,
        max_value=100,
        help_text=_("How many tokens each resident spreads over the rating criteria."),
    )
    open_signup = forms.BooleanField(label=_("Anyone with the study’s open link may take part"), required=False)
    min_group_size = forms.IntegerField(label=_("Smallest group shown without a caution"), min_value=1)
    min_tested_group_size = forms.IntegerField(
        label=_("Smallest group tested for significance"), min_value=2, initial=3
    )
    k_anonymity = forms.IntegerField(label=_("Smallest group in anonymised exports (k)"), min_value=1)

    @classmethod
    def initial_from(cls, doc: dict) -> dict:
        return {
            "title_en": doc["title"]["en"],
            "title_fr": doc["title"]["fr"],
            "description_en": doc["description"]["en"],
            "description_fr": doc["description"]["fr"],
            "scale_min": doc["scale"]["min"],
            "scale_max": doc["scale"]["max"],
            "labels_en": "\n".join(doc["scale"]["labels"]["en"]),
            "labels_fr": "\n".join(doc["scale"]["labels"]["fr"]),
            "priority_tokens": doc["priority_tokens"],
            "open_signup": doc["open_signup"],
            "min_group_size": doc["min_group_size"],
            "min_tested_group_size": doc["min_tested_group_size"],
            "k_anonymity": doc["k_anonymity"],
        }

    def to_part(self) -> dict:
        d = self.cleaned_data
        return {
            "title": {"en": d["title_en"], "fr": d["title_fr"]},
            "description": {"en": d["description_en"], "fr": d["description_fr"]},
            "scale": {
                "min": d["scale_min"],
                "max": d["scale_max"],
                "labels": {"en": _lines(d["labels_en"]), "fr": _lines(d["labels_fr"])},
            },
            "priority_tokens": d["priority_tokens"],
            "open_signup": d["open_signup"],
            "min_group_size": d["min_group_size"],
            "min_tested_group_size": d["min_tested_group_size"],
            "k_anonymity": d["k_anonymity"],
        }

    # Where the package's field names land on this form.
    FIELDS = {
        "title.en": "title_en",
        "title.fr": "title_fr",
        "description.en": "description_en",
        "description.fr": "description_fr",
        "scale.min": "scale_min",
        "scale.max": "scale_max",
        "scale.labels.en": "labels_en",
        "scale.labels.fr": "labels_fr",
        "scale": "scale_min",
    }


class _Row(forms.Form):
    """One item of a list part; `code` keeps an existing item's identity and is never shown."""

    code = forms.CharField(required=False, widget=forms.HiddenInput)
    FIELDS: dict[str, str] = {}

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", None) or {}
        return not any(v not in (None, "", False) for k, v in data.items() if k != "DELETE")


class CriterionRow(_Row):
    label_en = forms.CharField(label=_("Name in English"), max_length=120, required=False)
    label_fr = forms.CharField(label=_("Name in French"), max_length=120, required=False)
    kind = forms.ChoiceField(
        label=_("Residents"),
        choices=[
            (Criterion.Kind.RATING, _("rate each site on the scale")),
            (Criterion.Kind.RANKING, _("rank a set of images")),
        ],
        initial=Criterion.Kind.RATING,
    )
    description_en = forms.CharField(
        label=_("Question in English"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    description_fr = forms.CharField(
        label=_("Question in French"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    FIELDS = {"label.en": "label_en", "label.fr": "label_fr", "kind": "kind"}

    def is_blank(self) -> bool:
        d = getattr(self, "cleaned_data", None) or {}
        return not any(d.get(k) for k in ("code", "label_en", "label_fr", "description_en", "description_fr"))

    @staticmethod
    def initial_from(item: dict) -> dict:
        return {
            "code": item["code"],
            "label_en": item["label"]["en"],
            "label_fr": item["label"]["fr"],
            "kind": item["kind"],
            "description_en": item["description"]["en"],
            "description_fr": item["description"]["fr"],
        }

    def to_item(self) -> dict:
        d = self.cleaned_data
        return {
            "code": d["code"],
            "kind": d["kind"],
            "label": {"en": d["label_en"], "fr": d["label_fr"]},
            "description": {"en": d["description_en"], "fr": d["description_fr"]},
        }


class WaveRow(_Row):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        required=False,
        help_text=_("For example “before discussion” or “spring 2027”."),
    )
    FIELDS = {"name": "name"}

    @staticmethod
    def initial_from(item: dict) -> dict:
        return {"name": item["name"]}

    def to_item(self) -> dict:
        return {"name": self.cleaned_data["name"]}


class GroupRow(_Row):
    label_en = forms.CharField(label=_("Name in English"), max_length=120, required=False)
    label_fr = forms.CharField(label=_("Name in French"), max_length=120, required=False)
    target = forms.IntegerField(
        label=_("Target number of participants"), min_value=0, max_value=1_000_000, required=False
    )
    FIELDS = {"label.en": "label_en", "label.fr": "label_fr", "target": "target"}

    @staticmethod
    def initial_from(item: dict) -> dict:
        return {
            "code": item["code"],
            "label_en": item["label"]["en"],
            "label_fr": item["label"]["fr"],
            "target": item["target"],
        }

    def to_item(self) -> dict:
        d = self.cleaned_data
        return {
            "code": d["code"],
            "label": {"en": d["label_en"], "fr": d["label_fr"]},
            "description": {"en": "", "fr": ""},
            "target": d["target"],
        }


def _decimal(value: str) -> str:
    # French keyboards write 45,56.
    return (value or "").strip().replace(",", ".")


class SiteRow(_Row):
    name = forms.CharField(label=_("Name"), max_length=120, required=False)
    latitude = forms.CharField(label=_("Latitude"), max_length=30, required=False)
    longitude = forms.CharField(label=_("Longitude"), max_length=30, required=False)
    attributes = forms.CharField(
        label=_("Attributes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One a line, as “name: value”, e.g. “sidewalk width: wide”."),
    )
    FIELDS = {"name": "name", "latitude": "latitude", "longitude": "longitude", "attributes": "attributes"}

    @staticmethod
    def initial_from(item: dict) -> dict:
        attributes = "\n".join(f"{k}: {v}" for k, v in (item["attributes"] or {}).items())
        return {
            "code": item["code"],
            "name": item["name"],
            "latitude": "" if item["latitude"] is None else str(item["latitude"]),
            "longitude": "" if item["longitude"] is None else str(item["longitude"]),
            "attributes": attributes,
        }

    def clean_attributes(self) -> dict:
        out = {}
        for number, line in enumerate((self.cleaned_data.get("attributes") or "").splitlines(), start=1):
            if not line.strip():
                continue
            name, sep, value = line.partition(":")
            if not sep or not name.strip():
                raise forms.ValidationError(ATTRIBUTE_LINE, params={"line": number})
            out[name.strip()] = value.strip()
        return out

    def to_item(self) -> dict:
        d = self.cleaned_data
        return {
            "code": d["code"],
            "name": d["name"],
            "latitude": _decimal(d["latitude"]) or None,
            "longitude": _decimal(d["longitude"]) or None,
            "attributes": d["attributes"],
        }


class ImageRow(_Row):
    alt_en = forms.CharField(
        label=_("Description in English (alt text)"),
        max_length=300,
        required=False,
        help_text=_("What a person who cannot see the image needs to know."),
    )
    alt_fr = forms.CharField(label=_("Description in French (alt text)"), max_length=300, required=False)
    site = forms.ChoiceField(label=_("Site"), required=False)
    FIELDS = {"alt.en": "alt_en", "alt.fr": "alt_fr", "site": "site"}

    def __init__(self, *args, sites=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].choices = [("", _("— none —"))] + list(sites)

    @staticmethod
    def initial_from(item: dict) -> dict:
        return {"code": item["code"], "alt_en": item["alt"]["en"], "alt_fr": item["alt"]["fr"], "site": item["site"]}

    def to_item(self) -> dict:
        d = self.cleaned_data
        return {"code": d["code"], "alt": {"en": d["alt_en"], "fr": d["alt_fr"]}, "site": d["site"] or None}


class MembershipForm(forms.Form):
    username = forms.CharField(label=_("User name"), max_length=150)
    role = forms.ChoiceField(label=_("Role"), choices=StudyMembership.Role.choices)


class LinksForm(forms.Form):
    count = forms.IntegerField(label=_("How many links?"), min_value=1, max_value=10_000, initial=20)
    label = forms.CharField(
        label=_("Batch name (internal)"), max_length=100, required=False, help_text=_("Never exported.")
    )


class MailForm(forms.Form):
    addresses = forms.CharField(
        label=_("E-mail addresses"),
        widget=forms.Textarea(attrs={"rows": 6, "autocomplete": "off", "spellcheck": "false"}),
        help_text=_(
            "One a line. Each person receives a personal link. Addresses are erased once the "
            "reminder is sent, or when you choose to forget them."
        ),
    )


def row_formset(row_class, *, extra: int = 2):
    return formset_factory(row_class, extra=extra, can_delete=True)
