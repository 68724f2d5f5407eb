from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.site import site_url
from surveys import services
from surveys.invitation_links import invitation_links_csv
from surveys.models import Study


class Command(BaseCommand):
    help = "Creates invitation links for a study and writes them as CSV (to a file or stdout)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--count", type=int, default=10)
        parser.add_argument("--ttl-days", type=int, default=None)
        parser.add_argument("--label", default="")
        parser.add_argument("--base-url", default=None, help="default: SITE_URL")
        parser.add_argument("--out", help="CSV file to write; standard output if omitted")

    def handle(self, *args, slug, count, ttl_days, label, base_url, out, **options):
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            raise CommandError(f"No study with slug {slug!r}")
        if not 1 <= count <= 100_000:
            raise CommandError("--count must be between 1 and 100000")
        issued = services.invitations_create(study=study, count=count, ttl_days=ttl_days, label=label)
        text = invitation_links_csv(issued, base_url=base_url or site_url())
        if out:
            with open(out, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
            self.stderr.write(f"Wrote {count} invitation links to {out}")
        else:
            self.stdout.write(text, ending="")
