"""The JSON API at ``/api/v1/``: authentication, paging, throttling and its OpenAPI schema.

Clients authenticate with a per-user token (``Authorization: Bearer …``); a signed-in browser
session works too, for the interactive docs. Every list pages by cursor, so a page costs the
same at any depth and rows arriving meanwhile are neither skipped nor repeated.
"""

from __future__ import annotations

from ringadmin.settings.base import env

API_PAGE_SIZE = env.int("API_PAGE_SIZE", default=50)
API_MAX_PAGE_SIZE = env.int("API_MAX_PAGE_SIZE", default=200)

REST_FRAMEWORK = {
    # The token first: its ``WWW-Authenticate`` makes an unauthenticated request a 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "monitoring.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "monitoring.api.pagination.ApiCursorPagination",
    "PAGE_SIZE": API_PAGE_SIZE,
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": env.str("API_THROTTLE_RATE", default="600/minute")},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "monitoring.api.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "ringadmin API",
    "DESCRIPTION": (
        "Calls, their transcripts and recordings, and the audit trail, scoped by the caller's "
        "role exactly as the pages are. Authenticate with `Authorization: Bearer <token>` "
        "(`manage.py api_token create --user NAME`). Reads of recordings and transcripts are "
        "recorded in the audit trail."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its docs only for signed-in users or token holders.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets that share a field name get a name each (by dotted path: settings name apps).
    "ENUM_NAME_OVERRIDES": {
        "CallStatusEnum": "ringadmin.calls.models.CallStatus",
        "TranscriptStatusEnum": "streaming.models.TranscriptStatus",
        "SpeakerEnum": "ringadmin.calls.models.Speaker",
    },
    # Swagger UI and Redoc from our own static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
