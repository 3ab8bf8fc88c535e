from django.apps import AppConfig


class StreamingConfig(AppConfig):
    """RingCX call streaming: profiles, the ingest socket, the audio pipeline, recordings."""

    name = "streaming"
    verbose_name = "RingCX streaming"
    admins_manage_models = True  # Admins hold every permission of its models
