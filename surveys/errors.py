"""Resident-facing error messages, as constants so tests can assert on them."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

INVITATION_UNKNOWN = _("This invitation link is not valid. Please check the link you received.")
INVITATION_EXPIRED = _("This invitation link has expired. Please ask the study team for a new one.")
INVITATION_USED = _("This invitation has already been used to complete the survey. Thank you!")
INVITATION_WITHDRAWN = _(
    "You withdrew from this study and your answers were deleted. This link can no longer be used. Thank you."
)
ANSWERS_CLOSED = _(
    "You have already finished and sent this survey, so your answers can no longer be changed. "
    "You can still withdraw from the study."
)
NOTHING_ANSWERED = _("You have not answered any question yet. Please answer at least one question before you finish.")
TOO_MANY_ATTEMPTS = _("Too many invalid links were tried from your connection. Please wait a few minutes.")
OPEN_LINK_UNKNOWN = _("This study link is not valid, or the study does not accept open sign-ups.")
NOT_INVITED = _("Please open the survey from your invitation link.")
STUDY_CLOSED = _("This study is not open for answers at the moment.")
NO_OPEN_WAVE = _("No survey round is open right now.")
CONSENT_REQUIRED = _("Please read and accept the consent form before answering.")
UNKNOWN_LANGUAGE = _("Please choose English or French.")
UNKNOWN_SITE = _("Unknown street: %(code)s.")
UNKNOWN_CRITERION = _("Unknown question: %(code)s.")
UNKNOWN_GROUP = _("Unknown group: %(code)s.")
UNKNOWN_KIND = _("Unknown kind of answer: %(code)s.")
RATING_NOT_A_NUMBER = _("A rating must be a whole number from %(min)d to %(max)d.")
RATING_OUT_OF_SCALE = _("A rating must be a whole number from %(min)d to %(max)d.")
RANKING_NOT_PERMUTATION = _("A ranking must list each of the %(n)d images exactly once, from best to worst.")
TOKENS_NOT_NUMBERS = _("Tokens must be whole numbers from 0 to %(total)d.")
TOKENS_WRONG_SUM = _("Spread exactly %(total)d tokens: you have placed %(given)d.")
COMMENT_TOO_LONG = _("Your comment is too long (at most %(max)d characters).")
CLIENT_SEQ_INVALID = _("The save counter must be a whole number of 0 or more that a device can count.")
STALE_ANSWER = _("A newer answer to this question was saved from another tab or device; it has been kept.")


class SurveyError(Exception):
    """Bad resident input. Carries a translatable message and the field it concerns."""

    def __init__(self, message, *, field: str = "", status: int = 400, **params):
        self.message = message
        self.field = field
        self.status = status
        self.params = params
        super().__init__(str(self))

    def __str__(self) -> str:
        text = str(self.message)
        return text % self.params if self.params else text
