"""Browser fixtures: Debian's headless Chromium driving pytest-django's live server.

Playwright's sync API runs its own event loop in this thread, and Django refuses database access
from a thread with a running loop; the live server and the test share the process, so we allow it
here, as pytest-playwright users do.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.test.utils import override_settings
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from conftest import build_study
from surveys.models import Participant, Study
from surveys.services import invitations_create

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def _plain_http() -> Iterator[None]:
    """The live server speaks plain HTTP, and tests run with DEBUG off, which would turn on the
    HTTPS redirect, secure-only cookies and the hashed-static manifest (built by collectstatic,
    which tests do not run). The security middleware reads these settings once, when the
    session-wide live server builds its handler, so they are overridden for the whole session."""
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(
        SECURE_SSL_REDIRECT=False,
        SESSION_COOKIE_SECURE=False,
        CSRF_COOKIE_SECURE=False,
        STORAGES=storages,
    ):
        yield


@pytest.fixture(scope="session")
def live_server(_plain_http, live_server):  # noqa: F811 - wraps pytest-django's fixture
    return live_server


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def study(transactional_db, settings, tmp_path) -> Study:
    settings.MEDIA_ROOT = tmp_path / "media"
    return build_study()


def natural_order_seed(study: Study) -> int:
    """An order seed under which a participant sees the study's streets and ranking images in
    the study's own order, so journeys can name what comes first."""
    from surveys.ordering import participant_shuffle

    sites = list(study.sites.order_by("order", "code").values_list("code", flat=True))
    rankings = [
        (c.pk, [i.image.code for i in c.set_items.select_related("image")])
        for c in study.criteria.filter(kind="ranking")
    ]
    for seed in range(100_000):
        if participant_shuffle(sites, seed=seed, key="sites") == sites and all(
            participant_shuffle(codes, seed=seed, key=f"rank:{pk}") == codes for pk, codes in rankings
        ):
            return seed
    raise AssertionError("no natural-order seed found")


@pytest.fixture
def invitation_url(live_server, study) -> Callable[[], str]:
    """Returns a fresh invitation link to the study on the live server at each call. Its
    participant sees streets and images in the study's own order (see natural_order_seed);
    `invitation_url(shuffled=True)` keeps the participant's own random order."""
    seed = natural_order_seed(study)

    def make(*, shuffled: bool = False) -> str:
        issued = invitations_create(study=study, count=1)[0]
        if not shuffled:
            Participant.objects.filter(pk=issued.invitation.participant_id).update(order_seed=seed)
        return live_server.url + issued.path

    return make


@dataclass
class PageProblems:
    """Console errors, CSP violations and failed requests a page reported."""

    console_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    failed_responses: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return self.console_errors + self.csp_violations + self.failed_responses


def _watch(page: Page, problems: PageProblems) -> None:
    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            text = f"{page.url}: {message.text}"
            if "Content Security Policy" in message.text:
                problems.csp_violations.append(text)
            else:
                problems.console_errors.append(text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.console_errors.append(f"{page.url}: {error}"))
    page.on(
        "response",
        lambda r: r.status >= 500 and problems.failed_responses.append(f"{r.status} {r.url}"),
    )


@pytest.fixture
def open_page(browser) -> Iterator[Callable[..., tuple[Page, PageProblems]]]:
    """Opens a page in a new browser context (a fresh cookie jar, as a new device would have)."""
    contexts = []

    def make(*, viewport: dict | None = None, locale: str = "fr-CA") -> tuple[Page, PageProblems]:
        context = browser.new_context(viewport=viewport or DESKTOP, locale=locale)
        context.set_default_timeout(int(os.environ.get("E2E_TIMEOUT_MS", "5000")))
        contexts.append(context)
        page = context.new_page()
        problems = PageProblems()
        _watch(page, problems)
        return page, problems

    yield make
    for context in contexts:
        context.close()
