"""`python manage.py export_anonymised SLUG --out FILE.zip [--json]`: the worker's code path,
run in-process."""

from __future__ import annotations

import json
import shutil
import sys

from django.core.management.base import BaseCommand, CommandError

from exports.models import ExportJob
from exports.services import export_build, export_delete, export_request
from surveys.models import Study

ERROR_UNKNOWN_STUDY = "No study with the slug {slug!r}."
ERROR_FAILED = "The export failed: {error}"


class Command(BaseCommand):
    help = "Writes a study's anonymised export zip through the same service as the worker."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--out", required=True, help="Where to write the zip.")
        parser.add_argument("--json", action="store_true", help="Print only the summary JSON.")

    def handle(self, *args, **options) -> None:
        study = Study.objects.filter(slug=options["slug"]).first()
        if study is None:
            raise CommandError(ERROR_UNKNOWN_STUDY.format(slug=options["slug"]))
        job = export_request(study=study, user=None, enqueue=False, via="command")
        job = export_build(job_id=job.pk)
        if job.status != ExportJob.Status.DONE:
            raise CommandError(ERROR_FAILED.format(error=job.error or job.status))
        shutil.copyfile(job.path, options["out"])
        # The copy at --out is the deliverable; the private copy would only linger.
        export_delete(job=job, reason="written to --out by the command")
        sys.stderr.write(f"Export {job.pk} written to {options['out']} ({job.size} bytes).\n")
        if options["json"]:
            self.stdout.write(json.dumps(job.summary, ensure_ascii=False))
        else:
            rows = job.summary["rows"]
            protection = job.summary["protection"]
            self.stdout.write(
                f"{job.summary['participants']} participants, {rows['rating']} ratings, "
                f"{rows['ranking']} ranking rows, {rows['priority']} priority rows; "
                f"k={protection['k']}, {protection['affected']} participants generalised or "
                "suppressed."
            )
