from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from surveys.packages import PackageError, study_package_import_zip


class Command(BaseCommand):
    help = (
        "Creates a whole study (draft) from a package zip holding study.json and images/. "
        "All or nothing: any problem rejects the package, naming the field or file."
    )

    def add_arguments(self, parser):
        parser.add_argument("package", help="PACKAGE.zip")
        parser.add_argument("--slug", help="the new study's address, instead of the package's")
        parser.add_argument("--json", action="store_true", help="print only a JSON summary")

    def handle(self, *args, package, slug, json: bool = False, **options):
        try:
            study = study_package_import_zip(package, slug=slug)
        except FileNotFoundError:
            raise CommandError(f"No such file: {package}") from None
        except PackageError as exc:
            for problem in exc.problems:
                self.stderr.write(f"{package}: {problem}")
            raise CommandError(f"{package}: rejected, {len(exc.problems)} problem(s); nothing was written.") from None
        summary = {
            "study": study.slug,
            "status": study.status,
            "criteria": study.criteria.count(),
            "waves": study.waves.count(),
            "groups": study.groups.count(),
            "sites": study.sites.count(),
            "images": study.images.count(),
        }
        if json:
            self.stdout.write(_dumps(summary))
        else:
            self.stdout.write(f"Created the draft study {study.slug} ({summary['images']} images).")


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)
