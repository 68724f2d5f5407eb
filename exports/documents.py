"""The explanatory files of an export: README.md, codebook.csv and codebook.md.

They are built from a `StudyDescription` (read once from the database by the service) and the
export's summary, so this module does no query of its own.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from core.csv import csv_safe

RESPONSES_COLUMNS = [
    (
        "participant",
        "Pseudonymous participant code (R + 16 hex digits), new for every export: "
        "the same person has different codes in two exports.",
    ),
    (
        "groups",
        "The participant's self-identified groups after small-cell protection, "
        "separated by ';'. Empty: no group, or memberships suppressed (see README).",
    ),
    ("wave", "Survey wave (see the wave list in the codebook)."),
    ("task", "rating, ranking or priority."),
    ("item", "rating: site code; ranking: image code; priority: empty."),
    ("criterion", "Criterion name (wording in the criteria section)."),
    (
        "value",
        "rating: scale value; ranking: position, 1 = best; priority: tokens given to the criterion.",
    ),
]
COMMENTS_COLUMNS = [
    ("participant", "Pseudonymous participant code, as in responses.csv."),
    ("wave", "Survey wave."),
    ("text", "The participant's free-text comment, reviewed before release."),
]
CODEBOOK_HEADER = [
    "section",
    "file",
    "code",
    "label_en",
    "label_fr",
    "description_en",
    "description_fr",
]
TERMS = (
    "This export is released for research on the study named above, within the consent its "
    "participants gave (research use of their anonymised answers). Do not try to identify any "
    "participant, do not link this file with other data about them, do not publish figures for "
    "cells smaller than k, and do not pass the file on outside the research team. Delete it "
    "when the project ends. Cite the study when you publish."
)


@dataclass
class StudyDescription:
    slug: str
    title_en: str
    title_fr: str
    description_en: str
    description_fr: str
    scale_min: int
    scale_max: int
    scale_labels_en: list[str]
    scale_labels_fr: list[str]
    priority_tokens: int
    k: int
    comments_included: bool
    waves: list[dict] = field(default_factory=list)
    groups: list[dict] = field(default_factory=list)
    criteria: list[dict] = field(default_factory=list)
    sites: list[dict] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)


def csv_text(rows: list[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow([csv_safe(cell) for cell in row])
    return out.getvalue()


def codebook_rows(study: StudyDescription, wide=None) -> list[list]:
    rows: list[list] = [CODEBOOK_HEADER]
    for name, text in RESPONSES_COLUMNS:
        rows.append(["column", "responses.csv", name, text, "", "", ""])
    for column in wide.columns if wide is not None else []:
        labels = "; ".join(f"{v} = {label}" for v, label in (column.value_labels or {}).items())
        rows.append(["column", "responses_wide.csv", column.name, column.label, "", labels, ""])
    if study.comments_included:
        for name, text in COMMENTS_COLUMNS:
            rows.append(["column", "comments.csv", name, text, "", "", ""])
    for i, value in enumerate(range(study.scale_min, study.scale_max + 1)):
        rows.append(
            [
                "scale",
                "",
                value,
                _at(study.scale_labels_en, i),
                _at(study.scale_labels_fr, i),
                "",
                "",
            ]
        )
    for c in study.criteria:
        rows.append(
            [
                "criterion",
                c["kind"],
                c["name"],
                c["label_en"],
                c["label_fr"],
                c["description_en"],
                c["description_fr"],
            ]
        )
    for g in study.groups:
        rows.append(
            [
                "group",
                "",
                g["code"],
                g["label_en"],
                g["label_fr"],
                g["description_en"],
                g["description_fr"],
            ]
        )
    for w in study.waves:
        rows.append(["wave", "", w["name"], "", "", f"order {w['order']}", ""])
    for s in study.sites:
        rows.append(["site", "", s["code"], s["name"], "", "", ""])
    for im in study.images:
        rows.append(
            [
                "image",
                "",
                im["code"],
                im["alt_text_en"],
                im["alt_text_fr"],
                f"site {im['site']}" if im["site"] else "",
                "",
            ]
        )
    return rows


def codebook_md(study: StudyDescription, wide=None) -> str:
    lines = [f"# Codebook — {_md(study.title_en)}", ""]
    lines += ["## responses.csv", "", "| column | meaning |", "|---|---|"]
    lines += [f"| `{name}` | {_md(text)} |" for name, text in RESPONSES_COLUMNS]
    if wide is not None:
        lines += [
            "",
            "## responses_wide.csv, responses.sav, responses.dta",
            "",
            "One row per participant and wave; the same variables, names and labels in all three "
            "files (value labels are stored in the SPSS and Stata files). Empty: not answered.",
            "",
            "| variable | meaning | values |",
            "|---|---|---|",
        ]
        for column in wide.columns:
            labels = "; ".join(f"{v} = {_md(label)}" for v, label in (column.value_labels or {}).items())
            lines.append(f"| `{column.name}` | {_md(column.label)} | {labels} |")
    if study.comments_included:
        lines += ["", "## comments.csv", "", "| column | meaning |", "|---|---|"]
        lines += [f"| `{name}` | {_md(text)} |" for name, text in COMMENTS_COLUMNS]
    lines += [
        "",
        f"## Rating scale ({study.scale_min}–{study.scale_max})",
        "",
        "| value | English | French |",
        "|---|---|---|",
    ]
    for i, value in enumerate(range(study.scale_min, study.scale_max + 1)):
        lines.append(f"| {value} | {_md(_at(study.scale_labels_en, i))} | {_md(_at(study.scale_labels_fr, i))} |")
    lines += ["", "## Criteria", "", "| name | kind | English | French |", "|---|---|---|---|"]
    for c in study.criteria:
        en = _md(c["label_en"]) + (f" — {_md(c['description_en'])}" if c["description_en"] else "")
        fr = _md(c["label_fr"]) + (f" — {_md(c['description_fr'])}" if c["description_fr"] else "")
        lines.append(f"| `{_md(c['name'])}` | {c['kind']} | {en} | {fr} |")
    lines += [
        "",
        f"Priority rows spread {study.priority_tokens} tokens over the rating criteria per participant and wave.",
        "",
        "## Groups (self-identified; a participant may belong to several)",
        "",
        "| code | English | French | participants in this export |",
        "|---|---|---|---|",
    ]
    for g in study.groups:
        en = _md(g["label_en"]) + (f" — {_md(g['description_en'])}" if g["description_en"] else "")
        fr = _md(g["label_fr"]) + (f" — {_md(g['description_fr'])}" if g["description_fr"] else "")
        lines.append(f"| `{_md(g['code'])}` | {en} | {fr} | {g.get('exported', 0)} |")
    lines += ["", "## Waves", "", "| order | name |", "|---|---|"]
    lines += [f"| {w['order']} | {_md(w['name'])} |" for w in study.waves]
    lines += ["", "## Sites", "", "| code | name |", "|---|---|"]
    lines += [f"| `{_md(s['code'])}` | {_md(s['name'])} |" for s in study.sites]
    lines += [
        "",
        "## Images",
        "",
        "| code | site | alt text (en) | alt text (fr) |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{_md(i['code'])}` | {_md(i['site'] or '')} | {_md(i['alt_text_en'])} | {_md(i['alt_text_fr'])} |"
        for i in study.images
    ]
    return "\n".join(lines) + "\n"


def readme_md(study: StudyDescription, summary: dict) -> str:
    protection = summary["protection"]
    rows = summary["rows"]
    lines = [
        f"# {_md(study.title_en)}" + (f" / {_md(study.title_fr)}" if study.title_fr else ""),
        "",
        f"Anonymised export of the Civic study `{study.slug}`, made on {summary['exported_on']}.",
        "",
    ]
    if study.description_en:
        lines += [_md(study.description_en), ""]
    if study.description_fr:
        lines += [_md(study.description_fr), ""]
    lines += [
        "## Files",
        "",
        "- `responses.csv` — one answer per row, in Civic's import format "
        "(`participant,groups,wave,task,item,criterion,value`); it re-imports with "
        "`python manage.py import_responses responses.csv --study NEW --create "
        f"--scale-min {study.scale_min} --scale-max {study.scale_max}`.",
        "- `responses_wide.csv` — the same answers, one row per participant and wave, each released "
        "group as a 0/1 indicator column (see the codebook).",
        "- `responses.sav` (SPSS) and `responses.dta` (Stata 15) — the wide table with variable and "
        "value labels (waves, groups, the rating scale).",
    ]
    for scenario in summary.get("scenarios", []):
        withheld = (
            f" ({scenario['withheld_votes']} stakeholder groups smaller than k cast no vote)"
            if scenario["withheld_votes"]
            else ""
        )
        lines.append(
            f"- `{scenario['file']}` — the negotiation scenario “{_md(scenario['title'])}” as a pabulib "
            "file: interventions as projects, the budget, and each stakeholder group as a voter scoring "
            f"the interventions by the sum over criteria of weight × effect{withheld}."
        )
    if study.comments_included:
        lines.append("- `comments.csv` — reviewed free-text comments.")
    lines += [
        "- `codebook.csv`, `codebook.md` — every column, the scale labels, the criteria wording "
        "in English and French, the groups, waves, sites and images.",
        "- `analysis_report.json` — the disagreement report computed from exactly the rows of this "
        "export (consenting participants, released memberships) with the parameters of the study's "
        "latest analysis; figures of cells smaller than k are blanked"
        + ("." if summary.get("analysis_report") else " (the study was never analysed: the file holds null)."),
        "",
        "All files are UTF-8. Text cells beginning with `=`, `+`, `-`, `@`, a tab or a carriage "
        "return are prefixed with `'` so that spreadsheets do not run them as formulas.",
        "",
        "## Contents",
        "",
        f"- Participants: {summary['participants']} (only those who consented to research use).",
        f"- Rows: {rows['rating']} ratings, {rows['ranking']} ranking positions, "
        f"{rows['priority']} priority rows" + (f", {rows['comment']} comments." if study.comments_included else "."),
        f"- Rating scale {study.scale_min}–{study.scale_max}.",
        "- Waves, in order: "
        + ", ".join(f"{_md(w['name'])} ({w['participants']} participants)" for w in study.waves)
        + ".",
    ]
    skipped = summary.get("skipped", {})
    if skipped.get("ranking") or skipped.get("priority"):
        lines.append(
            f"- Left out as incomplete: {skipped.get('ranking', 0)} rankings that are not a "
            f"full ordering of their image set and {skipped.get('priority', 0)} priority "
            f"allocations that do not add up to {study.priority_tokens} tokens."
        )
    if not study.comments_included:
        lines.append("- Free-text comments are not included: they have not been reviewed.")
    lines += [
        "",
        "## Anonymisation",
        "",
        "- Participant codes are replaced by pseudonyms: HMAC-SHA256 of the code under a random "
        "key made for this export alone and never stored. Two exports cannot be joined.",
        "- No names, e-mail addresses, invitation tokens, IP addresses, languages or timestamps "
        "are included; the only date is the export day.",
        "- Rows appear in an order drawn for this export alone, so two exports cannot be joined row by row.",
        f"- Small-cell protection with k = {protection['k']}: every combination of group "
        "memberships in `responses.csv` (including no group) is shared by at least "
        f"{protection['k']} participants.",
    ]
    if protection.get("method") == "columns":
        lines.append(
            "  - Whole groups are released: each released group carries all of its members, so a 0 "
            "in its indicator column is true; the other groups are withheld entirely."
        )
    elif protection.get("complete"):
        complete = ", ".join(f"`{_md(g)}`" for g in protection["complete"])
        lines.append(f"  - Released with all their members: {complete}.")
    if protection["affected"]:
        removed = ", ".join(f"`{_md(g)}`: {n}" for g, n in protection["removed"].items())
        lines += [
            f"  - Generalised: {protection['generalised']} participants lost one or more of "
            "their rarest group memberships, so that they share a combination with at least "
            f"{protection['k']} others.",
            f"  - Suppressed: {protection['suppressed']} participants have all their memberships cleared.",
            f"  - In all {protection['affected']} of {summary['participants']} participants "
            f"were affected; memberships removed per group: {removed}.",
        ]
    else:
        lines.append("  - No generalisation or suppression was needed.")
    if not protection["k_reachable"]:
        lines.append(
            f"  - The study has fewer than {protection['k']} consenting participants, so all "
            "memberships are cleared and even the single remaining cell is smaller than k."
        )
    lines += [
        "",
        "Combinations of groups in this export:",
        "",
        "| groups | participants |",
        "|---|---|",
    ]
    for combo in protection["combinations"]:
        label = ", ".join(f"`{_md(g)}`" for g in combo["groups"]) or "(none)"
        lines.append(f"| {label} | {combo['participants']} |")
    lines += ["", "## Licence and consent terms", "", TERMS, ""]
    return "\n".join(lines)


def _at(labels: list[str], i: int) -> str:
    return labels[i] if i < len(labels) else ""


def _md(value) -> str:
    """Keeps user text inside its Markdown table cell and inert if the file is rendered."""
    text = "" if value is None else str(value)
    text = text.replace("\r", " ").replace("\n", " ").replace("|", "\\|")
    return text.replace("<", "&lt;").replace(">", "&gt;")
