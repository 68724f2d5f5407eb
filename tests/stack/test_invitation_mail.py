"""Invitation e-mails are sent by a real Celery worker, with progress on the batch's row; the
messages land in Django's file e-mail backend, where the test reads them."""

from __future__ import annotations

import re

import pytest

from conftest import build_study
from studio.services import mailing_request

from .conftest import Worker, wait_for

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_sends_a_batch_and_records_its_progress(broker, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    outbox = tmp_path / "mail"
    study = build_study("mailing")
    worker = Worker("mailer", broker.url, tmp_path)
    worker.env.update(EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend", EMAIL_FILE_PATH=str(outbox))
    try:
        worker.start()
        addresses = [f"resident{i}@example.org" for i in range(5)]
        mailing = mailing_request(study=study, addresses=addresses, base_url="https://civic.example", user=None)

        def done():
            mailing.refresh_from_db()
            return mailing.status in ("done", "failed")

        wait_for(done, timeout=120, what="the batch to be sent")
    finally:
        worker.stop()
    assert (mailing.status, mailing.sent, mailing.total, mailing.progress) == ("done", 5, 5, 100), worker.log()[-3000:]
    text = "".join(path.read_text() for path in outbox.iterdir())
    links = set(re.findall(r"https://civic\.example/i/[\w-]+/", text))
    assert len(links) == 5
    assert sorted(re.findall(r"^To: (\S+)$", text, flags=re.M)) == sorted(addresses)
