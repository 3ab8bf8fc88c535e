"""What the OpenAPI generator cannot infer: how ApiTokenAuthentication is used."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "monitoring.api.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A per-user token: `manage.py api_token create --user NAME`, or the "
            "admin's API tokens page. Sent as `Authorization: Bearer <token>`.",
        }
