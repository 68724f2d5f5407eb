"""Site-wide request guards: the sign-in throttle (see core/throttle.py) and refusal of input
no view can store or parse safely."""

from __future__ import annotations

import json
import logging
import math

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import RequestDataTooBig
from django.db import DataError, OperationalError
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from core import throttle

logger = logging.getLogger(__name__)

LOGIN_THROTTLED = _("Too many failed sign-in attempts. Please wait and try again.")


class LoginThrottleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._paths: set[str] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._paths is None:
            self._paths = {reverse("login"), reverse("admin:login")}
        if request.method != "POST" or request.path not in self._paths:
            return self.get_response(request)
        username = request.POST.get("username", "")
        wait = throttle.login_refused(request, username)
        if wait is not None:
            response = HttpResponse(str(LOGIN_THROTTLED), status=429, content_type="text/plain; charset=utf-8")
            response["Retry-After"] = str(wait)
            return response
        response = self.get_response(request)
        signed_in = getattr(request, "_civic_signed_in", None)
        if signed_in is not None:
            throttle.device_cookie_set(response, signed_in)
        return response


@receiver(user_login_failed)
def _count_failed_login(sender, credentials, request=None, **kwargs) -> None:
    if request is not None:
        throttle.login_failed(request, str(credentials.get("username", "")))


@receiver(user_logged_in)
def _remember_signed_in(sender, request=None, user=None, **kwargs) -> None:
    if request is not None and user is not None:
        request._civic_signed_in = user.get_username()


# --- bad input -------------------------------------------------------------------------------------

NUL_FOUND = _("%(field)s: contains a NUL character, which is not allowed.")
JSON_TOO_DEEP = _("body: JSON nested more than %(depth)d levels deep.")
JSON_MALFORMED = _("body: malformed JSON.")
JSON_TOO_LARGE = _("body: larger than %(limit)d bytes.")
JSON_NOT_FINITE = _("%(field)s: not a finite number.")
VALUE_NOT_STORABLE = _("A value is too long or not valid for this field.")
DATABASE_BUSY = _("The database is busy right now and nothing was saved. Please try again in a moment.")
# PostgreSQL SQLSTATEs of a lock wait past lock_timeout and of a statement past statement_timeout.
BUSY_SQLSTATES = {"55P03", "57014"}
BUSY_RETRY_AFTER = 5


class BadInput(Exception):
    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(message)


_NOT_FINITE = object()


def _finite_float(text: str):
    value = float(text)
    return value if math.isfinite(value) else _NOT_FINITE


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether arrays/objects in a JSON text nest deeper than `limit`, without parsing it (a
    parser would recurse once per level and run out of stack on 100,000 levels)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth, in_string, escaped = 0, False, False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def _find(value, predicate, path: str = "") -> str | None:
    """The dotted path of the first key or value in a parsed JSON document matching predicate."""
    if predicate(value):
        return path or "body"
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if predicate(key):
                return here
            if (found := _find(item, predicate, here)) is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if (found := _find(item, predicate, f"{path}[{i}]" if path else f"[{i}]")) is not None:
                return found
    return None


def _has_nul(value) -> bool:
    return isinstance(value, str) and "\x00" in value


def json_body_check(body: bytes, *, max_depth: int):
    """Refuses a JSON body that nests too deep, is malformed, holds NaN/Infinity or a number
    beyond the range of a double (1e400), or a NUL character (PostgreSQL text cannot store it).
    Returns the document parsed (None for an empty body): what json.loads gives for it."""
    if not body.strip():
        return None
    if json_depth_exceeds(body, max_depth):
        raise BadInput("body", JSON_TOO_DEEP % {"depth": max_depth})
    not_finite = []

    def constant(_name):
        not_finite.append(_name)
        return _NOT_FINITE

    def number(text):
        if (value := _finite_float(text)) is _NOT_FINITE:
            not_finite.append(text)
        return value

    try:
        data = json.loads(body, parse_constant=constant, parse_float=number)
    except (ValueError, RecursionError):
        raise BadInput("body", str(JSON_MALFORMED)) from None
    # The document is walked only to name the field: when a number was not finite, or when the
    # text holds a NUL (JSON writes it \u0000; a raw 0 byte may be UTF-16 or UTF-32 text).
    if not_finite and (field := _find(data, lambda v: v is _NOT_FINITE)) is not None:
        raise BadInput(field, JSON_NOT_FINITE % {"field": field})
    if (b"\\u0000" in body or b"\x00" in body) and (field := _find(data, _has_nul)) is not None:
        raise BadInput(field, NUL_FOUND % {"field": field})
    return data


def _wants_json(request: HttpRequest) -> bool:
    return (
        request.path.startswith("/api/")
        or request.content_type == "application/json"
        or "application/json" in request.META.get("HTTP_ACCEPT", "")
    )


def bad_input_response(request: HttpRequest, field: str, message: str) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"error": {"code": 400, "field": field, "message": message}}, status=400)
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


REFUSED_METHODS = {"TRACE", "TRACK", "CONNECT"}


class BadInputMiddleware:
    """Refuses TRACE (405). Answers 400, naming the field, for input no view can store or parse safely: a NUL
    character in the path, a query or form field or a JSON string; JSON nested deeper than
    JSON_MAX_DEPTH or larger than DATA_UPLOAD_MAX_MEMORY_SIZE; NaN, Infinity or out-of-range
    numbers in JSON; in the request's language. A database DataError that
    validation missed (a value too long for its column) is a 400 too, never a 500; a lock or
    statement timeout is a 503 saying to try again."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in REFUSED_METHODS:
            # TRACE echoes the request back (cookies included) to whoever can read the response.
            return HttpResponseNotAllowed(["GET", "HEAD", "POST", "OPTIONS"])
        try:
            self._check(request)
        except BadInput:
            # This runs before LocaleMiddleware: the message is written again in the request's
            # language (only then, so the requests that pass spend nothing on choosing it).
            with translation.override(translation.get_language_from_request(request)):
                try:
                    self._check(request)
                except BadInput as bad:
                    return bad_input_response(request, bad.field, bad.message)
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> None:
        if "\x00" in request.path or "\x00" in request.META.get("QUERY_STRING", ""):
            raise BadInput("path", NUL_FOUND % {"field": "path"})
        for name, values in request.GET.lists():
            if _has_nul(name) or any(_has_nul(v) for v in values):
                raise BadInput(name, NUL_FOUND % {"field": name})
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return
        if request.content_type == "application/json":
            try:
                body = request.body
            except RequestDataTooBig:
                limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
                raise BadInput("body", JSON_TOO_LARGE % {"limit": limit}) from None
            # Kept on the request, so a view reading the body (the autosave) need not parse it again.
            request.json_body = json_body_check(body, max_depth=settings.JSON_MAX_DEPTH)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            for name, values in request.POST.lists():
                if _has_nul(name) or any(_has_nul(v) for v in values):
                    raise BadInput(name, NUL_FOUND % {"field": name})

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DataError):
            logger.warning("DataError answered 400 on %s", request.path, exc_info=exception)
            return bad_input_response(request, "", str(VALUE_NOT_STORABLE))
        if isinstance(exception, OperationalError) and getattr(exception.__cause__, "sqlstate", None) in BUSY_SQLSTATES:
            logger.warning("database timeout answered 503 on %s: %s", request.path, exception)
            message = str(DATABASE_BUSY)
            if _wants_json(request):
                response = JsonResponse({"error": {"code": 503, "field": "", "message": message}}, status=503)
            else:
                response = HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
            response["Retry-After"] = str(BUSY_RETRY_AFTER)
            return response
        return None
