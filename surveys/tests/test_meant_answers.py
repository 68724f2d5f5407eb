"""Every stored answer is one the resident gave: rankings only once ordered or kept, no empty
completions, no saves after finishing, withdrawal from the link at any time, errors next to the
field with the values kept, names as written, clocks that cannot freeze an answer."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client
from django.urls import reverse

from surveys import errors, selectors, services
from surveys.errors import SurveyError
from surveys.models import Completion, Criterion, Group, Image, Participant, Ranking, Rating, Site, Wave
from surveys.naming import code_derive
from surveys.ordering import participant_shuffle

pytestmark = pytest.mark.django_db


def _start(client, token, language="en") -> Participant:
    assert client.get(f"/i/{token}/").status_code == 302
    client.post(reverse("surveys:language"), {"language": language})
    client.post(reverse("surveys:consent"), {"consent": "yes"})
    participant_id = client.session["civic_participant_id"]
    return Participant.objects.select_related("study").get(pk=participant_id)


@pytest.fixture
def token(study):
    return services.invitations_create(study=study, count=1)[0].token


@pytest.fixture
def wave(study):
    return Wave.objects.get(study=study, name="w1")


# --- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Wheelchair users", "wheelchair-users"),
        ("LGBTQIA2+", "lgbtqia2-plus"),
        ("Seniors 65+", "seniors-65-plus"),
        ("Aînés 65+", "aines-65-plus"),
        ("Rue Fleury Est", "rue-fleury-est"),
        ("sécurité", "securite"),
        ("L'avenue du Parc", "lavenue-du-parc"),
    ],
)
def test_codes_are_derived_from_names(name, code):
    assert code_derive(name) == code


def test_derived_codes_are_unique_short_and_never_empty():
    assert code_derive("Seniors", {"seniors"}) == "seniors-2"
    assert code_derive("Seniors", {"seniors", "seniors-2"}) == "seniors-3"
    assert code_derive("日本").startswith("n-")
    assert len(code_derive("x" * 120)) <= 60


def test_things_created_with_only_a_name_get_a_code(study):
    group = Group.objects.create(study=study, label_en="Personnes 2ELGBTQIA+ d'ici")
    site = Site.objects.create(study=study, name="Rue Fleury Est")
    criterion = Criterion.objects.create(study=study, name="Qu'est-ce qui est sûr ?", kind="rating")
    assert (group.code, site.code, criterion.code) == (
        "personnes-2elgbtqia-dici-plus",
        "rue-fleury-est",
        "quest-ce-qui-est-sur",
    )
    assert criterion.label == "Qu'est-ce qui est sûr ?"


def test_the_admin_takes_free_text_names_and_never_asks_for_a_code(client, study, personas):
    client.force_login(personas["admin"])
    url = reverse("admin:surveys_group_add")
    page = client.get(url).content.decode()
    assert 'name="code"' not in page
    response = client.post(url, {"study": study.pk, "label_en": "Seniors 65+", "label_fr": "Aînés 65+", "order": 0})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Group.objects.get(study=study, label_en="Seniors 65+").code == "seniors-65-plus"


# --- rankings --------------------------------------------------------------------------------


def test_an_untouched_ranking_is_not_an_answer_but_keeping_the_order_is(client, study, token, wave):
    participant = _start(client, token)
    url = reverse("surveys:rank", args=["beautiful"])
    page = client.get(url).content.decode()
    assert "Keep this order" in page and "Skip this question" in page
    client.post(url, {"action": "continue"})
    assert not Ranking.objects.exists()
    assert "beautiful" in [s.key.partition(":")[2] for s in _skipped(participant, wave)]
    criterion = Criterion.objects.get(study=study, code="beautiful")
    shown = selectors.ranking_initial_order(participant=participant, criterion=criterion)
    client.post(url, {"order": ",".join(shown), "action": "keep"})
    assert Ranking.objects.get(participant=participant).order == shown


def _skipped(participant, wave):
    state = selectors.survey_state(participant=participant, wave=wave)
    return [s for s in state.steps if not s.answered and s.key.startswith(("rate:", "rank:", "priorities"))]


def test_move_to_top_and_bottom(study):
    order = ["a", "b", "c", "d"]
    assert services.ranking_move(order=order, move="top:c") == ["c", "a", "b", "d"]
    assert services.ranking_move(order=order, move="bottom:a") == ["b", "c", "d", "a"]
    assert services.ranking_move(order=order, move="top:a") == order
    assert services.ranking_move(order=order, move="sideways:a") == order


def test_each_participant_has_a_stored_shuffle_the_same_on_every_visit(study):
    criterion = Criterion.objects.get(study=study, code="beautiful")
    people = [i.invitation.participant for i in services.invitations_create(study=study, count=24)]
    orders = {tuple(selectors.ranking_initial_order(participant=p, criterion=criterion)) for p in people}
    streets = {tuple(s.code for s in selectors.participant_sites(p)) for p in people}
    assert len(orders) > 1 and len(streets) > 1  # 24 residents all in one order: about 1 in 10^17
    again = Participant.objects.get(pk=people[0].pk)
    assert selectors.ranking_initial_order(participant=again, criterion=criterion) == selectors.ranking_initial_order(
        participant=people[0], criterion=criterion
    )
    assert participant_shuffle([1, 2, 3, 4], seed=7, key="k") == participant_shuffle([1, 2, 3, 4], seed=7, key="k")


def test_a_ranking_image_without_a_file_never_gives_a_500(client, study, token):
    _start(client, token)
    Image.objects.filter(study=study).update(file="")
    page = client.get(reverse("surveys:rank", args=["beautiful"]))
    assert page.status_code == 200 and "Image not available" in page.content.decode()
    site = Site.objects.filter(study=study).first()
    assert client.get(reverse("surveys:rate", args=[site.code])).status_code == 200


# --- completion --------------------------------------------------------------------------------


def test_finishing_with_nothing_answered_is_refused_on_the_review_page(client, study, token):
    participant = _start(client, token, language="fr")
    response = client.post(reverse("surveys:finish"))
    page = response.content.decode()
    assert response.status_code == 400
    assert "Vous n’avez encore répondu à aucune question" in page and "Terminer et envoyer" in page
    assert not Completion.objects.filter(participant=participant).exists()


def test_the_review_lists_skipped_questions_and_each_rankings_order(client, study, token, wave):
    participant = _start(client, token)
    first = selectors.participant_sites(participant)[0]
    client.post(reverse("surveys:rate", args=[first.code]), {"rating-accessibility": "3", "rating-aesthetics": "2"})
    client.post(reverse("surveys:rank", args=["beautiful"]), {"order": "s1,s2,s3", "move": "bottom:s1"})
    page = client.get(reverse("surveys:review")).content.decode()
    assert "2 questions not answered" in page  # the other street and the priorities
    second = selectors.participant_sites(participant)[1]
    assert reverse("surveys:rate", args=[second.code]) in page
    ranked = page.split('class="review-ranking"')[1]
    assert ranked.index("Site 2") < ranked.index("Street 3 with trees") < ranked.index("Site 1")
    assert "<table" not in page


def test_after_finishing_saves_are_refused_in_the_residents_language(client, study, token, wave):
    participant = _start(client, token, language="fr")
    site = selectors.participant_sites(participant)[0]
    client.post(reverse("surveys:rate", args=[site.code]), {"rating-accessibility": "3"})
    assert client.post(reverse("surveys:finish"))["Location"] == reverse("surveys:done")
    done = client.get(reverse("surveys:done")).content.decode()
    assert "ne peuvent plus être modifiées" in done
    data = {"kind": "rating", "site": site.code, "criterion": "accessibility", "value": "1"}
    refused = client.post(reverse("surveys:answer"), data, headers={"HX-Request": "true"})
    assert refused.status_code == 409 and "Vous avez déjà terminé" in refused.content.decode()
    api = client.post(
        reverse("surveys:answer"),
        json.dumps(data),
        content_type="application/json",
        headers={"Accept": "application/json"},
    )
    assert api.status_code == 409 and api.json()["error"]["code"] == 409
    page = client.post(reverse("surveys:rate", args=[site.code]), {"rating-accessibility": "1"})
    assert page.status_code == 409 and "Vous avez déjà terminé" in page.content.decode()
    with pytest.raises(SurveyError) as closed:
        services.comment_save(participant=participant, wave=wave, text="late")
    assert closed.value.message == errors.ANSWERS_CLOSED
    assert Rating.objects.get(participant=participant).value == 3


def test_a_study_may_allow_editing_until_the_wave_closes(client, study, token):
    study.answers_editable_until_wave_closes = True
    study.save()
    participant = _start(client, token)
    site = selectors.participant_sites(participant)[0]
    client.post(reverse("surveys:rate", args=[site.code]), {"rating-accessibility": "3"})
    client.post(reverse("surveys:finish"))
    assert "until this survey round closes" in client.get(reverse("surveys:done")).content.decode()
    data = {"kind": "rating", "site": site.code, "criterion": "accessibility", "value": "1"}
    assert client.post(reverse("surveys:answer"), data, headers={"HX-Request": "true"}).status_code == 200
    assert Rating.objects.get(participant=participant).value == 1


# --- withdrawal ----------------------------------------------------------------------------------


def test_withdrawal_works_from_the_link_after_finishing_on_another_device(client, study, token):
    participant = _start(client, token)
    client.post(reverse("surveys:comment"), {"text": "Benches"})
    client.post(reverse("surveys:finish"))
    phone = Client()
    opened = phone.get(f"/i/{token}/", follow=True)
    assert opened.redirect_chain[-1][0] == reverse("surveys:done")
    assert "Withdraw from the study" in opened.content.decode()
    phone.post(reverse("surveys:withdraw"))
    assert not Participant.objects.filter(pk=participant.pk).exists()
    again = Client().get(f"/i/{token}/")
    assert again.status_code == 410 and "your answers were deleted" in again.content.decode()


def test_withdrawal_before_finishing_kills_the_link_with_the_same_message(client, study, token):
    _start(client, token, language="fr")
    client.post(reverse("surveys:withdraw"))
    again = Client(headers={"Accept-Language": "fr"}).get(f"/i/{token}/")
    assert again.status_code == 410 and "vos réponses ont été supprimées" in again.content.decode()


# --- errors on the same page ----------------------------------------------------------------------


def test_an_out_of_scale_rating_is_shown_next_to_its_question_with_the_values_kept(client, study, token):
    participant = _start(client, token)
    site = selectors.participant_sites(participant)[0]
    response = client.post(
        reverse("surveys:rate", args=[site.code]), {"rating-accessibility": "9", "rating-aesthetics": "2"}
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="e-accessibility"' in page and "A rating must be a whole number from 1 to 4." in page
    assert 'name="rating-aesthetics" value="2" checked' in " ".join(page.split())
    assert "Save and continue" in page and not Rating.objects.exists()


@pytest.mark.parametrize("tokens", [("6", "6"), ("0", "0"), ("x", "4")])
def test_wrong_priority_tokens_are_shown_on_the_form_with_the_values_kept(client, study, token, tokens):
    _start(client, token, language="fr")
    response = client.post(
        reverse("surveys:priorities"), {"tokens-accessibility": tokens[0], "tokens-aesthetics": tokens[1]}
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="e-tokens"' in page and 'aria-invalid="true"' in page
    assert f'name="tokens-accessibility" value="{tokens[0]}"' in page
    assert "Enregistrer et continuer" in page


def test_a_too_long_comment_keeps_the_text(client, study, token):
    _start(client, token)
    text = "a" * (services.COMMENT_MAX_CHARS + 1)
    response = client.post(reverse("surveys:comment"), {"text": text})
    assert response.status_code == 400 and 'id="e-text"' in response.content.decode()
    assert text in response.content.decode()


# --- client_seq ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seq", ["1e400", "Infinity", "NaN", str(2**63), "-1", "1.5", "abc"])
def test_impossible_save_counters_are_refused_with_a_400(client, study, token, seq):
    participant = _start(client, token)
    site = selectors.participant_sites(participant)[0]
    data = {"kind": "rating", "site": site.code, "criterion": "accessibility", "value": "2", "client_seq": seq}
    response = client.post(reverse("surveys:answer"), data, headers={"HX-Request": "true"})
    assert response.status_code == 400


@pytest.mark.parametrize("value", [float("inf"), 1e300, True, 2**80])
def test_impossible_json_save_counters_are_refused_with_a_400(client, study, token, value):
    participant = _start(client, token)
    site = selectors.participant_sites(participant)[0]
    body = json.dumps(
        {"kind": "rating", "site": site.code, "criterion": "accessibility", "value": 2, "client_seq": value}
    )
    response = client.post(reverse("surveys:answer"), body, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["field"] == "client_seq"


def test_a_device_with_a_fast_clock_never_freezes_an_answer(study, wave):
    participant = services.invitations_create(study=study, count=1)[0].invitation.participant
    services.participant_consent(participant=participant)
    site = selectors.participant_sites(participant)[0].code
    ten_years = 10 * 365 * 24 * 3600 * 10**6
    fast = time.time_ns() // 1000 + ten_years

    def save(value, **seq):
        return services.rating_save(
            participant=participant, wave=wave, site_code=site, criterion_name="accessibility", value=value, **seq
        )

    assert save(2, client_seq=fast).saved  # an old client sending only its (fast) clock
    time.sleep(0.002)
    assert save(3).saved  # a correction from a device with a right clock still wins
    time.sleep(0.002)
    assert save(4, client_seq=fast + 5, client_now=fast + 5).saved  # the fast device, sending both
    time.sleep(0.002)
    assert save(1, client_seq=12345, client_now=12345).saved  # a slow clock, too
    assert Rating.objects.get(participant=participant).value == 1
    # An offline edit replayed later keeps its place: a newer answer is not overwritten by it.
    now = time.time_ns() // 1000
    assert not save(4, client_seq=fast - 60 * 10**6, client_now=fast).saved
    assert Rating.objects.get(participant=participant).value == 1 and now > 0
