"""Autosave under concurrent requests, against the real database (PostgreSQL in CI)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from surveys import services
from surveys.models import Rating, Wave

# SQLite's in-memory test database serialises writers and locks the shared cache under threads;
# the race these tests guard against is PostgreSQL's, which CI runs them on.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor == "sqlite", reason="needs PostgreSQL"),
]


def _hammer(n_threads: int, work) -> list[BaseException]:
    barrier = threading.Barrier(n_threads)
    failures: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as exc:  # noqa: BLE001 — collected and reported by the test
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return failures


@pytest.fixture
def resident(study):
    participant = services.invitations_create(study=study, count=1)[0].invitation.participant
    services.participant_consent(participant=participant)
    return participant


def test_twenty_parallel_identical_saves_leave_one_row(resident):
    wave = Wave.objects.get(study=resident.study)
    failures = _hammer(
        20,
        lambda i: services.rating_save(
            participant=resident, wave=wave, site_code="s1", criterion_name="accessibility", value=3
        ),
    )
    assert failures == []
    assert Rating.objects.filter(participant=resident).count() == 1
    assert Rating.objects.get(participant=resident).value == 3


def test_concurrent_saves_with_different_values_keep_the_highest_client_seq(resident):
    wave = Wave.objects.get(study=resident.study)

    def save(i: int) -> None:
        services.rating_save(
            participant=resident,
            wave=wave,
            site_code="s1",
            criterion_name="accessibility",
            value=1 + i % 4,
            client_seq=1000 + i,
        )

    failures = _hammer(12, save)
    assert failures == []
    row = Rating.objects.get(participant=resident)
    assert row.client_seq == 1011 and row.value == 1 + 11 % 4
