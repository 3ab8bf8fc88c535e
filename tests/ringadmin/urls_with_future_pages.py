"""The application's routes plus stand-ins for pages other changes add (live calls, consent)."""

from django.http import HttpResponse
from django.urls import path

from ringadmin.urls import urlpatterns as application_urls


def _placeholder(request):
    return HttpResponse("placeholder")


urlpatterns = [
    path("calls/live/", _placeholder, name="calls-live"),
    path("consent/", _placeholder, name="consent"),
    *application_urls,
]
