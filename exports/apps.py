from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExportsConfig(AppConfig):
    name = "exports"
    verbose_name = _("Exports and audit log")

    def ready(self) -> None:
        from . import (
            jobs,  # noqa: F401  (registers the job kind)
            signals,  # noqa: F401 — connects the receivers
        )
