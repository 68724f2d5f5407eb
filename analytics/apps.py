from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from . import (
            jobs,  # noqa: F401  (registers the job kind)
            signals,  # noqa: F401 — connects the receivers
        )
