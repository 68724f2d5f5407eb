"""The cache as an optional speed-up: reads and writes that never fail a request.

The cache is Redis in production. Whatever is cached here can be recomputed, so while Redis is
down a read is a miss and a write is skipped (each logged), instead of a server error.
"""

from __future__ import annotations

import logging

from django.core.cache import cache

logger = logging.getLogger(__name__)


def cache_get(key: str, default=None):
    try:
        return cache.get(key, default)
    except Exception:  # noqa: BLE001 — any cache backend error is a miss
        logger.warning("cache unavailable; reading %s as a miss", key, exc_info=True)
        return default


def cache_set(key: str, value, timeout: int) -> None:
    try:
        cache.set(key, value, timeout)
    except Exception:  # noqa: BLE001 — any cache backend error skips the write
        logger.warning("cache unavailable; not caching %s", key, exc_info=True)
