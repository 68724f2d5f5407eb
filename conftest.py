"""Shared fixtures: a small study and named personas, built once per test."""

from __future__ import annotations

import contextlib
import functools

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile

from surveys.demo_images import street_png
from surveys.models import Criterion, Group, Image, RankingSetItem, Site, Study, StudyMembership, Wave
from surveys.services import invitations_create


@functools.cache
def _test_png() -> bytes:
    return street_png({"sidewalk_width": "Wide", "greenery_presence": "High"})


def build_study(slug: str = "small", *, n_sites: int = 2, n_images: int = 3) -> Study:
    """A small open study: 2 sites, 2 rating criteria (1–4), 1 ranking criterion over 3 images,
    3 groups and one open wave."""
    study = Study.objects.create(
        slug=slug,
        title_en=f"Study {slug}",
        title_fr=f"Étude {slug}",
        scale_min=1,
        scale_max=4,
        scale_labels_en=["Poor", "Fair", "Good", "Excellent"],
        scale_labels_fr=["Mauvais", "Passable", "Bon", "Excellent"],
        status=Study.Status.OPEN,
        description_en="A test study.",
        description_fr="Une étude de test.",
    )
    Wave.objects.create(study=study, name="w1", order=1, status=Wave.Status.OPEN)
    for i, (code, en, fr) in enumerate(
        [
            ("senior", "Seniors", "Personnes aînées"),
            ("disabled", "Disabled residents", "Personnes en situation de handicap"),
            ("lgbtqia2", "LGBTQIA2+ residents", "Personnes LGBTQIA2+"),
        ]
    ):
        Group.objects.create(study=study, code=code, label_en=en, label_fr=fr, order=i)
    for i, (name, en, fr) in enumerate(
        [("accessibility", "Accessibility", "Accessibilité"), ("aesthetics", "Aesthetics", "Esthétique")]
    ):
        Criterion.objects.create(study=study, name=name, kind="rating", label_en=en, label_fr=fr, order=i)
    png = _test_png()
    for i in range(1, max(n_sites, n_images) + 1):
        code = f"s{i}"
        site = Site.objects.create(study=study, code=code, name=f"Site {i}", order=i) if i <= n_sites else None
        image = Image(
            study=study,
            code=code,
            site=site,
            alt_text_en=f"Street {i} with trees",
            alt_text_fr=f"Rue {i} avec des arbres",
        )
        image.file.save(f"test-{slug}-{code}.png", ContentFile(png), save=True)
    ranking = Criterion.objects.create(
        study=study, name="beautiful", kind="ranking", label_en="Beautiful", label_fr="Belle", order=0
    )
    for pos, image in enumerate(Image.objects.filter(study=study).order_by("code")[:n_images]):
        RankingSetItem.objects.create(criterion=ranking, image=image, position=pos)
    return study


@pytest.fixture
def study(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return build_study()


@pytest.fixture
def invitation_token(study):
    return invitations_create(study=study, count=1)[0].token


@pytest.fixture
def personas(db, study):
    """planner and researcher of `study`, a planner of another study, an admin, an outsider."""
    User = get_user_model()
    other = Study.objects.create(slug="other", title_en="Other", scale_min=1, scale_max=4, status="open")
    people = {
        "planner": User.objects.create_user("planner1", password="pw-planner-1"),
        "researcher": User.objects.create_user("researcher1", password="pw-researcher-1"),
        "other_planner": User.objects.create_user("planner2", password="pw-planner-2"),
        "admin": User.objects.create_user("admin1", password="pw-admin-1", is_staff=True, is_superuser=True),
        "outsider": User.objects.create_user("outsider", password="pw-outsider-1"),
    }
    StudyMembership.objects.create(study=study, user=people["planner"], role="planner")
    StudyMembership.objects.create(study=study, user=people["researcher"], role="researcher")
    StudyMembership.objects.create(study=other, user=people["other_planner"], role="planner")
    return people


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Production hashing is deliberately slow; tests create many users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _plain_http(settings):
    """Tests speak plain HTTP to the test client and the live server; production settings
    (DEBUG off) would otherwise redirect everything to HTTPS."""
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


@pytest.fixture(autouse=True)
def _celery_eager(request):
    """Tasks run in-process in ordinary tests; tests marked `stack` talk to a real worker."""
    from civic.celery import app

    if request.node.get_closest_marker("stack"):
        yield
        return
    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttles and other cached state never leak from one test into the next."""
    from django.core.cache import cache

    try:
        cache.clear()
    except Exception:  # noqa: BLE001 — a test that stops Redis must still be able to start.
        pass
    yield


@contextlib.contextmanager
def connection_kept():
    """Around a WSGI application called directly (not through Django's test client): as the test
    client does, the request's start and end do not close the database connection, which holds
    the test's transaction (Django closes a connection whose autocommit differs from its setting,
    as it does inside that transaction)."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
