"""API authentication: staff by session or hashed API token; residents by invitation token."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from core import throttle
from negotiation import live
from surveys import services as survey_services
from surveys.errors import SurveyError

from .services import api_token_user


def _credential(request, keyword: str) -> str | None:
    parts = authentication.get_authorization_header(request).split()
    if not parts or parts[0].lower() != keyword.lower().encode():
        return None
    if len(parts) != 2:
        raise exceptions.AuthenticationFailed(f"Give the {keyword} as: Authorization: {keyword} <value>.")
    return parts[1].decode("ascii", errors="replace")


def _guess_counted(request, scope: str) -> None:
    """An unknown token is a guess: past the address's limit it is refused with 429, else counted.
    Valid tokens never reach this, so they are never refused for others' guesses."""
    if throttle.is_throttled(request._request, scope):
        raise exceptions.Throttled(wait=throttle.retry_after(scope))
    throttle.record_attempt(request._request, scope)


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        token = _credential(request, self.keyword)
        if token is None:
            return None
        user = api_token_user(token=token)
        if user is None:
            _guess_counted(request, throttle.API_TOKEN_SCOPE)
            raise exceptions.AuthenticationFailed("Invalid API token.")
        return user, None

    def authenticate_header(self, request) -> str:
        return self.keyword


class InvitationAuthentication(authentication.BaseAuthentication):
    """`Authorization: Invitation <token>`: the resident behind an invitation link. The user stays
    anonymous; `request.auth` is the invitation. Unknown tokens count toward the same per-address
    throttle as the invitation page; a valid one is never refused."""

    keyword = "Invitation"

    def authenticate(self, request):
        token = _credential(request, self.keyword)
        if token is None:
            return None
        try:
            invitation = survey_services.invitation_resolve(token=token)
        except SurveyError as error:
            if error.status == 404:
                _guess_counted(request, throttle.INVITATION_SCOPE)
            raise exceptions.AuthenticationFailed(str(error)) from None
        return AnonymousUser(), invitation

    def authenticate_header(self, request) -> str:
        return self.keyword


class DelegateAuthentication(authentication.BaseAuthentication):
    """`Authorization: Delegate <token>`: the delegate behind a live session's personal link.
    The user stays anonymous; `request.auth` is the seat. Unknown tokens count toward the
    invitation throttle; a valid one is never refused."""

    keyword = "Delegate"

    def authenticate(self, request):
        token = _credential(request, self.keyword)
        if token is None:
            return None
        try:
            seat = live.delegate_resolve(token=token)
        except live.LiveError as error:
            if error.status == 404:
                _guess_counted(request, throttle.INVITATION_SCOPE)
            raise exceptions.AuthenticationFailed(str(error)) from None
        return AnonymousUser(), seat

    def authenticate_header(self, request) -> str:
        return self.keyword


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>` — create one with `manage.py create_api_token USER`.",
        }


class InvitationScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.InvitationAuthentication"
    name = "invitation"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Invitation <token>` — the token of a resident's invitation link.",
        }


class DelegateScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.DelegateAuthentication"
    name = "delegate"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Delegate <token>` — the token of a live session delegate's personal link.",
        }
