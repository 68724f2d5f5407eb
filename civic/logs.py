"""Secrets kept out of logs: invitation and delegate tokens travel in URL paths (/i/<token>/,
/d/<token>/), so every
path written to a log — Django's own "Not Found: …" lines and gunicorn's access log — has the
token replaced by a placeholder."""

from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger as GunicornLogger

# An invitation or delegate path (/i/<token>, /d/<token>), wherever it appears in a line: request
# line, Referer, message.
TOKEN_IN_PATH = re.compile(r"(/[id]/)[^/\s?#\"']+")
REDACTED = "[redacted]"


def scrub(text: str) -> str:
    return TOKEN_IN_PATH.sub(rf"\g<1>{REDACTED}", text)


class TokenScrubFilter(logging.Filter):
    """Rewrites each record's message with tokens removed (attached to every handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/i/" in message or "/d/" in message:
            record.msg, record.args = scrub(message), ()
        return True


class AccessLogger(GunicornLogger):
    """gunicorn's logger with tokens removed from every access-log field (request line, path,
    query, Referer, headers). Use with `gunicorn --logger-class civic.logs.AccessLogger`."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: scrub(value) if isinstance(value, str) else value for key, value in atoms.items()}
