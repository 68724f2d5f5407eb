from __future__ import annotations

from django.core.management.base import BaseCommand

from core.site import site_url
from negotiation.demo import demo_scenario_seed
from surveys.demo import SYNTHETIC_NOTE, demo_seed


class Command(BaseCommand):
    # Lives in negotiation, the app that sees both the survey and the scenario it adds.
    help = "Builds the Montreal demo study from the real StreetReview data (idempotent) and prints links."

    def add_arguments(self, parser):
        parser.add_argument("--invitations", type=int, default=3, help="fresh resident links to print")
        parser.add_argument("--base-url", default=None, help="default: SITE_URL")

    def handle(self, *args, invitations, base_url, **options):
        result = demo_seed(invitations=invitations)
        extra = demo_scenario_seed(study=result.study)
        base = (base_url or site_url()).rstrip("/")
        w = self.stdout.write
        w(
            f"Demo study '{result.study.slug}': {result.study.participants.count()} participants, "
            f"{result.study.sites.count()} streets, "
            f"{result.study.criteria.filter(kind='rating').count()} rating and "
            f"{result.study.criteria.filter(kind='ranking').count()} ranking criteria."
        )
        w(
            f"  Round 'before discussion' holds the real StreetReview ratings. {SYNTHETIC_NOTE} "
            "(round 'after discussion', rankings, priorities)"
        )
        for line in extra:
            w("  " + line)
        w("\nResident links (each opens a fresh survey):")
        for item in result.invitations:
            w(f"  {base}{item.path}")
        w("\nStaff sign-in at " + base + "/accounts/login/  — demo credentials, for local use only:")
        for username, password in result.passwords.items():
            w(f"  {username:<11} {password}")
