"""Autosave under concurrent requests, against the real database (PostgreSQL in CI)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

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


# --- ratings written together (services._ratings_save, core.batching) -----------------------------


def _people(study, n: int, *, consent: bool = True):
    people = [i.invitation.participant for i in services.invitations_create(study=study, count=n)]
    if consent:
        for person in people:
            services.participant_consent(participant=person)
    return people


def test_ratings_written_together_are_each_decided_as_if_alone(study):
    from surveys.models import Completion, Site, Study

    a, finished = _people(study, 2)
    (shy,) = _people(study, 1, consent=False)
    other = Study.objects.create(slug="other", title_en="Other", scale_min=1, scale_max=4, status="open")
    Site.objects.create(study=other, code="x1", name="Elsewhere", order=1)
    wave = Wave.objects.get(study=study)
    Completion.objects.create(participant=finished, wave=wave)
    Rating.objects.create(
        participant=a, wave=wave, site=study.sites.get(code="s2"), criterion=study.criteria.get(name="aesthetics"),
        value=4, client_seq=5000,
    )  # fmt: skip
    ratings = [
        (a.pk, 3, 100, "s1", "accessibility"),  # written
        (shy.pk, 3, 100, "s1", "accessibility"),  # no consent
        (a.pk, 9, 100, "s2", "accessibility"),  # outside the scale 1–4
        (a.pk, 2, 100, "x1", "accessibility"),  # another study's site
        (a.pk, 2, 100, "s1", "beautiful"),  # a ranking criterion
        (finished.pk, 2, 100, "s1", "accessibility"),  # finished the wave
        (a.pk, 1, 10, "s2", "aesthetics"),  # older than the kept answer
        (finished.pk + shy.pk + a.pk, 2, 100, "s1", "aesthetics"),  # nobody
    ]
    with CaptureQueriesContext(connection) as queries:
        assert services._ratings_save(ratings) == [True, False, False, False, False, False, False, False]
    assert len(queries) == 1  # one statement for the eight
    assert sorted(Rating.objects.values_list("participant_id", "site__code", "criterion__name", "value")) == [
        (a.pk, "s1", "accessibility", 3),
        (a.pk, "s2", "aesthetics", 4),
    ]


def test_a_rating_the_shared_statement_cannot_take_fails_alone(study):
    a, b = _people(study, 2)
    results = services._ratings_save(
        [
            (a.pk, 3, 100, "s1", "accessibility"),
            (b.pk, 2, 100, "s\x001", "accessibility"),
            (b.pk, 4, 100, "s2", "aesthetics"),
        ]
    )
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], Exception)  # raised in that one resident's request only
    assert Rating.objects.count() == 2


def test_concurrent_autosaves_share_statements_and_every_one_is_kept(study, monkeypatch):
    people = _people(study, 12)
    batches: list[int] = []
    run = services._ratings._run

    def counted(items):
        batches.append(len(items))
        if len(batches) == 1:
            import time

            time.sleep(0.3)  # the first batch is slow: the other residents' saves line up
        return run(items)

    monkeypatch.setattr(services._ratings, "_run", counted)
    answers = [(site, criterion) for site in ("s1", "s2") for criterion in ("accessibility", "aesthetics")]

    def save(i: int) -> None:
        for n, (site, criterion) in enumerate(answers * 2):  # each question twice, the later one wins
            data = {"kind": "rating", "site": site, "criterion": criterion, "value": 1 + (i + n) % 4}
            data["client_seq"] = 1000 + n
            assert services.answer_autosave(participant_id=people[i].pk, data=data) is True

    assert _hammer(len(people), save) == []
    assert max(batches) > 1  # saves did share a statement
    assert sum(batches) == len(people) * len(answers) * 2
    rows = Rating.objects.values_list("participant_id", "site__code", "criterion__name", "value", "client_seq")
    assert len(rows) == len(people) * len(answers)
    index = {p.pk: i for i, p in enumerate(people)}
    for participant, site, criterion, value, seq in rows:
        n = len(answers) + answers.index((site, criterion))
        assert (value, seq) == (1 + (index[participant] + n) % 4, 1000 + n)


def test_a_save_inside_a_transaction_never_shares_its_statement(study, monkeypatch):
    """Another request's rating written in this transaction would be lost with its rollback."""
    from django.db import transaction

    (a,) = _people(study, 1)

    submit = services._ratings.submit

    def shared(*args, share=True, **kwargs):
        if share:
            raise AssertionError("shared a statement from inside a transaction")
        return submit(*args, share=share, **kwargs)

    monkeypatch.setattr(services._ratings, "submit", shared)
    data = {"kind": "rating", "site": "s1", "criterion": "accessibility", "value": 2}
    with transaction.atomic():
        assert services.answer_autosave(participant_id=a.pk, data=data) is True
    assert Rating.objects.get(participant=a).value == 2
