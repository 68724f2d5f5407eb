from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from surveys.importing import ImportNotText, ImportRejected, responses_import
from surveys.models import Study


class Command(BaseCommand):
    help = (
        "Imports responses from a long CSV (participant,groups,wave,task,item,criterion,value). "
        "All or nothing: any bad row rejects the whole file."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--study", required=True, help="study slug")
        parser.add_argument("--create", action="store_true", help="create the study if it does not exist")
        parser.add_argument("--title", default="")
        parser.add_argument("--scale-min", type=int, default=1)
        parser.add_argument("--scale-max", type=int, default=5)

    def handle(self, *args, file, study, create, title, scale_min, scale_max, **options):
        try:
            # The model field's own rules (a slug, at most its length), so a study the import makes
            # is one every page can link to.
            Study._meta.get_field("slug").clean(study, None)
        except ValidationError as invalid:
            raise CommandError(f"--study {study!r}: {' '.join(invalid.messages)}") from None
        path = Path(file)
        # The file is read twice, a row at a time, never whole (surveys/importing.py).
        try:
            with path.open("rb"):
                pass
        except FileNotFoundError:
            raise CommandError(f"{file}: no such file") from None
        except OSError as exc:
            raise CommandError(f"{file}: cannot be read ({exc.strerror})") from None
        try:
            report = responses_import(
                path=path, study_slug=study, create=create, title=title, scale_min=scale_min, scale_max=scale_max
            )
        except ImportNotText as exc:
            raise CommandError(f"{file}: {exc}") from None
        except ImportRejected as rejected:
            for line in rejected.errors:
                self.stderr.write(f"{file}: {line}")
            shown = len(rejected.errors)
            stopped = f"; reading stopped at row {rejected.stopped_at}" if rejected.stopped_at else ""
            raise CommandError(f"{file}: rejected, nothing was imported ({shown} error(s) shown{stopped})") from None
        self.stdout.write(report.summary())
