"""Request bodies the API reads itself rather than with DRF's JSON parser."""

from __future__ import annotations

from rest_framework.parsers import BaseParser

from negotiation.bargaining.scenario import MAX_DOCUMENT_CHARS, decode_document


class ScenarioDocumentParser(BaseParser):
    """A scenario JSON document, decoded as the web import decodes one (``decode_document``): the
    same length, depth and NUL limits, every problem a ScenarioError for the view to report."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        # A character is at most 4 bytes of UTF-8, so one byte past 4 × the limit is enough for
        # decode_document to see an over-long text, however long the body is.
        raw = stream.read(4 * MAX_DOCUMENT_CHARS + 1)
        return decode_document(raw.decode("utf-8", errors="replace"))
