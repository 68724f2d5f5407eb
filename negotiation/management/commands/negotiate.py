"""``manage.py negotiate SCENARIO.json [--json] [--pin CODE] [--forbid CODE] [--save STUDY]``.

Runs a negotiation on a scenario file without touching the database unless ``--save`` names a
study, in which case the scenario, the session, its rounds and its outcome are recorded there.
"""

from __future__ import annotations

import contextlib
import json
import sys

from django.core.management.base import BaseCommand, CommandError

from negotiation.bargaining import ScenarioError, load_scenario, run_negotiation
from negotiation.bargaining.scenario import MEDIATOR_CHOICES
from negotiation.bargaining.solvers import SolverError, solver_output_to_stderr


class Command(BaseCommand):
    help = "Negotiate a package on a scenario JSON file and print the outcome."

    def add_arguments(self, parser):
        parser.add_argument("scenario", help="path to the scenario JSON file ('-' for stdin)")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print only the outcome JSON")
        parser.add_argument("--pin", action="append", default=[], metavar="CODE")
        parser.add_argument("--forbid", action="append", default=[], metavar="CODE")
        parser.add_argument("--save", metavar="STUDY", help="record the run in this study")
        parser.add_argument(
            "--mediator", choices=MEDIATOR_CHOICES, help="the mediator's rule (default: the scenario's, else nash)"
        )

    def handle(self, *args, scenario, as_json: bool, pin, forbid, save, mediator=None, **options):
        try:
            text = sys.stdin.read() if scenario == "-" else _read(scenario)
            parsed = load_scenario(text)
            # Standard output carries only the document: anything a library prints meanwhile,
            # from Python or from C, goes to standard error.
            with solver_output_to_stderr(), contextlib.redirect_stdout(sys.stderr):
                outcome = run_negotiation(parsed, pinned=pin, forbidden=forbid, mediator=mediator)
            if save:
                self._save(save, text, outcome, pin, forbid)
        except ScenarioError as exc:
            for line in exc.errors:
                self.stderr.write(line)
            n = len(exc.errors)
            raise CommandError(f"invalid scenario ({n} problem{'' if n == 1 else 's'})") from exc
        except SolverError as exc:
            raise CommandError(str(exc)) from exc
        if as_json:
            self.stdout.write(_dumps(outcome))
            return
        self.stdout.write(outcome["explanation"])
        for r in outcome["rounds"]:
            self.stdout.write(f"round {r['round']}: {', '.join(r['proposal'])} (cost {r['cost']:g})")

    def _save(self, slug: str, text: str, outcome: dict, pin, forbid) -> None:
        # Imported here so that a run without --save never loads the models' services.
        from django.db import transaction

        from negotiation.bargaining.scenario import decode_document
        from negotiation.services import scenario_import, session_save_outcome
        from surveys.models import Study

        study = Study.objects.filter(slug=slug).first()
        if study is None:
            raise CommandError(f"--save: no study {slug!r}")
        with transaction.atomic():
            scenario = scenario_import(study=study, document=decode_document(text))
            session = session_save_outcome(scenario=scenario, outcome=outcome, pinned=pin, forbidden=forbid)
        self.stderr.write(f"saved scenario {scenario.pk} and session {session.pk} in {slug}")


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from exc


def _dumps(outcome: dict) -> str:
    return json.dumps(outcome, indent=2, ensure_ascii=False)
