"""Dashboard pages: who may see them, the analyse button, the progress partial, CSV files."""

from __future__ import annotations

import csv
import io
import re
from unittest import mock

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from analytics.models import AnalysisRun
from analytics.services import analysis_request, analysis_run
from analytics.tests.helpers import FAST, study_fill
from surveys.models import Group

APPLY_ASYNC = "analytics.tasks.analysis_run_task.apply_async"


@pytest.fixture(autouse=True)
def plain_static(settings):
    # The manifest storage needs collectstatic; tests render with the plain storage.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def analysed(study):
    study_fill(study)
    run = analysis_request(study=study, enqueue=False, **FAST)
    analysis_run(run_id=run.pk)
    return study


def _urls(slug):
    return {
        "dashboard": reverse("analytics:dashboard", args=[slug]),
        "progress": reverse("analytics:progress", args=[slug]),
        "csv": reverse("analytics:csv", args=[slug, "representation"]),
    }


@pytest.mark.parametrize("who", ["planner", "researcher", "admin"])
@pytest.mark.parametrize("page", ["dashboard", "progress", "csv"])
def test_the_study_team_and_staff_see_the_dashboard(analysed, personas, client, who, page):
    client.force_login(personas[who])
    assert client.get(_urls(analysed.slug)[page]).status_code == 200


@pytest.mark.parametrize("who", ["other_planner", "outsider"])
@pytest.mark.parametrize("page", ["dashboard", "progress", "csv"])
def test_people_outside_the_study_get_404(analysed, personas, client, who, page):
    client.force_login(personas[who])
    assert client.get(_urls(analysed.slug)[page]).status_code == 404
    response = client.post(reverse("analytics:analyse", args=[analysed.slug]))
    assert response.status_code == 404
    assert not AnalysisRun.objects.exclude(status="done").exists()


@pytest.mark.parametrize("page", ["dashboard", "progress", "csv"])
def test_anonymous_visitors_are_sent_to_the_login_page(analysed, client, page):
    response = client.get(_urls(analysed.slug)[page])
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_dashboard_shows_every_panel_with_a_table_and_a_csv_link(analysed, personas, client):
    client.force_login(personas["planner"])
    response = client.get(_urls(analysed.slug)["dashboard"])
    html = response.content.decode()
    for key in [
        "representation",
        "divergence-1",
        "sites-1",
        "agreement",
        "rankings",
        "consistency",
        "variance",
        "longitudinal",
        "changes",
    ]:
        assert reverse("analytics:csv", args=[analysed.slug, key]) in html
    assert 'id="chart-divergence-1-data" type="application/json"' in html
    assert '<th scope="col">divergence</th>' in html and "<caption>" in html
    assert "vendor/plotly.min.js" in html and "Analyse now" in html
    assert "<script>" not in html and " style=" not in html  # the CSP forbids inline code


def test_the_dashboard_keeps_the_strict_csp(analysed, personas, client):
    client.force_login(personas["planner"])
    policy = client.get(_urls(analysed.slug)["dashboard"])["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe" not in policy


def test_small_groups_are_shown_with_a_caution_not_hidden(analysed, personas, client):
    analysed.min_group_size = 50
    analysed.save()
    client.force_login(personas["planner"])
    html = client.get(_urls(analysed.slug)["dashboard"]).content.decode()
    assert "Caution: small groups." in html and "Seniors ⚠" in html
    assert "<li>Seniors: 4 of the 50 answers needed</li>" in html and "senior:" not in html


def test_a_planner_whose_browser_asks_for_french_reads_the_dashboard_in_french(analysed, personas, client):
    analysed.min_group_size = 50
    analysed.save()
    client.force_login(personas["planner"])
    html = client.get(_urls(analysed.slug)["dashboard"], headers={"Accept-Language": "fr-CA,fr;q=0.9"}).content.decode()
    assert "Attention : petits groupes." in html and "<li>Personnes aînées : 4 des 50 réponses nécessaires</li>" in html
    assert "Analyser maintenant" in html and "Analyse now" not in html
    assert "Comment c’est calculé" in html and "Qui note autrement, et sur quoi" in html
    # Group and criterion names as written in French, numbers with a decimal comma.
    assert "Personnes en situation de handicap" in html and "Accessibilité" in html
    assert re.search(r"<td>-?\d+,\d+</td>", html)
    # Not in anything a reader sees (the charts' data keep the report's group keys).
    assert "Disabled residents" not in re.sub(r"<script.*?</script>", "", html, flags=re.S)


def test_each_section_opens_with_a_plain_sentence_generated_from_the_figures(analysed, personas, client):
    report = AnalysisRun.objects.done().get().result
    cells = [(c["criterion"], g) for c in report["waves"][0]["criteria"] for g in c["groups"]]
    criterion, top = max(cells, key=lambda cg: abs(cg[1]["divergence"]))
    labels = {name: name for name in ("Seniors", "Disabled residents", "LGBTQIA2+ residents")}  # as written
    direction = "lower" if top["divergence"] < 0 else "higher"
    chance = "unlikely to be chance" if top["q_value"] <= 0.05 else "could be chance"
    expected = (
        f"{labels[top['group']]} rate {criterion.capitalize()} {abs(top['divergence']):.1f} points "
        f"{direction} than others; {chance}."
    )
    analysed.min_group_size = 2  # no ⚠ after the names
    analysed.save()
    client.force_login(personas["planner"])
    html = client.get(_urls(analysed.slug)["dashboard"]).content.decode()
    assert html.count('<p class="finding">') >= 8
    assert f'<p class="finding">{escape(expected)}</p>' in html
    assert "<summary>How this is computed</summary>" in html and "Benjamini–Hochberg" in html


@pytest.mark.parametrize(("language", "text"), [("en", "Worst-off group"), ("fr", "Groupe le plus défavorisé")])
def test_the_glossary_explains_the_words_in_both_languages(analysed, personas, client, language, text):
    client.force_login(personas["researcher"])
    response = client.get(reverse("analytics:glossary", args=[analysed.slug]), headers={"Accept-Language": language})
    assert response.status_code == 200 and text in response.content.decode()


def test_the_sites_chart_is_drawn_on_the_study_scale(analysed, personas, client):
    from analytics.selectors import dashboard_build

    with translation.override("en"):
        panel = next(p for p in dashboard_build(study=analysed).panels if p.key == "sites-1")
    assert panel.figure["layout"]["yaxis"]["range"] == [analysed.scale_min, analysed.scale_max]


def test_the_heat_map_names_each_criterions_worst_off_group(analysed, personas, client):
    from analytics.selectors import dashboard_build

    report = AnalysisRun.objects.done().get().result
    analysed.min_group_size = 2
    with translation.override("en"):
        panel = next(p for p in dashboard_build(study=analysed).panels if p.key == "divergence-1")
    labels = {name: name for name in ("Seniors", "Disabled residents", "LGBTQIA2+ residents")}  # as written
    for criterion in report["waves"][0]["criteria"]:
        worst = min(criterion["groups"], key=lambda g: g["mean"])
        assert (
            f"{criterion['criterion'].capitalize()}<br>worst-off:<br>{labels[worst['group']]}"
            in panel.figure["data"][0]["x"]
        )


def test_analyse_now_creates_one_run_and_returns_to_the_dashboard(
    study, personas, client, django_capture_on_commit_callbacks
):
    client.force_login(personas["planner"])
    url = reverse("analytics:analyse", args=[study.slug])
    with mock.patch(APPLY_ASYNC), django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
        client.post(url)  # a double click joins the run already waiting
    assert response.status_code == 302
    assert response["Location"] == _urls(study.slug)["dashboard"]
    run = AnalysisRun.objects.get()
    assert run.requested_by == personas["planner"] and run.status == "queued"


def test_analyse_now_with_htmx_returns_the_polling_progress_bar(study, personas, client):
    client.force_login(personas["planner"])
    with mock.patch(APPLY_ASYNC):
        response = client.post(reverse("analytics:analyse", args=[study.slug]), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert 'id="analysis-progress"' in html and 'hx-trigger="every 1s"' in html
    assert "<html" not in html


def test_the_progress_partial_polls_while_running_and_stops_when_done(study, personas, client):
    client.force_login(personas["planner"])
    run = analysis_request(study=study, enqueue=False)
    AnalysisRun.objects.filter(pk=run.pk).update(status="running", progress=42)
    url = _urls(study.slug)["progress"]
    html = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 1s"' in html and 'value="42"' in html
    AnalysisRun.objects.filter(pk=run.pk).update(status="done", progress=100)
    response = client.get(url, headers={"HX-Request": "true"})
    assert "hx-trigger" not in response.content.decode()
    assert response["HX-Refresh"] == "true"


def test_a_failed_run_shows_its_error(study, personas, client):
    client.force_login(personas["planner"])
    run = analysis_request(study=study, enqueue=False)
    AnalysisRun.objects.filter(pk=run.pk).update(status="failed", error="ValueError: boom")
    html = client.get(_urls(study.slug)["progress"]).content.decode()
    assert "ValueError: boom" in html and "hx-trigger" not in html


def _csv(client, slug, key):
    response = client.get(reverse("analytics:csv", args=[slug, key]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="{slug}-{key}.csv"' in response["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_the_divergence_csv_holds_every_group_and_criterion(analysed, personas, client):
    client.force_login(personas["researcher"])
    rows = _csv(client, analysed.slug, "divergence-1")
    assert rows[0] == [
        "group",
        "criterion",
        "n",
        "group mean",
        "divergence",
        "p-value",
        "q-value",
        "significant",
        "worst-off on this criterion",
        "profile divergence",
        "profile p-value",
        "smallest possible p-value",
    ]
    assert len(rows) == 1 + 3 * 2
    report = AnalysisRun.objects.done().get().result
    cell = report["waves"][0]["criteria"][0]["groups"][0]
    assert rows[1][4] == str(round(cell["divergence"], 3))
    assert rows[1][9] == str(round(cell["profile_divergence"], 3))
    assert any(r[4].startswith("-") for r in rows[1:])  # negative numbers stay numbers


def test_csv_cells_are_neutralised_against_formula_injection(analysed, personas, client):
    Group.objects.filter(study=analysed, code="senior").update(label_en='=HYPERLINK("x")')
    client.force_login(personas["planner"])
    rows = _csv(client, analysed.slug, "representation")
    assert rows[1][0].startswith("'=HYPERLINK")


def test_the_representation_panel_counts_live_participants_against_targets(analysed, personas, client):
    Group.objects.filter(study=analysed, code="senior").update(target_count=8)
    client.force_login(personas["planner"])
    rows = _csv(client, analysed.slug, "representation")
    seniors = next(r for r in rows if r[0].startswith("Seniors"))
    assert seniors[1:5] == ["8", "4", "50%", "4"]


def test_an_unknown_chart_csv_is_404(analysed, personas, client):
    client.force_login(personas["planner"])
    assert client.get(reverse("analytics:csv", args=[analysed.slug, "nope"])).status_code == 404


def test_plotly_js_is_served_from_the_installed_plotly_package():
    path = finders.find("vendor/plotly.min.js")
    assert path and path.endswith("plotly/package_data/plotly.min.js")


def test_the_dashboard_holds_a_placeholder_for_each_style_plotly_would_insert(analysed, personas, client):
    from analytics.plotly_css import injected_style_ids

    assert len(injected_style_ids()) == 1
    client.force_login(personas["planner"])
    html = client.get(_urls(analysed.slug)["dashboard"]).content.decode()
    assert f'id="{injected_style_ids()[0]}"' in html


def test_the_static_plotly_stylesheet_matches_the_installed_plotly():
    from analytics.plotly_css import OUTPUT, plotly_css

    assert OUTPUT.read_text(encoding="utf-8") == plotly_css()


def test_no_migration_is_missing(db):
    out = io.StringIO()
    call_command("makemigrations", "analytics", "--check", "--dry-run", stdout=out)


def test_the_brief_puts_findings_worst_off_groups_and_the_negotiation_on_one_page(analysed, personas, client):
    from negotiation.tests.helpers import DOCUMENT, make_done_session, make_scenario

    session = make_done_session(make_scenario(analysed))
    data = session.outcome.data
    client.force_login(personas["planner"])
    url = reverse("analytics:brief", args=[analysed.slug])
    html = client.get(url, headers={"Accept-Language": "fr"}).content.decode()
    assert "synthèse pour le conseil" in html
    assert "Groupes les plus défavorisés" in html and "Personnes aînées" in html
    assert "Ensemble négocié" in html and "Meilleur scénario de base" in html
    interventions = {i["code"]: i["name"] for i in DOCUMENT["interventions"]}
    assert all(interventions[code] in html for code in data["package"]["interventions"])
    worst = min(data["package"]["utilities"], key=data["package"]["utilities"].get)
    names = {  # utilities are keyed by the groups' names as written
        "Seniors": "Personnes aînées",
        "Disabled residents": "Personnes en situation de handicap",
        "LGBTQIA2+ residents": "Personnes LGBTQIA2+",
    }
    assert names[worst] in html
    assert html.count("<tr") >= 2 + 2 + 1 + 4  # worst-off table and the six packages
    assert 'href="/static/analytics/brief.css"' in html


def test_the_brief_of_a_study_without_analysis_or_negotiation_says_so(study, personas, client):
    client.force_login(personas["planner"])
    html = client.get(reverse("analytics:brief", args=[study.slug])).content.decode()
    assert "This study has not been analysed yet." in html
    assert "No negotiation has been run for this study yet." in html
