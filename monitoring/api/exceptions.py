"""Errors as JSON with a machine-readable ``code`` beside DRF's ``detail``."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus ``code`` when the error is one message (``not_authenticated``,
    ``token_revoked``, ``permission_denied``, ``not_found``, ``throttled``…)."""
    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, APIException):
        return response
    if isinstance(response.data, dict) and set(response.data) == {"detail"}:
        codes = exc.get_codes()
        if isinstance(codes, str):
            response.data["code"] = codes
    return response
