from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        from . import (
            jobs,  # noqa: F401  (registers the job kind)
            signals,  # noqa: F401 — connects the receivers
        )
