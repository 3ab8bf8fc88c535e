"""Cursor (keyset) pages: constant cost at any depth, stable while new rows arrive."""

from __future__ import annotations

from django.conf import settings
from rest_framework.pagination import CursorPagination


class ApiCursorPagination(CursorPagination):
    page_size = settings.API_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE
    ordering: str | tuple[str, ...] = "-id"


class CallCursorPagination(ApiCursorPagination):
    # Position by start time; calls starting in the same instant are told apart by id.
    ordering = ("-started_at", "-id")


class AuditEventCursorPagination(ApiCursorPagination):
    ordering = "-sequence"
