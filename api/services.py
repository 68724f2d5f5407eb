"""API tokens: created with 256 random bits, stored only as a hash, shown once."""

from __future__ import annotations

from django.utils import timezone

from surveys.tokens import token_generate, token_hash

from .models import ApiToken


def api_token_create(*, user, name: str = "") -> tuple[ApiToken, str]:
    token = token_generate()
    return ApiToken.objects.create(user=user, name=name, token_hash=token_hash(token)), token


def api_token_user(*, token: str):
    """The active user behind a raw token, or None."""
    record = ApiToken.objects.select_related("user").filter(token_hash=token_hash(token)).first()
    if record is None or not record.user.is_active:
        return None
    ApiToken.objects.filter(pk=record.pk).update(last_used_at=timezone.now())
    return record.user
