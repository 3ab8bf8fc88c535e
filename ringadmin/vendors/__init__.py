"""Clients for the RingCentral platform API and the RingCX media product API.

Only services call these clients. Each endpoint is one keyword-only function in
``ringcentral`` or ``ringcx`` that returns frozen dataclasses and raises the typed errors of
``errors``; ``http`` holds the shared plumbing (one long-lived ``httpx.Client`` per vendor,
error classification, logging and rate-limit pacing).
"""
