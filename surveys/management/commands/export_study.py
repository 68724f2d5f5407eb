from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from surveys.models import Study
from surveys.packages import study_package_export


class Command(BaseCommand):
    help = "Writes a study (without answers or participants) as a package zip that import_study reads."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--out", required=True, help="PACKAGE.zip to write")

    def handle(self, *args, slug, out, **options):
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            raise CommandError(f"No study with slug {slug!r}")
        try:
            document = study_package_export(study=study, out=out)
        except OSError as exc:
            raise CommandError(f"Could not write {out}: {exc}") from None
        with_files = sum(1 for image in document["images"] if image["file"])
        self.stderr.write(f"Wrote {out}: {len(document['criteria'])} criteria, {with_files} image files.")
