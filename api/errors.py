"""One JSON error shape for the whole API, the same as the resident autosave endpoint's:
`{"error": {"code": <HTTP status>, "message": "...", "field": "...", "fields": {...}}}`."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from surveys.errors import SurveyError


def _first_message(detail) -> str:
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else ""
    if isinstance(detail, dict):
        return _first_message(next(iter(detail.values()))) if detail else ""
    return str(detail)


def api_exception_handler(exc, context):
    if isinstance(exc, SurveyError):
        return Response({"error": {"code": exc.status, "field": exc.field, "message": str(exc)}}, status=exc.status)
    response = exception_handler(exc, context)
    if response is None:
        return None
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    error = {"code": response.status_code, "message": _first_message(detail), "field": ""}
    if isinstance(detail, dict):
        error["fields"] = {k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in detail.items()}
        error["field"] = next(iter(detail), "")
        error["message"] = f"{error['field']}: {error['message']}" if error["field"] else error["message"]
    response.data = {"error": error}
    return response
