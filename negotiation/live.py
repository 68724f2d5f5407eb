"""Live negotiation sessions: real delegates answer for some groups, the automatic agent for
the others, round by round.

Everything lives in PostgreSQL: the session's phase, its open round, the protocol carried between
rounds (``bargaining.protocol.Protocol.state()``), each seat and each response with who decided
it. The mediator's work — proposing round n, or building the outcome once the session has
ended — is a LiveStep job keyed on (session, n): published after commit, claimed once, swept
again if its worker dies, so a worker or Redis restart loses nothing. Closing a round needs no
solver, so it happens where the round fills up (the last answer, a poll past the time limit,
the planner's close, beat's sweep), always under a row lock on the session's LiveState.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from surveys.tokens import token_generate, token_hash

from .bargaining import parse_scenario
from .bargaining.outcome import negotiation_open, negotiation_outcome, run_negotiation
from .bargaining.protocol import Protocol, Session, group_view
from .bargaining.scenario import check_pins
from .bargaining.solvers import Problem
from .jobs import KIND, LIVE_KIND
from .models import LiveResponse, LiveState, LiveStep, NegotiationSession, Outcome, Round, Seat, SeatChange
from .services import _round_extra, scenario_to_document

Phase, End, Kind = LiveState.Phase, LiveState.End, Seat.Kind

#: Bounds of a round's time limit and of one extension, in minutes.
TIME_LIMIT_MAX_MINUTES = 24 * 60
EXTEND_MAX_MINUTES = 240
REASON_MAX = 1000

ERROR_SEATS = _("seats: give every group of the scenario a seat, “delegate” or “agent”")
ERROR_TIME_LIMIT = _("time_limit: a whole number of minutes from 1 to 1440, or empty for no limit")
ERROR_MINUTES = _("minutes: a whole number of minutes from 1 to 240")
ERROR_NO_LIMIT = _("minutes: this session’s rounds have no time limit to extend")
ERROR_ACCEPT = _("accept: answer true (accept) or false (reject)")
ERROR_CONCESSION = _("concession: a number from 0 to %(max)s (your group’s aspiration down to its reservation)")
ERROR_REASON = _("reason: at most 1000 characters of text")
ERROR_ROUND = _("round: round %(n)s is the open round")
ERROR_NOT_OPEN = _("round: no round is open for answers right now; wait for the mediator’s proposal")
ERROR_PAUSED = _("round: the planner has paused the session; answers wait until it resumes")
ERROR_NOT_YET = _("round: your seat answers from round %(n)s")
ERROR_ENDED = _("session: this session has ended")
ERROR_NOT_LIVE = _("session: this is not a live session")
ERROR_CANNOT_PAUSE = _("action: only an open round can be paused")
ERROR_CANNOT_RESUME = _("action: the session is not paused")
ERROR_SEAT_KIND = _("kind: “delegate” or “agent”")
ERROR_DELEGATE_UNKNOWN = _("This delegate link is not valid, or the seat has been given to someone else.")
ERROR_DELEGATE_EXPIRED = _("This delegate link has expired; ask the planner for a new one.")


class LiveError(Exception):
    """A refused live-session request: the message names the field; ``status`` is the HTTP
    status to answer (400 bad value, 404/410 bad link, 409 not now)."""

    def __init__(self, message, *, status: int = 400, **values):
        self.message = message
        self.values = values
        self.status = status
        super().__init__(str(self))

    def __str__(self) -> str:
        return str(self.message) % self.values if self.values else str(self.message)

    @property
    def field(self) -> str:
        return str(self.message).split(":", 1)[0] if ":" in str(self.message) else ""


@dataclass
class IssuedSeat:
    """A delegate seat with its raw token, available only now (it is stored hashed)."""

    seat: Seat
    token: str

    @property
    def path(self) -> str:
        return f"/d/{self.token}/"


# ---------------------------------------------------------------------------------------------
# Reading a live session


def _problem(session: NegotiationSession) -> Problem:
    return Problem(parse_scenario(session.snapshot), tuple(session.pinned), tuple(session.forbidden))


def _max_rounds(session: NegotiationSession) -> int:
    return max(int(session.snapshot.get("max_rounds") or 1), 1)


def _protocol(session: NegotiationSession, state: LiveState) -> tuple[Problem, Protocol]:
    prob = _problem(session)
    return prob, Protocol.from_state(prob, state.protocol)


def live_seconds_left(state: LiveState, *, now=None) -> int | None:
    """Seconds left in the open round (the frozen figure while paused), or None."""
    if state.phase == Phase.PAUSED:
        return state.paused_remaining
    if state.phase != Phase.OPEN or state.deadline is None:
        return None
    return max(0, math.ceil((state.deadline - (now or timezone.now())).total_seconds()))


def live_table(session: NegotiationSession) -> dict:
    """What everyone at the table sees: the phase, the open round, each seat and whether it
    has answered this round (never what another group answered before the round closes)."""
    state = LiveState.objects.get(session_id=session.pk)
    answered = dict(
        LiveResponse.objects.filter(session=session, round=state.round).values_list("group", "by")
        if state.round
        else []
    )
    seats = list(session.seats.all())
    return {
        "state": state,
        "round": state.round or None,
        "open": state.phase in (Phase.OPEN, Phase.PAUSED),
        "seconds_left": live_seconds_left(state),
        "max_rounds": _max_rounds(session),
        "seats": [
            {
                "seat": seat,
                "group": seat.group,
                "kind": seat.kind,
                "responded": seat.group in answered,
                "by": answered.get(seat.group),
            }
            for seat in seats
        ],
        "n_responded": len(answered),
        "n_seats": len(seats),
    }


def live_delegate_view(seat: Seat) -> dict:
    """What the proposal of the open round gives the seat's group, against the best base design
    and against the group's own best package, per criterion; the agent's suggested concession
    (to pre-fill the form) and the most the group can concede; the answer already given."""
    session = seat.session
    state = LiveState.objects.get(session_id=seat.session_id)
    out: dict = {"round": state.round or None, "answer": None, "view": None}
    if not state.round or state.phase not in (Phase.OPEN, Phase.PAUSED):
        return out
    prob, protocol = _protocol(session, state)
    record = Round.objects.get(session=session, number=state.round)
    x = prob.s.mask(record.proposal)
    g = prob.s.group_names.index(seat.group)
    base = prob.s.mask(state.references.get("best_base_design", {}).get("interventions", []))
    own = protocol.agents[g].preferred
    last = state.round >= _max_rounds(session)
    out["view"] = group_view(prob, g, x, base, own)
    out["proposal"] = record.proposal
    out["base_name"] = state.references.get("best_base_design", {}).get("name", "")
    out["aspiration"] = protocol.agents[g].aspiration
    out["reservation"] = protocol.agents[g].reservation
    out["suggested"] = protocol.suggested_concession(seat.group, last=last)
    out["limit"] = 0.0 if last else protocol.concession_limit(seat.group)
    out["last"] = last
    answer = LiveResponse.objects.filter(session=session, round=state.round, group=seat.group).first()
    out["answer"] = answer.data if answer else None
    out["answer_by"] = answer.by if answer else None
    out["may_answer"] = seat.since_round <= state.round and not (answer and answer.by == Kind.AGENT)
    return out


# ---------------------------------------------------------------------------------------------
# Opening a session and handing out seats


def _issue(seat: Seat) -> str:
    token = token_generate()
    seat.token_hash = token_hash(token)
    seat.expires_at = timezone.now() + timedelta(hours=settings.DELEGATE_TTL_HOURS)
    return token


def _parse_time_limit(value) -> int | None:
    if value in (None, ""):
        return None
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        raise LiveError(ERROR_TIME_LIMIT) from None
    if not 1 <= minutes <= TIME_LIMIT_MAX_MINUTES:
        raise LiveError(ERROR_TIME_LIMIT)
    return minutes * 60


def live_session_open(
    *, scenario, seats: dict[str, str], time_limit=None, user=None
) -> tuple[NegotiationSession, list[IssuedSeat]]:
    """Snapshot the scenario, open a live session with one seat per group (``seats`` maps each
    group's name to "delegate" or "agent") and request the mediator's first proposal.

    Returns the session and the delegate seats with their raw tokens (shown once). Raises
    ScenarioError for an invalid scenario and LiveError for bad seats or time limit; nothing
    is written then."""
    document = scenario_to_document(scenario)
    parsed = parse_scenario(document)
    check_pins(parsed, (), ())
    names = [g.name for g in parsed.groups]
    if set(seats) != set(names) or any(kind not in Kind.values for kind in seats.values()):
        raise LiveError(ERROR_SEATS)
    seconds = _parse_time_limit(time_limit)
    now = timezone.now()
    issued: list[IssuedSeat] = []
    with transaction.atomic():
        session = NegotiationSession.objects.create(
            scenario=scenario,
            snapshot=document,
            live=True,
            status=NegotiationSession.Status.RUNNING,
            started_at=now,
            heartbeat_at=now,
            started_by=user if user is not None and user.is_authenticated else None,
        )
        LiveState.objects.create(session=session, time_limit=seconds)
        for k, name in enumerate(names):
            seat = Seat(session=session, group=name, order=k, kind=seats[name])
            token = _issue(seat) if seat.kind == Kind.DELEGATE else None
            seat.save()
            SeatChange.objects.create(seat=seat, round=1, from_kind="", to_kind=seat.kind, by=session.started_by)
            if token:
                issued.append(IssuedSeat(seat, token))
        _step_request(session, 1)
    return session, issued


def _step_request(session: NegotiationSession, number: int) -> None:
    step, created = LiveStep.objects.get_or_create(session=session, number=number)
    if created:
        pk = step.pk
        transaction.on_commit(lambda: LIVE_KIND.publish(pk))


# ---------------------------------------------------------------------------------------------
# The mediator's steps (run by the worker)


def live_step_run(*, step_id: int, take_over: bool = False) -> LiveStep:
    """Propose round ``number`` of the step's session, or build the outcome once it has ended.
    A step whose work is already done (a redelivery, a race) changes nothing."""

    def run() -> None:
        step = LiveStep.objects.select_related("session").get(pk=step_id)
        session = step.session
        state = LiveState.objects.get(session=session)
        if state.phase == Phase.CLOSED:
            pass
        elif state.end or (state.round < step.number and _propose(session, step.number)):
            # Ended before, or while the proposal was being solved (the planner closed it).
            _finish(session)
        LIVE_KIND.finish(step.pk)

    def failed(exc: Exception) -> None:
        step = LiveStep.objects.get(pk=step_id)
        LiveState.objects.filter(session_id=step.session_id).update(phase=Phase.CLOSED, updated_at=timezone.now())
        KIND.fail(step.session_id, exc)

    return LIVE_KIND.execute(step_id, run, take_over=take_over, on_failure=failed)


def _propose(session: NegotiationSession, number: int) -> bool:
    """Solve round ``number``'s proposal outside any lock, then write it if still needed.
    Returns True when the session has ended instead and its outcome is due."""
    state = LiveState.objects.get(session=session)
    references = dict(state.references)
    if number == 1:
        opening = negotiation_open(parse_scenario(session.snapshot), pinned=session.pinned, forbidden=session.forbidden)
        prob, protocol = opening.prob, opening.protocol
        if protocol is None:
            LiveState.objects.filter(pk=state.pk).update(end=End.NOTHING, phase=Phase.FINISHING)
            return True
        references = {
            "best_base_design": {"name": opening.best_name, "interventions": prob.s.codes_of(opening.best_x)},
        }
    else:
        prob, protocol = _protocol(session, state)
    aspirations = protocol.aspirations()
    proposal = protocol.propose()
    record = protocol.record(number, proposal, aspirations, {})
    last = number >= _max_rounds(session)
    with transaction.atomic():
        state = LiveState.objects.select_for_update().get(pk=state.pk)
        if state.end or state.round >= number or state.phase == Phase.CLOSED:
            return bool(state.end) and state.phase != Phase.CLOSED
        Round.objects.update_or_create(
            session=session,
            number=number,
            defaults={
                "proposal": record["proposal"],
                "cost": record["cost"],
                "utilities": record["utilities"],
                "aspirations": record["aspirations"],
                "responses": {},
                "mediator": record.get("mediator", ""),
                "extra": _round_extra(record),
            },
        )
        now = timezone.now()
        state.round = number
        state.protocol = protocol.state()
        state.references = references
        paused = state.phase == Phase.PAUSED
        state.phase = Phase.PAUSED if paused else Phase.OPEN
        state.paused_remaining = state.time_limit if paused else None
        state.deadline = now + timedelta(seconds=state.time_limit) if state.time_limit and not paused else None
        state.updated_at = now
        state.save()
        for seat in session.seats.all():
            if seat.kind == Kind.AGENT or seat.since_round > number:
                _agent_answers(session, protocol, seat.group, proposal.x, number, last=last)
        _close_if_complete(session, state)
    return False


def _agent_answers(session, protocol: Protocol, group: str, x, number: int, *, last: bool, note: str = "") -> None:
    data = protocol.agent_response(protocol.agent(group), x, last=last)
    if note:
        data["note"] = note
    LiveResponse.objects.update_or_create(
        session=session, round=number, group=group, defaults={"by": Kind.AGENT, "data": data, "at": timezone.now()}
    )


def _close_if_complete(session, state: LiveState) -> None:
    if state.phase != Phase.OPEN:
        return
    answered = LiveResponse.objects.filter(session=session, round=state.round).count()
    if answered >= session.seats.count():
        _close_round(session, state)


def _close_round(session, state: LiveState, *, fill_missing: bool = True, end: str = "") -> None:
    """Close the open round (under the caller's lock on ``state``): the agent answers for every
    seat still silent (the time limit passed), the round's responses go into the transcript,
    rejecting groups concede what they said, and the next step is requested."""
    prob, protocol = _protocol(session, state)
    record = Round.objects.get(session=session, number=state.round)
    x = prob.s.mask(record.proposal)
    last = state.round >= _max_rounds(session)
    rows = {r.group: r for r in LiveResponse.objects.filter(session=session, round=state.round)}
    if fill_missing:
        for name in prob.s.group_names:
            if name not in rows:
                _agent_answers(session, protocol, name, x, state.round, last=last, note="time limit")
        rows = {r.group: r for r in LiveResponse.objects.filter(session=session, round=state.round)}
    responses = {name: {**rows[name].data, "by": rows[name].by} for name in prob.s.group_names if name in rows}
    record.responses = responses
    record.save(update_fields=["responses"])
    if end:
        state.end = end
    elif protocol.close_round(responses) and len(responses) == len(prob.s.group_names):
        state.end = End.AGREEMENT
    elif last:
        state.end = End.ROUND_LIMIT
    state.protocol = protocol.state()
    state.phase = Phase.FINISHING if state.end else Phase.WAITING
    state.deadline = None
    state.paused_remaining = None
    state.updated_at = timezone.now()
    state.save()
    _step_request(session, state.round + 1)


def _finish(session: NegotiationSession) -> None:
    """Build the outcome document of an ended session — the live package beside the session the
    automatic agents alone would have run on the same snapshot — and mark it done."""
    state = LiveState.objects.get(session=session)
    parsed = parse_scenario(session.snapshot)
    opening = negotiation_open(parsed, pinned=session.pinned, forbidden=session.forbidden)
    rounds = [r.as_document() for r in session.rounds.all()]
    agreement = state.end == End.AGREEMENT and bool(rounds)
    x = opening.prob.s.mask(rounds[-1]["proposal"]) if agreement else None
    if state.protocol and opening.protocol is not None:
        protocol = Protocol.from_state(opening.prob, state.protocol)
        schedule, preferred = protocol.schedule(), [a.preferred for a in protocol.agents]
    elif opening.protocol is not None:
        schedule, preferred = opening.protocol.schedule(), [a.preferred for a in opening.protocol.agents]
    else:
        schedule, preferred = {"kind": "none", "description": "no negotiation", "mediator": opening.mediator}, []
    outcome = negotiation_outcome(opening, Session(rounds, agreement, x, schedule), preferred)
    simulated = run_negotiation(parsed, pinned=session.pinned, forbidden=session.forbidden)
    outcome["simulated"] = {
        "agreement": simulated["agreement"],
        "rounds": len(simulated["rounds"]),
        "package": simulated["package"],
    }
    seats = list(session.seats.all())
    outcome["live"] = {
        "end": state.end,
        "seats": [{"group": s.group, "kind": s.kind} for s in seats],
        "responses_by": {
            kind: sum(1 for r in rounds for resp in r["responses"].values() if resp.get("by") == kind)
            for kind in Kind.values
        },
    }
    with transaction.atomic():
        Outcome.objects.update_or_create(session=session, defaults={"data": outcome})
        LiveState.objects.filter(pk=state.pk).update(phase=Phase.CLOSED, updated_at=timezone.now())
        KIND.finish(session.pk)


# ---------------------------------------------------------------------------------------------
# Delegates


def delegate_resolve(*, token: str) -> Seat:
    """The delegate seat behind a raw token, or LiveError (404 unknown, 410 expired)."""
    seat = (
        Seat.objects.select_related("session", "session__scenario", "session__scenario__study")
        .filter(token_hash=token_hash(token or ""), kind=Kind.DELEGATE)
        .first()
    )
    if seat is None:
        raise LiveError(ERROR_DELEGATE_UNKNOWN, status=404)
    if seat.is_expired:
        raise LiveError(ERROR_DELEGATE_EXPIRED, status=410)
    return seat


def _validate_answer(*, accept, concession, reason) -> tuple[bool, float | None, str]:
    if not isinstance(accept, bool):
        raise LiveError(ERROR_ACCEPT)
    if concession is not None and (
        isinstance(concession, bool) or not isinstance(concession, int | float) or not math.isfinite(concession)
    ):
        raise LiveError(ERROR_CONCESSION, max="…")
    reason = reason or ""
    if not isinstance(reason, str) or len(reason) > REASON_MAX or "\x00" in reason:
        raise LiveError(ERROR_REASON)
    return accept, (float(concession) if concession is not None else None), reason.strip()


def live_respond(*, seat: Seat, round_number, accept, concession=None, reason: str = "") -> LiveResponse:
    """A delegate's answer for their group in the open round. A second answer replaces the
    first until the round closes; the last answer of the round closes it."""
    accept, concession, reason = _validate_answer(accept=accept, concession=concession, reason=reason)
    if isinstance(round_number, bool) or not isinstance(round_number, int):
        raise LiveError(ERROR_ROUND, n="?")
    session = seat.session
    live_check(session=session)  # A round past its time limit closes first, for good.
    with transaction.atomic():
        state = LiveState.objects.select_for_update().get(session=session)
        if state.end or state.phase == Phase.CLOSED:
            raise LiveError(ERROR_ENDED, status=409)
        if state.phase == Phase.PAUSED:
            raise LiveError(ERROR_PAUSED, status=409)
        if state.phase != Phase.OPEN or (state.deadline is not None and state.deadline <= timezone.now()):
            raise LiveError(ERROR_NOT_OPEN, status=409)
        if round_number != state.round:
            raise LiveError(ERROR_ROUND, status=409, n=state.round)
        seat = Seat.objects.get(pk=seat.pk)
        if seat.kind != Kind.DELEGATE:
            raise LiveError(ERROR_DELEGATE_UNKNOWN, status=404)
        if seat.since_round > state.round:
            raise LiveError(ERROR_NOT_YET, status=409, n=seat.since_round)
        prob, protocol = _protocol(session, state)
        last = state.round >= _max_rounds(session)
        limit = 0.0 if last else protocol.concession_limit(seat.group)
        if not accept and concession is not None and not 0 <= concession <= limit + 1e-9:
            raise LiveError(ERROR_CONCESSION, max=f"{limit:.3f}")
        x = prob.s.mask(Round.objects.get(session=session, number=state.round).proposal)
        data = protocol.delegate_response(seat.group, x, accept=accept, concession=concession, note=reason, last=last)
        response, _created = LiveResponse.objects.update_or_create(
            session=session,
            round=state.round,
            group=seat.group,
            defaults={"by": Kind.DELEGATE, "data": data, "at": timezone.now()},
        )
        _close_if_complete(session, state)
    return response


# ---------------------------------------------------------------------------------------------
# Time limits and the planner's controls


def _deadline_close(session, state: LiveState, *, now=None) -> bool:
    """Under the caller's lock: close the open round if its time limit passed."""
    now = now or timezone.now()
    if state.phase == Phase.OPEN and state.deadline is not None and state.deadline <= now:
        _close_round(session, state)
        return True
    return False


def live_check(*, session: NegotiationSession) -> None:
    """Called by every poll: closes the open round once its time limit has passed."""
    state = LiveState.objects.filter(session_id=session.pk).first()
    if state is None or state.phase != Phase.OPEN or state.deadline is None or state.deadline > timezone.now():
        return
    with transaction.atomic():
        state = LiveState.objects.select_for_update().get(pk=state.pk)
        _deadline_close(session, state)


def live_deadlines_check(*, now=None) -> int:
    """Close every open round past its time limit (beat's sweep); returns how many."""
    now = now or timezone.now()
    closed = 0
    for state in LiveState.objects.filter(phase=Phase.OPEN, deadline__lte=now).select_related("session"):
        with transaction.atomic():
            locked = LiveState.objects.select_for_update().get(pk=state.pk)
            closed += _deadline_close(state.session, locked, now=now)
    return closed


def _locked(session: NegotiationSession) -> LiveState:
    if not session.live:
        raise LiveError(ERROR_NOT_LIVE, status=404)
    state = LiveState.objects.select_for_update().get(session=session)
    if state.end or state.phase == Phase.CLOSED:
        raise LiveError(ERROR_ENDED, status=409)
    return state


def live_pause(*, session: NegotiationSession) -> None:
    live_check(session=session)
    with transaction.atomic():
        state = _locked(session)
        if state.phase != Phase.OPEN or (state.deadline is not None and state.deadline <= timezone.now()):
            raise LiveError(ERROR_CANNOT_PAUSE, status=409)
        state.paused_remaining = live_seconds_left(state)
        state.phase, state.deadline, state.updated_at = Phase.PAUSED, None, timezone.now()
        state.save()


def live_resume(*, session: NegotiationSession) -> None:
    with transaction.atomic():
        state = _locked(session)
        if state.phase != Phase.PAUSED:
            raise LiveError(ERROR_CANNOT_RESUME, status=409)
        now = timezone.now()
        state.deadline = now + timedelta(seconds=state.paused_remaining) if state.paused_remaining is not None else None
        state.phase, state.paused_remaining, state.updated_at = Phase.OPEN, None, now
        state.save()
        _close_if_complete(session, state)


def live_extend(*, session: NegotiationSession, minutes) -> None:
    """Give the open (or paused) round ``minutes`` more."""
    try:
        minutes = int(str(minutes).strip())
    except (TypeError, ValueError):
        raise LiveError(ERROR_MINUTES) from None
    if not 1 <= minutes <= EXTEND_MAX_MINUTES:
        raise LiveError(ERROR_MINUTES)
    with transaction.atomic():
        state = _locked(session)
        if not state.time_limit:
            raise LiveError(ERROR_NO_LIMIT, status=409)
        if state.phase == Phase.PAUSED and state.paused_remaining is not None:
            state.paused_remaining += minutes * 60
        elif state.phase == Phase.OPEN and state.deadline is not None:
            state.deadline = max(state.deadline, timezone.now()) + timedelta(minutes=minutes)
        else:
            raise LiveError(ERROR_NOT_OPEN, status=409)
        state.updated_at = timezone.now()
        state.save()


def live_close(*, session: NegotiationSession) -> None:
    """End the session now, without agreement: the open round is recorded with the answers
    given so far, and the outcome falls back to the best base design."""
    with transaction.atomic():
        state = _locked(session)
        if state.phase in (Phase.OPEN, Phase.PAUSED) and state.round:
            _close_round(session, state, fill_missing=False, end=End.CLOSED)
        else:
            state.end, state.phase, state.updated_at = End.CLOSED, Phase.FINISHING, timezone.now()
            state.save()
            _step_request(session, state.round + 1)


def live_seat_change(*, session: NegotiationSession, seat: Seat, kind: str, user=None) -> IssuedSeat | None:
    """Hand a seat to the agent (a delegate who does not show up) or to a delegate (a new
    personal link, returned once; the old link stops working). Recorded as a SeatChange. The
    agent answers at once for a silent seat in the open round; a new delegate answers from
    the open round if the seat has not answered it yet, else from the next."""
    if kind not in Kind.values:
        raise LiveError(ERROR_SEAT_KIND)
    with transaction.atomic():
        state = _locked(session)
        seat = Seat.objects.select_for_update().get(pk=seat.pk, session=session)
        open_round = state.phase in (Phase.OPEN, Phase.PAUSED) and state.round
        answered = (
            open_round and LiveResponse.objects.filter(session=session, round=state.round, group=seat.group).exists()
        )
        previous = seat.kind
        token = None
        seat.kind = kind
        if kind == Kind.AGENT:
            seat.token_hash, seat.expires_at = None, None
            seat.since_round = state.round if open_round else state.round + 1
        else:
            token = _issue(seat)
            seat.since_round = state.round if open_round and not answered else state.round + 1
        seat.save()
        SeatChange.objects.create(
            seat=seat,
            round=max(state.round, 1),
            from_kind=previous,
            to_kind=kind,
            by=user if user is not None and user.is_authenticated else None,
        )
        if kind == Kind.AGENT and open_round and not answered:
            prob, protocol = _protocol(session, state)
            x = prob.s.mask(Round.objects.get(session=session, number=state.round).proposal)
            last = state.round >= _max_rounds(session)
            _agent_answers(session, protocol, seat.group, x, state.round, last=last, note="seat handed to the agent")
            _close_if_complete(session, state)
    return IssuedSeat(seat, token) if token else None
