from django.urls import path

from monitoring import views

urlpatterns = [
    path("calls/", views.call_list, name="calls"),
    path("calls/live/", views.live_calls, name="calls-live"),
    path("calls/<int:call_id>/live/", views.call_live, name="call-live"),
    path("client", views.agent_client, name="agent-client"),
    path("client/lines", views.agent_client_lines, name="agent-client-lines"),
    path("calls/<int:call_id>/", views.call_detail, name="call-detail"),
    path("calls/<int:call_id>/recording.wav", views.call_recording, name="call-recording"),
    path(
        "calls/<int:call_id>/recording/download",
        views.call_recording_download,
        name="call-recording-download",
    ),
    path("calls/<int:call_id>/peaks.json", views.call_peaks, name="call-peaks"),
    path(
        "calls/<int:call_id>/transcript.<str:fmt>",
        views.call_transcript_download,
        name="call-transcript",
    ),
]
