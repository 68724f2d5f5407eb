"""Sessions (core/sessions.py): a resident's lives in a signed cookie, a signed-in user's in the
database, where signing out ends it."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from core.sessions import SessionStore, is_signed
from surveys.models import Rating
from surveys.services import invitations_create

pytestmark = pytest.mark.django_db

RATING = {"kind": "rating", "site": "s1", "criterion": "accessibility", "value": "2"}


def _resident(client, token):
    assert client.get(f"/i/{token}/").status_code == 302
    client.post(reverse("surveys:language"), {"language": "en"})
    client.post(reverse("surveys:consent"), {"consent": "yes"})
    return client


def test_a_residents_session_is_a_signed_cookie_with_no_row(client, study, invitation_token):
    _resident(client, invitation_token)
    assert is_signed(client.cookies["sessionid"].value)
    assert not Session.objects.exists()
    assert client.post(reverse("surveys:answer"), RATING).status_code == 200
    assert Rating.objects.count() == 1


def test_a_tampered_resident_cookie_is_no_session(client, study, invitation_token):
    _resident(client, invitation_token)
    value = client.cookies["sessionid"].value
    payload, _, rest = value.partition(":")
    client.cookies["sessionid"] = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + ":" + rest
    assert client.post(reverse("surveys:answer"), RATING).status_code == 403
    assert not Rating.objects.exists()


def test_a_signed_in_users_session_lives_in_the_database_and_signing_out_ends_it(study, personas):
    browser = Client()
    browser.post(reverse("login"), {"username": "planner1", "password": "pw-planner-1"})
    key = browser.cookies["sessionid"].value
    assert not is_signed(key) and Session.objects.filter(session_key=key).exists()
    assert browser.get(reverse("staff-home")).status_code == 200
    browser.post(reverse("logout"))
    assert not Session.objects.filter(session_key=key).exists()
    replay = Client()
    replay.cookies["sessionid"] = key  # the cookie copied before signing out
    assert replay.get(reverse("staff-home")).status_code == 302


def test_a_resident_who_signs_in_moves_to_the_database_under_a_new_key(study, personas, invitation_token):
    browser = _resident(Client(), invitation_token)
    cookie = browser.cookies["sessionid"].value
    browser.post(reverse("login"), {"username": "planner1", "password": "pw-planner-1"})
    key = browser.cookies["sessionid"].value
    assert not is_signed(key) and key != cookie
    assert "_auth_user_id" in SessionStore(key).load()
    # The old cookie never carries the signed-in user.
    assert "_auth_user_id" not in SessionStore(cookie).load()


def test_opening_an_invitation_replaces_a_planted_session(study):
    mine, theirs = invitations_create(study=study, count=2)
    attacker = _resident(Client(), theirs.token)
    victim = Client()
    victim.cookies["sessionid"] = attacker.cookies["sessionid"].value  # planted
    _resident(victim, mine.token)
    victim.post(reverse("surveys:answer"), {"kind": "comment", "text": "mine"})
    assert mine.invitation.participant.comment_set.get().text == "mine"
    assert not theirs.invitation.participant.comment_set.exists()


def test_only_the_listed_keys_go_into_a_cookie(db):
    store = SessionStore()
    store["civic_participant_id"] = 7
    store.save()
    assert is_signed(store.session_key) and not Session.objects.exists()
    store["anything else"] = "secret"
    store.save()
    assert not is_signed(store.session_key)
    assert SessionStore(store.session_key).load() == {"civic_participant_id": 7, "anything else": "secret"}
    store.flush()
    assert not Session.objects.exists()


def _signed_session(participant_id: int = 7) -> str:
    store = SessionStore()
    store["civic_participant_id"] = participant_id
    store.save()
    return store.session_key


def test_a_cookie_checked_once_still_expires(db, settings, monkeypatch):
    """A value verified once is kept so its signature is not checked on every autosave; its age
    is checked on every use all the same."""
    key = _signed_session()
    assert SessionStore(key).load() == {"civic_participant_id": 7}  # verified, kept
    import core.sessions

    later = core.sessions.time.time() + settings.SESSION_COOKIE_AGE + 1
    monkeypatch.setattr(core.sessions.time, "time", lambda: later)
    store = SessionStore(key)
    assert store.load() == {} and store.session_key is None


def test_a_cookie_checked_under_an_old_secret_key_is_refused_under_a_new_one(db, settings):
    key = _signed_session()
    assert SessionStore(key).load() == {"civic_participant_id": 7}
    settings.SECRET_KEY = "another-" + "k" * 50
    assert SessionStore(key).load() == {}
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY, "x"]  # an unrelated fallback changes nothing
    assert SessionStore(key).load() == {}


def test_a_kept_cookie_gives_each_request_its_own_copy(db):
    key = _signed_session()
    first = SessionStore(key)
    first["civic_participant_id"] = 8  # changed in one request, never saved
    assert SessionStore(key).load() == {"civic_participant_id": 7}
