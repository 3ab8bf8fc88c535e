"""Supervisors' pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from monitoring.call_search import (
    PRODUCT_TYPES,
    SORT_KEYS,
    CallQuery,
    search_calls,
)
from ringadmin.calls.models import CallStatus


@dataclass(frozen=True)
class SortHeader:
    """A sortable column heading: its link toggles the direction, ``aria_sort`` says the state."""

    label: str
    href: str
    aria_sort: str


def _sort_headers(query: CallQuery) -> dict[str, SortHeader]:
    headers = {}
    for name, key in SORT_KEYS.items():
        current = query.sort_key.name == name
        if current:
            next_sort = name if query.descending else f"-{name}"
            aria = "descending" if query.descending else "ascending"
        else:
            next_sort, aria = f"-{name}", "none"
        headers[name] = SortHeader(key.label, "?" + query.querystring(sort=next_sort), aria)
    return headers


@login_required
@permission_required("calls.view_call", raise_exception=True)
def call_list(request: HttpRequest) -> HttpResponse:
    """The calls the user may see, filtered, searched and sorted, one keyset page at a time."""
    query, errors = CallQuery.from_params(request.GET)
    page = search_calls(user=request.user, query=query)
    sort_options = [
        (f"{sign}{name}", f"{key.label} ({'highest' if sign else 'lowest'} first)")
        if key.value_kind != "datetime"
        else (f"{sign}{name}", f"{key.label} ({'newest' if sign else 'oldest'} first)")
        for name, key in SORT_KEYS.items()
        for sign in ("-", "")
    ]
    return render(
        request,
        "monitoring/call_list.html",
        {
            "query": query,
            "errors": errors,
            "page": page,
            "statuses": CallStatus.choices,
            "product_types": PRODUCT_TYPES,
            "sort_options": sort_options,
            "headers": _sort_headers(query),
            "base_querystring": query.querystring(),
        },
    )
