"""The site's public address, for links sent to people (invitations, posters)."""

from __future__ import annotations

from django.conf import settings

FALLBACK = "http://localhost:8000"


def site_url(request=None) -> str:
    """`SITE_URL` when it is set; otherwise the address the request came in on (web flows);
    otherwise the local development address (commands run without SITE_URL)."""
    if settings.SITE_URL:
        return settings.SITE_URL.rstrip("/")
    if request is not None:
        return request.build_absolute_uri("/").rstrip("/")
    return FALLBACK
