from django.apps import AppConfig


class NegotiationConfig(AppConfig):
    name = "negotiation"
    verbose_name = "Negotiation"

    def ready(self) -> None:
        from . import jobs  # noqa: F401  (registers the job kind)
