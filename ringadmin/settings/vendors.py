"""RingCentral and RingCX: where their APIs are, the app's credentials, timeouts and pacing."""

from __future__ import annotations

from ringadmin.settings.base import env

RINGCENTRAL_SERVER_URL = env.str(
    "RINGCENTRAL_SERVER_URL", default="https://platform.ringcentral.com"
)
RINGCENTRAL_CLIENT_ID = env.str("RINGCENTRAL_CLIENT_ID", default="")
RINGCENTRAL_CLIENT_SECRET = env.str("RINGCENTRAL_CLIENT_SECRET", default="")
RINGCENTRAL_JWT = env.str("RINGCENTRAL_JWT", default="")
RINGCX_SERVER_URL = env.str("RINGCX_SERVER_URL", default="https://ringcx.ringcentral.com")
# Set by `make run` when it runs the local FAKE RingCentral + RingCX (demo mode): pages say so.
RINGADMIN_DEMO_FAKE = env.bool("RINGADMIN_DEMO_FAKE", default=False)
RINGCX_MEDIA_PRODUCT_BASE_PATH = env.str(
    "RINGCX_MEDIA_PRODUCT_BASE_PATH", default="/platform/api/media/product"
)
# Timeout of every call to RingCentral and RingCX (connect, read, write), seconds.
VENDOR_HTTP_TIMEOUT_SECONDS = env.float("VENDOR_HTTP_TIMEOUT_SECONDS", default=10.0)
# Longest pause before a call whose rate-limit group is nearly spent (0 disables pacing).
VENDOR_RATE_LIMIT_MAX_PAUSE_SECONDS = env.float("VENDOR_RATE_LIMIT_MAX_PAUSE_SECONDS", default=30.0)
