import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civic.settings")
application = get_wsgi_application()

from civic.startup import production_key_check  # noqa: E402 — needs the settings loaded above

production_key_check()
