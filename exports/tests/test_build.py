"""The anonymised zip: re-import, identifiers, pseudonyms, k, injection, comments, consent."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from numpy.testing import assert_allclose

from analytics.loading import study_data_load
from analytics.measures import ordinal_alpha, pairwise_disagreement
from exports.models import AuditLog, ExportJob
from exports.services import export_build, export_request
from surveys.importing import responses_import
from surveys.models import Criterion, Group, Participant, Rating, Study, Wave

from .conftest import populate, unzip

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
CLOCK = re.compile(r"\d\d:\d\d")


def _build(study, user=None):
    job = export_request(study=study, user=user, enqueue=False)
    job = export_build(job_id=job.pk)
    assert job.status == ExportJob.Status.DONE, job.error
    return job


def _agreement(study: Study) -> dict:
    data = study_data_load(study=study).data
    out = {}
    for wave in data.waves:
        for matrix in wave.ratings:
            # Participants and sites may come in another order; both measures ignore order,
            # but rows of people who rated nothing in this matrix are dropped to compare shapes.
            values = matrix.values[~np.all(np.isnan(matrix.values), axis=1)]
            out[(wave.name, matrix.criterion)] = (
                ordinal_alpha(values, study.scale_min, study.scale_max),
                pairwise_disagreement(values, study.scale_max - study.scale_min),
            )
    return out


def test_export_reimports_with_the_same_agreement_numbers(populated):
    study = populated.study
    files = unzip(_build(study).path)
    report = responses_import(
        text=files.text("responses.csv"),
        study_slug="reimported",
        create=True,
        scale_min=study.scale_min,
        scale_max=study.scale_max,
    )
    copy = Study.objects.get(slug="reimported")
    assert report.answers["ratings"] == Rating.objects.filter(participant__study=study).count()
    assert report.answers["rankings"] == 15 * 2 and report.answers["priorities"] == 15 * 2 * 2
    assert list(copy.waves.order_by("order").values_list("name", flat=True)) == ["w1", "w2"]
    original, reimported = _agreement(study), _agreement(copy)
    assert original.keys() == reimported.keys() and len(original) == 4
    for key, (alpha, disagreement) in original.items():
        assert_allclose(reimported[key], (alpha, disagreement), rtol=1e-12)
    # The rating matrices themselves agree up to the order of participants and sites.
    for key in original:
        wave, criterion = key
        a = sorted(
            Rating.objects.filter(wave__study=study, wave__name=wave, criterion__name=criterion).values_list(
                "site__code", "value"
            )
        )
        b = sorted(
            Rating.objects.filter(wave__study=copy, wave__name=wave, criterion__name=criterion).values_list(
                "site__code", "value"
            )
        )
        assert a == b


def test_no_identifier_survives_anywhere_in_the_zip(populated, personas):
    study = populated.study
    user = personas["researcher"]
    user.email = "researcher1@example.org"
    user.save()
    get_user_model().objects.filter(username="planner1").update(email="planner@example.org")
    job = _build(study, user)
    files = unzip(job.path)
    assert set(files.files) == {
        "responses.csv",
        "codebook.csv",
        "codebook.md",
        "README.md",
        "analysis_report.json",
        "responses_wide.csv",
        "responses.sav",
        "responses.dta",
    }
    secrets_ = [p.code for p in populated.participants] + populated.tokens
    for u in get_user_model().objects.all():
        secrets_ += [u.username, u.email] if u.email else [u.username]
    for p in Participant.objects.filter(study=study):
        secrets_ += [p.created_at.isoformat(), p.consented_at.isoformat()]
    for name, raw in files.files.items():
        text = raw.decode("latin-1") if name.endswith((".sav", ".dta")) else raw.decode("utf-8")
        for secret in secrets_:
            assert secret not in text, (name, secret)
        assert not TIMESTAMP.search(text), (name, TIMESTAMP.search(text).group())
        # The SPSS and Stata headers hold a time of writing: it must read midnight.
        assert set(CLOCK.findall(text)) <= {"00:00"}, (name, CLOCK.findall(text))
    assert not any(p.code in job.summary.__repr__() for p in populated.participants)


def test_two_exports_use_unrelated_pseudonyms(populated):
    first = {row["participant"] for row in unzip(_build(populated.study).path).dicts("responses.csv")}
    second = {row["participant"] for row in unzip(_build(populated.study).path).dicts("responses.csv")}
    assert len(first) == len(second) == 15
    assert not first & second


def test_every_membership_combination_is_shared_by_k_participants(populated):
    job = _build(populated.study)
    files = unzip(job.path)
    groups_of = {row["participant"]: row["groups"] for row in files.dicts("responses.csv")}
    cells = Counter(groups_of.values())
    assert min(cells.values()) >= populated.study.k_anonymity == 5
    assert cells == {"senior": 5, "disabled": 5, "": 5}
    protection = job.summary["protection"]
    assert (protection["affected"], protection["suppressed"], protection["generalised"]) == (
        4,
        4,
        0,
    )
    assert protection["removed"] == {"disabled": 2, "lgbtqia2": 1, "senior": 3}
    readme = files.text("README.md")
    assert "In all 4 of 15 participants were affected" in readme
    assert "`disabled`: 2, `lgbtqia2`: 1, `senior`: 3" in readme


def test_a_larger_k_from_the_study_setting_is_honoured(populated):
    Study.objects.filter(pk=populated.study.pk).update(k_anonymity=8)
    populated.study.refresh_from_db()
    files = unzip(_build(populated.study).path)
    cells = Counter({r["participant"]: r["groups"] for r in files.dicts("responses.csv")}.values())
    assert min(cells.values()) >= 8


def test_formula_injection_is_neutralised_in_cells_and_headers(study):
    Group.objects.filter(study=study, code="senior").update(label_en="=cmd|' /C calc'!A0", label_fr="@SUM(1+1)")
    Criterion.objects.filter(study=study, name="accessibility").update(label_en="+HYPERLINK(1)", description_fr="-2+3")
    Wave.objects.filter(study=study, name="w1").update(name="=w1")
    Study.objects.filter(pk=study.pk).update(comments_reviewed=True)
    study.refresh_from_db()
    populate(study, comment='=HYPERLINK("http://evil")')
    files = unzip(_build(study).path)
    csvs = [name for name in files.files if name.endswith(".csv")]
    assert set(csvs) == {"responses.csv", "responses_wide.csv", "comments.csv", "codebook.csv"}
    for name in csvs:
        for line, row in enumerate(files.rows(name)):
            for cell in row:
                if cell.startswith(DANGEROUS):
                    assert re.fullmatch(r"-?\d+", cell), (name, line, cell)
    codebook = files.text("codebook.csv")
    for payload in ("'=cmd|' /C calc'!A0", "'@SUM(1+1)", "'+HYPERLINK(1)", "'-2+3"):
        assert payload in codebook
    assert {r["wave"] for r in files.dicts("responses.csv")} == {"'=w1", "w2"}
    assert all(r["text"].startswith("'=HYPERLINK") for r in files.dicts("comments.csv"))


def test_comments_are_left_out_unless_the_study_marks_them_reviewed(populated):
    files = unzip(_build(populated.study).path)
    assert "comments.csv" not in files.files
    assert not any(b"needs a ramp" in raw for raw in files.files.values())
    assert "not been reviewed" in files.text("README.md")
    Study.objects.filter(pk=populated.study.pk).update(comments_reviewed=True)
    populated.study.refresh_from_db()
    files = unzip(_build(populated.study).path)
    comments = files.dicts("comments.csv")
    assert len(comments) == 30 and all("needs a ramp" in c["text"] for c in comments)
    pseudonyms = {r["participant"] for r in files.dicts("responses.csv")}
    assert {c["participant"] for c in comments} == pseudonyms


def test_participants_without_consent_are_left_out(study):
    populated = populate(study, non_consented=True)
    populated.non_consented.consented_at = None
    populated.non_consented.save()
    job = _build(study)
    rows = unzip(job.path).dicts("responses.csv")
    assert len({r["participant"] for r in rows}) == 15 == job.summary["participants"]
    ratings = [r for r in rows if r["task"] == "rating"]
    assert len(ratings) == Rating.objects.filter(participant__consented_at__isnull=False).count()
    assert len(ratings) < Rating.objects.count()


def _analyse(study):
    call_command(
        "analyze",
        study.slug,
        "--permutations",
        "19",
        "--bootstrap",
        "19",
        stdout=open("/dev/null", "w"),
        stderr=open("/dev/null", "w"),
    )


def _site_means(rows, members, wave, criterion):
    """Per-site mean rating of `members` in the long rows."""
    sums, counts = {}, {}
    for r in rows:
        if r["task"] == "rating" and r["wave"] == wave and r["criterion"] == criterion and r["participant"] in members:
            sums[r["item"]] = sums.get(r["item"], 0) + float(r["value"])
            counts[r["item"]] = counts.get(r["item"], 0) + 1
    return {site: sums[site] / counts[site] for site in sums}


def test_the_report_in_the_zip_holds_only_what_the_released_rows_hold(populated):
    """The finding: the dashboards' report kept per-site means of a group of two, and matching
    them against the rows told which pseudonyms were in it. The zip's report is computed from
    the released rows: a group withheld from the rows appears nowhere in it, and matching every
    subset of pseudonyms against every per-group figure finds only the participants the rows
    already show in that group."""
    import json
    from itertools import combinations

    _analyse(populated.study)
    files = unzip(_build(populated.study).path)
    report = json.loads(files.text("analysis_report.json"))
    rows = files.dicts("responses.csv")
    from surveys.models import Group

    name_of = dict(Group.objects.filter(study=populated.study).values_list("code", "label_en"))
    released = {r["participant"]: {name_of[g] for g in filter(None, r["groups"].split(";"))} for r in rows}
    assert report["released_rows_only"] is True
    assert (
        set(report["groups"])
        == {g for groups in released.values() for g in groups}
        == {
            name_of["senior"],
            name_of["disabled"],
        }
    )
    assert "lgbtqia2" not in json.dumps(report) and name_of["lgbtqia2"] not in json.dumps(report)
    # The opinion map's points are per person: they stay on the dashboard.
    assert "points" not in json.dumps(report)
    # Non-consenting participants are not in the figures either: the report counts the rows.
    assert report["waves"][0]["n_participants"] == len(released) == 15

    pseudonyms = sorted(released)
    for wave in report["waves"]:
        for criterion in wave["criteria"]:
            for entry in criterion["groups"]:
                group, n = entry["group"], entry["n"]
                target = {s["site"]: s["group_means"][group] for s in criterion["sites"]}
                assert None not in target.values(), (group, wave["wave"])
                matches = [
                    set(subset)
                    for subset in combinations(pseudonyms, n)
                    if all(
                        abs(mean - target[site]) < 1e-9
                        for site, mean in _site_means(rows, set(subset), wave["wave"], criterion["criterion"]).items()
                    )
                ]
                shown = {p for p, groups in released.items() if group in groups}
                assert shown in matches, (group, wave["wave"])
                # Any other subset that fits is as consistent with the rows as the true one.
                assert all(len(m) == n for m in matches)


def test_figures_of_cells_smaller_than_k_are_blanked_in_the_report():
    from exports.report import small_cells_blank

    report = {
        "waves": [
            {
                "wave": "w1",
                "criteria": [
                    {
                        "groups": [{"group": "a", "n": 2, "mean": 3.0}, {"group": "b", "n": 9, "mean": 2.0}],
                        "most_divergent_group": "a",
                        "sites": [
                            {
                                "site": "s",
                                "worst_group": "a",
                                "worst_group_mean": 1.0,
                                "group_means": {"a": 1.0, "b": 2.0},
                            }
                        ],
                    }
                ],
            }
        ],
        "longitudinal": [
            {
                "groups": [
                    {
                        "group": "a",
                        "series": [{"wave": "w1", "n": 2}],
                        "changes": [{"from": "w1", "to": "w2", "delta": 1}],
                    }
                ]
            }
        ],
    }
    out = small_cells_blank(report, 5)
    criterion = out["waves"][0]["criteria"][0]
    assert criterion["groups"][0] == {"group": "a", "suppressed": "fewer than 5 respondents"}
    assert criterion["groups"][1]["mean"] == 2.0
    assert criterion["most_divergent_group"] is None
    assert criterion["sites"][0] == {
        "site": "s",
        "worst_group": None,
        "worst_group_mean": None,
        "group_means": {"a": None, "b": 2.0},
    }
    series = out["longitudinal"][0]["groups"][0]
    assert "n" not in series["series"][0] and series["changes"][0] == {"from": "w1", "to": "w2", "suppressed": True}


def test_two_exports_cannot_be_joined_row_by_row(populated):
    first = unzip(_build(populated.study).path)
    second = unzip(_build(populated.study).path)
    for name in ("responses.csv", "responses_wide.csv", "comments.csv"):
        if name not in first.files:
            continue
        a, b = first.rows(name)[1:], second.rows(name)[1:]
        strip = (lambda row: row[1:]) if name != "comments.csv" else (lambda row: row[1:])
        # The same answers, in a different order: row i of one is not row i of the other.
        assert sorted(map(strip, a)) == sorted(map(strip, b)) or name == "responses_wide.csv"
        assert [strip(r) for r in a] != [strip(r) for r in b], name


def test_the_command_writes_the_same_zip_and_leaves_no_private_copy(populated, tmp_path):
    out = tmp_path / "out.zip"
    call_command(
        "export_anonymised",
        populated.study.slug,
        "--out",
        str(out),
        stdout=open("/dev/null", "w"),
        stderr=open("/dev/null", "w"),
    )
    files = unzip(out)
    assert len({r["participant"] for r in files.dicts("responses.csv")}) == 15
    job = ExportJob.objects.get()
    assert job.deleted_at is not None and not job.path.exists()
    actions = list(AuditLog.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["export.requested", "export.built", "export.deleted"]


def test_progress_reaches_100_and_the_file_is_private_and_randomly_named(populated, settings):
    job = _build(populated.study)
    assert job.progress == 100 and job.size == job.path.stat().st_size
    assert job.path.parent == settings.PRIVATE_ROOT
    assert re.fullmatch(r"[0-9a-f]{32}\.zip", job.file_name)
    assert not str(job.path).startswith(str(settings.MEDIA_ROOT))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL")
def test_the_database_refuses_to_rewrite_the_audit_log(populated):
    from django.db import DatabaseError, transaction

    _build(populated.study)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE exports_auditlog SET action = 'x'")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM exports_auditlog")
    assert AuditLog.objects.count() == 2


def test_the_orm_refuses_to_rewrite_the_audit_log(populated):
    _build(populated.study)
    entry = AuditLog.objects.first()
    entry.action = "x"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditLog.objects.all().update(action="x")
    with pytest.raises(PermissionError):
        AuditLog.objects.all().delete()
