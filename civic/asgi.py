import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civic.settings")
application = get_asgi_application()

from civic.startup import production_key_check  # noqa: E402 — needs the settings loaded above

production_key_check()
