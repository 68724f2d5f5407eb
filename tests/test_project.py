"""Project-wide checks: migrations, settings, the demo."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from surveys.models import Criterion, Participant, Rating, Site, Study, Wave

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_no_model_change_is_missing_a_migration():
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exc:
        pytest.fail(f"A migration is missing:\n{out.getvalue()}") if exc.code else None


def test_the_embedded_default_boots_with_nothing_set(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='civic.settings'; django.setup();"
        "from django.conf import settings; from civic.celery import app;"
        "print(settings.DATABASES['default']['ENGINE'], app.conf.task_always_eager,"
        " settings.CACHES['default']['BACKEND'])"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["django.db.backends.sqlite3", "True", "django.core.cache.backends.locmem.LocMemCache"]


def test_settings_read_database_and_redis_urls(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "REDIS_URL": "redis://127.0.0.1:6379/3",
    }
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='civic.settings'; django.setup();"
        "from django.conf import settings; from civic.celery import app;"
        "print(settings.DATABASES['default']['NAME'], app.conf.task_always_eager, app.conf.broker_url)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [f"{tmp_path}/x.db", "False", "redis://127.0.0.1:6379/3"]


def test_a_bad_boolean_setting_fails_loudly(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DEBUG": "maybe"}
    out = subprocess.run(
        [sys.executable, "-c", "import civic.settings"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode != 0 and "DEBUG must be true or false, got 'maybe'" in out.stderr


@pytest.mark.django_db
def test_seed_demo_builds_the_montreal_study_from_the_real_data_and_is_idempotent(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", stdout=io.StringIO())
    counts = (Participant.objects.count(), Rating.objects.count(), Site.objects.count(), Criterion.objects.count())
    call_command("seed_demo", stdout=io.StringIO())
    assert (
        Participant.objects.count(),
        Rating.objects.count(),
        Site.objects.count(),
        Criterion.objects.count(),
    ) == counts
    study = Study.objects.get(slug="montreal-streets")
    assert [s.code for s in study.sites.all()] == [f"i{i:02d}" for i in range(1, 21)]
    assert study.sites.get(code="i02").attributes["bike_lane_presence"] == "Present"
    before = Wave.objects.get(study=study, name="before discussion")
    real = list(csv.DictReader(open(ROOT / "data/streetreview/demographic_analysis.csv", encoding="utf-8")))
    assert Rating.objects.filter(wave=before).count() == len(real) * 4 == 960
    # Row k of each evaluator is street i{k+1:02d}.
    first = real[0]
    stored = Rating.objects.get(
        wave=before, participant__code=first["evaluator"], site__code="i01", criterion__name="aesthetics"
    )
    assert stored.value == int(first["aesthetics"])
    f3p1 = Participant.objects.get(study=study, code="F3P1")
    assert {"disabled", "senior", "women", "racialised"} <= set(f3p1.groups.values_list("code", flat=True))
    assert study.criteria.filter(kind="ranking").count() == 12
    assert all(c.images.count() == 7 for c in study.criteria.filter(kind="ranking"))
    assert all(img.file and img.alt_text_en and img.alt_text_fr for img in study.images.all())


def _pyproject() -> dict:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _project_dirs_with_tests() -> set[str]:
    """Folders that hold test modules, except the virtual environment and the benchmarks."""
    found = set()
    for path in ROOT.glob("*/**/test_*.py"):
        parts = path.relative_to(ROOT).parts
        if not parts[0].startswith(".") and parts[0] not in {"bench", "build"}:
            found.add("/".join(parts[:-1]))
    return found


def test_every_folder_with_tests_is_collected_by_the_test_command():
    testpaths = _pyproject()["tool"]["pytest"]["ini_options"]["testpaths"]
    missing = {d for d in _project_dirs_with_tests() if not any(d == t or d.startswith(f"{t}/") for t in testpaths)}
    assert not missing, f"pytest testpaths in pyproject.toml miss {sorted(missing)}: their tests never run"


def test_every_app_is_packaged_and_copied_into_the_image():
    from django.apps import apps

    ours = sorted({c.name.split(".")[0] for c in apps.get_app_configs() if (ROOT / c.name.split(".")[0]).is_dir()})
    include = _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for app in ours + ["civic"]:
        assert f"{app}*" in include, f"{app} is not in the setuptools include list"
        assert f"COPY {app} {app}" in dockerfile, f"the Dockerfile does not copy {app}"


def test_the_french_catalogue_has_nothing_untranslated_or_fuzzy():
    po = ROOT / "locale" / "fr" / "LC_MESSAGES" / "django.po"
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(po)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr, result.stderr


def _catalogue_entries(po: Path) -> list[tuple[str, str]]:
    """(msgid, msgstr) pairs of a .po file, continuation lines joined (plural forms left out)."""
    entries, current, key = [], {}, None
    for line in [*po.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith(("msgid ", "msgstr ")):
            key, _, rest = line.partition(" ")
            current[key] = rest.strip()[1:-1]
        elif line.startswith('"') and key:
            current[key] += line.strip()[1:-1]
        else:
            if "msgid" in current and "msgstr" in current:
                entries.append((current["msgid"], current["msgstr"]))
            current, key = {}, None
    return entries


def test_no_french_translation_runs_into_another_sentence():
    """A translation glued to another entry's text ("…du groupeVérifiez vos réponses…") shows on a
    page as nonsense: no lowercase letter may run straight into a capitalised word unless the
    English does too."""
    glued = re.compile(r"[a-zà-ÿ][A-ZÀ-Ý][a-zà-ÿ]")
    po = ROOT / "locale" / "fr" / "LC_MESSAGES" / "django.po"
    bad = [(i, s) for i, s in _catalogue_entries(po) if i and glued.search(s) and not glued.search(i)]
    assert not bad, bad


def test_every_sideways_scrolling_table_can_be_reached_by_keyboard():
    """A region that scrolls must take focus (WCAG 2.1.1), so every table wrapper is focusable and named."""
    for template in [*ROOT.glob("templates/**/*.html"), *ROOT.glob("*/templates/**/*.html")]:
        if ".venv" in template.parts:
            continue
        for line in template.read_text(encoding="utf-8").splitlines():
            if 'class="table-wrap"' in line:
                assert 'tabindex="0"' in line and 'role="region"' in line and "aria-label=" in line, (
                    f"{template.relative_to(ROOT)}: {line.strip()}"
                )


def test_the_admin_names_every_app_model_and_field_in_both_languages():
    """The admin's own labels come from verbose names: each one is marked for translation, so a
    planner whose browser asks for French never reads a field name such as "k_anonymity"."""
    from django.apps import apps
    from django.utils.functional import Promise

    untranslated = []
    for config in apps.get_app_configs():
        if not (ROOT / config.name).is_dir():
            continue
        if not isinstance(config.verbose_name, Promise):
            untranslated.append(config.name)
        for model in config.get_models():
            for name in ("verbose_name", "verbose_name_plural"):
                if not isinstance(getattr(model._meta, name), Promise):
                    untranslated.append(f"{model.__name__}.Meta.{name}")
            for field in model._meta.get_fields(include_parents=False):
                if field.auto_created or not field.concrete and not field.many_to_many:
                    continue
                if not isinstance(field.verbose_name, Promise):
                    untranslated.append(f"{model.__name__}.{field.name}")
    assert not untranslated, untranslated
