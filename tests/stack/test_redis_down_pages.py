"""With Redis (the cache) stopped, the staff dashboards and the resident entry still answer: the
panel cache and the throttle counters are best-effort, never a reason for a server error."""

from __future__ import annotations

import pytest
from django.test import Client

from analytics.services import analysis_request, analysis_run
from surveys.services import invitations_create

from .answers import FAST, study_with_answers

pytestmark = [pytest.mark.stack, pytest.mark.django_db]


def test_dashboards_and_resident_links_answer_while_redis_is_down(broker, personas, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    study = study_with_answers("redisdown", n_participants=12, n_sites=2)
    run = analysis_run(run_id=analysis_request(study=study, enqueue=False, **FAST).pk)
    assert run.status == "done", run.error
    from surveys.models import StudyMembership

    StudyMembership.objects.create(study=study, user=personas["planner"], role="planner")
    staff = Client(raise_request_exception=False)
    staff.force_login(personas["planner"])
    url = f"/studies/{study.slug}/analytics/"
    assert staff.get(url).status_code == 200  # fills the panel cache in Redis
    assert any(b"analytics:panels" in key for key in broker.client().keys("*"))

    broker.kill()
    for path in (url, f"{url}csv/representation.csv", f"{url}progress/"):
        response = staff.get(path)
        assert response.status_code == 200, (path, response.status_code)
    assert "Results of the analysis finished" in staff.get(url).content.decode()
    resident = Client(raise_request_exception=False)
    token = invitations_create(study=study, count=1)[0].token
    assert resident.get(f"/i/{token}/").status_code == 302
    assert resident.get("/i/not-a-real-token-at-all/").status_code == 404
