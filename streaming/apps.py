from django.apps import AppConfig


class StreamingConfig(AppConfig):
    """RingCX call streaming: profiles, the ingest socket, the audio pipeline, recordings."""

    name = "streaming"
    verbose_name = "RingCX streaming"
