from django.apps import AppConfig


class StudioConfig(AppConfig):
    name = "studio"
    verbose_name = "Study builder"
    default_auto_field = "django.db.models.BigAutoField"
