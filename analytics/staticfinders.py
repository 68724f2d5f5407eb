"""Serves plotly.js from the installed plotly package as the static file vendor/plotly.min.js.

Copying the 4 MB bundle into the repository would duplicate what the pinned plotly package
already ships; this finder makes `{% static "vendor/plotly.min.js" %}`, collectstatic and
WhiteNoise all see that one file, and its version always matches the Python package.
"""

from __future__ import annotations

from pathlib import Path

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import Error
from django.core.files.storage import FileSystemStorage

PLOTLY_DIR = Path(plotly.__file__).resolve().parent / "package_data"
FILENAME = "plotly.min.js"
PREFIX = "vendor"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=PLOTLY_DIR)
        # collectstatic and WhiteNoise read `prefix` to place the file under vendor/.
        self.storage.prefix = PREFIX

    def check(self, **kwargs) -> list:
        if not (PLOTLY_DIR / FILENAME).is_file():
            return [Error(f"{PLOTLY_DIR / FILENAME} is missing; reinstall plotly.", id="analytics.E001")]
        return []

    def find(self, path: str, find_all: bool = False, **kwargs):
        if path == f"{PREFIX}/{FILENAME}":
            match = str(PLOTLY_DIR / FILENAME)
            return [match] if find_all else match
        return [] if find_all else None

    def list(self, ignore_patterns):
        yield FILENAME, self.storage
