"""Live sessions: delegates and agents answer round by round; every step is in PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from negotiation.bargaining import parse_scenario, run_negotiation
from negotiation.bargaining.protocol import Protocol
from negotiation.live import (
    ERROR_CONCESSION,
    ERROR_PAUSED,
    ERROR_ROUND,
    LiveError,
    delegate_resolve,
    live_check,
    live_close,
    live_delegate_view,
    live_extend,
    live_pause,
    live_respond,
    live_resume,
    live_seat_change,
    live_session_open,
    live_step_run,
)
from negotiation.models import LiveResponse, LiveState, LiveStep, NegotiationSession, Seat, SeatChange
from negotiation.services import scenario_to_document
from negotiation.tests.helpers import make_scenario

SENIORS, DISABLED, LGBTQ = "Seniors", "Disabled residents", "LGBTQIA2+ residents"


def drain(session) -> int:
    """Run every step the session has requested, as a worker would; returns how many ran."""
    ran = 0
    while step := LiveStep.objects.filter(session=session, status__in=["pending", "queued"]).first():
        live_step_run(step_id=step.pk)
        ran += 1
    return ran


def fresh(session) -> NegotiationSession:
    return NegotiationSession.objects.select_related("live_state").get(pk=session.pk)


def open_live(study, seats: dict[str, str], **kwargs):
    scenario = make_scenario(study)
    session, issued = live_session_open(scenario=scenario, seats=seats, **kwargs)
    return scenario, session, {i.seat.group: i for i in issued}


def test_a_live_session_with_only_agents_ends_exactly_like_the_simulation(study):
    scenario, session, issued = open_live(study, dict.fromkeys([SENIORS, DISABLED, LGBTQ], "agent"))
    assert issued == {}
    drain(session)
    session = fresh(session)
    assert session.status == "done" and session.live_state.phase == "closed"
    simulated = run_negotiation(parse_scenario(scenario_to_document(scenario)))
    live = session.outcome.data
    assert live["package"] == simulated["package"]
    assert live["agreement"] == simulated["agreement"]
    assert [r["proposal"] for r in live["rounds"]] == [r["proposal"] for r in simulated["rounds"]]
    assert live["simulated"]["package"] == simulated["package"]
    assert all(resp["by"] == "agent" for r in live["rounds"] for resp in r["responses"].values())


def test_delegate_tokens_are_long_random_and_stored_hashed(study):
    _, session, issued = open_live(study, {SENIORS: "delegate", DISABLED: "delegate", LGBTQ: "agent"})
    tokens = [i.token for i in issued.values()]
    assert len(set(tokens)) == 2 and all(len(t) >= 43 for t in tokens)
    stored = list(Seat.objects.filter(session=session).values_list("token_hash", flat=True))
    assert not set(tokens) & set(stored)
    assert delegate_resolve(token=tokens[0]).group in (SENIORS, DISABLED)
    with pytest.raises(LiveError) as unknown:
        delegate_resolve(token="x" * 43)
    assert unknown.value.status == 404
    Seat.objects.filter(session=session).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(LiveError) as expired:
        delegate_resolve(token=tokens[0])
    assert expired.value.status == 410


def test_two_delegates_and_an_agent_reach_an_agreement_and_the_transcript_says_who_decided(study):
    _, session, issued = open_live(study, {SENIORS: "agent", DISABLED: "delegate", LGBTQ: "delegate"})
    seats = {g: delegate_resolve(token=i.token) for g, i in issued.items()}
    drain(session)
    for _ in range(10):
        state = fresh(session).live_state
        if state.phase == "closed":
            break
        assert state.phase == "open"
        # The agent has already answered for its seat; the delegates have not.
        assert set(LiveResponse.objects.filter(session=session, round=state.round).values_list("group", flat=True)) == {
            SENIORS
        }
        for seat in seats.values():
            view = live_delegate_view(seat)
            assert view["round"] == state.round and view["view"]["criteria"]
            if view["view"]["utility"]["proposal"] >= view["aspiration"] - 1e-6:
                live_respond(seat=seat, round_number=state.round, accept=True)
            else:
                live_respond(
                    seat=seat, round_number=state.round, accept=False, concession=view["suggested"], reason="trop peu"
                )
        drain(session)
    session = fresh(session)
    outcome = session.outcome.data
    assert session.status == "done" and outcome["agreement"] is True
    for r in outcome["rounds"]:
        assert {g: resp["by"] for g, resp in r["responses"].items()} == {
            SENIORS: "agent",
            DISABLED: "delegate",
            LGBTQ: "delegate",
        }
    # Delegates who concede like the agents reach what the agents reach.
    assert outcome["package"]["interventions"] == outcome["simulated"]["package"]["interventions"]
    assert outcome["live"]["responses_by"]["delegate"] == 2 * len(outcome["rounds"])
    rejected = [resp for r in outcome["rounds"] for resp in r["responses"].values() if not resp["accept"]]
    assert any(resp.get("note") == "trop peu" for resp in rejected)


def test_answers_for_another_round_are_refused_and_the_last_answer_closes_the_round(study):
    _, session, issued = open_live(study, {SENIORS: "delegate", DISABLED: "delegate", LGBTQ: "agent"})
    seniors, disabled = (delegate_resolve(token=issued[g].token) for g in (SENIORS, DISABLED))
    drain(session)
    live_respond(seat=seniors, round_number=1, accept=False, concession=0.0)
    with pytest.raises(LiveError) as wrong_round:
        live_respond(seat=seniors, round_number=2, accept=True)
    assert wrong_round.value.status == 409 and wrong_round.value.message is ERROR_ROUND
    assert fresh(session).live_state.phase == "open"
    live_respond(seat=disabled, round_number=1, accept=True)
    assert fresh(session).live_state.phase == "waiting"
    assert LiveResponse.objects.get(session=session, round=1, group=SENIORS).data["accept"] is False
    with pytest.raises(LiveError) as closed:
        live_respond(seat=seniors, round_number=1, accept=True)
    assert closed.value.status == 409
    assert LiveResponse.objects.get(session=session, round=1, group=SENIORS).data["accept"] is False


def test_bad_answers_get_400_naming_the_field_and_change_nothing(study):
    _, session, issued = open_live(study, {SENIORS: "delegate", DISABLED: "delegate", LGBTQ: "agent"})
    seat = delegate_resolve(token=issued[SENIORS].token)
    drain(session)
    for kwargs, field in [
        ({"accept": "yes"}, "accept"),
        ({"accept": False, "concession": float("inf")}, "concession"),
        ({"accept": False, "concession": -1.0}, "concession"),
        ({"accept": False, "concession": 99.0}, "concession"),
        ({"accept": True, "reason": "x" * 1001}, "reason"),
        ({"accept": True, "reason": "nul\x00"}, "reason"),
    ]:
        with pytest.raises(LiveError) as error:
            live_respond(seat=seat, round_number=1, **kwargs)
        assert error.value.status == 400 and error.value.field == field, kwargs
    assert not LiveResponse.objects.filter(session=session, group=SENIORS).exists()
    with pytest.raises(LiveError) as too_much:
        live_respond(seat=seat, round_number=1, accept=False, concession=99.0)
    assert too_much.value.message is ERROR_CONCESSION


def test_a_delegate_can_change_their_answer_until_the_round_closes(study):
    _, session, issued = open_live(study, {SENIORS: "delegate", DISABLED: "delegate", LGBTQ: "agent"})
    seat = delegate_resolve(token=issued[SENIORS].token)
    drain(session)
    live_respond(seat=seat, round_number=1, accept=False, concession=0.01)
    live_respond(seat=seat, round_number=1, accept=True, reason="finally")
    row = LiveResponse.objects.get(session=session, round=1, group=SENIORS)
    assert row.data["accept"] is True and row.data["note"] == "finally"
    assert LiveResponse.objects.filter(session=session, round=1).count() == 2


def test_past_the_time_limit_a_poll_closes_the_round_and_the_agent_answers_for_the_silent_seat(study):
    _, session, issued = open_live(study, {SENIORS: "delegate", DISABLED: "delegate", LGBTQ: "agent"}, time_limit="2")
    seat = delegate_resolve(token=issued[SENIORS].token)
    drain(session)
    state = fresh(session).live_state
    assert 0 < (state.deadline - timezone.now()).total_seconds() <= 120
    live_respond(seat=seat, round_number=1, accept=True)
    LiveState.objects.filter(pk=state.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    live_check(session=fresh(session))
    assert fresh(session).live_state.phase == "waiting"
    silent = LiveResponse.objects.get(session=session, round=1, group=DISABLED)
    assert silent.by == "agent" and silent.data["note"] == "time limit"
    assert LiveResponse.objects.get(session=session, round=1, group=SENIORS).by == "delegate"


def test_pause_freezes_the_clock_refuses_answers_and_extend_adds_time(study):
    _, session, issued = open_live(study, {SENIORS: "delegate", DISABLED: "agent", LGBTQ: "agent"}, time_limit=5)
    seat = delegate_resolve(token=issued[SENIORS].token)
    drain(session)
    live_pause(session=fresh(session))
    state = fresh(session).live_state
    assert state.phase == "paused" and 290 <= state.paused_remaining <= 300
    with pytest.raises(LiveError) as paused:
        live_respond(seat=seat, round_number=1, accept=True)
    assert paused.value.message is ERROR_PAUSED and paused.value.status == 409
    live_extend(session=fresh(session), minutes="10")
    assert fresh(session).live_state.paused_remaining >= 890
    live_resume(session=fresh(session))
    state = fresh(session).live_state
    assert state.phase == "open" and (state.deadline - timezone.now()).total_seconds() > 880
    with pytest.raises(LiveError) as bad:
        live_extend(session=fresh(session), minutes="0")
    assert bad.value.field == "minutes" and bad.value.status == 400


def test_a_no_show_delegate_is_replaced_by_the_agent_and_the_change_is_recorded(study, personas):
    _, session, issued = open_live(study, {SENIORS: "delegate", DISABLED: "delegate", LGBTQ: "agent"})
    old_token = issued[DISABLED].token
    drain(session)
    seat = Seat.objects.get(session=session, group=DISABLED)
    live_seat_change(session=fresh(session), seat=seat, kind="agent", user=personas["planner"])
    seat.refresh_from_db()
    assert seat.kind == "agent" and seat.token_hash is None
    assert LiveResponse.objects.get(session=session, round=1, group=DISABLED).by == "agent"
    change = SeatChange.objects.filter(seat=seat).last()
    assert (change.from_kind, change.to_kind, change.by, change.round) == ("delegate", "agent", personas["planner"], 1)
    with pytest.raises(LiveError):
        delegate_resolve(token=old_token)
    # Handing it back to a person gives a new link; the seat answers from the next round.
    issued_again = live_seat_change(session=fresh(session), seat=seat, kind="delegate", user=personas["planner"])
    assert issued_again.token != old_token and delegate_resolve(token=issued_again.token).pk == seat.pk
    seat.refresh_from_db()
    assert seat.since_round == 2


def test_the_planner_closes_a_session_and_it_falls_back_to_the_best_base_design(study):
    _, session, _issued = open_live(study, {SENIORS: "delegate", DISABLED: "delegate", LGBTQ: "agent"})
    drain(session)
    live_close(session=fresh(session))
    drain(session)
    session = fresh(session)
    outcome = session.outcome.data
    assert session.status == "done" and outcome["agreement"] is False and outcome["live"]["end"] == "closed"
    assert outcome["package"]["interventions"] == outcome["best_base_design"]["interventions"]
    # The round open at the close is kept with the answers given so far (the agent's).
    assert list(outcome["rounds"][0]["responses"]) == [LGBTQ]


def test_a_step_delivered_again_changes_nothing(study):
    _, session, issued = open_live(study, {SENIORS: "delegate", DISABLED: "agent", LGBTQ: "agent"})
    drain(session)
    step = LiveStep.objects.get(session=session, number=1)
    LiveStep.objects.filter(pk=step.pk).update(status="queued")
    before = (fresh(session).live_state.protocol, list(LiveResponse.objects.values_list("pk", "data")))
    live_step_run(step_id=step.pk)
    assert (fresh(session).live_state.protocol, list(LiveResponse.objects.values_list("pk", "data"))) == before
    assert fresh(session).rounds.count() == 1


def test_open_refuses_bad_seats_and_time_limits_and_writes_nothing(study):
    scenario = make_scenario(study)
    for seats, time_limit, field in [
        ({SENIORS: "delegate"}, None, "seats"),
        ({SENIORS: "robot", DISABLED: "agent", LGBTQ: "agent"}, None, "seats"),
        (dict.fromkeys([SENIORS, DISABLED, LGBTQ], "agent"), "0", "time_limit"),
        (dict.fromkeys([SENIORS, DISABLED, LGBTQ], "agent"), "soon", "time_limit"),
    ]:
        with pytest.raises(LiveError) as error:
            live_session_open(scenario=scenario, seats=seats, time_limit=time_limit)
        assert error.value.field == field
    assert not NegotiationSession.objects.exists()


def test_the_sweep_of_simulated_sessions_never_touches_a_live_one(study):
    from negotiation.jobs import KIND

    _, session, _issued = open_live(study, dict.fromkeys([SENIORS, DISABLED, LGBTQ], "agent"))
    NegotiationSession.objects.filter(pk=session.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert session.pk not in KIND.stale_ids()
    assert not KIND.claim(session.pk, take_over=True)


def test_a_close_while_the_mediator_is_solving_still_ends_the_session(study, monkeypatch):
    _, session, issued = open_live(study, {SENIORS: "delegate", DISABLED: "agent", LGBTQ: "agent"})
    drain(session)
    live_respond(seat=delegate_resolve(token=issued[SENIORS].token), round_number=1, accept=False, concession=0.01)
    real_propose = Protocol.propose
    closed = []

    def propose_while_the_planner_closes(self):
        if not closed:  # Only the first solve (round 2's); the outcome's simulation solves too.
            closed.append(live_close(session=fresh(session)))
        return real_propose(self)

    monkeypatch.setattr(Protocol, "propose", propose_while_the_planner_closes)
    drain(session)
    session = fresh(session)
    assert session.status == "done" and session.outcome.data["live"]["end"] == "closed"
    assert session.rounds.count() == 1
