from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NegotiationConfig(AppConfig):
    name = "negotiation"
    verbose_name = _("Negotiation")

    def ready(self) -> None:
        from . import jobs  # noqa: F401  (registers the job kind)
