from django.urls import path

from monitoring.consumers import CallEventsConsumer, LiveCallsConsumer

websocket_urlpatterns = [
    path("ws/calls/<int:call_id>/events/", CallEventsConsumer.as_asgi()),
    path("ws/calls/live/", LiveCallsConsumer.as_asgi()),
]
