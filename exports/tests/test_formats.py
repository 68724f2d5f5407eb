"""The files researchers open directly: wide CSV, SPSS .sav and Stata .dta with value labels,
and each negotiation scenario as a pabulib .pb file that pabutools reads back."""

from __future__ import annotations

import csv
import io
import zipfile

import pyreadstat
import pytest

from exports.anonymity import memberships_by_columns, memberships_generalise, memberships_protect
from exports.formats import pabulib_text
from exports.models import ExportJob
from exports.services import export_build, export_request
from negotiation.tests.helpers import document, make_scenario

from .conftest import unzip


def _build(study):
    job = export_build(job_id=export_request(study=study, user=None, enqueue=False).pk)
    assert job.status == ExportJob.Status.DONE, job.error
    return job


def test_the_wide_table_has_one_row_per_participant_and_wave_with_group_indicators(populated):
    files = unzip(_build(populated.study).path)
    long_rows = files.dicts("responses.csv")
    wide = files.dicts("responses_wide.csv")
    assert len(wide) == len({(r["participant"], r["wave"]) for r in long_rows}) == 30
    assert {"g_senior", "g_disabled"} <= set(wide[0]) and "g_lgbtqia2" not in wide[0]
    by_person = {r["participant"]: r["groups"] for r in long_rows}
    for row in wide:
        assert row["g_senior"] == ("1" if "senior" in by_person[row["participant"]].split(";") else "0")
    # Every rating of the long file is in the wide one, at its site and criterion.
    ratings = [r for r in long_rows if r["task"] == "rating"]
    waves = {w["name"]: i for i, w in enumerate([{"name": "w1"}, {"name": "w2"}], start=1)}
    wide_by_key = {(r["participant"], r["wave"]): r for r in wide}
    for r in ratings:
        column = f"r_{r['item']}_{r['criterion']}".lower()
        assert float(wide_by_key[(r["participant"], str(waves[r["wave"]]))][column]) == float(r["value"])


def test_spss_and_stata_files_carry_variable_and_value_labels(populated, tmp_path):
    job = _build(populated.study)
    with zipfile.ZipFile(job.path) as zf:
        zf.extract("responses.sav", tmp_path)
        zf.extract("responses.dta", tmp_path)
        wide = list(csv.DictReader(io.StringIO(zf.read("responses_wide.csv").decode())))
    for name, read in (("responses.sav", pyreadstat.read_sav), ("responses.dta", pyreadstat.read_dta)):
        frame, meta = read(str(tmp_path / name))
        assert len(frame) == len(wide), name
        assert list(frame.columns) == list(wide[0]), name
        assert {int(k): v for k, v in meta.variable_value_labels["wave"].items()} == {1: "w1", 2: "w2"}
        assert {int(k): v for k, v in meta.variable_value_labels["g_senior"].items()} == {0: "no", 1: "yes"}
        labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
        assert labels["g_senior"].startswith("Member of group senior")
        assert sorted(frame["participant"]) == sorted(r["participant"] for r in wide)


def test_each_scenario_is_a_pabulib_file_that_pabutools_reads(populated):
    from pabutools.election.pabulib import parse_pabulib_from_string

    make_scenario(populated.study, title="Corner; fixes\nfor all")
    files = unzip(_build(populated.study).path)
    text = files.text("scenarios/scenario-1.pb")
    instance, profile = parse_pabulib_from_string(text)
    assert float(instance.budget_limit) == 100
    assert {p.name: float(p.cost) for p in instance} == {"ramps": 40, "trees": 50, "murals": 30, "benches": 20}
    # senior (8 consenting members) and disabled (7) vote; lgbtqia2 (1 < k) casts no vote.
    assert len(profile) == 2
    ballots = {b.meta["voter_id"]: b for b in profile}
    senior = ballots[document()["groups"][0]["name"]]
    assert float(senior[next(p for p in senior if p.name == "ramps")]) == pytest.approx(0.7 * 0.6)
    readme = files.text("README.md")
    assert "scenarios/scenario-1.pb" in readme and "1 stakeholder groups smaller than k cast no vote" in readme


def test_pabulib_cells_cannot_break_the_format():
    text, votes, withheld = pabulib_text(
        document(title="x"), study_slug="s;x", number=1, sizes={g["name"]: 9 for g in document()["groups"]}, k=5
    )
    assert (votes, withheld) == (3, 0)
    sections = [line for line in text.splitlines() if line in {"META", "PROJECTS", "VOTES"}]
    assert sections == ["META", "PROJECTS", "VOTES"]
    assert "s x-scenario-1" in text


def test_whole_groups_keep_memberships_where_combinations_would_clear_them_all():
    """Many overlapping groups, every combination small: combination generalisation keeps
    little, while a balanced group can still be released whole."""
    memberships = {
        p: {
            g
            for g, members in {"a": range(0, 6), "b": range(2, 5), "c": range(5, 8), "d": [1, 9]}.items()
            if p in members
        }
        for p in range(12)
    }
    combos = memberships_generalise(memberships, 5)
    columns = memberships_by_columns(memberships, 5)
    chosen = memberships_protect(memberships, 5)
    # Combinations keep 5 memberships, and their zeros are not true; group a (6 of 12) is
    # released whole, with true zeros, and 6 memberships.
    assert combos.kept == 5 and combos.complete == ()
    assert (columns.kept, columns.complete) == (6, ("a",))
    assert chosen.method == "columns" and chosen.kept == 6
    cells = {}
    for groups in chosen.memberships.values():
        cells[groups] = cells.get(groups, 0) + 1
    assert min(cells.values()) >= 5


def test_the_export_page_previews_what_would_be_cleared(populated, personas, client):
    from django.urls import reverse

    from surveys.models import StudyMembership

    StudyMembership.objects.get_or_create(
        study=populated.study, user=personas["researcher"], defaults={"role": "researcher"}
    )
    client.force_login(personas["researcher"])
    page = client.get(reverse("exports:list", args=[populated.study.slug])).content.decode()
    assert "What an export would release now" in page
    assert "group memberships would be cleared" in page
    # lgbtqia2 has one member: the page says "fewer than 5", never its size.
    assert "fewer than 5" in page
