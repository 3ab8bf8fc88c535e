from django.urls import path

from monitoring.consumers import CallEventsConsumer

websocket_urlpatterns = [
    path("ws/calls/<int:call_id>/events/", CallEventsConsumer.as_asgi()),
]
