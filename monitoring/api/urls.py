"""``/api/v1/``: the endpoints, the OpenAPI schema and its two readers (served locally)."""

from django.urls import path

from monitoring.api import views

app_name = "api"

urlpatterns = [
    path("calls/", views.CallListView.as_view(), name="call-list"),
    path("calls/<int:pk>/", views.CallDetailView.as_view(), name="call-detail"),
    path("calls/<int:pk>/transcript", views.CallTranscriptView.as_view(), name="call-transcript"),
    path("calls/<int:pk>/recording", views.CallRecordingView.as_view(), name="call-recording"),
    path("audit-events/", views.AuditEventListView.as_view(), name="audit-event-list"),
    path("schema", views.SchemaView.as_view(), name="schema"),
    path("docs", views.SwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc", views.RedocView.as_view(url_name="api:schema"), name="redoc"),
]
