from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from . import signals  # noqa: F401 — connects the receivers
        from . import jobs  # noqa: F401  (registers the job kind)
