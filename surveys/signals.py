"""Signals the survey sends so that apps built on it can react without the survey importing them.

`participant_withdrawn` is sent inside the withdrawal's transaction, after the participant and
every answer they gave were deleted, with `study` and `had_answers` (whether any rating, ranking
or priority of theirs existed, i.e. whether any computed result could have used them). A receiver
that raises rolls the withdrawal back.

`study_role_changed` is sent when a staff member grants or removes a study role, with `study`,
`actor` (who did it), `user_id` (whose role) and either `granted` or `removed` (the role).

`done_page_links` is sent when a resident's thank-you page is drawn, with `study`; a receiver
returns a list of links to show there, each `{"url", "text"}` (the public results page, once a
planner published it), or nothing.
"""

from __future__ import annotations

from django.dispatch import Signal

participant_withdrawn = Signal()
study_role_changed = Signal()
done_page_links = Signal()
