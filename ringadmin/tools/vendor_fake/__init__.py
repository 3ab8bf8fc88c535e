"""A local fake of the RingCentral platform API and the RingCX media product API.

``FakeRingCentral`` serves both vendors' published contracts on loopback for tests, demos
and users checking their configuration, with a control API under ``/_fake/`` for faults,
events and inspection.
"""

from .config import DEFAULT_MEDIA_PRODUCT_BASE_PATH, OLD_MEDIA_PRODUCT_BASE_PATH
from .seed import ACCOUNT_ID, OWNER_EXTENSION_ID, RINGCX_MAIN_ACCOUNT_ID, RINGCX_SUB_ACCOUNT_IDS
from .server import (
    BANNER_TITLE,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_JWT,
    FakeRingCentral,
    banner,
    run_until_interrupted,
)

__all__ = [
    "ACCOUNT_ID",
    "BANNER_TITLE",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_JWT",
    "DEFAULT_MEDIA_PRODUCT_BASE_PATH",
    "OLD_MEDIA_PRODUCT_BASE_PATH",
    "OWNER_EXTENSION_ID",
    "RINGCX_MAIN_ACCOUNT_ID",
    "RINGCX_SUB_ACCOUNT_IDS",
    "FakeRingCentral",
    "banner",
    "run_until_interrupted",
]
