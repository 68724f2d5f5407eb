"""The dashboard's opinion-group section: found through the real service path, described in
plain words in English and French, and nothing smaller than the study's k shown."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from django.urls import reverse

from analytics.opinion_dashboard import suppress_row
from analytics.services import analysis_request, analysis_run
from analytics.tests.helpers import FAST
from conftest import build_study
from surveys.models import Criterion, Group, Participant, Rating, Site, Wave


@pytest.fixture(autouse=True)
def plain_static(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def opinions(db, settings, tmp_path):
    """60 residents in three planted opinion groups (30/18/12) over 8 sites × 2 criteria,
    seniors drawn independently of opinion, LGBTQIA2+ residents only two (smaller than k=5)."""
    settings.MEDIA_ROOT = tmp_path
    study = build_study("opinions", n_sites=8, n_images=8)
    wave = Wave.objects.get(study=study)
    groups = {g.code: g for g in Group.objects.filter(study=study)}
    sites = list(Site.objects.filter(study=study).order_by("order"))
    criteria = list(Criterion.objects.filter(study=study, kind="rating").order_by("order"))
    rng = np.random.default_rng(4)
    truth = np.repeat([0, 1, 2], [30, 18, 12])
    profiles = np.array([[1, 4] * 8, [4, 1] * 8, [4, 4, 1, 1] * 4])
    ratings = []
    for i in range(60):
        participant = Participant.objects.create(study=study, code=f"O{i:03d}")
        member_of = [groups["senior"]] if rng.random() < 0.4 else []
        if i in (3, 40):
            member_of.append(groups["lgbtqia2"])
        participant.groups.set(member_of)
        for s, site in enumerate(sites):
            for c, criterion in enumerate(criteria):
                value = int(np.clip(profiles[truth[i], 2 * s + c] + rng.integers(-1, 1), 1, 4))
                ratings.append(Rating(participant=participant, wave=wave, site=site, criterion=criterion, value=value))
    Rating.objects.bulk_create(ratings)
    run = analysis_request(study=study, enqueue=False, **FAST)
    run = analysis_run(run_id=run.pk)
    assert run.status == "done", run.error
    return study, run


def _dashboard(client, personas_user, study, **headers):
    client.force_login(personas_user)
    response = client.get(reverse("analytics:dashboard", args=[study.slug]), headers=headers)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def planner(opinions, django_user_model):
    from surveys.models import StudyMembership

    user = django_user_model.objects.create_user("opinion-planner", password="x")
    StudyMembership.objects.create(study=opinions[0], user=user, role="planner")
    return user


def _figure(html: str) -> dict:
    found = re.search(r'<script id="chart-opinion-1-data" type="application/json">(.*?)</script>', html)
    return json.loads(found.group(1))


def test_the_report_finds_the_three_planted_opinion_groups(opinions):
    _, run = opinions
    entry = run.result["waves"][0]["opinion_groups"]
    assert entry["k"] == 3
    assert [g["n"] for g in entry["groups"]] == [30, 18, 12]


def test_the_dashboard_shows_the_section_with_plain_words_map_and_tables(opinions, planner, client):
    study, _ = opinions
    html = _dashboard(client, planner, study)
    assert "Opinion groups nobody declared" in html
    assert "60 residents who rated enough streets fall into 3 opinion groups." in html
    assert "Opinion group 1" in html and "(30 residents)" in html
    assert 'id="chart-opinion-1"' in html and 'data-figure="chart-opinion-1-data"' in html
    assert "Residents of each declared group in each opinion group" in html
    # Representative streets come with their images and alt text.
    assert re.search(r'<img src="[^"]+\.png" alt="Street \d with trees"', html)


def test_small_cells_are_suppressed_and_small_groups_cannot_be_filtered(opinions, planner, client):
    study, _ = opinions
    html = _dashboard(client, planner, study)
    # LGBTQIA2+ residents are two: their row shows no count, and the map cannot filter on them.
    row = re.search(r'<th scope="row">LGBTQIA2\+ residents</th>(.*?)</tr>', html).group(1)
    assert "fewer than 5" in row and not re.search(r"<td>[1-4]</td>", row)
    options = re.search(r'<select id="chart-opinion-1-declared".*?</select>', html, re.S).group(0)
    assert "Seniors" in options and "LGBTQIA2+" not in options


def test_the_map_points_carry_no_more_than_the_filter_needs(opinions, planner, client):
    study, _ = opinions
    html = _dashboard(client, planner, study)
    figure = _figure(html)
    assert sum(len(trace["x"]) for trace in figure["data"]) == 60
    assert {trace["name"] for trace in figure["data"]} == {"Opinion group 1", "Opinion group 2", "Opinion group 3"}


def test_a_planner_reading_in_french_sees_the_section_in_french(opinions, planner, client):
    study, _ = opinions
    html = _dashboard(client, planner, study, **{"Accept-Language": "fr-CA,fr;q=0.9"})
    assert "Groupes d’opinion que personne n’a déclarés" in html
    assert "Groupe d’opinion 1" in html and "Opinion groups nobody declared" not in html
    assert "Personnes aînées" in html


def test_an_opinion_group_smaller_than_k_is_neither_drawn_nor_described(opinions, planner, client):
    study, _ = opinions
    study.min_group_size = 15
    study.save()
    html = _dashboard(client, planner, study)
    assert "<strong>Opinion group 3</strong>: fewer than 15 residents, not described." in html
    figure = _figure(html)
    assert {trace["name"] for trace in figure["data"]} == {"Opinion group 1", "Opinion group 2"}


def test_one_hidden_cell_in_a_row_hides_the_next_smallest_too():
    assert suppress_row([20, 3, 9], 5) == [False, True, True]
    assert suppress_row([20, 3, 2], 5) == [False, True, True]
    assert suppress_row([20, 0, 9], 5) == [False, False, False]
    assert suppress_row([3, 0, 0], 5) == [True, False, False]
