"""Throttling of guesses (invitation tokens, API tokens, staff passwords) on the shared cache.

Only failures count, and a valid credential is never refused because of other people's failures:

- A valid invitation or API token always gets in. Unknown tokens count against the client's
  address; past the limit they are answered 429 instead of 404.
- A staff sign-in is limited per (address, account), per account (a guessing attack spread over
  many addresses) and per address (one address spraying many accounts). A browser that signed in
  to that account before carries a signed device cookie; for it only its own failures count, so
  the right password typed on a known browser is never locked out by failures elsewhere.

The client address is the TCP peer, or behind `NUM_PROXIES` trusted proxies the address the
nearest of them saw; X-Forwarded-For is only believed when the peer is a trusted proxy
(`TRUSTED_PROXIES`), so a client talking to the app server directly cannot choose its address.

The cache is Redis in production; if it is unreachable the throttle fails open, because refusing
every resident during a Redis outage would be worse than letting guesses through for that time.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import secrets

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

INVITATION_SCOPE = "invitation"
API_TOKEN_SCOPE = "api_token"
JOIN_SCOPE = "join"
LOGIN_SCOPE = "login"  # per (address, account)
LOGIN_ACCOUNT_SCOPE = "login_account"
LOGIN_ADDRESS_SCOPE = "login_address"
LOGIN_DEVICE_SCOPE = "login_device"

DEVICE_COOKIE = "civic_device"
DEVICE_SALT = "civic.throttle.device"  # a salt, kept so issued cookies stay valid
DEVICE_MAX_AGE = 60 * 60 * 24 * 365


def _trusted_proxy(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in settings.TRUSTED_PROXIES)


def client_ip(request: HttpRequest) -> str:
    """The client address. Behind `NUM_PROXIES` trusted proxies, the address the nearest trusted
    proxy saw (the n-th entry from the right of X-Forwarded-For): entries a client adds itself
    are further left and ignored. The header is ignored unless the TCP peer is a trusted proxy."""
    peer = request.META.get("REMOTE_ADDR", "unknown")
    proxies = settings.NUM_PROXIES
    if proxies and _trusted_proxy(peer):
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return peer


def _key(scope: str, subject: str) -> str:
    return f"throttle:{scope}:{hashlib.sha256(subject.encode()).hexdigest()[:40]}"


def _limits(scope: str) -> tuple[int, int]:
    return settings.THROTTLES[scope]


def _over(scope: str, subject: str) -> bool:
    limit, _window = _limits(scope)
    try:
        return (cache.get(_key(scope, subject)) or 0) >= limit
    except Exception:  # noqa: BLE001 — fail open when the cache is down (see module docstring)
        logger.warning("throttle cache unavailable; failing open", exc_info=True)
        return False


def _count(scope: str, subject: str) -> None:
    _limit, window = _limits(scope)
    key = _key(scope, subject)
    try:
        if not cache.add(key, 1, timeout=window):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, timeout=window)
    except Exception:  # noqa: BLE001
        logger.warning("throttle cache unavailable; failure not counted", exc_info=True)


def is_throttled(request: HttpRequest, scope: str) -> bool:
    """Whether this client address has used up `scope` (invitation, api_token, join)."""
    return _over(scope, client_ip(request))


def record_attempt(request: HttpRequest, scope: str) -> None:
    """Counts one attempt toward the client address's limit (a failed guess, or a join)."""
    _count(scope, client_ip(request))


def retry_after(scope: str) -> int:
    return _limits(scope)[1]


# --- staff sign-in -------------------------------------------------------------------------------


def _account(username: str) -> str:
    return (username or "").strip().casefold()


def _device(request: HttpRequest, account: str) -> str | None:
    """The id of this browser if it signed in to `account` before (a signed cookie), else None."""
    raw = request.COOKIES.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        value = signing.loads(raw, salt=DEVICE_SALT, max_age=DEVICE_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(value, dict) or value.get("a") != hashlib.sha256(account.encode()).hexdigest():
        return None
    return str(value.get("d", ""))


def _login_subjects(request: HttpRequest, username: str) -> list[tuple[str, str]]:
    account = _account(username)
    device = _device(request, account)
    if device:
        return [(LOGIN_DEVICE_SCOPE, f"{account}\0{device}")]
    ip = client_ip(request)
    return [(LOGIN_SCOPE, f"{ip}\0{account}"), (LOGIN_ACCOUNT_SCOPE, account), (LOGIN_ADDRESS_SCOPE, ip)]


def login_refused(request: HttpRequest, username: str) -> int | None:
    """Seconds to wait when this sign-in attempt must be refused, else None."""
    for scope, subject in _login_subjects(request, username):
        if _over(scope, subject):
            return retry_after(scope)
    return None


def login_failed(request: HttpRequest, username: str) -> None:
    for scope, subject in _login_subjects(request, username):
        _count(scope, subject)


def device_cookie_set(response: HttpResponse, username: str) -> None:
    """Marks the browser that just signed in as known for this account."""
    value = signing.dumps(
        {"a": hashlib.sha256(_account(username).encode()).hexdigest(), "d": secrets.token_urlsafe(12)},
        salt=DEVICE_SALT,
    )
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=DEVICE_MAX_AGE,
        httponly=True,
        secure=settings.SESSION_COOKIE_SECURE,
        samesite="Lax",
    )
