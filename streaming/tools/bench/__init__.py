"""Benchmarks: the RingCX ingest against a bare-websockets reference (``runner``, driven by
``manage.py ingest_bench``), and transcription's accuracy, speed and live capacity
(``speechset``, ``live_transcription``, driven by ``manage.py transcription_bench``)."""
