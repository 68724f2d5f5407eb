"""`{% if study|can_export:user %}`: whether the staff home shows the exports link."""

from __future__ import annotations

from django import template

from surveys.permissions import RESEARCHER, user_roles

register = template.Library()


@register.filter
def can_export(study, user) -> bool:
    return RESEARCHER in user_roles(user, study)
