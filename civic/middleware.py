"""Refuses login attempts from a client that has failed too often (see civic/throttle.py)."""

from __future__ import annotations

from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from . import throttle


class LoginThrottleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._paths: set[str] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._paths is None:
            self._paths = {reverse("login"), reverse("admin:login")}
        if (
            request.method == "POST"
            and request.path in self._paths
            and throttle.is_throttled(request, throttle.LOGIN_SCOPE)
        ):
            response = HttpResponse(
                "Too many failed sign-in attempts from your address. Please wait and try again.",
                status=429,
                content_type="text/plain; charset=utf-8",
            )
            response["Retry-After"] = str(throttle.retry_after(throttle.LOGIN_SCOPE))
            return response
        return self.get_response(request)


@receiver(user_login_failed)
def _count_failed_login(sender, credentials, request=None, **kwargs) -> None:
    if request is not None:
        throttle.record_attempt(request, throttle.LOGIN_SCOPE)
