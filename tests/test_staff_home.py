from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("persona", "shown", "hidden"),
    [
        ("planner", ["/analytics/", "/negotiation/"], ["/exports/"]),
        ("researcher", ["/analytics/", "/exports/"], ["/negotiation/"]),
        ("admin", ["/analytics/", "/negotiation/", "/exports/", "/admin/"], []),
        ("outsider", [], ["/studies/small/"]),
    ],
)
def test_staff_home_links_only_what_the_role_may_open(client, personas, persona, shown, hidden):
    client.force_login(personas[persona])
    page = client.get(reverse("staff-home")).content.decode()
    for fragment in shown:
        assert fragment in page
    for fragment in hidden:
        assert fragment not in page


def test_staff_home_needs_a_sign_in(client, db):
    response = client.get(reverse("staff-home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
