"""ringadmin: the project package and the shared core (calls, compliance, vendor clients).

Importing it imports nothing else: pure modules of the core (e.g. the stream statistics'
layout) stay importable without Django or Celery. The Celery application is loaded by
``RingadminConfig.ready`` in every Django process, and by ``celery -A ringadmin``, which finds
``ringadmin.celery``.
"""
