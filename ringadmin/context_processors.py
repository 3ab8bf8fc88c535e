from django.conf import settings
from django.http import HttpRequest


def product(request: HttpRequest) -> dict:
    """Values every page template may use."""
    return {
        "PRODUCT_NAME": "ringadmin",
        "DEBUG": settings.DEBUG,
        "DEMO_FAKE": settings.RINGADMIN_DEMO_FAKE,
    }
