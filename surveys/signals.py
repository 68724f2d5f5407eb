"""Signals the survey sends so that apps built on it can react without the survey importing them.

`participant_withdrawn` is sent inside the withdrawal's transaction, after the participant and
every answer they gave were deleted, with `study` and `had_answers` (whether any rating, ranking
or priority of theirs existed, i.e. whether any computed result could have used them). A receiver
that raises rolls the withdrawal back.
"""

from __future__ import annotations

from django.dispatch import Signal

participant_withdrawn = Signal()
