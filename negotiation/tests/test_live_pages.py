"""Live sessions through the planner's pages, the delegate's page and the API."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from negotiation.models import LiveResponse, NegotiationSession, Seat, Stakeholder
from negotiation.tests.helpers import make_scenario
from negotiation.tests.test_live import DISABLED, LGBTQ, SENIORS, drain, fresh


@pytest.fixture
def opened(study, personas):
    """A live session opened from the planner's page: two delegates, one agent."""
    scenario = make_scenario(study)
    planner = Client()
    planner.force_login(personas["planner"])
    seats = {s.group.name: s.pk for s in Stakeholder.objects.filter(scenario=scenario).select_related("group")}
    response = planner.post(
        f"/studies/{study.slug}/negotiation/{scenario.pk}/live/",
        {f"seat-{seats[SENIORS]}": "agent", f"seat-{seats[DISABLED]}": "delegate", f"seat-{seats[LGBTQ]}": "delegate"},
    )
    session = NegotiationSession.objects.get(live=True)
    links = re.findall(r'href="(http://testserver/d/[^"]+/)"', response.content.decode())
    return {"response": response, "session": session, "links": links, "planner": planner, "study": study}


def _delegate(link: str, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    assert client.get(link.removeprefix("http://testserver")).status_code == 302
    return client


def test_the_planner_sees_each_link_and_qr_code_once_never_cached(opened):
    response = opened["response"]
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert len(opened["links"]) == 2 and len(set(opened["links"])) == 2
    assert response.content.decode().count("<svg") == 2
    # Only hashes are stored, so no page can show the link again.
    drain(opened["session"])
    page = opened["planner"].get(f"/studies/{opened['study'].slug}/negotiation/sessions/{opened['session'].pk}/")
    assert all(link.split("/d/")[1].strip("/") not in page.content.decode() for link in opened["links"])


def test_a_delegate_answers_on_their_page_in_french_and_the_planner_sees_it(opened):
    session = opened["session"]
    drain(session)
    fr = _delegate(opened["links"][0], "fr-CA")
    page = fr.get("/delegate/")
    text = page.content.decode()
    assert page.status_code == 200 and 'lang="fr"' in text
    assert "meilleur scénario de base" in text and "best base design" not in text
    # The concession's limit and pre-filled amount are written the French way, and read back.
    limit = re.search(r"de 0 à (\d+,\d{3})", text)
    prefill = re.search(r'id="concession"[^>]*value="([^"]*)"', text)
    assert limit and prefill and re.fullmatch(r"\d+,\d{3}", prefill.group(1)), (limit, prefill)
    seat = Seat.objects.get(pk=fr.session["civic_delegate"]["seat"])
    answer = fr.post(
        "/delegate/answer/", {"round": "1", "answer": "reject", "concession": prefill.group(1), "reason": "Pas assez"}
    )
    assert answer.status_code == 302
    row = LiveResponse.objects.get(session=session, round=1, group=seat.group)
    concession = float(prefill.group(1).replace(",", "."))
    assert row.by == "delegate" and row.data["concession"] == pytest.approx(concession, abs=1e-3)
    assert row.data["note"] == "Pas assez"
    planner_page = opened["planner"].get(f"/studies/{opened['study'].slug}/negotiation/sessions/{session.pk}/")
    assert "2 of 3 groups have answered" in planner_page.content.decode()


def test_a_bad_concession_on_the_page_is_a_400_naming_the_field(opened):
    drain(opened["session"])
    client = _delegate(opened["links"][0])
    response = client.post("/delegate/answer/", {"round": "1", "answer": "reject", "concession": "lots"})
    assert response.status_code == 400 and "concession:" in response.content.decode()
    response = client.post("/delegate/answer/", {"round": "1"})
    assert response.status_code == 400 and "accept:" in response.content.decode()
    assert not LiveResponse.objects.filter(by="delegate").exists()


def test_without_the_link_the_delegate_page_is_refused(opened, client):
    assert client.get("/delegate/").status_code == 403
    assert client.get("/d/" + "x" * 43 + "/").status_code == 404


def test_a_replaced_delegate_loses_the_page(opened):
    session = opened["session"]
    drain(session)
    client = _delegate(opened["links"][0])
    seat = Seat.objects.get(pk=client.session["civic_delegate"]["seat"])
    response = opened["planner"].post(
        f"/studies/{opened['study'].slug}/negotiation/sessions/{session.pk}/seats/{seat.pk}/", {"kind": "agent"}
    )
    assert response.status_code == 302
    assert client.get("/delegate/").status_code == 403


def test_the_api_shows_the_session_to_its_delegate_and_takes_their_answer(opened, personas):
    session = opened["session"]
    drain(session)
    token = opened["links"][0].split("/d/")[1].strip("/")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Delegate {token}")
    url = f"/api/v1/studies/{opened['study'].slug}/sessions/{session.pk}/"
    body = api.get(url).json()
    assert body["live"] is True and body["round"] == 1 and body["proposal"]
    assert {s["group"]: s["kind"] for s in body["seats"]} == {SENIORS: "agent", DISABLED: "delegate", LGBTQ: "delegate"}
    assert {s["group"]: s["responded"] for s in body["seats"]}[SENIORS] is True
    answer = api.post(url + "responses/", {"round": 1, "accept": True}, format="json")
    assert answer.status_code == 200 and answer.json()["by"] == "delegate"
    again = api.post(url + "responses/", {"round": 1, "accept": False, "concession": 0.0}, format="json")
    assert again.status_code == 200 and again.json()["response"]["accept"] is False
    bad = api.post(url + "responses/", {"round": 1, "accept": False, "concession": "NaN"}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "concession"
    wrong_round = api.post(url + "responses/", {"round": 7, "accept": True}, format="json")
    assert wrong_round.status_code == 409 and wrong_round.json()["error"]["field"] == "round"


def test_a_delegate_cannot_see_or_answer_another_session(opened, study):
    drain(opened["session"])
    other = make_scenario(study, title="Other corner")
    from negotiation.live import live_session_open

    other_session, _ = live_session_open(scenario=other, seats={SENIORS: "agent", DISABLED: "agent", LGBTQ: "agent"})
    token = opened["links"][0].split("/d/")[1].strip("/")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Delegate {token}")
    url = f"/api/v1/studies/{study.slug}/sessions/{other_session.pk}/"
    assert api.get(url).status_code == 404
    assert api.post(url + "responses/", {"round": 1, "accept": True}, format="json").status_code == 404
    assert not LiveResponse.objects.filter(session=other_session).exists()


def test_pause_extend_and_close_from_the_planners_page(opened):
    session = opened["session"]
    drain(session)
    url = f"/studies/{opened['study'].slug}/negotiation/sessions/{session.pk}/live/"
    planner = opened["planner"]
    assert planner.post(url, {"action": "pause"}).status_code == 302
    assert fresh(session).live_state.phase == "paused"
    assert planner.post(url, {"action": "resume"}).status_code == 302
    assert fresh(session).live_state.phase == "open"
    assert planner.post(url, {"action": "close"}).status_code == 302
    drain(session)
    session = fresh(session)
    assert session.status == "done" and session.outcome.data["live"]["end"] == "closed"
    page = planner.get(f"/studies/{opened['study'].slug}/negotiation/sessions/{session.pk}/").content.decode()
    assert "Live session (delegates and agents)" in page and "Simulated session (agents only)" in page
