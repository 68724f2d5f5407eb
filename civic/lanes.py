"""The autosave's own lane: a resident's save through only the middleware it needs.

Several times a minute from every resident, `POST /survey/answer/` (form fields from the
resident's page, or JSON) saves one answer in one statement (surveys.services.answer_autosave).
Through the project's full middleware stack, most of that request's time went to work an
autosave does not use: static files, choosing the language, common URL rules, the signed-in user,
messages, HTMX, the login throttle, and resolving the URL among every app's patterns.

The lane is a second Django handler for that one request, with AUTOSAVE_MIDDLEWARE: the security
headers, the bad-input check, the session, CSRF, clickjacking and CSP, so a saved answer leaves
with the same protections as any other response. Its view (surveys.views.answer_lane) only tries
the one statement. Its response is kept only when the answer was saved; anything else (no
session, a CSRF failure, input to refuse, a newer answer kept, answers closed) goes on to the full
application, which answers as it always has. The answer's place among saves of the same question,
fixed by the lane, goes with it (surveys.services.answer_on_server_clock), so both paths compete
with the same place.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.urls import ResolverMatch

from surveys.views import LANE_FORWARD, LANE_HEADER, LANE_SAVED, LANE_TRIED, answer_lane

PATH = "/survey/answer/"
#: The resident's page posts form fields (HTMX); scripts and the API post JSON.
CONTENT_TYPES = ("application/json", "application/x-www-form-urlencoded")
#: An autosave body is a few hundred bytes; a larger one goes the full way and meets its limits.
MAX_BODY = 16 * 1024


class LaneHandler(WSGIHandler):
    """A WSGI handler whose middleware is AUTOSAVE_MIDDLEWARE and whose only view is the lane's."""

    def load_middleware(self, is_async=False):
        # Django builds the chain from settings.MIDDLEWARE, read once here, while the WSGI
        # application is being built and nothing else runs.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.AUTOSAVE_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full

    def resolve_request(self, request):
        match = ResolverMatch(
            answer_lane, (), {}, url_name="answer", app_names=["surveys"], namespaces=["surveys"], route=PATH[1:]
        )
        request.resolver_match = match
        return match


def _body_length(environ) -> int | None:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    return length if 0 < length <= MAX_BODY else None


class AutosaveLane:
    """WSGI middleware: a JSON POST to the autosave tries the lane first, everything else (and
    every save the lane does not keep) goes to `app`."""

    def __init__(self, app: Callable, lane: WSGIHandler | None = None):
        self.app = app
        self.lane = lane or LaneHandler()

    def __call__(self, environ, start_response) -> Iterable[bytes]:
        if (
            environ.get("REQUEST_METHOD") != "POST"
            or environ.get("PATH_INFO") != PATH
            or not environ.get("CONTENT_TYPE", "").startswith(CONTENT_TYPES)
            or (length := _body_length(environ)) is None
        ):
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(length)
        kept: dict = {}

        def capture(status, headers, exc_info=None):
            kept.update(status=status, headers=headers)
            return lambda _data: None

        result = self.lane({**environ, "wsgi.input": io.BytesIO(body)}, capture)
        marker = next((value for name, value in kept["headers"] if name == LANE_HEADER), None)
        if marker == LANE_SAVED:
            start_response(kept["status"], [(n, v) for n, v in kept["headers"] if n != LANE_HEADER])
            return result
        forwarded = b"".join(result) if marker == LANE_FORWARD else body
        if hasattr(result, "close"):
            result.close()
        return self.app(
            {
                **environ,
                "wsgi.input": io.BytesIO(forwarded),
                "CONTENT_LENGTH": str(len(forwarded)),
                LANE_TRIED: True,
            },
            start_response,
        )
