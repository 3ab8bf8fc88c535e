from django.apps import AppConfig

from ringadmin.calls.signals import call_finalized


class StreamingConfig(AppConfig):
    """RingCX call streaming: profiles, the ingest socket, the audio pipeline, recordings."""

    name = "streaming"
    verbose_name = "RingCX streaming"
    admins_manage_models = True  # Admins hold every permission of its models

    def ready(self) -> None:
        # Imported here, not at the top: the receivers use models and tasks, which may be
        # imported only once the app registry is ready.
        from streaming.receivers import post_call_work_queue

        # The core closes calls; what follows a call's end (fingerprint, transcripts) is ours.
        call_finalized.connect(post_call_work_queue, dispatch_uid="streaming.post_call_work")
