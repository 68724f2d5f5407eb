"""Checks a server entry point makes before it serves anything."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def production_key_check() -> None:
    """Refuses to serve with DEBUG off on the public development SECRET_KEY: sessions, CSRF
    tokens and signed cookies would be forgeable by anyone who read the source."""
    if not settings.DEBUG and settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: with DEBUG=false Civic will not serve on the public development key. "
            "Set SECRET_KEY to a long random string (or DEBUG=true for local development)."
        )
