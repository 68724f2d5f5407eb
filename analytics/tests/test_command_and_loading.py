"""The analyze command, the loader and the real StreetReview demo."""

from __future__ import annotations

import io
import json

import krippendorff
import numpy as np
import pytest
from django.core.management import CommandError, call_command

from analytics.loading import ratings_read, study_data_load
from analytics.models import AnalysisRun
from analytics.services import analysis_request, analysis_run
from analytics.tests.helpers import FAST, study_fill
from surveys.models import Criterion, Participant, Rating, Site, Study, Wave


def _analyze(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("analyze", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_analyze_json_prints_only_the_report_equal_to_the_service_result(study, capsys):
    study_fill(study)
    out, _ = _analyze(study.slug, "--json", "--permutations", "99", "--bootstrap", "99", "--seed", "3")
    printed = json.loads(out)
    run = AnalysisRun.objects.done().get()
    assert printed == run.result
    assert run.parameters == {**FAST, "min_tested": study.min_tested_group_size}
    service_run = analysis_request(study=study, enqueue=False, **FAST)
    assert analysis_run(run_id=service_run.pk).result == printed


def test_analyze_of_an_unknown_study_fails_with_a_command_error(db):
    with pytest.raises(CommandError, match="nope"):
        _analyze("nope", "--json")


def test_analyze_of_a_failing_run_fails_with_a_command_error(study, monkeypatch):
    from analytics import services

    monkeypatch.setattr(services, "compute_report", lambda *a, **k: 1 / 0)
    study_fill(study)
    with pytest.raises(CommandError, match="ZeroDivisionError"):
        _analyze(study.slug, "--json")


def test_the_loader_puts_every_rating_in_its_cell(study):
    study_fill(study)
    loaded = study_data_load(study=study)
    data = loaded.data
    participants = list(Participant.objects.filter(study=study).order_by("id"))
    sites = list(Site.objects.filter(study=study).order_by("order", "code"))
    criteria = [c.name for c in Criterion.objects.filter(study=study, kind="rating").order_by("order", "name")]
    assert loaded.n_ratings == Rating.objects.count()
    for rating in Rating.objects.select_related("criterion"):
        matrix = data.waves[0].ratings[criteria.index(rating.criterion.name)]
        p = participants.index(rating.participant)
        s = sites.index(rating.site)
        assert matrix.values[p, s] == rating.value
    for p, participant in enumerate(participants):
        names = {g.label_en for g in participant.groups.all()}  # groups are named as written
        assert {g for g, m in zip(data.group_names, data.memberships[p], strict=True) if m} == names
    ranking = data.waves[0].rankings[0]
    first = participants[0].ranking_set.get()
    assert [ranking.item_codes[int(i)] for i in np.argsort(ranking.ranks[0])] == first.order


def test_the_ratings_read_returns_each_rating_of_the_waves_once(study):
    """The read comes in pieces (one per wave and criterion on PostgreSQL): together they must be
    exactly the waves' rows, each once, whatever criterion a rating names."""
    study_fill(study)
    wave = Wave.objects.get(study=study, name="w1")
    other_wave = Wave.objects.create(study=study, name="w2", order=1)
    participant = Participant.objects.filter(study=study).first()
    site = Site.objects.filter(study=study).first()
    criterion = Criterion.objects.filter(study=study, kind="rating").first()
    Rating.objects.create(participant=participant, wave=other_wave, site=site, criterion=criterion, value=5)
    expected = sorted(
        Rating.objects.filter(wave=wave).values_list("participant_id", "wave_id", "site_id", "criterion_id", "value")
    )
    assert len(expected) > 1
    assert sorted(map(tuple, ratings_read(wave_ids=[wave.pk]).tolist())) == expected
    both = sorted(map(tuple, ratings_read(wave_ids=[wave.pk, other_wave.pk]).tolist()))
    assert both == sorted(expected + [(participant.pk, other_wave.pk, site.pk, criterion.pk, 5)])
    assert ratings_read(wave_ids=[]).shape == (0, 5)


def test_every_ranking_lands_in_its_cell_and_codes_outside_the_set_are_dropped(study):
    from surveys.models import Image, Ranking

    study_fill(study)
    wave = Wave.objects.get(study=study)
    outsider = Image.objects.create(study=study, code="outside", alt_text_en="Not in the set")
    odd = Ranking.objects.filter(wave=wave).order_by("id").first()
    # The service never stores such an order; the loader still must not misplace anything.
    Ranking.objects.filter(pk=odd.pk).update(order=[outsider.code] + odd.order)
    data = study_data_load(study=study).data
    participants = list(Participant.objects.filter(study=study).order_by("id").values_list("id", flat=True))
    ranking = data.waves[0].rankings[0]
    for stored in Ranking.objects.filter(wave=wave):
        p = participants.index(stored.participant_id)
        expected = np.full(len(ranking.item_codes), np.nan)
        for position, code in enumerate(stored.order, start=1):
            if code in ranking.item_codes:
                expected[ranking.item_codes.index(code)] = position
        np.testing.assert_array_equal(ranking.ranks[p], expected)


@pytest.fixture
def demo(db, settings, tmp_path):
    from surveys.demo import demo_seed

    settings.MEDIA_ROOT = tmp_path / "media"
    demo_seed()
    return Study.objects.get(slug="montreal-streets")


def test_the_demo_gives_alpha_per_criterion_equal_to_the_krippendorff_package(demo):
    run = analysis_request(study=demo, enqueue=False, **FAST)
    report = analysis_run(run_id=run.pk).result
    before = Wave.objects.get(study=demo, name="before discussion")
    wave = next(w for w in report["waves"] if w["wave"] == before.name)
    alphas = {c["criterion"]: c["alpha_ordinal"] for c in wave["criteria"]}
    for name, alpha in alphas.items():
        rows = Rating.objects.filter(wave=before, criterion__name=name).values_list(
            "participant_id", "site__code", "value"
        )
        raters = sorted({r[0] for r in rows})
        sites = sorted({r[1] for r in rows})
        matrix = np.full((len(raters), len(sites)), np.nan)
        for participant, site, value in rows:
            matrix[raters.index(participant), sites.index(site)] = value
        expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal", value_domain=range(1, 5))
        assert alpha == pytest.approx(expected, abs=1e-12)
    assert max(alphas, key=alphas.get) == "aesthetics"
    np.testing.assert_allclose(alphas["aesthetics"], 0.335, atol=5e-4)
