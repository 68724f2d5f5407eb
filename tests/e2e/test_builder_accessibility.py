"""axe-core scans of every study-builder page, in English and French, on a phone and a desktop."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from .conftest import DESKTOP, PHONE
from .test_accessibility import _assert_accessible

pytestmark = pytest.mark.browser

PAGES = [
    "/staff/studies/",
    "/staff/studies/new/",
    "/staff/studies/import/",
    "/staff/studies/{slug}/",
    "/staff/studies/{slug}/basics/",
    "/staff/studies/{slug}/criteria/",
    "/staff/studies/{slug}/waves/",
    "/staff/studies/{slug}/groups/",
    "/staff/studies/{slug}/sites/",
    "/staff/studies/{slug}/images/",
    "/staff/studies/{slug}/ranking/",
    "/staff/studies/{slug}/people/",
    "/staff/studies/{slug}/invitations/",
    "/staff/studies/{slug}/poster/",
]


@pytest.mark.parametrize("locale, viewport", [("fr-CA", PHONE), ("en-CA", DESKTOP)])
def test_every_builder_page_is_accessible(open_page, live_server, study, locale, viewport):
    admin = get_user_model().objects.create_user("builder-admin", password="pw", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    page, problems = open_page(viewport=viewport, locale=locale)
    page.context.set_default_timeout(30_000)
    # The live server's first page may take long on a busy machine (imports, template loading).
    page.context.set_default_navigation_timeout(90_000)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    for path in PAGES:
        response = page.goto(live_server.url + path.format(slug=study.slug))
        assert response.status == 200, path
        _assert_accessible(page, problems, f"{path} ({locale}, {viewport['width']} px)")
        overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
        assert not overflow, f"{path} scrolls sideways at {viewport['width']} px"
