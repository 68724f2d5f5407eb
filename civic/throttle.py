"""Per-client throttling of guesses (invitation tokens, staff logins) on the shared cache.

Only failures count, and only the client that fails is slowed: a resident with a valid link or a
staff member who types the right password from another address is never locked out. The cache
is Redis in production; if it is unreachable the throttle fails open, because refusing every
resident during a Redis outage would be worse than letting guesses through for that time.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

logger = logging.getLogger(__name__)

INVITATION_SCOPE = "invitation"
LOGIN_SCOPE = "login"
JOIN_SCOPE = "join"


def client_ip(request: HttpRequest) -> str:
    """The client address. Behind `NUM_PROXIES` trusted proxies, the address the nearest trusted
    proxy saw; a client cannot spoof it by sending its own X-Forwarded-For."""
    proxies = settings.NUM_PROXIES
    if proxies:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "unknown")


def _key(scope: str, ip: str) -> str:
    return f"throttle:{scope}:{ip}"


def _limits(scope: str) -> tuple[int, int]:
    return settings.THROTTLES[scope]


def is_throttled(request: HttpRequest, scope: str) -> bool:
    limit, _window = _limits(scope)
    try:
        return (cache.get(_key(scope, client_ip(request))) or 0) >= limit
    except Exception:  # noqa: BLE001 — fail open when the cache is down (see module docstring)
        logger.warning("throttle cache unavailable; failing open", exc_info=True)
        return False


def record_attempt(request: HttpRequest, scope: str) -> None:
    """Counts one attempt toward the client's limit (a failed guess, or a join)."""
    _limit, window = _limits(scope)
    key = _key(scope, client_ip(request))
    try:
        if cache.add(key, 1, timeout=window):
            return
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=window)
    except Exception:  # noqa: BLE001
        logger.warning("throttle cache unavailable; failure not counted", exc_info=True)


def retry_after(scope: str) -> int:
    return _limits(scope)[1]
