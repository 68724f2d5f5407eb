"""The result page and the editor speak the planner's language: names as written, each group's
own figure, numbers per language, every reference rule beside the package, the fairness sentence;
groups added and removed, suggestions applied, limits refused with 400."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils import translation

from negotiation.presenters import Names, money, num, result_sentences
from negotiation.services import scenario_to_document

from .helpers import make_done_session, make_scenario

pytestmark = pytest.mark.django_db


def test_the_sentence_names_each_worst_group_with_its_own_utility(study):
    outcome = make_done_session(make_scenario(study)).outcome.data
    names = Names(outcome, groups=study.groups.all())
    text = " ".join(result_sentences(outcome, names))
    for package in (outcome["best_base_design"], outcome["package"]):
        worst = min(package["utilities"], key=package["utilities"].get)
        assert f"{worst} at {num(package['utilities'][worst])}" in text
    assert "Curb ramps" in text or "Shade trees" in text or "Murals" in text  # Names, not codes.
    assert "cannot fall" in text


def test_numbers_and_money_follow_the_language():
    with translation.override("fr"):
        assert num(3.1174) == "3,117"
        assert money(600000, "CAD") == "600\u00a0000\u00a0$"
    with translation.override("en"):
        assert num(3.1174) == "3.117"
        assert money(600000, "CAD") == "$600,000"


def test_the_result_page_shows_every_rule_side_by_side_in_french(client, personas, study):
    session = make_done_session(make_scenario(study))
    client.force_login(personas["planner"])
    response = client.get(
        reverse("negotiation:session", args=[study.slug, session.pk]), headers={"accept-language": "fr"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    for label in (
        "Ensemble négocié",
        "Utilitariste",
        "Égalitariste",
        "Négociation de Nash",
        "Méthode des parts égales",
    ):
        assert label in html, label
    assert "Personnes aînées" in html  # The group's French label, not its code.
    assert "senior" not in html.replace("Seniors", "")


def test_the_editor_adds_and_removes_groups_and_applies_a_suggestion(client, personas, study):
    scenario = make_scenario(study)
    document = scenario_to_document(scenario)
    document["groups"] = document["groups"][:2]
    from negotiation.services import scenario_update_from_document

    scenario = scenario_update_from_document(scenario=scenario, document=document, version=scenario.version)
    ramps = scenario.interventions.get(code="ramps")
    ramps.suggested_effects = {"accessibility": 0.9}
    ramps.suggested_group_effects = {"Disabled residents": {"accessibility": 1.4}}
    ramps.save()
    client.force_login(personas["planner"])
    url = reverse("negotiation:edit", args=[study.slug, scenario.pk])
    page = client.get(url)
    assert "LGBTQIA2+ residents" in page.content.decode()  # Offered in "Add a group".
    form = _form(scenario)
    form["add_group"] = "LGBTQIA2+ residents"
    form["g0-delete"] = "1"
    form["apply"] = "ramps"
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = scenario_to_document(scenario)
    assert [g["name"] for g in saved["groups"]] == ["Disabled residents", "LGBTQIA2+ residents"]
    item = next(i for i in saved["interventions"] if i["code"] == "ramps")
    assert item["effects"] == {"accessibility": 0.9}
    assert item["group_effects"] == {"Disabled residents": {"accessibility": 1.4}}


def _form(scenario) -> dict:
    doc = scenario_to_document(scenario)
    form = {
        "version": scenario.version,
        "title": doc["title"],
        "budget": doc["budget"],
        "max_rounds": doc["max_rounds"],
        "mediator": "maximin",
        "currency": "CAD",
        "groups-count": len(doc["groups"]),
        "interventions-count": len(doc["interventions"]),
        "base_designs-count": len(doc["base_designs"]),
    }
    for k, g in enumerate(doc["groups"]):
        form[f"g{k}-name"] = g["name"]
        for c in doc["criteria"]:
            form[f"g{k}-w-{c}"] = g["criterion_weights"].get(c, 0)
            form[f"g{k}-b-{c}"] = g["baseline"][c]
    for k, i in enumerate(doc["interventions"]):
        form.update({f"i{k}-code": i["code"], f"i{k}-name": i["name"], f"i{k}-cost": i["cost"]})
        form[f"i{k}-excludes"] = ", ".join(i["excludes"])
        for c, v in i["effects"].items():
            form[f"i{k}-e-{c}"] = v
    for k, b in enumerate(doc["base_designs"]):
        form.update({f"b{k}-name": b["name"], f"b{k}-interventions": ", ".join(b["interventions"])})
    return form


def test_the_editor_saves_the_mediator_and_group_effects(client, personas, study):
    scenario = make_scenario(study)
    client.force_login(personas["planner"])
    form = _form(scenario)
    form["i0-group_effects"] = "Disabled residents: accessibility=1.2"
    response = client.post(reverse("negotiation:edit", args=[study.slug, scenario.pk]), form)
    assert response.status_code == 302
    scenario.refresh_from_db()
    assert scenario.mediator == "maximin"
    assert scenario.interventions.get(code="ramps").group_effects == {"Disabled residents": {"accessibility": 1.2}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested deeper than 20 levels"),
        (json.dumps({"title": "x" * 300}), "title: must be at most 200 characters"),
    ],
)
def test_the_import_refuses_bad_documents_with_400(client, personas, study, text, expected):
    client.force_login(personas["planner"])
    response = client.post(reverse("negotiation:import", args=[study.slug]), {"document": text})
    assert response.status_code == 400
    assert expected in response.content.decode()


def test_a_rejection_names_the_criterion_as_the_study_labels_it():
    from negotiation.presenters import _reason

    criterion = type("C", (), {"name": "accessibility", "code": "accessibility", "label": "Accessibilité"})()
    names = Names({}, criteria=[criterion])
    response = {
        "accept": False,
        "utility": 2.9,
        "aspiration": 3.0,
        "loss": {"criterion": "accessibility", "level": 3.08, "preferred_level": 3.34},
        "concession": 0.02,
    }
    with translation.override("fr"):
        text = _reason(response, names)
    assert "Accessibilité reste à 3,080 contre 3,340 dans le meilleur ensemble propre au groupe" in text
    assert "accessibility" not in text


def test_the_editor_explains_defaults_and_suggestions_in_french(client, personas, study):
    scenario = make_scenario(study)
    scenario.stakeholders.update(
        defaults_source={"weights": {"kind": "equal"}, "baseline": {"kind": "ratings", "wave": "w1", "sites": 2}}
    )
    scenario.interventions.filter(code="ramps").update(
        suggested_effects={"accessibility": 0.4},
        suggestion_source={
            "wave": "w1",
            "criteria": {
                "aesthetics": {
                    "effect": 0.0,
                    "n": 2,
                    "n_ratings": 8,
                    "n_attributes": 1,
                    "lambda": 30.0,
                    "attributes": [],
                },
                "accessibility": {
                    "effect": 0.4,
                    "n": 2,
                    "n_ratings": 1200,
                    "n_attributes": 1,
                    "lambda": 0.03,
                    "attributes": [{"attribute": "curb_ramps", "coefficient": -0.5, "shortfall": 0.8}],
                },
            },
        },
    )
    client.force_login(personas["planner"])
    html = client.get(
        reverse("negotiation:edit", args=[study.slug, scenario.pk]), headers={"accept-language": "fr"}
    ).content.decode()
    assert '<th scope="col">Accessibilité</th>' in html and '<th scope="col">Esthétique</th>' in html
    assert "pondérations : égales (aucun jeton de priorité)" in html
    assert "note moyenne des membres sur 2 rues dans la vague « w1 »" in html
    line = "Accessibilité : +0,40 point(s), d’une régression ridge de la moyenne de 1\u00a0200 notes"
    assert line in html
    assert "(λ = 0,03," in html and "(λ = 30," in html and "curb ramps : coefficient −0,500 × manque 0,80" in html
    # Lines follow the scenario's criteria, whatever order the database kept the keys in.
    assert html.index("Accessibilité : +0,40") < html.index("Esthétique : +0,00")


def test_a_live_rounds_answers_stay_private_until_it_closes():
    from negotiation.presenters import transcript

    open_round = {"round": 2, "proposal": [], "cost": 0, "utilities": {"A": 1.0}, "aspirations": {"A": 1.0}}
    closed = {**open_round, "round": 1}
    with translation.override("en"):
        rows = transcript([{**closed, "responses": {}}, {**open_round, "responses": {}}], open_round=2)
    assert rows[0]["groups"][0]["reason"] == "no answer"
    assert rows[1]["groups"][0]["reason"] == "shown when the round closes"
