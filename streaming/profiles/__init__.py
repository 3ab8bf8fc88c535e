"""Streaming profiles: what RingCX streams where, their secrets, and keeping RingCX in step.

``models`` (the profile), ``selectors`` (finding one, checking a presented secret),
``services`` (audited writes, each requesting a RingCX sync), ``tasks`` (the sync in Celery),
``sync`` (the RingCX side of it) and ``admin``.
"""
