"""WebVTT as a response format: ``?format=vtt`` or ``Accept: text/vtt``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.renderers import BaseRenderer


class WebVTTRenderer(BaseRenderer):
    media_type = "text/vtt"
    format = "vtt"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if not isinstance(data, str):  # errors are switched to JSON before rendering
            raise TypeError("WebVTTRenderer renders text only")
        return data.encode(self.charset)
