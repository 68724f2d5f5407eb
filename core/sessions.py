"""Where a session lives: a resident's in a signed cookie, every other in the database.

A resident has no account. Their session holds nothing but the participant id their invitation
link put there, and they send it with every autosave, several times a minute. Keeping such a
session in a cookie signed with SECRET_KEY (as Django's signed_cookies engine does) spares each of
those requests a database read, and costs nothing in control: a resident's session ends only by
withdrawal, which deletes the participant, so an old copy of the cookie then names nobody and is
refused like no session at all. The signature makes the cookie unforgeable and its timestamp
expires it after SESSION_COOKIE_AGE; it is not secret, which is why only the keys listed in
SESSION_SIGNED_COOKIE_KEYS (a participant id) may go into it.

A session holding anything else, above all a signed-in planner, researcher or admin, lives in the
database as before: signing out, a password change or deleting sessions ends it on the server at
once, which no cookie can promise. A session moves to the database the moment it holds more (a
resident's browser signs in as staff), and its old cookie value is then worthless.
"""

from __future__ import annotations

import functools
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DatabaseStore
from django.core import signing

SALT = "civic.sessions.signed-cookie"
#: Signed values verified lately, per process: about one per resident answering now.
VERIFIED_KEPT = 16384


@functools.lru_cache(maxsize=VERIFIED_KEPT)
def _verified(session_key: str, serializer, secret: str, fallbacks: tuple[str, ...]) -> tuple[float, object]:
    """The data of a signed value whose signature holds, and when it was signed; raises
    signing.BadSignature otherwise (and nothing is kept). A resident sends the same value with
    every autosave: each distinct value is checked once (an HMAC and a decompression), and only a
    value that passed is kept, under the exact string, the keys and the serializer that passed it.
    Its age is checked on every use (see load)."""
    data = signing.loads(session_key, salt=SALT, serializer=serializer)
    signed_at = signing.b62_decode(session_key.rsplit(":", 2)[1])
    return signed_at, data


def is_signed(session_key: str | None) -> bool:
    """Whether a session key is a signed cookie value. A database key is 32 letters and digits;
    a signed value always holds ':' separators."""
    return bool(session_key) and ":" in session_key


class SessionStore(DatabaseStore):
    def _fits_in_a_cookie(self) -> bool:
        return set(self._session) <= set(settings.SESSION_SIGNED_COOKIE_KEYS)

    def load(self):
        if not is_signed(self.session_key):
            return super().load()
        try:
            signed_at, data = _verified(
                self.session_key, self.serializer, settings.SECRET_KEY, tuple(settings.SECRET_KEY_FALLBACKS)
            )
        except Exception:  # noqa: BLE001 — a bad signature or a garbled value: start afresh
            data = None
        else:
            if time.time() - signed_at > self.get_session_cookie_age():
                data = None  # expired, as signing.loads(max_age=...) would say
        if not isinstance(data, dict):
            self._session_key = None
            return {}
        return dict(data)  # the session's own copy: the kept one never changes

    def save(self, must_create=False):
        if self._fits_in_a_cookie():
            if self.session_key and not is_signed(self.session_key):
                super().delete(self.session_key)  # it lived in the database until now (a sign-out)
            self._session_key = signing.dumps(self._session, compress=True, salt=SALT, serializer=self.serializer)
            self.modified = True
            return
        if is_signed(self.session_key):
            # Moving to the database: a fresh random key, never one derived from the cookie.
            self._session_key = None
        super().save(must_create=must_create)

    def cycle_key(self):
        """A new key for the same data, against session fixation: a database session's old row is
        deleted and a new one written when the response saves the session; a signed cookie is
        signed again with its new data (a planted cookie never carries the resident's own)."""
        data = self._session
        key = self.session_key
        self._session_key = None
        self._session_cache = data
        self.modified = True
        if key and not is_signed(key):
            super().delete(key)

    def delete(self, session_key=None):
        key = session_key if session_key is not None else self.session_key
        if key and not is_signed(key):
            super().delete(key)

    def exists(self, session_key):
        return not is_signed(session_key) and super().exists(session_key)

    # Civic serves over WSGI; the async variants run the same rules in a thread.
    async def aload(self):
        return await sync_to_async(self.load)()

    async def asave(self, must_create=False):
        return await sync_to_async(self.save)(must_create)

    async def acycle_key(self):
        return await sync_to_async(self.cycle_key)()

    async def adelete(self, session_key=None):
        return await sync_to_async(self.delete)(session_key)

    async def aexists(self, session_key):
        return await sync_to_async(self.exists)(session_key)
