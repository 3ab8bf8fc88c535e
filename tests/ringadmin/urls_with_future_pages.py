"""The application's routes plus a stand-in for a page a later change adds (consent)."""

from django.http import HttpResponse
from django.urls import path

from ringadmin.urls import urlpatterns as application_urls


def _placeholder(request):
    return HttpResponse("placeholder")


urlpatterns = [
    path("consent/", _placeholder, name="consent"),
    *application_urls,
]
