"""`python manage.py analyze SLUG [--json]`: the worker's code path, run in-process."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from analytics.models import AnalysisRun
from analytics.services import analysis_request, analysis_run
from surveys.models import Study

ERROR_UNKNOWN_STUDY = "No study with the slug {slug!r}."
ERROR_FAILED = "The analysis failed: {error}"


class Command(BaseCommand):
    help = "Computes a study's disagreement report through the same service as the worker."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--json", action="store_true", help="Print only the report JSON.")
        parser.add_argument("--permutations", type=int, default=None)
        parser.add_argument("--bootstrap", type=int, default=None)
        parser.add_argument("--seed", type=int, default=None)

    def handle(self, *args, **options) -> None:
        study = Study.objects.filter(slug=options["slug"]).first()
        if study is None:
            raise CommandError(ERROR_UNKNOWN_STUDY.format(slug=options["slug"]))
        # The run is not published: this process claims and computes it through the same
        # service the worker calls. A sweep that sees it pending before the claim would only
        # publish a task that finds the run already claimed.
        run = analysis_request(
            study=study,
            reason="analyze command",
            n_permutations=options["permutations"],
            n_bootstrap=options["bootstrap"],
            seed=options["seed"],
            enqueue=False,
        )
        run = analysis_run(run_id=run.pk)
        if run.status != AnalysisRun.Status.DONE:
            raise CommandError(ERROR_FAILED.format(error=run.error or run.status))
        sys.stderr.write(f"Analysis run {run.pk} done in {run.duration_seconds or 0:.2f} s.\n")
        if options["json"]:
            self.stdout.write(json.dumps(run.result, ensure_ascii=False, allow_nan=False))
        else:
            self._summary(run.result)

    def _summary(self, report: dict) -> None:
        for wave in report["waves"]:
            self.stdout.write(f"{wave['wave']}: {wave['n_participants']} participants")
            for c in wave["criteria"]:
                alpha = c["alpha_ordinal"]
                self.stdout.write(
                    f"  {c['criterion']}: alpha={alpha if alpha is None else round(alpha, 3)} "
                    f"most divergent={c['most_divergent_group'] or '-'}"
                )
