"""The client of the request being served, for audit entries written deep in services."""

from __future__ import annotations

from collections.abc import Callable

from ringadmin.compliance.audit import audit_client_var, request_client


class AuditClientMiddleware:
    """Remembers the request's client address and User-Agent while it is served, so a service
    called from a page or the admin (which is given a user, not a request) audits them too."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request):
        token = audit_client_var.set(request_client(request))
        try:
            return self.get_response(request)
        finally:
            audit_client_var.reset(token)
