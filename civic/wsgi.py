import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civic.settings")
django_application = get_wsgi_application()

from civic.lanes import AutosaveLane  # noqa: E402 — needs the settings loaded above
from civic.startup import production_key_check  # noqa: E402

# A resident's JSON autosave tries its own lane first (civic/lanes.py); everything else is Django's.
application = AutosaveLane(django_application)

production_key_check()
