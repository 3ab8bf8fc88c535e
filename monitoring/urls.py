from django.urls import path

from monitoring import views

urlpatterns = [
    path("calls/", views.call_list, name="calls"),
    path("calls/live/", views.live_calls, name="calls-live"),
    path("calls/<int:call_id>/live/", views.call_live, name="call-live"),
    path("client", views.agent_client, name="agent-client"),
    path("client/lines", views.agent_client_lines, name="agent-client-lines"),
]
