"""The export's files for statistics packages: the wide table (CSV, SPSS .sav, Stata .dta with
value labels) and each negotiation scenario as a pabulib .pb file. Plain functions on data the
writer has read; no query of their own.

The wide table has one row per participant and wave: the pseudonym, the wave (a number with
the wave's name as value label), one 0/1 indicator column per released group, then one column
per rated site and criterion, per ranked image and criterion (its position) and per priority
criterion (its tokens). Variable names are derived from the codes, at most 32 characters of
[a-z0-9_] (Stata's rule), and every variable carries its full label.
"""

from __future__ import annotations

import csv
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.csv import csv_safe

NAME_MAX = 32
LABEL_MAX = 80
YES_NO = {0: "no", 1: "yes"}
PB_COUNTRY = "Canada"
PB_UNIT = "Montreal"


@dataclass
class Column:
    name: str
    label: str
    value_labels: dict[int, str] | None = None
    text: bool = False


@dataclass
class Table:
    """The wide table: `participants[i]` and `values[i]` (float32, nan = not answered) per row,
    in the export's drawn order; the first two columns (participant, wave) are in both."""

    columns: list[Column]
    participants: list[str] = field(default_factory=list)
    values: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))


def _variable(parts: list[str], used: set[str]) -> str:
    """A unique Stata/SPSS variable name from `parts`."""
    base = re.sub(r"[^a-z0-9_]+", "_", "_".join(parts).lower()).strip("_") or "v"
    if not base[0].isalpha():
        base = "v_" + base
    base = base[:NAME_MAX]
    name, n = base, 1
    while name in used:
        n += 1
        suffix = f"_{n}"
        name = base[: NAME_MAX - len(suffix)] + suffix
    used.add(name)
    return name


class WideTable:
    """Collects the wide table while the long file is written (see the module docstring).

    Cells live in one float32 matrix of (participants × waves) rows — 4 bytes a cell, filled
    by vectorised assignment — rather than in Python objects."""

    def __init__(self, *, description, lookups, people, generalisation):
        self.people = people
        used: set[str] = {"participant", "wave"}
        self.columns = [
            Column("participant", "Pseudonymous participant code (new for every export)", text=True),
            Column("wave", "Survey wave", {i: w["name"] for i, w in enumerate(description.waves, start=1)}),
        ]
        self.wave_number = {wave_id: i for i, (wave_id, _) in enumerate(lookups.waves, start=1)}
        released = generalisation.memberships
        shown = {g for groups in released.values() for g in groups}
        groups = [g["code"] for g in description.groups if g["code"] in shown]
        for g in groups:
            self.columns.append(Column(_variable(["g", g], used), f"Member of group {g} (as released)", YES_NO))
        scale = {
            value: label
            for value, label in zip(
                range(description.scale_min, description.scale_max + 1), description.scale_labels_en, strict=False
            )
            if label
        }
        self.index: dict[tuple, int] = {}
        for criterion_id, criterion in lookups.rating_criteria.items():
            for site_id, site in lookups.sites.items():
                self._add(
                    ("rating", site_id, criterion_id),
                    ["r", site, criterion],
                    f"Rating of site {site}, criterion {criterion}",
                    used,
                    scale or None,
                )
        for criterion_id, criterion in lookups.ranking_criteria.items():
            for code in lookups.ranking_sets.get(criterion_id, []):
                self._add(
                    ("ranking", criterion_id, code),
                    ["k", criterion, code],
                    f"Rank of image {code}, criterion {criterion} (1 = best)",
                    used,
                )
        for criterion_id, criterion in lookups.rating_criteria.items():
            self._add(("priority", criterion_id), ["p", criterion], f"Priority tokens given to {criterion}", used)

        self.ids = np.array(sorted(people), dtype=np.int64)
        self.n_waves = max(len(lookups.waves), 1)
        self.values = np.full((len(self.ids) * self.n_waves, len(self.columns)), np.nan, dtype=np.float32)
        self.answered = np.zeros(len(self.values), dtype=bool)
        for c, g in enumerate(groups, start=2):
            column = np.array([g in released[pid] for pid in self.ids], dtype=np.float32)
            self.values[:, c] = np.repeat(column, self.n_waves)
        for number in self.wave_number.values():
            self.values[number - 1 :: self.n_waves, 1] = number
        rating_keys = [(key[1], key[2], col) for key, col in self.index.items() if key[0] == "rating"]
        self._rating_codes = np.array([site * _KEY + crit for site, crit, _ in rating_keys], dtype=np.int64)
        order = np.argsort(self._rating_codes)
        self._rating_codes = self._rating_codes[order]
        self._rating_columns = np.array([col for _, _, col in rating_keys], dtype=np.int64)[order]

    def _add(self, key, parts, label, used, value_labels=None):
        self.index[key] = len(self.columns)
        self.columns.append(Column(_variable(parts, used), label[:LABEL_MAX], value_labels))

    def _rows(self, pids: np.ndarray, wave_id: int) -> tuple[np.ndarray, np.ndarray]:
        """Row numbers of participant ids in a wave, and which ids are exported at all."""
        at = np.searchsorted(self.ids, pids)
        at = np.minimum(at, max(len(self.ids) - 1, 0))
        known = (self.ids[at] == pids) if len(self.ids) else np.zeros(len(pids), bool)
        return at * self.n_waves + self.wave_number[wave_id] - 1, known

    def set(self, pid: int, wave_id: int, key: tuple, value) -> None:
        column = self.index.get(key)
        if column is None or pid not in self.people:
            return
        row, _ = self._rows(np.array([pid], dtype=np.int64), wave_id)
        self.values[row[0], column] = value
        self.answered[row[0]] = True

    def ratings_add(self, wave_id: int, chunk: np.ndarray) -> None:
        """Adds rows of (participant id, site id, criterion id, value)."""
        if not len(chunk) or not len(self._rating_codes):
            return
        rows, known = self._rows(chunk[:, 0].astype(np.int64), wave_id)
        codes = chunk[:, 1].astype(np.int64) * _KEY + chunk[:, 2].astype(np.int64)
        at = np.minimum(np.searchsorted(self._rating_codes, codes), len(self._rating_codes) - 1)
        known &= self._rating_codes[at] == codes
        self.values[rows[known], self._rating_columns[at[known]]] = chunk[known, 3]
        self.answered[rows[known]] = True

    def table(self) -> Table:
        """The answered rows in an order drawn for this export alone."""
        rows = np.flatnonzero(self.answered)
        rows = rows[np.argsort([secrets.randbits(64) for _ in rows])] if len(rows) else rows
        participants = [self.people[int(self.ids[r // self.n_waves])][0] for r in rows]
        return Table(columns=self.columns, participants=participants, values=self.values[rows])


_KEY = 1 << 31


def _cell(value: float) -> str:
    if np.isnan(value):
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def wide_csv_write(text, table: Table) -> None:
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([c.name for c in table.columns])
    for participant, row in zip(table.participants, table.values, strict=True):
        writer.writerow([csv_safe(participant)] + [_cell(v) for v in row[1:].tolist()])


def _frame(table: Table):
    import pandas as pd

    data = {table.columns[0].name: pd.Series(table.participants, dtype="object")}
    for i, column in enumerate(table.columns[1:], start=1):
        data[column.name] = table.values[:, i].astype(np.float64)
    return pd.DataFrame(data, columns=[c.name for c in table.columns])


def _labels(table: Table) -> tuple[list[str], dict[str, dict[int, str]]]:
    labels = [c.label for c in table.columns]
    value_labels = {c.name: dict(c.value_labels) for c in table.columns if c.value_labels}
    return labels, value_labels


# Where each format keeps the time its file was written: it is set to midnight, like the zip's
# dates, so no member tells when in the day the export was made.
_SAV_TIME = slice(101, 109)
_DTA_TIME = re.compile(rb"(<timestamp>\x11\d\d [A-Za-z]{3} \d{4} )\d\d:\d\d")


def sav_write(table: Table, path: Path) -> None:
    """The wide table as an SPSS file, with variable and value labels."""
    import pyreadstat

    labels, value_labels = _labels(table)
    pyreadstat.write_sav(_frame(table), str(path), column_labels=labels, variable_value_labels=value_labels)
    with path.open("r+b") as f:
        f.seek(_SAV_TIME.start)
        f.write(b"00:00:00")


def dta_write(table: Table, path: Path) -> None:
    """The wide table as a Stata 15 file, with variable and value labels."""
    import pyreadstat

    labels, value_labels = _labels(table)
    pyreadstat.write_dta(_frame(table), str(path), column_labels=labels, variable_value_labels=value_labels)
    data = path.read_bytes()
    path.write_bytes(_DTA_TIME.sub(rb"\g<1>00:00", data, count=1))


def _pb_cell(value) -> str:
    """A pabulib cell: `;` separates cells and a line ends a row, so neither may appear."""
    return re.sub(r"[;\r\n]+", " ", str(value)).strip()


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def pabulib_text(document: dict, *, study_slug: str, number: int, sizes: dict[str, int], k: int):
    """A negotiation scenario as a pabulib file: its interventions are the projects (cost,
    name, effect on each criterion), its budget the budget, and each stakeholder group a voter
    scoring each intervention by its weighted effect (Σ weight × effect over the criteria);
    only interventions with a positive score are listed, highest first.

    A group with fewer than k consenting participants casts no vote: its weights may have been
    drawn from its members' answers. Returns (text, votes, withheld votes)."""
    criteria = list(document.get("criteria", []))
    interventions = document.get("interventions", [])
    votes, withheld = [], 0
    for group in document.get("groups", []):
        if sizes.get(group["name"], 0) < k:
            withheld += 1
            continue
        weights = group.get("criterion_weights", {})
        scores = []
        for i in interventions:
            score = sum(float(weights.get(c, 0)) * float(i.get("effects", {}).get(c, 0)) for c in criteria)
            if score > 0:
                scores.append((round(score, 6), i["code"]))
        scores.sort(key=lambda item: (-item[0], item[1]))
        votes.append((group["name"], scores))
    lines = [
        "META",
        "key;value",
        "description;"
        + _pb_cell(
            f"Civic negotiation scenario {number} of study {study_slug}: interventions as projects; "
            "stakeholder groups as voters scoring each intervention by the sum over criteria of weight × effect"
        ),
        f"country;{PB_COUNTRY}",
        f"unit;{PB_UNIT}",
        f"instance;{_pb_cell(study_slug)}-scenario-{number}",
        f"num_projects;{len(interventions)}",
        f"num_votes;{len(votes)}",
        f"budget;{_number(document.get('budget', 0))}",
        "vote_type;scoring",
        "rule;unknown",
        "PROJECTS",
        ";".join(["project_id", "cost", "name"] + [_pb_cell(f"effect_{c}") for c in criteria]),
    ]
    for i in interventions:
        effects = i.get("effects", {})
        lines.append(
            ";".join(
                [_pb_cell(i["code"]), _number(i["cost"]), _pb_cell(i["name"])]
                + [_number(effects.get(c, 0)) for c in criteria]
            )
        )
    lines += ["VOTES", "voter_id;vote;points"]
    for name, scores in votes:
        lines.append(
            ";".join(
                [
                    _pb_cell(name),
                    ",".join(_pb_cell(code) for _, code in scores),
                    ",".join(_number(score) for score, _ in scores),
                ]
            )
        )
    return "\n".join(lines) + "\n", len(votes), withheld
