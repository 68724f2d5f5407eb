"""Every URL × every persona, with the expected status.

The matrix is checked against the URL configuration itself: adding a URL without deciding who may
reach it fails `test_every_url_pattern_is_in_the_matrix`. The REST API has its own matrix in
api/tests/test_api.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from exports.models import ExportJob
from negotiation.models import LiveState, NegotiationSession, Scenario, Seat
from studio.models import Mailing
from surveys.models import Comment, Rating
from surveys.services import invitations_create

# staff_only: `is_staff` (may open the admin site) but no study membership and not a superuser —
# study data comes from memberships only, so every study page is 404 for them.
PERSONAS = ["anonymous", "resident_a", "resident_b", "planner", "researcher", "other_planner", "staff_only", "admin"]
LOGIN = "login"  # a redirect to the sign-in page
STAFF_ONLY = {"anonymous": LOGIN, "resident_a": LOGIN, "resident_b": LOGIN}
EVERYONE = dict.fromkeys(PERSONAS, 200)
RESIDENTS = {**dict.fromkeys(PERSONAS, 403), "resident_a": 200, "resident_b": 200}
PLANNERS_AND_RESEARCHERS = {
    **STAFF_ONLY,
    "planner": 200,
    "researcher": 200,
    "other_planner": 404,
    "staff_only": 404,
    "admin": 200,
}
PLANNERS = {**PLANNERS_AND_RESEARCHERS, "researcher": 404}
RESEARCHERS = {**PLANNERS_AND_RESEARCHERS, "planner": 404}
SIGNED_IN = {**STAFF_ONLY, "planner": 200, "researcher": 200, "other_planner": 200, "staff_only": 200, "admin": 200}
# The study builder: admins and the study's owners (owners: studio/tests/test_builder.py).
BUILDERS = {
    **STAFF_ONLY,
    "planner": 404,
    "researcher": 404,
    "other_planner": 404,
    "staff_only": 404,
    "admin": 200,
}
BUILDERS_POST = {**BUILDERS, "admin": 302}
BUILDERS_BAD_FORM = {**BUILDERS, "admin": 400}

# name → (method, url template, expected by persona). {slug}, {scenario}, {session}, {export} and
# {token} are filled from the fixture.
MATRIX = {
    "home": ("get", "/", EVERYONE),
    "staff-home": ("get", "/staff/", SIGNED_IN),
    "healthz": ("get", "/healthz", EVERYONE),
    "ping": ("get", "/ping", EVERYONE),
    "login": (
        "get",
        "/accounts/login/",
        {**EVERYONE, "planner": 302, "researcher": 302, "other_planner": 302, "staff_only": 302, "admin": 302},
    ),
    "logout": ("post", "/accounts/logout/", dict.fromkeys(PERSONAS, 302)),
    "admin:index": ("get", "/admin/", {**dict.fromkeys(PERSONAS, 302), "staff_only": 200, "admin": 200}),
    "surveys:invitation": ("get", "/i/{token}/", dict.fromkeys(PERSONAS, 302)),
    # The fixture study takes no open sign-ups; surveys/tests/test_open_link.py covers one that does.
    "surveys:join": ("get", "/s/{slug}/", dict.fromkeys(PERSONAS, 404)),
    "surveys:resume": ("get", "/survey/", {**dict.fromkeys(PERSONAS, 403), "resident_a": 302, "resident_b": 302}),
    "surveys:language": ("get", "/survey/language/", RESIDENTS),
    "surveys:consent": ("get", "/survey/consent/", RESIDENTS),
    "surveys:groups": ("get", "/survey/about-you/", RESIDENTS),
    "surveys:rate": ("get", "/survey/rate/s1/", RESIDENTS),
    "surveys:rank": ("get", "/survey/rank/beautiful/", RESIDENTS),
    "surveys:priorities": ("get", "/survey/priorities/", RESIDENTS),
    "surveys:comment": ("get", "/survey/comment/", RESIDENTS),
    "surveys:review": ("get", "/survey/review/", RESIDENTS),
    "surveys:finish": (
        "post",
        "/survey/finish/",
        # Residents who answered nothing are refused (400) with the message on the review page.
        {**dict.fromkeys(PERSONAS, 403), "resident_a": 400, "resident_b": 400},
    ),
    # Before finishing, the thank-you page sends a resident back to their next question.
    "surveys:done": ("get", "/survey/done/", {**dict.fromkeys(PERSONAS, 403), "resident_a": 302, "resident_b": 302}),
    "surveys:withdraw": ("get", "/survey/withdraw/", RESIDENTS),
    "surveys:answer": ("post", "/survey/answer/", RESIDENTS),
    "analytics:dashboard": ("get", "/studies/{slug}/analytics/", PLANNERS_AND_RESEARCHERS),
    "analytics:analyse": (
        "post",
        "/studies/{slug}/analytics/analyse/",
        {**PLANNERS_AND_RESEARCHERS, "planner": 302, "researcher": 302, "admin": 302},
    ),
    "analytics:progress": ("get", "/studies/{slug}/analytics/progress/", PLANNERS_AND_RESEARCHERS),
    "analytics:csv": ("get", "/studies/{slug}/analytics/csv/representation.csv", PLANNERS_AND_RESEARCHERS),
    "analytics:glossary": ("get", "/studies/{slug}/analytics/glossary/", PLANNERS_AND_RESEARCHERS),
    "analytics:brief": ("get", "/studies/{slug}/analytics/brief/", PLANNERS_AND_RESEARCHERS),
    "negotiation:scenarios": ("get", "/studies/{slug}/negotiation/", PLANNERS),
    "negotiation:import": ("get", "/studies/{slug}/negotiation/import/", PLANNERS),
    # Comparing a session with itself is refused (400) — but only after the role check (404).
    "negotiation:compare": (
        "get",
        "/studies/{slug}/negotiation/compare/?a={session}&b={session}",
        {**PLANNERS, "planner": 400, "admin": 400},
    ),
    "negotiation:edit": ("get", "/studies/{slug}/negotiation/{scenario}/", PLANNERS),
    "negotiation:export": ("get", "/studies/{slug}/negotiation/{scenario}/export.json", PLANNERS),
    "negotiation:suggest": (
        "post",
        "/studies/{slug}/negotiation/{scenario}/suggest/",
        {**PLANNERS, "planner": 302, "admin": 302},
    ),
    "negotiation:run": (
        "post",
        "/studies/{slug}/negotiation/{scenario}/run/",
        {**PLANNERS, "planner": 302, "admin": 302},
    ),
    "negotiation:sessions": ("get", "/studies/{slug}/negotiation/{scenario}/sessions/", PLANNERS),
    "negotiation:session": ("get", "/studies/{slug}/negotiation/sessions/{session}/", PLANNERS),
    # The fixture scenario has no groups, so opening a live session on it is refused (400).
    "negotiation:live-open": (
        "post",
        "/studies/{slug}/negotiation/{scenario}/live/",
        {**PLANNERS, "planner": 400, "admin": 400},
    ),
    # Without an action the planner is sent back to the session with the error.
    "negotiation:live-control": (
        "post",
        "/studies/{slug}/negotiation/sessions/{live}/live/",
        {**PLANNERS, "planner": 302, "admin": 302},
    ),
    "negotiation:live-seat": (
        "post",
        "/studies/{slug}/negotiation/sessions/{live}/seats/{seat}/",
        {**PLANNERS, "planner": 302, "admin": 302},
    ),
    # Delegates hold no account: only a seat's own link opens its page
    # (negotiation/tests/test_live_pages.py); a guessed one is 404 for everyone.
    "delegate:open": ("get", "/d/" + "x" * 43 + "/", dict.fromkeys(PERSONAS, 404)),
    "delegate:page": ("get", "/delegate/", dict.fromkeys(PERSONAS, 403)),
    "delegate:answer": ("post", "/delegate/answer/", dict.fromkeys(PERSONAS, 403)),
    "exports:list": ("get", "/studies/{slug}/exports/", RESEARCHERS),
    "exports:request": ("post", "/studies/{slug}/exports/request/", {**RESEARCHERS, "researcher": 302, "admin": 302}),
    # Only the researcher who asked may download: the admin gets 404 too.
    "exports:download": ("get", "/studies/{slug}/exports/{export}/download/", {**RESEARCHERS, "admin": 404}),
    "exports:delete": (
        "post",
        "/studies/{slug}/exports/{export}/delete/",
        {**RESEARCHERS, "researcher": 302, "admin": 404},
    ),
    # Public once published (results/tests/test_results_page.py); the fixture study is not, so
    # everyone gets 404 and nobody learns the study exists.
    "results:public": ("get", "/studies/{slug}/results/", dict.fromkeys(PERSONAS, 404)),
    # Owners and planners; researchers cannot publish.
    "results:manage": ("get", "/studies/{slug}/results/manage/", PLANNERS),
    # The fixture study has no analysis: publishing is refused (400), after the role check.
    "results:publish": ("post", "/studies/{slug}/results/publish/", {**PLANNERS, "planner": 400, "admin": 400}),
    "results:unpublish": ("post", "/studies/{slug}/results/unpublish/", {**PLANNERS, "planner": 302, "admin": 302}),
    "studio:index": ("get", "/staff/studies/", SIGNED_IN),
    # Staff may start a new study (they become its owner) but see no other study without a role.
    "studio:create": ("get", "/staff/studies/new/", {**BUILDERS, "staff_only": 200}),
    "studio:import": ("get", "/staff/studies/import/", {**BUILDERS, "staff_only": 200}),
    "studio:study": ("get", "/staff/studies/{slug}/", BUILDERS),
    "studio:status": ("post", "/staff/studies/{slug}/status/", BUILDERS_POST),
    "studio:analyse": ("post", "/staff/studies/{slug}/analyse/", BUILDERS_POST),
    "studio:export": ("get", "/staff/studies/{slug}/package.zip", BUILDERS),
    "studio:basics": ("get", "/staff/studies/{slug}/basics/", BUILDERS),
    "studio:criteria": ("get", "/staff/studies/{slug}/criteria/", BUILDERS),
    "studio:waves": ("get", "/staff/studies/{slug}/waves/", BUILDERS),
    "studio:wave-status": ("post", "/staff/studies/{slug}/waves/{wave}/status/", BUILDERS_POST),
    "studio:groups": ("get", "/staff/studies/{slug}/groups/", BUILDERS),
    "studio:sites": ("get", "/staff/studies/{slug}/sites/", BUILDERS),
    "studio:images": ("get", "/staff/studies/{slug}/images/", BUILDERS),
    "studio:ranking": ("get", "/staff/studies/{slug}/ranking/", BUILDERS),
    "studio:people": ("get", "/staff/studies/{slug}/people/", BUILDERS),
    "studio:invitations": ("get", "/staff/studies/{slug}/invitations/", BUILDERS),
    "studio:links": ("post", "/staff/studies/{slug}/invitations/links.csv", BUILDERS_BAD_FORM),
    "studio:send": ("post", "/staff/studies/{slug}/invitations/send/", BUILDERS_BAD_FORM),
    "studio:remind": ("post", "/staff/studies/{slug}/invitations/{mailing}/", BUILDERS_POST),
    "studio:poster": ("get", "/staff/studies/{slug}/poster/", BUILDERS),
}
# Patterns that are not pages of ours: the admin's own URLs, the API (own matrix), media files.
EXEMPT_PREFIXES = ("admin:", "api:")
EXEMPT_ROUTES = ("^media/", "(?P<url>.*)$", "<path:object_id>/")


def _names(resolver=None, namespace="") -> set[str]:
    names = set()
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            names |= _names(entry, inner)
        elif isinstance(entry, URLPattern):
            if entry.name:
                names.add(namespace + entry.name)
            elif not str(entry.pattern).startswith(EXEMPT_ROUTES[0]) and str(entry.pattern) not in EXEMPT_ROUTES:
                names.add(f"<unnamed {entry.pattern}>")
    return names


def test_every_url_pattern_is_in_the_matrix():
    missing = {n for n in _names() if not n.startswith(EXEMPT_PREFIXES)} - set(MATRIX)
    assert not missing, f"Decide who may reach these URLs and add them to MATRIX: {sorted(missing)}"


@pytest.fixture
def world(db, study, personas, settings, tmp_path, django_user_model):
    settings.PRIVATE_ROOT = tmp_path / "private"
    scenario = Scenario.objects.create(study=study, title="S", budget=10, max_rounds=5)
    session = NegotiationSession.objects.create(scenario=scenario, snapshot={})
    live = NegotiationSession.objects.create(scenario=scenario, snapshot={}, live=True, status="running")
    LiveState.objects.create(session=live)
    seat = Seat.objects.create(session=live, group="G", kind="agent")
    job = ExportJob.objects.create(
        study=study,
        requested_by=personas["researcher"],
        status="done",
        file_name="x" * 32 + ".zip",
        finished_at=timezone.now(),
        expires_at=timezone.now() + timedelta(hours=1),
    )
    job.path.parent.mkdir(parents=True, exist_ok=True)
    job.path.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    personas = {
        **personas,
        "staff_only": django_user_model.objects.create_user("staff-only", password="pw-staff-1", is_staff=True),
    }
    clients = {}
    for name in PERSONAS:
        client = Client()
        if name in personas:
            client.force_login(personas[name])
        clients[name] = client
    for name in ("resident_a", "resident_b"):
        token = invitations_create(study=study, count=1)[0].token
        clients[name].get(f"/i/{token}/")
        clients[name].post("/survey/language/", {"language": "en"})
        clients[name].post("/survey/consent/", {"consent": "yes"})
    return {
        "clients": clients,
        "study": study,
        "slug": study.slug,
        "scenario": scenario.pk,
        "session": session.pk,
        "live": live.pk,
        "seat": seat.pk,
        "export": job.pk,
        "wave": study.waves.first().pk,
        "mailing": Mailing.objects.create(study=study, base_url="http://testserver").pk,
    }


def _status(response) -> int | str:
    if response.status_code == 302 and "/accounts/login/" in response["Location"]:
        return LOGIN
    return response.status_code


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_each_persona_gets_the_expected_status(world, name, monkeypatch):
    monkeypatch.setattr("core.jobs.JobKind.publish", lambda *a, **k: True)
    method, template, expected = MATRIX[name]
    got = {}
    for persona in PERSONAS:
        token = invitations_create(study=world["study"], count=1)[0].token if "{token}" in template else ""
        url = template.format(
            slug=world["slug"],
            scenario=world["scenario"],
            session=world["session"],
            live=world["live"],
            seat=world["seat"],
            export=world["export"],
            wave=world["wave"],
            mailing=world["mailing"],
            token=token,
        )
        data = {"kind": "comment", "text": "hello"} if name == "surveys:answer" else {}
        got[persona] = _status(getattr(world["clients"][persona], method)(url, data))
    assert got == expected


def test_residents_cannot_read_or_change_each_others_answers(world):
    a, b = world["clients"]["resident_a"], world["clients"]["resident_b"]
    a.post("/survey/answer/", {"kind": "comment", "text": "A's private words"})
    a.post("/survey/answer/", {"kind": "rating", "site": "s1", "criterion": "accessibility", "value": "4"})
    before = list(Rating.objects.values_list("participant_id", "value"))
    for url in ("/survey/review/", "/survey/comment/", "/survey/rate/s1/"):
        assert "A&#x27;s private words" not in b.get(url).content.decode()
        assert "A's private words" not in b.get(url).content.decode()
    # B's saves only ever touch B's own rows, whatever B sends.
    b.post(
        "/survey/answer/",
        {"kind": "rating", "site": "s1", "criterion": "accessibility", "value": "1", "participant": before[0][0]},
    )
    assert Rating.objects.filter(participant_id=before[0][0]).get().value == 4
    assert Comment.objects.get(text="A's private words")
